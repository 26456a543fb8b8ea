/* validate.h — the input rules of SPEC §3: the POST /appointments body, the
 * insuredId path parameter and the GET query. Collects every field error (not
 * only the first) with a stable snake_case code; docs/validation.md lists them. */
#ifndef APPT_VALIDATE_H
#define APPT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/apierr.h"
#include "domain/appointment.h"
#include "domain/timeutil.h"
#include "base/rc.h"

#define VAL_BODY_MAX (16 * 1024) /* bytes of a POST body; more is PAYLOAD_TOO_LARGE */
#define VAL_BODY_DEPTH 8         /* nesting allowed in a body; a valid one has 1 */
#define VAL_ERRORS_MAX 16        /* entries kept; later ones are counted in dropped */
#define VAL_FIELD_SIZE 32        /* field names are ours: insuredId, body, unknown, ... */
#define VAL_MESSAGE_SIZE 192     /* one human sentence */
#define VAL_ECHO_MAX 40          /* bytes of a client-chosen name quoted in a message */
/* Query parameters looked at; more is an error. The query validators refuse n above it
 * before they read a parameter, so params may hold fewer than n entries then (what
 * http_query counts past its array). */
#define VAL_QUERY_MAX 16
#define VAL_QUERY_VALUE_MAX 64   /* bytes of one query value */
#define VAL_LIMIT_MIN 1
#define VAL_LIMIT_MAX 100
#define VAL_LIMIT_DEFAULT 20
#define VAL_OFFSET_MAX 1000000   /* deeper pages are not served: the Query reads them all */
#define VAL_CURSOR_POS_MAX 1000000000LL   /* position a cursor may carry (items before it) */
#define VAL_CURSOR_ID_MAX 36     /* bytes of the appointmentId a cursor carries */

/* Per-field codes (the "code" of each entry). */
#define VAL_CODE_REQUIRED "required"             /* the field is missing */
#define VAL_CODE_INVALID_TYPE "invalid_type"     /* wrong JSON type (null included) */
#define VAL_CODE_INVALID_FORMAT "invalid_format" /* right type, wrong characters or shape */
#define VAL_CODE_TOO_SHORT "too_short"           /* empty string */
#define VAL_CODE_TOO_LONG "too_long"             /* longer than allowed */
#define VAL_CODE_NOT_INTEGER "not_integer"       /* a number with a fractional part */
#define VAL_CODE_OUT_OF_RANGE "out_of_range"     /* an integer outside the allowed range */
#define VAL_CODE_NOT_ALLOWED "not_allowed"       /* not one of the allowed values */
#define VAL_CODE_INVALID_RANGE "invalid_range"   /* startDate after endDate */
#define VAL_CODE_UNKNOWN_FIELD "unknown_field"   /* a field/parameter the API does not know */
#define VAL_CODE_DUPLICATE_FIELD "duplicate_field" /* a field/parameter given twice */
#define VAL_CODE_TOO_MANY "too_many"             /* more query parameters than VAL_QUERY_MAX */
/* Codes of the "body" entry. */
#define VAL_CODE_EMPTY_BODY "empty_body"         /* no bytes or only whitespace */
#define VAL_CODE_INVALID_JSON "invalid_json"     /* not RFC 8259 JSON, or more than one value */
#define VAL_CODE_INVALID_UTF8 "invalid_utf8"     /* a string that is not UTF-8 */
#define VAL_CODE_TOO_DEEP "too_deep"             /* nested deeper than VAL_BODY_DEPTH */
#define VAL_CODE_NOT_AN_OBJECT "not_an_object"   /* valid JSON, but not an object */
#define VAL_CODE_TOO_LARGE "too_large"           /* over VAL_BODY_MAX bytes */

/* Verdict class, mapped to an API error by val_result_code. */
enum val_result {
	VAL_OK = 0,           /* valid */
	VAL_INVALID_JSON,     /* the body is not exactly one JSON object: INVALID_JSON */
	VAL_VALIDATION_ERROR, /* fields, path or query fail their rules: VALIDATION_ERROR */
	VAL_TOO_LARGE,        /* the body is over VAL_BODY_MAX: PAYLOAD_TOO_LARGE (SPEC §3) */
};

/* One failing field. */
struct val_error {
	char field[VAL_FIELD_SIZE];     /* insuredId, scheduleId, countryISO, body, unknown, ... */
	const char *code;               /* one of VAL_CODE_*, static */
	char message[VAL_MESSAGE_SIZE]; /* a sentence for the client */
};

/* Every error found, in a fixed order: body, then the fields in their rule
 * order, then unknown names. A value; no cleanup needed. */
struct val_errors {
	enum val_result result;                   /* VAL_OK while count is 0 */
	size_t count;                             /* entries used in items */
	size_t dropped;                           /* errors past VAL_ERRORS_MAX, not kept */
	struct val_error items[VAL_ERRORS_MAX];   /* the entries */
};

/* Empties e (result VAL_OK). */
void val_errors_init(struct val_errors *e);
/* Appends one error (code: a VAL_CODE_* static string) and raises e->result to r
 * unless a body-level verdict is already there; past VAL_ERRORS_MAX it only counts.
 * For rules the HTTP layer checks itself (headers, the number of parameters). */
void val_errors_add(struct val_errors *e, enum val_result r, const char *field, const char *code,
                    const char *fmt, ...) PRINTF(5, 6);

