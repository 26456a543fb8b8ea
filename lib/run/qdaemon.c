/* qdaemon.c — startup order (signals blocked and curl initialised before any
 * thread), a queue URL that may take a while to resolve when SQS is down at boot
 * (the daemon waits instead of failing), then the consumer under svc_run. */
#include "run/qdaemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/awscfg.h"
#include "aws/awsmetrics.h"
#include "aws/sqs_queues.h"
#include "run/http.h"

#define RESOLVE_PAUSE_MS 2000 /* between GetQueueUrl attempts while SQS is down */

/* Everything the daemon owns; one per process. */
struct qdaemon {
	const struct qdaemon_app *app;
	struct conf *cfg;
	struct svc_args args;
	struct logger lg;
	struct svc svc;
	struct aws_config aws;
	struct metrics *metrics;
	struct http_server *http;
	struct consumer *consumer;
	struct qdaemon_queue queue;
	char queue_url[SQS_URL_MAX];
	void *app_ctx;
};

static void on_metrics(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct qdaemon *d = ud;
	struct buf b;

	buf_init(&b, 4u << 20);
	if (metrics_render(d->metrics, &b) != RC_OK) {
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
	rc = http_listen(d->cfg->metrics_listen, &o.listen_fd, eb);
	if (rc != RC_OK)
		return rc;
	o.threads = 1;
	o.body_limit = 1024;
	o.connection_timeout_s = 10;
	o.connection_limit = 64;
	o.routes = metrics_routes;
	o.n_routes = sizeof(metrics_routes) / sizeof(metrics_routes[0]);
	o.ud = d;
	o.lg = &d->lg;
	o.metrics = d->metrics;
	o.cors_origins = "*";
	return http_server_start(&o, &d->http, eb);
}

/* Resolves the queue URL, waiting out an SQS outage; false when asked to stop. */
static bool resolve_queue(struct qdaemon *d)
{
	struct sqs_client *sqs;
	struct errbuf eb = {{0}};
	struct aws_error err;

	if (d->queue.url != NULL && d->queue.url[0] != '\0') {
		snprintf(d->queue_url, sizeof(d->queue_url), "%s", d->queue.url);
		return true;
	}
	sqs = sqs_client_new(&d->aws, &eb);
	for (;;) {
		enum svc_event ev;

		if (sqs != NULL && sqs_get_queue_url(sqs, d->queue.name, d->queue_url, &err) == RC_OK)
			break;
		if (sqs != NULL)
			aws_error_to_eb(&err, &eb);
		log_emit_err(&d->lg, LOG_LVL_WARN, eb.msg, "resolving queue %s failed; retrying",
			     d->queue.name);
		svc_status(&d->svc, "waiting for SQS queue %s: %s", d->queue.name, eb.msg);
		ev = svc_wait(&d->svc, RESOLVE_PAUSE_MS);
		if (ev == SVC_EV_STOP || ev == SVC_EV_STOP_NOW) {
			sqs_client_free(sqs);
			return false;
		}
		svc_watchdog(&d->svc);
	}
	sqs_client_free(sqs);
	return true;
}

static bool on_tick(void *ud)
{
	struct qdaemon *d = ud;
	char state[160];
	bool healthy = consumer_healthy(d->consumer);

	consumer_state(d->consumer, state, sizeof(state));
	svc_status(&d->svc, "%s %s: %u in flight, %llu handled", state, d->queue.label,
		   consumer_in_flight(d->consumer),
		   (unsigned long long)consumer_handled(d->consumer));
	if (!healthy)
		log_error(&d->lg, NULL, "the receiver of %s made no progress; watchdog pings stop",
			  d->queue.label);
	return healthy;
}

/* SIGHUP: the consumer's settings need a restart; the log level does not. */
static void on_reload(void *ud)
{
	struct qdaemon *d = ud;
	struct conf *next = NULL;
	struct errbuf eb = {{0}};
	char ignored[512];

	if (conf_reload(d->cfg, NULL, &next, ignored, sizeof(ignored), &eb) != RC_OK) {
		log_emit_err(&d->lg, LOG_LVL_ERROR, eb.msg, "reload failed; the running configuration stays");
		return;
	}
	if (ignored[0] != '\0')
		log_warn(&d->lg, NULL, "reload: these keys need a restart and were not applied: %s",
			 ignored);
	log_set_level(&d->lg, next->log_level);
	conf_free(next);
	log_info(&d->lg, NULL, "configuration reloaded");
}

static int run(struct qdaemon *d)
{
	struct qdaemon_env env = {d->cfg, &d->args, &d->aws, &d->lg, d->metrics};
	struct consumer_opts co = {0};
	struct svc_hooks hooks = {d, on_tick, on_reload};
	struct errbuf eb = {{0}};
	enum rc rc;

	rc = d->app->setup(&env, &d->app_ctx, &co, &d->queue, &eb);
	if (rc != RC_OK) {
		fprintf(stderr, "%s: %s%s\n", d->app->service,
			rc == RC_INVAL ? "configuration error: " : "startup failed: ", eb.msg);
		return rc == RC_INVAL ? SVC_EXIT_CONFIG : SVC_EXIT_FAILURE;
	}
	if (d->args.check_only)
		return SVC_EXIT_OK;
	if (start_metrics(d, &eb) != RC_OK) {
		log_emit_err(&d->lg, LOG_LVL_ERROR, eb.msg, "cannot serve metrics on %s",
			     d->cfg->metrics_listen);
		return SVC_EXIT_FAILURE;
	}
	if (!resolve_queue(d))
		return SVC_EXIT_OK;
	co.queue_url = d->queue_url;
	co.queue_label = d->queue.label;
	co.max_in_flight = d->cfg->max_in_flight;
	co.wait_seconds = d->cfg->wait_seconds;
	co.visibility_timeout = d->cfg->visibility_timeout;
	co.max_receive_count = d->cfg->max_receive_count;
	co.backoff_min_seconds = d->cfg->backoff_min_seconds;
	co.backoff_max_seconds = d->cfg->backoff_max_seconds;
	co.aws = &d->aws;
	co.lg = &d->lg;
	co.metrics = d->metrics;
	if (consumer_start(&co, &d->consumer, &eb) != RC_OK) {
		log_emit_err(&d->lg, LOG_LVL_ERROR, eb.msg, "cannot start consuming %s", d->queue.label);
		return SVC_EXIT_FAILURE;
	}
	log_info(&d->lg, NULL, "consuming %s (%d in flight at most)", d->queue_url, co.max_in_flight);
	svc_ready(&d->svc, "consuming %s", d->queue.label);
	if (svc_run(&d->svc, &hooks) == SVC_EV_STOP) {
		consumer_stop(d->consumer);
		svc_status(&d->svc, "draining %u messages", consumer_in_flight(d->consumer));
		if (!consumer_wait(d->consumer, QDAEMON_DRAIN_MS))
			log_warn(&d->lg, NULL, "drain timed out with %u messages in flight",
				 consumer_in_flight(d->consumer));
	} else {
		consumer_stop(d->consumer);
	}
	log_info(&d->lg, NULL, "stopped");
	return SVC_EXIT_OK;
}

int qdaemon_main(int argc, char **argv, const struct qdaemon_app *app)
{
	struct qdaemon *d = calloc(1, sizeof(*d));
	struct errbuf eb = {{0}};
	int code = SVC_EXIT_OK;

	if (d == NULL) {
		fprintf(stderr, "%s: out of memory\n", app->service);
		return SVC_EXIT_FAILURE;
	}
	d->app = app;
	d->svc.sigfd = -1;
	if (!svc_parse_args(argc, argv, app->service, app->usage_extra, &d->args, &code))
		goto out;
	if (app->needs_country && d->args.country == NULL) {
		fprintf(stderr, "%s: --country XX is required (the unit instance, e.g. pe)\n",
			app->service);
		code = SVC_EXIT_USAGE;
		goto out;
	}
	if (!svc_load_config(app->service, d->args.config_path, &d->cfg)) {
		code = SVC_EXIT_CONFIG;
		goto out;
	}
	log_init(&d->lg, app->service, d->cfg->log_level);
	if (svc_init(&d->svc, &d->lg, &eb) != RC_OK || aws_global_init(&eb) != RC_OK) {
		fprintf(stderr, "%s: startup failed: %s\n", app->service, eb.msg);
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	if (awscfg_resolve(d->cfg, &d->aws, &eb) != RC_OK) {
		fprintf(stderr, "%s: configuration error: %s\n", app->service, eb.msg);
		code = SVC_EXIT_CONFIG;
		goto out;
	}
	d->metrics = metrics_new();
	if (d->metrics == NULL || consumer_metrics_describe(d->metrics) != RC_OK ||
	    http_metrics_describe(d->metrics) != RC_OK || awsmetrics_describe(d->metrics) != RC_OK) {
		fprintf(stderr, "%s: startup failed: out of memory\n", app->service);
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	code = run(d);
out:
	consumer_free(d->consumer);
	http_server_free(d->http);
	if (d->app_ctx != NULL)
		app->teardown(d->app_ctx);
	metrics_free(d->metrics);
	svc_cleanup(&d->svc);
	conf_free(d->cfg);
	aws_global_cleanup();
	free(d);
	return code;
}
