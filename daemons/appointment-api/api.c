/* api.c — appointment-api's context and its parts of the one lifecycle (run/lifecycle):
 * setup (password, keys, throttling), start (the listening socket, the HTTP server, the
 * self-probe), reload (what the server holds apart: rates, keys, CORS), tick (progress is
 * an answered self-probe), quiesce and drain, and the per-thread clients the handlers use.
 * Per-country state (topics, database connections) is found by country code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "app/publish.h"
#include "aws/awsmetrics.h"
#include "base/clock.h"
#include "base/str.h"

const struct conf *api_cfg(struct api_ctx *ctx)
{
	return lifecycle_conf(ctx->lc);
}

/* ---- the handlers' per-thread clients ---------------------------------------------------- */

static void thread_free(struct api_thread *t)
{
	if (t == NULL)
		return;
	ddb_client_free(t->ddb);
	sns_client_free(t->sns);
	for (size_t i = 0; i < t->n_db; i++)
		db_conn_free(t->db[i].db);
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
	t->ddb = ddb_client_new(ctx->aws, eb);
	t->sns = t->ddb != NULL ? sns_client_new(ctx->aws, eb) : NULL;
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

enum rc api_thread_db(struct api_ctx *ctx, struct api_thread *t, const char *code,
		      struct db_conn **db, struct errbuf *eb)
{
	const struct conf *cfg = api_cfg(ctx);
	const struct conf_country *cc = conf_country(cfg, code);
	const char *password = api_pw_get(ctx);
	struct db_conn *fresh = NULL;
	struct db_options opt;
	struct db_target target;
	struct api_db *slot = NULL;
	enum rc rc;

	*db = NULL;
	for (size_t i = 0; i < t->n_db && slot == NULL; i++)
		if (strcmp(t->db[i].code, code) == 0)
			slot = &t->db[i];
	/* a connection made before the password came from SSM is made again with it, once */
	if (slot != NULL && (slot->with_password || password == NULL)) {
		*db = slot->db;
		return RC_OK;
	}
	if (cc == NULL || (slot == NULL && t->n_db >= CONF_MAX_COUNTRIES))
		return eb_set(eb, RC_INVAL, "no [country %s] section", code);
	db_options_init(&opt);
	opt.application_name = "appointment-api";
	opt.query_timeout_ms = cfg->db_check_timeout_ms;
	/* a check skipped while the connection backs off is a POST accepted unchecked: after
	 * an outage every thread must try again within a second, not after up to 30 s */
	opt.backoff_max_ms = API_DB_BACKOFF_MAX_MS;
	conf_db_target(cfg, cc, password, &target);
	target.connect_timeout_ms = cfg->db_check_timeout_ms;
	rc = db_conn_new(&target, &opt, &fresh, eb);
	if (rc != RC_OK)
		return rc;
	if (slot == NULL) {
		slot = &t->db[t->n_db++];
		memcpy(slot->code, cc->code, sizeof(slot->code));
	}
	db_conn_free(slot->db);
	slot->db = fresh;
	slot->with_password = password != NULL;
	*db = fresh;
	return RC_OK;
}

void api_dep_mark(struct api_dep *dep, enum rc rc)
{
	/* a missing item or a failed condition is an answer: the service is up */
	bool up = rc == RC_OK || rc == RC_CONFLICT || rc == RC_NOTFOUND || rc == RC_INVAL;

	atomic_store(up ? &dep->last_ok_ms : &dep->last_fail_ms, clk_mono_ms());
}

/* The topic of country code, NULL when it is not configured. */
static struct api_topic *topic_of(struct api_ctx *ctx, const char *code)
{
	for (size_t i = 0; i < ctx->n_countries; i++)
		if (strcmp(ctx->topics[i].code, code) == 0)
			return &ctx->topics[i];
	return NULL;
}

void api_topic_mark(struct api_ctx *ctx, const char *code, enum rc rc)
{
	struct api_topic *tp = topic_of(ctx, code);

	if (tp != NULL)
		atomic_store(rc == RC_OK ? &tp->dep.last_ok_ms : &tp->dep.last_fail_ms,
			     clk_mono_ms());
}

/* What a look at a topic changed that the journal must hear of. */
enum topic_news {
	TOPIC_NEWS_NONE,  /* nothing */
	TOPIC_NEWS_EMPTY, /* it has no subscription (again) */
	TOPIC_NEWS_BACK,  /* it has one again, after TOPIC_NEWS_EMPTY */
};

/* The log line of news about the topic of country code (why: the look's error). */
static void topic_log(struct api_ctx *ctx, const char *code, enum topic_news news,
		      const char *why)
{
	struct log_fields f = {.country = code, .error = why, .duration_ms = -1};

	if (news == TOPIC_NEWS_EMPTY)
		log_error(ctx->lg, &f, "the SNS topic of %s has no confirmed subscription: a "
			  "Publish would reach no queue (deleted, then made again empty by a "
			  "CreateTopic by name?); its appointments stay pending and unpublished "
			  "until its queue is subscribed again (appointmentctl provision)", code);
	else if (news == TOPIC_NEWS_BACK)
		log_info(ctx->lg, &f, "the SNS topic of %s has a confirmed subscription again",
			 code);
}

/* api_topic_arn (probe false) and api_topic_look (probe true). */
static enum rc topic_look(struct api_ctx *ctx, struct api_thread *t, const char *code,
			  bool probe, const char **arn, bool *busy, struct errbuf *eb)
{
	const struct conf *cfg = api_cfg(ctx);
	const struct conf_country *cc = conf_country(cfg, code);
	struct api_topic *tp = topic_of(ctx, code);
	enum topic_news news = TOPIC_NEWS_NONE;
	char got[SNS_ARN_MAX];
	struct aws_error err;
	struct errbuf e = {{0}};
	bool subscribed = false;
	bool empty;
	bool was_resolved;
	enum rc rc = RC_OK;

	*arn = NULL;
	if (cc == NULL || tp == NULL)
		return eb_set(eb, RC_INVAL, "no [country %s] section", code);
	if (!probe && atomic_load(&tp->usable)) {
		*arn = tp->arn;
		return RC_OK;
	}
	pthread_mutex_lock(&ctx->topics_lock);
	/* the first look: its concurrent callers wait for it rather than fail, within their own
	 * AWS budget (a /readyz probe's is short); once one failed, only the probe waits */
	if (tp->resolving && (probe || !tp->failed_once)) {
		int64_t until = aws_client_deadline(sns_client_core(t->sns));
		int64_t wait_ms = until != 0 ? until - clk_mono_ms() : cfg->aws_budget_ms;
		struct timespec ts = clk_deadline(CLOCK_REALTIME, wait_ms > 0 ? (long)wait_ms : 0);
		int werr = 0;

		while (tp->resolving && werr == 0)
			werr = pthread_cond_timedwait(&ctx->topics_cv, &ctx->topics_lock, &ts);
	}
	if (!probe && atomic_load(&tp->usable)) {
		pthread_mutex_unlock(&ctx->topics_lock);
		*arn = tp->arn;
		return RC_OK;
	}
	if (tp->resolving || (!probe && clk_mono_ms() < tp->retry_at_ms)) {
		if (busy != NULL)
			*busy = tp->resolving; /* another thread's look, still running */
		rc = eb_set(eb, tp->resolving && probe ? RC_TIMEOUT : RC_RETRY,
			    "topic %s not usable yet: %s", cc->topic_name,
			    tp->resolving ? "being looked up" : tp->error);
		pthread_mutex_unlock(&ctx->topics_lock);
		return rc;
	}
	tp->resolving = true;
	was_resolved = atomic_load(&tp->resolved);
	pthread_mutex_unlock(&ctx->topics_lock);

	/* CreateTopic is idempotent and answers the ARN of an existing topic (or makes an
	 * empty one, which the look then refuses) */
	if (was_resolved)
		memcpy(got, tp->arn, sizeof(got));
	else
		rc = sns_create_topic(t->sns, cc->topic_name, NULL, 0, got, &err);
	if (rc != RC_OK)
		aws_error_to_eb(&err, &e);
	else
		rc = publish_topic_subscribed(t->sns, got, &subscribed, &err, &e);
	empty = rc == RC_OK && !subscribed;
	if (empty)
		rc = eb_set(&e, RC_NOTFOUND, "SNS topic %s has no confirmed subscription", got);

	pthread_mutex_lock(&ctx->topics_lock);
	tp->resolving = false;
	if (rc == RC_OK) {
		if (!was_resolved) {
			memcpy(tp->arn, got, sizeof(tp->arn));
			atomic_store(&tp->resolved, true);
		}
		atomic_store(&tp->usable, true);
		atomic_store(&tp->looked_ms, clk_mono_ms());
		news = tp->empty_logged ? TOPIC_NEWS_BACK : TOPIC_NEWS_NONE;
		tp->empty_logged = false;
		*arn = tp->arn;
	} else {
		/* a failed call says nothing of the subscriptions: only "none" stops publishing
		 * to a topic found usable (its publishes meet the failure themselves) */
		if (empty) {
			atomic_store(&tp->usable, false);
			news = tp->empty_logged ? TOPIC_NEWS_NONE : TOPIC_NEWS_EMPTY;
			tp->empty_logged = true;
		}
		tp->failed_once = true;
		tp->retry_at_ms = clk_mono_ms() + API_TOPIC_RETRY_MS;
		(void)str_cut(tp->error, sizeof(tp->error), "%s", e.msg);
		eb_set(eb, rc, "%s", e.msg);
	}
	pthread_cond_broadcast(&ctx->topics_cv);
	pthread_mutex_unlock(&ctx->topics_lock);
	topic_log(ctx, code, news, e.msg);
	return rc;
}

enum rc api_topic_arn(struct api_ctx *ctx, struct api_thread *t, const char *code,
		      const char **arn, struct errbuf *eb)
{
	return topic_look(ctx, t, code, false, arn, NULL, eb);
}

enum rc api_topic_look(struct api_ctx *ctx, struct api_thread *t, const char *code,
		       bool *busy, struct errbuf *eb)
{
	const char *arn = NULL;

	*busy = false;
	return topic_look(ctx, t, code, true, &arn, busy, eb);
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
	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_db_password_missing", METRICS_GAUGE,
				      "1 while the PostgreSQL password SSM should give has not come (schedule checks skipped; SSM asked again).");
	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_appointment_waiters", METRICS_GAUGE,
				      "GET /appointments/{insuredId}/{appointmentId} requests parked waiting for a status (waitFor).");
	/* at 0 from the start: increase() misses the first increment of a series that appears
	 * with it (docs/alerts.yml, AppointmentPublishDeferred) */
	metrics_add(m, "appointmentd_publish_deferred_total", NULL, 0);
	metrics_add(m, "appointmentd_schedule_check_skipped_total", NULL, 0);
	metrics_set(m, "appointmentd_db_password_missing", NULL, 0);
	return rc;
}

