/* schedule.h — a free slot as GET /schedules lists it (SPEC §3) and the body of that
 * answer: {"schedules":[...], "pagination":{...the appointment list's object...}}. */
#ifndef APPT_SCHEDULE_H
#define APPT_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "domain/appointment.h"
#include "domain/timeutil.h"
#include "base/rc.h"

/* One bookable slot of a country. */
struct sched_slot {
	int64_t schedule_id;             /* scheduleId, >= 1 */
	char country[APPT_COUNTRY_SIZE]; /* countryISO */
	int32_t center_id;               /* centerId */
	int32_t specialty_id;            /* specialtyId */
	int32_t medic_id;                /* medicId */
	char date[TU_ISO_SIZE];          /* when it starts: "YYYY-MM-DDTHH:MM:SS.mmmZ", UTC */
};

/* The GET /schedules body for the n slots of this page (ordered and sliced by the caller),
 * with pg's total, limit, offset and hasMore (its filters and next_cursor are not used:
 * nextCursor is null). *out is a heap string the caller frees. RC_INVAL when pg->limit < 1
 * or pg->offset < 0, RC_NOMEM. Thread-safe. */
enum rc sched_list_json(const struct sched_slot *items, size_t n, const struct appt_page *pg,
                        char **out) MUSTCHECK;

#endif
