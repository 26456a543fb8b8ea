/* test_str.c — base/str: a checked copy never cuts; the deliberate cut says it cut. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

START_TEST(test_copy)
{
	char out[6];

	ck_assert(str_copy(out, sizeof(out), "12345"));
	ck_assert_str_eq(out, "12345");
	/* one byte too long: refused, and nothing half-written is left behind */
	ck_assert(!str_copy(out, sizeof(out), "123456"));
	ck_assert_str_eq(out, "");
	ck_assert(str_copy(out, sizeof(out), NULL));
	ck_assert_str_eq(out, "");
	ck_assert(!str_copy(out, 0, "x"));
}
END_TEST

START_TEST(test_cut)
{
	char out[6];

	ck_assert(str_cut(out, sizeof(out), "%s-%d", "ab", 7));
	ck_assert_str_eq(out, "ab-7");
	ck_assert(!str_cut(out, sizeof(out), "%s", "abcdefgh"));
	ck_assert_str_eq(out, "abcde");
	ck_assert(!str_cut(out, 0, "%s", "x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("str");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_cut);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
