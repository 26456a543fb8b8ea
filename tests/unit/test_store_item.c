/* test_store_item.c — appointment <-> DynamoDB item, both ways, and corrupt items. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/store_item.h"

static struct appointment sample(void)
{
	struct appointment a;

	memset(&a, 0, sizeof(a));
	memcpy(a.appointment_id, "0b9d6d36-6a4b-4c1e-9a53-7f1f0f3b5e11", APPT_ID_SIZE);
	memcpy(a.insured_id, "00123", 6);
	a.schedule_id = 9007199254740993LL; /* not exact as a double: must survive */
	memcpy(a.country, "PE", 3);
	a.status = APPT_PENDING;
	memcpy(a.created_at, "2026-11-25T13:45:26.123Z", 25);
	memcpy(a.updated_at, "2026-11-25T13:45:26.123Z", 25);
	return a;
}

/* a as the worker and the completion daemon leave it: booked, processed, completed. */
static void processed(struct appointment *a)
{
	a->has_schedule = true;
	a->schedule.schedule_id = a->schedule_id;
	a->schedule.center_id = 1;
	a->schedule.specialty_id = 2;
	a->schedule.medic_id = 3;
	memcpy(a->schedule.date, "2026-12-01T09:00:00.000Z", 25);
	memcpy(a->processed_at, "2026-11-25T13:45:27.000Z", 25);
	memcpy(a->completed_at, "2026-11-25T13:45:28.000Z", 25);
}

START_TEST(test_pending_round_trip)
{
	struct appointment a = sample();
	struct appointment b;
	struct json_object *item = NULL;
	struct errbuf eb = {{0}};
	const char *text;

	ck_assert_int_eq(store_item_from_appt(&a, &item), RC_OK);
	text = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN);
	ck_assert_ptr_nonnull(strstr(text, "\"processedAt\":{\"NULL\":true}"));
	ck_assert_ptr_nonnull(strstr(text, "\"scheduleId\":{\"N\":\"9007199254740993\"}"));
	ck_assert_ptr_nonnull(strstr(text, "\"status\":{\"S\":\"pending\"}"));
	ck_assert_ptr_null(strstr(text, "completedAt"));
	ck_assert_ptr_null(strstr(text, "schedule\""));
	ck_assert_int_eq(store_appt_from_item(item, &b, &eb), RC_OK);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	json_object_put(item);
}
END_TEST

START_TEST(test_processed_round_trip)
{
	struct appointment a = sample();
	struct appointment b;
	struct json_object *item = NULL;
	struct errbuf eb = {{0}};

	a.status = APPT_COMPLETED;
	processed(&a);
	ck_assert_int_eq(store_item_from_appt(&a, &item), RC_OK);
	ck_assert_int_eq(store_appt_from_item(item, &b, &eb), RC_OK);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	json_object_put(item);
	/* a cancelled one keeps its history and gains cancelledAt */
	a.status = APPT_CANCELLED;
	memcpy(a.cancelled_at, "2026-11-25T13:45:29.000Z", 25);
	ck_assert_int_eq(store_item_from_appt(&a, &item), RC_OK);
	ck_assert_int_eq(store_appt_from_item(item, &b, &eb), RC_OK);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	json_object_put(item);
}
END_TEST

#define TP1 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP2 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* a through an item and back must be a again; the item's JSON text (the caller frees it). */
static char *round_trip(const struct appointment *a)
{
	struct appointment b;
	struct json_object *item = NULL;
	struct errbuf eb = {{0}};
	char *text;

	ck_assert_int_eq(store_item_from_appt(a, &item), RC_OK);
	text = strdup(json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN));
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(store_appt_from_item(item, &b, &eb), RC_OK);
	ck_assert_mem_eq(a, &b, sizeof(b));
	json_object_put(item);
	return text;
}

