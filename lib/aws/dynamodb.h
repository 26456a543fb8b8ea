/* dynamodb.h — the DynamoDB data plane appointmentd uses (JSON 1.0 protocol over aws/core):
 * conditional item writes, reads, and GSI queries that follow every page. Items are json-c
 * maps of attribute values built and read with aws/ddb_attr.h. Tables (the control plane)
 * are in aws/dynamodb_tables.h. */
#ifndef APPT_AWS_DYNAMODB_H
#define APPT_AWS_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/core.h"
#include "aws/ddb_attr.h"
#include "base/rc.h"

struct json_object;

/* Limits checked before a request is sent. */
#define DDB_TABLE_NAME_MAX 255      /* table or index name, bytes (AWS: 3..255 of [A-Za-z0-9_.-]) */
#define DDB_EXPR_MAX 4096           /* one expression's text, bytes (AWS's own limit) */
#define DDB_GSI_MAX 20              /* GSIs per table (AWS's default quota) */
#define DDB_PAGE_LIMIT_MAX 1000     /* the largest per-page Limit a caller may ask for */
#define DDB_PAGES_MAX 100000        /* pages one ddb_query_all/ddb_query_count/ddb_list_tables follows */
#define DDB_WAIT_MAX_MS (30L * 60 * 1000) /* the longest ddb_wait_active accepts */
#define DDB_WAIT_POLL_MS 200L       /* DescribeTable interval while waiting */
#define DDB_ARN_MAX 512             /* an ARN, with NUL (longer is cut) */
#define DDB_WORD_MAX 32             /* a status or enum word from DynamoDB, with NUL */

/* A DynamoDB client: an aws_client for the dynamodb service plus the last call's error.
 * Not thread-safe: one per thread. */
struct ddb_client;

/* Creates a client from a resolved config (copied). NULL with eb filled on RC_NOMEM/RC_FATAL. */
struct ddb_client *ddb_client_new(const struct aws_config *cfg, struct errbuf *eb);
/* Frees the client. Accepts NULL. */
void ddb_client_free(struct ddb_client *c);
/* The underlying aws_client (e.g. for aws_client_set_abort_flag); valid while c lives. */
struct aws_client *ddb_client_core(struct ddb_client *c);
/* The AWS-level detail of the last call that reached aws_call (code, HTTP status, request id,
 * attempts) for metrics and logs; zeroed apart from service/operation after a success.
 * Valid until the next call on c. */
const struct aws_error *ddb_last_error(const struct ddb_client *c);

/* Every operation below: fails with RC_INVAL (eb says which argument) before any request when
 * an argument breaks a limit above; otherwise with the rc aws_call mapped (RC_IO, RC_TIMEOUT,
 * RC_RETRY after the core's retries, RC_INVAL for a ValidationException...) and eb holding
 * aws_error_to_eb's summary. A missing table is RC_RETRY here: a deployment fault,
 * transient for the caller, so RC_NOTFOUND in these operations means only "no such item"
 * (the table operations of dynamodb_tables.h keep RC_NOTFOUND for it); ddb_last_error()
 * keeps the ResourceNotFoundException. */

/* ---- Items ----
 * names is ExpressionAttributeNames ({"#s": "status"}) and values ExpressionAttributeValues
 * ({":p": {"S": "pending"}}), both borrowed JSON objects or NULL when the expressions use
 * none. The request takes its own references (json-c reference counts are not atomic, so a
 * borrowed object must not be in use by another thread during the call); nothing the caller
 * passes is changed. */

/* PutItem. */
struct ddb_put_req {
	const char *table;          /* table name */
	struct json_object *item;   /* the item: name -> attribute value (borrowed) */
	const char *condition;      /* ConditionExpression, or NULL for an unconditional put */
	struct json_object *names;  /* ExpressionAttributeNames, or NULL */
	struct json_object *values; /* ExpressionAttributeValues, or NULL */
	bool old_on_fail;           /* ReturnValuesOnConditionCheckFailure=ALL_OLD */
};

/* PutItem. A failed condition is RC_CONFLICT, and only that is (any other "conflict" the core
 * reports, such as a table being created, is RC_RETRY); then, with old_on_fail and old_item
 * not NULL, *old_item is the item the condition saw (the caller owns it) or NULL when there
 * was none. *old_item is NULL in every other case. */
enum rc ddb_put_item(struct ddb_client *c, const struct ddb_put_req *req,
		     struct json_object **old_item, struct errbuf *eb) MUSTCHECK;

/* GetItem of the item with key (name -> attribute value, borrowed). consistent asks for a
 * strongly consistent read. *item is the item (caller owns it). RC_NOTFOUND when there is no
 * such item (eb says "no item"); a missing table is RC_RETRY. */
enum rc ddb_get_item(struct ddb_client *c, const char *table, struct json_object *key,
		     bool consistent, struct json_object **item, struct errbuf *eb) MUSTCHECK;

/* DeleteItem of the item with key, unconditionally; deleting nothing is RC_OK. */
enum rc ddb_delete_item(struct ddb_client *c, const char *table, struct json_object *key,
			struct errbuf *eb) MUSTCHECK;

/* ReturnValues of UpdateItem. */
enum ddb_return {
	DDB_RET_NONE = 0,    /* nothing */
	DDB_RET_ALL_NEW,     /* the whole item after the update */
	DDB_RET_UPDATED_NEW, /* the updated attributes, after */
	DDB_RET_ALL_OLD,     /* the whole item before */
	DDB_RET_UPDATED_OLD, /* the updated attributes, before */
};

