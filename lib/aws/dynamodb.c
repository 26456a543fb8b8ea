/* dynamodb.c — DynamoDB operations on top of aws/core: builds each request as a json-c tree,
 * checks every argument against the limits in dynamodb.h first, and maps the answers (and
 * the few errors with a meaning of their own) for the caller. */
#include "aws/dynamodb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws/dynamodb_int.h"
#include "base/jx.h"

struct ddb_client {
	struct aws_svc_client base; /* first: the dynamodb-service client and its last error */
};

struct ddb_client *ddb_client_new(const struct aws_config *cfg, struct errbuf *eb)
{
	return aws_svc_client_new(sizeof(struct ddb_client), cfg, AWS_SVC_DYNAMODB, eb);
}

void ddb_client_free(struct ddb_client *c)
{
	aws_svc_client_free(c);
}

struct aws_client *ddb_client_core(struct ddb_client *c)
{
	return c->base.aws;
}

const struct aws_error *ddb_last_error(const struct ddb_client *c)
{
	return &c->base.last;
}

const char *ddb_applied_name(enum ddb_applied a)
{
	switch (a) {
	case DDB_APPLIED:
		return "applied";
	case DDB_ALREADY:
		return "already";
	case DDB_UNSUPPORTED:
		return "unsupported";
	}
	return "unknown";
}

/* ---- Calls ---- */

static bool code_is(const struct aws_error *err, const char *code)
{
	return strcmp(err->code, code) == 0;
}

/* An endpoint without the operation: DynamoDB Local answers UnknownOperationException,
 * LocalStack 501 "not yet implemented". */
TESTABLE bool ddb_unsupported(const struct aws_error *err)
{
	static const char *const codes[] = {"UnknownOperationException", "UnknownOperation",
					    "UnsupportedOperation", "UnsupportedOperationException",
					    "NotImplemented", "NotImplementedException",
					    "InvalidAction", NULL};

	if (err->http_status == 501)
		return true;
	for (size_t i = 0; codes[i] != NULL; i++)
		if (code_is(err, codes[i]))
			return true;
	return false;
}

/* ---- Argument checks ---- */

/* A table or index name: 3..255 of [A-Za-z0-9_.-]. */
TESTABLE bool ddb_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, DDB_TABLE_NAME_MAX + 1);
	if (n < 3 || n > DDB_TABLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
			return false;
	}
	return true;
}

static enum rc check_table(const char *table, struct errbuf *eb)
{
	if (!ddb_name_ok(table))
		return eb_set(eb, RC_INVAL, "dynamodb: bad table name \"%.64s\" (3-%d of A-Z a-z 0-9 _ . -)",
			      table != NULL ? table : "(null)", DDB_TABLE_NAME_MAX);
	return RC_OK;
}

/* An optional expression: NULL is fine, "" and oversized are not. */
static enum rc check_expr(const char *what, const char *expr, bool required, struct errbuf *eb)
{
	size_t n;

	if (expr == NULL) {
		if (required)
			return eb_set(eb, RC_INVAL, "dynamodb: %s is required", what);
		return RC_OK;
	}
	n = strnlen(expr, DDB_EXPR_MAX + 1);
	if (n == 0 || n > DDB_EXPR_MAX)
		return eb_set(eb, RC_INVAL, "dynamodb: %s must be 1-%d bytes", what, DDB_EXPR_MAX);
	return RC_OK;
}

static enum rc check_map(const char *what, struct json_object *m, bool required,
			 struct errbuf *eb)
{
	if (m == NULL && !required)
		return RC_OK;
	if (!json_object_is_type(m, json_type_object))
		return eb_set(eb, RC_INVAL, "dynamodb: %s must be a JSON object", what);
	if (required && json_object_object_length(m) == 0)
		return eb_set(eb, RC_INVAL, "dynamodb: %s is empty", what);
	return RC_OK;
}

/* ---- Building ---- */

static enum rc nomem(struct errbuf *eb)
{
	return eb_set(eb, RC_NOMEM, "dynamodb: out of memory building a request");
}

/* Adds a borrowed object under key, with a reference of the request's own. */
static enum rc add_ref(struct json_object *o, const char *key, struct json_object *v)
{
	return jx_add_obj(o, key, json_object_get(v));
}

/* The expression members shared by writes and queries. */
static enum rc add_expr_attrs(struct json_object *req, struct json_object *names,
			      struct json_object *values, struct errbuf *eb)
{
	enum rc rc;

	rc = check_map("ExpressionAttributeNames", names, false, eb);
	if (rc == RC_OK)
		rc = check_map("ExpressionAttributeValues", values, false, eb);
	if (rc != RC_OK)
		return rc;
	if (names != NULL && json_object_object_length(names) > 0 &&
	    add_ref(req, "ExpressionAttributeNames", names) != RC_OK)
		return nomem(eb);
	if (values != NULL && json_object_object_length(values) > 0 &&
	    add_ref(req, "ExpressionAttributeValues", values) != RC_OK)
		return nomem(eb);
	return RC_OK;
}

