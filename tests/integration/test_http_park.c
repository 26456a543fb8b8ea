/* test_http_park.c — parked requests (run/http_park) on a real server on loopback with ONE
 * HTTP thread: an answer filled by the poller, a time-out, a request handed back to an HTTP
 * thread, other requests answered while one is parked, a client that leaves while parked
 * (freed), the drain waiting for a parked request, a server freed with one still parked
 * (answered 503), one parked as the server is freed, and the cap. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "base/clock.h"
#include "base/log.h"
#include "run/http.h"
#include "run/http_park.h"
#include "itest.h"

static struct logger lg;
static struct http_server *srv;
static unsigned port;
static atomic_int freed;          /* pctx freed by the facility */
static atomic_int resumed_on_poller; /* resume ran on the poller thread (must not) */
static pthread_t poller_thread;
static atomic_bool poller_known;
static atomic_bool freeing;       /* the test is about to free the server ("l" mode) */

struct wait_ctx {
	int polls_left; /* DONE after this many polls; < 0: never */
	bool resume;    /* RESUME instead of DONE */
	bool slow;      /* each poll takes 100 ms */
};

static void ctx_free(void *p)
{
	atomic_fetch_add(&freed, 1);
	free(p);
}

static enum http_park_step on_poll(void *pctx, const struct http_request *req,
				   struct http_response *resp)
{
	struct wait_ctx *w = pctx;

	(void)req;
	poller_thread = pthread_self();
	atomic_store(&poller_known, true);
	if (w->slow)
		clk_sleep_ms(100);
	if (w->polls_left < 0 || --w->polls_left > 0)
		return HTTP_PARK_WAIT;
	if (w->resume)
		return HTTP_PARK_RESUME;
	http_reply(resp, 200, strdup("{\"from\":\"poller\"}"));
	return HTTP_PARK_DONE;
}

static enum http_park_step on_timeout(void *pctx, const struct http_request *req,
				      struct http_response *resp)
{
	(void)pctx;
	(void)req;
	http_reply(resp, 200, strdup("{\"from\":\"timeout\"}"));
	return HTTP_PARK_DONE;
}

static void on_resume(void *ud, const struct http_request *req, struct http_response *resp,
		      void *pctx)
{
	(void)ud;
	if (atomic_load(&poller_known) && pthread_equal(pthread_self(), poller_thread))
		atomic_fetch_add(&resumed_on_poller, 1);
	free(pctx);
	http_reply(resp, 200, strdup(strcmp(req->params[0], "r") == 0 ? "{\"from\":\"resume\"}"
								       : "{\"from\":\"?\"}"));
}

static const struct http_park_ops ops = {on_poll, on_timeout, on_resume, ctx_free, NULL};

/* /wait/{mode}: "d" done after 3 polls, "r" resumed after 2, "t" never (times out after
 * 300 ms), "h" never (deadline 20 s), "s" as "h" with polls of 100 ms, "l" as "h" with a
 * handler that returns only after the server began to be freed. Over the cap: 429. */
static void h_wait(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct wait_ctx *w = calloc(1, sizeof(*w));
	const char *m = req->params[0];
	int64_t deadline = clk_mono_ms() + (m[0] == 'h' || m[0] == 's' ? 20000
					    : m[0] == 't' ? 300 : 5000);

	(void)ud;
	w->polls_left = m[0] == 'd' ? 3 : m[0] == 'r' ? 2 : -1;
	w->resume = m[0] == 'r';
	w->slow = m[0] == 's';
	if (!http_park(req, resp, &ops, w, deadline)) {
		free(w);
		http_reply(resp, 429, strdup("{\"from\":\"cap\"}"));
		return;
	}
	if (m[0] == 'l') {
		/* parked, but the handler returns only once the server is being freed and its
		 * poller has stopped: the park is held after the stop took the list */
		while (!atomic_load(&freeing))
			clk_sleep_ms(5);
		clk_sleep_ms(300);
	}
}

