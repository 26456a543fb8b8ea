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

/* The ids of t under rid_name and tp_name, each only when set. */
static enum rc put_trace(struct json_object *it, const char *rid_name, const char *tp_name,
			 const struct appt_trace *t)
{
	enum rc rc = RC_OK;

	if (t->request_id[0] != '\0')
		rc = ddb_put_s(it, rid_name, t->request_id);
	if (rc == RC_OK && t->traceparent[0] != '\0')
		rc = ddb_put_s(it, tp_name, t->traceparent);
	return rc;
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
	if (rc == RC_OK)
		rc = put_trace(it, STORE_ATTR_REQUEST_ID, STORE_ATTR_TRACEPARENT, &a->trace);
	if (rc == RC_OK)
		rc = put_trace(it, STORE_ATTR_CANCEL_REQUEST_ID, STORE_ATTR_CANCEL_TRACEPARENT,
			       &a->cancel_trace);
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

/* A string attribute as text, or NULL when absent, of another type, or holding a NUL. */
static const char *text_or_null(struct json_object *item, const char *name)
{
	const char *s = NULL;
	size_t len = 0;

	if (ddb_type_of(item, name) != DDB_T_S || ddb_get_s(item, name, &s, &len, NULL) != RC_OK ||
	    strlen(s) != len)
		return NULL;
	return s;
}

/* The ids under rid_name and tp_name into *t. Tracing never makes an item unreadable: an
 * absent (an item stored before the ids were kept), mistyped or invalid one is "". */
static void read_trace(struct json_object *item, const char *rid_name, const char *tp_name,
		       struct appt_trace *t)
{
	appt_trace_set(t, text_or_null(item, rid_name), text_or_null(item, tp_name));
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
	if (rc == RC_OK) {
		read_trace(item, STORE_ATTR_REQUEST_ID, STORE_ATTR_TRACEPARENT, &a->trace);
		read_trace(item, STORE_ATTR_CANCEL_REQUEST_ID, STORE_ATTR_CANCEL_TRACEPARENT,
			   &a->cancel_trace);
	}
	if (rc == RC_OK && a->updated_at[0] == '\0')
		memcpy(a->updated_at, a->created_at, sizeof(a->updated_at));
	return rc;
}

enum rc store_public_names(struct json_object **names)
{
	enum rc rc = ddb_name(names, "#s", "status");

	return rc == RC_OK ? ddb_name(names, "#sc", "schedule") : rc;
}
