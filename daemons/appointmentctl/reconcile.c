/* reconcile.c — `appointmentctl reconcile [--older-than SECONDS] [--max-seconds SECONDS]
 * [--every SECONDS]`, the reconciler of SPEC §6 (appointment-reconcile.timer runs it every
 * 5 minutes; --every is the
 * timer's logic where there is no systemd: scripts/up runs it). On status-createdAt-index,
 * oldest first: every `pending` appointment created before now − the limit is published again to
 * its country topic (the API stored it but its publish failed, or the message was lost);
 * every `processed` one is announced again ("Appointment Processed" on the bus) so the
 * completion daemon completes it; every `cancelling` one whose cancel was accepted (updatedAt)
 * before the limit too is sent its cancel message again (the API's publish failed, or the
 * message was lost), so the worker releases the slot and closes it. Each goes out with the
 * request id and traceparent the item keeps (the POST's; a cancel's, the DELETE's), so the
 * worker's and the completion daemon's lines about it still carry them (SPEC §7). A topic is
 * published to only once a look found it has a confirmed subscription (as the API does): a
 * topic deleted and made again empty by a CreateTopic by name takes every Publish and
 * delivers it to no queue, so its items are left as they are, counted, and named in one
 * line with the fix. Safe to repeat and to run on several hosts at once: the worker and the
 * completion daemon are idempotent. Every item is tried; the exit status is 1 when any
 * failed or was left. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "ctl.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/timeutil.h"
#include "app/events.h"
#include "app/publish.h"
#include "app/store.h"

#define RECONCILE_MAX 10000               /* items of one status handled per run */
#define RECONCILE_FAIL_STREAK 20          /* failures in a row that end the walk: the
					   * endpoint is down, the next run retries */
#define OLDER_THAN_MAX (366L * 24 * 3600) /* --older-than: a year */
#define EVERY_MAX (24L * 3600)            /* --every: a day */
/* --max-seconds: how long one run may take, by default well under the timer's
 * TimeoutStartSec=4min, so a dead endpoint (each call up to its retry budget) ends a run
 * with its summary instead of systemd's SIGKILL. */
#define RUN_MAX_DEFAULT_S 200L
#define RUN_MAX_S 3600L
#define N_KINDS 3                         /* pending, processed, cancelling */

/* Per status and country: how many went out, how many failed, how many were left because
 * their topic delivers nowhere. */
struct tally {
	long done;
	long failed;
	long left;
};

/* What this run's look at a country's topic found. */
enum topic_look {
	TOPIC_UNSEEN = 0, /* not looked at yet in this run (or the look failed) */
	TOPIC_USABLE,     /* it has a confirmed subscription: publish */
	TOPIC_NOWHERE,    /* no confirmed subscription, or no such topic: leave its items */
};

struct recon {
	struct ctl x;                 /* config, AWS settings, output */
	struct ctl_clients cl;        /* DynamoDB, SNS, EventBridge; this thread only */
	char topic[CONF_MAX_COUNTRIES][SNS_ARN_MAX];     /* resolved topic ARNs, "" = not yet */
	char topic_err[CONF_MAX_COUNTRIES][256];         /* why a topic could not be resolved */
	enum topic_look look[CONF_MAX_COUNTRIES];        /* this run's look at each topic */
	int kind;                     /* the status being walked: kind_status[kind] */
	struct tally t[N_KINDS][CONF_MAX_COUNTRIES + 1]; /* last column: unconfigured countries */
	long seen[N_KINDS];           /* items the walk passed to us */
	int streak;                   /* failures in a row */
	bool gave_up[N_KINDS];        /* that walk stopped at RECONCILE_FAIL_STREAK */
	bool out_of_time[N_KINDS];    /* that walk stopped at its share of the run's time */
	int64_t walk_deadline;        /* monotonic ms: the current walk's share ends */
	long max_seconds;             /* --max-seconds */
	char first_error[512];        /* the first failure, for the final line */
	const char *before;           /* the limit of this run, ISO-8601 */
};

static const enum appt_status kind_status[N_KINDS] = {APPT_PENDING, APPT_PROCESSED,
						     APPT_CANCELLING};
static const char *const kind_verb[N_KINDS] = {"republished", "re-announced", "re-sent"};

