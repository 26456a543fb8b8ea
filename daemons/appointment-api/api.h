/* api.h — appointment-api's own context (api.c): what the lifecycle parts build and the
 * handlers use. main.c only wires those parts to run/lifecycle. */
#ifndef APPT_API_H
#define APPT_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "app/apikeys.h"
#include "app/conf.h"
#include "aws/dynamodb.h"
#include "aws/sns.h"
#include "base/log.h"
#include "base/metrics.h"
#include "domain/validate.h"
#include "pg/db.h"
#include "run/http.h"
#include "run/http_probe.h"
#include "run/lifecycle.h"
#include "run/ratelimit.h"

#define API_READY_WINDOW_MS 30000 /* /readyz trusts a success this recent (SPEC §3) */
#define API_DB_BACKOFF_MAX_MS 1000 /* cap of the wait between failed connects of a check */
#define API_STALL_MIN_MS 3000     /* the self-probe may go unanswered this long at least */
/* libmicrohttpd's idle cut-off is [api] request_timeout_s plus this: it also hits the
 * connections of a thread blocked in a handler, so it must outlast the longest a handler
 * blocks (the AWS budget of a request plus the schedule check); the sweeper of run/http
 * enforces the header and request deadlines, so this only bounds a client that does not
 * read its answer. */
#define API_IDLE_MARGIN_S 50
#define API_PROBE_TIMEOUT_MS 2000 /* with reuse_port: a probe unanswered this long is resent */
#define API_PROBE_EVERY_MS 1000   /* /readyz probes its dependencies at most this often */
#define API_PROBE_DEADLINE_MS 400 /* each /readyz probe call (DescribeTable, one per topic) */
#define API_PROBE_BUDGET_MS 800   /* all calls of one probe: /readyz answers within 1 s */
#define API_PROBE_MIN_MS 50       /* less left of the budget: the next probe goes on */
#define API_RELEASE_GRACE_MS 1000 /* a POST past its budget may still release its claim */
#define API_TOPIC_RETRY_MS 5000   /* after a failed look at a topic, no new one this long */
/* The PostgreSQL password SSM did not give at setup (password.c): asked again after
 * API_PW_RETRY_MIN_MS doubling up to API_PW_RETRY_MAX_MS (jittered) while SSM fails
 * transiently, every API_PW_RETRY_SLOW_MS after an answer that no retry mends by itself
 * (no such parameter, access denied), each attempt within API_PW_CALL_MS. */
#define API_PW_RETRY_MIN_MS 1000
#define API_PW_RETRY_MAX_MS 60000
#define API_PW_RETRY_SLOW_MS 300000
#define API_PW_CALL_MS 10000

/* The handlers give the query validators http_query's count as it is: up to
 * HTTP_MAX_QUERY + 1, refused above VAL_QUERY_MAX before a parameter is read. */
_Static_assert(HTTP_MAX_QUERY >= VAL_QUERY_MAX, "the query array holds what is validated");

/* One country's database connection of one HTTP thread, by country code. */
struct api_db {
	char code[3];        /* the country, as configured */
	struct db_conn *db;  /* made on first use */
	bool with_password;  /* db was made with api_pw_get's password (else made again once
			      * there is one) */
};

/* Clients of one HTTP pool thread (or of the server's poller of parked requests,
 * run/http_park): libcurl handles and libpq connections are not thread-safe, so each thread
 * has its own (created on first use, freed at exit). */
struct api_thread {
	struct ddb_client *ddb;
	struct sns_client *sns;
	struct api_db db[CONF_MAX_COUNTRIES]; /* by country code, in first-use order */
	size_t n_db;
};

/* Health of one dependency, for /readyz (ops.c): ready while a call succeeded within
 * API_READY_WINDOW_MS and none failed since. */
struct api_dep {
	atomic_llong last_ok_ms;   /* monotonic ms of the last success, 0 = never */
	atomic_llong last_fail_ms; /* monotonic ms of the last failure, 0 = never */
	bool probe_failing;        /* the last probe of it failed (logged once); touched only
				    * by the thread holding api_ctx.probing */
};

