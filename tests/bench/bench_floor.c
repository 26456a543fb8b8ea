/* bench_floor.c — the limit loops of scripts/bench (issue 13): what the backends allow with
 * our own clients and nothing else, at the API's concurrency. One thread per client, each
 * with its own connections, looping for a fixed time:
 *   post: the PostgreSQL schedule check, a conditional PutItem of a pending item, the
 *         AppointmentCreated Publish (the backend work of one POST /appointments as issue
 *         13 defines its floor);
 *   posttx: the same with the create as the API makes it since the per-insured counters:
 *         store_put_pending, a TransactWriteItems of the item and its counters (BENCH_COUNTERS);
 *   get:  one Query of insuredId-createdAt-index, newest first, Limit 21 (a 20-item page);
 *   getone: one consistent GetItem of the item BENCH_ID (the backend work of GET
 *         /appointments/{insuredId}/{appointmentId});
 *   worker: ReceiveMessage (10, the queue BENCH_QUEUE_URL holds a backlog), per message the
 *         PostgreSQL booking and the PutEvents of "Appointment Processed", DeleteMessageBatch;
 *         until the queue is empty (SECONDS is then the longest it may take). ops = messages,
 *         seconds = up to the last one handled;
 *   workertx: the same with the item's DynamoDB work as the worker must do it: the
 *         consistent read of the appointment before the booking, and its status change to
 *         processed after it (store_mark_processed: a TransactWriteItems of the item and its
 *         counters, BENCH_TABLE and BENCH_COUNTERS).
 * Prints one JSON line: {"mode", "clients", "ops", "errors", "seconds", "rps", "cpu_s"};
 * cpu_s is the process's own user + system time (getrusage) from the clients' start to
 * their end: what our clients cost the machine for those ops.
 * Everything comes from the environment scripts/bench sets (BENCH_* and the stack's). */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <json-c/json.h>

#include "app/publish.h"
#include "app/store.h"
#include "app/store_item.h"
#include "app/tables.h"
#include "aws/ddb_attr.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "base/clock.h"
#include "domain/timeutil.h"
#include "pg/db.h"
#include "pg/db_booking.h"

#include "bench_env.h"

#define BENCH_CLIENTS_MAX 256

struct bench {
	const char *mode;    /* the mode named on the command line */
	const char *table;   /* appointments table */
	const char *topic;   /* topic ARN (post) */
	const char *insured; /* the insured listed (get) */
	const char *id;      /* the appointment read (getone) */
	const char *counters; /* counters table (posttx) */
	const char *queue;   /* the country queue's URL (worker) */
	const char *bus;     /* the event bus (worker) */
	_Atomic double last; /* monotonic time the last message was handled (worker) */
	int64_t schedule;    /* schedule checked (post) */
	struct aws_config aws;
	struct db_target db;
	double seconds;
	atomic_long ops, errors;
};

static enum rc one_post(struct bench *b, struct db_conn *db, struct ddb_client *ddb,
			struct sns_client *sns, unsigned *seed, struct errbuf *eb)
{
	struct appt_request req = {.schedule_id = b->schedule};
	struct ddb_put_req put = {.table = b->table,
				  .condition = "attribute_not_exists(appointmentId)",
				  .old_on_fail = true};
	struct appointment a;
	struct json_object *item = NULL, *old = NULL;
	enum db_check_status st = DB_CHECK_NONE;
	char id[APPT_ID_SIZE];
	enum rc rc;

	rc = db_check_schedule(db, b->schedule, "PE", 2000, &st, NULL, eb);
	if (rc != RC_OK)
		return rc;
	snprintf(req.insured_id, sizeof(req.insured_id), "%05u", rand_r(seed) % 100000);
	memcpy(req.country, "PE", 3);
	appt_id_new(id);
	rc = appt_init_pending(&a, &req, id, clk_wall_ms());
	if (rc == RC_OK)
		rc = store_item_from_appt(&a, &item);
	put.item = item;
	if (rc == RC_OK && b->counters != NULL)
		rc = store_put_pending(ddb, b->table, b->counters, &a, NULL, NULL, NULL, eb);
	else if (rc == RC_OK)
		rc = ddb_put_item(ddb, &put, &old, eb);
	if (rc == RC_OK)
		rc = publish_appointment(sns, b->topic, &a, NULL, NULL, clk_wall_ms(), NULL, eb);
	json_object_put(old);
	json_object_put(item);
	return rc;
}

