/* rng.h — the one pseudo-random generator of the project, for jitter (backoff delays):
 * xorshift64*, seeded from getrandom(2). Not for secrets: ids come from libuuid and keys
 * from the kernel. */
#ifndef APPT_RNG_H
#define APPT_RNG_H

#include <stdint.h>

/* Generator state; embed one per owner (a client, a connection, a thread): it is not
 * thread-safe, and separate states keep jitter independent. */
struct rng {
	uint64_t s; /* xorshift64* state; never 0 once initialised */
};

/* Seeds r from getrandom(2); without entropy (early boot) from the clock, the pid and
 * salt (any address that differs between owners, may be NULL). Never fails. */
void rng_init(struct rng *r, const void *salt);

/* The next 64 uniformly distributed bits. */
uint64_t rng_next(struct rng *r);

#endif
