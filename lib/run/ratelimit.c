/* ratelimit.c — token buckets refilled lazily from the monotonic clock: the process's, and
 * a bounded table of per-client ones. */
#include "run/ratelimit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_SLOTS 8 /* slots a key may take, from its hash on */

/* One bucket's state; the rate and burst are its owner's. */
struct bucket {
	double tokens;      /* tokens now */
	uint64_t last_usec; /* monotonic time of the last refill */
};

struct client_slot {
	char key[RATELIMIT_CLIENT_KEY]; /* "" = free */
	struct bucket b;
};

struct ratelimit_clients {
	pthread_mutex_t lock;
	double rate;
	double burst;
	struct client_slot slots[RATELIMIT_CLIENTS];
};

/* Refills b up to now and takes a token when there is one. */
static bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now_usec,
			int *retry_after_s)
{
	bool ok;

	if (now_usec > b->last_usec) {
		b->tokens += (double)(now_usec - b->last_usec) / 1e6 * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_usec = now_usec;
	}
	ok = b->tokens >= 1.0;
	if (ok) {
		b->tokens -= 1.0;
	} else if (retry_after_s != NULL) {
		double wait = (1.0 - b->tokens) / rate;

		*retry_after_s = wait < 1.0 ? 1 : (int)ceil(wait);
	}
	return ok;
}

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
	struct bucket b;
	bool ok;

	pthread_mutex_lock(&rl->lock);
	b.tokens = rl->tokens;
	b.last_usec = rl->last_usec;
	ok = bucket_take(&b, rl->rate, rl->burst, now_usec, retry_after_s);
	rl->tokens = b.tokens;
	rl->last_usec = b.last_usec;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

enum rc ratelimit_clients_new(int rate, int burst, struct ratelimit_clients **out)
{
	struct ratelimit_clients *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return RC_NOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->rate = rate;
	t->burst = burst;
	*out = t;
	return RC_OK;
}

void ratelimit_clients_free(struct ratelimit_clients *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void ratelimit_clients_set(struct ratelimit_clients *t, int rate, int burst)
{
	pthread_mutex_lock(&t->lock);
	t->rate = rate;
	t->burst = burst;
	for (size_t i = 0; i < RATELIMIT_CLIENTS; i++)
		if (t->slots[i].b.tokens > burst)
			t->slots[i].b.tokens = burst;
	pthread_mutex_unlock(&t->lock);
}

/* FNV-1a of the first RATELIMIT_CLIENT_KEY - 1 bytes of key. */
static size_t key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < RATELIMIT_CLIENT_KEY - 1 && key[i] != '\0'; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

bool ratelimit_clients_take(struct ratelimit_clients *t, const char *key, uint64_t now_usec,
			    int *retry_after_s)
{
	size_t start = key_hash(key);
	struct client_slot *slot = NULL;
	struct client_slot *victim = NULL;
	bool ok;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < PROBE_SLOTS && slot == NULL; i++) {
		struct client_slot *s = &t->slots[(start + i) % RATELIMIT_CLIENTS];

		if (s->key[0] != '\0' && strncmp(s->key, key, RATELIMIT_CLIENT_KEY - 1) == 0)
			slot = s;
		else if (victim == NULL || s->key[0] == '\0' ||
			 (victim->key[0] != '\0' && s->b.last_usec < victim->b.last_usec))
			victim = s;
	}
	if (slot == NULL) {
		slot = victim;
		snprintf(slot->key, sizeof(slot->key), "%.*s", RATELIMIT_CLIENT_KEY - 1, key);
		slot->b.tokens = t->burst;
		slot->b.last_usec = now_usec;
	}
	ok = bucket_take(&slot->b, t->rate, t->burst, now_usec, retry_after_s);
	pthread_mutex_unlock(&t->lock);
	return ok;
}
