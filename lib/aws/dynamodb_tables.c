/* dynamodb_tables.c — the DynamoDB control plane: CreateTable from a spec, DescribeTable,
 * waiting until a table and its GSIs are ACTIVE, best-effort PITR and TTL (endpoints without
 * them report "unsupported"), DeleteTable, ListTables. */
#include "aws/dynamodb_tables.h"

#include <string.h>

#include <json-c/json.h>

#include "aws/dynamodb_int.h"
#include "aws/dynamodb_priv.h"
#include "base/clock.h"
#include "base/jx.h"

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

static const char *key_type_tag(enum ddb_key_type t)
{
	return t == DDB_KEY_N ? "N" : "S";
}

/* [{"AttributeName": hash, "KeyType": "HASH"}, {... "RANGE"}] */
static enum rc key_schema(const struct ddb_key *hash, const struct ddb_key *range,
			  struct json_object **out)
{
	struct json_object *arr = json_object_new_array();
	const struct ddb_key *keys[2] = {hash, range};
	static const char *const kinds[2] = {"HASH", "RANGE"};
	enum rc rc = arr != NULL ? RC_OK : RC_NOMEM;

	*out = NULL;
	for (int i = 0; rc == RC_OK && i < 2; i++) {
		const struct jx_member m[] = {
			{.key = "AttributeName", .type = JX_STR, .s = keys[i]->name},
			{.key = "KeyType", .type = JX_STR, .s = kinds[i]},
		};
		struct json_object *k = NULL;

		if (keys[i]->name == NULL)
			continue;
		rc = jx_build(m, JX_COUNT(m), &k);
		if (rc == RC_OK)
			rc = jx_append(arr, k);
	}
	if (rc != RC_OK) {
		json_object_put(arr);
		return rc;
	}
	*out = arr;
	return RC_OK;
}

/* Adds key to the AttributeDefinitions array once; a name seen with another type is an
 * error (DynamoDB would reject it less clearly). */
static enum rc define_attr(struct json_object *defs, const struct ddb_key *key,
			   struct errbuf *eb)
{
	const struct jx_member def[] = {
		{.key = "AttributeName", .type = JX_STR, .s = key->name},
		{.key = "AttributeType", .type = JX_STR, .s = key_type_tag(key->type)},
	};
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
	if (jx_build(def, JX_COUNT(def), &d) != RC_OK || jx_append(defs, d) != RC_OK)
		return ddb_nomem(eb);
	return RC_OK;
}

static enum rc build_gsi(const struct ddb_gsi *g, struct json_object **out, struct errbuf *eb)
{
	static const struct jx_member proj[] = {{.key = "ProjectionType", .type = JX_STR, .s = "ALL"}};
	struct json_object *ks = NULL;
	enum rc rc;

	*out = NULL;
	if (!ddb_name_ok(g->name))
		return eb_set(eb, RC_INVAL, "dynamodb: bad index name \"%.64s\"",
			      g->name != NULL ? g->name : "(null)");
	if (g->hash.name == NULL)
		return eb_set(eb, RC_INVAL, "dynamodb: index %s has no hash key", g->name);
	rc = key_schema(&g->hash, &g->range, &ks);
	if (rc == RC_OK) {
		const struct jx_member m[] = {
			{.key = "IndexName", .type = JX_STR, .s = g->name},
			{.key = "KeySchema", .type = JX_VAL, .v = ks},
			{.key = "Projection", .type = JX_OBJ, .sub = proj, .nsub = JX_COUNT(proj)},
		};

		rc = jx_build(m, JX_COUNT(m), out);
	}
	json_object_put(ks);
	return rc != RC_OK ? ddb_nomem(eb) : RC_OK;
}

TESTABLE enum rc ddb_build_create_table(const struct ddb_table_spec *spec,
					struct json_object **out, struct errbuf *eb)
{
	struct json_object *defs = NULL, *ks = NULL, *gsis = NULL, *g = NULL;
	enum rc rc;

