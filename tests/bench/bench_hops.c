/* bench_hops.c — the backend hops of one appointment, timed one by one (issue 13: the
 * denominator of scripts/bench's end-to-end row). ROUNDS sequential rounds; each makes, with
 * our own clients and one connection per service, the calls the pipeline makes for one
 * appointment, in its order, and times each:
 *   check       the API's PostgreSQL schedule check (BENCH_SCHEDULE + round: a free slot each)
 *   create      the API's create: TransactWriteItems of the pending item and its counters
 *   publish     the API's Publish of AppointmentCreated to the country topic
 *   sns_sqs     from the Publish's answer until a ReceiveMessage (long poll) on the country
 *               queue returns that message: SNS -> SQS delivery plus one receive
 *   read        the worker's consistent GetItem of the item
 *   book        the worker's PostgreSQL booking (one transaction)
 *   processed   the worker's status change (TransactWriteItems with the counters)
 *   put_events  the worker's PutEvents of "Appointment Processed"
 *   evb_sqs     from the PutEvents answer until a ReceiveMessage (long poll) on the
 *               completion queue returns that event: the rule's delivery plus one receive
 *   completed   the completion daemon's status change (TransactWriteItems)
 *   ack_country, ack_completion: the two DeleteMessage calls (off the critical path: the
 *               daemons delete after the next step has started)
 * No daemon may consume those queues meanwhile. Environment: the stack's (RDS_*, AWS_*),
 * BENCH_TABLE, BENCH_COUNTERS, BENCH_TOPIC_ARN, BENCH_QUEUE_URL (country queue), BENCH_BUS,
 * BENCH_COMPLETION_URL and BENCH_COMPLETION_SQS (the endpoint serving it: moto on the split
 * stack), BENCH_DB (the country's database), BENCH_SCHEDULE (first free slot).
 * Prints one JSON line: {"rounds", "ok", "errors", "p50_ms": {hop: ms, ...}}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app/events.h"
#include "app/publish.h"
#include "app/store.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "base/clock.h"
#include "domain/timeutil.h"
#include "pg/db.h"
#include "pg/db_booking.h"

#include "bench_env.h"

#define ROUNDS_MAX 10000
#define RECEIVE_BUDGET_S 20.0

enum hop { H_CHECK, H_CREATE, H_PUBLISH, H_SNS_SQS, H_READ, H_BOOK, H_PROCESSED, H_PUT_EVENTS,
	   H_EVB_SQS, H_COMPLETED, H_ACK_COUNTRY, H_ACK_COMPLETION, H_COUNT };
static const char *const hop_name[H_COUNT] = {
	"check", "create", "publish", "sns_sqs", "read", "book", "processed", "put_events",
	"evb_sqs", "completed", "ack_country", "ack_completion"};

struct env {
	const char *table, *counters, *topic, *queue, *bus, *completion_url;
	int64_t schedule;
};

struct clients {
	struct db_conn *db;
	struct ddb_client *ddb;
	struct sns_client *sns;
	struct sqs_client *sqs;  /* the country queue's endpoint */
	struct sqs_client *csqs; /* the completion queue's */
	struct evb_client *evb;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Receives from url until a message whose body holds id comes (other messages are
 * deleted: left over from a failed round); its receipt handle is copied into *handle. */
static enum rc receive_one(struct sqs_client *sqs, const char *url, const char *id,
			   char **handle, struct errbuf *eb)
{
	struct sqs_receive_opts ro = {SQS_BATCH_MAX, 20, -1};
	double end = now_s() + RECEIVE_BUDGET_S;

	*handle = NULL;
	while (*handle == NULL && now_s() < end) {
		struct sqs_messages ms = {0};

		if (sqs_receive(sqs, url, &ro, &ms, NULL) != RC_OK)
			return eb_set(eb, RC_IO, "ReceiveMessage on %s failed", url);
		for (size_t i = 0; i < ms.n; i++) {
			if (*handle == NULL && strstr(ms.v[i].body, id) != NULL)
				*handle = strdup(ms.v[i].receipt_handle);
			else if (sqs_delete_message(sqs, url, ms.v[i].receipt_handle, NULL) != RC_OK)
				fprintf(stderr, "bench_hops: deleting a stray message failed\n");
		}
		sqs_messages_cleanup(&ms);
	}
	return *handle != NULL ? RC_OK : eb_set(eb, RC_TIMEOUT, "message of %s not received", id);
}

