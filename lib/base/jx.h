/* jx.h — json-c helpers: a bounded strict parse (RFC 8259 grammar, UTF-8, depth,
 * exactly one value), duplicate-key detection, exact integer reading of JSON
 * numbers, typed getters and small builders. */
#ifndef APPT_JX_H
#define APPT_JX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "base/buf.h"
#include "base/rc.h"

/* Hard caps whatever the caller asks for: json-c takes an int length, and the
 * strict scanner recurses once per nesting level. */
#define JX_TEXT_HARD_MAX ((size_t)64 * 1024 * 1024)
#define JX_DEPTH_HARD_MAX 64

/* Why a parse failed; callers map these to their own error codes. */
enum jx_perr {
	JX_PERR_NONE = 0, /* parsed */
	JX_PERR_EMPTY,    /* no bytes, or only whitespace */
	JX_PERR_TOO_LONG, /* longer than max_len (checked before anything else is read) */
	JX_PERR_NUL,      /* a raw NUL byte in the text */
	JX_PERR_UTF8,     /* a string holds bytes that are not UTF-8, or an unpaired \u surrogate */
	JX_PERR_DEPTH,    /* arrays/objects nested deeper than max_depth */
	JX_PERR_SYNTAX,   /* not RFC 8259 JSON (includes NaN, 'quotes', 1., control chars) */
	JX_PERR_TRAILING, /* a valid value followed by something other than whitespace */
};

/* Parses text[0..len) as exactly one JSON value. Stricter than json-c's STRICT
 * mode: a scanner checks the RFC 8259 grammar first (json-c 0.16 accepts NaN,
 * single quotes, "1." and raw control characters), UTF-8 validity, the depth
 * (max_depth counts nested arrays/objects: a scalar is 0, {"a":1} is 1) and
 * object keys containing \u0000 (json-c cuts keys at NUL, which would merge
 * distinct keys). Then json-c builds the tree.
 * text need not be NUL-terminated; len > max_len fails before reading.
 * max_len is capped at JX_TEXT_HARD_MAX and max_depth at JX_DEPTH_HARD_MAX.
 * On success *out is a new reference owned by the caller (json_object_put);
 * the text "null" gives RC_OK with *out = NULL, which is json-c's null.
 * On failure *out is NULL, eb says what and where (byte offset), and *why (may be
 * NULL) says which kind. Returns RC_INVAL for bad input, RC_NOMEM. Thread-safe. */
enum rc jx_parse_ex(const char *text, size_t len, size_t max_len, int max_depth,
                    struct json_object **out, enum jx_perr *why,
                    struct errbuf *eb) MUSTCHECK;
/* Parses the answer of a service this process called (AWS or an endpoint speaking its
 * protocol) as exactly one JSON object: json-c's STRICT tokener, only whitespace
 * after the value, no raw NUL, within max_len and max_depth (as in jx_parse_ex), and with
 * check_utf8 json-c's check that every string is UTF-8. Without jx_parse_ex's scanner:
 * json-c then lets through what no service writes (NaN, single quotes, "1.", raw tabs in
 * strings, lone \u surrogates made U+FFFD, a key cut at \u0000), and nothing of an answer
 * is used but the members its reader names. check_utf8 off is for answers that carry
 * other parties' texts to be parsed on their own (SQS message bodies): a bad one is then
 * that message's failure, not every receive's. What a client or a queue sends goes
 * through jx_parse_ex. RC_INVAL (eb says what) or RC_NOMEM; *out is NULL then.
 * Thread-safe. */
enum rc jx_parse_answer(const char *text, size_t len, size_t max_len, int max_depth,
                        bool check_utf8, struct json_object **out,
                        struct errbuf *eb) MUSTCHECK;
/* jx_parse_ex without the failure kind. */
enum rc jx_parse(const char *text, size_t len, size_t max_len, int max_depth,
                 struct json_object **out, struct errbuf *eb) MUSTCHECK;

/* Called once per distinct duplicated key; name is decoded UTF-8 (so "a" and
 * "\u0061" are one key), NUL-terminated, valid only during the call. */
typedef void (*jx_dup_fn)(void *ctx, const char *name);

