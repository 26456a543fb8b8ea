/* validate.c — SPEC §3 input rules. Each check appends at most one error per
 * field so a client sees every failing field at once. */
#include "domain/validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/json_object_iterator.h>

#include "base/jx.h"
#include "domain/validate_priv.h"

/* The known body fields, in the order their errors are reported. */
enum body_field { BF_INSURED = 0, BF_SCHEDULE, BF_COUNTRY, BF_COUNT };
static const char *const body_fields[BF_COUNT] = {"insuredId", "scheduleId", "countryISO"};

void val_errors_init(struct val_errors *e)
{
	memset(e, 0, sizeof(*e));
	e->result = VAL_OK;
}

enum apierr_code val_result_code(enum val_result r)
{
	switch (r) {
	case VAL_INVALID_JSON:
		return APIERR_INVALID_JSON;
	case VAL_VALIDATION_ERROR:
		return APIERR_VALIDATION_ERROR;
	case VAL_TOO_LARGE:
		return APIERR_PAYLOAD_TOO_LARGE;
	case VAL_OK:
		break;
	}
	return APIERR_INTERNAL_ERROR;
}

void val_errors_add(struct val_errors *e, enum val_result r, const char *field, const char *code,
                    const char *fmt, ...)
{
	struct val_error *it;
	va_list ap;

	/* A body-level verdict (no JSON object to look into) outranks field errors. */
	if (e->result == VAL_OK || e->result == VAL_VALIDATION_ERROR)
		e->result = r;
	if (e->count >= VAL_ERRORS_MAX) {
		e->dropped++;
		return;
	}
	it = &e->items[e->count++];
	snprintf(it->field, sizeof(it->field), "%s", field);
	it->code = code;
	va_start(ap, fmt);
	vsnprintf(it->message, sizeof(it->message), fmt, ap);
	va_end(ap);
}

/* Whether errs holds an entry for field already. */
static bool field_failed(const struct val_errors *errs, const char *field)
{
	for (size_t i = 0; i < errs->count; i++)
		if (strcmp(errs->items[i].field, field) == 0)
			return true;
	return false;
}

void val_echo(const char *s, size_t len, char *dst, size_t size)
{
	size_t n = 0;
	size_t cut = len > VAL_ECHO_MAX ? VAL_ECHO_MAX : len;

	if (size == 0)
		return;
	for (size_t i = 0; i < cut && n + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	for (size_t i = 0; cut < len && i < 3 && n + 1 < size; i++)
		dst[n++] = '.';
	dst[n] = '\0';
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
	case json_type_int:
		return "number";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

/* The insuredId rule on len bytes (may hold NUL). Adds one error on failure. */
static bool check_insured(const char *s, size_t len, char out[APPT_INSURED_SIZE],
                          struct val_errors *e)
{
	const char *f = body_fields[BF_INSURED];

	switch (appt_insured_pad(s, len, out)) {
	case APPT_INSURED_OK:
		return true;
	case APPT_INSURED_EMPTY:
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_SHORT, "%s must not be empty", f);
		break;
	case APPT_INSURED_NOT_DIGITS:
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_FORMAT,
		        "%s must contain only the digits 0-9", f);
		break;
	case APPT_INSURED_TOO_LONG:
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_LONG,
		        "%s must have at most %d digits", f, APPT_INSURED_LEN);
		break;
	}
	return false;
}

enum rc val_insured_id(const char *s, char out[APPT_INSURED_SIZE], struct val_errors *errs)
{
	out[0] = '\0';
	if (s == NULL) {
		val_errors_add(errs, VAL_VALIDATION_ERROR, body_fields[BF_INSURED], VAL_CODE_REQUIRED,
		        "%s is required", body_fields[BF_INSURED]);
		return RC_INVAL;
	}
	return check_insured(s, strlen(s), out, errs) ? RC_OK : RC_INVAL;
}

/* Set by the duplicate-key scan: which known fields appear twice. */
struct dup_seen {
	bool dup[BF_COUNT]; /* indexed by enum body_field */
};

static void note_dup(void *ctx, const char *name)
{
	struct dup_seen *d = ctx;

	for (int i = 0; i < BF_COUNT; i++)
		if (strcmp(name, body_fields[i]) == 0)
			d->dup[i] = true;
}

