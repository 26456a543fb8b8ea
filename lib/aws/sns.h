/* sns.h — Amazon SNS over the Query protocol: form-encoded requests (every value
 * percent-encoded per RFC 3986), XML answers parsed with libxml2. Topics, SQS
 * subscriptions (raw delivery on or off), publish with message attributes, paged listing of
 * a topic's subscriptions. Built on aws/core.h; failures fill a struct aws_error. */
#ifndef APPT_AWS_SNS_H
#define APPT_AWS_SNS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/core.h"
#include "base/rc.h"

/* Limits, checked before anything is sent. */
#define SNS_ARN_MAX 512                /* topic or subscription ARN, with NUL */
#define SNS_TOPIC_NAME_MAX 256         /* topic name, without NUL (AWS: 256) */
#define SNS_MESSAGE_ID_MAX 128         /* message id, with NUL */
#define SNS_MESSAGE_MAX (256 * 1024)   /* one message (AWS: 256 KiB) */
#define SNS_SUBJECT_MAX 100            /* subject, without NUL (AWS: 100) */
#define SNS_MSG_ATTRS_MAX 10           /* message attributes on one publish (AWS: 10) */
#define SNS_ATTRS_MAX 32               /* topic/subscription attributes in one call */
#define SNS_TOKEN_MAX 1024             /* NextToken, with NUL */
#define SNS_FORM_MAX (1024 * 1024)     /* one encoded request body */
#define SNS_LIST_PAGES_MAX 1000        /* pages sns_list_subscriptions_by_topic follows */

/* One SNS client: an aws_client for SNS. Not thread-safe: one per thread. */
struct sns_client;

/* Creates a client from a resolved config (copied). NULL with eb filled on failure. */
struct sns_client *sns_client_new(const struct aws_config *cfg, struct errbuf *eb);
/* Frees it; accepts NULL. */
void sns_client_free(struct sns_client *c);
/* The underlying core client (for aws_client_set_abort_flag); valid while c lives. */
struct aws_client *sns_client_core(struct sns_client *c);

/* A borrowed attribute: topic attributes ("Policy", "DisplayName") or subscription
 * attributes ("RawMessageDelivery" = "true", "FilterPolicy" = JSON text). */
struct sns_kv {
	const char *name;  /* attribute name */
	const char *value; /* its value as text */
};

/* A borrowed message attribute to publish. */
struct sns_msg_attr {
	const char *name;  /* attribute name */
	const char *type;  /* "String", "Number" or "String.Array" */
	const char *value; /* the value as text */
};

/* Creates the topic (idempotent for the same name and attributes); writes its ARN. */
enum rc sns_create_topic(struct sns_client *c, const char *name, const struct sns_kv *attrs,
			 size_t nattrs, char arn[SNS_ARN_MAX], struct aws_error *err) MUSTCHECK;

/* Deletes the topic and its subscriptions. AWS answers success for a missing topic. */
enum rc sns_delete_topic(struct sns_client *c, const char *topic_arn,
			 struct aws_error *err) MUSTCHECK;

/* Attributes as read back: owned name/value strings. */
struct sns_attrs {
	size_t n;      /* number of pairs */
	char **names;  /* n owned names */
	char **values; /* n owned values */
};
/* Releases the pairs; the struct is empty and reusable afterwards. Accepts NULL. */
void sns_attrs_cleanup(struct sns_attrs *a);
/* The value of name, or NULL; valid until sns_attrs_cleanup. */
const char *sns_attrs_get(const struct sns_attrs *a, const char *name);

/* Reads the topic's attributes into *out (zero-initialised or cleaned up; overwritten).
 * RC_NOTFOUND for a missing topic. */
enum rc sns_get_topic_attributes(struct sns_client *c, const char *topic_arn,
				 struct sns_attrs *out, struct aws_error *err) MUSTCHECK;

/* Subscribes endpoint (for protocol "sqs": the queue ARN) to the topic with the given
 * subscription attributes (e.g. {"RawMessageDelivery", "true"}); writes the subscription
 * ARN ("pending confirmation" protocols still get their ARN: ReturnSubscriptionArn). */
enum rc sns_subscribe(struct sns_client *c, const char *topic_arn, const char *protocol,
		      const char *endpoint, const struct sns_kv *attrs, size_t nattrs,
		      char sub_arn[SNS_ARN_MAX], struct aws_error *err) MUSTCHECK;

/* Removes a subscription. */
enum rc sns_unsubscribe(struct sns_client *c, const char *sub_arn,
			struct aws_error *err) MUSTCHECK;

/* One message to publish; everything borrowed. */
struct sns_publish {
	const char *message;              /* 1..SNS_MESSAGE_MAX bytes of UTF-8 */
	const char *subject;              /* NULL or 1..SNS_SUBJECT_MAX bytes */
	const struct sns_msg_attr *attrs; /* may be NULL when nattrs is 0 */
	size_t nattrs;                    /* at most SNS_MSG_ATTRS_MAX */
	const char *group_id;             /* FIFO topics only, else NULL */
	const char *dedup_id;             /* FIFO topics only, else NULL */
};

/* Publishes to the topic; writes the message id (message_id may be NULL). RC_NOTFOUND for
 * a missing topic. */
enum rc sns_publish(struct sns_client *c, const char *topic_arn, const struct sns_publish *p,
		    char message_id[SNS_MESSAGE_ID_MAX], struct aws_error *err) MUSTCHECK;

/* One subscription of a topic, owned by the enclosing sns_subscriptions. */
struct sns_subscription {
	char *arn;       /* SubscriptionArn (or "PendingConfirmation") */
	char *protocol;  /* "sqs", "https", ... */
	char *endpoint;  /* queue ARN, URL, ... */
	char *owner;     /* account id */
	char *topic_arn; /* TopicArn */
};

/* A growing list. Zero-initialise; sns_subscriptions_cleanup releases. */
struct sns_subscriptions {
	struct sns_subscription *v; /* n entries */
	size_t n;                   /* number of entries */
};
void sns_subscriptions_cleanup(struct sns_subscriptions *s); /* accepts NULL; reusable */

/* Fetches one page of ListSubscriptionsByTopic (next_token NULL or "" for the first) and
 * appends it to *out; writes the token of the next page into next, "" after the last. */
enum rc sns_list_subscriptions_page(struct sns_client *c, const char *topic_arn,
				    const char *next_token, struct sns_subscriptions *out,
				    char next[SNS_TOKEN_MAX], struct aws_error *err) MUSTCHECK;

/* Follows every page (at most SNS_LIST_PAGES_MAX, else RC_IO) into *out, which is
 * overwritten. */
enum rc sns_list_subscriptions_by_topic(struct sns_client *c, const char *topic_arn,
					struct sns_subscriptions *out,
					struct aws_error *err) MUSTCHECK;

#endif
