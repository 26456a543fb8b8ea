/* db_schedules.h — the free slots of a country as GET /schedules lists them (SPEC §3): one
 * read-only statement, served by schedules_free_list_idx (sql/004), that returns a page and
 * the total of the same snapshot. */
#ifndef APPT_DB_SCHEDULES_H
#define APPT_DB_SCHEDULES_H

#include <stddef.h>
#include <stdint.h>

#include "domain/schedule.h"
#include "pg/db.h"
#include "base/rc.h"

#define DB_SLOTS_MAX 100 /* slots one call returns at most (the API's largest limit) */

/* Which free slots: a value struct the caller fills; strings are borrowed for the call. */
struct db_slot_query {
	const char *country;  /* two upper-case ASCII letters */
	const char *from;     /* window start, ISO-8601 (timestamptz text), inclusive */
	const char *to;       /* window end, ISO-8601, inclusive */
	int32_t center_id;    /* only this center; 0 = any */
	int32_t specialty_id; /* only this specialty; 0 = any */
	int32_t medic_id;     /* only this medic; 0 = any */
	int limit;            /* slots wanted, 1..DB_SLOTS_MAX */
	int64_t offset;       /* slots skipped first, >= 0 */
};

/* One page of free slots. */
struct db_slot_page {
	struct sched_slot items[DB_SLOTS_MAX]; /* items[0..n): by date, then scheduleId */
	size_t n;                              /* slots on this page */
	int64_t total;                         /* slots that match, all pages */
};

/* Lists the slots of q->country that are free (is_available), in the future and within
 * [q->from, q->to], with the optional center/specialty/medic filters, ordered by available_at
 * then schedule_id, q->offset skipped and at most q->limit returned, and their total, in one
 * statement (one snapshot). The page costs O(offset + limit) index entries; the total is an
 * index-only count of the window. A free slot is one no booking holds: a pending
 * appointment's slot stays listed until the worker books it. Bounded by timeout_ms (> 0) for
 * the whole call including a connection attempt; a connection that was up and is found dead
 * is reconnected once within the deadline. RC_OK with *out filled; RC_IO when the database
 * cannot be reached, RC_TIMEOUT past the deadline, RC_INVAL for bad input (nothing sent),
 * RC_FATAL for an unexpected answer (schema missing). Read-only. Not thread-safe (one
 * connection per thread). */
enum rc db_free_slots(struct db_conn *c, const struct db_slot_query *q, int timeout_ms,
		      struct db_slot_page *out, struct errbuf *eb) MUSTCHECK;

#endif
