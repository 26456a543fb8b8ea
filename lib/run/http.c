/* http.c — the libmicrohttpd server: one single-thread epoll daemon per HTTP thread, fed by
 * the accept loop (http_accept.c), bodies gathered into a capped buffer, each request
 * numbered while in flight (for the lifecycle's configuration snapshots), a drain that
 * waits for accepted connections, and a sweeper that cuts connections too slow to deliver
 * a request (libmicrohttpd's own timeout only counts idle time, so a client trickling a
 * byte a second would never be cut). What a request meets
 * once it has arrived (routes, CORS, answers, its log line) is http_router.c. */
#include "run/http.h"
#include "run/http_park.h"
#include "run/http_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/buf.h"
#include "base/clock.h"
#include "run/http_priv.h"

#define SWEEP_INTERVAL_MS 500 /* how often the sweeper looks for slow connections */
#define DRAIN_SLICE_MS 50     /* the drain looks at its counters at least this often */

enum rc http_listen(const char *hostport, bool reuse_port, int *fd, struct errbuf *eb)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	size_t hl;
	int s = -1;
	int one = 1;
	int gai;
	enum rc rc = RC_OK;

	*fd = -1;
	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		return eb_set(eb, RC_INVAL, "listen address '%s': expected host:port", hostport);
	hl = (size_t)(colon - hostport);
	if (hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']') {
		memcpy(host, hostport + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		memcpy(host, hostport, hl);
		host[hl] = '\0';
	}
	gai = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, &res);
	if (gai != 0)
		return eb_set(eb, RC_INVAL, "listen address '%s': %s", hostport, gai_strerror(gai));
	s = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rc = eb_set(eb, RC_IO, "socket: %s", strerror(errno));
		goto out;
	}
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuse_port && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		rc = eb_set(eb, RC_IO, "SO_REUSEPORT on %s: %s", hostport, strerror(errno));
		goto out;
	}
	if (bind(s, res->ai_addr, res->ai_addrlen) != 0 || listen(s, 1024) != 0) {
		rc = eb_set(eb, RC_IO, "listen on %s: %s", hostport, strerror(errno));
		goto out;
	}
	*fd = s;
	s = -1;
out:
	if (s >= 0)
		close(s);
	freeaddrinfo(res);
	return rc;
}

/* A client's X-Request-Id is kept when it is 1..128 of [A-Za-z0-9._:-]. */
static bool sane_request_id(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strlen(id);
	if (n == 0 || n > HTTP_REQUEST_ID_MAX)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* The client's address as text into out ("" when unknown). */
static void client_address(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	const void *addr = NULL;

	out[0] = '\0';
	if (sa != NULL && sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr == NULL || inet_ntop(sa->sa_family, addr, out, (socklen_t)n) == NULL)
		out[0] = '\0';
}

static void state_free(struct http_conn_state *st)
{
	if (st == NULL)
		return;
	buf_cleanup(&st->body);
	free(st);
}

static struct http_conn_state *state_new(struct http_server *srv, struct MHD_Connection *conn)
{
	struct http_conn_state *st = calloc(1, sizeof(*st));
	const char *rid;

	if (st == NULL)
		return NULL;
	st->conn = conn;
	st->srv = srv;
	buf_init(&st->body, srv->opts.body_limit);
	st->start_us = clk_mono_us();
	client_address(conn, st->client, sizeof(st->client));
	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (sane_request_id(rid)) {
		snprintf(st->request_id, sizeof(st->request_id), "%s", rid);
	} else {
		uuid_t u;

		uuid_generate_random(u);
		uuid_unparse_lower(u, st->request_id);
	}
	return st;
}

/* The connection's request has fully arrived (receiving false), or its answer is
 * done and the next request is awaited (receiving true: the clock starts again). */
static void track_receiving(struct http_server *srv, struct http_conn_tcp *tcp, bool receiving)
{
	if (tcp == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	tcp->receiving = receiving;
	tcp->head_done = false;
	tcp->since_ms = clk_mono_ms();
	pthread_mutex_unlock(&srv->conns_lock);
}

/* The connection's request head has arrived: from now on it has the request timeout (the
 * clock keeps running from the same start) rather than the header timeout. */
static void track_head_done(struct http_server *srv, struct http_conn_tcp *tcp)
{
	if (tcp == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	tcp->head_done = true;
	pthread_mutex_unlock(&srv->conns_lock);
}

/* Content-Length over the limit: refuse before reading anything. */
static bool declared_too_large(struct MHD_Connection *conn, size_t limit)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	char *end = NULL;
	unsigned long long n;

	if (cl == NULL)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno != 0 || end == cl || n > limit;
}

static enum MHD_Result on_head_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	(void)kind;
	http_head_add(cls, key, value);
	return MHD_YES;
}

/* The first strictness rule (run/http_strict) the request breaks, from its head and what
 * decoding its URL found. */
static enum http_defect head_defect(struct MHD_Connection *conn, const char *version,
				    struct http_conn_tcp *tcp)
{
	struct http_head_check c = {0};
	bool nul = tcp != NULL && tcp->nul_seen;

	if (tcp != NULL)
		tcp->nul_seen = false;
	(void)MHD_get_connection_values(conn, MHD_HEADER_KIND, on_head_header, &c);
	if (nul)
		return HTTP_DEFECT_NUL;
	return http_head_verdict(&c, version);
}

/* MHD's decoding of the path and of each query key and value: ours never lets %00 become a
 * NUL that would cut the string short (it stays "%00" and the request is refused). */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn_tcp *tcp = ci != NULL ? ci->socket_context : NULL;
	bool nul = false;
	size_t n = http_unescape(s, &nul);

	(void)cls;
	if (nul && tcp != NULL)
		tcp->nul_seen = true;
	return n;
}

