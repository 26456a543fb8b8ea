/* password.c — the API's PostgreSQL password: resolved at setup (SPEC §2 sources) and, when
 * SSM should have given it but did not, asked again on a thread of its own with backoff until
 * SSM answers or the API stops. The API never waits for it (SPEC: up without PostgreSQL or
 * SSM): meanwhile the schedule checks are skipped, and the handlers' connections take the
 * password up on their next check (api_thread_db). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "app/secret.h"
#include "aws/awsmetrics.h"
#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"

#define PW_GAUGE "appointmentd_db_password_missing"

const char *api_pw_get(struct api_ctx *ctx)
{
	return atomic_load(&ctx->pw.value);
}

/* The pace of the next attempts, for the log lines. */
static const char *pace(const struct api_pw *pw)
{
	return pw->slow ? "every 5 min (needs a fix: the parameter, the instance role)"
			: "with backoff up to every 60 s";
}

void api_pw_init(struct api_pw *pw)
{
	pthread_condattr_t ca;

	atomic_init(&pw->value, NULL);
	atomic_init(&pw->tries, 0);
	atomic_init(&pw->waiting, false);
	atomic_init(&pw->abort, false);
	pthread_mutex_init(&pw->lock, NULL);
	/* pause_ms's deadline is monotonic: a wall clock step neither cuts nor stretches it */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pw->cv, &ca);
	pthread_condattr_destroy(&ca);
}

void api_pw_setup(struct api_ctx *ctx)
{
	struct api_pw *pw = &ctx->pw;
	struct errbuf eb = {{0}};
	enum secret_source src = SECRET_ENV; /* not SSM: only an SSM step sets that */
	char *value = NULL;
	enum rc rc;
	bool from_ssm;

	pw->cfg = api_cfg(ctx);
	pw->since_ms = clk_mono_ms();
	rc = secret_rds_password(pw->cfg, ctx->aws, &value, &src, &eb);
	from_ssm = src == SECRET_SSM;
	atomic_store(&pw->tries, from_ssm ? 1u : 0u);
	/* before any thread exists: no daemon keeps a password in its environment */
	if (secret_scrub_env(&value) != RC_OK)
		log_warn(ctx->lg, NULL, "out of memory taking the password out of the environment");
	atomic_store(&pw->value, value);
	if (rc == RC_OK) {
		log_info(ctx->lg, NULL, "PostgreSQL password from %s", secret_source_name(src));
	} else if (value != NULL) {
		log_info(ctx->lg, NULL, "PostgreSQL password from PGPASSWORD");
	} else if (from_ssm) {
		/* SSM was asked and did not give it (the environment's sources had none): a blip
		 * at boot, throttling, or a missing parameter or permission someone may fix */
		pw->slow = !rc_transient(rc);
		pw->failures = 1;
		atomic_store(&pw->waiting, true);
		metrics_set(ctx->metrics, PW_GAUGE, NULL, 1);
		log_emit_err(ctx->lg, LOG_LVL_WARN, eb.msg,
			     "no PostgreSQL password: schedule checks are skipped while SSM is asked "
			     "again %s", pace(pw));
	} else {
		log_emit_err(ctx->lg, LOG_LVL_WARN, eb.msg,
			     "no PostgreSQL password; schedule checks will be skipped");
	}
}

/* Waits ms, or until api_pw_stop; false when stopped. */
static bool pause_ms(struct api_pw *pw, long ms)
{
	struct timespec until = clk_deadline(CLOCK_MONOTONIC, ms);
	int err = 0;
	bool stop;

	pthread_mutex_lock(&pw->lock);
	while (!pw->stop && err == 0)
		err = pthread_cond_timedwait(&pw->cv, &pw->lock, &until);
	stop = pw->stop;
	pthread_mutex_unlock(&pw->lock);
	return !stop;
}

