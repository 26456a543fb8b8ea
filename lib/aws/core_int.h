/* core_int.h — internals of the AWS core (lib/aws/{config,errors,imds,client}.c) exposed only
 * to unit tests (built with -DUNIT_TESTS);
 * nothing outside those files and tests/unit/test_aws_core.c includes this. */
#ifndef APPT_AWS_CORE_INT_H
#define APPT_AWS_CORE_INT_H
#ifdef UNIT_TESTS

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/core.h"

/* The values one profile section yields. */
struct aws_profile_vals {
	bool found;                          /* the section exists */
	char key_id[AWS_KEY_ID_MAX];         /* aws_access_key_id, or "" */
	char secret[AWS_SECRET_MAX];         /* aws_secret_access_key, or "" */
	char token[AWS_TOKEN_MAX];           /* aws_session_token, or "" */
	char region[AWS_REGION_MAX];         /* region, or "" */
	const char *assume;   /* first key of a source the SDKs take before static keys and we
			       * do not implement (role_arn, web_identity_token_file, sso_*), a
			       * static string; NULL when none */
	bool process;         /* credential_process is set (the SDKs take it after the
			       * credentials file's keys and before the config file's) */
};

enum rc aws_ini_profile(const char *text, size_t len, const char *section,
			struct aws_profile_vals *out, const char *what, struct errbuf *eb) MUSTCHECK;
enum rc aws_parse_iso8601(const char *s, time_t *out) MUSTCHECK;
enum rc aws_classify(enum aws_service svc, CURLcode cc, long status, const char *code,
		     bool *retry);
bool aws_parse_error_body(const char *body, size_t len, char code[AWS_CODE_MAX],
			  char message[AWS_MESSAGE_MAX], char request_id[AWS_REQUEST_ID_MAX]);
enum rc aws_imds_parse_creds(const char *body, size_t len, struct aws_creds *out,
			     struct errbuf *eb) MUSTCHECK;

#endif
#endif
