/* consumer.c — one receiver thread, N worker threads and one acker thread around a
 * mutex. The receiver asks for a whole batch whenever a worker is idle, so that on a
 * backlog it makes one ReceiveMessage per batch rather than one per message: up to
 * prefetch (min(10, N)) messages wait inside the process for a worker, and their
 * visibility is extended like the running ones'. The acker owns every SQS write (deletes,
 * backoffs, heartbeats, releases) so workers never block on SQS after their work is done;
 * it gathers deletes for up to DELETE_LINGER_MS into one DeleteMessageBatch. */
#include "run/consumer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"

#define HEARTBEAT_RETRY_USEC 250000u /* a failed heartbeat is tried again this soon */
#define ERROR_PAUSE_MS 2000 /* after a failed receive, before the next one */
#define DELETE_LINGER_MS 50 /* a handled message waits this long for others to share its
			     * DeleteMessageBatch (SQS bills per request; off the path) */

/* What the acker must do with a finished job. */
enum job_action {
	JOB_NONE,       /* still pending or being handled */
	JOB_DELETE,     /* done or reported poison */
	JOB_VISIBILITY, /* transient failure (backoff) or release (0) */
};

/* One received message; owned by the consumer from receive to ack. */
struct job {
	struct sqs_message msg;    /* moved out of the receive answer */
	uint64_t extended_usec;    /* monotonic time its visibility was last (re)set */
	uint64_t since_usec;       /* monotonic time it was received, then started; by lock */
	bool hung;                 /* running past hung_after: logged, no more heartbeats; by lock */
	enum job_action action;
	int visibility;            /* for JOB_VISIBILITY */
	struct job *next;
};

struct job_list {
	struct job *head, *tail;
	size_t n;
};

struct consumer {
	struct consumer_opts o;
	struct backoff backoff;    /* visibility after a transient failure, s: [min, max] */
	pthread_mutex_t lock;
	pthread_cond_t work_cv;    /* pending grew, or stop */
	pthread_cond_t space_cv;   /* a worker became free, or stop */
	pthread_cond_t ack_cv;     /* outbox grew, or stop */
	pthread_cond_t done_cv;    /* the acker finished */
	pthread_cond_t start_cv;   /* a worker made its state, or failed to */
	int workers_ready;         /* workers whose thread_new succeeded */
	int workers_failed;        /* workers whose thread_new failed */
	enum rc start_rc;          /* the first failure of thread_new */
	struct errbuf start_eb;    /* its detail, naming the worker */
	struct job_list pending;   /* received, not started */
	struct job_list outbox;    /* finished, waiting for the acker */
	uint64_t outbox_since_usec; /* monotonic time the outbox last stopped being empty */
	struct job *active[CONSUMER_MAX_IN_FLIGHT]; /* being handled, by worker */
	size_t n_active;
	int workers_left;          /* workers still running */
	bool receiver_left;        /* receiver still running */
	bool acker_done;
	bool abandoned;            /* consumer_abandon: the acker ends without the handlers */
	atomic_bool stop;
	const struct consumer_sqs_ops *sqs; /* o.sqs, or consumer_sqs_aws */
	void *rx;                  /* receiver's client */
	void *ack;                 /* acker's client */
	pthread_t receiver_tid, acker_tid;
	bool has_receiver, has_acker; /* the threads were created */
	pthread_t worker_tid[CONSUMER_MAX_IN_FLIGHT];
	int n_workers;
	atomic_uint_least64_t progress_usec; /* receiver's last sign of life */
	uint64_t hung_after_usec;  /* o.hung_after_ms, or its default */
	atomic_uint n_hung;        /* running jobs marked hung (changed under lock) */
	atomic_uint in_flight;
	atomic_uint_least64_t handled;
	char state[160];           /* guarded by lock */
	char waiting[160];         /* what a handler waits for, "" when nothing; by lock */
};

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *j = l->head;

	if (j == NULL)
		return NULL;
	l->head = j->next;
	if (l->head == NULL)
		l->tail = NULL;
	l->n--;
	j->next = NULL;
	return j;
}

static void job_free(struct job *j)
{
	if (j == NULL)
		return;
	sqs_message_cleanup(&j->msg);
	free(j);
}

/* Moves one received message into a job; the answer keeps an empty husk. */
static struct job *job_take(struct sqs_message *m)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->msg = *m;
	memset(m, 0, sizeof(*m));
	j->extended_usec = clk_mono_us();
	j->since_usec = j->extended_usec;
	return j;
}

static void set_state(struct consumer *c, const char *what, const char *detail)
{
	pthread_mutex_lock(&c->lock);
	str_cut(c->state, sizeof(c->state), "%s%s", what, detail);
	pthread_mutex_unlock(&c->lock);
}

static void count(struct consumer *c, const char *name, const char *kind, double n)
{
	const char *labels[] = {"queue", c->o.queue_label, "kind", kind, NULL};

	if (kind == NULL)
		labels[2] = NULL;
	metrics_add(c->o.metrics, name, labels, n);
}

