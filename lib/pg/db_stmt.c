/* db_stmt.c — statements on a connection of db.c: round trips bounded by deadlines (with a
 * server-side cancel when one passes), statements prepared lazily per connection,
 * transactions, typed reads of a result, and the SQLSTATE → enum rc mapping. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "pg/db_int.h"
#include "pg/db_priv.h"

/* What one round trip sends. */
enum send_kind {
	SEND_QUERY,    /* simple protocol, sql may hold several statements */
	SEND_PREPARE,  /* Parse of st */
	SEND_PREPARED, /* Bind/Execute of st */
};

struct send_req {
	enum send_kind kind;
	const char *what;           /* statement name for messages */
	const char *sql;            /* SEND_QUERY text */
	const struct db_stmt *st;   /* SEND_PREPARE / SEND_PREPARED */
	const char *const *values;  /* SEND_PREPARED parameters */
	const int *lengths;
	const int *formats;
};

TESTABLE enum rc db_classify_sqlstate(const char *sqlstate);

TESTABLE enum rc db_classify_sqlstate(const char *s)
{
	static const char *const fatal_classes[] = {
		"0A", /* feature not supported: our SQL */
		"25", /* invalid transaction state: our bug */
		"26", /* invalid statement name: handled, else our bug */
		"28", /* invalid authorization */
		"34", /* invalid cursor name */
		"3D", /* invalid catalog (database) name */
		"3F", /* invalid schema name */
		"42", /* syntax error or access rule violation: SQL or schema (not migrated?) */
		"F0", /* configuration file error */
		"XX", /* internal error, data corrupted */
	};

	if (s == NULL || strlen(s) != 5)
		return RC_IO;
	/* Exact codes first, where a class holds both kinds. */
	if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
		return RC_RETRY; /* serialization failure, deadlock: redo the transaction */
	if (strcmp(s, "40002") == 0)
		return RC_CONFLICT; /* integrity constraint violated at commit */
	if (strcmp(s, "40003") == 0)
		return RC_IO; /* statement completion unknown */
	if (strcmp(s, "57014") == 0)
		return RC_TIMEOUT; /* query_canceled: statement_timeout or our cancel */
	if (strcmp(s, "57P04") == 0)
		return RC_FATAL; /* database dropped */
	if (strcmp(s, "55P03") == 0 || strcmp(s, "55006") == 0)
		return RC_RETRY; /* lock not available, object in use */
	if (strcmp(s, "58030") == 0)
		return RC_IO; /* I/O error on the server */
	if (strncmp(s, "08", 2) == 0)
		return RC_IO; /* connection exception */
	if (strncmp(s, "57", 2) == 0)
		return RC_IO; /* admin/crash shutdown, cannot connect now */
	if (strncmp(s, "53", 2) == 0)
		return RC_RETRY; /* insufficient resources: disk, memory, too many connections */
	if (strncmp(s, "40", 2) == 0)
		return RC_RETRY; /* other transaction rollbacks */
	if (strncmp(s, "23", 2) == 0)
		return RC_CONFLICT; /* integrity constraint violation */
	if (strncmp(s, "55", 2) == 0 || strncmp(s, "58", 2) == 0)
		return RC_FATAL; /* prerequisite state, system error: the environment */
	for (size_t i = 0; i < sizeof(fatal_classes) / sizeof(fatal_classes[0]); i++)
		if (strncmp(s, fatal_classes[i], 2) == 0)
			return RC_FATAL;
	/* 22 data exception, P0 raised by a function, and the rest: the input is refused. */
	return RC_INVAL;
}

/* The connection broke (or libpq refused to send): drop it so the next call reconnects. */
static enum rc lost(struct db_conn *c, const char *what, struct errbuf *eb)
{
	char msg[DB_MSG_MAX];

	db_clean_msg(c->pg != NULL ? PQerrorMessage(c->pg) : "not connected", msg, sizeof(msg));
	db_drop(c);
	return eb_set(eb, RC_IO, "%s: %s: connection lost: %s", c->describe, what, msg);
}

/* After a deadline: ask the server to cancel, then read what it answers, both within a
 * short grace (the cancel itself is bounded: db_cancel.c); a connection that does not come
 * back to a known state in it is dropped. */
static enum rc timed_out(struct db_conn *c, const char *what, struct errbuf *eb)
{
	int64_t grace = clk_mono_ms() + DB_CANCEL_GRACE_MS;
	bool drained = false;

