/* test_consumer.c — run/consumer against a fake queue (the consumer_sqs_ops seam): deletes
 * of handled messages, heartbeats that extend visibility, backoff of transient failures,
 * poison reports, release on stop, a worker that cannot start (issue 10), a failed
 * heartbeat retried before the message turns visible again, and a hung handler that stops
 * the progress the watchdog is fed on; the per-queue counters present at 0 from the start
 * (one series per label set, the one later counted) and the line a message's last receive
 * writes before SQS dead-letters it. No network;
 * the waits are on the fake's condition variable, bounded. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "itest.h"
#include "run/consumer.h"

#define FAKE_MAX 64   /* messages and recorded calls */
#define WAIT_MS 10000 /* longest wait for something the consumer should do */

/* One message the fake delivers. */
struct fake_msg {
	char id[16];        /* message id "m<i>" */
	char handle[16];    /* receipt handle "h<i>" */
	int receive_count;  /* ApproximateReceiveCount it carries */
};

/* A ChangeMessageVisibility entry the consumer sent. */
struct fake_vis {
	char handle[16];
	int visibility;
	uint64_t usec;      /* monotonic time of the call */
	bool failed;        /* the fake failed it (the call or the entry): nothing changed */
};

/* The fake queue: what it delivers and what the consumer did with it. */
struct fake_sqs {
	pthread_mutex_t lock;
	pthread_cond_t cv;               /* anything below changed */
	struct fake_msg msgs[FAKE_MAX];  /* to deliver, in order */
	size_t n_msgs, next;             /* how many; the next to deliver */
	int receive_failures;            /* the next receives that fail */
	uint64_t deliver_from_usec;      /* nothing is delivered before this monotonic time */
	int vis_call_failures;           /* the next visibility calls that fail as a whole */
	int vis_entry_failures;          /* the next visibility calls whose entries all fail */
	int delete_stall_ms;             /* the next delete call takes this long (then 0) */
	int receives;                    /* receive calls */
	int delete_calls;                /* DeleteMessageBatch calls */
	char deleted[FAKE_MAX][16];      /* handles deleted */
	size_t n_deleted;
	struct fake_vis vis[FAKE_MAX * 4]; /* visibility changes, in order */
	size_t n_vis;
	const atomic_bool *abort_flag;   /* the receiver's */
};

/* What the handlers do; the consumer's ud. */
struct test_app {
	struct fake_sqs *q;
	int visibility;                /* the consumer's visibility timeout, s (0: 1) */
	enum consumer_verdict verdict; /* what handle answers */
	int heartbeats;                /* handle first waits for this many heartbeats */
	bool until_stop;               /* handle waits for the stop, then answers RETRY */
	int sleep_ms;                  /* handle takes this long */
	int sleep_ms_of[FAKE_MAX];     /* and message i this long more */
	bool hold;                     /* handle waits until released (q->lock), WAIT_MS at most */
	const char *hold_only;         /* with hold: only the message of this receipt handle */
	bool released;                 /* by q->lock */
	int hung_after_ms;             /* the consumer's hung_after_ms */
	atomic_uint_least64_t held_usec; /* monotonic time the last held handle began */
	size_t beats_at_start[FAKE_MAX]; /* heartbeats message i had when its handle began */
	enum rc poison_rc;             /* what on_poison returns */
	int fail_thread;               /* thread_new call (1-based) that fails, 0 none */
	atomic_int thread_calls;       /* thread_new calls */
	atomic_int threads_made;
	atomic_int threads_freed;
	atomic_int started;            /* handle calls begun */
	atomic_int poisons;            /* on_poison calls */
};

static void fake_init(struct fake_sqs *q, size_t n, int receive_count)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->n_msgs = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(q->msgs[i].id, sizeof(q->msgs[i].id), "m%zu", i);
		snprintf(q->msgs[i].handle, sizeof(q->msgs[i].handle), "h%zu", i);
		q->msgs[i].receive_count = receive_count;
	}
}

static void fake_cleanup(struct fake_sqs *q)
{
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->lock);
}

/* ---- the seam ---- */

static void *fake_client_new(const struct consumer_opts *o, const atomic_bool *abort_flag,
			     struct errbuf *eb)
{
	struct fake_sqs *q = o->sqs_ud;

	(void)eb;
	if (abort_flag != NULL) {
		pthread_mutex_lock(&q->lock);
		q->abort_flag = abort_flag;
		pthread_mutex_unlock(&q->lock);
	}
	return q;
}

static void fake_client_free(void *client)
{
	(void)client;
}

static void fake_error(struct aws_error *err, const char *op)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->operation, sizeof(err->operation), "%s", op);
	snprintf(err->code, sizeof(err->code), "NetworkError");
	snprintf(err->message, sizeof(err->message), "the fake refused");
	err->rc = RC_IO;
}

static enum rc fake_receive(void *client, const char *url, const struct sqs_receive_opts *ro,
			    struct sqs_messages *out, struct aws_error *err)
{
	struct fake_sqs *q = client;
	enum rc rc = RC_OK;

