/* ops.c — the operational routes: /healthz, /readyz (probing DynamoDB and the SNS topic of
 * every country when no call to it succeeded lately, and each topic's subscriptions every
 * 30 s: at most once a second, each look within 400 ms, all within 800 ms), /metrics.
 * Never behind keys or throttling. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "aws/dynamodb_tables.h"
#include "base/clock.h"
#include "base/jx.h"
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

/* A topic is ready while a call to it succeeded lately and the last look at it found a
 * subscription (a topic without one takes every Publish and delivers it nowhere). */
static bool topic_ready(const struct api_topic *tp, long long now)
{
	return recent_ok(&tp->dep, now) && atomic_load(&tp->usable);
}

/* The last look that found a subscription is older than the window: a topic deleted and
 * made again empty since keeps its ARN, and its publishes succeed, so only a look tells. */
static bool look_due(const struct api_topic *tp, long long now)
{
	return now - atomic_load(&tp->looked_ms) > API_READY_WINDOW_MS;
}

/* Every country's topic is ready: one failing topic fails every POST of its country. */
static bool topics_ok(const struct api_ctx *ctx, long long now)
{
	for (size_t i = 0; i < ctx->n_countries; i++)
		if (!topic_ready(&ctx->topics[i], now))
			return false;
	return true;
}

static bool looks_due(const struct api_ctx *ctx, long long now)
{
	for (size_t i = 0; i < ctx->n_countries; i++)
		if (look_due(&ctx->topics[i], now))
			return true;
	return false;
}

/* The deadline of the next call of a probe that must end by end (monotonic ms): its own
 * API_PROBE_DEADLINE_MS, cut to end (*cut); 0 when less than API_PROBE_MIN_MS is left. */
static int64_t call_deadline(int64_t end, bool *cut)
{
	int64_t now = clk_mono_ms();

	*cut = now + API_PROBE_DEADLINE_MS > end;
	if (end - now < API_PROBE_MIN_MS)
		return 0;
	return *cut ? end : now + API_PROBE_DEADLINE_MS;
}

/* Logs what a probe found of d (country NULL: DynamoDB) when it changes: the 503 body says
 * only "failing", the line says why; once per outage, not once a second. */
static void probe_note(struct api_ctx *ctx, struct api_dep *d, bool up, const char *country,
		       const char *why)
{
	struct log_fields f = {.country = country, .error = why, .duration_ms = -1};

	if (up == !d->probe_failing)
		return;
	d->probe_failing = !up;
	if (up)
		log_info(ctx->lg, &f, "/readyz: %s%s answers again",
			 country != NULL ? "the SNS topic of " : "DynamoDB",
			 country != NULL ? country : "");
	else
		log_warn(ctx->lg, &f, "/readyz: %s%s fails",
			 country != NULL ? "the SNS topic of " : "DynamoDB",
			 country != NULL ? country : "");
}

/* DescribeTable of the appointments table, unless DynamoDB is ready. The first call of a
 * probe: it always has its whole API_PROBE_DEADLINE_MS. */
static void probe_table(struct api_ctx *ctx, struct api_thread *t, long long now)
{
	struct ddb_table_info info;
	struct errbuf eb = {{0}};
	enum rc rc;

	if (recent_ok(&ctx->ddb_dep, now)) {
		probe_note(ctx, &ctx->ddb_dep, true, NULL, NULL);
		return;
	}
	api_budget_set(t, clk_mono_ms() + API_PROBE_DEADLINE_MS);
	rc = ddb_describe_table(t->ddb, api_cfg(ctx)->table_name, &info, &eb);
	/* unlike a missing item, a missing table (deleted, misnamed) is no proof of health:
	 * every call the API makes on it fails (api_dep_mark would count the answer) */
	api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_IO : rc);
	probe_note(ctx, &ctx->ddb_dep, recent_ok(&ctx->ddb_dep, clk_mono_ms()), NULL, eb.msg);
}

/* A look at topic tp (api_topic_look: its ARN, GetTopicAttributes, its subscriptions)
 * unless it is ready and was looked at lately. False when the probe's budget (ending at
 * end) left no time for a verdict: a look not made, or one cut short that timed out, which
 * says nothing of the topic. A wait for another thread's look (a POST's first) that ran
 * out is no verdict either: that look marks the topic itself when it ends. */
