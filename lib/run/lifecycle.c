/* lifecycle.c — the start order (signals blocked and curl initialised before any thread),
 * the main loop, the reload (configuration snapshots: a new one per reload, an old one
 * freed once no reader can hold it, so reloads have no cap) and the stop (a drain in
 * slices, cut short by a second SIGTERM; past its deadline, an exit that abandons the work
 * still running). */
#include "run/lifecycle.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/awscfg.h"
#include "app/secret.h"
#include "base/clock.h"
#include "base/str.h"

#define TICK_MAX_MS 1000       /* the loop looks at the daemon at least this often */
#define TICK_MIN_MS 100        /* and at most this often */
#define DRAIN_SLICE_MS 100     /* a second SIGTERM is seen within this during the drain */
#define STATUS_MAX 256         /* a STATUS= line */
#define REFUSED_MAX 1024       /* the keys a reload names as needing a restart */
#define ABANDON_MS 3000        /* the app's abandon after a drain that timed out, at most */

/* A configuration a reload replaced, kept until no reader can hold it. */
struct retired {
	struct conf *c;
	uint64_t free_after;   /* freed once readers_oldest() reaches this */
	struct retired *next;
};

struct lifecycle {
	const struct lifecycle_app *app;
	void *ctx;                  /* what app->setup made */
	struct svc_args args;
	struct conf *first;         /* the configuration setup saw: kept until exit */
	_Atomic(struct conf *) cur; /* the current one (first, or a reload's) */
	struct retired *retired;    /* replaced ones still possibly read, newest first */
	size_t n_retired;
	uint64_t reloads;
	struct logger lg;
	struct svc svc;
	struct aws_config aws;
	struct metrics *metrics;
};

const struct conf *lifecycle_conf(struct lifecycle *lc)
{
	return atomic_load(&lc->cur);
}

struct logger *lifecycle_log(struct lifecycle *lc)
{
	return &lc->lg;
}

const struct aws_config *lifecycle_aws(struct lifecycle *lc)
{
	return &lc->aws;
}

struct metrics *lifecycle_metrics(struct lifecycle *lc)
{
	return lc->metrics;
}

const struct svc_args *lifecycle_args(struct lifecycle *lc)
{
	return &lc->args;
}

struct svc *lifecycle_svc(struct lifecycle *lc)
{
	return &lc->svc;
}

uint64_t lifecycle_reloads(const struct lifecycle *lc)
{
	return lc->reloads;
}

size_t lifecycle_retired(const struct lifecycle *lc)
{
	return lc->n_retired;
}

/* ---- configuration snapshots --------------------------------------------------------- */

/* Frees the retired configurations no running reader can hold any more. */
static void collect(struct lifecycle *lc)
{
	uint64_t oldest;
	struct retired **pp = &lc->retired;

	if (lc->retired == NULL)
		return;
	oldest = lc->app->readers_oldest != NULL ? lc->app->readers_oldest(lc->ctx) : UINT64_MAX;
	while (*pp != NULL) {
		struct retired *r = *pp;

		if (r->free_after <= oldest) {
			*pp = r->next;
			conf_free(r->c);
			free(r);
			lc->n_retired--;
		} else {
			pp = &r->next;
		}
	}
}

/* Whether replacing old needs a record in the retired list (then allocated up front, so
 * that nothing can fail once the daemon has applied the new configuration). */
static bool needs_record(const struct lifecycle *lc, const struct conf *old)
{
	return old != lc->first && lc->app->readers_next != NULL;
}

/* old was just replaced (r: the record needs_record asked for, else NULL). Readers numbered
 * before now may still hold it: it waits for them. */
static void retire(struct lifecycle *lc, struct conf *old, struct retired *r)
{
	if (old == lc->first)
		return; /* kept until exit anyway: setup-time pointers may hold it */
	if (r == NULL) {
		conf_free(old); /* only the main thread read it, and it is here */
		return;
	}
	r->c = old;
	/* after the swap: a reader numbered from here on can only see the new one */
	r->free_after = lc->app->readers_next(lc->ctx);
	r->next = lc->retired;
	lc->retired = r;
	lc->n_retired++;
}

/* SIGHUP: load, validate, merge the reloadable keys into a copy of the running
 * configuration, let the daemon apply it, swap (STYLE rule 7). */