/* Scans the raw text of a JSON value and reports the duplicated keys of its
 * top-level object (json-c keeps only the last of them, silently), in the order
 * of their second occurrence. Nested objects are not inspected. A value that is
 * not an object has no keys: RC_OK without calls. Text that is not valid JSON
 * (same rules as jx_parse_ex, depth up to JX_DEPTH_HARD_MAX) gives RC_INVAL.
 * RC_NOMEM. Thread-safe. */
enum rc jx_dup_keys(const char *text, size_t len, jx_dup_fn fn, void *ctx,
                    struct errbuf *eb) MUSTCHECK;

/* The first duplicated top-level key (by second occurrence): *found says if
 * there is one, name gets it (truncated to name_size - 1 bytes). Same failures
 * as jx_dup_keys. */
enum rc jx_dup_key(const char *text, size_t len, char *name, size_t name_size,
                   bool *found, struct errbuf *eb) MUSTCHECK;

/* How a JSON number reads as an int64. Not an error code: every value is a
 * possible verdict for the caller to map. */
enum jx_num {
	JX_NUM_INT = 0,     /* an exact integer that fits int64; the value was stored */
	JX_NUM_NOT_NUMBER,  /* not a JSON number at all (text malformed, or not a number value) */
	JX_NUM_FRACTION,    /* a number with a non-zero fractional part (1.5, 1e-1, 1.05e1) */
	JX_NUM_RANGE,       /* an exact integer outside int64 (9223372036854775808, 1e30) */
};

/* Reads the RFC 8259 number text num_text (NUL-terminated, the whole string)
 * by exact decimal arithmetic, no floating point: 100, 1e2, 1.0E2 and 100.000
 * are 100; -0 is 0. *out is written only for JX_NUM_INT. Any length. */
enum jx_num jx_integer_text(const char *num_text, int64_t *out);

/* Classifies a json-c value as jx_integer_text does, from the original text
 * json-c keeps for doubles. json-c saturates integer literals below INT64_MIN
 * to INT64_MIN, so INT64_MIN itself is reported as JX_NUM_RANGE: the accepted
 * range is [INT64_MIN + 1, INT64_MAX]. A NULL or non-number value is
 * JX_NUM_NOT_NUMBER. */
enum jx_num jx_value_int64(struct json_object *v, int64_t *out);

/* Typed getters on an object. All return RC_NOTFOUND when the key is absent
 * (eb names it), RC_INVAL when obj is not an object or the value has another
 * type (null included) or, for int64, is not an exact int64 (eb says why).
 * Borrowed results stay valid as long as obj holds that member. */
enum rc jx_get_str(struct json_object *obj, const char *key, const char **out,
                   size_t *len, struct errbuf *eb) MUSTCHECK;
enum rc jx_get_int64(struct json_object *obj, const char *key, int64_t *out,
                     struct errbuf *eb) MUSTCHECK;
enum rc jx_get_bool(struct json_object *obj, const char *key, bool *out,
                    struct errbuf *eb) MUSTCHECK;
/* *out is borrowed (no new reference). */
enum rc jx_get_obj(struct json_object *obj, const char *key, struct json_object **out,
                   struct errbuf *eb) MUSTCHECK;
/* Like jx_get_str, but an absent key or a null value is RC_OK with *out = NULL
 * and *len = 0. */
enum rc jx_get_str_opt(struct json_object *obj, const char *key, const char **out,
                       size_t *len, struct errbuf *eb) MUSTCHECK;

/* Builders: add a member to obj (an object). A string value is copied; a NULL
 * string adds JSON null. jx_add_obj takes ownership of val (NULL adds null)
 * even when it fails. RC_NOMEM, RC_INVAL when obj is not an object. */
enum rc jx_add_str(struct json_object *obj, const char *key, const char *val) MUSTCHECK;
enum rc jx_add_int64(struct json_object *obj, const char *key, int64_t val) MUSTCHECK;
enum rc jx_add_bool(struct json_object *obj, const char *key, bool val) MUSTCHECK;
enum rc jx_add_obj(struct json_object *obj, const char *key, struct json_object *val) MUSTCHECK;

