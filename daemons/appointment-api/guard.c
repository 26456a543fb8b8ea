/* guard.c — what stands before the API routes (never the operational ones): the API key
 * first (an unknown key spends no token, so a flood of bad keys cannot starve valid ones),
 * then the caller's own token bucket (its key, or its address when keys are off) and the
 * process's, then the request's AWS time budget, then the key's daily quota. 413 and 415
 * are decided before the guard (run/http_router), so they never cost a quota write. */
#include <stdio.h>
#include <string.h>
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

void api_budget_set(struct api_thread *t, int64_t deadline_ms)
{
	aws_client_set_deadline(ddb_client_core(t->ddb), deadline_ms);
	aws_client_set_deadline(sns_client_core(t->sns), deadline_ms);
}

int api_client_rate(int per_client, int process)
{
	if (per_client > 0)
		return per_client;
	return process / 2 > 0 ? process / 2 : 1;
}

/* The caller's bucket, then the process's: false after filling resp with the 429. */
static bool throttle(struct api_ctx *ctx, const char *client, const struct http_request *req,
		     struct http_response *resp)
{
	uint64_t now = clk_mono_us();
	int wait_s = 1;

	if (ratelimit_clients_take(ctx->client_rl, client, now, &wait_s) &&
	    ratelimit_take(&ctx->rl, now, &wait_s))
		return true;
	http_reply_error(resp, req, APIERR_RATE_LIMIT_EXCEEDED, NULL, NULL);
	retry_after(resp, wait_s);
	return false;
}

bool api_guard(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	const struct conf *cfg = api_cfg(ctx);
	char hash[APIKEYS_HEX_SIZE];
	struct api_thread *t;
	struct errbuf eb = {{0}};
	int64_t count = 0;
	int64_t now_s;
	bool keys;
	bool known = false;
	enum rc rc;

	pthread_rwlock_rdlock(&ctx->keys_lock);
	keys = ctx->keys != NULL;
	if (keys)
		known = apikeys_check(ctx->keys, http_header(req, "X-Api-Key"), hash);
	pthread_rwlock_unlock(&ctx->keys_lock);
	if (keys && !known) {
		http_reply_error(resp, req, APIERR_FORBIDDEN, NULL, NULL);
		return false;
	}
	if (!throttle(ctx, keys ? hash : req->client, req, resp))
		return false;
	t = api_thread_get(ctx, &eb);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return false;
	}
	/* a write (POST, DELETE) answers within its budget whatever AWS does; reads keep the
	 * AWS policy */
	api_budget_set(t, strcmp(req->method, "POST") == 0 || strcmp(req->method, "DELETE") == 0
				  ? clk_mono_ms() + cfg->aws_budget_ms : 0);
	if (!keys)
		return true;
	now_s = clk_wall_ms() / 1000;
	rc = quota_take(t->ddb, cfg->quota_table, hash, now_s, &count, &eb);
	/* only a failure is marked: a success proves the quota table, not the appointments
	 * table /readyz speaks for (a request may end here or in a 4xx) */
	if (rc != RC_OK) {
		api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_IO : rc);
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
