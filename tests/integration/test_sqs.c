/* test_sqs.c — every SQS operation of lib/aws/sqs against both emulators: moto (endpoint
 * AWS_ENDPOINT_URL_SQS) and fauxqs (APPT_FAUXQS_URL); each test runs once per emulator.
 * The "faults" case puts tests/support/faultproxy between the client and the emulator to
 * drive the core's retries and malformed-answer handling with real SQS answers.
 * Names carry a random suffix so reruns against a long-lived stack never collide. A missing
 * endpoint variable fails the test: it must never fall back to a real AWS endpoint. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/core.h"
#include "aws/sqs.h"
#include "aws/sqs_queues.h"
#include "base/buf.h"
#include "itest.h"

static struct sqs_client *client_for(int t)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;

	itest_target_config(t, false, NULL, &cfg);
	c = sqs_client_new(&cfg, &eb);
	ck_assert_msg(c != NULL, "%s", eb.msg);
	return c;
}

static void make_queue(struct sqs_client *c, int _i, const char *what, const struct sqs_kv *attrs,
		       size_t n, char url[SQS_URL_MAX])
{
	char name[SQS_NAME_MAX + 1];
	struct aws_error err;

	itest_unique_name(what, name, sizeof(name));
	CK_AWS(sqs_create_queue(c, name, attrs, n, url, &err), &err);
	ck_assert_msg(strstr(url, name) != NULL, "url %s", url);
}

/* Receives until want messages arrived or a few polls came back short. */
static void receive_n(struct sqs_client *c, int _i, const char *url, size_t want,
		      struct sqs_messages *out)
{
	struct sqs_receive_opts ro = {10, 1, 30};
	struct aws_error err;
	struct sqs_messages part = {NULL, 0};
	struct sqs_message *all = calloc(want + 10, sizeof(*all));
	size_t n = 0;

	for (int round = 0; round < 10 && n < want; round++) {
		CK_AWS(sqs_receive(c, url, &ro, &part, &err), &err);
		for (size_t k = 0; k < part.n && n < want + 10; k++)
			all[n++] = part.v[k];
		/* The messages moved into all: drop only the array. */
		free(part.v);
		part.v = NULL;
		part.n = 0;
	}
	sqs_messages_cleanup(out);
	out->v = all;
	out->n = n;
	ck_assert_msg(n == want, "[%s] received %zu of %zu messages", itest_target_names[_i], n,
		      want);
}

START_TEST(test_queue_lifecycle)
{
	struct sqs_client *c = client_for(_i);
	struct aws_error err;
	char dlq[SQS_URL_MAX];
	char dlq_arn[SQS_ARN_MAX];
	char url[SQS_URL_MAX];
	char url2[SQS_URL_MAX];
	char name[SQS_NAME_MAX + 1];
	char redrive[SQS_ARN_MAX + 64];
	char policy[1024];
	struct sqs_attrs a = {0, NULL, NULL};
	const char *p;

	make_queue(c, _i, "dlq", NULL, 0, dlq);
	CK_AWS(sqs_get_queue_arn(c, dlq, dlq_arn, &err), &err);
	ck_assert_msg(strncmp(dlq_arn, "arn:aws:sqs:", 12) == 0, "%s", dlq_arn);
	snprintf(redrive, sizeof(redrive),
		 "{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":\"3\"}", dlq_arn);
	snprintf(policy, sizeof(policy),
		 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
		 "{\"Service\":\"sns.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":"
		 "\"*\"}]}");
	{
		const struct sqs_kv attrs[] = {
			{"VisibilityTimeout", "180"},
			{"MessageRetentionPeriod", "1209600"},
			{"ReceiveMessageWaitTimeSeconds", "20"},
			{"RedrivePolicy", redrive},
			{"Policy", policy},
		};

		itest_unique_name("main", name, sizeof(name));
		CK_AWS(sqs_create_queue(c, name, attrs, 5, url, &err), &err);
		/* Same name, same attributes: the same queue. */
		CK_AWS(sqs_create_queue(c, name, attrs, 5, url2, &err), &err);
		ck_assert_str_eq(url, url2);
	}
	CK_AWS(sqs_get_queue_url(c, name, url2, &err), &err);
	ck_assert_str_eq(url, url2);

	CK_AWS(sqs_get_queue_attributes(c, url, NULL, 0, &a, &err), &err);
	ck_assert_str_eq(sqs_attrs_get(&a, "VisibilityTimeout"), "180");
	ck_assert_str_eq(sqs_attrs_get(&a, "MessageRetentionPeriod"), "1209600");
	ck_assert_str_eq(sqs_attrs_get(&a, "ReceiveMessageWaitTimeSeconds"), "20");
	p = sqs_attrs_get(&a, "RedrivePolicy");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strstr(p, dlq_arn) != NULL, "%s", p);
	p = sqs_attrs_get(&a, "Policy");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strstr(p, "sqs:SendMessage") != NULL, "%s", p);
	ck_assert_ptr_nonnull(sqs_attrs_get(&a, "QueueArn"));

	{
		const struct sqs_kv set[] = {{"VisibilityTimeout", "45"}};
		const char *const names[] = {"VisibilityTimeout"};

		CK_AWS(sqs_set_queue_attributes(c, url, set, 1, &err), &err);
		CK_AWS(sqs_get_queue_attributes(c, url, names, 1, &a, &err), &err);
		ck_assert_str_eq(sqs_attrs_get(&a, "VisibilityTimeout"), "45");
	}
	sqs_attrs_cleanup(&a);

	CK_AWS(sqs_purge_queue(c, url, &err), &err);
	CK_AWS(sqs_delete_queue(c, url, &err), &err);
	CK_AWS(sqs_delete_queue(c, dlq, &err), &err);
	ck_assert_int_eq(sqs_get_queue_url(c, name, url2, &err), RC_NOTFOUND);
	ck_assert_int_eq(err.rc, RC_NOTFOUND);
	sqs_client_free(c);
}
END_TEST

