/* db_migrate.h — schema migrations for a country database: the numbered files of sql/
 * (NNN_name.sql) applied in numeric order, each in its own transaction, recorded with a
 * checksum in schema_migrations. `appointmentctl migrate` runs it for every country. */
#ifndef APPT_DB_MIGRATE_H
#define APPT_DB_MIGRATE_H

#include "pg/db.h"
#include "base/rc.h"

#define DB_MIGRATE_MAX_FILES 1000             /* migration files in one directory */
#define DB_MIGRATE_MAX_FILE_BYTES (1L << 20)  /* one migration file */
#define DB_MIGRATE_MAX_TOTAL_BYTES (16L << 20) /* all of them together */
#define DB_MIGRATE_FILE_MAX 128               /* file name length, ".sql" included */
#define DB_MIGRATE_VERSION_MAX 999999999L     /* NNN: 1 to 9 digits, >= 1 */

/* What happened to one file. */
enum db_migrate_step {
	DB_MIGRATE_SKIPPED = 1, /* already applied with the same checksum */
	DB_MIGRATE_APPLIED,     /* applied and recorded by this call */
};

/* One progress report; pointers valid only during the callback. */
struct db_migrate_event {
	long version;              /* NNN as a number */
	const char *file;          /* "001_reference_tables.sql" */
	const char *name;          /* "reference_tables" (what schema_migrations.name holds) */
	enum db_migrate_step step;
	double duration_ms;        /* applying it, for DB_MIGRATE_APPLIED; else 0 */
};

/* Called once per migration file, in order. ud is the caller's. */
typedef void db_migrate_progress_fn(void *ud, const struct db_migrate_event *ev);

/* Applies the pending migrations of sql_dir to the database of c. Files named
 * NNN_name.sql (NNN = DB_MIGRATE_VERSION_MAX at most, unique by value; name any bytes but
 * '/' and control characters) run in numeric order, each in its own transaction together
 * with its schema_migrations(version, name, applied_at, checksum) row; the table is created
 * when missing. Other files are ignored, except a *.sql name that does not follow the pattern
 * (RC_INVAL, so a typo cannot skip a migration silently). Before anything runs, every file
 * already applied is checked against its recorded SHA-256: a changed file is RC_INVAL naming
 * it, and nothing is applied. Concurrent runs are safe: each transaction takes the same
 * pg_advisory_xact_lock, re-checks, and a file applied meanwhile is skipped. Migration files
 * must not contain transaction control or COPY FROM STDIN. No client or statement timeout
 * applies (DDL may wait for locks). progress may be NULL. *applied (may be NULL) is the
 * number applied by this call, also after a failure (the earlier files stay applied). Errors:
 * RC_INVAL (directory, names, a changed file, a file's SQL refused), RC_IO / RC_TIMEOUT /
 * RC_RETRY (transient: run it again), RC_FATAL, RC_NOMEM. Not thread-safe on c. */
enum rc db_migrate(struct db_conn *c, const char *sql_dir, db_migrate_progress_fn *progress,
		   void *ud, int *applied, struct errbuf *eb) MUSTCHECK;

#endif
