/* test_ssm.c — the SSM request bodies (exact JSON) and argument limits. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/ssm.h"
#include "aws/ssm_int.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

START_TEST(test_build_put)
{
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(ssm_build_put("/medical-appointment/dev/rds/password", "s3cr\"t",
				       SSM_SECURE_STRING, true, &req, &eb),
			 RC_OK);
	ck_assert_str_eq(json_object_to_json_string_ext(req, FLAGS),
			 "{\"Name\":\"/medical-appointment/dev/rds/password\","
			 "\"Value\":\"s3cr\\\"t\",\"Type\":\"SecureString\",\"Overwrite\":true}");
	json_object_put(req);
	ck_assert_int_eq(ssm_build_put("plain", "v", SSM_STRING, false, &req, &eb), RC_OK);
	ck_assert_str_eq(json_object_to_json_string_ext(req, FLAGS),
			 "{\"Name\":\"plain\",\"Value\":\"v\",\"Type\":\"String\","
			 "\"Overwrite\":false}");
	json_object_put(req);
}
END_TEST

START_TEST(test_build_get)
{
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};

	ck_assert_int_eq(ssm_build_get("/a/b", true, &req, &eb), RC_OK);
	ck_assert_str_eq(json_object_to_json_string_ext(req, FLAGS),
			 "{\"Name\":\"/a/b\",\"WithDecryption\":true}");
	json_object_put(req);
}
END_TEST

START_TEST(test_limits)
{
	struct json_object *req = NULL;
	struct errbuf eb = {{0}};
	char *big = malloc(SSM_NAME_MAX + SSM_VALUE_MAX + 2);

	ck_assert_ptr_nonnull(big);
	ck_assert(ssm_name_ok("/medical-appointment/dev/rds/password"));
	ck_assert(ssm_name_ok("a.b_c-d"));
	ck_assert(!ssm_name_ok(""));
	ck_assert(!ssm_name_ok(NULL));
	ck_assert(!ssm_name_ok("has space"));
	ck_assert(!ssm_name_ok("a:b"));
	memset(big, 'n', SSM_NAME_MAX + 1);
	big[SSM_NAME_MAX + 1] = '\0';
	ck_assert(!ssm_name_ok(big));
	big[SSM_NAME_MAX] = '\0';
	ck_assert(ssm_name_ok(big));
	ck_assert_int_eq(ssm_build_get("bad name", false, &req, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "bad parameter name"));
	ck_assert_int_eq(ssm_build_put("n", "", SSM_STRING, false, &req, &eb), RC_INVAL);
	ck_assert_int_eq(ssm_build_put("n", NULL, SSM_STRING, false, &req, &eb), RC_INVAL);
	memset(big, 'v', SSM_VALUE_MAX + 1);
	big[SSM_VALUE_MAX + 1] = '\0';
	ck_assert_int_eq(ssm_build_put("n", big, SSM_STRING, false, &req, &eb), RC_INVAL);
	/* The message names the parameter, never the value. */
	ck_assert_ptr_null(strstr(eb.msg, "vvvv"));
	big[SSM_VALUE_MAX] = '\0';
	ck_assert_int_eq(ssm_build_put("n", big, SSM_STRING, false, &req, &eb), RC_OK);
	json_object_put(req);
	ck_assert_int_eq(ssm_build_put("n", "v", (enum ssm_type)7, false, &req, &eb), RC_INVAL);
	ck_assert_ptr_null(req);
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ssm");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_build_put);
	tcase_add_test(tc, test_build_get);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