#define TIMED(h, call)                                                                     \
	do {                                                                               \
		double t0_ = now_s();                                                      \
		rc = (call);                                                               \
		t[h] = (now_s() - t0_) * 1000;                                             \
		if (rc != RC_OK)                                                           \
			goto out;                                                          \
	} while (0)

/* One appointment's hops; t[hop] in ms. */
static enum rc one_round(const struct env *e, struct clients *c, int64_t schedule, double *t,
			 struct errbuf *eb)
{
	struct appt_request req = {.schedule_id = schedule};
	struct appointment a;
	struct db_booking_result res = {0};
	enum db_check_status st = DB_CHECK_NONE;
	enum store_outcome o = STORE_APPLIED;
	char id[APPT_ID_SIZE], now[TU_ISO_SIZE];
	char *h_country = NULL, *h_completion = NULL;
	double t0;
	enum rc rc;

	snprintf(req.insured_id, sizeof(req.insured_id), "%05u",
		 (unsigned)((uint64_t)schedule % 100000u));
	memcpy(req.country, "PE", 3);
	appt_id_new(id);
	TIMED(H_CHECK, db_check_schedule(c->db, schedule, "PE", 2000, &st, NULL, eb));
	if (st != DB_CHECK_AVAILABLE) {
		rc = eb_set(eb, RC_CONFLICT, "schedule %lld is not free", (long long)schedule);
		goto out;
	}
	rc = appt_init_pending(&a, &req, id, clk_wall_ms());
	if (rc != RC_OK)
		goto out;
	TIMED(H_CREATE, store_put_pending(c->ddb, e->table, e->counters, &a, NULL, NULL, NULL, eb));
	TIMED(H_PUBLISH, publish_appointment(c->sns, e->topic, &a, NULL, NULL, clk_wall_ms(), NULL,
					     eb));
	TIMED(H_SNS_SQS, receive_one(c->sqs, e->queue, id, &h_country, eb));
	TIMED(H_READ, store_get(c->ddb, e->table, id, &a, eb));
	TIMED(H_BOOK, db_book_appointment(c->db, id, a.insured_id, schedule, "PE", a.created_at,
					  &res, eb));
	if (res.outcome != DB_BOOK_BOOKED) {
		rc = eb_set(eb, RC_CONFLICT, "slot %lld not booked", (long long)schedule);
		goto out;
	}
	a.status = APPT_PROCESSED;
	a.has_schedule = true;
	a.schedule = (struct appt_schedule){.schedule_id = res.schedule.schedule_id,
					    .center_id = res.schedule.center_id,
					    .specialty_id = res.schedule.specialty_id,
					    .medic_id = res.schedule.medic_id};
	snprintf(a.schedule.date, sizeof(a.schedule.date), "%s", res.schedule.available_at);
	rc = tu_format_ms(clk_wall_ms(), a.processed_at);
	if (rc != RC_OK)
		goto out;
	TIMED(H_PROCESSED, store_mark_processed(c->ddb, e->table, e->counters, id, a.insured_id,
						&a.schedule, a.processed_at, &o, eb));
	TIMED(H_PUT_EVENTS, events_put_outcome(c->evb, NULL, e->bus, &a, NULL, NULL, eb));
	t0 = now_s();
	rc = receive_one(c->csqs, e->completion_url, id, &h_completion, eb);
	t[H_EVB_SQS] = (now_s() - t0) * 1000;
	if (rc != RC_OK)
		goto out;
	rc = tu_format_ms(clk_wall_ms(), now);
	if (rc != RC_OK)
		goto out;
	TIMED(H_COMPLETED, store_mark_completed(c->ddb, e->table, e->counters, id, a.insured_id, now,
						&o, eb));
	TIMED(H_ACK_COUNTRY, sqs_delete_message(c->sqs, e->queue, h_country, NULL));
	TIMED(H_ACK_COMPLETION, sqs_delete_message(c->csqs, e->completion_url, h_completion, NULL));
out:
	free(h_country);
	free(h_completion);
	return rc;
}