	(void)url;
	sqs_messages_cleanup(out);
	pthread_mutex_lock(&q->lock);
	q->receives++;
	if (q->receive_failures > 0) {
		q->receive_failures--;
		fake_error(err, "ReceiveMessage");
		rc = RC_IO;
	} else if (q->next < q->n_msgs && clk_mono_us() >= q->deliver_from_usec) {
		size_t n = q->n_msgs - q->next;

		if (n > (size_t)ro->max_messages)
			n = (size_t)ro->max_messages;
		out->v = calloc(n, sizeof(*out->v));
		ck_assert_ptr_nonnull(out->v);
		for (size_t i = 0; i < n; i++, q->next++) {
			struct sqs_message *m = &out->v[i];

			m->body = strdup("{}");
			m->body_len = 2;
			m->receipt_handle = strdup(q->msgs[q->next].handle);
			ck_assert(m->body != NULL && m->receipt_handle != NULL);
			snprintf(m->message_id, sizeof(m->message_id), "%s", q->msgs[q->next].id);
			m->receive_count = q->msgs[q->next].receive_count;
			out->n++;
		}
	} else if (q->abort_flag == NULL || !atomic_load(q->abort_flag)) {
		/* an empty long poll, kept short */
		struct timespec ts = clk_deadline(CLOCK_REALTIME, 20);

		(void)pthread_cond_timedwait(&q->cv, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static void ok_results(struct sqs_batch_result *res, size_t n, size_t *nfailed)
{
	memset(res, 0, n * sizeof(*res));
	if (nfailed != NULL)
		*nfailed = 0;
}

static enum rc fake_delete(void *client, const char *url, const char *const *handles, size_t n,
			   struct sqs_batch_result *res, size_t *nfailed, struct aws_error *err)
{
	struct fake_sqs *q = client;
	int stall;

	(void)url;
	(void)err;
	pthread_mutex_lock(&q->lock);
	stall = q->delete_stall_ms;
	q->delete_stall_ms = 0;
	pthread_mutex_unlock(&q->lock);
	if (stall > 0)
		clk_sleep_ms(stall);
	pthread_mutex_lock(&q->lock);
	q->delete_calls++;
	for (size_t i = 0; i < n && q->n_deleted < FAKE_MAX; i++)
		snprintf(q->deleted[q->n_deleted++], sizeof(q->deleted[0]), "%s", handles[i]);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->lock);
	ok_results(res, n, nfailed);
	return RC_OK;
}

static enum rc fake_visibility(void *client, const char *url,
			       const struct sqs_visibility_entry *e, size_t n,
			       struct sqs_batch_result *res, size_t *nfailed, struct aws_error *err)
{
	struct fake_sqs *q = client;
	uint64_t now = clk_mono_us();
	bool call_fails, entries_fail;

	(void)url;
	pthread_mutex_lock(&q->lock);
	call_fails = q->vis_call_failures > 0;
	entries_fail = !call_fails && q->vis_entry_failures > 0;
	if (call_fails)
		q->vis_call_failures--;
	if (entries_fail)
		q->vis_entry_failures--;
	for (size_t i = 0; i < n && q->n_vis < sizeof(q->vis) / sizeof(q->vis[0]); i++) {
		struct fake_vis *v = &q->vis[q->n_vis++];

		snprintf(v->handle, sizeof(v->handle), "%s", e[i].receipt_handle);
		v->visibility = e[i].visibility_timeout;
		v->usec = now;
		v->failed = call_fails || entries_fail;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->lock);
	if (call_fails) {
		fake_error(err, "ChangeMessageVisibilityBatch");
		return RC_IO;
	}
	ok_results(res, n, nfailed);
	for (size_t i = 0; entries_fail && i < n; i++) {
		res[i].rc = RC_IO;
		snprintf(res[i].code, sizeof(res[i].code), "InternalError");
		snprintf(res[i].message, sizeof(res[i].message), "the fake failed the entry");
	}
	if (entries_fail && nfailed != NULL)
		*nfailed = n;
	return RC_OK;
}

static const struct consumer_sqs_ops fake_ops = {
	.client_new = fake_client_new,
	.client_free = fake_client_free,
	.receive = fake_receive,
	.delete_batch = fake_delete,
	.change_visibility_batch = fake_visibility,
};

/* ---- looking at the fake (under its lock) ---- */

static size_t vis_count(struct fake_sqs *q, const char *handle, int visibility)
{
	size_t n = 0;

	for (size_t i = 0; i < q->n_vis; i++)
		if (!q->vis[i].failed && strcmp(q->vis[i].handle, handle) == 0 &&
		    (visibility < 0 || q->vis[i].visibility == visibility))
			n++;
	return n;
}

static bool is_deleted(struct fake_sqs *q, const char *handle)
{
	for (size_t i = 0; i < q->n_deleted; i++)
		if (strcmp(q->deleted[i], handle) == 0)
			return true;
	return false;
}

/* Waits until pred holds (true) or ms pass (false). */
static bool wait_for_ms(struct fake_sqs *q, bool (*pred)(struct fake_sqs *q, const void *arg),
			const void *arg, int ms)
{
	struct timespec ts = clk_deadline(CLOCK_REALTIME, ms);
	bool ok;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	ok = pred(q, arg);
	while (!ok && err == 0) {
		err = pthread_cond_timedwait(&q->cv, &q->lock, &ts);
		ok = pred(q, arg);
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

/* Waits until pred holds (true) or WAIT_MS pass (false). */
static bool wait_for(struct fake_sqs *q, bool (*pred)(struct fake_sqs *q, const void *arg),
		     const void *arg)
{
	return wait_for_ms(q, pred, arg, WAIT_MS);
}

static bool deleted_n(struct fake_sqs *q, const void *arg)
{
	return q->n_deleted >= *(const size_t *)arg;
}

static bool vis_n(struct fake_sqs *q, const void *arg)
{
	return q->n_vis >= *(const size_t *)arg;
}

/* ---- the handlers ---- */

static enum rc t_thread_new(void *ud, void **tctx, struct errbuf *eb)
{
	struct test_app *a = ud;
	int n = atomic_fetch_add(&a->thread_calls, 1) + 1;

	if (n == a->fail_thread)
		return eb_set(eb, RC_INVAL, "database host is empty");
	atomic_fetch_add(&a->threads_made, 1);
	*tctx = a;
	return RC_OK;
}

static void t_thread_free(void *tctx)
{
	struct test_app *a = tctx;

	atomic_fetch_add(&a->threads_freed, 1);
}

struct beat_arg {
	const char *handle;
	size_t n;
	int visibility;
};

static bool beats(struct fake_sqs *q, const void *arg)
{
	const struct beat_arg *b = arg;

	return vis_count(q, b->handle, b->visibility) >= b->n;
}

static enum consumer_verdict t_handle(void *tctx, const struct consumer_message *m,
				      struct errbuf *reason)
{
	struct test_app *a = tctx;

	atomic_fetch_add(&a->started, 1);
	{
		unsigned idx = 0;

		if (sscanf(m->sqs->receipt_handle, "h%u", &idx) == 1 && idx < FAKE_MAX) {
			pthread_mutex_lock(&a->q->lock);
			a->beats_at_start[idx] = vis_count(a->q, m->sqs->receipt_handle, 1);
			pthread_mutex_unlock(&a->q->lock);
			if (a->sleep_ms_of[idx] > 0)
				clk_sleep_ms(a->sleep_ms_of[idx]);
		}
	}
	if (a->heartbeats > 0) {
		/* a heartbeat every half visibility (1 s unless the test says otherwise) */
		struct beat_arg b = {m->sqs->receipt_handle, (size_t)a->heartbeats,
				     a->visibility > 0 ? a->visibility : 1};

		if (!wait_for(a->q, beats, &b))
			return eb_set(reason, RC_TIMEOUT, "no heartbeat"), CONSUMER_RETRY;
	}
	if (a->sleep_ms > 0)
		clk_sleep_ms(a->sleep_ms);
	if (a->hold && (a->hold_only == NULL || strcmp(a->hold_only, m->sqs->receipt_handle) == 0)) {
		struct timespec ts = clk_deadline(CLOCK_REALTIME, WAIT_MS);
		int err = 0;

		atomic_store(&a->held_usec, clk_mono_us());
		pthread_mutex_lock(&a->q->lock);
		while (!a->released && err == 0)
			err = pthread_cond_timedwait(&a->q->cv, &a->q->lock, &ts);
		pthread_mutex_unlock(&a->q->lock);
	}
	if (a->until_stop) {
		uint64_t t0 = clk_mono_us();

		while (!atomic_load(m->stopping) && clk_mono_us() - t0 < WAIT_MS * 1000u)
			clk_sleep_ms(5);
		eb_set(reason, RC_TIMEOUT, "stopping");
		return CONSUMER_RETRY;
	}
	if (a->verdict != CONSUMER_DONE)
		eb_set(reason, RC_INVAL, "the test says so");
	return a->verdict;
}

static enum rc t_on_poison(void *tctx, const struct consumer_message *m, const char *reason,
			   struct errbuf *eb)
{
	struct test_app *a = tctx;

	(void)m;
	(void)reason;
	atomic_fetch_add(&a->poisons, 1);
	return a->poison_rc == RC_OK ? RC_OK : eb_set(eb, a->poison_rc, "error queue down");
}

static struct logger lg;

static struct consumer_opts opts_for(struct test_app *a, int in_flight)
{
	struct consumer_opts o = {0};

	o.queue_url = "http://fake/q";
	o.queue_label = "pe";
	o.max_in_flight = in_flight;
	o.wait_seconds = 1;
	o.visibility_timeout = a->visibility > 0 ? a->visibility : 1;
	o.max_receive_count = 3;
	o.backoff_min_seconds = 5;
	o.backoff_max_seconds = 60;
	o.hung_after_ms = a->hung_after_ms;
	o.sqs = &fake_ops;
	o.sqs_ud = a->q;
	o.lg = &lg;
	o.ud = a;
	o.thread_new = t_thread_new;
	o.thread_free = t_thread_free;
	o.handle = t_handle;
	o.on_poison = t_on_poison;
	return o;
}

static struct consumer *start(struct test_app *a, int in_flight)
{
	struct consumer_opts o = opts_for(a, in_flight);
	struct consumer *c = NULL;
	struct errbuf eb = {{0}};

	ck_assert_msg(consumer_start(&o, &c, &eb) == RC_OK, "%s", eb.msg);
	return c;
}

static void stop(struct test_app *a, struct consumer *c)
{
	consumer_stop(c);
	ck_assert(consumer_wait(c, WAIT_MS));
	consumer_free(c);
	ck_assert_int_eq(atomic_load(&a->threads_freed), atomic_load(&a->threads_made));
}

/* ---- tests ---- */

START_TEST(test_done_is_deleted)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE};
	struct consumer *c;
	size_t want = 12; /* more than one batch */

	fake_init(&q, want, 1);
	c = start(&a, 4);
	ck_assert(wait_for(&q, deleted_n, &want));
	ck_assert_uint_eq(consumer_handled(c), want);
	stop(&a, c);
	ck_assert_int_eq(q.n_vis, 0);
	fake_cleanup(&q);
}
END_TEST

START_TEST(test_heartbeat_extends_visibility)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .heartbeats = 2};
	struct consumer *c;
	size_t one = 1;

