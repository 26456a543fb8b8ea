/* db_booking.c — booking a slot in one transaction (conditional UPDATE of the schedule row,
 * then INSERT ... ON CONFLICT DO NOTHING of the appointment) and the API's schedule check. */
#include "pg/db_booking.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "domain/appointment.h"
#include "pg/db_int.h"

#define SID_SIZE 24 /* a schedule id (int64) as text, with NUL */

/* Takes the slot. The WHERE re-evaluates after waiting for a concurrent booking's row lock
 * (READ COMMITTED), so of two racers exactly one sees is_available = true. now() is the
 * transaction's start, so "in the future" is judged once per booking. */
static const struct db_stmt st_take = {
	.name = "booking_take",
	.sql = "UPDATE schedules SET is_available = false, updated_at = now()"
	       " WHERE schedule_id = $1::bigint AND country_iso = $2::text"
	       " AND is_available AND available_at > now()"
	       " RETURNING center_id, specialty_id, medic_id, " DB_SQL_ISO("available_at"),
	.n_params = 2,
};

static const struct db_stmt st_insert = {
	.name = "booking_insert",
	.sql = "INSERT INTO appointments"
	       " (appointment_id, insured_id, schedule_id, country_iso, status, created_at)"
	       " VALUES ($1::uuid, $2::text, $3::bigint, $4::text, 'booked', $5::timestamptz)"
	       " ON CONFLICT (appointment_id) DO NOTHING RETURNING appointment_id",
	.n_params = 5,
};

/* The reads of schedule $1 of country $2: SCHEDULE_COLS are columns 0..3 as read_schedule
 * takes them, then one boolean column (4) between them and SCHEDULE_ROW. */
#define SCHEDULE_COLS \
	"SELECT s.center_id, s.specialty_id, s.medic_id, " DB_SQL_ISO("s.available_at") ","
#define SCHEDULE_ROW \
	" FROM schedules s WHERE s.schedule_id = $1::bigint AND s.country_iso = $2::text"

/* Why the slot could not be taken: absent, already ours, or someone else's / past. A fresh
 * statement snapshot, so it sees the booking that beat us. */
static const struct db_stmt st_why = {
	.name = "booking_why",
	.sql = SCHEDULE_COLS
	       " EXISTS (SELECT 1 FROM appointments a WHERE a.appointment_id = $3::uuid"
	       "   AND a.schedule_id = s.schedule_id AND a.status <> 'cancelled')"
	       SCHEDULE_ROW,
	.n_params = 3,
};

/* Where does this appointment id already live (after an INSERT that did nothing), and is
 * that booking released? */
static const struct db_stmt st_owner = {
	.name = "booking_owner",
	.sql = "SELECT schedule_id, status = 'cancelled' FROM appointments"
	       " WHERE appointment_id = $1::uuid",
	.n_params = 1,
};

/* The release of a booking: the row first (it names the slot), then the slot. */
static const struct db_stmt st_cancel = {
	.name = "booking_cancel",
	.sql = "UPDATE appointments SET status = 'cancelled'"
	       " WHERE appointment_id = $1::uuid AND status <> 'cancelled' RETURNING schedule_id",
	.n_params = 1,
};

static const struct db_stmt st_free = {
	.name = "booking_free",
	.sql = "UPDATE schedules SET is_available = true, updated_at = now()"
	       " WHERE schedule_id = $1::bigint",
	.n_params = 1,
};

static const struct db_stmt st_check = {
	.name = "booking_check",
	.sql = SCHEDULE_COLS
	       " s.is_available AND s.available_at > now() AND NOT EXISTS (SELECT 1 FROM"
	       "   appointments a WHERE a.schedule_id = s.schedule_id AND a.status <> 'cancelled')"
	       SCHEDULE_ROW,
	.n_params = 2,
};

/* The arguments both tasks take: schedule_id (written as text into sid) and country. */
static enum rc slot_args(int64_t schedule_id, const char *country, char sid[SID_SIZE],
			 struct errbuf *eb)
{
	if (schedule_id < 1)
		return eb_set(eb, RC_INVAL, "schedule id %" PRId64 " is not >= 1", schedule_id);
	if (!db_valid_country(country))
		return eb_set(eb, RC_INVAL, "country is not two upper-case letters");
	snprintf(sid, SID_SIZE, "%" PRId64, schedule_id);
	return RC_OK;
}

/* Reads columns 0..3 (center, specialty, medic, available_at) of row 0. */
static enum rc read_schedule(const PGresult *r, int64_t schedule_id, struct db_schedule *s,
			     struct errbuf *eb)
{
	enum rc rc;

	memset(s, 0, sizeof(*s));
	s->schedule_id = schedule_id;
	rc = db_get_i32(r, 0, 0, &s->center_id, eb);
	if (rc == RC_OK)
		rc = db_get_i32(r, 0, 1, &s->specialty_id, eb);
	if (rc == RC_OK)
		rc = db_get_i32(r, 0, 2, &s->medic_id, eb);
	if (rc == RC_OK)
		rc = db_get_text(r, 0, 3, s->available_at, sizeof(s->available_at), eb);
	return rc;
}