int main(int argc, char **argv)
{
	static double t[H_COUNT][ROUNDS_MAX];
	struct aws_env aenv = aws_env_process();
	struct aws_config aws, caws;
	struct errbuf eb = {{0}};
	struct env e;
	struct clients c = {0};
	struct db_target db;
	int rounds, ok = 0, errors = 0;

	rounds = argc == 2 ? atoi(argv[1]) : 0;
	if (rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: bench_hops ROUNDS (1-%d)\n", ROUNDS_MAX);
		return 2;
	}
	e = (struct env){need("BENCH_TABLE"), need("BENCH_COUNTERS"), need("BENCH_TOPIC_ARN"),
			 need("BENCH_QUEUE_URL"), need("BENCH_BUS"), need("BENCH_COMPLETION_URL"),
			 atoll(need("BENCH_SCHEDULE"))};
	db = (struct db_target){.host = need("RDS_HOST"), .port = atoi(need("RDS_PORT")),
				.dbname = need("BENCH_DB"), .user = need("RDS_USERNAME"),
				.password = need("RDS_PASSWORD"), .connect_timeout_ms = 2000};
	if (aws_global_init(&eb) != RC_OK || aws_config_from_env(&aws, &aenv, &eb) != RC_OK) {
		fprintf(stderr, "bench_hops: %s\n", eb.msg);
		return 1;
	}
	caws = aws;
	snprintf(caws.endpoint[AWS_SVC_SQS], sizeof(caws.endpoint[AWS_SVC_SQS]), "%s",
		 need("BENCH_COMPLETION_SQS"));
	caws.endpoint_overridden[AWS_SVC_SQS] = true;
	c.ddb = ddb_client_new(&aws, &eb);
	c.sns = c.ddb != NULL ? sns_client_new(&aws, &eb) : NULL;
	c.sqs = c.sns != NULL ? sqs_client_new(&aws, &eb) : NULL;
	c.csqs = c.sqs != NULL ? sqs_client_new(&caws, &eb) : NULL;
	c.evb = c.csqs != NULL ? evb_client_new(&aws, &eb) : NULL;
	if (c.evb == NULL || db_conn_new(&db, NULL, &c.db, &eb) != RC_OK) {
		fprintf(stderr, "bench_hops: client setup failed: %s\n", eb.msg);
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		double one[H_COUNT] = {0};

		if (one_round(&e, &c, e.schedule + r, one, &eb) != RC_OK) {
			if (errors++ < 3)
				fprintf(stderr, "bench_hops: round %d: %s\n", r, eb.msg);
			continue;
		}
		for (int h = 0; h < H_COUNT; h++)
			t[h][ok] = one[h];
		ok++;
	}
	printf("{\"rounds\": %d, \"ok\": %d, \"errors\": %d, \"p50_ms\": {", rounds, ok, errors);
	for (int h = 0; h < H_COUNT; h++) {
		qsort(t[h], (size_t)ok, sizeof(double), cmp_double);
		printf("%s\"%s\": %.3f", h ? ", " : "", hop_name[h], ok ? t[h][ok / 2] : -1.0);
	}
	printf("}}\n");
	db_conn_free(c.db);
	evb_client_free(c.evb);
	sqs_client_free(c.csqs);
	sqs_client_free(c.sqs);
	sns_client_free(c.sns);
	ddb_client_free(c.ddb);
	aws_global_cleanup();
	return ok == 0 ? 1 : 0;
}
