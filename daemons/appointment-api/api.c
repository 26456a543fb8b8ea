/* appointment-api — the HTTP front daemon (SPEC §3). main() only wires: config,
 * logging, signals, AWS, the password, keys, the listening socket, the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app/awscfg.h"
#include "aws/awsmetrics.h"
#include "base/clock.h"
#include "domain/timeutil.h"
#include "app/secret.h"

#define SERVICE_NAME "appointment-api"
#define DRAIN_TIMEOUT_MS 25000 /* below the unit's TimeoutStopSec=30s */

const struct conf *api_cfg(struct api_ctx *ctx)
{
	return atomic_load(&ctx->cfg);
}

static void thread_free(struct api_thread *t)
{
	if (t == NULL)
		return;
	ddb_client_free(t->ddb);
	sns_client_free(t->sns);
	for (size_t i = 0; i < CONF_MAX_COUNTRIES; i++)
		db_conn_free(t->db[i]);
	free(t);
}

struct api_thread *api_thread_get(struct api_ctx *ctx, struct errbuf *eb)
{
	struct api_thread *t = pthread_getspecific(ctx->tls);

	if (t != NULL)
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		eb_set(eb, RC_NOMEM, "out of memory");
		return NULL;
	}
	t->ddb = ddb_client_new(&ctx->aws, eb);
	t->sns = t->ddb != NULL ? sns_client_new(&ctx->aws, eb) : NULL;
	pthread_mutex_lock(&ctx->threads_lock);
	if (t->sns == NULL || ctx->n_threads >= sizeof(ctx->threads) / sizeof(ctx->threads[0])) {
		pthread_mutex_unlock(&ctx->threads_lock);
		if (t->sns != NULL)
			eb_set(eb, RC_FATAL, "too many HTTP threads");
		thread_free(t);
		return NULL;
	}
	ctx->threads[ctx->n_threads++] = t;
	pthread_mutex_unlock(&ctx->threads_lock);
	awsmetrics_attach(ddb_client_core(t->ddb), ctx->metrics);
	awsmetrics_attach(sns_client_core(t->sns), ctx->metrics);
	pthread_setspecific(ctx->tls, t);
	return t;
}

void api_dep_mark(struct api_dep *dep, enum rc rc)
{
	/* a missing item or a failed condition is an answer: the service is up */
	bool up = rc == RC_OK || rc == RC_CONFLICT || rc == RC_NOTFOUND || rc == RC_INVAL;

	atomic_store(up ? &dep->last_ok_ms : &dep->last_fail_ms, clk_mono_ms());
}

enum rc api_topic_arn(struct api_ctx *ctx, struct api_thread *t, size_t ci, const char **arn,
		      struct errbuf *eb)
{
	const struct conf_country *cc = &api_cfg(ctx)->countries[ci];
	struct aws_error err;
	enum rc rc = RC_OK;

	pthread_mutex_lock(&ctx->topics_lock);
	if (ctx->topic_arn[ci][0] == '\0') {
		if (cc->topic_arn[0] != '\0') {
			snprintf(ctx->topic_arn[ci], SNS_ARN_MAX, "%s", cc->topic_arn);
		} else {
			/* CreateTopic is idempotent and answers the ARN of an existing topic */
			rc = sns_create_topic(t->sns, cc->topic_name, NULL, 0, ctx->topic_arn[ci], &err);
			if (rc != RC_OK) {
				ctx->topic_arn[ci][0] = '\0';
				aws_error_to_eb(&err, eb);
			}
		}
	}
	*arn = ctx->topic_arn[ci];
	pthread_mutex_unlock(&ctx->topics_lock);
	return rc;
}

enum rc api_metrics_describe(struct metrics *m)
{
	enum rc rc = http_metrics_describe(m);

	if (rc == RC_OK)
		rc = awsmetrics_describe(m);
	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_publish_deferred_total", METRICS_COUNTER,
				      "Appointments stored whose SNS publish failed (left to the reconciler).");
	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_schedule_check_skipped_total", METRICS_COUNTER,
				      "POSTs accepted without the PostgreSQL schedule check (database unreachable).");
	return rc;
}