static enum rc one_get(struct bench *b, struct ddb_client *ddb, struct errbuf *eb)
{
	struct ddb_query_req q = {.table = b->table, .index = TBL_GSI_INSURED,
				  .key_condition = "insuredId = :i", .descending = true,
				  .limit = 21};
	struct ddb_page page = {0};
	enum rc rc;

	q.values = json_object_new_object();
	if (q.values == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(q.values, ":i", b->insured);
	if (rc == RC_OK)
		rc = ddb_query_page(ddb, &q, NULL, &page, eb);
	ddb_page_cleanup(&page);
	json_object_put(q.values);
	return rc;
}

static enum rc one_getone(struct bench *b, struct ddb_client *ddb, struct errbuf *eb)
{
	struct json_object *key = json_object_new_object(), *item = NULL;
	enum rc rc = key != NULL ? ddb_put_s(key, "appointmentId", b->id) : RC_NOMEM;

	if (rc == RC_OK)
		rc = ddb_get_item(ddb, b->table, key, true, &item, eb);
	if (rc == RC_OK && item == NULL)
		rc = eb_set(eb, RC_NOTFOUND, "item %s not found", b->id);
	json_object_put(item);
	json_object_put(key);
	return rc;
}

/* workertx: the item's status change after the booking, as the worker writes it. */
static enum rc mark_processed(struct bench *b, struct ddb_client *ddb, const char *id,
			      const char *insured, const struct db_booking_result *res,
			      struct errbuf *eb)
{
	struct appt_schedule s = {.schedule_id = res->schedule.schedule_id,
				  .center_id = res->schedule.center_id,
				  .specialty_id = res->schedule.specialty_id,
				  .medic_id = res->schedule.medic_id};
	enum store_outcome o = STORE_APPLIED;
	char now[TU_ISO_SIZE];
	enum rc rc = tu_format_ms(clk_wall_ms(), now);

	snprintf(s.date, sizeof(s.date), "%s", res->schedule.available_at);
	if (rc == RC_OK)
		rc = store_mark_processed(ddb, b->table, b->counters, id, insured, &s, now, &o, eb);
	return rc;
}

/* One message of the worker floor: the SNS envelope's Message, the booking, the event
 * (with ddb, workertx: the item read before and its status change after the booking). */
static enum rc one_message(struct bench *b, struct db_conn *db, struct ddb_client *ddb,
			   struct evb_client *evb, const struct sqs_message *m, struct errbuf *eb)
{
	struct appointment a;
	struct json_object *env = json_tokener_parse(m->body), *inner = NULL, *v = NULL;
	const char *id = NULL, *ins = NULL, *ts = NULL;
	int64_t sched = 0;
	struct db_booking_result res = {0};
	struct evb_put_result pr;
	struct evb_entry e = {"medical.appointment.pe", "Appointment Processed", NULL, b->bus, 0};
	char detail[256];
	size_t nfailed = 0;
	enum rc rc = RC_INVAL;

