/* test_http_strict.c — run/http_strict: each smuggling shape of a request head is named,
 * a clean head passes, and %XX decoding never lets a NUL cut a string. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "run/http_strict.h"

static const struct {
	const char *headers[4]; /* names, NULL-ended */
	const char *version;
	enum http_defect want;
	const char *te; /* the value of every header, for Transfer-Encoding's sake */
} heads[] = {
	{{"Host", "Content-Length", NULL}, "HTTP/1.1", HTTP_DEFECT_NONE, NULL},
	{{"host", "transfer-encoding", NULL}, "HTTP/1.1", HTTP_DEFECT_NONE, " Chunked "},
	{{"Host", "Transfer-Encoding", NULL}, "HTTP/1.1", HTTP_DEFECT_TE_UNKNOWN, "gzip"},
	{{"Host", "Transfer-Encoding", NULL}, "HTTP/1.1", HTTP_DEFECT_TE_UNKNOWN, "gzip, chunked"},
	{{"Host", "Transfer-Encoding", NULL}, "HTTP/1.1", HTTP_DEFECT_TE_UNKNOWN, "chunkedx"},
	{{"Host", "Transfer-Encoding", "Transfer-Encoding", NULL}, "HTTP/1.1",
	 HTTP_DEFECT_TE_UNKNOWN, "chunked"},
	{{NULL}, "HTTP/1.0", HTTP_DEFECT_NONE, NULL},
	{{"X-a!#$%&'*+-.^_`|~9", "Host", NULL}, "HTTP/1.1", HTTP_DEFECT_NONE, NULL},
	{{"Host", "Content-Length", "content-length", NULL}, "HTTP/1.1", HTTP_DEFECT_DUP_LENGTH, NULL},
	{{"Host", "Transfer-Encoding", "Content-Length", NULL}, "HTTP/1.1",
	 HTTP_DEFECT_TE_AND_LENGTH, "chunked"},
	{{"Host", "Content-Length ", NULL}, "HTTP/1.1", HTTP_DEFECT_HEADER_NAME, NULL},
	{{"Host", "", NULL}, "HTTP/1.1", HTTP_DEFECT_HEADER_NAME, NULL},
	{{"Host", "X\x7f", NULL}, "HTTP/1.1", HTTP_DEFECT_HEADER_NAME, NULL},
	{{"Host", "X(y)", NULL}, "HTTP/1.1", HTTP_DEFECT_HEADER_NAME, NULL},
	{{"Content-Length", NULL}, "HTTP/1.1", HTTP_DEFECT_NO_HOST, NULL},
	{{"Host", "HOST", NULL}, "HTTP/1.0", HTTP_DEFECT_DUP_HOST, NULL},
	{{NULL}, NULL, HTTP_DEFECT_NONE, NULL},
};

START_TEST(test_head)
{
	struct http_head_check c = {0};

	for (size_t i = 0; heads[_i].headers[i] != NULL; i++)
		http_head_add(&c, heads[_i].headers[i], heads[_i].te);
	ck_assert_int_eq(http_head_verdict(&c, heads[_i].version), heads[_i].want);
	if (heads[_i].want != HTTP_DEFECT_NONE) {
		ck_assert_str_ne(http_defect_code(heads[_i].want), "");
		ck_assert_str_ne(http_defect_message(heads[_i].want), "");
	}
}
END_TEST

static const struct {
	const char *in;
	const char *out;
	bool nul;
} escapes[] = {
	{"", "", false},
	{"abc", "abc", false},
	{"a%20b", "a b", false},
	{"%41%62%7a", "Abz", false},
	{"%", "%", false},
	{"%4", "%4", false},
	{"%zz%4g", "%zz%4g", false},
	{"00123%00zzz", "00123%00zzz", true},
	{"%00", "%00", true},
	{"%2500", "%00", false}, /* decoded once: a literal "%00", not a NUL */
	{"1%00%41", "1%00A", true},
	{"%ff%FE", "\xff\xfe", false},
	{"a+b", "a+b", false},
};

START_TEST(test_unescape)
{
	char s[64];
	bool nul = false;
	size_t n;

	snprintf(s, sizeof(s), "%s", escapes[_i].in);
	n = http_unescape(s, &nul);
	ck_assert_uint_eq(n, strlen(escapes[_i].out));
	ck_assert_str_eq(s, escapes[_i].out);
	ck_assert(nul == escapes[_i].nul);
}
END_TEST

START_TEST(test_defect_out_of_range)
{
	ck_assert_str_eq(http_defect_code((enum http_defect)99), "");
	ck_assert_str_eq(http_defect_message(HTTP_DEFECT_NONE), "");
	{
		struct http_head_check c = {0};

		http_head_add(&c, NULL, NULL);
		ck_assert_int_eq(http_head_verdict(&c, "HTTP/1.1"), HTTP_DEFECT_HEADER_NAME);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_strict");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_head, 0, sizeof(heads) / sizeof(heads[0]));
	tcase_add_loop_test(tc, test_unescape, 0, sizeof(escapes) / sizeof(escapes[0]));
	tcase_add_test(tc, test_defect_out_of_range);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
