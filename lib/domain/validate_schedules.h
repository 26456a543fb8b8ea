/* validate_schedules.h — the query of GET /schedules (SPEC §3 "free slots"): which
 * country, which window of time, which center/specialty/medic, which page. Same error
 * model as validate.h (every failing parameter, stable codes; docs/validation.md). */
#ifndef APPT_VALIDATE_SCHEDULES_H
#define APPT_VALIDATE_SCHEDULES_H

#include <stdint.h>

#include "domain/validate.h"

#define VAL_SCHED_WINDOW_MS (30LL * 86400000LL) /* default to = from + 30 days */
#define VAL_SCHED_ID_MAX 2147483647L             /* centerId etc. are PostgreSQL integers */

/* GET /schedules query, validated and defaulted. */
struct val_schedule_query {
	char country[APPT_COUNTRY_SIZE]; /* countryISO: one of the configured codes */
	int64_t from_ms;                 /* window start, epoch ms UTC, inclusive (default now) */
	char from[TU_ISO_SIZE];          /* from_ms as canonical ISO text */
	int64_t to_ms;                   /* window end, epoch ms UTC, inclusive (default from +
	                                    30 days; a bare date means the end of that day) */
	char to[TU_ISO_SIZE];            /* to_ms as canonical ISO text */
	int center_id;                   /* centerId filter, 1..VAL_SCHED_ID_MAX; 0 = none */
	int specialty_id;                /* specialtyId filter; 0 = none */
	int medic_id;                    /* medicId filter; 0 = none */
	int limit;                       /* 1-100, default 20 */
	int offset;                      /* 0-VAL_OFFSET_MAX, default 0 */
};

/* Validates params[0..n) (countryISO, from, to, centerId, specialtyId, medicId, limit,
 * offset) into *out, countries[0..n_countries) being the configured codes and now_ms the
 * current time (epoch ms, for the default window). countryISO is required; any other name,
 * a repeated name, an empty or overlong value, from after to (both given), more than
 * VAL_QUERY_MAX parameters are errors. Appends to errs (not initialised here). RC_OK, or
 * RC_INVAL with errs->result VAL_VALIDATION_ERROR. Pure and thread-safe. */
enum rc val_schedule_query(const struct val_kv *params, size_t n, const char *const *countries,
                           size_t n_countries, int64_t now_ms, struct val_schedule_query *out,
                           struct val_errors *errs) MUSTCHECK;

#endif