/* ---- setup ------------------------------------------------------------------------------- */

/* Reads [api] keys_file of cfg into *keys (NULL: keys off). */
static enum rc read_keys(const struct conf *cfg, struct apikeys **keys, struct errbuf *eb)
{
	*keys = NULL;
	if (cfg->api_keys_file[0] == '\0')
		return RC_OK;
	return apikeys_load(cfg->api_keys_file, keys, eb);
}

static void swap_keys(struct api_ctx *ctx, struct apikeys *keys)
{
	struct apikeys *old;

	pthread_rwlock_wrlock(&ctx->keys_lock);
	old = ctx->keys;
	ctx->keys = keys;
	pthread_rwlock_unlock(&ctx->keys_lock);
	apikeys_free(old);
}

enum rc api_setup(struct lifecycle *lc, const void *ud, void **app, struct errbuf *eb)
{
	struct api_ctx *ctx = calloc(1, sizeof(*ctx));
	const struct conf *cfg = lifecycle_conf(lc);
	struct apikeys *keys = NULL;
	enum rc rc;

	(void)ud;
	*app = ctx;
	if (ctx == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	ctx->lc = lc;
	ctx->lg = lifecycle_log(lc);
	ctx->metrics = lifecycle_metrics(lc);
	ctx->aws = lifecycle_aws(lc);
	pthread_mutex_init(&ctx->topics_lock, NULL);
	pthread_cond_init(&ctx->topics_cv, NULL);
	pthread_mutex_init(&ctx->threads_lock, NULL);
	pthread_rwlock_init(&ctx->keys_lock, NULL);
	api_pw_init(&ctx->pw);
	ratelimit_init(&ctx->rl, cfg->rate_limit, cfg->rate_burst, clk_mono_us());
	atomic_init(&ctx->last_probe_ms, 0);
	atomic_init(&ctx->probing, false);
	atomic_init(&ctx->stopping, false);
	if (ratelimit_clients_new(api_client_rate(cfg->per_client_rate_limit, cfg->rate_limit),
				  api_client_rate(cfg->per_client_burst, cfg->rate_burst),
				  &ctx->client_rl) != RC_OK)
		return eb_set(eb, RC_NOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_countries; i++) {
		ctx->countries[ctx->n_countries] = cfg->countries[i].code;
		memcpy(ctx->topics[ctx->n_countries].code, cfg->countries[i].code, 3);
		/* a configured ARN is final (the key's limit is SNS_ARN_MAX - 1: it fits) */
		if (str_copy(ctx->topics[ctx->n_countries].arn, SNS_ARN_MAX,
			     cfg->countries[i].topic_arn) && cfg->countries[i].topic_arn[0] != '\0')
			atomic_init(&ctx->topics[ctx->n_countries].resolved, true);
		ctx->n_countries++;
	}
	rc = read_keys(cfg, &keys, eb);
	if (rc != RC_OK)
		return rc == RC_NOMEM ? rc : RC_INVAL; /* a bad keys file is a configuration error */
	swap_keys(ctx, keys);
	if (lifecycle_args(lc)->check_only)
		return RC_OK;
	if (api_metrics_describe(ctx->metrics) != RC_OK || pthread_key_create(&ctx->tls, NULL) != 0)
		return eb_set(eb, RC_NOMEM, "out of memory");
	ctx->tls_made = true;
	api_pw_setup(ctx);
	return RC_OK;
}

/* ---- start ------------------------------------------------------------------------------- */

enum rc api_start(void *app, char *status, size_t n, struct errbuf *eb)
{
	struct api_ctx *ctx = app;
	const struct conf *cfg = api_cfg(ctx);
	struct http_opts o = {0};
	enum rc rc;

