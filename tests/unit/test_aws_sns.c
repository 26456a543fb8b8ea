/* test_aws_sns.c — SNS form encoding and XML answer parsing, without the network. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sns.h"
#include "aws/sns_int.h"
#include "base/buf.h"
#include "itest.h"

START_TEST(test_form_encoding)
{
	static const struct {
		const char *key;
		const char *value;
		const char *want;
	} cases[] = {
		{"Action", "Publish", "Action=Publish"},
		{"Message", "a b+c=d&e", "Message=a%20b%2Bc%3Dd%26e"},
		{"Message", "-_.~AZaz09", "Message=-_.~AZaz09"},
		{"Message", "50%", "Message=50%25"},
		{"Message", "{\"k\":\"v\"}", "Message=%7B%22k%22%3A%22v%22%7D"},
		{"Message", "caf\xc3\xa9 \xf0\x9f\x98\x80", "Message=caf%C3%A9%20%F0%9F%98%80"},
		{"TopicArn", "arn:aws:sns:us-east-1:123456789012:t",
		 "TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At"},
		{"MessageAttributes.entry.1.Name", "x/y\n", "MessageAttributes.entry.1.Name=x%2Fy%0A"},
		{"Empty", "", "Empty="},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b, 1024);
		ck_assert_int_eq(sns_form_add(&b, cases[i].key, cases[i].value), RC_OK);
		ck_assert_str_eq(buf_str(&b), cases[i].want);
		buf_cleanup(&b);
	}
	{
		struct buf b;

		buf_init(&b, 1024);
		ck_assert_int_eq(sns_form_add(&b, "A", "1"), RC_OK);
		ck_assert_int_eq(sns_form_add(&b, "B", "2 3"), RC_OK);
		ck_assert_str_eq(buf_str(&b), "A=1&B=2%203");
		buf_cleanup(&b);
	}
	{
		/* The cap holds: 400 bytes of '&' encode to 1200. */
		struct buf b;
		char v[401];

		memset(v, '&', 400);
		v[400] = '\0';
		buf_init(&b, 1000);
		ck_assert_int_eq(sns_form_add(&b, "M", v), RC_INVAL);
		buf_cleanup(&b);
	}
}
END_TEST

static const char create_topic_xml[] =
	"<CreateTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
	"  <CreateTopicResult>\n"
	"    <TopicArn>arn:aws:sns:us-east-1:123456789012:t1</TopicArn>\n"
	"  </CreateTopicResult>\n"
	"  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
	"</CreateTopicResponse>";