static void reload(struct lifecycle *lc)
{
	struct conf *old = atomic_load(&lc->cur);
	struct conf *next = NULL;
	struct retired *r = NULL;
	struct errbuf eb = {{0}};
	char refused[REFUSED_MAX];

	if (needs_record(lc, old)) {
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			log_error(&lc->lg, NULL, "reload failed: out of memory; the running "
				  "configuration stays");
			return;
		}
	}
	if (conf_reload(old, NULL, &next, refused, sizeof(refused), &eb) != RC_OK) {
		free(r);
		log_emit_err(&lc->lg, LOG_LVL_ERROR, eb.msg,
			     "reload failed; the running configuration stays");
		return;
	}
	if (lc->app->reload != NULL && lc->app->reload(lc->ctx, next, &eb) != RC_OK) {
		log_emit_err(&lc->lg, LOG_LVL_ERROR, eb.msg,
			     "reload refused; the running configuration stays");
		conf_free(next);
		free(r);
		return;
	}
	if (refused[0] != '\0')
		log_warn(&lc->lg, NULL, "reload: these keys need a restart and were not applied: %s",
			 refused);
	log_set_level(&lc->lg, next->log_level);
	atomic_store(&lc->cur, next);
	retire(lc, old, r);
	lc->reloads++;
	/* warn, not info: the one confirmation of an operator's reload (systemd 252 returns
	 * before it), rare, and prod logs at warn (docs/operations.md, section 8) */
	log_warn(&lc->lg, NULL, "configuration reloaded (%llu so far)",
		 (unsigned long long)lc->reloads);
}

/* ---- the loop -------------------------------------------------------------------------- */

/* How long the loop waits for a signal: often enough to ping a short watchdog at half its
 * interval and to see the daemon's progress in between. */
static int tick_ms(const struct svc *s)
{
	uint64_t ms = s->watchdog_usec / 4000;

	if (s->watchdog_usec == 0 || ms > TICK_MAX_MS)
		return TICK_MAX_MS;
	return ms < TICK_MIN_MS ? TICK_MIN_MS : (int)ms;
}

static void tick(struct lifecycle *lc, bool *was_stuck)
{
	char status[STATUS_MAX] = "";
	bool healthy = lc->app->tick(lc->ctx, status, sizeof(status));

	if (status[0] != '\0')
		svc_status(&lc->svc, "%s", status);
	if (healthy) {
		svc_watchdog(&lc->svc);
		/* warn: the end of the error below, visible wherever that one is (prod: warn) */
		if (*was_stuck)
			log_warn(&lc->lg, NULL, "progress again; watchdog pings resume");
	} else if (!*was_stuck) {
		log_error(&lc->lg, NULL, "no progress (%s); watchdog pings stop until there is",
			  status[0] != '\0' ? status : "stuck");
	}
	*was_stuck = !healthy;
	collect(lc);
}

/* SIGHUP: RELOADING=1, the reload, READY=1. */
static void reload_signalled(struct lifecycle *lc)
{
	svc_reloading(&lc->svc);
	reload(lc);
	svc_reloaded(&lc->svc);
}

/* Runs until a stop signal; returns it (STOPPING=1 has then been sent). A SIGHUP the start
 * took while it waited (svc_defer_reload) is applied first: the configuration running is the
 * one read before that wait, and the file may have changed since. */
static enum svc_event loop(struct lifecycle *lc)
{
	bool was_stuck = false;

	if (lc->svc.reload_pending) {
		lc->svc.reload_pending = false;
		reload_signalled(lc);
	}
	for (;;) {
		enum svc_event ev = svc_wait(&lc->svc, tick_ms(&lc->svc));

		if (ev == SVC_EV_STOP || ev == SVC_EV_STOP_NOW) {
			svc_stopping(&lc->svc);
			return ev;
		}
		if (ev == SVC_EV_RELOAD)
			reload_signalled(lc);
		tick(lc, &was_stuck);
	}
}

/* Exits now: a second stop signal. Nothing is freed: other threads may still run, and the
 * kernel takes everything back; the log line says what was left. */
static void exit_now(struct lifecycle *lc)
{
	unsigned n = lc->app->in_flight != NULL ? lc->app->in_flight(lc->ctx) : 0;

	log_warn(&lc->lg, NULL, "second stop signal: exiting now with %u in flight", n);
	_exit(SVC_EXIT_FAILURE);
}

