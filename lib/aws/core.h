/* core.h — the one AWS request core: configuration resolved from the environment (region,
 * endpoints, credentials chain), SigV4-signed POSTs to "/" through libcurl, bounded retries
 * with backoff and jitter, and the mapping of every failure to an enum rc. Service modules
 * (sqs, sns, dynamodb, eventbridge, ssm) build bodies and parse answers on top of it. */
#ifndef APPT_AWS_CORE_H
#define APPT_AWS_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/rc.h"

struct json_object;

/* Limits on what we accept from the environment, files and the network. */
#define AWS_REGION_MAX 64          /* region name, with NUL ("ap-southeast-1") */
#define AWS_URL_MAX 1024           /* endpoint URL, with NUL */
#define AWS_PROFILE_MAX 128        /* profile name, with NUL */
#define AWS_PATH_MAX 4096          /* credentials/config file path, with NUL */
#define AWS_KEY_ID_MAX 129         /* access key id, with NUL (AWS says up to 128) */
#define AWS_SECRET_MAX 256         /* secret access key, with NUL */
#define AWS_TOKEN_MAX 4096         /* session token, with NUL (STS tokens run ~1-2 KiB) */
#define AWS_FILE_MAX (64 * 1024)   /* a shared credentials/config file */
#define AWS_REQUEST_MAX (4u << 20) /* one request body (SQS batches: 1 MiB of payload) */
#define AWS_RESPONSE_MAX (8u << 20) /* one response body (10 SQS messages of 256 KiB + meta) */
#define AWS_JSON_DEPTH_MAX 64      /* nesting accepted in a JSON answer */
#define AWS_OP_MAX 64              /* operation name, with NUL */
#define AWS_CODE_MAX 128           /* AWS error code, with NUL */
#define AWS_MESSAGE_MAX 512        /* AWS error message, with NUL (longer is cut) */
#define AWS_REQUEST_ID_MAX 128     /* request id, with NUL */
#define AWS_NOTICE_MAX 512         /* aws_config.notice, with NUL */

/* The services we talk to. The value indexes aws_config.endpoint. */
enum aws_service {
	AWS_SVC_DYNAMODB = 0, /* JSON 1.0, X-Amz-Target DynamoDB_20120810.<Op>, signs "dynamodb" */
	AWS_SVC_SNS,          /* Query protocol (form body, XML answers), signing name "sns" */
	AWS_SVC_SQS,          /* JSON 1.0, X-Amz-Target AmazonSQS.<Op>, signing name "sqs" */
	AWS_SVC_EVENTBRIDGE,  /* JSON 1.1, X-Amz-Target AWSEvents.<Op>, signing name "events" */
	AWS_SVC_SSM,          /* JSON 1.1, X-Amz-Target AmazonSSM.<Op>, signing name "ssm" */
	AWS_SVC_COUNT         /* number of services, not a service */
};

/* Where the credentials in an aws_config come from. */
enum aws_creds_source {
	AWS_CREDS_NONE = 0, /* nothing found (only in a config that failed to resolve) */
	AWS_CREDS_ENV,      /* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN] */
	AWS_CREDS_FILE,     /* shared credentials file or config file, for the profile */
	AWS_CREDS_STATIC,   /* set in code by the caller (tests, cfg overrides) */
	AWS_CREDS_IMDS,     /* fetched lazily by each client from IMDSv2 and refreshed */
};

/* One set of credentials. */
struct aws_creds {
	char access_key_id[AWS_KEY_ID_MAX];     /* e.g. "AKIA..." */
	char secret_access_key[AWS_SECRET_MAX]; /* never logged */
	char session_token[AWS_TOKEN_MAX];      /* "" when the credentials are not temporary */
	time_t expires_at;                      /* epoch seconds; 0 = does not expire */
};

/* Reads one environment variable: returns its value (valid until the config call returns)
 * or NULL when unset. ctx is the caller's. Lets tests feed values without setenv(). */
struct aws_env {
	const char *(*get)(void *ctx, const char *name); /* the lookup */
	void *ctx;                                       /* passed to get as is */
};

