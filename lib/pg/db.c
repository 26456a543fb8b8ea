/* db.c — libpq connection handling for one country database: a non-blocking connect and
 * statement round trips bounded by deadlines, backoff between failed connects, statements
 * prepared lazily per connection, and the SQLSTATE → enum rc mapping. */
#include "pg/db.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"
#include "pg/db_int.h"

#define DB_CONNECT_TIMEOUT_MAX_MS 3600000 /* an hour: anything longer is a typo */
#define DB_MSG_MAX 320                    /* a server or libpq message kept for eb */

struct db_conn {
	PGconn *pg;               /* NULL while not connected */
	char *host;               /* owned copies of the connection parameters */
	char *dbname;
	char *user;
	char *password;           /* NULL = none; wiped before it is freed */
	char *sslmode;            /* "" = libpq default */
	char *describe;           /* "host:port/dbname" */
	char port[8];             /* decimal */
	char appname[DB_APPNAME_MAX + 1];
	char options[48];         /* "-c statement_timeout=N" or "" */
	char connect_timeout_s[16]; /* libpq's own connect_timeout, for the blocking paths */
	int connect_timeout_ms;   /* our deadline of one attempt */
	int query_timeout_ms;     /* default deadline of a round trip; 0 = none */
	struct backoff backoff;   /* between failed connects, ms: [min, min * 2^n capped] */
	int failures;             /* consecutive failed connect attempts */
	int64_t next_attempt_ms;  /* monotonic; no new attempt before it while failures > 0 */
	char last_error[DB_MSG_MAX]; /* why the last connect failed, for the gated answer */
	struct rng rng;           /* backoff jitter */
	bool in_tx;               /* between db_begin and its commit/rollback: no silent
				   * reconnect, or the rest of a transaction would run outside it */
	char sqlstate[6];         /* of the last failed statement; "" otherwise */
	const struct db_stmt *prepared[DB_MAX_PREPARED]; /* prepared on this connection */
	size_t n_prepared;
};

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

/* Copies a libpq/server message into out on one line: newlines and tabs become spaces,
 * runs of spaces collapse, trailing space goes. */
static void clean_msg(const char *in, char *out, size_t n)
{
	size_t o = 0;
	bool space = false;

	if (in == NULL)
		in = "";
	for (; *in != '\0' && o + 1 < n; in++) {
		bool ws = *in == '\n' || *in == '\t' || *in == '\r' || *in == ' ';

		if (ws) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < n)
			out[o++] = ' ';
		space = false;
		out[o++] = *in;
	}
	out[o] = '\0';
}

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

bool db_valid_country(const char *s)
{
	return s != NULL && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
	       s[2] == '\0';
}

void db_options_init(struct db_options *o)
{
	memset(o, 0, sizeof(*o));
	o->application_name = DB_DEFAULT_APPNAME;
	o->backoff_min_ms = DB_DEFAULT_BACKOFF_MIN_MS;
	o->backoff_max_ms = DB_DEFAULT_BACKOFF_MAX_MS;
}

static enum rc dup_param(const char *what, const char *v, bool required, char **out,
			 struct errbuf *eb)
{
	size_t n;

	if (v == NULL)
		v = "";
	n = strnlen(v, DB_PARAM_MAX + 1);
	if (n > DB_PARAM_MAX)
		return eb_set(eb, RC_INVAL, "database %s is longer than %d bytes", what,
			      DB_PARAM_MAX);
	if (required && n == 0)
		return eb_set(eb, RC_INVAL, "database %s is empty", what);
	*out = strndup(v, n);
	if (*out == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	return RC_OK;
}

enum rc db_conn_new(const struct db_target *t, const struct db_options *opt,
		    struct db_conn **out, struct errbuf *eb)
{
	struct db_options defaults;
	struct db_conn *c = NULL;
	enum rc rc = RC_OK;
	size_t dn;
	int secs;