	*out = NULL;
	rc = ddb_check_table(spec->table, eb);
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
	defs = json_object_new_array();
	if (defs == NULL)
		goto out;
	rc = define_attr(defs, &spec->hash, eb);
	if (rc == RC_OK)
		rc = define_attr(defs, &spec->range, eb);
	for (size_t i = 0; rc == RC_OK && i < spec->n_gsis; i++) {
		rc = define_attr(defs, &spec->gsis[i].hash, eb);
		if (rc == RC_OK)
			rc = define_attr(defs, &spec->gsis[i].range, eb);
	}
	if (rc == RC_OK)
		rc = key_schema(&spec->hash, &spec->range, &ks);
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
			rc = jx_append(gsis, g);
			g = NULL;
			if (rc != RC_OK)
				goto out;
		}
	}
	{
		static const struct jx_member stream[] = {
			{.key = "StreamEnabled", .type = JX_BOOL, .b = true},
			{.key = "StreamViewType", .type = JX_STR, .s = "NEW_AND_OLD_IMAGES"},
		};
		static const struct jx_member sse[] = {{.key = "Enabled", .type = JX_BOOL, .b = true}};
		const struct jx_member m[] = {
			{.key = "TableName", .type = JX_STR, .s = spec->table},
			{.key = "AttributeDefinitions", .type = JX_VAL, .v = defs},
			{.key = "KeySchema", .type = JX_VAL, .v = ks},
			{.key = "BillingMode", .type = JX_STR, .s = "PAY_PER_REQUEST"},
			{.key = "GlobalSecondaryIndexes", .type = JX_VAL, .v = gsis, .omit = gsis == NULL},
			{.key = "StreamSpecification", .type = JX_OBJ, .sub = stream,
			 .nsub = JX_COUNT(stream), .omit = !spec->stream},
			{.key = "SSESpecification", .type = JX_OBJ, .sub = sse, .nsub = JX_COUNT(sse),
			 .omit = !spec->sse},
		};

		rc = jx_build(m, JX_COUNT(m), out);
	}
out:
	if (rc == RC_NOMEM)
		rc = ddb_nomem(eb);
	json_object_put(g);
	json_object_put(gsis);
	json_object_put(ks);
	json_object_put(defs);
	return rc;
}

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
	rc = ddb_table_req(table, NULL, NULL, &req, eb);
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

enum rc ddb_wait_active(struct ddb_client *c, const char *table, long timeout_ms,
			struct ddb_table_info *info, struct errbuf *eb)
{
	struct ddb_table_info local;
	int64_t deadline;
	enum rc rc;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (timeout_ms < 0 || timeout_ms > DDB_WAIT_MAX_MS)
		return eb_set(eb, RC_INVAL, "dynamodb: wait timeout must be 0-%ld ms",
			      DDB_WAIT_MAX_MS);
	deadline = clk_mono_ms() + timeout_ms;
	for (;;) {
		int64_t left;

		rc = ddb_describe_table(c, table, info, eb);
		if (rc != RC_OK)
			return rc;
		if (strcmp(info->status, "ACTIVE") == 0 && info->gsis_active)
			return RC_OK;
		left = deadline - clk_mono_ms();
		if (left <= 0)
			return eb_set(eb, RC_TIMEOUT,
				      "dynamodb: table %s not ACTIVE after %ld ms (status %s%s)",
				      table, timeout_ms, info->status,
				      info->gsis_active ? "" : ", an index is not ACTIVE");
		clk_sleep_ms(left < DDB_WAIT_POLL_MS ? left : DDB_WAIT_POLL_MS);
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
	const struct jx_member spec[] = {
		{.key = flag, .type = JX_BOOL, .b = true},
		{.key = "AttributeName", .type = JX_STR, .s = attr, .omit = attr == NULL},
	};
	const struct jx_member m[] = {
		{.key = spec_member, .type = JX_OBJ, .sub = spec, .nsub = JX_COUNT(spec)},
	};
	struct json_object *ans = NULL;
	enum rc rc;

	if (jx_add_members(req, m, JX_COUNT(m)) != RC_OK)
		return ddb_nomem(eb);
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
	rc = ddb_table_req(table, NULL, NULL, &req, eb);
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
	rc = ddb_table_req(table, NULL, NULL, &req, eb);
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
	enum rc rc = ddb_table_req(table, NULL, NULL, &req, eb);

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
		{
			const struct jx_member m[] = {
				{.key = "ExclusiveStartTableName", .type = JX_STR, .s = start,
				 .omit = start[0] == '\0'},
			};

			if (jx_build(m, JX_COUNT(m), &req) != RC_OK) {
				rc = ddb_nomem(eb);
				break;
			}
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