	rc = svc_listen_fd(lifecycle_svc(ctx->lc), &o.listen_fd, eb);
	if (rc != RC_OK)
		return rc;
	if (o.listen_fd < 0) {
		rc = http_listen(cfg->api_listen, cfg->api_reuse_port != 0, &o.listen_fd, eb);
		if (rc != RC_OK)
			return rc;
	}
	/* the address is read before the server owns the socket */
	/* on a shared port a probe may reach a stuck sibling: give it up and send another */
	rc = http_probe_new(o.listen_fd, API_PROBE_TIMEOUT_MS, &ctx->probe, eb);
	if (rc != RC_OK) {
		close(o.listen_fd);
		return rc;
	}
	o.probe = ctx->probe;
	o.threads = (unsigned)cfg->api_threads;
	o.body_limit = (size_t)cfg->body_limit;
	o.connection_timeout_s = (unsigned)cfg->api_request_timeout;
	o.header_timeout_s = (unsigned)cfg->api_header_timeout;
	o.idle_timeout_s = o.connection_timeout_s + API_IDLE_MARGIN_S;
	o.connection_limit = (unsigned)cfg->api_connections;
	o.per_client_limit = (unsigned)cfg->api_connections_per_client;
	o.routes = api_routes;
	o.n_routes = api_n_routes;
	o.guard = api_guard;
	o.ud = ctx;
	o.lg = ctx->lg;
	o.metrics = ctx->metrics;
	o.cors_origins = cfg->cors_origins;
	rc = http_server_start(&o, &ctx->http, eb);
	if (rc != RC_OK)
		return rc;
	api_pw_start(ctx);
	log_info(ctx->lg, NULL, "serving (stage %s, %zu countries, API keys %s)", cfg->stage,
		 ctx->n_countries, ctx->keys != NULL ? "on" : "off");
	(void)str_cut(status, n, "serving");
	return RC_OK;
}

/* ---- the loop ---------------------------------------------------------------------------- */

enum rc api_reload(void *app, const struct conf *next, struct errbuf *eb)
{
	struct api_ctx *ctx = app;
	struct apikeys *keys = NULL;
	enum rc rc = read_keys(next, &keys, eb);

