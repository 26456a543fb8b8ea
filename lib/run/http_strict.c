/* http_strict.c — request-head checks and %XX decoding (see http_strict.h). */
#include "run/http_strict.h"

#include <string.h>
#include <strings.h>

#include "base/str.h"

/* RFC 9110 §5.6.2: tchar. */
static bool is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* The one transfer coding libmicrohttpd frames: "chunked", with optional blanks around. */
static bool is_chunked(const char *v)
{
	size_t n;

	v += strspn(v, " \t");
	n = strcspn(v, " \t");
	return n == 7 && strncasecmp(v, "chunked", 7) == 0 && v[n + strspn(v + n, " \t")] == '\0';
}

void http_head_add(struct http_head_check *c, const char *name, const char *value)
{
	if (name == NULL || name[0] == '\0') {
		c->bad_name = true;
		return;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (!is_tchar(*p))
			c->bad_name = true;
	if (strcasecmp(name, "Content-Length") == 0)
		c->content_length++;
	else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		c->transfer_encoding++;
		/* anything else (gzip, "gzip, chunked", a second coding) it cannot frame: it
		 * would read the body to the end of the connection (RFC 9112 §6.3: 400) */
		if (!is_chunked(value != NULL ? value : ""))
			c->bad_coding = true;
	}
	else if (strcasecmp(name, "Host") == 0)
		c->host++;
}

enum http_defect http_head_verdict(const struct http_head_check *c, const char *version)
{
	if (c->bad_name)
		return HTTP_DEFECT_HEADER_NAME;
	if (c->content_length > 1)
		return HTTP_DEFECT_DUP_LENGTH;
	if (c->content_length > 0 && c->transfer_encoding > 0)
		return HTTP_DEFECT_TE_AND_LENGTH;
	if (c->bad_coding || c->transfer_encoding > 1)
		return HTTP_DEFECT_TE_UNKNOWN;
	if (c->host > 1)
		return HTTP_DEFECT_DUP_HOST;
	if (c->host == 0 && version != NULL && strcmp(version, "HTTP/1.1") == 0)
		return HTTP_DEFECT_NO_HOST;
	return HTTP_DEFECT_NONE;
}

static const struct {
	const char *code;
	const char *message;
} defects[] = {
	[HTTP_DEFECT_NONE] = {"", ""},
	[HTTP_DEFECT_DUP_LENGTH] = {"duplicate_content_length",
				    "The request has more than one Content-Length header"},
	[HTTP_DEFECT_TE_AND_LENGTH] = {"transfer_encoding_with_content_length",
				       "The request has both Transfer-Encoding and Content-Length"},
	[HTTP_DEFECT_TE_UNKNOWN] = {"unsupported_transfer_encoding",
				    "The only Transfer-Encoding accepted is chunked"},
	[HTTP_DEFECT_HEADER_NAME] = {"malformed_header",
				     "A header name is not a valid HTTP token"},
	[HTTP_DEFECT_NO_HOST] = {"missing_host", "An HTTP/1.1 request needs a Host header"},
	[HTTP_DEFECT_DUP_HOST] = {"duplicate_host",
				  "The request has more than one Host header"},
	[HTTP_DEFECT_NUL] = {"nul_byte", "The path or query holds an encoded NUL (%00)"},
};

const char *http_defect_code(enum http_defect d)
{
	return (unsigned)d < sizeof(defects) / sizeof(defects[0]) ? defects[d].code : "";
}

const char *http_defect_message(enum http_defect d)
{
	return (unsigned)d < sizeof(defects) / sizeof(defects[0]) ? defects[d].message : "";
}

size_t http_unescape(char *s, bool *nul)
{
	char *w = s;

	for (const char *r = s; *r != '\0';) {
		int hi = r[0] == '%' ? str_hexval((unsigned char)r[1]) : -1;
		int lo = hi >= 0 ? str_hexval((unsigned char)r[2]) : -1;

		if (lo < 0) {
			*w++ = *r++;
			continue;
		}
		if (hi == 0 && lo == 0) {
			*nul = true;
			memmove(w, r, 3); /* w <= r: the three bytes stay as they are */
			w += 3;
		} else {
			*w++ = (char)(hi * 16 + lo);
		}
		r += 3;
	}
	*w = '\0';
	return (size_t)(w - s);
}
