/* quota.h — the per-API-key daily quota of SPEC §3: one counter per key hash and
 * UTC day in the quota table, incremented with an atomic UpdateItem ADD so every
 * API host shares it. */
#ifndef APPT_QUOTA_H
#define APPT_QUOTA_H

#include <stdint.h>

#include "app/apikeys.h"
#include "aws/dynamodb.h"
#include "base/rc.h"

#define QUOTA_TTL_SECONDS (48 * 3600) /* counters are swept 48 h after their day starts */

/* Counts one request of api_key_hash at now_s (epoch seconds) and writes the day's
 * count including it. The caller refuses when *count > the quota. */
enum rc quota_take(struct ddb_client *ddb, const char *table, const char *api_key_hash,
		   int64_t now_s, int64_t *count, struct errbuf *eb) MUSTCHECK;

/* Seconds from now_s to the next UTC midnight (>= 1), for Retry-After. */
int64_t quota_seconds_to_reset(int64_t now_s);

#endif
