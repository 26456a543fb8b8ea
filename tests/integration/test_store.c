/* test_store.c — the appointments table on DynamoDB Local: conditional create, the
 * status machine's transitions and redeliveries, and listings across many pages. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/store.h"
#include "base/clock.h"
#include "app/tables.h"
#include "aws/ddb_attr.h"
#include "aws/dynamodb.h"
#include "base/buf.h"
#include "itest.h"

static struct ddb_client *ddb;
static char table[64];
static char counters[80];

static void setup(void)
{
	ddb = itest_ddb_table_new("store-test", tbl_appointments_spec, table, sizeof(table));
	{
		struct ddb_table_spec spec;
		struct errbuf eb = {{0}};

		snprintf(counters, sizeof(counters), "%s-counters", table);
		tbl_side_spec(counters, &spec);
		ck_assert_msg(ddb_create_table(ddb, &spec, &eb) == RC_OK, "%s", eb.msg);
		ck_assert_msg(ddb_wait_active(ddb, counters, 30000, NULL, &eb) == RC_OK, "%s",
			      eb.msg);
	}
}

static void teardown(void)
{
	struct errbuf eb = {{0}};

	ck_assert_msg(ddb_delete_table(ddb, counters, &eb) == RC_OK, "%s", eb.msg);
	itest_ddb_table_free(ddb, table);
}

static struct appointment make(const char *insured, const char *created, int64_t sched)
{
	struct appointment a;
	struct appt_request req;

	memset(&req, 0, sizeof(req));
	memcpy(req.insured_id, insured, 6);
	req.schedule_id = sched;
	memcpy(req.country, "PE", 3);
	memset(&a, 0, sizeof(a));
	{
		char id[APPT_ID_SIZE];

		appt_id_new(id);
		ck_assert_int_eq(appt_init_pending(&a, &req, id, clk_wall_ms()), RC_OK);
	}
	memcpy(a.created_at, created, APPT_TS_SIZE);
	memcpy(a.updated_at, created, APPT_TS_SIZE);
	return a;
}

START_TEST(test_put_get_and_conflict)
{
	struct appointment a = make("00123", "2026-11-25T10:00:00.000Z", 100);
	struct appointment b;
	struct errbuf eb = {{0}};
	bool existed = true;

	ck_assert_msg(store_put_pending(ddb, table, NULL, &a, NULL, NULL, &existed, &eb) == RC_OK, "%s", eb.msg);
	ck_assert(!existed);
	/* the same request again finds itself (see test_put_reply_lost_is_ours) */
	ck_assert_int_eq(store_put_pending(ddb, table, NULL, &a, NULL, NULL, &existed, &eb), RC_OK);
	ck_assert(existed);
	ck_assert_msg(store_get(ddb, table, a.appointment_id, &b, &eb) == RC_OK, "%s", eb.msg);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	ck_assert_int_eq(store_get(ddb, table, "00000000-0000-4000-8000-000000000000", &b, &eb),
			 RC_NOTFOUND);
	/* a missing table is no answer about the item: transient (issue 10) */
	ck_assert_int_eq(store_get(ddb, "no-such-table-xyz", a.appointment_id, &b, &eb), RC_RETRY);
}
END_TEST

/* A PutItem whose reply is lost after DynamoDB applied it: the AWS core retries, the retry
 * meets attribute_not_exists, and the item it finds is our own: success, not a conflict
 * (issue 10: each lost reply used to become a 500 and, on the client's retry, a second
 * appointment). Another appointment under the id stays a conflict. */