	fake_init(&q, 1, 1);
	c = start(&a, 2);
	/* the handler returns DONE only after two heartbeats (visibility set to 1 s again) */
	ck_assert(wait_for(&q, deleted_n, &one));
	stop(&a, c);
	pthread_mutex_lock(&q.lock);
	ck_assert_uint_ge(vis_count(&q, "h0", 1), 2);
	ck_assert_uint_eq(vis_count(&q, "h0", -1), vis_count(&q, "h0", 1));
	ck_assert(is_deleted(&q, "h0"));
	pthread_mutex_unlock(&q.lock);
	fake_cleanup(&q);
}
END_TEST

/* On a backlog the receiver asks for whole batches, not one message per freed worker. */
START_TEST(test_receives_whole_batches)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .sleep_ms = 2};
	struct consumer *c;
	size_t want = 40;

	fake_init(&q, want, 1);
	c = start(&a, 10);
	ck_assert(wait_for(&q, deleted_n, &want));
	stop(&a, c);
	/* 40 / 10 = 4 full batches, and a few empty polls once they are gone */
	ck_assert_msg(q.receives <= 8, "%d receives for 40 messages", q.receives);
	fake_cleanup(&q);
}
END_TEST

/* A message received ahead, waiting for a busy worker, keeps its visibility too. */
START_TEST(test_waiting_message_gets_heartbeats)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .heartbeats = 2};
	struct consumer *c;
	size_t two = 2;

	fake_init(&q, 2, 1);
	c = start(&a, 1);
	ck_assert(wait_for(&q, deleted_n, &two));
	stop(&a, c);
	/* h1 waited for the worker while h0 took its two heartbeats: it had its own meanwhile */
	ck_assert_msg(a.beats_at_start[1] >= 1, "h1: %zu heartbeats before it started",
		      a.beats_at_start[1]);
	fake_cleanup(&q);
}
END_TEST

/* Messages handled one after another share a DeleteMessageBatch. */
START_TEST(test_deletes_share_a_call)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .sleep_ms = 2};
	struct consumer *c;
	size_t want = 10;

	fake_init(&q, want, 1);
	c = start(&a, 1);
	ck_assert(wait_for(&q, deleted_n, &want));
	stop(&a, c);
	ck_assert_msg(q.delete_calls <= 3, "%d DeleteMessageBatch calls for 10 messages",
		      q.delete_calls);
	fake_cleanup(&q);
}
END_TEST