/* Appends val to arr (an array). Takes ownership of val, even on failure; a NULL val is
 * RC_NOMEM (so a failed constructor can be passed straight in). RC_INVAL when arr is not an
 * array. */
enum rc jx_append(struct json_object *arr, struct json_object *val) MUSTCHECK;
/* Appends a copy of the string s (not NULL). */
enum rc jx_append_str(struct json_object *arr, const char *s) MUSTCHECK;

/* ---- The JSON writer ----
 * The one way the project builds a JSON object: a table of members, written in table order
 * (the order clients see), each value taken from the field its type names:
 *
 *	const struct jx_member m[] = {
 *		{.key = "appointmentId", .type = JX_STR, .s = a->appointment_id},
 *		{.key = "scheduleId", .type = JX_INT, .i = a->schedule_id},
 *		{.key = "failureReason", .type = JX_STR, .s = why, .omit = !failed},
 *	};
 *	rc = jx_build_text(m, JX_COUNT(m), &text);
 */

/* Which field of a struct jx_member holds the value. */
enum jx_type {
	JX_STR,  /* s: copied; NULL writes JSON null */
	JX_INT,  /* i */
	JX_BOOL, /* b */
	JX_OBJ,  /* the nested object of the members sub[0..nsub); sub NULL writes JSON null */
	JX_VAL,  /* v: an existing json-c value (borrowed: the object takes a new reference;
		  * jx_write prints it with json-c, which keeps that text in v, so v must not
		  * be printed by another thread at the same time); NULL writes JSON null */
};

/* One member of an object to build; everything is borrowed for the call. */
struct jx_member {
	const char *key;              /* member name */
	enum jx_type type;            /* which of the fields below holds the value */
	bool omit;                    /* leave this (optional) member out */
	const char *s;                /* JX_STR */
	int64_t i;                    /* JX_INT */
	bool b;                       /* JX_BOOL */
	const struct jx_member *sub;  /* JX_OBJ */
	size_t nsub;                  /* JX_OBJ: entries in sub */
	struct json_object *v;        /* JX_VAL */
};

/* Entries of a member table (an array, not a pointer). */
#define JX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Adds the n members to obj (an object) in order, stopping at the first failure: RC_NOMEM,
 * RC_INVAL when obj is not an object (members added before a failure stay). */
enum rc jx_add_members(struct json_object *obj, const struct jx_member *m,
		       size_t n) MUSTCHECK;
/* A new object of the n members (the caller owns it); *out NULL on failure. */
enum rc jx_build(const struct jx_member *m, size_t n, struct json_object **out) MUSTCHECK;
/* The object of the n members as compact text (jx_write) in a new heap string. RC_NOMEM
 * (RC_INVAL past JX_TEXT_HARD_MAX bytes). */
enum rc jx_build_text(const struct jx_member *m, size_t n, char **out) MUSTCHECK;

/* Writing text without a json-c tree (base/jx_write.c): appends to b the same bytes
 * jx_to_text prints for the object jx_build makes of the same table (json-c's compact form,
 * its string escapes, '/' not escaped), with no allocation per member. The keys of one
 * table must be distinct (json-c would keep a repeated key once). Each fails with RC_NOMEM,
 * or RC_INVAL past b's cap; what was appended before a failure stays in b. */
/* The object of the n members. */
enum rc jx_write(struct buf *b, const struct jx_member *m, size_t n) MUSTCHECK;
/* The n members alone, without the braces, for an object the caller opened and writes
 * more of (an array member of its own): a comma before the first unless first. */
enum rc jx_write_members(struct buf *b, const struct jx_member *m, size_t n,
			 bool first) MUSTCHECK;
/* s as a JSON string; NULL writes null. */
enum rc jx_write_str(struct buf *b, const char *s) MUSTCHECK;
/* v as a JSON integer. */
enum rc jx_write_int(struct buf *b, int64_t v) MUSTCHECK;

/* Serialises v compactly, without escaping '/', into a new heap string the
 * caller frees. RC_NOMEM. */
enum rc jx_to_text(struct json_object *v, char **out) MUSTCHECK;

#endif