/* The request ids (SPEC §7) are written only when set and read back the same. */
START_TEST(test_trace_round_trip)
{
	struct appointment a = sample();
	char *text = round_trip(&a);

	ck_assert_ptr_null(strstr(text, "equestId"));
	ck_assert_ptr_null(strstr(text, "raceparent"));
	free(text);
	appt_trace_set(&a.trace, "post-7", TP1);
	text = round_trip(&a);
	ck_assert_ptr_nonnull(strstr(text, "\"requestId\":{\"S\":\"post-7\"}"));
	ck_assert_ptr_nonnull(strstr(text, "\"traceparent\":{\"S\":\"" TP1 "\"}"));
	ck_assert_ptr_null(strstr(text, "cancel"));
	free(text);
	a.status = APPT_CANCELLING;
	appt_trace_set(&a.cancel_trace, "delete-7", NULL);
	text = round_trip(&a);
	ck_assert_ptr_nonnull(strstr(text, "\"cancelRequestId\":{\"S\":\"delete-7\"}"));
	ck_assert_ptr_null(strstr(text, "cancelTraceparent"));
	free(text);
	appt_trace_set(&a.cancel_trace, "delete-7", TP2);
	text = round_trip(&a);
	ck_assert_ptr_nonnull(strstr(text, "\"cancelTraceparent\":{\"S\":\"" TP2 "\"}"));
	free(text);
}
END_TEST

/* The item as DynamoDB answers a read with STORE_PUBLIC_PROJECTION: only the attributes it
 * names, its placeholders resolved through store_public_names. */
static struct json_object *projected(struct json_object *item)
{
	struct json_object *names = NULL;
	struct json_object *out = json_object_new_object();
	char list[] = STORE_PUBLIC_PROJECTION;
	char *save = NULL;

	ck_assert_int_eq(store_public_names(&names), RC_OK);
	for (char *tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		struct json_object *name = NULL;
		struct json_object *val = NULL;
		const char *attr = tok;

		if (tok[0] == '#') {
			ck_assert_msg(json_object_object_get_ex(names, tok, &name), "%s unnamed", tok);
			attr = json_object_get_string(name);
		}
		if (json_object_object_get_ex(item, attr, &val))
			json_object_object_add(out, attr, json_object_get(val));
	}
	json_object_put(names);
	return out;
}

/* A read through the projection gives every member an answer shows (SPEC §3's item shape),
 * and none of the internal request ids: an attribute the reader takes and the projection
 * forgot would vanish from every listing. */
START_TEST(test_public_projection)
{
	static const enum appt_status all[] = {APPT_PENDING, APPT_PROCESSED, APPT_COMPLETED,
					       APPT_FAILED, APPT_CANCELLING, APPT_CANCELLED};
	struct appointment a = sample();

	processed(&a);
	memcpy(a.cancelled_at, "2026-11-25T13:45:29.000Z", 25);
	memcpy(a.failure_reason, "slot taken", 11);
	appt_trace_set(&a.trace, "post-7", TP1);
	appt_trace_set(&a.cancel_trace, "delete-7", TP2);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct appointment b;
		struct appointment want = a;
		struct json_object *item = NULL;
		struct json_object *seen;
		struct errbuf eb = {{0}};

		a.status = all[i];
		want.status = all[i];
		memset(&want.trace, 0, sizeof(want.trace));
		memset(&want.cancel_trace, 0, sizeof(want.cancel_trace));
		ck_assert_int_eq(store_item_from_appt(&a, &item), RC_OK);
		seen = projected(item);
		ck_assert_int_eq(json_object_object_length(seen), json_object_object_length(item) - 4);
		ck_assert_int_eq(store_appt_from_item(seen, &b, &eb), RC_OK);
		ck_assert_mem_eq(&want, &b, sizeof(b));
		json_object_put(seen);
		json_object_put(item);
	}
}
END_TEST

