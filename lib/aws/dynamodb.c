/* dynamodb.c — the DynamoDB data plane on top of aws/core: builds each item and query request
 * as a json-c tree, checks every argument against the limits in dynamodb.h first, and maps
 * the answers (and the few errors with a meaning of their own) for the caller. */
#include "aws/dynamodb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws/dynamodb_int.h"
#include "aws/dynamodb_priv.h"
#include "base/jx.h"

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

/* ---- Calls ---- */

static bool code_is(const struct aws_error *err, const char *code)
{
	return strcmp(err->code, code) == 0;
}

/* An endpoint without the operation: DynamoDB Local answers UnknownOperationException,
 * LocalStack 501 "not yet implemented". */
bool ddb_unsupported(const struct aws_error *err)
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
bool ddb_name_ok(const char *name)
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

enum rc ddb_check_table(const char *table, struct errbuf *eb)
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

enum rc ddb_check_map(const char *what, struct json_object *m, bool required,
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

enum rc ddb_nomem(struct errbuf *eb)
{
	return eb_set(eb, RC_NOMEM, "dynamodb: out of memory building a request");
}

/* The expression members shared by writes and queries. */
static enum rc add_expr_attrs(struct json_object *req, struct json_object *names,
			      struct json_object *values, struct errbuf *eb)
{
	enum rc rc;

	rc = ddb_check_map("ExpressionAttributeNames", names, false, eb);
	if (rc == RC_OK)
		rc = ddb_check_map("ExpressionAttributeValues", values, false, eb);
	if (rc != RC_OK)
		return rc;
	{
		const struct jx_member m[] = {
			{.key = "ExpressionAttributeNames", .type = JX_VAL, .v = names,
			 .omit = names == NULL || json_object_object_length(names) == 0},
			{.key = "ExpressionAttributeValues", .type = JX_VAL, .v = values,
			 .omit = values == NULL || json_object_object_length(values) == 0},
		};

		if (jx_add_members(req, m, JX_COUNT(m)) != RC_OK)
			return ddb_nomem(eb);
	}
	return RC_OK;
}

/* {"TableName": table} and, when key is given, "Key": key. */
enum rc ddb_table_req(const char *table, const char *key_member, struct json_object *key,
			 struct json_object **out, struct errbuf *eb)
{
	const struct jx_member m[] = {
		{.key = "TableName", .type = JX_STR, .s = table},
		{.key = key_member, .type = JX_VAL, .v = key, .omit = key_member == NULL},
	};
	enum rc rc;

	*out = NULL;
	rc = ddb_check_table(table, eb);
	if (rc == RC_OK && key_member != NULL)
		rc = ddb_check_map(key_member, key, true, eb);
	if (rc != RC_OK)
		return rc;
	if (jx_build(m, JX_COUNT(m), out) != RC_OK)
		return ddb_nomem(eb);
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
enum rc ddb_build_write(const struct ddb_update_req *w, const char *key_member,
			struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*out = NULL;
	rc = check_expr("ConditionExpression", w->condition, false, eb);
	if (rc == RC_OK)
		rc = ddb_table_req(w->table, key_member, w->key, &req, eb);
	if (rc == RC_OK)
		rc = add_expr_attrs(req, w->names, w->values, eb);
	if (rc != RC_OK)
		goto out;
	{
		const struct jx_member m[] = {
			{.key = "UpdateExpression", .type = JX_STR, .s = w->update,
			 .omit = w->update == NULL},
			{.key = "ConditionExpression", .type = JX_STR, .s = w->condition,
			 .omit = w->condition == NULL},
			{.key = "ReturnValues", .type = JX_STR, .s = return_name(w->ret),
			 .omit = w->ret == DDB_RET_NONE},
			{.key = "ReturnValuesOnConditionCheckFailure", .type = JX_STR, .s = "ALL_OLD",
			 .omit = !w->old_on_fail},
		};

		if (jx_add_members(req, m, JX_COUNT(m)) != RC_OK) {
			rc = ddb_nomem(eb);
			goto out;
		}
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

	return ddb_build_write(&w, "Item", out, eb);
}

TESTABLE enum rc ddb_build_get_item(const char *table, struct json_object *key, bool consistent,
				    struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = ddb_table_req(table, "Key", key, &req, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	if (consistent && jx_add_bool(req, "ConsistentRead", true) != RC_OK) {
		json_object_put(req);
		return ddb_nomem(eb);
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
	return ddb_build_write(r, "Key", out, eb);
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
		rc = ddb_check_map("ExclusiveStartKey", start_key, false, eb);
	if (rc == RC_OK)
		rc = ddb_table_req(q->table, NULL, NULL, &req, eb);
	if (rc == RC_OK)
		rc = add_expr_attrs(req, q->names, q->values, eb);
	if (rc != RC_OK)
		goto out;
	{
		const struct jx_member m[] = {
			{.key = "IndexName", .type = JX_STR, .s = q->index, .omit = q->index == NULL},
			{.key = "KeyConditionExpression", .type = JX_STR, .s = q->key_condition},
			{.key = "FilterExpression", .type = JX_STR, .s = q->filter,
			 .omit = q->filter == NULL},
			{.key = "ProjectionExpression", .type = JX_STR, .s = q->projection,
			 .omit = q->projection == NULL},
			{.key = "ScanIndexForward", .type = JX_BOOL, .b = false, .omit = !q->descending},
			{.key = "ConsistentRead", .type = JX_BOOL, .b = true, .omit = !q->consistent},
			{.key = "Limit", .type = JX_INT, .i = q->limit, .omit = q->limit <= 0},
			{.key = "Select", .type = JX_STR, .s = "COUNT", .omit = !count_only},
			{.key = "ExclusiveStartKey", .type = JX_VAL, .v = start_key,
			 .omit = start_key == NULL},
		};

		if (jx_add_members(req, m, JX_COUNT(m)) != RC_OK) {
			rc = ddb_nomem(eb);
			goto out;
		}
	}
	*out = req;
	req = NULL;
out:
	json_object_put(req);
	return rc;
}

/* ---- Parsing ---- */

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
			return ddb_nomem(eb);
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

/* ---- Items ---- */

/* A call of the data plane (items and queries). Its table is one the deployment made, so
 * its absence (ResourceNotFoundException) is a deployment fault an operator repairs, not an
 * answer about an item: for the caller it is transient, RC_RETRY, and RC_NOTFOUND is left
 * to mean "no such item" alone (issue 10: both consumers used to drop a message as poison
 * when its table was missing). The control plane keeps RC_NOTFOUND for a missing table. */
enum rc ddb_data_call(struct ddb_client *c, const char *op, struct json_object *req,
		      const struct aws_svc_call_opts *opts, struct json_object **ans,
		      struct errbuf *eb)
{
	enum rc rc = aws_svc_call(&c->base, op, req, opts, ans, eb);

	if (rc == RC_NOTFOUND) {
		eb_prefix(eb, "dynamodb %s: the table does not exist (retried later)", op);
		rc = RC_RETRY;
	}
	return rc;
}

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
	enum rc rc = ddb_data_call(c, op, req, &opts, ans, eb);

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
		rc = ddb_data_call(c, "GetItem", req, NULL, &ans, eb);
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
	enum rc rc = ddb_table_req(table, "Key", key, &req, eb);

	if (rc == RC_OK)
		rc = ddb_data_call(c, "DeleteItem", req, NULL, &ans, eb);
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
		rc = ddb_data_call(c, "Query", req, NULL, &ans, eb);
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
