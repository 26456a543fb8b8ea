/* test_domain_validate.c — every SPEC §3 input rule and its code, the error
 * bodies (parsed back and compared) and the API error table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/apierr.h"
#include "domain/validate.h"
#include "base/jx.h"

/* TESTABLE helper of validate.c. */
void val_echo(const char *s, size_t len, char *dst, size_t size);

static const char *const countries[] = {"PE", "CL"};

/* "field:code,field:code" of every entry, in order. */
static void render(const struct val_errors *e, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < e->count && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s:%s", i ? "," : "", e->items[i].field,
		                      e->items[i].code);
}

#define GOOD_TAIL ",\"scheduleId\":100,\"countryISO\":\"PE\"}"
#define INS(v) "{\"insuredId\":" v GOOD_TAIL
#define SCH(v) "{\"insuredId\":\"00123\",\"scheduleId\":" v ",\"countryISO\":\"PE\"}"
#define CTY(v) "{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":" v "}"

struct body_case {
	const char *body;
	size_t len;          /* 0: strlen(body) */
	enum val_result result;
	const char *errs;    /* rendered entries when not VAL_OK */
	const char *insured; /* expected output when VAL_OK */
	int64_t schedule;
	const char *country;
};

static const struct body_case body_cases[] = {
	/* valid */
	{INS("\"00123\""), 0, VAL_OK, "", "00123", 100, "PE"},
	{INS("\"123\""), 0, VAL_OK, "", "00123", 100, "PE"},
	{INS("\"1\""), 0, VAL_OK, "", "00001", 100, "PE"},
	{INS("\"00000\""), 0, VAL_OK, "", "00000", 100, "PE"},
	{INS("\"99999\""), 0, VAL_OK, "", "99999", 100, "PE"},
	{SCH("1"), 0, VAL_OK, "", "00123", 1, "PE"},
	{SCH("1e2"), 0, VAL_OK, "", "00123", 100, "PE"},
	{SCH("1.0E2"), 0, VAL_OK, "", "00123", 100, "PE"},
	{SCH("100.000"), 0, VAL_OK, "", "00123", 100, "PE"},
	{SCH("9223372036854775807"), 0, VAL_OK, "", "00123", INT64_MAX, "PE"},
	{CTY("\"CL\""), 0, VAL_OK, "", "00123", 100, "CL"},
	{" \n{\"countryISO\":\"PE\", \"scheduleId\": 7 ,\"insuredId\":\"42\"}\r\n", 0, VAL_OK, "",
	 "00042", 7, "PE"},
	{"{\"insuredId\":\"\\u0031\\u0032\\u0033\"" GOOD_TAIL, 0, VAL_OK, "", "00123", 100, "PE"},
	/* insuredId */
	{INS("\"\""), 0, VAL_VALIDATION_ERROR, "insuredId:too_short", NULL, 0, NULL},
	{INS("\"123456\""), 0, VAL_VALIDATION_ERROR, "insuredId:too_long", NULL, 0, NULL},
	{INS("\"000123\""), 0, VAL_VALIDATION_ERROR, "insuredId:too_long", NULL, 0, NULL},
	{INS("\"12a45\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"abcdefgh\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\" 123\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"123 \""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"1 3\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"-123\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"+123\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"1.5\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\""), 0, VAL_VALIDATION_ERROR,
	 "insuredId:invalid_format", NULL, 0, NULL}, /* fullwidth digits */
	{INS("\"\xd9\xa1\xd9\xa2\xd9\xa3\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format",
	 NULL, 0, NULL}, /* Arabic-Indic digits */
	{INS("\"\\u0000123\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("\"123\\u0000\""), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_format", NULL, 0, NULL},
	{INS("123"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{INS("0"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{INS("null"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{INS("true"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{INS("[\"123\"]"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{INS("{\"v\":\"123\"}"), 0, VAL_VALIDATION_ERROR, "insuredId:invalid_type", NULL, 0, NULL},
	{"{\"scheduleId\":100,\"countryISO\":\"PE\"}", 0, VAL_VALIDATION_ERROR, "insuredId:required",
	 NULL, 0, NULL},
	/* scheduleId */
	{SCH("\"100\""), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("true"), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("false"), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("null"), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("[100]"), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("{}"), 0, VAL_VALIDATION_ERROR, "scheduleId:invalid_type", NULL, 0, NULL},
	{SCH("1.5"), 0, VAL_VALIDATION_ERROR, "scheduleId:not_integer", NULL, 0, NULL},
	{SCH("100.5"), 0, VAL_VALIDATION_ERROR, "scheduleId:not_integer", NULL, 0, NULL},
	{SCH("1e-1"), 0, VAL_VALIDATION_ERROR, "scheduleId:not_integer", NULL, 0, NULL},
	{SCH("1.05e1"), 0, VAL_VALIDATION_ERROR, "scheduleId:not_integer", NULL, 0, NULL},
	{SCH("0"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("-0"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("0.0"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("-1"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("-100"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("9223372036854775808"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0,
	 NULL},
	{SCH("18446744073709551615"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0,
	 NULL},
	{SCH("18446744073709551616"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0,
	 NULL},
	{SCH("-99999999999999999999"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0,
	 NULL},
	{SCH("1e30"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{SCH("1e400"), 0, VAL_VALIDATION_ERROR, "scheduleId:out_of_range", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"countryISO\":\"PE\"}", 0, VAL_VALIDATION_ERROR,
	 "scheduleId:required", NULL, 0, NULL},
	/* countryISO */
	{CTY("\"pe\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"Pe\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"PER\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"PE \""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"P\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"MX\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("\"P\\u0000\""), 0, VAL_VALIDATION_ERROR, "countryISO:not_allowed", NULL, 0, NULL},
	{CTY("51"), 0, VAL_VALIDATION_ERROR, "countryISO:invalid_type", NULL, 0, NULL},
	{CTY("null"), 0, VAL_VALIDATION_ERROR, "countryISO:invalid_type", NULL, 0, NULL},
	{CTY("[\"PE\"]"), 0, VAL_VALIDATION_ERROR, "countryISO:invalid_type", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"scheduleId\":100}", 0, VAL_VALIDATION_ERROR,
	 "countryISO:required", NULL, 0, NULL},
	/* unknown and duplicate fields */
	{"{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\",\"foo\":1}", 0,
	 VAL_VALIDATION_ERROR, "unknown:unknown_field", NULL, 0, NULL},
	{"{\"a\":1,\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\",\"b\":null}", 0,
	 VAL_VALIDATION_ERROR, "unknown:unknown_field,unknown:unknown_field", NULL, 0, NULL},
	{"{\"insuredid\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\"}", 0,
	 VAL_VALIDATION_ERROR, "insuredId:required,unknown:unknown_field", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\"}", 0,
	 VAL_VALIDATION_ERROR, "insuredId:duplicate_field", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\",\"\\u0069nsuredId\":\"9\"}",
	 0, VAL_VALIDATION_ERROR, "insuredId:duplicate_field", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"scheduleId\":1,\"scheduleId\":2,\"countryISO\":\"PE\","
	 "\"countryISO\":\"PE\"}", 0, VAL_VALIDATION_ERROR,
	 "scheduleId:duplicate_field,countryISO:duplicate_field", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\",\"x\":1,\"x\":2}", 0,
	 VAL_VALIDATION_ERROR, "unknown:unknown_field", NULL, 0, NULL},
	/* every error at once, in rule order */
	{"{\"zz\":0,\"insuredId\":123,\"scheduleId\":\"1\",\"countryISO\":\"pe\"}", 0,
	 VAL_VALIDATION_ERROR,
	 "insuredId:invalid_type,scheduleId:invalid_type,countryISO:not_allowed,unknown:unknown_field",
	 NULL, 0, NULL},
	{"{}", 0, VAL_VALIDATION_ERROR, "insuredId:required,scheduleId:required,countryISO:required",
	 NULL, 0, NULL},
	/* nesting within the limit is a field matter */
	{"{\"a\":[[[[[[[1]]]]]]]" GOOD_TAIL, 0, VAL_VALIDATION_ERROR,
	 "insuredId:required,unknown:unknown_field", NULL, 0, NULL},
	/* the body itself */
	{"", 0, VAL_INVALID_JSON, "body:empty_body", NULL, 0, NULL},
	{NULL, 0, VAL_INVALID_JSON, "body:empty_body", NULL, 0, NULL},
	{" \r\n\t", 0, VAL_INVALID_JSON, "body:empty_body", NULL, 0, NULL},
	{"[]", 0, VAL_INVALID_JSON, "body:not_an_object", NULL, 0, NULL},
	{"[{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\"}]", 0, VAL_INVALID_JSON,
	 "body:not_an_object", NULL, 0, NULL},
	{"\"insuredId\"", 0, VAL_INVALID_JSON, "body:not_an_object", NULL, 0, NULL},
	{"123", 0, VAL_INVALID_JSON, "body:not_an_object", NULL, 0, NULL},
	{"null", 0, VAL_INVALID_JSON, "body:not_an_object", NULL, 0, NULL},
	{"true", 0, VAL_INVALID_JSON, "body:not_an_object", NULL, 0, NULL},
	{"{} {}", 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{INS("\"00123\"") "{}", 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\",}", 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{"{'insuredId':'00123'}", 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{SCH("NaN"), 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{SCH("Infinity"), 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{SCH("0x10"), 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{SCH("0100"), 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{"insuredId=00123", 0, VAL_INVALID_JSON, "body:invalid_json", NULL, 0, NULL},
	{"{\"insuredId\":\"00123\"\0,\"scheduleId\":100}", 38, VAL_INVALID_JSON, "body:invalid_json",
	 NULL, 0, NULL},
	{INS("\"\xff\""), 0, VAL_INVALID_JSON, "body:invalid_utf8", NULL, 0, NULL},
	{INS("\"12\xc3\""), 0, VAL_INVALID_JSON, "body:invalid_utf8", NULL, 0, NULL},
	{INS("\"\\ud800\""), 0, VAL_INVALID_JSON, "body:invalid_utf8", NULL, 0, NULL},
	{"{\"a\":[[[[[[[[1]]]]]]]]" GOOD_TAIL, 0, VAL_INVALID_JSON, "body:too_deep", NULL, 0, NULL},
	/* eight objects deep is allowed, nine is not */
	{"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}", 0,
	 VAL_VALIDATION_ERROR,
	 "insuredId:required,scheduleId:required,countryISO:required,unknown:unknown_field", NULL, 0,
	 NULL},
	{"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}", 0,
	 VAL_INVALID_JSON, "body:too_deep", NULL, 0, NULL},
};

START_TEST(test_body_table)
{
	const struct body_case *c = &body_cases[_i];
	struct val_errors e;
	struct appt_request req;
	char got[512];
	size_t len = c->len ? c->len : (c->body != NULL ? strlen(c->body) : 0);
	enum rc rc = val_appointment_body(c->body, len, countries, 2, &req, &e);

	render(&e, got, sizeof(got));
	ck_assert_msg(e.result == c->result, "case %d: result %d want %d (%s)", _i, e.result,
	              c->result, got);
	ck_assert_msg(strcmp(got, c->errs) == 0, "case %d: errors '%s' want '%s'", _i, got, c->errs);
	if (c->result == VAL_OK) {
		ck_assert_int_eq(rc, RC_OK);
		ck_assert_str_eq(req.insured_id, c->insured);
		ck_assert_int_eq(req.schedule_id, c->schedule);
		ck_assert_str_eq(req.country, c->country);
	} else {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_str_eq(req.insured_id, "");
		for (size_t i = 0; i < e.count; i++)
			ck_assert_msg(e.items[i].message[0] != '\0', "case %d: empty message", _i);
	}
}
END_TEST

/* A body padded with spaces to exactly len bytes: valid JSON of any size. */
static char *padded_body(size_t len)
{
	static const char core[] = "{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\"}";
	char *b = malloc(len + 1);

	ck_assert_ptr_nonnull(b);
	memset(b, ' ', len);
	memcpy(b, core, sizeof(core) - 1);
	b[len] = '\0';
	return b;
}

START_TEST(test_body_size_limit)
{
	struct val_errors e;
	struct appt_request req;
	char *b = padded_body(VAL_BODY_MAX);
	char *json = NULL;

	ck_assert_int_eq(val_appointment_body(b, VAL_BODY_MAX, countries, 2, &req, &e), RC_OK);
	ck_assert_str_eq(req.insured_id, "00123");
	free(b);

	b = padded_body(VAL_BODY_MAX + 1);
	ck_assert_int_eq(val_appointment_body(b, VAL_BODY_MAX + 1, countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(e.result, VAL_TOO_LARGE);
	ck_assert_uint_eq(e.count, 1);
	ck_assert_str_eq(e.items[0].field, "body");
	ck_assert_str_eq(e.items[0].code, "too_large");
	ck_assert_int_eq(val_result_code(e.result), APIERR_PAYLOAD_TOO_LARGE);
	ck_assert_int_eq(val_errors_to_json(&e, "r-9", &json), RC_OK);
	ck_assert_str_eq(json, "{\"error\":{\"errorCode\":\"PAYLOAD_TOO_LARGE\","
	                       "\"message\":\"The request body is too large\",\"requestId\":\"r-9\"}}");
	free(json);
	free(b);
}
END_TEST

START_TEST(test_body_messages)
{
	struct val_errors e;
	struct appt_request req;
	static const char body[] =
		"{\"insuredId\":\"1234567\",\"scheduleId\":0,\"countryISO\":\"pe\","
		"\"aVeryLongUnknownFieldNameThatGoesOnAndOnForever\":1,\"ctl\\n\\u00e9\":2}";
	static const char body2[] = "{\"insuredId\":\"12x\",\"scheduleId\":\"5\",\"countryISO\":null,"
	                            "\"insuredId\":1}";
	static const char body3[] = "{\"insuredId\":\"\",\"scheduleId\":2.5,\"countryISO\":1}";

	ck_assert_int_eq(val_appointment_body(body, strlen(body), countries, 2, &req, &e), RC_INVAL);
	ck_assert_uint_eq(e.count, 5);
	ck_assert_str_eq(e.items[0].message, "insuredId must have at most 5 digits");
	ck_assert_str_eq(e.items[1].message,
	                 "scheduleId must be an integer from 1 to 9223372036854775807");
	ck_assert_str_eq(e.items[2].message, "countryISO must be one of: PE, CL");
	ck_assert_str_eq(e.items[3].message,
	                 "Unknown field 'aVeryLongUnknownFieldNameThatGoesOnAndOn...'");
	ck_assert_str_eq(e.items[4].message, "Unknown field 'ctl?\?\?'");

	ck_assert_int_eq(val_appointment_body(body2, strlen(body2), countries, 2, &req, &e), RC_INVAL);
	ck_assert_uint_eq(e.count, 3);
	ck_assert_str_eq(e.items[0].message, "insuredId must appear only once");
	ck_assert_str_eq(e.items[1].message, "scheduleId must be a JSON integer, not string");
	ck_assert_str_eq(e.items[2].message, "countryISO must be a JSON string, not null");

	ck_assert_int_eq(val_appointment_body(body3, strlen(body3), countries, 2, &req, &e), RC_INVAL);
	ck_assert_uint_eq(e.count, 3);
	ck_assert_str_eq(e.items[0].message, "insuredId must not be empty");
	ck_assert_str_eq(e.items[1].message, "scheduleId must be a whole number");
	ck_assert_str_eq(e.items[2].message, "countryISO must be a JSON string, not number");

	ck_assert_int_eq(val_appointment_body("12", 2, countries, 2, &req, &e), RC_INVAL);
	ck_assert_str_eq(e.items[0].message, "The request body must be a JSON object, not number");
	ck_assert_int_eq(val_appointment_body("{\"a\" 1}", 7, countries, 2, &req, &e), RC_INVAL);
	ck_assert_str_eq(e.items[0].message,
	                 "The request body is not valid JSON: invalid JSON at offset 5: expected ':'");
}
END_TEST

START_TEST(test_body_many_unknown)
{
	char body[2048];
	size_t n = 0;
	struct val_errors e;
	struct appt_request req;

	n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"insuredId\":\"1\",\"scheduleId\":1,"
	                                                  "\"countryISO\":\"CL\"");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, ",\"u%d\":%d", i, i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "}");
	ck_assert_int_eq(val_appointment_body(body, n, countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
	ck_assert_uint_eq(e.count, VAL_ERRORS_MAX);
	ck_assert_uint_eq(e.dropped, 40 - VAL_ERRORS_MAX);
	ck_assert_str_eq(e.items[0].message, "Unknown field 'u0'");
}
END_TEST

START_TEST(test_body_no_countries)
{
	struct val_errors e;
	struct appt_request req;
	static const char body[] = "{\"insuredId\":\"1\",\"scheduleId\":1,\"countryISO\":\"PE\"}";

	ck_assert_int_eq(val_appointment_body(body, strlen(body), NULL, 0, &req, &e), RC_INVAL);
	ck_assert_str_eq(e.items[0].field, "countryISO");
	ck_assert_str_eq(e.items[0].message, "countryISO must be one of: ");
}
END_TEST

/* Fetches fields[name][idx] of an error body. */
static void expect_entry(struct json_object *fields, const char *name, size_t idx,
                         const char *code, const char *message)
{
	struct json_object *arr = NULL;
	struct json_object *entry;
	const char *s = NULL;

	ck_assert_msg(json_object_object_get_ex(fields, name, &arr), "no field %s", name);
	ck_assert(json_object_is_type(arr, json_type_array));
	ck_assert_uint_gt(json_object_array_length(arr), idx);
	entry = json_object_array_get_idx(arr, idx);
	ck_assert_int_eq(json_object_object_length(entry), 2);
	ck_assert_int_eq(jx_get_str(entry, "code", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, code);
	ck_assert_int_eq(jx_get_str(entry, "message", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, message);
}

START_TEST(test_error_body_validation)
{
	struct val_errors e;
	struct appt_request req;
	static const char body[] =
		"{\"insuredId\":123,\"scheduleId\":1.5,\"countryISO\":\"pe\",\"x\":1,\"y\":2}";
	char *json = NULL;
	struct json_object *o = NULL;
	struct json_object *err = NULL;
	struct json_object *fields = NULL;
	const char *s = NULL;

	ck_assert_int_eq(val_appointment_body(body, strlen(body), countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(val_errors_to_json(&e, "req-\"1\"", &json), RC_OK);
	ck_assert_int_eq(jx_parse(json, strlen(json), 1 << 16, 8, &o, NULL), RC_OK);
	ck_assert_int_eq(json_object_object_length(o), 1);
	ck_assert_int_eq(jx_get_obj(o, "error", &err, NULL), RC_OK);
	ck_assert_int_eq(json_object_object_length(err), 4);
	ck_assert_int_eq(jx_get_str(err, "errorCode", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, "VALIDATION_ERROR");
	ck_assert_int_eq(jx_get_str(err, "message", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, "Validation failed");
	ck_assert_int_eq(jx_get_str(err, "requestId", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, "req-\"1\"");
	ck_assert_int_eq(jx_get_obj(err, "fields", &fields, NULL), RC_OK);
	ck_assert_int_eq(json_object_object_length(fields), 4);
	expect_entry(fields, "insuredId", 0, "invalid_type",
	             "insuredId must be a JSON string of 1 to 5 digits, not number");
	expect_entry(fields, "scheduleId", 0, "not_integer", "scheduleId must be a whole number");
	expect_entry(fields, "countryISO", 0, "not_allowed", "countryISO must be one of: PE, CL");
	expect_entry(fields, "unknown", 0, "unknown_field", "Unknown field 'x'");
	expect_entry(fields, "unknown", 1, "unknown_field", "Unknown field 'y'");
	json_object_put(o);
	free(json);
}
END_TEST

START_TEST(test_error_body_invalid_json)
{
	struct val_errors e;
	struct appt_request req;
	char *json = NULL;

	ck_assert_int_eq(val_appointment_body("", 0, countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(val_errors_to_json(&e, "r1", &json), RC_OK);
	ck_assert_str_eq(json, "{\"error\":{\"errorCode\":\"INVALID_JSON\","
	                       "\"message\":\"The request body must be exactly one valid JSON object\","
	                       "\"requestId\":\"r1\",\"fields\":{\"body\":[{\"message\":"
	                       "\"The request body is empty\",\"code\":\"empty_body\"}]}}}");
	free(json);

	ck_assert_int_eq(val_appointment_body("[1]", 3, countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(val_errors_to_json(&e, NULL, &json), RC_OK);
	ck_assert_str_eq(json, "{\"error\":{\"errorCode\":\"INVALID_JSON\","
	                       "\"message\":\"The request body must be exactly one valid JSON object\","
	                       "\"requestId\":\"\",\"fields\":{\"body\":[{\"message\":"
	                       "\"The request body must be a JSON object, not array\","
	                       "\"code\":\"not_an_object\"}]}}}");
	free(json);

	val_errors_init(&e);
	ck_assert_int_eq(val_errors_to_json(&e, "r", &json), RC_INVAL);
	ck_assert_ptr_null(json);
}
END_TEST

START_TEST(test_errors_fields)
{
	struct val_errors e;
	struct appt_request req;
	struct json_object *fields = NULL;
	char *text = NULL;
	static const char body[] = "{\"insuredId\":\"\",\"scheduleId\":1,\"countryISO\":\"PE\",\"q\":1}";

	val_errors_init(&e);
	ck_assert_int_eq(val_errors_fields(&e, &fields), RC_OK);
	ck_assert_int_eq(jx_to_text(fields, &text), RC_OK);
	ck_assert_str_eq(text, "{}");
	free(text);
	json_object_put(fields);

	ck_assert_int_eq(val_appointment_body(body, strlen(body), countries, 2, &req, &e), RC_INVAL);
	ck_assert_int_eq(val_errors_fields(&e, &fields), RC_OK);
	ck_assert_int_eq(jx_to_text(fields, &text), RC_OK);
	ck_assert_str_eq(text, "{\"insuredId\":[{\"message\":\"insuredId must not be empty\","
	                       "\"code\":\"too_short\"}],\"unknown\":[{\"message\":"
	                       "\"Unknown field 'q'\",\"code\":\"unknown_field\"}]}");
	free(text);
	json_object_put(fields);
}
END_TEST

struct ins_case {
	const char *in;
	const char *out;  /* NULL: invalid */
	const char *code; /* when invalid */
};

static const struct ins_case ins_cases[] = {
	{"00123", "00123", NULL},
	{"123", "00123", NULL},
	{"7", "00007", NULL},
	{"0", "00000", NULL},
	{"", NULL, "too_short"},
	{"123456", NULL, "too_long"},
	{"1234a", NULL, "invalid_format"},
	{"12 34", NULL, "invalid_format"},
	{"%31", NULL, "invalid_format"},
	{"\xef\xbc\x91", NULL, "invalid_format"},
	{NULL, NULL, "required"},
};

START_TEST(test_insured_path)
{
	const struct ins_case *c = &ins_cases[_i];
	struct val_errors e;
	char out[APPT_INSURED_SIZE];
	enum rc rc;

	val_errors_init(&e);
	rc = val_insured_id(c->in, out, &e);
	if (c->out != NULL) {
		ck_assert_int_eq(rc, RC_OK);
		ck_assert_str_eq(out, c->out);
		ck_assert_uint_eq(e.count, 0);
		ck_assert_int_eq(e.result, VAL_OK);
	} else {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_uint_eq(e.count, 1);
		ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
		ck_assert_str_eq(e.items[0].field, "insuredId");
		ck_assert_str_eq(e.items[0].code, c->code);
	}
}
END_TEST

#define MAXKV 20

struct query_case {
	struct val_kv kv[MAXKV];
	const char *errs; /* rendered; "" when valid */
	/* expected output when valid */
	int status; /* -1: none */
	int limit;
	int offset;
	const char *start; /* NULL: none */
	const char *end;
};

static const struct query_case query_cases[] = {
	{{{NULL, NULL}}, "", -1, 20, 0, NULL, NULL},
	{{{"status", "pending"}, {"limit", "5"}, {"offset", "10"}}, "", APPT_PENDING, 5, 10, NULL,
	 NULL},
	{{{"status", "failed"}}, "", APPT_FAILED, 20, 0, NULL, NULL},
	{{{"limit", "1"}, {"offset", "0"}}, "", -1, 1, 0, NULL, NULL},
	{{{"limit", "100"}, {"offset", "1000000"}}, "", -1, 100, 1000000, NULL, NULL},
	{{{"limit", "007"}}, "", -1, 7, 0, NULL, NULL},
	{{{"startDate", "2026-01-01"}, {"endDate", "2026-01-31"}}, "", -1, 20, 0,
	 "2026-01-01T00:00:00.000Z", "2026-01-31T23:59:59.999Z"},
	{{{"startDate", "2026-01-31"}, {"endDate", "2026-01-31"}}, "", -1, 20, 0,
	 "2026-01-31T00:00:00.000Z", "2026-01-31T23:59:59.999Z"},
	{{{"startDate", "2026-01-01T05:00:00+05:00"}, {"endDate", "2026-01-01T00:00:00Z"}}, "", -1,
	 20, 0, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"},
	{{{"endDate", "2026-02-28T23:59:59.999Z"}}, "", -1, 20, 0, NULL, "2026-02-28T23:59:59.999Z"},
	/* errors */
	{{{"status", "PENDING"}}, "status:not_allowed", 0, 0, 0, NULL, NULL},
	{{{"status", ""}}, "status:not_allowed", 0, 0, 0, NULL, NULL},
	{{{"status", NULL}}, "status:not_allowed", 0, 0, 0, NULL, NULL},
	{{{"limit", "0"}}, "limit:out_of_range", 0, 0, 0, NULL, NULL},
	{{{"limit", "101"}}, "limit:out_of_range", 0, 0, 0, NULL, NULL},
	{{{"limit", "99999999999999999999999"}}, "limit:out_of_range", 0, 0, 0, NULL, NULL},
	{{{"limit", "abc"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", "-1"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", "+5"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", " 5"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", "1.5"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", "1e1"}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", ""}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"limit", NULL}}, "limit:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"offset", "1000001"}}, "offset:out_of_range", 0, 0, 0, NULL, NULL},
	{{{"offset", "-1"}}, "offset:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"startDate", "2026-02-30"}}, "startDate:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"endDate", "yesterday"}}, "endDate:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"startDate", "2026-01-02"}, {"endDate", "2026-01-01"}}, "startDate:invalid_range", 0, 0,
	 0, NULL, NULL},
	{{{"startDate", "2026-01-01T00:00:00.001Z"}, {"endDate", "2026-01-01T00:00:00Z"}},
	 "startDate:invalid_range", 0, 0, 0, NULL, NULL},
	{{{"foo", "1"}}, "unknown:unknown_field", 0, 0, 0, NULL, NULL},
	{{{"Limit", "1"}}, "unknown:unknown_field", 0, 0, 0, NULL, NULL},
	{{{"", "1"}}, "unknown:unknown_field", 0, 0, 0, NULL, NULL},
	{{{"limit", "5"}, {"limit", "5"}}, "limit:duplicate_field", 0, 0, 0, NULL, NULL},
	{{{"status", "pending"}, {"status", "failed"}, {"status", "x"}}, "status:duplicate_field", 0,
	 0, 0, NULL, NULL},
	{{{"status", "12345678901234567890123456789012345678901234567890123456789012345"}},
	 "status:too_long", 0, 0, 0, NULL, NULL},
	{{{"cursor", "3.1767261200000.abc-1"}}, "", -1, 20, 0, NULL, NULL},
	{{{"cursor", "3.1767261200000.abc-1"}, {"offset", "0"}}, "offset:not_allowed", 0, 0, 0,
	 NULL, NULL},
	/* one entry per failing field: a bad offset beside a cursor is that, once */
	{{{"cursor", "3.1767261200000.abc-1"}, {"offset", "-1"}}, "offset:invalid_format", 0, 0, 0,
	 NULL, NULL},
	{{{"cursor", "3.1767261200000.abc-1"}, {"offset", "1"}, {"offset", "2"}},
	 "offset:duplicate_field", 0, 0, 0, NULL, NULL},
	{{{"cursor", ""}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "3.1767261200000."}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "x.1767261200000.a"}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "1.1767261200000.a_b"}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "1.253402300800000.a"}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "1000000001.1.a"}}, "cursor:invalid_format", 0, 0, 0, NULL, NULL},
	{{{"cursor", "1.1.0123456789012345678901234567890123456"}}, "cursor:invalid_format", 0, 0,
	 0, NULL, NULL},
	{{{"foo", "1"}, {"status", "x"}, {"limit", "0"}, {"offset", "x"}, {"endDate", "x"},
	  {"bar", NULL}},
	 "status:not_allowed,limit:out_of_range,offset:invalid_format,endDate:invalid_format,"
	 "unknown:unknown_field,unknown:unknown_field",
	 0, 0, 0, NULL, NULL},
};

static size_t kv_count(const struct val_kv *kv)
{
	size_t n = 0;

	while (n < MAXKV && kv[n].key != NULL)
		n++;
	return n;
}

START_TEST(test_query_table)
{
	const struct query_case *c = &query_cases[_i];
	struct val_errors e;
	struct val_list_query q;
	char got[512];
	enum rc rc;

	val_errors_init(&e);
	rc = val_list_query(c->kv, kv_count(c->kv), &q, &e);
	render(&e, got, sizeof(got));
	ck_assert_msg(strcmp(got, c->errs) == 0, "case %d: '%s' want '%s'", _i, got, c->errs);
	if (c->errs[0] != '\0') {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_int_eq(e.result, VAL_VALIDATION_ERROR);
		return;
	}
	ck_assert_int_eq(rc, RC_OK);
	ck_assert_int_eq(q.has_status, c->status >= 0);
	if (c->status >= 0)
		ck_assert_int_eq(q.status, c->status);
	ck_assert_int_eq(q.limit, c->limit);
	ck_assert_int_eq(q.offset, c->offset);
	ck_assert_int_eq(q.has_start, c->start != NULL);
	ck_assert_str_eq(q.start_date, c->start != NULL ? c->start : "");
	ck_assert_int_eq(q.has_end, c->end != NULL);
	ck_assert_str_eq(q.end_date, c->end != NULL ? c->end : "");
}
END_TEST

START_TEST(test_query_limits_and_mix)
{
	struct val_kv kv[VAL_QUERY_MAX + 1];
	struct val_errors e;
	struct val_list_query q;
	char out[APPT_INSURED_SIZE];
	char got[256];

	for (int i = 0; i <= VAL_QUERY_MAX; i++) {
		kv[i].key = "limit";
		kv[i].value = "1";
	}
	val_errors_init(&e);
	ck_assert_int_eq(val_list_query(kv, VAL_QUERY_MAX + 1, &q, &e), RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "query:too_many");
	ck_assert_int_eq(q.limit, VAL_LIMIT_DEFAULT);

	/* Path and query errors collected together for one response. */
	val_errors_init(&e);
	kv[0].key = "status";
	kv[0].value = "nope";
	ck_assert_int_eq(val_insured_id("12a", out, &e), RC_INVAL);
	ck_assert_int_eq(val_list_query(kv, 1, &q, &e), RC_INVAL);
	render(&e, got, sizeof(got));
	ck_assert_str_eq(got, "insuredId:invalid_format,status:not_allowed");
	ck_assert_str_eq(e.items[1].message,
	                 "status must be one of: pending, processed, completed, failed, "
	                 "cancelling, cancelled");

	/* A valid query after a path error still reports only the path error. */
	val_errors_init(&e);
	ck_assert_int_eq(val_insured_id("", out, &e), RC_INVAL);
	ck_assert_int_eq(val_list_query(NULL, 0, &q, &e), RC_OK);
	ck_assert_uint_eq(e.count, 1);
}
END_TEST

START_TEST(test_cursor_roundtrip)
{
	struct val_cursor c = {.pos = 40, .created_at = "2026-01-07T10:00:00.000Z",
			       .id = "3f2b7c1e-0d7a-4a57-9a4e-2f0c9d1b8e11"};
	struct val_cursor back;
	char text[VAL_CURSOR_SIZE];

	ck_assert_int_eq(val_cursor_format(&c, text), RC_OK);
	ck_assert_str_eq(text, "40.1767780000000.3f2b7c1e-0d7a-4a57-9a4e-2f0c9d1b8e11");
	ck_assert_int_eq(val_cursor_parse(text, &back), RC_OK);
	ck_assert_int_eq(back.pos, 40);
	ck_assert_str_eq(back.created_at, c.created_at);
	ck_assert_str_eq(back.id, c.id);
	/* the largest fits a query value */
	c.pos = VAL_CURSOR_POS_MAX;
	snprintf(c.created_at, sizeof(c.created_at), "9999-12-31T23:59:59.999Z");
	ck_assert_int_eq(val_cursor_format(&c, text), RC_OK);
	ck_assert_uint_le(strlen(text), VAL_QUERY_VALUE_MAX);
	ck_assert_int_eq(val_cursor_parse(text, &back), RC_OK);
	c.pos = -1;
	ck_assert_int_eq(val_cursor_format(&c, text), RC_INVAL);
	c.pos = 0;
	snprintf(c.id, sizeof(c.id), "a b");
	ck_assert_int_eq(val_cursor_format(&c, text), RC_INVAL);
	ck_assert_int_eq(val_cursor_parse(NULL, &back), RC_INVAL);
}
END_TEST

START_TEST(test_echo)
{
	char out[VAL_ECHO_MAX + 4];
	char small[4];

	val_echo("abc", 3, out, sizeof(out));
	ck_assert_str_eq(out, "abc");
	val_echo("a\0b\x7f\xc3\xa9", 6, out, sizeof(out));
	ck_assert_str_eq(out, "a?b???");
	val_echo("0123456789012345678901234567890123456789", 40, out, sizeof(out));
	ck_assert_str_eq(out, "0123456789012345678901234567890123456789");
	val_echo("01234567890123456789012345678901234567890", 41, out, sizeof(out));
	ck_assert_str_eq(out, "0123456789012345678901234567890123456789...");
	val_echo("abcdef", 6, small, sizeof(small));
	ck_assert_str_eq(small, "abc");
}
END_TEST

struct apierr_case {
	enum apierr_code code;
	const char *name;
	int status;
};

static const struct apierr_case apierr_cases[] = {
	{APIERR_VALIDATION_ERROR, "VALIDATION_ERROR", 400},
	{APIERR_INVALID_JSON, "INVALID_JSON", 400},
	{APIERR_FORBIDDEN, "FORBIDDEN", 403},
	{APIERR_ROUTE_NOT_FOUND, "ROUTE_NOT_FOUND", 404},
	{APIERR_SCHEDULE_NOT_FOUND, "SCHEDULE_NOT_FOUND", 404},
	{APIERR_APPOINTMENT_NOT_FOUND, "APPOINTMENT_NOT_FOUND", 404},
	{APIERR_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", 405},
	{APIERR_SCHEDULE_UNAVAILABLE, "SCHEDULE_UNAVAILABLE", 409},
	{APIERR_IDEMPOTENCY_CONFLICT, "IDEMPOTENCY_CONFLICT", 409},
	{APIERR_APPOINTMENT_NOT_CANCELLABLE, "APPOINTMENT_NOT_CANCELLABLE", 409},
	{APIERR_PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", 413},
	{APIERR_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", 415},
	{APIERR_RATE_LIMIT_EXCEEDED, "RATE_LIMIT_EXCEEDED", 429},
	{APIERR_QUOTA_EXCEEDED, "QUOTA_EXCEEDED", 429},
	{APIERR_INTERNAL_ERROR, "INTERNAL_ERROR", 500},
	{APIERR_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", 503},
	{(enum apierr_code)77, "INTERNAL_ERROR", 500},
};

START_TEST(test_apierr_table)
{
	const struct apierr_case *c = &apierr_cases[_i];
	char *json = NULL;
	struct json_object *o = NULL;
	struct json_object *err = NULL;
	const char *s = NULL;

	ck_assert_str_eq(apierr_name(c->code), c->name);
	ck_assert_int_eq(apierr_status(c->code), c->status);
	ck_assert(apierr_message(c->code)[0] != '\0');
	ck_assert_int_eq(apierr_body(c->code, NULL, "rid", NULL, &json), RC_OK);
	ck_assert_int_eq(jx_parse(json, strlen(json), 4096, 4, &o, NULL), RC_OK);
	ck_assert_int_eq(jx_get_obj(o, "error", &err, NULL), RC_OK);
	ck_assert_int_eq(json_object_object_length(err), 3);
	ck_assert_int_eq(jx_get_str(err, "errorCode", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, c->name);
	ck_assert_int_eq(jx_get_str(err, "message", &s, NULL, NULL), RC_OK);
	ck_assert_str_eq(s, apierr_message(c->code));
	json_object_put(o);
	free(json);
}
END_TEST

START_TEST(test_apierr_body_exact)
{
	char *json = NULL;

	ck_assert_int_eq(apierr_body(APIERR_METHOD_NOT_ALLOWED, "Use GET or POST", "a/b\"c", NULL,
	                             &json),
	                 RC_OK);
	ck_assert_str_eq(json, "{\"error\":{\"errorCode\":\"METHOD_NOT_ALLOWED\","
	                       "\"message\":\"Use GET or POST\",\"requestId\":\"a/b\\\"c\"}}");
	free(json);
	ck_assert_int_eq(apierr_body(APIERR_INTERNAL_ERROR, NULL, NULL, NULL, &json), RC_OK);
	ck_assert_str_eq(json, "{\"error\":{\"errorCode\":\"INTERNAL_ERROR\","
	                       "\"message\":\"An internal error occurred\",\"requestId\":\"\"}}");
	free(json);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_validate");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_body_table, 0, sizeof(body_cases) / sizeof(body_cases[0]));
	tcase_add_test(tc, test_body_size_limit);
	tcase_add_test(tc, test_body_messages);
	tcase_add_test(tc, test_body_many_unknown);
	tcase_add_test(tc, test_body_no_countries);
	tcase_add_test(tc, test_error_body_validation);
	tcase_add_test(tc, test_error_body_invalid_json);
	tcase_add_test(tc, test_errors_fields);
	tcase_add_loop_test(tc, test_insured_path, 0, sizeof(ins_cases) / sizeof(ins_cases[0]));
	tcase_add_loop_test(tc, test_query_table, 0, sizeof(query_cases) / sizeof(query_cases[0]));
	tcase_add_test(tc, test_query_limits_and_mix);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_cursor_roundtrip);
	tcase_add_loop_test(tc, test_apierr_table, 0, sizeof(apierr_cases) / sizeof(apierr_cases[0]));
	tcase_add_test(tc, test_apierr_body_exact);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