START_TEST(test_put_reply_lost_is_ours)
{
	/* _i = 1: with counters, the create is a TransactWriteItems */
	const char *cnt = _i ? counters : NULL;
	struct appointment a = make(_i ? "00126" : "00125", "2026-11-25T10:00:00.000Z", 103);
	struct store_counts sc;
	char rule[128];
	struct appointment other = a;
	struct appointment stored;
	struct itest_env te = {{"AWS_ENDPOINT_URL_DYNAMODB"}, {NULL}};
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct itest_proxy p;
	struct ddb_client *via;
	struct buf b;
	bool existed = false;

	itest_proxy_start(&p, itest_need_env("AWS_ENDPOINT_URL_DYNAMODB"));
	te.url[0] = p.url;
	ck_assert_msg(itest_config_env(&te, &cfg, &eb), "%s", eb.msg);
	via = ddb_client_new(&cfg, &eb);
	ck_assert_ptr_nonnull(via);
	buf_init(&b, 4096);
	snprintf(rule, sizeof(rule), "[{\"op\": \"%s\", \"fault\": \"dropreply\", \"count\": 1}]",
		 _i ? "TransactWriteItems" : "PutItem");
	itest_proxy_control(&p, "/__faultproxy/rules", rule, &b);
	CK_RC(RC_OK, store_put_pending(via, table, cnt, &a, NULL, &stored, &existed, &eb));
	ck_assert(existed);
	ck_assert_int_eq(ddb_last_error(via)->attempts, 2);
	ck_assert_int_eq(itest_proxy_stat(&p, "forwarded"), 2);
	ck_assert_mem_eq(&stored, &a, sizeof(a));
	/* a fresh create says so */
	other = make(a.insured_id, "2026-11-25T10:00:01.000Z", 103);
	CK_RC(RC_OK, store_put_pending(via, table, cnt, &other, NULL, &stored, &existed, &eb));
	ck_assert(!existed);
	ck_assert_mem_eq(&stored, &other, sizeof(other));
	/* the same id holding another request is somebody else's appointment */
	memcpy(other.appointment_id, a.appointment_id, sizeof(a.appointment_id));
	other.schedule_id = 104;
	CK_RC(RC_CONFLICT, store_put_pending(via, table, cnt, &other, NULL, &stored, &existed, &eb));
	if (cnt != NULL) {
		/* counted once each, the retried create included */
		CK_RC(RC_OK, store_counters(ddb, cnt, a.insured_id, &sc, &eb));
		ck_assert_int_eq(sc.all, 2);
		ck_assert_int_eq(sc.by_status[APPT_PENDING], 2);
	}
	buf_cleanup(&b);
	ddb_client_free(via);
	itest_proxy_stop(&p);
}
END_TEST

