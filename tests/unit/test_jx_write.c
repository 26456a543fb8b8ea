/* test_jx_write.c — the text writer (base/jx_write.c) writes exactly the bytes json-c
 * prints for the same value: every byte of a string and of a key, integers at the edges,
 * member tables of every type; the buffer's cap. json-c is the oracle throughout. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jx.h"

static const int FLAGS = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* The string "a<c>b" (or "<c>" alone) written by jx_write_str and printed by json-c. */
START_TEST(test_every_byte)
{
	for (int alone = 0; alone < 2; alone++) {
		char s[4] = {'a', (char)_i, 'b', '\0'};
		const char *text = alone ? s + 1 : s;
		char one[2] = {(char)_i, '\0'};
		struct json_object *o = json_object_new_string(alone ? one : text);
		struct buf b;

		buf_init(&b, 64);
		ck_assert_int_eq(jx_write_str(&b, alone ? one : text), RC_OK);
		ck_assert_str_eq(buf_str(&b), json_object_to_json_string_ext(o, FLAGS));
		buf_cleanup(&b);
		json_object_put(o);
	}
}
END_TEST

/* A key made of every byte 1..255 in one table: jx_build_text against json-c's tree. */
START_TEST(test_keys_and_long_strings)
{
	char all[256];
	struct json_object *o = NULL;
	char *text = NULL;
	char *tree = NULL;

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	{
		const struct jx_member m[] = {
			{.key = all, .type = JX_STR, .s = all},
			{.key = "", .type = JX_STR, .s = ""},
			{.key = "/\"\\", .type = JX_STR, .s = "\x7f\xc3\xa9/"},
		};

		ck_assert_int_eq(jx_build_text(m, JX_COUNT(m), &text), RC_OK);
		ck_assert_int_eq(jx_build(m, JX_COUNT(m), &o), RC_OK);
	}
	ck_assert_int_eq(jx_to_text(o, &tree), RC_OK);
	ck_assert_str_eq(text, tree);
	free(text);
	free(tree);
	json_object_put(o);
}
END_TEST

static const int64_t ints[] = {0, 1, -1, 9, 10, -10, 99, 100, 123456789, -987654321,
			       INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
			       1000000000000000000, -1000000000000000000};

START_TEST(test_ints)
{
	struct json_object *o = json_object_new_int64(ints[_i]);
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(jx_write_int(&b, ints[_i]), RC_OK);
	ck_assert_str_eq(buf_str(&b), json_object_to_json_string_ext(o, FLAGS));
	buf_cleanup(&b);
	json_object_put(o);
}
END_TEST

/* Every member type, omitted and null members, nesting, an empty table:
 * jx_write, jx_build_text and jx_build + jx_to_text agree to the byte. */
START_TEST(test_tables)
{
	struct json_object *shared = json_object_new_string("kept");
	struct json_object *arr = json_object_new_array();
	struct json_object *o = NULL;
	char *text = NULL;
	char *tree = NULL;
	struct buf b;
	const struct jx_member inner[] = {
		{.key = "n", .type = JX_INT, .i = -1},
		{.key = "gone", .type = JX_BOOL, .b = true, .omit = true},
		{.key = "d", .type = JX_STR, .s = "2026-12-04T13:45:26.123Z"},
	};
	const struct jx_member m[] = {
		{.key = "gone", .type = JX_INT, .i = 7, .omit = true},
		{.key = "z", .type = JX_STR, .s = "first"},
		{.key = "a", .type = JX_BOOL, .b = false},
		{.key = "t", .type = JX_BOOL, .b = true},
		{.key = "obj", .type = JX_OBJ, .sub = inner, .nsub = JX_COUNT(inner)},
		{.key = "empty", .type = JX_OBJ, .sub = inner, .nsub = 0},
		{.key = "nullobj", .type = JX_OBJ},
		{.key = "val", .type = JX_VAL, .v = shared},
		{.key = "arrval", .type = JX_VAL, .v = arr},
		{.key = "nullval", .type = JX_VAL},
		{.key = "nullstr", .type = JX_STR},
		{.key = "last", .type = JX_STR, .s = "x", .omit = true},
	};

	ck_assert_int_eq(json_object_array_add(arr, json_object_new_int(3)), 0);
	ck_assert_int_eq(jx_build_text(m, JX_COUNT(m), &text), RC_OK);
	ck_assert_int_eq(jx_build(m, JX_COUNT(m), &o), RC_OK);
	ck_assert_int_eq(jx_to_text(o, &tree), RC_OK);
	ck_assert_str_eq(text, tree);
	ck_assert_str_eq(text, "{\"z\":\"first\",\"a\":false,\"t\":true,"
			       "\"obj\":{\"n\":-1,\"d\":\"2026-12-04T13:45:26.123Z\"},\"empty\":{},"
			       "\"nullobj\":null,\"val\":\"kept\",\"arrval\":[3],\"nullval\":null,"
			       "\"nullstr\":null}");
	free(text);
	free(tree);
	json_object_put(o);
	/* appends to what the buffer holds; an empty table is {} as json-c prints it */
	buf_init(&b, 64);
	ck_assert_int_eq(buf_puts(&b, "["), RC_OK);
	ck_assert_int_eq(jx_write(&b, m, 0), RC_OK);
	ck_assert_str_eq(buf_str(&b), "[{}");
	buf_cleanup(&b);
	ck_assert_str_eq(json_object_get_string(shared), "kept");
	json_object_put(shared);
	json_object_put(arr);
}
END_TEST

/* Members alone, for an object the caller writes more of: the comma follows first. */
START_TEST(test_members)
{
	const struct jx_member m[] = {
		{.key = "gone", .type = JX_INT, .i = 7, .omit = true},
		{.key = "a", .type = JX_INT, .i = 1},
		{.key = "b", .type = JX_STR, .s = "x"},
	};
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_puts(&b, "{\"arr\":[]"), RC_OK);
	ck_assert_int_eq(jx_write_members(&b, m, JX_COUNT(m), false), RC_OK);
	ck_assert_str_eq(buf_str(&b), "{\"arr\":[],\"a\":1,\"b\":\"x\"");
	buf_reset(&b);
	ck_assert_int_eq(jx_write_members(&b, m, JX_COUNT(m), true), RC_OK);
	ck_assert_str_eq(buf_str(&b), "\"a\":1,\"b\":\"x\"");
	buf_reset(&b);
	ck_assert_int_eq(jx_write_members(&b, m, 1, true), RC_OK);
	ck_assert_str_eq(buf_str(&b), "");
	buf_cleanup(&b);
}
END_TEST

/* Past the buffer's cap: RC_INVAL, whatever fitted stays. */
START_TEST(test_cap)
{
	const struct jx_member m[] = {
		{.key = "k", .type = JX_STR, .s = "0123456789"},
		{.key = "i", .type = JX_INT, .i = INT64_MIN},
	};
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(jx_write(&b, m, JX_COUNT(m)), RC_INVAL);
	ck_assert_uint_le(b.len, 8);
	buf_cleanup(&b);
	buf_init(&b, 3);
	ck_assert_int_eq(jx_write_str(&b, "\n\n"), RC_INVAL);
	ck_assert_int_eq(jx_write_int(&b, -100), RC_INVAL);
	ck_assert_int_eq(jx_write_str(&b, NULL), RC_INVAL);
	buf_cleanup(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jx_write");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_every_byte, 1, 256);
	tcase_add_test(tc, test_keys_and_long_strings);
	tcase_add_loop_test(tc, test_ints, 0, sizeof(ints) / sizeof(ints[0]));
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