START_TEST(test_send_receive_delete)
{
	struct sqs_client *c = client_for(_i);
	struct aws_error err;
	char url[SQS_URL_MAX];
	char mid[SQS_MESSAGE_ID_MAX];
	const struct sqs_msg_attr attrs[] = {
		{"countryISO", "String", "PE"},
		{"eventType", "String", "AppointmentCreated"},
		{"scheduleId", "Number", "100"},
	};
	const char *body = "{\"appointmentId\":\"a-1\",\"note\":\"caf\xc3\xa9 \\\"quoted\\\"\"}";
	struct sqs_send_entry m = {body, attrs, 3, -1, NULL, NULL};
	struct sqs_receive_opts ro = {10, 2, 30};
	struct sqs_messages got = {NULL, 0};
	struct timespec t0;
	struct timespec t1;

	make_queue(c, _i, "sr", NULL, 0, url);
	CK_AWS(sqs_send_message(c, url, &m, mid, &err), &err);
	ck_assert_uint_gt(strlen(mid), 0);

	CK_AWS(sqs_receive(c, url, &ro, &got, &err), &err);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_str_eq(got.v[0].body, body);
	ck_assert_uint_eq(got.v[0].body_len, strlen(body));
	ck_assert_str_eq(got.v[0].message_id, mid);
	ck_assert_int_eq(got.v[0].receive_count, 1);
	ck_assert_int_gt(got.v[0].sent_timestamp_ms, 1600000000000LL);
	ck_assert_str_eq(sqs_message_attr(&got.v[0], "countryISO"), "PE");
	ck_assert_str_eq(sqs_message_attr(&got.v[0], "eventType"), "AppointmentCreated");
	ck_assert_str_eq(sqs_message_attr(&got.v[0], "scheduleId"), "100");
	ck_assert_ptr_null(sqs_message_attr(&got.v[0], "nope"));

	/* Invisible now; visible again after ChangeMessageVisibility 0, counted twice. */
	{
		struct sqs_messages none = {NULL, 0};
		struct sqs_receive_opts quick = {10, 0, -1};

		CK_AWS(sqs_receive(c, url, &quick, &none, &err), &err);
		ck_assert_uint_eq(none.n, 0);
		sqs_messages_cleanup(&none);
	}
	CK_AWS(sqs_change_visibility(c, url, got.v[0].receipt_handle, 0, &err), &err);
	CK_AWS(sqs_receive(c, url, &ro, &got, &err), &err);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(got.v[0].receive_count, 2);
	CK_AWS(sqs_delete_message(c, url, got.v[0].receipt_handle, &err), &err);

	/* Long poll on an empty queue waits, then returns nothing. */
	ro.wait_seconds = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CK_AWS(sqs_receive(c, url, &ro, &got, &err), &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 800);

	sqs_messages_cleanup(&got);
	CK_AWS(sqs_delete_queue(c, url, &err), &err);
	sqs_client_free(c);
}
END_TEST

