/* bench_pg.c — what one country's PostgreSQL sustains for bookings (issue 14,
 * docs/scaling.md), with the emulators out of the way: CLIENTS connections, each booking in
 * a loop with db_book_appointment (the worker's one transaction) and nothing else.
 *   distinct: the slots BENCH_FIRST_SLOT .. BENCH_FIRST_SLOT + BENCH_SLOTS - 1, each booked
 *             once (an atomic counter hands them out), until all are taken or SECONDS pass;
 *   hot:      every client books one of BENCH_HOT_SLOTS slots from BENCH_FIRST_SLOT for
 *             SECONDS, each attempt by a new appointment: all but the first of each slot are
 *             refused (taken), which is what the slot's row lock lets through.
 * Prints one JSON line: {"mode", "clients", "booked", "refused", "errors", "seconds", "rps"},
 * rps = (booked + refused) / seconds. Environment: RDS_HOST, RDS_PORT, RDS_USERNAME,
 * RDS_PASSWORD, BENCH_DB and the BENCH_* above. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "domain/appointment.h"
#include "domain/timeutil.h"
#include "pg/db.h"
#include "pg/db_booking.h"
#include "bench_env.h"

#define BENCH_CLIENTS_MAX 256

struct bench {
	bool hot;             /* the hot mode */
	int64_t first;        /* first slot id */
	int64_t slots;        /* distinct: slots to book; hot: hot slots */
	double seconds;       /* the longest a run takes */
	struct db_target db;
	atomic_llong next;    /* distinct: the next slot to hand out (offset from first) */
	atomic_long booked, refused, errors;
	_Atomic double last;  /* monotonic time of the last booking answered */
};

/* The next slot this client books, or -1 when the distinct slots are all handed out. */
static int64_t next_slot(struct bench *b, unsigned *seed)
{
	int64_t k;

	if (b->hot)
		return b->first + rand_r(seed) % b->slots;
	k = atomic_fetch_add(&b->next, 1);
	return k < b->slots ? b->first + k : -1;
}

static void *client(void *arg)
{
	struct bench *b = arg;
	struct errbuf eb = {{0}};
	struct db_conn *db = NULL;
	unsigned seed = (unsigned)(uintptr_t)&eb ^ (unsigned)clk_wall_ms();
	double end = now_s() + b->seconds;
	int64_t slot;

	if (db_conn_new(&b->db, NULL, &db, &eb) != RC_OK) {
		fprintf(stderr, "bench_pg: %s\n", eb.msg);
		atomic_fetch_add(&b->errors, 1);
		return NULL;
	}
	while (now_s() < end && (slot = next_slot(b, &seed)) >= 0) {
		struct db_booking_result res;
		char id[APPT_ID_SIZE], now[TU_ISO_SIZE];
		enum rc rc = tu_format_ms(clk_wall_ms(), now);

		appt_id_new(id);
		if (rc == RC_OK)
			rc = db_book_appointment(db, id, "00001", slot, "PE", now, &res, &eb);
		if (rc == RC_OK && res.outcome == DB_BOOK_BOOKED)
			atomic_fetch_add(&b->booked, 1);
		else if (rc == RC_OK && res.outcome == DB_BOOK_UNAVAILABLE)
			atomic_fetch_add(&b->refused, 1);
		else if (atomic_fetch_add(&b->errors, 1) < 3)
			fprintf(stderr, "bench_pg: slot %lld: %s\n", (long long)slot,
				rc != RC_OK ? eb.msg : "unexpected outcome");
		atomic_store(&b->last, now_s());
	}
	db_conn_free(db);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct bench b;
	pthread_t th[BENCH_CLIENTS_MAX];
	int clients;
	double t0, t1;

	if (argc != 4 || (strcmp(argv[1], "distinct") != 0 && strcmp(argv[1], "hot") != 0)) {
		fprintf(stderr, "usage: bench_pg distinct|hot CLIENTS SECONDS\n");
		return 2;
	}
	b.hot = strcmp(argv[1], "hot") == 0;
	clients = atoi(argv[2]);
	b.seconds = atof(argv[3]);
	if (clients < 1 || clients > BENCH_CLIENTS_MAX || b.seconds <= 0 || b.seconds > 600) {
		fprintf(stderr, "bench_pg: 1-%d clients, 0-600 seconds\n", BENCH_CLIENTS_MAX);
		return 2;
	}
	b.first = atoll(need("BENCH_FIRST_SLOT"));
	b.slots = atoll(need(b.hot ? "BENCH_HOT_SLOTS" : "BENCH_SLOTS"));
	if (b.first < 1 || b.slots < 1) {
		fprintf(stderr, "bench_pg: BENCH_FIRST_SLOT and the slot count must be >= 1\n");
		return 2;
	}
	b.db = (struct db_target){.host = need("RDS_HOST"), .port = atoi(need("RDS_PORT")),
				  .dbname = need("BENCH_DB"), .user = need("RDS_USERNAME"),
				  .password = need("RDS_PASSWORD"), .connect_timeout_ms = 2000};
	t0 = now_s();
	for (int i = 0; i < clients; i++)
		if (pthread_create(&th[i], NULL, client, &b) != 0) {
			fprintf(stderr, "bench_pg: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	t1 = atomic_load(&b.last) > t0 ? atomic_load(&b.last) : now_s();
	printf("{\"mode\": \"%s\", \"clients\": %d, \"booked\": %ld, \"refused\": %ld, "
	       "\"errors\": %ld, \"seconds\": %.3f, \"rps\": %.1f}\n", argv[1], clients,
	       atomic_load(&b.booked), atomic_load(&b.refused), atomic_load(&b.errors), t1 - t0,
	       (double)(atomic_load(&b.booked) + atomic_load(&b.refused)) / (t1 - t0));
	return atomic_load(&b.errors) > 0 ? 1 : 0;
}
