/* http_accept.c — the server's one accept loop. libmicrohttpd's pool workers, left to
 * accept on the shared listening socket themselves, wake together and the first awake
 * takes the whole queued burst (up to ten at once): wrk's 8 or 32 connections ended on 4
 * of 8 threads, and since a handler blocks its thread on the backends, connections sharing
 * a thread waited for each other (docs/performance.md). Here one thread accepts, and hands
 * each connection to the single-thread daemon holding the fewest (MHD_add_connection).
 * The per-address cap and the total are ours too: libmicrohttpd counts only within one
 * daemon, and refuses in its own thread past its limit without a word to our counts. Every
 * connection refused here is counted (appointmentd_http_connections_refused_total{reason})
 * and told in a warn line at most once per reason every REFUSED_LOG_EVERY_MS: behind a load
 * balancer every client has one address, and the balancer sees resets while the rest of the
 * metrics look healthy. */
#include "run/http_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"

/* After accept() fails for want of descriptors or memory, wait this long before the next
 * attempt: the queued connection stays readable, and polling again at once would spin. */
#define ACCEPT_PAUSE_MS 100
#define ADDR_KEY_SIZE 17 /* family, then the IPv4 or IPv6 address */
#define REFUSED_LOG_EVERY_MS 10000 /* at most one warn line per refusal reason this often */
#define REFUSED_METRIC "appointmentd_http_connections_refused_total"

/* Why a connection was closed as it was accepted (the metric's reason label). */
enum refusal {
	REFUSED_PER_CLIENT, /* its address had per_client_limit connections open */
	REFUSED_FULL,       /* connection_limit connections were open */
	REFUSED_ERROR,      /* MHD_add_connection failed (memory, descriptors) */
	REFUSED_N
};

static const char *const refusal_label[REFUSED_N] = {"per_client", "full", "error"};

/* The warn line of one reason (under http_acceptor.refused_lock). */
struct refused_log {
	uint64_t unlogged; /* refused since its last line */
	bool logged;       /* a line was written (logged_ms is valid) */
	int64_t logged_ms; /* monotonic ms of the last line */
};

/* Open connections of one client address (a slot of the open-addressing table). */
struct addr_count {
	unsigned char key[ADDR_KEY_SIZE];
	bool used;
	unsigned n;
};

struct http_acceptor {
	int stop_fd; /* eventfd: readable once the loop must end */
	struct http_server *srv;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;      /* guards addrs */
	struct addr_count *addrs;  /* NULL when per_client_limit is 0 */
	size_t mask;               /* addrs has mask + 1 slots, a power of two */
	pthread_mutex_t refused_lock;        /* guards refused: the accept thread counts, the
					      * stop tells what is left */
	struct refused_log refused[REFUSED_N];
};

