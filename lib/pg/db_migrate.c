/* db_migrate.c — applies sql/NNN_name.sql in numeric order, one transaction per file under an
 * advisory lock, recorded with a SHA-256 (computed by the server) in schema_migrations; a
 * file's own lock waits are bounded, and a try that times out on one is tried again. */
#include "pg/db_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"
#include "pg/db_int.h"

#define PATH_MAX_LEN 4096

/* One key for every migrator of every database ("appt-mig" in ASCII): the lock is per
 * database, so countries do not wait for each other. lock_timeout also bounds advisory lock
 * waits, so it is 0 here, whatever the role or database sets: a second run waits for the
 * first. The file's own lock_timeout is set after this (set_lock_timeout). */
#define MIGRATE_LOCK_SQL                                   \
	"SET LOCAL statement_timeout = 0;"                 \
	" SET LOCAL lock_timeout = 0;"                     \
	" SELECT pg_advisory_xact_lock(7021802730958989671)"

/* The migrator's own bookkeeping; not a numbered file, so it exists before file 001. */
#define CREATE_TABLE_SQL                                           \
	"CREATE TABLE IF NOT EXISTS schema_migrations ("           \
	" version integer PRIMARY KEY CHECK (version >= 1),"       \
	" name text NOT NULL,"                                     \
	" applied_at timestamptz NOT NULL DEFAULT now(),"          \
	" checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'))"

/* Is this version recorded, and does the file still hash the same? */
static const struct db_stmt st_applied = {
	.name = "migrate_applied",
	.sql = "SELECT checksum = encode(sha256($2::bytea), 'hex'),"
	       " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	       " FROM schema_migrations WHERE version = $1::integer",
	.n_params = 2,
};

static const struct db_stmt st_record = {
	.name = "migrate_record",
	.sql = "INSERT INTO schema_migrations (version, name, checksum)"
	       " VALUES ($1::integer, $2::text, encode(sha256($3::bytea), 'hex'))",
	.n_params = 3,
};

/* The session most likely to hold the lock a file timed out on: the oldest other
 * transaction in this database with a lock on a table (not a catalog: OIDs below 16384),
 * as pg_stat_activity shows it (state and xact_start are NULL for another role's session
 * without pg_read_all_stats). The wait is over when this runs, so pg_blocking_pids cannot
 * name it. */
static const struct db_stmt st_holder = {
	.name = "migrate_lock_holder",
	.sql = "SELECT format('pid %s (%s, %s since %s)', a.pid,"
	       " coalesce(nullif(a.application_name, ''), 'no application_name'),"
	       " coalesce(a.state, 'state hidden'),"
	       " coalesce(to_char(a.xact_start AT TIME ZONE 'UTC',"
	       " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'a time hidden'))"
	       " FROM pg_stat_activity a"
	       " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
	       " AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted"
	       " AND l.locktype = 'relation' AND l.relation >= 16384::oid)"
	       " ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 1",
	.n_params = 0,
};

#define HOLDER_TIMEOUT_MS 5000 /* client deadline of the st_holder query */
#define HOLDER_MAX 256         /* its text: a pid, 63 bytes of name, a state, a time */

void db_migrate_options_init(struct db_migrate_options *o)
{
	o->lock_timeout_ms = DB_MIGRATE_LOCK_TIMEOUT_MS;
	o->lock_tries = DB_MIGRATE_LOCK_TRIES;
	o->backoff_min_ms = DB_MIGRATE_BACKOFF_MIN_MS;
	o->backoff_max_ms = DB_MIGRATE_BACKOFF_MAX_MS;
}

static struct backoff retry_backoff(const struct db_migrate_options *o)
{
	struct backoff b = {.base = o->backoff_min_ms, .cap = o->backoff_max_ms,
			    .floor = o->backoff_min_ms / 2};

	return b;
}

long db_migrate_lock_budget_ms(const struct db_migrate_options *o)
{
	struct backoff top = retry_backoff(o);
	long total;

	if (o->lock_timeout_ms <= 0)
		return -1;
	/* a floor at the cap narrows every jitter range to its ceiling */
	top.floor = top.cap;
	total = (long)o->lock_tries * o->lock_timeout_ms;
	for (int k = 1; k < o->lock_tries; k++)
		total += backoff_delay(&top, k, 0);
	return total;
}