static void check_schedule(struct json_object *v, int64_t *out, struct val_errors *e)
{
	const char *f = body_fields[BF_SCHEDULE];

	switch (jx_value_int64(v, out)) {
	case JX_NUM_INT:
		if (*out >= 1)
			return;
		break;
	case JX_NUM_FRACTION:
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_NOT_INTEGER,
		        "%s must be a whole number", f);
		return;
	case JX_NUM_RANGE:
		break;
	case JX_NUM_NOT_NUMBER:
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_TYPE,
		        "%s must be a JSON integer, not %s", f, type_name(v));
		return;
	}
	val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_OUT_OF_RANGE,
	        "%s must be an integer from 1 to %lld", f, (long long)INT64_MAX);
}

void val_check_country(const char *f, const char *s, size_t len, const char *const *countries,
                       size_t n, char out[APPT_COUNTRY_SIZE], struct val_errors *e)
{
	char allowed[VAL_MESSAGE_SIZE / 2];
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		if (countries[i] != NULL && len == APPT_COUNTRY_LEN &&
		    strlen(countries[i]) == len && memcmp(countries[i], s, len) == 0) {
			memcpy(out, s, len);
			out[len] = '\0';
			return;
		}
	}
	allowed[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(allowed); i++) {
		int w = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
		                 countries[i] != NULL ? countries[i] : "");

		if (w < 0)
			break;
		used += (size_t)w;
	}
	val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_NOT_ALLOWED, "%s must be one of: %s", f,
	        allowed);
}

static void check_country(struct json_object *v, const char *const *countries, size_t n,
                          char out[APPT_COUNTRY_SIZE], struct val_errors *e)
{
	const char *f = body_fields[BF_COUNTRY];

	if (!json_object_is_type(v, json_type_string)) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_TYPE,
		        "%s must be a JSON string, not %s", f, type_name(v));
		return;
	}
	val_check_country(f, json_object_get_string(v), (size_t)json_object_get_string_len(v),
	                  countries, n, out, e);
}

/* Maps a jx parse failure to the "body" entry. */
static void body_parse_error(enum jx_perr why, const struct errbuf *eb, struct val_errors *e)
{
	switch (why) {
	case JX_PERR_TOO_LONG:
		val_errors_add(e, VAL_TOO_LARGE, "body", VAL_CODE_TOO_LARGE,
		        "The request body must be at most %d bytes", VAL_BODY_MAX);
		return;
	case JX_PERR_EMPTY:
		val_errors_add(e, VAL_INVALID_JSON, "body", VAL_CODE_EMPTY_BODY, "The request body is empty");
		return;
	case JX_PERR_UTF8:
		val_errors_add(e, VAL_INVALID_JSON, "body", VAL_CODE_INVALID_UTF8,
		        "The request body is not valid UTF-8: %s", eb->msg);
		return;
	case JX_PERR_DEPTH:
		val_errors_add(e, VAL_INVALID_JSON, "body", VAL_CODE_TOO_DEEP,
		        "The request body is nested deeper than %d levels", VAL_BODY_DEPTH);
		return;
	case JX_PERR_NUL:
	case JX_PERR_SYNTAX:
	case JX_PERR_TRAILING:
	case JX_PERR_NONE:
		break;
	}
	val_errors_add(e, VAL_INVALID_JSON, "body", VAL_CODE_INVALID_JSON,
	        "The request body is not valid JSON: %s", eb->msg);
}

/* Reports every member of o that is not a known field, once each. */
static void check_unknown(struct json_object *o, struct val_errors *e)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		bool known = false;
		char echo[VAL_ECHO_MAX + 4];

		for (int i = 0; i < BF_COUNT; i++)
			known = known || strcmp(k, body_fields[i]) == 0;
		if (known)
			continue;
		val_echo(k, strlen(k), echo, sizeof(echo));
		val_errors_add(e, VAL_VALIDATION_ERROR, "unknown", VAL_CODE_UNKNOWN_FIELD,
		        "Unknown field '%s'", echo);
	}
}

enum rc val_appointment_body(const char *body, size_t len, const char *const *countries,
                             size_t n_countries, struct appt_request *out,
                             struct val_errors *errs)
{
	struct json_object *o = NULL;
	struct errbuf eb = {{0}};
	enum jx_perr why = JX_PERR_NONE;
	struct dup_seen dups;
	struct appt_request req;
	enum rc rc;

	val_errors_init(errs);
	memset(&dups, 0, sizeof(dups));
	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	rc = jx_parse_ex(body, len, VAL_BODY_MAX, VAL_BODY_DEPTH, &o, &why, &eb);
	if (rc == RC_INVAL) {
		body_parse_error(why, &eb, errs);
		goto out;
	}
	if (rc != RC_OK)
		goto out;
	if (!json_object_is_type(o, json_type_object)) {
		rc = RC_INVAL;
		val_errors_add(errs, VAL_INVALID_JSON, "body", VAL_CODE_NOT_AN_OBJECT,
		        "The request body must be a JSON object, not %s", type_name(o));
		goto out;
	}
	/* json-c keeps the last of duplicated keys silently; the raw text tells. */
	rc = jx_dup_keys(body, len, note_dup, &dups, &eb);
	if (rc != RC_OK)
		goto out;