START_TEST(test_status_machine)
{
	/* _i = 1: with counters; the worker names the insured, completion lets it be read */
	const char *cnt = _i ? counters : NULL;
	const char *ins = _i ? "00127" : "00124";
	struct appointment a = make(ins, "2026-11-25T10:00:00.000Z", 101);
	struct appointment f = make(ins, "2026-11-25T10:00:01.000Z", 102);
	struct appointment p = make(ins, "2026-11-25T10:00:02.000Z", 103);
	struct store_counts sc;
	struct appointment got;
	struct appt_schedule s = {101, 1, 2, 3, "2026-12-01T09:00:00.000Z"};
	enum store_outcome o;
	struct errbuf eb = {{0}};
	const char *now = "2026-11-25T10:00:05.000Z";
	const char *missing = "00000000-0000-4000-8000-000000000001";

	ck_assert_int_eq(store_put_pending(ddb, table, cnt, &a, NULL, NULL, NULL, &eb), RC_OK);
	ck_assert_int_eq(store_put_pending(ddb, table, cnt, &f, NULL, NULL, NULL, &eb), RC_OK);
	/* completion before processing is allowed (SPEC: pending or processed) — not here */
	ck_assert_msg(store_mark_processed(ddb, table, cnt, a.appointment_id, cnt ? ins : NULL, &s, now, &o, &eb) == RC_OK,
		      "%s", eb.msg);
	ck_assert_int_eq(o, STORE_APPLIED);
	ck_assert_int_eq(store_mark_processed(ddb, table, cnt, a.appointment_id, cnt ? ins : NULL, &s, now, &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_ALREADY);
	ck_assert_int_eq(store_mark_failed(ddb, table, cnt, a.appointment_id, NULL, "schedule_unavailable", now,
					   &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	ck_assert_int_eq(store_get(ddb, table, a.appointment_id, &got, &eb), RC_OK);
	ck_assert_int_eq(got.status, APPT_PROCESSED);
	ck_assert(got.has_schedule);
	ck_assert_int_eq(got.schedule.medic_id, 3);
	ck_assert_str_eq(got.processed_at, now);
	ck_assert_int_eq(store_mark_completed(ddb, table, cnt, a.appointment_id, NULL, now, &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_APPLIED);
	ck_assert_int_eq(store_mark_completed(ddb, table, cnt, a.appointment_id, NULL, now, &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_ALREADY);
	ck_assert_int_eq(store_mark_processed(ddb, table, cnt, a.appointment_id, cnt ? ins : NULL, &s, now, &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_ALREADY); /* nothing goes backwards */
	ck_assert_int_eq(store_get(ddb, table, a.appointment_id, &got, &eb), RC_OK);
	ck_assert_int_eq(got.status, APPT_COMPLETED);
	ck_assert_str_eq(got.completed_at, now);

	ck_assert_int_eq(store_mark_failed(ddb, table, cnt, f.appointment_id, cnt ? ins : NULL, "schedule_unavailable", now,
					   &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_APPLIED);
	ck_assert_int_eq(store_mark_failed(ddb, table, cnt, f.appointment_id, cnt ? ins : NULL, "schedule_unavailable", now,
					   &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_ALREADY);
	ck_assert_int_eq(store_mark_completed(ddb, table, cnt, f.appointment_id, cnt ? ins : NULL, now, &o, &eb), RC_OK);
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	ck_assert_int_eq(store_get(ddb, table, f.appointment_id, &got, &eb), RC_OK);
	ck_assert_int_eq(got.status, APPT_FAILED);
	ck_assert_str_eq(got.failure_reason, "schedule_unavailable");

	ck_assert_int_eq(store_mark_completed(ddb, table, cnt, missing, cnt ? ins : NULL, now, &o, &eb), RC_NOTFOUND);
	ck_assert_int_eq(store_mark_processed(ddb, table, cnt, missing, cnt ? ins : NULL, &s, now, &o, &eb), RC_NOTFOUND);
	/* a transition never creates an item */
	ck_assert_int_eq(store_get(ddb, table, missing, &got, &eb), RC_NOTFOUND);
	/* pending straight to completed: completion tries processed first, then follows */
	ck_assert_int_eq(store_put_pending(ddb, table, cnt, &p, NULL, NULL, NULL, &eb), RC_OK);
	CK_RC(RC_OK, store_mark_completed(ddb, table, cnt, p.appointment_id, cnt ? ins : NULL, now,
					  &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	if (cnt == NULL)
		return;
	/* a message naming another insured is refused, and changes nothing */
	ck_assert_int_eq(store_mark_completed(ddb, table, cnt, f.appointment_id, "00999", now, &o,
					      &eb), RC_INVAL);
	CK_RC(RC_OK, store_counters(ddb, cnt, ins, &sc, &eb));
	ck_assert_int_eq(sc.all, 3);
	ck_assert_int_eq(sc.by_status[APPT_PENDING], 0);
	ck_assert_int_eq(sc.by_status[APPT_PROCESSED], 0);
	ck_assert_int_eq(sc.by_status[APPT_COMPLETED], 2);
	ck_assert_int_eq(sc.by_status[APPT_FAILED], 1);
	ck_assert_int_eq(store_counters(ddb, cnt, "00999", &sc, &eb), RC_NOTFOUND);
}
END_TEST

/* Cancels id with read, a read that went stale (the item moved on since), as the API does:
 * applied, and read left as the item now stored (cancelling, updatedAt later) in *got. */
static void cancel_stale(const char *cnt, const char *id, const char *who, const char *later,
			 struct appointment *read, struct appointment *got)
{
	enum store_outcome o;
	struct errbuf eb = {{0}};

	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, id, who, later, NULL, read, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_get(ddb, table, id, got, &eb));
	ck_assert_int_eq(read->status, APPT_CANCELLING);
	ck_assert_int_eq(got->status, APPT_CANCELLING);
	ck_assert_str_eq(read->updated_at, later);
	ck_assert_str_eq(read->updated_at, got->updated_at);
	ck_assert_str_eq(read->created_at, got->created_at);
}

/* Cancellation (SPEC §4): pending|processed|completed -> cancelling (API) -> cancelled
 * (worker); failed is not cancellable; a repeat is STORE_ALREADY; no other transition
 * moves a cancelling or cancelled item (a late processed / completion / failed finds it
 * WRONG_STATE); with counters, each step moves the insured's numbers with the item. */
START_TEST(test_cancel_machine)
{
	const char *cnt = _i ? counters : NULL;
	const char *ins = _i ? "00131" : "00130";
	struct appointment p = make(ins, "2026-11-25T11:00:00.000Z", 301);
	struct appointment d = make(ins, "2026-11-25T11:00:01.000Z", 302);
	struct appointment c = make(ins, "2026-11-25T11:00:02.000Z", 303);
	struct appointment f = make(ins, "2026-11-25T11:00:03.000Z", 304);
	struct appt_schedule s = {302, 1, 2, 3, "2026-12-01T09:00:00.000Z"};
	const char *now = "2026-11-25T11:00:05.000Z";
	const char *later = "2026-11-25T11:00:06.000Z";
	const char *missing = "00000000-0000-4000-8000-000000000002";
	const char *who = cnt ? ins : NULL;
	struct appointment got;
	struct store_counts sc;
	enum store_outcome o;
	struct errbuf eb = {{0}};

	CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &p, NULL, NULL, NULL, &eb));
	CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &d, NULL, NULL, NULL, &eb));
	CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &c, NULL, NULL, NULL, &eb));
	CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &f, NULL, NULL, NULL, &eb));
	CK_RC(RC_OK, store_mark_processed(ddb, table, cnt, d.appointment_id, who, &s, now, &o, &eb));
	CK_RC(RC_OK, store_mark_processed(ddb, table, cnt, c.appointment_id, who, &s, now, &o, &eb));
	CK_RC(RC_OK, store_mark_completed(ddb, table, cnt, c.appointment_id, who, now, &o, &eb));
	CK_RC(RC_OK, store_mark_failed(ddb, table, cnt, f.appointment_id, who, "schedule_unavailable",
				       now, &o, &eb));

	/* a worker's cancelled before any cancel was accepted moves nothing */
	CK_RC(RC_OK, store_mark_cancelled(ddb, table, cnt, p.appointment_id, who, later, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	/* each live status can be cancelled (the API names the insured; NULL reads it) */
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, p.appointment_id, who, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, d.appointment_id, NULL, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, c.appointment_id, who, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, p.appointment_id, who, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_ALREADY);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, f.appointment_id, who, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	CK_RC(RC_NOTFOUND, store_mark_cancelling(ddb, table, cnt, missing, who, later, NULL, NULL, &o, &eb));
	CK_RC(RC_OK, store_get(ddb, table, c.appointment_id, &got, &eb));
	ck_assert_int_eq(got.status, APPT_CANCELLING);
	ck_assert_str_eq(got.updated_at, later);
	ck_assert_str_eq(got.completed_at, now); /* history stays */
	ck_assert_str_eq(got.cancelled_at, "");

	/* nothing else moves a cancelling item: a late booking, failure or completion */
	CK_RC(RC_OK, store_mark_processed(ddb, table, cnt, p.appointment_id, who, &s, later, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	CK_RC(RC_OK, store_mark_failed(ddb, table, cnt, p.appointment_id, who, "schedule_unavailable",
				       later, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	CK_RC(RC_OK, store_mark_completed(ddb, table, cnt, d.appointment_id, who, later, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	CK_RC(RC_OK, store_get(ddb, table, d.appointment_id, &got, &eb));
	ck_assert_int_eq(got.status, APPT_CANCELLING);

	/* the worker closes them; a redelivery finds them closed */
	CK_RC(RC_OK, store_mark_cancelled(ddb, table, cnt, p.appointment_id, who, later, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_mark_cancelled(ddb, table, cnt, p.appointment_id, who, later, &o, &eb));
	ck_assert_int_eq(o, STORE_ALREADY);
	CK_RC(RC_OK, store_mark_cancelled(ddb, table, cnt, d.appointment_id, NULL, later, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, d.appointment_id, who, later, NULL, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_ALREADY); /* nothing goes backwards */
	CK_RC(RC_OK, store_mark_completed(ddb, table, cnt, p.appointment_id, who, later, &o, &eb));
	ck_assert_int_eq(o, STORE_WRONG_STATE);
	CK_RC(RC_OK, store_get(ddb, table, p.appointment_id, &got, &eb));
	ck_assert_int_eq(got.status, APPT_CANCELLED);
	ck_assert_str_eq(got.cancelled_at, later);
	CK_RC(RC_NOTFOUND, store_mark_cancelled(ddb, table, cnt, missing, who, later, &o, &eb));

	/* a cancel whose read went stale (the worker booked in between) gives back the item as
	 * written, not as read */
	{
		struct appointment r = make(ins, "2026-11-25T11:00:04.000Z", 305);
		struct appointment read;

		CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &r, NULL, NULL, NULL, &eb));
		CK_RC(RC_OK, store_get(ddb, table, r.appointment_id, &read, &eb));
		CK_RC(RC_OK, store_mark_processed(ddb, table, cnt, r.appointment_id, who, &s, now, &o,
						  &eb));
		cancel_stale(cnt, r.appointment_id, who, later, &read, &got);
		ck_assert_str_eq(read.processed_at, now);
		ck_assert(read.has_schedule);
		ck_assert_int_eq(read.schedule.medic_id, 3);
		ck_assert_str_eq(read.schedule.date, s.date);
		ck_assert_str_eq(read.processed_at, got.processed_at);
	}
	/* the same when the read was processed and the completion came in between: the first
	 * write, from completed, applies at once (before, the answer kept the read's null
	 * completedAt) */
	{
		struct appointment r = make(ins, "2026-11-25T11:00:04.500Z", 306);
		struct appointment read;

		CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &r, NULL, NULL, NULL, &eb));
		CK_RC(RC_OK, store_mark_processed(ddb, table, cnt, r.appointment_id, who, &s, now, &o,
						  &eb));
		CK_RC(RC_OK, store_get(ddb, table, r.appointment_id, &read, &eb));
		CK_RC(RC_OK, store_mark_completed(ddb, table, cnt, r.appointment_id, who, now, &o,
						  &eb));
		cancel_stale(cnt, r.appointment_id, who, later, &read, &got);
		ck_assert_str_eq(read.completed_at, now);
		ck_assert_str_eq(read.completed_at, got.completed_at);
	}
	if (cnt == NULL)
		return;
	/* another insured's appointment is not this insured's to cancel */
	CK_RC(RC_INVAL, store_mark_cancelling(ddb, table, cnt, f.appointment_id, "00999", later, NULL, NULL, &o,
					      &eb));
	CK_RC(RC_OK, store_counters(ddb, cnt, ins, &sc, &eb));
	ck_assert_int_eq(sc.all, 6);
	ck_assert_int_eq(sc.by_status[APPT_PENDING], 0);
	ck_assert_int_eq(sc.by_status[APPT_PROCESSED], 0);
	ck_assert_int_eq(sc.by_status[APPT_COMPLETED], 0);
	ck_assert_int_eq(sc.by_status[APPT_FAILED], 1);
	ck_assert_int_eq(sc.by_status[APPT_CANCELLING], 3);
	ck_assert_int_eq(sc.by_status[APPT_CANCELLED], 2);
}
END_TEST

/* The request ids an item keeps (SPEC §7): the POST's from the create, the DELETE's from
 * the cancel that applied (a repeat writes nothing), with counters or without. */
START_TEST(test_trace_kept)
{
	const char *cnt = _i ? counters : NULL;
	const char *ins = _i ? "00141" : "00140";
	const char *tp1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	const char *tp2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	const char *later = "2026-11-25T12:00:06.000Z";
	struct appointment a = make(ins, "2026-11-25T12:00:00.000Z", 401);
	struct appointment read;
	struct appointment got;
	struct appt_trace by;
	enum store_outcome o;
	struct errbuf eb = {{0}};

	appt_trace_set(&a.trace, "post-9", tp1);
	CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &a, NULL, NULL, NULL, &eb));
	CK_RC(RC_OK, store_get(ddb, table, a.appointment_id, &read, &eb));
	ck_assert_mem_eq(&read, &a, sizeof(a));
	appt_trace_set(&by, "delete-9", tp2);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, a.appointment_id, cnt ? ins : NULL,
					   later, &by, &read, &o, &eb));
	ck_assert_int_eq(o, STORE_APPLIED);
	ck_assert_str_eq(read.cancel_trace.request_id, "delete-9");
	CK_RC(RC_OK, store_get(ddb, table, a.appointment_id, &got, &eb));
	ck_assert_mem_eq(&got, &read, sizeof(got));
	ck_assert_str_eq(got.trace.request_id, "post-9");
	ck_assert_str_eq(got.trace.traceparent, tp1);
	ck_assert_str_eq(got.cancel_trace.request_id, "delete-9");
	ck_assert_str_eq(got.cancel_trace.traceparent, tp2);
	/* a repeated DELETE changes nothing: the cancel that applied keeps its ids */
	appt_trace_set(&by, "delete-again", NULL);
	CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, a.appointment_id, cnt ? ins : NULL,
					   later, &by, NULL, &o, &eb));
	ck_assert_int_eq(o, STORE_ALREADY);
	CK_RC(RC_OK, store_get(ddb, table, a.appointment_id, &got, &eb));
	ck_assert_str_eq(got.cancel_trace.request_id, "delete-9");
	/* a cancel with a request id and no traceparent stores only the id */
	{
		struct appointment b = make(ins, "2026-11-25T12:00:01.000Z", 402);

		CK_RC(RC_OK, store_put_pending(ddb, table, cnt, &b, NULL, NULL, NULL, &eb));
		appt_trace_set(&by, "delete-10", NULL);
		CK_RC(RC_OK, store_mark_cancelling(ddb, table, cnt, b.appointment_id,
						   cnt ? ins : NULL, later, &by, NULL, &o, &eb));
		CK_RC(RC_OK, store_get(ddb, table, b.appointment_id, &got, &eb));
		ck_assert_str_eq(got.trace.request_id, "");
		ck_assert_str_eq(got.cancel_trace.request_id, "delete-10");
		ck_assert_str_eq(got.cancel_trace.traceparent, "");
	}
}
END_TEST

