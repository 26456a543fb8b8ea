/* ddb_attr.h — DynamoDB attribute values ({"S":"x"}, {"N":"12"}, {"NULL":true}, {"BOOL":b},
 * {"M":{...}}, {"L":[...]}) as json-c trees: builders for items, keys and expression attribute
 * values, and getters that check the type and name the attribute that is missing or wrong.
 * Numbers travel as text, so an int64 goes in and comes out exact (no double on the way). */
#ifndef APPT_AWS_DDB_ATTR_H
#define APPT_AWS_DDB_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

struct json_object;

/* Limits checked before anything is built. */
#define DDB_NAME_MAX 255    /* attribute name or ":placeholder", bytes; AWS allows 64 KiB, ours are short */
#define DDB_NUM_TEXT_MAX 64 /* the text of an N: DynamoDB keeps 38 significant digits */

/* The type of one attribute value, as its single type tag says. */
enum ddb_type {
	DDB_T_NONE = 0, /* no such attribute (only from the item-level ddb_type_of) */
	DDB_T_S,        /* {"S": string} */
	DDB_T_N,        /* {"N": number text} */
	DDB_T_BOOL,     /* {"BOOL": true|false} */
	DDB_T_NULL,     /* {"NULL": true} */
	DDB_T_M,        /* {"M": {name: value, ...}} */
	DDB_T_L,        /* {"L": [value, ...]} */
	DDB_T_OTHER,    /* a type we do not use (B, SS, NS, BS) or a malformed value */
};

/* "S", "N", "BOOL", "NULL", "M", "L", "missing", "other"; never NULL. */
const char *ddb_type_name(enum ddb_type t);

/* ---- Values ----
 * Each constructor makes a new attribute value that the caller owns (json_object_put) or hands
 * on to ddb_put/ddb_append. On failure *out is NULL. */

/* {"S": s}. s is copied; NULL is RC_INVAL. Any UTF-8, the empty string included (DynamoDB
 * rejects "" only in key attributes). */
enum rc ddb_val_s(const char *s, struct json_object **out) MUSTCHECK;
/* {"N": "<decimal>"}: the exact integer. */
enum rc ddb_val_int64(int64_t n, struct json_object **out) MUSTCHECK;
/* {"N": text} after checking text is a DynamoDB number: -?digits[.digits][(e|E)[+-]digits],
 * at most DDB_NUM_TEXT_MAX bytes. RC_INVAL otherwise. */
enum rc ddb_val_n_text(const char *text, struct json_object **out) MUSTCHECK;
/* {"BOOL": b}. */
enum rc ddb_val_bool(bool b, struct json_object **out) MUSTCHECK;
/* {"NULL": true}. */
enum rc ddb_val_null(struct json_object **out) MUSTCHECK;
/* {"M": map}. Takes ownership of map (a JSON object of name -> attribute value; NULL makes an
 * empty map), even on failure. */
enum rc ddb_val_m(struct json_object *map, struct json_object **out) MUSTCHECK;
/* {"L": list}. Takes ownership of list (a JSON array of attribute values; NULL makes an empty
 * list), even on failure. RC_INVAL when list is not an array. */
enum rc ddb_val_l(struct json_object *list, struct json_object **out) MUSTCHECK;

/* ---- Maps (items, keys, M values, ExpressionAttributeValues) ----
 * map is a JSON object of name -> attribute value. A name already present is replaced.
 * RC_INVAL when map is not an object or name is NULL, empty or longer than DDB_NAME_MAX. */

/* Adds val (an attribute value) under name. Takes ownership of val, even on failure; a NULL
 * val is RC_NOMEM, so a constructor's failed allocation can be passed straight in. */
enum rc ddb_put(struct json_object *map, const char *name, struct json_object *val) MUSTCHECK;
enum rc ddb_put_s(struct json_object *map, const char *name, const char *s) MUSTCHECK;
/* Like ddb_put_s, but a NULL s stores {"NULL": true} (e.g. processedAt before processing). */
enum rc ddb_put_s_or_null(struct json_object *map, const char *name, const char *s) MUSTCHECK;
enum rc ddb_put_int64(struct json_object *map, const char *name, int64_t n) MUSTCHECK;
enum rc ddb_put_n_text(struct json_object *map, const char *name, const char *text) MUSTCHECK;
enum rc ddb_put_bool(struct json_object *map, const char *name, bool b) MUSTCHECK;
enum rc ddb_put_null(struct json_object *map, const char *name) MUSTCHECK;
/* Adds {"M": m}; takes ownership of m, even on failure. */
enum rc ddb_put_m(struct json_object *map, const char *name, struct json_object *m) MUSTCHECK;
/* Adds {"L": l}; takes ownership of l, even on failure. */
enum rc ddb_put_l(struct json_object *map, const char *name, struct json_object *l) MUSTCHECK;