static const char *key_type_tag(enum ddb_key_type t)
{
	return t == DDB_KEY_N ? "N" : "S";
}

/* [{"AttributeName": hash, "KeyType": "HASH"}, {... "RANGE"}] */
static enum rc key_schema(const struct ddb_key *hash, const struct ddb_key *range,
			  struct json_object **out)
{
	struct json_object *arr = NULL, *k = NULL;
	const struct ddb_key *keys[2] = {hash, range};
	static const char *const kinds[2] = {"HASH", "RANGE"};
	enum rc rc = RC_NOMEM;

	*out = NULL;
	arr = json_object_new_array();
	if (arr == NULL)
		goto out;
	for (int i = 0; i < 2; i++) {
		if (keys[i]->name == NULL)
			continue;
		k = json_object_new_object();
		if (k == NULL || jx_add_str(k, "AttributeName", keys[i]->name) != RC_OK ||
		    jx_add_str(k, "KeyType", kinds[i]) != RC_OK || json_object_array_add(arr, k) != 0)
			goto out;
		k = NULL;
	}
	*out = arr;
	arr = NULL;
	rc = RC_OK;
out:
	json_object_put(k);
	json_object_put(arr);
	return rc;
}

/* Adds key to the AttributeDefinitions array once; a name seen with another type is an
 * error (DynamoDB would reject it less clearly). */
static enum rc define_attr(struct json_object *defs, const struct ddb_key *key,
			   struct errbuf *eb)
{
	struct json_object *d = NULL;
	size_t n = json_object_array_length(defs);
	size_t len;

	if (key->name == NULL)
		return RC_OK;
	len = strnlen(key->name, DDB_NAME_MAX + 1);
	if (len == 0 || len > DDB_NAME_MAX)
		return eb_set(eb, RC_INVAL, "dynamodb: key attribute name must be 1-%d bytes",
			      DDB_NAME_MAX);
	if (key->type != DDB_KEY_S && key->type != DDB_KEY_N)
		return eb_set(eb, RC_INVAL, "dynamodb: key attribute %s has a bad type", key->name);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(defs, i);
		struct json_object *name = NULL, *type = NULL;

		json_object_object_get_ex(e, "AttributeName", &name);
		json_object_object_get_ex(e, "AttributeType", &type);
		if (strcmp(json_object_get_string(name), key->name) != 0)
			continue;
		if (strcmp(json_object_get_string(type), key_type_tag(key->type)) != 0)
			return eb_set(eb, RC_INVAL, "dynamodb: key attribute %s has two types",
				      key->name);
		return RC_OK;
	}
	d = json_object_new_object();
	if (d == NULL || jx_add_str(d, "AttributeName", key->name) != RC_OK ||
	    jx_add_str(d, "AttributeType", key_type_tag(key->type)) != RC_OK ||
	    json_object_array_add(defs, d) != 0) {
		json_object_put(d);
		return nomem(eb);
	}
	return RC_OK;
}

static enum rc build_gsi(const struct ddb_gsi *g, struct json_object **out, struct errbuf *eb)
{
	struct json_object *o = NULL, *ks = NULL, *proj = NULL;
	enum rc rc;

	*out = NULL;
	if (!ddb_name_ok(g->name))
		return eb_set(eb, RC_INVAL, "dynamodb: bad index name \"%.64s\"",
			      g->name != NULL ? g->name : "(null)");
	if (g->hash.name == NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: index %s has no hash key", g->name);
	rc = RC_NOMEM;
	o = json_object_new_object();
	proj = json_object_new_object();
	if (o == NULL || proj == NULL || jx_add_str(o, "IndexName", g->name) != RC_OK ||
	    key_schema(&g->hash, &g->range, &ks) != RC_OK)
		goto out;
	if (jx_add_obj(o, "KeySchema", ks) != RC_OK) {
		ks = NULL;
		goto out;
	}
	if (jx_add_str(proj, "ProjectionType", "ALL") != RC_OK)
		goto out;
	rc = jx_add_obj(o, "Projection", proj);
	proj = NULL;
	if (rc != RC_OK)
		goto out;
	*out = o;
	o = NULL;
out:
	json_object_put(proj);
	json_object_put(o);
	return rc == RC_NOMEM ? nomem(eb) : rc;
}

/* Adds member: {flag: true[, key: value]} to req (value NULL: without it). RC_NOMEM. */
static enum rc add_enabled(struct json_object *req, const char *member, const char *flag,
			   const char *key, const char *value)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || jx_add_bool(o, flag, true) != RC_OK ||
	    (value != NULL && jx_add_str(o, key, value) != RC_OK)) {
		json_object_put(o);
		return RC_NOMEM;
	}
	return jx_add_obj(req, member, o) == RC_OK ? RC_OK : RC_NOMEM;
}