	if (db_cancel_bounded(c->pg, grace)) {
		for (;;) {
			PGresult *r;

			while (PQisBusy(c->pg)) {
				if (PQsocket(c->pg) < 0 ||
				    db_wait_sock(PQsocket(c->pg), POLLIN, grace) != 1 ||
				    !PQconsumeInput(c->pg))
					goto give_up;
			}
			r = PQgetResult(c->pg);
			if (r == NULL) {
				drained = true;
				break;
			}
			PQclear(r);
		}
	}
give_up:
	if (!drained)
		db_drop(c);
	snprintf(c->sqlstate, sizeof(c->sqlstate), "57014");
	return eb_set(eb, RC_TIMEOUT, "%s: %s: no answer before the deadline; cancelled",
		      c->describe, what);
}

/* Waits until a whole result can be read without blocking. */
static enum rc await(struct db_conn *c, int64_t deadline, const char *what, struct errbuf *eb)
{
	while (PQisBusy(c->pg)) {
		int w;

		if (PQsocket(c->pg) < 0)
			return lost(c, what, eb);
		w = db_wait_sock(PQsocket(c->pg), POLLIN, deadline);
		if (w == 0)
			return timed_out(c, what, eb);
		if (w < 0 || !PQconsumeInput(c->pg))
			return lost(c, what, eb);
	}
	return RC_OK;
}

/* Pushes out what libpq buffered (non-blocking mode), reading meanwhile as libpq asks. */
static enum rc flush(struct db_conn *c, int64_t deadline, const char *what, struct errbuf *eb)
{
	for (;;) {
		int f = PQflush(c->pg);
		int w;

		if (f == 0)
			return RC_OK;
		if (f < 0 || PQsocket(c->pg) < 0)
			return lost(c, what, eb);
		w = db_wait_sock(PQsocket(c->pg), POLLIN | POLLOUT, deadline);
		if (w == 0)
			return timed_out(c, what, eb);
		if (w < 0 || !PQconsumeInput(c->pg))
			return lost(c, what, eb);
	}
}

static enum rc result_error(struct db_conn *c, const PGresult *r, const char *what,
			    struct errbuf *eb)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	char msg[DB_MSG_MAX];
	enum rc rc;

	db_clean_msg(primary != NULL ? primary : PQresultErrorMessage(r), msg, sizeof(msg));
	if (state == NULL || strlen(state) != 5) {
		/* libpq's own failure (lost connection, protocol): no SQLSTATE. */
		db_drop(c);
		return eb_set(eb, RC_IO, "%s: %s: %s", c->describe, what, msg);
	}
	memcpy(c->sqlstate, state, 6);
	rc = db_classify_sqlstate(state);
	/* The server is going away (08xxx, 57P0x): do not wait for libpq to notice. */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)
		db_drop(c);
	if (constraint != NULL)
		return eb_set(eb, rc, "%s: %s: SQLSTATE %s: %s (constraint %.63s)", c->describe,
			      what, state, msg, constraint);
	return eb_set(eb, rc, "%s: %s: SQLSTATE %s: %s", c->describe, what, state, msg);
}

static bool is_error_status(ExecStatusType st)
{
	return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
}

/* Sends one request and reads every result it yields. *out (may be NULL) gets the last
 * result on success. The first error result decides the failure. */
