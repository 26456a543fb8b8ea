/* test_store_item.c — appointment <-> DynamoDB item, both ways, and corrupt items. */
#include <check.h>
#include <json-c/json.h>
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
	a.has_schedule = true;
	a.schedule.schedule_id = a.schedule_id;
	a.schedule.center_id = 1;
	a.schedule.specialty_id = 2;
	a.schedule.medic_id = 3;
	memcpy(a.schedule.date, "2026-12-01T09:00:00.000Z", 25);
	memcpy(a.processed_at, "2026-11-25T13:45:27.000Z", 25);
	memcpy(a.completed_at, "2026-11-25T13:45:28.000Z", 25);
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
