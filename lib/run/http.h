/* http.h — the HTTP front of appointment-api on libmicrohttpd: a route table,
 * bounded bodies, X-Request-Id, CORS, SPEC §3 error bodies for what the router
 * itself rejects (404/405/413/415), one log line and metrics per request, and a
 * drain that lets in-flight requests finish on SIGTERM. */
#ifndef APPT_HTTP_H
#define APPT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/apierr.h"
#include "domain/validate.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/rc.h"

#define HTTP_MAX_PARAMS 4         /* {captures} in one route pattern */
#define HTTP_MAX_HEADERS 8        /* extra headers a handler may add */
#define HTTP_MAX_QUERY 32         /* query parameters looked at; more is a 400 */
#define HTTP_REQUEST_ID_MAX 128   /* longest client X-Request-Id we keep */

struct http_conn_state; /* per-request state, private to http.c */

/* What a handler sees. Borrowed; valid during the handler call only. */
struct http_request {
	const char *method;                   /* "GET", "POST", ... */
	const char *path;                     /* URL path, percent-decoded by MHD */
	const char *route;                    /* matched pattern, for logs and metrics */
	const char *params[HTTP_MAX_PARAMS];  /* {captures} of the pattern, in order */
	size_t n_params;
	const char *body;                     /* request body ("" when none), NUL-ended */
	size_t body_len;
	const char *request_id;               /* the client's sane X-Request-Id or a UUID */
	const char *client;                   /* the client's address ("127.0.0.1", "::1"), ""
					       * when unknown */
	struct http_conn_state *state;        /* for http_header / http_query */
};

/* One header to send. */
struct http_header_kv {
	char name[64];
	char value[256];
};

/* What a handler fills. Start state: status 500, no body. */
struct http_response {
	int status;                                 /* HTTP status */
	char *body;                                 /* owned heap JSON text, or NULL */
	const char *content_type;                   /* NULL = application/json; charset=utf-8 */
	struct http_header_kv headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	/* for the request's log line */
	char appointment_id[40];                    /* "" when none */
	char insured_id[8];                         /* full id; masked when logged */
	char error[256];                            /* internal detail for the log only */
};

/* Handler of one route. ud is http_opts.ud. Runs on a pool thread: several run at
 * once, each on its own thread, so per-thread resources can live in TLS. */
typedef void (*http_handler_fn)(void *ud, const struct http_request *req,
				struct http_response *resp);

struct http_route {
	const char *method;   /* "GET" or "POST" */
	const char *pattern;  /* "/appointments/{insuredId}": {x} matches one segment */
	http_handler_fn fn;
	bool json_body;       /* the body must be JSON (415 otherwise) */
	bool operational;     /* /healthz etc.: the guard is not called */
};

/* Optional check before non-operational routes (API keys, throttling): returns
 * false after filling resp with the refusal. */
typedef bool (*http_guard_fn)(void *ud, const struct http_request *req,
			      struct http_response *resp);

/* Server settings; everything borrowed must outlive the server. */
struct http_opts {
	int listen_fd;                     /* a listening socket (systemd's or http_listen) */
	const struct http_probe *probe;    /* the self-probe (run/http_probe) or NULL: its
					    * requests are answered 204, not logged or counted */
	unsigned threads;                  /* worker threads serving requests */
	size_t body_limit;                 /* bytes; more is 413 */
	unsigned connection_timeout_s;     /* a complete request (head and body) within this */
	unsigned idle_timeout_s;           /* MHD's idle cut-off, which also hits connections
					    * of a thread blocked in a handler: longer than any
					    * handler blocks; 0 = connection_timeout_s */
	unsigned header_timeout_s;         /* a complete request head within this (slowloris);
					    * 0 = connection_timeout_s */
	unsigned connection_limit;         /* open connections at once */
	unsigned per_client_limit;         /* open connections from one address; 0 = no cap */
	const struct http_route *routes;
	size_t n_routes;
	http_guard_fn guard;               /* may be NULL */
	void *ud;                          /* for handlers and guard */
	const struct logger *lg;
	struct metrics *metrics;           /* may be NULL */
	const char *cors_origins;          /* "*" or comma-separated origins */
};

struct http_server;
struct http_probe;

/* Opens a listening TCP socket on "host:port" or "[v6]:port"; with reuse_port, SO_REUSEPORT
 * lets several processes listen on one port (the kernel spreads connections over them). */
enum rc http_listen(const char *hostport, bool reuse_port, int *fd, struct errbuf *eb) MUSTCHECK;

/* Declares the HTTP metric families in m (call once before starting). */
enum rc http_metrics_describe(struct metrics *m) MUSTCHECK;

/* Starts serving on opts->listen_fd (the server owns it from then on). */
enum rc http_server_start(const struct http_opts *opts, struct http_server **out,
			  struct errbuf *eb) MUSTCHECK;

/* Stops accepting new connections; requests already received go on. */
void http_server_quiesce(struct http_server *s);
/* Waits until no request is in flight or timeout_ms passed; true when drained. */
bool http_server_drain(struct http_server *s, int timeout_ms);
/* Swaps the CORS origins (reload); origins is borrowed and must outlive the server. */
void http_server_set_cors(struct http_server *s, const char *origins);
/* Request numbers, for a lifecycle that frees old configurations (run/lifecycle): every
 * request is numbered as it starts, before its handler runs. readers_next is the number the
 * next request will get; readers_oldest the number of the oldest request still in flight
 * (parked ones included), UINT64_MAX when none (0 while a request could not be tracked).
 * Any thread. */
uint64_t http_server_readers_next(struct http_server *s);
uint64_t http_server_readers_oldest(struct http_server *s);
/* Requests in flight now. */
unsigned http_server_in_flight(struct http_server *s);
/* Stops the threads, closes connections and frees; accepts NULL. */
void http_server_free(struct http_server *s);

/* A request header (case-insensitive name), or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* The query parameters, in order, into out (max entries); returns the count, or
 * max + 1 when there were more. Values are borrowed like req. */
size_t http_query(const struct http_request *req, struct val_kv *out, size_t max);

/* Sets status and takes ownership of body (heap JSON text). */
void http_reply(struct http_response *resp, int status, char *body);
/* Sets a SPEC §3 error body; fields may be NULL (borrowed). NOMEM leaves a bare 500. */
void http_reply_error(struct http_response *resp, const struct http_request *req,
		      enum apierr_code code, const char *message, struct json_object *fields);
/* Adds a header; left out (never cut) when name or value do not fit struct
 * http_header_kv or HTTP_MAX_HEADERS are there already. */
void http_add_header(struct http_response *resp, const char *name, const char *value);

#endif