/* Serving on, not ready, for the lame duck's ms (a second stop exits at once). */
static void lame_duck(struct lifecycle *lc, int64_t deadline)
{
	int ms = lc->app->lame_duck != NULL ? lc->app->lame_duck(lc->ctx) : 0;
	int64_t until;

	if (ms <= 0)
		return;
	until = clk_mono_ms() + ms;
	if (until > deadline) /* a drain time shorter than the lame duck cuts it */
		until = deadline;
	ms = (int)(until - clk_mono_ms());
	log_info(&lc->lg, NULL, "stopping: not ready, serving %d ms more before closing", ms);
	svc_status(&lc->svc, "stopping: not ready, serving %d ms more", ms);
	while (clk_mono_ms() < until) {
		int64_t left = until - clk_mono_ms();
		enum svc_event ev;

		ev = svc_wait(&lc->svc, left < DRAIN_SLICE_MS ? (int)left : DRAIN_SLICE_MS);

		if (ev == SVC_EV_STOP || ev == SVC_EV_STOP_NOW)
			exit_now(lc);
		svc_watchdog(&lc->svc);
	}
}

/* The drain ran out of time (drain_ms): the app's abandon sends what is finished, one line
 * says how much work is left running, and the process ends at once. Nothing is torn down
 * or freed, since the threads still running may touch anything until the exit ends them;
 * _exit, not exit, so that no atexit handler (OpenSSL's cleanup, LeakSanitizer's check of
 * what those threads hold) runs under them. Exit status 0, as SPEC §5 has a SIGTERM end:
 * the stop was bounded as asked, nothing received is lost (what the hung handlers hold comes
 * back after its visibility timeout), and the warning says what was abandoned; only a second
 * stop signal, an operator forcing it, exits 1. */
static void abandon(struct lifecycle *lc, int drain_ms)
{
	unsigned n = 0;

	if (lc->app->abandon != NULL)
		n = lc->app->abandon(lc->ctx, ABANDON_MS);
	else if (lc->app->in_flight != NULL)
		n = lc->app->in_flight(lc->ctx);
	log_warn(&lc->lg, NULL, "drain timed out after %d ms: exiting now, abandoning %u in "
		 "flight", drain_ms, n);
	svc_status(&lc->svc, "drain timed out: exiting, %u in flight abandoned", n);
	_exit(SVC_EXIT_OK);
}

/* The first stop: the lame duck, quiesce, then drain, all within the drain time (the
 * configuration's at the stop), watching for a second one; past it, abandon, which does not
 * return. */
static void drain(struct lifecycle *lc)
{
	int drain_ms = lc->app->drain_ms(atomic_load(&lc->cur));
	int64_t deadline = clk_mono_ms() + drain_ms;
	unsigned n = 0;

	lame_duck(lc, deadline);
	lc->app->quiesce(lc->ctx);
	if (lc->app->in_flight != NULL)
		n = lc->app->in_flight(lc->ctx);
	svc_status(&lc->svc, "draining %u", n);
	while (!lc->app->drain(lc->ctx, DRAIN_SLICE_MS)) {
		enum svc_event ev = svc_wait(&lc->svc, 0);

		if (ev == SVC_EV_STOP || ev == SVC_EV_STOP_NOW)
			exit_now(lc);
		/* the drain is bounded by TimeoutStopSec: keep a watchdog from firing first */
		svc_watchdog(&lc->svc);
		if (clk_mono_ms() >= deadline)
			abandon(lc, drain_ms);
	}
}

/* ---- start and end --------------------------------------------------------------------- */

static void lifecycle_free(struct lifecycle *lc)
{
	struct conf *cur = atomic_load(&lc->cur);

	while (lc->retired != NULL) {
		struct retired *r = lc->retired;

		lc->retired = r->next;
		conf_free(r->c);
		free(r);
	}
	if (cur != lc->first)
		conf_free(cur);
	conf_free(lc->first);
	metrics_free(lc->metrics);
	svc_cleanup(&lc->svc);
	aws_global_cleanup();
	free(lc);
}

