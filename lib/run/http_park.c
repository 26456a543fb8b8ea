/* http_park.c — parked requests (run/http_park.h): a handler's http_park records the
 * request's park; once the handler has returned, http.c suspends the connection
 * (http_park_hold) and the park joins the poller's list. The poller thread takes the whole
 * list each period, polls every park outside the lock (a poll may call a dependency), and
 * resumes the connection of each park that is done, timed out or whose client left; the
 * HTTP thread that picks the connection up again sends the stored answer or calls the
 * park's resume (http_park_resumed). Only the poller touches a listed park; once resumed,
 * only its connection's HTTP thread does. */
#include "run/http_park.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "run/http_priv.h"

#define PARK_POLL_SLICE_MS 250 /* the polls of one period take at most this long (and one poll) */
#define PARK_STOP_WAIT_MS 1000 /* at free: how long the resumed parks (and whatever else is
				* still in flight) get to be sent */

enum park_state {
	PARK_NEW,    /* the handler parked it; its connection is not suspended yet */
	PARK_WAIT,   /* suspended, on the poller's list */
	PARK_DONE,   /* resp holds the answer */
	PARK_RESUME, /* ops->resume answers it on an HTTP thread */
	PARK_GONE,   /* the client closed its connection: no answer */
};

struct http_park {
	struct http_conn_state *st;
	const struct http_park_ops *ops;
	void *pctx;
	int64_t deadline_ms;
	int fd;                    /* the connection's socket, -1 when unknown */
	enum park_state state;
	struct http_response resp; /* the answer (PARK_DONE); the handler's log fields */
	const char *method;        /* MHD's, stable while the request lives */
	const char *path;
	const char *route;         /* the route table's */
	char params[HTTP_MAX_PARAMS][256];
	size_t n_params;
	struct http_park *next;    /* the poller's list */
};

struct http_parker {
	struct http_server *srv;
	pthread_mutex_t lock;      /* guards everything below */
	pthread_cond_t cv;         /* CLOCK_MONOTONIC: the poller's period, a stop */
	struct http_park *list;    /* suspended parks the poller has not taken */
	unsigned n;                /* parks alive (from http_park until freed) */
	bool stop;
	bool started;
	pthread_t thread;
};

/* The request a poll sees (run/http_park.h). */
static void park_request(const struct http_park *p, struct http_request *r)
{
	memset(r, 0, sizeof(*r));
	r->method = p->method;
	r->path = p->path;
	r->route = p->route;
	for (size_t i = 0; i < p->n_params; i++)
		r->params[i] = p->params[i];
	r->n_params = p->n_params;
	r->body = "";
	r->request_id = p->st->request_id;
	r->client = p->st->client;
}

/* Frees p, and its pctx when with_ctx; one park fewer. */
static void park_free(struct http_parker *pk, struct http_park *p, bool with_ctx)
{
	if (with_ctx && p->ops->free != NULL)
		p->ops->free(p->pctx);
	free(p->resp.body);
	free(p);
	pthread_mutex_lock(&pk->lock);
	pk->n--;
	pthread_cond_broadcast(&pk->cv);
	pthread_mutex_unlock(&pk->lock);
}

bool http_park(const struct http_request *req, struct http_response *resp,
	       const struct http_park_ops *ops, void *pctx, int64_t deadline_ms)
{
	struct http_conn_state *st = req->state;
	struct http_parker *pk = st != NULL ? st->srv->parker : NULL;
	struct http_park *p;

	if (pk == NULL || st->park != NULL)
		return false;
	pthread_mutex_lock(&pk->lock);
	if (pk->stop || pk->n >= HTTP_PARK_LIMIT) {
		pthread_mutex_unlock(&pk->lock);
		return false;
	}
	pk->n++;
	pthread_mutex_unlock(&pk->lock);
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		pthread_mutex_lock(&pk->lock);
		pk->n--;
		pthread_mutex_unlock(&pk->lock);
		return false;
	}
	p->st = st;
	p->ops = ops;
	p->pctx = pctx;
	p->deadline_ms = deadline_ms;
	p->fd = -1;
	p->state = PARK_NEW;
	p->method = req->method;
	p->path = req->path;
	p->route = req->route;
	for (size_t i = 0; i < req->n_params && i < HTTP_MAX_PARAMS; i++)
		snprintf(p->params[i], sizeof(p->params[i]), "%s", req->params[i]);
	p->n_params = req->n_params < HTTP_MAX_PARAMS ? req->n_params : HTTP_MAX_PARAMS;
	p->resp.status = 500;
	memcpy(p->resp.appointment_id, resp->appointment_id, sizeof(p->resp.appointment_id));
	memcpy(p->resp.insured_id, resp->insured_id, sizeof(p->resp.insured_id));
	memcpy(p->resp.error, resp->error, sizeof(p->resp.error));
	st->park = p;
	return true;
}

