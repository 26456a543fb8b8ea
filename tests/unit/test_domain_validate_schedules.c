/* test_domain_validate_schedules.c — the GET /schedules query rules (SPEC §3): defaults,
 * the window, the filters, the page, and every error code, table-driven. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/validate_schedules.h"

static const char *const countries[] = {"PE", "CL"};

/* 2026-12-04T06:00:00.000Z: the "now" of every case. */
#define NOW_MS 1796364000000LL
#define NOW_ISO "2026-12-04T06:00:00.000Z"
#define NOW_PLUS_30 "2027-01-03T06:00:00.000Z"

/* "field:code,field:code" of every entry, in order. */
static void render(const struct val_errors *e, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < e->count && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s:%s", i ? "," : "", e->items[i].field,
		                      e->items[i].code);
}

#define MAXKV 10

struct sched_case {
	struct val_kv kv[MAXKV]; /* up to the first NULL key */
	const char *errs;        /* "" when valid */
	const char *from;        /* expected when valid */
	const char *to;
	int center, specialty, medic, limit, offset;
};

#define PE {"countryISO", "PE"}

static const struct sched_case cases[] = {
	{{PE}, "", NOW_ISO, NOW_PLUS_30, 0, 0, 0, 20, 0},
	{{{"countryISO", "CL"}, {"limit", "100"}, {"offset", "1000000"}}, "", NOW_ISO, NOW_PLUS_30,
	 0, 0, 0, 100, 1000000},
	{{PE, {"centerId", "1"}, {"specialtyId", "2"}, {"medicId", "2147483647"}, {"limit", "1"}},
	 "", NOW_ISO, NOW_PLUS_30, 1, 2, 2147483647, 1, 0},
	/* a bare date: from its first millisecond, to its last */
	{{PE, {"from", "2027-01-01"}, {"to", "2027-01-01"}}, "", "2027-01-01T00:00:00.000Z",
	 "2027-01-01T23:59:59.999Z", 0, 0, 0, 20, 0},
	/* from alone: to is 30 days after it */
	{{PE, {"from", "2027-02-01T10:00:00Z"}}, "", "2027-02-01T10:00:00.000Z",
	 "2027-03-03T10:00:00.000Z", 0, 0, 0, 20, 0},
	/* to alone (even before now: an empty window, not an error) */
	{{PE, {"to", "2026-12-05T00:00:00+01:00"}}, "", NOW_ISO, "2026-12-04T23:00:00.000Z", 0, 0,
	 0, 20, 0},
	{{PE, {"to", "2026-01-01"}}, "", NOW_ISO, "2026-01-01T23:59:59.999Z", 0, 0, 0, 20, 0},
	{{PE, {"from", "2027-01-01T00:00:00Z"}, {"to", "2027-01-01T00:00:00Z"}}, "",
	 "2027-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", 0, 0, 0, 20, 0},
	{{PE, {"from", "9999-12-31"}}, "", "9999-12-31T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
	 0, 0, 0, 20, 0},
	/* errors */
	{{{NULL, NULL}}, "countryISO:required", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"limit", "5"}}, "countryISO:required", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"countryISO", "pe"}}, "countryISO:not_allowed", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"countryISO", "AR"}}, "countryISO:not_allowed", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"countryISO", ""}}, "countryISO:not_allowed", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"countryISO", NULL}}, "countryISO:not_allowed", NULL, NULL, 0, 0, 0, 0, 0},
	{{{"countryISO", "PEE"}}, "countryISO:not_allowed", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, PE}, "countryISO:duplicate_field", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"from", "2027-01-02"}, {"to", "2027-01-01"}}, "from:invalid_range", NULL, NULL, 0, 0,
	 0, 0, 0},
	{{PE, {"from", "tomorrow"}}, "from:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"to", ""}}, "to:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"to", "2027-13-01"}}, "to:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"centerId", "0"}}, "centerId:out_of_range", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"centerId", "-1"}}, "centerId:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"specialtyId", "1.5"}}, "specialtyId:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"medicId", "2147483648"}}, "medicId:out_of_range", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"medicId", "99999999999999999999999"}}, "medicId:out_of_range", NULL, NULL, 0, 0, 0,
	 0, 0},
	{{PE, {"medicId", NULL}}, "medicId:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"limit", "0"}}, "limit:out_of_range", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"limit", "101"}}, "limit:out_of_range", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"offset", "1000001"}}, "offset:out_of_range", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"offset", " 1"}}, "offset:invalid_format", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"limit", "1"}, {"limit", "2"}}, "limit:duplicate_field", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"from", "2027-01-01T00:00:00.000000000000000000000000000000000000000000000000000Z"}},
	 "from:too_long", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"cursor", "x"}}, "unknown:unknown_field", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"status", "pending"}}, "unknown:unknown_field", NULL, NULL, 0, 0, 0, 0, 0},
	{{PE, {"", "x"}}, "unknown:unknown_field", NULL, NULL, 0, 0, 0, 0, 0},
	/* every failing parameter at once, in rule order, unknown names last */
	{{{"zz", "1"}, {"countryISO", "XX"}, {"to", "x"}, {"centerId", "0"}, {"specialtyId", "a"},
	  {"medicId", "0"}, {"limit", "0"}, {"offset", "x"}, {"countryiso", "PE"}},
	 "countryISO:not_allowed,to:invalid_format,centerId:out_of_range,"
	 "specialtyId:invalid_format,medicId:out_of_range,limit:out_of_range,"
	 "offset:invalid_format,unknown:unknown_field,unknown:unknown_field",
	 NULL, NULL, 0, 0, 0, 0, 0},
};

