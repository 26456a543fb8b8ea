/* ddb_attr.c — DynamoDB attribute values on json-c: typed constructors, map/list builders and
 * getters that check the type tag. N stays text end to end; integers are read exactly. */
#include "aws/ddb_attr.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "base/jx.h"

const char *ddb_type_name(enum ddb_type t)
{
	switch (t) {
	case DDB_T_NONE:
		return "missing";
	case DDB_T_S:
		return "S";
	case DDB_T_N:
		return "N";
	case DDB_T_BOOL:
		return "BOOL";
	case DDB_T_NULL:
		return "NULL";
	case DDB_T_M:
		return "M";
	case DDB_T_L:
		return "L";
	case DDB_T_OTHER:
		break;
	}
	return "other";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool ddb_num_text_valid(const char *text)
{
	const char *p = text;
	size_t n;

	if (text == NULL)
		return false;
	n = strnlen(text, DDB_NUM_TEXT_MAX + 1);
	if (n == 0 || n > DDB_NUM_TEXT_MAX)
		return false;
	if (*p == '-')
		p++;
	if (!is_digit(*p))
		return false;
	while (is_digit(*p))
		p++;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	return *p == '\0';
}

/* An N as an exact int64, by jx_integer_text (the project's one exact decimal reader). An N
 * may carry leading zeros ("007"), which JSON numbers may not: they are dropped first. */
static enum jx_num ddb_num_to_int64(const char *text, int64_t *out)
{
	char norm[DDB_NUM_TEXT_MAX + 1];
	const char *p = text;
	size_t n = 0;

	if (!ddb_num_text_valid(text))
		return JX_NUM_NOT_NUMBER;
	if (*p == '-')
		norm[n++] = *p++;
	while (p[0] == '0' && is_digit(p[1]))
		p++;
	snprintf(norm + n, sizeof(norm) - n, "%s", p);
	return jx_integer_text(norm, out);
}

/* ---- Values ---- */

/* {tag: inner}; takes ownership of inner, even on failure. */
static enum rc wrap(const char *tag, struct json_object *inner, struct json_object **out)
{
	struct json_object *o = NULL;
	enum rc rc = RC_NOMEM;

	*out = NULL;
	if (inner == NULL)
		goto out;
	o = json_object_new_object();
	if (o == NULL)
		goto out;
	if (json_object_object_add(o, tag, inner) != 0)
		goto out;
	inner = NULL;
	*out = o;
	o = NULL;
	rc = RC_OK;
out:
	json_object_put(inner);
	json_object_put(o);
	return rc;
}

enum rc ddb_val_s(const char *s, struct json_object **out)
{
	*out = NULL;
	if (s == NULL)
		return RC_INVAL;
	return wrap("S", json_object_new_string(s), out);
}

enum rc ddb_val_int64(int64_t n, struct json_object **out)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, n);
	return wrap("N", json_object_new_string(text), out);
}

enum rc ddb_val_n_text(const char *text, struct json_object **out)
{
	*out = NULL;
	if (!ddb_num_text_valid(text))
		return RC_INVAL;
	return wrap("N", json_object_new_string(text), out);
}

enum rc ddb_val_bool(bool b, struct json_object **out)
{
	return wrap("BOOL", json_object_new_boolean(b), out);
}

enum rc ddb_val_null(struct json_object **out)
{
	return wrap("NULL", json_object_new_boolean(1), out);
}

enum rc ddb_val_m(struct json_object *map, struct json_object **out)
{
	*out = NULL;
	if (map == NULL) {
		map = json_object_new_object();
		if (map == NULL)
			return RC_NOMEM;
	}
	if (!json_object_is_type(map, json_type_object)) {
		json_object_put(map);
		return RC_INVAL;
	}
	return wrap("M", map, out);
}

enum rc ddb_val_l(struct json_object *list, struct json_object **out)
{
	*out = NULL;
	if (list == NULL) {
		list = json_object_new_array();
		if (list == NULL)
			return RC_NOMEM;
	}
	if (!json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		return RC_INVAL;
	}
	return wrap("L", list, out);
}

/* ---- Maps and lists ---- */

static bool name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, DDB_NAME_MAX + 1);
	return n > 0 && n <= DDB_NAME_MAX;
}

enum rc ddb_put(struct json_object *map, const char *name, struct json_object *val)
{
	if (val == NULL)
		return RC_NOMEM; /* the constructor that should have made it failed */
	if (!json_object_is_type(map, json_type_object) || !name_ok(name)) {
		json_object_put(val);
		return RC_INVAL;
	}
	/* json_object_object_add replaces (and releases) an existing member. */
	if (json_object_object_add(map, name, val) != 0) {
		json_object_put(val);
		return RC_NOMEM;
	}
	return RC_OK;
}

enum rc ddb_name(struct json_object **names, const char *placeholder, const char *attr)
{
	struct json_object *created = NULL;
	enum rc rc;