/* A suspended park the stopping server answers itself: 503, resumed to be sent. */
static void answer_stopped(struct http_park *p)
{
	struct http_request req;

	park_request(p, &req);
	http_reply_error(&p->resp, &req, APIERR_SERVICE_UNAVAILABLE, NULL, NULL);
	http_add_header(&p->resp, "Retry-After", "1");
	p->state = PARK_DONE;
	MHD_resume_connection(p->st->conn);
}

bool http_park_hold(struct http_conn_state *st, struct http_response *resp)
{
	struct http_park *p = st->park;
	struct http_parker *pk = st->srv->parker;
	const union MHD_ConnectionInfo *ci;
	bool stopped;

	if (p == NULL || p->state != PARK_NEW)
		return false;
	free(resp->body);
	resp->body = NULL;
	ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	p->fd = ci != NULL ? ci->connect_fd : -1;
	/* suspended before the poller can see it, so it can never resume it too early */
	MHD_suspend_connection(st->conn);
	pthread_mutex_lock(&pk->lock);
	stopped = pk->stop;
	if (!stopped) {
		p->state = PARK_WAIT;
		p->next = pk->list;
		pk->list = p;
	}
	pthread_mutex_unlock(&pk->lock);
	/* the stop took the list after http_park and before this: nobody else answers it */
	if (stopped)
		answer_stopped(p);
	return true;
}

bool http_park_gone(const struct http_conn_state *st)
{
	return st->park != NULL && st->park->state == PARK_GONE;
}

void http_park_resumed(struct http_conn_state *st, struct http_request *req,
		       struct http_response *resp)
{
	struct http_park *p = st->park;
	struct http_parker *pk = st->srv->parker;

	st->park = NULL;
	st->route_suffix = p->ops->route_suffix;
	req->route = p->route;
	for (size_t i = 0; i < p->n_params; i++)
		req->params[i] = p->params[i];
	req->n_params = p->n_params;
	if (p->state == PARK_RESUME && p->ops->resume != NULL) {
		memcpy(resp->appointment_id, p->resp.appointment_id, sizeof(resp->appointment_id));
		memcpy(resp->insured_id, p->resp.insured_id, sizeof(resp->insured_id));
		memcpy(resp->error, p->resp.error, sizeof(resp->error));
		p->ops->resume(st->srv->opts.ud, req, resp, p->pctx);
		/* the params live in p: nothing after this reads them */
		memset(req->params, 0, sizeof(req->params));
		req->n_params = 0;
		park_free(pk, p, false);
		return;
	}
	/* PARK_DONE (or a RESUME without a resume function: the answer as filled) */
	free(resp->body);
	*resp = p->resp;
	p->resp.body = NULL;
	memset(req->params, 0, sizeof(req->params));
	req->n_params = 0;
	park_free(pk, p, true);
}

void http_park_drop(struct http_conn_state *st)
{
	struct http_park *p = st->park;
	struct http_parker *pk = st->srv->parker;

	if (p == NULL)
		return;
	st->park = NULL;
	pthread_mutex_lock(&pk->lock);
	for (struct http_park **pp = &pk->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&pk->lock);
	park_free(pk, p, true);
}

