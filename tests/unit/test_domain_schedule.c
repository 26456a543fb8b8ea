/* test_domain_schedule.c — the GET /schedules body (SPEC §3): the slot shape, and the
 * pagination object equal to the appointment list's for the same page. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "domain/schedule.h"

static const struct sched_slot slots[] = {
	{100, "PE", 1, 2, 3, "2027-01-01T08:00:00.000Z"},
	{101, "PE", 1, 2, 4, "2027-01-01T08:30:00.000Z"},
};

START_TEST(test_body_exact)
{
	struct appt_page pg = {.total = 5, .limit = 2, .offset = 2, .more = true,
			       .next_cursor = "ignored"};
	char *body = NULL;

	ck_assert_int_eq(sched_list_json(slots, 2, &pg, &body), RC_OK);
	ck_assert_str_eq(body,
			 "{\"schedules\":[{\"scheduleId\":100,\"countryISO\":\"PE\",\"centerId\":1,"
			 "\"specialtyId\":2,\"medicId\":3,\"date\":\"2027-01-01T08:00:00.000Z\"},"
			 "{\"scheduleId\":101,\"countryISO\":\"PE\",\"centerId\":1,"
			 "\"specialtyId\":2,\"medicId\":4,\"date\":\"2027-01-01T08:30:00.000Z\"}],"
			 "\"pagination\":{\"count\":2,\"total\":5,\"limit\":2,\"offset\":2,"
			 "\"hasMore\":true,\"totalPages\":3,\"currentPage\":2,\"nextCursor\":null}}");
	free(body);
}
END_TEST

START_TEST(test_empty_and_invalid)
{
	struct appt_page pg = {.total = 0, .limit = 20, .offset = 0};
	char *body = NULL;

	ck_assert_int_eq(sched_list_json(NULL, 0, &pg, &body), RC_OK);
	ck_assert_str_eq(body, "{\"schedules\":[],\"pagination\":{\"count\":0,\"total\":0,"
			       "\"limit\":20,\"offset\":0,\"hasMore\":false,\"totalPages\":0,"
			       "\"currentPage\":1,\"nextCursor\":null}}");
	free(body);
	pg.limit = 0;
	ck_assert_int_eq(sched_list_json(NULL, 0, &pg, &body), RC_INVAL);
	ck_assert_ptr_null(body);
	pg.limit = 1;
	pg.offset = -1;
	ck_assert_int_eq(sched_list_json(NULL, 0, &pg, &body), RC_INVAL);
}
END_TEST

/* The same pagination object as the appointment list's for the same page. */
START_TEST(test_same_pagination_as_list)
{
	struct appt_page pg = {.total = 41, .limit = 20, .offset = 40, .more = false};
	struct json_object *a = NULL;
	struct json_object *b = NULL;
	struct json_object *pa = NULL;
	struct json_object *pb = NULL;
	char *list = NULL;
	char *sched = NULL;

	ck_assert_int_eq(appt_list_json(NULL, 0, &pg, &list), RC_OK);
	ck_assert_int_eq(sched_list_json(NULL, 0, &pg, &sched), RC_OK);
	a = json_tokener_parse(list);
	b = json_tokener_parse(sched);
	ck_assert(json_object_object_get_ex(a, "pagination", &pa));
	ck_assert(json_object_object_get_ex(b, "pagination", &pb));
	ck_assert_str_eq(json_object_to_json_string(pa), json_object_to_json_string(pb));
	json_object_put(a);
	json_object_put(b);
	free(list);
	free(sched);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_schedule");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_body_exact);
	tcase_add_test(tc, test_empty_and_invalid);
	tcase_add_test(tc, test_same_pagination_as_list);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
