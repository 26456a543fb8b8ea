/* test_sns.c — every SNS operation of lib/aws/sns against both emulators, moto (endpoints
 * AWS_ENDPOINT_URL_SNS and AWS_ENDPOINT_URL_SQS) and fauxqs (APPT_FAUXQS_URL for both),
 * including SNS→SQS delivery with the envelope (raw delivery off) and without (on), form
 * encoding of awkward characters, paging, and failure paths. Names carry a random suffix;
 * a missing endpoint variable fails the test. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws/core.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/sqs_queues.h"
#include "itest.h"

struct clients {
	struct sns_client *sns;
	struct sqs_client *sqs;
};

static struct clients clients_for(int t)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct clients c;

	itest_target_config(t, true, NULL, &cfg);
	c.sns = sns_client_new(&cfg, &eb);
	ck_assert_msg(c.sns != NULL, "%s", eb.msg);
	c.sqs = sqs_client_new(&cfg, &eb);
	ck_assert_msg(c.sqs != NULL, "%s", eb.msg);
	return c;
}

static void clients_free(struct clients *c)
{
	sns_client_free(c->sns);
	sqs_client_free(c->sqs);
}

static void make_topic(struct clients *c, int _i, const char *what, char arn[SNS_ARN_MAX])
{
	char name[128];
	struct aws_error err;

	itest_unique_name(what, name, sizeof(name));
	CK_AWS(sns_create_topic(c->sns, name, NULL, 0, arn, &err), &err);
	ck_assert_msg(strncmp(arn, "arn:aws:sns:", 12) == 0 && strstr(arn, name) != NULL, "%s",
		      arn);
}

static void make_queue(struct clients *c, int _i, const char *what, char url[SQS_URL_MAX],
		       char arn[SQS_ARN_MAX])
{
	char name[SQS_NAME_MAX + 1];
	struct aws_error err;

	itest_unique_name(what, name, sizeof(name));
	CK_AWS(sqs_create_queue(c->sqs, name, NULL, 0, url, &err), &err);
	CK_AWS(sqs_get_queue_arn(c->sqs, url, arn, &err), &err);
}

/* Long-polls until one message arrives (bounded). */
static void receive_one(struct clients *c, int _i, const char *url, struct sqs_messages *got)
{
	struct sqs_receive_opts ro = {1, 2, 30};
	struct aws_error err;

	for (int k = 0; k < 5 && got->n == 0; k++)
		CK_AWS(sqs_receive(c->sqs, url, &ro, got, &err), &err);
	ck_assert_msg(got->n == 1, "[%s] no message delivered to %s", itest_target_names[_i], url);
}

static const char *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

START_TEST(test_topic_lifecycle)
{
	struct clients c = clients_for(_i);
	struct aws_error err;
	char arn[SNS_ARN_MAX];
	char arn2[SNS_ARN_MAX];
	char name[128];
	struct sns_attrs a = {0, NULL, NULL};
	struct sns_publish p = {"hello", NULL, NULL, 0, NULL, NULL};
	const struct sns_kv attrs[] = {{"DisplayName", "appt"}};

	itest_unique_name("topic", name, sizeof(name));
	CK_AWS(sns_create_topic(c.sns, name, attrs, 1, arn, &err), &err);
	CK_AWS(sns_create_topic(c.sns, name, attrs, 1, arn2, &err), &err);
	ck_assert_str_eq(arn, arn2);
	CK_AWS(sns_get_topic_attributes(c.sns, arn, &a, &err), &err);
	ck_assert_str_eq(sns_attrs_get(&a, "TopicArn"), arn);
	ck_assert_str_eq(sns_attrs_get(&a, "DisplayName"), "appt");
	sns_attrs_cleanup(&a);
	CK_AWS(sns_delete_topic(c.sns, arn, &err), &err);

	ck_assert_int_eq(sns_get_topic_attributes(c.sns, arn, &a, &err), RC_NOTFOUND);
	ck_assert_msg(err.code[0] != '\0' && err.http_status >= 400, "%ld %s", err.http_status,
		      err.code);
	ck_assert_int_eq(err.attempts, 1);
	ck_assert_int_eq(sns_publish(c.sns, arn, &p, NULL, &err), RC_NOTFOUND);
	/* Local validation: nothing is sent. */
	ck_assert_int_eq(sns_publish(c.sns, "not-an-arn", &p, NULL, &err), RC_INVAL);
	ck_assert_str_eq(err.code, "InvalidArgument");
	clients_free(&c);
}
END_TEST

