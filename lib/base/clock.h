/* clock.h — the one place that reads the clocks: CLOCK_MONOTONIC for intervals, deadlines
 * and the watchdog, CLOCK_REALTIME for timestamps, plus a whole sleep and the absolute
 * deadlines pthread timed waits take. Prefix clk_ (libc owns clock_). */
#ifndef APPT_CLOCK_H
#define APPT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: only differences mean anything; immune to wall-clock
 * steps. Thread-safe; cannot fail on Linux (a valid clock id and pointer). */
int64_t clk_mono_ms(void);
/* The same in microseconds. */
uint64_t clk_mono_us(void);

/* Milliseconds since the Unix epoch, UTC (CLOCK_REALTIME). Thread-safe. */
int64_t clk_wall_ms(void);

/* Sleeps ms milliseconds (<= 0: returns at once), resuming after a signal, so the whole
 * span passes. Thread-safe. */
void clk_sleep_ms(long ms);

/* The absolute time ms milliseconds from now on clock id (CLOCK_REALTIME for a default
 * pthread condition, CLOCK_MONOTONIC for one set up with pthread_condattr_setclock), for
 * pthread_cond_timedwait. ms < 0 counts as 0. */
struct timespec clk_deadline(clockid_t id, long ms);

#endif