START_TEST(test_listing_pages_filters_ties)
{
	enum { N = 45 };
	struct appointment all[N];
	struct store_page pg = {0};
	struct store_page whole = {0};
	struct store_list_query q = {.insured_id = "00777", .limit = 20, .offset = 0, .page_size = 4};
	struct errbuf eb = {{0}};
	enum store_outcome o;
	struct appt_schedule s = {1, 1, 1, 1, "2026-12-01T09:00:00.000Z"};
	size_t seen = 0;

	/* 45 items; items 10..14 share one createdAt to exercise the tie-break */
	for (int i = 0; i < N; i++) {
		char ts[APPT_TS_SIZE];
		int sec = (i >= 10 && i <= 14) ? 10 : i;

		snprintf(ts, sizeof(ts), "2026-11-%02dT08:00:%02d.000Z", 1 + sec / 60, sec % 60);
		all[i] = make("00777", ts, 1000 + i);
		ck_assert_int_eq(store_put_pending(ddb, table, NULL, &all[i], NULL, NULL, NULL, &eb), RC_OK);
	}
	for (int i = 0; i < N; i += 3)
		ck_assert_int_eq(store_mark_processed(ddb, table, NULL, all[i].appointment_id, NULL, &s,
						      "2026-11-30T00:00:00.000Z", &o, &eb), RC_OK);
	/* another insured's item must never show */
	{
		struct appointment other = make("00778", "2026-11-01T08:00:00.000Z", 5);

		ck_assert_int_eq(store_put_pending(ddb, table, NULL, &other, NULL, NULL, NULL, &eb), RC_OK);
	}
	/* walk every page with limit 7 and check order and completeness; the pages put
	 * together are the one page of 100 (the tie of five straddles a page boundary) */
	q.limit = 100;
	ck_assert_msg(store_list(ddb, table, NULL, &q, &whole, &eb) == RC_OK, "%s", eb.msg);
	ck_assert_uint_eq(whole.n, N);
	q.limit = 7;
	for (q.offset = 0; q.offset < N + 7; q.offset += 7) {
		ck_assert_msg(store_list(ddb, table, NULL, &q, &pg, &eb) == RC_OK, "%s", eb.msg);
		ck_assert_uint_eq(pg.total, N);
		ck_assert_uint_eq(pg.total_available, N);
		for (size_t i = 0; i < pg.n; i++) {
			ck_assert_str_eq(pg.items[i].insured_id, "00777");
			ck_assert_str_eq(pg.items[i].appointment_id,
					 whole.items[seen + i].appointment_id);
			if (i > 0) {
				int c = strcmp(pg.items[i - 1].created_at, pg.items[i].created_at);

				ck_assert(c > 0 || (c == 0 && strcmp(pg.items[i - 1].appointment_id,
								     pg.items[i].appointment_id) > 0));
			}
		}
		seen += pg.n;
		store_page_cleanup(&pg);
	}
	ck_assert_uint_eq(seen, N);
	store_page_cleanup(&whole);
	/* past the end, however far: an empty page with the totals, not an error */
	q.offset = STORE_OFFSET_MAX;
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_OK);
	ck_assert_uint_eq(pg.total, N);
	ck_assert_uint_eq(pg.n, 0);
	ck_assert_ptr_null(pg.items);
	store_page_cleanup(&pg);
	q.offset = STORE_OFFSET_MAX + 1;
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_INVAL);
	q.offset = 0;
	q.limit = STORE_PAGE_MAX + 1;
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_INVAL);
	/* status filter */
	q.offset = 0;
	q.limit = 100;
	q.status = "processed";
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_OK);
	ck_assert_uint_eq(pg.total, 15);
	ck_assert_uint_eq(pg.n, 15);
	ck_assert_uint_eq(pg.total_available, N);
	for (size_t i = 0; i < pg.n; i++)
		ck_assert_int_eq(pg.items[i].status, APPT_PROCESSED);
	store_page_cleanup(&pg);
	/* date range (inclusive) */
	q.status = NULL;
	q.start_date = "2026-11-01T08:00:20.000Z";
	q.end_date = "2026-11-01T08:00:29.000Z";
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_OK);
	ck_assert_uint_eq(pg.total, 10);
	ck_assert_str_eq(pg.items[0].created_at, "2026-11-01T08:00:29.000Z");
	ck_assert_str_eq(pg.items[9].created_at, "2026-11-01T08:00:20.000Z");
	store_page_cleanup(&pg);
	/* unknown insured: empty, not an error */
	q.insured_id = "99999";
	q.start_date = q.end_date = NULL;
	ck_assert_int_eq(store_list(ddb, table, NULL, &q, &pg, &eb), RC_OK);
	ck_assert_uint_eq(pg.total, 0);
	ck_assert_uint_eq(pg.n, 0);
	store_page_cleanup(&pg);
}
END_TEST