/* Everything before the daemon's own setup. Returns an exit status, or -1 to go on. */
static int prepare(struct lifecycle *lc, int argc, char **argv)
{
	const struct lifecycle_app *app = lc->app;
	struct errbuf eb = {{0}};
	int code = SVC_EXIT_OK;

	if (!svc_parse_args(argc, argv, app->service, app->usage_extra, &lc->args, &code))
		return code;
	if (app->needs_country && lc->args.country == NULL) {
		fprintf(stderr, "%s: --country XX is required (the unit instance, e.g. pe)\n",
			app->service);
		return SVC_EXIT_USAGE;
	}
	if (!svc_load_config(app->service, lc->args.config_path, &lc->first))
		return SVC_EXIT_CONFIG;
	atomic_init(&lc->cur, lc->first);
	log_init(&lc->lg, app->service, lc->first->log_level);
	/* signals are blocked and curl set up before any thread exists */
	if (svc_init(&lc->svc, &lc->lg, &eb) != RC_OK || aws_global_init(&eb) != RC_OK) {
		fprintf(stderr, "%s: startup failed: %s\n", app->service, eb.msg);
		return SVC_EXIT_FAILURE;
	}
	if (awscfg_resolve(lc->first, &lc->aws, &eb) != RC_OK) {
		fprintf(stderr, "%s: configuration error: %s\n", app->service, eb.msg);
		return SVC_EXIT_CONFIG;
	}
	if (lc->aws.notice[0] != '\0')
		log_warn(&lc->lg, NULL, "AWS configuration: %s", lc->aws.notice);
	lc->metrics = metrics_new();
	if (lc->metrics == NULL) {
		fprintf(stderr, "%s: startup failed: out of memory\n", app->service);
		return SVC_EXIT_FAILURE;
	}
	/* every daemon's, set once: a unit the watchdog kills and systemd restarts, too slowly
	 * for StartLimitBurst= to trip, shows only as this value changing (docs/alerts.yml,
	 * AppointmentDaemonRestarting); `up` barely blips */
	if (metrics_describe(lc->metrics, "process_start_time_seconds", METRICS_GAUGE,
			     "Start time of the process since the Unix epoch in seconds.") != RC_OK) {
		fprintf(stderr, "%s: startup failed: metrics table\n", app->service);
		return SVC_EXIT_FAILURE;
	}
	metrics_set(lc->metrics, "process_start_time_seconds", NULL,
		    (double)clk_wall_ms() / 1000.0);
	return -1;
}

/* The daemon's setup, start, loop, drain. Returns the exit status. */
static int run(struct lifecycle *lc)
{
	const struct lifecycle_app *app = lc->app;
	struct errbuf eb = {{0}};
	char status[STATUS_MAX] = "";
	enum rc rc;

	rc = app->setup(lc, app->ud, &lc->ctx, &eb);
	if (rc != RC_OK) {
		fprintf(stderr, "%s: %s%s\n", app->service,
			rc == RC_INVAL ? "configuration error: " : "startup failed: ", eb.msg);
		return rc == RC_INVAL ? SVC_EXIT_CONFIG : SVC_EXIT_FAILURE;
	}
	if (lc->args.check_only)
		return SVC_EXIT_OK;
	/* the setup resolved what it needs: no daemon keeps a password in its environment
	 * (before start, which makes the threads) */
	secret_unset_env();
	rc = app->start(lc->ctx, status, sizeof(status), &eb);
	if (rc == RC_NOTFOUND)
		return SVC_EXIT_OK; /* asked to stop before it was ready */
	if (rc != RC_OK) {
		log_emit_err(&lc->lg, LOG_LVL_ERROR, eb.msg, "cannot start");
		return rc == RC_INVAL ? SVC_EXIT_CONFIG : SVC_EXIT_FAILURE;
	}
	svc_ready(&lc->svc, "%s", status[0] != '\0' ? status : "ready");
	if (loop(lc) == SVC_EV_STOP_NOW)
		exit_now(lc);
	drain(lc);
	log_info(&lc->lg, NULL, "stopped");
	return SVC_EXIT_OK;
}

int lifecycle_main(int argc, char **argv, const struct lifecycle_app *app)
{
	struct lifecycle *lc = calloc(1, sizeof(*lc));
	int code;

	if (lc == NULL) {
		fprintf(stderr, "%s: out of memory\n", app->service);
		return SVC_EXIT_FAILURE;
	}
	lc->app = app;
	lc->svc.sigfd = -1;
	code = prepare(lc, argc, argv);
	if (code < 0) {
		code = run(lc);
		if (lc->ctx != NULL)
			app->teardown(lc->ctx);
	}
	lifecycle_free(lc);
	return code;
}