/* UpdateItem. */
struct ddb_update_req {
	const char *table;          /* table name */
	struct json_object *key;    /* the key: name -> attribute value (borrowed) */
	const char *update;         /* UpdateExpression (required) */
	const char *condition;      /* ConditionExpression, or NULL */
	struct json_object *names;  /* ExpressionAttributeNames, or NULL */
	struct json_object *values; /* ExpressionAttributeValues, or NULL */
	enum ddb_return ret;        /* ReturnValues */
	bool old_on_fail;           /* ReturnValuesOnConditionCheckFailure=ALL_OLD: on a failed
				     * condition, tells "already at the target" (the item) from
				     * "missing" (none) without a read */
};

/* UpdateItem. On RC_OK, *attrs (when not NULL) is the Attributes map ReturnValues asked for
 * (caller owns it; NULL with DDB_RET_NONE or when DynamoDB returned none). A failed condition
 * is RC_CONFLICT; then *old_item as for ddb_put_item. Either pointer may be NULL. */
enum rc ddb_update_item(struct ddb_client *c, const struct ddb_update_req *req,
			struct json_object **attrs, struct json_object **old_item,
			struct errbuf *eb) MUSTCHECK;

/* One write of a TransactWriteItems: exactly one of put, update (its ret must be
 * DDB_RET_NONE) and check (a ConditionCheck: its key, condition, names and values; no
 * update). All borrowed. */
struct ddb_tx_write {
	const struct ddb_put_req *put;       /* a Put, or NULL */
	const struct ddb_update_req *update; /* an Update, or NULL */
	const struct ddb_update_req *check;  /* a ConditionCheck, or NULL: the transaction
					      * applies only while another item holds */
};

#define DDB_TX_MAX 100     /* writes in one transaction (the DynamoDB limit) */
#define DDB_TX_ATTEMPTS 6  /* tries of a transaction cancelled by a concurrent one */

/* TransactWriteItems of w[0..n): all of them or none. A transaction cancelled because a
 * concurrent transaction held one of its items (TransactionConflict) is tried again, up
 * to DDB_TX_ATTEMPTS times in all with a short growing pause (the core's own retries
 * cover throttling). A failed condition is RC_CONFLICT with *failed (may be NULL) the
 * index of that write and, when its old_on_fail is set and old_item is not NULL,
 * *old_item the item the condition saw (caller owns it; NULL when there was none or the
 * endpoint sent none). Any other cancellation is RC_RETRY. Blocks the calling thread;
 * the client is not thread-safe. */
enum rc ddb_transact_write(struct ddb_client *c, const struct ddb_tx_write *w, size_t n,
			   size_t *failed, struct json_object **old_item,
			   struct errbuf *eb) MUSTCHECK;

/* ---- Queries ---- */

/* Query on the table or one of its GSIs. */
struct ddb_query_req {
	const char *table;          /* table name */
	const char *index;          /* IndexName, or NULL for the table itself */
	const char *key_condition;  /* KeyConditionExpression (required) */
	const char *filter;         /* FilterExpression, or NULL */
	const char *projection;     /* ProjectionExpression, or NULL for every attribute */
	struct json_object *names;  /* ExpressionAttributeNames, or NULL */
	struct json_object *values; /* ExpressionAttributeValues (the key condition needs some) */
	bool descending;            /* ScanIndexForward=false: newest first on a createdAt key */
	bool consistent;            /* ConsistentRead (the table only; a GSI rejects it) */
	int limit;                  /* Limit per page: items *evaluated*, before the filter;
				     * 0 = none (1 MB pages); 1..DDB_PAGE_LIMIT_MAX */
};

/* One page of a Query. Embedded value: zero it (or ddb_page_cleanup it) before use. */
struct ddb_page {
	struct json_object *items;    /* owned array of items (maps); empty, never NULL, on RC_OK */
	int64_t count;                /* Count: items on this page after the filter */
	int64_t scanned;              /* ScannedCount: items evaluated */
	struct json_object *last_key; /* owned LastEvaluatedKey, NULL on the last page */
};
/* Releases the page's items and key; the page is zeroed and reusable. Accepts NULL. */
void ddb_page_cleanup(struct ddb_page *p);

/* One Query page starting after start_key (a LastEvaluatedKey, borrowed; NULL for the first).
 * *page is cleaned up first. A page may be empty and still have a last_key (the filter
 * dropped everything it evaluated). */
enum rc ddb_query_page(struct ddb_client *c, const struct ddb_query_req *q,
		       struct json_object *start_key, struct ddb_page *page,
		       struct errbuf *eb) MUSTCHECK;

/* Called once per item in query order; item is borrowed for the call (json_object_get it to
 * keep it). A non-RC_OK return stops the query and is returned as is. */
typedef enum rc (*ddb_item_fn)(void *ctx, struct json_object *item, struct errbuf *eb);

/* What ddb_query_all did. */
struct ddb_query_stats {
	size_t items;   /* items passed to fn */
	size_t pages;   /* Query requests made */
	bool truncated; /* it stopped at max_items while DynamoDB had more to give (a further
			 * page might have turned out empty) */
};

/* Follows every page of q (LastEvaluatedKey), calling fn for at most max_items items (1..)
 * and stopping there with stats->truncated set. stats may be NULL. More than DDB_PAGES_MAX
 * pages is RC_INVAL. */
enum rc ddb_query_all(struct ddb_client *c, const struct ddb_query_req *q, size_t max_items,
		      ddb_item_fn fn, void *ctx, struct ddb_query_stats *stats,
		      struct errbuf *eb) MUSTCHECK;

/* Select=COUNT over every page of q, summing Count (items after the filter) into *count.
 * q->projection must be NULL. */
enum rc ddb_query_count(struct ddb_client *c, const struct ddb_query_req *q, int64_t *count,
			struct errbuf *eb) MUSTCHECK;

#endif
