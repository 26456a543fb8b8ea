/* appointment.c — status names, ids, JSON shapes of SPEC §3 and the SNS message
 * of SPEC §4. All JSON is written from jx_member tables (base/jx.h), so every string is
 * escaped; the list body is written as text (jx_write) without a json-c tree. */
#include "domain/appointment.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <uuid/uuid.h>

#include "base/jx.h"

static const char *const status_names[APPT_STATUS_COUNT] = {
	[APPT_PENDING] = "pending",
	[APPT_PROCESSED] = "processed",
	[APPT_COMPLETED] = "completed",
	[APPT_FAILED] = "failed",
	[APPT_CANCELLING] = "cancelling",
	[APPT_CANCELLED] = "cancelled",
};

const char *appt_status_name(enum appt_status st)
{
	if ((unsigned)st >= APPT_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

enum rc appt_status_parse(const char *name, enum appt_status *out)
{
	if (name == NULL)
		return RC_INVAL;
	for (int i = 0; i < APPT_STATUS_COUNT; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum appt_status)i;
			return RC_OK;
		}
	}
	return RC_INVAL;
}

bool appt_status_cancel_side(enum appt_status st)
{
	return st == APPT_CANCELLING || st == APPT_CANCELLED;
}

bool appt_status_is_final(enum appt_status st)
{
	switch (st) {
	case APPT_COMPLETED:
	case APPT_FAILED:
	case APPT_CANCELLED:
		return true;
	case APPT_PENDING:
	case APPT_PROCESSED:
	case APPT_CANCELLING:
		return false;
	}
	return false;
}

/* The waitFor names, by enum appt_wait; a named wait ends on the status of its name. */
static const char *const wait_names[] = {
	[APPT_WAIT_NONE] = "",
	[APPT_WAIT_COMPLETED] = "completed",
	[APPT_WAIT_FAILED] = "failed",
	[APPT_WAIT_CANCELLED] = "cancelled",
	[APPT_WAIT_ANY_FINAL] = "any-final",
};

enum rc appt_wait_parse(const char *name, enum appt_wait *out)
{
	if (name == NULL || name[0] == '\0')
		return RC_INVAL;
	for (size_t i = 0; i < sizeof(wait_names) / sizeof(wait_names[0]); i++) {
		if (strcmp(name, wait_names[i]) == 0) {
			*out = (enum appt_wait)i;
			return RC_OK;
		}
	}
	return RC_INVAL;
}

bool appt_wait_done(enum appt_wait w, enum appt_status st)
{
	switch (w) {
	case APPT_WAIT_NONE:
		return true;
	case APPT_WAIT_ANY_FINAL:
		return appt_status_is_final(st);
	case APPT_WAIT_COMPLETED:
	case APPT_WAIT_FAILED:
	case APPT_WAIT_CANCELLED:
		return strcmp(appt_status_name(st), wait_names[w]) == 0;
	}
	return false;
}

void appt_id_new(char out[APPT_ID_SIZE])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

static bool is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool appt_id_valid(const char *s)
{
	if (s == NULL || strnlen(s, APPT_ID_LEN + 1) != APPT_ID_LEN)
		return false;
	for (int i = 0; i < APPT_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_lhex(s[i])) {
			return false;
		}
	}
	/* Version nibble 4, variant bits 10xx. */
	return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

enum appt_insured_check appt_insured_pad(const char *s, size_t len, char out[APPT_INSURED_SIZE])
{
	out[0] = '\0';
	if (len == 0)
		return APPT_INSURED_EMPTY;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return APPT_INSURED_NOT_DIGITS;
	if (len > APPT_INSURED_LEN)
		return APPT_INSURED_TOO_LONG;
	memset(out, '0', APPT_INSURED_LEN - len);
	memcpy(out + APPT_INSURED_LEN - len, s, len);
	out[APPT_INSURED_LEN] = '\0';
	return APPT_INSURED_OK;
}

bool appt_insured_valid(const char *s)
{
	char padded[APPT_INSURED_SIZE];

	return s != NULL && strnlen(s, APPT_INSURED_LEN + 1) == APPT_INSURED_LEN &&
	       appt_insured_pad(s, APPT_INSURED_LEN, padded) == APPT_INSURED_OK;
}

/* Copies s into a field of size n; the caller has checked it fits. */
static void copy_field(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s);
}