/* Everything a client needs, resolved once and then read-only (share it between threads).
 * A value struct: copy it freely; it owns no memory. */
struct aws_config {
	char region[AWS_REGION_MAX];                 /* e.g. "us-east-1"; never empty once resolved */
	char endpoint[AWS_SVC_COUNT][AWS_URL_MAX];   /* "scheme://host[:port]" per service, no path */
	bool endpoint_overridden[AWS_SVC_COUNT];     /* true when it came from AWS_ENDPOINT_URL[_X] */
	char profile[AWS_PROFILE_MAX];               /* AWS_PROFILE or "default" */
	enum aws_creds_source creds_source;          /* where creds came from */
	struct aws_creds creds;                      /* static creds; empty when source is IMDS */
	char imds_endpoint[AWS_URL_MAX];             /* IMDSv2 base URL, no trailing slash */
	long imds_timeout_ms;                        /* connect + total per IMDS request (1000) */
	long connect_timeout_ms;                     /* TCP+TLS connect per attempt (3000) */
	long request_timeout_ms;                     /* total per attempt (5000) */
	int max_attempts;                            /* attempts per call incl. the first (4) */
	long retry_budget_ms;                        /* no new attempt after this much time (10000) */
	long backoff_base_ms;                        /* first backoff ceiling (100) */
	long backoff_max_ms;                         /* largest backoff ceiling (2000) */
	char notice[AWS_NOTICE_MAX];                 /* what resolution passed over that an
						      * operator should hear of (a shared file
						      * that could not be read and was not
						      * needed), for the caller to log once at
						      * warning level; "" when nothing */
};

/* Default timeouts and retry policy (see docs/aws-client.md). */
#define AWS_DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define AWS_DEFAULT_REQUEST_TIMEOUT_MS 5000L
#define AWS_DEFAULT_MAX_ATTEMPTS 4
#define AWS_DEFAULT_RETRY_BUDGET_MS 10000L
#define AWS_DEFAULT_BACKOFF_BASE_MS 100L
#define AWS_DEFAULT_BACKOFF_MAX_MS 2000L
#define AWS_DEFAULT_IMDS_TIMEOUT_MS 1000L
#define AWS_MAX_ATTEMPTS_LIMIT 10 /* AWS_MAX_ATTEMPTS above this is rejected */

/* Process-wide library setup: curl_global_init. Call once from main()
 * before any thread exists (STYLE rule 9); pair with aws_global_cleanup at exit. */
enum rc aws_global_init(struct errbuf *eb) MUSTCHECK;
void aws_global_cleanup(void);

/* An aws_env reading the process environment with getenv() (ctx unused). */
struct aws_env aws_env_process(void);

/* Fills cfg from env following the AWS SDK conventions:
 *   region:   AWS_REGION > AWS_DEFAULT_REGION > "region" of the profile in the config file;
 *   endpoint: AWS_ENDPOINT_URL_<SVC> (DYNAMODB, SNS, SQS, EVENTBRIDGE, SSM) > AWS_ENDPOINT_URL
 *             > https://<svc>.<region>.amazonaws.com (EventBridge: events.<region>...);
 *             AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips straight to the last;
 *   creds:    AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) > the profile
 *             (AWS_PROFILE, else "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials)
 *             then in AWS_CONFIG_FILE (~/.aws/config) > IMDSv2 unless
 *             AWS_EC2_METADATA_DISABLED=true (endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT);
 *             a source we do not implement (role_arn, web identity, SSO, credential_process,
 *             container credentials) is an error where botocore would use it, never skipped
 *             (docs/aws-client.md has the exact order);
 *   retries:  AWS_MAX_ATTEMPTS (1..AWS_MAX_ATTEMPTS_LIMIT) overrides the default.
 * Touches no network (IMDS is asked by the client on first use). Fails with RC_INVAL and a
 * message naming the variable or file for: no region, a malformed URL or region, a partial
 * key pair, a named profile that exists nowhere, an unsupported credential source, no
 * credentials at all, oversized values.
 * RC_IO when a shared file exists but cannot be read (EACCES, a directory) and is needed; one
 * not needed (the credentials file when AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set, the
 * config file when AWS_REGION or AWS_DEFAULT_REGION is set too) is passed over as botocore
 * does, and cfg->notice says so. Thread-safe if env->get is. */
