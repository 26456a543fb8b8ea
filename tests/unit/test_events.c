/* test_events.c — app/events: the Processing Error body masks every insuredId, on the
 * parsed JSON when the body parses (an escaped key is the same key), in the raw text when
 * it does not, and is cut on a UTF-8 boundary; the completion's envelope parser, and what
 * its poison line reads of an event the parser refuses. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "app/events.h"
#include "itest.h"

static const struct {
	const char *body;
	const char *gone;  /* must not appear in the masked body */
	const char *kept;  /* must appear ("" = no check) */
} cases[] = {
	{"{\"insuredId\":\"01234\",\"countryISO\":\"PE\"}", "01234", "***34"},
	/* the key written with an escape: the same key once parsed (issue 12) */
	{"{\"insured\\u0049d\":\"04321\",\"countryISO\":\"PE\"}", "04321", "***21"},
	{"{\"a\":[{\"b\":{\"insuredId\":98765}}]}", "98765", "***65"},
	/* an SNS envelope: the message is a string of JSON, its key escaped */
	{"{\"Type\":\"Notification\",\"Message\":\"{\\\"insured\\\\u0049d\\\":\\\"05678\\\"}\"}",
	 "05678", "Notification"},
	/* not JSON: the raw text fallback */
	{"{not json \"insuredId\": \"09876\"", "09876", "not json"},
	{"  {\"insuredId\":\"11111\"}  \n", "11111", ""},
	{"", "", ""},
};

START_TEST(test_mask)
{
	char *out = events_mask_body(cases[_i].body, strlen(cases[_i].body), 4096);

	ck_assert_ptr_nonnull(out);
	if (cases[_i].gone[0] != '\0')
		ck_assert_msg(strstr(out, cases[_i].gone) == NULL, "%s", out);
	if (cases[_i].kept[0] != '\0')
		ck_assert_msg(strstr(out, cases[_i].kept) != NULL, "%s", out);
	free(out);
}
END_TEST

START_TEST(test_cut)
{
	/* "é" is two bytes: a cut inside it keeps neither */
	char *out = events_mask_body("ab\xc3\xa9", 4, 3);

	ck_assert_str_eq(out, "ab");
	free(out);
	out = events_mask_body("{\"insuredId\":\"01234\",\"pad\":\"xxxxxxxxxx\"}", 40, 20);
	ck_assert_uint_le(strlen(out), 20);
	ck_assert(strstr(out, "0123") == NULL);
	free(out);
}
END_TEST

START_TEST(test_parse_processed)
{
	static const char ok[] =
		"{\"detail-type\":\"Appointment Processed\",\"detail\":{\"appointmentId\":"
		"\"0b9d6d36-6a4b-4c1e-9a53-7f1f0f3b5e11\",\"insuredId\":\"01234\",\"requestId\":\"r-1\"}}";
	static const char *const bad[] = {
		"{\"detail-type\":\"Appointment Failed\",\"detail\":{}}",
		"{\"detail-type\":\"Appointment Processed\",\"detail\":{\"appointmentId\":\"x\"}}",
		"{\"detail-type\":\"Appointment Processed\"}",
		"[]",
		"{",
	};
	struct events_processed ev;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(events_parse_processed(ok, strlen(ok), &ev, &eb), RC_OK);
	ck_assert_str_eq(ev.appointment_id, "0b9d6d36-6a4b-4c1e-9a53-7f1f0f3b5e11");
	ck_assert_str_eq(ev.insured_id, "01234");
	ck_assert_str_eq(ev.request_id, "r-1");
	ck_assert_str_eq(ev.traceparent, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_ne(events_parse_processed(bad[i], strlen(bad[i]), &ev, &eb), RC_OK);
}
END_TEST

#define AID "0b9d6d36-6a4b-4c1e-9a53-7f1f0f3b5e11"

static const struct {
	const char *body;
	bool found;
	const char *aid, *rid, *ins, *tp; /* what is read ("" = nothing) */
} peeks[] = {
	/* an event the handler found poison: everything it names */
	{"{\"detail-type\":\"Appointment Processed\",\"detail\":{\"appointmentId\":\"" AID "\","
	 "\"insuredId\":\"99999\",\"requestId\":\"req-1\",\"traceparent\":\"00-ab-cd-01\"}}",
	 true, AID, "req-1", "99999", "00-ab-cd-01"},
	/* refused by the parser (detail-type, appointmentId not a UUID): the rest is read */
	{"{\"detail-type\":\"Appointment Failed\",\"detail\":{\"requestId\":\"req-2\"}}",
	 true, "", "req-2", "", ""},
	{"{\"detail\":{\"appointmentId\":\"x\",\"requestId\":\"req-3\",\"insuredId\":7}}",
	 true, "", "req-3", "", ""},
	/* members that are not sane strings are left out */
	{"{\"detail\":{\"requestId\":\"a b\",\"insuredId\":\"0123456\",\"traceparent\":\"t\"}}",
	 false, "", "", "", "t"},
	{"{\"detail\":{\"requestId\":\"caf\u00e9\",\"insuredId\":\"\"}}", false, "", "", "", ""},
	/* nothing to read */
	{"{\"detail\":\"x\"}", false, "", "", "", ""},
	{"{\"requestId\":\"req-4\"}", false, "", "", "", ""},
	{"[]", false, "", "", "", ""},
	{"{not json", false, "", "", "", ""},
	{"", false, "", "", "", ""},
};

START_TEST(test_peek_processed)
{
	struct events_processed ev;

	memset(&ev, 'z', sizeof(ev));
	ck_assert_int_eq(events_peek_processed(peeks[_i].body, strlen(peeks[_i].body), &ev),
			 peeks[_i].found);
	ck_assert_str_eq(ev.appointment_id, peeks[_i].aid);
	ck_assert_str_eq(ev.request_id, peeks[_i].rid);
	ck_assert_str_eq(ev.insured_id, peeks[_i].ins);
	ck_assert_str_eq(ev.traceparent, peeks[_i].tp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_mask, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_cut);
	tcase_add_test(tc, test_parse_processed);
	tcase_add_loop_test(tc, test_peek_processed, 0, sizeof(peeks) / sizeof(peeks[0]));
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