START_TEST(test_transient_failure_backs_off)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_RETRY};
	struct consumer *c;
	size_t two = 2;

	fake_init(&q, 2, 3); /* third receive: ceiling 5 * 2^2 = 20 s */
	c = start(&a, 2);
	ck_assert(wait_for(&q, vis_n, &two));
	stop(&a, c);
	ck_assert_int_eq(q.n_deleted, 0);
	for (size_t i = 0; i < q.n_vis; i++)
		ck_assert_msg(q.vis[i].visibility >= 5 && q.vis[i].visibility <= 20,
			      "backoff %d s not in [5, 20]", q.vis[i].visibility);
	ck_assert_uint_eq(vis_count(&q, "h0", -1), 1);
	ck_assert_uint_eq(vis_count(&q, "h1", -1), 1);
	fake_cleanup(&q);
}
END_TEST

/* A poison message is deleted once reported; unreported, it stays (a backoff: floor 5 s). */
static const struct {
	enum rc report;     /* what on_poison returns */
	size_t deleted;     /* deletes then */
	int visibility;     /* the visibility set, -1 none */
} poison_cases[] = {
	{RC_OK, 1, -1},
	{RC_IO, 0, 5},
};

static bool acked(struct fake_sqs *q, const void *arg)
{
	(void)arg;
	return q->n_deleted + q->n_vis > 0;
}

START_TEST(test_poison)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_POISON,
			     .poison_rc = poison_cases[_i].report};
	struct consumer *c;

	fake_init(&q, 1, 1);
	c = start(&a, 1);
	ck_assert(wait_for(&q, acked, NULL));
	stop(&a, c);
	ck_assert_int_eq(atomic_load(&a.poisons), 1);
	ck_assert_uint_eq(q.n_deleted, poison_cases[_i].deleted);
	ck_assert_uint_eq(q.n_vis, poison_cases[_i].visibility < 0 ? 0 : 1);
	if (poison_cases[_i].visibility >= 0)
		ck_assert_int_eq(q.vis[0].visibility, poison_cases[_i].visibility);
	fake_cleanup(&q);
}
END_TEST

START_TEST(test_stop_releases_in_flight)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .until_stop = true};
	struct consumer *c;
	uint64_t t0;

	fake_init(&q, 3, 1);
	c = start(&a, 3);
	t0 = clk_mono_us();
	while (atomic_load(&a.started) < 3 && clk_mono_us() - t0 < WAIT_MS * 1000u)
		clk_sleep_ms(5);
	ck_assert_int_eq(atomic_load(&a.started), 3);
	ck_assert_uint_eq(consumer_in_flight(c), 3);
	stop(&a, c);
	/* given up because of the stop: visible again at once, not after a backoff */
	ck_assert_int_eq(q.n_deleted, 0);
	for (int i = 0; i < 3; i++) {
		char h[8];

		snprintf(h, sizeof(h), "h%d", i);
		ck_assert_uint_eq(vis_count(&q, h, 0), 1);
	}
	ck_assert_uint_eq(vis_count(&q, "h0", -1) + vis_count(&q, "h1", -1) +
				  vis_count(&q, "h2", -1),
			  3);
	fake_cleanup(&q);
}
END_TEST

START_TEST(test_thread_start_failure_fails_start)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .fail_thread = 3};
	struct consumer_opts o = opts_for(&a, 4);
	struct consumer *c = (struct consumer *)&a; /* must come back NULL */
	struct errbuf eb = {{0}};

	fake_init(&q, 5, 1);
	ck_assert_int_eq(consumer_start(&o, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, "cannot start: database host is empty") != NULL, "%s",
		      eb.msg);
	/* nothing received that no worker could handle; the other workers' state freed */
	ck_assert_int_eq(q.receives, 0);
	ck_assert_int_eq(q.next, 0);
	ck_assert_int_eq(atomic_load(&a.threads_made), 3);
	ck_assert_int_eq(atomic_load(&a.threads_freed), 3);
	fake_cleanup(&q);
}
END_TEST

START_TEST(test_receive_failure_is_retried)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE};
	struct consumer *c;
	size_t one = 1;

	fake_init(&q, 1, 1);
	q.receive_failures = 1;
	c = start(&a, 1);
	ck_assert(wait_for(&q, deleted_n, &one));
	ck_assert(consumer_healthy(c));
	stop(&a, c);
	ck_assert_int_ge(q.receives, 2);
	fake_cleanup(&q);
}
END_TEST

/* A heartbeat whose ChangeMessageVisibilityBatch fails (the call, or its entry) is sent
 * again at the acker's next pass (<= 1 s), not half a visibility later, when SQS has made
 * the message visible to another receiver: with a 4 s visibility the failed heartbeat goes
 * at 2 s and the retry must come well before 4 s. */
static const struct {
	const char *name;
	int call_failures;  /* fake: visibility calls failing as a whole */
	int entry_failures; /* fake: visibility calls failing every entry */
} heartbeat_failure_cases[] = {
	{"the call fails", 1, 0},
	{"its entry fails", 0, 1},
};

#define RETRY_MAX_USEC 1500000u /* the retry after a failed heartbeat: next pass, < 2 s */

/* Runs a consumer of in_flight workers until the fake's n messages are deleted, then
 * stops it. */
static void handle_all(struct test_app *a, int in_flight, size_t n)
{
	struct consumer *c = start(a, in_flight);

	ck_assert(wait_for(a->q, deleted_n, &n));
	stop(a, c);
}

START_TEST(test_failed_heartbeat_is_retried_at_once)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .heartbeats = 1, .visibility = 4};
	uint64_t failed_at = 0, ok_at = 0;

	fake_init(&q, 1, 1);
	q.vis_call_failures = heartbeat_failure_cases[_i].call_failures;
	q.vis_entry_failures = heartbeat_failure_cases[_i].entry_failures;
	handle_all(&a, 1, 1); /* the handler returns DONE once one heartbeat applied */
	for (size_t i = 0; i < q.n_vis; i++) {
		if (q.vis[i].failed && failed_at == 0)
			failed_at = q.vis[i].usec;
		else if (!q.vis[i].failed && ok_at == 0)
			ok_at = q.vis[i].usec;
	}
	ck_assert_msg(failed_at != 0 && ok_at > failed_at, "%s: no failed heartbeat and retry",
		      heartbeat_failure_cases[_i].name);
	ck_assert_msg(ok_at - failed_at <= RETRY_MAX_USEC,
		      "%s: the heartbeat was retried %.2f s after it failed (visibility 4 s)",
		      heartbeat_failure_cases[_i].name, (double)(ok_at - failed_at) / 1e6);
	fake_cleanup(&q);
}
END_TEST

