/* test_domain_time.c — civil-date arithmetic, ISO-8601 parse/format. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "domain/timeutil.h"

/* TESTABLE helpers of timeutil.c. */
int64_t tu_days_from_civil(int64_t y, int m, int d);
void tu_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
bool tu_is_leap(int64_t y);

START_TEST(test_civil)
{
	int64_t y = 0;
	int m = 0;
	int d = 0;

	ck_assert_int_eq(tu_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(tu_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(tu_days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(tu_days_from_civil(0, 1, 1), -719528);
	ck_assert(tu_is_leap(2000));
	ck_assert(tu_is_leap(2024));
	ck_assert(!tu_is_leap(1900));
	ck_assert(!tu_is_leap(2100));
	ck_assert(!tu_is_leap(2023));
	/* Round trip over four centuries, day by day. */
	for (int64_t z = -200000; z < 200000; z += 7) {
		tu_civil_from_days(z, &y, &m, &d);
		ck_assert_int_eq(tu_days_from_civil(y, m, d), z);
	}
	tu_civil_from_days(-719528, &y, &m, &d);
	ck_assert_int_eq(y, 0);
	ck_assert_int_eq(m, 1);
	ck_assert_int_eq(d, 1);
}
END_TEST

struct fmt_case {
	int64_t ms;
	const char *text; /* NULL: RC_INVAL */
};

static const struct fmt_case fmt_cases[] = {
	{0, "1970-01-01T00:00:00.000Z"},
	{1, "1970-01-01T00:00:00.001Z"},
	{-1, "1969-12-31T23:59:59.999Z"},
	{1795873526123LL, "2026-11-28T13:45:26.123Z"},
	{951782400000LL, "2000-02-29T00:00:00.000Z"},
	{951868799999LL, "2000-02-29T23:59:59.999Z"},
	{TU_MIN_MS, "0000-01-01T00:00:00.000Z"},
	{TU_MAX_MS, "9999-12-31T23:59:59.999Z"},
	{TU_MIN_MS - 1, NULL},
	{TU_MAX_MS + 1, NULL},
	{INT64_MIN, NULL},
	{INT64_MAX, NULL},
};

START_TEST(test_format)
{
	const struct fmt_case *c = &fmt_cases[_i];
	char out[TU_ISO_SIZE] = "junk";
	enum rc rc = tu_format_ms(c->ms, out);

	if (c->text == NULL) {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_str_eq(out, "");
	} else {
		ck_assert_int_eq(rc, RC_OK);
		ck_assert_str_eq(out, c->text);
		ck_assert_uint_eq(strlen(out), TU_ISO_LEN);
	}
}
END_TEST

struct parse_case {
	const char *text;
	bool ok;
	const char *norm; /* expected canonical form when ok */
	bool date_only;
};

static const struct parse_case parse_cases[] = {
	{"2026-11-25", true, "2026-11-25T00:00:00.000Z", true},
	{"2026-11-25T13:45:26Z", true, "2026-11-25T13:45:26.000Z", false},
	{"2026-11-25T13:45:26.1Z", true, "2026-11-25T13:45:26.100Z", false},
	{"2026-11-25T13:45:26.123Z", true, "2026-11-25T13:45:26.123Z", false},
	{"2026-11-25T13:45:26.123456789Z", true, "2026-11-25T13:45:26.123Z", false},
	{"2026-11-25T23:59:59.9999Z", true, "2026-11-25T23:59:59.999Z", false},
	{"2026-11-25T23:59:59.999Z", true, "2026-11-25T23:59:59.999Z", false},
	{"2024-02-29", true, "2024-02-29T00:00:00.000Z", true},
	{"2000-02-29T12:00:00Z", true, "2000-02-29T12:00:00.000Z", false},
	{"2026-11-25T08:45:26-05:00", true, "2026-11-25T13:45:26.000Z", false},
	{"2026-11-25T18:45:26.5+05:00", true, "2026-11-25T13:45:26.500Z", false},
	{"2026-11-25T00:30:00+01:00", true, "2026-11-24T23:30:00.000Z", false},
	{"2026-12-31T23:30:00-01:00", true, "2027-01-01T00:30:00.000Z", false},
	{"2026-11-25T13:45:26+00:00", true, "2026-11-25T13:45:26.000Z", false},
	{"2026-11-25T13:45:26-00:00", true, "2026-11-25T13:45:26.000Z", false},
	{"2026-11-25T13:45:26+05:45", true, "2026-11-25T08:00:26.000Z", false},
	{"0000-01-01", true, "0000-01-01T00:00:00.000Z", true},
	{"9999-12-31T23:59:59.999Z", true, "9999-12-31T23:59:59.999Z", false},
	{"1969-12-31T23:59:59.999Z", true, "1969-12-31T23:59:59.999Z", false},
	/* bad dates */
	{"2023-02-29", false, NULL, false},
	{"1900-02-29", false, NULL, false},
	{"2026-02-30", false, NULL, false},
	{"2026-04-31", false, NULL, false},
	{"2026-13-01", false, NULL, false},
	{"2026-00-10", false, NULL, false},
	{"2026-01-00", false, NULL, false},
	{"2026-01-32", false, NULL, false},
	{"26-11-25", false, NULL, false},
	{"2026-1-5", false, NULL, false},
	{"2026/11/25", false, NULL, false},
	{"20261125", false, NULL, false},
	{"", false, NULL, false},
	{"2026-11-25 ", false, NULL, false},
	{" 2026-11-25", false, NULL, false},
	/* bad times */
	{"2026-11-25T24:00:00Z", false, NULL, false},
	{"2026-11-25T23:60:00Z", false, NULL, false},
	{"2026-11-25T23:59:60Z", false, NULL, false},
	{"2026-11-25T13:45:26", false, NULL, false},
	{"2026-11-25T13:45Z", false, NULL, false},
	{"2026-11-25 13:45:26Z", false, NULL, false},
	{"2026-11-25t13:45:26Z", false, NULL, false},
	{"2026-11-25T13:45:26z", false, NULL, false},
	{"2026-11-25T13:45:26.Z", false, NULL, false},
	{"2026-11-25T13:45:26.1234567890Z", false, NULL, false},
	{"2026-11-25T13:45:26ZZ", false, NULL, false},
	{"2026-11-25T13:45:26Z ", false, NULL, false},
	{"2026-11-25T13:45:26+0500", false, NULL, false},
	{"2026-11-25T13:45:26+05", false, NULL, false},
	{"2026-11-25T13:45:26+24:00", false, NULL, false},
	{"2026-11-25T13:45:26+05:60", false, NULL, false},
	{"2026-11-25T1a:45:26Z", false, NULL, false},
	/* the UTC result must stay within 0000..9999 */
	{"0000-01-01T00:30:00+01:00", false, NULL, false},
	{"9999-12-31T23:30:00-01:00", false, NULL, false},
	{"2026-11-25T13:45:26.123Z123456789012345678901234567890123456789012345", false, NULL, false},
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	int64_t ms = 12345;
	bool date_only = !c->date_only;
	struct errbuf eb = {{0}};
	char out[TU_ISO_SIZE];
	enum rc rc = tu_parse_iso(c->text, &ms, &date_only, &eb);

	if (!c->ok) {
		ck_assert_msg(rc == RC_INVAL, "'%s' accepted", c->text);
		ck_assert_int_eq(ms, 12345);
		ck_assert(eb.msg[0] != '\0');
		return;
	}
	ck_assert_msg(rc == RC_OK, "'%s': %s", c->text, eb.msg);
	ck_assert_int_eq(date_only, c->date_only);
	ck_assert_int_eq(tu_format_ms(ms, out), RC_OK);
	ck_assert_str_eq(out, c->norm);
}
END_TEST

START_TEST(test_parse_misc)
{
	int64_t ms = 0;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(tu_parse_iso(NULL, &ms, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "no date given");
	ck_assert_int_eq(tu_parse_iso("2026-02-30", &ms, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "day 30 out of range for 2026-02");
	ck_assert_int_eq(tu_parse_iso("2026-11-25T13:45:26.123Z", &ms, NULL, NULL), RC_OK);
	ck_assert_int_eq(ms, 1795614326123LL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_time");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_civil);
	tcase_add_loop_test(tc, test_format, 0, sizeof(fmt_cases) / sizeof(fmt_cases[0]));
	tcase_add_loop_test(tc, test_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_misc);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