START_TEST(test_batches)
{
	struct sqs_client *c = client_for(_i);
	struct aws_error err;
	char url[SQS_URL_MAX];
	const struct sqs_msg_attr a1[] = {{"k", "String", "v1"}};
	const struct sqs_send_entry entries[] = {
		{"one", a1, 1, -1, NULL, NULL},
		{"two", NULL, 0, 0, NULL, NULL},
		{"three", NULL, 0, -1, NULL, NULL},
	};
	struct sqs_batch_result res[SQS_BATCH_MAX];
	struct sqs_messages got = {NULL, 0};
	size_t nfailed = 99;
	const char *handles[3];
	struct sqs_visibility_entry vis[2];

	make_queue(c, _i, "batch", NULL, 0, url);
	CK_AWS(sqs_send_message_batch(c, url, entries, 3, res, &nfailed, &err), &err);
	ck_assert_uint_eq(nfailed, 0);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(res[k].rc, RC_OK);
		ck_assert_uint_gt(strlen(res[k].message_id), 0);
	}
	receive_n(c, _i, url, 3, &got);

	/* Visibility batch: one real handle, one bogus. */
	vis[0].receipt_handle = got.v[0].receipt_handle;
	vis[0].visibility_timeout = 60;
	vis[1].receipt_handle = "bogus-receipt-handle";
	vis[1].visibility_timeout = 60;
	CK_AWS(sqs_change_visibility_batch(c, url, vis, 2, res, &nfailed, &err), &err);
	ck_assert_int_eq(res[0].rc, RC_OK);
	ck_assert_msg(nfailed == 1 && res[1].rc != RC_OK,
		      "[%s] bogus handle: nfailed %zu, entry 1 %s %s", itest_target_names[_i],
		      nfailed, rc_name(res[1].rc), res[1].code);
	ck_assert(res[1].sender_fault);
	ck_assert_uint_gt(strlen(res[1].code), 0);

	/* Delete batch: two real handles, one bogus; the bogus one fails alone (AWS and moto
	 * answer ReceiptHandleIsInvalid; fauxqs 1.9.2 accepts any handle on delete, so there
	 * only the real entries are checked). */
	handles[0] = got.v[0].receipt_handle;
	handles[1] = "bogus-receipt-handle";
	handles[2] = got.v[2].receipt_handle;
	CK_AWS(sqs_delete_message_batch(c, url, handles, 3, res, &nfailed, &err), &err);
	ck_assert_int_eq(res[0].rc, RC_OK);
	ck_assert_int_eq(res[2].rc, RC_OK);
	if (_i == T_MOTO) {
		ck_assert_msg(nfailed == 1 && res[1].rc == RC_INVAL,
			      "[%s] bogus handle: nfailed %zu, entry 1 %s %s",
			      itest_target_names[_i], nfailed, rc_name(res[1].rc), res[1].code);
		ck_assert(res[1].sender_fault);
		ck_assert_str_eq(res[1].code, "ReceiptHandleIsInvalid");
	} else {
		ck_assert_uint_eq(nfailed, res[1].rc == RC_OK ? 0 : 1);
	}

	/* The one left (got.v[1]) is deleted through the batch too. */
	handles[0] = got.v[1].receipt_handle;
	CK_AWS(sqs_delete_message_batch(c, url, handles, 1, res, &nfailed, &err), &err);
	ck_assert_uint_eq(nfailed, 0);
	{
		struct sqs_attrs a = {0, NULL, NULL};
		const char *const names[] = {"ApproximateNumberOfMessages",
					     "ApproximateNumberOfMessagesNotVisible"};

		CK_AWS(sqs_get_queue_attributes(c, url, names, 2, &a, &err), &err);
		ck_assert_str_eq(sqs_attrs_get(&a, "ApproximateNumberOfMessages"), "0");
		ck_assert_str_eq(sqs_attrs_get(&a, "ApproximateNumberOfMessagesNotVisible"), "0");
		sqs_attrs_cleanup(&a);
	}
	/* Local checks: no call goes out for a bad batch. */
	ck_assert_int_eq(sqs_send_message_batch(c, url, entries, 0, res, &nfailed, &err), RC_INVAL);
	ck_assert_int_eq(sqs_send_message_batch(c, url, entries, 11, res, &nfailed, &err), RC_INVAL);
	ck_assert_str_eq(err.code, "InvalidArgument");

	sqs_messages_cleanup(&got);
	CK_AWS(sqs_delete_queue(c, url, &err), &err);
	sqs_client_free(c);
}
END_TEST

