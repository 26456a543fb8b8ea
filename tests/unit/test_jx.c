/* test_jx.c — strict parse, the answer parse, duplicate keys, exact integers, getters, builders. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jx.h"

#define S(lit) lit, sizeof(lit) - 1

struct parse_case {
	const char *text;
	size_t len;
	size_t max_len;
	int depth;
	enum jx_perr why;
	enum json_type type; /* expected type when why is JX_PERR_NONE */
};

static const struct parse_case parse_cases[] = {
	{S("{}"), 100, 8, JX_PERR_NONE, json_type_object},
	{S(" \t\r\n{\"a\":1} \n"), 100, 8, JX_PERR_NONE, json_type_object},
	{S("[1,2]"), 100, 8, JX_PERR_NONE, json_type_array},
	{S("\"x\""), 100, 8, JX_PERR_NONE, json_type_string},
	{S("123"), 100, 8, JX_PERR_NONE, json_type_int},
	{S("-1.5e-3"), 100, 8, JX_PERR_NONE, json_type_double},
	{S("true"), 100, 8, JX_PERR_NONE, json_type_boolean},
	{S("null"), 100, 8, JX_PERR_NONE, json_type_null},
	{S("{\"k\":\"\\u00e9\\ud83d\\ude00\"}"), 100, 8, JX_PERR_NONE, json_type_object},
	{S("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), 100, 8, JX_PERR_NONE, json_type_string},
	{S("{\"a\":\"\\u0000\"}"), 100, 8, JX_PERR_NONE, json_type_object},
	/* empty */
	{S(""), 100, 8, JX_PERR_EMPTY, json_type_null},
	{S("  \n\t "), 100, 8, JX_PERR_EMPTY, json_type_null},
	/* length checked first, even for garbage */
	{S("{\"a\":1}"), 6, 8, JX_PERR_TOO_LONG, json_type_null},
	{S("{\"a\":1}"), 7, 8, JX_PERR_NONE, json_type_object},
	/* NUL */
	{"{\"a\":1}\0", 8, 100, 8, JX_PERR_NUL, json_type_null},
	{"{\"a\":\"x\0y\"}", 11, 100, 8, JX_PERR_NUL, json_type_null},
	/* UTF-8 */
	{S("\"\xff\""), 100, 8, JX_PERR_UTF8, json_type_null},
	{S("\"\xc3\""), 100, 8, JX_PERR_UTF8, json_type_null},
	{S("\"\xc0\xaf\""), 100, 8, JX_PERR_UTF8, json_type_null},          /* overlong */
	{S("\"\xed\xa0\x80\""), 100, 8, JX_PERR_UTF8, json_type_null},      /* surrogate */
	{S("\"\xf4\x90\x80\x80\""), 100, 8, JX_PERR_UTF8, json_type_null},  /* > U+10FFFF */
	{S("\"\\ud800\""), 100, 8, JX_PERR_UTF8, json_type_null},
	{S("\"\\udc00\""), 100, 8, JX_PERR_UTF8, json_type_null},
	{S("\"\\ud800\\u0041\""), 100, 8, JX_PERR_UTF8, json_type_null},
	/* depth: max_depth counts containers */
	{S("[[[[[[[[1]]]]]]]]"), 100, 8, JX_PERR_NONE, json_type_array},
	{S("[[[[[[[[[1]]]]]]]]]"), 100, 8, JX_PERR_DEPTH, json_type_null},
	{S("{\"a\":{\"b\":1}}"), 100, 1, JX_PERR_DEPTH, json_type_null},
	{S("{\"a\":1}"), 100, 1, JX_PERR_NONE, json_type_object},
	{S("1"), 100, 0, JX_PERR_NONE, json_type_int},
	/* trailing */
	{S("{} {}"), 100, 8, JX_PERR_TRAILING, json_type_null},
	{S("{}x"), 100, 8, JX_PERR_TRAILING, json_type_null},
	{S("1 2"), 100, 8, JX_PERR_TRAILING, json_type_null},
	/* what json-c 0.16 STRICT lets through */
	{S("NaN"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("Infinity"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("-Infinity"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{'a':1}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("1."), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{\"a\":\"x\ty\"}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	/* other syntax */
	{S("01"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S(".5"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("+1"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("1e"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{\"a\":1,}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("[1,]"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{\"a\" 1}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{a:1}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("\"abc"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("\"\\x\""), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("\"\\u12g4\""), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("tru"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("/*c*/{}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("\xef\xbb\xbf{}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
	{S("{\"a\\u0000b\":1}"), 100, 8, JX_PERR_SYNTAX, json_type_null},
};

START_TEST(test_parse_table)
{
	const struct parse_case *c = &parse_cases[_i];
	struct json_object *o = (struct json_object *)1;
	struct errbuf eb = {{0}};
	enum jx_perr why = JX_PERR_NONE;
	enum rc rc = jx_parse_ex(c->text, c->len, c->max_len, c->depth, &o, &why, &eb);

	ck_assert_msg(why == c->why, "case %d: why %d want %d (%s)", _i, why, c->why, eb.msg);
	if (c->why == JX_PERR_NONE) {
		ck_assert_int_eq(rc, RC_OK);
		ck_assert_int_eq(json_object_get_type(o), c->type);
	} else {
		ck_assert_int_eq(rc, RC_INVAL);
		ck_assert_ptr_null(o);
		ck_assert_msg(eb.msg[0] != '\0', "case %d: no message", _i);
	}
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_messages)
{
	struct json_object *o = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(jx_parse(S("{\"a\":1}"), 3, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text is 7 bytes, over the limit of 3");
	ck_assert_int_eq(jx_parse(NULL, 0, 3, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text is empty");
	ck_assert_int_eq(jx_parse(S("  "), 3, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text contains only whitespace");
	ck_assert_int_eq(jx_parse("[\0]", 3, 10, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text contains a NUL byte at offset 1");
	ck_assert_int_eq(jx_parse(S("[[1]]"), 10, 1, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON nesting deeper than 1 levels at offset 1");
	ck_assert_int_eq(jx_parse(S("{} {}"), 10, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "invalid JSON at offset 3: more than one JSON value (trailing data)");
	ck_assert_int_eq(jx_parse(S("[\"\xff\"]"), 10, 8, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "invalid JSON at offset 2: invalid UTF-8 in a string");
	ck_assert_ptr_null(o);
}
END_TEST

/* jx_parse_answer: one object and nothing after it; json-c's own rules inside. */
struct answer_case {
	const char *text;
	size_t len;
	bool check_utf8;
	bool ok;         /* parsed, into an object: the only shape an answer may have */
	const char *msg; /* expected message when not ok, or NULL to only require one */
};

static const struct answer_case answer_cases[] = {
	{S("{}"), true, true, NULL},
	{S(" \r\n{\"Items\":[{\"a\":{\"S\":\"\xc3\xa9\"}}],\"Count\":1}\n "), true, true, NULL},
	{S("{\"a\":[1,{\"b\":null}]}"), true, true, NULL},
	/* a string that is not UTF-8: the service's or a message's failure, by check_utf8 */
	{S("{\"Body\":\"\xff\"}"), true, false, NULL},
	{S("{\"Body\":\"\xc3\"}"), true, false, NULL},
	{S("{\"Body\":\"\xff\"}"), false, true, NULL},
	/* exactly one value: truncated, trailing, two values */
	{S("{\"a\":1"), true, false, "JSON text ends inside a value"},
	{S("{} {}"), true, false, NULL},
	{S("{}x"), false, false, NULL},
	{S("<html>502</html>"), true, false, NULL},
	/* an array or a scalar is no answer */
	{S(" [{}]"), true, false, "JSON text is not an object"},
	{S("1"), true, false, "JSON text is not an object"},
	{S("\"x\""), true, false, "JSON text is not an object"},
	{S("null"), true, false, "JSON text is not an object"},
	/* bytes before json-c sees them */
	{S(""), true, false, "JSON text is empty"},
	{S(" \n "), true, false, "JSON text contains only whitespace"},
	{"{\"a\":\"x\0y\"}", 11, false, false,
	 "JSON text contains a NUL byte at offset 7"},
	/* grammar json-c STRICT refuses */
	{S("{\"a\":1,}"), true, false, NULL},
	{S("{\"a\":01}"), true, false, NULL},
	{S("/*c*/{}"), true, false, NULL},
	{S("{\"a\":tru}"), true, false, NULL},
};

START_TEST(test_parse_answer_table)
{
	const struct answer_case *c = &answer_cases[_i];
	struct json_object *o = (struct json_object *)1;
	struct errbuf eb = {{0}};
	enum rc rc = jx_parse_answer(c->text, c->len, 1000, 8, c->check_utf8, &o, &eb);

	if (c->ok) {
		ck_assert_msg(rc == RC_OK, "case %d: %s", _i, eb.msg);
		ck_assert_int_eq(json_object_get_type(o), json_type_object);
	} else {
		ck_assert_msg(rc == RC_INVAL, "case %d: %s", _i, rc_name(rc));
		ck_assert_ptr_null(o);
		ck_assert_msg(eb.msg[0] != '\0', "case %d: no message", _i);
		if (c->msg != NULL)
			ck_assert_str_eq(eb.msg, c->msg);
	}
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_answer_limits)
{
	struct json_object *o = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(jx_parse_answer(S("{\"a\":1}"), 6, 8, true, &o, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text is 7 bytes, over the limit of 6");
	ck_assert_int_eq(jx_parse_answer(S("{\"a\":1}"), 7, 8, true, &o, &eb), RC_OK);
	json_object_put(o);
	/* max_depth counts containers, as jx_parse_ex's does */
	ck_assert_int_eq(jx_parse_answer(S("{\"a\":[1]}"), 20, 2, true, &o, &eb), RC_OK);
	json_object_put(o);
	ck_assert_int_eq(jx_parse_answer(S("{\"a\":[[1]]}"), 20, 2, true, &o, &eb), RC_INVAL);
	ck_assert_ptr_null(o);
	ck_assert_msg(strstr(eb.msg, "nesting") != NULL, "%s", eb.msg);
}
END_TEST

START_TEST(test_parse_values)
{
	struct json_object *o = NULL;
	const char *s = NULL;
	size_t len = 0;

	ck_assert_int_eq(jx_parse(S("{\"k\":\"a\\u0000b\\u00e9\\ud83d\\ude00\\n\"}"), 100, 2, &o,
	                          NULL),
	                 RC_OK);
	ck_assert_int_eq(jx_get_str(o, "k", &s, &len, NULL), RC_OK);
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(memcmp(s, "a\0b\xc3\xa9\xf0\x9f\x98\x80\n", 10), 0);
	json_object_put(o);
}
END_TEST

struct int_case {
	const char *text;
	enum jx_num want;
	int64_t value;
};

static const struct int_case int_cases[] = {
	{"100", JX_NUM_INT, 100},
	{"1e2", JX_NUM_INT, 100},
	{"1E2", JX_NUM_INT, 100},
	{"1e+2", JX_NUM_INT, 100},
	{"1.0E2", JX_NUM_INT, 100},
	{"100.000", JX_NUM_INT, 100},
	{"0.001e5", JX_NUM_INT, 100},
	{"10000e-2", JX_NUM_INT, 100},
	{"0", JX_NUM_INT, 0},
	{"-0", JX_NUM_INT, 0},
	{"0.0e-999999999999999999999", JX_NUM_INT, 0},
	{"0e99999", JX_NUM_INT, 0},
	{"-42", JX_NUM_INT, -42},
	{"1.5e1", JX_NUM_INT, 15},
	{"9223372036854775807", JX_NUM_INT, INT64_MAX},
	{"9.223372036854775807e18", JX_NUM_INT, INT64_MAX},
	{"-9223372036854775808", JX_NUM_INT, INT64_MIN},
	{"92233720368547758070e-1", JX_NUM_INT, INT64_MAX},
	{"1.5", JX_NUM_FRACTION, 0},
	{"1e-1", JX_NUM_FRACTION, 0},
	{"1.05e1", JX_NUM_FRACTION, 0},
	{"100.0001", JX_NUM_FRACTION, 0},
	{"1e-99999999999999999999999", JX_NUM_FRACTION, 0},
	{"-0.5", JX_NUM_FRACTION, 0},
	{"9223372036854775808", JX_NUM_RANGE, 0},
	{"-9223372036854775809", JX_NUM_RANGE, 0},
	{"18446744073709551615", JX_NUM_RANGE, 0},
	{"1e19", JX_NUM_RANGE, 0},
	{"1e30", JX_NUM_RANGE, 0},
	{"1e99999999999999999999999", JX_NUM_RANGE, 0},
	{"99999999999999999999", JX_NUM_RANGE, 0},
	{"9.3e18", JX_NUM_RANGE, 0},
	{"", JX_NUM_NOT_NUMBER, 0},
	{"-", JX_NUM_NOT_NUMBER, 0},
	{"01", JX_NUM_NOT_NUMBER, 0},
	{"1.", JX_NUM_NOT_NUMBER, 0},
	{".1", JX_NUM_NOT_NUMBER, 0},
	{"1e", JX_NUM_NOT_NUMBER, 0},
	{"1e+", JX_NUM_NOT_NUMBER, 0},
	{"+1", JX_NUM_NOT_NUMBER, 0},
	{" 1", JX_NUM_NOT_NUMBER, 0},
	{"1 ", JX_NUM_NOT_NUMBER, 0},
	{"0x10", JX_NUM_NOT_NUMBER, 0},
	{"NaN", JX_NUM_NOT_NUMBER, 0},
	{"Infinity", JX_NUM_NOT_NUMBER, 0},
};

START_TEST(test_integer_text)
{
	const struct int_case *c = &int_cases[_i];
	int64_t v = 7777;
	enum jx_num r = jx_integer_text(c->text, &v);

	ck_assert_msg(r == c->want, "'%s': got %d want %d", c->text, r, c->want);
	if (c->want == JX_NUM_INT)
		ck_assert_msg(v == c->value, "'%s': value %lld", c->text, (long long)v);
	else
		ck_assert_msg(v == 7777, "'%s': out written", c->text);
}
END_TEST

START_TEST(test_integer_text_null)
{
	int64_t v = 0;

	ck_assert_int_eq(jx_integer_text(NULL, &v), JX_NUM_NOT_NUMBER);
}
END_TEST

/* jx_value_int64 through the tokener: json-c keeps double text, saturates ints. */
static const struct int_case value_cases[] = {
	{"{\"v\":100}", JX_NUM_INT, 100},
	{"{\"v\":1e2}", JX_NUM_INT, 100},
	{"{\"v\":1.0E2}", JX_NUM_INT, 100},
	{"{\"v\":100.000}", JX_NUM_INT, 100},
	{"{\"v\":-0}", JX_NUM_INT, 0},
	{"{\"v\":9223372036854775807}", JX_NUM_INT, INT64_MAX},
	{"{\"v\":-9223372036854775807}", JX_NUM_INT, -INT64_MAX},
	{"{\"v\":1.5}", JX_NUM_FRACTION, 0},
	{"{\"v\":1e-1}", JX_NUM_FRACTION, 0},
	{"{\"v\":1.05e1}", JX_NUM_FRACTION, 0},
	{"{\"v\":9223372036854775808}", JX_NUM_RANGE, 0},
	{"{\"v\":18446744073709551615}", JX_NUM_RANGE, 0},
	{"{\"v\":99999999999999999999}", JX_NUM_RANGE, 0},
	{"{\"v\":-99999999999999999999}", JX_NUM_RANGE, 0},
	{"{\"v\":-9223372036854775808}", JX_NUM_RANGE, 0},
	{"{\"v\":1e30}", JX_NUM_RANGE, 0},
	{"{\"v\":1e400}", JX_NUM_RANGE, 0},
	{"{\"v\":\"1\"}", JX_NUM_NOT_NUMBER, 0},
	{"{\"v\":true}", JX_NUM_NOT_NUMBER, 0},
	{"{\"v\":null}", JX_NUM_NOT_NUMBER, 0},
	{"{\"v\":[1]}", JX_NUM_NOT_NUMBER, 0},
};

START_TEST(test_value_int64)
{
	const struct int_case *c = &value_cases[_i];
	struct json_object *o = NULL;
	struct json_object *v = NULL;
	int64_t got = 7777;
	enum jx_num r;

	ck_assert_int_eq(jx_parse(c->text, strlen(c->text), 1000, 2, &o, NULL), RC_OK);
	json_object_object_get_ex(o, "v", &v);
	r = jx_value_int64(v, &got);
	ck_assert_msg(r == c->want, "'%s': got %d want %d", c->text, r, c->want);
	if (c->want == JX_NUM_INT)
		ck_assert_msg(got == c->value, "'%s': value %lld", c->text, (long long)got);
	json_object_put(o);
}
END_TEST

struct dup_case {
	const char *text;
	enum rc rc;
	const char *first; /* NULL: none */
	const char *all;   /* names joined by ',' */
};

static const struct dup_case dup_cases[] = {
	{"{\"a\":1,\"b\":2}", RC_OK, NULL, ""},
	{"{\"a\":1,\"a\":2}", RC_OK, "a", "a"},
	{"{\"a\":1,\"\\u0061\":2}", RC_OK, "a", "a"},
	{"{\"\\u00e9\":1,\"\xc3\xa9\":2}", RC_OK, "\xc3\xa9", "\xc3\xa9"},
	{"{\"b\":1,\"a\":1,\"a\":2,\"b\":3,\"b\":4}", RC_OK, "a", "a,b"},
	{"{\"ab\":1,\"a\":1,\"abc\":2}", RC_OK, NULL, ""},
	{"{\"x\":{\"a\":1,\"a\":2}}", RC_OK, NULL, ""},   /* nested not inspected */
	{"[{\"a\":1,\"a\":2}]", RC_OK, NULL, ""},         /* not an object */
	{"{\"a\\\"\":1,\"a\\\"\":2}", RC_OK, "a\"", "a\""},
	{"{}", RC_OK, NULL, ""},
	{"{\"a\":1,\"a\":2", RC_INVAL, NULL, ""},
	{"", RC_INVAL, NULL, ""},
};

/* Appends ",name" (or "name" first) to a 256-byte accumulator. */
static void join_cb(void *ctx, const char *name)
{
	char *acc = ctx;
	size_t n = strlen(acc);

	snprintf(acc + n, 256 - n, "%s%s", n > 0 ? "," : "", name);
}

START_TEST(test_dup_keys)
{
	const struct dup_case *c = &dup_cases[_i];
	char name[16];
	char all[256] = "";
	bool found = true;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(jx_dup_key(c->text, strlen(c->text), name, sizeof(name), &found, &eb), c->rc);
	if (c->rc != RC_OK) {
		ck_assert(eb.msg[0] != '\0');
		return;
	}
	ck_assert_int_eq(found, c->first != NULL);
	if (c->first != NULL)
		ck_assert_str_eq(name, c->first);
	ck_assert_int_eq(jx_dup_keys(c->text, strlen(c->text), join_cb, all, NULL), RC_OK);
	ck_assert_str_eq(all, c->all);
}
END_TEST

START_TEST(test_dup_key_truncates_and_scales)
{
	char name[4];
	bool found = false;
	char *big = NULL;
	size_t n = 0;
	size_t cap = 200000;

	ck_assert_int_eq(jx_dup_key(S("{\"abcdef\":1,\"abcdef\":1}"), name, sizeof(name), &found, NULL),
	                 RC_OK);
	ck_assert(found);
	ck_assert_str_eq(name, "abc");

	/* Many distinct keys, then a repeat of the first: still found, no quadratic walk. */
	big = malloc(cap);
	ck_assert_ptr_nonnull(big);
	big[n++] = '{';
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(big + n, cap - n, "\"k%d\":%d,", i, i);
	n += (size_t)snprintf(big + n, cap - n, "\"k0\":0}");
	ck_assert_int_eq(jx_dup_key(big, n, name, sizeof(name), &found, NULL), RC_OK);
	ck_assert(found);
	ck_assert_str_eq(name, "k0");
	free(big);
}
END_TEST

START_TEST(test_getters)
{
	struct json_object *o = NULL;
	struct json_object *sub = NULL;
	const char *s = NULL;
	size_t len = 99;
	int64_t i = 0;
	bool b = false;
	struct errbuf eb = {{0}};
	static const char text[] =
		"{\"s\":\"hi\",\"i\":42,\"d\":1e2,\"f\":1.5,\"b\":true,\"n\":null,\"o\":{\"x\":1}}";

	ck_assert_int_eq(jx_parse(S(text), 1000, 4, &o, NULL), RC_OK);
	ck_assert_int_eq(jx_get_str(o, "s", &s, &len, &eb), RC_OK);
	ck_assert_str_eq(s, "hi");
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(jx_get_str(o, "i", &s, NULL, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "'i' is not a string");
	ck_assert_int_eq(jx_get_str(o, "nope", &s, NULL, &eb), RC_NOTFOUND);
	ck_assert_str_eq(eb.msg, "'nope' is missing");
	ck_assert_int_eq(jx_get_str(o, "n", &s, NULL, &eb), RC_INVAL);

	ck_assert_int_eq(jx_get_str_opt(o, "n", &s, &len, &eb), RC_OK);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(jx_get_str_opt(o, "nope", &s, &len, &eb), RC_OK);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(jx_get_str_opt(o, "s", &s, &len, &eb), RC_OK);
	ck_assert_str_eq(s, "hi");
	ck_assert_int_eq(jx_get_str_opt(o, "i", &s, &len, &eb), RC_INVAL);

	ck_assert_int_eq(jx_get_int64(o, "i", &i, &eb), RC_OK);
	ck_assert_int_eq(i, 42);
	ck_assert_int_eq(jx_get_int64(o, "d", &i, &eb), RC_OK);
	ck_assert_int_eq(i, 100);
	ck_assert_int_eq(jx_get_int64(o, "f", &i, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "'f' is not an integer");
	ck_assert_int_eq(jx_get_int64(o, "s", &i, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "'s' is not a number");
	ck_assert_int_eq(jx_get_int64(o, "nope", &i, &eb), RC_NOTFOUND);

	ck_assert_int_eq(jx_get_bool(o, "b", &b, &eb), RC_OK);
	ck_assert(b);
	ck_assert_int_eq(jx_get_bool(o, "i", &b, &eb), RC_INVAL);

	ck_assert_int_eq(jx_get_obj(o, "o", &sub, &eb), RC_OK);
	ck_assert_int_eq(jx_get_int64(sub, "x", &i, &eb), RC_OK);
	ck_assert_int_eq(i, 1);
	ck_assert_int_eq(jx_get_obj(o, "s", &sub, &eb), RC_INVAL);
	ck_assert_ptr_null(sub);
	/* not an object at all */
	ck_assert_int_eq(jx_get_str(NULL, "s", &s, NULL, &eb), RC_INVAL);
	json_object_put(o);
}
END_TEST

START_TEST(test_builders)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	char *text = NULL;

	ck_assert_int_eq(jx_add_str(o, "s", "a/b\"c\n"), RC_OK);
	ck_assert_int_eq(jx_add_str(o, "null", NULL), RC_OK);
	ck_assert_int_eq(jx_add_int64(o, "big", INT64_MAX), RC_OK);
	ck_assert_int_eq(jx_add_int64(o, "neg", -5), RC_OK);
	ck_assert_int_eq(jx_add_bool(o, "t", true), RC_OK);
	ck_assert_int_eq(jx_add_obj(o, "none", NULL), RC_OK);
	ck_assert_int_eq(jx_add_str(arr, "x", "y"), RC_INVAL); /* not an object */
	ck_assert_int_eq(jx_add_obj(arr, "x", json_object_new_int(1)), RC_INVAL); /* put, no leak */
	ck_assert_int_eq(jx_to_text(o, &text), RC_OK);
	ck_assert_str_eq(text, "{\"s\":\"a/b\\\"c\\n\",\"null\":null,\"big\":9223372036854775807,"
	                       "\"neg\":-5,\"t\":true,\"none\":null}");
	free(text);
	json_object_put(arr);
	json_object_put(o);
}
END_TEST

START_TEST(test_writer)
{
	struct json_object *arr = json_object_new_array();
	struct json_object *shared = json_object_new_string("kept");
	char *text = NULL;
	const struct jx_member inner[] = {
		{.key = "n", .type = JX_INT, .i = -1},
		{.key = "gone", .type = JX_BOOL, .b = true, .omit = true},
	};
	const struct jx_member m[] = {
		{.key = "z", .type = JX_STR, .s = "first"},
		{.key = "a", .type = JX_BOOL, .b = false},
		{.key = "obj", .type = JX_OBJ, .sub = inner, .nsub = JX_COUNT(inner)},
		{.key = "nullobj", .type = JX_OBJ},
		{.key = "val", .type = JX_VAL, .v = shared},
		{.key = "nullval", .type = JX_VAL},
		{.key = "nullstr", .type = JX_STR},
		{.key = "skipped", .type = JX_STR, .s = "x", .omit = true},
	};

	/* table order, omitted members left out, borrowed values kept by their owner */
	ck_assert_int_eq(jx_build_text(m, JX_COUNT(m), &text), RC_OK);
	ck_assert_str_eq(text, "{\"z\":\"first\",\"a\":false,\"obj\":{\"n\":-1},\"nullobj\":null,"
			       "\"val\":\"kept\",\"nullval\":null,\"nullstr\":null}");
	free(text);
	ck_assert_str_eq(json_object_get_string(shared), "kept");
	ck_assert_int_eq(jx_add_members(arr, m, JX_COUNT(m)), RC_INVAL);
	/* appends take ownership, also on failure */
	ck_assert_int_eq(jx_append_str(arr, "s"), RC_OK);
	ck_assert_int_eq(jx_append(arr, NULL), RC_NOMEM);
	ck_assert_int_eq(jx_append(shared, json_object_new_int(3)), RC_INVAL);
	ck_assert_int_eq(jx_to_text(arr, &text), RC_OK);
	ck_assert_str_eq(text, "[\"s\"]");
	free(text);
	json_object_put(shared);
	json_object_put(arr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jx");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse_table, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_messages);
	tcase_add_test(tc, test_parse_values);
	tcase_add_loop_test(tc, test_parse_answer_table, 0,
			    sizeof(answer_cases) / sizeof(answer_cases[0]));
	tcase_add_test(tc, test_parse_answer_limits);
	tcase_add_loop_test(tc, test_integer_text, 0, sizeof(int_cases) / sizeof(int_cases[0]));
	tcase_add_test(tc, test_integer_text_null);
	tcase_add_loop_test(tc, test_value_int64, 0, sizeof(value_cases) / sizeof(value_cases[0]));
	tcase_add_loop_test(tc, test_dup_keys, 0, sizeof(dup_cases) / sizeof(dup_cases[0]));
	tcase_add_test(tc, test_dup_key_truncates_and_scales);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_builders);
	tcase_add_test(tc, test_writer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
