/* test_db_schedules.c — db_free_slots against a real PostgreSQL (scripts/stack.sh exports
 * RDS_HOST, RDS_PORT, RDS_USERNAME, RDS_PASSWORD; the role needs CREATEDB): what is free,
 * the order, the filters, the window, the page and its total, a booking and its release, and
 * the index that serves it. Each test has its own database, dropped at the end. */
#include <check.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "pg/db.h"
#include "pg/db_booking.h"
#include "pg/db_migrate.h"
#include "pg/db_schedules.h"
#include "pg/db_seed.h"
#include "itest.h"

#define TIMEOUT_MS 5000

/* One test's database (tests may have globals; lib/ may not). */
static struct {
	char dbname[64];
	struct db_conn *c; /* the code under test */
	PGconn *pq;        /* plain libpq, for setup and the oracle */
} T;

static const char *env(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v != NULL && v[0] != '\0',
		      "%s is not set: run through scripts/stack.sh (its test environment)", name);
	return v;
}

static PGconn *pq_open(const char *dbname)
{
	const char *keys[] = {"host", "port", "dbname", "user", "password", "sslmode", NULL};
	const char *vals[] = {env("RDS_HOST"),     env("RDS_PORT"), dbname, env("RDS_USERNAME"),
			      env("RDS_PASSWORD"), "disable",       NULL};
	PGconn *pq = PQconnectdbParams(keys, vals, 0);

	ck_assert_msg(PQstatus(pq) == CONNECTION_OK, "%s: %s", dbname, PQerrorMessage(pq));
	return pq;
}

/* Runs sql on the assertion connection; fails the test on an error. */
static PGresult *pq_q(PGconn *pq, const char *sql)
{
	PGresult *r = PQexec(pq, sql);
	ExecStatusType st = PQresultStatus(r);

	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQresultErrorMessage(r));
	return r;
}

static void pq_do(PGconn *pq, const char *sql)
{
	PQclear(pq_q(pq, sql));
}

static struct db_conn *conn_to(const char *host, int port, const char *dbname)
{
	struct db_target t = {.host = host, .port = port, .dbname = dbname,
			      .user = env("RDS_USERNAME"), .password = env("RDS_PASSWORD"),
			      .sslmode = "disable"};
	struct db_options o;
	struct db_conn *c = NULL;
	struct errbuf eb = {{0}};

	db_options_init(&o);
	o.backoff_min_ms = 100;
	o.backoff_max_ms = 200;
	ck_assert_msg(db_conn_new(&t, &o, &c, &eb) == RC_OK, "%s", eb.msg);
	return c;
}

static void setup(void)
{
	PGconn *admin = pq_open("postgres");
	struct errbuf eb = {{0}};
	char sql[160];
	char dir[1024];
	int applied = 0;

	memset(&T, 0, sizeof(T));
	snprintf(T.dbname, sizeof(T.dbname), "appt_test_sched_%d_%lld", (int)getpid(),
		 (long long)clk_mono_ms());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", T.dbname);
	pq_do(admin, sql);
	PQfinish(admin);
	T.pq = pq_open(T.dbname);
	T.c = conn_to(env("RDS_HOST"), (int)strtol(env("RDS_PORT"), NULL, 10), T.dbname);
	snprintf(dir, sizeof(dir), "%s/sql", env("APPT_SOURCE_ROOT"));
	ck_assert_msg(db_migrate(T.c, dir, NULL, NULL, NULL, &applied, &eb) == RC_OK, "%s",
		      eb.msg);
}

static void teardown(void)
{
	PGconn *admin;

	db_conn_free(T.c);
	if (T.pq != NULL)
		PQfinish(T.pq);
	if (T.dbname[0] == '\0')
		return;
	admin = pq_open("postgres");
	itest_pg_drop_database(admin, T.dbname);
	PQfinish(admin);
}

static void seed(const char *country, long n)
{
	struct errbuf eb = {{0}};

	ck_assert_msg(db_seed(T.c, country, n, NULL, &eb) == RC_OK, "%s", eb.msg);
}

