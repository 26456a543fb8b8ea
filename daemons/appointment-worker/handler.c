/* handler.c — one message of a country queue: unwrap the SNS envelope, decode and
 * check the appointment, book it in the country's PostgreSQL (one transaction,
 * idempotent), set processed/failed in DynamoDB conditionally, announce the outcome
 * on EventBridge; a cancel message releases the slot and sets cancelled instead. Each step is safe to repeat, so any crash in between is repaired
 * by redelivery (SPEC §5). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/awsmetrics.h"
#include "pg/db.h"
#include "pg/db_booking.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "domain/timeutil.h"
#include "app/events.h"
#include "app/secret.h"
#include "app/store.h"
#include "worker.h"

#define DB_STATEMENT_TIMEOUT_MS 10000 /* a booking is two short statements */
/* A handler's worst path, for the consumer's hung_after (docs/reliability.md, "A hung
 * handler"): check, book, release after a cancel, record (a status transition follows the
 * item up to 4 times: a write and a read each), release again, the outcome event (perhaps
 * after a shared PutEvents) or a Processing Error. */
#define WORST_AWS_CALLS 14     /* 3 GetItem, 8 for the transition, 2 PutEvents, 1 more */
#define EVENTS_PER_PUT 10      /* a shared PutEvents carries up to 10 threads' events */
#define WORST_DB_TX 6          /* book twice, release twice after each of book and record */
#define WORST_DB_TX_ROUNDS 5   /* begin, up to three statements, commit */
#define WORST_DB_WAITS 3       /* wait_for_database: in book and in each release */

/* Shared by every worker thread; read-only after setup. */
struct worker {
	const struct conf *cfg;
	const struct conf_country *cc;
	const struct aws_config *aws;
	const struct logger *lg;
	struct metrics *metrics;   /* AWS calls are counted here */
	char *password;            /* NULL: libpq's own sources (PGPASSWORD, .pgpass) */
	bool ssm_pending;          /* SSM did not answer in setup: prepare asks again */
	struct events_batch *events; /* the threads' outcome events share PutEvents calls */
};

/* One per worker thread: its own clients and connection. */
struct worker_thread {
	struct worker *w;
	struct ddb_client *ddb;
	struct evb_client *evb;
	struct db_conn *db;
};

/* Makes a thread's clients and its (lazy) connection: nothing here talks to a server, so
 * a failure is the configuration's (RC_INVAL: e.g. an empty db_host) or memory's. */
static enum rc thread_new(void *ud, void **out, struct errbuf *eb)
{
	struct worker *w = ud;
	struct worker_thread *t = calloc(1, sizeof(*t));
	struct db_options opt;
	struct db_target target;
	enum rc rc = RC_OK;

	*out = NULL;
	if (t == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	t->w = w;
	db_options_init(&opt);
	opt.application_name = "appointment-worker";
	opt.query_timeout_ms = DB_STATEMENT_TIMEOUT_MS;
	conf_db_target(w->cfg, w->cc, w->password, &target);
	t->ddb = ddb_client_new(w->aws, eb);
	t->evb = t->ddb != NULL ? evb_client_new(w->aws, eb) : NULL;
	if (t->evb == NULL)
		rc = RC_FATAL;
	else
		rc = db_conn_new(&target, &opt, &t->db, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "PostgreSQL %s", w->cc->code);
		ddb_client_free(t->ddb);
		evb_client_free(t->evb);
		free(t);
		return rc;
	}
	awsmetrics_attach(ddb_client_core(t->ddb), w->metrics);
	awsmetrics_attach(evb_client_core(t->evb), w->metrics);
	*out = t;
	return RC_OK;
}

static void thread_free(void *tctx)
{
	struct worker_thread *t = tctx;

	db_conn_free(t->db);
	ddb_client_free(t->ddb);
	evb_client_free(t->evb);
	free(t);
}

/* Transient failures are retried; a permanent one (bad input) is poison. */
static enum consumer_verdict verdict_of(enum rc rc)
{
	return rc == RC_INVAL ? CONSUMER_POISON : CONSUMER_RETRY;
}