/* The client closed (or reset) its connection: nobody is left to answer. */
static bool client_gone(int fd)
{
	char c;
	ssize_t n;

	if (fd < 0)
		return false;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* One park's turn: its state once this period is over. Its poll is left out (PARK_WAIT)
 * when may_poll is false; the deadline and the client are looked at anyway. */
static enum park_state poll_one(struct http_park *p, bool may_poll)
{
	struct http_request req;
	enum http_park_step step = HTTP_PARK_WAIT;

	if (client_gone(p->fd))
		return PARK_GONE;
	park_request(p, &req);
	if (clk_mono_ms() >= p->deadline_ms) {
		step = p->ops->timeout(p->pctx, &req, &p->resp);
		if (step == HTTP_PARK_WAIT)
			step = HTTP_PARK_DONE;
	} else if (may_poll) {
		step = p->ops->poll(p->pctx, &req, &p->resp);
	}
	if (step == HTTP_PARK_WAIT)
		return PARK_WAIT;
	return step == HTTP_PARK_RESUME ? PARK_RESUME : PARK_DONE;
}

/* Appends p to the list of head *h and tail *t. */
static void append(struct http_park **h, struct http_park **t, struct http_park *p)
{
	p->next = NULL;
	if (*t != NULL)
		(*t)->next = p;
	else
		*h = p;
	*t = p;
}

/* One period over the parks taken from the list: polls for at most PARK_POLL_SLICE_MS (a
 * slow dependency must not hold every deadline back), resumes the ones that are done; the
 * parks still waiting go back, those whose poll was left out first. */
static void poll_batch(struct http_parker *pk, struct http_park *batch)
{
	int64_t poll_until = clk_mono_ms() + PARK_POLL_SLICE_MS;
	struct http_park *skipped = NULL, *skipped_tail = NULL;
	struct http_park *polled = NULL, *polled_tail = NULL;

	while (batch != NULL) {
		struct http_park *p = batch;
		bool may_poll = clk_mono_ms() < poll_until;
		enum park_state s = poll_one(p, may_poll);

		batch = p->next;
		if (s == PARK_WAIT) {
			if (may_poll)
				append(&polled, &polled_tail, p);
			else
				append(&skipped, &skipped_tail, p);
			continue;
		}
		p->state = s;
		/* from here on p is its HTTP thread's (it may be freed at once) */
		MHD_resume_connection(p->st->conn);
	}
	pthread_mutex_lock(&pk->lock);
	/* skipped, then the parks that came meanwhile, then the polled ones */
	if (polled_tail != NULL) {
		struct http_park **end = &pk->list;

		while (*end != NULL)
			end = &(*end)->next;
		*end = polled;
	}
	if (skipped_tail != NULL) {
		skipped_tail->next = pk->list;
		pk->list = skipped;
	}
	pthread_mutex_unlock(&pk->lock);
}

static void *poller_main(void *arg)
{
	struct http_parker *pk = arg;
	int64_t next_ms = clk_mono_ms() + HTTP_PARK_INTERVAL_MS;

	pthread_mutex_lock(&pk->lock);
	while (!pk->stop) {
		int64_t left = next_ms - clk_mono_ms();
		struct timespec deadline = clk_deadline(CLOCK_MONOTONIC, left > 1 ? (long)left : 1);
		struct http_park *batch;

		/* cv also tells of parks freed: the period is kept whatever wakes us */
		(void)pthread_cond_timedwait(&pk->cv, &pk->lock, &deadline);
		if (pk->stop || clk_mono_ms() < next_ms)
			continue;
		next_ms = clk_mono_ms() + HTTP_PARK_INTERVAL_MS;
		if (pk->list == NULL)
			continue;
		batch = pk->list;
		pk->list = NULL;
		pthread_mutex_unlock(&pk->lock);
		poll_batch(pk, batch);
		pthread_mutex_lock(&pk->lock);
	}
	pthread_mutex_unlock(&pk->lock);
	return NULL;
}

enum rc http_parker_start(struct http_server *srv, struct errbuf *eb)
{
	struct http_parker *pk = calloc(1, sizeof(*pk));
	pthread_condattr_t ca;

	if (pk == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory starting the HTTP poller");
	pk->srv = srv;
	pthread_mutex_init(&pk->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pk->cv, &ca);
	pthread_condattr_destroy(&ca);
	srv->parker = pk;
	if (pthread_create(&pk->thread, NULL, poller_main, pk) != 0)
		return eb_set(eb, RC_FATAL, "cannot start the HTTP poller thread");
	pk->started = true;
	return RC_OK;
}

void http_parker_stop(struct http_server *srv)
{
	struct http_parker *pk = srv->parker;
	struct http_park *batch;
	int64_t until;

	if (pk == NULL)
		return;
	pthread_mutex_lock(&pk->lock);
	pk->stop = true;
	pthread_cond_broadcast(&pk->cv);
	pthread_mutex_unlock(&pk->lock);
	if (pk->started)
		pthread_join(pk->thread, NULL);
	pk->started = false;
	/* MHD must not stop with suspended connections: answer every park still waiting
	 * (the drain gave up before their deadlines) */
	pthread_mutex_lock(&pk->lock);
	batch = pk->list;
	pk->list = NULL;
	pthread_mutex_unlock(&pk->lock);
	while (batch != NULL) {
		struct http_park *p = batch;

		batch = p->next;
		answer_stopped(p);
	}
	/* until they are sent, not just queued: MHD_stop_daemon would cut them off */
	until = clk_mono_ms() + PARK_STOP_WAIT_MS;
	pthread_mutex_lock(&pk->lock);
	while ((pk->n > 0 || atomic_load(&srv->in_flight) > 0) && clk_mono_ms() < until) {
		struct timespec slice = clk_deadline(CLOCK_MONOTONIC, 20);

		(void)pthread_cond_timedwait(&pk->cv, &pk->lock, &slice);
	}
	pthread_mutex_unlock(&pk->lock);
}

void http_parker_free(struct http_server *srv)
{
	struct http_parker *pk = srv->parker;

	if (pk == NULL)
		return;
	http_parker_stop(srv);
	pthread_cond_destroy(&pk->cv);
	pthread_mutex_destroy(&pk->lock);
	free(pk);
	srv->parker = NULL;
}

unsigned http_server_parked(struct http_server *s)
{
	unsigned n;

	if (s->parker == NULL)
		return 0;
	pthread_mutex_lock(&s->parker->lock);
	n = s->parker->n;
	pthread_mutex_unlock(&s->parker->lock);
	return n;
}