/* Every request gets a number as it starts, before anything reads configuration: the
 * lifecycle frees an old configuration once the oldest request in flight started after it
 * was replaced (http_server_readers_*). */
static void number_request(struct http_server *srv, struct http_conn_state *st)
{
	if (st->tcp == NULL) {
		st->untracked = true; /* memory was short: hold every old configuration meanwhile */
		atomic_fetch_add(&srv->untracked, 1);
		return;
	}
	pthread_mutex_lock(&srv->conns_lock);
	st->tcp->req_seq = ++srv->readers_next;
	pthread_mutex_unlock(&srv->conns_lock);
}

static void unnumber_request(struct http_server *srv, struct http_conn_state *st)
{
	if (st->untracked) {
		atomic_fetch_sub(&srv->untracked, 1);
		st->untracked = false;
	} else if (st->tcp != NULL) {
		pthread_mutex_lock(&srv->conns_lock);
		st->tcp->req_seq = 0;
		pthread_mutex_unlock(&srv->conns_lock);
	}
}

/* Whether the peer of a unix-socket connection is this process (SO_PEERCRED). */
static bool peer_is_self(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return ci != NULL &&
	       getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       cred.pid == getpid();
}

/* The self-probe's connection: on TCP from loopback, from a port a probe holds while its
 * request runs (published by the probe before it sends); on a unix socket (a socket unit's
 * ListenStream=/path), from this very process. */