TESTABLE enum rc db_migrate_check_options(const struct db_migrate_options *o,
					  struct errbuf *eb)
{
	if (o->lock_timeout_ms < 0 || o->lock_timeout_ms > DB_MIGRATE_LOCK_TIMEOUT_MAX_MS)
		return eb_set(eb, RC_INVAL, "lock timeout %d ms out of range 0..%d",
			      o->lock_timeout_ms, DB_MIGRATE_LOCK_TIMEOUT_MAX_MS);
	if (o->lock_tries < 1 || o->lock_tries > DB_MIGRATE_LOCK_TRIES_MAX)
		return eb_set(eb, RC_INVAL, "lock tries %d out of range 1..%d", o->lock_tries,
			      DB_MIGRATE_LOCK_TRIES_MAX);
	if (o->backoff_min_ms < 0 || o->backoff_max_ms < o->backoff_min_ms ||
	    o->backoff_max_ms > DB_MIGRATE_BACKOFF_LIMIT_MS)
		return eb_set(eb, RC_INVAL,
			      "lock backoff %d..%d ms: want 0 <= min <= max <= %d",
			      o->backoff_min_ms, o->backoff_max_ms, DB_MIGRATE_BACKOFF_LIMIT_MS);
	return RC_OK;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

TESTABLE enum rc db_migrate_parse_name(const char *file, long *version, char *name, size_t n,
				       struct errbuf *eb)
{
	/* A directory entry is at most NAME_MAX (255) bytes; the cap only guards misuse. */
	size_t len = strnlen(file, PATH_MAX_LEN);
	size_t digits = 0;
	size_t name_len;
	long v = 0;

