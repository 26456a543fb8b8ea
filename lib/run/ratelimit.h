/* ratelimit.h — the per-process token bucket of SPEC §3 (stage rate and burst). */
#ifndef APPT_RATELIMIT_H
#define APPT_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Embedded value: ratelimit_init / ratelimit_cleanup. Thread-safe. */
struct ratelimit {
	pthread_mutex_t lock;
	double rate;        /* tokens added per second */
	double burst;       /* bucket size */
	double tokens;      /* tokens now */
	uint64_t last_usec; /* monotonic time of the last refill */
};

/* Starts full. rate and burst >= 1. now_usec is CLOCK_MONOTONIC in µs. */
void ratelimit_init(struct ratelimit *rl, int rate, int burst, uint64_t now_usec);
void ratelimit_cleanup(struct ratelimit *rl);
/* Changes rate and burst (SIGHUP); tokens are capped to the new burst. */
void ratelimit_set(struct ratelimit *rl, int rate, int burst);
/* Takes one token. False when empty; *retry_after_s then says when one will be
 * there (whole seconds, >= 1), for the Retry-After header. */
bool ratelimit_take(struct ratelimit *rl, uint64_t now_usec, int *retry_after_s);

#endif
