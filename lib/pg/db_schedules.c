/* db_schedules.c — the free slots of a country, a page and its total in one statement.
 * The WHERE of both halves is the one of schedules_free_list_idx (sql/004): country, then
 * the window on available_at, with is_available its predicate, so the page walks the index
 * in order and stops after offset + limit entries. */
#include "pg/db_schedules.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "pg/db_int.h"

#define NUM_SIZE 24 /* an int64 as text, with NUL */
#define WHEN_MAX 64 /* longest from/to text passed on to PostgreSQL */

/* $1 country, $2 from, $3 to, $4..$6 center/specialty/medic (NULL = any). $1 is compared
 * as char(2), the column's type: against text the column would be cast and the index lost
 * (a sequential scan and a sort of the whole country). A slot is free
 * while is_available: only a booking turns it false (sql/002), in the transaction that
 * inserts its appointment, and a release turns it back. */
#define FREE_SLOTS                                                                         \
	" FROM schedules s WHERE s.country_iso = $1::char(2) AND s.is_available"             \
	" AND s.available_at > now()"                                                       \
	" AND s.available_at >= $2::timestamptz AND s.available_at <= $3::timestamptz"      \
	" AND ($4::integer IS NULL OR s.center_id = $4::integer)"                            \
	" AND ($5::integer IS NULL OR s.specialty_id = $5::integer)"                         \
	" AND ($6::integer IS NULL OR s.medic_id = $6::integer)"

/* One row when nothing matches (total, then NULLs), else one row per slot of the page. */
static const struct db_stmt st_free_slots = {
	.name = "schedules_free",
	.sql = "SELECT t.total, p.schedule_id, p.center_id, p.specialty_id, p.medic_id, p.at"
	       " FROM (SELECT count(*) AS total" FREE_SLOTS ") t"
	       " LEFT JOIN LATERAL (SELECT s.schedule_id, s.center_id, s.specialty_id, s.medic_id,"
	       "   s.available_at, " DB_SQL_ISO("s.available_at") " AS at" FREE_SLOTS
	       "   ORDER BY s.available_at, s.schedule_id LIMIT $7::integer OFFSET $8::bigint) p"
	       " ON true ORDER BY p.available_at, p.schedule_id",
	.n_params = 8,
};

/* Writes an optional id filter as a parameter: NULL (any) for 0. */
static const char *id_param(int32_t id, char buf[NUM_SIZE])
{
	if (id == 0)
		return NULL;
	snprintf(buf, NUM_SIZE, "%" PRId32, id);
	return buf;
}

static enum rc check_query(const struct db_slot_query *q, struct errbuf *eb)
{
	if (!db_valid_country(q->country))
		return eb_set(eb, RC_INVAL, "country is not two upper-case letters");
	if (!db_valid_token(q->from, WHEN_MAX) || !db_valid_token(q->to, WHEN_MAX))
		return eb_set(eb, RC_INVAL, "from/to must be 1 to %d printable bytes", WHEN_MAX);
	if (q->center_id < 0 || q->specialty_id < 0 || q->medic_id < 0)
		return eb_set(eb, RC_INVAL, "a center/specialty/medic filter is not >= 1");
	if (q->limit < 1 || q->limit > DB_SLOTS_MAX || q->offset < 0)
		return eb_set(eb, RC_INVAL, "limit must be 1 to %d and offset >= 0", DB_SLOTS_MAX);
	return RC_OK;
}

/* Reads the rows of a page (the first one may carry only the total). */
static enum rc read_page(const PGresult *r, const char *country, struct db_slot_page *out,
			 struct errbuf *eb)
{
	int rows = PQntuples(r);
	enum rc rc;

	if (rows < 1 || rows > DB_SLOTS_MAX)
		return eb_set(eb, RC_FATAL, "schedules_free: %d rows", rows);
	rc = db_get_i64(r, 0, 0, &out->total, eb);
	for (int i = 0; i < rows && rc == RC_OK && !PQgetisnull(r, i, 1); i++) {
		struct sched_slot *s = &out->items[out->n];

		memcpy(s->country, country, sizeof(s->country));
		rc = db_get_i64(r, i, 1, &s->schedule_id, eb);
		if (rc == RC_OK)
			rc = db_get_i32(r, i, 2, &s->center_id, eb);
		if (rc == RC_OK)
			rc = db_get_i32(r, i, 3, &s->specialty_id, eb);
		if (rc == RC_OK)
			rc = db_get_i32(r, i, 4, &s->medic_id, eb);
		if (rc == RC_OK)
			rc = db_get_text(r, i, 5, s->date, sizeof(s->date), eb);
		if (rc == RC_OK)
			out->n++;
	}
	return rc;
}

enum rc db_free_slots(struct db_conn *c, const struct db_slot_query *q, int timeout_ms,
		      struct db_slot_page *out, struct errbuf *eb)
{
	char ids[3][NUM_SIZE];
	char limit[NUM_SIZE];
	char offset[NUM_SIZE];
	const char *params[8];
	PGresult *r = NULL;
	bool was_up;
	int64_t deadline;
	enum rc rc;

	out->n = 0;
	out->total = 0;
	rc = check_query(q, eb);
	if (rc != RC_OK)
		return rc;
	if (timeout_ms <= 0)
		return eb_set(eb, RC_INVAL, "timeout must be > 0 ms");
	snprintf(limit, sizeof(limit), "%d", q->limit);
	snprintf(offset, sizeof(offset), "%" PRId64, q->offset);
	params[0] = q->country;
	params[1] = q->from;
	params[2] = q->to;
	params[3] = id_param(q->center_id, ids[0]);
	params[4] = id_param(q->specialty_id, ids[1]);
	params[5] = id_param(q->medic_id, ids[2]);
	params[6] = limit;
	params[7] = offset;
	was_up = db_connected(c);
	deadline = clk_mono_ms() + timeout_ms;
	rc = db_run(c, &st_free_slots, params, timeout_ms, &r, eb);
	/* as db_check_schedule: a connection found dead says nothing about the server now */
	if (rc == RC_IO && was_up && !db_connected(c) && deadline - clk_mono_ms() > 0)
		rc = db_run(c, &st_free_slots, params, (int)(deadline - clk_mono_ms()), &r, eb);
	if (rc == RC_OK)
		rc = read_page(r, q->country, out, eb);
	if (rc != RC_OK)
		out->n = 0;
	PQclear(r);
	return rc;
}