/* n messages (more than a batch) handled by n workers, the fake's first vis_call_failures
 * visibility calls failing. The receives (10 + the rest) come well away from the acker's
 * once-a-second passes, which start with the consumer: all n are due at the same pass. */
static void handle_burst(struct test_app *a, size_t n, int vis_call_failures)
{
	fake_init(a->q, n, 1);
	a->q->deliver_from_usec = clk_mono_us() + 400000u;
	a->q->vis_call_failures = vis_call_failures;
	handle_all(a, (int)n, n);
}

/* More than one batch (10) of heartbeats due at once: the rest go out right after the
 * first batch, not after the acker's next wait (up to 1 s of the visibility left). */
START_TEST(test_many_due_heartbeats_go_out_together)
{
	struct fake_sqs q;
	/* two heartbeats each: no handler ends (waking the acker) after the first batch */
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .heartbeats = 2, .visibility = 4};
	size_t want = 15;
	uint64_t first = 0, last = 0;

	handle_burst(&a, want, 0);
	for (size_t m = 0; m < want; m++) {
		char h[32];

		snprintf(h, sizeof(h), "h%zu", m);
		for (size_t i = 0; i < q.n_vis; i++) {
			if (strcmp(q.vis[i].handle, h) != 0 || q.vis[i].failed)
				continue;
			if (first == 0 || q.vis[i].usec < first)
				first = q.vis[i].usec;
			if (q.vis[i].usec > last)
				last = q.vis[i].usec;
			break;
		}
	}
	ck_assert_uint_eq(q.n_vis, 2 * want);
	ck_assert_msg(last - first < 500000u, "first heartbeats spread over %.2f s",
		      (double)(last - first) / 1e6);
	fake_cleanup(&q);
}
END_TEST

/* SQS failing every heartbeat call with more than a batch due: the acker waits between
 * tries as usual, not sending the same ten again call after call into a throttling SQS. */
START_TEST(test_failing_heartbeats_are_not_sent_back_to_back)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .heartbeats = 1, .visibility = 4};
	size_t want = 15;
	uint64_t closest = UINT64_MAX;
	int again = 0;

	handle_burst(&a, want, 4);
	/* per message: the time between a failed heartbeat and its next try */
	for (size_t i = 0; i < q.n_vis; i++) {
		if (!q.vis[i].failed)
			continue;
		for (size_t k = i + 1; k < q.n_vis; k++) {
			if (strcmp(q.vis[k].handle, q.vis[i].handle) != 0)
				continue;
			again++;
			if (q.vis[k].usec - q.vis[i].usec < closest)
				closest = q.vis[k].usec - q.vis[i].usec;
			break;
		}
	}
	ck_assert_int_ge(again, 2);
	ck_assert_msg(closest >= 200000u, "a failed heartbeat tried again %.3f s later",
		      closest / 1e6);
	fake_cleanup(&q);
}
END_TEST

/* ---- a hung handler ---- */

#define HUNG_MARGIN_USEC 200000u /* scheduling slack between the consumer's clock and ours */

/* Starts a consumer of one worker on n messages whose handler is held, and waits until the
 * first is held; its start, monotonic. */
static struct consumer *start_held(struct test_app *a, size_t n, uint64_t *held_at)
{
	struct consumer *c;
	uint64_t t0;

	fake_init(a->q, n, 1);
	c = start(a, 1);
	t0 = clk_mono_us();
	while (atomic_load(&a->started) < 1 && clk_mono_us() - t0 < WAIT_MS * 1000u)
		clk_sleep_ms(5);
	ck_assert_int_eq(atomic_load(&a->started), 1);
	while (atomic_load(&a->held_usec) == 0 && clk_mono_us() - t0 < WAIT_MS * 1000u)
		clk_sleep_ms(1);
	*held_at = atomic_load(&a->held_usec);
	ck_assert_uint_ne(*held_at, 0);
	return c;
}

/* Asks consumer_healthy; false only once the held handler may be past hung_after. */
static bool healthy_within_bound(struct test_app *a, struct consumer *c, uint64_t held_at)
{
	bool ok = consumer_healthy(c);
	uint64_t ran = clk_mono_us() - held_at;

	ck_assert_msg(ok || ran + HUNG_MARGIN_USEC >= (uint64_t)a->hung_after_ms * 1000u,
		      "not healthy %.2f s into a handler, under its %d ms bound", ran / 1e6,
		      a->hung_after_ms);
	return ok;
}

/* Polls consumer_healthy every 10 ms until it is want (its monotonic time) or WAIT_MS pass
 * (0). */
static uint64_t wait_healthy(struct consumer *c, bool want)
{
	uint64_t t0 = clk_mono_us();

	while (clk_mono_us() - t0 < WAIT_MS * 1000u) {
		uint64_t now = clk_mono_us();

		if (consumer_healthy(c) == want)
			return now;
		clk_sleep_ms(10);
	}
	return 0;
}

static void release_held(struct test_app *a)
{
	pthread_mutex_lock(&a->q->lock);
	a->released = true;
	pthread_cond_broadcast(&a->q->cv);
	pthread_mutex_unlock(&a->q->lock);
}

/* A handler that never returns (until the test lets it) while every worker is busy: once it
 * has run hung_after the consumer is no longer healthy (so the watchdog fires; the receiver
 * waiting for the busy worker used to count as progress for ever), STATUS= says so, its
 * message gets no more heartbeats, and the message waiting for the worker is released. When
 * the handler returns at last, its message is deleted and the consumer is healthy again. */
