/* db_booking.h — the worker's booking of a slot (SPEC §4: one transaction, idempotent under
 * redelivery, race-safe) and the API's read-only pre-check of a schedule. */
#ifndef APPT_DB_BOOKING_H
#define APPT_DB_BOOKING_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/timeutil.h"
#include "pg/db.h"
#include "base/rc.h"

#define DB_CREATED_AT_MAX 64    /* longest createdAt text passed on to PostgreSQL */

/* A slot as the booking reports it (the "schedule" map of the DynamoDB item). */
struct db_schedule {
	int64_t schedule_id;           /* >= 1 */
	int32_t center_id;             /* medical_centers.center_id */
	int32_t specialty_id;          /* specialties.specialty_id */
	int32_t medic_id;              /* medics.medic_id */
	char available_at[TU_ISO_SIZE]; /* "YYYY-MM-DDTHH:MM:SS.mmmZ", UTC; a longer text
					 * from the server is an error, never cut */
};

/* What a booking ended as. Business outcomes, all with RC_OK: errors are rc values. */
enum db_booking_outcome {
	DB_BOOK_NONE = 0,        /* not set (only after a failed call) */
	DB_BOOK_BOOKED,          /* this call inserted the appointment and took the slot */
	DB_BOOK_ALREADY,         /* the appointment already holds this slot (redelivery):
				  * success, nothing written */
	DB_BOOK_NOT_FOUND,       /* no schedule with that id in that country; nothing written */
	DB_BOOK_UNAVAILABLE,     /* the slot is in the past or held by another appointment;
				  * nothing written */
	DB_BOOK_CANCELLED,       /* the appointment's booking of this slot was released (a
				  * cancel): it is not booked again; nothing written */
};

struct db_booking_result {
	enum db_booking_outcome outcome;
	struct db_schedule schedule;   /* filled for DB_BOOK_BOOKED and DB_BOOK_ALREADY */
};

/* Outcome of the API's check. */
enum db_check_status {
	DB_CHECK_NONE = 0,       /* not set (only after a failed call) */
	DB_CHECK_AVAILABLE,      /* exists in that country, in the future, free */
	DB_CHECK_NOT_FOUND,      /* no schedule with that id in that country */
	DB_CHECK_UNAVAILABLE,    /* in the past or already booked */
};

/* Books schedule_id in country for the appointment, in ONE transaction: the slot is taken
 * (is_available = false) only if it exists in that country, is still available and lies in
 * the future, and the appointment row is inserted ON CONFLICT (appointment_id) DO NOTHING.
 * Concurrent bookings of one slot serialise on the schedule row: exactly one gets
 * DB_BOOK_BOOKED, the others DB_BOOK_UNAVAILABLE; a redelivered appointment gets
 * DB_BOOK_ALREADY and no second row; one whose booking of the slot was released gets
 * DB_BOOK_CANCELLED (never booked twice). NOT_FOUND and UNAVAILABLE write nothing.
 * Inputs: appointment_id a UUID in canonical text form, insured_id 5 ASCII digits,
 * schedule_id >= 1, country two upper-case letters, created_at_iso an ISO-8601 timestamp
 * (at most DB_CREATED_AT_MAX bytes). RC_OK with out->outcome set; otherwise RC_INVAL (bad
 * input, or the appointment id already holds another schedule: permanent), RC_IO /
 * RC_TIMEOUT / RC_RETRY (transient: connection, deadline, serialization; nothing or the
 * whole booking was committed, so a retry is safe), RC_CONFLICT, RC_FATAL (schema missing,
 * a bug). Uses the connection's default query timeout per statement. Not thread-safe (one
 * connection per thread). */
enum rc db_book_appointment(struct db_conn *c, const char *appointment_id,
			    const char *insured_id, int64_t schedule_id, const char *country,
			    const char *created_at_iso, struct db_booking_result *out,
			    struct errbuf *eb) MUSTCHECK;

/* Gives up the booking appointment_id holds, if any, in ONE transaction: its row turns
 * 'cancelled' and its slot is available again. The worker's compensation for a message whose
 * appointment is not in the table (SPEC §4: no slot is held by a missing appointment; the
 * item may have been deleted after an earlier delivery booked it). *released says whether
 * there was a live booking; a second call finds none. Errors as db_book_appointment (RC_INVAL
 * for an id that is not a UUID; transient kinds are safe to retry). */
enum rc db_release_booking(struct db_conn *c, const char *appointment_id, bool *released,
			   struct errbuf *eb) MUSTCHECK;

/* The API's read-only check of schedule_id in country, bounded by timeout_ms (> 0) for the
 * whole call including a connection attempt. RC_OK with *status (and *details, may be NULL,
 * filled when the schedule exists); RC_IO when the database cannot be reached (the API then
 * accepts the request and lets the worker decide); a connection that was up and is found
 * dead is first reconnected once within the deadline (a restarted server is reachable); RC_TIMEOUT past the deadline, RC_INVAL
 * for bad input. Writes nothing. Not thread-safe (one connection per thread). */
enum rc db_check_schedule(struct db_conn *c, int64_t schedule_id, const char *country,
			  int timeout_ms, enum db_check_status *status,
			  struct db_schedule *details, struct errbuf *eb) MUSTCHECK;

/* "booked", "already_booked", "schedule_not_found", "schedule_unavailable" (these two
 * are the failureReason values of SPEC §4), "cancelled", "none". Never NULL. */
const char *db_booking_outcome_name(enum db_booking_outcome o);

/* "available", "not_found", "unavailable", "none". Never NULL. */
const char *db_check_status_name(enum db_check_status s);

#endif
