/* http_strict.h — the HTTP strictness rules of SPEC §3 that libmicrohttpd 0.9.75 leaves to
 * us: request smuggling shapes in a request head (two Content-Length, Transfer-Encoding with
 * Content-Length or other than chunked, a malformed header name, HTTP/1.1 without exactly
 * one Host) and the
 * decoding of %XX in the path and query that never lets a NUL through. Pure functions over
 * strings: no I/O, no state beyond the caller's struct (fuzzed in tests/fuzz). */
#ifndef APPT_HTTP_STRICT_H
#define APPT_HTTP_STRICT_H

#include <stdbool.h>
#include <stddef.h>

/* What is wrong with a request, the first rule it breaks. */
enum http_defect {
	HTTP_DEFECT_NONE = 0,        /* nothing: serve it */
	HTTP_DEFECT_DUP_LENGTH,      /* two or more Content-Length headers */
	HTTP_DEFECT_TE_AND_LENGTH,   /* Transfer-Encoding together with Content-Length */
	HTTP_DEFECT_TE_UNKNOWN,      /* a Transfer-Encoding other than exactly "chunked" */
	HTTP_DEFECT_HEADER_NAME,     /* a header name that is not an RFC 9110 token */
	HTTP_DEFECT_NO_HOST,         /* HTTP/1.1 without a Host header */
	HTTP_DEFECT_DUP_HOST,        /* two or more Host headers */
	HTTP_DEFECT_NUL,             /* %00 in the path or the query */
};

/* The headers of one request head, counted as they are walked. Start zeroed. */
struct http_head_check {
	unsigned content_length;     /* Content-Length headers seen */
	unsigned transfer_encoding;  /* Transfer-Encoding headers seen */
	unsigned host;               /* Host headers seen */
	bool bad_name;               /* a name with a byte outside the token set, or empty */
	bool bad_coding;             /* a Transfer-Encoding value other than "chunked" */
};

/* Counts one header (name and value borrowed for the call; a NULL name counts as a bad
 * name, a NULL value as ""). */
void http_head_add(struct http_head_check *c, const char *name, const char *value);
/* The first rule the counted head breaks for a request of version ("HTTP/1.1", ...; NULL
 * as HTTP/1.0), or HTTP_DEFECT_NONE. */
enum http_defect http_head_verdict(const struct http_head_check *c, const char *version);

/* For the SPEC §3 error body: a stable code ("duplicate_content_length", ...) and a
 * sentence for the client, both static; "" for HTTP_DEFECT_NONE. */
const char *http_defect_code(enum http_defect d);
const char *http_defect_message(enum http_defect d);

/* Decodes %XX in place in the NUL-ended s (the bytes of a path, a query key or a value;
 * '+' is the caller's business) and returns the new length. A %XX that is not two hex
 * digits is kept as it is; %00 is kept as the three bytes "%00" (never a NUL that would
 * cut the string) and sets *nul. Never writes past the end of s. */
size_t http_unescape(char *s, bool *nul);

#endif
