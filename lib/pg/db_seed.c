/* db_seed.c — reference rows and schedules 100.. for one country, dated relative to the
 * server's today. The slot of an id is computed here (db_seed_slot, unit-tested) and sent as
 * arrays, a batch per statement; the server only adds the day offset to its today. */
#include "pg/db_seed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "pg/db_int.h"

#define SEED_BATCH 1000               /* schedules per statement */
#define SEED_ARRAY_MAX (SEED_BATCH * 24) /* text of one array parameter */

struct ref_row {
	int id;
	const char *name;
};

static const struct ref_row centers[DB_SEED_CENTERS] = {
	{1, "Central Medical Center"},
	{2, "North Clinic"},
	{3, "South Clinic"},
};

static const struct ref_row specialties[DB_SEED_SPECIALTIES] = {
	{1, "General Medicine"},
	{2, "Cardiology"},
	{3, "Pediatrics"},
	{4, "Dermatology"},
};

static const struct ref_row medics[DB_SEED_MEDICS] = {
	{1, "Dr. Ana Torres"},
	{2, "Dr. Luis Rojas"},
	{3, "Dr. Carmen Diaz"},
	{4, "Dr. Jorge Medina"},
	{5, "Dr. Sofia Castro"},
	{6, "Dr. Pedro Vargas"},
};

/* The upsert of one reference row ($1 id, $2 name) into table, keyed by id_col. A row is
 * refreshed only when its name differs, so reruns write nothing. */
#define REF_UPSERT_SQL(table, id_col)                                                          \
	"INSERT INTO " table " (" id_col ", name) VALUES ($1::integer, $2::text)"                 \
	" ON CONFLICT (" id_col ") DO UPDATE SET name = EXCLUDED.name, updated_at = now()"        \
	" WHERE " table ".name IS DISTINCT FROM EXCLUDED.name"

static const struct db_stmt st_center = {
	.name = "seed_center",
	.sql = REF_UPSERT_SQL("medical_centers", "center_id"),
	.n_params = 2,
};

static const struct db_stmt st_specialty = {
	.name = "seed_specialty",
	.sql = REF_UPSERT_SQL("specialties", "specialty_id"),
	.n_params = 2,
};

static const struct db_stmt st_medic = {
	.name = "seed_medic",
	.sql = REF_UPSERT_SQL("medics", "medic_id"),
	.n_params = 2,
};

/* One batch of schedules. "Today" is the server's UTC date, so every slot (day >= 1, i.e.
 * tomorrow or later) is in the future by the same clock the booking's "available_at >
 * now()" uses. The DO UPDATE touches only a free slot of this country with no live
 * appointment, and only when something differs; (xmax = 0) tells an insert from an update. */
static const struct db_stmt st_schedules = {
	.name = "seed_schedules",
	.sql = "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::integer[], $3::integer[],"
	       "   $4::integer[], $5::integer[], $6::integer[])"
	       "   AS t(schedule_id, d_off, m_off, center_id, specialty_id, medic_id)),"
	       " up AS (INSERT INTO schedules (schedule_id, center_id, specialty_id, medic_id,"
	       "   available_at, is_available, country_iso)"
	       "  SELECT schedule_id, center_id, specialty_id, medic_id,"
	       "   (date_trunc('day', now() AT TIME ZONE 'UTC')"
	       "    + make_interval(days => d_off, mins => m_off)) AT TIME ZONE 'UTC',"
	       "   true, $7::text FROM v"
	       "  ON CONFLICT (schedule_id) DO UPDATE SET available_at = EXCLUDED.available_at,"
	       "   center_id = EXCLUDED.center_id, specialty_id = EXCLUDED.specialty_id,"
	       "   medic_id = EXCLUDED.medic_id, updated_at = now()"
	       "  WHERE schedules.is_available AND schedules.country_iso = EXCLUDED.country_iso"
	       "   AND NOT EXISTS (SELECT 1 FROM appointments a"
	       "     WHERE a.schedule_id = schedules.schedule_id AND a.status <> 'cancelled')"
	       "   AND (schedules.available_at, schedules.center_id, schedules.specialty_id,"
	       "        schedules.medic_id) IS DISTINCT FROM (EXCLUDED.available_at,"
	       "        EXCLUDED.center_id, EXCLUDED.specialty_id, EXCLUDED.medic_id)"
	       "  RETURNING (xmax = 0) AS inserted)"
	       " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
	       " FROM up",
	.n_params = 7,
};

TESTABLE void db_seed_slot(int64_t schedule_id, struct db_seed_slot *out)
{
	int64_t k = schedule_id - DB_SEED_FIRST_ID;
	int r;

	if (k < 0)
		k = 0;
	r = (int)(k % DB_SEED_PER_DAY);
	out->day = 1 + (int)(k / DB_SEED_PER_DAY);
	/* Round-robin over the medics first, so a small seed spreads across all of them. */
	out->medic_id = 1 + r % DB_SEED_MEDICS;
	out->minute = DB_SEED_FIRST_MINUTE + (r / DB_SEED_MEDICS) * DB_SEED_SLOT_MINUTES;
	out->center_id = 1 + (out->medic_id - 1) % DB_SEED_CENTERS;
	out->specialty_id = 1 + (out->medic_id - 1) % DB_SEED_SPECIALTIES;
}

