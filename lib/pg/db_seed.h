/* db_seed.h — reference data and bookable slots for a country database, relative to today so
 * the data never goes stale (`appointmentctl seed [--count N]`, SPEC §4). */
#ifndef APPT_DB_SEED_H
#define APPT_DB_SEED_H

#include "pg/db.h"
#include "base/rc.h"

#define DB_SEED_FIRST_ID 100        /* schedule ids run DB_SEED_FIRST_ID .. + count - 1 */
#define DB_SEED_DEFAULT_COUNT 100   /* appointmentctl's default --count */
#define DB_SEED_MAX_COUNT 100000    /* largest count accepted */

/* What one seed run did to the schedules (reference rows are not counted). */
struct db_seed_result {
	long inserted;  /* new schedule rows */
	long refreshed; /* free, unbooked rows moved to their current date (or medic, center) */
	long kept;      /* rows left as they were: already current, booked, or another country's */
};

/* Upserts the reference data (3 medical centers, 4 specialties, 6 medics; fixed ids and
 * names) and the schedules DB_SEED_FIRST_ID .. DB_SEED_FIRST_ID + count - 1 for country.
 * Each id's slot is a pure function of the id: day 1 + (id - 100) / 108
 * counted from today (UTC, per the server's clock), 08:00-16:30 UTC in 30-minute steps, one
 * of 6 medics (with that medic's center and specialty), so every slot is in the future and
 * no medic is in two places at once. Idempotent: a rerun on the same day changes nothing; a
 * rerun on a later day moves the free, unbooked slots forward to their new dates; a slot
 * that is booked (is_available false or a live appointment) or belongs to another country is
 * never touched. count outside 1..DB_SEED_MAX_COUNT or a country that is not two upper-case
 * letters is RC_INVAL. Reference rows go in one transaction, schedules in one transaction per
 * 1000 ids (so a live booking waits at most for one batch's row locks); without a client-side
 * or statement timeout. out (may be NULL) counts what was committed, also after a failure,
 * which leaves the earlier batches in place: run it again. Errors as db_migrate's. Not
 * thread-safe on c. */
enum rc db_seed(struct db_conn *c, const char *country, long count, struct db_seed_result *out,
		struct errbuf *eb) MUSTCHECK;

#endif