	if (env != NULL && json_object_object_get_ex(env, "Message", &v))
		inner = json_tokener_parse(json_object_get_string(v));
	if (inner != NULL && json_object_object_get_ex(inner, "appointmentId", &v))
		id = json_object_get_string(v);
	if (inner != NULL && json_object_object_get_ex(inner, "insuredId", &v))
		ins = json_object_get_string(v);
	if (inner != NULL && json_object_object_get_ex(inner, "timestamp", &v))
		ts = json_object_get_string(v);
	if (inner != NULL && json_object_object_get_ex(inner, "scheduleId", &v))
		sched = json_object_get_int64(v);
	if (id != NULL && ins != NULL && ts != NULL && sched > 0)
		rc = ddb != NULL ? store_get(ddb, b->table, id, &a, eb) : RC_OK;
	if (rc == RC_OK && id != NULL && ins != NULL && ts != NULL && sched > 0)
		rc = db_book_appointment(db, id, ins, sched, "PE", ts, &res, eb);
	if (rc == RC_OK && ddb != NULL && res.outcome != DB_BOOK_BOOKED &&
	    res.outcome != DB_BOOK_ALREADY)
		rc = eb_set(eb, RC_CONFLICT, "slot of %s not booked", id);
	if (rc == RC_OK && ddb != NULL)
		rc = mark_processed(b, ddb, id, ins, &res, eb);
	if (rc == RC_OK) {
		snprintf(detail, sizeof(detail), "{\"appointmentId\":\"%s\",\"insuredId\":\"%s\"}",
			 id, ins);
		e.detail = detail;
		rc = evb_put_events(evb, &e, 1, &pr, &nfailed, eb);
	}
	json_object_put(inner);
	json_object_put(env);
	return rc;
}

static void worker_loop(struct bench *b, struct db_conn *db, struct ddb_client *ddb,
			struct sqs_client *sqs, struct evb_client *evb, struct errbuf *eb)
{
	struct sqs_receive_opts ro = {SQS_BATCH_MAX, 1, -1};
	double end = now_s() + b->seconds;