/* The topic of one country, by code: the configured ARN, or found by name (CreateTopic) on
 * first use; either way published to only once a look (publish_topic_subscribed) found a
 * confirmed subscription, since a topic without one delivers nothing (deleted and made
 * again empty by a CreateTopic by name). The plain members after usable are guarded by
 * api_ctx.topics_lock. */
struct api_topic {
	char code[3];             /* the country, as configured */
	struct api_dep dep;       /* the topic's own health: its Publish calls and probes */
	char arn[SNS_ARN_MAX];    /* written once, before resolved turns true; "" until then */
	atomic_bool resolved;     /* arn is final: read it without any lock */
	atomic_bool usable;       /* resolved, and the last look found a subscription */
	atomic_llong looked_ms;   /* monotonic ms of the last look that found one, 0 = never */
	bool resolving;           /* a thread is looking it up now (no lock held) */
	bool failed_once;         /* an attempt failed: nobody waits for the next one */
	bool empty_logged;        /* "no subscription" is logged for the current outage */
	int64_t retry_at_ms;      /* monotonic ms before which no new attempt is made */
	char error[256];          /* why the last attempt failed, for the deferred publishes */
};

/* The PostgreSQL password (password.c). value is written once, at setup or by the thread
 * that asks SSM again, and read by any thread without a lock; it is freed at teardown, once
 * that thread and the HTTP threads are gone. The atomics are read by any thread; stop is
 * guarded by lock; the plain members are setup's, then the thread's. */
struct api_pw {
	_Atomic(char *) value;    /* NULL: none (yet): checks skipped, or libpq's own sources */
	const struct conf *cfg;   /* the configuration of setup (lives until exit) */
	atomic_uint tries;        /* SSM attempts so far, setup's included (0: SSM not asked) */
	atomic_bool waiting;      /* SSM should give it and has not yet: the thread asks */
	atomic_bool abort;        /* the API stops: the SSM call in flight gives up */
	bool slow;                /* the last failure needs a fix (API_PW_RETRY_SLOW_MS) */
	int failures;             /* transient failures in a row, for the backoff */
	int64_t since_ms;         /* monotonic ms of setup's attempt */
	pthread_mutex_t lock;     /* guards stop, with cv */
	pthread_cond_t cv;        /* signalled when stop turns true */
	bool stop;                /* the thread ends at its next look */
	pthread_t thread;
	bool started;             /* thread runs: joined at teardown */
};

struct api_ctx {
	struct lifecycle *lc;           /* the process (configuration, signals, ...) */
	struct logger *lg;              /* the lifecycle's */
	struct metrics *metrics;        /* the lifecycle's */
	const struct aws_config *aws;   /* the lifecycle's */
	struct http_server *http;
	struct http_probe *probe;       /* the watchdog's sign of life */
	struct api_pw pw;               /* the PostgreSQL password (api_pw_get) */
	/* The configured codes, for validation; they point into the configuration of setup,
	 * which lives until exit, and a reload never changes the countries. */
	const char *countries[CONF_MAX_COUNTRIES + 1];
	size_t n_countries;
	pthread_mutex_t topics_lock;    /* guards topic resolution, never held across a call */
	pthread_cond_t topics_cv;       /* a resolution ended */
	struct api_topic topics[CONF_MAX_COUNTRIES]; /* one per country, by code */
	struct ratelimit rl;            /* the process's bucket */
	struct ratelimit_clients *client_rl; /* one bucket per API key or client address */
	atomic_llong last_probe_ms;     /* monotonic ms /readyz last probed the dependencies */
	atomic_bool probing;            /* a /readyz is probing now (the others do not) */
	size_t probe_next;              /* the topic the next probe starts with (one probe's
					 * budget may not reach them all); the prober's only */
	atomic_bool stopping;           /* SIGTERM came: /readyz answers 503 from now on */
	pthread_rwlock_t keys_lock;     /* guards keys across SIGHUP */
	struct apikeys *keys;           /* NULL = API keys disabled */
	pthread_key_t tls;              /* struct api_thread of the calling thread */
	bool tls_made;                  /* tls was created */
	pthread_mutex_t threads_lock;
	struct api_thread *threads[512];/* every api_thread made, freed at exit */
	size_t n_threads;
	struct api_dep ddb_dep;         /* every DynamoDB call of the API, and the probe */
};

