/* test_db_migrate.c — migration file names and the directory scan: which files count, their
 * order by number (not by text), and the refusals (bad names, duplicates, NUL bytes); the
 * lock options: their bounds and the longest a file may spend on locks. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/db_int.h"
#include "pg/db_migrate.h"

static const struct {
	const char *file;
	enum rc rc;
	long version;
	const char *name;
} name_cases[] = {
	{"001_reference_tables.sql", RC_OK, 1, "reference_tables"},
	{"1_x.sql", RC_OK, 1, "x"},
	{"010_ten.sql", RC_OK, 10, "ten"},
	{"999999999_max.sql", RC_OK, 999999999, "max"},
	{"002_with space.sql", RC_OK, 2, "with space"},
	{"003_it's;drop table x.sql", RC_OK, 3, "it's;drop table x"},
	{"004_a.b.sql", RC_OK, 4, "a.b"},
	/* not ours: ignored */
	{"README.md", RC_NOTFOUND, 0, NULL},
	{"001_x.sql~", RC_NOTFOUND, 0, NULL},
	{"001_x.SQL", RC_NOTFOUND, 0, NULL},
	{".#001_x.sql", RC_NOTFOUND, 0, NULL},
	{".", RC_NOTFOUND, 0, NULL},
	{"..", RC_NOTFOUND, 0, NULL},
	/* looks like a migration but is not one: refused, never skipped silently */
	{"x.sql", RC_INVAL, 0, NULL},
	{"001-x.sql", RC_INVAL, 0, NULL},
	{"001x.sql", RC_INVAL, 0, NULL},
	{"_x.sql", RC_INVAL, 0, NULL},
	{"000_zero.sql", RC_INVAL, 0, NULL},
	{"1234567890_ten_digits.sql", RC_INVAL, 0, NULL},
	{"001_.sql", RC_INVAL, 0, NULL},
	{".sql", RC_NOTFOUND, 0, NULL},
	{"001_tab\there.sql", RC_INVAL, 0, NULL},
};

START_TEST(test_parse_name)
{
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		struct errbuf eb = {{0}};
		char name[DB_MIGRATE_FILE_MAX + 1] = "";
		long v = -1;
		enum rc rc = db_migrate_parse_name(name_cases[i].file, &v, name, sizeof(name), &eb);

		ck_assert_msg(rc == name_cases[i].rc, "%s: got %s want %s (%s)", name_cases[i].file,
			      rc_name(rc), rc_name(name_cases[i].rc), eb.msg);
		if (rc == RC_OK) {
			ck_assert_int_eq(v, name_cases[i].version);
			ck_assert_str_eq(name, name_cases[i].name);
		}
		if (rc == RC_INVAL)
			ck_assert_msg(eb.msg[0] != '\0', "%s: no message", name_cases[i].file);
	}
}
END_TEST

START_TEST(test_parse_name_too_long)
{
	char file[DB_MIGRATE_FILE_MAX + 16];
	char name[DB_MIGRATE_FILE_MAX + 1];
	long v;
	struct errbuf eb = {{0}};

	memset(file, 'a', sizeof(file));
	memcpy(file, "001_", 4);
	memcpy(file + sizeof(file) - 5, ".sql", 5);
	ck_assert_int_eq(db_migrate_parse_name(file, &v, name, sizeof(name), &eb), RC_INVAL);
	/* exactly at the limit is fine */
	memset(file, 'a', sizeof(file));
	memcpy(file, "001_", 4);
	memcpy(file + DB_MIGRATE_FILE_MAX - 4, ".sql", 5);
	ck_assert_int_eq(db_migrate_parse_name(file, &v, name, sizeof(name), &eb), RC_OK);
	ck_assert_uint_eq(strlen(name), DB_MIGRATE_FILE_MAX - 8);
}
END_TEST

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_db_migrate.XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