START_TEST(test_xml_text)
{
	char out[128];

	ck_assert_int_eq(sns_xml_text(create_topic_xml, strlen(create_topic_xml), "TopicArn", out,
				      sizeof(out)),
			 RC_OK);
	ck_assert_str_eq(out, "arn:aws:sns:us-east-1:123456789012:t1");
	ck_assert_int_eq(sns_xml_text(create_topic_xml, strlen(create_topic_xml), "MessageId", out,
				      sizeof(out)),
			 RC_IO);
	ck_assert_int_eq(sns_xml_text(create_topic_xml, strlen(create_topic_xml), "TopicArn", out,
				      10),
			 RC_IO);
	ck_assert_int_eq(sns_xml_text(create_topic_xml, 60, "TopicArn", out, sizeof(out)), RC_IO);
	ck_assert_int_eq(sns_xml_text("", 0, "TopicArn", out, sizeof(out)), RC_IO);
	ck_assert_int_eq(sns_xml_text("<html><body>502</body></html>", 29, "TopicArn", out,
				      sizeof(out)),
			 RC_IO);
	/* Entities are decoded; a DTD, which could declare others, is refused. */
	{
		static const char x[] = "<R><MessageId>a&amp;b&lt;c</MessageId></R>";
		static const char xxe[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e SYSTEM "
					  "\"file:///etc/passwd\">]><R><MessageId>&e;x</MessageId></R>";

		ck_assert_int_eq(sns_xml_text(x, strlen(x), "MessageId", out, sizeof(out)), RC_OK);
		ck_assert_str_eq(out, "a&b<c");
		ck_assert_int_eq(sns_xml_text(xxe, strlen(xxe), "MessageId", out, sizeof(out)), RC_IO);
		ck_assert_str_eq(out, "");
	}
}
END_TEST

START_TEST(test_parse_subscriptions)
{
	static const char page1[] =
		"<ListSubscriptionsByTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
		"<ListSubscriptionsByTopicResult><Subscriptions>"
		"<member><TopicArn>arn:t</TopicArn><Protocol>sqs</Protocol><SubscriptionArn>arn:t:1"
		"</SubscriptionArn><Owner>123456789012</Owner><Endpoint>arn:q1</Endpoint></member>"
		"<member><TopicArn>arn:t</TopicArn><Protocol>sqs</Protocol><SubscriptionArn>arn:t:2"
		"</SubscriptionArn><Owner>123456789012</Owner><Endpoint>arn:q2</Endpoint></member>"
		"</Subscriptions><NextToken>tok-2</NextToken></ListSubscriptionsByTopicResult>"
		"</ListSubscriptionsByTopicResponse>";
	static const char page2[] =
		"<ListSubscriptionsByTopicResponse><ListSubscriptionsByTopicResult><Subscriptions>"
		"<member><TopicArn>arn:t</TopicArn><Protocol>https</Protocol><SubscriptionArn>"
		"PendingConfirmation</SubscriptionArn><Owner>1</Owner><Endpoint>https://x</Endpoint>"
		"</member></Subscriptions></ListSubscriptionsByTopicResult>"
		"</ListSubscriptionsByTopicResponse>";
	static const char empty[] =
		"<ListSubscriptionsByTopicResponse><ListSubscriptionsByTopicResult><Subscriptions/>"
		"<NextToken/></ListSubscriptionsByTopicResult></ListSubscriptionsByTopicResponse>";
	struct sns_subscriptions s = {NULL, 0};
	char next[SNS_TOKEN_MAX];

	ck_assert_int_eq(sns_parse_subscriptions(page1, strlen(page1), &s, next), RC_OK);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(next, "tok-2");
	ck_assert_int_eq(sns_parse_subscriptions(page2, strlen(page2), &s, next), RC_OK);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(next, "");
	ck_assert_str_eq(s.v[0].arn, "arn:t:1");
	ck_assert_str_eq(s.v[1].endpoint, "arn:q2");
	ck_assert_str_eq(s.v[1].owner, "123456789012");
	ck_assert_str_eq(s.v[2].protocol, "https");
	ck_assert_str_eq(s.v[2].arn, "PendingConfirmation");
	ck_assert_str_eq(s.v[2].topic_arn, "arn:t");
	ck_assert_int_eq(sns_parse_subscriptions(empty, strlen(empty), &s, next), RC_OK);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(sns_parse_subscriptions("<X/>", 4, &s, next), RC_IO);
	ck_assert_int_eq(sns_parse_subscriptions(page1, 100, &s, next), RC_IO);
	sns_subscriptions_cleanup(&s);
	ck_assert_uint_eq(s.n, 0);
	sns_subscriptions_cleanup(NULL);
}
END_TEST

START_TEST(test_parse_attributes)
{
	static const char xml[] =
		"<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
		"<entry><key>TopicArn</key><value>arn:t</value></entry>"
		"<entry><key>Policy</key><value>{&quot;Version&quot;:&quot;2012-10-17&quot;}</value>"
		"</entry><entry><key>DisplayName</key><value></value></entry>"
		"</Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>";
	struct sns_attrs a = {0, NULL, NULL};

	ck_assert_int_eq(sns_parse_attributes(xml, strlen(xml), &a), RC_OK);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_str_eq(sns_attrs_get(&a, "TopicArn"), "arn:t");
	ck_assert_str_eq(sns_attrs_get(&a, "Policy"), "{\"Version\":\"2012-10-17\"}");
	ck_assert_str_eq(sns_attrs_get(&a, "DisplayName"), "");
	ck_assert_ptr_null(sns_attrs_get(&a, "Nope"));
	ck_assert_int_eq(sns_parse_attributes("<R/>", 4, &a), RC_IO);
	ck_assert_uint_eq(a.n, 0);
	sns_attrs_cleanup(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_sns");
	TCase *tc = tcase_create("sns");
	int status;

	tcase_add_test(tc, test_form_encoding);
	tcase_add_test(tc, test_xml_text);
	tcase_add_test(tc, test_parse_subscriptions);
	tcase_add_test(tc, test_parse_attributes);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_NORMAL);
	return status;
}
