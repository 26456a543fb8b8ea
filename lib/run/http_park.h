/* http_park.h — parked requests: a handler that has to wait for something outside the
 * process (a twin's Idempotency-Key claim, an appointment reaching a status) parks its
 * request instead of blocking its HTTP thread. The connection is suspended
 * (libmicrohttpd's MHD_suspend_connection) and ONE poller thread per server calls every
 * parked request's poll function each HTTP_PARK_INTERVAL_MS until it is done or its deadline
 * passed; then the connection is resumed and its answer sent by an HTTP thread. The polls
 * of one period take at most 250 ms (the rest are polled first the next period): deadlines
 * are kept within that and one poll whatever a dependency does.
 *
 * A parked request stays in flight: it holds its configuration snapshot (readers_*) and the
 * drain waits for it, so every parked request is answered (or timed out) before the server
 * stops; one still parked when the server is freed is answered 503 with Retry-After. A
 * client that closes its connection while parked is noticed by the poller, and its request
 * is freed without an answer. */
#ifndef APPT_HTTP_PARK_H
#define APPT_HTTP_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "run/http.h"

#define HTTP_PARK_LIMIT 256       /* parked requests at once (per server); more: not parked */
#define HTTP_PARK_INTERVAL_MS 100 /* the poller's period */

/* What a poll (or the deadline) decided. */
enum http_park_step {
	HTTP_PARK_WAIT,   /* not yet: poll again next period (from poll only) */
	HTTP_PARK_DONE,   /* resp is filled: send it */
	HTTP_PARK_RESUME, /* hand the request back to an HTTP thread: ops->resume answers it */
};

/* The request a poll sees: request_id, route, params, client, method and path are valid;
 * body and state are not (http_header/http_query cannot be used: copy what you need into
 * pctx when parking). */
struct http_park_ops {
	/* The poller thread, every HTTP_PARK_INTERVAL_MS until the deadline. Must not block
	 * long: every parked request waits for it (bound its calls, e.g. an AWS deadline). */
	enum http_park_step (*poll)(void *pctx, const struct http_request *req,
				    struct http_response *resp);
	/* The poller thread, once the deadline passed: HTTP_PARK_DONE (resp filled) or
	 * HTTP_PARK_RESUME. */
	enum http_park_step (*timeout)(void *pctx, const struct http_request *req,
				       struct http_response *resp);
	/* An HTTP thread, after HTTP_PARK_RESUME: like a handler (ud is http_opts.ud), it
	 * answers or parks again; it owns pctx from then on (re-parked, pctx is the park's
	 * again). May be NULL when poll and timeout never return HTTP_PARK_RESUME. */
	void (*resume)(void *ud, const struct http_request *req, struct http_response *resp,
		       void *pctx);
	/* Frees pctx when the park ends while it owns it (answered DONE, the client gone, the
	 * server stopping). */
	void (*free)(void *pctx);
	/* NULL, or a static string appended to the route label of its request's metrics
	 * (appointmentd_http_requests_total, appointmentd_http_request_duration_seconds) once it
	 * was parked: a long poll's wait is the client's choice, not the route's latency, and
	 * must not reach the route's histogram ("?waitFor": docs/alerts.yml leaves it out). */
	const char *route_suffix;
};

/* From a handler (or ops->resume), instead of answering: the request is parked with pctx
 * until poll says done or deadline_ms (monotonic ms) passes; resp's log fields (insured_id,
 * appointment_id) are kept for its log line. Returns false (pctx not taken, resp untouched)
 * when HTTP_PARK_LIMIT requests are parked already or memory is short: answer it then. */
bool http_park(const struct http_request *req, struct http_response *resp,
	       const struct http_park_ops *ops, void *pctx, int64_t deadline_ms);

/* Requests parked now (for tests and status). */
unsigned http_server_parked(struct http_server *s);

#endif
