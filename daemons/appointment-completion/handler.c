/* handler.c — one "Appointment Processed" event from the completion queue: read the
 * EventBridge envelope, set the appointment completed in DynamoDB conditionally.
 * Already completed is success (redelivery); a missing appointment, or one of another
 * insuredId, is poison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/awsmetrics.h"
#include "completion.h"
#include "base/clock.h"
#include "domain/timeutil.h"
#include "app/events.h"
#include "app/store.h"

/* A handler's worst path, for the consumer's hung_after: the read of an event without a
 * request id, a status transition that reads the item and follows it up to 4 times (a write
 * and a read each), then a Processing Error. */
#define WORST_AWS_CALLS 11

struct completion {
	const struct conf *cfg;
	const struct aws_config *aws;
	const struct logger *lg;
	struct metrics *metrics;   /* AWS calls are counted here */
};

struct completion_thread {
	struct completion *c;
	struct ddb_client *ddb;
	struct evb_client *evb;
};

static enum rc thread_new(void *ud, void **out, struct errbuf *eb)
{
	struct completion_thread *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	t->c = ud;
	t->ddb = ddb_client_new(t->c->aws, eb);
	t->evb = t->ddb != NULL ? evb_client_new(t->c->aws, eb) : NULL;
	if (t->evb == NULL) {
		ddb_client_free(t->ddb);
		free(t);
		return RC_FATAL;
	}
	awsmetrics_attach(ddb_client_core(t->ddb), t->c->metrics);
	awsmetrics_attach(evb_client_core(t->evb), t->c->metrics);
	*out = t;
	return RC_OK;
}

static void thread_free(void *tctx)
{
	struct completion_thread *t = tctx;

	ddb_client_free(t->ddb);
	evb_client_free(t->evb);
	free(t);
}

/* An event that names no request id (one put before the ids were kept on the item, or by
 * hand): the ids of the item's creation, read from it, into ev, so its lines still join the
 * request's (SPEC §7). A failed read leaves ev as it is: the update that follows meets the
 * failure itself. */
static void trace_from_item(struct completion_thread *t, struct events_processed *ev)
{
	struct appointment a;
	const struct appt_trace *tr;

	if (store_get(t->ddb, t->c->cfg->table_name, ev->appointment_id, &a, NULL) != RC_OK)
		return;
	tr = appt_trace_for(&a, APPT_MSG_CREATE);
	memcpy(ev->request_id, tr->request_id, sizeof(ev->request_id));
	memcpy(ev->traceparent, tr->traceparent, sizeof(ev->traceparent));
}

static enum consumer_verdict handle(void *tctx, const struct consumer_message *m,
				    struct errbuf *reason)
{
	struct completion_thread *t = tctx;
	const struct conf *cfg = t->c->cfg;
	struct events_processed ev;
	struct errbuf eb = {{0}};
	char now[TU_ISO_SIZE];
	enum store_outcome o = STORE_APPLIED;
	struct log_kv kv[1];
	struct log_fields lf = {.message_id = m->sqs->message_id, .duration_ms = -1};
	enum rc rc = events_parse_processed(m->sqs->body, m->sqs->body_len, &ev, &eb);