/* The topic of country ci is found to deliver nowhere (missing: it does not exist, else it
 * has no confirmed subscription): one line naming the country and the fix (once a run: the
 * look is not made again), the run's first failure if it has none. */
static void topic_nowhere(struct recon *r, size_t ci, bool missing)
{
	const char *code = r->x.cfg->countries[ci].code;
	char line[512];

	r->look[ci] = TOPIC_NOWHERE;
	if (missing)
		str_cut(line, sizeof(line), "the SNS topic of %s (%s) does not exist; its "
			"appointments are left as they are until it is made and its queue subscribed "
			"again (appointmentctl provision)", code, r->topic[ci]);
	else
		str_cut(line, sizeof(line), "the SNS topic of %s (%s) has no confirmed "
			"subscription: a Publish would reach no queue (deleted, then made again empty "
			"by a CreateTopic by name?); its appointments are left as they are until its "
			"queue is subscribed again (appointmentctl provision)", code, r->topic[ci]);
	fprintf(r->x.out, "failed topic %s: %s\n", code, line);
	if (r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s", line);
}

/* The topic of country ci: the configured ARN, else CreateTopic by name (idempotent; the
 * API finds its topics the same way), then, once a run, a look at its subscriptions
 * (publish_topic_subscribed). A topic without a confirmed subscription, or that does not
 * exist, sets *nowhere: its items are left, nothing is published. A failure is remembered
 * for the walk, so a missing topic costs one call per walk, not one per appointment. */
static enum rc topic_of(struct recon *r, size_t ci, const char **arn, bool *nowhere,
			struct errbuf *eb)
{
	const struct conf_country *cc = &r->x.cfg->countries[ci];
	struct aws_error err;
	struct errbuf e = {{0}};
	bool subscribed = false;
	enum rc rc;

	*nowhere = r->look[ci] == TOPIC_NOWHERE;
	if (*nowhere)
		return RC_OK;
	if (r->topic_err[ci][0] != '\0')
		return eb_set(eb, RC_IO, "%s", r->topic_err[ci]);
	if (r->topic[ci][0] == '\0') {
		if (cc->topic_arn[0] != '\0') {
			snprintf(r->topic[ci], SNS_ARN_MAX, "%s", cc->topic_arn);
		} else if (sns_create_topic(r->cl.sns, cc->topic_name, NULL, 0, r->topic[ci], &err) !=
			   RC_OK) {
			aws_error_to_eb(&err, &e);
			eb_prefix(&e, "find topic %s", cc->topic_name);
			str_cut(r->topic_err[ci], sizeof(r->topic_err[ci]), "%s", e.msg);
			r->topic[ci][0] = '\0';
			return eb_set(eb, RC_IO, "%s", e.msg);
		}
	}
	if (r->look[ci] == TOPIC_UNSEEN) {
		rc = publish_topic_subscribed(r->cl.sns, r->topic[ci], &subscribed, &err, &e);
		if (rc == RC_NOTFOUND || (rc == RC_OK && !subscribed)) {
			topic_nowhere(r, ci, rc == RC_NOTFOUND);
			*nowhere = true;
			return RC_OK;
		}
		if (rc != RC_OK) {
			eb_prefix(&e, "look at the subscriptions of topic %s", r->topic[ci]);
			str_cut(r->topic_err[ci], sizeof(r->topic_err[ci]), "%s", e.msg);
			return eb_set(eb, RC_IO, "%s", e.msg);
		}
		r->look[ci] = TOPIC_USABLE;
	}
	*arn = r->topic[ci];
	return RC_OK;
}

static size_t country_index(const struct recon *r, const char *code)
{
	const struct conf *c = r->x.cfg;

	for (size_t i = 0; i < c->n_countries; i++)
		if (strcmp(c->countries[i].code, code) == 0)
			return i;
	return c->n_countries;
}

static void failed(struct recon *r, const char *msg)
{
	if (r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s", msg);
	r->streak++;
}

/* Called by store_scan_status for each stuck item, oldest first. */
static bool on_item(void *ud, const struct appointment *a)
{
	struct recon *r = ud;
	size_t ci = country_index(r, a->country);
	struct errbuf eb = {{0}};
	const struct appt_trace *tr;
	const char *arn = NULL;
	bool nowhere = false;
	enum rc rc;

	if (clk_mono_ms() >= r->walk_deadline) {
		r->out_of_time[r->kind] = true;
		return false;
	}
	r->seen[r->kind]++;
	/* the index orders by createdAt; a cancel is stuck only once it is old itself */
	if (kind_status[r->kind] == APPT_CANCELLING && strcmp(a->updated_at, r->before) >= 0)
		return true;
	if (ci == r->x.cfg->n_countries) {
		rc = eb_set(&eb, RC_INVAL, "no [country %s] section in the configuration", a->country);
	} else if (kind_status[r->kind] != APPT_PROCESSED) {
		/* a cancelling item's message is its cancel (appt_msg_init), with the DELETE's ids */
		tr = appt_trace_for(a, appt_status_cancel_side(a->status) ? APPT_MSG_CANCEL
									 : APPT_MSG_CREATE);
		rc = topic_of(r, ci, &arn, &nowhere, &eb);
		if (rc == RC_OK && nowhere) {
			/* not a failure of this item: the topic's, named once; no call was made */
			r->t[r->kind][ci].left++;
			return true;
		}
		if (rc == RC_OK)
			rc = publish_appointment(r->cl.sns, arn, a, tr->request_id, tr->traceparent,
						 clk_wall_ms(), NULL, &eb);
	} else {
		rc = events_put_outcome(r->cl.evb, NULL, r->x.cfg->event_bus_name, a,
					a->trace.request_id, a->trace.traceparent, &eb);
	}
	if (rc != RC_OK && clk_mono_ms() >= r->walk_deadline) {
		/* cut by the walk's deadline: not this item's failure; the next run sends it */
		r->out_of_time[r->kind] = true;
		return false;
	}
	if (rc == RC_OK) {
		r->t[r->kind][ci].done++;
		r->streak = 0;
	} else {
		r->t[r->kind][ci].failed++;
		fprintf(r->x.out, "failed %s %s %s: %s\n", appt_status_name(a->status),
			a->appointment_id, a->country, eb.msg);
		failed(r, eb.msg);
	}
	if (r->streak >= RECONCILE_FAIL_STREAK) {
		r->gave_up[r->kind] = true;
		return false;
	}
	return true;
}

/* Every call of the run's clients ends by deadline_ms (0: no deadline). */
static void clients_deadline(struct recon *r, int64_t deadline_ms)
{
	aws_client_set_deadline(ddb_client_core(r->cl.ddb), deadline_ms);
	aws_client_set_deadline(sns_client_core(r->cl.sns), deadline_ms);
	aws_client_set_deadline(evb_client_core(r->cl.evb), deadline_ms);
}

/* One walk, within deadline_ms (monotonic): a call under way when it passes ends then. */
static void walk(struct recon *r, int kind, const char *before, int64_t deadline_ms)
{
	struct errbuf eb = {{0}};
	enum rc rc;

	r->kind = kind;
	r->streak = 0;
	r->walk_deadline = deadline_ms;
	/* a lookup cut by the last walk's deadline is not this walk's answer */
	memset(r->topic_err, 0, sizeof(r->topic_err));
	clients_deadline(r, deadline_ms);
	rc = store_scan_status(r->cl.ddb, r->x.cfg->table_name, kind_status[kind], before,
			       RECONCILE_MAX, on_item, r, &eb);
	if (rc != RC_OK && clk_mono_ms() >= deadline_ms) {
		r->out_of_time[kind] = true; /* the query's page was cut by the deadline */
	} else if (rc != RC_OK) {
		eb_prefix(&eb, "query %s items of table %s", appt_status_name(kind_status[kind]),
			  r->x.cfg->table_name);
		fprintf(r->x.out, "failed %s: %s\n", appt_status_name(kind_status[kind]), eb.msg);
		failed(r, eb.msg);
	}
}

static void summary(struct recon *r, const char *before, long older_than)
{
	const struct conf *c = r->x.cfg;
	long done[N_KINDS] = {0}, nfailed = 0, nleft = 0;

	for (int k = 0; k < N_KINDS; k++) {
		const char *st = appt_status_name(kind_status[k]);

		for (size_t i = 0; i <= c->n_countries; i++) {
			const struct tally *t = &r->t[k][i];

			done[k] += t->done;
			nfailed += t->failed;
			nleft += t->left;
			if (i < c->n_countries && t->left > 0)
				fprintf(r->x.out, "%s %s: %ld %s, %ld failed, %ld left (topic without "
					"subscription)\n", st, c->countries[i].code, t->done,
					kind_verb[k], t->failed, t->left);
			else if (i < c->n_countries)
				fprintf(r->x.out, "%s %s: %ld %s, %ld failed\n", st, c->countries[i].code,
					t->done, kind_verb[k], t->failed);
			else if (t->failed > 0)
				fprintf(r->x.out, "%s (unconfigured countries): %ld failed\n", st,
					t->failed);
		}
		if (r->out_of_time[k])
			fprintf(r->x.out, "%s: stopped at its share of the run's %ld s (--max-seconds); "
				"the next run goes on\n", st, r->max_seconds);
		else if (r->gave_up[k])
			fprintf(r->x.out, "%s: stopped after %d failures in a row; the next run "
				"retries\n", st, RECONCILE_FAIL_STREAK);
		else if (r->seen[k] >= RECONCILE_MAX)
			fprintf(r->x.out, "%s: stopped at %d items, the limit of one run; the next run "
				"goes on\n", st, RECONCILE_MAX);
	}
	fprintf(r->x.out, "reconciled appointments created before %s (older than %ld s): %ld "
		"pending republished, %ld processed re-announced, %ld cancelling re-sent, %ld "
		"failed", before, older_than, done[0], done[1], done[2], nfailed);
	if (nleft > 0)
		fprintf(r->x.out, ", %ld left unsent", nleft);
	fputc('\n', r->x.out);
	fflush(r->x.out);
}

/* One run: the walks over items created before now - older_than, then the summary. The
 * tallies start from zero; a topic that could not be found is looked up again. Returns the
 * exit status of the run. */
static int run_once(struct recon *r, long older_than)
{
	char before[TU_ISO_SIZE];
	int64_t end = clk_mono_ms() + r->max_seconds * 1000;
	bool late = false;

	memset(r->t, 0, sizeof(r->t));
	memset(r->look, 0, sizeof(r->look)); /* each run looks again: provision may have run */
	memset(r->seen, 0, sizeof(r->seen));
	memset(r->gave_up, 0, sizeof(r->gave_up));
	memset(r->out_of_time, 0, sizeof(r->out_of_time));
	r->first_error[0] = '\0';
	if (tu_format_ms(clk_wall_ms() - older_than * 1000, before) != RC_OK)
		return ctl_die(CTL_EXIT_FAILURE, "reconcile: the clock is out of range");
	r->before = before;
	/* every walk always: a dead SNS does not stop the re-announcements on EventBridge. Each
	 * gets an equal share of the time left, so one stuck on a dead endpoint leaves the
	 * others theirs */
	for (int k = 0; k < N_KINDS; k++) {
		int64_t now = clk_mono_ms();

		walk(r, k, before, now + (end > now ? (end - now) / (N_KINDS - k) : 0));
		late = late || r->out_of_time[k];
	}
	clients_deadline(r, 0);
	summary(r, before, older_than);
	r->before = NULL;
	if (r->first_error[0] == '\0' && late)
		snprintf(r->first_error, sizeof(r->first_error), "the run's time limit of %ld s was "
			 "reached", r->max_seconds);
	if (r->first_error[0] != '\0')
		return ctl_die(CTL_EXIT_FAILURE, "reconcile: not everything went out (first failure: "
			       "%s)", r->first_error);
	return CTL_EXIT_OK;
}

/* --every: a run every `every` seconds (from the start of one to the start of the next)
 * until SIGTERM, SIGINT or SIGHUP, which end the wait at once, or a run, once it is done.
 * A failed run is reported and the next one retries, as the timer would; exit 0 on a stop.
 * The signals were blocked before any client (and any thread of libcurl) existed. */
static int run_every(struct recon *r, long older_than, long every, const sigset_t *stops)
{
	for (;;) {
		int64_t next = clk_mono_ms() + every * 1000;
		int sig = -1;

		(void)run_once(r, older_than);
		while (sig < 0) {
			int64_t left = next - clk_mono_ms();
			struct timespec ts;

			if (left <= 0)
				break;
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			sig = sigtimedwait(stops, NULL, &ts);
			if (sig < 0 && errno != EINTR && errno != EAGAIN)
				return ctl_die(CTL_EXIT_FAILURE, "reconcile: waiting for signals: %s",
					       strerror(errno));
		}
		if (sig >= 0) {
			fprintf(r->x.out, "reconcile: stopped by signal %d\n", sig);
			fflush(r->x.out);
			return CTL_EXIT_OK;
		}
	}
}

int ctl_cmd_reconcile(const char *config_path, int argc, char **argv)
{
	struct recon *r = calloc(1, sizeof(*r));
	struct errbuf eb = {{0}};
	const char *v = NULL;
	long older_than = -1;
	long every = 0;
	long max_seconds = RUN_MAX_DEFAULT_S;
	sigset_t stops;
	int code = CTL_EXIT_OK;

	if (r == NULL)
		return ctl_die(CTL_EXIT_FAILURE, "out of memory");
	for (int i = 1; i < argc; i++) {
		int o = ctl_opt_value(argc, argv, &i, "--older-than", &v);

		if (o != 0) {
			if (o < 0 || !ctl_parse_long(v, 0, OLDER_THAN_MAX, &older_than)) {
				code = ctl_die(CTL_EXIT_USAGE, "reconcile: --older-than needs seconds, a "
					       "whole number from 0 to %ld", OLDER_THAN_MAX);
				goto out;
			}
			continue;
		}
		o = ctl_opt_value(argc, argv, &i, "--max-seconds", &v);
		if (o != 0) {
			if (o < 0 || !ctl_parse_long(v, 1, RUN_MAX_S, &max_seconds)) {
				code = ctl_die(CTL_EXIT_USAGE, "reconcile: --max-seconds needs seconds, a "
					       "whole number from 1 to %ld", RUN_MAX_S);
				goto out;
			}
			continue;
		}
		o = ctl_opt_value(argc, argv, &i, "--every", &v);
		if (o != 0) {
			if (o < 0 || !ctl_parse_long(v, 1, EVERY_MAX, &every)) {
				code = ctl_die(CTL_EXIT_USAGE, "reconcile: --every needs seconds, a whole "
					       "number from 1 to %ld", EVERY_MAX);
				goto out;
			}
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] reconcile [--older-than SECONDS] "
			       "[--max-seconds SECONDS] [--every SECONDS]\n"
			       "default --older-than: [worker] reconcile_after_seconds (300; dev 60)\n"
			       "--max-seconds: one run's time limit, shared by its walks (default %ld)\n"
			       "--every: run again every SECONDS until SIGTERM/SIGINT (exit 0)\n",
			       RUN_MAX_DEFAULT_S);
			goto out;
		} else {
			code = ctl_die(CTL_EXIT_USAGE, "reconcile: unknown argument '%s' (try "
				       "reconcile --help)", argv[i]);
			goto out;
		}
	}
	if (every > 0) {
		/* before any client exists: libcurl's resolver threads inherit the mask */
		sigemptyset(&stops);
		sigaddset(&stops, SIGTERM);
		sigaddset(&stops, SIGINT);
		sigaddset(&stops, SIGHUP);
		if (sigprocmask(SIG_BLOCK, &stops, NULL) != 0) {
			code = ctl_die(CTL_EXIT_FAILURE, "reconcile: blocking signals: %s",
				       strerror(errno));
			goto out;
		}
	}
	code = ctl_open(&r->x, config_path, true);
	if (code != CTL_EXIT_OK)
		goto out;
	if (older_than < 0)
		older_than = r->x.cfg->reconcile_after_seconds;
	r->max_seconds = max_seconds;
	if (ctl_clients_open(&r->x, CTL_DDB | CTL_SNS | CTL_EVB, &r->cl, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	code = every > 0 ? run_every(r, older_than, every, &stops) : run_once(r, older_than);
out:
	ctl_clients_close(&r->cl);
	ctl_close(&r->x);
	free(r);
	return code;
}