static bool is_probe(struct http_server *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (srv->opts.probe == NULL)
		return false;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci != NULL ? ci->client_addr : NULL;
	if (sa != NULL && sa->sa_family == AF_UNIX)
		return peer_is_self(conn);
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return ntohl(in->sin_addr.s_addr) >> 24 == 127 &&
		       http_probe_owns_port(srv->opts.probe, ntohs(in->sin_port));
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) &&
		       http_probe_owns_port(srv->opts.probe, ntohs(in6->sin6_port));
	}
	return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_conn_state *st = *con_cls;
	struct http_request req;
	struct http_response resp;
	enum MHD_Result ret;
	bool reject_now = false;

	if (st == NULL) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct http_conn_tcp *tcp = ci != NULL ? ci->socket_context : NULL;

		if (tcp != NULL && !tcp->served) {
			tcp->served = true;
			atomic_fetch_sub(&srv->fresh, 1);
		}
		st = state_new(srv, conn);
		if (st == NULL)
			return MHD_NO;
		st->tcp = tcp;
		*con_cls = st;
		track_head_done(srv, tcp);
		number_request(srv, st);
		st->quiet = is_probe(srv, conn);
		st->counted = true;
		atomic_fetch_add(&srv->in_flight, 1);
		metrics_add(srv->opts.metrics, "appointmentd_http_requests_in_flight", NULL, 1);
		st->defect = head_defect(conn, version, tcp);
		if (st->defect == HTTP_DEFECT_NONE && !declared_too_large(conn, srv->opts.body_limit))
			return MHD_YES;
		st->too_large = st->defect == HTTP_DEFECT_NONE;
		reject_now = true; /* before reading a byte of it; MHD closes afterwards */
	} else if (*upload_data_size > 0) {
		if (!st->too_large && buf_append(&st->body, upload_data, *upload_data_size) != RC_OK)
			st->too_large = true; /* chunked or lying: keep discarding, answer 413 */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (http_park_gone(st))
		return MHD_NO; /* parked, and its client left: nobody to answer */
	track_receiving(srv, st->tcp, false);
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	resp.status = 500;
	req.method = method;
	req.path = url;
	req.route = "unmatched";
	req.body = buf_str(&st->body);
	req.body_len = st->body.len;
	req.request_id = st->request_id;
	req.client = st->client;
	req.state = st;
	if (st->park != NULL) {
		http_park_resumed(st, &req, &resp); /* back from the poller (run/http_park) */
	} else if (reject_now && st->defect != HTTP_DEFECT_NONE) {
		http_reply_defect(&resp, &req, st->defect);
	} else if (reject_now) {
		http_reply_error(&resp, &req, APIERR_PAYLOAD_TOO_LARGE, NULL, NULL);
	} else {
		http_dispatch(st, &req, &resp);
	}
	if (http_park_hold(st, &resp))
		return MHD_YES; /* the handler parked it: answered once the poller resumes it */
	if (st->quiet && resp.status == 200) {
		/* our own probe gets 204: with SO_REUSEPORT a sibling process sharing the port
		 * may answer the probe instead, and its 200 must not count as our sign of life */
		free(resp.body);
		resp.body = NULL;
		resp.status = 204;
	}
	if (!st->quiet)
		http_log_request(st, &req, &resp);
	ret = http_send(st, &req, &resp);
	free(resp.body);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_conn_state *st = *con_cls;

	(void)conn;
	(void)toe;
	if (st == NULL)
		return;
	/* a kept-alive connection waits for its next request from now on */
	track_receiving(srv, st->tcp, true);
	http_park_drop(st);
	unnumber_request(srv, st);
	if (st->counted) {
		metrics_add(srv->opts.metrics, "appointmentd_http_requests_in_flight", NULL, -1);
		if (atomic_fetch_sub(&srv->in_flight, 1) == 1) {
			pthread_mutex_lock(&srv->lock);
			pthread_cond_broadcast(&srv->drained);
			pthread_mutex_unlock(&srv->lock);
		}
	}
	state_free(st);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	struct http_conn_tcp *tcp = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		tcp = ci != NULL ? calloc(1, sizeof(*tcp)) : NULL;
		/* without the record the drain and the sweeper cannot see this connection
		 * (MHD's idle timeout still applies): a small risk only under memory
		 * exhaustion, not worth refusing the client */
		if (tcp != NULL) {
			atomic_fetch_add(&srv->fresh, 1);
			tcp->fd = ci->connect_fd;
			tcp->since_ms = clk_mono_ms();
			tcp->receiving = true;
			pthread_mutex_lock(&srv->conns_lock);
			tcp->next = srv->conns;
			if (srv->conns != NULL)
				srv->conns->prev = tcp;
			srv->conns = tcp;
			pthread_mutex_unlock(&srv->conns_lock);
		}
		*socket_context = tcp;
		return;
	}
	if (tcp != NULL) {
		pthread_mutex_lock(&srv->conns_lock);
		if (tcp->prev != NULL)
			tcp->prev->next = tcp->next;
		else
			srv->conns = tcp->next;
		if (tcp->next != NULL)
			tcp->next->prev = tcp->prev;
		pthread_mutex_unlock(&srv->conns_lock);
	}
	if (tcp != NULL && !tcp->served)
		atomic_fetch_sub(&srv->fresh, 1);
	free(tcp);
	*socket_context = NULL;
	http_acceptor_closed(srv->acceptor, conn);
	pthread_mutex_lock(&srv->lock);
	pthread_cond_broadcast(&srv->drained);
	pthread_mutex_unlock(&srv->lock);
}

/* Bytes the client sent that the server has not read yet (0 when unknown). */
static int unread_bytes(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) != 0)
		return 0;
	return n;
}