enum rc consumer_metrics_describe(struct metrics *m)
{
	static const struct {
		const char *name;
		enum metrics_type type;
		const char *help;
	} fams[] = {
		{"appointmentd_messages_received_total", METRICS_COUNTER, "SQS messages received, by queue."},
		{"appointmentd_messages_succeeded_total", METRICS_COUNTER, "Messages handled and deleted, by queue."},
		{"appointmentd_messages_failed_total", METRICS_COUNTER,
		 "Messages that failed, by queue and kind (transient: retried later; poison: reported and deleted)."},
		{"appointmentd_messages_dead_lettered_total", METRICS_COUNTER,
		 "Messages that failed on their last allowed receive (SQS moves them to the DLQ)."},
		{"appointmentd_handler_duration_seconds", METRICS_HISTOGRAM, "Time to handle one message, by queue."},
		{"appointmentd_messages_in_flight", METRICS_GAUGE, "Messages being handled now, by queue."},
		{"appointmentd_queue_oldest_message_age_seconds", METRICS_GAUGE,
		 "Age of the oldest message of the last receive (0 when it came back empty), by queue."},
	};
	enum rc rc = RC_OK;

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]) && rc == RC_OK; i++)
		rc = metrics_describe(m, fams[i].name, fams[i].type, fams[i].help);
	return rc;
}

/* Creates each per-queue counter at 0, with the labels count() gives it later: a series
 * that first appears with its first increment hides that increment from increase(), and a
 * sum() over no series is empty, not 0 (docs/alerts.yml). The in-flight gauge too. */
static void counters_zero(struct consumer *c)
{
	const char *labels[] = {"queue", c->o.queue_label, NULL};

	count(c, "appointmentd_messages_received_total", NULL, 0);
	count(c, "appointmentd_messages_succeeded_total", NULL, 0);
	count(c, "appointmentd_messages_failed_total", "transient", 0);
	count(c, "appointmentd_messages_failed_total", "poison", 0);
	count(c, "appointmentd_messages_dead_lettered_total", NULL, 0);
	metrics_add(c->o.metrics, "appointmentd_messages_in_flight", labels, 0);
}

/* m is on its last allowed receive: a retry sends it to the DLQ, not back to the queue. */
static bool last_receive(const struct consumer *c, const struct sqs_message *m)
{
	return m->receive_count >= c->o.max_receive_count;
}

const char *consumer_retry_note(const struct consumer_message *m)
{
	return last_receive(m->consumer, m->sqs) ? "its last receive: not retried" : "will retry";
}

/* A message given back unhandled (visibility 0: at a stop, or stranded behind hung handlers)
 * on its last receive: SQS moves it to the DLQ at its next receive without a handler having
 * tried it on this one. Counted and told like a last failure. Not under the lock. */
static void released_last(struct consumer *c, const struct job *j, const char *why)
{
	struct log_fields f = {.message_id = j->msg.message_id, .duration_ms = -1};

	if (!last_receive(c, &j->msg))
		return;
	count(c, "appointmentd_messages_dead_lettered_total", NULL, 1);
	log_error(c->o.lg, &f, "message of %s given back %s on receive %d of %d; SQS moves it to "
		  "the DLQ at its next receive (appointmentctl redrive %s)", c->o.queue_label, why,
		  j->msg.receive_count, c->o.max_receive_count, c->o.queue_label);
}

/* ---- receiver ---- */

/* SQS has no "age of the oldest message" attribute (CloudWatch does): the consumer
 * reports what it sees, from SentTimestamp, for the "messages older than N" alert. */
static void note_oldest(struct consumer *c, const struct sqs_messages *got)
{
	const char *labels[] = {"queue", c->o.queue_label, NULL};
	long long now_ms = clk_wall_ms();
	double oldest = 0;

	for (size_t i = 0; i < got->n; i++) {
		long long sent = got->v[i].sent_timestamp_ms;

		if (sent > 0 && now_ms > sent && (double)(now_ms - sent) / 1000.0 > oldest)
			oldest = (double)(now_ms - sent) / 1000.0;
	}
	metrics_set(c->o.metrics, "appointmentd_queue_oldest_message_age_seconds", labels, oldest);
}

