/* test_aws_sqs.c — SQS request building and answer parsing, without the network. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/sqs.h"
#include "aws/sqs_int.h"
#include "aws/sqs_queues.h"
#include "itest.h"

START_TEST(test_queue_names)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{"medical-appointment-scheduling-appointments-pe-dev", true},
		{"a", true},
		{"Queue_1-x", true},
		{"orders.fifo", true},
		{".fifo", false},
		{"", false},
		{"has space", false},
		{"dot.inside", false},
		{"slash/", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(sqs_name_valid(cases[i].name) == cases[i].ok, "case %zu (%s)", i,
			      cases[i].name);
	ck_assert(!sqs_name_valid(NULL));
	{
		char n80[SQS_NAME_MAX + 2];

		memset(n80, 'q', sizeof(n80));
		n80[SQS_NAME_MAX] = '\0';
		ck_assert(sqs_name_valid(n80));
		n80[SQS_NAME_MAX] = 'q';
		n80[SQS_NAME_MAX + 1] = '\0';
		ck_assert(!sqs_name_valid(n80));
	}
}
END_TEST

START_TEST(test_entry_json)
{
	const struct sqs_msg_attr attrs[] = {{"countryISO", "String", "PE"},
					     {"n", "Number", "12"}};
	struct sqs_send_entry m = {"hi \"there\"", attrs, 2, 5, "g1", "d1"};
	struct json_object *o = NULL;
	char why[256];

	ck_assert_int_eq(sqs_entry_json(&m, "3", &o, why, sizeof(why)), RC_OK);
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"Id\":\"3\",\"MessageBody\":\"hi \\\"there\\\"\",\"DelaySeconds\":5,"
			 "\"MessageGroupId\":\"g1\",\"MessageDeduplicationId\":\"d1\","
			 "\"MessageAttributes\":{\"countryISO\":{\"DataType\":\"String\","
			 "\"StringValue\":\"PE\"},\"n\":{\"DataType\":\"Number\",\"StringValue\":"
			 "\"12\"}}}");
	json_object_put(o);

	/* Defaults are left out: no Id, no delay, no FIFO fields, no attributes. */
	{
		struct sqs_send_entry plain = {"x", NULL, 0, -1, NULL, NULL};

		ck_assert_int_eq(sqs_entry_json(&plain, NULL, &o, why, sizeof(why)), RC_OK);
		ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				 "{\"MessageBody\":\"x\"}");
		json_object_put(o);
	}
}
END_TEST

START_TEST(test_entry_json_rejects)
{
	const struct sqs_msg_attr bin[] = {{"b", "Binary", "AAAA"}};
	const struct sqs_msg_attr noname[] = {{"", "String", "v"}};
	char *big = malloc(SQS_BODY_MAX + 2);
	struct json_object *o = NULL;
	char why[256];
	const struct {
		struct sqs_send_entry m;
	} cases[] = {
		{{"", NULL, 0, -1, NULL, NULL}},
		{{NULL, NULL, 0, -1, NULL, NULL}},
		{{"x", bin, 1, -1, NULL, NULL}},
		{{"x", noname, 1, -1, NULL, NULL}},
		{{"x", NULL, 1, -1, NULL, NULL}},
		{{"x", noname, 11, -1, NULL, NULL}},
		{{"x", NULL, 0, 901, NULL, NULL}},
		{{"x", NULL, 0, -2, NULL, NULL}},
		{{big, NULL, 0, -1, NULL, NULL}},
	};

	memset(big, 'a', SQS_BODY_MAX + 1);
	big[SQS_BODY_MAX + 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(sqs_entry_json(&cases[i].m, NULL, &o, why, sizeof(why)) == RC_INVAL,
			      "case %zu", i);
		ck_assert_ptr_null(o);
		ck_assert_msg(why[0] != '\0', "case %zu: no reason", i);
	}
	free(big);
}
END_TEST

