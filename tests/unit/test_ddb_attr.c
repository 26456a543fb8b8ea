/* test_ddb_attr.c — DynamoDB attribute values: builders produce the exact wire JSON, getters
 * read it back, and every wrong shape is RC_INVAL naming the attribute. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/ddb_attr.h"
#include "itest.h"

/* An item with every type we use, built and compared byte for byte. */
static struct json_object *sample_item(void)
{
	struct json_object *item = json_object_new_object(), *m = json_object_new_object();
	struct json_object *l = json_object_new_array(), *v = NULL;

	ck_assert_int_eq(ddb_put_s(item, "appointmentId", "a-1"), RC_OK);
	ck_assert_int_eq(ddb_put_int64(item, "scheduleId", INT64_MAX), RC_OK);
	ck_assert_int_eq(ddb_put_int64(item, "neg", INT64_MIN), RC_OK);
	ck_assert_int_eq(ddb_put_s_or_null(item, "processedAt", NULL), RC_OK);
	ck_assert_int_eq(ddb_put_bool(item, "flag", true), RC_OK);
	ck_assert_int_eq(ddb_put_int64(m, "centerId", 7), RC_OK);
	ck_assert_int_eq(ddb_put_s(m, "date", "2026-12-01T10:00:00.000Z"), RC_OK);
	ck_assert_int_eq(ddb_put_m(item, "schedule", m), RC_OK);
	ck_assert_int_eq(ddb_val_s("x", &v), RC_OK);
	ck_assert_int_eq(ddb_append(l, v), RC_OK);
	ck_assert_int_eq(ddb_val_n_text("1.5", &v), RC_OK);
	ck_assert_int_eq(ddb_append(l, v), RC_OK);
	ck_assert_int_eq(ddb_val_null(&v), RC_OK);
	ck_assert_int_eq(ddb_append(l, v), RC_OK);
	ck_assert_int_eq(ddb_put_l(item, "list", l), RC_OK);
	ck_assert_int_eq(ddb_put_s(item, "empty", ""), RC_OK);
	return item;
}

START_TEST(test_build_exact_json)
{
	struct json_object *item = sample_item();

	ck_assert_str_eq(itest_text(item),
			 "{\"appointmentId\":{\"S\":\"a-1\"},"
			 "\"scheduleId\":{\"N\":\"9223372036854775807\"},"
			 "\"neg\":{\"N\":\"-9223372036854775808\"},"
			 "\"processedAt\":{\"NULL\":true},"
			 "\"flag\":{\"BOOL\":true},"
			 "\"schedule\":{\"M\":{\"centerId\":{\"N\":\"7\"},"
			 "\"date\":{\"S\":\"2026-12-01T10:00:00.000Z\"}}},"
			 "\"list\":{\"L\":[{\"S\":\"x\"},{\"N\":\"1.5\"},{\"NULL\":true}]},"
			 "\"empty\":{\"S\":\"\"}}");
	/* A second put of the same name replaces the first. */
	ck_assert_int_eq(ddb_put_s(item, "appointmentId", "a-2"), RC_OK);
	ck_assert_int_eq(ddb_put_s_or_null(item, "processedAt", "t"), RC_OK);
	ck_assert_str_eq(itest_text(ddb_attr(item, "appointmentId")), "{\"S\":\"a-2\"}");
	ck_assert_str_eq(itest_text(ddb_attr(item, "processedAt")), "{\"S\":\"t\"}");
	json_object_put(item);
}
END_TEST

