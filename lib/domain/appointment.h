/* appointment.h — the appointment model of SPEC §3/§4: status names, ids, the
 * JSON shapes the API returns (201 body, list items, list page) and the SNS
 * "AppointmentCreated" message. Pure: no I/O except the random source of ids. */
#ifndef APPT_APPOINTMENT_H
#define APPT_APPOINTMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/timeutil.h"
#include "base/rc.h"

struct json_object;

#define APPT_ID_LEN 36         /* canonical UUID text: 8-4-4-4-12 lower-case hex */
#define APPT_ID_SIZE 37
#define APPT_INSURED_LEN 5     /* insuredId is exactly 5 ASCII digits once padded */
#define APPT_INSURED_SIZE 6
#define APPT_COUNTRY_LEN 2     /* ISO 3166-1 alpha-2, as configured ("PE", "CL") */
#define APPT_COUNTRY_SIZE 3
#define APPT_TS_SIZE TU_ISO_SIZE /* "2026-11-25T13:45:26.123Z" + NUL */
#define APPT_REASON_SIZE 64    /* failureReason: "schedule_not_found", ... */
#define APPT_REQID_SIZE 129    /* a request id: 1-128 printable ASCII */
#define APPT_TRACEPARENT_SIZE 56 /* W3C traceparent, version 00: 55 chars */
#define APPT_MSG_MAX 4096      /* an SNS message body is far smaller; bigger is rejected */
#define APPT_MSG_DEPTH 2       /* the message is flat (1); 1 spare level for ignored extras */
#define APPT_EVENT_CREATED "AppointmentCreated"
#define APPT_EVENT_CANCELLED "AppointmentCancelled" /* eventType of a cancel message */
#define APPT_MSG_TYPE_CANCEL "cancel"               /* its "type" member */
#define APPT_CREATED_MESSAGE "Appointment scheduling is in process"

/* Status machine of SPEC §4: pending -> processed -> completed, pending -> failed;
 * pending|processed|completed -> cancelling (API) -> cancelled (worker). */
enum appt_status {
	APPT_PENDING = 0, /* stored by the API, not yet booked by the worker */
	APPT_PROCESSED,   /* the worker booked the slot in the country database */
	APPT_COMPLETED,   /* the completion daemon closed it */
	APPT_FAILED,      /* the worker could not book it; see failure_reason */
	APPT_CANCELLING,  /* the API accepted a cancel; the worker has not released the slot */
	APPT_CANCELLED,   /* the worker released the slot (if any was held); final */
};
#define APPT_STATUS_COUNT 6

/* "pending", "processed", "completed", "failed", "cancelling", "cancelled"; "unknown" for a
 * bad value. */
const char *appt_status_name(enum appt_status st);
/* Exact, case-sensitive name to enum; RC_INVAL (out untouched) otherwise. */
enum rc appt_status_parse(const char *name, enum appt_status *out) MUSTCHECK;
/* True for cancelling and cancelled: the appointment must hold no slot, and a creation
 * message for it books nothing. */
bool appt_status_cancel_side(enum appt_status st);
/* True for the statuses a booking ends in (SPEC §4: completed, failed, cancelled): what
 * waitFor=any-final waits for. Every status must be classed here (the switch has no
 * default, so -Wswitch names a new one). */
bool appt_status_is_final(enum appt_status st);

/* What GET /appointments/{insuredId}/{appointmentId}?waitFor= waits for (SPEC §3). */
enum appt_wait {
	APPT_WAIT_NONE = 0,  /* no waitFor: answer at once */
	APPT_WAIT_COMPLETED, /* "completed": the status named so */
	APPT_WAIT_FAILED,    /* "failed" */
	APPT_WAIT_CANCELLED, /* "cancelled" */
	APPT_WAIT_ANY_FINAL, /* "any-final": any status appt_status_is_final calls final */
};
/* The waitFor value name ("completed", "failed", "cancelled", "any-final") to enum, exact
 * and case-sensitive; RC_INVAL (out untouched) otherwise. */
enum rc appt_wait_parse(const char *name, enum appt_wait *out) MUSTCHECK;
/* True when an item in status st ends a wait for w (always for APPT_WAIT_NONE). The named
 * waits match the status of that name. Pure. */
bool appt_wait_done(enum appt_wait w, enum appt_status st);

/* A validated POST /appointments body (see domain/validate.h). */
struct appt_request {
	char insured_id[APPT_INSURED_SIZE]; /* 5 ASCII digits, zero-padded */
	int64_t schedule_id;                /* >= 1 */
	char country[APPT_COUNTRY_SIZE];    /* one of the configured codes */
};

/* The booked slot, known once the worker has processed the appointment. */
struct appt_schedule {
	int64_t schedule_id;          /* same as the appointment's */
	int64_t center_id;            /* medical_centers id */
	int64_t specialty_id;         /* specialties id */
	int64_t medic_id;             /* medics id */
	char date[APPT_TS_SIZE];      /* the slot's start, ISO-8601 UTC with ms */
};