START_TEST(test_delivery_envelope_and_raw)
{
	struct clients c = clients_for(_i);
	struct aws_error err;
	char topic[SNS_ARN_MAX];
	char q1[SQS_URL_MAX];
	char q1_arn[SQS_ARN_MAX];
	char q2[SQS_URL_MAX];
	char q2_arn[SQS_ARN_MAX];
	char sub1[SNS_ARN_MAX];
	char sub2[SNS_ARN_MAX];
	char mid[SNS_MESSAGE_ID_MAX];
	const struct sns_kv raw_off[] = {{"RawMessageDelivery", "false"}};
	const struct sns_kv raw_on[] = {{"RawMessageDelivery", "true"}};
	const struct sns_msg_attr mattrs[] = {
		{"countryISO", "String", "PE"},
		{"eventType", "String", "AppointmentCreated"},
	};
	/* Characters the form encoding must carry: + = & % space, quotes, UTF-8, emoji. */
	const char *msg = "{\"appointmentId\":\"a+b=c&d\",\"note\":\"50% caf\xc3\xa9 \xf0\x9f\x98\x80"
			  " ~x~\",\"q\":\"'\\\"\"}";
	struct sns_publish p = {msg, NULL, mattrs, 2, NULL, NULL};
	struct sqs_messages got = {NULL, 0};
	struct sns_subscriptions subs = {NULL, 0};
	struct json_object *env = NULL;
	struct json_object *ma = NULL;
	struct json_object *attr = NULL;
	int found = 0;

	make_topic(&c, _i, "deliver", topic);
	make_queue(&c, _i, "env", q1, q1_arn);
	make_queue(&c, _i, "raw", q2, q2_arn);
	CK_AWS(sns_subscribe(c.sns, topic, "sqs", q1_arn, raw_off, 1, sub1, &err), &err);
	CK_AWS(sns_subscribe(c.sns, topic, "sqs", q2_arn, raw_on, 1, sub2, &err), &err);
	ck_assert_str_ne(sub1, sub2);

	CK_AWS(sns_list_subscriptions_by_topic(c.sns, topic, &subs, &err), &err);
	ck_assert_uint_eq(subs.n, 2);
	for (size_t k = 0; k < subs.n; k++) {
		ck_assert_str_eq(subs.v[k].protocol, "sqs");
		ck_assert_str_eq(subs.v[k].topic_arn, topic);
		if (strcmp(subs.v[k].arn, sub1) == 0 && strcmp(subs.v[k].endpoint, q1_arn) == 0)
			found |= 1;
		if (strcmp(subs.v[k].arn, sub2) == 0 && strcmp(subs.v[k].endpoint, q2_arn) == 0)
			found |= 2;
	}
	ck_assert_int_eq(found, 3);
	sns_subscriptions_cleanup(&subs);

	CK_AWS(sns_publish(c.sns, topic, &p, mid, &err), &err);
	ck_assert_uint_gt(strlen(mid), 0);

	/* Raw delivery off: the SNS envelope, the message a string inside it. */
	receive_one(&c, _i, q1, &got);
	env = json_tokener_parse(got.v[0].body);
	ck_assert_msg(env != NULL, "[%s] envelope is not JSON: %s", itest_target_names[_i], got.v[0].body);
	ck_assert_str_eq(jget(env, "Type"), "Notification");
	ck_assert_str_eq(jget(env, "Message"), msg);
	ck_assert_str_eq(jget(env, "TopicArn"), topic);
	ck_assert_str_eq(jget(env, "MessageId"), mid);
	ck_assert(json_object_object_get_ex(env, "MessageAttributes", &ma));
	ck_assert(json_object_object_get_ex(ma, "countryISO", &attr));
	ck_assert_str_eq(jget(attr, "Type"), "String");
	ck_assert_str_eq(jget(attr, "Value"), "PE");
	ck_assert(json_object_object_get_ex(ma, "eventType", &attr));
	ck_assert_str_eq(jget(attr, "Value"), "AppointmentCreated");
	json_object_put(env);
	sqs_messages_cleanup(&got);

	/* Raw delivery on: the bare message, attributes as SQS message attributes. */
	receive_one(&c, _i, q2, &got);
	ck_assert_str_eq(got.v[0].body, msg);
	ck_assert_str_eq(sqs_message_attr(&got.v[0], "countryISO"), "PE");
	ck_assert_str_eq(sqs_message_attr(&got.v[0], "eventType"), "AppointmentCreated");
	sqs_messages_cleanup(&got);

	/* Unsubscribed queues receive nothing more. */
	CK_AWS(sns_unsubscribe(c.sns, sub2, &err), &err);
	CK_AWS(sns_list_subscriptions_by_topic(c.sns, topic, &subs, &err), &err);
	ck_assert_uint_eq(subs.n, 1);
	ck_assert_str_eq(subs.v[0].arn, sub1);
	sns_subscriptions_cleanup(&subs);

	CK_AWS(sns_delete_topic(c.sns, topic, &err), &err);
	CK_AWS(sqs_delete_queue(c.sqs, q1, &err), &err);
	CK_AWS(sqs_delete_queue(c.sqs, q2, &err), &err);
	clients_free(&c);
}
END_TEST

