/* http_priv.h — what http.c (the server) and http_router.c (a request's way through
 * routes and answers) share: the server, connection and request structs and the three
 * steps the server calls. Nothing else includes it. */
#ifndef APPT_HTTP_PRIV_H
#define APPT_HTTP_PRIV_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "run/http.h"
#include "run/http_strict.h"

#define HTTP_ROUTE_LABEL_MAX 128 /* a route label of the metrics: a pattern and a park's
				  * route_suffix */

/* One TCP connection: whether a request has begun on it. A connection accepted just
 * before a quiesce may carry a request MHD has not parsed yet; the drain waits for it
 * so a restart under socket activation answers everything it accepted.
 * It is also on the sweeper's list from MHD's STARTED notification to its CLOSED one,
 * which MHD sends before it closes the socket: fd is valid while it is listed. */
struct http_conn_tcp {
	bool served;
	struct http_conn_tcp *prev, *next; /* the server's list, under conns_lock */
	int fd;                            /* the connection's socket */
	int64_t since_ms;  /* monotonic ms from which it has been waiting for a request */
	bool receiving;    /* a request is awaited or arriving, not yet with a handler */
	bool head_done;    /* its request head has arrived (the body may still be coming) */
	bool nul_seen;     /* its request's path or query held %00 (set while MHD decodes the
			    * URL, read as the request begins; only its MHD thread touches it) */
	bool cut;          /* the sweeper shut it down */
	uint64_t req_seq;  /* number of the request in flight on it (http_server_readers_*),
			    * 0 = none; under conns_lock */
};

struct http_server {
	struct MHD_Daemon **mhd;  /* one single-thread daemon per HTTP thread (http_accept.c) */
	unsigned n_mhd;
	atomic_uint *open;        /* connections each daemon holds, counted at hand-over:
				   * libmicrohttpd counts one only once its thread takes it up,
				   * too late to spread a burst */
	unsigned open_cap;        /* most connections one daemon may hold; the accept loop
				   * keeps it (http_accept.c) */
	struct http_opts opts;
	atomic_uint in_flight;
	atomic_uint fresh;    /* accepted connections whose first request has not begun */
	atomic_bool draining; /* quiesced: answers say Connection: close */
	_Atomic(const char *) cors; /* current cors_origins (SIGHUP may swap it) */
	int listen_fd;        /* ours (MHD runs without one); closed once MHD has stopped */
	struct http_acceptor *acceptor; /* the accept loop (http_accept.c); kept until free:
					 * closing connections still count down in it */
	pthread_mutex_t lock; /* with drained, for http_server_drain */
	pthread_cond_t drained;
	pthread_mutex_t conns_lock; /* guards conns and stop_sweeper; with sweep_cv */
	pthread_cond_t sweep_cv;
	struct http_conn_tcp *conns; /* open connections */
	uint64_t readers_next;       /* the number the next request gets; under conns_lock */
	atomic_uint untracked;       /* requests in flight without a connection record */
	bool stop_sweeper;
	bool sweeper_started;
	pthread_t sweeper;
	struct http_parker *parker; /* parked requests and their poller (http_park.c) */
};

/* Everything about one request, from its first callback to its completion. */
struct http_conn_state {
	struct MHD_Connection *conn;
	struct http_server *srv;
	struct http_conn_tcp *tcp; /* its connection's record, NULL when untracked */
	struct buf body;
	bool too_large;       /* the body passed body_limit: discard the rest, then 413 */
	enum http_defect defect; /* the head breaks a strictness rule: 400 and close */
	bool counted;         /* in_flight was incremented for it */
	bool quiet;           /* the self-probe: left out of the log and the metrics */
	bool untracked;       /* numbered without a connection record (srv->untracked) */
	uint64_t start_us;    /* clk_mono_us when the request began */
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char client[64];      /* the client's address as text, "" when unknown */
	struct http_park *park; /* set while the request is parked (http_park.c) */
	const char *route_suffix; /* its park's ops->route_suffix once resumed (NULL: none):
				   * appended to the route label of its metrics */
};

/* Routes a complete request and fills resp (the guard, then the handler). */
void http_dispatch(struct http_conn_state *st, struct http_request *req,
		   struct http_response *resp);
/* Fills resp with the 400 of a strictness defect (SPEC §3 body, "fields": {"request": ..})
 * and Connection: close. */
void http_reply_defect(struct http_response *resp, const struct http_request *req,
		       enum http_defect d);
/* Queues resp on the request's connection with every header of the contract (request id,
 * CORS, Connection: close while draining). */
enum MHD_Result http_send(struct http_conn_state *st, const struct http_request *req,
			  struct http_response *resp);
/* The request's log line and metrics. */
void http_log_request(struct http_conn_state *st, const struct http_request *req,
		      const struct http_response *resp);

/* The accept loop (http_accept.c): one thread accepting on srv->listen_fd, capping the
 * connections of one address (opts.per_client_limit) and handing each to the daemon that
 * holds the fewest. New sets it up (*out is set even on failure, for free), start runs it,
 * stop joins it (nothing is added after), closed counts a connection's end (every daemon's
 * MHD_CONNECTION_NOTIFY_CLOSED), free once the daemons have stopped. */
struct http_acceptor;
enum rc http_acceptor_new(struct http_server *srv, struct http_acceptor **out,
			  struct errbuf *eb) MUSTCHECK;
enum rc http_acceptor_start(struct http_acceptor *a, struct errbuf *eb) MUSTCHECK;
void http_acceptor_stop(struct http_acceptor *a);
void http_acceptor_closed(struct http_acceptor *a, struct MHD_Connection *conn);
void http_acceptor_free(struct http_acceptor *a);
/* Declares appointmentd_http_connections_refused_total{reason} in m, each reason's series
 * at 0 (from http_metrics_describe). RC_INVAL as metrics_describe. */
enum rc http_acceptor_metrics_describe(struct metrics *m) MUSTCHECK;

/* Parked requests (http_park.c). Starts the poller (srv->parker is set even on failure). */
enum rc http_parker_start(struct http_server *srv, struct errbuf *eb) MUSTCHECK;
/* Stops the poller and answers 503 every request still parked (before MHD stops). */
void http_parker_stop(struct http_server *srv);
/* Frees it all, once MHD has stopped. */
void http_parker_free(struct http_server *srv);
/* After the handler: true when it parked the request, which is suspended now. */
bool http_park_hold(struct http_conn_state *st, struct http_response *resp);
/* On the access handler's call after a resume: true when the client left meanwhile. */
bool http_park_gone(const struct http_conn_state *st);
/* On that call: the answer the poller stored, or the park's resume function's. */
void http_park_resumed(struct http_conn_state *st, struct http_request *req,
		       struct http_response *resp);
/* The request ends (completed or its connection closed): frees its park, if any. */
void http_park_drop(struct http_conn_state *st);

#endif