START_TEST(test_hung_handler_stops_progress)
{
	struct fake_sqs q;
	/* visibility 1 s: a heartbeat every 0.5 s while the job is extended */
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .hold = true, .hung_after_ms = 800};
	struct beat_arg released = {"h1", 1, 0};
	struct beat_arg more;
	struct consumer *c;
	uint64_t held_at, unhealthy_at;
	size_t one = 1;
	char state[160];

	/* one worker, two messages: h0 held, h1 received ahead and waiting for the worker */
	c = start_held(&a, 2, &held_at);
	(void)healthy_within_bound(&a, c, held_at);
	unhealthy_at = wait_healthy(c, false);
	ck_assert_msg(unhealthy_at != 0, "a hung handler still counts as progress after %d s",
		      WAIT_MS / 1000);
	ck_assert_msg(unhealthy_at - held_at + HUNG_MARGIN_USEC >= 800000u,
		      "not healthy %.2f s into the handler, under its 0.8 s bound",
		      (unhealthy_at - held_at) / 1e6);
	consumer_state(c, state, sizeof(state));
	ck_assert_msg(strstr(state, "hung (message m0 running") != NULL, "state: %s", state);
	/* the waiting message goes back to the queue at once; the held one is extended no more:
	 * none of its heartbeats in three of their periods */
	ck_assert(wait_for(&q, beats, &released));
	pthread_mutex_lock(&q.lock);
	more = (struct beat_arg){"h0", vis_count(&q, "h0", 1) + 1, 1};
	pthread_mutex_unlock(&q.lock);
	ck_assert_msg(!wait_for_ms(&q, beats, &more, 1500), "a hung job still has heartbeats");
	ck_assert(!consumer_healthy(c));

	release_held(&a);
	ck_assert(wait_for(&q, deleted_n, &one));
	ck_assert_msg(wait_healthy(c, true) != 0, "no progress after the hung handler returned");
	stop(&a, c);
	ck_assert_int_eq(atomic_load(&a.started), 1);
	ck_assert(is_deleted(&q, "h0"));
	ck_assert(!is_deleted(&q, "h1"));
	/* released once (visibility 0); a heartbeat before the bound would be right too, so
	 * none is counted: a late first receive on a loaded machine may give it one */
	ck_assert_uint_eq(vis_count(&q, "h1", 0), 1);
	fake_cleanup(&q);
}
END_TEST

/* A handler that is merely slow, under its bound: the consumer stays healthy throughout,
 * the message keeps its heartbeats, and it is deleted once handled. */
START_TEST(test_slow_handler_stays_healthy)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .hold = true, .hung_after_ms = 4000};
	struct consumer *c;
	uint64_t held_at;
	size_t one = 1;
	size_t beats_seen = 0;

	c = start_held(&a, 1, &held_at);
	/* 1.5 s at least (three heartbeat periods) and two heartbeats, well under the bound */
	while (clk_mono_us() - held_at < 1500000u || beats_seen < 2) {
		ck_assert_msg(healthy_within_bound(&a, c, held_at),
			      "not healthy %.2f s into a handler, under its 4 s bound",
			      (clk_mono_us() - held_at) / 1e6);
		pthread_mutex_lock(&q.lock);
		beats_seen = vis_count(&q, "h0", 1);
		pthread_mutex_unlock(&q.lock);
		if (clk_mono_us() - held_at >= 3000000u)
			break;
		clk_sleep_ms(20);
	}
	ck_assert_msg(beats_seen >= 2, "%zu heartbeats in %.2f s (visibility 1 s)", beats_seen,
		      (clk_mono_us() - held_at) / 1e6);
	release_held(&a);
	ck_assert(wait_for(&q, deleted_n, &one));
	ck_assert(consumer_healthy(c));
	stop(&a, c);
	fake_cleanup(&q);
}
END_TEST

/* ---- metrics and the dead-letter line ---- */

/* The per-queue counters of the consumer, as Prometheus sees them: a family and the kind
 * label (NULL: none). Each must exist from the start, at 0: increase() of a series that
 * appears with its first increment misses that increment, and sum() over no series is
 * empty rather than 0 (docs/alerts.yml's dead-letter and stuck-pending alerts). */
static const struct {
	const char *name;
	const char *kind;
} counters[] = {
	{"appointmentd_messages_received_total", NULL},
	{"appointmentd_messages_succeeded_total", NULL},
	{"appointmentd_messages_failed_total", "transient"},
	{"appointmentd_messages_failed_total", "poison"},
	{"appointmentd_messages_dead_lettered_total", NULL},
};
#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

/* How many lines of family name in text carry queue="pe" and exactly the kind label (none
 * for NULL), in whatever order the labels come; *value gets the last one's value. */
static int series_lines(const char *text, const char *name, const char *kind, double *value)
{
	char want_kind[64];
	size_t nl = strlen(name);
	int n = 0;

	snprintf(want_kind, sizeof(want_kind), "kind=\"%s\"", kind != NULL ? kind : "");
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char labels[256] = "";
		const char *close;

		if (len > nl && strncmp(line, name, nl) == 0 && line[nl] == '{') {
			close = memchr(line, '}', len);
			ck_assert_ptr_nonnull(close);
			snprintf(labels, sizeof(labels), "%.*s", (int)(close - line - nl - 1),
				 line + nl + 1);
			if (strstr(labels, "queue=\"pe\"") != NULL &&
			    (kind != NULL ? strstr(labels, want_kind) != NULL
					  : strstr(labels, "kind=") == NULL)) {
				n++;
				*value = strtod(close + 1, NULL);
			}
		}
		line = end != NULL ? end + 1 : NULL;
	}
	return n;
}

/* Renders m and checks every counter of the queue: exactly one line, of value want[i]. */
static void assert_counters(struct metrics *m, const double want[N_COUNTERS], const char *when)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(metrics_render(m, &b), RC_OK);
	for (size_t i = 0; i < N_COUNTERS; i++) {
		double v = -1;
		int n = series_lines(buf_str(&b), counters[i].name, counters[i].kind, &v);

		ck_assert_msg(n == 1, "%s: %d series of %s{queue=\"pe\"%s%s} in:\n%s", when, n,
			      counters[i].name, counters[i].kind != NULL ? ",kind=" : "",
			      counters[i].kind != NULL ? counters[i].kind : "", buf_str(&b));
		ck_assert_msg(v == want[i], "%s: %s (kind %s) is %g, want %g", when,
			      counters[i].name, counters[i].kind != NULL ? counters[i].kind : "-",
			      v, want[i]);
	}
	buf_cleanup(&b);
}

