/* ops.c — the operational routes: /healthz, /readyz (probing DynamoDB and SNS when
 * no call succeeded lately), /metrics. Never behind keys or throttling. */
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

/* Cheap calls that prove each dependency answers. */
static void probe(struct api_ctx *ctx, struct api_thread *t)
{
	const struct conf *cfg = api_cfg(ctx);
	struct ddb_table_info info;
	struct sns_attrs attrs = {0};
	struct errbuf eb = {{0}};
	struct aws_error err;
	const char *arn = NULL;
	enum rc rc;

	rc = ddb_describe_table(t->ddb, cfg->table_name, &info, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	rc = api_topic_arn(ctx, t, cfg->countries[0].code, &arn, &eb);
	if (rc == RC_OK)
		rc = sns_get_topic_attributes(t->sns, arn, &attrs, &err);
	sns_attrs_cleanup(&attrs);
	api_dep_mark(&ctx->sns_dep, rc);
}

void api_readyz(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	long long now = clk_mono_ms();
	struct errbuf eb = {{0}};
	struct api_thread *t;
	char body[256];
	bool ddb;
	bool sns;

	(void)req;
	if (!recent_ok(&ctx->ddb_dep, now) || !recent_ok(&ctx->sns_dep, now)) {
		t = api_thread_get(ctx, &eb);
		if (t != NULL)
			probe(ctx, t);
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
