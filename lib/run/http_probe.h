/* http_probe.h — a server's self-probe: GET /healthz over its own listening address,
 * driven from the main loop without ever blocking it. A daemon whose work is answering
 * HTTP feeds its watchdog only while the probe is answered, so HTTP threads that are all
 * stuck stop WATCHDOG=1 (STYLE rule 9). */
#ifndef APPT_HTTP_PROBE_H
#define APPT_HTTP_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rc.h"

#define HTTP_PROBE_PATH "/healthz"
#define HTTP_PROBE_FANOUT 4 /* probes in flight at once on a shared port (timeout_ms > 0) */

struct http_probe;

/* A probe of the server that will listen on listen_fd (a bound, listening TCP or unix
 * socket; only its address and SO_REUSEPORT are read, before the server takes the fd). A
 * wildcard address is probed on loopback. On a socket with SO_REUSEPORT (set by [api]
 * reuse_port, or by a socket unit's ReusePort=), where the kernel may hand any probe to a
 * sibling process that is stuck, HTTP_PROBE_FANOUT connections are kept in flight, each
 * dropped and sent anew when unanswered timeout_ms (> 0) (with one, a run of unlucky draws
 * left a healthy API without an answer for longer than its watchdog allows); otherwise
 * one connection, which waits for its answer however long. RC_INVAL for a socket it
 * cannot reach, RC_NOMEM. */
enum rc http_probe_new(int listen_fd, int64_t timeout_ms, struct http_probe **out,
		       struct errbuf *eb) MUSTCHECK;
/* Closes a probe in flight and frees; accepts NULL. */
void http_probe_free(struct http_probe *p);

/* One step, now being monotonic ms: reads the answers of the probes in flight (a 204,
 * which our server gives only its own probe, marks the time) and starts the next ones
 * where none is out. Never blocks. Main thread only. */
void http_probe_step(struct http_probe *p, int64_t now_ms);

/* Monotonic ms of the last answered probe (the first step's time before any answer). */
int64_t http_probe_last_ok(const struct http_probe *p);

/* Whether port (> 0) is the local port of a probe in flight (never for a unix socket):
 * the server answers those 204 and leaves them out of its log and metrics. Any thread. */
bool http_probe_owns_port(const struct http_probe *p, unsigned port);

#endif