/* Shuts down every connection that has waited longer than the header timeout for a
 * complete request head, or the connection timeout for a complete request (head and
 * body): MHD then reads the end of the stream and closes it. MHD's own timeout restarts
 * with every byte, so without this a client sending a byte now and then (slowloris) would
 * hold its connection forever. A connection with bytes the server has not read yet is not
 * slow: its thread is busy (a handler blocks on a dependency) and will get to it. */
static void sweep(struct http_server *srv)
{
	int64_t body_limit = (int64_t)srv->opts.connection_timeout_s * 1000;
	int64_t head_limit = srv->opts.header_timeout_s > 0
				     ? (int64_t)srv->opts.header_timeout_s * 1000
				     : body_limit;
	int64_t now = clk_mono_ms();
	unsigned cut = 0;

	pthread_mutex_lock(&srv->conns_lock);
	for (struct http_conn_tcp *t = srv->conns; t != NULL; t = t->next) {
		int64_t limit = t->head_done ? body_limit : head_limit;

		if (!t->receiving || t->cut || now - t->since_ms <= limit)
			continue;
		if (unread_bytes(t->fd) > 0)
			continue;
		(void)shutdown(t->fd, SHUT_RDWR);
		t->cut = true;
		cut++;
	}
	pthread_mutex_unlock(&srv->conns_lock);
	if (cut > 0)
		log_info(srv->opts.lg, NULL,
			 "cut %u connection(s) too slow to send a request (head %lld s, whole %u s)",
			 cut, (long long)(head_limit / 1000), srv->opts.connection_timeout_s);
}

static void *sweeper_main(void *arg)
{
	struct http_server *srv = arg;
	struct timespec deadline;

	pthread_mutex_lock(&srv->conns_lock);
	while (!srv->stop_sweeper) {
		deadline = clk_deadline(CLOCK_MONOTONIC, SWEEP_INTERVAL_MS);
		(void)pthread_cond_timedwait(&srv->sweep_cv, &srv->conns_lock, &deadline);
		if (srv->stop_sweeper)
			break;
		pthread_mutex_unlock(&srv->conns_lock);
		sweep(srv);
		pthread_mutex_lock(&srv->conns_lock);
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug(srv->opts.lg, NULL, "libmicrohttpd: %s", msg);
}

/* One single-thread daemon per HTTP thread, each taking its connections from the accept
 * loop (http_accept.c), which also keeps the per-address cap and each daemon's share of
 * [api] connections. libmicrohttpd's own limit is twice that share, so it never refuses
 * what the loop let in: its firm check, made in its thread after MHD_add_connection has
 * said yes, would close a connection without a word to the loop's counts (a burst queued
 * past the last free slot did). It counts a closed connection until its thread cleans it
 * up, after the loop has counted it out: at most one share more. */
static enum rc start_daemons(struct http_server *srv, struct errbuf *eb)
{
	const struct http_opts *opts = &srv->opts;
	unsigned n = opts->threads > 0 ? opts->threads : 1;
	unsigned limit = (opts->connection_limit + n - 1) / n;

	srv->open_cap = limit > 0 ? limit : 1;
	srv->mhd = calloc(n, sizeof(*srv->mhd));
	srv->open = calloc(n, sizeof(*srv->open));
	if (srv->mhd == NULL || srv->open == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory starting the HTTP server");
	if (http_acceptor_new(srv, &srv->acceptor, eb) != RC_OK)
		return RC_FATAL;
	for (unsigned i = 0; i < n; i++) {
		atomic_init(&srv->open[i], 0);
		srv->mhd[i] = MHD_start_daemon(
			MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
				MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			on_request, srv, MHD_OPTION_CONNECTION_TIMEOUT,
			opts->idle_timeout_s > 0 ? opts->idle_timeout_s : opts->connection_timeout_s,
			MHD_OPTION_CONNECTION_LIMIT, 2 * srv->open_cap,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
			on_connection, srv, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, srv,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_END);
		if (srv->mhd[i] == NULL)
			return eb_set(eb, RC_FATAL, "libmicrohttpd failed to start (thread %u of %u)",
				      i + 1, n);
		srv->n_mhd = i + 1;
	}
	return RC_OK;
}

enum rc http_server_start(const struct http_opts *opts, struct http_server **out,
			  struct errbuf *eb)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	*out = NULL;
	if (srv == NULL) {
		close(opts->listen_fd);
		return eb_set(eb, RC_NOMEM, "out of memory starting the HTTP server");
	}
	srv->opts = *opts;
	srv->listen_fd = opts->listen_fd;
	atomic_init(&srv->in_flight, 0);
	atomic_init(&srv->fresh, 0);
	atomic_init(&srv->draining, false);
	atomic_init(&srv->cors, opts->cors_origins);
	atomic_init(&srv->untracked, 0);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->drained, NULL);
	pthread_mutex_init(&srv->conns_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->sweep_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (start_daemons(srv, eb) != RC_OK) {
		http_server_free(srv);
		return RC_FATAL;
	}
	if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) != 0) {
		http_server_free(srv);
		return eb_set(eb, RC_FATAL, "cannot start the HTTP connection sweeper thread");
	}
	srv->sweeper_started = true;
	if (http_parker_start(srv, eb) != RC_OK) {
		http_server_free(srv);
		return RC_FATAL;
	}
	if (http_acceptor_start(srv->acceptor, eb) != RC_OK) {
		http_server_free(srv);
		return RC_FATAL;
	}
	*out = srv;
	return RC_OK;
}

