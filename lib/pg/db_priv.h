/* db_priv.h — what db.c (the connection) and db_stmt.c (statements on it) share: the
 * connection struct and the few helpers both sides call. Nothing else includes it. */
#ifndef APPT_DB_PRIV_H
#define APPT_DB_PRIV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/backoff.h"
#include "base/rng.h"
#include "pg/db_int.h"

#define DB_MSG_MAX 320 /* a server or libpq message kept for eb */

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
	char begin_sql[80];       /* what db_begin sends: BEGIN, and SET LOCAL
				   * idle_in_transaction_session_timeout when one is set */
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

/* Copies a libpq/server message into out (n bytes) on one line: newlines and tabs become
 * spaces, runs of spaces collapse, trailing space goes; a long message is cut (it is text
 * for an error line). */
void db_clean_msg(const char *in, char *out, size_t n);
/* Closes the libpq connection, if any, and forgets what was prepared on it. */
void db_drop(struct db_conn *c);
/* Waits until sock is ready for events or the deadline (monotonic ms; < 0 = none) passes:
 * 1 ready (or in error), 0 timed out, -1 poll failed. */
int db_wait_sock(int sock, short events, int64_t deadline);
/* The monotonic deadline of a call given timeout_ms (DB_TIMEOUT_* rules); -1 = none. */
int64_t db_deadline(const struct db_conn *c, int timeout_ms);
/* Connected, or one connect attempt by the deadline if the backoff allows it (RC_IO
 * otherwise). Inside a transaction a lost connection is final. */
enum rc db_ensure(struct db_conn *c, int64_t deadline, struct errbuf *eb) MUSTCHECK;

/* db_cancel.c: asks the server to cancel what pg runs (PQcancel), waiting for that at most
 * until until_ms (monotonic); true when the request was sent in time. Past the deadline
 * the cancel goes on alone on its own thread and false is returned: drop the connection. */
bool db_cancel_bounded(PGconn *pg, int64_t until_ms);

#endif