	/* Hidden files (editor locks, ".#001_x.sql") and non-SQL files are not ours. */
	if (file[0] == '.' || !ends_with(file, len, ".sql"))
		return RC_NOTFOUND;
	if (len > DB_MIGRATE_FILE_MAX)
		return eb_set(eb, RC_INVAL, "migration file name longer than %d bytes: %.40s...",
			      DB_MIGRATE_FILE_MAX, file);
	while (digits < len && file[digits] >= '0' && file[digits] <= '9')
		digits++;
	if (digits == 0 || digits > 9 || file[digits] != '_')
		return eb_set(eb, RC_INVAL,
			      "%s: a migration is named NNN_name.sql (1 to 9 digits, then '_')",
			      file);
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (file[i] - '0');
	if (v < 1)
		return eb_set(eb, RC_INVAL, "%s: migration numbers start at 1", file);
	name_len = len - digits - 1 - strlen(".sql");
	if (name_len == 0)
		return eb_set(eb, RC_INVAL, "%s: the migration has no name after the number", file);
	for (size_t i = digits + 1; i < digits + 1 + name_len; i++)
		if ((unsigned char)file[i] < 0x20 || file[i] == 0x7f)
			return eb_set(eb, RC_INVAL, "migration file name has a control character");
	if (name_len + 1 > n)
		return eb_set(eb, RC_INVAL, "%s: name too long", file);
	memcpy(name, file + digits + 1, name_len);
	name[name_len] = '\0';
	*version = v;
	return RC_OK;
}

static int cmp_version(const void *a, const void *b)
{
	const struct db_migration *x = a;
	const struct db_migration *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

TESTABLE void db_migrate_list_free(struct db_migration *m, size_t n)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(m[i].sql);
	free(m);
}

/* Reads one file into m->sql; bounded, and a NUL byte is refused (the simple query protocol
 * would cut the text there). */
static enum rc read_file(const char *dir, struct db_migration *m, long *total, struct errbuf *eb)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	int fd = -1;
	size_t got = 0;
	enum rc rc = RC_OK;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, m->file) >= sizeof(path)) {
		rc = eb_set(eb, RC_INVAL, "%s: path too long", m->file);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = eb_set(eb, RC_INVAL, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = eb_set(eb, RC_INVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > DB_MIGRATE_MAX_FILE_BYTES ||
	    *total + st.st_size > DB_MIGRATE_MAX_TOTAL_BYTES) {
		rc = eb_set(eb, RC_INVAL, "%s: over the size limit (%ld bytes a file, %ld in all)",
			    path, DB_MIGRATE_MAX_FILE_BYTES, DB_MIGRATE_MAX_TOTAL_BYTES);
		goto out;
	}
	m->sql = malloc((size_t)st.st_size + 1);
	if (m->sql == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, m->sql + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = eb_set(eb, RC_INVAL, "%s: %s", path,
				    r < 0 ? strerror(errno) : "short read");
			goto out;
		}
		got += (size_t)r;
	}
	m->sql[got] = '\0';
	m->len = got;
	if (memchr(m->sql, '\0', got) != NULL) {
		rc = eb_set(eb, RC_INVAL, "%s: contains a NUL byte", path);
		goto out;
	}
	*total += (long)got;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

TESTABLE enum rc db_migrate_scan(const char *dir, struct db_migration **out, size_t *n,
				 struct errbuf *eb)
{
	DIR *d = NULL;
	struct dirent *de;
	struct db_migration *list = NULL;
	size_t count = 0;
	long total = 0;
	enum rc rc = RC_OK;

	*out = NULL;
	*n = 0;
	d = opendir(dir);
	if (d == NULL) {
		rc = eb_set(eb, RC_INVAL, "migrations directory %s: %s", dir, strerror(errno));
		goto out;
	}
	list = calloc(DB_MIGRATE_MAX_FILES, sizeof(*list));
	if (list == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		struct db_migration *m;
		char name[DB_MIGRATE_FILE_MAX + 1];
		long v = 0;
		enum rc pr;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = eb_set(eb, RC_INVAL, "reading %s: %s", dir, strerror(errno));
			break;
		}
		pr = db_migrate_parse_name(de->d_name, &v, name, sizeof(name), eb);
		if (pr == RC_NOTFOUND)
			continue;
		if (pr != RC_OK) {
			rc = pr;
			goto out;
		}
		if (count >= DB_MIGRATE_MAX_FILES) {
			rc = eb_set(eb, RC_INVAL, "%s: more than %d migrations", dir,
				    DB_MIGRATE_MAX_FILES);
			goto out;
		}
		m = &list[count];
		m->version = v;
		/* db_migrate_parse_name bounded both to DB_MIGRATE_FILE_MAX */
		if (!str_copy(m->file, sizeof(m->file), de->d_name) ||
		    !str_copy(m->name, sizeof(m->name), name)) {
			rc = eb_set(eb, RC_INVAL, "%s: migration file name too long", dir);
			goto out;
		}
		count++;
		rc = read_file(dir, m, &total, eb);
		if (rc != RC_OK)
			goto out;
	}
	if (rc != RC_OK)
		goto out;
	qsort(list, count, sizeof(*list), cmp_version);
	for (size_t i = 1; i < count; i++) {
		if (list[i].version == list[i - 1].version) {
			rc = eb_set(eb, RC_INVAL, "%s and %s have the same number %ld",
				    list[i - 1].file, list[i].file, list[i].version);
			goto out;
		}
	}
	*out = list;
	*n = count;
	list = NULL;
out:
	if (d != NULL)
		closedir(d);
	db_migrate_list_free(list, count);
	return rc;
}

/* Looks the migration up in schema_migrations: *applied, and when so whether the checksum
 * still matches (*same) and when it was applied. */
static enum rc lookup(struct db_conn *c, const struct db_migration *m, bool *applied,
		      bool *same, char *when, size_t when_n, struct errbuf *eb)
{
	char ver[16];
	const char *values[2] = {ver, m->sql};
	const int lengths[2] = {0, (int)m->len};
	const int formats[2] = {0, 1};
	PGresult *r = NULL;
	enum rc rc;

	snprintf(ver, sizeof(ver), "%ld", m->version);
	*applied = false;
	*same = false;
	rc = db_run_ex(c, &st_applied, values, lengths, formats, DB_TIMEOUT_NONE, &r, eb);
	if (rc != RC_OK || PQntuples(r) == 0)
		goto out;
	*applied = true;
	rc = db_get_bool(r, 0, 0, same, eb);
	if (rc == RC_OK)
		rc = db_get_text(r, 0, 1, when, when_n, eb);
out:
	PQclear(r);
	return rc;
}