/* Waits (bounded, a second at a time so a stop is noticed) for the database to come
 * back. A message that fails fast while PostgreSQL is down would burn its receive
 * count and land in the DLQ during a short outage; waiting here, with its
 * visibility extended by the consumer's heartbeat, it is simply delayed. */
static bool wait_for_database(struct worker_thread *t, const struct consumer_message *m,
			      const struct log_fields *lf, const char *why)
{
	int64_t deadline = clk_mono_ms() + (int64_t)t->w->cfg->dependency_wait_seconds * 1000;
	struct errbuf eb = {{0}};
	bool logged = false;

	while (!atomic_load(m->stopping) && clk_mono_ms() < deadline) {
		int64_t t0 = clk_mono_ms();
		int64_t spent;

		if (db_reconnect_wait(t->db, 1000, &eb) == RC_OK) {
			consumer_waiting_on(m->consumer, NULL);
			return true;
		}
		if (!logged) {
			struct log_fields f = *lf;
			char what[64];

			f.error = why;
			log_warn(t->w->lg, &f, "PostgreSQL %s unreachable; holding the message up to %d s",
				 t->w->cc->code, t->w->cfg->dependency_wait_seconds);
			snprintf(what, sizeof(what), "PostgreSQL %s", t->w->cc->code);
			consumer_waiting_on(m->consumer, what);
			logged = true;
		}
		spent = clk_mono_ms() - t0;
		clk_sleep_ms((long)(1000 - spent));
	}
	consumer_waiting_on(m->consumer, NULL);
	return false;
}

#define WORKER_OUTCOMES "appointmentd_worker_outcomes_total"

/* Every outcome a handled message may have: processed, failed, cancelled, or
 * create_after_cancel (a creation that met a cancelled or cancelling appointment: nothing
 * kept booked). setup creates each at 0. */
static const char *const outcomes[] = {"processed", "failed", "cancelled", "create_after_cancel"};

/* Adds n to the worker's count of outcome (one of outcomes): the one place its labels are
 * made, so the series setup creates at 0 is the one counted later. */
static void count_outcome(struct worker *w, const char *outcome, double n)
{
	const char *labels[] = {"queue", w->cc->lower, "outcome", outcome, NULL};

	metrics_add(w->metrics, WORKER_OUTCOMES, labels, n);
}

static void count(struct worker_thread *t, const char *outcome)
{
	count_outcome(t->w, outcome, 1);
}

/* Gives back the slot appointment id holds, if any (one transaction, idempotent: a second
 * call finds nothing), waiting for the database as a booking does. */
static enum consumer_verdict release(struct worker_thread *t, const struct consumer_message *m,
				     const struct log_fields *lf, const char *id,
				     struct errbuf *reason)
{
	struct errbuf eb = {{0}};
	bool released = false;
	enum rc rc = db_release_booking(t->db, id, &released, &eb);

	if (rc == RC_IO && wait_for_database(t, m, lf, eb.msg))
		rc = db_release_booking(t->db, id, &released, &eb);
	if (rc != RC_OK) {
		eb_set(reason, rc, "PostgreSQL %s: releasing the slot of %s: %s", t->w->cc->code, id,
		       eb.msg);
		return verdict_of(rc);
	}
	if (released)
		log_info(t->w->lg, lf, "slot released");
	return CONSUMER_DONE;
}

/* The item moved on since it was read: the status write failed its condition, or the
 * booking found itself released. A cancel that came in while this delivery booked leaves it
 * cancelling or cancelled: the slot just taken is given back (the cancel may have released
 * before the booking committed) and a takes the item's status, so no outcome event is sent.
 * Otherwise a twin delivery of the same message decided first. If it failed the item, this
 * delivery's booking (it may have committed once a cancel freed the slot) is released: a
 * failed item holds no slot. If it processed the item, the booking stays: rows are per
 * appointment id, so the twin's booking is this very row. Either way *a becomes the item
 * as the table has it, so the outcome event repeats the twin's, as a redelivery does, and
 * never announces a status the item does not have. RC_NOTFOUND and read failures are
 * retried. */
static enum consumer_verdict moved_on(struct worker_thread *t, const struct consumer_message *m,
				      struct appointment *a, const struct log_fields *lf,
				      struct errbuf *reason)
{
	struct appointment cur;
	struct errbuf eb = {{0}};
	enum consumer_verdict v = CONSUMER_DONE;
	enum rc rc = store_get(t->ddb, t->w->cfg->table_name, a->appointment_id, &cur, &eb);

