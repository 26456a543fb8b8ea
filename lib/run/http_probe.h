/* http_probe.h — a server's self-probe: GET /healthz over its own listening address,
 * driven from the main loop without ever blocking it. A daemon whose work is answering
 * HTTP feeds its watchdog only while the probe is answered, so HTTP threads that are all
 * stuck stop WATCHDOG=1 (STYLE rule 9). */
#ifndef APPT_HTTP_PROBE_H
#define APPT_HTTP_PROBE_H

#include <stdint.h>

#include "base/rc.h"

#define HTTP_PROBE_PATH "/healthz"

struct http_probe;

/* A probe of the server that will listen on listen_fd (a bound, listening TCP or unix
 * socket; only its address is read, before the server takes the fd). A wildcard address
 * is probed on loopback. timeout_ms > 0: a probe unanswered that long is dropped and the
 * next one sent (a port shared with SO_REUSEPORT may hand it to a sibling process that is
 * stuck); 0: a probe waits for its answer however long. RC_INVAL for a socket it cannot
 * reach, RC_NOMEM. */
enum rc http_probe_new(int listen_fd, int64_t timeout_ms, struct http_probe **out,
		       struct errbuf *eb) MUSTCHECK;
/* Closes a probe in flight and frees; accepts NULL. */
void http_probe_free(struct http_probe *p);

/* One step, now being monotonic ms: reads the answer of the probe in flight (a 204, which
 * our server gives only its own probe, marks the time), or starts the next one when none
 * is out. Never blocks. Main thread only. */
void http_probe_step(struct http_probe *p, int64_t now_ms);

/* Monotonic ms of the last answered probe (the first step's time before any answer). */
int64_t http_probe_last_ok(const struct http_probe *p);

/* The local port of the probe in flight (0 when none or unix): the server leaves the
 * probe's requests out of its log and metrics. Any thread. */
unsigned http_probe_port(const struct http_probe *p);

#endif