static enum rc changed(const struct db_migration *m, const char *when, struct errbuf *eb)
{
	return eb_set(eb, RC_INVAL,
		      "migration %s was changed after it was applied (at %s): its checksum no"
		      " longer matches schema_migrations; restore the file and add a new"
		      " migration instead",
		      m->file, when);
}

/* Opens a transaction that holds the migration lock, with no statement or lock timeout. */
static enum rc begin_locked(struct db_conn *c, struct errbuf *eb)
{
	enum rc rc = db_begin(c, eb);

	if (rc == RC_OK)
		rc = db_exec(c, MIGRATE_LOCK_SQL, DB_TIMEOUT_NONE, eb);
	return rc;
}

static enum rc bootstrap(struct db_conn *c, struct errbuf *eb)
{
	/* Under the lock: two first runs racing on CREATE TABLE IF NOT EXISTS can otherwise
	 * fail on the catalog's unique index. */
	enum rc rc = begin_locked(c, eb);

	if (rc == RC_OK)
		rc = db_exec(c, CREATE_TABLE_SQL, DB_TIMEOUT_NONE, eb);
	if (rc == RC_OK)
		return db_commit(c, eb);
	db_rollback(c);
	return rc;
}

/* SET LOCAL lock_timeout for the rest of the transaction: the file's statements. */
static enum rc set_lock_timeout(struct db_conn *c, int ms, struct errbuf *eb)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", ms);
	return db_exec(c, sql, DB_TIMEOUT_NONE, eb);
}

/* One try of m in its own transaction, unless a concurrent run did it first. *lock_wait
 * tells a failure of the file's statements on the lock timeout (55P03): worth another try. */
static enum rc apply_one(struct db_conn *c, const struct db_migration *m, int lock_timeout_ms,
			 bool *did, bool *lock_wait, struct errbuf *eb)
{
	char ver[16];
	char when[40] = "";
	const char *values[3] = {ver, m->name, m->sql};
	const int lengths[3] = {0, 0, (int)m->len};
	const int formats[3] = {0, 0, 1};
	PGresult *r = NULL;
	bool applied = false;
	bool same = false;
	enum rc rc;

	*did = false;
	*lock_wait = false;
	snprintf(ver, sizeof(ver), "%ld", m->version);
	rc = begin_locked(c, eb);
	if (rc == RC_OK)
		rc = lookup(c, m, &applied, &same, when, sizeof(when), eb);
	if (rc != RC_OK)
		goto out;
	if (applied) {
		if (!same)
			rc = changed(m, when, eb);
		goto out;
	}
	rc = set_lock_timeout(c, lock_timeout_ms, eb);
	if (rc == RC_OK)
		rc = db_exec(c, m->sql, DB_TIMEOUT_NONE, eb);
	if (rc == RC_OK)
		rc = db_run_ex(c, &st_record, values, lengths, formats, DB_TIMEOUT_NONE, &r, eb);
	PQclear(r);
	if (rc != RC_OK) {
		/* the caller names the file on a lock wait, with what it found out */
		*lock_wait = strcmp(db_last_sqlstate(c), "55P03") == 0;
		if (!*lock_wait)
			eb_prefix(eb, "migration %s", m->file);
		goto out;
	}
	rc = db_commit(c, eb);
	if (rc == RC_OK)
		*did = true;
	return rc;
out:
	db_rollback(c);
	return rc;
}

/* Best effort: the likely holder of the lock a try timed out on (st_holder) into out, ""
 * when none is found or the query fails (the run goes on either way). */
