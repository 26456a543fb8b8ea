/* sqs.h — Amazon SQS over the JSON protocol (X-Amz-Target AmazonSQS.<Op>), always POSTed to
 * the endpoint root with the QueueUrl in the body (fauxqs answers the JSON protocol only
 * there). Queue management, send/receive/delete, visibility, and batches with per-entry
 * results. Built on aws/core.h; every call fills a struct aws_error on failure. */
#ifndef APPT_AWS_SQS_H
#define APPT_AWS_SQS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/core.h"
#include "base/rc.h"

/* Limits, checked before anything is sent (AWS's own limits unless said otherwise). */
#define SQS_URL_MAX 1024            /* queue URL, with NUL */
#define SQS_ARN_MAX 512             /* queue ARN, with NUL */
#define SQS_NAME_MAX 80             /* queue name, without NUL */
#define SQS_MESSAGE_ID_MAX 128      /* message id, with NUL */
#define SQS_BODY_MAX (1024 * 1024)  /* one message body (AWS: 1 MiB since 2025) */
#define SQS_BATCH_MAX 10            /* entries in one batch call, messages in one receive */
#define SQS_MSG_ATTRS_MAX 10        /* message attributes on one message */
#define SQS_QUEUE_ATTRS_MAX 32      /* queue attributes in one Create/SetQueueAttributes */
#define SQS_WAIT_MAX_S 20           /* long-poll wait */
#define SQS_VISIBILITY_MAX_S 43200  /* visibility timeout (12 h) */
#define SQS_DELAY_MAX_S 900         /* per-message delay */

/* One SQS client: an aws_client for SQS. Not thread-safe: one per thread. */
struct sqs_client;

/* Creates a client from a resolved config (copied). NULL with eb filled on failure. */
struct sqs_client *sqs_client_new(const struct aws_config *cfg, struct errbuf *eb);
/* Frees it; accepts NULL. */
void sqs_client_free(struct sqs_client *c);
/* The underlying core client (for aws_client_set_abort_flag); valid while c lives. */
struct aws_client *sqs_client_core(struct sqs_client *c);

/* A borrowed message attribute to send. */
struct sqs_msg_attr {
	const char *name;  /* attribute name */
	const char *type;  /* "String" or "Number" (optionally ".custom"); Binary unsupported */
	const char *value; /* the value as text */
};

/* One message to send; everything borrowed. */
struct sqs_send_entry {
	const char *body;                 /* UTF-8 text, 1..SQS_BODY_MAX bytes */
	const struct sqs_msg_attr *attrs; /* may be NULL when nattrs is 0 */
	size_t nattrs;                    /* at most SQS_MSG_ATTRS_MAX */
	int delay_seconds;                /* 0..SQS_DELAY_MAX_S, or -1 for the queue default */
	const char *group_id;             /* FIFO queues only, else NULL */
	const char *dedup_id;             /* FIFO queues only, else NULL */
};

/* Sends one message; writes its id (message_id may be NULL). */
enum rc sqs_send_message(struct sqs_client *c, const char *url, const struct sqs_send_entry *m,
			 char message_id[SQS_MESSAGE_ID_MAX], struct aws_error *err) MUSTCHECK;

/* The outcome of one batch entry, at the same index as the entry. */
struct sqs_batch_result {
	enum rc rc;                          /* RC_OK, or the failure's kind (aws_code_to_rc) */
	char message_id[SQS_MESSAGE_ID_MAX]; /* SendMessageBatch successes only, else "" */
	char code[AWS_CODE_MAX];             /* failure code ("ReceiptHandleIsInvalid"), or "" */
	char message[AWS_MESSAGE_MAX];       /* failure message, or "" */
	bool sender_fault;                   /* the failure is the caller's (do not retry as is) */
};

/* The batch calls send 1..SQS_BATCH_MAX entries with ids "0".."9" and fill res[0..n-1].
 * They return RC_OK when the call itself succeeded, even if entries failed: *nfailed (may
 * be NULL) counts those, and an entry the answer does not mention is RC_IO,
 * "MissingEntryResult". Any other rc means the whole call failed and res is undefined. */