/* Cursors walk the list at any depth with the order of offset pages; the totals come
 * from the counters (set apart from the truth here, to see which source answered) unless
 * the walk itself reached the end, or a date filter asks for a range. */
START_TEST(test_listing_cursor_counters)
{
	enum { N = 30 };
	struct appointment all[N];
	struct store_page pg = {0};
	struct store_page whole = {0};
	struct store_list_query q = {.insured_id = "00888", .limit = 100, .page_size = 3};
	struct errbuf eb = {{0}};
	char last_created[APPT_TS_SIZE], last_id[APPT_ID_SIZE];
	size_t seen = 0;

	for (int i = 0; i < N; i++) {
		char ts[APPT_TS_SIZE];
		int sec = (i >= 6 && i <= 9) ? 6 : i; /* a run of four ties */

		snprintf(ts, sizeof(ts), "2026-10-01T08:00:%02d.000Z", sec);
		all[i] = make("00888", ts, 2000 + i);
		CK_RC(RC_OK, store_put_pending(ddb, table, counters, &all[i], NULL, NULL, NULL, &eb));
	}
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &whole, &eb));
	ck_assert_uint_eq(whole.n, N);
	ck_assert_uint_eq(whole.total, N);
	ck_assert(!whole.more);
	for (size_t lim = 1; lim <= 7; lim += 3) {
		q.limit = (int)lim;
		q.after_created = q.after_id = NULL;
		q.after_pos = 0;
		seen = 0;
		for (;;) {
			CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
			ck_assert_uint_eq(pg.total, N);
			for (size_t i = 0; i < pg.n; i++)
				ck_assert_str_eq(pg.items[i].appointment_id,
						 whole.items[seen + i].appointment_id);
			seen += pg.n;
			ck_assert_int_eq(pg.more, seen < N);
			if (!pg.more) {
				store_page_cleanup(&pg);
				break;
			}
			memcpy(last_created, pg.items[pg.n - 1].created_at, sizeof(last_created));
			memcpy(last_id, pg.items[pg.n - 1].appointment_id, sizeof(last_id));
			q.after_created = last_created;
			q.after_id = last_id;
			q.after_pos = (int64_t)seen;
			store_page_cleanup(&pg);
		}
		ck_assert_uint_eq(seen, N);
	}
	/* the counters answer when the walk stops early: make them say something else */
	{
		struct ddb_update_req u = {.table = counters, .update = "ADD #a :n"};

		u.key = json_object_new_object();
		u.values = json_object_new_object();
		CK_RC(RC_OK, ddb_put_s(u.key, "key", "00888"));
		CK_RC(RC_OK, ddb_put_int64(u.values, ":n", 1000));
		CK_RC(RC_OK, ddb_name(&u.names, "#a", "all"));
		CK_RC(RC_OK, ddb_update_item(ddb, &u, NULL, NULL, &eb));
		json_object_put(u.key);
		json_object_put(u.values);
		json_object_put(u.names);
	}
	q = (struct store_list_query){.insured_id = "00888", .limit = 5, .page_size = 0};
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
	ck_assert_uint_eq(pg.total, N + 1000);
	store_page_cleanup(&pg);
	q.limit = 100; /* the walk reaches the end: it knows the total itself */
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
	ck_assert_uint_eq(pg.total, N);
	store_page_cleanup(&pg);
	q.limit = 5; /* pending: the counters again; a date range: counted */
	q.status = "pending";
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
	ck_assert_uint_eq(pg.total, N);
	ck_assert_uint_eq(pg.total_available, N + 1000);
	store_page_cleanup(&pg);
	q.status = NULL;
	q.start_date = "2026-10-01T08:00:10.000Z";
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
	ck_assert_uint_eq(pg.total, N - 10);
	ck_assert_uint_eq(pg.n, 5);
	ck_assert_uint_eq(pg.total_available, N + 1000);
	store_page_cleanup(&pg);
	/* a cursor older than startDate: nothing left */
	q.after_created = "2026-10-01T08:00:05.000Z";
	q.after_id = all[5].appointment_id;
	q.after_pos = 25;
	CK_RC(RC_OK, store_list(ddb, table, counters, &q, &pg, &eb));
	ck_assert_uint_eq(pg.n, 0);
	ck_assert(!pg.more);
	store_page_cleanup(&pg);
	store_page_cleanup(&whole);
}
END_TEST