/* The ids of the API request that made a message (SPEC §7), kept on the item so that every
 * message about it carries them, also one the reconciler sends later. */
struct appt_trace {
	char request_id[APPT_REQID_SIZE];        /* X-Request-Id; "" = none */
	char traceparent[APPT_TRACEPARENT_SIZE]; /* W3C traceparent; "" = none */
};

/* One appointment as stored in DynamoDB. A value type: no heap, copy freely.
 * Nullable text fields are "" when null. */
struct appointment {
	char appointment_id[APPT_ID_SIZE];  /* UUID v4, lower case */
	char insured_id[APPT_INSURED_SIZE]; /* 5 digits */
	int64_t schedule_id;                /* >= 1 */
	char country[APPT_COUNTRY_SIZE];    /* countryISO */
	enum appt_status status;            /* where it is in the status machine */
	bool has_schedule;                  /* schedule is set (else JSON null) */
	struct appt_schedule schedule;      /* meaningful only when has_schedule */
	char created_at[APPT_TS_SIZE];      /* ISO-8601 UTC with ms */
	char updated_at[APPT_TS_SIZE];      /* ISO-8601 UTC with ms */
	char processed_at[APPT_TS_SIZE];    /* "" = null */
	char completed_at[APPT_TS_SIZE];    /* "" = null */
	char failure_reason[APPT_REASON_SIZE]; /* "" = none; sent only when failed */
	char cancelled_at[APPT_TS_SIZE];    /* "" = null; set with status cancelled */
	struct appt_trace trace;            /* the POST's ids; internal: in no API answer ("" in
					     * items stored before they were kept) */
	struct appt_trace cancel_trace;     /* the DELETE's that made it cancelling; internal */
};

/* Writes a fresh random UUID v4 (libuuid, lower case) into out. Thread-safe. */
void appt_id_new(char out[APPT_ID_SIZE]);
/* True when s is a canonical lower-case UUID v4 text (version 4, RFC 4122
 * variant), as appt_id_new makes. NULL is false. */
bool appt_id_valid(const char *s);

/* Why an insuredId text fails the SPEC §3 rule (1-5 ASCII digits). */
enum appt_insured_check {
	APPT_INSURED_OK = 0,     /* valid; the padded form was written */
	APPT_INSURED_EMPTY,      /* no characters */
	APPT_INSURED_NOT_DIGITS, /* a byte other than 0-9 (a NUL included) */
	APPT_INSURED_TOO_LONG,   /* more than APPT_INSURED_LEN digits */
};
/* The one insuredId rule: s[0..len) (may hold NUL bytes) as 1-5 ASCII digits, written
 * left-padded with '0' to APPT_INSURED_LEN into out ("" on failure). Pure. */
enum appt_insured_check appt_insured_pad(const char *s, size_t len, char out[APPT_INSURED_SIZE]);
/* True when s is an insuredId as stored: exactly APPT_INSURED_LEN ASCII digits. NULL is
 * false. */
bool appt_insured_valid(const char *s);

/* Fills a for a just-accepted request: status pending, the given id, createdAt =
 * updatedAt = now_ms, no schedule, null timestamps. RC_INVAL when id is not a
 * valid id or now_ms is outside the timeutil span. */
enum rc appt_init_pending(struct appointment *a, const struct appt_request *req,
                          const char *id, int64_t now_ms) MUSTCHECK;

/* The 201 body of SPEC §3 (also the idempotent replay body):
 * {"appointmentId","status","message","insuredId","scheduleId","countryISO","createdAt"};
 * status is always "pending", the status the create answered, whatever a's is now.
 * *out is a new heap string the caller frees. RC_NOMEM. */
enum rc appt_created_json(const struct appointment *a, char **out) MUSTCHECK;

/* One item of the GET list (SPEC §3) as a new json-c object the caller puts:
 * schedule and the nullable timestamps (processedAt, completedAt, cancelledAt) are JSON
 * null when unset; failureReason appears only when the status is failed. RC_NOMEM. */
enum rc appt_item_jobj(const struct appointment *a, struct json_object **out) MUSTCHECK;

/* One item alone, the body of GET /appointments/{insuredId}/{appointmentId}: the same
 * object as appt_item_jobj, as text. *out is a heap string the caller frees. RC_NOMEM. */
enum rc appt_item_json(const struct appointment *a, char **out) MUSTCHECK;

/* What the list body reports around its items. */
struct appt_page {
	size_t total;           /* items that match the filters */
	size_t total_available; /* items of this insuredId before status/date filters */
	int limit;              /* page size asked for, 1-100 */
	int64_t offset;         /* items before this page (offset, or the cursor's position) */
	bool more;              /* items follow this page (pagination.hasMore) */
	const char *next_cursor; /* pagination.nextCursor: where the next page starts, or NULL */
	const char *status;     /* status filter as given, or NULL */
	const char *start_date; /* normalised startDate filter, or NULL */
	const char *end_date;   /* normalised endDate filter, or NULL */
};

