/* jx_write.c — writing JSON text straight into a struct buf: a member table (struct
 * jx_member) as the compact text json-c prints for the same object, strings escaped as
 * json-c escapes them, without building a json-c tree (no allocation per member). */
#include "base/jx.h"

#include <string.h>

/* json-c's escapes (json_escape_str, '/' left alone as JSON_C_TO_STRING_NOSLASHESCAPE
 * asks): the two-character ones, then \u00xx in lower-case hex for the other controls.
 * Every other byte (DEL and bytes >= 0x80 included) is copied as it is. */
static const char *short_escape(unsigned char c)
{
	switch (c) {
	case '\b':
		return "\\b";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\f':
		return "\\f";
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	default:
		return NULL;
	}
}

/* Bytes an escape adds to a byte: 1 for the two-character escapes, 5 for \u00xx. */
static const unsigned char extra[256] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* \b \t \n \f \r: two characters */
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	['"'] = 1, ['\\'] = 1,
};

/* Bytes of s (*len of them) once escaped, without the quotes. */
static size_t escaped_len(const unsigned char *s, size_t *len)
{
	size_t n = 0;
	size_t k = 0;

	for (; s[k] != '\0'; k++)
		n += extra[s[k]];
	*len = k;
	return k + n;
}

/* Writes the len bytes of s escaped into dst; returns the end. */
static char *put_escaped(char *dst, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t k = 0; k < len; k++) {
		const char *esc;

		if (extra[s[k]] == 0) {
			*dst++ = (char)s[k];
			continue;
		}
		esc = short_escape(s[k]);
		if (esc != NULL) {
			*dst++ = esc[0];
			*dst++ = esc[1];
			continue;
		}
		memcpy(dst, "\\u00", 4);
		dst[4] = hex[s[k] >> 4];
		dst[5] = hex[s[k] & 0xf];
		dst += 6;
	}
	return dst;
}

/* Appends pre, s quoted and escaped, then post (pre and post: one byte each, '\0' for
 * none), in one step. */
static enum rc put_quoted(struct buf *b, char pre, const char *s, char post)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = 0;
	size_t esc = escaped_len(u, &len);
	char *p = NULL;
	enum rc rc = buf_extend(b, esc + 2 + (pre != '\0') + (post != '\0'), &p);

	if (rc != RC_OK)
		return rc;
	if (pre != '\0')
		*p++ = pre;
	*p++ = '"';
	if (esc == len) {
		memcpy(p, s, len); /* nothing to escape: the common case */
		p += len;
	} else {
		p = put_escaped(p, u, len);
	}
	*p++ = '"';
	if (post != '\0')
		*p = post;
	return RC_OK;
}

enum rc jx_write_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_append(b, "null", 4);
	return put_quoted(b, '\0', s, '\0');
}

enum rc jx_write_int(struct buf *b, int64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	/* through unsigned: -INT64_MIN does not fit an int64 */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		d[--i] = '-';
	return buf_append(b, d + i, sizeof(d) - i);
}

/* One member's value. */
static enum rc write_value(struct buf *b, const struct jx_member *m)
{
	const char *text;

	switch (m->type) {
	case JX_STR:
		return jx_write_str(b, m->s);
	case JX_INT:
		return jx_write_int(b, m->i);
	case JX_BOOL:
		return m->b ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
	case JX_OBJ:
		if (m->sub == NULL)
			return buf_append(b, "null", 4);
		return jx_write(b, m->sub, m->nsub);
	case JX_VAL:
		if (m->v == NULL)
			return buf_append(b, "null", 4);
		text = json_object_to_json_string_ext(m->v, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);
		return text != NULL ? buf_puts(b, text) : RC_NOMEM;
	}
	return RC_INVAL;
}

enum rc jx_write_members(struct buf *b, const struct jx_member *m, size_t n, bool first)
{
	enum rc rc = RC_OK;

	for (size_t k = 0; k < n && rc == RC_OK; k++) {
		if (m[k].omit)
			continue;
		rc = put_quoted(b, first ? '\0' : ',', m[k].key, ':');
		first = false;
		if (rc == RC_OK)
			rc = write_value(b, &m[k]);
	}
	return rc;
}

enum rc jx_write(struct buf *b, const struct jx_member *m, size_t n)
{
	enum rc rc = buf_append(b, "{", 1);

	if (rc == RC_OK)
		rc = jx_write_members(b, m, n, true);
	if (rc == RC_OK)
		rc = buf_append(b, "}", 1);
	return rc;
}

enum rc jx_build_text(const struct jx_member *m, size_t n, char **out)
{
	struct buf b;
	enum rc rc;

	*out = NULL;
	buf_init(&b, JX_TEXT_HARD_MAX);
	rc = jx_write(&b, m, n);
	if (rc == RC_OK) {
		*out = buf_take(&b);
		if (*out == NULL)
			rc = RC_NOMEM;
	}
	buf_cleanup(&b);
	return rc;
}