START_TEST(test_parse_messages)
{
	struct json_object *o = itest_parse(
		"{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"rh1\",\"MD5OfBody\":\"x\","
		"\"Body\":\"hello\\u0000world\",\"Attributes\":{\"ApproximateReceiveCount\":\"3\","
		"\"SentTimestamp\":\"1764077126123\"},\"MessageAttributes\":{\"countryISO\":"
		"{\"StringValue\":\"PE\",\"DataType\":\"String\"},\"bin\":{\"BinaryValue\":\"AAEC\","
		"\"DataType\":\"Binary\"}}},{\"MessageId\":\"m2\",\"ReceiptHandle\":\"rh2\","
		"\"Body\":\"{}\"}]}");
	struct sqs_messages m = {NULL, 0};
	char why[256];

	ck_assert_int_eq(sqs_parse_messages(o, &m, why, sizeof(why)), RC_OK);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_uint_eq(m.v[0].body_len, 11);
	ck_assert_int_eq(memcmp(m.v[0].body, "hello\0world", 12), 0);
	ck_assert_str_eq(m.v[0].receipt_handle, "rh1");
	ck_assert_str_eq(m.v[0].message_id, "m1");
	ck_assert_int_eq(m.v[0].receive_count, 3);
	ck_assert_int_eq(m.v[0].sent_timestamp_ms, 1764077126123LL);
	ck_assert_str_eq(sqs_message_attr(&m.v[0], "countryISO"), "PE");
	ck_assert_str_eq(sqs_message_attr(&m.v[0], "bin"), "AAEC");
	ck_assert_int_eq(m.v[1].receive_count, 0);
	ck_assert_uint_eq(m.v[1].nattrs, 0);
	sqs_messages_cleanup(&m);
	sqs_messages_cleanup(&m);
	json_object_put(o);

	/* No Messages member: an empty receive. */
	o = itest_parse("{}");
	ck_assert_int_eq(sqs_parse_messages(o, &m, why, sizeof(why)), RC_OK);
	ck_assert_uint_eq(m.n, 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_messages_malformed)
{
	static const char *const cases[] = {
		"{\"Messages\":[{\"ReceiptHandle\":\"rh\",\"Body\":\"x\"}]}",
		"{\"Messages\":[{\"MessageId\":\"m\",\"Body\":\"x\"}]}",
		"{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"rh\",\"Body\":5}]}",
		"{\"Messages\":[1,2,3,4,5,6,7,8,9,10,11]}",
		"{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"rh\",\"Body\":\"x\"},7]}",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = itest_parse(cases[i]);
		struct sqs_messages m = {NULL, 0};
		char why[256] = "";

		ck_assert_msg(sqs_parse_messages(o, &m, why, sizeof(why)) == RC_IO, "case %zu", i);
		ck_assert_uint_eq(m.n, 0);
		ck_assert_ptr_null(m.v);
		ck_assert(why[0] != '\0');
		json_object_put(o);
	}
}
END_TEST

START_TEST(test_parse_batch)
{
	struct json_object *o = itest_parse(
		"{\"Successful\":[{\"Id\":\"0\",\"MessageId\":\"mid0\"},{\"Id\":\"2\"}],"
		"\"Failed\":[{\"Id\":\"1\",\"SenderFault\":true,\"Code\":\"ReceiptHandleIsInvalid\","
		"\"Message\":\"bad handle\"},{\"Id\":\"3\",\"SenderFault\":false,\"Code\":"
		"\"InternalError\",\"Message\":\"oops\"}]}");
	struct sqs_batch_result res[5];
	size_t nfailed = 0;
	char why[256];

	ck_assert_int_eq(sqs_parse_batch(o, 5, res, &nfailed, why, sizeof(why)), RC_OK);
	ck_assert_uint_eq(nfailed, 3);
	ck_assert_int_eq(res[0].rc, RC_OK);
	ck_assert_str_eq(res[0].message_id, "mid0");
	ck_assert_int_eq(res[2].rc, RC_OK);
	ck_assert_int_eq(res[1].rc, RC_INVAL);
	ck_assert(res[1].sender_fault);
	ck_assert_str_eq(res[1].code, "ReceiptHandleIsInvalid");
	ck_assert_str_eq(res[1].message, "bad handle");
	ck_assert_int_eq(res[3].rc, RC_RETRY);
	ck_assert(!res[3].sender_fault);
	/* Entry 4 is in neither list. */
	ck_assert_int_eq(res[4].rc, RC_IO);
	ck_assert_str_eq(res[4].code, "MissingEntryResult");
	json_object_put(o);
}
END_TEST

START_TEST(test_parse_batch_malformed)
{
	static const char *const cases[] = {
		"{\"Successful\":[{\"Id\":\"9\"}]}",
		"{\"Successful\":[{\"Id\":\"0\"}],\"Failed\":[{\"Id\":\"0\",\"Code\":\"X\"}]}",
		"{\"Successful\":[{\"MessageId\":\"m\"}]}",
		"{\"Successful\":[{\"Id\":\"x1\"}]}",
		"{\"Successful\":[{\"Id\":\"1x\"}]}",
		"{\"Failed\":[{\"Id\":-1}]}",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = itest_parse(cases[i]);
		struct sqs_batch_result res[2];
		char why[256] = "";

		ck_assert_msg(sqs_parse_batch(o, 2, res, NULL, why, sizeof(why)) == RC_IO,
			      "case %zu", i);
		ck_assert(why[0] != '\0');
		json_object_put(o);
	}
}
END_TEST

START_TEST(test_local_validation_sends_nothing)
{
	/* An unreachable endpoint proves no request is made: RC_INVAL comes back at once. */
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;
	struct aws_error err;
	char url[SQS_URL_MAX];
	struct sqs_receive_opts bad = {11, 0, -1};
	struct sqs_messages m = {NULL, 0};
	struct sqs_batch_result res[1];
	const char *handles[1] = {""};

	itest_unreachable_config(&cfg);
	cfg.request_timeout_ms = 100;
	cfg.connect_timeout_ms = 100;
	c = sqs_client_new(&cfg, &eb);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(sqs_create_queue(c, "bad name", NULL, 0, url, &err), RC_INVAL);
	ck_assert_str_eq(err.code, "InvalidArgument");
	ck_assert_int_eq(err.attempts, 0);
	ck_assert_int_eq(sqs_receive(c, "http://x/1/q", &bad, &m, &err), RC_INVAL);
	ck_assert_int_eq(sqs_change_visibility(c, "http://x/1/q", "rh", 43201, &err), RC_INVAL);
	ck_assert_int_eq(sqs_delete_message_batch(c, "http://x/1/q", handles, 1, res, NULL, &err),
			 RC_INVAL);
	ck_assert_int_eq(sqs_delete_message(c, "", "rh", &err), RC_INVAL);
	sqs_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_sqs");
	TCase *tc = tcase_create("sqs");

	tcase_add_test(tc, test_queue_names);
	tcase_add_test(tc, test_entry_json);
	tcase_add_test(tc, test_entry_json_rejects);
	tcase_add_test(tc, test_parse_messages);
	tcase_add_test(tc, test_parse_messages_malformed);
	tcase_add_test(tc, test_parse_batch);
	tcase_add_test(tc, test_parse_batch_malformed);
	tcase_add_test(tc, test_local_validation_sends_nothing);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
