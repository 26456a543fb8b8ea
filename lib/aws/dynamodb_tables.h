/* dynamodb_tables.h — the DynamoDB control plane appointmentctl uses to provision: create,
 * describe, wait until active, point-in-time recovery, TTL, delete, list. Same client and
 * error conventions as aws/dynamodb.h. */
#ifndef APPT_AWS_DYNAMODB_TABLES_H
#define APPT_AWS_DYNAMODB_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/dynamodb.h"
#include "base/rc.h"

/* The type of a key attribute. */
enum ddb_key_type {
	DDB_KEY_S = 0, /* string */
	DDB_KEY_N,     /* number */
};

/* One key attribute. */
struct ddb_key {
	const char *name;       /* attribute name; NULL for "no range key" */
	enum ddb_key_type type; /* its type */
};

/* A global secondary index; it always projects ALL attributes. */
struct ddb_gsi {
	const char *name;     /* index name, e.g. DDB_GSI_INSURED */
	struct ddb_key hash;  /* partition key (required) */
	struct ddb_key range; /* sort key, or name NULL */
};

/* What ddb_create_table makes. Billing is always PAY_PER_REQUEST. The same shape serves the
 * appointments table and the side tables (idempotency, quota: a "key" S hash key, no GSIs). */
struct ddb_table_spec {
	const char *table;          /* table name */
	struct ddb_key hash;        /* partition key (required) */
	struct ddb_key range;       /* sort key, or name NULL */
	const struct ddb_gsi *gsis; /* n_gsis indexes (borrowed), may be NULL when n_gsis is 0 */
	size_t n_gsis;              /* 0..DDB_GSI_MAX */
	bool stream;                /* StreamSpecification NEW_AND_OLD_IMAGES */
	bool sse;                   /* SSESpecification Enabled=true (AWS-owned key) */
};

/* CreateTable. RC_CONFLICT when the table already exists (ResourceInUseException), whatever
 * its shape. The table may still be CREATING on return: use ddb_wait_active. DynamoDB Local
 * and LocalStack accept the stream and SSE settings (DynamoDB Local ignores SSE). */
enum rc ddb_create_table(struct ddb_client *c, const struct ddb_table_spec *spec,
			 struct errbuf *eb) MUSTCHECK;

/* What DescribeTable says about a table. A value struct. */
struct ddb_table_info {
	char status[DDB_WORD_MAX];       /* TableStatus: CREATING, ACTIVE, UPDATING, DELETING... */
	char arn[DDB_ARN_MAX];           /* TableArn */
	char billing_mode[DDB_WORD_MAX]; /* PAY_PER_REQUEST, PROVISIONED, or "" if not reported */
	bool stream_enabled;             /* StreamSpecification.StreamEnabled */
	char stream_view[DDB_WORD_MAX];  /* StreamViewType, or "" */
	char stream_arn[DDB_ARN_MAX];    /* LatestStreamArn, or "" */
	bool sse_enabled;                /* SSEDescription.Status ENABLED/ENABLING (DynamoDB Local
					  * reports none, so false there) */
	int64_t item_count;              /* ItemCount: AWS refreshes it about every 6 h */
	size_t n_gsis;                   /* GlobalSecondaryIndexes reported */
	bool gsis_active;                /* every GSI's IndexStatus is ACTIVE (true with none) */
};

/* DescribeTable into *info. RC_NOTFOUND when the table does not exist. */
enum rc ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_table_info *info,
			   struct errbuf *eb) MUSTCHECK;

/* Polls DescribeTable every DDB_WAIT_POLL_MS until the table and all its GSIs are ACTIVE, or
 * timeout_ms (0..DDB_WAIT_MAX_MS) passes: RC_TIMEOUT, with the last status in eb. info may
 * be NULL; on RC_OK it holds the last description. Blocks the calling thread. */
enum rc ddb_wait_active(struct ddb_client *c, const char *table, long timeout_ms,
			struct ddb_table_info *info, struct errbuf *eb) MUSTCHECK;

/* What a best-effort table setting came to. */
enum ddb_applied {
	DDB_APPLIED = 0,  /* the endpoint took the setting */
	DDB_ALREADY,      /* it was already in place (nothing sent) */
	DDB_UNSUPPORTED,  /* the endpoint does not implement the operation (DynamoDB Local has no
			   * UpdateContinuousBackups): report it as skipped; eb says what it said */
};

/* "applied", "already", "unsupported"; never NULL. */
const char *ddb_applied_name(enum ddb_applied a);

/* UpdateContinuousBackups with point-in-time recovery on. RC_OK with *result DDB_APPLIED, or
 * DDB_UNSUPPORTED when the endpoint answers UnknownOperationException / not implemented
 * (eb then holds its answer for the report). RC_NOTFOUND for a missing table. */
enum rc ddb_enable_pitr(struct ddb_client *c, const char *table, enum ddb_applied *result,
			struct errbuf *eb) MUSTCHECK;

/* Makes attr the table's TTL attribute: DescribeTimeToLive first, so a repeat is DDB_ALREADY
 * (no ValidationException), then UpdateTimeToLive. RC_CONFLICT when TTL is enabled on another
 * attribute (AWS allows one, and changing it takes an hour). DDB_UNSUPPORTED as above. */
enum rc ddb_enable_ttl(struct ddb_client *c, const char *table, const char *attr,
		       enum ddb_applied *result, struct errbuf *eb) MUSTCHECK;

/* DeleteTable. RC_NOTFOUND when it does not exist; RC_CONFLICT while it is being created. */
enum rc ddb_delete_table(struct ddb_client *c, const char *table, struct errbuf *eb) MUSTCHECK;

/* Called once per name; name is valid during the call only. A non-RC_OK return stops the walk
 * and is returned as is. */
typedef enum rc (*ddb_name_fn)(void *ctx, const char *name, struct errbuf *eb);

/* ListTables, following LastEvaluatedTableName, calling fn for every table name in order. */
enum rc ddb_list_tables(struct ddb_client *c, ddb_name_fn fn, void *ctx,
			struct errbuf *eb) MUSTCHECK;

#endif