/* One message, one verdict: the counters right after the start (all 0), then once it is
 * handled. Order of want: received, succeeded, failed transient, failed poison,
 * dead-lettered. */
static const struct {
	const char *name;
	enum consumer_verdict verdict;
	int receive_count;
	enum rc report;     /* what on_poison returns */
	double want[N_COUNTERS];
} counter_cases[] = {
	{"done", CONSUMER_DONE, 1, RC_OK, {1, 1, 0, 0, 0}},
	{"transient", CONSUMER_RETRY, 1, RC_OK, {1, 0, 1, 0, 0}},
	{"transient on the last receive", CONSUMER_RETRY, 3, RC_OK, {1, 0, 1, 0, 1}},
	{"poison", CONSUMER_POISON, 1, RC_OK, {1, 0, 0, 1, 0}},
	/* not reported, so kept and retried: one failure, transient (the help text's "poison:
	 * reported and deleted"), not counted under both kinds */
	{"poison whose report failed", CONSUMER_POISON, 1, RC_IO, {1, 0, 1, 0, 0}},
	{"poison whose report failed, last receive", CONSUMER_POISON, 3, RC_IO, {1, 0, 1, 0, 1}},
};

START_TEST(test_counters_exist_from_the_start)
{
	static const double zero[N_COUNTERS] = {0};
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = counter_cases[_i].verdict,
			     .poison_rc = counter_cases[_i].report};
	struct metrics *m = metrics_new();
	struct consumer_opts o = opts_for(&a, 1);
	struct consumer *c = NULL;
	struct errbuf eb = {{0}};

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(consumer_metrics_describe(m), RC_OK);
	fake_init(&q, 1, counter_cases[_i].receive_count);
	/* nothing is delivered until the zeros are looked at */
	q.deliver_from_usec = UINT64_MAX;
	o.metrics = m;
	ck_assert_msg(consumer_start(&o, &c, &eb) == RC_OK, "%s", eb.msg);
	/* received_total is counted by every receive, empty ones too: wait until one has
	 * returned (the second has begun), so that only the start can have made the others */
	pthread_mutex_lock(&q.lock);
	while (q.receives < 2) {
		struct timespec ts = clk_deadline(CLOCK_REALTIME, 20);

		(void)pthread_cond_timedwait(&q.cv, &q.lock, &ts);
	}
	pthread_mutex_unlock(&q.lock);
	assert_counters(m, zero, "after the start");
	pthread_mutex_lock(&q.lock);
	q.deliver_from_usec = 0;
	pthread_mutex_unlock(&q.lock);
	ck_assert(wait_for(&q, acked, NULL));
	stop(&a, c);
	assert_counters(m, counter_cases[_i].want, counter_cases[_i].name);
	metrics_free(m);
	fake_cleanup(&q);
}
END_TEST

/* Everything lg wrote to its file so far (caller frees). */
/* cap writes its warnings and errors into f (no journal), for read_log. */
static void capture_log(struct logger *cap, FILE *f)
{
	ck_assert_ptr_nonnull(f);
	log_init(cap, "test_consumer", LOG_LVL_WARN);
	cap->journal = false;
	cap->fd = fileno(f);
}

static char *read_log(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *text;

	ck_assert_int_ge(end, 0);
	text = calloc(1, (size_t)end + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(pread(fd, text, (size_t)end, 0), end);
	return text;
}

/* A transient failure on the message's last allowed receive (receive count >=
 * max_receive_count, 3 here) is the last the consumer sees of it: SQS moves it to the DLQ.
 * One line says so, with the reason and the count; an earlier receive writes none. */
static const struct {
	int receive_count;
	bool dead_letter_line;
} dlq_log_cases[] = {
	{3, true},
	{4, true},
	{2, false},
};

START_TEST(test_last_receive_is_logged)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .verdict = CONSUMER_RETRY};
	struct consumer_opts o = opts_for(&a, 1);
	struct consumer *c = NULL;
	struct errbuf eb = {{0}};
	struct logger cap;
	FILE *f = tmpfile();
	char want[64];
	char *text;

	capture_log(&cap, f);
	o.lg = &cap;
	fake_init(&q, 1, dlq_log_cases[_i].receive_count);
	ck_assert_msg(consumer_start(&o, &c, &eb) == RC_OK, "%s", eb.msg);
	ck_assert(wait_for(&q, acked, NULL));
	stop(&a, c);
	text = read_log(cap.fd);
	snprintf(want, sizeof(want), "failed on receive %d of 3", dlq_log_cases[_i].receive_count);
	if (dlq_log_cases[_i].dead_letter_line) {
		ck_assert_msg(strstr(text, want) != NULL, "no \"%s\" in:\n%s", want, text);
		ck_assert_msg(strstr(text, "SQS moves it to the DLQ") != NULL, "%s", text);
		ck_assert_msg(strstr(text, "the test says so") != NULL, "no reason in:\n%s", text);
		ck_assert_msg(strstr(text, "\"m0\"") != NULL, "no message id in:\n%s", text);
	} else {
		ck_assert_msg(strstr(text, "DLQ") == NULL, "receive %d of 3:\n%s",
			      dlq_log_cases[_i].receive_count, text);
	}
	free(text);
	fclose(f);
	fake_cleanup(&q);
}
END_TEST

/* Messages given back unhandled at a stop on their last receive (one running, whose handler
 * gave up for the stop; one received and waiting for the one worker) go to the DLQ at their
 * next receive: each is counted and told, like a last failure. On an earlier receive, no
 * line. Before, they reached the DLQ without a word. */
static const struct {
	int receive_count;
	size_t lines;
} stop_release_cases[] = {
	{3, 2},
	{1, 0},
};