static void find_holder(struct db_conn *c, char *out, size_t n)
{
	PGresult *r = NULL;

	out[0] = '\0';
	if (db_run(c, &st_holder, NULL, HOLDER_TIMEOUT_MS, &r, NULL) == RC_OK &&
	    PQntuples(r) == 1 && db_get_text(r, 0, 0, out, n, NULL) != RC_OK)
		out[0] = '\0';
	PQclear(r);
}

/* Applies m, trying again while its statements time out on a lock (opt's bounds). Reports
 * each retry, and the outcome, to progress. */
static enum rc apply_tries(struct db_conn *c, const struct db_migration *m,
			   const struct db_migrate_options *opt, struct rng *rng,
			   db_migrate_progress_fn *progress, void *ud, bool *did,
			   struct errbuf *eb)
{
	struct db_migrate_event ev = {.version = m->version, .file = m->file, .name = m->name,
				      .tries = opt->lock_tries, .holder = ""};
	struct backoff b = retry_backoff(opt);
	char holder[HOLDER_MAX];
	int64_t t0 = clk_mono_ms();
	bool lock_wait = false;

	for (int attempt = 1;; attempt++) {
		enum rc rc = apply_one(c, m, opt->lock_timeout_ms, did, &lock_wait, eb);

		if (rc == RC_OK) {
			ev.step = *did ? DB_MIGRATE_APPLIED : DB_MIGRATE_SKIPPED;
			ev.attempt = *did ? attempt : 0;
			ev.duration_ms = *did ? (double)(clk_mono_ms() - t0) : 0;
			break;
		}
		if (!lock_wait)
			return rc;
		find_holder(c, holder, sizeof(holder));
		if (attempt >= opt->lock_tries) {
			eb_prefix(eb, "migration %s: gave up after %d %s with lock_timeout %.3g s%s%s",
				  m->file, attempt, attempt == 1 ? "try" : "tries",
				  opt->lock_timeout_ms / 1000.0,
				  holder[0] != '\0' ? ", the lock likely held by " : "", holder);
			return rc;
		}
		ev.step = DB_MIGRATE_RETRY;
		ev.attempt = attempt;
		ev.delay_ms = (double)backoff_delay(&b, attempt, rng_next(rng));
		ev.holder = holder;
		if (progress != NULL)
			progress(ud, &ev);
		clk_sleep_ms((long)ev.delay_ms);
	}
	ev.delay_ms = 0;
	ev.holder = "";
	if (progress != NULL)
		progress(ud, &ev);
	return RC_OK;
}

enum rc db_migrate(struct db_conn *c, const char *sql_dir, const struct db_migrate_options *opt,
		   db_migrate_progress_fn *progress, void *ud, int *applied, struct errbuf *eb)
{
	struct db_migrate_options defaults;
	struct db_migration *list = NULL;
	struct rng rng;
	size_t n = 0;
	int done = 0;
	enum rc rc;

	if (applied != NULL)
		*applied = 0;
	if (opt == NULL) {
		db_migrate_options_init(&defaults);
		opt = &defaults;
	}
	rc = db_migrate_check_options(opt, eb);
	if (rc != RC_OK)
		return rc;
	if (sql_dir == NULL || sql_dir[0] == '\0')
		return eb_set(eb, RC_INVAL, "no migrations directory given");
	rng_init(&rng, &rng);
	/* Read and check every file before touching the database. */
	rc = db_migrate_scan(sql_dir, &list, &n, eb);
	if (rc != RC_OK)
		goto out;
	rc = bootstrap(c, eb);
	if (rc != RC_OK)
		goto out;
	/* A changed file stops everything before anything new runs. */
	for (size_t i = 0; i < n; i++) {
		bool was = false;
		bool same = false;
		char when[40] = "";

		rc = lookup(c, &list[i], &was, &same, when, sizeof(when), eb);
		if (rc != RC_OK)
			goto out;
		if (was && !same) {
			rc = changed(&list[i], when, eb);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool did = false;

		rc = apply_tries(c, &list[i], opt, &rng, progress, ud, &did, eb);
		if (rc != RC_OK)
			goto out;
		if (did)
			done++;
	}
out:
	if (applied != NULL)
		*applied = done;
	db_migrate_list_free(list, n);
	return rc;
}