/* The calling thread's clients, made on first use; NULL with eb filled on failure. */
struct api_thread *api_thread_get(struct api_ctx *ctx, struct errbuf *eb);
/* The calling thread's connection to country code's database, made on first use. */
enum rc api_thread_db(struct api_ctx *ctx, struct api_thread *t, const char *code,
		      struct db_conn **db, struct errbuf *eb) MUSTCHECK;
/* The PostgreSQL password (password.c). api_pw_init comes first, with the other locks;
 * api_pw_setup resolves the password in setup (SPEC §2 sources; main thread, environment
 * still set) and logs where it came from; when SSM should have given it but did not,
 * api_pw_start (in start, the environment gone) starts a thread asking SSM again until it
 * answers or api_pw_stop (the lame duck: an attempt in flight gives up); api_pw_cleanup
 * joins it and frees the password (teardown, after the HTTP threads). api_pw_get: the
 * password, NULL while there is none, never changed once set (any thread; valid until
 * teardown). */
void api_pw_init(struct api_pw *pw);
void api_pw_setup(struct api_ctx *ctx);
void api_pw_start(struct api_ctx *ctx);
const char *api_pw_get(struct api_ctx *ctx);
/* Appends "; no PostgreSQL password (...)" to status[0..n) while the thread waits. */
void api_pw_status(struct api_ctx *ctx, char *status, size_t n);
void api_pw_stop(struct api_ctx *ctx);
void api_pw_cleanup(struct api_ctx *ctx);

/* The current configuration, valid until the request ends (run/lifecycle). */
const struct conf *api_cfg(struct api_ctx *ctx);
/* Records the outcome of a DynamoDB call for /readyz (the clients' observer counts every
 * call in appointmentd_aws_calls_total): any answer about an item, a missing one or a
 * failed condition included, proves the service up. Any thread. */
void api_dep_mark(struct api_dep *dep, enum rc rc);
/* Records the outcome of a call to the SNS topic of country code (a Publish, or the lookup
 * before it) for /readyz. Only RC_OK proves it up: a missing topic (RC_NOTFOUND) or a
 * refused one (AuthorizationError: RC_INVAL) fails every publish of that country. Any
 * thread; an unknown code is ignored. */
void api_topic_mark(struct api_ctx *ctx, const char *code, enum rc rc);
/* The topic ARN of country code to publish to (valid until exit): the configured one, else
 * found by name with CreateTopic, once a look (publish_topic_subscribed) found it has a
 * confirmed subscription. One thread looks at a time per topic and holds no lock meanwhile;
 * the first look's concurrent callers wait for it (at most the POST's AWS budget), after a
 * failure nobody waits and no new look is made for API_TOPIC_RETRY_MS (a negative cache: an
 * SNS outage costs one look per period, not one per POST): RC_RETRY then, the publish is
 * left to the reconciler. A topic without a subscription is a failure (RC_NOTFOUND, logged
 * once as an error): it would take the message and deliver it to no queue. Any thread. */
enum rc api_topic_arn(struct api_ctx *ctx, struct api_thread *t, const char *code,
		      const char **arn, struct errbuf *eb) MUSTCHECK;
/* The /readyz probe's look at the topic of country code: api_topic_arn's, made now whatever
 * the negative cache says (the probe runs at most once a second), also on a usable topic
 * (a topic deleted and made again empty since it was found keeps its ARN: only a look
 * tells). RC_OK when it has a subscription. Any thread; waits for a look in flight within
 * the caller's AWS deadline, and sets *busy when that look was still running at the
 * deadline (RC_TIMEOUT then says nothing of the topic). */
enum rc api_topic_look(struct api_ctx *ctx, struct api_thread *t, const char *code,
		       bool *busy, struct errbuf *eb) MUSTCHECK;