static enum rc upsert_refs(struct db_conn *c, const struct db_stmt *st,
			   const struct ref_row *rows, size_t n, struct errbuf *eb)
{
	for (size_t i = 0; i < n; i++) {
		char id[16];
		const char *params[2] = {id, rows[i].name};
		PGresult *r = NULL;
		enum rc rc;

		snprintf(id, sizeof(id), "%d", rows[i].id);
		rc = db_run(c, st, params, DB_TIMEOUT_NONE, &r, eb);
		PQclear(r);
		if (rc != RC_OK)
			return rc;
	}
	return RC_OK;
}

/* Runs one batch [first, first + n) and adds its counts to res. */
static enum rc seed_batch(struct db_conn *c, const char *country, int64_t first, long n,
			  struct buf arr[6], struct db_seed_result *res, struct errbuf *eb)
{
	const char *params[7];
	PGresult *r = NULL;
	int64_t ins = 0;
	int64_t upd = 0;
	enum rc rc = RC_OK;

	for (int a = 0; a < 6; a++) {
		buf_reset(&arr[a]);
		if (rc == RC_OK)
			rc = buf_puts(&arr[a], "{");
	}
	for (long i = 0; i < n && rc == RC_OK; i++) {
		struct db_seed_slot s;
		const char *sep = i + 1 < n ? "," : "}";

		db_seed_slot(first + i, &s);
		rc = buf_printf(&arr[0], "%" PRId64 "%s", first + i, sep);
		if (rc == RC_OK)
			rc = buf_printf(&arr[1], "%d%s", s.day, sep);
		if (rc == RC_OK)
			rc = buf_printf(&arr[2], "%d%s", s.minute, sep);
		if (rc == RC_OK)
			rc = buf_printf(&arr[3], "%d%s", s.center_id, sep);
		if (rc == RC_OK)
			rc = buf_printf(&arr[4], "%d%s", s.specialty_id, sep);
		if (rc == RC_OK)
			rc = buf_printf(&arr[5], "%d%s", s.medic_id, sep);
	}
	if (rc != RC_OK)
		return eb_set(eb, rc, "building the seed batch failed");
	for (int a = 0; a < 6; a++)
		params[a] = buf_str(&arr[a]);
	params[6] = country;
	rc = db_run(c, &st_schedules, params, DB_TIMEOUT_NONE, &r, eb);
	if (rc == RC_OK)
		rc = db_get_i64(r, 0, 0, &ins, eb);
	if (rc == RC_OK)
		rc = db_get_i64(r, 0, 1, &upd, eb);
	PQclear(r);
	if (rc != RC_OK)
		return rc;
	res->inserted += (long)ins;
	res->refreshed += (long)upd;
	res->kept += n - (long)ins - (long)upd;
	return RC_OK;
}

/* Opens a transaction that no statement_timeout of the connection can cut short. */
static enum rc begin_untimed(struct db_conn *c, struct errbuf *eb)
{
	enum rc rc = db_begin(c, eb);

	if (rc == RC_OK)
		rc = db_exec(c, "SET LOCAL statement_timeout = 0", DB_TIMEOUT_NONE, eb);
	return rc;
}

static enum rc seed_refs(struct db_conn *c, struct errbuf *eb)
{
	enum rc rc = begin_untimed(c, eb);

	if (rc == RC_OK)
		rc = upsert_refs(c, &st_center, centers, DB_SEED_CENTERS, eb);
	if (rc == RC_OK)
		rc = upsert_refs(c, &st_specialty, specialties, DB_SEED_SPECIALTIES, eb);
	if (rc == RC_OK)
		rc = upsert_refs(c, &st_medic, medics, DB_SEED_MEDICS, eb);
	if (rc == RC_OK)
		return db_commit(c, eb);
	db_rollback(c);
	return rc;
}

enum rc db_seed(struct db_conn *c, const char *country, long count, struct db_seed_result *out,
		struct errbuf *eb)
{
	struct db_seed_result res = {0};
	struct buf arr[6];
	enum rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!db_valid_country(country))
		return eb_set(eb, RC_INVAL, "country is not two upper-case letters");
	if (count < 1 || count > DB_SEED_MAX_COUNT)
		return eb_set(eb, RC_INVAL, "seed count %ld out of range 1-%d", count,
			      DB_SEED_MAX_COUNT);
	for (int a = 0; a < 6; a++)
		buf_init(&arr[a], SEED_ARRAY_MAX);
	rc = seed_refs(c, eb);
	/* One transaction per batch: ON CONFLICT DO UPDATE locks every existing row it meets
	 * until commit, and a live worker booking one of them should wait for one batch, not
	 * for the whole seed. A failure leaves earlier batches in place; a rerun completes. */
	for (long done = 0; rc == RC_OK && done < count; done += SEED_BATCH) {
		long n = count - done < SEED_BATCH ? count - done : SEED_BATCH;
		struct db_seed_result part = {0};

		rc = begin_untimed(c, eb);
		if (rc == RC_OK)
			rc = seed_batch(c, country, DB_SEED_FIRST_ID + done, n, arr, &part, eb);
		if (rc == RC_OK)
			rc = db_commit(c, eb);
		if (rc != RC_OK) {
			db_rollback(c);
			break;
		}
		res.inserted += part.inserted;
		res.refreshed += part.refreshed;
		res.kept += part.kept;
	}
	if (out != NULL)
		*out = res;
	for (int a = 0; a < 6; a++)
		buf_cleanup(&arr[a]);
	return rc;
}