	while (now_s() < end) {
		struct sqs_messages ms = {0};
		struct sqs_batch_result res[SQS_BATCH_MAX];
		const char *handles[SQS_BATCH_MAX];
		size_t nfailed = 0;

		if (sqs_receive(sqs, b->queue, &ro, &ms, NULL) != RC_OK) {
			atomic_fetch_add(&b->errors, 1);
			continue;
		}
		if (ms.n == 0)
			break; /* drained */
		for (size_t i = 0; i < ms.n; i++) {
			if (one_message(b, db, ddb, evb, &ms.v[i], eb) == RC_OK)
				atomic_fetch_add(&b->ops, 1);
			else if (atomic_fetch_add(&b->errors, 1) < 3)
				fprintf(stderr, "bench_floor: %s\n", eb->msg);
			handles[i] = ms.v[i].receipt_handle;
		}
		if (sqs_delete_message_batch(sqs, b->queue, handles, ms.n, res, &nfailed, NULL) !=
		    RC_OK)
			atomic_fetch_add(&b->errors, 1);
		atomic_store(&b->last, now_s());
		sqs_messages_cleanup(&ms);
	}
}

/* User + system seconds of the whole process (all its threads) so far. */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *client(void *arg)
{
	struct bench *b = arg;
	struct errbuf eb = {{0}};
	struct ddb_client *ddb = ddb_client_new(&b->aws, &eb);
	struct sns_client *sns = NULL;
	struct db_conn *db = NULL;
	unsigned seed = (unsigned)(uintptr_t)&eb ^ (unsigned)clk_wall_ms();
	double end;

	if (b->queue != NULL) {
		struct sqs_client *sqs = sqs_client_new(&b->aws, &eb);
		struct evb_client *evb = evb_client_new(&b->aws, &eb);

		if (sqs != NULL && evb != NULL && ddb != NULL &&
		    db_conn_new(&b->db, NULL, &db, &eb) == RC_OK)
			worker_loop(b, db, b->counters != NULL ? ddb : NULL, sqs, evb, &eb);
		else
			atomic_fetch_add(&b->errors, 1);
		evb_client_free(evb);
		sqs_client_free(sqs);
		goto out;
	}
	if (b->id == NULL && strcmp(b->mode, "get") != 0) {
		sns = sns_client_new(&b->aws, &eb);
		if (db_conn_new(&b->db, NULL, &db, &eb) != RC_OK)
			db = NULL;
	}
	if (ddb == NULL || (b->id == NULL && strcmp(b->mode, "get") != 0 &&
			    (sns == NULL || db == NULL))) {
		fprintf(stderr, "bench_floor: client setup failed: %s\n", eb.msg);
		atomic_fetch_add(&b->errors, 1);
		goto out;
	}
	end = now_s() + b->seconds;
	while (now_s() < end) {
		enum rc rc = b->id != NULL ? one_getone(b, ddb, &eb)
			     : strcmp(b->mode, "get") != 0 ? one_post(b, db, ddb, sns, &seed, &eb)
							    : one_get(b, ddb, &eb);

		if (rc == RC_OK) {
			atomic_fetch_add(&b->ops, 1);
		} else if (atomic_fetch_add(&b->errors, 1) < 3) {
			fprintf(stderr, "bench_floor: %s\n", eb.msg);
		}
	}
out:
	db_conn_free(db);
	sns_client_free(sns);
	ddb_client_free(ddb);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct aws_env env = aws_env_process();
	struct errbuf eb = {{0}};
	pthread_t th[BENCH_CLIENTS_MAX];
	bool worker;
	int clients;
	double t0, t1, cpu0, cpu1;

	if (argc != 4 || (strcmp(argv[1], "post") != 0 && strcmp(argv[1], "posttx") != 0 &&
			  strcmp(argv[1], "get") != 0 && strcmp(argv[1], "getone") != 0 &&
			  strcmp(argv[1], "worker") != 0 &&
			  strcmp(argv[1], "workertx") != 0)) {
		fprintf(stderr, "usage: bench_floor post|posttx|get|getone|worker|workertx "
			"CLIENTS SECONDS\n");
		return 2;
	}
	b.mode = argv[1];
	worker = strncmp(b.mode, "worker", 6) == 0;
	clients = atoi(argv[2]);
	b.seconds = atof(argv[3]);
	if (clients < 1 || clients > BENCH_CLIENTS_MAX || b.seconds <= 0 || b.seconds > 600) {
		fprintf(stderr, "bench_floor: 1-%d clients, 0-600 seconds\n", BENCH_CLIENTS_MAX);
		return 2;
	}
	if (worker) {
		b.queue = need("BENCH_QUEUE_URL");
		b.bus = need("BENCH_BUS");
	}
	if (!worker || strcmp(b.mode, "workertx") == 0)
		b.table = need("BENCH_TABLE");
	if (strcmp(b.mode, "posttx") == 0 || strcmp(b.mode, "workertx") == 0)
		b.counters = need("BENCH_COUNTERS");
	if (worker) {
		b.db = (struct db_target){.host = need("RDS_HOST"), .port = atoi(need("RDS_PORT")),
					  .dbname = need("BENCH_DB"), .user = need("RDS_USERNAME"),
					  .password = need("RDS_PASSWORD"),
					  .connect_timeout_ms = 2000};
	} else if (strcmp(b.mode, "getone") == 0) {
		b.id = need("BENCH_ID");
	} else if (strcmp(b.mode, "get") != 0) {
		b.topic = need("BENCH_TOPIC_ARN");
		b.schedule = atoll(need("BENCH_SCHEDULE"));
		b.db = (struct db_target){.host = need("RDS_HOST"), .port = atoi(need("RDS_PORT")),
					  .dbname = need("BENCH_DB"), .user = need("RDS_USERNAME"),
					  .password = need("RDS_PASSWORD"),
					  .connect_timeout_ms = 2000};
	} else {
		b.insured = need("BENCH_INSURED");
	}
	if (aws_global_init(&eb) != RC_OK || aws_config_from_env(&b.aws, &env, &eb) != RC_OK) {
		fprintf(stderr, "bench_floor: %s\n", eb.msg);
		return 1;
	}
	cpu0 = cpu_s();
	t0 = now_s();
	for (int i = 0; i < clients; i++)
		if (pthread_create(&th[i], NULL, client, &b) != 0) {
			fprintf(stderr, "bench_floor: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	t1 = now_s();
	cpu1 = cpu_s();
	if (worker && atomic_load(&b.last) > 0)
		t1 = atomic_load(&b.last);
	printf("{\"mode\": \"%s\", \"clients\": %d, \"ops\": %ld, \"errors\": %ld, "
	       "\"seconds\": %.3f, \"rps\": %.1f, \"cpu_s\": %.3f}\n", b.mode, clients,
	       atomic_load(&b.ops), atomic_load(&b.errors), t1 - t0,
	       (double)atomic_load(&b.ops) / (t1 - t0), cpu1 - cpu0);
	aws_global_cleanup();
	return atomic_load(&b.errors) > atomic_load(&b.ops) ? 1 : 0;
}