START_TEST(test_subject_and_number_attribute)
{
	struct clients c = clients_for(_i);
	struct aws_error err;
	char topic[SNS_ARN_MAX];
	char q[SQS_URL_MAX];
	char q_arn[SQS_ARN_MAX];
	char sub[SNS_ARN_MAX];
	const struct sns_msg_attr mattrs[] = {{"scheduleId", "Number", "100"}};
	struct sns_publish p = {"plain text body", "Appointment & more", mattrs, 1, NULL, NULL};
	struct sqs_messages got = {NULL, 0};
	struct json_object *env = NULL;
	struct json_object *ma = NULL;
	struct json_object *attr = NULL;

	make_topic(&c, _i, "subject", topic);
	make_queue(&c, _i, "subj", q, q_arn);
	CK_AWS(sns_subscribe(c.sns, topic, "sqs", q_arn, NULL, 0, sub, &err), &err);
	CK_AWS(sns_publish(c.sns, topic, &p, NULL, &err), &err);
	receive_one(&c, _i, q, &got);
	env = json_tokener_parse(got.v[0].body);
	ck_assert_ptr_nonnull(env);
	ck_assert_str_eq(jget(env, "Message"), "plain text body");
	ck_assert_str_eq(jget(env, "Subject"), "Appointment & more");
	ck_assert(json_object_object_get_ex(env, "MessageAttributes", &ma));
	ck_assert(json_object_object_get_ex(ma, "scheduleId", &attr));
	ck_assert_str_eq(jget(attr, "Type"), "Number");
	ck_assert_str_eq(jget(attr, "Value"), "100");
	json_object_put(env);
	sqs_messages_cleanup(&got);
	CK_AWS(sns_delete_topic(c.sns, topic, &err), &err);
	CK_AWS(sqs_delete_queue(c.sqs, q, &err), &err);
	clients_free(&c);
}
END_TEST

START_TEST(test_list_paging)
{
	struct clients c = clients_for(_i);
	struct aws_error err;
	char topic[SNS_ARN_MAX];
	char sub[SNS_ARN_MAX];
	char next[SNS_TOKEN_MAX];
	char endpoint[SQS_ARN_MAX];
	char base[64];
	struct sns_subscriptions subs = {NULL, 0};
	const int total = 105; /* moto pages by 100 */
	int pages = 0;

	make_topic(&c, _i, "paging", topic);
	itest_unique_name("p", base, sizeof(base));
	for (int k = 0; k < total; k++) {
		/* Queue ARNs need not exist for the subscription to be listed. */
		snprintf(endpoint, sizeof(endpoint), "arn:aws:sqs:us-east-1:000000000000:%s-%d",
			 base, k);
		CK_AWS(sns_subscribe(c.sns, topic, "sqs", endpoint, NULL, 0, sub, &err), &err);
	}
	next[0] = '\0';
	do {
		char token[SNS_TOKEN_MAX];

		snprintf(token, sizeof(token), "%s", next);
		CK_AWS(sns_list_subscriptions_page(c.sns, topic, token, &subs, next, &err), &err);
		pages++;
		ck_assert_int_lt(pages, 20);
	} while (next[0] != '\0');
	ck_assert_uint_eq(subs.n, (size_t)total);
	if (_i == T_MOTO)
		ck_assert_int_eq(pages, 2);
	sns_subscriptions_cleanup(&subs);
	CK_AWS(sns_list_subscriptions_by_topic(c.sns, topic, &subs, &err), &err);
	ck_assert_uint_eq(subs.n, (size_t)total);
	sns_subscriptions_cleanup(&subs);
	CK_AWS(sns_delete_topic(c.sns, topic, &err), &err);
	clients_free(&c);
}
END_TEST

START_TEST(test_connection_refused)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sns_client *c;
	struct aws_error err;
	char arn[SNS_ARN_MAX];
	struct timespec t0;
	struct timespec t1;

	itest_target_config(_i, true, "http://127.0.0.1:1", &cfg);
	c = sns_client_new(&cfg, &eb);
	ck_assert_ptr_nonnull(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(sns_create_topic(c, "anything", NULL, 0, arn, &err), RC_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(err.attempts, cfg.max_attempts);
	ck_assert_str_eq(err.code, "NetworkError");
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 3);
	sns_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sns");
	TCase *tc = tcase_create("emulators");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_topic_lifecycle, 0, T_COUNT);
	tcase_add_loop_test(tc, test_delivery_envelope_and_raw, 0, T_COUNT);
	tcase_add_loop_test(tc, test_subject_and_number_attribute, 0, T_COUNT);
	tcase_add_loop_test(tc, test_list_paging, 0, T_COUNT);
	tcase_add_loop_test(tc, test_connection_refused, 0, T_COUNT);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_VERBOSE);
	aws_global_cleanup();
	return status;
}
