/* migrate.c — `appointmentctl migrate [--sql-dir DIR] [--lock-timeout S] [--lock-tries N]`:
 * applies the numbered files of sql/ to every configured country database (db_migrate.h),
 * one summary line per country. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "pg/db.h"
#include "pg/db_migrate.h"
#include "app/secret.h"

/* Where the migrations are when --sql-dir is not given. An installed binary uses the
 * installed copy (meson install puts sql/ in APPT_DATADIR). A binary run from its meson build
 * directory uses the source tree's sql/ instead, so a developer never migrates with a stale
 * installed copy; daemons/appointmentctl/meson.build passes both roots. */
static const char *default_sql_dir(void)
{
#if defined(CTL_BUILD_ROOT) && defined(CTL_SOURCE_SQL_DIR)
	char exe[PATH_MAX], root[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t rl;

	if (n > 0 && realpath(CTL_BUILD_ROOT, root) != NULL) {
		exe[n] = '\0';
		rl = strlen(root);
		if (strncmp(exe, root, rl) == 0 && exe[rl] == '/')
			return CTL_SOURCE_SQL_DIR;
	}
#endif
	return APPT_DATADIR "/sql";
}

/* Progress of one country's run: each applied file gets a line before the summary line. */
struct mig_state {
	struct ctl *x;    /* where lines go */
	const char *code; /* the country, named on every line */
	int skipped;      /* files already applied */
};

/* Longest --lock-timeout, in seconds (db_migrate's own bound). */
#define LOCK_TIMEOUT_MAX_S (DB_MIGRATE_LOCK_TIMEOUT_MAX_MS / 1000)

static void on_file(void *ud, const struct db_migrate_event *ev)
{
	struct mig_state *st = ud;

	switch (ev->step) {
	case DB_MIGRATE_APPLIED:
		if (ev->attempt > 1)
			fprintf(st->x->out, "applied %s %s (%.1f ms, try %d of %d)\n", st->code,
				ev->file, ev->duration_ms, ev->attempt, ev->tries);
		else
			fprintf(st->x->out, "applied %s %s (%.1f ms)\n", st->code, ev->file,
				ev->duration_ms);
		break;
	case DB_MIGRATE_RETRY:
		fprintf(st->x->out, "retry %s %s: waits for a lock%s%s; try %d of %d in %.1f s\n",
			st->code, ev->file, ev->holder[0] != '\0' ? ", likely held by " : "",
			ev->holder, ev->attempt + 1, ev->tries, ev->delay_ms / 1000.0);
		fflush(st->x->out);
		break;
	case DB_MIGRATE_SKIPPED:
		st->skipped++;
		break;
	}
}

/* What every country's run gets. */
struct mig_args {
	const char *dir;                /* the SQL directory */
	struct db_migrate_options opt;  /* the lock bounds */
};

static enum rc migrate_one(struct ctl *x, const struct conf_country *cc, struct db_conn *conn,
			   void *ud, struct errbuf *eb)
{
	const struct mig_args *a = ud;
	struct mig_state st = {x, cc->code, 0};
	int applied = 0;
	enum rc rc = db_migrate(conn, a->dir, &a->opt, on_file, &st, &applied, eb);

	if (rc != RC_OK) {
		if (applied > 0)
			eb_prefix(eb, "migrate %s %s (%d applied before the failure)", cc->code,
				  db_describe(conn), applied);
		else
			eb_prefix(eb, "migrate %s %s", cc->code, db_describe(conn));
		return rc;
	}
	ctl_line(x, "migrated %s %s: %d applied, %d already applied", cc->code, db_describe(conn),
		 applied, st.skipped);
	return RC_OK;
}

/* migrate --help; o: the lock options as given so far (the defaults, unless changed). */
static void usage(const struct db_migrate_options *o)
{
	long budget = db_migrate_lock_budget_ms(o);

	printf("usage: " CTL_NAME " [--config PATH] migrate [--sql-dir DIR]"
	       " [--lock-timeout SECONDS] [--lock-tries N]\n"
	       "default DIR: %s\n"
	       "--lock-timeout: how long a file's statement waits for a lock before the file is"
	       " rolled back and tried again (default %d; 0 = wait for ever)\n"
	       "--lock-tries: tries of a file before giving up (default %d)\n",
	       default_sql_dir(), DB_MIGRATE_LOCK_TIMEOUT_MS / 1000, DB_MIGRATE_LOCK_TRIES);
	if (budget >= 0)
		printf("a file that cannot get its locks gives up after at most %.1f s\n",
		       (double)budget / 1000.0);
	else
		printf("a file waits for its locks for ever\n");
}

/* Parses one of the lock options at argv[*i] into a: 1 when it was one, 0 when not, and
 * -1 after printing the usage error. */
static int lock_option(int argc, char **argv, int *i, struct mig_args *a)
{
	const char *v = NULL;
	long n = 0;
	int r = ctl_opt_value(argc, argv, i, "--lock-timeout", &v);

	if (r != 0) {
		if (r < 0 || !ctl_parse_long(v, 0, LOCK_TIMEOUT_MAX_S, &n)) {
			ctl_die(CTL_EXIT_USAGE, "migrate: --lock-timeout needs seconds, a whole number "
				"from 0 (wait for ever) to %d", LOCK_TIMEOUT_MAX_S);
			return -1;
		}
		a->opt.lock_timeout_ms = (int)n * 1000;
		return 1;
	}
	r = ctl_opt_value(argc, argv, i, "--lock-tries", &v);
	if (r != 0) {
		if (r < 0 || !ctl_parse_long(v, 1, DB_MIGRATE_LOCK_TRIES_MAX, &n)) {
			ctl_die(CTL_EXIT_USAGE, "migrate: --lock-tries needs a whole number from 1 to %d",
				DB_MIGRATE_LOCK_TRIES_MAX);
			return -1;
		}
		a->opt.lock_tries = (int)n;
		return 1;
	}
	return 0;
}

int ctl_cmd_migrate(const char *config_path, int argc, char **argv)
{
	struct ctl x = {0};
	struct mig_args a = {NULL, {0}};
	int code;

	db_migrate_options_init(&a.opt);
	for (int i = 1; i < argc; i++) {
		int r = ctl_opt_value(argc, argv, &i, "--sql-dir", &a.dir);

		if (r < 0 || (r > 0 && a.dir[0] == '\0'))
			return ctl_die(CTL_EXIT_USAGE, "migrate: --sql-dir needs a directory");
		if (r == 0)
			r = lock_option(argc, argv, &i, &a);
		if (r < 0)
			return CTL_EXIT_USAGE;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0) {
			usage(&a.opt);
			return CTL_EXIT_OK;
		}
		return ctl_die(CTL_EXIT_USAGE, "migrate: unknown argument '%s' (try migrate --help)",
			       argv[i]);
	}
	if (a.dir == NULL)
		a.dir = default_sql_dir();
	code = ctl_open(&x, config_path, false);
	if (code != CTL_EXIT_OK)
		return code;
	fprintf(x.out, "sql directory %s\n", a.dir);
	code = ctl_each_database(&x, "migrate", migrate_one, &a);
	ctl_close(&x);
	return code;
}