/* The slot was not taken: tell NOT_FOUND, ALREADY (ours) and UNAVAILABLE apart. Runs in
 * the booking's transaction (read only). */
static enum rc explain(struct db_conn *c, const char *const params[3], int64_t schedule_id,
		       struct db_booking_result *out, struct errbuf *eb)
{
	PGresult *r = NULL;
	bool mine = false;
	enum rc rc = db_run(c, &st_why, params, DB_TIMEOUT_DEFAULT, &r, eb);

	if (rc != RC_OK)
		goto out;
	if (PQntuples(r) == 0) {
		out->outcome = DB_BOOK_NOT_FOUND;
		goto out;
	}
	rc = db_get_bool(r, 0, 4, &mine, eb);
	if (rc != RC_OK)
		goto out;
	if (!mine) {
		out->outcome = DB_BOOK_UNAVAILABLE;
		goto out;
	}
	rc = read_schedule(r, schedule_id, &out->schedule, eb);
	if (rc == RC_OK)
		out->outcome = DB_BOOK_ALREADY;
out:
	PQclear(r);
	return rc;
}

/* The INSERT did nothing although the slot was free: the appointment id already exists.
 * Its own booking of this slot, released by a cancel since, is DB_BOOK_CANCELLED (a
 * creation that raced its cancel: nothing is booked again). Another slot means the id is
 * being reused; no retry fixes that. */
static enum rc existing_appointment(struct db_conn *c, const char *appointment_id,
				    int64_t schedule_id, struct db_booking_result *out,
				    struct errbuf *eb)
{
	const char *params[1] = {appointment_id};
	PGresult *r = NULL;
	int64_t other = 0;
	bool released = false;
	enum rc rc = db_run(c, &st_owner, params, DB_TIMEOUT_DEFAULT, &r, eb);

	if (rc != RC_OK)
		goto out;
	if (PQntuples(r) == 0) {
		/* Gone between the two statements (deleted by hand): let a retry decide. */
		rc = eb_set(eb, RC_RETRY, "appointment %s vanished during booking", appointment_id);
		goto out;
	}
	rc = db_get_i64(r, 0, 0, &other, eb);
	if (rc == RC_OK)
		rc = db_get_bool(r, 0, 1, &released, eb);
	if (rc != RC_OK)
		goto out;
	if (released && other == schedule_id) {
		out->outcome = DB_BOOK_CANCELLED;
		goto out;
	}
	rc = eb_set(eb, RC_INVAL, "appointment %s already exists (schedule %" PRId64
		    "); not booking schedule %" PRId64, appointment_id, other, schedule_id);
out:
	PQclear(r);
	return rc;
}

enum rc db_book_appointment(struct db_conn *c, const char *appointment_id,
			    const char *insured_id, int64_t schedule_id, const char *country,
			    const char *created_at_iso, struct db_booking_result *out,
			    struct errbuf *eb)
{
	char sid[SID_SIZE];
	const char *take_p[2] = {sid, country};
	const char *why_p[3] = {sid, country, appointment_id};
	const char *ins_p[5] = {appointment_id, insured_id, sid, country, created_at_iso};
	PGresult *r = NULL;
	struct db_schedule taken;
	bool in_tx = false;
	enum rc rc = RC_OK;

	memset(out, 0, sizeof(*out));
	if (!appt_id_valid(appointment_id))
		return eb_set(eb, RC_INVAL, "appointment id is not a lower-case UUID v4");
	if (!appt_insured_valid(insured_id))
		return eb_set(eb, RC_INVAL, "insured id is not 5 digits");
	rc = slot_args(schedule_id, country, sid, eb);
	if (rc != RC_OK)
		return rc;
	if (!db_valid_token(created_at_iso, DB_CREATED_AT_MAX))
		return eb_set(eb, RC_INVAL, "createdAt is empty, too long or not printable");

	rc = db_begin(c, eb);
	if (rc != RC_OK)
		goto out;
	in_tx = true;
	rc = db_run(c, &st_take, take_p, DB_TIMEOUT_DEFAULT, &r, eb);
	if (rc != RC_OK)
		goto out;
	if (PQntuples(r) == 0) {
		/* Read only from here: the rollback below keeps nothing. */
		rc = explain(c, why_p, schedule_id, out, eb);
		goto out;
	}
	rc = read_schedule(r, schedule_id, &taken, eb);
	PQclear(r);
	r = NULL;
	if (rc != RC_OK)
		goto out;
	rc = db_run(c, &st_insert, ins_p, DB_TIMEOUT_DEFAULT, &r, eb);
	if (rc == RC_CONFLICT && strcmp(db_last_sqlstate(c), "23505") == 0) {
		/* The last guard (appointments_live_schedule_uidx) fired: another live
		 * appointment holds a slot whose is_available was still true. */
		out->outcome = DB_BOOK_UNAVAILABLE;
		rc = RC_OK;
		goto out;
	}
	if (rc != RC_OK)
		goto out;
	if (PQntuples(r) == 0) {
		/* Our id exists but the slot was free: undo the slot update first. */
		db_rollback(c);
		in_tx = false;
		rc = existing_appointment(c, appointment_id, schedule_id, out, eb);
		goto out;
	}
	rc = db_commit(c, eb);
	in_tx = false;
	if (rc != RC_OK)
		goto out;
	out->outcome = DB_BOOK_BOOKED;
	out->schedule = taken;
out:
	PQclear(r);
	/* Only a BOOKED outcome commits; every other path writes nothing. */
	if (in_tx)
		db_rollback(c);
	if (rc != RC_OK)
		out->outcome = DB_BOOK_NONE;
	return rc;
}

