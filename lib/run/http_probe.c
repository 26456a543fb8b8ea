/* http_probe.c — non-blocking HTTP/1.1 GETs to the server's own address (one at a time, or
 * HTTP_PROBE_FANOUT on a shared port): connect, send, read the status line, close; the time
 * of the last 204 is the server's sign of life. */
#include "run/http_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROBE_REQUEST                                                                          \
	"GET " HTTP_PROBE_PATH " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
#define PROBE_ANSWER_MAX 32 /* bytes of the answer read: "HTTP/1.1 200" is enough */

/* Where one probe connection is in its one exchange. */
enum probe_stage {
	PROBE_IDLE,       /* none in flight */
	PROBE_CONNECTING, /* non-blocking connect under way */
	PROBE_READING,    /* request sent, waiting for the status line */
};

struct probe_conn {
	enum probe_stage stage;
	int fd;                       /* its socket; -1 when idle */
	char answer[PROBE_ANSWER_MAX + 1];
	size_t len;
	int64_t started_ms;           /* monotonic ms it was started */
	atomic_uint port;             /* its local port while in flight, 0 = none */
};

struct http_probe {
	struct sockaddr_storage addr; /* the server's address (wildcards made loopback) */
	socklen_t addrlen;
	int64_t last_ok_ms;           /* monotonic ms of the last 204 */
	int64_t timeout_ms;           /* drop a probe in flight this old; 0 = never (a
				       * private port) */
	struct probe_conn conn[HTTP_PROBE_FANOUT];
};

/* Connections kept in flight: on a shared port (the one case with a timeout) each may land
 * on any sibling, and several at once make an answer from our own server all but certain
 * on every round; on a private port one. */
static unsigned in_flight(const struct http_probe *p)
{
	return p->timeout_ms > 0 ? HTTP_PROBE_FANOUT : 1;
}

/* A wildcard listening address is reached on loopback. */
static void loopback_for_wildcard(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		if (memcmp(&in6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0)
			in6->sin6_addr = in6addr_loopback;
	}
}

enum rc http_probe_new(int listen_fd, int64_t timeout_ms, struct http_probe **out,
		       struct errbuf *eb)
{
	struct http_probe *p = calloc(1, sizeof(*p));
	int shared = 0;
	socklen_t len = sizeof(shared);

	*out = NULL;
	if (p == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	p->addrlen = sizeof(p->addr);
	if (getsockname(listen_fd, (struct sockaddr *)&p->addr, &p->addrlen) != 0 ||
	    (p->addr.ss_family != AF_INET && p->addr.ss_family != AF_INET6 &&
	     p->addr.ss_family != AF_UNIX)) {
		free(p);
		return eb_set(eb, RC_INVAL, "the listening socket has no address to probe");
	}
	loopback_for_wildcard(&p->addr);
	/* shared by [api] reuse_port or by a socket unit's ReusePort=: read off the socket */
	if (getsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &shared, &len) != 0)
		shared = 0;
	p->timeout_ms = shared != 0 ? timeout_ms : 0;
	for (unsigned i = 0; i < HTTP_PROBE_FANOUT; i++) {
		p->conn[i].fd = -1;
		atomic_init(&p->conn[i].port, 0);
	}
	*out = p;
	return RC_OK;
}

static void probe_close(struct probe_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->stage = PROBE_IDLE;
	c->len = 0;
	atomic_store(&c->port, 0);
}

void http_probe_free(struct http_probe *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < HTTP_PROBE_FANOUT; i++)
		probe_close(&p->conn[i]);
	free(p);
}

int64_t http_probe_last_ok(const struct http_probe *p)
{
	return p->last_ok_ms;
}

bool http_probe_owns_port(const struct http_probe *p, unsigned port)
{
	if (port == 0)
		return false;
	for (unsigned i = 0; i < in_flight(p); i++)
		if (atomic_load(&p->conn[i].port) == port)
			return true;
	return false;
}

static void note_port(struct probe_conn *c)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);

	if (getsockname(c->fd, (struct sockaddr *)&me, &len) != 0)
		return;
	if (me.ss_family == AF_INET)
		atomic_store(&c->port, ntohs(((struct sockaddr_in *)(void *)&me)->sin_port));
	else if (me.ss_family == AF_INET6)
		atomic_store(&c->port, ntohs(((struct sockaddr_in6 *)(void *)&me)->sin6_port));
}

static void start(const struct http_probe *p, struct probe_conn *c, int64_t now_ms)
{
	c->started_ms = now_ms;
	c->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return;
	if (connect(c->fd, (const struct sockaddr *)&p->addr, p->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		probe_close(c);
		return;
	}
	c->stage = PROBE_CONNECTING;
	note_port(c);
}

/* The connect finished (or failed): send the whole request, which fits any socket buffer. */
static void send_request(struct probe_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == EINPROGRESS ||
	    err == EALREADY)
		return; /* still connecting: next step */
	if (err != 0) {
		probe_close(c);
		return;
	}
	n = send(c->fd, PROBE_REQUEST, sizeof(PROBE_REQUEST) - 1, MSG_NOSIGNAL);
	if (n == (ssize_t)(sizeof(PROBE_REQUEST) - 1))
		c->stage = PROBE_READING;
	else if (n >= 0 || (errno != EAGAIN && errno != ENOTCONN))
		probe_close(c);
}

/* Reads what has come of the answer; true for our own server's 204 (the connection is
 * closed then, as after any whole status line or the end of the stream). */
static bool read_answer(struct probe_conn *c)
{
	ssize_t n = recv(c->fd, c->answer + c->len, PROBE_ANSWER_MAX - c->len, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false; /* not answered yet */
	if (n > 0)
		c->len += (size_t)n;
	c->answer[c->len] = '\0';
	/* 204 is what our server answers only its own probe (http.c): a sibling process on a
	 * shared SO_REUSEPORT port answers 200, which is no sign of life of ours */
	if (strncmp(c->answer, "HTTP/1.1 204 ", 13) == 0 || strncmp(c->answer, "HTTP/1.0 204 ", 13) == 0) {
		probe_close(c);
		return true;
	}
	/* a whole status line of another answer, or the end of the stream: not a sign of life */
	if (n <= 0 || c->len >= 13)
		probe_close(c);
	return false;
}

/* The connection goes as far as it can without waiting; true when it got our 204. */
static bool advance(struct probe_conn *c)
{
	if (c->stage == PROBE_CONNECTING)
		send_request(c);
	return c->stage == PROBE_READING && read_answer(c);
}

void http_probe_step(struct http_probe *p, int64_t now_ms)
{
	if (p->last_ok_ms == 0)
		p->last_ok_ms = now_ms; /* a grace period from the first step */
	for (unsigned i = 0; i < in_flight(p); i++) {
		struct probe_conn *c = &p->conn[i];

		if (advance(c))
			p->last_ok_ms = now_ms;
		if (c->stage != PROBE_IDLE && p->timeout_ms > 0 &&
		    now_ms - c->started_ms >= p->timeout_ms)
			probe_close(c);
		if (c->stage == PROBE_IDLE) {
			start(p, c, now_ms);
			if (advance(c))
				p->last_ok_ms = now_ms;
		}
	}
}
