/* itest.h — what the C test programs share: configs that point the AWS clients at the local
 * stack (never at AWS) with short test timings, the two SQS emulators the sqs and sns tests
 * loop over, names unique per run, JSON helpers, and running a suite. Compiled into every
 * executable of tests/unit and tests/integration; tests may abort, so lib/ never uses it. */
#ifndef APPT_ITEST_H
#define APPT_ITEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "aws/core.h"
#include "base/buf.h"
#include "base/rc.h"

struct json_object;

/* ---- configs for the local stack ------------------------------------------------------ */

#define ITEST_ENDPOINTS_MAX 2 /* endpoint variables one itest_env overrides */

/* The endpoints itest_getenv answers with: url[i] for the variable var[i] (NULL = unused);
 * AWS_ENDPOINT_URL answers url[0]. */
struct itest_env {
	const char *var[ITEST_ENDPOINTS_MAX]; /* e.g. "AWS_ENDPOINT_URL_SQS" */
	const char *url[ITEST_ENDPOINTS_MAX]; /* its value */
};

/* An aws_env getter; ctx is a struct itest_env. Answers the overridden endpoints,
 * AWS_EC2_METADATA_DISABLED=true (IMDS is never asked), then the process environment (empty
 * counts as unset), then AWS_REGION=us-east-1 and the credentials test/test. The strings
 * stay valid while te and the environment do. */
const char *itest_getenv(void *ctx, const char *name);

/* The value of the variable var; aborts the test ("run through scripts/test") when it is
 * unset or empty. */
const char *itest_need_env(const char *var);

/* True for the loopback URLs an endpoint of the tests may have: http://127.*,
 * http://localhost:*, http://[::1]:*. */
bool itest_loopback(const char *url);

/* Resolves cfg from te through itest_getenv and shortens its timings for emulators (10 s
 * per request, backoff 20..200 ms). False with why filled ("config: ...") on failure. */
bool itest_config_env(const struct itest_env *te, struct aws_config *cfg, struct errbuf *why);

/* itest_config_env for the one service whose endpoint is the variable var, which must be
 * set and a loopback URL. False with why naming the variable otherwise; never aborts, so a
 * teardown may use it. */
bool itest_config(const char *var, struct aws_config *cfg, struct errbuf *why);

/* A config no request can leave the process with: region us-east-1, every endpoint
 * http://127.0.0.1:1 (refused), static empty credentials, one attempt. */
void itest_unreachable_config(struct aws_config *cfg);

/* ---- the SQS emulators ---------------------------------------------------------------- */

/* The emulators the sqs and sns tests run each loop test against (check's _i). */
enum itest_target {
	T_MOTO = 0, /* moto: AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_SNS */
	T_FAUXQS,   /* fauxqs: APPT_FAUXQS_URL for both services */
	T_COUNT     /* number of targets, not a target */
};
extern const char *const itest_target_names[T_COUNT]; /* "moto", "fauxqs" */

/* The SQS endpoint of target t; aborts the test when its variable is unset. */
const char *itest_target_sqs(int t);

/* A config for target t: its SQS endpoint and, with sns, its SNS endpoint, both replaced by
 * override when not NULL (a proxy, a refused port). Every variable of the target must be set
 * even then. Asserts that the endpoints are the overridden ones. */
void itest_target_config(int t, bool sns, const char *override, struct aws_config *cfg);

/* Fails the loop test (index _i over the targets) with the AWS detail in *errp when call
 * does not return RC_OK. */
#define CK_AWS(call, errp)                                                                     \
	do {                                                                                   \
		enum rc rc_ = (call);                                                          \
		struct errbuf eb_ = {{0}};                                                     \
		if (rc_ != RC_OK) {                                                            \
			aws_error_to_eb((errp), &eb_);                                         \
			ck_abort_msg("[%s] %s failed: %s", itest_target_names[_i], #call,      \
				     eb_.msg);                                                 \
		}                                                                              \
	} while (0)

/* Checks a call's rc, printing the call and its message otherwise. The caller has a
 * struct errbuf eb, which the call fills. */
