/* qdaemon.c — a queue daemon's parts of the lifecycle (run/lifecycle): the optional
 * /metrics listener, a queue URL that may take a while to resolve when SQS is down at boot
 * (the daemon waits instead of failing), the consumer, its progress for the watchdog and
 * its drain. */
#include "run/qdaemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsmetrics.h"
#include "aws/sqs_queues.h"
#include "base/str.h"
#include "run/http.h"
#include "run/lifecycle.h"

#define RESOLVE_PAUSE_MS 2000 /* between GetQueueUrl attempts while SQS is down */

/* A queue daemon's context (lifecycle_app's app pointer). */
struct qdaemon {
	const struct qdaemon_app *app;
	struct lifecycle *lc;
	const struct conf *cfg;     /* the configuration of setup (lives until exit) */
	struct logger *lg;
	struct svc *svc;
	struct http_server *http;
	struct consumer *consumer;
	struct consumer_opts co;    /* the handler setup gave */
	struct qdaemon_queue queue;
	char queue_url[SQS_URL_MAX];
	void *app_ctx;
};

static void on_metrics(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct qdaemon *d = ud;
	struct buf b;

	buf_init(&b, 4u << 20);
	if (metrics_render(lifecycle_metrics(d->lc), &b) != RC_OK) {
		buf_cleanup(&b);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, 200, buf_take(&b));
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void on_health(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct qdaemon *d = ud;
	bool ok = d->consumer != NULL && consumer_healthy(d->consumer);

	(void)req;
	http_reply(resp, ok ? 200 : 503,
		   strdup(ok ? "{\"status\":\"ok\"}" : "{\"status\":\"stalled\"}"));
}

static const struct http_route metrics_routes[] = {
	{"GET", "/metrics", on_metrics, false, true},
	{"GET", "/healthz", on_health, false, true},
};

static enum rc start_metrics(struct qdaemon *d, struct errbuf *eb)
{
	struct http_opts o = {0};
	enum rc rc;

	if (d->cfg->metrics_listen[0] == '\0')
		return RC_OK;
	rc = http_listen(d->cfg->metrics_listen, false, &o.listen_fd, eb);
	if (rc != RC_OK)
		return rc;
	o.threads = 1;
	o.body_limit = 1024;
	o.connection_timeout_s = 10;
	o.connection_limit = 64;
	o.routes = metrics_routes;
	o.n_routes = sizeof(metrics_routes) / sizeof(metrics_routes[0]);
	o.ud = d;
	o.lg = d->lg;
	o.metrics = lifecycle_metrics(d->lc);
	o.cors_origins = "*";
	return http_server_start(&o, &d->http, eb);
}

/* One failed attempt of a wait at start for what ("SQS queue X"): logged, in STATUS=, then
 * a pause; false when a stop came during it. */
static bool wait_again(struct qdaemon *d, const char *what, const char *why)
{
	enum svc_event ev;

	log_emit_err(d->lg, LOG_LVL_WARN, why, "waiting for %s; retrying", what);
	svc_status(d->svc, "waiting for %s: %s", what, why);
	ev = svc_wait(d->svc, RESOLVE_PAUSE_MS);
	if (ev == SVC_EV_RELOAD)
		svc_defer_reload(d->svc); /* applied once running: the file may have changed */
	if (ev == SVC_EV_STOP || ev == SVC_EV_STOP_NOW)
		return false;
	svc_watchdog(d->svc);
	return true;
}

/* The app's prepare, its transient failures waited out. RC_NOTFOUND when a stop came. */
static enum rc prepare_app(struct qdaemon *d, struct errbuf *eb)
{
	enum rc rc;

	if (d->app->prepare == NULL)
		return RC_OK;
	for (;;) {
		rc = d->app->prepare(d->app_ctx, eb);
		if (!rc_transient(rc))
			return rc;
		if (!wait_again(d, d->app->prepare_what, eb->msg))
			return RC_NOTFOUND;
	}
}

/* Resolves the queue URL, waiting out an SQS outage; false when asked to stop. */
static bool resolve_queue(struct qdaemon *d)
{
	struct sqs_client *sqs;
	struct errbuf eb = {{0}};
	struct aws_error err;
	char what[SQS_NAME_MAX + 32];
	bool ok = true;

	if (d->queue.url != NULL && d->queue.url[0] != '\0') {
		/* the key's limit is SQS_URL_MAX - 1: it fits */
		return str_copy(d->queue_url, sizeof(d->queue_url), d->queue.url);
	}
	(void)str_cut(what, sizeof(what), "SQS queue %s", d->queue.name);
	sqs = sqs_client_new(lifecycle_aws(d->lc), &eb);
	while (ok) {
		if (sqs != NULL && sqs_get_queue_url(sqs, d->queue.name, d->queue_url, &err) == RC_OK)
			break;
		if (sqs != NULL)
			aws_error_to_eb(&err, &eb);
		ok = wait_again(d, what, eb.msg);
	}
	sqs_client_free(sqs);
	return ok;
}

/* ---- the lifecycle's parts ------------------------------------------------------------- */

static enum rc q_setup(struct lifecycle *lc, const void *ud, void **out, struct errbuf *eb)
{
	const struct qdaemon_app *app = ud;
	struct qdaemon *d = calloc(1, sizeof(*d));
	struct qdaemon_env env;
	struct metrics *m = lifecycle_metrics(lc);
	enum rc rc;

	*out = NULL;
	if (d == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	d->app = app;
	d->lc = lc;
	d->cfg = lifecycle_conf(lc);
	d->lg = lifecycle_log(lc);
	d->svc = lifecycle_svc(lc);
	*out = d;
	rc = consumer_metrics_describe(m);
	if (rc == RC_OK)
		rc = http_metrics_describe(m);
	if (rc == RC_OK)
		rc = awsmetrics_describe(m);
	if (rc != RC_OK)
		return eb_set(eb, rc, "out of memory");
	env.cfg = d->cfg;
	env.args = lifecycle_args(lc);
	env.aws = lifecycle_aws(lc);
	env.lg = d->lg;
	env.metrics = m;
	return app->setup(&env, &d->app_ctx, &d->co, &d->queue, eb);
}

static enum rc q_start(void *ctx, char *status, size_t n, struct errbuf *eb)
{
	struct qdaemon *d = ctx;
	struct consumer_opts co = d->co;
	enum rc rc;

	/* first: an app's prepare may change the environment, which no thread may read then */
	rc = prepare_app(d, eb);
	if (rc != RC_OK)
		return rc;
	if (start_metrics(d, eb) != RC_OK) {
		eb_prefix(eb, "cannot serve metrics on %s", d->cfg->metrics_listen);
		return RC_FATAL;
	}
	if (!resolve_queue(d))
		return RC_NOTFOUND;
	co.queue_url = d->queue_url;
	co.queue_label = d->queue.label;
	co.max_in_flight = d->cfg->max_in_flight;
	co.wait_seconds = d->cfg->wait_seconds;
	co.visibility_timeout = d->cfg->visibility_timeout;
	co.max_receive_count = d->cfg->max_receive_count;
	co.backoff_min_seconds = d->cfg->backoff_min_seconds;
	co.backoff_max_seconds = d->cfg->backoff_max_seconds;
	co.aws = lifecycle_aws(d->lc);
	co.lg = d->lg;
	co.metrics = lifecycle_metrics(d->lc);
	rc = consumer_start(&co, &d->consumer, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "cannot start consuming %s", d->queue.label);
		return rc;
	}
	log_info(d->lg, NULL, "consuming %s (%d in flight at most)", d->queue_url, co.max_in_flight);
	(void)str_cut(status, n, "consuming %s", d->queue.label);
	return RC_OK;
}

static bool q_tick(void *ctx, char *status, size_t n)
{
	struct qdaemon *d = ctx;
	char state[160];

	consumer_state(d->consumer, state, sizeof(state));
	(void)str_cut(status, n, "%s %s: %u in flight, %llu handled", state, d->queue.label,
		      consumer_in_flight(d->consumer),
		      (unsigned long long)consumer_handled(d->consumer));
	/* the receiver's sign of life (a receive returned, or it waited for busy workers), and no
	 * handler running past its bound (hung: then the watchdog must fire) */
	return consumer_healthy(d->consumer);
}

static void q_quiesce(void *ctx)
{
	struct qdaemon *d = ctx;

	consumer_stop(d->consumer);
}

static bool q_drain(void *ctx, int timeout_ms)
{
	struct qdaemon *d = ctx;

	return consumer_wait(d->consumer, timeout_ms);
}

static unsigned q_in_flight(void *ctx)
{
	struct qdaemon *d = ctx;

	return consumer_in_flight(d->consumer);
}

/* [worker] drain_timeout_ms: 50 s by default, below the units' TimeoutStopSec=60s */
static int q_drain_ms(const struct conf *c)
{
	return c->worker_drain_timeout_ms;
}

/* The drain timed out: the consumer's deletes and releases go out; the handlers still
 * running, and everything they use (the app's context, the consumer), are left to the exit. */
static unsigned q_abandon(void *ctx, int timeout_ms)
{
	struct qdaemon *d = ctx;

	return consumer_abandon(d->consumer, timeout_ms);
}

static void q_teardown(void *ctx)
{
	struct qdaemon *d = ctx;

	consumer_free(d->consumer);
	http_server_free(d->http);
	if (d->app_ctx != NULL)
		d->app->teardown(d->app_ctx);
	free(d);
}

long qdaemon_aws_call_max_ms(const struct aws_config *aws)
{
	return aws->retry_budget_ms + aws->request_timeout_ms +
	       3L * aws->imds_timeout_ms * aws->max_attempts;
}

int qdaemon_main(int argc, char **argv, const struct qdaemon_app *app)
{
	const struct lifecycle_app lapp = {
		.service = app->service,
		.usage_extra = app->usage_extra,
		.needs_country = app->needs_country,
		.ud = app,
		.setup = q_setup,
		.start = q_start,
		.tick = q_tick,
		.drain_ms = q_drain_ms,
		.quiesce = q_quiesce,
		.drain = q_drain,
		.in_flight = q_in_flight,
		.abandon = q_abandon,
		.teardown = q_teardown,
	};

	return lifecycle_main(argc, argv, &lapp);
}
