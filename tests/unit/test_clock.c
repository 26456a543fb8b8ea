/* test_clock.c — base/clock: units of the clocks, normalised deadlines. */
#include <check.h>
#include <stdlib.h>

#include "base/clock.h"

START_TEST(test_units)
{
	int64_t now = clk_wall_ms();
	int64_t m1 = clk_mono_ms();
	uint64_t u1 = clk_mono_us();
	int64_t m2 = clk_mono_ms();

	/* After 2024-01-01 and before 2100: a sane wall clock in ms, not s or us. */
	ck_assert(now > 1704067200000LL);
	ck_assert(now < 4102444800000LL);
	ck_assert(m2 >= m1);
	/* the same clock in two units: µs / 1000 lies between the two ms readings */
	ck_assert((int64_t)(u1 / 1000) >= m1);
	ck_assert((int64_t)(u1 / 1000) <= m2);
}
END_TEST

static int64_t ts_ms(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_deadline)
{
	static const long cases[] = {0, 1, 999, 1000, 1001, 123456, -5};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long want = cases[i] < 0 ? 0 : cases[i];
		int64_t before = clk_mono_ms();
		struct timespec d = clk_deadline(CLOCK_MONOTONIC, cases[i]);
		int64_t after = clk_mono_ms();

		ck_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		ck_assert(ts_ms(d) >= before + want);
		ck_assert(ts_ms(d) <= after + want);
	}
}
END_TEST

START_TEST(test_sleep_zero)
{
	int64_t t0 = clk_mono_ms();

	clk_sleep_ms(0);
	clk_sleep_ms(-10);
	/* returns at once; bounded generously so a loaded machine cannot fail it */
	ck_assert(clk_mono_ms() - t0 < 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_sleep_zero);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
