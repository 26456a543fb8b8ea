/* test_eventbridge.c — the EventBridge request bodies (exact JSON), argument limits, and the
 * per-entry results of PutEvents as moto and AWS report them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/eventbridge.h"
#include "aws/eventbridge_int.h"
#include "itest.h"

START_TEST(test_put_rule)
{
	struct evb_rule r = {
		.name = "appointments-pe-processed",
		.bus = "medical-appointment-scheduling-dev",
		.pattern = "{\"source\":[\"medical.appointment.pe\"],"
			   "\"detail-type\":[\"Appointment Processed\"]}",
	};
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req),
			 "{\"Name\":\"appointments-pe-processed\","
			 "\"EventBusName\":\"medical-appointment-scheduling-dev\","
			 "\"EventPattern\":\"{\\\"source\\\":[\\\"medical.appointment.pe\\\"],"
			 "\\\"detail-type\\\":[\\\"Appointment Processed\\\"]}\","
			 "\"State\":\"ENABLED\"}");
	json_object_put(req);
	r.bus = NULL;
	r.disabled = true;
	r.description = "d";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_OK);
	ck_assert_ptr_null(strstr(itest_text(req), "EventBusName"));
	ck_assert_ptr_nonnull(
		strstr(itest_text(req), "\"State\":\"DISABLED\",\"Description\":\"d\""));
	json_object_put(req);

	/* A pattern that is not a JSON object, a bad name, a bad bus. */
	r.pattern = "{\"source\":";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "event pattern"));
	r.pattern = "[1]";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_INVAL);
	r.pattern = "";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_INVAL);
	r.pattern = "{}";
	r.name = "has space";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_INVAL);
	r.name = "ok";
	r.bus = "bad bus";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_INVAL);
	r.bus = "arn:aws:events:us-east-1:123456789012:event-bus/b";
	ck_assert_int_eq(evb_build_put_rule(&r, &req, &eb), RC_OK);
	json_object_put(req);
}
END_TEST