	for (int i = 0; i < BF_COUNT; i++) {
		const char *f = body_fields[i];
		struct json_object *v = NULL;

		if (dups.dup[i]) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_DUPLICATE_FIELD,
			        "%s must appear only once", f);
			continue;
		}
		if (!json_object_object_get_ex(o, f, &v)) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_REQUIRED, "%s is required", f);
			continue;
		}
		switch ((enum body_field)i) {
		case BF_INSURED:
			if (!json_object_is_type(v, json_type_string))
				val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_TYPE,
				        "%s must be a JSON string of 1 to %d digits, not %s", f,
				        APPT_INSURED_LEN, type_name(v));
			else
				check_insured(json_object_get_string(v),
				              (size_t)json_object_get_string_len(v), req.insured_id, errs);
			break;
		case BF_SCHEDULE:
			check_schedule(v, &req.schedule_id, errs);
			break;
		case BF_COUNTRY:
			check_country(v, countries, n_countries, req.country, errs);
			break;
		case BF_COUNT:
			break;
		}
	}
	check_unknown(o, errs);
	rc = errs->count + errs->dropped > 0 ? RC_INVAL : RC_OK;
	if (rc == RC_OK)
		*out = req;
out:
	json_object_put(o);
	return rc;
}

/* Query parameter names, in the order their errors are reported. */
enum query_param { QP_STATUS = 0, QP_LIMIT, QP_OFFSET, QP_START, QP_END, QP_CURSOR, QP_COUNT };
static const char *const query_params[QP_COUNT] = {"status", "limit", "offset", "startDate",
                                                   "endDate", "cursor"};

static bool cursor_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > VAL_CURSOR_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

enum rc val_cursor_format(const struct val_cursor *c, char out[VAL_CURSOR_SIZE])
{
	int64_t ms = 0;
	bool date_only = false;
	int n;

	out[0] = '\0';
	if (c->pos < 0 || c->pos > VAL_CURSOR_POS_MAX ||
	    !cursor_id_ok(c->id, strnlen(c->id, sizeof(c->id))) ||
	    tu_parse_iso(c->created_at, &ms, &date_only, NULL) != RC_OK || ms < 0)
		return RC_INVAL;
	n = snprintf(out, VAL_CURSOR_SIZE, "%lld.%lld.%s", (long long)c->pos, (long long)ms, c->id);
	if (n < 0 || n >= VAL_CURSOR_SIZE) {
		out[0] = '\0';
		return RC_INVAL;
	}
	return RC_OK;
}

/* A run of 1..max ASCII digits ending at a '.'; *s moves past the dot. */
static bool cursor_number(const char **s, int max, int64_t *out)
{
	int64_t v = 0;
	int n = 0;

	while (**s >= '0' && **s <= '9' && n < max) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n == 0 || **s != '.')
		return false;
	(*s)++;
	*out = v;
	return true;
}

enum rc val_cursor_parse(const char *s, struct val_cursor *out)
{
	int64_t ms = 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (s == NULL || !cursor_number(&s, 10, &out->pos) || out->pos > VAL_CURSOR_POS_MAX ||
	    !cursor_number(&s, 15, &ms) || ms > TU_MAX_MS)
		return RC_INVAL;
	n = strnlen(s, VAL_CURSOR_ID_MAX + 1);
	if (!cursor_id_ok(s, n) || tu_format_ms(ms, out->created_at) != RC_OK)
		return RC_INVAL;
	memcpy(out->id, s, n);
	out->id[n] = '\0';
	return RC_OK;
}

/* A decimal integer of only ASCII digits within [lo, hi]; -1 not digits, -2
 * out of range. No sign, no spaces: what a client sends for a count. */
static int parse_count(const char *s, long lo, long hi, long *out)
{
	long v = 0;

	if (s[0] == '\0')
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		/* Saturate so long digit strings read as out of range, not wrap. */
		if (v <= hi)
			v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return -2;
	*out = v;
	return 0;
}

void val_check_count(const char *f, const char *s, long lo, long hi, int *out,
                        struct val_errors *e)
{
	long v = 0;
	int r = parse_count(s, lo, hi, &v);

	if (r == 0) {
		*out = (int)v;
		return;
	}
	val_errors_add(e, VAL_VALIDATION_ERROR, f, r == -1 ? VAL_CODE_INVALID_FORMAT : VAL_CODE_OUT_OF_RANGE,
	        "%s must be an integer from %ld to %ld", f, lo, hi);
}

