/* db_int.h — the statement layer of db.c for its sibling modules (db_booking, db_migrate,
 * db_seed) and the tests: prepared statements run with text parameters, transactions, typed
 * reads of a PGresult; plus the internal types and (under UNIT_TESTS) the TESTABLE helpers of
 * those modules. Daemons use the task functions of db*.h, never this. */
#ifndef APPT_DB_INT_H
#define APPT_DB_INT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "pg/db.h"
#include "pg/db_migrate.h"
#include "pg/db_seed.h"

#define DB_MAX_PREPARED 64   /* distinct statements one connection prepares */
#define DB_TEXT_MAX 4096     /* longest text value read from a result into a caller buffer */
#define DB_CANCEL_GRACE_MS 1000 /* after a cancel, how long the answer may take before the
				 * connection is dropped instead */

/* Timeout arguments of the calls below: a value > 0 is a deadline in ms for that call. */
#define DB_TIMEOUT_DEFAULT 0 /* the connection's query_timeout_ms */
#define DB_TIMEOUT_NONE (-1) /* no client-side deadline (migrations, seeding) */

/* A statement prepared lazily, once per connection, under name. Define them `static const`
 * in the module that owns the SQL; the connection keeps a pointer, so it must live for the
 * program's life. Parameter types come from casts in the SQL ($1::bigint). */
struct db_stmt {
	const char *name; /* unique across modules: "<module>_<what>" */
	const char *sql;  /* with $1..$n placeholders */
	int n_params;     /* n */
};

/* Runs st with n_params text parameters (NULL value = SQL NULL) and returns its result in
 * *out (PGRES_TUPLES_OK or PGRES_COMMAND_OK; the caller PQclear()s it). Connects first when
 * needed (db_connect rules), except inside a transaction, where a lost connection is RC_IO and
 * the caller must db_rollback. timeout_ms: see DB_TIMEOUT_*. On failure *out is NULL and eb
 * holds "<statement>: SQLSTATE xxxxx: message" or the connection error; the rc follows
 * db_classify_sqlstate, RC_IO for a lost connection, RC_TIMEOUT for the deadline. */
enum rc db_run(struct db_conn *c, const struct db_stmt *st, const char *const *params,
	       int timeout_ms, PGresult **out, struct errbuf *eb) MUSTCHECK;

/* As db_run, with parameter lengths and formats (1 = binary) as PQexecPrepared takes them,
 * for bytea parameters. lengths/formats may be NULL (all text). */
enum rc db_run_ex(struct db_conn *c, const struct db_stmt *st, const char *const *values,
		  const int *lengths, const int *formats, int timeout_ms, PGresult **out,
		  struct errbuf *eb) MUSTCHECK;

/* Runs trusted SQL text without parameters through the simple query protocol (several
 * statements allowed): transaction control, DDL of migration files. Results are discarded;
 * the first error wins. Never pass text that holds outside input. */
enum rc db_exec(struct db_conn *c, const char *sql, int timeout_ms,
		struct errbuf *eb) MUSTCHECK;

/* Opens a transaction (connecting first when needed; an abandoned transaction left on the
 * connection is rolled back). Pair with db_commit or db_rollback. */
enum rc db_begin(struct db_conn *c, struct errbuf *eb) MUSTCHECK;
/* Commits. A transaction the server had already aborted is RC_FATAL (nothing committed).
 * RC_IO when the connection is lost: the outcome is then unknown, so everything run in a
 * transaction must be safe to redo. The transaction is over either way. */
enum rc db_commit(struct db_conn *c, struct errbuf *eb) MUSTCHECK;
/* Rolls back if a transaction is open; best effort (a dead connection is dropped, which rolls
 * back on the server). Never fails; eb untouched. */
void db_rollback(struct db_conn *c);

/* Typed reads of one field of a result. NULL or malformed text is RC_FATAL (the SQL promised
 * otherwise); a text longer than n - 1 (or DB_TEXT_MAX) is RC_FATAL too. */
enum rc db_get_i64(const PGresult *r, int row, int col, int64_t *out,
		   struct errbuf *eb) MUSTCHECK;
enum rc db_get_i32(const PGresult *r, int row, int col, int32_t *out,
		   struct errbuf *eb) MUSTCHECK;
enum rc db_get_bool(const PGresult *r, int row, int col, bool *out,
		    struct errbuf *eb) MUSTCHECK;
enum rc db_get_text(const PGresult *r, int row, int col, char *out, size_t n,
		    struct errbuf *eb) MUSTCHECK;

/* SQL expression text: a timestamptz column as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, ms). */
#define DB_SQL_ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Shared input checks of the task modules. */
bool db_valid_country(const char *s);  /* exactly two upper-case ASCII letters */
bool db_valid_token(const char *s, size_t max); /* 1..max printable ASCII bytes, no space */

/* One migration file, read into memory (db_migrate.c). */
struct db_migration {
	long version;                       /* NNN */
	char file[DB_MIGRATE_FILE_MAX + 1]; /* file name */
	char name[DB_MIGRATE_FILE_MAX + 1]; /* file name without "NNN_" and ".sql" */
	char *sql;                          /* contents, NUL-terminated; owned */
	size_t len;                         /* bytes in sql */
};

/* Where the seed puts one schedule (db_seed.c). */
struct db_seed_slot {
	int day;          /* days after today (UTC), >= 1 */
	int minute;       /* minute of that day (UTC) the slot starts */
	int center_id;    /* the medic's center */
	int specialty_id; /* the medic's specialty */
	int medic_id;     /* 1 .. DB_SEED_MEDICS */
};

#define DB_SEED_CENTERS 3
#define DB_SEED_SPECIALTIES 4
#define DB_SEED_MEDICS 6
#define DB_SEED_FIRST_MINUTE (8 * 60)  /* 08:00 UTC */
#define DB_SEED_SLOT_MINUTES 30
#define DB_SEED_SLOTS_PER_MEDIC 18     /* 08:00 .. 16:30 */
#define DB_SEED_PER_DAY (DB_SEED_MEDICS * DB_SEED_SLOTS_PER_MEDIC)

#ifdef UNIT_TESTS
/* SQLSTATE (5 characters) to rc: transient kinds (connection, serialization, deadlock,
 * shutdown, resources, cancel) vs permanent ones. NULL or malformed: RC_IO (libpq reports a
 * broken connection without one). */
enum rc db_classify_sqlstate(const char *sqlstate);

/* Classifies a directory entry: RC_OK (a migration: *version and name set), RC_NOTFOUND
 * (not a migration: ignore), RC_INVAL (a *.sql name that breaks the rules; eb says why). */
enum rc db_migrate_parse_name(const char *file, long *version, char *name, size_t n,
			      struct errbuf *eb);
/* RC_INVAL (eb says which) when a field of o is out of the range db_migrate_options lists. */
enum rc db_migrate_check_options(const struct db_migrate_options *o, struct errbuf *eb);
/* Reads every migration of dir, sorted by version; a duplicate version is RC_INVAL. *out is
 * owned by the caller: db_migrate_list_free. */
enum rc db_migrate_scan(const char *dir, struct db_migration **out, size_t *n,
			struct errbuf *eb);
void db_migrate_list_free(struct db_migration *m, size_t n);

/* The slot of schedule_id (>= DB_SEED_FIRST_ID). */
void db_seed_slot(int64_t schedule_id, struct db_seed_slot *out);
#endif

#endif
