/* clock.c — clock_gettime and nanosleep behind the units the project uses. */
#include "base/clock.h"

#include <errno.h>

#define NSEC_PER_SEC 1000000000L

static struct timespec now_on(clockid_t id)
{
	struct timespec ts;

	/* Fails only for a bad clock id or pointer, neither possible here. */
	(void)clock_gettime(id, &ts);
	return ts;
}

int64_t clk_mono_ms(void)
{
	struct timespec ts = now_on(CLOCK_MONOTONIC);

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clk_mono_us(void)
{
	struct timespec ts = now_on(CLOCK_MONOTONIC);

	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t clk_wall_ms(void)
{
	struct timespec ts = now_on(CLOCK_REALTIME);

	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clk_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct timespec clk_deadline(clockid_t id, long ms)
{
	struct timespec ts = now_on(id);

	if (ms < 0)
		ms = 0;
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= NSEC_PER_SEC;
	}
	return ts;
}