static enum rc roundtrip(struct db_conn *c, const struct send_req *rq, int64_t deadline,
			 PGresult **out, struct errbuf *eb)
{
	PGresult *keep = NULL;
	enum rc rc = RC_OK;
	int ok = 0;

	c->sqlstate[0] = '\0';
	switch (rq->kind) {
	case SEND_QUERY:
		ok = PQsendQuery(c->pg, rq->sql);
		break;
	case SEND_PREPARE:
		ok = PQsendPrepare(c->pg, rq->st->name, rq->st->sql, rq->st->n_params, NULL);
		break;
	case SEND_PREPARED:
		ok = PQsendQueryPrepared(c->pg, rq->st->name, rq->st->n_params, rq->values,
					 rq->lengths, rq->formats, 0);
		break;
	}
	if (!ok) {
		rc = lost(c, rq->what, eb);
		goto out;
	}
	rc = flush(c, deadline, rq->what, eb);
	if (rc != RC_OK)
		goto out;
	for (;;) {
		PGresult *r;
		ExecStatusType st;

		rc = await(c, deadline, rq->what, eb);
		if (rc != RC_OK)
			goto out;
		r = PQgetResult(c->pg);
		if (r == NULL)
			break;
		st = PQresultStatus(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			/* No COPY through here: leaving it half done would wedge the connection. */
			PQclear(r);
			db_drop(c);
			rc = eb_set(eb, RC_FATAL, "%s: %s: COPY is not supported", c->describe,
				    rq->what);
			goto out;
		}
		if (keep != NULL && is_error_status(PQresultStatus(keep))) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	if (keep != NULL && is_error_status(PQresultStatus(keep))) {
		rc = result_error(c, keep, rq->what, eb);
		goto out;
	}
	if (keep == NULL && rq->kind != SEND_QUERY) {
		rc = eb_set(eb, RC_FATAL, "%s: %s: no result", c->describe, rq->what);
		goto out;
	}
	if (out != NULL) {
		*out = keep;
		keep = NULL;
	}
out:
	PQclear(keep);
	return rc;
}

static bool is_prepared(const struct db_conn *c, const struct db_stmt *st)
{
	for (size_t i = 0; i < c->n_prepared; i++)
		if (c->prepared[i] == st)
			return true;
	return false;
}

static enum rc prepare(struct db_conn *c, const struct db_stmt *st, int64_t deadline,
		       struct errbuf *eb)
{
	struct send_req rq = {.kind = SEND_PREPARE, .what = st->name, .st = st};
	enum rc rc;

	if (c->n_prepared >= DB_MAX_PREPARED)
		return eb_set(eb, RC_FATAL, "%s: more than %d prepared statements", c->describe,
			      DB_MAX_PREPARED);
	rc = roundtrip(c, &rq, deadline, NULL, eb);
	/* 42P05: prepared by an earlier attempt whose answer we never read. It exists, so note
	 * it; inside a transaction the error still aborted the transaction. */
	if (rc != RC_OK && !(c->pg != NULL && strcmp(c->sqlstate, "42P05") == 0))
		return rc;
	c->prepared[c->n_prepared++] = st;
	return c->in_tx ? rc : RC_OK;
}

enum rc db_run_ex(struct db_conn *c, const struct db_stmt *st, const char *const *values,
		  const int *lengths, const int *formats, int timeout_ms, PGresult **out,
		  struct errbuf *eb)
{
	struct send_req rq = {.kind = SEND_PREPARED, .what = st->name, .st = st,
			      .values = values, .lengths = lengths, .formats = formats};
	int64_t deadline = db_deadline(c, timeout_ms);
	enum rc rc;

	*out = NULL;
	for (int attempt = 0;; attempt++) {
		rc = db_ensure(c, deadline, eb);
		if (rc != RC_OK)
			return rc;
		if (!is_prepared(c, st)) {
			rc = prepare(c, st, deadline, eb);
			if (rc != RC_OK)
				return rc;
		}
		rc = roundtrip(c, &rq, deadline, out, eb);
		/* 26000: the server forgot our statements (a pooler, DISCARD ALL). Prepare
		 * again; outside a transaction nothing ran, so one retry is safe. */
		if (rc != RC_OK && strcmp(c->sqlstate, "26000") == 0) {
			c->n_prepared = 0;
			if (!c->in_tx && attempt == 0)
				continue;
		}
		return rc;
	}
}

enum rc db_run(struct db_conn *c, const struct db_stmt *st, const char *const *params,
	       int timeout_ms, PGresult **out, struct errbuf *eb)
{
	return db_run_ex(c, st, params, NULL, NULL, timeout_ms, out, eb);
}

enum rc db_exec(struct db_conn *c, const char *sql, int timeout_ms, struct errbuf *eb)
{
	struct send_req rq = {.kind = SEND_QUERY, .what = "query", .sql = sql};
	int64_t deadline = db_deadline(c, timeout_ms);
	enum rc rc = db_ensure(c, deadline, eb);

	if (rc != RC_OK)
		return rc;
	return roundtrip(c, &rq, deadline, NULL, eb);
}

static enum rc simple(struct db_conn *c, const char *sql, PGresult **out, struct errbuf *eb)
{
	struct send_req rq = {.kind = SEND_QUERY, .what = sql, .sql = sql};

	return roundtrip(c, &rq, db_deadline(c, DB_TIMEOUT_DEFAULT), out, eb);
}

/* Keeps the SQLSTATE of the failure that made the caller roll back. */
static void rollback_keep_state(struct db_conn *c)
{
	char state[sizeof(c->sqlstate)];

	memcpy(state, c->sqlstate, sizeof(state));
	if (simple(c, "ROLLBACK", NULL, NULL) != RC_OK)
		db_drop(c);
	memcpy(c->sqlstate, state, sizeof(state));
}

void db_rollback(struct db_conn *c)
{
	c->in_tx = false;
	if (c->pg == NULL)
		return;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		db_drop(c);
		return;
	}
	switch (PQtransactionStatus(c->pg)) {
	case PQTRANS_IDLE:
		return;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		rollback_keep_state(c);
		return;
	case PQTRANS_ACTIVE:
	case PQTRANS_UNKNOWN:
		db_drop(c);
		return;
	}
}