/* Bad ids in an item (written by hand, or by something else): read as none, not an error. */
static const char *const bad_ids[] = {
	"\"requestId\":{\"N\":\"5\"},\"traceparent\":{\"NULL\":true}",
	"\"requestId\":{\"S\":\"\"},\"traceparent\":{\"S\":\"00-zz\"}",
	"\"requestId\":{\"S\":\"a b\"},\"cancelRequestId\":{\"S\":\"tab\\there\"}",
	"\"requestId\":{\"S\":\"nul\\u0000\"},\"cancelTraceparent\":{\"M\":{}}",
	"\"requestId\":{\"S\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", /* 129 */
};

START_TEST(test_trace_bad_ids)
{
	char json[1024];
	struct json_object *item;
	struct appointment a;
	struct errbuf eb = {{0}};

	snprintf(json, sizeof(json), "{\"appointmentId\":{\"S\":\"x\"},\"insuredId\":{\"S\":"
		 "\"00123\"},\"scheduleId\":{\"N\":\"1\"},\"countryISO\":{\"S\":\"PE\"},"
		 "\"status\":{\"S\":\"pending\"},\"createdAt\":{\"S\":\"t\"},%s}", bad_ids[_i]);
	item = json_tokener_parse(json);
	ck_assert_ptr_nonnull(item);
	ck_assert_msg(store_appt_from_item(item, &a, &eb) == RC_OK, "case %d: %s", _i, eb.msg);
	ck_assert_str_eq(a.trace.request_id, "");
	ck_assert_str_eq(a.trace.traceparent, "");
	ck_assert_str_eq(a.cancel_trace.request_id, "");
	ck_assert_str_eq(a.cancel_trace.traceparent, "");
	json_object_put(item);
}
END_TEST

static const struct {
	const char *json;
	const char *want;
} corrupt[] = {
	{"{}", "appointmentId"},
	{"{\"appointmentId\":{\"S\":\"x\"},\"insuredId\":{\"S\":\"00123\"},\"scheduleId\":{\"S\":\"1\"}}",
	 "scheduleId"},
	{"{\"appointmentId\":{\"S\":\"x\"},\"insuredId\":{\"S\":\"00123\"},\"scheduleId\":{\"N\":\"1\"},"
	 "\"countryISO\":{\"S\":\"PE\"},\"status\":{\"S\":\"lost\"},\"createdAt\":{\"S\":\"t\"}}",
	 "status 'lost'"},
	{"{\"appointmentId\":{\"S\":\"x\"},\"insuredId\":{\"S\":\"0012345\"}}", "insuredId"},
	{"{\"appointmentId\":{\"S\":\"x\"},\"insuredId\":{\"S\":\"00123\"},\"scheduleId\":{\"N\":\"1\"},"
	 "\"countryISO\":{\"S\":\"PE\"},\"status\":{\"S\":\"processed\"},\"createdAt\":{\"S\":\"t\"},"
	 "\"schedule\":{\"M\":{\"centerId\":{\"N\":\"1\"}}}}",
	 "specialtyId"},
};

START_TEST(test_corrupt_items)
{
	struct json_object *item = json_tokener_parse(corrupt[_i].json);
	struct appointment a;
	struct errbuf eb = {{0}};

	ck_assert_ptr_nonnull(item);
	ck_assert_int_eq(store_appt_from_item(item, &a, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, corrupt[_i].want) != NULL, "case %d: %s", _i, eb.msg);
	json_object_put(item);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_item");
	TCase *tc = tcase_create("store_item");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_pending_round_trip);
	tcase_add_test(tc, test_processed_round_trip);
	tcase_add_loop_test(tc, test_corrupt_items, 0, (int)(sizeof(corrupt) / sizeof(corrupt[0])));
	tcase_add_test(tc, test_trace_round_trip);
	tcase_add_test(tc, test_public_projection);
	tcase_add_loop_test(tc, test_trace_bad_ids, 0, (int)(sizeof(bad_ids) / sizeof(bad_ids[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