static bool count_cb(void *ud, const struct appointment *a)
{
	size_t *n = ud;

	ck_assert_int_eq(a->status, APPT_PENDING);
	(*n)++;
	return *n < 3;
}

START_TEST(test_scan_status)
{
	struct errbuf eb = {{0}};
	size_t n = 0;

	for (int i = 0; i < 5; i++) {
		struct appointment a = make("00555", "2026-11-20T08:00:00.000Z", 200 + i);

		ck_assert_int_eq(store_put_pending(ddb, table, NULL, &a, NULL, NULL, NULL, &eb), RC_OK);
	}
	ck_assert_int_eq(store_scan_status(ddb, table, APPT_PENDING, "2026-11-21T00:00:00.000Z", 100,
					   count_cb, &n, &eb), RC_OK);
	ck_assert_uint_eq(n, 3); /* the callback stopped it */
	n = 0;
	ck_assert_int_eq(store_scan_status(ddb, table, APPT_PENDING, "2026-10-01T00:00:00.000Z", 100,
					   count_cb, &n, &eb), RC_OK);
	ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get_and_conflict);
	tcase_add_loop_test(tc, test_put_reply_lost_is_ours, 0, 2);
	tcase_add_loop_test(tc, test_status_machine, 0, 2);
	tcase_add_loop_test(tc, test_cancel_machine, 0, 2);
	tcase_add_loop_test(tc, test_trace_kept, 0, 2);
	tcase_add_test(tc, test_listing_cursor_counters);
	tcase_add_test(tc, test_listing_pages_filters_ties);
	tcase_add_test(tc, test_scan_status);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
