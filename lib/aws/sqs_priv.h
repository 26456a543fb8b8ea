/* sqs_priv.h — what sqs.c and sqs_queues.c share and nobody else uses: the client struct and
 * the request and answer helpers of both planes. */
#ifndef APPT_AWS_SQS_PRIV_H
#define APPT_AWS_SQS_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "aws/sqs.h"
#include "base/jx.h"

struct sqs_client {
	struct aws_svc_client base; /* first: an AWS_SVC_SQS client (aws_svc_client_new) */
};

/* A batch entry's Id: its index in decimal ("0".."9"), sized for any size_t. */
#define SQS_ENTRY_ID_SIZE 24

/* An argument refused before anything is sent. */
#define bad_arg(err, op, ...)                                                                  \
	aws_error_local((err), AWS_SVC_SQS, (op), RC_INVAL, "InvalidArgument", __VA_ARGS__)

/* RC_NOMEM reported through err for op. */
enum rc sqs_nomem(struct aws_error *err, const char *op);
/* The string member key of o, or NULL when absent or not a string. */
const char *sqs_jstr(struct json_object *o, const char *key);
/* The member key of o when it has type t, else NULL. */
struct json_object *sqs_jmember(struct json_object *o, const char *key, enum json_type t);
/* A queue URL we accept: non-empty and shorter than SQS_URL_MAX. */
bool sqs_url_valid(const char *url);
/* Copies an answer's string into dst: MalformedResponse (RC_IO) when src is NULL (what names
 * it) or does not fit. */
enum rc sqs_copy_out(char *dst, size_t dstsz, const char *src, struct aws_error *err,
		     const char *op, const char *what) MUSTCHECK;
/* Sends req (consumed: always released) and hands the parsed answer to *resp. */
enum rc sqs_call(struct sqs_client *c, const struct aws_call_opts *opts, const char *op,
		 struct json_object *req, struct json_object **resp, struct aws_error *err) MUSTCHECK;
/* Sends req (consumed) for an operation whose answer says nothing we need. */
enum rc sqs_call_void(struct sqs_client *c, const char *op, struct json_object *req,
		      struct aws_error *err) MUSTCHECK;
/* Starts {"QueueUrl": url}. RC_NOMEM. */
enum rc sqs_url_req(const char *url, struct json_object **out) MUSTCHECK;

#endif