	*out = NULL;
	if (opt == NULL) {
		db_options_init(&defaults);
		opt = &defaults;
	}
	if (t == NULL) {
		rc = eb_set(eb, RC_INVAL, "no target given for the database connection");
		goto out;
	}
	if (t->port < 1 || t->port > 65535) {
		rc = eb_set(eb, RC_INVAL, "database port %d out of range 1-65535", t->port);
		goto out;
	}
	if (t->connect_timeout_ms < 0 || t->connect_timeout_ms > DB_CONNECT_TIMEOUT_MAX_MS ||
	    opt->statement_timeout_ms < 0 || opt->query_timeout_ms < 0 ||
	    opt->backoff_min_ms < 0 || opt->backoff_max_ms < 0) {
		rc = eb_set(eb, RC_INVAL, "database timeouts must be >= 0 (connect at most %d ms)",
			    DB_CONNECT_TIMEOUT_MAX_MS);
		goto out;
	}
	if (t->password != NULL && strnlen(t->password, DB_PARAM_MAX + 1) > DB_PARAM_MAX) {
		rc = eb_set(eb, RC_INVAL, "database password is longer than %d bytes",
			    DB_PARAM_MAX);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	rc = dup_param("host", t->host, true, &c->host, eb);
	if (rc == RC_OK)
		rc = dup_param("name", t->dbname, true, &c->dbname, eb);
	if (rc == RC_OK)
		rc = dup_param("user", t->user, true, &c->user, eb);
	if (rc == RC_OK)
		rc = dup_param("sslmode", t->sslmode, false, &c->sslmode, eb);
	if (rc == RC_OK && t->password != NULL)
		rc = dup_param("password", t->password, false, &c->password, eb);
	if (rc != RC_OK)
		goto out;
	snprintf(c->port, sizeof(c->port), "%d", t->port);
	dn = strlen(c->host) + strlen(c->port) + strlen(c->dbname) + 3;
	c->describe = malloc(dn);
	if (c->describe == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	snprintf(c->describe, dn, "%s:%s/%s", c->host, c->port, c->dbname);
	/* application_name is cut, not refused: the server would cut it anyway. */
	(void)str_cut(c->appname, sizeof(c->appname), "%s",
		      opt->application_name != NULL ? opt->application_name : DB_DEFAULT_APPNAME);
	if (opt->statement_timeout_ms > 0)
		snprintf(c->options, sizeof(c->options), "-c statement_timeout=%d",
			 opt->statement_timeout_ms);
	c->connect_timeout_ms = t->connect_timeout_ms > 0 ? t->connect_timeout_ms
							 : DB_DEFAULT_CONNECT_TIMEOUT_MS;
	/* libpq takes whole seconds and treats values below 2 as 2. */
	secs = (c->connect_timeout_ms + 999) / 1000;
	snprintf(c->connect_timeout_s, sizeof(c->connect_timeout_s), "%d", secs < 2 ? 2 : secs);
	c->query_timeout_ms = opt->query_timeout_ms;
	c->backoff.base = opt->backoff_min_ms > 0 ? opt->backoff_min_ms : DB_DEFAULT_BACKOFF_MIN_MS;
	c->backoff.cap = opt->backoff_max_ms > 0 ? opt->backoff_max_ms : DB_DEFAULT_BACKOFF_MAX_MS;
	c->backoff.floor = c->backoff.base;
	if (c->backoff.base > c->backoff.cap) {
		rc = eb_set(eb, RC_INVAL, "database backoff minimum %ld ms exceeds maximum %ld ms",
			    c->backoff.base, c->backoff.cap);
		goto out;
	}
	rng_init(&c->rng, c);
	*out = c;
	c = NULL;
out:
	db_conn_free(c);
	return rc;
}

static void drop(struct db_conn *c)
{
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
	c->n_prepared = 0;
}

void db_conn_free(struct db_conn *c)
{
	if (c == NULL)
		return;
	drop(c);
	if (c->password != NULL)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->host);
	free(c->dbname);
	free(c->user);
	free(c->sslmode);
	free(c->describe);
	free(c);
}

void db_disconnect(struct db_conn *c)
{
	drop(c);
	c->in_tx = false;
	c->failures = 0;
}

bool db_connected(const struct db_conn *c)
{
	return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
}

int db_backend_pid(const struct db_conn *c)
{
	return db_connected(c) ? PQbackendPID(c->pg) : 0;
}

const char *db_describe(const struct db_conn *c)
{
	return c->describe;
}

const char *db_last_sqlstate(const struct db_conn *c)
{
	return c->sqlstate;
}

/* Waits until sock is ready for events or the deadline (monotonic ms; < 0 = none) passes.
 * 1 = ready (or in error: the libpq call that follows says which), 0 = timed out, -1 =
 * poll failed (errno). */
static int wait_sock(int sock, short events, int64_t deadline)
{
	struct pollfd p = {.fd = sock, .events = events};

	for (;;) {
		int tmo = -1;
		int n;

		if (deadline >= 0) {
			int64_t left = deadline - clk_mono_ms();

			if (left <= 0)
				return 0;
			tmo = left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(&p, 1, tmo);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int64_t deadline_for(const struct db_conn *c, int timeout_ms)
{
	if (timeout_ms == DB_TIMEOUT_NONE)
		return -1;
	if (timeout_ms > 0)
		return clk_mono_ms() + timeout_ms;
	return c->query_timeout_ms > 0 ? clk_mono_ms() + c->query_timeout_ms : -1;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static enum rc connect_failed(struct db_conn *c, PGconn *pg, const char *why, struct errbuf *eb)
{
	char msg[DB_MSG_MAX];
	long wait;

	clean_msg(why != NULL ? why : pg != NULL ? PQerrorMessage(pg) : "out of memory", msg,
		  sizeof(msg));
	if (pg != NULL)
		PQfinish(pg);
	c->failures = c->failures < INT_MAX ? c->failures + 1 : INT_MAX;
	wait = backoff_delay(&c->backoff, c->failures, rng_next(&c->rng));
	c->next_attempt_ms = clk_mono_ms() + wait;
	snprintf(c->last_error, sizeof(c->last_error), "%s", msg);
	return eb_set(eb, RC_IO, "connect to %s failed: %s", c->describe, msg);
}

/* One connection attempt, bounded by the connect timeout and the caller's deadline (< 0 =
 * none). Keyword/value parameters with expand_dbname = 0: no value is ever parsed as a
 * conninfo string, so a database name cannot smuggle in other settings. */
static enum rc conn_open(struct db_conn *c, int64_t deadline, struct errbuf *eb)
{
	const char *keys[20];
	const char *vals[20];
	size_t k = 0;
	PGconn *pg;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int64_t own = clk_mono_ms() + c->connect_timeout_ms;
	char why[96];

#define KV(key, val)                 \
	do {                         \
		keys[k] = (key);     \
		vals[k] = (val);     \
		k++;                 \
	} while (0)
	KV("host", c->host);
	KV("port", c->port);
	KV("dbname", c->dbname);
	KV("user", c->user);
	if (c->password != NULL)
		KV("password", c->password);
	if (c->sslmode[0] != '\0')
		KV("sslmode", c->sslmode);
	KV("application_name", c->appname);
	KV("connect_timeout", c->connect_timeout_s);
	if (c->options[0] != '\0')
		KV("options", c->options);
	KV("client_encoding", "UTF8");
	/* A peer that vanished without a FIN is noticed in about a minute, not hours. */
	KV("keepalives", "1");
	KV("keepalives_idle", "30");
	KV("keepalives_interval", "10");
	KV("keepalives_count", "3");
	KV(NULL, NULL);
#undef KV

	if (deadline < 0 || own < deadline)
		deadline = own;
	drop(c);
	pg = PQconnectStartParams(keys, vals, 0);
	if (pg == NULL || PQstatus(pg) == CONNECTION_BAD)
		return connect_failed(c, pg, NULL, eb);
	/* libpq's protocol: start as if the last poll asked to write. */
	while (st != PGRES_POLLING_OK) {
		int w;

		if (st == PGRES_POLLING_FAILED)
			return connect_failed(c, pg, NULL, eb);
		if (PQsocket(pg) < 0)
			return connect_failed(c, pg, NULL, eb);
		w = wait_sock(PQsocket(pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
			      deadline);
		if (w == 0) {
			snprintf(why, sizeof(why),
				 "no answer before the deadline (connect timeout %d ms)",
				 c->connect_timeout_ms);
			return connect_failed(c, pg, why, eb);
		}
		if (w < 0) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			return connect_failed(c, pg, why, eb);
		}
		st = PQconnectPoll(pg);
	}
	/* Non-blocking, so a send that fills the socket buffer cannot outlive the deadline. */
	if (PQsetnonblocking(pg, 1) != 0)
		return connect_failed(c, pg, NULL, eb);
	/* libpq would print NOTICEs ("already exists, skipping") on stderr; lib/ does not log. */
	PQsetNoticeProcessor(pg, ignore_notice, NULL);
	c->pg = pg;
	c->n_prepared = 0;
	c->failures = 0;
	c->last_error[0] = '\0';
	return RC_OK;
}

/* Connected, or one attempt if the backoff allows it. Inside a transaction a lost
 * connection is final: the caller must roll back (and may redo the whole transaction). */
static enum rc ensure(struct db_conn *c, int64_t deadline, struct errbuf *eb)
{
	int64_t now;

	c->sqlstate[0] = '\0';
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
		return RC_OK;
	if (c->in_tx)
		return eb_set(eb, RC_IO, "%s: connection lost inside a transaction", c->describe);
	drop(c);
	now = clk_mono_ms();
	if (c->failures > 0 && now < c->next_attempt_ms)
		return eb_set(eb, RC_IO,
			      "%s: not connected (%d failed attempts, next in %lld ms): %s",
			      c->describe, c->failures, (long long)(c->next_attempt_ms - now),
			      c->last_error);
	return conn_open(c, deadline, eb);
}

enum rc db_connect(struct db_conn *c, struct errbuf *eb)
{
	return ensure(c, -1, eb);
}

enum rc db_reconnect_wait(struct db_conn *c, int max_wait_ms, struct errbuf *eb)
{
	int64_t end = clk_mono_ms() + (max_wait_ms > 0 ? max_wait_ms : 0);

	for (;;) {
		enum rc rc = ensure(c, end, eb);
		int64_t now = clk_mono_ms();
		int64_t until;

		if (rc != RC_IO || c->in_tx)
			return rc;
		/* The attempt failed or the backoff holds: sleep out the backoff if it ends
		 * before our bound, else give the caller the last failure. */
		until = c->next_attempt_ms;
		if (now >= end || until > end)
			return rc;
		clk_sleep_ms((long)(until - now));
	}
}

/* The connection broke (or libpq refused to send): drop it so the next call reconnects. */
static enum rc lost(struct db_conn *c, const char *what, struct errbuf *eb)
{
	char msg[DB_MSG_MAX];

	clean_msg(c->pg != NULL ? PQerrorMessage(c->pg) : "not connected", msg, sizeof(msg));
	drop(c);
	return eb_set(eb, RC_IO, "%s: %s: connection lost: %s", c->describe, what, msg);
}

/* After a deadline: ask the server to cancel, then read what it answers for a short grace;
 * a connection that does not come back to a known state is dropped. */
static enum rc timed_out(struct db_conn *c, const char *what, struct errbuf *eb)
{
	char err[256];
	PGcancel *cn = PQgetCancel(c->pg);
	bool drained = false;

	if (cn != NULL && PQcancel(cn, err, sizeof(err))) {
		int64_t grace = clk_mono_ms() + DB_CANCEL_GRACE_MS;

		for (;;) {
			PGresult *r;

			while (PQisBusy(c->pg)) {
				if (PQsocket(c->pg) < 0 ||
				    wait_sock(PQsocket(c->pg), POLLIN, grace) != 1 ||
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
	if (cn != NULL)
		PQfreeCancel(cn);
	if (!drained)
		drop(c);
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
		w = wait_sock(PQsocket(c->pg), POLLIN, deadline);
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
		w = wait_sock(PQsocket(c->pg), POLLIN | POLLOUT, deadline);
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

	clean_msg(primary != NULL ? primary : PQresultErrorMessage(r), msg, sizeof(msg));
	if (state == NULL || strlen(state) != 5) {
		/* libpq's own failure (lost connection, protocol): no SQLSTATE. */
		drop(c);
		return eb_set(eb, RC_IO, "%s: %s: %s", c->describe, what, msg);
	}
	memcpy(c->sqlstate, state, 6);
	rc = db_classify_sqlstate(state);
	/* The server is going away (08xxx, 57P0x): do not wait for libpq to notice. */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)
		drop(c);
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
			drop(c);
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
	int64_t deadline = deadline_for(c, timeout_ms);
	enum rc rc;

	*out = NULL;
	for (int attempt = 0;; attempt++) {
		rc = ensure(c, deadline, eb);
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
	int64_t deadline = deadline_for(c, timeout_ms);
	enum rc rc = ensure(c, deadline, eb);

	if (rc != RC_OK)
		return rc;
	return roundtrip(c, &rq, deadline, NULL, eb);
}

static enum rc simple(struct db_conn *c, const char *sql, PGresult **out, struct errbuf *eb)
{
	struct send_req rq = {.kind = SEND_QUERY, .what = sql, .sql = sql};

	return roundtrip(c, &rq, deadline_for(c, DB_TIMEOUT_DEFAULT), out, eb);
}

/* Keeps the SQLSTATE of the failure that made the caller roll back. */
static void rollback_keep_state(struct db_conn *c)
{
	char state[sizeof(c->sqlstate)];

	memcpy(state, c->sqlstate, sizeof(state));
	if (simple(c, "ROLLBACK", NULL, NULL) != RC_OK)
		drop(c);
	memcpy(c->sqlstate, state, sizeof(state));
}

void db_rollback(struct db_conn *c)
{
	c->in_tx = false;
	if (c->pg == NULL)
		return;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		drop(c);
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
		drop(c);
		return;
	}
}

enum rc db_begin(struct db_conn *c, struct errbuf *eb)
{
	enum rc rc;

	/* Whatever an earlier caller left open is abandoned, never continued. */
	db_rollback(c);
	rc = ensure(c, deadline_for(c, DB_TIMEOUT_DEFAULT), eb);
	if (rc != RC_OK)
		return rc;
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		db_rollback(c);
	rc = ensure(c, deadline_for(c, DB_TIMEOUT_DEFAULT), eb);
	if (rc == RC_OK)
		rc = simple(c, "BEGIN", NULL, eb);
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
	rc = ensure(c, -1, eb);
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
