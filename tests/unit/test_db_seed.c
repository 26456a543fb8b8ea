/* test_db_seed.c — where the seed puts each schedule: deterministic from the id, always a
 * later day, inside working hours, and never one medic in two slots at once. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pg/db_int.h"
#include "pg/db_seed.h"

START_TEST(test_first_slots)
{
	static const struct {
		int64_t id;
		struct db_seed_slot want;
	} cases[] = {
		/* id, {day, minute, center, specialty, medic} */
		{100, {1, 480, 1, 1, 1}},
		{101, {1, 480, 2, 2, 2}},
		{105, {1, 480, 3, 2, 6}},
		{106, {1, 510, 1, 1, 1}},
		{100 + DB_SEED_PER_DAY - 1, {1, 990, 3, 2, 6}},
		{100 + DB_SEED_PER_DAY, {2, 480, 1, 1, 1}},
		{100 + DB_SEED_MAX_COUNT - 1, {1 + (DB_SEED_MAX_COUNT - 1) / DB_SEED_PER_DAY,
					       480 + ((DB_SEED_MAX_COUNT - 1) % DB_SEED_PER_DAY) / 6 * 30,
					       1 + ((DB_SEED_MAX_COUNT - 1) % 6) % 3,
					       1 + ((DB_SEED_MAX_COUNT - 1) % 6) % 4,
					       1 + (DB_SEED_MAX_COUNT - 1) % 6}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct db_seed_slot s;

		db_seed_slot(cases[i].id, &s);
		ck_assert_msg(memcmp(&s, &cases[i].want, sizeof(s)) == 0,
			      "id %lld: got day %d minute %d center %d specialty %d medic %d",
			      (long long)cases[i].id, s.day, s.minute, s.center_id, s.specialty_id,
			      s.medic_id);
	}
}
END_TEST

/* Over the whole range: in bounds, deterministic, and (medic, day, minute) unique. Plain
 * checks in the loop (a million ck_asserts are slow under ASan); one assertion per rule. */
START_TEST(test_all_slots)
{
	size_t slots_per_medic_day = DB_SEED_SLOTS_PER_MEDIC;
	size_t days = DB_SEED_MAX_COUNT / DB_SEED_PER_DAY + 2;
	unsigned char *seen = calloc((size_t)DB_SEED_MEDICS * days * slots_per_medic_day, 1);
	int last_day = 1;
	int64_t bad_bounds = -1, bad_order = -1, bad_repeat = -1, shared = -1;

	ck_assert_ptr_nonnull(seen);
	for (int64_t id = DB_SEED_FIRST_ID; id < DB_SEED_FIRST_ID + DB_SEED_MAX_COUNT; id++) {
		struct db_seed_slot s, again;
		size_t k;

		db_seed_slot(id, &s);
		db_seed_slot(id, &again);
		if (memcmp(&s, &again, sizeof(s)) != 0)
			bad_repeat = id;
		/* tomorrow or later (always in the future), working hours, half hours */
		if (s.day < 1 || s.minute < 8 * 60 || s.minute > 16 * 60 + 30 ||
		    (s.minute - 8 * 60) % 30 != 0 || s.medic_id < 1 ||
		    s.medic_id > DB_SEED_MEDICS || s.center_id < 1 ||
		    s.center_id > DB_SEED_CENTERS || s.specialty_id < 1 ||
		    s.specialty_id > DB_SEED_SPECIALTIES) {
			bad_bounds = id;
			continue;
		}
		if (s.day < last_day) /* ids never go back in time */
			bad_order = id;
		last_day = s.day;
		k = ((size_t)(s.medic_id - 1) * days + (size_t)s.day) * slots_per_medic_day +
		    (size_t)(s.minute - 8 * 60) / 30;
		if (seen[k])
			shared = id;
		seen[k] = 1;
	}
	free(seen);
	ck_assert_msg(bad_repeat < 0, "id %lld not deterministic", (long long)bad_repeat);
	ck_assert_msg(bad_bounds < 0, "id %lld out of bounds", (long long)bad_bounds);
	ck_assert_msg(bad_order < 0, "id %lld earlier than its predecessor", (long long)bad_order);
	ck_assert_msg(shared < 0, "id %lld shares a medic's slot", (long long)shared);
	ck_assert_int_eq(last_day, 1 + (DB_SEED_MAX_COUNT - 1) / DB_SEED_PER_DAY);
}
END_TEST

/* A medic always works at the same center in the same specialty. */
START_TEST(test_medic_is_consistent)
{
	struct db_seed_slot first[DB_SEED_MEDICS + 1];

	memset(first, 0, sizeof(first));
	for (int64_t id = 100; id < 100 + 5000; id++) {
		struct db_seed_slot s;

		db_seed_slot(id, &s);
		if (first[s.medic_id].medic_id == 0) {
			first[s.medic_id] = s;
			continue;
		}
		ck_assert_int_eq(s.center_id, first[s.medic_id].center_id);
		ck_assert_int_eq(s.specialty_id, first[s.medic_id].specialty_id);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db_seed");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_first_slots);
	tcase_add_test(tc, test_all_slots);
	tcase_add_test(tc, test_medic_is_consistent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
