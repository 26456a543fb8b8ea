/* jx.c — the strict JSON parse: an RFC 8259 scanner (grammar, UTF-8, depth, NUL in keys)
 * in front of json-c's tokener, and duplicate top-level key detection. */
#include "base/jx.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"

/* One decoded top-level key: its bytes live in jx_keys.names at off. */
struct jx_key {
	size_t off; /* offset of the NUL-terminated name in names */
	size_t len; /* bytes, not counting the NUL */
	size_t ord; /* position among the top-level keys, from 0 */
};

/* Top-level keys collected by the scanner for duplicate detection. */
struct jx_keys {
	struct buf names;   /* all names, each followed by a NUL */
	struct jx_key *v;   /* owned array of n entries */
	size_t n;           /* keys collected */
	size_t cap;         /* entries allocated in v */
};

/* State of one strict scan over text[0..len). */
struct jx_scan {
	const unsigned char *beg; /* first byte of the text */
	const unsigned char *p;   /* next byte to read */
	const unsigned char *end; /* one past the last byte */
	int max_depth;            /* deepest allowed nesting of arrays/objects */
	enum jx_perr err;         /* first failure, JX_PERR_NONE while fine */
	enum rc rc;               /* RC_INVAL for a failure of the text, RC_NOMEM */
	const char *what;         /* static description of err */
	size_t err_off;           /* byte offset of err */
	struct jx_keys *keys;     /* where top-level keys go; NULL to skip */
};

static bool scan_fail(struct jx_scan *sc, enum jx_perr err, const char *what)
{
	if (sc->err == JX_PERR_NONE) {
		sc->err = err;
		sc->rc = RC_INVAL;
		sc->what = what;
		sc->err_off = (size_t)(sc->p - sc->beg);
	}
	return false;
}

static bool scan_nomem(struct jx_scan *sc)
{
	scan_fail(sc, JX_PERR_SYNTAX, "out of memory");
	sc->rc = RC_NOMEM;
	return false;
}

