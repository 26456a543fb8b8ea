/* ops.c — the operational routes: /healthz, /readyz (probing DynamoDB and SNS, at most
 * once a second and each call within 400 ms, when no call succeeded lately), /metrics.
 * Never behind keys or throttling. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "aws/dynamodb_tables.h"
#include "base/clock.h"
#include "domain/timeutil.h"

void api_healthz(void *ud, const struct http_request *req, struct http_response *resp)
{
	(void)ud;
	(void)req;
	http_reply(resp, 200, strdup("{\"status\":\"ok\"}"));
}

static bool recent_ok(const struct api_dep *d, long long now)
{
	long long ok = atomic_load(&d->last_ok_ms);
	long long fail = atomic_load(&d->last_fail_ms);

	return ok != 0 && now - ok <= API_READY_WINDOW_MS && ok >= fail;
}

/* Cheap calls that prove each dependency answers, each within API_PROBE_DEADLINE_MS. */
static void probe(struct api_ctx *ctx, struct api_thread *t)
{
	const struct conf *cfg = api_cfg(ctx);
	struct ddb_table_info info;
	struct sns_attrs attrs = {0};
	struct errbuf eb = {{0}};
	struct aws_error err;
	const char *arn = NULL;
	enum rc rc;

	api_budget_set(t, clk_mono_ms() + API_PROBE_DEADLINE_MS);
	rc = ddb_describe_table(t->ddb, cfg->table_name, &info, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	api_budget_set(t, clk_mono_ms() + API_PROBE_DEADLINE_MS);
	rc = api_topic_arn(ctx, t, cfg->countries[0].code, &arn, &eb);
	if (rc == RC_OK)
		rc = sns_get_topic_attributes(t->sns, arn, &attrs, &err);
	sns_attrs_cleanup(&attrs);
	api_dep_mark(&ctx->sns_dep, rc);
	api_budget_set(t, 0);
}

/* Probes unless a probe ran within API_PROBE_EVERY_MS or runs now on another thread: a
 * flood of /readyz costs at most one probe a second, and none waits for another's. */
static void probe_maybe(struct api_ctx *ctx, long long now)
{
	struct errbuf eb = {{0}};
	struct api_thread *t;
	bool idle = false;

	if (now - atomic_load(&ctx->last_probe_ms) < API_PROBE_EVERY_MS ||
	    !atomic_compare_exchange_strong(&ctx->probing, &idle, true))
		return;
	atomic_store(&ctx->last_probe_ms, now);
	t = api_thread_get(ctx, &eb);
	if (t != NULL)
		probe(ctx, t);
	atomic_store(&ctx->probing, false);
}

void api_readyz(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	long long now = clk_mono_ms();
	char body[256];
	bool ddb;
	bool sns;

	(void)req;
	if (atomic_load(&ctx->stopping)) {
		/* the lame duck of a stop: still serving, but take this host out */
		http_reply(resp, 503, strdup("{\"status\":\"stopping\"}"));
		http_add_header(resp, "Retry-After", "5");
		return;
	}
	if (!recent_ok(&ctx->ddb_dep, now) || !recent_ok(&ctx->sns_dep, now)) {
		probe_maybe(ctx, now);
		now = clk_mono_ms();
	}
	ddb = recent_ok(&ctx->ddb_dep, now);
	sns = recent_ok(&ctx->sns_dep, now);
	if (ddb && sns) {
		http_reply(resp, 200, strdup("{\"status\":\"ready\",\"dependencies\":{\"dynamodb\":\"ok\",\"sns\":\"ok\"}}"));
		return;
	}
	snprintf(body, sizeof(body),
		 "{\"status\":\"not ready\",\"failing\":\"%s%s%s\",\"dependencies\":{\"dynamodb\":\"%s\",\"sns\":\"%s\"}}",
		 ddb ? "" : "dynamodb", !ddb && !sns ? "," : "", sns ? "" : "sns", ddb ? "ok" : "failing",
		 sns ? "ok" : "failing");
	http_reply(resp, 503, strdup(body));
	http_add_header(resp, "Retry-After", "5");
}

void api_metrics(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	struct buf b;

	(void)req;
	buf_init(&b, 4u << 20);
	if (metrics_render(ctx->metrics, &b) != RC_OK) {
		buf_cleanup(&b);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, 200, buf_take(&b));
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
