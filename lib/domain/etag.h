/* etag.h — entity tags of the API's item answers (SPEC §3: ETag / If-None-Match on GET
 * /appointments/{insuredId}/{appointmentId}): a strong tag derived from the body sent, and
 * the If-None-Match test of RFC 9110 §13.1.2. Pure; no I/O. */
#ifndef APPT_ETAG_H
#define APPT_ETAG_H

#include <stdbool.h>
#include <stddef.h>

#define ETAG_HEX_LEN 16                 /* hex digits of the 64-bit hash */
#define ETAG_SIZE (ETAG_HEX_LEN + 3)    /* the quoted tag "0123456789abcdef" + NUL */

/* The strong ETag of the representation text[0..len): a 64-bit FNV-1a hash of its bytes
 * as 16 lower-case hex digits, in double quotes. The same bytes always give the same tag,
 * so two API hosts agree; any change of the item (status, updatedAt, ...) changes the
 * body and so the tag. Not a security measure. Thread-safe. */
void etag_of(const char *text, size_t len, char out[ETAG_SIZE]);

/* True when the If-None-Match field value inm (NULL: absent) matches etag (a quoted tag as
 * etag_of writes): "*", or a comma-separated list holding the same opaque tag, weak
 * ("W/" prefix) or strong — If-None-Match uses the weak comparison (RFC 9110 §8.8.3.2). A
 * malformed list matches nothing from the first bad member on (the members before it
 * count). Pure. */
bool etag_match(const char *inm, const char *etag);

#endif
