/* test_db_conn.c — db.c without a server: the SQLSTATE → rc table, option
 * validation. (Refused connections and reconnects are in tests/integration/test_db.c.) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pg/db.h"
#include "pg/db_int.h"

static const struct {
	const char *state;
	enum rc rc;
} classify_cases[] = {
	/* transient */
	{"08000", RC_IO},      /* connection_exception */
	{"08006", RC_IO},      /* connection_failure */
	{"08001", RC_IO},      /* sqlclient_unable_to_establish_sqlconnection */
	{"08P01", RC_IO},      /* protocol_violation */
	{"40001", RC_RETRY},   /* serialization_failure */
	{"40P01", RC_RETRY},   /* deadlock_detected */
	{"40000", RC_RETRY},   /* transaction_rollback */
	{"40003", RC_IO},      /* statement_completion_unknown */
	{"57P01", RC_IO},      /* admin_shutdown */
	{"57P02", RC_IO},      /* crash_shutdown */
	{"57P03", RC_IO},      /* cannot_connect_now */
	{"57014", RC_TIMEOUT}, /* query_canceled */
	{"53000", RC_RETRY},   /* insufficient_resources */
	{"53100", RC_RETRY},   /* disk_full */
	{"53200", RC_RETRY},   /* out_of_memory */
	{"53300", RC_RETRY},   /* too_many_connections */
	{"55P03", RC_RETRY},   /* lock_not_available */
	{"58030", RC_IO},      /* io_error */
	/* permanent: the input */
	{"22001", RC_INVAL},   /* string_data_right_truncation */
	{"22P02", RC_INVAL},   /* invalid_text_representation */
	{"22007", RC_INVAL},   /* invalid_datetime_format */
	{"P0001", RC_INVAL},   /* raise_exception */
	{"23505", RC_CONFLICT}, /* unique_violation */
	{"23503", RC_CONFLICT}, /* foreign_key_violation */
	{"23514", RC_CONFLICT}, /* check_violation */
	{"40002", RC_CONFLICT}, /* transaction_integrity_constraint_violation */
	/* permanent: the environment or our SQL */
	{"42P01", RC_FATAL},   /* undefined_table (not migrated) */
	{"42601", RC_FATAL},   /* syntax_error */
	{"42501", RC_FATAL},   /* insufficient_privilege */
	{"28P01", RC_FATAL},   /* invalid_password */
	{"3D000", RC_FATAL},   /* invalid_catalog_name */
	{"0A000", RC_FATAL},   /* feature_not_supported */
	{"25P02", RC_FATAL},   /* in_failed_sql_transaction */
	{"26000", RC_FATAL},   /* invalid_sql_statement_name */
	{"XX000", RC_FATAL},   /* internal_error */
	{"57P04", RC_FATAL},   /* database_dropped */
	{"55000", RC_FATAL},   /* object_not_in_prerequisite_state */
	/* no SQLSTATE: libpq's own failure, a broken connection */
	{NULL, RC_IO},
	{"", RC_IO},
	{"0800", RC_IO},
	{"080000", RC_IO},
};

START_TEST(test_classify)
{
	for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		enum rc got = db_classify_sqlstate(classify_cases[i].state);

		ck_assert_msg(got == classify_cases[i].rc, "%s: got %s, want %s",
			      classify_cases[i].state ? classify_cases[i].state : "(null)",
			      rc_name(got), rc_name(classify_cases[i].rc));
	}
}
END_TEST

START_TEST(test_valid_country)
{
	ck_assert(db_valid_country("PE"));
	ck_assert(db_valid_country("CL"));
	ck_assert(!db_valid_country("pe"));
	ck_assert(!db_valid_country("P"));
	ck_assert(!db_valid_country("PER"));
	ck_assert(!db_valid_country("P'"));
	ck_assert(!db_valid_country(""));
	ck_assert(!db_valid_country(NULL));
}
END_TEST

static void fill_target(struct db_target *t, const char *host, const char *name,
			const char *user, const char *ssl, int port, const char *password)
{
	memset(t, 0, sizeof(*t));
	t->host = host;
	t->port = port;
	t->dbname = name;
	t->user = user;
	t->sslmode = ssl;
	t->password = password;
}

START_TEST(test_new_validation)
{
	char host[] = "127.0.0.1", name[] = "appointments_pe", user[] = "appointmentd",
	     empty[] = "", ssl[] = "disable";
	struct db_target cc;
	struct db_conn *c = NULL;
	struct db_options o;
	struct errbuf eb = {{0}};
	char *longv;

	fill_target(&cc, host, name, user, ssl, 5432, "pw");
	db_options_init(&o);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_OK);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(db_describe(c), "127.0.0.1:5432/appointments_pe");
	ck_assert(!db_connected(c));
	ck_assert_int_eq(db_backend_pid(c), 0);
	ck_assert_str_eq(db_last_sqlstate(c), "");
	db_conn_free(c);
	c = NULL;
	db_conn_free(NULL);

	fill_target(&cc, empty, name, user, ssl, 5432, NULL);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, "host") != NULL, "%s", eb.msg);

	fill_target(&cc, host, name, NULL, ssl, 5432, NULL);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);

	fill_target(&cc, host, name, user, ssl, 0, NULL);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	fill_target(&cc, host, name, user, ssl, 65536, NULL);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);

	fill_target(&cc, host, name, user, NULL, 5432, NULL); /* sslmode may be absent */
	ck_assert_int_eq(db_conn_new(&cc, NULL, &c, &eb), RC_OK);
	db_conn_free(c);
	c = NULL;

	o.query_timeout_ms = -1;
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	db_options_init(&o);
	o.backoff_min_ms = 5000;
	o.backoff_max_ms = 10;
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	db_options_init(&o);

	longv = malloc(DB_PARAM_MAX + 2);
	ck_assert_ptr_nonnull(longv);
	memset(longv, 'x', DB_PARAM_MAX + 1);
	longv[DB_PARAM_MAX + 1] = '\0';
	cc.password = longv;
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	cc.password = NULL;
	cc.connect_timeout_ms = -1;
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	fill_target(&cc, longv, name, user, ssl, 5432, NULL);
	ck_assert_int_eq(db_conn_new(&cc, &o, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	free(longv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db_conn");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_valid_country);
	tcase_add_test(tc, test_new_validation);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
