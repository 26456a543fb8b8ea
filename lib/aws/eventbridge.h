/* eventbridge.h — Amazon EventBridge (JSON 1.1, X-Amz-Target AWSEvents.<Op>) on aws/core: the
 * custom bus, its rules and targets for provisioning, and PutEvents with per-entry results
 * for the worker. */
#ifndef APPT_AWS_EVENTBRIDGE_H
#define APPT_AWS_EVENTBRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws/core.h"
#include "base/rc.h"

/* Limits checked before anything is sent (AWS's own unless said otherwise). */
#define EVB_BUS_NAME_MAX 256        /* bus name or ARN, bytes */
#define EVB_RULE_NAME_MAX 64        /* rule name: [.\-_A-Za-z0-9]+ */
#define EVB_TARGET_ID_MAX 64        /* target id: [.\-_A-Za-z0-9]+ */
#define EVB_ARN_MAX 1601            /* an ARN, with NUL (AWS: up to 1600) */
#define EVB_PATTERN_MAX 4096        /* EventPattern JSON text, bytes */
#define EVB_DESCRIPTION_MAX 512     /* rule description */
#define EVB_TARGETS_MAX 10          /* targets in one PutTargets/RemoveTargets */
#define EVB_ENTRIES_MAX 10          /* entries in one PutEvents */
#define EVB_EVENT_MAX (256 * 1024)  /* all entries of one PutEvents together, bytes */
#define EVB_SOURCE_MAX 256          /* Source, bytes */
#define EVB_DETAIL_TYPE_MAX 256     /* DetailType, bytes */
#define EVB_EVENT_ID_MAX 128        /* an EventId, with NUL */
#define EVB_PAGES_MAX 10000         /* pages a List* call follows */

/* One EventBridge client. Not thread-safe: one per thread. */
struct evb_client;

/* Creates a client from a resolved config (copied). NULL with eb filled on failure. */
struct evb_client *evb_client_new(const struct aws_config *cfg, struct errbuf *eb);
/* Frees it; accepts NULL. */
void evb_client_free(struct evb_client *c);
/* The underlying core client (for aws_client_set_abort_flag); valid while c lives. */
struct aws_client *evb_client_core(struct evb_client *c);
/* The AWS detail of the last call (code, status, request id) for metrics and logs; valid
 * until the next call on c. */
const struct aws_error *evb_last_error(const struct evb_client *c);

/* Every operation: RC_INVAL (eb names the argument) before any request when an argument
 * breaks a limit above; otherwise the rc the core mapped, eb holding its summary. */

/* CreateEventBus. arn (may be NULL) gets the bus ARN. RC_CONFLICT when a bus of that name
 * exists (ResourceAlreadyExistsException). */
enum rc evb_create_bus(struct evb_client *c, const char *name, char arn[EVB_ARN_MAX],
		       struct errbuf *eb) MUSTCHECK;
/* DescribeEventBus; arn (may be NULL) gets its ARN. RC_NOTFOUND when there is no such bus. */
enum rc evb_describe_bus(struct evb_client *c, const char *name, char arn[EVB_ARN_MAX],
			 struct errbuf *eb) MUSTCHECK;
/* DeleteEventBus. AWS and moto answer success for a bus that does not exist. */
enum rc evb_delete_bus(struct evb_client *c, const char *name, struct errbuf *eb) MUSTCHECK;

/* A rule on a bus; everything borrowed. */
struct evb_rule {
	const char *name;        /* rule name */
	const char *bus;         /* bus name or ARN; NULL = "default" */
	const char *pattern;     /* EventPattern, JSON text (an object) */
	const char *description; /* or NULL */
	bool disabled;           /* State DISABLED (moto fires disabled rules anyway) */
};

/* PutRule: creates the rule or updates it in place (idempotent). arn (may be NULL) gets
 * the rule ARN. RC_NOTFOUND when the bus does not exist. */
enum rc evb_put_rule(struct evb_client *c, const struct evb_rule *rule, char arn[EVB_ARN_MAX],
		     struct errbuf *eb) MUSTCHECK;

/* DeleteRule. The rule must have no targets left (RC_INVAL otherwise); deleting a rule that
 * does not exist is RC_OK on AWS and moto. */
enum rc evb_delete_rule(struct evb_client *c, const char *rule, const char *bus,
			struct errbuf *eb) MUSTCHECK;