/* The API's parts of the lifecycle (api.c; main.c wires them). */
enum rc api_setup(struct lifecycle *lc, const void *ud, void **app, struct errbuf *eb);
enum rc api_start(void *app, char *status, size_t n, struct errbuf *eb);
enum rc api_reload(void *app, const struct conf *next, struct errbuf *eb);
bool api_tick(void *app, char *status, size_t n);
int api_lame_duck(void *app);
int api_drain_ms(const struct conf *c);
void api_quiesce(void *app);
bool api_drain(void *app, int timeout_ms);
unsigned api_in_flight(void *app);
uint64_t api_readers_next(void *app);
uint64_t api_readers_oldest(void *app);
void api_teardown(void *app);

/* Sets the AWS deadline (monotonic ms, 0 = none) of the calling thread's clients: every
 * request sets its own before its first AWS call (guard.c for the API routes, ops.c for
 * /readyz). */
void api_budget_set(struct api_thread *t, int64_t deadline_ms);
/* The per-client rate (or burst) in effect: per_client, or half of process's (>= 1). */
int api_client_rate(int per_client, int process);

/* Route table and guard (handlers.c, ops.c, guard.c). */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;
bool api_guard(void *ud, const struct http_request *req, struct http_response *resp);
void api_post_appointment(void *ud, const struct http_request *req, struct http_response *resp);
void api_list_appointments(void *ud, const struct http_request *req, struct http_response *resp);
void api_list_schedules(void *ud, const struct http_request *req, struct http_response *resp);
/* GET /appointments/{insuredId}/{appointmentId}, waitFor included (appointment_get.c). */
void api_get_appointment(void *ud, const struct http_request *req, struct http_response *resp);
/* DELETE /appointments/{insuredId}/{appointmentId}, the cancel (appointment_cancel.c). */
void api_cancel_appointment(void *ud, const struct http_request *req,
			    struct http_response *resp);
/* Reads the item of (insured, id) into *a (strongly consistent): true when found; false
 * after answering 404 APPOINTMENT_NOT_FOUND (absent, or another insured's) or the failure
 * (api_reply_store_failure). An HTTP thread with its clients t (appointment_get.c). */
bool api_read_item(struct api_ctx *ctx, struct api_thread *t, const char *insured,
		   const char *id, struct appointment *a, const struct http_request *req,
		   struct http_response *resp);
/* The item a route on one appointment acts on, once its path (insured, id) is valid: names
 * it in the request's log line, takes the thread's clients (*t) and reads it
 * (api_read_item). False after answering. */
bool api_load_item(struct api_ctx *ctx, const char *insured, const char *id,
		   struct api_thread **t, struct appointment *a, const struct http_request *req,
		   struct http_response *resp);
/* Answers item a in the list's item shape with status (200, 202) and its strong ETag; 304
 * without a body instead when If-None-Match (inm, may be NULL) holds that ETag. */
void api_reply_item(const struct appointment *a, int status, const char *inm,
		    const struct http_request *req, struct http_response *resp);
/* Publishes a's message (its creation, or its cancel when a is cancelling) to its country
 * topic; a failure is logged, counted (appointmentd_publish_deferred_total) and left to the
 * reconciler, which sends a's message again (SPEC §3, §6) (handlers.c). */
void api_publish_or_defer(struct api_ctx *ctx, struct api_thread *t,
			  const struct appointment *a, const struct http_request *req);
/* Answers a failed DynamoDB call (rc, eb from the store): unreachable, throttled or past
 * the deadline is 503 with Retry-After (the client may retry), anything else is our bug
 * (500). */
void api_reply_store_failure(struct http_response *resp, const struct http_request *req,
			     enum rc rc, const struct errbuf *eb);
/* Answers the SPEC §3 error body of errs (result not VAL_OK). */
void api_reply_validation(struct http_response *resp, const struct http_request *req,
			  const struct val_errors *errs);
void api_healthz(void *ud, const struct http_request *req, struct http_response *resp);
void api_readyz(void *ud, const struct http_request *req, struct http_response *resp);
void api_metrics(void *ud, const struct http_request *req, struct http_response *resp);

/* Metric families of the API beyond http's own; its label-less counters, made at 0. */
enum rc api_metrics_describe(struct metrics *m) MUSTCHECK;

#endif
