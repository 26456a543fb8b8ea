/* test_domain_etag.c — the item ETag (a strong tag of the body's bytes) and If-None-Match
 * (RFC 9110 §13.1.2: "*", lists, weak comparison, malformed values), table-driven. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "domain/etag.h"

START_TEST(test_etag_of)
{
	char a[ETAG_SIZE], b[ETAG_SIZE], c[ETAG_SIZE];

	etag_of("", 0, a);
	ck_assert_str_eq(a, "\"cbf29ce484222325\""); /* FNV-1a 64 offset basis */
	etag_of("a", 1, a);
	ck_assert_str_eq(a, "\"af63dc4c8601ec8c\""); /* FNV-1a 64 of "a" */
	etag_of("{\"status\":\"pending\"}", 20, b);
	etag_of("{\"status\":\"pending\"}", 20, c);
	ck_assert_str_eq(b, c);
	etag_of("{\"status\":\"processed\"}", 22, c);
	ck_assert_str_ne(b, c);
	ck_assert_uint_eq(strlen(b), ETAG_SIZE - 1);
}
END_TEST

#define TAG "\"0123456789abcdef\""

struct match_case {
	const char *inm; /* the If-None-Match value; NULL = absent */
	int want;
};

static const struct match_case match_cases[] = {
	{NULL, 0},
	{"", 0},
	{TAG, 1},
	{" " TAG " ", 1},
	{"W/" TAG, 1},
	{"*", 1},
	{" * ", 1},
	{"*, " TAG, 0},
	{"\"x\", " TAG, 1},
	{"\"x\",W/" TAG, 1},
	{"\"x\" ,\t" TAG ",", 1},
	{", ," TAG, 1},
	{"\"x\", \"y\"", 0},
	{"\"0123456789abcdeF\"", 0},
	{"0123456789abcdef", 0},
	{"\"0123456789abcdef", 0},
	{"w/" TAG, 0},
	{"\"x\" junk, " TAG, 0},
	{TAG " junk", 1},
	{"\"0123456789abcdef\"\"", 1}, /* a match counts, whatever follows it */
};

START_TEST(test_match)
{
	const struct match_case *c = &match_cases[_i];

	ck_assert_msg(etag_match(c->inm, TAG) == (c->want != 0), "case %d: '%s'", _i,
	              c->inm != NULL ? c->inm : "(null)");
}
END_TEST

START_TEST(test_match_bad_etag)
{
	ck_assert(!etag_match("*", ""));
	ck_assert(!etag_match("*", "x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_etag");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_etag_of);
	tcase_add_loop_test(tc, test_match, 0, sizeof(match_cases) / sizeof(match_cases[0]));
	tcase_add_test(tc, test_match_bad_etag);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