static void put(const char *dir, const char *file, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void rm_dir(const char *dir, const char *const *files, size_t n)
{
	char path[512];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

START_TEST(test_scan_orders_numerically)
{
	const char *files[] = {"10_ten.sql", "2_two.sql", "001_one.sql", "README", "notes.txt"};
	char *dir = make_dir();
	struct db_migration *m = NULL;
	size_t n = 0;
	struct errbuf eb = {{0}};

	put(dir, files[0], "SELECT 10;", 10);
	put(dir, files[1], "SELECT 2;", 9);
	put(dir, files[2], "SELECT 1;", 9);
	put(dir, files[3], "x", 1);
	put(dir, files[4], "y", 1);
	ck_assert_int_eq(db_migrate_scan(dir, &m, &n, &eb), RC_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(m[0].version, 1);
	ck_assert_str_eq(m[0].file, "001_one.sql");
	ck_assert_str_eq(m[0].name, "one");
	ck_assert_str_eq(m[0].sql, "SELECT 1;");
	ck_assert_uint_eq(m[0].len, 9);
	ck_assert_int_eq(m[1].version, 2);
	ck_assert_int_eq(m[2].version, 10);
	ck_assert_str_eq(m[2].sql, "SELECT 10;");
	db_migrate_list_free(m, n);
	rm_dir(dir, files, 5);
	free(dir);
}
END_TEST

START_TEST(test_scan_refusals)
{
	const char *dup[] = {"001_a.sql", "1_b.sql"};
	const char *bad[] = {"001_a.sql", "002-b.sql"};
	const char *nul[] = {"001_a.sql"};
	char *dir;
	struct db_migration *m = NULL;
	size_t n = 7;
	struct errbuf eb = {{0}};

	dir = make_dir();
	put(dir, dup[0], "SELECT 1;", 9);
	put(dir, dup[1], "SELECT 1;", 9);
	ck_assert_int_eq(db_migrate_scan(dir, &m, &n, &eb), RC_INVAL);
	ck_assert_ptr_null(m);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(strstr(eb.msg, "same number") != NULL, "%s", eb.msg);
	rm_dir(dir, dup, 2);
	free(dir);

	dir = make_dir();
	put(dir, bad[0], "SELECT 1;", 9);
	put(dir, bad[1], "SELECT 2;", 9);
	ck_assert_int_eq(db_migrate_scan(dir, &m, &n, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "002-b.sql") != NULL, "%s", eb.msg);
	rm_dir(dir, bad, 2);
	free(dir);

	dir = make_dir();
	put(dir, nul[0], "SELECT 1;\0DROP", 14);
	ck_assert_int_eq(db_migrate_scan(dir, &m, &n, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "NUL") != NULL, "%s", eb.msg);
	rm_dir(dir, nul, 1);
	free(dir);

	ck_assert_int_eq(db_migrate_scan("/nonexistent/appointmentd-sql", &m, &n, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "/nonexistent/appointmentd-sql") != NULL, "%s", eb.msg);
}
END_TEST

/* The shipped sql/ directory scans cleanly and starts at 1 with no gaps. */
START_TEST(test_scan_shipped)
{
	const char *root = getenv("APPT_SOURCE_ROOT");
	char dir[1024];
	struct db_migration *m = NULL;
	size_t n = 0;
	struct errbuf eb = {{0}};

	ck_assert_msg(root != NULL, "APPT_SOURCE_ROOT is not set (run through meson test)");
	snprintf(dir, sizeof(dir), "%s/sql", root);
	ck_assert_msg(db_migrate_scan(dir, &m, &n, &eb) == RC_OK, "%s", eb.msg);
	ck_assert_uint_ge(n, 3);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(m[i].version, (long)i + 1);
	db_migrate_list_free(m, n);
}
END_TEST

/* Which lock options db_migrate accepts: {lock_timeout_ms, lock_tries, backoff min, max}. */
static const struct {
	struct db_migrate_options o;
	enum rc rc;
} option_cases[] = {
	{{DB_MIGRATE_LOCK_TIMEOUT_MS, DB_MIGRATE_LOCK_TRIES, DB_MIGRATE_BACKOFF_MIN_MS,
	  DB_MIGRATE_BACKOFF_MAX_MS}, RC_OK},
	{{0, 1, 0, 0}, RC_OK}, /* wait for ever, one try, no backoff */
	{{DB_MIGRATE_LOCK_TIMEOUT_MAX_MS, DB_MIGRATE_LOCK_TRIES_MAX, DB_MIGRATE_BACKOFF_LIMIT_MS,
	  DB_MIGRATE_BACKOFF_LIMIT_MS}, RC_OK},
	{{-1, 5, 1000, 5000}, RC_INVAL},
	{{DB_MIGRATE_LOCK_TIMEOUT_MAX_MS + 1, 5, 1000, 5000}, RC_INVAL},
	{{2000, 0, 1000, 5000}, RC_INVAL},
	{{2000, DB_MIGRATE_LOCK_TRIES_MAX + 1, 1000, 5000}, RC_INVAL},
	{{2000, 5, -1, 5000}, RC_INVAL},
	{{2000, 5, 5000, 1000}, RC_INVAL}, /* max below min */
	{{2000, 5, 1000, DB_MIGRATE_BACKOFF_LIMIT_MS + 1}, RC_INVAL},
};

START_TEST(test_options_bounds)
{
	struct db_migrate_options d;
	struct errbuf eb = {{0}};

	db_migrate_options_init(&d);
	ck_assert_int_eq(d.lock_timeout_ms, DB_MIGRATE_LOCK_TIMEOUT_MS);
	ck_assert_int_eq(d.lock_tries, DB_MIGRATE_LOCK_TRIES);
	ck_assert_int_eq(d.backoff_min_ms, DB_MIGRATE_BACKOFF_MIN_MS);
	ck_assert_int_eq(d.backoff_max_ms, DB_MIGRATE_BACKOFF_MAX_MS);
	for (size_t i = 0; i < sizeof(option_cases) / sizeof(option_cases[0]); i++) {
		enum rc rc = db_migrate_check_options(&option_cases[i].o, &eb);

		ck_assert_msg(rc == option_cases[i].rc, "case %zu: got %s (%s)", i, rc_name(rc),
			      eb.msg);
		if (rc != RC_OK)
			ck_assert_msg(strstr(eb.msg, "lock") != NULL, "case %zu: %s", i, eb.msg);
	}
}
END_TEST

/* The longest a file may spend on locks: every try its whole lock timeout, every backoff
 * its ceiling (doubling from min, capped at max). */
static const struct {
	struct db_migrate_options o;
	long budget_ms;
} budget_cases[] = {
	/* the defaults: 5 x 2 s + 1 + 2 + 4 + 5 (capped) s */
	{{2000, 5, 1000, 5000}, 22000},
	{{2000, 1, 1000, 5000}, 2000},      /* one try: no backoff */
	{{200, 3, 100, 200}, 900},          /* 3 x 200 + 100 + 200 */
	{{1000, 4, 0, 0}, 4000},            /* no backoff */
	{{0, 5, 1000, 5000}, -1},           /* wait for ever: no bound */
	{{3600000, 100, 600000, 600000}, 3600000L * 100 + 600000L * 99},
};

START_TEST(test_lock_budget)
{
	for (size_t i = 0; i < sizeof(budget_cases) / sizeof(budget_cases[0]); i++)
		ck_assert_msg(db_migrate_lock_budget_ms(&budget_cases[i].o) ==
				      budget_cases[i].budget_ms,
			      "case %zu: %ld want %ld", i,
			      db_migrate_lock_budget_ms(&budget_cases[i].o), budget_cases[i].budget_ms);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db_migrate");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_name);
	tcase_add_test(tc, test_parse_name_too_long);
	tcase_add_test(tc, test_scan_orders_numerically);
	tcase_add_test(tc, test_scan_refusals);
	tcase_add_test(tc, test_scan_shipped);
	tcase_add_test(tc, test_options_bounds);
	tcase_add_test(tc, test_lock_budget);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
