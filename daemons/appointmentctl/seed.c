/* seed.c — `appointmentctl seed [--count N]`: reference data and N future schedules (ids
 * 100 .. 100+N-1) in every configured country database (db_seed.h), one line per country. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "pg/db.h"
#include "pg/db_seed.h"
#include "app/secret.h"

/* --count: a decimal integer in 1..DB_SEED_MAX_COUNT, nothing else. */
static bool parse_count(const char *s, long *out)
{
	char *end = NULL;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0' || v < 1 || v > DB_SEED_MAX_COUNT)
		return false;
	*out = v;
	return true;
}

static enum rc seed_one(struct ctl *x, const struct conf_country *cc, struct db_conn *conn,
			void *ud, struct errbuf *eb)
{
	long count = *(const long *)ud;
	struct db_seed_result res = {0};
	enum rc rc = db_seed(conn, cc->code, count, &res, eb);

	if (rc != RC_OK) {
		eb_prefix(eb, "seed %s %s", cc->code, db_describe(conn));
		return rc;
	}
	ctl_line(x, "seeded %s %s: schedules %d..%ld: %ld inserted, %ld refreshed, %ld kept",
		 cc->code, db_describe(conn), DB_SEED_FIRST_ID, DB_SEED_FIRST_ID + count - 1,
		 res.inserted, res.refreshed, res.kept);
	return RC_OK;
}

int ctl_cmd_seed(const char *config_path, int argc, char **argv)
{
	struct ctl x = {0};
	long count = DB_SEED_DEFAULT_COUNT;
	const char *v = NULL;
	int code;

	for (int i = 1; i < argc; i++) {
		int r = ctl_opt_value(argc, argv, &i, "--count", &v);

		if (r < 0 || (r > 0 && !parse_count(v, &count)))
			return ctl_die(CTL_EXIT_USAGE, "seed: --count needs a whole number from 1 to %d",
				       DB_SEED_MAX_COUNT);
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] seed [--count N]   (default %d)\n",
			       DB_SEED_DEFAULT_COUNT);
			return CTL_EXIT_OK;
		}
		return ctl_die(CTL_EXIT_USAGE, "seed: unknown argument '%s' (try seed --help)",
			       argv[i]);
	}
	code = ctl_open(&x, config_path, false);
	if (code != CTL_EXIT_OK)
		return code;
	code = ctl_each_database(&x, "seed", seed_one, &count);
	ctl_close(&x);
	return code;
}
