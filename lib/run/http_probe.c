/* http_probe.c — one non-blocking HTTP/1.1 GET at a time to the server's own address:
 * connect, send, read the status line, close; the time of the last 200 is the server's sign
 * of life. */
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

/* Where a probe is in its one exchange. */
enum probe_stage {
	PROBE_IDLE,       /* none in flight */
	PROBE_CONNECTING, /* non-blocking connect under way */
	PROBE_READING,    /* request sent, waiting for the status line */
};

struct http_probe {
	struct sockaddr_storage addr; /* the server's address (wildcards made loopback) */
	socklen_t addrlen;
	enum probe_stage stage;
	int fd;                       /* the probe's socket; -1 when idle */
	char answer[PROBE_ANSWER_MAX + 1];
	size_t len;
	int64_t last_ok_ms;           /* monotonic ms of the last 204 */
	int64_t started_ms;           /* monotonic ms the probe in flight was started */
	int64_t timeout_ms;           /* drop a probe in flight this old; 0 = never */
	atomic_uint port;             /* local port of the probe in flight, 0 = none */
};

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
	p->fd = -1;
	p->timeout_ms = timeout_ms;
	atomic_init(&p->port, 0);
	*out = p;
	return RC_OK;
}

static void probe_close(struct http_probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->stage = PROBE_IDLE;
	p->len = 0;
	atomic_store(&p->port, 0);
}

void http_probe_free(struct http_probe *p)
{
	if (p == NULL)
		return;
	probe_close(p);
	free(p);
}

int64_t http_probe_last_ok(const struct http_probe *p)
{
	return p->last_ok_ms;
}

unsigned http_probe_port(const struct http_probe *p)
{
	return atomic_load(&p->port);
}

static void note_port(struct http_probe *p)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);

	if (getsockname(p->fd, (struct sockaddr *)&me, &len) != 0)
		return;
	if (me.ss_family == AF_INET)
		atomic_store(&p->port, ntohs(((struct sockaddr_in *)(void *)&me)->sin_port));
	else if (me.ss_family == AF_INET6)
		atomic_store(&p->port, ntohs(((struct sockaddr_in6 *)(void *)&me)->sin6_port));
}

static void start(struct http_probe *p, int64_t now_ms)
{
	p->started_ms = now_ms;
	p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return;
	if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) != 0 && errno != EINPROGRESS) {
		probe_close(p);
		return;
	}
	p->stage = PROBE_CONNECTING;
	note_port(p);
}

/* The connect finished (or failed): send the whole request, which fits any socket buffer. */
static void send_request(struct http_probe *p)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == EINPROGRESS ||
	    err == EALREADY)
		return; /* still connecting: next step */
	if (err != 0) {
		probe_close(p);
		return;
	}
	n = send(p->fd, PROBE_REQUEST, sizeof(PROBE_REQUEST) - 1, MSG_NOSIGNAL);
	if (n == (ssize_t)(sizeof(PROBE_REQUEST) - 1))
		p->stage = PROBE_READING;
	else if (n >= 0 || (errno != EAGAIN && errno != ENOTCONN))
		probe_close(p);
}

static void read_answer(struct http_probe *p, int64_t now_ms)
{
	ssize_t n = recv(p->fd, p->answer + p->len, PROBE_ANSWER_MAX - p->len, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return; /* not answered yet */
	if (n > 0)
		p->len += (size_t)n;
	p->answer[p->len] = '\0';
	/* 204 is what our server answers only its own probe (http.c): a sibling process on a
	 * shared SO_REUSEPORT port answers 200, which is no sign of life of ours */
	if (strncmp(p->answer, "HTTP/1.1 204 ", 13) == 0 || strncmp(p->answer, "HTTP/1.0 204 ", 13) == 0) {
		p->last_ok_ms = now_ms;
		probe_close(p);
		return;
	}
	/* a whole status line of another answer, or the end of the stream: not a sign of life */
	if (n <= 0 || p->len >= 13)
		probe_close(p);
}

/* The probe in flight goes as far as it can without waiting. */
static void advance(struct http_probe *p, int64_t now_ms)
{
	if (p->stage == PROBE_CONNECTING)
		send_request(p);
	if (p->stage == PROBE_READING)
		read_answer(p, now_ms);
}

void http_probe_step(struct http_probe *p, int64_t now_ms)
{
	if (p->last_ok_ms == 0)
		p->last_ok_ms = now_ms; /* a grace period from the first step */
	advance(p, now_ms);
	if (p->stage != PROBE_IDLE && p->timeout_ms > 0 && now_ms - p->started_ms >= p->timeout_ms)
		probe_close(p);
	if (p->stage == PROBE_IDLE) {
		start(p, now_ms);
		advance(p, now_ms);
	}
}