	if (rc != RC_OK) {
		eb_set(reason, RC_INVAL, "invalid event: %s", eb.msg);
		return rc == RC_NOMEM ? CONSUMER_RETRY : CONSUMER_POISON;
	}
	if (ev.request_id[0] == '\0')
		trace_from_item(t, &ev);
	lf.appointment_id = ev.appointment_id;
	log_fields_trace(&lf, kv, ev.request_id, ev.traceparent);
	lf.insured_id = ev.insured_id[0] != '\0' ? ev.insured_id : NULL;
	if (tu_format_ms(clk_wall_ms(), now) != RC_OK) {
		eb_set(reason, RC_FATAL, "clock out of range");
		return CONSUMER_RETRY;
	}
	rc = store_mark_completed(t->ddb, cfg->table_name, cfg->counters_table, ev.appointment_id,
				  ev.insured_id[0] != '\0' ? ev.insured_id : NULL, now, &o, &eb);
	if (rc == RC_NOTFOUND) {
		eb_set(reason, RC_INVAL, "appointment %s is not in %s", ev.appointment_id,
		       cfg->table_name);
		return CONSUMER_POISON;
	}
	if (rc == RC_INVAL) {
		/* the event's insuredId is not the item's (or DynamoDB refused the update as
		 * invalid): forged or malformed, and no retry mends it (SPEC §5) */
		eb_set(reason, RC_INVAL, "event does not match its appointment: %s", eb.msg);
		return CONSUMER_POISON;
	}
	if (rc != RC_OK) {
		eb_set(reason, rc, "DynamoDB: %s", eb.msg);
		lf.error = reason->msg;
		log_warn(t->c->lg, &lf, "completion not recorded; %s", consumer_retry_note(m));
		return CONSUMER_RETRY;
	}
	if (o == STORE_WRONG_STATE)
		log_warn(t->c->lg, &lf, "appointment is failed or cancelled; a processed event cannot "
			 "complete it");
	else
		log_info(t->c->lg, &lf, "appointment %s", o == STORE_ALREADY ? "already completed" : "completed");
	return CONSUMER_DONE;
}

/* The poison line names what the event says of its appointment (request id, appointment,
 * insured, traceparent: events_peek_processed reads them even from an event the handler
 * refused), so it can be tied to the POST that made it (SPEC §7); a body with none of them
 * is said to be no event. Then the Processing Error. */
static enum rc on_poison(void *tctx, const struct consumer_message *m, const char *reason,
			 struct errbuf *eb)
{
	struct completion_thread *t = tctx;
	struct events_processed ev;
	struct log_kv kv[1];
	struct log_fields lf = {.message_id = m->sqs->message_id, .error = reason, .duration_ms = -1};

	if (events_peek_processed(m->sqs->body, m->sqs->body_len, &ev)) {
		log_fields_trace(&lf, kv, ev.request_id, ev.traceparent);
		lf.appointment_id = ev.appointment_id[0] != '\0' ? ev.appointment_id : NULL;
		lf.insured_id = ev.insured_id[0] != '\0' ? ev.insured_id : NULL;
		log_error(t->c->lg, &lf, "unprocessable message on %s: reported and deleted",
			  m->queue);
	} else {
		log_error(t->c->lg, &lf, "unprocessable message on %s, not an event naming an "
			  "appointment: reported and deleted", m->queue);
	}
	return events_put_processing_error(t->evb, t->c->cfg->event_bus_name, reason, m->queue,
					   m->sqs->message_id, m->sqs->receive_count, m->sqs->body,
					   m->sqs->body_len, eb);
}

static enum rc setup(const struct qdaemon_env *env, void **app, struct consumer_opts *co,
		     struct qdaemon_queue *q, struct errbuf *eb)
{
	struct completion *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	c->cfg = env->cfg;
	c->aws = env->aws;
	c->lg = env->lg;
	c->metrics = env->metrics;
	*app = c;
	co->ud = c;
	co->thread_new = thread_new;
	co->thread_free = thread_free;
	co->handle = handle;
	co->on_poison = on_poison;
	/* 270 s at the default AWS timeouts (27 s a call) */
	co->hung_after_ms = (int)(WORST_AWS_CALLS * qdaemon_aws_call_max_ms(env->aws));
	snprintf(q->label, sizeof(q->label), "completion");
	q->url = env->cfg->completion_queue_url;
	q->name = env->cfg->completion_queue_name;
	return RC_OK;
}

static void teardown(void *app)
{
	free(app);
}

const struct qdaemon_app completion_app = {
	.service = "appointment-completion",
	.usage_extra = NULL,
	.setup = setup,
	.teardown = teardown,
};