void http_server_quiesce(struct http_server *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->draining, true);
	/* no connection is accepted past this; the socket itself stays open until the server
	 * is freed (systemd keeps its own copy of an activated one) */
	http_acceptor_stop(s->acceptor);
}

void http_server_set_cors(struct http_server *s, const char *origins)
{
	atomic_store(&s->cors, origins);
}

uint64_t http_server_readers_next(struct http_server *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->conns_lock);
	n = s->readers_next + 1;
	pthread_mutex_unlock(&s->conns_lock);
	return n;
}

uint64_t http_server_readers_oldest(struct http_server *s)
{
	uint64_t oldest = UINT64_MAX;

	if (atomic_load(&s->untracked) > 0)
		return 0;
	pthread_mutex_lock(&s->conns_lock);
	for (struct http_conn_tcp *t = s->conns; t != NULL; t = t->next)
		if (t->req_seq != 0 && t->req_seq < oldest)
			oldest = t->req_seq;
	pthread_mutex_unlock(&s->conns_lock);
	return oldest;
}

unsigned http_server_in_flight(struct http_server *s)
{
	return atomic_load(&s->in_flight);
}

bool http_server_drain(struct http_server *s, int timeout_ms)
{
	int64_t deadline = clk_mono_ms() + timeout_ms;
	bool drained;

	int quiet_slices = 0;

	pthread_mutex_lock(&s->lock);
	/* timed waits in slices: a connection that closes unseen still ends the wait. Idle
	 * counts only once it held for a whole slice: a connection the accept loop handed over
	 * just before it stopped registers a moment later, when its daemon's thread takes it
	 * up (seen under load as a request closed unanswered by a restart) */
	while (quiet_slices < 2 && clk_mono_ms() < deadline) {
		struct timespec slice = clk_deadline(CLOCK_REALTIME, DRAIN_SLICE_MS);

		if (atomic_load(&s->in_flight) + atomic_load(&s->fresh) > 0)
			quiet_slices = 0;
		else
			quiet_slices++;
		if (quiet_slices < 2)
			(void)pthread_cond_timedwait(&s->drained, &s->lock, &slice);
	}
	drained = atomic_load(&s->in_flight) + atomic_load(&s->fresh) == 0;
	pthread_mutex_unlock(&s->lock);
	return drained;
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	if (s->sweeper_started) {
		pthread_mutex_lock(&s->conns_lock);
		s->stop_sweeper = true;
		pthread_cond_signal(&s->sweep_cv);
		pthread_mutex_unlock(&s->conns_lock);
		pthread_join(s->sweeper, NULL);
	}
	http_acceptor_stop(s->acceptor);
	http_parker_stop(s); /* MHD must not stop with suspended connections */
	for (unsigned i = 0; i < s->n_mhd; i++)
		MHD_stop_daemon(s->mhd[i]);
	http_parker_free(s);
	http_acceptor_free(s->acceptor);
	free(s->mhd);
	free(s->open);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_cond_destroy(&s->sweep_cv);
	pthread_mutex_destroy(&s->conns_lock);
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
