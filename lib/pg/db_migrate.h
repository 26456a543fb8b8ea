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

/* Defaults of struct db_migrate_options (db_migrate_options_init). With them a file that
 * cannot get its locks gives up after at most 5 x 2 s of waiting plus 1 + 2 + 4 + 5 s of
 * backoff: 22 s (db_migrate_lock_budget_ms). */
#define DB_MIGRATE_LOCK_TIMEOUT_MS 2000 /* one wait for one lock by a file's statements */
#define DB_MIGRATE_LOCK_TRIES 5         /* tries of a file whose statements time out on a lock */
#define DB_MIGRATE_BACKOFF_MIN_MS 1000  /* ceiling of the wait after the first such try */
#define DB_MIGRATE_BACKOFF_MAX_MS 5000  /* cap of its doubling */
/* What db_migrate accepts. */
#define DB_MIGRATE_LOCK_TIMEOUT_MAX_MS 3600000 /* 1 h */
#define DB_MIGRATE_LOCK_TRIES_MAX 100
#define DB_MIGRATE_BACKOFF_LIMIT_MS 600000     /* 10 min, for either backoff bound */

/* How a run treats the locks its files need. A value struct: fill it with
 * db_migrate_options_init, then adjust fields. */
struct db_migrate_options {
	int lock_timeout_ms; /* lock_timeout of a file's statements (SET LOCAL, after the
			      * migration lock, which is always waited for): a lock not granted
			      * within it fails the try with 55P03; 0 = wait for ever */
	int lock_tries;      /* tries of a file whose statements fail with 55P03, 1 = no retry */
	int backoff_min_ms;  /* ceiling of the wait after the first failed try; each later one
			      * doubles, with jitter (lib/base/backoff: uniform in [min / 2,
			      * ceiling]) */
	int backoff_max_ms;  /* cap of the ceiling; >= backoff_min_ms */
};

/* Sets the DB_MIGRATE_LOCK_* and DB_MIGRATE_BACKOFF_* defaults. Never fails. */
void db_migrate_options_init(struct db_migrate_options *o);

/* The longest one file may spend on locks before db_migrate gives up on it, in ms: every try
 * waiting the whole lock timeout, every backoff its ceiling. -1 when lock_timeout_ms is 0
 * (no bound). For the caller that wraps a run in a deadline of its own. Pure. */
long db_migrate_lock_budget_ms(const struct db_migrate_options *o);

/* What happened to one file. */
enum db_migrate_step {
	DB_MIGRATE_SKIPPED = 1, /* already applied with the same checksum */
	DB_MIGRATE_APPLIED,     /* applied and recorded by this call */
	DB_MIGRATE_RETRY,       /* a try failed waiting for a lock (55P03) and was rolled back;
				 * the next starts after delay_ms */
};

/* One progress report; pointers valid only during the callback. */
struct db_migrate_event {
	long version;              /* NNN as a number */
	const char *file;          /* "001_reference_tables.sql" */
	const char *name;          /* "reference_tables" (what schema_migrations.name holds) */
	enum db_migrate_step step;
	double duration_ms;        /* applying it, for DB_MIGRATE_APPLIED (its tries and their
				    * waits included); else 0 */
	int attempt;               /* the try that applied it (APPLIED), that failed (RETRY);
				    * 1 for the first; 0 for SKIPPED */
	int tries;                 /* the options' lock_tries */
	double delay_ms;           /* RETRY: the wait before the next try; else 0 */
	const char *holder;        /* RETRY: the likely holder of the lock, best effort: "pid
				    * 1234 (psql, idle in transaction since
				    * 2026-01-02T03:04:05Z)", the oldest other transaction that
				    * holds a lock on a table of the database; "" when none was
				    * found; else "" */
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
 * pg_advisory_xact_lock (waited for with no lock timeout), re-checks, and a file applied
 * meanwhile is skipped. Migration files must not contain transaction control or COPY FROM
 * STDIN. No client or statement timeout applies (a long data migration may run). A file's
 * statements wait at most opt->lock_timeout_ms for each lock they need, so that the sessions
 * queued behind that lock (bookings, schedule checks) are held up at most as long; a try
 * that times out (55P03) is rolled back, reported to progress (DB_MIGRATE_RETRY) and
 * repeated after a backoff, up to opt->lock_tries tries (opt NULL: db_migrate_options_init's).
 * The calling thread sleeps through those backoffs. progress may be NULL. *applied (may be
 * NULL) is the number applied by this call, also after a failure (the earlier files stay
 * applied). Errors: RC_INVAL (options out of range, directory, names, a changed file, a
 * file's SQL refused), RC_RETRY (every try of a file timed out on a lock: the message names
 * the file and the likely holder; or another transient SQLSTATE), RC_IO / RC_TIMEOUT
 * (transient: run it again), RC_FATAL, RC_NOMEM. Not thread-safe on c. */
enum rc db_migrate(struct db_conn *c, const char *sql_dir, const struct db_migrate_options *opt,
		   db_migrate_progress_fn *progress, void *ud, int *applied,
		   struct errbuf *eb) MUSTCHECK;

#endif