/* A query of PE over [now, +1 year] (wider than the seed), page limit/offset. */
static struct db_slot_query query(int limit, int64_t offset)
{
	static char from[40];
	static char to[40];
	struct db_slot_query q = {.country = "PE", .from = from, .to = to, .limit = limit,
				  .offset = offset};
	PGresult *r = pq_q(T.pq, "SELECT to_char(now() AT TIME ZONE 'UTC',"
				 " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), to_char((now() + interval"
				 " '1 year') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");

	snprintf(from, sizeof(from), "%s", PQgetvalue(r, 0, 0));
	snprintf(to, sizeof(to), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return q;
}

static void list(const struct db_slot_query *q, struct db_slot_page *p)
{
	struct errbuf eb = {{0}};
	enum rc rc = db_free_slots(T.c, q, TIMEOUT_MS, p, &eb);

	ck_assert_msg(rc == RC_OK, "%s: %s", rc_name(rc), eb.msg);
}

/* The oracle: the ids of the free future slots of PE matching where (SQL), in list order,
 * written "id,id,..." into out; returns how many. */
static int oracle(const char *where, int limit, int offset, char *out, size_t n)
{
	char sql[512];
	PGresult *r;
	size_t used = 0;
	int rows;

	snprintf(sql, sizeof(sql),
		 "SELECT schedule_id FROM schedules WHERE country_iso = 'PE' AND is_available"
		 " AND available_at > now() AND (%s) ORDER BY available_at, schedule_id"
		 " LIMIT %d OFFSET %d",
		 where, limit, offset);
	r = pq_q(T.pq, sql);
	rows = PQntuples(r);
	out[0] = '\0';
	for (int i = 0; i < rows && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "," : "",
					 PQgetvalue(r, i, 0));
	PQclear(r);
	return rows;
}

static void ids_of(const struct db_slot_page *p, char *out, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%" PRId64, i ? "," : "",
					 p->items[i].schedule_id);
}

/* Pages of PE match the oracle, slot fields included; past, taken and CL slots are not
 * listed; the page order breaks ties of available_at by schedule_id. */
START_TEST(test_pages_match_the_oracle)
{
	struct db_slot_page p;
	struct db_slot_query q;
	char got[2048];
	char want[2048];
	PGresult *r;
	int n;

	seed("PE", 250);
	seed("CL", 50);
	pq_do(T.pq, "UPDATE schedules SET available_at = now() - interval '1 hour'"
		    " WHERE schedule_id IN (100, 101)");
	pq_do(T.pq, "UPDATE schedules SET is_available = false WHERE schedule_id = 102");
	q = query(100, 0);
	list(&q, &p);
	ck_assert_int_eq(p.total, 247);
	n = oracle("true", 100, 0, want, sizeof(want));
	ids_of(&p, got, sizeof(got));
	ck_assert_int_eq((int)p.n, n);
	ck_assert_str_eq(got, want);
	ck_assert(strstr(got, "100,") == NULL && strstr(got, "102,") == NULL);
	/* ties: the seed has 6 medics per half hour, listed by id */
	ck_assert_int_eq(p.items[1].schedule_id, p.items[0].schedule_id + 1);
	ck_assert_str_eq(p.items[0].date, p.items[1].date);
	r = pq_q(T.pq, "SELECT center_id, specialty_id, medic_id, to_char(available_at AT TIME ZONE"
		       " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM schedules WHERE"
		       " schedule_id = 103");
	ck_assert_int_eq(p.items[0].schedule_id, 103);
	ck_assert_str_eq(p.items[0].country, "PE");
	ck_assert_int_eq(p.items[0].center_id, atoi(PQgetvalue(r, 0, 0)));
	ck_assert_int_eq(p.items[0].specialty_id, atoi(PQgetvalue(r, 0, 1)));
	ck_assert_int_eq(p.items[0].medic_id, atoi(PQgetvalue(r, 0, 2)));
	ck_assert_str_eq(p.items[0].date, PQgetvalue(r, 0, 3));
	PQclear(r);
	/* the last, partial page */
	q = query(100, 200);
	list(&q, &p);
	ck_assert_int_eq(p.total, 247);
	ck_assert_uint_eq(p.n, 47);
	oracle("true", 100, 200, want, sizeof(want));
	ids_of(&p, got, sizeof(got));
	ck_assert_str_eq(got, want);
	/* past the end: the total, no slots */
	q = query(20, 1000);
	list(&q, &p);
	ck_assert_int_eq(p.total, 247);
	ck_assert_uint_eq(p.n, 0);
}
END_TEST