START_TEST(test_expression_names)
{
	struct json_object *names = NULL;
	char long_name[DDB_NAME_MAX + 2];

	/* created on first use, added to afterwards */
	ck_assert_int_eq(ddb_name(&names, "#s", "status"), RC_OK);
	ck_assert_ptr_nonnull(names);
	ck_assert_int_eq(ddb_name(&names, "#r", "response"), RC_OK);
	ck_assert_str_eq(itest_text(names), "{\"#s\":\"status\",\"#r\":\"response\"}");
	/* refused: changes nothing */
	ck_assert_int_eq(ddb_name(&names, "s", "status"), RC_INVAL);
	ck_assert_int_eq(ddb_name(&names, "#", "status"), RC_INVAL);
	ck_assert_int_eq(ddb_name(&names, NULL, "status"), RC_INVAL);
	ck_assert_int_eq(ddb_name(&names, "#x", ""), RC_INVAL);
	ck_assert_int_eq(ddb_name(&names, "#x", NULL), RC_INVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_int_eq(ddb_name(&names, "#x", long_name), RC_INVAL);
	ck_assert_str_eq(itest_text(names), "{\"#s\":\"status\",\"#r\":\"response\"}");
	json_object_put(names);
	names = NULL;
	ck_assert_int_eq(ddb_name(&names, "bad", "status"), RC_INVAL);
	ck_assert_ptr_null(names);
}
END_TEST

START_TEST(test_round_trip)
{
	struct json_object *built = sample_item();
	struct json_object *item = itest_parse(itest_text(built));
	struct json_object *m = NULL, *l = NULL;
	struct errbuf eb = {{0}};
	const char *s = NULL;
	size_t len = 99;
	int64_t n = 0;
	bool b = false;

	ck_assert_int_eq(ddb_get_s(item, "appointmentId", &s, &len, &eb), RC_OK);
	ck_assert_str_eq(s, "a-1");
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(ddb_get_int64(item, "scheduleId", &n, &eb), RC_OK);
	ck_assert(n == INT64_MAX);
	ck_assert_int_eq(ddb_get_int64(item, "neg", &n, &eb), RC_OK);
	ck_assert(n == INT64_MIN);
	ck_assert_int_eq(ddb_get_bool(item, "flag", &b, &eb), RC_OK);
	ck_assert(b);
	ck_assert_int_eq(ddb_type_of(item, "processedAt"), DDB_T_NULL);
	ck_assert_int_eq(ddb_type_of(item, "nope"), DDB_T_NONE);
	ck_assert_int_eq(ddb_get_s_opt(item, "processedAt", &s, &len, &eb), RC_OK);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(ddb_get_s_opt(item, "nope", &s, NULL, &eb), RC_OK);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(ddb_get_s_opt(item, "empty", &s, &len, &eb), RC_OK);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(ddb_get_m(item, "schedule", &m, &eb), RC_OK);
	ck_assert_int_eq(ddb_get_int64(m, "centerId", &n, &eb), RC_OK);
	ck_assert(n == 7);
	ck_assert_int_eq(ddb_get_s(m, "date", &s, NULL, &eb), RC_OK);
	ck_assert_str_eq(s, "2026-12-01T10:00:00.000Z");
	ck_assert_int_eq(ddb_get_l(item, "list", &l, &eb), RC_OK);
	ck_assert_uint_eq(json_object_array_length(l), 3);
	ck_assert_int_eq(ddb_val_get_s(json_object_array_get_idx(l, 0), "list[0]", &s, NULL, &eb),
			 RC_OK);
	ck_assert_str_eq(s, "x");
	ck_assert_int_eq(ddb_val_get_n_text(json_object_array_get_idx(l, 1), "list[1]", &s, &eb),
			 RC_OK);
	ck_assert_str_eq(s, "1.5");
	ck_assert_int_eq(ddb_val_type(json_object_array_get_idx(l, 2)), DDB_T_NULL);
	json_object_put(item);
	json_object_put(built);
}
END_TEST

/* Exact integer reading of N texts, including the forms DynamoDB Local echoes back. */
static const struct {
	const char *text; /* the N */
	enum rc rc;       /* expected */
	int64_t value;    /* when RC_OK */
	const char *msg;  /* a part of the message when not RC_OK */
} num_cases[] = {
	{"0", RC_OK, 0, NULL},
	{"-0", RC_OK, 0, NULL},
	{"42", RC_OK, 42, NULL},
	{"-7", RC_OK, -7, NULL},
	{"007", RC_OK, 7, NULL},
	{"1.0E2", RC_OK, 100, NULL},
	{"1e2", RC_OK, 100, NULL},
	{"4200e-2", RC_OK, 42, NULL},
	{"100.000", RC_OK, 100, NULL},
	{"0e999", RC_OK, 0, NULL},
	{"0.000", RC_OK, 0, NULL},
	{"9223372036854775807", RC_OK, INT64_MAX, NULL},
	{"-9223372036854775808", RC_OK, INT64_MIN, NULL},
	{"9.223372036854775807e18", RC_OK, INT64_MAX, NULL},
	{"1.5", RC_INVAL, 0, "not an integer"},
	{"12e-1", RC_INVAL, 0, "not an integer"},
	{"0.1", RC_INVAL, 0, "not an integer"},
	{"9223372036854775808", RC_INVAL, 0, "int64 range"},
	{"-9223372036854775809", RC_INVAL, 0, "int64 range"},
	{"99999999999999999999999", RC_INVAL, 0, "int64 range"},
	{"1e19", RC_INVAL, 0, "int64 range"},
	{"1e99999999999999999999999", RC_INVAL, 0, "int64 range"},
	{"abc", RC_INVAL, 0, "not a number"},
	{"", RC_INVAL, 0, "not a number"},
	{"1.", RC_INVAL, 0, "not a number"},
	{"+1", RC_INVAL, 0, "not a number"},
	{" 1", RC_INVAL, 0, "not a number"},
};

START_TEST(test_int64_cases)
{
	struct json_object *item = json_object_new_object(), *v = NULL, *in = NULL;
	struct errbuf eb = {{0}};
	int64_t n = -1;

	/* Built by hand: ddb_put_n_text refuses the malformed ones. */
	v = json_object_new_object();
	in = json_object_new_string(num_cases[_i].text);
	json_object_object_add(v, "N", in);
	json_object_object_add(item, "n", v);
	ck_assert_msg(ddb_get_int64(item, "n", &n, &eb) == num_cases[_i].rc, "case %s: %s",
		      num_cases[_i].text, eb.msg);
	if (num_cases[_i].rc == RC_OK) {
		ck_assert_msg(n == num_cases[_i].value, "case %s", num_cases[_i].text);
	} else {
		ck_assert_msg(strstr(eb.msg, num_cases[_i].msg) != NULL, "case %s: %s",
			      num_cases[_i].text, eb.msg);
		ck_assert_msg(strstr(eb.msg, "attribute n ") != NULL, "%s", eb.msg);
	}
	json_object_put(item);
}
END_TEST

START_TEST(test_num_text_valid)
{
	static const char *const good[] = {"0", "-1", "1.5", "1e5", "1E+5", "-2.5e-3", "0012",
					   NULL};
	static const char *const bad[] = {"", "-", ".5", "1.", "+1", "1e", "1e+", "0x10", "1 ",
					  "NaN", "Infinity", "1..2", NULL};
	struct json_object *v = NULL;

	for (size_t i = 0; good[i] != NULL; i++)
		ck_assert_msg(ddb_num_text_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; bad[i] != NULL; i++) {
		ck_assert_msg(!ddb_num_text_valid(bad[i]), "%s", bad[i]);
		ck_assert_int_eq(ddb_val_n_text(bad[i], &v), RC_INVAL);
		ck_assert_ptr_null(v);
	}
	itest_check_max_len(ddb_num_text_valid, DDB_NUM_TEXT_MAX, '1');
}
END_TEST

START_TEST(test_missing_and_wrong_type)
{
	struct json_object *item = itest_parse("{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"1\"},"
					       "\"bad\":{\"S\":1},"
					       "\"two\":{\"S\":\"a\",\"N\":\"1\"},"
					       "\"nf\":{\"NULL\":false},\"ss\":{\"SS\":[\"a\"]}}");
	struct json_object *m = NULL;
	struct errbuf eb = {{0}};
	const char *s = (const char *)1;
	int64_t n;
	bool b;

	ck_assert_int_eq(ddb_get_s(item, "status", &s, NULL, &eb), RC_INVAL);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(eb.msg, "attribute status is missing");
	ck_assert_int_eq(ddb_get_int64(item, "s", &n, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute s is S, expected N");
	ck_assert_int_eq(ddb_get_s(item, "n", &s, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute n is N, expected S");
	ck_assert_int_eq(ddb_get_bool(item, "s", &b, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute s is S, expected BOOL");
	ck_assert_int_eq(ddb_get_m(item, "s", &m, &eb), RC_INVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(ddb_get_l(item, "n", &m, &eb), RC_INVAL);
	ck_assert_int_eq(ddb_get_s(item, "bad", &s, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute bad is other, expected S");
	ck_assert_int_eq(ddb_type_of(item, "two"), DDB_T_OTHER);
	ck_assert_int_eq(ddb_type_of(item, "nf"), DDB_T_OTHER);
	ck_assert_int_eq(ddb_type_of(item, "ss"), DDB_T_OTHER);
	/* The optional getter still rejects a wrong type. */
	ck_assert_int_eq(ddb_get_s_opt(item, "n", &s, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute n is N, expected S");
	ck_assert_int_eq(ddb_get_n_text(item, "s", &s, &eb), RC_INVAL);
	/* Not a map at all. */
	ck_assert_int_eq(ddb_get_s(NULL, "x", &s, NULL, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "not a map"));
	ck_assert_int_eq(ddb_val_get_s(NULL, "list[3]", &s, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "attribute list[3] is missing");
	ck_assert_int_eq(ddb_val_type(NULL), DDB_T_OTHER);
	json_object_put(item);
}
END_TEST

START_TEST(test_builder_errors)
{
	struct json_object *map = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *v = NULL;
	char longname[DDB_NAME_MAX + 2];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(ddb_put_s(map, "x", NULL), RC_INVAL);
	ck_assert_int_eq(ddb_put_s(map, "", "v"), RC_INVAL);
	ck_assert_int_eq(ddb_put_s(map, NULL, "v"), RC_INVAL);
	ck_assert_int_eq(ddb_put_s(map, longname, "v"), RC_INVAL);
	longname[DDB_NAME_MAX] = '\0';
	ck_assert_int_eq(ddb_put_s(map, longname, "v"), RC_OK);
	ck_assert_int_eq(ddb_put_s(arr, "x", "v"), RC_INVAL); /* not a map */
	ck_assert_int_eq(ddb_put_n_text(map, "n", "1.2.3"), RC_INVAL);
	/* Ownership passes even on failure: ASan reports a leak otherwise. */
	ck_assert_int_eq(ddb_put_m(map, "m", json_object_new_array()), RC_INVAL);
	ck_assert_int_eq(ddb_put_l(map, "l", json_object_new_object()), RC_INVAL);
	ck_assert_int_eq(ddb_val_s("a", &v), RC_OK);
	ck_assert_int_eq(ddb_put(map, "", v), RC_INVAL);
	ck_assert_int_eq(ddb_val_s("a", &v), RC_OK);
	ck_assert_int_eq(ddb_append(map, v), RC_INVAL);
	ck_assert_int_eq(ddb_put(map, "x", NULL), RC_NOMEM);
	ck_assert_int_eq(ddb_append(arr, NULL), RC_NOMEM);
	ck_assert_int_eq(ddb_put_m(map, "em", NULL), RC_OK);
	ck_assert_int_eq(ddb_put_l(map, "el", NULL), RC_OK);
	ck_assert_str_eq(itest_text(ddb_attr(map, "em")), "{\"M\":{}}");
	ck_assert_str_eq(itest_text(ddb_attr(map, "el")), "{\"L\":[]}");
	ck_assert_uint_eq(json_object_object_length(map), 3);
	ck_assert_str_eq(ddb_type_name(DDB_T_NONE), "missing");
	ck_assert_str_eq(ddb_type_name(DDB_T_L), "L");
	json_object_put(arr);
	json_object_put(map);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ddb_attr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_build_exact_json);
	tcase_add_test(tc, test_expression_names);
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_int64_cases, 0, (int)(sizeof(num_cases) / sizeof(num_cases[0])));
	tcase_add_test(tc, test_num_text_valid);
	tcase_add_test(tc, test_missing_and_wrong_type);
	tcase_add_test(tc, test_builder_errors);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