enum rc aws_config_from_env(struct aws_config *cfg, const struct aws_env *env,
			    struct errbuf *eb) MUSTCHECK;

/* True when r is a region name as we accept it: 1..AWS_REGION_MAX-1 bytes of lower-case
 * letters, digits and dashes, starting with a letter or digit and not ending with a dash.
 * For checking a configured value before it is used (app/conf). */
bool aws_region_valid(const char *r);

/* Validates url as an endpoint (http or https, a host, optional port, no user info, no
 * query or fragment, path empty or "/") and writes it normalised ("scheme://host[:port]")
 * into out. RC_INVAL with the reason otherwise. */
enum rc aws_endpoint_parse(const char *url, char out[AWS_URL_MAX], struct errbuf *eb) MUSTCHECK;

/* Stable names: "dynamodb", "sns", "sqs", "eventbridge", "ssm" (for logs and metrics),
 * and the SigV4 signing names ("events" for EventBridge). Never NULL. */
const char *aws_service_name(enum aws_service svc);
const char *aws_service_signing_name(enum aws_service svc);

/* The body of a successful answer. Embedded value: aws_response_init / aws_response_cleanup. */
struct aws_response {
	long status;                          /* HTTP status (2xx when aws_call returned RC_OK) */
	struct buf body;                      /* the answer body, capped at AWS_RESPONSE_MAX */
	char request_id[AWS_REQUEST_ID_MAX];  /* x-amzn-RequestId / x-amz-request-id, or "" */
};
void aws_response_init(struct aws_response *r);
void aws_response_cleanup(struct aws_response *r); /* accepts NULL; reusable afterwards */

/* Why a call failed. A value struct, filled on every aws_call (zeroed on success). */
struct aws_error {
	enum aws_service service;             /* the client's service */
	char operation[AWS_OP_MAX];           /* e.g. "SendMessage" */
	long http_status;                     /* last HTTP status; 0 when no answer came */
	char code[AWS_CODE_MAX];              /* AWS code ("QueueDoesNotExist") or ours (below) */
	char message[AWS_MESSAGE_MAX];        /* AWS message or curl's/our explanation */
	char request_id[AWS_REQUEST_ID_MAX];  /* from the headers or the error body, or "" */
	int attempts;                         /* attempts made, including the first */
	enum rc rc;                           /* the mapped kind, as aws_call returned it */
};
/* Codes we set when AWS gave none: "NetworkError", "Timeout", "Aborted", "ResponseTooLarge",
 * "MalformedResponse" (an answer we could not parse), "HttpError" (a status without a body
 * we could read), "CredentialsError" (IMDS failed), "InvalidArgument" / "RequestTooLarge"
 * (refused before sending; attempts is 0 then). */

/* Fills err for a failure found before anything was sent (bad argument, over a limit,
 * unparsable 2xx answer in a service module) and returns rc. err may be NULL. */
enum rc aws_error_local(struct aws_error *err, enum aws_service svc, const char *op, enum rc rc,
			const char *code, const char *fmt, ...) PRINTF(6, 7);

/* The kind an AWS error code (or, without a code, an HTTP status) maps to, and whether it
 * is worth retrying: the table aws_call uses, for per-entry results of batch operations
 * (SQS batch failures, DynamoDB cancellation reasons). code may be NULL or "". */
enum rc aws_code_to_rc(enum aws_service svc, long http_status, const char *code, bool *retryable);

/* Writes a one-line summary of err into eb: "sqs SendMessage: HTTP 400 QueueDoesNotExist:
 * <message> (request id ..., 1 attempt)". Returns err->rc so it can end a failure path. */
enum rc aws_error_to_eb(const struct aws_error *err, struct errbuf *eb);

/* One client: one service, one CURL easy handle (connection reuse), one retry jitter state,
 * and (for IMDS) its own cached credentials. Not thread-safe: use one per thread. */
struct aws_client;