static size_t kv_count(const struct val_kv *kv)
{
	size_t n = 0;

	while (n < MAXKV && kv[n].key != NULL)
		n++;
	return n;
}

START_TEST(test_table)
{
	const struct sched_case *c = &cases[_i];
	struct val_schedule_query q;
	struct val_errors e;
	char got[512];
	enum rc rc;

	val_errors_init(&e);
	rc = val_schedule_query(c->kv, kv_count(c->kv), countries, 2, NOW_MS, &q, &e);
	render(&e, got, sizeof(got));
	ck_assert_msg(strcmp(got, c->errs) == 0, "case %d: '%s' want '%s'", _i, got, c->errs);
	if (c->errs[0] != '\0') {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
		return;
	}
	ck_assert_int_eq(rc, RC_OK);
	ck_assert_int_eq(e.result, VAL_OK);
	ck_assert_str_eq(q.country, c->kv[0].value);
	ck_assert_str_eq(q.from, c->from);
	ck_assert_str_eq(q.to, c->to);
	ck_assert_int_eq(q.center_id, c->center);
	ck_assert_int_eq(q.specialty_id, c->specialty);
	ck_assert_int_eq(q.medic_id, c->medic);
	ck_assert_int_eq(q.limit, c->limit);
	ck_assert_int_eq(q.offset, c->offset);
}
END_TEST

START_TEST(test_messages_and_limits)
{
	struct val_kv kv[VAL_QUERY_MAX + 1];
	struct val_schedule_query q;
	struct val_errors e;
	char got[256];

	for (int i = 0; i <= VAL_QUERY_MAX; i++) {
		kv[i].key = "countryISO";
		kv[i].value = "PE";
	}
	val_errors_init(&e);
	ck_assert_int_eq(val_schedule_query(kv, VAL_QUERY_MAX + 1, countries, 2, NOW_MS, &q, &e),
	                 RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "query:too_many");

	kv[0].value = "AR";
	kv[1].key = "from";
	kv[1].value = "2027-01-02";
	kv[2].key = "to";
	kv[2].value = "2027-01-01";
	kv[3].key = "na\xc3\xafve";
	kv[3].value = "1";
	val_errors_init(&e);
	ck_assert_int_eq(val_schedule_query(kv, 4, countries, 2, NOW_MS, &q, &e), RC_INVAL);
	ck_assert_uint_eq(e.count, 3);
	ck_assert_str_eq(e.items[0].message, "countryISO must be one of: PE, CL");
	ck_assert_str_eq(e.items[1].message, "from must not be after to");
	ck_assert_str_eq(e.items[2].message, "Unknown query parameter 'na??ve'");

	/* no configured country: nothing is allowed */
	kv[0].value = "PE";
	val_errors_init(&e);
	ck_assert_int_eq(val_schedule_query(kv, 1, countries, 0, NOW_MS, &q, &e), RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "countryISO:not_allowed");

	/* the default window ends within what timeutil can write */
	val_errors_init(&e);
	ck_assert_int_eq(val_schedule_query(kv, 1, countries, 2, TU_MAX_MS - 5, &q, &e), RC_OK);
	ck_assert_int_eq(q.to_ms, TU_MAX_MS);
	ck_assert_str_eq(q.to, "9999-12-31T23:59:59.999Z");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_validate_schedules");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_messages_and_limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