	if (placeholder == NULL || placeholder[0] != '#' || placeholder[1] == '\0' ||
	    !name_ok(placeholder) || !name_ok(attr))
		return RC_INVAL;
	if (*names == NULL) {
		created = json_object_new_object();
		if (created == NULL)
			return RC_NOMEM;
	}
	rc = ddb_put(created != NULL ? created : *names, placeholder, json_object_new_string(attr));
	if (rc != RC_OK) {
		json_object_put(created);
		return rc;
	}
	if (created != NULL)
		*names = created;
	return RC_OK;
}

/* The shape of every ddb_put_x: build the value, then hand it to ddb_put. */
static enum rc put_built(struct json_object *map, const char *name, enum rc built,
			 struct json_object *val)
{
	if (built != RC_OK)
		return built;
	return ddb_put(map, name, val);
}

enum rc ddb_put_s(struct json_object *map, const char *name, const char *s)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_s(s, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_s_or_null(struct json_object *map, const char *name, const char *s)
{
	if (s == NULL)
		return ddb_put_null(map, name);
	return ddb_put_s(map, name, s);
}

enum rc ddb_put_int64(struct json_object *map, const char *name, int64_t n)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_int64(n, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_n_text(struct json_object *map, const char *name, const char *text)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_n_text(text, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_bool(struct json_object *map, const char *name, bool b)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_bool(b, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_null(struct json_object *map, const char *name)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_null(&v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_m(struct json_object *map, const char *name, struct json_object *m)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_m(m, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_put_l(struct json_object *map, const char *name, struct json_object *l)
{
	struct json_object *v = NULL;
	enum rc rc = ddb_val_l(l, &v);

	return put_built(map, name, rc, v);
}

enum rc ddb_append(struct json_object *list, struct json_object *val)
{
	return jx_append(list, val);
}

/* ---- Reading ---- */

/* The single tag of an attribute value and what it holds, or NULL for anything else. */
static const char *single_tag(struct json_object *val, struct json_object **inner)
{
	struct json_object_iterator it, end;

	*inner = NULL;
	if (!json_object_is_type(val, json_type_object) || json_object_object_length(val) != 1)
		return NULL;
	it = json_object_iter_begin(val);
	end = json_object_iter_end(val);
	if (json_object_iter_equal(&it, &end))
		return NULL;
	*inner = json_object_iter_peek_value(&it);
	return json_object_iter_peek_name(&it);
}

/* The type of an attribute value, with *inner what its tag holds (NULL for DDB_T_OTHER):
 * one look at the value for both. */
static enum ddb_type val_type(struct json_object *val, struct json_object **inner)
{
	const char *tag = single_tag(val, inner);
	struct json_object *in = *inner;
	enum ddb_type t = DDB_T_OTHER;

	if (tag == NULL)
		return DDB_T_OTHER; /* single_tag left *inner NULL */
	if (strcmp(tag, "S") == 0 && json_object_is_type(in, json_type_string))
		t = DDB_T_S;
	else if (strcmp(tag, "N") == 0 && json_object_is_type(in, json_type_string))
		t = DDB_T_N;
	else if (strcmp(tag, "BOOL") == 0 && json_object_is_type(in, json_type_boolean))
		t = DDB_T_BOOL;
	else if (strcmp(tag, "NULL") == 0 && json_object_is_type(in, json_type_boolean) &&
		 json_object_get_boolean(in))
		t = DDB_T_NULL;
	else if (strcmp(tag, "M") == 0 && json_object_is_type(in, json_type_object))
		t = DDB_T_M;
	else if (strcmp(tag, "L") == 0 && json_object_is_type(in, json_type_array))
		t = DDB_T_L;
	if (t == DDB_T_OTHER)
		*inner = NULL;
	return t;
}

enum ddb_type ddb_val_type(struct json_object *val)
{
	struct json_object *in = NULL;

	return val_type(val, &in);
}

/* RC_INVAL: attribute what has type got where want was expected. */
static enum rc wrong_type(const char *what, enum ddb_type got, enum ddb_type want,
			  struct errbuf *eb)
{
	return eb_set(eb, RC_INVAL, "attribute %s is %s, expected %s", what, ddb_type_name(got),
		      ddb_type_name(want));
}

/* The inner value of val when it has type want; else RC_INVAL naming what. */
static enum rc expect(struct json_object *val, const char *what, enum ddb_type want,
		      struct json_object **inner, struct errbuf *eb)
{
	enum ddb_type got;

	*inner = NULL;
	if (val == NULL)
		return eb_set(eb, RC_INVAL, "attribute %s is missing", what);
	got = val_type(val, inner);
	if (got != want) {
		*inner = NULL;
		return wrong_type(what, got, want, eb);
	}
	return RC_OK;
}

enum rc ddb_val_get_s(struct json_object *val, const char *what, const char **out, size_t *len,
		      struct errbuf *eb)
{
	struct json_object *in = NULL;
	enum rc rc = expect(val, what, DDB_T_S, &in, eb);

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (rc != RC_OK)
		return rc;
	*out = json_object_get_string(in);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(in);
	return RC_OK;
}

enum rc ddb_val_get_n_text(struct json_object *val, const char *what, const char **out,
			   struct errbuf *eb)
{
	struct json_object *in = NULL;
	enum rc rc = expect(val, what, DDB_T_N, &in, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	*out = json_object_get_string(in);
	return RC_OK;
}

enum rc ddb_val_get_int64(struct json_object *val, const char *what, int64_t *out,
			  struct errbuf *eb)
{
	const char *text = NULL;
	enum rc rc = ddb_val_get_n_text(val, what, &text, eb);

	if (rc != RC_OK)
		return rc;
	switch (ddb_num_to_int64(text, out)) {
	case JX_NUM_INT:
		return RC_OK;
	case JX_NUM_FRACTION:
		return eb_set(eb, RC_INVAL, "attribute %s is not an integer (%.40s)", what, text);
	case JX_NUM_RANGE:
		return eb_set(eb, RC_INVAL, "attribute %s is out of the int64 range (%.40s)", what,
			      text);
	case JX_NUM_NOT_NUMBER:
		break;
	}
	return eb_set(eb, RC_INVAL, "attribute %s is not a number (%.40s)", what, text);
}

enum rc ddb_val_get_bool(struct json_object *val, const char *what, bool *out,
			 struct errbuf *eb)
{
	struct json_object *in = NULL;
	enum rc rc = expect(val, what, DDB_T_BOOL, &in, eb);

	if (rc != RC_OK)
		return rc;
	*out = json_object_get_boolean(in) != 0;
	return RC_OK;
}

enum rc ddb_val_get_m(struct json_object *val, const char *what, struct json_object **out,
		      struct errbuf *eb)
{
	return expect(val, what, DDB_T_M, out, eb);
}

enum rc ddb_val_get_l(struct json_object *val, const char *what, struct json_object **out,
		      struct errbuf *eb)
{
	return expect(val, what, DDB_T_L, out, eb);
}

struct json_object *ddb_attr(struct json_object *item, const char *name)
{
	struct json_object *v = NULL;

	if (name == NULL || !json_object_is_type(item, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(item, name, &v))
		return NULL;
	return v;
}

enum ddb_type ddb_type_of(struct json_object *item, const char *name)
{
	struct json_object *v = ddb_attr(item, name);

	return v == NULL ? DDB_T_NONE : ddb_val_type(v);
}

/* An item that is not an object is reported as such rather than as a missing attribute. */
static enum rc item_ok(struct json_object *item, const char *name, struct errbuf *eb)
{
	if (!json_object_is_type(item, json_type_object))
		return eb_set(eb, RC_INVAL, "attribute %s: the item is not a map",
			      name != NULL ? name : "(null)");
	if (name == NULL)
		return eb_set(eb, RC_INVAL, "attribute name is NULL");
	return RC_OK;
}

enum rc ddb_get_s(struct json_object *item, const char *name, const char **out, size_t *len,
		  struct errbuf *eb)
{
	enum rc rc = item_ok(item, name, eb);

	if (rc != RC_OK) {
		*out = NULL;
		if (len != NULL)
			*len = 0;
		return rc;
	}
	return ddb_val_get_s(ddb_attr(item, name), name, out, len, eb);
}

enum rc ddb_get_s_opt(struct json_object *item, const char *name, const char **out, size_t *len,
		      struct errbuf *eb)
{
	struct json_object *v;
	struct json_object *in = NULL;
	enum ddb_type t;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	/* one lookup of the name and one look at its value (the listing reads every item's
	 * attributes this way) */
	v = ddb_attr(item, name);
	if (v == NULL)
		return RC_OK;
	t = val_type(v, &in);
	if (t == DDB_T_NULL)
		return RC_OK;
	if (t != DDB_T_S)
		return wrong_type(name, t, DDB_T_S, eb);
	*out = json_object_get_string(in);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(in);
	return RC_OK;
}

enum rc ddb_get_int64(struct json_object *item, const char *name, int64_t *out,
		      struct errbuf *eb)
{
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	return ddb_val_get_int64(ddb_attr(item, name), name, out, eb);
}

enum rc ddb_get_n_text(struct json_object *item, const char *name, const char **out,
		       struct errbuf *eb)
{
	*out = NULL;
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	return ddb_val_get_n_text(ddb_attr(item, name), name, out, eb);
}

enum rc ddb_get_bool(struct json_object *item, const char *name, bool *out, struct errbuf *eb)
{
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	return ddb_val_get_bool(ddb_attr(item, name), name, out, eb);
}

enum rc ddb_get_m(struct json_object *item, const char *name, struct json_object **out,
		  struct errbuf *eb)
{
	*out = NULL;
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	return ddb_val_get_m(ddb_attr(item, name), name, out, eb);
}

enum rc ddb_get_l(struct json_object *item, const char *name, struct json_object **out,
		  struct errbuf *eb)
{
	*out = NULL;
	if (item_ok(item, name, eb) != RC_OK)
		return RC_INVAL;
	return ddb_val_get_l(ddb_attr(item, name), name, out, eb);
}
