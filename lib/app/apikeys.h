/* apikeys.h — API keys of SPEC §3: loaded from a file (one key a line), kept only
 * as SHA-256 hashes, checked in constant time. */
#ifndef APPT_APIKEYS_H
#define APPT_APIKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/rc.h"

#define APIKEYS_MAX 10000       /* keys in one file */
#define APIKEYS_KEY_MIN 16      /* shortest key accepted */
#define APIKEYS_KEY_MAX 256     /* longest key accepted */
#define APIKEYS_HEX_SIZE 65     /* SHA-256 in hex, with NUL */

/* Opaque set of key hashes; immutable once loaded, so any thread may read it. */
struct apikeys;

/* Loads path. Blank lines and lines starting with '#' are skipped; surrounding
 * blanks are trimmed. RC_INVAL names the file and line of a bad key; RC_IO when
 * the file cannot be read. An empty file is an error (keys would silently be off). */
enum rc apikeys_load(const char *path, struct apikeys **out, struct errbuf *eb) MUSTCHECK;
void apikeys_free(struct apikeys *k);
size_t apikeys_count(const struct apikeys *k);

/* True when key (may be NULL) is one of the set. Compares every stored hash in
 * constant time, so timing does not tell how close a guess was. When true and
 * hex_out is not NULL, writes the key's SHA-256 hex (for quota and idempotency
 * records, which never hold a key in clear). */
bool apikeys_check(const struct apikeys *k, const char *key, char hex_out[APIKEYS_HEX_SIZE]);

/* SHA-256 of the concatenation of parts (NULL-terminated list), as lower-case hex. */
void apikeys_sha256_hex(const char *const *parts, char hex_out[APIKEYS_HEX_SIZE]);

#endif