/* The API error code of a verdict (VAL_OK maps to INTERNAL_ERROR: a bug). */
enum apierr_code val_result_code(enum val_result r);

/* Validates a POST /appointments body of len bytes (need not be NUL-terminated)
 * against SPEC §3, with countries[0..n_countries) the configured country codes
 * (exact, case-sensitive match; only 2-byte codes can match). errs is
 * initialised here. RC_OK: *out is filled (insuredId zero-padded). RC_INVAL:
 * errs->result and errs->items say why (every failing field). RC_NOMEM.
 * Pure and thread-safe. */
enum rc val_appointment_body(const char *body, size_t len, const char *const *countries,
                             size_t n_countries, struct appt_request *out,
                             struct val_errors *errs) MUSTCHECK;

/* The insuredId path parameter (already URL-decoded): same rule as in the body,
 * 1-5 ASCII digits, written zero-padded into out. Appends at most one error
 * under "insuredId" to errs (not initialised here, so path and query errors can
 * be collected together) and sets errs->result to VAL_VALIDATION_ERROR.
 * RC_OK or RC_INVAL. */
enum rc val_insured_id(const char *s, char out[APPT_INSURED_SIZE],
                       struct val_errors *errs) MUSTCHECK;

/* One query parameter as the HTTP layer got it (libmicrohttpd's key/value,
 * URL-decoded). value is NULL for a bare "?key". Both borrowed. */
struct val_kv {
	const char *key;   /* parameter name, NUL-terminated */
	const char *value; /* its value, or NULL */
};

/* Where a listing page ends, as pagination.nextCursor carries it: the page that follows
 * starts after the item (created_at, id) in the list order of SPEC §3 (createdAt desc,
 * then appointmentId desc), and pos items came before it. The text form is opaque to
 * clients ("<pos>.<createdAt epoch ms>.<appointmentId>", at most VAL_QUERY_VALUE_MAX). */
struct val_cursor {
	int64_t pos;                    /* items listed before the next page, 0..VAL_CURSOR_POS_MAX */
	char created_at[TU_ISO_SIZE];   /* createdAt of the last item listed, canonical ISO ms */
	char id[VAL_CURSOR_ID_MAX + 1]; /* its appointmentId: 1-36 of [0-9A-Za-z-] */
};

#define VAL_CURSOR_SIZE (VAL_QUERY_VALUE_MAX + 1) /* a cursor's text form + NUL */

/* Writes the text form of a cursor. RC_INVAL when a field is out of its bounds. */
enum rc val_cursor_format(const struct val_cursor *c, char out[VAL_CURSOR_SIZE]) MUSTCHECK;

/* Reads a cursor's text form; RC_INVAL for anything val_cursor_format cannot write. */
enum rc val_cursor_parse(const char *s, struct val_cursor *out) MUSTCHECK;

/* GET /appointments/{insuredId} query, validated and defaulted. */
struct val_list_query {
	bool has_status;                /* a status filter was given */
	enum appt_status status;        /* the filter when has_status */
	int limit;                      /* 1-100, default 20 */
	int offset;                     /* 0-VAL_OFFSET_MAX, default 0 */
	bool has_start;                 /* startDate was given */
	int64_t start_ms;               /* startDate, epoch ms UTC, inclusive */
	char start_date[TU_ISO_SIZE];   /* startDate normalised, "" when absent */
	bool has_end;                   /* endDate was given */
	int64_t end_ms;                 /* endDate, epoch ms UTC, inclusive; a bare date
	                                   means the end of that day (23:59:59.999) */
	char end_date[TU_ISO_SIZE];     /* endDate normalised, "" when absent */
	bool has_cursor;                /* cursor was given (then offset was not) */
	struct val_cursor cursor;       /* the cursor when has_cursor */
};

/* Validates params[0..n) (status, limit, offset, startDate, endDate, cursor; any other
 * name, a repeated name, an empty or overlong value, startDate after endDate, cursor
 * together with offset,
 * more than VAL_QUERY_MAX parameters are errors) into *out. Appends to errs (not
 * initialised here). RC_OK, or RC_INVAL with errs->result VAL_VALIDATION_ERROR. */
enum rc val_list_query(const struct val_kv *params, size_t n, struct val_list_query *out,
                       struct val_errors *errs) MUSTCHECK;

/* The "fields" member alone, {"<field>":[{"message","code"}...]} with fields in
 * the order they first appear, as a new json-c object the caller puts (for an
 * HTTP layer that builds the body itself with apierr_body). An empty errs gives
 * {}. RC_NOMEM. */
enum rc val_errors_fields(const struct val_errors *errs, struct json_object **out) MUSTCHECK;

/* The SPEC §3 error body for errs (result not VAL_OK): errorCode from
 * val_result_code, message "Validation failed" or the INVALID_JSON /
 * PAYLOAD_TOO_LARGE sentence, requestId (NULL gives ""), and for
 * VALIDATION_ERROR and INVALID_JSON "fields": {"<field>":[{"message","code"}]}.
 * *out is a heap string the caller frees. RC_INVAL when errs->result is VAL_OK,
 * RC_NOMEM. */
enum rc val_errors_to_json(const struct val_errors *errs, const char *request_id,
                           char **out) MUSTCHECK;

#endif