	if (rc != RC_OK) {
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		return CONSUMER_RETRY;
	}
	if (appt_status_cancel_side(cur.status) || cur.status == APPT_FAILED)
		v = release(t, m, lf, a->appointment_id, reason);
	if (v != CONSUMER_DONE)
		return v;
	if (appt_status_cancel_side(cur.status)) {
		a->status = cur.status;
		return v;
	}
	log_warn(t->w->lg, lf, "item already %s by a twin delivery; announcing that",
		 appt_status_name(cur.status));
	*a = cur;
	return v;
}

/* Books in PostgreSQL and records the outcome in a (status, schedule, times). */
static enum consumer_verdict book(struct worker_thread *t, const struct consumer_message *m,
				  const struct log_fields *lf, struct appointment *a,
				  struct errbuf *reason)
{
	struct db_booking_result res;
	struct errbuf eb = {{0}};
	enum consumer_verdict v;
	enum rc rc = db_book_appointment(t->db, a->appointment_id, a->insured_id, a->schedule_id,
					 a->country, a->created_at, &res, &eb);

	if (rc == RC_IO && wait_for_database(t, m, lf, eb.msg))
		rc = db_book_appointment(t->db, a->appointment_id, a->insured_id, a->schedule_id,
					 a->country, a->created_at, &res, &eb);
	if (rc != RC_OK) {
		eb_set(reason, rc, "PostgreSQL %s: %s", t->w->cc->code, eb.msg);
		/* RC_INVAL here is a row of this id holding another slot: permanent */
		return verdict_of(rc);
	}
	if (res.outcome == DB_BOOK_CANCELLED) {
		/* a cancel released this very booking since the item was read: the item, now
		 * cancelling or cancelled, says the rest (nothing is booked again) */
		v = moved_on(t, m, a, lf, reason);
		/* a failed item's booking is released too, by a twin that booked after the
		 * item failed (moved_on); only a processed item must hold its row */
		if (v == CONSUMER_DONE && !appt_status_cancel_side(a->status) &&
		    a->status != APPT_FAILED) {
			eb_set(reason, RC_INVAL, "appointment %s is %s, but its booking was released",
			       a->appointment_id, appt_status_name(a->status));
			return CONSUMER_POISON;
		}
		return v;
	}
	if (res.outcome == DB_BOOK_BOOKED || res.outcome == DB_BOOK_ALREADY) {
		a->status = APPT_PROCESSED;
		a->has_schedule = true;
		a->schedule.schedule_id = res.schedule.schedule_id;
		a->schedule.center_id = res.schedule.center_id;
		a->schedule.specialty_id = res.schedule.specialty_id;
		a->schedule.medic_id = res.schedule.medic_id;
		snprintf(a->schedule.date, sizeof(a->schedule.date), "%s", res.schedule.available_at);
	} else {
		a->status = APPT_FAILED;
		snprintf(a->failure_reason, sizeof(a->failure_reason), "%s",
			 db_booking_outcome_name(res.outcome));
	}
	return CONSUMER_DONE;
}

/* The message's appointment as the table has it, read before anything is booked (SPEC §4:
 * no slot is held by an appointment that is not in the table). Absent: any booking an
 * earlier delivery made for it is released, then the message is poison. A message that
 * does not describe its item is poison too. A missing table or an unreachable DynamoDB is
 * transient. On CONSUMER_DONE, *a is the item: the booking takes its createdAt. */
static enum consumer_verdict check_item(struct worker_thread *t, const struct appt_message *msg,
					struct appointment *a, struct errbuf *reason)
{
	const char *table = t->w->cfg->table_name;
	struct appointment want;
	struct errbuf eb = {{0}};
	bool released = false;
	enum rc rc = store_get(t->ddb, table, msg->appointment_id, a, &eb);