static size_t count_in(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(test_released_at_stop_on_last_receive_is_told)
{
	struct fake_sqs q;
	struct test_app a = {.q = &q, .until_stop = true};
	struct consumer_opts o = opts_for(&a, 1);
	struct consumer *c = NULL;
	struct errbuf eb = {{0}};
	struct logger cap;
	FILE *f = tmpfile();
	char want[64];
	char *text;
	uint64_t t0;

	capture_log(&cap, f);
	o.lg = &cap;
	fake_init(&q, 2, stop_release_cases[_i].receive_count);
	ck_assert_msg(consumer_start(&o, &c, &eb) == RC_OK, "%s", eb.msg);
	t0 = clk_mono_us();
	/* the one worker busy, and the other message received behind it (one batch ahead) */
	for (;;) {
		size_t got;

		pthread_mutex_lock(&q.lock);
		got = q.next;
		pthread_mutex_unlock(&q.lock);
		if ((atomic_load(&a.started) >= 1 && got >= 2) || clk_mono_us() - t0 >= WAIT_MS * 1000u)
			break;
		clk_sleep_ms(5);
	}
	ck_assert_int_eq(atomic_load(&a.started), 1);
	stop(&a, c);
	for (int i = 0; i < 2; i++) {
		char h[8];

		snprintf(h, sizeof(h), "h%d", i);
		ck_assert_uint_eq(vis_count(&q, h, 0), 1);
	}
	text = read_log(cap.fd);
	snprintf(want, sizeof(want), "given back at a stop on receive %d of 3",
		 stop_release_cases[_i].receive_count);
	ck_assert_msg(count_in(text, want) == stop_release_cases[_i].lines, "want %zu \"%s\" in:\n%s",
		      stop_release_cases[_i].lines, want, text);
	ck_assert_uint_eq(count_in(text, "DLQ"), stop_release_cases[_i].lines);
	free(text);
	fclose(f);
	fake_cleanup(&q);
}
END_TEST

/* The drain ran out of time with a handler hung (run/lifecycle then exits without the
 * teardown): consumer_abandon has the acker send the deletes it holds, even those that
 * finished while it was stuck in an SQS call, and end without the hung handler, which it
 * reports; from then on nothing extends the hung message (it comes back after its visibility
 * timeout) and nothing deletes it, even when its handler returns. Before, the only way out
 * was consumer_free, which joins the hung thread. */
START_TEST(test_abandon_sends_what_is_done_and_leaves_the_hung)
{
	struct fake_sqs q;
	/* visibility 1 s: a heartbeat every 0.5 s while a job is extended */
	struct test_app a = {.q = &q, .verdict = CONSUMER_DONE, .hold = true, .hold_only = "h0"};
	struct beat_arg more;
	struct consumer *c;
	uint64_t t0;
	unsigned n;

	fake_init(&q, 3, 1);
	/* h1 ends first and its DeleteMessageBatch is slow; h2 ends while the acker waits for it,
	 * and the abandon comes before the acker is back */
	q.delete_stall_ms = 800;
	a.sleep_ms_of[2] = 200;
	c = start(&a, 2);
	t0 = clk_mono_us();
	while ((atomic_load(&a.held_usec) == 0 || consumer_handled(c) < 2) &&
	       clk_mono_us() - t0 < WAIT_MS * 1000u)
		clk_sleep_ms(5);
	ck_assert_uint_eq(consumer_handled(c), 2);
	consumer_stop(c);
	ck_assert_msg(!consumer_wait(c, 100), "the stop finished with a handler held");
	t0 = clk_mono_us();
	n = consumer_abandon(c, WAIT_MS);
	ck_assert_msg(clk_mono_us() - t0 < 2000000u, "abandon took %.2f s", (clk_mono_us() - t0) / 1e6);
	ck_assert_uint_eq(n, 1);
	pthread_mutex_lock(&q.lock);
	ck_assert(is_deleted(&q, "h1"));
	ck_assert(is_deleted(&q, "h2"));
	ck_assert(!is_deleted(&q, "h0"));
	ck_assert_uint_eq(vis_count(&q, "h0", 0), 0);
	more = (struct beat_arg){"h0", vis_count(&q, "h0", 1) + 1, 1};
	pthread_mutex_unlock(&q.lock);
	ck_assert_msg(!wait_for_ms(&q, beats, &more, 1500), "an abandoned job still has heartbeats");

	/* the held handler returns at last: the test may free the consumer (a daemon exits) */
	release_held(&a);
	consumer_free(c);
	ck_assert_int_eq(atomic_load(&a.threads_freed), atomic_load(&a.threads_made));
	ck_assert(!is_deleted(&q, "h0"));
	ck_assert_uint_eq(vis_count(&q, "h0", 0), 0);
	fake_cleanup(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("consumer");
	TCase *tc = tcase_create("core");

	log_init(&lg, "test_consumer", LOG_LVL_ERROR);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_done_is_deleted);
	tcase_add_test(tc, test_heartbeat_extends_visibility);
	tcase_add_test(tc, test_receives_whole_batches);
	tcase_add_test(tc, test_waiting_message_gets_heartbeats);
	tcase_add_test(tc, test_deletes_share_a_call);
	tcase_add_test(tc, test_transient_failure_backs_off);
	tcase_add_loop_test(tc, test_poison, 0, sizeof(poison_cases) / sizeof(poison_cases[0]));
	tcase_add_test(tc, test_stop_releases_in_flight);
	tcase_add_test(tc, test_thread_start_failure_fails_start);
	tcase_add_test(tc, test_receive_failure_is_retried);
	tcase_add_loop_test(tc, test_failed_heartbeat_is_retried_at_once, 0,
			    sizeof(heartbeat_failure_cases) / sizeof(heartbeat_failure_cases[0]));
	tcase_add_test(tc, test_many_due_heartbeats_go_out_together);
	tcase_add_test(tc, test_failing_heartbeats_are_not_sent_back_to_back);
	tcase_add_test(tc, test_hung_handler_stops_progress);
	tcase_add_test(tc, test_slow_handler_stays_healthy);
	tcase_add_test(tc, test_abandon_sends_what_is_done_and_leaves_the_hung);
	tcase_add_loop_test(tc, test_counters_exist_from_the_start, 0,
			    sizeof(counter_cases) / sizeof(counter_cases[0]));
	tcase_add_loop_test(tc, test_last_receive_is_logged, 0,
			    sizeof(dlq_log_cases) / sizeof(dlq_log_cases[0]));
	tcase_add_loop_test(tc, test_released_at_stop_on_last_receive_is_told, 0,
			    sizeof(stop_release_cases) / sizeof(stop_release_cases[0]));
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
