/* apierr.h — the error codes of SPEC §3 (status, errorCode, default sentence)
 * and the one error body shape every API error uses:
 * {"error":{"errorCode","message","requestId","fields"?}}. */
#ifndef APPT_APIERR_H
#define APPT_APIERR_H

#include "base/rc.h"

struct json_object;

/* One row of the SPEC §3 error table each. */
enum apierr_code {
	APIERR_VALIDATION_ERROR = 0, /* 400: a field, path or query parameter fails its rule */
	APIERR_INVALID_JSON,         /* 400: body not JSON / not one JSON object / empty */
	APIERR_FORBIDDEN,            /* 403: API keys on and X-Api-Key missing or unknown */
	APIERR_ROUTE_NOT_FOUND,      /* 404: unknown route */
	APIERR_SCHEDULE_NOT_FOUND,   /* 404: no schedule with that id in that country */
	APIERR_APPOINTMENT_NOT_FOUND, /* 404: no such appointment for that insuredId */
	APIERR_METHOD_NOT_ALLOWED,   /* 405: known route, other method */
	APIERR_SCHEDULE_UNAVAILABLE, /* 409: schedule in the past or already booked */
	APIERR_IDEMPOTENCY_CONFLICT, /* 409: Idempotency-Key reused with another body */
	APIERR_APPOINTMENT_NOT_CANCELLABLE, /* 409: cancel of a failed appointment */
	APIERR_PAYLOAD_TOO_LARGE,    /* 413: body over the limit */
	APIERR_UNSUPPORTED_MEDIA_TYPE, /* 415: POST without a JSON content type */
	APIERR_RATE_LIMIT_EXCEEDED,  /* 429: token bucket empty */
	APIERR_QUOTA_EXCEEDED,       /* 429: daily key quota used */
	APIERR_INTERNAL_ERROR,       /* 500: a bug; the message says nothing internal */
	APIERR_SERVICE_UNAVAILABLE,  /* 503: DynamoDB unreachable or throttling */
};
#define APIERR_COUNT 16

/* "VALIDATION_ERROR", ...; "INTERNAL_ERROR" for a value outside the enum. */
const char *apierr_name(enum apierr_code code);
/* The HTTP status of the code (400, 403, ...); 500 outside the enum. */
int apierr_status(enum apierr_code code);
/* A human sentence safe to send to any client for this code. */
const char *apierr_message(enum apierr_code code);

/* Builds the error body. message NULL uses apierr_message(code); request_id
 * NULL gives "" (the HTTP layer always has one). fields, when not NULL, is a
 * JSON object {"<field>":[{"message","code"}...]} that is borrowed (copied by
 * reference count, the caller still puts its own). *out is a heap string the
 * caller frees. RC_NOMEM. Thread-safe. */
enum rc apierr_body(enum apierr_code code, const char *message, const char *request_id,
                    struct json_object *fields, char **out) MUSTCHECK;

#endif
