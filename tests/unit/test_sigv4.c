/* test_sigv4.c — the SigV4 signer (aws/sigv4.c) against Authorization values botocore 1.29
 * gave for the same requests (SigV4Auth with its clock frozen at the X-Amz-Date): with and
 * without a session token and X-Amz-Target, a secret long enough that "AWS4" + secret is
 * hashed before keying the HMAC, another day, region and service; one signer through all of
 * them twice (its kept signing key follows every change) and a fresh one each time; the Host
 * of an endpoint. tests/integration/test_sigv4.c checks what the client sends, on the wire. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"

#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define LONG_SK "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/+Y"

struct sig_case {
	struct sigv4_req r;
	const char *amz_date;
	const char *auth;
};

static const struct sig_case cases[] = {
	{{"AKIDEXAMPLE", SK, NULL, "us-east-1", "dynamodb", "127.0.0.1:18301",
	  "application/x-amz-json-1.0", "DynamoDB_20120810.Query", "{\"TableName\":\"t\"}", 17,
	  1796391900},
	 "20261204T134500Z",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/us-east-1/dynamodb/aws4_request, "
	 "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	 "Signature=bcd1f9112910bf5b25f7de8f0c58fd7345c1b0f2fdff50836b6c5cb3d27b4236"},
	{{"AKIDEXAMPLE", SK, "tok/en+=", "sa-east-1", "sns", "sns.sa-east-1.amazonaws.com",
	  "application/x-www-form-urlencoded; charset=utf-8", NULL, "Action=Publish&Message=%7B%7D",
	  29, 1796391900},
	 "20261204T134500Z",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/sa-east-1/sns/aws4_request, "
	 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
	 "Signature=7a3669ff770b051262c4e761d66492d37d23dfce5be0caf94b901860f2e47a13"},
	{{"AKIDEXAMPLE", LONG_SK, "", "us-east-1", "dynamodb", "127.0.0.1:18301",
	  "application/x-amz-json-1.0", "DynamoDB_20120810.Query", NULL, 0, 1796428800},
	 "20261205T000000Z",
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/dynamodb/aws4_request, "
	 "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	 "Signature=3a1f499397a0a5b18e8304ed1c13ef6028be400b92dd713f80664a96f3c64d7d"},
	{{"AKID2", SK, "t", "eu-west-1", "events", "events.eu-west-1.amazonaws.com",
	  "application/x-amz-json-1.1", "AWSEvents.PutEvents", "{\"Entries\":[]}", 14, 1798761599},
	 "20261231T235959Z",
	 "AWS4-HMAC-SHA256 Credential=AKID2/20261231/eu-west-1/events/aws4_request, "
	 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
	 "Signature=ebd406220b29943761dda0aca10f15f6509cc13591985e4edafcf00bae5a6a2a"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void check(struct sigv4 *s, const struct sig_case *c)
{
	char date[SIGV4_DATE_SIZE];
	char auth[SIGV4_AUTH_MAX];

	ck_assert_int_eq(sigv4_sign(s, &c->r, date, auth, sizeof(auth)), RC_OK);
	ck_assert_str_eq(date, c->amz_date);
	ck_assert_str_eq(auth, c->auth);
}

START_TEST(test_fresh_signer)
{
	struct sigv4 s;

	ck_assert_int_eq(sigv4_init(&s), RC_OK);
	check(&s, &cases[_i]);
	check(&s, &cases[_i]); /* again, with the kept key */
	sigv4_cleanup(&s);
}
END_TEST

START_TEST(test_one_signer_for_all)
{
	struct sigv4 s;

	ck_assert_int_eq(sigv4_init(&s), RC_OK);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NCASES; i++)
			check(&s, &cases[i]);
	/* the same day and scope with another secret: not the kept key */
	{
		struct sig_case other = cases[0];
		char date[SIGV4_DATE_SIZE];
		char auth[SIGV4_AUTH_MAX];

		other.r.secret = "another-secret";
		ck_assert_int_eq(sigv4_sign(&s, &other.r, date, auth, sizeof(auth)), RC_OK);
		ck_assert_str_ne(auth, cases[0].auth);
		check(&s, &cases[0]);
	}
	sigv4_cleanup(&s);
	sigv4_cleanup(NULL);
}
END_TEST

START_TEST(test_limits)
{
	struct sigv4 s;
	struct sig_case c = cases[3];
	char date[SIGV4_DATE_SIZE];
	char auth[SIGV4_AUTH_MAX];

	ck_assert_int_eq(sigv4_init(&s), RC_OK);
	ck_assert_int_eq(sigv4_sign(&s, &c.r, date, auth, 40), RC_INVAL);
	c.r.region = "a-region-name-far-longer-than-any-that-aws-has-or-will-ever-have-x";
	ck_assert_int_eq(sigv4_sign(&s, &c.r, date, auth, sizeof(auth)), RC_INVAL);
	sigv4_cleanup(&s);
}
END_TEST

static const struct {
	const char *endpoint;
	const char *host; /* NULL: RC_INVAL */
} hosts[] = {
	{"http://127.0.0.1:18301", "127.0.0.1:18301"},
	{"https://dynamodb.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"},
	{"https://sns.us-east-1.amazonaws.com:443", "sns.us-east-1.amazonaws.com"},
	{"http://localhost:80", "localhost"},
	{"http://localhost:8080", "localhost:8080"},
	{"https://h:80", "h:80"},
	{"http://h:443", "h:443"},
	{"http://[::1]:80", "[::1]"},
	{"http://[::1]:4566/", "[::1]:4566"},
	{"localhost:8000", NULL},
	{"http://", NULL},
};

START_TEST(test_host)
{
	char out[64];
	enum rc rc = sigv4_host(hosts[_i].endpoint, out, sizeof(out));

	if (hosts[_i].host == NULL) {
		ck_assert_int_eq(rc, RC_INVAL);
		return;
	}
	ck_assert_int_eq(rc, RC_OK);
	ck_assert_str_eq(out, hosts[_i].host);
	ck_assert_int_eq(sigv4_host(hosts[_i].endpoint, out, strlen(hosts[_i].host)), RC_INVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sigv4");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_fresh_signer, 0, NCASES);
	tcase_add_test(tc, test_one_signer_for_all);
	tcase_add_test(tc, test_limits);
	tcase_add_loop_test(tc, test_host, 0, sizeof(hosts) / sizeof(hosts[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