enum rc appt_init_pending(struct appointment *a, const struct appt_request *req, const char *id,
                          int64_t now_ms)
{
	char ts[TU_ISO_SIZE];

	if (!appt_id_valid(id) || tu_format_ms(now_ms, ts) != RC_OK)
		return RC_INVAL;
	memset(a, 0, sizeof(*a));
	copy_field(a->appointment_id, sizeof(a->appointment_id), id);
	copy_field(a->insured_id, sizeof(a->insured_id), req->insured_id);
	a->schedule_id = req->schedule_id;
	copy_field(a->country, sizeof(a->country), req->country);
	a->status = APPT_PENDING;
	copy_field(a->created_at, sizeof(a->created_at), ts);
	copy_field(a->updated_at, sizeof(a->updated_at), ts);
	return RC_OK;
}

/* Each JSON shape below is a jx_member table (base/jx.h): members come out in table order,
 * which is the order clients see. */

enum rc appt_created_json(const struct appointment *a, char **out)
{
	/* the body the create answered, whatever the item's status is by now: a replay built
	 * from the stored item (a take-over) is SPEC's "same body" */
	const struct jx_member m[] = {
		{.key = "appointmentId", .type = JX_STR, .s = a->appointment_id},
		{.key = "status", .type = JX_STR, .s = appt_status_name(APPT_PENDING)},
		{.key = "message", .type = JX_STR, .s = APPT_CREATED_MESSAGE},
		{.key = "insuredId", .type = JX_STR, .s = a->insured_id},
		{.key = "scheduleId", .type = JX_INT, .i = a->schedule_id},
		{.key = "countryISO", .type = JX_STR, .s = a->country},
		{.key = "createdAt", .type = JX_STR, .s = a->created_at},
	};

	return jx_build_text(m, JX_COUNT(m), out);
}

/* NULL for "" so that the member is JSON null. */
static const char *or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

#define SCHED_MEMBERS 5 /* members of an item's schedule */
#define ITEM_MEMBERS 12 /* members of an item */

/* The table of one item (SPEC §3) into m, its schedule's into sched (which m points at):
 * the one shape appt_item_jobj, appt_item_json and appt_list_json write. */
static void item_members(const struct appointment *a, struct jx_member sched[SCHED_MEMBERS],
                         struct jx_member m[ITEM_MEMBERS])
{
	const struct appt_schedule *s = &a->schedule;
	const struct jx_member st[SCHED_MEMBERS] = {
		{.key = "scheduleId", .type = JX_INT, .i = s->schedule_id},
		{.key = "centerId", .type = JX_INT, .i = s->center_id},
		{.key = "specialtyId", .type = JX_INT, .i = s->specialty_id},
		{.key = "medicId", .type = JX_INT, .i = s->medic_id},
		{.key = "date", .type = JX_STR, .s = s->date},
	};
	const struct jx_member mt[ITEM_MEMBERS] = {
		{.key = "appointmentId", .type = JX_STR, .s = a->appointment_id},
		{.key = "insuredId", .type = JX_STR, .s = a->insured_id},
		{.key = "countryISO", .type = JX_STR, .s = a->country},
		{.key = "scheduleId", .type = JX_INT, .i = a->schedule_id},
		{.key = "status", .type = JX_STR, .s = appt_status_name(a->status)},
		{.key = "schedule", .type = JX_OBJ, .sub = a->has_schedule ? sched : NULL,
		 .nsub = SCHED_MEMBERS},
		{.key = "createdAt", .type = JX_STR, .s = a->created_at},
		{.key = "updatedAt", .type = JX_STR, .s = a->updated_at},
		{.key = "processedAt", .type = JX_STR, .s = or_null(a->processed_at)},
		{.key = "completedAt", .type = JX_STR, .s = or_null(a->completed_at)},
		{.key = "cancelledAt", .type = JX_STR, .s = or_null(a->cancelled_at)},
		{.key = "failureReason", .type = JX_STR, .s = a->failure_reason,
		 .omit = a->status != APPT_FAILED},
	};

	memcpy(sched, st, sizeof(st));
	memcpy(m, mt, sizeof(mt));
}

enum rc appt_item_jobj(const struct appointment *a, struct json_object **out)
{
	struct jx_member sched[SCHED_MEMBERS];
	struct jx_member m[ITEM_MEMBERS];

	item_members(a, sched, m);
	return jx_build(m, ITEM_MEMBERS, out);
}

enum rc appt_item_json(const struct appointment *a, char **out)
{
	struct jx_member sched[SCHED_MEMBERS];
	struct jx_member m[ITEM_MEMBERS];

	item_members(a, sched, m);
	return jx_build_text(m, ITEM_MEMBERS, out);
}

