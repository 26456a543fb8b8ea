/* test_domain_validate_item.c — the rules of the one-appointment routes (SPEC §3): the path
 * (insuredId padded, appointmentId a UUID of either case, at any length) and the GET query
 * (waitFor, timeout), table-driven, every error code. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/validate_item.h"

#define ID "0f8fad5b-d9cb-469f-a165-70867728950e"

/* "field:code,field:code" of every entry, in order. */
static void render(const struct val_errors *e, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < e->count && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s:%s", i ? "," : "", e->items[i].field,
		                      e->items[i].code);
}

struct path_case {
	const char *insured;
	const char *id;
	const char *errs;        /* "" when valid */
	const char *want_insured;
	const char *want_id;
};

static const struct path_case path_cases[] = {
	{"00123", ID, "", "00123", ID},
	{"123", ID, "", "00123", ID},
	{"7", "0F8FAD5B-D9CB-469F-A165-70867728950E", "", "00007", ID},
	/* any UUID: the version is not ours to judge (absent ids are 404) */
	{"1", "00000000-0000-0000-0000-000000000000", "", "00001",
	 "00000000-0000-0000-0000-000000000000"},
	{"", ID, "insuredId:too_short", NULL, NULL},
	{"123456", ID, "insuredId:too_long", NULL, NULL},
	{"12a", ID, "insuredId:invalid_format", NULL, NULL},
	{NULL, ID, "insuredId:required", NULL, NULL},
	{"1", NULL, "appointmentId:required", NULL, NULL},
	{"1", "", "appointmentId:too_short", NULL, NULL},
	{"1", "x", "appointmentId:invalid_format", NULL, NULL},
	{"1", ID "0", "appointmentId:too_long", NULL, NULL},
	{"1", "0f8fad5b-d9cb-469f-a165-70867728950", "appointmentId:invalid_format", NULL, NULL},
	{"1", "0f8fad5bxd9cb-469f-a165-70867728950e", "appointmentId:invalid_format", NULL, NULL},
	{"1", "0f8fad5b-d9cb-469f-a165-70867728950g", "appointmentId:invalid_format", NULL, NULL},
	{"1", "0f8fad5b-d9cb-469f-a165-70867728950-", "appointmentId:invalid_format", NULL, NULL},
	{"1", "0f8fad5b-d9cb-469f-a165-7086772895 e", "appointmentId:invalid_format", NULL, NULL},
	/* both at once, path order */
	{"abcdef", "nope", "insuredId:invalid_format,appointmentId:invalid_format", NULL, NULL},
};

START_TEST(test_path)
{
	const struct path_case *c = &path_cases[_i];
	char insured[APPT_INSURED_SIZE];
	char id[APPT_ID_SIZE];
	struct val_errors e;
	char got[256];
	enum rc rc;

	val_errors_init(&e);
	rc = val_item_path(c->insured, c->id, insured, id, &e);
	render(&e, got, sizeof(got));
	ck_assert_msg(strcmp(got, c->errs) == 0, "case %d: '%s' want '%s'", _i, got, c->errs);
	if (c->errs[0] != '\0') {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
		return;
	}
	ck_assert_int_eq(rc, RC_OK);
	ck_assert_int_eq(e.result, VAL_OK);
	ck_assert_str_eq(insured, c->want_insured);
	ck_assert_str_eq(id, c->want_id);
}
END_TEST

START_TEST(test_path_any_length)
{
	char insured[APPT_INSURED_SIZE];
	char id[APPT_ID_SIZE];
	struct val_errors e;
	size_t len = 100000;
	char *big = malloc(len + 1);

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', len);
	big[len] = '\0';
	val_errors_init(&e);
	ck_assert_int_eq(val_item_path(big, big, insured, id, &e), RC_INVAL);
	ck_assert_int_eq(e.count, 2);
	ck_assert_str_eq(e.items[1].field, "appointmentId");
	ck_assert_str_eq(e.items[1].code, "too_long");
	free(big);
}
END_TEST

#define MAXKV 20

struct query_case {
	struct val_kv kv[MAXKV]; /* up to the first NULL key */
	const char *errs;        /* "" when valid */
	enum appt_wait wait;
	int timeout;
};

