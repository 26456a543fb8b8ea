/* ratelimit.c — token bucket refilled lazily from the monotonic clock. */
#include "run/ratelimit.h"

#include <math.h>

void ratelimit_init(struct ratelimit *rl, int rate, int burst, uint64_t now_usec)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst = burst;
	rl->tokens = burst;
	rl->last_usec = now_usec;
}

void ratelimit_cleanup(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

void ratelimit_set(struct ratelimit *rl, int rate, int burst)
{
	pthread_mutex_lock(&rl->lock);
	rl->rate = rate;
	rl->burst = burst;
	if (rl->tokens > burst)
		rl->tokens = burst;
	pthread_mutex_unlock(&rl->lock);
}

bool ratelimit_take(struct ratelimit *rl, uint64_t now_usec, int *retry_after_s)
{
	bool ok;

	pthread_mutex_lock(&rl->lock);
	if (now_usec > rl->last_usec) {
		rl->tokens += (double)(now_usec - rl->last_usec) / 1e6 * rl->rate;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_usec = now_usec;
	}
	ok = rl->tokens >= 1.0;
	if (ok) {
		rl->tokens -= 1.0;
	} else if (retry_after_s != NULL) {
		double wait = (1.0 - rl->tokens) / rl->rate;

		*retry_after_s = wait < 1.0 ? 1 : (int)ceil(wait);
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
