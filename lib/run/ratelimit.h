/* ratelimit.h — the token buckets of SPEC §3: one per process (stage rate and burst) and
 * one per client (an API key, or a client address when keys are off), so one caller
 * cannot take every token. */
#ifndef APPT_RATELIMIT_H
#define APPT_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/rc.h"

#define RATELIMIT_CLIENTS 4096   /* clients tracked at once; a new one evicts a stale one */
#define RATELIMIT_CLIENT_KEY 72  /* bytes of a client key kept (a SHA-256 hex, an address) */

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

/* Per-client buckets, bounded: RATELIMIT_CLIENTS slots found by a hash of the key; a
 * client not seen yet starts with a full bucket and takes the least recently used of the
 * slots it may go to. Thread-safe. */
struct ratelimit_clients;

/* rate and burst >= 1. RC_NOMEM. */
enum rc ratelimit_clients_new(int rate, int burst, struct ratelimit_clients **out) MUSTCHECK;
/* Accepts NULL. */
void ratelimit_clients_free(struct ratelimit_clients *t);
/* Changes rate and burst of every bucket (SIGHUP). */
void ratelimit_clients_set(struct ratelimit_clients *t, int rate, int burst);
/* Takes one token from key's bucket (key borrowed; longer than RATELIMIT_CLIENT_KEY - 1
 * is told apart by its first bytes only). As ratelimit_take otherwise. */
bool ratelimit_clients_take(struct ratelimit_clients *t, const char *key, uint64_t now_usec,
			    int *retry_after_s);

#endif