/* A count as a JSON integer (size_t may exceed int64). */
static int64_t size_int(size_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

#define PAGINATION_MEMBERS 8

/* The table of the "pagination" object into m. */
static void pagination_members(size_t n, const struct appt_page *pg,
                               struct jx_member m[PAGINATION_MEMBERS])
{
	size_t limit = (size_t)(pg->limit >= 1 ? pg->limit : 1);
	size_t offset = (size_t)(pg->offset >= 0 ? pg->offset : 0);
	const struct jx_member pagination[PAGINATION_MEMBERS] = {
		{.key = "count", .type = JX_INT, .i = size_int(n)},
		{.key = "total", .type = JX_INT, .i = size_int(pg->total)},
		{.key = "limit", .type = JX_INT, .i = size_int(limit)},
		{.key = "offset", .type = JX_INT, .i = size_int(offset)},
		{.key = "hasMore", .type = JX_BOOL, .b = pg->more},
		{.key = "totalPages", .type = JX_INT,
		 .i = size_int(pg->total / limit + (pg->total % limit != 0))},
		{.key = "currentPage", .type = JX_INT, .i = size_int(offset / limit + 1)},
		{.key = "nextCursor", .type = JX_STR, .s = pg->next_cursor},
	};

	memcpy(m, pagination, sizeof(pagination));
}

enum rc appt_pagination_jobj(size_t n, const struct appt_page *pg, struct json_object **out)
{
	struct jx_member m[PAGINATION_MEMBERS];

	pagination_members(n, pg, m);
	return jx_build(m, PAGINATION_MEMBERS, out);
}

/* Room reserved for a list body up front (an item with its schedule is ~560 bytes), so
 * that it is written without reallocations. */
#define LIST_HEAD_BYTES 512
#define LIST_ITEM_BYTES 640

enum rc appt_list_json(const struct appointment *items, size_t n, const struct appt_page *pg,
                       char **out)
{
	struct jx_member pagination[PAGINATION_MEMBERS];
	struct jx_member sched[SCHED_MEMBERS];
	struct jx_member item[ITEM_MEMBERS];
	const struct jx_member filters[] = {
		{.key = "status", .type = JX_STR, .s = pg->status},
		{.key = "startDate", .type = JX_STR, .s = pg->start_date},
		{.key = "endDate", .type = JX_STR, .s = pg->end_date},
	};
	const struct jx_member meta[] = {
		{.key = "totalAvailable", .type = JX_INT, .i = size_int(pg->total_available)},
		{.key = "totalFiltered", .type = JX_INT, .i = size_int(pg->total)},
		{.key = "filterApplied", .type = JX_BOOL,
		 .b = pg->status != NULL || pg->start_date != NULL || pg->end_date != NULL},
	};
	const struct jx_member rest[] = {
		{.key = "total", .type = JX_INT, .i = size_int(pg->total)},
		{.key = "pagination", .type = JX_OBJ, .sub = pagination, .nsub = PAGINATION_MEMBERS},
		{.key = "filters", .type = JX_OBJ, .sub = filters, .nsub = JX_COUNT(filters)},
		{.key = "meta", .type = JX_OBJ, .sub = meta, .nsub = JX_COUNT(meta)},
	};
	struct buf b;
	enum rc rc;

	*out = NULL;
	if (pg->limit < 1 || pg->offset < 0)
		return RC_INVAL;
	pagination_members(n, pg, pagination);
	/* {"appointments":[items],"total":..,"pagination":..,"filters":..,"meta":..}: the same
	 * bytes as json-c printing the tree of these tables */
	buf_init(&b, JX_TEXT_HARD_MAX);
	rc = buf_reserve(&b, LIST_HEAD_BYTES + (n < 1024 ? n : 1024) * LIST_ITEM_BYTES);
	if (rc == RC_OK)
		rc = buf_append(&b, "{\"appointments\":[", 17);
	for (size_t i = 0; i < n && rc == RC_OK; i++) {
		if (i > 0)
			rc = buf_append(&b, ",", 1);
		item_members(&items[i], sched, item);
		if (rc == RC_OK)
			rc = jx_write(&b, item, ITEM_MEMBERS);
	}
	if (rc == RC_OK)
		rc = buf_append(&b, "]", 1);
	if (rc == RC_OK)
		rc = jx_write_members(&b, rest, JX_COUNT(rest), false);
	if (rc == RC_OK)
		rc = buf_append(&b, "}", 1);
	if (rc == RC_OK) {
		*out = buf_take(&b);
		if (*out == NULL)
			rc = RC_NOMEM;
	}
	buf_cleanup(&b);
	if (rc == RC_INVAL)
		rc = RC_NOMEM; /* a body past JX_TEXT_HARD_MAX: not the caller's input */
	return rc;
}

/* 1-128 visible ASCII bytes, safe in a header and a log line. */
static bool reqid_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, APPT_REQID_SIZE);
	if (n == 0 || n >= APPT_REQID_SIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static bool all_zero(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

/* W3C traceparent version 00: "00-<32 hex>-<16 hex>-<2 hex>", ids not all zero. */
static bool traceparent_valid(const char *s)
{
	if (s == NULL || strnlen(s, APPT_TRACEPARENT_SIZE) != APPT_TRACEPARENT_SIZE - 1)
		return false;
	if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	for (int i = 3; i < 55; i++)
		if (i != 35 && i != 52 && !is_lhex(s[i]))
			return false;
	return !all_zero(s + 3, 32) && !all_zero(s + 36, 16);
}

void appt_trace_set(struct appt_trace *t, const char *request_id, const char *traceparent)
{
	memset(t, 0, sizeof(*t));
	if (reqid_valid(request_id))
		copy_field(t->request_id, sizeof(t->request_id), request_id);
	if (traceparent_valid(traceparent))
		copy_field(t->traceparent, sizeof(t->traceparent), traceparent);
}

const struct appt_trace *appt_trace_for(const struct appointment *a, enum appt_msg_kind kind)
{
	if (kind == APPT_MSG_CANCEL && a->cancel_trace.request_id[0] != '\0')
		return &a->cancel_trace;
	return &a->trace;
}

enum rc appt_msg_init(struct appt_message *m, const struct appointment *a, int64_t now_ms,
                      const char *request_id, const char *traceparent)
{
	char ts[TU_ISO_SIZE];

	if (tu_format_ms(now_ms, ts) != RC_OK)
		return RC_INVAL;
	memset(m, 0, sizeof(*m));
	m->kind = appt_status_cancel_side(a->status) ? APPT_MSG_CANCEL : APPT_MSG_CREATE;
	copy_field(m->appointment_id, sizeof(m->appointment_id), a->appointment_id);
	copy_field(m->country, sizeof(m->country), a->country);
	copy_field(m->insured_id, sizeof(m->insured_id), a->insured_id);
	m->schedule_id = a->schedule_id;
	copy_field(m->timestamp, sizeof(m->timestamp), ts);
	if (reqid_valid(request_id))
		copy_field(m->request_id, sizeof(m->request_id), request_id);
	if (traceparent_valid(traceparent))
		copy_field(m->traceparent, sizeof(m->traceparent), traceparent);
	return RC_OK;
}

const char *appt_msg_event_type(enum appt_msg_kind kind)
{
	return kind == APPT_MSG_CANCEL ? APPT_EVENT_CANCELLED : APPT_EVENT_CREATED;
}

enum rc appt_msg_encode(const struct appt_message *m, char **out)
{
	const struct jx_member mm[] = {
		{.key = "appointmentId", .type = JX_STR, .s = m->appointment_id},
		{.key = "countryISO", .type = JX_STR, .s = m->country},
		{.key = "eventType", .type = JX_STR, .s = appt_msg_event_type(m->kind)},
		{.key = "type", .type = JX_STR, .s = APPT_MSG_TYPE_CANCEL,
		 .omit = m->kind != APPT_MSG_CANCEL},
		{.key = "insuredId", .type = JX_STR, .s = m->insured_id},
		{.key = "scheduleId", .type = JX_INT, .i = m->schedule_id},
		{.key = "timestamp", .type = JX_STR, .s = m->timestamp},
		{.key = "requestId", .type = JX_STR, .s = m->request_id,
		 .omit = m->request_id[0] == '\0'},
		{.key = "traceparent", .type = JX_STR, .s = m->traceparent,
		 .omit = m->traceparent[0] == '\0'},
	};

	return jx_build_text(mm, JX_COUNT(mm), out);
}

/* A string member of exactly the text s (no embedded NUL), or an error. */
static enum rc msg_str(struct json_object *o, const char *key, const char **s, struct errbuf *eb)
{
	size_t len = 0;
	enum rc rc = jx_get_str(o, key, s, &len, eb);

	if (rc == RC_NOTFOUND)
		return eb_set(eb, RC_INVAL, "message has no %s", key);
	if (rc != RC_OK)
		return rc;
	if (strlen(*s) != len)
		return eb_set(eb, RC_INVAL, "%s contains a NUL", key);
	return RC_OK;
}

static bool country_code(const char *s)
{
	return strlen(s) == APPT_COUNTRY_LEN && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
	       s[1] <= 'Z';
}

/* Copies an optional string member when it passes ok(); drops it otherwise. */
static void msg_opt(struct json_object *o, const char *key, bool (*ok)(const char *), char *dst,
                    size_t n)
{
	const char *s = NULL;
	size_t len = 0;

	dst[0] = '\0';
	if (jx_get_str_opt(o, key, &s, &len, NULL) != RC_OK || s == NULL || strlen(s) != len)
		return;
	if (ok(s))
		copy_field(dst, n, s);
}

/* eventType names the kind; an optional "type" ("create" / "cancel") must agree. */
static enum rc msg_kind(struct json_object *o, enum appt_msg_kind *kind, struct errbuf *eb)
{
	static const char *const type_names[2] = {"create", APPT_MSG_TYPE_CANCEL};
	const char *s = NULL;
	size_t len = 0;
	enum rc rc = msg_str(o, "eventType", &s, eb);

	if (rc != RC_OK)
		return rc;
	if (strcmp(s, APPT_EVENT_CREATED) == 0)
		*kind = APPT_MSG_CREATE;
	else if (strcmp(s, APPT_EVENT_CANCELLED) == 0)
		*kind = APPT_MSG_CANCEL;
	else
		return eb_set(eb, RC_INVAL, "eventType is not %s or %s", APPT_EVENT_CREATED,
			      APPT_EVENT_CANCELLED);
	rc = jx_get_str_opt(o, "type", &s, &len, eb);
	if (rc != RC_OK)
		return rc;
	if (s != NULL && (strlen(s) != len || strcmp(s, type_names[*kind]) != 0))
		return eb_set(eb, RC_INVAL, "type does not agree with eventType %s",
			      appt_msg_event_type(*kind));
	return RC_OK;
}

enum rc appt_msg_decode(const char *text, size_t len, struct appt_message *m, struct errbuf *eb)
{
	struct json_object *o = NULL;
	const char *s = NULL;
	char dup[64];
	bool found = false;
	int64_t ms = 0;
	enum rc rc;

	memset(m, 0, sizeof(*m));
	rc = jx_parse(text, len, APPT_MSG_MAX, APPT_MSG_DEPTH, &o, eb);
	if (rc != RC_OK)
		goto out;
	if (!json_object_is_type(o, json_type_object)) {
		rc = eb_set(eb, RC_INVAL, "message is not a JSON object");
		goto out;
	}
	rc = jx_dup_key(text, len, dup, sizeof(dup), &found, eb);
	if (rc != RC_OK)
		goto out;
	if (found) {
		rc = eb_set(eb, RC_INVAL, "message has a duplicate key '%s'", dup);
		goto out;
	}

	rc = msg_kind(o, &m->kind, eb);
	if (rc != RC_OK)
		goto out;
	rc = msg_str(o, "appointmentId", &s, eb);
	if (rc != RC_OK)
		goto out;
	if (!appt_id_valid(s)) {
		rc = eb_set(eb, RC_INVAL, "appointmentId is not a lower-case UUID v4");
		goto out;
	}
	copy_field(m->appointment_id, sizeof(m->appointment_id), s);
	rc = msg_str(o, "countryISO", &s, eb);
	if (rc != RC_OK)
		goto out;
	if (!country_code(s)) {
		rc = eb_set(eb, RC_INVAL, "countryISO is not two upper-case letters");
		goto out;
	}
	copy_field(m->country, sizeof(m->country), s);
	rc = msg_str(o, "insuredId", &s, eb);
	if (rc != RC_OK)
		goto out;
	if (!appt_insured_valid(s)) {
		rc = eb_set(eb, RC_INVAL, "insuredId is not 5 digits");
		goto out;
	}
	copy_field(m->insured_id, sizeof(m->insured_id), s);
	rc = jx_get_int64(o, "scheduleId", &m->schedule_id, eb);
	if (rc == RC_NOTFOUND)
		rc = eb_set(eb, RC_INVAL, "message has no scheduleId");
	if (rc != RC_OK)
		goto out;
	if (m->schedule_id < 1) {
		rc = eb_set(eb, RC_INVAL, "scheduleId must be >= 1");
		goto out;
	}
	rc = msg_str(o, "timestamp", &s, eb);
	if (rc != RC_OK)
		goto out;
	rc = tu_parse_iso(s, &ms, NULL, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "timestamp");
		goto out;
	}
	rc = tu_format_ms(ms, m->timestamp);
	if (rc != RC_OK)
		goto out;
	msg_opt(o, "requestId", reqid_valid, m->request_id, sizeof(m->request_id));
	msg_opt(o, "traceparent", traceparent_valid, m->traceparent, sizeof(m->traceparent));
out:
	json_object_put(o);
	if (rc != RC_OK)
		memset(m, 0, sizeof(*m));
	return rc;
}
