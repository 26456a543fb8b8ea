/* test_metrics.c — Prometheus text: counters, gauges, histograms, escaping, limits. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"
#include "base/metrics.h"

/* Renders m; every string of want (NULL-terminated) must be in the text. */
static void assert_renders(struct metrics *m, const char *const *want)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(metrics_render(m, &b), RC_OK);
	for (size_t i = 0; want[i] != NULL; i++)
		ck_assert_msg(strstr(buf_str(&b), want[i]) != NULL, "missing \"%s\" in:\n%s",
			      want[i], buf_str(&b));
	buf_cleanup(&b);
}

START_TEST(test_counter_gauge_render)
{
	struct metrics *m = metrics_new();
	const char *l201[] = {"route", "/appointments", "status", "201", NULL};
	const char *lbad[] = {"route", "a\"b\\c\nd", NULL};
	static const char *const want[] = {
		"# TYPE http_requests_total counter\n",
		"http_requests_total{route=\"/appointments\",status=\"201\"} 3\n",
		"http_requests_total{route=\"a\\\"b\\\\c\\nd\"} 1\n",
		"in_flight 2\n",
		"appointmentd_metrics_dropped_total 1\n",
		NULL,
	};

	ck_assert_int_eq(metrics_describe(m, "http_requests_total", METRICS_COUNTER, "Requests."), RC_OK);
	ck_assert_int_eq(metrics_describe(m, "in_flight", METRICS_GAUGE, "In flight."), RC_OK);
	ck_assert_int_eq(metrics_describe(m, "in_flight", METRICS_COUNTER, "clash"), RC_INVAL);
	metrics_add(m, "http_requests_total", l201, 1);
	metrics_add(m, "http_requests_total", l201, 2);
	metrics_add(m, "http_requests_total", lbad, 1);
	metrics_add(m, "in_flight", NULL, 3);
	metrics_add(m, "in_flight", NULL, -1);
	metrics_add(m, "undeclared", NULL, 1);
	assert_renders(m, want);
	metrics_free(m);
}
END_TEST

START_TEST(test_histogram)
{
	struct metrics *m = metrics_new();
	const char *l[] = {"route", "/x", NULL};
	static const char *const want[] = {
		"dur_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n",
		"dur_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n",
		"dur_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n",
		"dur_seconds_bucket{route=\"/x\",le=\"30\"} 2\n",
		"dur_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n",
		"dur_seconds_count{route=\"/x\"} 3\n",
		"dur_seconds_sum{route=\"/x\"} 100.204000\n",
		NULL,
	};

	ck_assert_int_eq(metrics_describe(m, "dur_seconds", METRICS_HISTOGRAM, "Duration."), RC_OK);
	metrics_observe(m, "dur_seconds", l, 0.004);
	metrics_observe(m, "dur_seconds", l, 0.2);
	metrics_observe(m, "dur_seconds", l, 100);
	assert_renders(m, want);
	metrics_free(m);
}
END_TEST

START_TEST(test_series_limit)
{
	struct metrics *m = metrics_new();
	char v[16];
	const char *l[] = {"id", v, NULL};
	static const char *const want[] = {"appointmentd_metrics_dropped_total 10\n", NULL};

	ck_assert_int_eq(metrics_describe(m, "c_total", METRICS_COUNTER, "C."), RC_OK);
	for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(v, sizeof(v), "%d", i);
		metrics_add(m, "c_total", l, 1);
	}
	assert_renders(m, want);
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

static void *adder(void *arg)
{
	struct metrics *m = arg;

	for (int i = 0; i < 10000; i++)
		metrics_add(m, "c_total", NULL, 1);
	return NULL;
}

START_TEST(test_threads)
{
	struct metrics *m = metrics_new();
	pthread_t t[4];
	static const char *const want[] = {"c_total 40000\n", NULL};

	ck_assert_int_eq(metrics_describe(m, "c_total", METRICS_COUNTER, "C."), RC_OK);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, m), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_renders(m, want);
	metrics_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_counter_gauge_render);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_series_limit);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