START_TEST(test_dead_letter_after_max_receives)
{
	struct sqs_client *c = client_for(_i);
	struct aws_error err;
	char dlq[SQS_URL_MAX];
	char dlq_arn[SQS_ARN_MAX];
	char url[SQS_URL_MAX];
	char redrive[SQS_ARN_MAX + 64];
	struct sqs_send_entry m = {"poison", NULL, 0, -1, NULL, NULL};
	struct sqs_receive_opts ro = {1, 1, 0};
	struct sqs_messages got = {NULL, 0};
	int received = 0;

	make_queue(c, _i, "dl", NULL, 0, dlq);
	CK_AWS(sqs_get_queue_arn(c, dlq, dlq_arn, &err), &err);
	snprintf(redrive, sizeof(redrive),
		 "{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":\"2\"}", dlq_arn);
	{
		const struct sqs_kv attrs[] = {{"RedrivePolicy", redrive}};

		make_queue(c, _i, "src", attrs, 1, url);
	}
	CK_AWS(sqs_send_message(c, url, &m, NULL, &err), &err);
	/* Visibility 0: each receive hands it straight back; after two it must move. */
	for (int k = 0; k < 4; k++) {
		CK_AWS(sqs_receive(c, url, &ro, &got, &err), &err);
		received += (int)got.n;
	}
	ck_assert_int_eq(received, 2);
	ro.visibility_timeout = 30;
	CK_AWS(sqs_receive(c, dlq, &ro, &got, &err), &err);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_str_eq(got.v[0].body, "poison");
	sqs_messages_cleanup(&got);
	CK_AWS(sqs_delete_queue(c, url, &err), &err);
	CK_AWS(sqs_delete_queue(c, dlq, &err), &err);
	sqs_client_free(c);
}
END_TEST