/* ---- ExpressionAttributeNames ----
 * The one way to name an attribute in an expression ("#s" for "status", a reserved word):
 * names is the JSON object handed to a request as ExpressionAttributeNames; *names may be
 * NULL and is then created (the caller owns it). placeholder must be '#' and 1 to
 * DDB_NAME_MAX - 1 more bytes, attr 1 to DDB_NAME_MAX bytes: RC_INVAL otherwise (names
 * unchanged). RC_NOMEM. */
enum rc ddb_name(struct json_object **names, const char *placeholder,
		 const char *attr) MUSTCHECK;

/* Appends val (an attribute value) to list, a JSON array. Takes ownership of val, even on
 * failure. RC_INVAL when list is not an array. */
enum rc ddb_append(struct json_object *list, struct json_object *val) MUSTCHECK;

/* ---- Reading values ----
 * The value-level getters read one attribute value; what names it in eb ("status",
 * "schedule.centerId", "list[2]"). They fail with RC_INVAL when val is NULL ("what is
 * missing") or has another type ("what is N, expected S"). Borrowed results stay valid while
 * the value lives. */

/* The type of an attribute value; DDB_T_OTHER for NULL or anything malformed
 * ({"S":1}, {"NULL":false}, two tags). */
enum ddb_type ddb_val_type(struct json_object *val);
enum rc ddb_val_get_s(struct json_object *val, const char *what, const char **out, size_t *len,
		      struct errbuf *eb) MUSTCHECK;
/* An N that is an exact integer in int64: "42", "-7", "1.0E2" (DynamoDB Local echoes the text it
 * was given) and "4200e-2" are integers; "1.5" and "9223372036854775808" are RC_INVAL, with
 * a message saying which. No floating point. */
enum rc ddb_val_get_int64(struct json_object *val, const char *what, int64_t *out,
			  struct errbuf *eb) MUSTCHECK;
/* The text of an N as DynamoDB sent it. */
enum rc ddb_val_get_n_text(struct json_object *val, const char *what, const char **out,
			   struct errbuf *eb) MUSTCHECK;
enum rc ddb_val_get_bool(struct json_object *val, const char *what, bool *out,
			 struct errbuf *eb) MUSTCHECK;
/* *out: the borrowed JSON object of name -> attribute value inside an M. */
enum rc ddb_val_get_m(struct json_object *val, const char *what, struct json_object **out,
		      struct errbuf *eb) MUSTCHECK;
/* *out: the borrowed JSON array of attribute values inside an L
 * (json_object_array_length / json_object_array_get_idx to walk it). */
enum rc ddb_val_get_l(struct json_object *val, const char *what, struct json_object **out,
		      struct errbuf *eb) MUSTCHECK;

/* ---- Reading items ----
 * item is a JSON object of name -> attribute value (an Item, Attributes, a key, an M's map).
 * A missing attribute or another type is RC_INVAL naming the attribute; so is an item that is
 * not an object. */

/* The attribute value under name, borrowed, or NULL. */
struct json_object *ddb_attr(struct json_object *item, const char *name);
/* The type of the attribute under name; DDB_T_NONE when absent. */
enum ddb_type ddb_type_of(struct json_object *item, const char *name);
enum rc ddb_get_s(struct json_object *item, const char *name, const char **out, size_t *len,
		  struct errbuf *eb) MUSTCHECK;
/* Like ddb_get_s, but an absent attribute or a NULL is RC_OK with *out = NULL, *len = 0
 * (len may be NULL). */
enum rc ddb_get_s_opt(struct json_object *item, const char *name, const char **out, size_t *len,
		      struct errbuf *eb) MUSTCHECK;
enum rc ddb_get_int64(struct json_object *item, const char *name, int64_t *out,
		      struct errbuf *eb) MUSTCHECK;
enum rc ddb_get_n_text(struct json_object *item, const char *name, const char **out,
		       struct errbuf *eb) MUSTCHECK;
enum rc ddb_get_bool(struct json_object *item, const char *name, bool *out,
		     struct errbuf *eb) MUSTCHECK;
enum rc ddb_get_m(struct json_object *item, const char *name, struct json_object **out,
		  struct errbuf *eb) MUSTCHECK;
enum rc ddb_get_l(struct json_object *item, const char *name, struct json_object **out,
		  struct errbuf *eb) MUSTCHECK;

/* Checks text against the N syntax accepted by ddb_val_n_text. */
bool ddb_num_text_valid(const char *text);

#endif