/* A rule target; borrowed. */
struct evb_target {
	const char *id;  /* unique within the rule */
	const char *arn; /* the target, e.g. an SQS queue ARN */
};

/* PutTargets (1..EVB_TARGETS_MAX): adds or replaces the targets by id. RC_OK only when every
 * target was put; a failed entry gives RC_RETRY (ConcurrentModification, InternalFailure)
 * or RC_INVAL, eb naming its id, code and message. RC_NOTFOUND for a missing rule. */
enum rc evb_put_targets(struct evb_client *c, const char *rule, const char *bus,
			const struct evb_target *targets, size_t n,
			struct errbuf *eb) MUSTCHECK;
/* RemoveTargets by id (1..EVB_TARGETS_MAX); failures as for evb_put_targets. Removing an id
 * the rule does not have is RC_OK. */
enum rc evb_remove_targets(struct evb_client *c, const char *rule, const char *bus,
			   const char *const *ids, size_t n, struct errbuf *eb) MUSTCHECK;

/* What ListRules says about one rule; every string borrowed for the callback's duration
 * ("" when the answer lacks it). */
struct evb_rule_info {
	const char *name;    /* Name */
	const char *arn;     /* Arn */
	const char *pattern; /* EventPattern JSON text */
	const char *state;   /* ENABLED / DISABLED */
};

typedef enum rc (*evb_rule_fn)(void *ctx, const struct evb_rule_info *rule, struct errbuf *eb);
/* A target of a rule; strings borrowed for the call. */
typedef enum rc (*evb_target_fn)(void *ctx, const char *id, const char *arn,
				 struct errbuf *eb);

/* ListRules on bus (NULL = default) whose names start with prefix (NULL = all), following
 * NextToken; fn is called per rule, and a non-RC_OK return stops the walk and is returned. */
enum rc evb_list_rules(struct evb_client *c, const char *bus, const char *prefix,
		       evb_rule_fn fn, void *ctx, struct errbuf *eb) MUSTCHECK;
/* ListTargetsByRule, following NextToken. RC_NOTFOUND for a missing rule. */
enum rc evb_list_targets(struct evb_client *c, const char *rule, const char *bus,
			 evb_target_fn fn, void *ctx, struct errbuf *eb) MUSTCHECK;

/* One event to put; everything borrowed. */
struct evb_entry {
	const char *source;      /* Source, e.g. "medical.appointment.pe" */
	const char *detail_type; /* DetailType, e.g. "Appointment Processed" */
	const char *detail;      /* Detail: JSON object text (EventBridge checks it per entry) */
	const char *bus;         /* EventBusName (name or ARN); NULL = default bus */
	time_t time;             /* event time, epoch seconds (sent as a number: moto rejects
				  * ISO text); 0 = let EventBridge stamp it */
};

/* The outcome of one PutEvents entry, at the entry's index. */
struct evb_put_result {
	enum rc rc;                        /* RC_OK; RC_RETRY for InternalFailure/ThrottlingException;
					    * RC_INVAL for any other ErrorCode; RC_IO when the answer
					    * has no result for it */
	char event_id[EVB_EVENT_ID_MAX];   /* EventId on success, else "" */
	char code[AWS_CODE_MAX];           /* ErrorCode ("MalformedDetail"), or "" */
	char message[AWS_MESSAGE_MAX];     /* ErrorMessage, or "" */
};

/* What AWS counts of e against EVB_EVENT_MAX: Source, DetailType and Detail (a NULL one
 * counts 0). */
size_t evb_entry_size(const struct evb_entry *e);
/* The outcome of one entry as an rc: RC_OK, or its rc with eb naming its code and message. */
enum rc evb_result_rc(const struct evb_put_result *r, struct errbuf *eb);

/* PutEvents with 1..EVB_ENTRIES_MAX entries, filling res[0..n-1] (required). RC_OK when the
 * call itself succeeded, even if entries failed: *nfailed (required) counts the entries whose
 * rc is not RC_OK. Any other rc means the whole call failed (moto fails it all for a bus that
 * does not exist: RC_NOTFOUND) and res is undefined. Not retried per entry: the caller decides
 * (an event put twice is delivered twice). */
enum rc evb_put_events(struct evb_client *c, const struct evb_entry *entries, size_t n,
		       struct evb_put_result *res, size_t *nfailed,
		       struct errbuf *eb) MUSTCHECK;

#endif