static void *receiver_main(void *arg)
{
	struct consumer *c = arg;
	struct sqs_messages got = {0};
	struct aws_error err;
	struct errbuf eb = {{0}};
	/* messages that may wait received for a worker: one batch, at most one per worker */
	size_t prefetch = (size_t)c->o.max_in_flight < SQS_BATCH_MAX ? (size_t)c->o.max_in_flight
								      : SQS_BATCH_MAX;

	while (!atomic_load(&c->stop)) {
		struct sqs_receive_opts ro = {0, c->o.wait_seconds, -1};
		size_t room;
		enum rc rc;

		pthread_mutex_lock(&c->lock);
		/* held < max_in_flight: a worker is idle (and nothing is pending) */
		while (!atomic_load(&c->stop) &&
		       c->pending.n + c->n_active >= (size_t)c->o.max_in_flight) {
			struct timespec ts = clk_deadline(CLOCK_REALTIME, 1000);

			(void)pthread_cond_timedwait(&c->space_cv, &c->lock, &ts);
			/* waiting for busy workers is progress too, so the watchdog does not fire
			 * during a long handler; but not for a hung one (running past hung_after,
			 * marked by the acker): then the watchdog must fire */
			if (atomic_load(&c->n_hung) == 0)
				atomic_store(&c->progress_usec, clk_mono_us());
		}
		room = (size_t)c->o.max_in_flight + prefetch - c->pending.n - c->n_active;
		pthread_mutex_unlock(&c->lock);
		if (atomic_load(&c->stop))
			break;
		ro.max_messages = room < SQS_BATCH_MAX ? (int)room : SQS_BATCH_MAX;
		rc = c->sqs->receive(c->rx, c->o.queue_url, &ro, &got, &err);
		atomic_store(&c->progress_usec, clk_mono_us());
		if (rc != RC_OK) {
			if (atomic_load(&c->stop))
				break;
			aws_error_to_eb(&err, &eb);
			log_emit_err(c->o.lg, LOG_LVL_WARN, eb.msg, "receive from %s failed; retrying",
				     c->o.queue_label);
			set_state(c, "waiting for SQS: ", eb.msg);
			pthread_mutex_lock(&c->lock);
			{
				struct timespec ts = clk_deadline(CLOCK_REALTIME, ERROR_PAUSE_MS);

				if (!atomic_load(&c->stop))
					(void)pthread_cond_timedwait(&c->space_cv, &c->lock, &ts);
			}
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		set_state(c, "receiving", "");
		count(c, "appointmentd_messages_received_total", NULL, (double)got.n);
		note_oldest(c, &got);
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < got.n; i++) {
			struct job *j = job_take(&got.v[i]);

			if (j == NULL) {
				/* not deleted: it comes back after its visibility timeout */
				log_error(c->o.lg, NULL, "out of memory holding a message of %s",
					  c->o.queue_label);
				continue;
			}
			list_push(&c->pending, j);
		}
		pthread_cond_broadcast(&c->work_cv);
		pthread_mutex_unlock(&c->lock);
		sqs_messages_cleanup(&got);
	}
	sqs_messages_cleanup(&got);
	pthread_mutex_lock(&c->lock);
	c->receiver_left = false;
	pthread_cond_broadcast(&c->ack_cv);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- workers ---- */

struct worker_arg {
	struct consumer *c;
	int index;
};

/* Runs the handler and turns its verdict into what the acker must do. */
static void work_one(struct consumer *c, void *tctx, struct job *j, struct rng *rng)
{
	struct consumer_message m = {&j->msg, c->o.queue_label, &c->stop, c};
	struct errbuf reason = {{0}};
	struct errbuf eb = {{0}};
	struct log_fields f = {.message_id = j->msg.message_id, .duration_ms = -1};
	const char *dur_labels[] = {"queue", c->o.queue_label, NULL};
	uint64_t t0 = clk_mono_us();
	enum consumer_verdict v = c->o.handle(tctx, &m, &reason);

	metrics_observe(c->o.metrics, "appointmentd_handler_duration_seconds", dur_labels,
			(double)(clk_mono_us() - t0) / 1e6);
	if (v == CONSUMER_POISON) {
		/* poison = reported and deleted; unreported, it is kept and counted transient */
		if (c->o.on_poison(tctx, &m, reason.msg, &eb) == RC_OK) {
			count(c, "appointmentd_messages_failed_total", "poison", 1);
			j->action = JOB_DELETE;
			return;
		}
		f.error = eb.msg;
		log_warn(c->o.lg, &f, "reporting a poison message failed; keeping it for a retry");
		v = CONSUMER_RETRY;
	}
	if (v == CONSUMER_RETRY && atomic_load(&c->stop)) {
		/* the handler gave up because of the stop: the message is not at fault, and
		 * another consumer can take it now rather than after a backoff */
		released_last(c, j, "at a stop");
		j->action = JOB_VISIBILITY;
		j->visibility = 0;
		return;
	}
	if (v == CONSUMER_RETRY) {
		count(c, "appointmentd_messages_failed_total", "transient", 1);
		if (last_receive(c, &j->msg)) {
			count(c, "appointmentd_messages_dead_lettered_total", NULL, 1);
			/* the last the consumer sees of it: nothing else says where it went */
			if (f.error == NULL)
				f.error = reason.msg;
			log_error(c->o.lg, &f, "message of %s failed on receive %d of %d; SQS moves it "
				  "to the DLQ (appointmentctl redrive %s once the cause is fixed)",
				  c->o.queue_label, j->msg.receive_count, c->o.max_receive_count,
				  c->o.queue_label);
		}
		j->action = JOB_VISIBILITY;
		j->visibility = (int)backoff_delay(&c->backoff, j->msg.receive_count, rng_next(rng));
		return;
	}
	count(c, "appointmentd_messages_succeeded_total", NULL, 1);
	j->action = JOB_DELETE;
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct consumer *c = wa->c;
	int idx = wa->index;
	void *tctx = NULL;
	struct errbuf eb = {{0}};
	struct rng rng;
	const char *labels[] = {"queue", c->o.queue_label, NULL};
	char hung_id[SQS_MESSAGE_ID_MAX];
	uint64_t ran;
	bool was_hung;
	enum rc rc;

	rng_init(&rng, wa);
	free(wa);
	/* a failure is not retried: consumer_start waits for this and fails the start, so no
	 * message is ever received that no worker can handle (issue 10) */
	rc = c->o.thread_new(c->o.ud, &tctx, &eb);
	if (rc == RC_OK && tctx == NULL)
		rc = eb_set(&eb, RC_FATAL, "no state made");
	pthread_mutex_lock(&c->lock);
	if (rc == RC_OK) {
		c->workers_ready++;
	} else {
		tctx = NULL;
		if (c->workers_failed++ == 0) {
			c->start_rc = rc;
			eb_set(&c->start_eb, rc, "worker thread %d cannot start: %s", idx, eb.msg);
		}
	}
	pthread_cond_broadcast(&c->start_cv);
	pthread_mutex_unlock(&c->lock);
	while (tctx != NULL) {
		struct job *j;

		pthread_mutex_lock(&c->lock);
		while (!atomic_load(&c->stop) && c->pending.head == NULL)
			pthread_cond_wait(&c->work_cv, &c->lock);
		/* on stop, nothing new starts: the acker releases what is pending */
		if (atomic_load(&c->stop)) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		j = list_pop(&c->pending);
		j->since_usec = clk_mono_us();
		c->active[idx] = j;
		c->n_active++;
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add(&c->in_flight, 1);
		metrics_add(c->o.metrics, "appointmentd_messages_in_flight", labels, 1);

		work_one(c, tctx, j, &rng);

		metrics_add(c->o.metrics, "appointmentd_messages_in_flight", labels, -1);
		atomic_fetch_sub(&c->in_flight, 1);
		atomic_fetch_add(&c->handled, 1);
		pthread_mutex_lock(&c->lock);
		ran = clk_mono_us() - j->since_usec;
		was_hung = j->hung;
		if (was_hung) {
			/* the job is the acker's once in the outbox: its id is copied here */
			snprintf(hung_id, sizeof(hung_id), "%s", j->msg.message_id);
			atomic_fetch_sub(&c->n_hung, 1);
		}
		c->active[idx] = NULL;
		c->n_active--;
		if (c->outbox.head == NULL)
			c->outbox_since_usec = clk_mono_us();
		list_push(&c->outbox, j);
		pthread_cond_broadcast(&c->ack_cv);
		pthread_cond_broadcast(&c->space_cv);
		pthread_mutex_unlock(&c->lock);
		if (was_hung) {
			struct log_fields f = {.message_id = hung_id, .duration_ms = (double)ran / 1000.0};

			log_warn(c->o.lg, &f, "the hung handler of a message of %s returned after %.1f s",
				 c->o.queue_label, (double)ran / 1e6);
		}
	}
	if (tctx != NULL)
		c->o.thread_free(tctx);
	pthread_mutex_lock(&c->lock);
	c->workers_left--;
	pthread_cond_broadcast(&c->ack_cv);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- acker ---- */

static void log_entry_failure(struct consumer *c, const struct job *j, const char *what,
			      const struct sqs_batch_result *r)
{
	struct log_fields f = {.message_id = j->msg.message_id, .error = r->message, .duration_ms = -1};

	log_warn(c->o.lg, &f, "%s on %s failed (%s); SQS will redeliver it", what, c->o.queue_label,
		 r->code);
}

/* Deletes up to 10 jobs in one call; failures are logged (the message comes back
 * and its handler is idempotent). Frees the jobs. */
static void flush_deletes(struct consumer *c, struct job **jobs, size_t n)
{
	const char *handles[SQS_BATCH_MAX] = {NULL};
	struct sqs_batch_result res[SQS_BATCH_MAX];
	struct aws_error err;
	struct errbuf eb = {{0}};
	size_t nfailed = 0;
	enum rc rc;

	for (size_t i = 0; i < n; i++)
		handles[i] = jobs[i]->msg.receipt_handle;
	rc = c->sqs->delete_batch(c->ack, c->o.queue_url, handles, n, res, &nfailed, &err);
	if (rc != RC_OK) {
		aws_error_to_eb(&err, &eb);
		log_emit_err(c->o.lg, LOG_LVL_WARN, eb.msg,
			     "deleting %zu handled messages of %s failed; they will be redelivered", n,
			     c->o.queue_label);
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == RC_OK && res[i].rc != RC_OK)
			log_entry_failure(c, jobs[i], "delete", &res[i]);
		job_free(jobs[i]);
	}
}

/* Sets the visibility of up to 10 jobs; frees them when free_after. retry (NULL: not
 * wanted) gets, per job, whether its change failed in a way a retry may mend: the whole
 * call, or its entry for a reason that is not the sender's (an invalid or expired receipt
 * handle stays so). */
static void flush_visibility(struct consumer *c, struct job **jobs, const int *vis, size_t n,
			     bool free_after, bool *retry)
{
	struct sqs_visibility_entry e[SQS_BATCH_MAX] = {{NULL, 0}};
	struct sqs_batch_result res[SQS_BATCH_MAX];
	struct aws_error err;
	struct errbuf eb = {{0}};
	size_t nfailed = 0;
	enum rc rc;

	for (size_t i = 0; i < n; i++) {
		e[i].receipt_handle = jobs[i]->msg.receipt_handle;
		e[i].visibility_timeout = vis[i];
	}
	rc = c->sqs->change_visibility_batch(c->ack, c->o.queue_url, e, n, res, &nfailed, &err);
	if (rc != RC_OK) {
		aws_error_to_eb(&err, &eb);
		log_emit_err(c->o.lg, LOG_LVL_WARN, eb.msg, "changing visibility of %zu messages of %s failed",
			     n, c->o.queue_label);
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == RC_OK && res[i].rc != RC_OK)
			log_entry_failure(c, jobs[i], "change visibility", &res[i]);
		if (retry != NULL)
			retry[i] = rc != RC_OK || (res[i].rc != RC_OK && !res[i].sender_fault);
		if (free_after)
			job_free(jobs[i]);
	}
}