/* Loads [api] keys_file into ctx (keys off when unset). */
static enum rc load_keys(struct api_ctx *ctx, const struct conf *cfg, struct errbuf *eb)
{
	struct apikeys *keys = NULL;
	struct apikeys *old;
	enum rc rc;

	if (cfg->api_keys_file[0] != '\0') {
		rc = apikeys_load(cfg->api_keys_file, &keys, eb);
		if (rc != RC_OK)
			return rc;
	}
	pthread_rwlock_wrlock(&ctx->keys_lock);
	old = ctx->keys;
	ctx->keys = keys;
	pthread_rwlock_unlock(&ctx->keys_lock);
	apikeys_free(old);
	return RC_OK;
}

/* SIGHUP: reloadable keys take effect, the rest is reported (STYLE rule 7). */
static void on_reload(void *ud)
{
	struct api_ctx *ctx = ud;
	struct conf *next = NULL;
	struct errbuf eb = {{0}};
	char ignored[512];

	if (conf_reload(api_cfg(ctx), NULL, &next, ignored, sizeof(ignored), &eb) != RC_OK) {
		log_emit_err(&ctx->lg, LOG_LVL_ERROR, eb.msg, "reload failed; the running configuration stays");
		return;
	}
	if (ctx->n_retired >= API_MAX_RETIRED_CFG || load_keys(ctx, next, &eb) != RC_OK) {
		log_emit_err(&ctx->lg, LOG_LVL_ERROR, eb.msg, "reload failed; the running configuration stays");
		conf_free(next);
		return;
	}
	if (ignored[0] != '\0')
		log_warn(&ctx->lg, NULL, "reload: these keys need a restart and were not applied: %s",
			 ignored);
	log_set_level(&ctx->lg, next->log_level);
	ratelimit_set(&ctx->rl, next->rate_limit, next->rate_burst);
	/* the old configuration stays alive (retired), so its strings stay valid too */
	http_server_set_cors(ctx->http, next->cors_origins);
	ctx->retired[ctx->n_retired++] = atomic_exchange(&ctx->cfg, next);
	log_info(&ctx->lg, NULL, "configuration reloaded");
}

static bool on_tick(void *ud)
{
	struct api_ctx *ctx = ud;

	svc_status(&ctx->svc, "serving; %u requests in flight", http_server_in_flight(ctx->http));
	return true;
}

/* Resolves the password; without one the schedule check degrades to "accept" (the
 * API must not be down because PostgreSQL is), so this only warns. */
static void resolve_password(struct api_ctx *ctx)
{
	struct errbuf eb = {{0}};
	enum secret_source src;

	if (secret_rds_password(api_cfg(ctx), &ctx->aws, &ctx->db_password, &src, &eb) == RC_OK)
		log_info(&ctx->lg, NULL, "PostgreSQL password from %s", secret_source_name(src));
	else
		log_emit_err(&ctx->lg, LOG_LVL_WARN, eb.msg, "no PostgreSQL password; schedule checks will be skipped");
}

static enum rc start_server(struct api_ctx *ctx, struct errbuf *eb)
{
	const struct conf *cfg = api_cfg(ctx);
	struct http_opts o = {0};
	enum rc rc;

	o.listen_fd = svc_listen_fd(&ctx->svc);
	if (o.listen_fd < 0) {
		rc = http_listen(cfg->api_listen, &o.listen_fd, eb);
		if (rc != RC_OK)
			return rc;
	}
	o.threads = (unsigned)cfg->api_threads;
	o.body_limit = (size_t)cfg->body_limit;
	o.connection_timeout_s = 10;
	o.connection_limit = 1024;
	o.routes = api_routes;
	o.n_routes = api_n_routes;
	o.guard = api_guard;
	o.ud = ctx;
	o.lg = &ctx->lg;
	o.metrics = ctx->metrics;
	o.cors_origins = cfg->cors_origins;
	return http_server_start(&o, &ctx->http, eb);
}