static bool addr_key(const struct sockaddr *sa, unsigned char key[ADDR_KEY_SIZE])
{
	memset(key, 0, ADDR_KEY_SIZE);
	if (sa == NULL)
		return false;
	key[0] = (unsigned char)sa->sa_family;
	if (sa->sa_family == AF_INET) {
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static size_t addr_hash(const struct http_acceptor *a, const unsigned char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < ADDR_KEY_SIZE; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & a->mask;
}

/* The slot holding key, or the free slot where it would go; ADDR_NONE when key is absent
 * and no slot is free (the table holds at most connection_limit + 1 addresses, half its
 * slots: only counts that were never given back could fill it). Under a->lock. */
#define ADDR_NONE SIZE_MAX
static size_t addr_find(const struct http_acceptor *a, const unsigned char *key)
{
	size_t i = addr_hash(a, key);

	for (size_t probes = 0; probes <= a->mask; probes++) {
		if (!a->addrs[i].used || memcmp(a->addrs[i].key, key, ADDR_KEY_SIZE) == 0)
			return i;
		i = (i + 1) & a->mask;
	}
	return ADDR_NONE;
}

/* Counts one more connection of key unless it has the cap already (false then). */
static bool addr_take(struct http_acceptor *a, const unsigned char *key)
{
	bool ok = true;
	size_t i;

	pthread_mutex_lock(&a->lock);
	i = addr_find(a, key);
	if (i == ADDR_NONE) {
		pthread_mutex_unlock(&a->lock);
		return false;
	}
	if (!a->addrs[i].used) {
		memcpy(a->addrs[i].key, key, ADDR_KEY_SIZE);
		a->addrs[i].used = true;
		a->addrs[i].n = 0;
	}
	if (a->addrs[i].n >= a->srv->opts.per_client_limit)
		ok = false;
	else
		a->addrs[i].n++;
	pthread_mutex_unlock(&a->lock);
	return ok;
}

/* One connection of key fewer; an address left with none frees its slot (backward shift,
 * so every other key stays reachable from its hash). */
static void addr_give(struct http_acceptor *a, const unsigned char *key)
{
	size_t i;
	size_t j;

	pthread_mutex_lock(&a->lock);
	i = addr_find(a, key);
	if (i == ADDR_NONE || !a->addrs[i].used || --a->addrs[i].n > 0) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	/* at most one lap: a table full of counts never given back has no empty slot to stop at */
	j = (i + 1) & a->mask;
	for (size_t step = 0; step < a->mask && a->addrs[j].used; step++, j = (j + 1) & a->mask) {
		size_t k = addr_hash(a, a->addrs[j].key);

		/* j's entry may move to the hole at i unless its home k lies in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			a->addrs[i] = a->addrs[j];
			i = j;
		}
	}
	a->addrs[i].used = false;
	pthread_mutex_unlock(&a->lock);
}

enum rc http_acceptor_metrics_describe(struct metrics *m)
{
	enum rc rc = metrics_describe(m, REFUSED_METRIC, METRICS_COUNTER,
				      "Connections closed as they were accepted, by reason "
				      "(per_client: the per-address cap; full: the connection cap; "
				      "error: libmicrohttpd refused it).");

	/* at 0 from the start: increase() misses the first increment of a series that appears
	 * with it */
	for (int r = 0; r < REFUSED_N && rc == RC_OK; r++) {
		const char *labels[] = {"reason", refusal_label[r], NULL};

		metrics_add(m, REFUSED_METRIC, labels, 0);
	}
	return rc;
}

/* The warn line of reason r, saying n were refused since the last one. */
static void refused_warn(const struct http_acceptor *a, enum refusal r, uint64_t n)
{
	const struct http_opts *o = &a->srv->opts;
	unsigned long long nn = (unsigned long long)n;

	if (r == REFUSED_PER_CLIENT)
		log_warn(o->lg, NULL, "refused %llu connection(s) since the last such line: their "
			 "address had %u open, the per-address cap ([api] per_client_connections; "
			 "behind a load balancer all clients share one address)", nn,
			 o->per_client_limit);
	else if (r == REFUSED_FULL)
		log_warn(o->lg, NULL, "refused %llu connection(s) since the last such line: %u "
			 "connections open, the cap ([api] connections)", nn, o->connection_limit);
	else
		log_warn(o->lg, NULL, "refused %llu connection(s) since the last such line: "
			 "libmicrohttpd could not take them (memory or descriptors short)", nn);
}

/* Writes the warn line of every reason with refusals not told yet that has none yet, or
 * whose interval has passed (every such reason when all is true: the loop has ended).
 * Returns the ms until the next such line is due, -1 when none is pending (a poll timeout).
 * Thread-safe. */
static int refused_flush(struct http_acceptor *a, bool all)
{
	uint64_t n[REFUSED_N] = {0};
	int64_t t = clk_mono_ms();
	int64_t wait = -1;

	pthread_mutex_lock(&a->refused_lock);
	for (int r = 0; r < REFUSED_N; r++) {
		struct refused_log *l = &a->refused[r];
		int64_t left = l->logged_ms + REFUSED_LOG_EVERY_MS - t;

		if (l->unlogged == 0)
			continue;
		if (all || !l->logged || left <= 0) {
			n[r] = l->unlogged;
			l->unlogged = 0;
			l->logged = true;
			l->logged_ms = t;
		} else if (wait < 0 || left < wait) {
			wait = left;
		}
	}
	pthread_mutex_unlock(&a->refused_lock);
	for (int r = 0; r < REFUSED_N; r++)
		if (n[r] > 0)
			refused_warn(a, (enum refusal)r, n[r]); /* outside the lock: a slow journal
								 * holds nobody else */
	return (int)wait;
}

/* Counts one refusal of reason r; its warn line is written now unless one was written less
 * than REFUSED_LOG_EVERY_MS ago (the loop tells the rest later). Thread-safe. */
static void refused(struct http_acceptor *a, enum refusal r)
{
	const char *labels[] = {"reason", refusal_label[r], NULL};

	metrics_add(a->srv->opts.metrics, REFUSED_METRIC, labels, 1);
	pthread_mutex_lock(&a->refused_lock);
	a->refused[r].unlogged++;
	pthread_mutex_unlock(&a->refused_lock);
	(void)refused_flush(a, false);
}

/* The daemon holding the fewest connections. */
static unsigned least_busy(const struct http_server *srv)
{
	unsigned best = 0;

	for (unsigned i = 1; i < srv->n_mhd; i++)
		if (atomic_load(&srv->open[i]) < atomic_load(&srv->open[best]))
			best = i;
	return best;
}

static void hand_over(struct http_acceptor *a, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct http_server *srv = a->srv;
	unsigned char key[ADDR_KEY_SIZE];
	bool counted = a->addrs != NULL && addr_key(sa, key);
	unsigned d;

	if (counted && !addr_take(a, key)) {
		close(fd); /* over [api] per_client_connections: closed as it is accepted */
		refused(a, REFUSED_PER_CLIENT);
		return;
	}
	d = least_busy(srv);
	/* only this thread adds to open[]: what it reads can only have fallen since */
	if (atomic_load(&srv->open[d]) >= srv->open_cap) {
		close(fd); /* [api] connections are all open: closed as it is accepted */
		if (counted)
			addr_give(a, key);
		refused(a, REFUSED_FULL);
		return;
	}
	atomic_fetch_add(&srv->open[d], 1);
	/* refused (memory, descriptors): MHD closed the socket */
	if (MHD_add_connection(srv->mhd[d], fd, sa, len) != MHD_YES) {
		atomic_fetch_sub(&srv->open[d], 1);
		if (counted)
			addr_give(a, key);
		refused(a, REFUSED_ERROR);
	}
}

void http_acceptor_closed(struct http_acceptor *a, struct MHD_Connection *conn)
{
	struct http_server *srv = a->srv;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
								     MHD_CONNECTION_INFO_DAEMON);
	unsigned char key[ADDR_KEY_SIZE];

	for (unsigned i = 0; ci != NULL && i < srv->n_mhd; i++)
		if (srv->mhd[i] == ci->daemon)
			atomic_fetch_sub(&srv->open[i], 1);
	if (a->addrs == NULL)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && addr_key(ci->client_addr, key))
		addr_give(a, key);
}

/* Accepts what is queued; false when the loop must pause (descriptors or memory short). */
static bool accept_queued(struct http_acceptor *a)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(a->srv->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			hand_over(a, fd, (struct sockaddr *)&ss, len);
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			return true;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			log_warn(a->srv->opts.lg, NULL, "accept: %s; pausing %d ms", strerror(errno),
				 ACCEPT_PAUSE_MS);
			return false;
		default:
			log_error(a->srv->opts.lg, NULL, "accept: %s", strerror(errno));
			return false;
		}
	}
}