static const struct query_case query_cases[] = {
	{{{NULL, NULL}}, "", APPT_WAIT_NONE, 10},
	{{{"waitFor", "completed"}}, "", APPT_WAIT_COMPLETED, 10},
	{{{"waitFor", "failed"}, {"timeout", "1"}}, "", APPT_WAIT_FAILED, 1},
	{{{"timeout", "20"}, {"waitFor", "cancelled"}}, "", APPT_WAIT_CANCELLED, 20},
	{{{"waitFor", "any-final"}}, "", APPT_WAIT_ANY_FINAL, 10},
	/* timeout alone is accepted and has no effect */
	{{{"timeout", "5"}}, "", APPT_WAIT_NONE, 5},
	{{{"waitFor", "Completed"}}, "waitFor:not_allowed", 0, 0},
	{{{"waitFor", "pending"}}, "waitFor:not_allowed", 0, 0},
	{{{"waitFor", ""}}, "waitFor:not_allowed", 0, 0},
	{{{"waitFor", NULL}}, "waitFor:not_allowed", 0, 0},
	{{{"waitFor", "completed"}, {"waitFor", "failed"}}, "waitFor:duplicate_field", 0, 0},
	{{{"timeout", "0"}}, "timeout:out_of_range", 0, 0},
	{{{"timeout", "21"}}, "timeout:out_of_range", 0, 0},
	{{{"timeout", "-1"}}, "timeout:invalid_format", 0, 0},
	{{{"timeout", "1.5"}}, "timeout:invalid_format", 0, 0},
	{{{"timeout", "99999999999999999999"}}, "timeout:out_of_range", 0, 0},
	{{{"timeout", "1"}, {"timeout", "1"}}, "timeout:duplicate_field", 0, 0},
	{{{"waitFor",
	   "completedcompletedcompletedcompletedcompletedcompletedcompletedcompleted"}},
	 "waitFor:too_long", 0, 0},
	{{{"limit", "1"}}, "unknown:unknown_field", 0, 0},
	{{{"waitfor", "completed"}}, "unknown:unknown_field", 0, 0},
	{{{"", NULL}}, "unknown:unknown_field", 0, 0},
	/* every failing parameter at once, in rule order, unknown names last */
	{{{"x", "1"}, {"timeout", "0"}, {"waitFor", "done"}, {"y", NULL}},
	 "waitFor:not_allowed,timeout:out_of_range,unknown:unknown_field,unknown:unknown_field", 0,
	 0},
	{{{"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"},
	  {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"}, {"a", "1"},
	  {"a", "1"}, {"a", "1"}, {"a", "1"}},
	 "query:too_many", 0, 0},
};

static size_t kv_count(const struct val_kv *kv)
{
	size_t n = 0;

	while (n < MAXKV && kv[n].key != NULL)
		n++;
	return n;
}

START_TEST(test_query)
{
	const struct query_case *c = &query_cases[_i];
	struct val_item_query q;
	struct val_errors e;
	char got[512];
	enum rc rc;

	val_errors_init(&e);
	rc = val_item_query(c->kv, kv_count(c->kv), &q, &e);
	render(&e, got, sizeof(got));
	ck_assert_msg(strcmp(got, c->errs) == 0, "case %d: '%s' want '%s'", _i, got, c->errs);
	if (c->errs[0] != '\0') {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
		return;
	}
	ck_assert_int_eq(rc, RC_OK);
	ck_assert_int_eq(e.result, VAL_OK);
	ck_assert_int_eq(q.wait, c->wait);
	ck_assert_int_eq(q.timeout_s, c->timeout);
}
END_TEST

START_TEST(test_messages)
{
	const struct val_kv kv[] = {{"waitFor", "soon"}, {"bad\x01name", "1"}};
	struct val_item_query q;
	struct val_errors e;

	val_errors_init(&e);
	ck_assert_int_eq(val_item_query(kv, 2, &q, &e), RC_INVAL);
	ck_assert_int_eq(e.count, 2);
	ck_assert_str_eq(e.items[0].message,
	                 "waitFor must be one of: completed, failed, cancelled, any-final");
	ck_assert_str_eq(e.items[1].message, "Unknown query parameter 'bad?name'");
}
END_TEST

/* DELETE takes no query: every parameter is unknown, too many is one error */
START_TEST(test_no_query)
{
	struct val_kv kv[VAL_QUERY_MAX + 1];
	struct val_errors e;
	char got[256];

	val_errors_init(&e);
	ck_assert_int_eq(val_item_no_query(NULL, 0, &e), RC_OK);
	ck_assert_int_eq(e.count, 0);
	kv[0] = (struct val_kv){"waitFor", "completed"};
	kv[1] = (struct val_kv){"force", "1"};
	ck_assert_int_eq(val_item_no_query(kv, 2, &e), RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "unknown:unknown_field,unknown:unknown_field");
	ck_assert_str_eq(e.items[1].message, "Unknown query parameter 'force'");
	for (size_t i = 0; i < VAL_QUERY_MAX + 1; i++)
		kv[i] = (struct val_kv){"x", "1"};
	val_errors_init(&e);
	ck_assert_int_eq(val_item_no_query(kv, VAL_QUERY_MAX + 1, &e), RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "query:too_many");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_validate_item");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_path, 0, sizeof(path_cases) / sizeof(path_cases[0]));
	tcase_add_test(tc, test_path_any_length);
	tcase_add_loop_test(tc, test_query, 0, sizeof(query_cases) / sizeof(query_cases[0]));
	tcase_add_test(tc, test_messages);
	tcase_add_test(tc, test_no_query);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