/* Heartbeats collected in one pass: the jobs, the visibility each gets, and the time each
 * was last (re)set before, to put back when its heartbeat does not apply. */
struct beats {
	struct job *job[SQS_BATCH_MAX];
	int vis[SQS_BATCH_MAX];
	uint64_t prev_usec[SQS_BATCH_MAX];
	size_t n;
	bool more;                 /* due jobs were left for the next batch */
};

/* Adds j to b when its visibility is half gone. Under the lock. */
static void due_one(struct consumer *c, struct job *j, uint64_t now, struct beats *b)
{
	if (j == NULL || j->hung ||
	    now - j->extended_usec < (uint64_t)c->o.visibility_timeout * 500000u)
		return;
	if (b->n == SQS_BATCH_MAX) {
		b->more = true;
		return;
	}
	b->job[b->n] = j;
	b->vis[b->n] = c->o.visibility_timeout;
	b->prev_usec[b->n] = j->extended_usec;
	j->extended_usec = now;
	b->n++;
}

/* Collects, under the lock, up to 10 jobs due for a heartbeat: running, or received and
 * waiting for a worker (a handler stuck on a dependency keeps them waiting). Either stays
 * the consumer's until its worker or the acker (a release on stop) is done with it. A hung
 * job gets none (mark_hung), nor does a waiting one for longer than hung_after
 * (release_pending gives it back first). */