#define CK_RC(want, call)                                                                      \
	do {                                                                                   \
		enum rc rc_;                                                                   \
		memset(&eb, 0, sizeof(eb));                                                    \
		rc_ = (call);                                                                  \
		ck_assert_msg(rc_ == (want), "%s: got %s, want %s: %s", #call, rc_name(rc_),   \
			      rc_name(want), eb.msg);                                          \
	} while (0)

/* ---- names ---------------------------------------------------------------------------- */

/* A random value for names (getrandom, else the clock). */
unsigned int itest_random(void);

/* "appt-it-<8 hex>": the prefix of every resource of one run, into out. */
void itest_run_prefix(char *out, size_t outsz);

/* "appt-it-<8 hex>-<what>", with a fresh random part on every call. */
void itest_unique_name(const char *what, char *out, size_t outsz);

/* ---- JSON ----------------------------------------------------------------------------- */

/* o as compact text without '/' escapes (the form the clients send); valid while o lives. */
const char *itest_text(struct json_object *o);

/* Parses the test's own JSON text s (the caller puts the result); aborts when it is not. */
struct json_object *itest_parse(const char *s);

/* ---- checks --------------------------------------------------------------------------- */

/* The length limit of a string predicate: ok(NULL) and ok(max + 1 bytes of fill) are false,
 * ok(max bytes of fill) is true. */
void itest_check_max_len(bool (*ok)(const char *), size_t max, char fill);

/* ---- the fault proxy (tests/support/faultproxy/faultproxy.py) ---------------------------- */

/* A running faultproxy in front of one loopback upstream. */
struct itest_proxy {
	pid_t pid;    /* the proxy process */
	int stdin_fd; /* the proxy exits when this closes */
	char url[64]; /* "http://127.0.0.1:<port>": the endpoint to give the client */
};

/* Starts the proxy in front of upstream (a loopback URL); aborts the test when it does not
 * come up. Needs APPT_SOURCE_ROOT (meson test sets it). */
void itest_proxy_start(struct itest_proxy *p, const char *upstream);
/* Stops it (by its pid) and waits for it. */
void itest_proxy_stop(struct itest_proxy *p);
/* POSTs body to the proxy's control path ("/__faultproxy/plan", "/__faultproxy/rules"), or
 * GETs it when body is NULL; the answer goes to out. Aborts the test on a transport error. */
void itest_proxy_control(const struct itest_proxy *p, const char *path, const char *body,
			 struct buf *out);
/* One counter of /__faultproxy/stats ("seen", "faulted", "forwarded"). */
int itest_proxy_stat(const struct itest_proxy *p, const char *key);

/* ---- DynamoDB tables ------------------------------------------------------------------ */

struct ddb_client;
struct ddb_table_spec;

/* aws_global_init, a DynamoDB client of the local stack (AWS_ENDPOINT_URL_DYNAMODB must be
 * set) and a new table "<prefix>-<8 hex>" (written to table, size bytes) made by spec_fn,
 * waited for until active. Aborts the test on any failure. */
struct ddb_client *itest_ddb_table_new(const char *prefix,
				       void (*spec_fn)(const char *table, struct ddb_table_spec *spec),
				       char *table, size_t size);
/* Deletes the table, frees the client and calls aws_global_cleanup. */
void itest_ddb_table_free(struct ddb_client *ddb, const char *table);

/* ---- PostgreSQL ----------------------------------------------------------------------- */

struct pg_conn; /* libpq's PGconn */

/* DROP DATABASE IF EXISTS name WITH (FORCE) on admin (name: safe unquoted DDL), tried again
 * for up to 10 s while another process holds the database that our role may not end:
 * PostgreSQL 15 refuses to terminate an autovacuum worker for a non-superuser ("must be a
 * member of the role whose process is being terminated"), and a large insert starts one.
 * Aborts the test when it still fails. */
void itest_pg_drop_database(struct pg_conn *admin, const char *name);

/* ---- running -------------------------------------------------------------------------- */

/* aws_global_init; false with the reason on stderr. */
bool itest_aws_init(void);

/* Runs the suite s in mode, frees it, and returns the process exit status: EXIT_SUCCESS
 * when no test failed. */
int itest_run(Suite *s, enum print_output mode);

#endif
