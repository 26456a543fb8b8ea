/* buf.h — a bounded growable byte buffer, always NUL-terminated, used for HTTP
 * bodies, AWS answers and JSON text. Every buffer has a cap set at init. */
#ifndef APPT_BUF_H
#define APPT_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "base/rc.h"

/* Embedded value; initialise with buf_init, release with buf_cleanup. */
struct buf {
	char *data;  /* owned bytes plus a trailing NUL; NULL until the first append */
	size_t len;  /* bytes used, not counting the NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* hard limit on len; an append past it fails with RC_INVAL */
	bool secret; /* its bytes are zeroed whenever memory holding them is let go */
};

/* Starts an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
/* Marks b as holding a secret (credentials, a password): from now on growing it copies
 * into a new block and zeroes the old one (realloc would free it as it was), and cleanup
 * zeroes the bytes before freeing them. */
void buf_set_secret(struct buf *b);
/* Frees the bytes; the buffer is empty and reusable afterwards. Accepts NULL. */
void buf_cleanup(struct buf *b);
/* Empties the buffer without freeing its memory. */
void buf_reset(struct buf *b);

/* Appends n bytes. RC_INVAL when the cap would be exceeded (nothing appended),
 * RC_NOMEM on allocation failure. */
enum rc buf_append(struct buf *b, const void *p, size_t n) MUSTCHECK;
/* Makes room for n more bytes at once (later appends up to them do not reallocate); the
 * contents do not change. RC_INVAL past the cap, RC_NOMEM. */
enum rc buf_reserve(struct buf *b, size_t n) MUSTCHECK;
/* Appends n bytes for the caller to fill: *p points at the first of them (valid until the
 * next change of b; the NUL follows them). RC_INVAL / RC_NOMEM as buf_append, with nothing
 * appended and *p NULL. */
enum rc buf_extend(struct buf *b, size_t n, char **p) MUSTCHECK;
/* Appends a NUL-terminated string. */
enum rc buf_puts(struct buf *b, const char *s) MUSTCHECK;
/* Appends printf-formatted text. */
enum rc buf_printf(struct buf *b, const char *fmt, ...) PRINTF(2, 3) MUSTCHECK;

/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);
/* Hands the bytes to the caller (free() them); the buffer becomes empty.
 * Returns an empty heap string for an empty buffer, NULL only on NOMEM. */
char *buf_take(struct buf *b);

#endif