START_TEST(test_put_targets)
{
	struct evb_target t[EVB_TARGETS_MAX + 1] = {
		{"completion", "arn:aws:sqs:us-east-1:123456789012:q"},
	};
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(evb_build_put_targets("r1", "bus", t, 1, &req, &eb), RC_OK);
	ck_assert_str_eq(itest_text(req), "{\"Rule\":\"r1\",\"EventBusName\":\"bus\",\"Targets\":"
				       "[{\"Id\":\"completion\","
				       "\"Arn\":\"arn:aws:sqs:us-east-1:123456789012:q\"}]}");
	json_object_put(req);
	for (size_t i = 1; i <= EVB_TARGETS_MAX; i++)
		t[i] = t[0];
	ck_assert_int_eq(evb_build_put_targets("r1", "bus", t, EVB_TARGETS_MAX + 1, &req, &eb),
			 RC_INVAL);
	ck_assert_int_eq(evb_build_put_targets("r1", "bus", t, 0, &req, &eb), RC_INVAL);
	t[0].arn = "arn with space";
	ck_assert_int_eq(evb_build_put_targets("r1", "bus", t, 1, &req, &eb), RC_INVAL);
	t[0].arn = "arn:x";
	t[0].id = "";
	ck_assert_int_eq(evb_build_put_targets("r1", "bus", t, 1, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
}
END_TEST

START_TEST(test_put_events)
{
	struct evb_entry e[EVB_ENTRIES_MAX + 1] = {
		{
			.source = "medical.appointment.pe",
			.detail_type = "Appointment Processed",
			.detail = "{\"appointmentId\":\"a1\",\"status\":\"PROCESSED\"}",
			.bus = "bus-dev",
			.time = 1795620461,
		},
		{
			.source = "medical.appointment",
			.detail_type = "Processing Error",
			.detail = "{}",
		},
	};
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};
	char *big;

	ck_assert_int_eq(evb_build_put_events(e, 2, &req, &eb), RC_OK);
	/* Time goes as epoch seconds (a number): moto answers 500 to ISO text. */
	ck_assert_str_eq(itest_text(req),
			 "{\"Entries\":[{\"Source\":\"medical.appointment.pe\","
			 "\"DetailType\":\"Appointment Processed\","
			 "\"Detail\":\"{\\\"appointmentId\\\":\\\"a1\\\",\\\"status\\\":\\\"PROCESSED\\\"}\","
			 "\"EventBusName\":\"bus-dev\",\"Time\":1795620461},"
			 "{\"Source\":\"medical.appointment\",\"DetailType\":\"Processing Error\","
			 "\"Detail\":\"{}\"}]}");
	json_object_put(req);

	for (size_t i = 0; i <= EVB_ENTRIES_MAX; i++)
		e[i] = e[1];
	ck_assert_int_eq(evb_build_put_events(e, EVB_ENTRIES_MAX, &req, &eb), RC_OK);
	json_object_put(req);
	ck_assert_int_eq(evb_build_put_events(e, EVB_ENTRIES_MAX + 1, &req, &eb), RC_INVAL);
	ck_assert_int_eq(evb_build_put_events(e, 0, &req, &eb), RC_INVAL);
	e[3].source = NULL;
	ck_assert_int_eq(evb_build_put_events(e, 4, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "entry 3: Source"));
	e[3].source = "s";
	e[3].detail = "";
	ck_assert_int_eq(evb_build_put_events(e, 4, &req, &eb), RC_INVAL);
	e[3].detail = "{}";
	e[3].time = -5;
	ck_assert_int_eq(evb_build_put_events(e, 4, &req, &eb), RC_INVAL);
	e[3].time = 0;
	/* Two entries of 200 KiB each are over the call's 256 KiB. */
	big = malloc(200 * 1024 + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 200 * 1024);
	big[0] = '{';
	big[200 * 1024 - 1] = '}';
	big[200 * 1024] = '\0';
	e[0].detail = big;
	ck_assert_int_eq(evb_build_put_events(e, 1, &req, &eb), RC_OK);
	json_object_put(req);
	e[1].detail = big;
	ck_assert_int_eq(evb_build_put_events(e, 2, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "together"));
	ck_assert_ptr_null(req);
	free(big);
}
END_TEST

START_TEST(test_parse_put_events)
{
	/* moto's answer to one good entry, one malformed Detail, one missing Source. */
	struct json_object *a = itest_parse(
		"{\"FailedEntryCount\":2,\"Entries\":[{\"EventId\":\"e-1\"},"
		"{\"ErrorCode\":\"MalformedDetail\",\"ErrorMessage\":\"Detail is malformed.\"},"
		"{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"try again\"}]}");
	struct evb_put_result res[4];
	struct errbuf eb = {{0}};
	size_t nfailed = 99;

	ck_assert_int_eq(evb_parse_put_events(a, 4, res, &nfailed, &eb), RC_OK);
	ck_assert_uint_eq(nfailed, 3);
	ck_assert_int_eq(res[0].rc, RC_OK);
	ck_assert_str_eq(res[0].event_id, "e-1");
	ck_assert_str_eq(res[0].code, "");
	ck_assert_int_eq(res[1].rc, RC_INVAL);
	ck_assert_str_eq(res[1].code, "MalformedDetail");
	ck_assert_str_eq(res[1].message, "Detail is malformed.");
	ck_assert_int_eq(res[2].rc, RC_RETRY);
	/* The answer said nothing about entry 3. */
	ck_assert_int_eq(res[3].rc, RC_IO);
	ck_assert_str_eq(res[3].code, "MissingEntryResult");
	json_object_put(a);

	a = itest_parse("{\"FailedEntryCount\":0,\"Entries\":[{}]}");
	ck_assert_int_eq(evb_parse_put_events(a, 1, res, &nfailed, &eb), RC_OK);
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_str_eq(res[0].code, "MissingEventId");
	json_object_put(a);

	a = itest_parse("{\"Entries\":{}}");
	ck_assert_int_eq(evb_parse_put_events(a, 1, res, &nfailed, &eb), RC_IO);
	json_object_put(a);

	ck_assert_int_eq(evb_entry_code_rc("ThrottlingException"), RC_RETRY);
	ck_assert_int_eq(evb_entry_code_rc("NotAuthorizedForSourceException"), RC_INVAL);
	ck_assert_int_eq(evb_entry_code_rc(""), RC_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eventbridge");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_put_rule);
	tcase_add_test(tc, test_put_targets);
	tcase_add_test(tc, test_put_events);
	tcase_add_test(tc, test_parse_put_events);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
