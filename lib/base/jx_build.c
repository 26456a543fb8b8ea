/* jx_build.c — building json-c trees: the one way the project builds an object (a table of
 * struct jx_member, turned into json-c in table order), the single-member adders it rests
 * on, array appends, and compact serialisation (text without a tree: jx_write.c). */
#include "base/jx.h"

#include <stdlib.h>
#include <string.h>

enum rc jx_add_obj(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(val);
		return RC_INVAL;
	}
	/* json_object_object_add fails only when it cannot allocate; it then
	 * leaves val to us. */
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return RC_NOMEM;
	}
	return RC_OK;
}

enum rc jx_add_str(struct json_object *obj, const char *key, const char *val)
{
	struct json_object *v = NULL;

	if (val != NULL) {
		v = json_object_new_string(val);
		if (v == NULL)
			return RC_NOMEM;
	}
	return jx_add_obj(obj, key, v);
}

enum rc jx_add_int64(struct json_object *obj, const char *key, int64_t val)
{
	struct json_object *v = json_object_new_int64(val);

	if (v == NULL)
		return RC_NOMEM;
	return jx_add_obj(obj, key, v);
}

enum rc jx_add_bool(struct json_object *obj, const char *key, bool val)
{
	struct json_object *v = json_object_new_boolean(val);

	if (v == NULL)
		return RC_NOMEM;
	return jx_add_obj(obj, key, v);
}

enum rc jx_append(struct json_object *arr, struct json_object *val)
{
	if (val == NULL)
		return RC_NOMEM; /* the constructor that should have made it failed */
	if (!json_object_is_type(arr, json_type_array)) {
		json_object_put(val);
		return RC_INVAL;
	}
	if (json_object_array_add(arr, val) != 0) {
		json_object_put(val);
		return RC_NOMEM;
	}
	return RC_OK;
}

enum rc jx_append_str(struct json_object *arr, const char *s)
{
	return jx_append(arr, s != NULL ? json_object_new_string(s) : NULL);
}

enum rc jx_add_members(struct json_object *obj, const struct jx_member *m, size_t n)
{
	enum rc rc = RC_OK;

	for (size_t k = 0; k < n && rc == RC_OK; k++) {
		struct json_object *sub = NULL;

		if (m[k].omit)
			continue;
		switch (m[k].type) {
		case JX_STR:
			rc = jx_add_str(obj, m[k].key, m[k].s);
			break;
		case JX_INT:
			rc = jx_add_int64(obj, m[k].key, m[k].i);
			break;
		case JX_BOOL:
			rc = jx_add_bool(obj, m[k].key, m[k].b);
			break;
		case JX_OBJ:
			if (m[k].sub != NULL)
				rc = jx_build(m[k].sub, m[k].nsub, &sub);
			if (rc == RC_OK)
				rc = jx_add_obj(obj, m[k].key, sub);
			break;
		case JX_VAL:
			rc = jx_add_obj(obj, m[k].key, json_object_get(m[k].v));
			break;
		}
	}
	return rc;
}

enum rc jx_build(const struct jx_member *m, size_t n, struct json_object **out)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = o != NULL ? jx_add_members(o, m, n) : RC_NOMEM;

	*out = NULL;
	if (rc != RC_OK) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return RC_OK;
}

enum rc jx_to_text(struct json_object *v, char **out)
{
	const char *s = json_object_to_json_string_ext(
		v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	*out = s != NULL ? strdup(s) : NULL;
	return *out != NULL ? RC_OK : RC_NOMEM;
}