static void due_heartbeats(struct consumer *c, struct beats *b)
{
	uint64_t now = clk_mono_us();

	b->n = 0;
	b->more = false;
	for (int i = 0; i < c->n_workers; i++)
		due_one(c, c->active[i], now, b);
	for (struct job *j = c->pending.head; j != NULL; j = j->next)
		due_one(c, j, now, b);
}

/* Running jobs newly past hung_after, for the acker to log once the lock is released. */
struct hung {
	struct job *job[CONSUMER_MAX_IN_FLIGHT];
	uint64_t ran_usec[CONSUMER_MAX_IN_FLIGHT];
	size_t n;
};

/* Under the lock: marks the running jobs that passed hung_after (their handler is hung:
 * every handler is bounded below it) and collects them in h. From then on the job has no
 * heartbeat, so SQS hands its message to another consumer once its visibility runs out, and
 * the consumer is not healthy until the handler returns. */
static void mark_hung(struct consumer *c, uint64_t now, struct hung *h)
{
	h->n = 0;
	for (int i = 0; i < c->n_workers; i++) {
		struct job *j = c->active[i];

		if (j == NULL || j->hung || now - j->since_usec < c->hung_after_usec)
			continue;
		j->hung = true;
		atomic_fetch_add(&c->n_hung, 1);
		h->job[h->n] = j;
		h->ran_usec[h->n] = now - j->since_usec;
		h->n++;
	}
}