static void scan_ws(struct jx_scan *sc)
{
	while (sc->p < sc->end &&
	       (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/* Reads the 4 hex digits after "\u" (sc->p at the 'u'); -1 when malformed. */
static long scan_u4(struct jx_scan *sc)
{
	long v = 0;

	if (sc->end - sc->p < 5)
		return -1;
	for (int i = 1; i <= 4; i++) {
		int h = str_hexval(sc->p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	sc->p += 5;
	return v;
}

static enum rc put_utf8(struct buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* A string starting at the '"' under sc->p. When dec is set the decoded bytes
 * are appended to it. is_key forbids \u0000, which json-c cannot keep in a key. */
static bool scan_string(struct jx_scan *sc, struct buf *dec, bool is_key)
{
	sc->p++;
	for (;;) {
		unsigned char c;

		if (sc->p >= sc->end)
			return scan_fail(sc, JX_PERR_SYNTAX, "unterminated string");
		c = *sc->p;
		if (c == '"') {
			sc->p++;
			return true;
		}
		if (c < 0x20)
			return scan_fail(sc, JX_PERR_SYNTAX, "control character in a string");
		if (c < 0x80 && c != '\\') {
			/* a run of plain ASCII, taken at once */
			const unsigned char *run = sc->p;

			while (sc->p < sc->end && *sc->p >= 0x20 && *sc->p < 0x80 && *sc->p != '"' &&
			       *sc->p != '\\')
				sc->p++;
			if (dec != NULL && buf_append(dec, run, (size_t)(sc->p - run)) != RC_OK)
				return scan_nomem(sc);
			continue;
		}
		if (c == '\\') {
			unsigned long cp;
			const char *esc;
			static const char esc_from[] = "\"\\/bfnrt";
			static const char esc_to[] = "\"\\/\b\f\n\r\t";

			if (sc->end - sc->p < 2)
				return scan_fail(sc, JX_PERR_SYNTAX, "unterminated string");
			sc->p++;
			if (*sc->p == 'u') {
				long u = scan_u4(sc);

				if (u < 0)
					return scan_fail(sc, JX_PERR_SYNTAX, "bad \\u escape");
				cp = (unsigned long)u;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return scan_fail(sc, JX_PERR_UTF8, "unpaired \\u surrogate");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					long lo2;

					if (sc->end - sc->p < 2 || sc->p[0] != '\\' || sc->p[1] != 'u')
						return scan_fail(sc, JX_PERR_UTF8, "unpaired \\u surrogate");
					sc->p++;
					lo2 = scan_u4(sc);
					if (lo2 < 0)
						return scan_fail(sc, JX_PERR_SYNTAX, "bad \\u escape");
					if (lo2 < 0xDC00 || lo2 > 0xDFFF)
						return scan_fail(sc, JX_PERR_UTF8, "unpaired \\u surrogate");
					cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo2 - 0xDC00);
				}
				if (cp == 0 && is_key)
					return scan_fail(sc, JX_PERR_SYNTAX, "object key contains \\u0000");
			} else {
				esc = *sc->p != '\0' ? strchr(esc_from, *sc->p) : NULL;
				if (esc == NULL)
					return scan_fail(sc, JX_PERR_SYNTAX, "bad escape in a string");
				cp = (unsigned char)esc_to[esc - esc_from];
				sc->p++;
			}
			if (dec != NULL && put_utf8(dec, cp) != RC_OK)
				return scan_nomem(sc);
			continue;
		}
		{
			size_t n = utf8_seq(sc->p, sc->end);

			if (n == 0)
				return scan_fail(sc, JX_PERR_UTF8, "invalid UTF-8 in a string");
			if (dec != NULL && buf_append(dec, sc->p, n) != RC_OK)
				return scan_nomem(sc);
			sc->p += n;
		}
	}
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct jx_scan *sc)
{
	if (sc->p < sc->end && *sc->p == '-')
		sc->p++;
	if (sc->p >= sc->end || !is_digit(*sc->p))
		return scan_fail(sc, JX_PERR_SYNTAX, "bad number");
	if (*sc->p == '0') {
		sc->p++;
		if (sc->p < sc->end && is_digit(*sc->p))
			return scan_fail(sc, JX_PERR_SYNTAX, "leading zero in a number");
	} else {
		while (sc->p < sc->end && is_digit(*sc->p))
			sc->p++;
	}
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (sc->p >= sc->end || !is_digit(*sc->p))
			return scan_fail(sc, JX_PERR_SYNTAX, "bad number fraction");
		while (sc->p < sc->end && is_digit(*sc->p))
			sc->p++;
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (sc->p >= sc->end || !is_digit(*sc->p))
			return scan_fail(sc, JX_PERR_SYNTAX, "bad number exponent");
		while (sc->p < sc->end && is_digit(*sc->p))
			sc->p++;
	}
	return true;
}

static bool scan_literal(struct jx_scan *sc, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, lit, n) != 0)
		return scan_fail(sc, JX_PERR_SYNTAX, "expected a value");
	sc->p += n;
	return true;
}

static bool keys_add(struct jx_scan *sc, size_t off)
{
	struct jx_keys *k = sc->keys;

	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 16;
		struct jx_key *nv = realloc(k->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return scan_nomem(sc);
		k->v = nv;
		k->cap = ncap;
	}
	if (buf_append(&k->names, "", 1) != RC_OK)
		return scan_nomem(sc);
	k->v[k->n].off = off;
	k->v[k->n].len = k->names.len - 1 - off;
	k->v[k->n].ord = k->n;
	k->n++;
	return true;
}

static bool scan_value(struct jx_scan *sc, int depth);

/* An object or array starting at sc->p; depth is the nesting outside it. */
static bool scan_container(struct jx_scan *sc, int depth)
{
	bool is_obj = *sc->p == '{';
	unsigned char close = is_obj ? '}' : ']';
	bool collect = is_obj && depth == 0 && sc->keys != NULL;

	if (depth + 1 > sc->max_depth)
		return scan_fail(sc, JX_PERR_DEPTH, "nesting too deep");
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == close) {
		sc->p++;
		return true;
	}
	for (;;) {
		if (is_obj) {
			size_t off = collect ? sc->keys->names.len : 0;

			if (sc->p >= sc->end || *sc->p != '"')
				return scan_fail(sc, JX_PERR_SYNTAX, "expected an object key");
			if (!scan_string(sc, collect ? &sc->keys->names : NULL, true))
				return false;
			if (collect && !keys_add(sc, off))
				return false;
			scan_ws(sc);
			if (sc->p >= sc->end || *sc->p != ':')
				return scan_fail(sc, JX_PERR_SYNTAX, "expected ':'");
			sc->p++;
			scan_ws(sc);
		}
		if (!scan_value(sc, depth + 1))
			return false;
		scan_ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			scan_ws(sc);
			continue;
		}
		if (sc->p < sc->end && *sc->p == close) {
			sc->p++;
			return true;
		}
		return scan_fail(sc, JX_PERR_SYNTAX, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool scan_value(struct jx_scan *sc, int depth)
{
	if (sc->p >= sc->end)
		return scan_fail(sc, JX_PERR_SYNTAX, "unexpected end of text");
	switch (*sc->p) {
	case '{':
	case '[':
		return scan_container(sc, depth);
	case '"':
		return scan_string(sc, NULL, false);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (*sc->p == '-' || is_digit(*sc->p))
			return scan_number(sc);
		return scan_fail(sc, JX_PERR_SYNTAX, "expected a value");
	}
}

/* Checks text[0..len) is exactly one RFC 8259 value within max_depth; fills sc
 * (err, what, err_off, rc). Collects top-level keys into keys when not NULL. */
static void jx_scan_text(const char *text, size_t len, int max_depth, struct jx_keys *keys,
                         struct jx_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->beg = (const unsigned char *)text;
	sc->p = sc->beg;
	sc->end = sc->beg + len;
	sc->max_depth = max_depth;
	sc->keys = keys;
	sc->rc = RC_OK;
	scan_ws(sc);
	if (sc->p == sc->end) {
		scan_fail(sc, JX_PERR_EMPTY, len == 0 ? "empty text" : "only whitespace");
		return;
	}
	if (!scan_value(sc, 0))
		return;
	scan_ws(sc);
	if (sc->p != sc->end)
		scan_fail(sc, JX_PERR_TRAILING, "more than one JSON value (trailing data)");
}

static enum rc perr_set(enum jx_perr *why, enum jx_perr v)
{
	if (why != NULL)
		*why = v;
	return v == JX_PERR_NONE ? RC_OK : RC_INVAL;
}

/* The callers' limits within the hard caps. */
static void clamp_limits(size_t *max_len, int *max_depth)
{
	if (*max_len > JX_TEXT_HARD_MAX)
		*max_len = JX_TEXT_HARD_MAX;
	if (*max_depth > JX_DEPTH_HARD_MAX)
		*max_depth = JX_DEPTH_HARD_MAX;
	if (*max_depth < 0)
		*max_depth = 0;
}

enum rc jx_parse_ex(const char *text, size_t len, size_t max_len, int max_depth,
                    struct json_object **out, enum jx_perr *why, struct errbuf *eb)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	struct jx_scan sc;
	enum rc rc = RC_OK;

	*out = NULL;
	perr_set(why, JX_PERR_NONE);
	clamp_limits(&max_len, &max_depth);
	if (len > max_len) {
		rc = perr_set(why, JX_PERR_TOO_LONG);
		eb_set(eb, rc, "JSON text is %zu bytes, over the limit of %zu", len, max_len);
		goto out;
	}
	if (text == NULL || len == 0) {
		rc = perr_set(why, JX_PERR_EMPTY);
		eb_set(eb, rc, "JSON text is empty");
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		rc = perr_set(why, JX_PERR_NUL);
		eb_set(eb, rc, "JSON text contains a NUL byte at offset %zu",
		       (size_t)((const char *)memchr(text, '\0', len) - text));
		goto out;
	}
	jx_scan_text(text, len, max_depth, NULL, &sc);
	if (sc.err != JX_PERR_NONE) {
		perr_set(why, sc.err);
		rc = sc.rc;
		if (sc.err == JX_PERR_EMPTY)
			eb_set(eb, rc, "JSON text contains only whitespace");
		else if (sc.err == JX_PERR_DEPTH)
			eb_set(eb, rc, "JSON nesting deeper than %d levels at offset %zu", max_depth,
			       sc.err_off);
		else
			eb_set(eb, rc, "invalid JSON at offset %zu: %s", sc.err_off, sc.what);
		goto out;
	}
	/* json-c counts the outermost value as a level, hence + 1. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (tok == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory creating a JSON tokener");
		goto out;
	}
	/* No JSON_TOKENER_VALIDATE_UTF8: the scanner has checked every string's UTF-8 and
	 * allows no other byte over 0x7F, so json-c's own check (per byte of every string, ~4 %
	 * of a listing's CPU) could never fail here. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		/* A bare number has no end of its own: feed the terminating NUL. */
		obj = json_tokener_parse_ex(tok, "", 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		/* The scanner accepted it, so json-c is stricter here or out of memory. */
		rc = perr_set(why, JX_PERR_SYNTAX);
		eb_set(eb, rc, "invalid JSON: %s",
		       json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	/* A literal null parses to the NULL object; callers see that as a JSON null. */
	*out = obj;
	obj = NULL;
out:
	json_object_put(obj);
	/* json-c 0.16 json_tokener_free does not accept NULL. */
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

enum rc jx_parse(const char *text, size_t len, size_t max_len, int max_depth,
                 struct json_object **out, struct errbuf *eb)
{
	return jx_parse_ex(text, len, max_len, max_depth, out, NULL, eb);
}

enum rc jx_parse_answer(const char *text, size_t len, size_t max_len, int max_depth,
                        bool check_utf8, struct json_object **out, struct errbuf *eb)
{
	const char *first;
	struct json_tokener *tok;
	enum json_tokener_error err;
	enum rc rc = RC_OK;

	*out = NULL;
	clamp_limits(&max_len, &max_depth);
	if (len > max_len)
		return eb_set(eb, RC_INVAL, "JSON text is %zu bytes, over the limit of %zu", len,
			      max_len);
	if (text == NULL || len == 0)
		return eb_set(eb, RC_INVAL, "JSON text is empty");
	if (memchr(text, '\0', len) != NULL)
		return eb_set(eb, RC_INVAL, "JSON text contains a NUL byte at offset %zu",
			      (size_t)((const char *)memchr(text, '\0', len) - text));
	/* text need not end in a NUL: a bounded skip */
	for (first = text; first < text + len && strchr(" \t\r\n", *first) != NULL; first++)
		;
	if (first == text + len)
		return eb_set(eb, RC_INVAL, "JSON text contains only whitespace");
	if (*first != '{')
		return eb_set(eb, RC_INVAL, "JSON text is not an object");
	/* json-c counts the outermost value as a level, hence + 1. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (tok == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory creating a JSON tokener");
	/* STRICT also refuses anything but whitespace after the value */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    (check_utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0));
	*out = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	if (err == json_tokener_continue)
		rc = eb_set(eb, RC_INVAL, "JSON text ends inside a value");
	else if (err != json_tokener_success)
		rc = eb_set(eb, RC_INVAL, "invalid JSON at offset %zu: %s",
			    json_tokener_get_parse_end(tok), json_tokener_error_desc(err));
	json_tokener_free(tok);
	if (rc != RC_OK) {
		json_object_put(*out);
		*out = NULL;
	}
	return rc;
}

static bool same_name(const struct jx_key *a, const struct jx_key *b, const char *names)
{
	return a->len == b->len && memcmp(names + a->off, names + b->off, a->len) == 0;
}

/* qsort_r order: by name bytes, then by position, so equal names are adjacent
 * with their first occurrence first. names is the jx_keys.names buffer. */
static int key_cmp(const void *a, const void *b, void *names)
{
	const struct jx_key *ka = a;
	const struct jx_key *kb = b;
	const char *nm = names;
	size_t n = ka->len < kb->len ? ka->len : kb->len;
	int c = memcmp(nm + ka->off, nm + kb->off, n);

	if (c != 0)
		return c;
	if (ka->len != kb->len)
		return ka->len < kb->len ? -1 : 1;
	return ka->ord < kb->ord ? -1 : (ka->ord > kb->ord ? 1 : 0);
}

static int ord_cmp(const void *a, const void *b)
{
	const struct jx_key *ka = a;
	const struct jx_key *kb = b;

	return ka->ord < kb->ord ? -1 : (ka->ord > kb->ord ? 1 : 0);
}

enum rc jx_dup_keys(const char *text, size_t len, jx_dup_fn fn, void *ctx, struct errbuf *eb)
{
	struct jx_keys keys;
	struct jx_key *dups = NULL;
	size_t ndups = 0;
	struct jx_scan sc;
	enum rc rc = RC_OK;

	memset(&keys, 0, sizeof(keys));
	/* The names are a decoded copy of part of the text, so len bounds them. */
	buf_init(&keys.names, len + 1);
	if (text == NULL || len > JX_TEXT_HARD_MAX || memchr(text, '\0', len) != NULL) {
		rc = eb_set(eb, RC_INVAL, "not valid JSON text");
		goto out;
	}
	jx_scan_text(text, len, JX_DEPTH_HARD_MAX, &keys, &sc);
	if (sc.err != JX_PERR_NONE) {
		rc = eb_set(eb, sc.rc, "invalid JSON at offset %zu: %s", sc.err_off, sc.what);
		goto out;
	}
	if (keys.n < 2)
		goto out;
	qsort_r(keys.v, keys.n, sizeof(*keys.v), key_cmp, keys.names.data);
	dups = malloc(keys.n * sizeof(*dups));
	if (dups == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	/* One entry per duplicated name, keyed by its second occurrence. */
	for (size_t i = 0; i < keys.n;) {
		size_t j = i + 1;

		while (j < keys.n && same_name(&keys.v[i], &keys.v[j], keys.names.data))
			j++;
		if (j > i + 1) {
			dups[ndups] = keys.v[i + 1];
			ndups++;
		}
		i = j;
	}
	qsort(dups, ndups, sizeof(*dups), ord_cmp);
	for (size_t i = 0; i < ndups; i++)
		fn(ctx, keys.names.data + dups[i].off);
out:
	free(dups);
	free(keys.v);
	buf_cleanup(&keys.names);
	return rc;
}

/* Context of jx_dup_key: keeps the first name reported. */
struct dup_first {
	char *name;       /* caller's buffer */
	size_t size;      /* its size */
	bool found;       /* a name was stored */
};

static void dup_first_cb(void *ctx, const char *name)
{
	struct dup_first *d = ctx;

	if (d->found)
		return;
	d->found = true;
	if (d->size > 0) {
		size_t n = strlen(name);

		if (n >= d->size)
			n = d->size - 1;
		memcpy(d->name, name, n);
		d->name[n] = '\0';
	}
}

enum rc jx_dup_key(const char *text, size_t len, char *name, size_t name_size, bool *found,
                   struct errbuf *eb)
{
	struct dup_first d = {name, name_size, false};
	enum rc rc;

	if (name_size > 0)
		name[0] = '\0';
	rc = jx_dup_keys(text, len, dup_first_cb, &d, eb);
	*found = d.found;
	return rc;
}