bool val_check_date(const char *f, const char *s, bool end_of_day, int64_t *ms,
                       char norm[TU_ISO_SIZE], struct val_errors *e)
{
	struct errbuf eb = {{0}};
	bool date_only = false;

	if (tu_parse_iso(s, ms, &date_only, &eb) != RC_OK) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_FORMAT,
		        "%s must be an ISO-8601 UTC date or datetime (%s)", f, eb.msg);
		return false;
	}
	/* An inclusive end given as a bare day means the whole of that day. */
	if (end_of_day && date_only)
		*ms += 86400000 - 1;
	if (*ms > TU_MAX_MS || tu_format_ms(*ms, norm) != RC_OK) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_OUT_OF_RANGE, "%s is out of range", f);
		return false;
	}
	return true;
}

static int name_index(const char *k, const char *const *names, int n_names)
{
	for (int j = 0; j < n_names; j++)
		if (strcmp(k, names[j]) == 0)
			return j;
	return -1;
}

void val_query_known(const struct val_kv *params, size_t n, const char *const *names,
                     int n_names, const char **vals, struct val_errors *e)
{
	int count[VAL_QUERY_MAX] = {0};

	for (int j = 0; j < n_names; j++)
		vals[j] = NULL;
	for (size_t i = 0; i < n; i++) {
		int q = name_index(params[i].key != NULL ? params[i].key : "", names, n_names);

		if (q < 0 || q >= VAL_QUERY_MAX)
			continue;
		count[q]++;
		vals[q] = params[i].value != NULL ? params[i].value : "";
	}
	for (int q = 0; q < n_names && q < VAL_QUERY_MAX; q++) {
		if (count[q] > 1) {
			val_errors_add(e, VAL_VALIDATION_ERROR, names[q], VAL_CODE_DUPLICATE_FIELD,
			               "%s must appear only once", names[q]);
			vals[q] = NULL;
		} else if (count[q] == 1 && strnlen(vals[q], VAL_QUERY_VALUE_MAX + 1) > VAL_QUERY_VALUE_MAX) {
			val_errors_add(e, VAL_VALIDATION_ERROR, names[q], VAL_CODE_TOO_LONG,
			               "%s must be at most %d bytes", names[q], VAL_QUERY_VALUE_MAX);
			vals[q] = NULL;
		}
	}
}

bool val_query_too_many(size_t n, struct val_errors *e)
{
	if (n <= VAL_QUERY_MAX)
		return false;
	val_errors_add(e, VAL_VALIDATION_ERROR, "query", VAL_CODE_TOO_MANY,
	               "At most %d query parameters are allowed", VAL_QUERY_MAX);
	return true;
}

void val_query_unknown(const struct val_kv *params, size_t n, const char *const *names,
                       int n_names, struct val_errors *e)
{
	char echo[VAL_ECHO_MAX + 4];

	for (size_t i = 0; i < n; i++) {
		const char *k = params[i].key != NULL ? params[i].key : "";

		if (name_index(k, names, n_names) >= 0)
			continue;
		val_echo(k, strlen(k), echo, sizeof(echo));
		val_errors_add(e, VAL_VALIDATION_ERROR, "unknown", VAL_CODE_UNKNOWN_FIELD,
		               "Unknown query parameter '%s'", echo);
	}
}

enum rc val_list_query(const struct val_kv *params, size_t n, struct val_list_query *out,
                       struct val_errors *errs)
{
	const char *val[QP_COUNT] = {NULL};
	bool seen[QP_COUNT] = {false};
	bool dup[QP_COUNT] = {false};
	size_t before = errs->count + errs->dropped;
	char echo[VAL_ECHO_MAX + 4];