	if (rc == RC_NOTFOUND) {
		rc = db_release_booking(t->db, msg->appointment_id, &released, &eb);
		if (rc != RC_OK) {
			eb_set(reason, rc, "appointment %s is not in %s; releasing its booking: "
			       "PostgreSQL %s: %s", msg->appointment_id, table, t->w->cc->code, eb.msg);
			return CONSUMER_RETRY;
		}
		eb_set(reason, RC_INVAL, "appointment %s is not in %s%s", msg->appointment_id, table,
		       released ? "; the slot it held was released" : "");
		return CONSUMER_POISON;
	}
	if (rc != RC_OK) {
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		return verdict_of(rc);
	}
	memset(&want, 0, sizeof(want));
	memcpy(want.appointment_id, msg->appointment_id, sizeof(want.appointment_id));
	memcpy(want.insured_id, msg->insured_id, sizeof(want.insured_id));
	memcpy(want.country, msg->country, sizeof(want.country));
	want.schedule_id = msg->schedule_id;
	if (!store_same_request(&want, a)) {
		eb_set(reason, RC_INVAL, "the message does not match appointment %s in %s",
		       msg->appointment_id, table);
		return CONSUMER_POISON;
	}
	return CONSUMER_DONE;
}

/* A processed item's processedAt for the event a redelivery sends again: the one the item
 * has (SPEC §4's Detail), not the time of this delivery. check_item read it when the item
 * was processed then; otherwise a twin delivery processed it since, and it is read now. */
static enum consumer_verdict processed_at_of(struct worker_thread *t, struct appointment *a,
					     struct errbuf *reason)
{
	struct appointment cur;
	struct errbuf eb = {{0}};
	enum rc rc;

	if (a->processed_at[0] != '\0')
		return CONSUMER_DONE;
	rc = store_get(t->ddb, t->w->cfg->table_name, a->appointment_id, &cur, &eb);
	if (rc != RC_OK) {
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		return CONSUMER_RETRY;
	}
	memcpy(a->processed_at, cur.processed_at, sizeof(a->processed_at));
	return CONSUMER_DONE;
}

/* The conditional status write; a redelivery finds it done and carries on. */
static enum consumer_verdict record(struct worker_thread *t, const struct consumer_message *m,
				    struct appointment *a, const struct log_fields *lf,
				    struct errbuf *reason)
{
	const struct conf *cfg = t->w->cfg;
	enum store_outcome o = STORE_APPLIED;
	struct errbuf eb = {{0}};
	char now[TU_ISO_SIZE];
	enum rc rc;

	if (tu_format_ms(clk_wall_ms(), now) != RC_OK) {
		eb_set(reason, RC_FATAL, "clock out of range");
		return CONSUMER_RETRY;
	}
	if (a->status == APPT_PROCESSED)
		rc = store_mark_processed(t->ddb, cfg->table_name, cfg->counters_table,
					  a->appointment_id, a->insured_id, &a->schedule, now, &o,
					  &eb);
	else
		rc = store_mark_failed(t->ddb, cfg->table_name, cfg->counters_table,
				       a->appointment_id, a->insured_id, a->failure_reason, now,
				       &o, &eb);
	if (rc != RC_OK) {
		/* RC_NOTFOUND: the item vanished since the check; the redelivery compensates */
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		return CONSUMER_RETRY;
	}
	if (o == STORE_WRONG_STATE)
		return moved_on(t, m, a, lf, reason);
	if (o == STORE_ALREADY && a->status == APPT_PROCESSED)
		return processed_at_of(t, a, reason);
	memcpy(a->processed_at, now, sizeof(a->processed_at));
	return CONSUMER_DONE;
}

/* A cancel message (SPEC §3): the item is cancelling (or already cancelled: a redelivery).
 * The slot is released first, in one transaction, then the item is closed conditionally,
 * so a crash in between leaves a cancelling item that the redelivery (or the reconciler's
 * re-sent cancel) finishes. On CONSUMER_DONE, a is cancelled, for the event. */
static enum consumer_verdict cancel(struct worker_thread *t, const struct consumer_message *m,
				    struct appointment *a, const struct log_fields *lf,
				    struct errbuf *reason)
{
	const struct conf *cfg = t->w->cfg;
	enum store_outcome o = STORE_APPLIED;
	struct errbuf eb = {{0}};
	char now[TU_ISO_SIZE];
	enum consumer_verdict v;
	enum rc rc;

