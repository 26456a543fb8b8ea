/* db.c — one libpq connection to a struct db_target: a non-blocking connect bounded by a
 * deadline, backoff between failed connects, reconnect, and what a connection tells about
 * itself. Statements on it (round trips, prepared statements, transactions, typed reads,
 * the SQLSTATE → enum rc mapping) are db_stmt.c. */
#include "pg/db.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"
#include "pg/db_int.h"
#include "pg/db_priv.h"

#define DB_CONNECT_TIMEOUT_MAX_MS 3600000 /* an hour: anything longer is a typo */

/* Copies a libpq/server message into out on one line: newlines and tabs become spaces,
 * runs of spaces collapse, trailing space goes. */
void db_clean_msg(const char *in, char *out, size_t n)
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

bool db_valid_country(const char *s)
{
	return s != NULL && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
	       s[2] == '\0';
}

bool db_valid_token(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

void db_options_init(struct db_options *o)
{
	memset(o, 0, sizeof(*o));
	o->application_name = DB_DEFAULT_APPNAME;
	o->backoff_min_ms = DB_DEFAULT_BACKOFF_MIN_MS;
	o->backoff_max_ms = DB_DEFAULT_BACKOFF_MAX_MS;
	o->idle_in_tx_timeout_ms = DB_DEFAULT_IDLE_IN_TX_MS;
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
	/* per transaction, not in the startup packet's options: a transaction-mode pooler
	 * (PgBouncer) refuses or drops that parameter, and passes SET LOCAL through */
	if (opt->idle_in_tx_timeout_ms > 0)
		snprintf(c->begin_sql, sizeof(c->begin_sql),
			 "BEGIN; SET LOCAL idle_in_transaction_session_timeout = %d",
			 opt->idle_in_tx_timeout_ms);
	else
		snprintf(c->begin_sql, sizeof(c->begin_sql), "BEGIN");
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

void db_drop(struct db_conn *c)
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
	db_drop(c);
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
	db_drop(c);
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
int db_wait_sock(int sock, short events, int64_t deadline)
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

int64_t db_deadline(const struct db_conn *c, int timeout_ms)
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

	db_clean_msg(why != NULL ? why : pg != NULL ? PQerrorMessage(pg) : "out of memory", msg,
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
	/* We authenticate with the password only. libpq's default, gssencmode=prefer, asks
	 * Kerberos for a credential cache on every connect (loading krb5: ~0.6 MB resident in
	 * each daemon) and, where one exists, first tries a GSSAPI-encrypted session. */
	KV("gssencmode", "disable");
	/* A peer that vanished without a FIN is noticed in about a minute, not hours. */
	KV("keepalives", "1");
	KV("keepalives_idle", "30");
	KV("keepalives_interval", "10");
	KV("keepalives_count", "3");
	KV(NULL, NULL);
#undef KV

	if (deadline < 0 || own < deadline)
		deadline = own;
	db_drop(c);
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
		w = db_wait_sock(PQsocket(pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
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
enum rc db_ensure(struct db_conn *c, int64_t deadline, struct errbuf *eb)
{
	int64_t now;

	c->sqlstate[0] = '\0';
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
		return RC_OK;
	if (c->in_tx)
		return eb_set(eb, RC_IO, "%s: connection lost inside a transaction", c->describe);
	db_drop(c);
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
	return db_ensure(c, -1, eb);
}

enum rc db_reconnect_wait(struct db_conn *c, int max_wait_ms, struct errbuf *eb)
{
	int64_t end = clk_mono_ms() + (max_wait_ms > 0 ? max_wait_ms : 0);

	for (;;) {
		enum rc rc = db_ensure(c, end, eb);
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