enum rc sqs_send_message_batch(struct sqs_client *c, const char *url,
			       const struct sqs_send_entry *entries, size_t n,
			       struct sqs_batch_result *res, size_t *nfailed,
			       struct aws_error *err) MUSTCHECK;

/* What to receive. */
struct sqs_receive_opts {
	int max_messages;       /* 1..SQS_BATCH_MAX */
	int wait_seconds;       /* 0..SQS_WAIT_MAX_S (long poll) */
	int visibility_timeout; /* 0..SQS_VISIBILITY_MAX_S, or -1 for the queue default */
};

/* A received message attribute (owned strings). */
struct sqs_msg_attr_val {
	char *name;  /* attribute name */
	char *type;  /* DataType ("String", "Number", "Binary", ...) */
	char *value; /* StringValue, or BinaryValue as base64 */
};

/* One received message; every pointer is owned by the enclosing sqs_messages. */
struct sqs_message {
	char *body;                          /* the body, NUL-terminated */
	size_t body_len;                     /* its length in bytes */
	char *receipt_handle;                /* for delete / change visibility */
	char message_id[SQS_MESSAGE_ID_MAX]; /* MessageId */
	int receive_count;                   /* ApproximateReceiveCount, 0 when absent */
	long long sent_timestamp_ms;         /* SentTimestamp (epoch ms), 0 when absent */
	struct sqs_msg_attr_val *attrs;      /* message attributes */
	size_t nattrs;                       /* their number */
};

/* What one receive returned. Zero-initialise; sqs_messages_cleanup releases. */
struct sqs_messages {
	struct sqs_message *v; /* n messages */
	size_t n;              /* 0 when the wait ended empty */
};
void sqs_messages_cleanup(struct sqs_messages *m); /* accepts NULL; reusable afterwards */
/* Frees what one message owns (body, receipt handle, attributes) and zeroes it; accepts
 * NULL. For a message moved out of a struct sqs_messages. */
void sqs_message_cleanup(struct sqs_message *m);
/* The StringValue of message attribute name, or NULL; valid while m lives. */
const char *sqs_message_attr(const struct sqs_message *m, const char *name);

/* Receives up to opts->max_messages, waiting up to opts->wait_seconds (the HTTP timeout is
 * stretched by the wait). out must be zero-initialised or cleaned up; it is overwritten.
 * Asks for all system and message attributes. */
enum rc sqs_receive(struct sqs_client *c, const char *url, const struct sqs_receive_opts *opts,
		    struct sqs_messages *out, struct aws_error *err) MUSTCHECK;

/* Deletes one received message. */
enum rc sqs_delete_message(struct sqs_client *c, const char *url, const char *receipt_handle,
			   struct aws_error *err) MUSTCHECK;
/* Deletes up to SQS_BATCH_MAX received messages; per-entry results in res (see above). */
enum rc sqs_delete_message_batch(struct sqs_client *c, const char *url,
				 const char *const *receipt_handles, size_t n,
				 struct sqs_batch_result *res, size_t *nfailed,
				 struct aws_error *err) MUSTCHECK;

/* Sets a received message's visibility timeout (0 makes it visible again now). */
enum rc sqs_change_visibility(struct sqs_client *c, const char *url, const char *receipt_handle,
			      int visibility_timeout, struct aws_error *err) MUSTCHECK;

/* One entry of ChangeMessageVisibilityBatch; borrowed. */
struct sqs_visibility_entry {
	const char *receipt_handle; /* from the receive */
	int visibility_timeout;     /* 0..SQS_VISIBILITY_MAX_S */
};
enum rc sqs_change_visibility_batch(struct sqs_client *c, const char *url,
				    const struct sqs_visibility_entry *entries, size_t n,
				    struct sqs_batch_result *res, size_t *nfailed,
				    struct aws_error *err) MUSTCHECK;

#endif