/* Creates a client for svc. cfg is copied. RC_NOMEM / RC_FATAL (curl) fail it; returns NULL
 * then with eb filled. */
struct aws_client *aws_client_new(const struct aws_config *cfg, enum aws_service svc,
				  struct errbuf *eb);
/* Frees the client and its connection. Accepts NULL. */
void aws_client_free(struct aws_client *c);

/* The service and config a client was made with; valid while the client lives. */
enum aws_service aws_client_service(const struct aws_client *c);
const struct aws_config *aws_client_config(const struct aws_client *c);

/* Makes any transfer of this client, and any backoff sleep, stop soon after *flag becomes
 * true (the call then fails with RC_IO, code "Aborted", not retried). For the SIGTERM drain
 * of a long poll. flag must outlive the client or be reset with NULL. */
void aws_client_set_abort_flag(struct aws_client *c, const atomic_bool *flag);

/* Sets a deadline, CLOCK_MONOTONIC ms (clk_mono_ms), that no call of c runs past: each
 * attempt's timeout and the retry budget are cut to it, and a call made after it fails at
 * once with RC_TIMEOUT, code "DeadlineExceeded" (nothing sent). 0 removes it. For a request
 * that has a total time budget over several calls. Not thread-safe (like the client). */
void aws_client_set_deadline(struct aws_client *c, int64_t deadline_ms);
/* The deadline set last, 0 when none: a caller that waits for something else within the same
 * budget bounds the wait with it. */
int64_t aws_client_deadline(const struct aws_client *c);

/* Told the outcome of every call a client makes (after its retries): for metrics such as
 * appointmentd_aws_calls_total{service,operation,outcome}. Runs on the calling thread. */
typedef void (*aws_observer_fn)(void *ud, enum aws_service svc, const char *operation,
				enum rc rc);
/* Sets (or with NULL clears) the observer of c; ud is passed as is. */
void aws_client_set_observer(struct aws_client *c, aws_observer_fn fn, void *ud);

/* Per-call overrides of the client's policy; zero fields mean "the config's value". */
struct aws_call_opts {
	long request_timeout_ms; /* total per attempt, e.g. long poll wait + margin */
	int max_attempts;        /* 1 = no retry */
	long retry_budget_ms;    /* time after which no new attempt starts */
};

/* POSTs body (len bytes; NULL with 0 allowed) to the endpoint root "/", signed with SigV4.
 * target_or_action: for JSON services the operation ("SendMessage"), sent as
 * "X-Amz-Target: <prefix>.<op>"; for SNS the Action, which the caller's form body must
 * already carry (it is used for the error report only).
 * content_type: NULL = the service's own (application/x-amz-json-1.0 or -1.1, or
 * application/x-www-form-urlencoded; charset=utf-8 for SNS).
 * Retries network errors, timeouts, 5xx, 429 and throttling codes with full-jitter backoff,
 * within max_attempts and the retry budget; never 4xx validation errors.
 * On RC_OK out holds the 2xx answer (out->body reset first); err then has an empty code
 * and message (earlier failed attempts leave no trace) and the attempts, status and request
 * id. Otherwise returns the mapped kind (RC_CONFLICT, RC_NOTFOUND, RC_RETRY, RC_IO,
 * RC_TIMEOUT, RC_INVAL, RC_NOMEM, RC_FATAL) with err filled; out then holds the last error
 * answer's body. out and err may be NULL. target_or_action must be 1..AWS_OP_MAX-1 letters
 * and digits, content_type printable ASCII under 128 bytes (else RC_INVAL, nothing sent).
 * Blocks at most max(retry budget, attempt timeout), plus any IMDS fetches (at most three
 * requests of imds_timeout_ms per attempt). */
enum rc aws_call(struct aws_client *c, const char *target_or_action, const char *content_type,
		 const char *body, size_t len, struct aws_response *out,
		 struct aws_error *err) MUSTCHECK;

/* aws_call with per-call overrides (opts may be NULL). */
enum rc aws_call_with(struct aws_client *c, const struct aws_call_opts *opts,
		      const char *target_or_action, const char *content_type, const char *body,
		      size_t len, struct aws_response *out, struct aws_error *err) MUSTCHECK;

