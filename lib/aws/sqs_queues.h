/* sqs_queues.h — the SQS control plane appointmentctl uses to provision and inspect: create a
 * queue, look up its URL, read and set attributes, purge, delete. Same client and error
 * conventions as aws/sqs.h. */
#ifndef APPT_AWS_SQS_QUEUES_H
#define APPT_AWS_SQS_QUEUES_H

#include <stddef.h>

#include "aws/sqs.h"
#include "base/rc.h"

/* A borrowed name/value pair: queue attributes in Create/SetQueueAttributes
 * ("VisibilityTimeout" = "180", "RedrivePolicy" = JSON text, "Policy" = JSON text, ...). */
struct sqs_kv {
	const char *name;  /* attribute name */
	const char *value; /* its value as text */
};

/* Creates the queue (or returns the URL of an identical existing one) and writes its URL.
 * RC_CONFLICT when it exists with different attributes. */
enum rc sqs_create_queue(struct sqs_client *c, const char *name, const struct sqs_kv *attrs,
			 size_t nattrs, char url[SQS_URL_MAX], struct aws_error *err) MUSTCHECK;

/* Writes the URL of the queue called name. RC_NOTFOUND when there is none. */
enum rc sqs_get_queue_url(struct sqs_client *c, const char *name, char url[SQS_URL_MAX],
			  struct aws_error *err) MUSTCHECK;

/* Queue attributes as read back: owned name/value strings. */
struct sqs_attrs {
	size_t n;             /* number of pairs */
	char **names;         /* n owned names */
	char **values;        /* n owned values */
};
/* Releases the pairs; the struct is empty and reusable afterwards. Accepts NULL. */
void sqs_attrs_cleanup(struct sqs_attrs *a);
/* The value of name, or NULL; valid until sqs_attrs_cleanup. */
const char *sqs_attrs_get(const struct sqs_attrs *a, const char *name);

/* Reads attributes of the queue (names NULL or n 0 = "All") into *out, which must be
 * zero-initialised or cleaned up; out is overwritten. RC_NOTFOUND for a missing queue. */
enum rc sqs_get_queue_attributes(struct sqs_client *c, const char *url,
				 const char *const *names, size_t nnames, struct sqs_attrs *out,
				 struct aws_error *err) MUSTCHECK;
/* Convenience: the queue's QueueArn (for SNS subscriptions and policies). */
enum rc sqs_get_queue_arn(struct sqs_client *c, const char *url, char arn[SQS_ARN_MAX],
			  struct aws_error *err) MUSTCHECK;

/* Sets queue attributes (at most SQS_QUEUE_ATTRS_MAX). */
enum rc sqs_set_queue_attributes(struct sqs_client *c, const char *url,
				 const struct sqs_kv *attrs, size_t nattrs,
				 struct aws_error *err) MUSTCHECK;

/* Deletes every message in the queue (AWS allows one purge per 60 s per queue). */
enum rc sqs_purge_queue(struct sqs_client *c, const char *url, struct aws_error *err) MUSTCHECK;
/* Deletes the queue. RC_NOTFOUND when it does not exist. */
enum rc sqs_delete_queue(struct sqs_client *c, const char *url, struct aws_error *err) MUSTCHECK;

#endif