	memset(out, 0, sizeof(*out));
	out->limit = VAL_LIMIT_DEFAULT;
	out->offset = 0;
	if (val_query_too_many(n, errs))
		return RC_INVAL;
	for (size_t i = 0; i < n; i++) {
		const char *k = params[i].key != NULL ? params[i].key : "";
		int q = -1;

		for (int j = 0; j < QP_COUNT; j++)
			if (strcmp(k, query_params[j]) == 0)
				q = j;
		if (q < 0)
			continue;
		if (seen[q])
			dup[q] = true;
		seen[q] = true;
		val[q] = params[i].value != NULL ? params[i].value : "";
	}
	for (int q = 0; q < QP_COUNT; q++) {
		const char *f = query_params[q];

		if (dup[q]) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_DUPLICATE_FIELD,
			        "%s must appear only once", f);
			continue;
		}
		if (!seen[q])
			continue;
		if (strnlen(val[q], VAL_QUERY_VALUE_MAX + 1) > VAL_QUERY_VALUE_MAX) {
			val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_LONG,
			        "%s must be at most %d bytes", f, VAL_QUERY_VALUE_MAX);
			continue;
		}
		switch ((enum query_param)q) {
		case QP_STATUS:
			if (appt_status_parse(val[q], &out->status) == RC_OK)
				out->has_status = true;
			else
				val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_NOT_ALLOWED,
				        "%s must be one of: pending, processed, completed, failed, "
				        "cancelling, cancelled", f);
			break;
		case QP_LIMIT:
			val_check_count(f, val[q], VAL_LIMIT_MIN, VAL_LIMIT_MAX, &out->limit, errs);
			break;
		case QP_OFFSET:
			val_check_count(f, val[q], 0, VAL_OFFSET_MAX, &out->offset, errs);
			break;
		case QP_START:
			out->has_start =
				val_check_date(f, val[q], false, &out->start_ms, out->start_date, errs);
			break;
		case QP_END:
			out->has_end = val_check_date(f, val[q], true, &out->end_ms, out->end_date, errs);
			break;
		case QP_CURSOR:
			if (val_cursor_parse(val[q], &out->cursor) == RC_OK)
				out->has_cursor = true;
			else
				val_errors_add(errs, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_FORMAT,
				        "%s must be a pagination.nextCursor value, unchanged", f);
			break;
		case QP_COUNT:
			break;
		}
	}
	if (out->has_start && out->has_end && out->start_ms > out->end_ms)
		val_errors_add(errs, VAL_VALIDATION_ERROR, query_params[QP_START], VAL_CODE_INVALID_RANGE,
		        "startDate must not be after endDate");
	/* one entry per failing field: an offset already refused is not refused twice */
	if (seen[QP_CURSOR] && seen[QP_OFFSET] && !field_failed(errs, query_params[QP_OFFSET]))
		val_errors_add(errs, VAL_VALIDATION_ERROR, query_params[QP_OFFSET], VAL_CODE_NOT_ALLOWED,
		        "offset must be absent when cursor is given");
	/* Unknown names last, as in the body, each time one appears. */
	for (size_t i = 0; i < n; i++) {
		const char *k = params[i].key != NULL ? params[i].key : "";
		bool known = false;

		for (int j = 0; j < QP_COUNT; j++)
			known = known || strcmp(k, query_params[j]) == 0;
		if (known)
			continue;
		val_echo(k, strlen(k), echo, sizeof(echo));
		val_errors_add(errs, VAL_VALIDATION_ERROR, "unknown", VAL_CODE_UNKNOWN_FIELD,
		        "Unknown query parameter '%s'", echo);
	}
	return errs->count + errs->dropped > before ? RC_INVAL : RC_OK;
}

enum rc val_errors_fields(const struct val_errors *e, struct json_object **out)
{
	struct json_object *fields = json_object_new_object();
	enum rc rc = RC_OK;

	*out = NULL;
	if (fields == NULL)
		return RC_NOMEM;
	for (size_t i = 0; i < e->count && rc == RC_OK; i++) {
		const struct val_error *it = &e->items[i];
		const struct jx_member m[] = {
			{.key = "message", .type = JX_STR, .s = it->message},
			{.key = "code", .type = JX_STR, .s = it->code},
		};
		struct json_object *arr = NULL;
		struct json_object *entry = NULL;

		rc = jx_build(m, JX_COUNT(m), &entry);
		if (rc == RC_OK && !json_object_object_get_ex(fields, it->field, &arr)) {
			arr = json_object_new_array();
			rc = arr != NULL ? jx_add_obj(fields, it->field, arr) : RC_NOMEM;
		}
		if (rc == RC_OK)
			rc = jx_append(arr, entry);
		else
			json_object_put(entry);
	}
	if (rc != RC_OK) {
		json_object_put(fields);
		return rc;
	}
	*out = fields;
	return RC_OK;
}

enum rc val_errors_to_json(const struct val_errors *errs, const char *request_id, char **out)
{
	struct json_object *fields = NULL;
	enum apierr_code code = val_result_code(errs->result);
	enum rc rc = RC_OK;

	*out = NULL;
	if (errs->result == VAL_OK)
		return RC_INVAL;
	if (errs->result != VAL_TOO_LARGE)
		rc = val_errors_fields(errs, &fields);
	if (rc == RC_OK)
		rc = apierr_body(code, NULL, request_id, fields, out);
	json_object_put(fields);
	return rc;
}
