/* test_backoff.c — base/backoff and base/rng: the one retry-delay rule with the bounds of
 * its three users (AWS client full jitter, PostgreSQL reconnect, SQS visibility), and the
 * generator that feeds it. */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/backoff.h"
#include "base/rng.h"

/* rnd values that hit the low end, the high end and the middle of any range */
static const uint64_t rnds[] = {0, 1, 7, 12345, UINT64_MAX, UINT64_C(0x8000000000000000)};

static const struct {
	const char *what;
	struct backoff b;
	int failures;
	long lo, hi; /* every delay lies in [lo, hi] */
} cases[] = {
	{"aws full jitter, 1st", {100, 2000, 0}, 1, 0, 100},
	{"aws full jitter, 5th", {100, 2000, 0}, 5, 0, 1600},
	{"aws capped", {100, 2000, 0}, 30, 0, 2000},
	{"aws no base", {0, 2000, 0}, 3, 0, 0},
	{"db 1st", {100, 30000, 100}, 1, 100, 100},
	{"db 4th", {100, 30000, 100}, 4, 100, 800},
	{"db capped", {100, 30000, 100}, 1000, 100, 30000},
	{"sqs visibility 1st", {5, 180, 5}, 1, 5, 5},
	{"sqs visibility 3rd", {5, 180, 5}, 3, 5, 20},
	{"sqs visibility capped", {5, 180, 5}, 99, 5, 180},
	{"floor above ceiling", {10, 20, 50}, 1, 10, 10},
	{"failures below 1", {100, 2000, 0}, -3, 0, 100},
	{"huge cap, no overflow", {1, LONG_MAX, 0}, 200, 0, LONG_MAX},
};

START_TEST(test_bounds)
{
	for (size_t j = 0; j < sizeof(rnds) / sizeof(rnds[0]); j++) {
		long d = backoff_delay(&cases[_i].b, cases[_i].failures, rnds[j]);

		ck_assert_msg(d >= cases[_i].lo && d <= cases[_i].hi, "%s: %ld not in [%ld, %ld]",
			      cases[_i].what, d, cases[_i].lo, cases[_i].hi);
	}
}
END_TEST

START_TEST(test_reaches_both_ends)
{
	const struct backoff b = {100, 30000, 100};

	/* rnd 0 gives the floor, rnd = span gives the ceiling: the whole range is used */
	ck_assert_int_eq(backoff_delay(&b, 3, 0), 100);
	ck_assert_int_eq(backoff_delay(&b, 3, 300), 400);
}
END_TEST

START_TEST(test_rng)
{
	struct rng a = {7};
	struct rng b = {7};
	struct rng seeded;
	struct backoff full = {100, 2000, 0};
	long max_seen = 0;

	/* same state, same sequence; the sequence moves */
	ck_assert(rng_next(&a) == rng_next(&b));
	ck_assert(rng_next(&a) != rng_next(&a));
	rng_init(&seeded, &seeded);
	ck_assert(seeded.s != 0);
	/* jitter fed by the generator really spreads up to the ceiling (1600 at the 5th) */
	for (int i = 0; i < 2000; i++) {
		long d = backoff_delay(&full, 5, rng_next(&seeded));

		if (d > max_seen)
			max_seen = d;
	}
	ck_assert_int_gt(max_seen, 1500);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_bounds, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_reaches_both_ends);
	tcase_add_test(tc, test_rng);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
