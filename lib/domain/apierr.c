/* apierr.c — SPEC §3 error table and error body. */
#include "domain/apierr.h"

#include <json-c/json.h>

#include "base/jx.h"

/* One row of the table. */
struct apierr_row {
	const char *name;    /* errorCode */
	int status;          /* HTTP status */
	const char *message; /* default sentence */
};

static const struct apierr_row rows[APIERR_COUNT] = {
	[APIERR_VALIDATION_ERROR] = {"VALIDATION_ERROR", 400, "Validation failed"},
	[APIERR_INVALID_JSON] = {"INVALID_JSON", 400,
	                         "The request body must be exactly one valid JSON object"},
	[APIERR_FORBIDDEN] = {"FORBIDDEN", 403, "A valid API key is required"},
	[APIERR_ROUTE_NOT_FOUND] = {"ROUTE_NOT_FOUND", 404, "No such route"},
	[APIERR_SCHEDULE_NOT_FOUND] = {"SCHEDULE_NOT_FOUND", 404,
	                               "No schedule with that id exists in that country"},
	[APIERR_APPOINTMENT_NOT_FOUND] = {"APPOINTMENT_NOT_FOUND", 404,
	                                  "No such appointment for that insuredId"},
	[APIERR_METHOD_NOT_ALLOWED] = {"METHOD_NOT_ALLOWED", 405,
	                               "This method is not allowed on this route"},
	[APIERR_SCHEDULE_UNAVAILABLE] = {"SCHEDULE_UNAVAILABLE", 409,
	                                 "The schedule is in the past or already booked"},
	[APIERR_IDEMPOTENCY_CONFLICT] = {"IDEMPOTENCY_CONFLICT", 409,
	                                 "This Idempotency-Key was used with a different body"},
	[APIERR_APPOINTMENT_NOT_CANCELLABLE] = {"APPOINTMENT_NOT_CANCELLABLE", 409,
	                                        "A failed appointment cannot be cancelled"},
	[APIERR_PAYLOAD_TOO_LARGE] = {"PAYLOAD_TOO_LARGE", 413, "The request body is too large"},
	[APIERR_UNSUPPORTED_MEDIA_TYPE] = {"UNSUPPORTED_MEDIA_TYPE", 415,
	                                   "The request body must be sent as application/json"},
	[APIERR_RATE_LIMIT_EXCEEDED] = {"RATE_LIMIT_EXCEEDED", 429,
	                                "Too many requests; retry after the given delay"},
	[APIERR_QUOTA_EXCEEDED] = {"QUOTA_EXCEEDED", 429,
	                           "The daily quota of this API key is used up"},
	[APIERR_INTERNAL_ERROR] = {"INTERNAL_ERROR", 500, "An internal error occurred"},
	[APIERR_SERVICE_UNAVAILABLE] = {"SERVICE_UNAVAILABLE", 503,
	                                "The service is temporarily unavailable; retry later"},
};

static const struct apierr_row *row(enum apierr_code code)
{
	if ((unsigned)code >= APIERR_COUNT)
		return &rows[APIERR_INTERNAL_ERROR];
	return &rows[code];
}

const char *apierr_name(enum apierr_code code)
{
	return row(code)->name;
}

int apierr_status(enum apierr_code code)
{
	return row(code)->status;
}

const char *apierr_message(enum apierr_code code)
{
	return row(code)->message;
}

enum rc apierr_body(enum apierr_code code, const char *message, const char *request_id,
                    struct json_object *fields, char **out)
{
	const struct jx_member err[] = {
		{.key = "errorCode", .type = JX_STR, .s = apierr_name(code)},
		{.key = "message", .type = JX_STR,
		 .s = message != NULL ? message : apierr_message(code)},
		{.key = "requestId", .type = JX_STR, .s = request_id != NULL ? request_id : ""},
		{.key = "fields", .type = JX_VAL, .v = fields, .omit = fields == NULL},
	};
	const struct jx_member root[] = {
		{.key = "error", .type = JX_OBJ, .sub = err, .nsub = JX_COUNT(err)},
	};

	return jx_build_text(root, JX_COUNT(root), out);
}
