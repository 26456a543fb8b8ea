/* guard.c — what stands before the API routes (never the operational ones):
 * the token bucket, the API key and its daily quota, in that order so a flood of
 * bad keys is throttled before it costs a DynamoDB write. */
#include <stdio.h>
#include <time.h>

#include "api.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/timeutil.h"
#include "app/quota.h"

static void retry_after(struct http_response *resp, long long seconds)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", seconds);
	http_add_header(resp, "Retry-After", v);
}

bool api_guard(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	const struct conf *cfg = api_cfg(ctx);
	char hash[APIKEYS_HEX_SIZE];
	struct api_thread *t;
	struct errbuf eb = {{0}};
	int wait_s = 1;
	int64_t count = 0;
	int64_t now_s;
	bool known;
	enum rc rc;

	if (!ratelimit_take(&ctx->rl, clk_mono_us(), &wait_s)) {
		http_reply_error(resp, req, APIERR_RATE_LIMIT_EXCEEDED, NULL, NULL);
		retry_after(resp, wait_s);
		return false;
	}
	pthread_rwlock_rdlock(&ctx->keys_lock);
	if (ctx->keys == NULL) {
		pthread_rwlock_unlock(&ctx->keys_lock);
		return true;
	}
	known = apikeys_check(ctx->keys, http_header(req, "X-Api-Key"), hash);
	pthread_rwlock_unlock(&ctx->keys_lock);
	if (!known) {
		http_reply_error(resp, req, APIERR_FORBIDDEN, NULL, NULL);
		return false;
	}
	t = api_thread_get(ctx, &eb);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return false;
	}
	now_s = clk_wall_ms() / 1000;
	rc = quota_take(t->ddb, cfg->quota_table, hash, now_s, &count, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		/* the quota store is DynamoDB: when it is down, so is the API's write path */
		str_cut(resp->error, sizeof(resp->error), "quota: %s", eb.msg);
		http_reply_error(resp, req, APIERR_SERVICE_UNAVAILABLE, NULL, NULL);
		retry_after(resp, 5);
		return false;
	}
	if (count > cfg->key_quota_per_day) {
		http_reply_error(resp, req, APIERR_QUOTA_EXCEEDED, NULL, NULL);
		retry_after(resp, quota_seconds_to_reset(now_s));
		return false;
	}
	return true;
}
