/* test_awscfg.c — the AWS settings as every binary resolves them: the process environment
 * with the config file's [aws] region and endpoint_url as fallbacks. awscfg reads the real
 * environment, so each test sets it (check runs every test in its own process). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/awscfg.h"
#include "itest.h"

/* What conf_load may read from the environment: nothing, so only the file counts. */
static const char *no_env(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

/* Loads a config whose [aws] section is aws_text. */
static struct conf *load_conf(const char *aws_text)
{
	char path[] = "/tmp/test_awscfg_XXXXXX";
	struct cfg_env ce = {no_env, NULL, NULL};
	struct conf *c = NULL;
	struct errbuf eb = {{0}};
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[country PE]\n[aws]\n%s", aws_text);
	fclose(f);
	ck_assert_msg(conf_load(path, &ce, &c, &eb) == RC_OK, "%s", eb.msg);
	unlink(path);
	return c;
}

/* A clean AWS environment: static keys, no shared files, no IMDS, nothing else. */
static void clean_env(void)
{
	static const char *const unset[] = {
		"AWS_REGION",           "AWS_DEFAULT_REGION",          "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS",   "AWS_ENDPOINT_URL_SQS",
		"AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE",  "AWS_SESSION_TOKEN",           "AWS_MAX_ATTEMPTS",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	};

	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		ck_assert_int_eq(unsetenv(unset[i]), 0);
	ck_assert_int_eq(setenv("AWS_ACCESS_KEY_ID", "AK", 1), 0);
	ck_assert_int_eq(setenv("AWS_SECRET_ACCESS_KEY", "SK", 1), 0);
	ck_assert_int_eq(setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1), 0);
	ck_assert_int_eq(setenv("AWS_CONFIG_FILE", "/dev/null", 1), 0);
	ck_assert_int_eq(setenv("AWS_EC2_METADATA_DISABLED", "true", 1), 0);
}

/* A set-but-empty variable (EnvironmentFile "AWS_REGION=", compose interpolation of an
 * unset one) is unset, as in the SDKs: it must not hide the config file's value. */
START_TEST(test_empty_env_is_unset)
{
	static const struct {
		const char *env[2][2]; /* name, value ("" = set but empty) */
		const char *region;
		const char *dynamodb;
	} cases[] = {
		{{{"AWS_REGION", ""}}, "eu-west-1", "http://127.0.0.1:1"},
		{{{"AWS_DEFAULT_REGION", ""}}, "eu-west-1", "http://127.0.0.1:1"},
		{{{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}}, "eu-west-1", "http://127.0.0.1:1"},
		{{{"AWS_ENDPOINT_URL", ""}}, "eu-west-1", "http://127.0.0.1:1"},
		/* set ones still win over the file */
		{{{"AWS_DEFAULT_REGION", "sa-east-1"}}, "sa-east-1", "http://127.0.0.1:1"},
		{{{"AWS_ENDPOINT_URL", "http://127.0.0.1:2"}}, "eu-west-1", "http://127.0.0.1:2"},
		/* and the fallback is a configured endpoint like the variable */
		{{{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}}, "eu-west-1",
		 "https://dynamodb.eu-west-1.amazonaws.com"},
	};
	struct conf *c = load_conf("region = eu-west-1\nendpoint_url = http://127.0.0.1:1\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_config *cfg = calloc(1, sizeof(*cfg));
		struct errbuf eb = {{0}};

		ck_assert_ptr_nonnull(cfg);
		clean_env();
		for (size_t j = 0; j < 2 && cases[i].env[j][0] != NULL; j++)
			ck_assert_int_eq(setenv(cases[i].env[j][0], cases[i].env[j][1], 1), 0);
		ck_assert_msg(awscfg_resolve(c, cfg, &eb) == RC_OK, "case %zu: %s", i, eb.msg);
		ck_assert_str_eq(cfg->region, cases[i].region);
		ck_assert_str_eq(cfg->endpoint[AWS_SVC_DYNAMODB], cases[i].dynamodb);
		free(cfg);
	}
	conf_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("awscfg");
	TCase *tc = tcase_create("awscfg");

	tcase_add_test(tc, test_empty_env_is_unset);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