/* Logs the jobs mark_hung found. They are still valid: only the acker frees jobs. */
static void log_hung(struct consumer *c, const struct hung *h)
{
	for (size_t i = 0; i < h->n; i++) {
		struct log_fields f = {.message_id = h->job[i]->msg.message_id,
				       .duration_ms = (double)h->ran_usec[i] / 1000.0};

		log_error(c->o.lg, &f,
			  "a handler of %s is hung: running %.1f s, past the %.1f s any may take; its "
			  "message is no longer extended (SQS redelivers it after its visibility "
			  "timeout) and the consumer reports no progress (the watchdog fires)",
			  c->o.queue_label, (double)h->ran_usec[i] / 1e6,
			  (double)c->hung_after_usec / 1e6);
	}
}

/* Under the lock: moves to vis (visibility 0, up to a batch in all) the messages received
 * but not started that have waited at least min_age_usec for a worker: another consumer
 * takes them at once. All of them at a stop (0); past hung_after only when handlers hang
 * (every handler ends within the bound, and at most one batch waits). Returns how many. */
static size_t release_pending(struct consumer *c, uint64_t now, uint64_t min_age_usec,
			      struct job **vis, int *vis_s, size_t *nv)
{
	size_t n = 0;

	/* the list is in receive order: the oldest first */
	while (c->pending.head != NULL && *nv < SQS_BATCH_MAX &&
	       now - c->pending.head->since_usec >= min_age_usec) {
		vis_s[*nv] = 0;
		vis[(*nv)++] = list_pop(&c->pending);
		n++;
	}
	return n;
}

/* Sends the collected heartbeats. One that failed (the call, or its entry, not by the
 * sender's fault) gets its previous time back, so it is due again at the next pass (<= 1 s)
 * rather than half a visibility later, when SQS makes the message visible to another
 * receiver. The jobs are still valid: only the acker frees jobs, and it has not since it
 * collected them; a job that finished meanwhile is unharmed by the write. */
static void send_heartbeats(struct consumer *c, struct beats *b)
{
	bool retry[SQS_BATCH_MAX] = {false};
	bool failed = false;
	uint64_t half = (uint64_t)c->o.visibility_timeout * 500000u;
	uint64_t again;

	flush_visibility(c, b->job, b->vis, b->n, false, retry);
	/* due again HEARTBEAT_RETRY_USEC from now (as if last extended that long before half a
	 * visibility ago): soon, but not at once, call after call, into a throttling SQS */
	again = clk_mono_us() + HEARTBEAT_RETRY_USEC;
	again = again > half ? again - half : 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < b->n; i++)
		if (retry[i]) {
			b->job[i]->extended_usec = again < b->prev_usec[i] ? again : b->prev_usec[i];
			failed = true;
		}
	pthread_mutex_unlock(&c->lock);
	if (failed)
		b->more = false;
}

/* Under the lock: gives a part-filled outbox up to DELETE_LINGER_MS from its first entry
 * to fill a batch; a stop, or a due heartbeat's next round, does not wait longer. */
static void linger(struct consumer *c)
{
	while (!atomic_load(&c->stop) && c->outbox.head != NULL && c->outbox.n < SQS_BATCH_MAX) {
		uint64_t waited = clk_mono_us() - c->outbox_since_usec;
		struct timespec ts;

		if (waited >= DELETE_LINGER_MS * 1000u)
			break;
		ts = clk_deadline(CLOCK_REALTIME, (int)(DELETE_LINGER_MS - waited / 1000u));
		(void)pthread_cond_timedwait(&c->ack_cv, &c->lock, &ts);
	}
}