/* For the JSON services: serialises req (borrowed; NULL = "{}"), calls, and parses the 2xx answer
 * (bounded by AWS_RESPONSE_MAX and AWS_JSON_DEPTH_MAX) into *out, which the caller then
 * owns (json_object_put). An empty 2xx body parses as an empty object. A 2xx answer that is
 * not a JSON object fails with RC_IO, code "MalformedResponse", not retried (the service
 * may have acted). opts may be NULL. */
enum rc aws_call_json(struct aws_client *c, const struct aws_call_opts *opts, const char *op,
		      struct json_object *req, struct json_object **out,
		      struct aws_error *err) MUSTCHECK;

/* ---- For the service modules ------------------------------------------------------------
 * What sqs, sns, dynamodb, eventbridge and ssm share, so each keeps only its own requests and
 * answers. Callers of those modules need none of it. */

/* The part every service client is made of. A service's own (opaque) client struct has one
 * as its first member; aws_svc_client_new allocates the whole struct. Not thread-safe, like
 * the aws_client inside. */
struct aws_svc_client {
	struct aws_client *aws; /* the core client for the service (owned) */
	struct aws_error last;  /* what aws_svc_call last recorded (dynamodb, eventbridge, ssm);
				 * sqs and sns fill the caller's aws_error instead */
};

/* Allocates size bytes, zeroed (size >= sizeof(struct aws_svc_client)), creates the core
 * client for svc into the aws_svc_client at their start (cfg is copied) and returns them
 * for the service to use as its own client struct. NULL with eb filled on failure:
 * RC_NOMEM ("<service> client: out of memory"), aws_client_new's failure, or RC_FATAL for a
 * size too small (a bug). Free it with aws_svc_client_free. */
void *aws_svc_client_new(size_t size, const struct aws_config *cfg, enum aws_service svc,
			 struct errbuf *eb);
/* Frees an object aws_svc_client_new returned, with its core client. Accepts NULL. */
void aws_svc_client_free(void *client);

/* What aws_svc_call does beyond a plain call; all fields may be zero. */
struct aws_svc_call_opts {
	bool secret; /* wipe the request text and the answer body before they are freed
		      * (best effort: libcurl and the kernel may hold copies) */
	struct json_object **conflict_body; /* when not NULL: on RC_CONFLICT, the error answer
					     * as a JSON object (caller owns it), else NULL */
};

/* One call of a JSON service whose operations report through an errbuf: serialises req
 * (borrowed, not NULL), sends it as op with aws_call (the detail goes to sc->last) and parses
 * the 2xx answer into *out, which the caller then owns (json_object_put). The answer must be
 * exactly one JSON object (jx_parse: bounded by AWS_RESPONSE_MAX and AWS_JSON_DEPTH_MAX, no
 * NaN, valid UTF-8); an empty body is an empty object. Fails with aws_call's rc and its
 * aws_error_to_eb summary in eb, with RC_IO "<service> <op>: the answer is not a JSON object"
 * (the service may have acted; sc->last then shows the successful call), or RC_NOMEM.
 * *out is NULL on failure. opts may be NULL. Blocks as aws_call does. */
enum rc aws_svc_call(struct aws_svc_client *sc, const char *op, struct json_object *req,
		     const struct aws_svc_call_opts *opts, struct json_object **out,
		     struct errbuf *eb) MUSTCHECK;

/* Copies the string member key of o into dst (cut to size bytes with its NUL), or "" when o
 * is NULL or the member is absent or not a string (moto sends "NextToken": null). */
void aws_copy_member(struct json_object *o, const char *key, char *dst, size_t size);

/* Owned name/value string pairs as struct sqs_attrs and struct sns_attrs hold them: frees the
 * *n pairs and both arrays, and leaves the three empty (NULL, NULL, 0). */
void aws_pairs_clear(char ***names, char ***values, size_t *n);
/* The value paired with name among the n pairs, or NULL; borrowed from values. */
const char *aws_pairs_get(char *const *names, char *const *values, size_t n, const char *name);

#endif