/* The filters and the window narrow both the page and the total. */
START_TEST(test_filters_and_window)
{
	struct db_slot_page p;
	struct db_slot_query q;
	char got[2048];
	char want[2048];
	char sql[256];
	char from[40];
	char to[40];
	PGresult *r;
	int n;

	seed("PE", 300);
	q = query(100, 0);
	q.medic_id = 2;
	list(&q, &p);
	n = oracle("medic_id = 2", 100, 0, want, sizeof(want));
	ids_of(&p, got, sizeof(got));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(p.total, n);
	ck_assert_str_eq(got, want);
	for (size_t i = 0; i < p.n; i++)
		ck_assert_int_eq(p.items[i].medic_id, 2);

	q = query(5, 0);
	q.center_id = p.items[0].center_id;
	q.specialty_id = p.items[0].specialty_id;
	snprintf(sql, sizeof(sql), "center_id = %d AND specialty_id = %d", q.center_id,
		 q.specialty_id);
	list(&q, &p);
	n = oracle(sql, 1000, 0, want, sizeof(want));
	ck_assert_int_eq(p.total, n);
	ck_assert_uint_eq(p.n, 5);

	q = query(20, 0);
	q.medic_id = 999;
	list(&q, &p);
	ck_assert_int_eq(p.total, 0);
	ck_assert_uint_eq(p.n, 0);

	/* [second slot's date, third day's first slot] inclusive at both ends */
	r = pq_q(T.pq, "SELECT to_char(available_at AT TIME ZONE 'UTC',"
		       " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM schedules"
		       " WHERE schedule_id IN (106, 316) ORDER BY schedule_id");
	snprintf(from, sizeof(from), "%s", PQgetvalue(r, 0, 0));
	snprintf(to, sizeof(to), "%s", PQgetvalue(r, 1, 0));
	PQclear(r);
	q = query(100, 0);
	q.from = from;
	q.to = to;
	list(&q, &p);
	snprintf(sql, sizeof(sql), "available_at BETWEEN '%s' AND '%s'", from, to);
	n = oracle(sql, 100, 0, want, sizeof(want));
	ids_of(&p, got, sizeof(got));
	ck_assert_int_eq(p.total, 216 - 6 + 1 + 5);
	ck_assert_int_eq(n, 100);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(p.items[0].schedule_id, 106);
	/* a window wholly in the past lists nothing */
	q.from = "2000-01-01T00:00:00.000Z";
	q.to = "2000-12-31T23:59:59.999Z";
	list(&q, &p);
	ck_assert_int_eq(p.total, 0);
	ck_assert_uint_eq(p.n, 0);
}
END_TEST

/* A booked slot leaves the list, its release brings it back. */
START_TEST(test_booking_and_release)
{
	const char *id = "3f2b7c1e-0d7a-4a57-9a4e-2f0c9d1b8e11";
	struct db_booking_result res;
	struct db_slot_page p;
	struct db_slot_query q;
	struct errbuf eb = {{0}};
	bool released = false;

	seed("PE", 10);
	q = query(20, 0);
	list(&q, &p);
	ck_assert_int_eq(p.total, 10);
	ck_assert_int_eq(p.items[0].schedule_id, 100);
	ck_assert_int_eq(db_book_appointment(T.c, id, "00123", 100, "PE",
					     "2026-01-02T03:04:05.678Z", &res, &eb),
			 RC_OK);
	ck_assert_int_eq(res.outcome, DB_BOOK_BOOKED);
	list(&q, &p);
	ck_assert_int_eq(p.total, 9);
	ck_assert_int_eq(p.items[0].schedule_id, 101);
	ck_assert_int_eq(db_release_booking(T.c, id, &released, &eb), RC_OK);
	ck_assert(released);
	list(&q, &p);
	ck_assert_int_eq(p.total, 10);
	ck_assert_int_eq(p.items[0].schedule_id, 100);
}
END_TEST

