/* backoff.h — the one retry delay rule of the project: exponential growth with jitter.
 * The AWS client (full jitter), the PostgreSQL reconnect and the SQS consumer's visibility
 * backoff all use it; only their bounds differ. */
#ifndef APPT_BACKOFF_H
#define APPT_BACKOFF_H

#include <stdint.h>

/* Bounds of one backoff, in the caller's unit (ms, s). */
struct backoff {
	long base;  /* ceiling after the first failure; <= 0 means no delay at all */
	long cap;   /* largest ceiling */
	long floor; /* shortest delay (0 = full jitter); a ceiling below it wins */
};

/* The delay after `failures` consecutive failures (values below 1 count as 1): uniform in
 * [min(floor, c), c] where c = min(cap, base * 2^(failures - 1)). rnd is 64 random bits
 * (rng_next). Never negative, never above max(cap, 0). Pure; thread-safe. */
long backoff_delay(const struct backoff *b, int failures, uint64_t rnd);

#endif