static bool probe_topic(struct api_ctx *ctx, struct api_thread *t, struct api_topic *tp,
			long long now, int64_t end)
{
	struct errbuf eb = {{0}};
	int64_t deadline;
	bool cut = false;
	bool busy = false;
	enum rc rc;

	if (topic_ready(tp, now) && !look_due(tp, now)) {
		probe_note(ctx, &tp->dep, true, tp->code, NULL);
		return true;
	}
	deadline = call_deadline(end, &cut);
	if (deadline == 0)
		return false;
	api_budget_set(t, deadline);
	rc = api_topic_look(ctx, t, tp->code, &busy, &eb);
	if (busy)
		return true;
	if (cut && rc == RC_TIMEOUT)
		return false;
	api_topic_mark(ctx, tp->code, rc);
	probe_note(ctx, &tp->dep, rc == RC_OK, tp->code, eb.msg);
	return true;
}

/* Cheap calls that prove each dependency that is not ready answers: DynamoDB, then the topic
 * of each country that is not ready or due for a look (GetTopicAttributes, and
 * ListSubscriptionsByTopic when that counts no subscription), each within
 * API_PROBE_DEADLINE_MS and all within API_PROBE_BUDGET_MS. Topics the budget does not reach keep their state (not ready, if
 * stale) and come first in the next probe, so with every dependency hanging each is
 * probed within a few seconds. The caller holds ctx->probing. */
static void probe(struct api_ctx *ctx, struct api_thread *t, long long now)
{
	int64_t end = clk_mono_ms() + API_PROBE_BUDGET_MS;
	size_t n = ctx->n_countries;
	size_t first = n > 0 ? ctx->probe_next % n : 0;

	probe_table(ctx, t, now);
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;

		if (!probe_topic(ctx, t, &ctx->topics[i], now, end)) {
			ctx->probe_next = i;
			break;
		}
	}
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
		probe(ctx, t, now);
	atomic_store(&ctx->probing, false);
}

/* The body of /readyz: status, failing (when not ready: "dynamodb", "sns" or both),
 * dependencies (each "ok" or "failing"; sns is every topic together) and topics (the SNS
 * topic of each country, by code, in configuration order: topic_up[i] is ctx->topics[i]'s
 * state). NULL when out of memory. */
static char *readyz_body(const struct api_ctx *ctx, bool ddb, bool sns, const bool *topic_up)
{
	struct jx_member topics[CONF_MAX_COUNTRIES];
	const struct jx_member deps[] = {
		{.key = "dynamodb", .type = JX_STR, .s = ddb ? "ok" : "failing"},
		{.key = "sns", .type = JX_STR, .s = sns ? "ok" : "failing"},
	};
	const struct jx_member m[] = {
		{.key = "status", .type = JX_STR, .s = ddb && sns ? "ready" : "not ready"},
		{.key = "failing", .type = JX_STR, .omit = ddb && sns,
		 .s = !ddb && !sns ? "dynamodb,sns" : !ddb ? "dynamodb" : "sns"},
		{.key = "dependencies", .type = JX_OBJ, .sub = deps, .nsub = JX_COUNT(deps)},
		{.key = "topics", .type = JX_OBJ, .sub = topics, .nsub = ctx->n_countries},
	};
	char *text = NULL;

	for (size_t i = 0; i < ctx->n_countries; i++)
		topics[i] = (struct jx_member){
			.key = ctx->topics[i].code, .type = JX_STR,
			.s = topic_up[i] ? "ok" : "failing"};
	if (jx_build_text(m, JX_COUNT(m), &text) != RC_OK)
		return NULL;
	return text;
}

void api_readyz(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	long long now = clk_mono_ms();
	bool topic_up[CONF_MAX_COUNTRIES];
	bool sns = true;
	char *body;
	bool ddb;

	if (atomic_load(&ctx->stopping)) {
		/* the lame duck of a stop: still serving, but take this host out */
		http_reply(resp, 503, strdup("{\"status\":\"stopping\"}"));
		http_add_header(resp, "Retry-After", "5");
		return;
	}
	if (!recent_ok(&ctx->ddb_dep, now) || !topics_ok(ctx, now) || looks_due(ctx, now)) {
		probe_maybe(ctx, now);
		now = clk_mono_ms();
	}
	/* each state read once: a call marking a topic meanwhile must not make the status
	 * and the body disagree */
	ddb = recent_ok(&ctx->ddb_dep, now);
	for (size_t i = 0; i < ctx->n_countries; i++) {
		topic_up[i] = topic_ready(&ctx->topics[i], now);
		sns = sns && topic_up[i];
	}
	body = readyz_body(ctx, ddb, sns, topic_up);
	if (body == NULL) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, ddb && sns ? 200 : 503, body);
	if (!(ddb && sns))
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