/* The page is read through schedules_free_list_idx, in index order, without a sort. */
START_TEST(test_served_by_the_index)
{
	struct db_slot_page p;
	struct db_slot_query q;
	PGresult *r;
	int64_t scans = 0;

	seed("PE", 5000);
	seed("CL", 5000);
	pq_do(T.pq, "VACUUM ANALYZE schedules");
	q = query(20, 0);
	list(&q, &p);
	ck_assert_uint_eq(p.n, 20);
	/* a backend that exits flushes its counters to the statistics */
	db_disconnect(T.c);
	for (int i = 0; i < 50 && scans == 0; i++) {
		pq_do(T.pq, "SELECT pg_stat_clear_snapshot()");
		r = pq_q(T.pq, "SELECT idx_scan FROM pg_stat_user_indexes"
			       " WHERE indexrelname = 'schedules_free_list_idx'");
		ck_assert_int_eq(PQntuples(r), 1);
		scans = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (scans == 0)
			clk_sleep_ms(100);
	}
	ck_assert_int_ge(scans, 1);
	/* and the plan of the page's shape walks the index with no Sort */
	r = pq_q(T.pq, "EXPLAIN SELECT schedule_id FROM schedules s WHERE s.country_iso = 'PE'"
		       " AND s.is_available AND s.available_at > now()"
		       " AND s.available_at >= now() AND s.available_at <= now() + interval '30 days'"
		       " ORDER BY s.available_at, s.schedule_id LIMIT 20 OFFSET 40");
	for (int i = 0; i < PQntuples(r); i++)
		ck_assert_msg(strstr(PQgetvalue(r, i, 0), "Sort") == NULL, "%s",
			      PQgetvalue(r, i, 0));
	ck_assert_msg(strstr(PQgetvalue(r, 1, 0), "schedules_free_list_idx") != NULL, "%s",
		      PQgetvalue(r, 1, 0));
	PQclear(r);
}
END_TEST

/* Bad input is refused before anything is sent; an unreachable server is RC_IO, fast. */
START_TEST(test_bad_input_and_unreachable)
{
	struct db_slot_page p;
	struct db_slot_query q = query(20, 0);
	struct db_slot_query bad;
	struct errbuf eb = {{0}};
	struct db_conn *down;
	int64_t t0;

	bad = q;
	bad.country = "pe";
	ck_assert_int_eq(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_INVAL);
	bad = q;
	bad.limit = DB_SLOTS_MAX + 1;
	ck_assert_int_eq(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_INVAL);
	bad = q;
	bad.offset = -1;
	ck_assert_int_eq(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_INVAL);
	bad = q;
	bad.from = "2027-01-01 00:00";
	ck_assert_int_eq(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_INVAL);
	bad = q;
	bad.medic_id = -1;
	ck_assert_int_eq(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_INVAL);
	ck_assert_int_eq(db_free_slots(T.c, &q, 0, &p, &eb), RC_INVAL);
	/* a from PostgreSQL cannot read is its error, not a crash */
	bad = q;
	bad.from = "not-a-date";
	ck_assert_int_ne(db_free_slots(T.c, &bad, TIMEOUT_MS, &p, &eb), RC_OK);
	ck_assert_uint_eq(p.n, 0);
	list(&q, &p);

	down = conn_to("127.0.0.1", 1, "appointments_pe");
	t0 = clk_mono_ms();
	ck_assert_int_eq(db_free_slots(down, &q, TIMEOUT_MS, &p, &eb), RC_IO);
	ck_assert_int_lt(clk_mono_ms() - t0, 1000);
	db_conn_free(down);
}
END_TEST

/* A connection whose backend died is reconnected once within the call. */
START_TEST(test_backend_killed)
{
	struct db_slot_page p;
	struct db_slot_query q = query(20, 0);
	char sql[96];

	seed("PE", 3);
	list(&q, &p);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", db_backend_pid(T.c));
	pq_do(T.pq, sql);
	clk_sleep_ms(100);
	list(&q, &p);
	ck_assert_int_eq(p.total, 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db_schedules");
	TCase *tc = tcase_create("pg");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pages_match_the_oracle);
	tcase_add_test(tc, test_filters_and_window);
	tcase_add_test(tc, test_booking_and_release);
	tcase_add_test(tc, test_served_by_the_index);
	tcase_add_test(tc, test_bad_input_and_unreachable);
	tcase_add_test(tc, test_backend_killed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
