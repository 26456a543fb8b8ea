/* backoff.c — exponential ceiling, uniform jitter between the floor and it. */
#include "base/backoff.h"

long backoff_delay(const struct backoff *b, int failures, uint64_t rnd)
{
	long ceiling = b->base;
	long lo;

	if (ceiling <= 0 || b->cap <= 0)
		return 0;
	/* doubling stops at the cap, so it cannot overflow */
	for (int i = 1; i < failures && ceiling < b->cap; i++)
		ceiling = ceiling > b->cap / 2 ? b->cap : ceiling * 2;
	if (ceiling > b->cap)
		ceiling = b->cap;
	lo = b->floor < 0 ? 0 : b->floor > ceiling ? ceiling : b->floor;
	return lo + (long)(rnd % ((uint64_t)(ceiling - lo) + 1));
}