TESTABLE enum rc ddb_build_create_table(const struct ddb_table_spec *spec,
					struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL, *defs = NULL, *ks = NULL, *gsis = NULL, *g = NULL;
	enum rc rc;

	*out = NULL;
	rc = check_table(spec->table, eb);
	if (rc != RC_OK)
		goto out;
	if (spec->hash.name == NULL) {
		rc = eb_set(eb, RC_INVAL, "dynamodb: table %s has no hash key", spec->table);
		goto out;
	}
	if (spec->n_gsis > DDB_GSI_MAX || (spec->n_gsis > 0 && spec->gsis == NULL)) {
		rc = eb_set(eb, RC_INVAL, "dynamodb: a table has 0-%d GSIs", DDB_GSI_MAX);
		goto out;
	}
	rc = RC_NOMEM;
	req = json_object_new_object();
	defs = json_object_new_array();
	if (req == NULL || defs == NULL || jx_add_str(req, "TableName", spec->table) != RC_OK)
		goto out;
	rc = define_attr(defs, &spec->hash, eb);
	if (rc == RC_OK)
		rc = define_attr(defs, &spec->range, eb);
	for (size_t i = 0; rc == RC_OK && i < spec->n_gsis; i++) {
		rc = define_attr(defs, &spec->gsis[i].hash, eb);
		if (rc == RC_OK)
			rc = define_attr(defs, &spec->gsis[i].range, eb);
	}
	if (rc != RC_OK)
		goto out;
	rc = jx_add_obj(req, "AttributeDefinitions", defs);
	defs = NULL;
	if (rc != RC_OK)
		goto out;
	rc = key_schema(&spec->hash, &spec->range, &ks);
	if (rc == RC_OK)
		rc = jx_add_obj(req, "KeySchema", ks);
	if (rc == RC_OK)
		rc = jx_add_str(req, "BillingMode", "PAY_PER_REQUEST");
	if (rc != RC_OK)
		goto out;
	if (spec->n_gsis > 0) {
		rc = RC_NOMEM;
		gsis = json_object_new_array();
		if (gsis == NULL)
			goto out;
		for (size_t i = 0; i < spec->n_gsis; i++) {
			for (size_t j = 0; j < i; j++)
				if (strcmp(spec->gsis[i].name != NULL ? spec->gsis[i].name : "",
					   spec->gsis[j].name) == 0) {
					rc = eb_set(eb, RC_INVAL, "dynamodb: index %s given twice",
						    spec->gsis[i].name);
					goto out;
				}
			rc = build_gsi(&spec->gsis[i], &g, eb);
			if (rc != RC_OK)
				goto out;
			rc = RC_NOMEM;
			if (json_object_array_add(gsis, g) != 0)
				goto out;
			g = NULL;
		}
		rc = jx_add_obj(req, "GlobalSecondaryIndexes", gsis);
		gsis = NULL;
		if (rc != RC_OK)
			goto out;
	}
	if (spec->stream)
		rc = add_enabled(req, "StreamSpecification", "StreamEnabled", "StreamViewType",
				 "NEW_AND_OLD_IMAGES");
	if (rc == RC_OK && spec->sse)
		rc = add_enabled(req, "SSESpecification", "Enabled", NULL, NULL);
	if (rc != RC_OK)
		goto out;
	*out = req;
	req = NULL;
	rc = RC_OK;
out:
	if (rc == RC_NOMEM)
		nomem(eb);
	json_object_put(g);
	json_object_put(gsis);
	json_object_put(defs);
	json_object_put(req);
	return rc;
}

/* {"TableName": table} and, when key is given, "Key": key. */
static enum rc table_req(const char *table, const char *key_member, struct json_object *key,
			 struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*out = NULL;
	rc = check_table(table, eb);
	if (rc == RC_OK && key_member != NULL)
		rc = check_map(key_member, key, true, eb);
	if (rc != RC_OK)
		return rc;
	req = json_object_new_object();
	if (req == NULL || jx_add_str(req, "TableName", table) != RC_OK ||
	    (key_member != NULL && add_ref(req, key_member, key) != RC_OK)) {
		json_object_put(req);
		return nomem(eb);
	}
	*out = req;
	return RC_OK;
}

