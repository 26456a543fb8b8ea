/* test_ddb_requests.c — the DynamoDB request bodies dynamodb.c builds (compared as exact
 * JSON), its argument checks, and its parsing of DescribeTable and Query answers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/tables.h"
#include "aws/dynamodb.h"
#include "aws/dynamodb_int.h"
#include "itest.h"

START_TEST(test_create_appointments_table)
{
	struct ddb_table_spec spec;
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	tbl_appointments_spec("medical-appointment-scheduling-appointments-dev", &spec);
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_OK);
	ck_assert_str_eq(
		itest_text(req),
		"{\"TableName\":\"medical-appointment-scheduling-appointments-dev\","
		"\"AttributeDefinitions\":["
		"{\"AttributeName\":\"appointmentId\",\"AttributeType\":\"S\"},"
		"{\"AttributeName\":\"insuredId\",\"AttributeType\":\"S\"},"
		"{\"AttributeName\":\"createdAt\",\"AttributeType\":\"S\"},"
		"{\"AttributeName\":\"status\",\"AttributeType\":\"S\"},"
		"{\"AttributeName\":\"countryISO\",\"AttributeType\":\"S\"}],"
		"\"KeySchema\":[{\"AttributeName\":\"appointmentId\",\"KeyType\":\"HASH\"}],"
		"\"BillingMode\":\"PAY_PER_REQUEST\","
		"\"GlobalSecondaryIndexes\":["
		"{\"IndexName\":\"insuredId-createdAt-index\",\"KeySchema\":["
		"{\"AttributeName\":\"insuredId\",\"KeyType\":\"HASH\"},"
		"{\"AttributeName\":\"createdAt\",\"KeyType\":\"RANGE\"}],"
		"\"Projection\":{\"ProjectionType\":\"ALL\"}},"
		"{\"IndexName\":\"status-createdAt-index\",\"KeySchema\":["
		"{\"AttributeName\":\"status\",\"KeyType\":\"HASH\"},"
		"{\"AttributeName\":\"createdAt\",\"KeyType\":\"RANGE\"}],"
		"\"Projection\":{\"ProjectionType\":\"ALL\"}},"
		"{\"IndexName\":\"countryISO-createdAt-index\",\"KeySchema\":["
		"{\"AttributeName\":\"countryISO\",\"KeyType\":\"HASH\"},"
		"{\"AttributeName\":\"createdAt\",\"KeyType\":\"RANGE\"}],"
		"\"Projection\":{\"ProjectionType\":\"ALL\"}}],"
		"\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"},"
		"\"SSESpecification\":{\"Enabled\":true}}");
	json_object_put(req);
}
END_TEST

START_TEST(test_create_side_table)
{
	struct ddb_table_spec spec;
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	tbl_side_spec("medical-appointment-scheduling-quota-dev", &spec);
	spec.sse = false;
	spec.range.name = "n";
	spec.range.type = DDB_KEY_N;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"TableName\":\"medical-appointment-scheduling-quota-dev\","
			 "\"AttributeDefinitions\":["
			 "{\"AttributeName\":\"key\",\"AttributeType\":\"S\"},"
			 "{\"AttributeName\":\"n\",\"AttributeType\":\"N\"}],"
			 "\"KeySchema\":[{\"AttributeName\":\"key\",\"KeyType\":\"HASH\"},"
			 "{\"AttributeName\":\"n\",\"KeyType\":\"RANGE\"}],"
			 "\"BillingMode\":\"PAY_PER_REQUEST\"}");
	json_object_put(req);
}
END_TEST

START_TEST(test_create_table_errors)
{
	struct ddb_gsi gsis[DDB_GSI_MAX + 1];
	struct ddb_table_spec spec;
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	tbl_side_spec("ab", &spec);
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
	ck_assert_ptr_nonnull(strstr(eb.msg, "bad table name"));
	spec.table = "has space";
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	spec.table = NULL;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);

	/* A key attribute with two types. */
	memset(gsis, 0, sizeof(gsis));
	tbl_side_spec("tbl", &spec);
	gsis[0] = (struct ddb_gsi){"idx1", {"key", DDB_KEY_N}, {NULL, DDB_KEY_S}};
	spec.gsis = gsis;
	spec.n_gsis = 1;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "two types"));
	/* The same index twice. */
	gsis[0] = (struct ddb_gsi){"idx1", {"a", DDB_KEY_S}, {NULL, DDB_KEY_S}};
	gsis[1] = (struct ddb_gsi){"idx1", {"b", DDB_KEY_S}, {NULL, DDB_KEY_S}};
	spec.n_gsis = 2;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "twice"));
	/* An index without a hash key, and a bad index name. */
	gsis[1] = (struct ddb_gsi){"idx2", {NULL, DDB_KEY_S}, {NULL, DDB_KEY_S}};
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	gsis[1] = (struct ddb_gsi){"i", {"b", DDB_KEY_S}, {NULL, DDB_KEY_S}};
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	/* Too many indexes, or a count without an array. */
	spec.n_gsis = DDB_GSI_MAX + 1;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	spec.gsis = NULL;
	spec.n_gsis = 1;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	/* No hash key. */
	tbl_side_spec("tbl", &spec);
	spec.hash.name = NULL;
	ck_assert_int_eq(ddb_build_create_table(&spec, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
}
END_TEST

START_TEST(test_names)
{
	ck_assert(ddb_name_ok("abc"));
	ck_assert(ddb_name_ok("A_b.c-9"));
	ck_assert(!ddb_name_ok("ab"));
	ck_assert(!ddb_name_ok("a/b"));
	itest_check_max_len(ddb_name_ok, DDB_TABLE_NAME_MAX, 'x');
}
END_TEST

START_TEST(test_put_item)
{
	struct json_object *item =
		itest_parse("{\"appointmentId\":{\"S\":\"a1\"},\"n\":{\"N\":\"5\"}}");
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};
	struct ddb_put_req r = {
		.table = "tbl",
		.item = item,
		.condition = "attribute_not_exists(appointmentId)",
		.old_on_fail = true,
	};

	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"TableName\":\"tbl\","
			 "\"Item\":{\"appointmentId\":{\"S\":\"a1\"},\"n\":{\"N\":\"5\"}},"
			 "\"ConditionExpression\":\"attribute_not_exists(appointmentId)\","
			 "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}");
	json_object_put(req);
	/* Unconditional: no condition members at all. */
	r.condition = NULL;
	r.old_on_fail = false;
	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req), "{\"TableName\":\"tbl\",\"Item\":{\"appointmentId\":"
				       "{\"S\":\"a1\"},\"n\":{\"N\":\"5\"}}}");
	json_object_put(req);
	/* The request holds its own reference: the caller's item is untouched. */
	ck_assert_str_eq(itest_text(item),
			 "{\"appointmentId\":{\"S\":\"a1\"},\"n\":{\"N\":\"5\"}}");
	/* Errors: no item, empty item, empty condition, values not an object. */
	r.item = NULL;
	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_INVAL);
	r.item = itest_parse("{}");
	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_INVAL);
	json_object_put(r.item);
	r.item = item;
	r.condition = "";
	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_INVAL);
	r.condition = "x = :v";
	r.values = itest_parse("[1]");
	ck_assert_int_eq(ddb_build_put_item(&r, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "ExpressionAttributeValues"));
	ck_assert_ptr_null(req);
	json_object_put(r.values);
	json_object_put(item);
}
END_TEST