/* The "pagination" object of a list answer (SPEC §3; GET /schedules has the same) for a
 * page of n items: {count, total, limit, offset, hasMore, totalPages, currentPage,
 * nextCursor}. A limit below 1 counts as 1, a negative offset as 0. A new json-c object the
 * caller puts. RC_NOMEM. */
enum rc appt_pagination_jobj(size_t n, const struct appt_page *pg,
                             struct json_object **out) MUSTCHECK;

/* The whole GET /appointments/{insuredId} body of SPEC §3 for the n items of
 * this page (already filtered, ordered and sliced by the caller): appointments,
 * total, pagination {count, total, limit, offset, hasMore, totalPages,
 * currentPage, nextCursor}, filters, meta. *out is a heap string the caller frees.
 * RC_INVAL when limit < 1 or offset < 0, RC_NOMEM. */
enum rc appt_list_json(const struct appointment *items, size_t n, const struct appt_page *pg,
                       char **out) MUSTCHECK;

/* What a country-topic message asks the worker to do. */
enum appt_msg_kind {
	APPT_MSG_CREATE = 0, /* eventType AppointmentCreated: book the slot */
	APPT_MSG_CANCEL,     /* eventType AppointmentCancelled, "type": "cancel": release it */
};

/* The SNS message of SPEC §4: a creation, or a cancel (the same members plus "type"). */
struct appt_message {
	enum appt_msg_kind kind;             /* creation or cancel */
	char appointment_id[APPT_ID_SIZE];   /* UUID v4 */
	char country[APPT_COUNTRY_SIZE];     /* countryISO: 2 upper-case letters */
	char insured_id[APPT_INSURED_SIZE];  /* 5 digits */
	int64_t schedule_id;                 /* >= 1 */
	char timestamp[APPT_TS_SIZE];        /* when it was published, ISO-8601 UTC ms */
	char request_id[APPT_REQID_SIZE];    /* optional: the API request id, "" = absent */
	char traceparent[APPT_TRACEPARENT_SIZE]; /* optional: W3C traceparent, "" = absent */
};

/* Sets *t to request_id and traceparent, each copied when valid (the rules of a message's:
 * 1-128 visible ASCII bytes; a W3C traceparent of version 00) and "" otherwise, NULL
 * included. Pure. */
void appt_trace_set(struct appt_trace *t, const char *request_id, const char *traceparent);

/* The ids a message of kind about a carries when it names none of its own (the reconciler's,
 * one sent before the ids were kept): a cancel's are the DELETE's (a->cancel_trace), or the
 * POST's when the item has no DELETE's request id (cancelled before they were kept); a
 * creation's are the POST's. Borrowed from a. */
const struct appt_trace *appt_trace_for(const struct appointment *a, enum appt_msg_kind kind);

/* Fills m from a, with the given publish time; request_id and traceparent may
 * be NULL (absent), are copied when valid and dropped otherwise. The kind follows a's
 * status: a cancel for a cancelling or cancelled appointment (the message that moves it
 * on), a creation otherwise. RC_INVAL for a time outside the timeutil span. */
enum rc appt_msg_init(struct appt_message *m, const struct appointment *a, int64_t now_ms,
                      const char *request_id, const char *traceparent) MUSTCHECK;

/* {"appointmentId","countryISO","eventType":"AppointmentCreated","insuredId",
 *  "scheduleId","timestamp"} plus "requestId"/"traceparent" when set; a cancel has
 * eventType "AppointmentCancelled" and "type": "cancel" after it.
 * *out is a heap string the caller frees. RC_NOMEM. */
enum rc appt_msg_encode(const struct appt_message *m, char **out) MUSTCHECK;

/* The eventType (and SNS eventType attribute) of a kind. Never NULL. */
const char *appt_msg_event_type(enum appt_msg_kind kind);

/* Decodes and checks a message text (at most APPT_MSG_MAX bytes; one object,
 * strict JSON, no duplicate keys): appointmentId a UUID v4, countryISO two
 * upper-case letters (the caller checks it is its queue's country), eventType
 * exactly "AppointmentCreated" or "AppointmentCancelled" (m->kind), an optional "type"
 * that must agree ("create" / "cancel"), insuredId exactly 5 digits, scheduleId an
 * integer >= 1, timestamp an ISO-8601 instant (stored normalised). requestId
 * and traceparent are optional; an invalid one is dropped, not fatal, so a
 * tracing defect never sends a valid booking to the error queue. Other extra
 * members are ignored for forward compatibility. RC_INVAL with the reason in
 * eb, RC_NOMEM. Thread-safe. */
enum rc appt_msg_decode(const char *text, size_t len, struct appt_message *m,
                        struct errbuf *eb) MUSTCHECK;


#endif