	if (!appt_status_cancel_side(a->status)) {
		eb_set(reason, RC_INVAL, "cancel of appointment %s, which is %s: no cancel was "
		       "accepted", a->appointment_id, appt_status_name(a->status));
		return CONSUMER_POISON;
	}
	v = release(t, m, lf, a->appointment_id, reason);
	if (v != CONSUMER_DONE || a->status == APPT_CANCELLED)
		return v;
	if (tu_format_ms(clk_wall_ms(), now) != RC_OK) {
		eb_set(reason, RC_FATAL, "clock out of range");
		return CONSUMER_RETRY;
	}
	rc = store_mark_cancelled(t->ddb, cfg->table_name, cfg->counters_table, a->appointment_id,
				  a->insured_id, now, &o, &eb);
	if (rc != RC_OK) {
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		return CONSUMER_RETRY;
	}
	if (o == STORE_WRONG_STATE) {
		/* nothing leaves cancelling but this write: a corrupt or hand-edited item */
		eb_set(reason, RC_INVAL, "appointment %s left cancelling other than by a cancel",
		       a->appointment_id);
		return CONSUMER_POISON;
	}
	/* STORE_ALREADY: a twin delivery closed it a moment ago; its time is close to ours */
	a->status = APPT_CANCELLED;
	memcpy(a->cancelled_at, now, sizeof(a->cancelled_at));
	return CONSUMER_DONE;
}

/* The creation path of a message whose item is checked (v == CONSUMER_DONE): book, then
 * record. An item already cancelling or cancelled books nothing, and any slot an earlier
 * delivery took before the cancel is given back. */
static enum consumer_verdict create(struct worker_thread *t, const struct consumer_message *m,
				    struct appointment *a, const struct log_fields *lf,
				    struct errbuf *reason)
{
	enum consumer_verdict v = CONSUMER_DONE;

	if (appt_status_cancel_side(a->status))
		return release(t, m, lf, a->appointment_id, reason);
	/* a failed appointment keeps its outcome: only its event may still be missing */
	if (a->status != APPT_FAILED)
		v = book(t, m, lf, a, reason);
	if (v == CONSUMER_DONE && !appt_status_cancel_side(a->status))
		v = record(t, m, a, lf, reason);
	return v;
}

static enum consumer_verdict handle(void *tctx, const struct consumer_message *m,
				    struct errbuf *reason)
{
	struct worker_thread *t = tctx;
	struct worker *w = t->w;
	struct appt_message msg;
	struct appointment a;
	struct appt_trace tr; /* the ids its lines and its outcome event carry (SPEC §7) */
	struct errbuf eb = {{0}};
	const char *text = NULL;
	size_t len = 0;
	char *owned = NULL;
	struct log_kv kv[1];
	struct log_fields lf = {.message_id = m->sqs->message_id, .country = w->cc->code,
				.duration_ms = -1};
	enum consumer_verdict v;
	enum rc rc;

