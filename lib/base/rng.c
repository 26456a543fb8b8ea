/* rng.c — xorshift64* (Vigna 2016): fast, 2^64-1 period, good enough for jitter. */
#include "base/rng.h"

#include <sys/random.h>
#include <unistd.h>

#include "base/clock.h"

#define RNG_FALLBACK_SEED UINT64_C(0x9E3779B97F4A7C15) /* any non-zero constant */

void rng_init(struct rng *r, const void *salt)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = clk_mono_us() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)salt;
	r->s = seed != 0 ? seed : RNG_FALLBACK_SEED;
}

uint64_t rng_next(struct rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}