static void *acker_main(void *arg)
{
	struct consumer *c = arg;
	struct beats beat = {.more = false};
	struct hung hung = {.n = 0};

	for (;;) {
		struct job *del[SQS_BATCH_MAX];
		struct job *vis[SQS_BATCH_MAX];
		int vis_s[SQS_BATCH_MAX];
		size_t nd = 0;
		size_t nv = 0;
		size_t stopped = 0;
		size_t stranded;
		uint64_t now;
		bool finished;

		pthread_mutex_lock(&c->lock);
		/* more than a batch of heartbeats due: the rest go out now, not after a wait */
		if (c->outbox.head == NULL && !(atomic_load(&c->stop) && c->pending.head != NULL) &&
		    !beat.more && !c->abandoned) {
			struct timespec ts = clk_deadline(CLOCK_REALTIME, 1000);

			(void)pthread_cond_timedwait(&c->ack_cv, &c->lock, &ts);
		}
		linger(c);
		while (c->outbox.head != NULL && nd < SQS_BATCH_MAX && nv < SQS_BATCH_MAX) {
			struct job *j = list_pop(&c->outbox);

			if (j->action == JOB_DELETE) {
				del[nd++] = j;
			} else {
				vis_s[nv] = j->visibility;
				vis[nv++] = j;
			}
		}
		now = clk_mono_us();
		/* stopping: what no worker started goes back to the queue at once */
		if (atomic_load(&c->stop))
			stopped = release_pending(c, now, 0, vis, vis_s, &nv);
		mark_hung(c, now, &hung);
		stranded = release_pending(c, now, c->hung_after_usec, vis, vis_s, &nv);
		/* abandoned: the running messages are left to their visibility timeout, which a
		 * heartbeat now would only push back */
		if (c->abandoned)
			beat = (struct beats){.n = 0, .more = false};
		else
			due_heartbeats(c, &beat);
		finished = atomic_load(&c->stop) && c->outbox.head == NULL &&
			   c->pending.head == NULL && nd == 0 && nv == 0 &&
			   (c->abandoned || (!c->receiver_left && c->workers_left == 0));
		pthread_mutex_unlock(&c->lock);

		log_hung(c, &hung);
		if (stranded > 0)
			log_warn(c->o.lg, NULL, "%zu messages of %s waited %.1f s for a worker (handlers "
				 "hung): released to the queue", stranded, c->o.queue_label,
				 (double)c->hung_after_usec / 1e6);
		/* the releases are vis's last entries; the acker alone owns them until
		 * flush_visibility frees them */
		for (size_t i = nv - stranded - stopped; i < nv - stranded; i++)
			released_last(c, vis[i], "at a stop");
		for (size_t i = nv - stranded; i < nv; i++)
			released_last(c, vis[i], "behind hung handlers");
		if (nd > 0)
			flush_deletes(c, del, nd);
		if (nv > 0)
			flush_visibility(c, vis, vis_s, nv, true, NULL);
		/* the worker still holds these jobs: the acker only reads their handles */
		if (beat.n > 0)
			send_heartbeats(c, &beat);
		if (finished)
			break;
	}
	pthread_mutex_lock(&c->lock);
	c->acker_done = true;
	pthread_cond_broadcast(&c->done_cv);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- lifecycle ---- */

/* Waits until every worker made its state or failed to; the first failure's rc. */
static enum rc wait_workers(struct consumer *c, struct errbuf *eb)
{
	enum rc rc = RC_OK;

	pthread_mutex_lock(&c->lock);
	while (c->workers_ready + c->workers_failed < c->n_workers)
		pthread_cond_wait(&c->start_cv, &c->lock);
	if (c->workers_failed > 0) {
		rc = c->start_rc;
		eb_set(eb, rc, "%s", c->start_eb.msg);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Starts the workers (and waits for their state), then the acker and the receiver. */
static enum rc start_threads(struct consumer *c, struct errbuf *eb)
{
	enum rc rc;
	int err;

	for (int i = 0; i < c->o.max_in_flight; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (wa == NULL)
			return eb_set(eb, RC_NOMEM, "out of memory");
		wa->c = c;
		wa->index = i;
		pthread_mutex_lock(&c->lock);
		c->workers_left++;
		pthread_mutex_unlock(&c->lock);
		err = pthread_create(&c->worker_tid[i], NULL, worker_main, wa);
		if (err != 0) {
			free(wa);
			pthread_mutex_lock(&c->lock);
			c->workers_left--;
			pthread_mutex_unlock(&c->lock);
			return eb_set(eb, RC_FATAL, "starting worker threads: %s", strerror(err));
		}
		pthread_mutex_lock(&c->lock);
		c->n_workers++;
		pthread_mutex_unlock(&c->lock);
	}
	rc = wait_workers(c, eb);
	if (rc != RC_OK)
		return rc;
	pthread_mutex_lock(&c->lock);
	c->receiver_left = true; /* the acker must not finish before the receiver ran */
	pthread_mutex_unlock(&c->lock);
	err = pthread_create(&c->acker_tid, NULL, acker_main, c);
	if (err == 0) {
		c->has_acker = true;
		err = pthread_create(&c->receiver_tid, NULL, receiver_main, c);
	}
	if (err != 0) {
		pthread_mutex_lock(&c->lock);
		c->receiver_left = false;
		pthread_mutex_unlock(&c->lock);
		return eb_set(eb, RC_FATAL, "starting the consumer's threads: %s", strerror(err));
	}
	c->has_receiver = true;
	return RC_OK;
}

enum rc consumer_start(const struct consumer_opts *opts, struct consumer **out, struct errbuf *eb)
{
	struct consumer *c;
	enum rc rc;

	*out = NULL;
	if (opts->max_in_flight < 1 || opts->max_in_flight > CONSUMER_MAX_IN_FLIGHT ||
	    opts->wait_seconds < 0 || opts->wait_seconds > SQS_WAIT_MAX_S ||
	    opts->visibility_timeout < 1 || opts->hung_after_ms < 0 || opts->handle == NULL ||
	    opts->on_poison == NULL ||
	    opts->thread_new == NULL || opts->thread_free == NULL)
		return eb_set(eb, RC_INVAL, "consumer of %s: bad settings", opts->queue_label);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	c->o = *opts;
	c->sqs = opts->sqs != NULL ? opts->sqs : &consumer_sqs_aws;
	c->backoff.base = opts->backoff_min_seconds;
	c->backoff.cap = opts->backoff_max_seconds;
	c->backoff.floor = opts->backoff_min_seconds;
	c->hung_after_usec = (uint64_t)(opts->hung_after_ms > 0 ? opts->hung_after_ms
								: CONSUMER_HUNG_AFTER_DEFAULT_MS) * 1000u;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work_cv, NULL);
	pthread_cond_init(&c->space_cv, NULL);
	pthread_cond_init(&c->ack_cv, NULL);
	pthread_cond_init(&c->done_cv, NULL);
	pthread_cond_init(&c->start_cv, NULL);
	atomic_init(&c->stop, false);
	atomic_init(&c->progress_usec, clk_mono_us());
	atomic_init(&c->n_hung, 0);
	snprintf(c->state, sizeof(c->state), "receiving");
	counters_zero(c);
	/* a stop aborts the receiver's open long poll instead of waiting out its 20 s */
	c->rx = c->sqs->client_new(&c->o, &c->stop, eb);
	c->ack = c->rx != NULL ? c->sqs->client_new(&c->o, NULL, eb) : NULL;
	rc = c->ack != NULL ? start_threads(c, eb) : RC_FATAL;
	if (rc != RC_OK) {
		consumer_stop(c);
		consumer_free(c);
		return rc;
	}
	*out = c;
	return RC_OK;
}

void consumer_stop(struct consumer *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stop, true);
	snprintf(c->state, sizeof(c->state), "draining");
	pthread_cond_broadcast(&c->work_cv);
	pthread_cond_broadcast(&c->space_cv);
	pthread_cond_broadcast(&c->ack_cv);
	pthread_mutex_unlock(&c->lock);
}

bool consumer_wait(struct consumer *c, int timeout_ms)
{
	struct timespec ts = clk_deadline(CLOCK_REALTIME, timeout_ms);
	bool done;

	pthread_mutex_lock(&c->lock);
	while (!c->acker_done && pthread_cond_timedwait(&c->done_cv, &c->lock, &ts) == 0) {
	}
	done = c->acker_done;
	pthread_mutex_unlock(&c->lock);
	return done;
}

unsigned consumer_abandon(struct consumer *c, int timeout_ms)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	c->abandoned = true;
	pthread_cond_broadcast(&c->ack_cv);
	pthread_mutex_unlock(&c->lock);
	(void)consumer_wait(c, timeout_ms);
	pthread_mutex_lock(&c->lock);
	n = (unsigned)c->n_active;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void consumer_free(struct consumer *c)
{
	if (c == NULL)
		return;
	if (c->has_receiver)
		pthread_join(c->receiver_tid, NULL);
	for (int i = 0; i < c->n_workers; i++)
		pthread_join(c->worker_tid[i], NULL);
	if (c->has_acker)
		pthread_join(c->acker_tid, NULL);
	/* anything left (a failed start) goes back to SQS by itself after its timeout */
	while (c->pending.head != NULL)
		job_free(list_pop(&c->pending));
	while (c->outbox.head != NULL)
		job_free(list_pop(&c->outbox));
	c->sqs->client_free(c->rx);
	c->sqs->client_free(c->ack);
	pthread_cond_destroy(&c->start_cv);
	pthread_cond_destroy(&c->done_cv);
	pthread_cond_destroy(&c->ack_cv);
	pthread_cond_destroy(&c->space_cv);
	pthread_cond_destroy(&c->work_cv);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

bool consumer_healthy(struct consumer *c)
{
	return atomic_load(&c->n_hung) == 0 &&
	       clk_mono_us() - atomic_load(&c->progress_usec) < CONSUMER_STALL_USEC;
}

unsigned consumer_in_flight(struct consumer *c)
{
	return atomic_load(&c->in_flight);
}

uint64_t consumer_handled(struct consumer *c)
{
	return atomic_load(&c->handled);
}

/* Under the lock: the hung job that has run longest, or NULL. */
static const struct job *oldest_hung(struct consumer *c)
{
	const struct job *old = NULL;

	for (int i = 0; i < c->n_workers; i++) {
		const struct job *j = c->active[i];

		if (j != NULL && j->hung && (old == NULL || j->since_usec < old->since_usec))
			old = j;
	}
	return old;
}

void consumer_state(struct consumer *c, char *out, size_t n)
{
	const struct job *h;

	pthread_mutex_lock(&c->lock);
	h = oldest_hung(c);
	if (h != NULL)
		snprintf(out, n, "hung (message %s running %.1f s, past %.1f s);", h->msg.message_id,
			 (double)(clk_mono_us() - h->since_usec) / 1e6,
			 (double)c->hung_after_usec / 1e6);
	else if (c->waiting[0] != '\0')
		snprintf(out, n, "waiting for %s;", c->waiting);
	else
		snprintf(out, n, "%s", c->state);
	pthread_mutex_unlock(&c->lock);
}

void consumer_waiting_on(struct consumer *c, const char *what)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->waiting, sizeof(c->waiting), "%s", what != NULL ? what : "");
	pthread_mutex_unlock(&c->lock);
}