static void h_fast(void *ud, const struct http_request *req, struct http_response *resp)
{
	(void)ud;
	(void)req;
	http_reply(resp, 200, strdup("{\"from\":\"fast\"}"));
}

static const struct http_route routes[] = {
	{"GET", "/wait/{mode}", h_wait, false, false},
	{"GET", "/fast", h_fast, false, false},
};

static void start(void)
{
	struct http_opts o = {0};
	struct errbuf eb = {{0}};
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	log_init(&lg, "test", LOG_LVL_ERROR);
	ck_assert_int_eq(http_listen("127.0.0.1:0", false, &o.listen_fd, &eb), RC_OK);
	ck_assert_int_eq(getsockname(o.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	o.threads = 1;
	o.body_limit = 1024;
	o.connection_timeout_s = 30;
	o.connection_limit = 1000;
	o.routes = routes;
	o.n_routes = sizeof(routes) / sizeof(routes[0]);
	o.lg = &lg;
	o.cors_origins = "*";
	ck_assert_msg(http_server_start(&o, &srv, &eb) == RC_OK, "%s", eb.msg);
	atomic_store(&freed, 0);
	atomic_store(&resumed_on_poller, 0);
}

static void stop(void)
{
	http_server_quiesce(srv);
	http_server_free(srv);
	srv = NULL;
}

/* Sends GET path on a new connection; returns the socket. */
static int send_get(const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	ck_assert_int_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	return fd;
}

/* Reads the answer to its end; returns its status, body ("from") into out. */
static int read_answer(int fd, char *out, size_t n)
{
	char buf[4096];
	size_t len = 0;
	ssize_t r;
	int status = 0;
	const char *body;

	while (len < sizeof(buf) - 1 && (r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fd);
	(void)sscanf(buf, "HTTP/1.1 %d", &status);
	body = strstr(buf, "\r\n\r\n");
	snprintf(out, n, "%s", body != NULL ? body + 4 : "");
	return status;
}

static int get(const char *path, char *out, size_t n)
{
	return read_answer(send_get(path), out, n);
}

static bool wait_parked(unsigned want, int ms)
{
	int64_t until = clk_mono_ms() + ms;

	while (http_server_parked(srv) != want && clk_mono_ms() < until)
		clk_sleep_ms(5);
	return http_server_parked(srv) == want;
}

START_TEST(test_done_by_poller_while_the_thread_serves_others)
{
	char body[256];
	int fd;
	int64_t t0;

	start();
	fd = send_get("/wait/d");
	ck_assert(wait_parked(1, 2000));
	t0 = clk_mono_ms();
	ck_assert_int_eq(get("/fast", body, sizeof(body)), 200); /* the one thread is free */
	ck_assert_str_eq(body, "{\"from\":\"fast\"}");
	ck_assert_int_lt(clk_mono_ms() - t0, 150);
	ck_assert_int_eq(http_server_in_flight(srv), 1); /* parked counts in flight */
	ck_assert_int_eq(read_answer(fd, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"from\":\"poller\"}");
	ck_assert(wait_parked(0, 1000));
	ck_assert_int_eq(atomic_load(&freed), 1);
	stop();
}
END_TEST

START_TEST(test_timeout_and_resume)
{
	char body[256];
	int64_t t0 = clk_mono_ms();

	start();
	ck_assert_int_eq(get("/wait/t", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"from\":\"timeout\"}");
	ck_assert_int_ge(clk_mono_ms() - t0, 300);
	ck_assert_int_eq(get("/wait/r", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"from\":\"resume\"}");
	ck_assert_int_eq(atomic_load(&resumed_on_poller), 0);
	ck_assert_int_eq(atomic_load(&freed), 1); /* the resumed one was freed by its resume */
	ck_assert(wait_parked(0, 1000));
	stop();
}
END_TEST

START_TEST(test_client_gone_is_freed)
{
	int fd;

	start();
	fd = send_get("/wait/h");
	ck_assert(wait_parked(1, 2000));
	close(fd);
	ck_assert(wait_parked(0, 2000)); /* noticed by the poller, not at the 20 s deadline */
	ck_assert_int_eq(atomic_load(&freed), 1);
	ck_assert_int_eq(http_server_in_flight(srv), 0);
	stop();
}
END_TEST

START_TEST(test_drain_waits_for_parked)
{
	char body[256];
	int fd;
	int64_t t0;

	start();
	fd = send_get("/wait/t");
	ck_assert(wait_parked(1, 2000));
	t0 = clk_mono_ms();
	http_server_quiesce(srv);
	ck_assert(http_server_drain(srv, 5000)); /* drained only once it was answered */
	ck_assert_int_ge(clk_mono_ms() - t0, 150);
	ck_assert_int_eq(read_answer(fd, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"from\":\"timeout\"}");
	http_server_free(srv);
	srv = NULL;
}
END_TEST

START_TEST(test_free_answers_503_to_parked)
{
	char body[512];
	int fd;

	start();
	fd = send_get("/wait/h");
	ck_assert(wait_parked(1, 2000));
	http_server_quiesce(srv);
	ck_assert(!http_server_drain(srv, 200));
	http_server_free(srv);
	srv = NULL;
	ck_assert_int_eq(read_answer(fd, body, sizeof(body)), 503);
	ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

/* A request parked just before the server is freed, its handler returning after the
 * poller stopped: answered 503 like the others (before, it was held suspended after the
 * stop had answered the list, and MHD_stop_daemon aborted the process on it). */
START_TEST(test_parked_as_the_server_stops_is_answered)
{
	char body[512];
	int fd;

	start();
	atomic_store(&freeing, false);
	fd = send_get("/wait/l");
	ck_assert(wait_parked(1, 2000));
	atomic_store(&freeing, true);
	http_server_quiesce(srv);
	http_server_free(srv);
	srv = NULL;
	ck_assert_int_eq(read_answer(fd, body, sizeof(body)), 503);
	ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

START_TEST(test_slow_polls_hold_no_deadline_back)
{
	int fds[10];
	char body[256];
	int fd;
	int64_t t0;

	start();
	t0 = clk_mono_ms();
	fd = send_get("/wait/t");
	ck_assert(wait_parked(1, 2000));
	for (int i = 0; i < 10; i++)
		fds[i] = send_get("/wait/s");
	/* ten polls of 100 ms: one period would take a second, past the 300 ms deadline */
	ck_assert_int_eq(read_answer(fd, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"from\":\"timeout\"}");
	ck_assert_int_lt(clk_mono_ms() - t0, 900);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	ck_assert(wait_parked(0, 5000));
	stop();
}
END_TEST

START_TEST(test_cap)
{
	static int fds[HTTP_PARK_LIMIT];
	char body[256];

	start();
	for (int i = 0; i < HTTP_PARK_LIMIT; i++)
		fds[i] = send_get("/wait/h");
	ck_assert(wait_parked(HTTP_PARK_LIMIT, 10000));
	ck_assert_int_eq(get("/wait/h", body, sizeof(body)), 429); /* the handler's own answer */
	for (int i = 0; i < HTTP_PARK_LIMIT; i++)
		close(fds[i]);
	ck_assert(wait_parked(0, 5000));
	ck_assert_int_eq(atomic_load(&freed), HTTP_PARK_LIMIT);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_park");
	TCase *tc = tcase_create("park");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_done_by_poller_while_the_thread_serves_others);
	tcase_add_test(tc, test_timeout_and_resume);
	tcase_add_test(tc, test_client_gone_is_freed);
	tcase_add_test(tc, test_drain_waits_for_parked);
	tcase_add_test(tc, test_parked_as_the_server_stops_is_answered);
	tcase_add_test(tc, test_free_answers_503_to_parked);
	tcase_add_test(tc, test_slow_polls_hold_no_deadline_back);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