enum rc db_release_booking(struct db_conn *c, const char *appointment_id, bool *released,
			   struct errbuf *eb)
{
	const char *id_p[1] = {appointment_id};
	const char *sid_p[1] = {NULL};
	char sid[SID_SIZE];
	PGresult *r = NULL;
	int64_t schedule_id = 0;
	bool in_tx = false;
	enum rc rc;

	*released = false;
	if (!appt_id_valid(appointment_id))
		return eb_set(eb, RC_INVAL, "appointment id is not a lower-case UUID v4");
	rc = db_begin(c, eb);
	if (rc != RC_OK)
		goto out;
	in_tx = true;
	rc = db_run(c, &st_cancel, id_p, DB_TIMEOUT_DEFAULT, &r, eb);
	if (rc != RC_OK || PQntuples(r) == 0)
		goto out; /* nothing held: the rollback below keeps nothing */
	rc = db_get_i64(r, 0, 0, &schedule_id, eb);
	PQclear(r);
	r = NULL;
	if (rc != RC_OK)
		goto out;
	snprintf(sid, sizeof(sid), "%" PRId64, schedule_id);
	sid_p[0] = sid;
	rc = db_run(c, &st_free, sid_p, DB_TIMEOUT_DEFAULT, &r, eb);
	if (rc != RC_OK)
		goto out;
	rc = db_commit(c, eb);
	in_tx = false;
	if (rc == RC_OK)
		*released = true;
out:
	PQclear(r);
	if (in_tx)
		db_rollback(c);
	return rc;
}

enum rc db_check_schedule(struct db_conn *c, int64_t schedule_id, const char *country,
			  int timeout_ms, enum db_check_status *status,
			  struct db_schedule *details, struct errbuf *eb)
{
	char sid[SID_SIZE];
	const char *params[2] = {sid, country};
	PGresult *r = NULL;
	struct db_schedule s;
	bool free_now = false;
	bool was_up;
	int64_t deadline;
	enum rc rc;

	*status = DB_CHECK_NONE;
	rc = slot_args(schedule_id, country, sid, eb);
	if (rc != RC_OK)
		return rc;
	if (timeout_ms <= 0)
		return eb_set(eb, RC_INVAL, "check timeout must be > 0 ms");
	was_up = db_connected(c);
	deadline = clk_mono_ms() + timeout_ms;
	rc = db_run(c, &st_check, params, timeout_ms, &r, eb);
	/* A connection that was up and turns out dead (the server restarted since) says
	 * nothing about the server now: reconnect once, within the deadline, before the
	 * caller takes the database for down (issue 10). A read, so a second run is safe. */
	if (rc == RC_IO && was_up && !db_connected(c) && deadline - clk_mono_ms() > 0)
		rc = db_run(c, &st_check, params, (int)(deadline - clk_mono_ms()), &r, eb);
	if (rc != RC_OK)
		goto out;
	if (PQntuples(r) == 0) {
		*status = DB_CHECK_NOT_FOUND;
		goto out;
	}
	rc = read_schedule(r, schedule_id, &s, eb);
	if (rc == RC_OK)
		rc = db_get_bool(r, 0, 4, &free_now, eb);
	if (rc != RC_OK)
		goto out;
	*status = free_now ? DB_CHECK_AVAILABLE : DB_CHECK_UNAVAILABLE;
	if (details != NULL)
		*details = s;
out:
	PQclear(r);
	return rc;
}

const char *db_booking_outcome_name(enum db_booking_outcome o)
{
	switch (o) {
	case DB_BOOK_NONE:
		return "none";
	case DB_BOOK_BOOKED:
		return "booked";
	case DB_BOOK_ALREADY:
		return "already_booked";
	case DB_BOOK_NOT_FOUND:
		return "schedule_not_found";
	case DB_BOOK_UNAVAILABLE:
		return "schedule_unavailable";
	case DB_BOOK_CANCELLED:
		return "cancelled";
	}
	return "none";
}

const char *db_check_status_name(enum db_check_status s)
{
	switch (s) {
	case DB_CHECK_NONE:
		return "none";
	case DB_CHECK_AVAILABLE:
		return "available";
	case DB_CHECK_NOT_FOUND:
		return "not_found";
	case DB_CHECK_UNAVAILABLE:
		return "unavailable";
	}
	return "none";
}