/* One SSM attempt on ssm: true when it gave the password (published, logged). */
static bool attempt(struct api_ctx *ctx, struct ssm_client *ssm)
{
	struct api_pw *pw = &ctx->pw;
	struct errbuf eb = {{0}};
	char *value = NULL;
	unsigned tries = atomic_fetch_add(&pw->tries, 1) + 1;
	bool was_slow = pw->slow;
	enum rc rc;

	aws_client_set_deadline(ssm_client_core(ssm), clk_mono_ms() + API_PW_CALL_MS);
	rc = secret_ssm_password(pw->cfg, ssm, &value, &eb);
	if (rc == RC_OK) {
		atomic_store(&pw->value, value);
		atomic_store(&pw->waiting, false);
		metrics_set(ctx->metrics, PW_GAUGE, NULL, 0);
		/* warn: the end of the warning at setup, seen wherever that one is (prod: warn) */
		log_warn(ctx->lg, NULL, "PostgreSQL password from SSM after %u tries (%lld s "
			 "without it); schedule checks resume", tries,
			 (long long)((clk_mono_ms() - pw->since_ms) / 1000));
		return true;
	}
	if (atomic_load(&pw->abort))
		return false;
	pw->slow = !rc_transient(rc);
	pw->failures = pw->slow ? 1 : pw->failures + 1;
	/* a change of kind is news (SSM back, but the parameter is missing); the rest is not */
	log_emit_err(ctx->lg, pw->slow != was_slow ? LOG_LVL_WARN : LOG_LVL_DEBUG, eb.msg,
		     "still no PostgreSQL password after %u tries; SSM is asked again %s", tries,
		     pace(pw));
	return false;
}

/* The thread: asks SSM until it gives the password or the API stops. */
static void *pw_main(void *arg)
{
	struct api_ctx *ctx = arg;
	struct api_pw *pw = &ctx->pw;
	const struct backoff fast = {API_PW_RETRY_MIN_MS, API_PW_RETRY_MAX_MS, API_PW_RETRY_MIN_MS};
	struct errbuf eb = {{0}};
	struct ssm_client *ssm = ssm_client_new(ctx->aws, &eb);
	struct rng rng;

	rng_init(&rng, pw);
	if (ssm == NULL) {
		log_emit_err(ctx->lg, LOG_LVL_ERROR, eb.msg,
			     "cannot ask SSM for the PostgreSQL password again: schedule checks stay "
			     "skipped until a restart");
		return NULL;
	}
	aws_client_set_abort_flag(ssm_client_core(ssm), &pw->abort);
	awsmetrics_attach(ssm_client_core(ssm), ctx->metrics);
	for (;;) {
		long wait = pw->slow ? API_PW_RETRY_SLOW_MS
				     : backoff_delay(&fast, pw->failures, rng_next(&rng));

		if (!pause_ms(pw, wait) || attempt(ctx, ssm))
			break;
	}
	ssm_client_free(ssm);
	return NULL;
}

void api_pw_start(struct api_ctx *ctx)
{
	struct api_pw *pw = &ctx->pw;

	if (!atomic_load(&pw->waiting))
		return;
	/* the API serves without the password rather than not at all (SPEC) */
	if (pthread_create(&pw->thread, NULL, pw_main, ctx) != 0) {
		log_error(ctx->lg, NULL, "cannot start the thread asking SSM for the PostgreSQL "
			  "password: schedule checks stay skipped until a restart");
		return;
	}
	pw->started = true;
}

void api_pw_status(struct api_ctx *ctx, char *status, size_t n)
{
	size_t len = strlen(status);

	if (atomic_load(&ctx->pw.waiting) && len < n)
		(void)str_cut(status + len, n - len, "; no PostgreSQL password (SSM tries: %u)",
			      atomic_load(&ctx->pw.tries));
}

void api_pw_stop(struct api_ctx *ctx)
{
	struct api_pw *pw = &ctx->pw;

	atomic_store(&pw->abort, true);
	pthread_mutex_lock(&pw->lock);
	pw->stop = true;
	pthread_cond_broadcast(&pw->cv);
	pthread_mutex_unlock(&pw->lock);
}

void api_pw_cleanup(struct api_ctx *ctx)
{
	struct api_pw *pw = &ctx->pw;

	api_pw_stop(ctx);
	if (pw->started)
		pthread_join(pw->thread, NULL);
	pw->started = false;
	secret_free(atomic_exchange(&pw->value, NULL));
	pthread_cond_destroy(&pw->cv);
	pthread_mutex_destroy(&pw->lock);
}
