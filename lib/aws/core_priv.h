/* core_priv.h — what the files of the AWS request core share (core.c, config.c, errors.c,
 * imds.c, client.c, service.c) and no caller may use: the per-service table, the client
 * struct and small helpers. Outside lib/aws/ include aws/core.h only. */
#ifndef APPT_AWS_CORE_PRIV_H
#define APPT_AWS_CORE_PRIV_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/core.h"
#include "base/rng.h"

struct json_object;

/* Per-service constants. */
struct aws_svc_info {
	const char *name;          /* our stable name */
	const char *signing;       /* SigV4 service id */
	const char *host_prefix;   /* first label of the AWS host name */
	const char *env_suffix;    /* AWS_ENDPOINT_URL_<suffix> */
	const char *target_prefix; /* X-Amz-Target prefix, NULL for the Query protocol */
	const char *content_type;  /* default Content-Type of a request */
};

/* Indexed by enum aws_service (core.c). */
extern const struct aws_svc_info aws_svc_table[AWS_SVC_COUNT];

/* What the header callback keeps from one answer. */
struct hdr_capture {
	char request_id[AWS_REQUEST_ID_MAX]; /* x-amzn-RequestId or x-amz-request-id */
	char error_type[AWS_CODE_MAX];       /* x-amzn-ErrorType, up to the ':' */
	char query_error[AWS_CODE_MAX];      /* x-amzn-query-error, up to the ';' */
};

/* Where the write callback puts the body. */
struct body_sink {
	struct buf *buf; /* the destination, capped */
	bool too_large;  /* the cap was hit */
};

struct aws_client {
	struct aws_config cfg;        /* copied at creation */
	enum aws_service svc;         /* the one service this client talks to */
	CURL *curl;                   /* reused for every call: keeps the connection */
	struct rng rng;               /* backoff jitter */
	const atomic_bool *abort;     /* set by the owner to stop transfers; may be NULL */
	int64_t deadline_ms;          /* monotonic ms no call runs past; 0 = none */
	aws_observer_fn observe;      /* told the outcome of every call; may be NULL */
	void *observe_ud;
	struct aws_creds imds;        /* IMDS credentials, valid when imds_valid */
	bool imds_valid;              /* imds holds credentials fetched earlier */
	time_t imds_retry_at;         /* no refresh before this (wall clock, s) while imds
				       * is valid and not close to expiry */
	char sigv4[AWS_REGION_MAX + 32]; /* "aws:amz:<region>:<service>" */
	char url[AWS_URL_MAX + 1];    /* endpoint + "/" */
	char curl_err[CURL_ERROR_SIZE]; /* curl's message for the last failure */
	struct hdr_capture hc;        /* headers of the last answer */
	struct body_sink sink;        /* body of the last answer */
};


/* core.c: small helpers. */
/* Copies src into dst, truncating; control characters become spaces (safe in a log line). */
void aws_copy_trunc(char *dst, size_t dstsz, const char *src, size_t n);
/* Copies src into dst, failing with RC_INVAL naming what if it does not fit. */
enum rc aws_copy_checked(char *dst, size_t dstsz, const char *src, const char *what,
			 struct errbuf *eb) MUSTCHECK;
/* True when s is shorter than max and printable ASCII (values that go into header lines). */
bool aws_header_value_valid(const char *s, size_t max);
/* env's value of name, or NULL when unset or empty (the SDKs treat empty as unset). */
const char *aws_env_get(const struct aws_env *env, const char *name);

/* errors.c: AWS error answers. */
/* True for the codes of an expired session token. */
bool aws_is_expired_token(const char *code);
/* Keeps the bare code of an AWS type name ("com.amazonaws.sqs#X", "X:http://..."). */
void aws_copy_code(char code[AWS_CODE_MAX], const char *s);
/* The first of names that is a string member of o, or NULL (borrowed from o). */
const char *aws_json_str_field(struct json_object *o, const char *const *names);
/* Maps one attempt's outcome (transport code, status, AWS code) to the rc a caller sees
 * and whether another attempt may help. */
enum rc aws_classify(enum aws_service svc, CURLcode cc, long status, const char *code,
		     bool *retry);
/* Parses an AWS error answer (JSON or XML); false when it names no code. */
bool aws_parse_error_body(const char *body, size_t len, char code[AWS_CODE_MAX],
			  char message[AWS_MESSAGE_MAX], char request_id[AWS_REQUEST_ID_MAX]);
/* A message for an error answer we could not parse: the status and a snippet of the body. */
void aws_describe_unparsable(const struct buf *body, long status, char *dst, size_t dstsz);

/* imds.c: IMDSv2 credentials. */
/* libcurl write callback into a struct body_sink (userdata); 0 past its cap. */
size_t aws_sink_write(char *ptr, size_t size, size_t nmemb, void *userdata);
/* The credentials for c's next attempt: static ones, or IMDS ones fetched or refreshed when
 * missing, close to expiry or rejected as expired (force). */
enum rc aws_client_creds(struct aws_client *c, bool force, const struct aws_creds **cr,
			 struct errbuf *eb) MUSTCHECK;

#endif
