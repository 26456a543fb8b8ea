/* api.h — appointment-api's own context: what main() wires and the handlers use. */
#ifndef APPT_API_H
#define APPT_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "app/apikeys.h"
#include "aws/dynamodb.h"
#include "aws/sns.h"
#include "app/conf.h"
#include "pg/db.h"
#include "run/http.h"
#include "base/log.h"
#include "base/metrics.h"
#include "run/ratelimit.h"
#include "run/svc.h"

#define API_READY_WINDOW_MS 30000 /* /readyz trusts a success this recent (SPEC §3) */
#define API_MAX_RETIRED_CFG 64    /* reloads kept alive until exit (handlers may read them) */

/* Clients of one HTTP pool thread: libcurl handles and libpq connections are not
 * thread-safe, so each thread has its own (created on first use, freed at exit). */
struct api_thread {
	struct ddb_client *ddb;
	struct sns_client *sns;
	struct db_conn *db[CONF_MAX_COUNTRIES]; /* by country index; NULL until used */
};

/* Health of one dependency, for /readyz. */
struct api_dep {
	atomic_llong last_ok_ms;   /* monotonic ms of the last success, 0 = never */
	atomic_llong last_fail_ms; /* monotonic ms of the last failure, 0 = never */
};

struct api_ctx {
	_Atomic(struct conf *) cfg;      /* current configuration */
	struct conf *retired[API_MAX_RETIRED_CFG]; /* earlier ones, freed at exit */
	size_t n_retired;
	struct logger lg;
	struct svc svc;
	struct metrics *metrics;
	struct http_server *http;
	struct aws_config aws;
	char *db_password;              /* NULL when none could be resolved */
	const char *countries[CONF_MAX_COUNTRIES + 1]; /* configured codes, for validation */
	size_t n_countries;
	pthread_mutex_t topics_lock;    /* guards topic_arn resolution */
	char topic_arn[CONF_MAX_COUNTRIES][SNS_ARN_MAX]; /* "" until resolved */
	struct ratelimit rl;
	pthread_rwlock_t keys_lock;     /* guards keys across SIGHUP */
	struct apikeys *keys;           /* NULL = API keys disabled */
	pthread_key_t tls;              /* struct api_thread of the calling thread */
	pthread_mutex_t threads_lock;
	struct api_thread *threads[512];/* every api_thread made, freed at exit */
	size_t n_threads;
	struct api_dep ddb_dep;
	struct api_dep sns_dep;
};

/* The calling thread's clients, made on first use; NULL with eb filled on failure. */
struct api_thread *api_thread_get(struct api_ctx *ctx, struct errbuf *eb);
/* The current configuration (valid until exit). */
const struct conf *api_cfg(struct api_ctx *ctx);
/* Records the outcome of a DynamoDB/SNS call for /readyz (the clients' observer counts
 * every call in appointmentd_aws_calls_total). */
void api_dep_mark(struct api_dep *dep, enum rc rc);
/* The topic ARN of country index ci, resolved from its name on first use. */
enum rc api_topic_arn(struct api_ctx *ctx, struct api_thread *t, size_t ci, const char **arn,
		      struct errbuf *eb) MUSTCHECK;

/* Route table and guard (handlers.c, ops.c, guard.c). */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;
bool api_guard(void *ud, const struct http_request *req, struct http_response *resp);
void api_post_appointment(void *ud, const struct http_request *req, struct http_response *resp);
void api_list_appointments(void *ud, const struct http_request *req, struct http_response *resp);
void api_healthz(void *ud, const struct http_request *req, struct http_response *resp);
void api_readyz(void *ud, const struct http_request *req, struct http_response *resp);
void api_metrics(void *ud, const struct http_request *req, struct http_response *resp);

/* Metric families of the API beyond http's own. */
enum rc api_metrics_describe(struct metrics *m) MUSTCHECK;

#endif
