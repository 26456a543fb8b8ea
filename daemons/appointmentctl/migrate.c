/* migrate.c — `appointmentctl migrate [--sql-dir DIR]`: applies the numbered files of sql/
 * to every configured country database (db_migrate.h), one summary line per country. */
#include <limits.h>
#include <stdint.h>
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

static void on_file(void *ud, const struct db_migrate_event *ev)
{
	struct mig_state *st = ud;

	if (ev->step == DB_MIGRATE_APPLIED)
		fprintf(st->x->out, "applied %s %s (%.1f ms)\n", st->code, ev->file, ev->duration_ms);
	else
		st->skipped++;
}

static enum rc migrate_one(struct ctl *x, const struct conf_country *cc, struct db_conn *conn,
			   void *ud, struct errbuf *eb)
{
	struct mig_state st = {x, cc->code, 0};
	int applied = 0;
	enum rc rc = db_migrate(conn, ud, on_file, &st, &applied, eb);

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

int ctl_cmd_migrate(const char *config_path, int argc, char **argv)
{
	struct ctl x = {0};
	const char *dir = NULL;
	int code;

	for (int i = 1; i < argc; i++) {
		int r = ctl_opt_value(argc, argv, &i, "--sql-dir", &dir);

		if (r < 0 || (r > 0 && dir[0] == '\0'))
			return ctl_die(CTL_EXIT_USAGE, "migrate: --sql-dir needs a directory");
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] migrate [--sql-dir DIR]\n"
			       "default DIR: %s\n", default_sql_dir());
			return CTL_EXIT_OK;
		}
		return ctl_die(CTL_EXIT_USAGE, "migrate: unknown argument '%s' (try migrate --help)",
			       argv[i]);
	}
	if (dir == NULL)
		dir = default_sql_dir();
	code = ctl_open(&x, config_path, false);
	if (code != CTL_EXIT_OK)
		return code;
	fprintf(x.out, "sql directory %s\n", dir);
	code = ctl_each_database(&x, "migrate", migrate_one, (void *)(uintptr_t)dir);
	ctl_close(&x);
	return code;
}