	rc = events_unwrap_sns(m->sqs->body, m->sqs->body_len, &text, &len, &owned, &eb);
	if (rc == RC_OK)
		rc = appt_msg_decode(text, len, &msg, &eb);
	free(owned);
	if (rc != RC_OK) {
		eb_set(reason, RC_INVAL, "invalid message: %s", eb.msg);
		return rc == RC_NOMEM ? CONSUMER_RETRY : CONSUMER_POISON;
	}
	memcpy(tr.request_id, msg.request_id, sizeof(tr.request_id));
	memcpy(tr.traceparent, msg.traceparent, sizeof(tr.traceparent));
	log_fields_trace(&lf, kv, tr.request_id, tr.traceparent);
	lf.appointment_id = msg.appointment_id;
	lf.insured_id = msg.insured_id;
	if (strcmp(msg.country, w->cc->code) != 0) {
		eb_set(reason, RC_INVAL, "message for country %s on the %s queue", msg.country,
		       w->cc->code);
		return CONSUMER_POISON;
	}
	v = check_item(t, &msg, &a, reason);
	if (v == CONSUMER_DONE && tr.request_id[0] == '\0') {
		/* a message without ids (the reconciler's before they were kept on the item, or
		 * one sent by hand): the item's, so its lines still join the request's */
		tr = *appt_trace_for(&a, msg.kind);
		log_fields_trace(&lf, kv, tr.request_id, tr.traceparent);
	}
	if (v == CONSUMER_DONE)
		v = msg.kind == APPT_MSG_CANCEL ? cancel(t, m, &a, &lf, reason)
						: create(t, m, &a, &lf, reason);
	if (v != CONSUMER_DONE) {
		lf.error = reason->msg;
		/* on its last receive the consumer's next line says it goes to the DLQ */
		log_warn(w->lg, &lf, "message not done (%s)",
			 v == CONSUMER_POISON ? "poison" : consumer_retry_note(m));
		return v;
	}
	if (msg.kind == APPT_MSG_CREATE && appt_status_cancel_side(a.status)) {
		/* the cancel announces itself; a creation it overtook has nothing to say */
		log_info(w->lg, &lf, "appointment is %s: nothing booked", appt_status_name(a.status));
		count(t, "create_after_cancel");
		return CONSUMER_DONE;
	}
	rc = events_put_outcome(t->evb, w->events, w->cfg->event_bus_name, &a, tr.request_id,
				tr.traceparent, &eb);
	if (rc != RC_OK) {
		eb_set(reason, rc, "EventBridge: %s", eb.msg);
		lf.error = reason->msg;
		log_warn(w->lg, &lf, "outcome event not sent; %s", consumer_retry_note(m));
		return CONSUMER_RETRY;
	}
	log_info(w->lg, &lf, "appointment %s", appt_status_name(a.status));
	/* completed: a twin processed it and the completion daemon came by since (moved_on) */
	count(t, a.status == APPT_COMPLETED ? "processed" : appt_status_name(a.status));
	return CONSUMER_DONE;
}

static enum rc on_poison(void *tctx, const struct consumer_message *m, const char *reason,
			 struct errbuf *eb)
{
	struct worker_thread *t = tctx;
	struct log_fields lf = {.message_id = m->sqs->message_id, .error = reason, .duration_ms = -1};

	log_error(t->w->lg, &lf, "unprocessable message on %s: reported and deleted", m->queue);
	return events_put_processing_error(t->evb, t->w->cfg->event_bus_name, reason, m->queue,
					   m->sqs->message_id, m->sqs->receive_count, m->sqs->body,
					   m->sqs->body_len, eb);
}

static void teardown(void *app)
{
	struct worker *w = app;

	events_batch_free(w->events);
	secret_free(w->password);
	free(w);
}

/* Logs where the password came from, or that there is none (libpq's own sources then). */
static void log_password(const struct worker *w, enum rc rc, enum secret_source src,
			 const struct errbuf *eb)
{
	if (rc == RC_OK)
		log_info(w->lg, NULL, "PostgreSQL password from %s", secret_source_name(src));
	else
		log_emit_err(w->lg, LOG_LVL_WARN, eb->msg,
			     "no PostgreSQL password found; relying on libpq's own sources");
}

/* The PostgreSQL password, in setup, while the environment still holds its sources: the
 * credential, RDS_PASSWORD, SSM, then PGPASSWORD. An SSM that did not answer is asked again
 * at start (prepare), which waits for it: a worker started without the password it was
 * given would fail every booking on authentication, for ever. No password anywhere (no
 * such SSM parameter, or an empty ssm_password_parameter) leaves it to libpq's own sources
 * (.pgpass, trust). */
static enum rc resolve_password(struct worker *w, struct errbuf *eb)
{
	enum secret_source src = SECRET_SSM;
	enum rc rc = secret_rds_password(w->cfg, w->aws, &w->password, &src, eb);

	if (!rc_transient(rc))
		log_password(w, rc, src, eb);
	/* before the consumer's threads exist: no daemon keeps a password in its environment */
	if (secret_scrub_env(&w->password) != RC_OK)
		return eb_set(eb, RC_NOMEM, "out of memory");
	/* PGPASSWORD, taken by the scrub, is a password too: no need to wait for SSM then */
	w->ssm_pending = rc_transient(rc) && w->password == NULL;
	if (w->ssm_pending)
		log_emit_err(w->lg, LOG_LVL_WARN, eb->msg,
			     "PostgreSQL password: SSM did not answer; the start waits for it");
	return RC_OK;
}

