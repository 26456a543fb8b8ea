/* validate_schedules.c — the GET /schedules query rules. Built on the checks validate.c
 * shares (validate_priv.h), so a parameter fails here exactly as in the appointment list. */
#include "domain/validate_schedules.h"

#include <string.h>

#include "domain/validate_priv.h"

/* Parameter names, in the order their errors are reported. */
enum sched_param {
	SP_COUNTRY = 0,
	SP_FROM,
	SP_TO,
	SP_CENTER,
	SP_SPECIALTY,
	SP_MEDIC,
	SP_LIMIT,
	SP_OFFSET,
	SP_COUNT
};
static const char *const sched_params[SP_COUNT] = {"countryISO", "from",    "to",
                                                   "centerId",   "specialtyId", "medicId",
                                                   "limit",      "offset"};

static int param_index(const char *k)
{
	for (int j = 0; j < SP_COUNT; j++)
		if (strcmp(k, sched_params[j]) == 0)
			return j;
	return -1;
}

/* Applies the rule of parameter q to its value v. */
static void check_param(enum sched_param q, const char *v, const char *const *countries,
                        size_t n_countries, struct val_schedule_query *out, bool *has_from,
                        bool *has_to, struct val_errors *e)
{
	const char *f = sched_params[q];

	switch (q) {
	case SP_COUNTRY:
		val_check_country(f, v, strlen(v), countries, n_countries, out->country, e);
		break;
	case SP_FROM:
		*has_from = val_check_date(f, v, false, &out->from_ms, out->from, e);
		break;
	case SP_TO:
		*has_to = val_check_date(f, v, true, &out->to_ms, out->to, e);
		break;
	case SP_CENTER:
		val_check_count(f, v, 1, VAL_SCHED_ID_MAX, &out->center_id, e);
		break;
	case SP_SPECIALTY:
		val_check_count(f, v, 1, VAL_SCHED_ID_MAX, &out->specialty_id, e);
		break;
	case SP_MEDIC:
		val_check_count(f, v, 1, VAL_SCHED_ID_MAX, &out->medic_id, e);
		break;
	case SP_LIMIT:
		val_check_count(f, v, VAL_LIMIT_MIN, VAL_LIMIT_MAX, &out->limit, e);
		break;
	case SP_OFFSET:
		val_check_count(f, v, 0, VAL_OFFSET_MAX, &out->offset, e);
		break;
	case SP_COUNT:
		break;
	}
}

/* The window the query did not give: from = now, to = from + VAL_SCHED_WINDOW_MS (within
 * the span timeutil writes). */
static void default_window(int64_t now_ms, bool has_from, bool has_to,
                           struct val_schedule_query *out)
{
	if (!has_from) {
		out->from_ms = now_ms < 0 ? 0 : now_ms > TU_MAX_MS ? TU_MAX_MS : now_ms;
		if (tu_format_ms(out->from_ms, out->from) != RC_OK)
			out->from[0] = '\0';
	}
	if (!has_to) {
		out->to_ms = out->from_ms > TU_MAX_MS - VAL_SCHED_WINDOW_MS
		                     ? TU_MAX_MS
		                     : out->from_ms + VAL_SCHED_WINDOW_MS;
		if (tu_format_ms(out->to_ms, out->to) != RC_OK)
			out->to[0] = '\0';
	}
}

enum rc val_schedule_query(const struct val_kv *params, size_t n, const char *const *countries,
                           size_t n_countries, int64_t now_ms, struct val_schedule_query *out,
                           struct val_errors *errs)
{
	const char *val[SP_COUNT] = {NULL};
	bool seen[SP_COUNT] = {false};
	bool dup[SP_COUNT] = {false};
	bool has_from = false;
	bool has_to = false;
	size_t before = errs->count + errs->dropped;
	char echo[VAL_ECHO_MAX + 4];

	memset(out, 0, sizeof(*out));
	out->limit = VAL_LIMIT_DEFAULT;
	if (val_query_too_many(n, errs))
		return RC_INVAL;
	for (size_t i = 0; i < n; i++) {
		int q = param_index(params[i].key != NULL ? params[i].key : "");

		if (q < 0)
			continue;
		dup[q] = seen[q];
		seen[q] = true;
		val[q] = params[i].value != NULL ? params[i].value : "";
	}
	for (int q = 0; q < SP_COUNT; q++) {
		const char *f = sched_params[q];

		if (dup[q]) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_DUPLICATE_FIELD,
			               "%s must appear only once", f);
		} else if (!seen[q]) {
			if (q == SP_COUNTRY)
				val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_REQUIRED,
				               "%s is required", f);
		} else if (strnlen(val[q], VAL_QUERY_VALUE_MAX + 1) > VAL_QUERY_VALUE_MAX) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_LONG,
			               "%s must be at most %d bytes", f, VAL_QUERY_VALUE_MAX);
		} else {
			check_param((enum sched_param)q, val[q], countries, n_countries, out, &has_from,
			            &has_to, errs);
		}
	}
	if (has_from && has_to && out->from_ms > out->to_ms)
		val_errors_add(errs, VAL_VALIDATION_ERROR, sched_params[SP_FROM], VAL_CODE_INVALID_RANGE,
		               "from must not be after to");
	/* Unknown names last, as in the list query, each time one appears. */
	for (size_t i = 0; i < n; i++) {
		const char *k = params[i].key != NULL ? params[i].key : "";

		if (param_index(k) >= 0)
			continue;
		val_echo(k, strlen(k), echo, sizeof(echo));
		val_errors_add(errs, VAL_VALIDATION_ERROR, "unknown", VAL_CODE_UNKNOWN_FIELD,
		               "Unknown query parameter '%s'", echo);
	}
	if (errs->count + errs->dropped > before)
		return RC_INVAL;
	default_window(now_ms, has_from, has_to, out);
	return RC_OK;
}