static void ctx_cleanup(struct api_ctx *ctx)
{
	http_server_free(ctx->http);
	for (size_t i = 0; i < ctx->n_threads; i++)
		thread_free(ctx->threads[i]);
	apikeys_free(ctx->keys);
	secret_free(ctx->db_password);
	metrics_free(ctx->metrics);
	ratelimit_cleanup(&ctx->rl);
	for (size_t i = 0; i < ctx->n_retired; i++)
		conf_free(ctx->retired[i]);
	conf_free(atomic_load(&ctx->cfg));
	svc_cleanup(&ctx->svc);
	aws_global_cleanup();
}

int main(int argc, char **argv)
{
	static struct api_ctx ctx; /* large; lives for the whole process */
	struct svc_hooks hooks = {&ctx, on_tick, on_reload};
	struct svc_args args;
	struct conf *cfg = NULL;
	struct errbuf eb = {{0}};
	int code = SVC_EXIT_OK;

	if (!svc_parse_args(argc, argv, SERVICE_NAME, NULL, &args, &code))
		return code;
	if (!svc_load_config(SERVICE_NAME, args.config_path, &cfg))
		return SVC_EXIT_CONFIG;
	atomic_init(&ctx.cfg, cfg);
	ctx.svc.sigfd = -1;
	pthread_mutex_init(&ctx.topics_lock, NULL);
	pthread_mutex_init(&ctx.threads_lock, NULL);
	pthread_rwlock_init(&ctx.keys_lock, NULL);
	ratelimit_init(&ctx.rl, cfg->rate_limit, cfg->rate_burst, clk_mono_us());
	for (size_t i = 0; i < cfg->n_countries; i++)
		ctx.countries[ctx.n_countries++] = cfg->countries[i].code;
	log_init(&ctx.lg, SERVICE_NAME, cfg->log_level);
	/* signals are blocked and curl/libxml set up before any thread exists */
	if (svc_init(&ctx.svc, &ctx.lg, &eb) != RC_OK || aws_global_init(&eb) != RC_OK) {
		fprintf(stderr, SERVICE_NAME ": startup failed: %s\n", eb.msg);
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	if (awscfg_resolve(cfg, &ctx.aws, &eb) != RC_OK || load_keys(&ctx, cfg, &eb) != RC_OK) {
		fprintf(stderr, SERVICE_NAME ": configuration error: %s\n", eb.msg);
		code = SVC_EXIT_CONFIG;
		goto out;
	}
	if (args.check_only)
		goto out;
	ctx.metrics = metrics_new();
	if (ctx.metrics == NULL || api_metrics_describe(ctx.metrics) != RC_OK ||
	    pthread_key_create(&ctx.tls, NULL) != 0) {
		fprintf(stderr, SERVICE_NAME ": startup failed: out of memory\n");
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	resolve_password(&ctx);
	if (start_server(&ctx, &eb) != RC_OK) {
		log_emit_err(&ctx.lg, LOG_LVL_ERROR, eb.msg, "cannot serve HTTP");
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	log_info(&ctx.lg, NULL, "serving (stage %s, %zu countries, API keys %s)", cfg->stage,
		 ctx.n_countries, ctx.keys != NULL ? "on" : "off");
	svc_ready(&ctx.svc, "serving");
	if (svc_run(&ctx.svc, &hooks) == SVC_EV_STOP) {
		http_server_quiesce(ctx.http);
		svc_status(&ctx.svc, "draining %u requests", http_server_in_flight(ctx.http));
		if (!http_server_drain(ctx.http, DRAIN_TIMEOUT_MS))
			log_warn(&ctx.lg, NULL, "drain timed out with %u requests in flight",
				 http_server_in_flight(ctx.http));
	}
	log_info(&ctx.lg, NULL, "stopped");
out:
	ctx_cleanup(&ctx);
	return code;
}