/* qdaemon's prepare: the SSM password that setup could not get, waited for. */
static enum rc prepare(void *app, struct errbuf *eb)
{
	struct worker *w = app;
	enum secret_source src = SECRET_SSM;
	enum rc rc;

	if (!w->ssm_pending)
		return RC_OK;
	rc = secret_ssm_password_once(w->cfg, w->aws, &w->password, eb);
	if (rc_transient(rc))
		return rc;
	w->ssm_pending = false;
	log_password(w, rc, src, eb);
	return RC_OK;
}

/* The longest a handler may take, ms: every call of its worst path at its bound (a
 * PostgreSQL round trip DB_STATEMENT_TIMEOUT_MS plus 1 s for the cancel, a connection
 * attempt per transaction and per wait), the dependency waits and the shared PutEvents an
 * event may queue behind: 960 s at the defaults (15 AWS calls of 27 s, transactions of 60 s,
 * waits of 65 s); within int, as the configuration's limits keep it (about 12 hours). */
static int hung_after_ms(const struct conf *cfg, const struct aws_config *aws)
{
	long connect_ms = cfg->rds_connect_timeout * 1000L;
	long tx_ms = connect_ms + WORST_DB_TX_ROUNDS * (DB_STATEMENT_TIMEOUT_MS + 1000L);
	long wait_ms = cfg->dependency_wait_seconds * 1000L + connect_ms;

	/* a thread's event may queue behind the other threads' shared PutEvents, one at a time */
	long queued_puts = (cfg->max_in_flight + EVENTS_PER_PUT - 1) / EVENTS_PER_PUT;

	return (int)((WORST_AWS_CALLS + queued_puts) * qdaemon_aws_call_max_ms(aws) +
		     WORST_DB_TX * tx_ms + WORST_DB_WAITS * wait_ms);
}

static enum rc setup(const struct qdaemon_env *env, void **app, struct consumer_opts *co,
		     struct qdaemon_queue *q, struct errbuf *eb)
{
	struct worker *w;
	char code[3];
	const char *arg = env->args->country;

	if (strlen(arg) != 2)
		return eb_set(eb, RC_INVAL, "--country %s: not a two-letter country code", arg);
	code[0] = (char)toupper((unsigned char)arg[0]);
	code[1] = (char)toupper((unsigned char)arg[1]);
	code[2] = '\0';
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	w->cfg = env->cfg;
	w->aws = env->aws;
	w->lg = env->lg;
	w->metrics = env->metrics;
	w->cc = conf_country(env->cfg, code);
	if (w->cc == NULL) {
		free(w);
		return eb_set(eb, RC_INVAL, "%s: no [country %s] section", env->cfg->path, code);
	}
	w->events = events_batch_new();
	if (w->events == NULL) {
		free(w);
		return eb_set(eb, RC_NOMEM, "out of memory");
	}
	if (resolve_password(w, eb) != RC_OK) {
		teardown(w);
		return RC_NOMEM;
	}
	if (metrics_describe(env->metrics, WORKER_OUTCOMES, METRICS_COUNTER,
			     "Messages the worker finished, by queue and outcome (processed, failed, "
			     "cancelled, create_after_cancel)") != RC_OK) {
		teardown(w);
		return eb_set(eb, RC_NOMEM, "out of memory");
	}
	/* from the start, at 0: a series that appears with its first increment hides that
	 * increment from increase(), and a ratio over no series is empty (docs/alerts.yml) */
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		count_outcome(w, outcomes[i], 0);
	*app = w;
	co->ud = w;
	co->thread_new = thread_new;
	co->thread_free = thread_free;
	co->handle = handle;
	co->on_poison = on_poison;
	co->hung_after_ms = hung_after_ms(env->cfg, env->aws);
	snprintf(q->label, sizeof(q->label), "%s", w->cc->lower);
	q->url = w->cc->queue_url;
	q->name = w->cc->queue_name;
	return RC_OK;
}

const struct qdaemon_app worker_app = {
	.service = "appointment-worker",
	.usage_extra = "--country XX",
	.needs_country = true,
	.setup = setup,
	.prepare = prepare,
	.prepare_what = "the PostgreSQL password",
	.teardown = teardown,
};