enum rc db_begin(struct db_conn *c, struct errbuf *eb)
{
	enum rc rc;

	/* Whatever an earlier caller left open is abandoned, never continued. */
	db_rollback(c);
	rc = db_ensure(c, db_deadline(c, DB_TIMEOUT_DEFAULT), eb);
	if (rc != RC_OK)
		return rc;
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		db_rollback(c);
	rc = db_ensure(c, db_deadline(c, DB_TIMEOUT_DEFAULT), eb);
	if (rc == RC_OK)
		rc = simple(c, c->begin_sql, NULL, eb);
	if (rc == RC_OK)
		c->in_tx = true;
	return rc;
}

enum rc db_commit(struct db_conn *c, struct errbuf *eb)
{
	PGresult *r = NULL;
	enum rc rc;

	if (!c->in_tx)
		return eb_set(eb, RC_FATAL, "%s: commit without a transaction", c->describe);
	rc = db_ensure(c, -1, eb);
	if (rc == RC_OK)
		rc = simple(c, "COMMIT", &r, eb);
	/* The server answers COMMIT of an aborted transaction with the tag ROLLBACK. */
	if (rc == RC_OK && (r == NULL || strcmp(PQcmdStatus(r), "COMMIT") != 0))
		rc = eb_set(eb, RC_FATAL, "%s: transaction was aborted; nothing committed",
			    c->describe);
	PQclear(r);
	c->in_tx = false;
	if (rc != RC_OK)
		db_rollback(c);
	return rc;
}

static enum rc field(const PGresult *r, int row, int col, size_t max, const char **v,
		     struct errbuf *eb)
{
	if (row < 0 || row >= PQntuples(r) || col < 0 || col >= PQnfields(r))
		return eb_set(eb, RC_FATAL, "result has no field %d of row %d", col, row);
	if (PQgetisnull(r, row, col))
		return eb_set(eb, RC_FATAL, "unexpected NULL in column %s", PQfname(r, col));
	if ((size_t)PQgetlength(r, row, col) > max)
		return eb_set(eb, RC_FATAL, "column %s holds %d bytes, more than %zu",
			      PQfname(r, col), PQgetlength(r, row, col), max);
	*v = PQgetvalue(r, row, col);
	return RC_OK;
}

enum rc db_get_i64(const PGresult *r, int row, int col, int64_t *out, struct errbuf *eb)
{
	const char *v = NULL;
	char *end = NULL;
	long long x;
	enum rc rc = field(r, row, col, 32, &v, eb);

	if (rc != RC_OK)
		return rc;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return eb_set(eb, RC_FATAL, "column %s is not an integer: %.32s", PQfname(r, col),
			      v);
	*out = (int64_t)x;
	return RC_OK;
}

enum rc db_get_i32(const PGresult *r, int row, int col, int32_t *out, struct errbuf *eb)
{
	int64_t x = 0;
	enum rc rc = db_get_i64(r, row, col, &x, eb);

	if (rc != RC_OK)
		return rc;
	if (x < INT32_MIN || x > INT32_MAX)
		return eb_set(eb, RC_FATAL, "column %s out of 32-bit range", PQfname(r, col));
	*out = (int32_t)x;
	return RC_OK;
}

enum rc db_get_bool(const PGresult *r, int row, int col, bool *out, struct errbuf *eb)
{
	const char *v = NULL;
	enum rc rc = field(r, row, col, 1, &v, eb);

	if (rc != RC_OK)
		return rc;
	if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0)
		return eb_set(eb, RC_FATAL, "column %s is not a boolean", PQfname(r, col));
	*out = v[0] == 't';
	return RC_OK;
}

enum rc db_get_text(const PGresult *r, int row, int col, char *out, size_t n,
		    struct errbuf *eb)
{
	const char *v = NULL;
	size_t max = n > 0 ? n - 1 : 0;
	enum rc rc;

	if (n == 0)
		return eb_set(eb, RC_FATAL, "no room for column %d", col);
	if (max > DB_TEXT_MAX)
		max = DB_TEXT_MAX;
	rc = field(r, row, col, max, &v, eb);
	if (rc != RC_OK)
		return rc;
	memcpy(out, v, (size_t)PQgetlength(r, row, col) + 1);
	return RC_OK;
}

enum rc db_ping(struct db_conn *c, int timeout_ms, struct errbuf *eb)
{
	if (timeout_ms < 0)
		return eb_set(eb, RC_INVAL, "db_ping: negative timeout");
	return db_exec(c, "select 1", timeout_ms > 0 ? timeout_ms : DB_TIMEOUT_DEFAULT, eb);
}