static void *acceptor_main(void *arg)
{
	struct http_acceptor *a = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = a->srv->listen_fd, .events = POLLIN},
				      {.fd = a->stop_fd, .events = POLLIN}};
		/* refusals not told yet are told once their interval has passed, even when no
		 * connection comes to wake the loop */
		int timeout = refused_flush(a, false);

		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			log_error(a->srv->opts.lg, NULL, "accept loop: poll: %s", strerror(errno));
			(void)poll(NULL, 0, ACCEPT_PAUSE_MS);
			continue;
		}
		if (p[1].revents != 0)
			return NULL;
		if ((p[0].revents & POLLIN) != 0 && !accept_queued(a))
			(void)poll(&p[1], 1, ACCEPT_PAUSE_MS);
	}
}

enum rc http_acceptor_new(struct http_server *srv, struct http_acceptor **out,
			  struct errbuf *eb)
{
	struct http_acceptor *a = calloc(1, sizeof(*a));
	size_t slots = 2;
	int flags;

	*out = NULL;
	if (a == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory starting the accept loop");
	a->srv = srv;
	a->stop_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->refused_lock, NULL);
	*out = a;
	/* at most connection_limit addresses at once, plus the one being refused */
	while (slots < 2 * (size_t)srv->opts.connection_limit + 2)
		slots *= 2;
	if (srv->opts.per_client_limit > 0) {
		a->addrs = calloc(slots, sizeof(*a->addrs));
		if (a->addrs == NULL)
			return eb_set(eb, RC_NOMEM, "out of memory for the per-address counts");
		a->mask = slots - 1;
	}
	/* the loop accepts until EAGAIN (libmicrohttpd made it non-blocking the same way) */
	flags = fcntl(a->srv->listen_fd, F_GETFL);
	if (flags < 0 || fcntl(a->srv->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return eb_set(eb, RC_FATAL, "non-blocking listening socket: %s", strerror(errno));
	a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->stop_fd < 0)
		return eb_set(eb, RC_FATAL, "eventfd for the accept loop: %s", strerror(errno));
	return RC_OK;
}

enum rc http_acceptor_start(struct http_acceptor *a, struct errbuf *eb)
{
	if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
		return eb_set(eb, RC_FATAL, "cannot start the accept loop thread");
	a->running = true;
	return RC_OK;
}

void http_acceptor_stop(struct http_acceptor *a)
{
	uint64_t one = 1;

	if (a == NULL || !a->running)
		return;
	if (write(a->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_error(a->srv->opts.lg, NULL, "stopping the accept loop: %s", strerror(errno));
	pthread_join(a->thread, NULL);
	a->running = false;
	(void)refused_flush(a, true); /* nothing is refused past this: tell what is left */
}

void http_acceptor_free(struct http_acceptor *a)
{
	if (a == NULL)
		return;
	http_acceptor_stop(a);
	if (a->stop_fd >= 0)
		close(a->stop_fd);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->refused_lock);
	free(a->addrs);
	free(a);
}
