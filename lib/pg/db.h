/* db.h — one PostgreSQL connection per worker context (libpq): keyword/value connect bounded
 * by a deadline, lazy reconnect with bounded exponential backoff, lazily prepared statements,
 * and one mapping of every libpq failure (connection state, SQLSTATE) to an enum rc.
 * Booking, migrations and seeding are built on it (db_booking.h, db_migrate.h, db_seed.h). */
#ifndef APPT_DB_H
#define APPT_DB_H

#include <stdbool.h>

#include "base/rc.h"

/* Limits on what a connection accepts from configuration and the caller. */
#define DB_PARAM_MAX 1024        /* host, dbname, user, sslmode, password: bytes without NUL */
#define DB_APPNAME_MAX 63        /* application_name: PostgreSQL keeps NAMEDATALEN - 1 bytes */
#define DB_DEFAULT_APPNAME "appointmentd"

/* Defaults db_conn_new uses for a field left at 0 (and db_options_init sets). */
#define DB_DEFAULT_CONNECT_TIMEOUT_MS 5000 /* one connection attempt, DNS excluded */
#define DB_DEFAULT_BACKOFF_MIN_MS 100      /* wait after the first failed attempt */
#define DB_DEFAULT_BACKOFF_MAX_MS 30000    /* cap of the doubling */
/* A transaction left open by a client that went away (its COMMIT lost in a partition, the
 * connection then dropped here) holds its locks, a slot's row lock among them, until the
 * server gives up on the session: without this, when TCP keepalive notices, ~2 h later. Our
 * transactions are a few statements back to back and never wait on the client. */
#define DB_DEFAULT_IDLE_IN_TX_MS 60000

/* A connection to one country database. Opaque; create with db_conn_new, release with
 * db_conn_free. Not thread-safe: one per thread (worker context, API thread), never shared
 * without a lock held around each call. */
struct db_conn;

/* Where and as whom a connection logs in. A small value struct the caller fills (the app
 * layer from its configuration); strings are borrowed until db_conn_new returns. */
struct db_target {
	const char *host;             /* host name or address (required) */
	int port;                     /* 1..65535 */
	const char *dbname;           /* database (required) */
	const char *user;             /* role (required) */
	const char *password;         /* NULL = none: libpq may use PGPASSWORD or ~/.pgpass */
	const char *sslmode;          /* libpq sslmode; NULL or "" = libpq's default */
	int connect_timeout_ms;       /* deadline of one connection attempt; 0 = default */
};

/* How a connection behaves. A value struct: fill it with db_options_init, then adjust
 * fields. Strings are borrowed until db_conn_new returns. */
struct db_options {
	const char *application_name; /* pg_stat_activity name; NULL = DB_DEFAULT_APPNAME; cut to
				       * DB_APPNAME_MAX bytes */
	int statement_timeout_ms;     /* server-side statement_timeout sent at connect; 0 = the
				       * server's own setting */
	int query_timeout_ms;         /* client-side deadline of one statement round trip (send,
				       * execute, read the answer); on expiry the statement is
				       * cancelled (on a thread of its own, db_cancel.c) and, cancel
				       * and answer together, awaited for at most 1 s, else the
				       * connection dropped; RC_TIMEOUT; 0 = none */
	int idle_in_tx_timeout_ms;    /* server-side idle_in_transaction_session_timeout, set
				       * (SET LOCAL) by every db_begin; 0 = the server's own */
	int backoff_min_ms;           /* wait after the first failed connect; 0 = default */
	int backoff_max_ms;           /* cap of the exponential backoff; 0 = default */
};

/* Sets the defaults above (no statement or query timeout, DB_DEFAULT_IDLE_IN_TX_MS).
 * Never fails. */
void db_options_init(struct db_options *o);

/* Creates a connection object for target (opt NULL: db_options_init's). Everything is
 * copied: target and opt may be freed afterwards. Does no I/O: the first call that needs
 * the server connects, so a daemon can start while PostgreSQL is down. RC_INVAL for a
 * missing host, user or database, an out-of-range port or timeout, or a value over
 * DB_PARAM_MAX (refused, never cut); RC_NOMEM. On failure *out stays NULL. */
enum rc db_conn_new(const struct db_target *target, const struct db_options *opt,
		    struct db_conn **out, struct errbuf *eb) MUSTCHECK;

/* Closes the connection (if any), wipes the password and frees c. Accepts NULL. */
void db_conn_free(struct db_conn *c);

/* Makes sure the connection is up: returns RC_OK at once when it is, else makes one
 * connection attempt bounded by connect_timeout_ms. After a failed attempt the next one is
 * allowed only once the backoff has passed (min doubling up to max, with jitter); until then
 * this returns RC_IO at once with the last failure in eb, so callers never hammer a server
 * that is down. Every query function connects through here, so calling it is optional.
 * Fails with RC_IO (refused, unreachable, authentication, timed out: the caller retries
 * later). DNS resolution of a host name is not bounded by the deadline (libpq resolves
 * synchronously); use an address or a local resolver. */
enum rc db_connect(struct db_conn *c, struct errbuf *eb) MUSTCHECK;

/* Connects when needed (db_connect's rules) and runs `select 1`, bounded by timeout_ms (> 0;
 * 0 = the connection's query_timeout_ms): "is this database reachable with these
 * credentials", for `appointmentctl info` and `check`. Fails as db_connect, or with the
 * statement's error. */
enum rc db_ping(struct db_conn *c, int timeout_ms, struct errbuf *eb) MUSTCHECK;

/* Blocks until the connection is up or max_wait_ms (>= 0) has passed, sleeping out the
 * backoff between attempts. Bounded: returns RC_IO with the last failure when the time is up,
 * and the caller decides whether to keep waiting (a worker checks its stop flag and calls
 * again). */
enum rc db_reconnect_wait(struct db_conn *c, int max_wait_ms, struct errbuf *eb) MUSTCHECK;

/* Closes the connection now (the next call reconnects, without backoff). Never fails. */
void db_disconnect(struct db_conn *c);

/* True when a connection is open and libpq has not seen it fail. A dead peer is noticed only
 * by the next call, which then fails with RC_IO; the call after it reconnects. */
bool db_connected(const struct db_conn *c);

/* Process id of the server backend serving c, 0 when not connected (for pg_terminate_backend
 * in tests and for operators' logs). */
int db_backend_pid(const struct db_conn *c);

/* "host:port/dbname" for log lines; never the password. Valid while c lives. */
const char *db_describe(const struct db_conn *c);

/* SQLSTATE of the last failed statement on c ("" when the last call succeeded or failed
 * without one, e.g. a lost connection). Valid until the next call on c. */
const char *db_last_sqlstate(const struct db_conn *c);

#endif