START_TEST(test_queue_does_not_exist)
{
	struct sqs_client *c = client_for(_i);
	struct aws_error err;
	char url[SQS_URL_MAX];
	char gone[SQS_URL_MAX];
	char name[SQS_NAME_MAX + 1];
	struct sqs_send_entry m = {"x", NULL, 0, -1, NULL, NULL};
	struct sqs_receive_opts ro = {1, 0, -1};
	struct sqs_messages got = {NULL, 0};
	struct sqs_attrs a = {0, NULL, NULL};
	char *slash;

	itest_unique_name("missing", name, sizeof(name));
	ck_assert_int_eq(sqs_get_queue_url(c, name, url, &err), RC_NOTFOUND);
	ck_assert_msg(err.http_status == 400 && err.code[0] != '\0', "%ld %s", err.http_status,
		      err.code);
	ck_assert_int_eq(err.attempts, 1);

	/* A URL of the right shape whose queue does not exist. */
	make_queue(c, _i, "shape", NULL, 0, url);
	snprintf(gone, sizeof(gone), "%s", url);
	slash = strrchr(gone, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(slash + 1, sizeof(gone) - (size_t)(slash + 1 - gone), "%s", name);
	ck_assert_int_eq(sqs_send_message(c, gone, &m, NULL, &err), RC_NOTFOUND);
	ck_assert_int_eq(sqs_receive(c, gone, &ro, &got, &err), RC_NOTFOUND);
	ck_assert_int_eq(sqs_get_queue_attributes(c, gone, NULL, 0, &a, &err), RC_NOTFOUND);
	ck_assert_int_eq(sqs_delete_queue(c, gone, &err), RC_NOTFOUND);
	CK_AWS(sqs_delete_queue(c, url, &err), &err);
	sqs_client_free(c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;
	struct aws_error err;
	char url[SQS_URL_MAX];
	struct timespec t0;
	struct timespec t1;

	/* Loopback port 1: nothing listens there, the kernel refuses at once. */
	itest_target_config(_i, false, "http://127.0.0.1:1", &cfg);
	c = sqs_client_new(&cfg, &eb);
	ck_assert_ptr_nonnull(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(sqs_get_queue_url(c, "anything", url, &err), RC_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(err.attempts, cfg.max_attempts);
	ck_assert_str_eq(err.code, "NetworkError");
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 3);
	sqs_client_free(c);
}
END_TEST

/* ---- through the fault proxy ------------------------------------------------------ */

static const struct {
	const char *plan;
	enum rc rc;
	int attempts;
	const char *code;
	int forwarded;
} fault_cases[] = {
	{"throttle,503", RC_OK, 3, "", 1},
	{"throttle,throttle,throttle,throttle", RC_RETRY, 4, "ThrottlingException", 0},
	{"html502,html502,html502,html502", RC_RETRY, 4, "HttpError", 0},
	{"500", RC_OK, 2, "", 1},
	{"close", RC_OK, 2, "", 1},
	{"cutbody", RC_OK, 2, "", 2},
	{"truncjson", RC_IO, 1, "MalformedResponse", 1},
	{"html200", RC_IO, 1, "MalformedResponse", 0},
};

START_TEST(test_faults)
{
	int target = _i % T_COUNT;
	int k = _i / T_COUNT;
	struct sqs_client *direct = client_for(target);
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;
	struct aws_error err;
	struct itest_proxy p;
	struct buf b;
	char url[SQS_URL_MAX];
	char name[SQS_NAME_MAX + 1];
	char got[SQS_URL_MAX];
	enum rc rc;

	itest_unique_name("fault", name, sizeof(name));
	ck_assert_int_eq(sqs_create_queue(direct, name, NULL, 0, url, &err), RC_OK);
	itest_proxy_start(&p, itest_target_sqs(target));
	itest_target_config(target, false, p.url, &cfg);
	c = sqs_client_new(&cfg, &eb);
	ck_assert_ptr_nonnull(c);
	buf_init(&b, 4096);
	itest_proxy_control(&p, "/__faultproxy/plan", fault_cases[k].plan, &b);

	rc = sqs_get_queue_url(c, name, got, &err);
	aws_error_to_eb(&err, &eb);
	ck_assert_msg(rc == fault_cases[k].rc && err.attempts == fault_cases[k].attempts,
		      "[%s] plan %s: %s after %d attempts (%s)", itest_target_names[target],
		      fault_cases[k].plan, rc_name(rc), err.attempts, eb.msg);
	ck_assert_str_eq(err.code, fault_cases[k].code);
	ck_assert_int_eq(itest_proxy_stat(&p, "forwarded"), fault_cases[k].forwarded);
	ck_assert_int_eq(itest_proxy_stat(&p, "seen"), fault_cases[k].attempts);
	if (rc == RC_OK)
		ck_assert_msg(strstr(got, name) != NULL, "%s", got);
	else
		ck_assert_uint_gt(strlen(err.message), 0);

	buf_cleanup(&b);
	sqs_client_free(c);
	itest_proxy_stop(&p);
	ck_assert_int_eq(sqs_delete_queue(direct, url, &err), RC_OK);
	sqs_client_free(direct);
}
END_TEST

/* A reply lost after the emulator acted: the retry sends again. Consumers must tolerate the
 * duplicate (SQS is at-least-once anyway); this pins the behaviour down. */
START_TEST(test_lost_reply_duplicates_send)
{
	struct sqs_client *direct = client_for(_i);
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;
	struct aws_error err;
	struct itest_proxy p;
	struct buf b;
	char url[SQS_URL_MAX];
	struct sqs_send_entry m = {"once", NULL, 0, -1, NULL, NULL};
	struct sqs_messages got = {NULL, 0};

	make_queue(direct, _i, "dup", NULL, 0, url);
	itest_proxy_start(&p, itest_target_sqs(_i));
	itest_target_config(_i, false, p.url, &cfg);
	c = sqs_client_new(&cfg, &eb);
	buf_init(&b, 4096);
	itest_proxy_control(&p, "/__faultproxy/plan", "dropreply", &b);
	CK_AWS(sqs_send_message(c, url, &m, NULL, &err), &err);
	ck_assert_int_eq(err.attempts, 2);
	receive_n(direct, _i, url, 2, &got);
	ck_assert_str_eq(got.v[0].body, "once");
	ck_assert_str_eq(got.v[1].body, "once");
	sqs_messages_cleanup(&got);
	buf_cleanup(&b);
	sqs_client_free(c);
	itest_proxy_stop(&p);
	CK_AWS(sqs_delete_queue(direct, url, &err), &err);
	sqs_client_free(direct);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sqs");
	TCase *tc = tcase_create("emulators");
	TCase *faults = tcase_create("faults");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_queue_lifecycle, 0, T_COUNT);
	tcase_add_loop_test(tc, test_send_receive_delete, 0, T_COUNT);
	tcase_add_loop_test(tc, test_batches, 0, T_COUNT);
	tcase_add_loop_test(tc, test_dead_letter_after_max_receives, 0, T_COUNT);
	tcase_add_loop_test(tc, test_queue_does_not_exist, 0, T_COUNT);
	tcase_add_loop_test(tc, test_connection_refused, 0, T_COUNT);
	suite_add_tcase(s, tc);
	tcase_set_timeout(faults, 120);
	tcase_add_loop_test(faults, test_faults, 0,
			    (int)(T_COUNT * sizeof(fault_cases) / sizeof(fault_cases[0])));
	tcase_add_loop_test(faults, test_lost_reply_duplicates_send, 0, T_COUNT);
	suite_add_tcase(s, faults);
	status = itest_run(s, CK_VERBOSE);
	aws_global_cleanup();
	return status;
}
