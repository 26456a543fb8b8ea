/* store_item.c — appointment <-> DynamoDB item. */
#include "app/store_item.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb_attr.h"

enum rc store_schedule_value(const struct appt_schedule *s, struct json_object **val)
{
	struct json_object *m = json_object_new_object();
	enum rc rc;

	*val = NULL;
	if (m == NULL)
		return RC_NOMEM;
	rc = ddb_put_int64(m, "centerId", s->center_id);
	if (rc == RC_OK)
		rc = ddb_put_int64(m, "specialtyId", s->specialty_id);
	if (rc == RC_OK)
		rc = ddb_put_int64(m, "medicId", s->medic_id);
	if (rc == RC_OK)
		rc = ddb_put_s(m, "date", s->date);
	if (rc != RC_OK) {
		json_object_put(m);
		return rc;
	}
	return ddb_val_m(m, val);
}

enum rc store_item_from_appt(const struct appointment *a, struct json_object **item)
{
	struct json_object *it = json_object_new_object();
	struct json_object *sched = NULL;
	enum rc rc;

	*item = NULL;
	if (it == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(it, "appointmentId", a->appointment_id);
	if (rc == RC_OK)
		rc = ddb_put_s(it, "insuredId", a->insured_id);
	if (rc == RC_OK)
		rc = ddb_put_int64(it, "scheduleId", a->schedule_id);
	if (rc == RC_OK)
		rc = ddb_put_s(it, "countryISO", a->country);
	if (rc == RC_OK)
		rc = ddb_put_s(it, "status", appt_status_name(a->status));
	if (rc == RC_OK)
		rc = ddb_put_s(it, "createdAt", a->created_at);
	if (rc == RC_OK)
		rc = ddb_put_s(it, "updatedAt", a->updated_at);
	if (rc == RC_OK)
		rc = ddb_put_s_or_null(it, "processedAt", a->processed_at[0] ? a->processed_at : NULL);
	if (rc == RC_OK && a->completed_at[0] != '\0')
		rc = ddb_put_s(it, "completedAt", a->completed_at);
	if (rc == RC_OK && a->failure_reason[0] != '\0')
		rc = ddb_put_s(it, "failureReason", a->failure_reason);
	if (rc == RC_OK && a->cancelled_at[0] != '\0')
		rc = ddb_put_s(it, "cancelledAt", a->cancelled_at);
	if (rc == RC_OK && a->has_schedule) {
		rc = store_schedule_value(&a->schedule, &sched);
		if (rc == RC_OK)
			rc = ddb_put(it, "schedule", sched);
	}
	if (rc != RC_OK) {
		json_object_put(it);
		return rc;
	}
	*item = it;
	return RC_OK;
}

/* Copies an optional string attribute into a fixed field ("" when absent/NULL). */
static enum rc copy_opt(struct json_object *item, const char *name, char *dst, size_t n,
			struct errbuf *eb)
{
	const char *s = NULL;
	size_t len = 0;
	enum rc rc = ddb_get_s_opt(item, name, &s, &len, eb);

	if (rc != RC_OK)
		return rc;
	if (s == NULL) {
		dst[0] = '\0';
		return RC_OK;
	}
	if (len >= n)
		return eb_set(eb, RC_INVAL, "%s: %zu bytes, at most %zu expected", name, len, n - 1);
	memcpy(dst, s, len + 1);
	return RC_OK;
}

static enum rc copy_req(struct json_object *item, const char *name, char *dst, size_t n,
			struct errbuf *eb)
{
	enum rc rc = copy_opt(item, name, dst, n, eb);

	if (rc == RC_OK && dst[0] == '\0')
		return eb_set(eb, RC_INVAL, "%s is missing", name);
	return rc;
}

static enum rc read_schedule(struct json_object *item, struct appointment *a, struct errbuf *eb)
{
	struct json_object *m = NULL;
	enum ddb_type t = ddb_type_of(item, "schedule");
	enum rc rc;

	a->has_schedule = false;
	if (t == DDB_T_NONE || t == DDB_T_NULL)
		return RC_OK;
	rc = ddb_get_m(item, "schedule", &m, eb);
	if (rc == RC_OK)
		rc = ddb_get_int64(m, "centerId", &a->schedule.center_id, eb);
	if (rc == RC_OK)
		rc = ddb_get_int64(m, "specialtyId", &a->schedule.specialty_id, eb);
	if (rc == RC_OK)
		rc = ddb_get_int64(m, "medicId", &a->schedule.medic_id, eb);
	if (rc == RC_OK)
		rc = copy_req(m, "date", a->schedule.date, sizeof(a->schedule.date), eb);
	if (rc != RC_OK)
		return rc;
	a->schedule.schedule_id = a->schedule_id;
	a->has_schedule = true;
	return RC_OK;
}

enum rc store_appt_from_item(struct json_object *item, struct appointment *a, struct errbuf *eb)
{
	char status[16];
	enum rc rc;

	memset(a, 0, sizeof(*a));
	rc = copy_req(item, "appointmentId", a->appointment_id, sizeof(a->appointment_id), eb);
	if (rc == RC_OK)
		rc = copy_req(item, "insuredId", a->insured_id, sizeof(a->insured_id), eb);
	if (rc == RC_OK)
		rc = ddb_get_int64(item, "scheduleId", &a->schedule_id, eb);
	if (rc == RC_OK)
		rc = copy_req(item, "countryISO", a->country, sizeof(a->country), eb);
	if (rc == RC_OK)
		rc = copy_req(item, "status", status, sizeof(status), eb);
	if (rc == RC_OK && appt_status_parse(status, &a->status) != RC_OK)
		rc = eb_set(eb, RC_INVAL, "status '%s' is not a known status", status);
	if (rc == RC_OK)
		rc = copy_req(item, "createdAt", a->created_at, sizeof(a->created_at), eb);
	if (rc == RC_OK)
		rc = copy_opt(item, "updatedAt", a->updated_at, sizeof(a->updated_at), eb);
	if (rc == RC_OK)
		rc = copy_opt(item, "processedAt", a->processed_at, sizeof(a->processed_at), eb);
	if (rc == RC_OK)
		rc = copy_opt(item, "completedAt", a->completed_at, sizeof(a->completed_at), eb);
	if (rc == RC_OK)
		rc = copy_opt(item, "failureReason", a->failure_reason, sizeof(a->failure_reason), eb);
	if (rc == RC_OK)
		rc = copy_opt(item, "cancelledAt", a->cancelled_at, sizeof(a->cancelled_at), eb);
	if (rc == RC_OK)
		rc = read_schedule(item, a, eb);
	if (rc == RC_OK && a->updated_at[0] == '\0')
		memcpy(a->updated_at, a->created_at, sizeof(a->updated_at));
	return rc;
}
