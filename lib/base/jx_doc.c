/* jx_doc.c — reading a jx_doc (base/jx_doc.h); jx_doc_parse itself is in jx.c, beside the
 * scanner that fills it. */
#include "base/jx_doc.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

void jx_doc_free(struct jx_doc *d)
{
	if (d == NULL)
		return;
	free(d->nodes);
	buf_cleanup(&d->strs);
	memset(d, 0, sizeof(*d));
}

enum jx_kind jx_doc_kind(const struct jx_doc *d, size_t i)
{
	if (i >= d->n)
		return JX_K_NULL;
	return (enum jx_kind)d->nodes[i].kind;
}

size_t jx_doc_member(const struct jx_doc *d, size_t obj, const char *key)
{
	size_t found = JX_DOC_NONE;
	size_t klen;

	if (jx_doc_kind(d, obj) != JX_K_OBJ || key == NULL)
		return JX_DOC_NONE;
	klen = strlen(key);
	for (size_t c = obj + 1, k = 0; k < d->nodes[obj].n; k++, c = d->nodes[c].end) {
		const struct jx_node *nd = &d->nodes[c];

		if (nd->key_len == klen && memcmp(d->strs.data + nd->key, key, klen) == 0)
			found = c;
	}
	return found;
}

size_t jx_doc_child(const struct jx_doc *d, size_t i, size_t k)
{
	enum jx_kind kind = jx_doc_kind(d, i);
	size_t c = i + 1;

	if ((kind != JX_K_ARR && kind != JX_K_OBJ) || k >= d->nodes[i].n)
		return JX_DOC_NONE;
	while (k-- > 0)
		c = d->nodes[c].end;
	return c;
}

const char *jx_doc_text(const struct jx_doc *d, size_t i, size_t *len)
{
	enum jx_kind kind = jx_doc_kind(d, i);

	if (len != NULL)
		*len = 0;
	if (i >= d->n || (kind != JX_K_STR && kind != JX_K_NUM))
		return NULL;
	if (len != NULL)
		*len = d->nodes[i].val_len;
	return d->strs.data + d->nodes[i].val;
}

const char *jx_doc_key(const struct jx_doc *d, size_t i)
{
	if (i >= d->n || d->nodes[i].key == UINT32_MAX)
		return NULL;
	return d->strs.data + d->nodes[i].key;
}

/* A number as json-c's tokener makes it from the same text (int64, or double keeping the
 * text), so both ways of reading an answer agree. */
static struct json_object *number_to_json(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1); /* a number ends at the NUL */
	json_tokener_free(tok);
	return o;
}

enum rc jx_doc_to_json(const struct jx_doc *d, size_t i, struct json_object **out)
{
	struct json_object *o = NULL;
	const struct jx_node *nd;
	enum rc rc = RC_OK;

	*out = NULL;
	if (i >= d->n)
		return RC_INVAL;
	nd = &d->nodes[i];
	switch ((enum jx_kind)nd->kind) {
	case JX_K_NULL:
		return RC_OK;
	case JX_K_FALSE:
	case JX_K_TRUE:
		o = json_object_new_boolean(nd->kind == JX_K_TRUE);
		break;
	case JX_K_NUM:
		o = number_to_json(d->strs.data + nd->val);
		break;
	case JX_K_STR:
		o = json_object_new_string_len(d->strs.data + nd->val, (int)nd->val_len);
		break;
	case JX_K_ARR:
	case JX_K_OBJ:
		o = nd->kind == JX_K_ARR ? json_object_new_array() : json_object_new_object();
		for (size_t c = i + 1, k = 0; o != NULL && rc == RC_OK && k < nd->n;
		     k++, c = d->nodes[c].end) {
			struct json_object *v = NULL;

			rc = jx_doc_to_json(d, c, &v);
			if (rc != RC_OK)
				break;
			if (nd->kind == JX_K_ARR)
				rc = json_object_array_add(o, v) == 0 ? RC_OK : RC_NOMEM;
			else
				rc = json_object_object_add(o, jx_doc_key(d, c), v) == 0 ? RC_OK
											    : RC_NOMEM;
			if (rc != RC_OK)
				json_object_put(v);
		}
		break;
	}
	if (o == NULL || rc != RC_OK) {
		json_object_put(o);
		return RC_NOMEM;
	}
	*out = o;
	return RC_OK;
}
