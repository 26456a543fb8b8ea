/* bench_env.h — what the C loops of scripts/bench share (bench_floor.c, bench_hops.c): the
 * monotonic clock in seconds and the environment variables they cannot run without. */
#ifndef APPT_BENCH_ENV_H
#define APPT_BENCH_ENV_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of name; exits 2 when it is unset or empty. */
static inline const char *need(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "%s: %s is not set\n", program_invocation_short_name, name);
		exit(2);
	}
	return v;
}

#endif
