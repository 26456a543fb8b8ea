/* test_buf.c — bounded buffer: caps, growth, room filled in place, take. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

START_TEST(test_append_and_cap)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "abcd"), RC_OK);
	ck_assert_int_eq(buf_printf(&b, "%d", 123), RC_OK);
	ck_assert_str_eq(buf_str(&b), "abcd123");
	ck_assert_int_eq(buf_puts(&b, "xy"), RC_INVAL);
	ck_assert_str_eq(buf_str(&b), "abcd123");
	ck_assert_int_eq(buf_puts(&b, "z"), RC_OK);
	ck_assert_uint_eq(b.len, 8);
	buf_cleanup(&b);
}
END_TEST

START_TEST(test_take_and_reset)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	ck_assert_str_eq(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_puts(&b, "0123456789"), RC_OK);
	ck_assert_uint_eq(b.len, 10000);
	buf_reset(&b);
	ck_assert_str_eq(buf_str(&b), "");
	ck_assert_int_eq(buf_puts(&b, "hi"), RC_OK);
	s = buf_take(&b);
	ck_assert_str_eq(s, "hi");
	free(s);
	ck_assert_str_eq(buf_str(&b), "");
	s = buf_take(&b);
	ck_assert_str_eq(s, "");
	free(s);
	buf_cleanup(&b);
	buf_cleanup(NULL);
}
END_TEST

/* Room appended for the caller to fill: in place, NUL after it, bounded by the cap. */
START_TEST(test_extend)
{
	struct buf b;
	char *p = NULL;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "ab"), RC_OK);
	ck_assert_int_eq(buf_extend(&b, 3, &p), RC_OK);
	ck_assert_ptr_eq(p, b.data + 2);
	memcpy(p, "cde", 3);
	ck_assert_str_eq(buf_str(&b), "abcde");
	ck_assert_int_eq(buf_extend(&b, 4, &p), RC_INVAL);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(buf_str(&b), "abcde");
	ck_assert_int_eq(buf_extend(&b, 0, &p), RC_OK);
	ck_assert_uint_eq(b.len, 5);
	buf_cleanup(&b);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_extend(&b, 1000, &p), RC_OK);
	memset(p, 'x', 1000);
	ck_assert_uint_eq(strlen(buf_str(&b)), 1000);
	buf_cleanup(&b);
}
END_TEST

START_TEST(test_rc_helpers)
{
	struct errbuf eb = {{0}};

	ck_assert_int_eq(eb_set(&eb, RC_INVAL, "bad %s", "thing"), RC_INVAL);
	eb_prefix(&eb, "config %d", 7);
	ck_assert_str_eq(eb.msg, "config 7: bad thing");
	ck_assert_int_eq(eb_set(NULL, RC_IO, "x"), RC_IO);
	ck_assert_str_eq(rc_name(RC_TIMEOUT), "timeout");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_append_and_cap);
	tcase_add_test(tc, test_take_and_reset);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_rc_helpers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