static const char *return_name(enum ddb_return r)
{
	switch (r) {
	case DDB_RET_NONE:
		return "NONE";
	case DDB_RET_ALL_NEW:
		return "ALL_NEW";
	case DDB_RET_UPDATED_NEW:
		return "UPDATED_NEW";
	case DDB_RET_ALL_OLD:
		return "ALL_OLD";
	case DDB_RET_UPDATED_OLD:
		return "UPDATED_OLD";
	}
	return NULL;
}

/* Builds a PutItem request (key_member "Item", w->update NULL, w->ret DDB_RET_NONE) or an
 * UpdateItem request (key_member "Key"), the members always in the same order. w->ret has
 * been checked. */
static enum rc build_write(const struct ddb_update_req *w, const char *key_member,
			   struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*out = NULL;
	rc = check_expr("ConditionExpression", w->condition, false, eb);
	if (rc == RC_OK)
		rc = table_req(w->table, key_member, w->key, &req, eb);
	if (rc == RC_OK)
		rc = add_expr_attrs(req, w->names, w->values, eb);
	if (rc != RC_OK)
		goto out;
	if ((w->update != NULL && jx_add_str(req, "UpdateExpression", w->update) != RC_OK) ||
	    (w->condition != NULL && jx_add_str(req, "ConditionExpression", w->condition) != RC_OK) ||
	    (w->ret != DDB_RET_NONE &&
	     jx_add_str(req, "ReturnValues", return_name(w->ret)) != RC_OK) ||
	    (w->old_on_fail &&
	     jx_add_str(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD") != RC_OK)) {
		rc = nomem(eb);
		goto out;
	}
	*out = req;
	req = NULL;
out:
	json_object_put(req);
	return rc;
}

TESTABLE enum rc ddb_build_put_item(const struct ddb_put_req *r, struct json_object **out,
				    struct errbuf *eb)
{
	/* A put is a write whose key is the whole item, without update or ReturnValues. */
	const struct ddb_update_req w = {.table = r->table, .key = r->item,
					 .condition = r->condition, .names = r->names,
					 .values = r->values, .ret = DDB_RET_NONE,
					 .old_on_fail = r->old_on_fail};

	return build_write(&w, "Item", out, eb);
}

TESTABLE enum rc ddb_build_get_item(const char *table, struct json_object *key, bool consistent,
				    struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = table_req(table, "Key", key, &req, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	if (consistent && jx_add_bool(req, "ConsistentRead", true) != RC_OK) {
		json_object_put(req);
		return nomem(eb);
	}
	*out = req;
	return RC_OK;
}

TESTABLE enum rc ddb_build_update_item(const struct ddb_update_req *r, struct json_object **out,
				       struct errbuf *eb)
{
	enum rc rc;

	*out = NULL;
	if (return_name(r->ret) == NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: bad ReturnValues %d", (int)r->ret);
	rc = check_expr("UpdateExpression", r->update, true, eb);
	if (rc != RC_OK)
		return rc;
	return build_write(r, "Key", out, eb);
}

TESTABLE enum rc ddb_build_query(const struct ddb_query_req *q, struct json_object *start_key,
				 bool count_only, struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*out = NULL;
	if (q->index != NULL && !ddb_name_ok(q->index))
		return eb_set(eb, RC_INVAL, "dynamodb: bad index name \"%.64s\"", q->index);
	if (q->limit < 0 || q->limit > DDB_PAGE_LIMIT_MAX)
		return eb_set(eb, RC_INVAL, "dynamodb: Limit must be 0-%d", DDB_PAGE_LIMIT_MAX);
	if (q->consistent && q->index != NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: a GSI query cannot be consistent");
	if (count_only && q->projection != NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: a COUNT query takes no projection");
	rc = check_expr("KeyConditionExpression", q->key_condition, true, eb);
	if (rc == RC_OK)
		rc = check_expr("FilterExpression", q->filter, false, eb);
	if (rc == RC_OK)
		rc = check_expr("ProjectionExpression", q->projection, false, eb);
	if (rc == RC_OK)
		rc = check_map("ExclusiveStartKey", start_key, false, eb);
	if (rc == RC_OK)
		rc = table_req(q->table, NULL, NULL, &req, eb);
	if (rc == RC_OK)
		rc = add_expr_attrs(req, q->names, q->values, eb);
	if (rc != RC_OK)
		goto out;
	if ((q->index != NULL && jx_add_str(req, "IndexName", q->index) != RC_OK) ||
	    jx_add_str(req, "KeyConditionExpression", q->key_condition) != RC_OK ||
	    (q->filter != NULL && jx_add_str(req, "FilterExpression", q->filter) != RC_OK) ||
	    (q->projection != NULL &&
	     jx_add_str(req, "ProjectionExpression", q->projection) != RC_OK) ||
	    (q->descending && jx_add_bool(req, "ScanIndexForward", false) != RC_OK) ||
	    (q->consistent && jx_add_bool(req, "ConsistentRead", true) != RC_OK) ||
	    (q->limit > 0 && jx_add_int64(req, "Limit", q->limit) != RC_OK) ||
	    (count_only && jx_add_str(req, "Select", "COUNT") != RC_OK) ||
	    (start_key != NULL && add_ref(req, "ExclusiveStartKey", start_key) != RC_OK)) {
		rc = nomem(eb);
		goto out;
	}
	*out = req;
	req = NULL;
out:
	json_object_put(req);
	return rc;
}

/* ---- Parsing ---- */

TESTABLE enum rc ddb_parse_table_info(struct json_object *table, struct ddb_table_info *info,
				      struct errbuf *eb)
{
	struct json_object *v = NULL, *gsis = NULL;

	memset(info, 0, sizeof(*info));
	if (!json_object_is_type(table, json_type_object))
		return eb_set(eb, RC_IO, "dynamodb DescribeTable: no Table in the answer");
	aws_copy_member(table, "TableStatus", info->status, sizeof(info->status));
	if (info->status[0] == '\0')
		return eb_set(eb, RC_IO, "dynamodb DescribeTable: no TableStatus in the answer");
	aws_copy_member(table, "TableArn", info->arn, sizeof(info->arn));
	aws_copy_member(table, "LatestStreamArn", info->stream_arn, sizeof(info->stream_arn));
	if (json_object_object_get_ex(table, "BillingModeSummary", &v))
		aws_copy_member(v, "BillingMode", info->billing_mode, sizeof(info->billing_mode));
	if (json_object_object_get_ex(table, "StreamSpecification", &v)) {
		struct json_object *en = NULL;

		if (json_object_object_get_ex(v, "StreamEnabled", &en))
			info->stream_enabled = json_object_get_boolean(en) != 0;
		aws_copy_member(v, "StreamViewType", info->stream_view, sizeof(info->stream_view));
	}
	if (json_object_object_get_ex(table, "SSEDescription", &v)) {
		char st[DDB_WORD_MAX];

		aws_copy_member(v, "Status", st, sizeof(st));
		info->sse_enabled = strcmp(st, "ENABLED") == 0 || strcmp(st, "ENABLING") == 0;
	}
	if (json_object_object_get_ex(table, "ItemCount", &v) &&
	    json_object_is_type(v, json_type_int))
		info->item_count = json_object_get_int64(v);
	info->gsis_active = true;
	if (json_object_object_get_ex(table, "GlobalSecondaryIndexes", &gsis) &&
	    json_object_is_type(gsis, json_type_array)) {
		info->n_gsis = json_object_array_length(gsis);
		for (size_t i = 0; i < info->n_gsis; i++) {
			char st[DDB_WORD_MAX];

			aws_copy_member(json_object_array_get_idx(gsis, i), "IndexStatus", st,
					sizeof(st));
			if (strcmp(st, "ACTIVE") != 0)
				info->gsis_active = false;
		}
	}
	return RC_OK;
}

void ddb_page_cleanup(struct ddb_page *p)
{
	if (p == NULL)
		return;
	json_object_put(p->items);
	json_object_put(p->last_key);
	memset(p, 0, sizeof(*p));
}

/* Takes Items/Count/ScannedCount/LastEvaluatedKey from a Query answer into page (which must be
 * clean). A COUNT answer has no Items: page->items is then an empty array. */
TESTABLE enum rc ddb_parse_page(struct json_object *answer, struct ddb_page *page,
				struct errbuf *eb)
{
	struct json_object *v = NULL;

	if (json_object_object_get_ex(answer, "Items", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return eb_set(eb, RC_IO, "dynamodb Query: Items is not an array");
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!json_object_is_type(json_object_array_get_idx(v, i),
						 json_type_object))
				return eb_set(eb, RC_IO, "dynamodb Query: item %zu is not a map", i);
		page->items = json_object_get(v);
	} else {
		page->items = json_object_new_array();
		if (page->items == NULL)
			return nomem(eb);
	}
	if (!json_object_object_get_ex(answer, "Count", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return eb_set(eb, RC_IO, "dynamodb Query: no valid Count in the answer");
	page->count = json_object_get_int64(v);
	if (json_object_object_get_ex(answer, "ScannedCount", &v) &&
	    json_object_is_type(v, json_type_int))
		page->scanned = json_object_get_int64(v);
	if (json_object_object_get_ex(answer, "LastEvaluatedKey", &v) &&
	    json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0)
		page->last_key = json_object_get(v);
	return RC_OK;
}

/* ---- Tables ---- */

static const struct ddb_gsi appointments_gsis[] = {
	{DDB_GSI_INSURED, {"insuredId", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
	{DDB_GSI_STATUS, {"status", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
	{DDB_GSI_COUNTRY, {"countryISO", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
};

void ddb_appointments_spec(const char *table, struct ddb_table_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->table = table;
	spec->hash.name = DDB_APPT_KEY;
	spec->hash.type = DDB_KEY_S;
	spec->gsis = appointments_gsis;
	spec->n_gsis = sizeof(appointments_gsis) / sizeof(appointments_gsis[0]);
	spec->stream = true;
	spec->sse = true;
}

void ddb_side_table_spec(const char *table, struct ddb_table_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->table = table;
	spec->hash.name = DDB_SIDE_KEY;
	spec->hash.type = DDB_KEY_S;
	spec->sse = true;
}

enum rc ddb_create_table(struct ddb_client *c, const struct ddb_table_spec *spec,
			 struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc;

	rc = ddb_build_create_table(spec, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "CreateTable", req, NULL, &ans, eb);
	if (rc == RC_CONFLICT)
		eb_set(eb, RC_CONFLICT, "dynamodb: table %s already exists", spec->table);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_table_info *info,
			   struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *t = NULL;
	enum rc rc;

	memset(info, 0, sizeof(*info));
	rc = table_req(table, NULL, NULL, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "DescribeTable", req, NULL, &ans, eb);
	if (rc == RC_OK) {
		json_object_object_get_ex(ans, "Table", &t);
		rc = ddb_parse_table_info(t, info, eb);
	}
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

enum rc ddb_wait_active(struct ddb_client *c, const char *table, long timeout_ms,
			struct ddb_table_info *info, struct errbuf *eb)
{
	struct ddb_table_info local;
	long deadline;
	enum rc rc;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (timeout_ms < 0 || timeout_ms > DDB_WAIT_MAX_MS)
		return eb_set(eb, RC_INVAL, "dynamodb: wait timeout must be 0-%ld ms",
			      DDB_WAIT_MAX_MS);
	deadline = mono_ms() + timeout_ms;
	for (;;) {
		long left;

		rc = ddb_describe_table(c, table, info, eb);
		if (rc != RC_OK)
			return rc;
		if (strcmp(info->status, "ACTIVE") == 0 && info->gsis_active)
			return RC_OK;
		left = deadline - mono_ms();
		if (left <= 0)
			return eb_set(eb, RC_TIMEOUT,
				      "dynamodb: table %s not ACTIVE after %ld ms (status %s%s)",
				      table, timeout_ms, info->status,
				      info->gsis_active ? "" : ", an index is not ACTIVE");
		sleep_ms(left < DDB_WAIT_POLL_MS ? left : DDB_WAIT_POLL_MS);
	}
}

/* An optional setting the endpoint does not implement (DynamoDB Local, LocalStack) is not a
 * failure: *result says DDB_UNSUPPORTED and rc becomes RC_OK. A missing table stays one. */
static enum rc unless_unsupported(const struct ddb_client *c, enum rc rc,
				  enum ddb_applied *result)
{
	if (rc != RC_OK && rc != RC_NOTFOUND && ddb_unsupported(&c->base.last)) {
		*result = DDB_UNSUPPORTED;
		return RC_OK;
	}
	return rc;
}

/* Turns on an optional setting: adds spec_member: {flag: true[, "AttributeName": attr]} to
 * req (a table request) and sends it as op. */
static enum rc apply_setting(struct ddb_client *c, struct json_object *req, const char *op,
			     const char *spec_member, const char *flag, const char *attr,
			     enum ddb_applied *result, struct errbuf *eb)
{
	struct json_object *ans = NULL;
	enum rc rc;

	if (add_enabled(req, spec_member, flag, "AttributeName", attr) != RC_OK)
		return nomem(eb);
	rc = aws_svc_call(&c->base, op, req, NULL, &ans, eb);
	json_object_put(ans);
	return unless_unsupported(c, rc, result);
}

enum rc ddb_enable_pitr(struct ddb_client *c, const char *table, enum ddb_applied *result,
			struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*result = DDB_APPLIED;
	rc = table_req(table, NULL, NULL, &req, eb);
	if (rc == RC_OK)
		rc = apply_setting(c, req, "UpdateContinuousBackups",
				   "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled",
				   NULL, result, eb);
	json_object_put(req);
	return rc;
}

enum rc ddb_enable_ttl(struct ddb_client *c, const char *table, const char *attr,
		       enum ddb_applied *result, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *d = NULL;
	char status[DDB_WORD_MAX], cur[DDB_NAME_MAX + 1];
	size_t alen = attr != NULL ? strnlen(attr, DDB_NAME_MAX + 1) : 0;
	enum rc rc;

	*result = DDB_APPLIED;
	if (alen == 0 || alen > DDB_NAME_MAX)
		return eb_set(eb, RC_INVAL, "dynamodb: TTL attribute must be 1-%d bytes",
			      DDB_NAME_MAX);
	rc = table_req(table, NULL, NULL, &req, eb);
	if (rc != RC_OK)
		goto out;
	rc = aws_svc_call(&c->base, "DescribeTimeToLive", req, NULL, &ans, eb);
	if (rc != RC_OK) {
		rc = unless_unsupported(c, rc, result);
		goto out;
	}
	json_object_object_get_ex(ans, "TimeToLiveDescription", &d);
	aws_copy_member(d, "TimeToLiveStatus", status, sizeof(status));
	aws_copy_member(d, "AttributeName", cur, sizeof(cur));
	json_object_put(ans);
	ans = NULL;
	if (strcmp(status, "ENABLED") == 0 || strcmp(status, "ENABLING") == 0) {
		if (strcmp(cur, attr) == 0)
			*result = DDB_ALREADY;
		else
			rc = eb_set(eb, RC_CONFLICT,
				    "dynamodb: table %s already has TTL on attribute %s", table, cur);
		goto out;
	}
	rc = apply_setting(c, req, "UpdateTimeToLive", "TimeToLiveSpecification", "Enabled", attr,
			   result, eb);
out:
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_delete_table(struct ddb_client *c, const char *table, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc = table_req(table, NULL, NULL, &req, eb);

	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "DeleteTable", req, NULL, &ans, eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_list_tables(struct ddb_client *c, ddb_name_fn fn, void *ctx, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *names = NULL;
	char start[DDB_TABLE_NAME_MAX + 1] = "";
	enum rc rc = RC_OK;

	for (long page = 0;; page++) {
		if (page >= DDB_PAGES_MAX) {
			rc = eb_set(eb, RC_INVAL, "dynamodb ListTables: more than %d pages",
				    DDB_PAGES_MAX);
			break;
		}
		req = json_object_new_object();
		if (req == NULL ||
		    (start[0] != '\0' && jx_add_str(req, "ExclusiveStartTableName", start) != RC_OK)) {
			rc = nomem(eb);
			break;
		}
		rc = aws_svc_call(&c->base, "ListTables", req, NULL, &ans, eb);
		if (rc != RC_OK)
			break;
		if (json_object_object_get_ex(ans, "TableNames", &names) &&
		    json_object_is_type(names, json_type_array))
			for (size_t i = 0; rc == RC_OK && i < json_object_array_length(names); i++) {
				struct json_object *n = json_object_array_get_idx(names, i);

				if (json_object_is_type(n, json_type_string))
					rc = fn(ctx, json_object_get_string(n), eb);
			}
		if (rc != RC_OK)
			break;
		aws_copy_member(ans, "LastEvaluatedTableName", start, sizeof(start));
		json_object_put(ans);
		ans = NULL;
		json_object_put(req);
		req = NULL;
		if (start[0] == '\0')
			break;
	}
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

/* ---- Items ---- */

/* Sends a conditional write. RC_CONFLICT from it means a failed condition and nothing else,
 * so callers can treat it as "the item is not in the state you assumed": the core maps a few
 * other codes to RC_CONFLICT (ResourceInUseException while the table is being created or
 * deleted), and those are "come back later" (RC_RETRY) here. On a failed condition,
 * *old_item (old_item may be NULL) gets the old item when the error answer carries it. */
static enum rc write_call(struct ddb_client *c, const char *op, const char *table,
			  struct json_object *req, struct json_object **ans,
			  struct json_object **old_item, struct errbuf *eb)
{
	struct json_object *fail = NULL, *it = NULL;
	struct aws_svc_call_opts opts = {.conflict_body = &fail};
	enum rc rc = aws_svc_call(&c->base, op, req, &opts, ans, eb);

	if (rc == RC_CONFLICT && !code_is(&c->base.last, "ConditionalCheckFailedException")) {
		rc = RC_RETRY;
	} else if (rc == RC_CONFLICT) {
		rc = eb_set(eb, RC_CONFLICT, "dynamodb: the condition failed on table %s", table);
		if (old_item != NULL && json_object_object_get_ex(fail, "Item", &it) &&
		    json_object_is_type(it, json_type_object))
			*old_item = json_object_get(it);
	}
	json_object_put(fail);
	return rc;
}

enum rc ddb_put_item(struct ddb_client *c, const struct ddb_put_req *r,
		     struct json_object **old_item, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc;

	if (old_item != NULL)
		*old_item = NULL;
	rc = ddb_build_put_item(r, &req, eb);
	if (rc == RC_OK)
		rc = write_call(c, "PutItem", r->table, req, &ans, old_item, eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_get_item(struct ddb_client *c, const char *table, struct json_object *key,
		     bool consistent, struct json_object **item, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *it = NULL;
	enum rc rc;

	*item = NULL;
	rc = ddb_build_get_item(table, key, consistent, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "GetItem", req, NULL, &ans, eb);
	if (rc != RC_OK)
		goto out;
	if (!json_object_object_get_ex(ans, "Item", &it)) {
		rc = eb_set(eb, RC_NOTFOUND, "dynamodb: no item with that key in table %s", table);
		goto out;
	}
	if (!json_object_is_type(it, json_type_object)) {
		rc = eb_set(eb, RC_IO, "dynamodb GetItem: Item is not a map");
		goto out;
	}
	*item = json_object_get(it);
out:
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_delete_item(struct ddb_client *c, const char *table, struct json_object *key,
			struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc = table_req(table, "Key", key, &req, eb);

	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "DeleteItem", req, NULL, &ans, eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_update_item(struct ddb_client *c, const struct ddb_update_req *r,
			struct json_object **attrs, struct json_object **old_item,
			struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *a = NULL;
	enum rc rc;

	if (attrs != NULL)
		*attrs = NULL;
	if (old_item != NULL)
		*old_item = NULL;
	rc = ddb_build_update_item(r, &req, eb);
	if (rc == RC_OK)
		rc = write_call(c, "UpdateItem", r->table, req, &ans, old_item, eb);
	if (rc == RC_OK && attrs != NULL && json_object_object_get_ex(ans, "Attributes", &a) &&
	    json_object_is_type(a, json_type_object))
		*attrs = json_object_get(a);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

/* ---- Queries ---- */

static enum rc query_page(struct ddb_client *c, const struct ddb_query_req *q,
			  struct json_object *start_key, bool count_only, struct ddb_page *page,
			  struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc;

	ddb_page_cleanup(page);
	rc = ddb_build_query(q, start_key, count_only, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "Query", req, NULL, &ans, eb);
	if (rc == RC_OK)
		rc = ddb_parse_page(ans, page, eb);
	if (rc != RC_OK)
		ddb_page_cleanup(page);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ddb_query_page(struct ddb_client *c, const struct ddb_query_req *q,
		       struct json_object *start_key, struct ddb_page *page, struct errbuf *eb)
{
	return query_page(c, q, start_key, false, page, eb);
}

enum rc ddb_query_all(struct ddb_client *c, const struct ddb_query_req *q, size_t max_items,
		      ddb_item_fn fn, void *ctx, struct ddb_query_stats *stats,
		      struct errbuf *eb)
{
	struct ddb_query_stats local;
	struct ddb_page page = {0};
	struct json_object *start = NULL;
	enum rc rc = RC_OK;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (max_items == 0 || fn == NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: query needs max_items >= 1 and a callback");
	for (;;) {
		size_t n;

		if (stats->pages >= DDB_PAGES_MAX) {
			rc = eb_set(eb, RC_INVAL, "dynamodb Query: more than %d pages", DDB_PAGES_MAX);
			break;
		}
		rc = query_page(c, q, start, false, &page, eb);
		if (rc != RC_OK)
			break;
		stats->pages++;
		n = json_object_array_length(page.items);
		for (size_t i = 0; i < n; i++) {
			if (stats->items == max_items) {
				stats->truncated = true;
				goto out;
			}
			rc = fn(ctx, json_object_array_get_idx(page.items, i), eb);
			if (rc != RC_OK)
				goto out;
			stats->items++;
		}
		if (page.last_key == NULL)
			break;
		if (stats->items == max_items) {
			stats->truncated = true;
			break;
		}
		/* The next request's start is this page's end; keep it past the cleanup. */
		json_object_put(start);
		start = json_object_get(page.last_key);
	}
out:
	ddb_page_cleanup(&page);
	json_object_put(start);
	return rc;
}

enum rc ddb_query_count(struct ddb_client *c, const struct ddb_query_req *q, int64_t *count,
			struct errbuf *eb)
{
	struct ddb_page page = {0};
	struct json_object *start = NULL;
	enum rc rc = RC_OK;

	*count = 0;
	for (long pages = 0;; pages++) {
		if (pages >= DDB_PAGES_MAX) {
			rc = eb_set(eb, RC_INVAL, "dynamodb Query: more than %d pages", DDB_PAGES_MAX);
			break;
		}
		rc = query_page(c, q, start, true, &page, eb);
		if (rc != RC_OK)
			break;
		if (page.count > INT64_MAX - *count) {
			rc = eb_set(eb, RC_IO, "dynamodb Query: Count overflows");
			break;
		}
		*count += page.count;
		if (page.last_key == NULL)
			break;
		json_object_put(start);
		start = json_object_get(page.last_key);
	}
	if (rc != RC_OK)
		*count = 0;
	ddb_page_cleanup(&page);
	json_object_put(start);
	return rc;
}
