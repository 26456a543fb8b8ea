/* test_ssm.c — lib/aws/ssm against moto (endpoint AWS_ENDPOINT_URL_SSM): the SecureString
 * round trip of the PostgreSQL password (SPEC §2), overwrite rules, missing parameters.
 * Names live under a per-run random path; a teardown in the parent deletes what a failed
 * test left. A missing or non-loopback endpoint fails the test. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/core.h"
#include "aws/ssm.h"
#include "itest.h"

#define ENDPOINT_VAR "AWS_ENDPOINT_URL_SSM"

/* "/appt-it-<hex>": every parameter of this run lives under it. Set once in main(). */
static char run_path[32];
/* The parameters the tests create, for the teardown. */
static const char *const param_suffixes[] = {"rds/password", "plain", "big", NULL};

/* The client, or NULL with why filled (the teardown must not abort). */
static struct ssm_client *try_client(struct errbuf *why)
{
	struct aws_config cfg;
	struct ssm_client *c;

	if (!itest_config(ENDPOINT_VAR, &cfg, why))
		return NULL;
	c = ssm_client_new(&cfg, why);
	if (c == NULL)
		eb_prefix(why, "client");
	return c;
}

static struct ssm_client *client(void)
{
	struct errbuf why = {{0}};
	struct ssm_client *c = try_client(&why);

	ck_assert_msg(c != NULL, "%s", why.msg);
	return c;
}

static void param_name(const char *what, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", run_path, what);
}

START_TEST(test_secure_string_round_trip)
{
	struct ssm_client *c = client();
	struct errbuf eb;
	char name[128], value[256], small[4];
	const char *secret = "p@ss w0rd/\"quoted\"\\ é";
	int64_t version = 0;
	size_t len = 0;

	param_name("rds/password", name, sizeof(name));
	CK_RC(RC_OK, ssm_put_parameter(c, name, secret, SSM_SECURE_STRING, false, &version, &eb));
	ck_assert(version == 1);
	CK_RC(RC_OK, ssm_get_parameter(c, name, true, value, sizeof(value), &len, &eb));
	ck_assert_str_eq(value, secret);
	ck_assert_uint_eq(len, strlen(secret));
	/* Without decryption the value is not the plain text (moto prefixes the key alias). */
	CK_RC(RC_OK, ssm_get_parameter(c, name, false, value, sizeof(value), &len, &eb));
	ck_assert_str_ne(value, secret);

	/* It exists: no overwrite is a conflict and leaves it alone; overwrite replaces it. */
	CK_RC(RC_CONFLICT, ssm_put_parameter(c, name, "other", SSM_SECURE_STRING, false, &version,
					      &eb));
	ck_assert_ptr_null(strstr(eb.msg, "other"));
	CK_RC(RC_OK, ssm_get_parameter(c, name, true, value, sizeof(value), NULL, &eb));
	ck_assert_str_eq(value, secret);
	CK_RC(RC_OK, ssm_put_parameter(c, name, "rotated", SSM_SECURE_STRING, true, &version, &eb));
	ck_assert(version == 2);
	CK_RC(RC_OK, ssm_get_parameter(c, name, true, value, sizeof(value), &len, &eb));
	ck_assert_str_eq(value, "rotated");

	/* A buffer too small: RC_INVAL, nothing half-copied. */
	CK_RC(RC_INVAL, ssm_get_parameter(c, name, true, small, sizeof(small), &len, &eb));
	ck_assert_str_eq(small, "");
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(strstr(eb.msg, "rotated"));

	CK_RC(RC_OK, ssm_delete_parameter(c, name, &eb));
	CK_RC(RC_NOTFOUND, ssm_get_parameter(c, name, true, value, sizeof(value), &len, &eb));
	ck_assert_str_eq(ssm_last_error(c)->code, "ParameterNotFound");
	CK_RC(RC_NOTFOUND, ssm_delete_parameter(c, name, &eb));
	ssm_client_free(c);
}
END_TEST

START_TEST(test_string_and_limits)
{
	struct ssm_client *c = client();
	struct errbuf eb;
	char name[128], *value = malloc(SSM_VALUE_MAX + 1), *big = malloc(SSM_VALUE_MAX + 2);

	ck_assert_ptr_nonnull(value);
	ck_assert_ptr_nonnull(big);
	param_name("plain", name, sizeof(name));
	CK_RC(RC_OK, ssm_put_parameter(c, name, "v1", SSM_STRING, false, NULL, &eb));
	CK_RC(RC_OK, ssm_get_parameter(c, name, false, value, SSM_VALUE_MAX + 1, NULL, &eb));
	ck_assert_str_eq(value, "v1");
	CK_RC(RC_OK, ssm_delete_parameter(c, name, &eb));

	/* The standard tier holds 4 KiB: a 4096-byte value round-trips. */
	param_name("big", name, sizeof(name));
	memset(big, 'x', 4096);
	big[4096] = '\0';
	CK_RC(RC_OK, ssm_put_parameter(c, name, big, SSM_SECURE_STRING, true, NULL, &eb));
	CK_RC(RC_OK, ssm_get_parameter(c, name, true, value, SSM_VALUE_MAX + 1, NULL, &eb));
	ck_assert_str_eq(value, big);
	CK_RC(RC_OK, ssm_delete_parameter(c, name, &eb));
	/* Over our limit never leaves the process. */
	memset(big, 'x', SSM_VALUE_MAX + 1);
	big[SSM_VALUE_MAX + 1] = '\0';
	CK_RC(RC_INVAL, ssm_put_parameter(c, name, big, SSM_STRING, true, NULL, &eb));
	CK_RC(RC_INVAL, ssm_get_parameter(c, "bad name", true, value, 16, NULL, &eb));
	CK_RC(RC_NOTFOUND, ssm_get_parameter(c, name, true, value, 16, NULL, &eb));
	free(big);
	free(value);
	ssm_client_free(c);
}
END_TEST

/* Runs in the parent after the test case, whatever happened. */
static void cleanup_params(void)
{
	struct errbuf why = {{0}};
	char name[128];
	struct ssm_client *c = try_client(&why);
	struct errbuf eb = {{0}};

	for (size_t i = 0; c != NULL && param_suffixes[i] != NULL; i++) {
		param_name(param_suffixes[i], name, sizeof(name));
		if (ssm_delete_parameter(c, name, &eb) == RC_OK)
			fprintf(stderr, "cleanup: deleted parameter %s left by a failed test\n", name);
	}
	ssm_client_free(c);
}

int main(void)
{
	Suite *s = suite_create("ssm");
	TCase *tc = tcase_create("moto");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	run_path[0] = '/';
	itest_run_prefix(run_path + 1, sizeof(run_path) - 1);
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_params);
	tcase_add_test(tc, test_secure_string_round_trip);
	tcase_add_test(tc, test_string_and_limits);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_NORMAL);
	aws_global_cleanup();
	return status;
}