START_TEST(test_update_item)
{
	struct json_object *key = itest_parse("{\"appointmentId\":{\"S\":\"a1\"}}");
	struct json_object *names = itest_parse("{\"#s\":\"status\"}");
	struct json_object *values =
		itest_parse("{\":p\":{\"S\":\"pending\"},\":n\":{\"S\":\"processed\"}}");
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};
	char big[DDB_EXPR_MAX + 2];
	struct ddb_update_req r = {
		.table = "tbl",
		.key = key,
		.update = "SET #s = :n",
		.condition = "#s = :p",
		.names = names,
		.values = values,
		.ret = DDB_RET_ALL_NEW,
		.old_on_fail = true,
	};

	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"TableName\":\"tbl\",\"Key\":{\"appointmentId\":{\"S\":\"a1\"}},"
			 "\"ExpressionAttributeNames\":{\"#s\":\"status\"},"
			 "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"pending\"},"
			 "\":n\":{\"S\":\"processed\"}},"
			 "\"UpdateExpression\":\"SET #s = :n\",\"ConditionExpression\":\"#s = :p\","
			 "\"ReturnValues\":\"ALL_NEW\",\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}");
	json_object_put(req);
	r.ret = DDB_RET_UPDATED_NEW;
	r.condition = NULL;
	r.old_on_fail = false;
	r.names = NULL;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_OK);
	ck_assert_ptr_nonnull(strstr(itest_text(req), "\"ReturnValues\":\"UPDATED_NEW\""));
	ck_assert_ptr_null(strstr(itest_text(req), "Condition"));
	ck_assert_ptr_null(strstr(itest_text(req), "ExpressionAttributeNames"));
	json_object_put(req);
	r.ret = DDB_RET_NONE;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_OK);
	ck_assert_ptr_null(strstr(itest_text(req), "ReturnValues"));
	json_object_put(req);
	/* Errors: no update expression, oversized expression, bad ReturnValues, no key. */
	r.update = NULL;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "UpdateExpression"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.update = big;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_INVAL);
	r.update = "SET a = :n";
	r.ret = (enum ddb_return)42;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_INVAL);
	r.ret = DDB_RET_NONE;
	r.key = NULL;
	ck_assert_int_eq(ddb_build_update_item(&r, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
	json_object_put(values);
	json_object_put(names);
	json_object_put(key);
}
END_TEST

START_TEST(test_get_item)
{
	struct json_object *key = itest_parse("{\"key\":{\"S\":\"k\"}}");
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(ddb_build_get_item("tbl", key, true, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req), "{\"TableName\":\"tbl\",\"Key\":{\"key\":{\"S\":\"k\"}},"
				       "\"ConsistentRead\":true}");
	json_object_put(req);
	ck_assert_int_eq(ddb_build_get_item("tbl", key, false, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"TableName\":\"tbl\",\"Key\":{\"key\":{\"S\":\"k\"}}}");
	json_object_put(req);
	ck_assert_int_eq(ddb_build_get_item("tbl", NULL, false, &req, &eb), RC_INVAL);
	json_object_put(key);
}
END_TEST

START_TEST(test_query)
{
	struct json_object *names = itest_parse("{\"#s\":\"status\"}");
	struct json_object *values =
		itest_parse("{\":i\":{\"S\":\"00123\"},\":s\":{\"S\":\"pending\"}}");
	struct json_object *start = itest_parse("{\"appointmentId\":{\"S\":\"a9\"},"
						"\"insuredId\":{\"S\":\"00123\"},"
						"\"createdAt\":{\"S\":\"2026-01-01T00:00:00.000Z\"}}");
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};
	struct ddb_query_req q = {
		.table = "tbl",
		.index = TBL_GSI_INSURED,
		.key_condition = "insuredId = :i",
		.filter = "#s = :s",
		.names = names,
		.values = values,
		.descending = true,
		.limit = 2,
	};

	ck_assert_int_eq(ddb_build_query(&q, start, false, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"TableName\":\"tbl\","
			 "\"ExpressionAttributeNames\":{\"#s\":\"status\"},"
			 "\"ExpressionAttributeValues\":{\":i\":{\"S\":\"00123\"},"
			 "\":s\":{\"S\":\"pending\"}},"
			 "\"IndexName\":\"insuredId-createdAt-index\","
			 "\"KeyConditionExpression\":\"insuredId = :i\","
			 "\"FilterExpression\":\"#s = :s\",\"ScanIndexForward\":false,\"Limit\":2,"
			 "\"ExclusiveStartKey\":{\"appointmentId\":{\"S\":\"a9\"},"
			 "\"insuredId\":{\"S\":\"00123\"},"
			 "\"createdAt\":{\"S\":\"2026-01-01T00:00:00.000Z\"}}}");
	json_object_put(req);
	/* COUNT, ascending, no limit, first page. */
	q.descending = false;
	q.limit = 0;
	ck_assert_int_eq(ddb_build_query(&q, NULL, true, &req, &eb), RC_OK);
	ck_assert_ptr_nonnull(strstr(itest_text(req), "\"Select\":\"COUNT\""));
	ck_assert_ptr_null(strstr(itest_text(req), "ScanIndexForward"));
	ck_assert_ptr_null(strstr(itest_text(req), "Limit"));
	ck_assert_ptr_null(strstr(itest_text(req), "ExclusiveStartKey"));
	json_object_put(req);
	/* The table itself, consistent, with a projection. */
	q.index = NULL;
	q.consistent = true;
	q.projection = "appointmentId";
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_OK);
	ck_assert_ptr_nonnull(strstr(itest_text(req), "\"ConsistentRead\":true"));
	ck_assert_ptr_nonnull(
		strstr(itest_text(req), "\"ProjectionExpression\":\"appointmentId\""));
	ck_assert_ptr_null(strstr(itest_text(req), "IndexName"));
	json_object_put(req);
	/* Errors. */
	ck_assert_int_eq(ddb_build_query(&q, NULL, true, &req, &eb), RC_INVAL); /* COUNT+projection */
	q.projection = NULL;
	q.index = TBL_GSI_STATUS;
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_INVAL); /* GSI+consistent */
	ck_assert_ptr_nonnull(strstr(eb.msg, "consistent"));
	q.consistent = false;
	q.limit = DDB_PAGE_LIMIT_MAX + 1;
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_INVAL);
	q.limit = -1;
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_INVAL);
	q.limit = 1;
	q.key_condition = NULL;
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_INVAL);
	q.key_condition = "x = :i";
	q.index = "no";
	ck_assert_int_eq(ddb_build_query(&q, NULL, false, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
	json_object_put(start);
	json_object_put(values);
	json_object_put(names);
}
END_TEST

START_TEST(test_parse_table_info)
{
	/* A DynamoDB Local answer (trimmed), with one index still being built. */
	struct json_object *t = itest_parse(
		"{\"TableName\":\"t\",\"TableStatus\":\"ACTIVE\","
		"\"TableArn\":\"arn:aws:dynamodb:ddblocal:000000000000:table/t\","
		"\"ItemCount\":12,\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"},"
		"\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"},"
		"\"LatestStreamArn\":\"arn:s\",\"SSEDescription\":{\"Status\":\"ENABLED\"},"
		"\"GlobalSecondaryIndexes\":[{\"IndexName\":\"a\",\"IndexStatus\":\"ACTIVE\"},"
		"{\"IndexName\":\"b\",\"IndexStatus\":\"CREATING\"}]}");
	struct ddb_table_info info;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(ddb_parse_table_info(t, &info, &eb), RC_OK);
	ck_assert_str_eq(info.status, "ACTIVE");
	ck_assert_str_eq(info.arn, "arn:aws:dynamodb:ddblocal:000000000000:table/t");
	ck_assert_str_eq(info.billing_mode, "PAY_PER_REQUEST");
	ck_assert(info.stream_enabled);
	ck_assert_str_eq(info.stream_view, "NEW_AND_OLD_IMAGES");
	ck_assert_str_eq(info.stream_arn, "arn:s");
	ck_assert(info.sse_enabled);
	ck_assert(info.item_count == 12);
	ck_assert_uint_eq(info.n_gsis, 2);
	ck_assert(!info.gsis_active);
	json_object_put(t);
	t = itest_parse("{\"TableStatus\":\"CREATING\"}");
	ck_assert_int_eq(ddb_parse_table_info(t, &info, &eb), RC_OK);
	ck_assert(info.gsis_active);
	ck_assert(!info.stream_enabled);
	ck_assert_str_eq(info.stream_arn, "");
	json_object_put(t);
	t = itest_parse("{\"TableName\":\"t\"}");
	ck_assert_int_eq(ddb_parse_table_info(t, &info, &eb), RC_IO);
	json_object_put(t);
	ck_assert_int_eq(ddb_parse_table_info(NULL, &info, &eb), RC_IO);
}
END_TEST