	if (rc != RC_OK)
		return rc;
	swap_keys(ctx, keys);
	ratelimit_set(&ctx->rl, next->rate_limit, next->rate_burst);
	ratelimit_clients_set(ctx->client_rl,
			      api_client_rate(next->per_client_rate_limit, next->rate_limit),
			      api_client_rate(next->per_client_burst, next->rate_burst));
	/* next's strings live as long as requests may read them (api_readers_*) */
	http_server_set_cors(ctx->http, next->cors_origins);
	return RC_OK;
}

/* Progress is an answered self-probe: HTTP threads that are all stuck stop WATCHDOG=1. The
 * probe may take two ticks, and a busy machine some more. */
bool api_tick(void *app, char *status, size_t n)
{
	struct api_ctx *ctx = app;
	const struct svc *svc = lifecycle_svc(ctx->lc);
	int64_t now = clk_mono_ms();
	int64_t stall = (int64_t)(svc->watchdog_usec / 2000);

	http_probe_step(ctx->probe, now);
	(void)str_cut(status, n, "serving; %u requests in flight", http_server_in_flight(ctx->http));
	api_pw_status(ctx, status, n);
	return now - http_probe_last_ok(ctx->probe) <= (stall > API_STALL_MIN_MS ? stall
										 : API_STALL_MIN_MS);
}

int api_lame_duck(void *app)
{
	struct api_ctx *ctx = app;

	atomic_store(&ctx->stopping, true);
	/* an SSM call in flight for the password gives up: the stop does not wait for it */
	api_pw_stop(ctx);
	return api_cfg(ctx)->shutdown_delay_ms;
}

/* [api] drain_timeout_ms: 25 s by default, below the unit's TimeoutStopSec=30s */
int api_drain_ms(const struct conf *c)
{
	return c->api_drain_timeout_ms;
}

void api_quiesce(void *app)
{
	struct api_ctx *ctx = app;

	http_server_quiesce(ctx->http);
}

bool api_drain(void *app, int timeout_ms)
{
	struct api_ctx *ctx = app;

	return http_server_drain(ctx->http, timeout_ms);
}

unsigned api_in_flight(void *app)
{
	struct api_ctx *ctx = app;

	return http_server_in_flight(ctx->http);
}

uint64_t api_readers_next(void *app)
{
	struct api_ctx *ctx = app;

	return ctx->http != NULL ? http_server_readers_next(ctx->http) : 1;
}

uint64_t api_readers_oldest(void *app)
{
	struct api_ctx *ctx = app;

	return ctx->http != NULL ? http_server_readers_oldest(ctx->http) : UINT64_MAX;
}

void api_teardown(void *app)
{
	struct api_ctx *ctx = app;

	http_server_free(ctx->http);
	http_probe_free(ctx->probe);
	for (size_t i = 0; i < ctx->n_threads; i++)
		thread_free(ctx->threads[i]);
	if (ctx->tls_made)
		pthread_key_delete(ctx->tls);
	apikeys_free(ctx->keys);
	api_pw_cleanup(ctx); /* after the HTTP threads: they read the password */
	ratelimit_cleanup(&ctx->rl);
	ratelimit_clients_free(ctx->client_rl);
	pthread_rwlock_destroy(&ctx->keys_lock);
	pthread_mutex_destroy(&ctx->threads_lock);
	pthread_cond_destroy(&ctx->topics_cv);
	pthread_mutex_destroy(&ctx->topics_lock);
	free(ctx);
}