START_TEST(test_parse_page)
{
	struct json_object *a = itest_parse("{\"Items\":[{\"k\":{\"S\":\"1\"}},"
					    "{\"k\":{\"S\":\"2\"}}],"
					    "\"Count\":2,\"ScannedCount\":3,"
					    "\"LastEvaluatedKey\":{\"k\":{\"S\":\"2\"}}}");
	struct ddb_page page = {0};
	struct errbuf eb = {{0}};

	ck_assert_int_eq(ddb_parse_page(a, &page, &eb), RC_OK);
	ck_assert_uint_eq(json_object_array_length(page.items), 2);
	ck_assert(page.count == 2 && page.scanned == 3);
	ck_assert_str_eq(itest_text(page.last_key), "{\"k\":{\"S\":\"2\"}}");
	json_object_put(a);
	/* The page keeps its own references past the answer. */
	ck_assert_str_eq(itest_text(json_object_array_get_idx(page.items, 1)),
			 "{\"k\":{\"S\":\"2\"}}");
	ddb_page_cleanup(&page);
	ck_assert_ptr_null(page.items);

	/* A COUNT answer: no Items; an empty LastEvaluatedKey is the end. */
	a = itest_parse("{\"Count\":7,\"ScannedCount\":9,\"LastEvaluatedKey\":{}}");
	ck_assert_int_eq(ddb_parse_page(a, &page, &eb), RC_OK);
	ck_assert_uint_eq(json_object_array_length(page.items), 0);
	ck_assert(page.count == 7);
	ck_assert_ptr_null(page.last_key);
	ddb_page_cleanup(&page);
	json_object_put(a);

	static const char *const bad[] = {"{\"Items\":{},\"Count\":0}", "{\"Items\":[]}",
					  "{\"Items\":[1],\"Count\":1}",
					  "{\"Items\":[],\"Count\":-1}",
					  "{\"Items\":[],\"Count\":\"1\"}", NULL};
	for (size_t i = 0; bad[i] != NULL; i++) {
		a = itest_parse(bad[i]);
		ck_assert_msg(ddb_parse_page(a, &page, &eb) == RC_IO, "%s", bad[i]);
		ddb_page_cleanup(&page);
		json_object_put(a);
	}
	ddb_page_cleanup(NULL);
}
END_TEST

START_TEST(test_unsupported)
{
	struct aws_error e;

	memset(&e, 0, sizeof(e));
	snprintf(e.code, sizeof(e.code), "UnknownOperationException");
	e.http_status = 400;
	ck_assert(ddb_unsupported(&e));
	snprintf(e.code, sizeof(e.code), "InternalFailure");
	e.http_status = 501;
	ck_assert(ddb_unsupported(&e));
	e.http_status = 500;
	ck_assert(!ddb_unsupported(&e));
	snprintf(e.code, sizeof(e.code), "ValidationException");
	e.http_status = 400;
	ck_assert(!ddb_unsupported(&e));
	ck_assert_str_eq(ddb_applied_name(DDB_UNSUPPORTED), "unsupported");
	ck_assert_str_eq(ddb_applied_name(DDB_ALREADY), "already");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ddb_requests");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_create_appointments_table);
	tcase_add_test(tc, test_create_side_table);
	tcase_add_test(tc, test_create_table_errors);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_put_item);
	tcase_add_test(tc, test_update_item);
	tcase_add_test(tc, test_get_item);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_parse_table_info);
	tcase_add_test(tc, test_parse_page);
	tcase_add_test(tc, test_unsupported);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
