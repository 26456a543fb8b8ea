/* dynamodb_priv.h — what dynamodb.c and dynamodb_tables.c share and nobody else uses: the
 * client struct and the argument checks and request helpers of both planes. */
#ifndef APPT_AWS_DYNAMODB_PRIV_H
#define APPT_AWS_DYNAMODB_PRIV_H

#include <stdbool.h>

#include "aws/dynamodb.h"

struct json_object;

struct ddb_client {
	struct aws_svc_client base; /* first: the dynamodb-service client and its last error */
};

/* A table or index name: 3..DDB_TABLE_NAME_MAX of [A-Za-z0-9_.-]. */
bool ddb_name_ok(const char *name);
/* RC_INVAL naming the table unless ddb_name_ok. */
enum rc ddb_check_table(const char *table, struct errbuf *eb) MUSTCHECK;
/* RC_INVAL unless m is a JSON object (NULL allowed unless required; required: non-empty). */
enum rc ddb_check_map(const char *what, struct json_object *m, bool required,
		      struct errbuf *eb) MUSTCHECK;
/* RC_NOMEM with "out of memory building a request" in eb. */
enum rc ddb_nomem(struct errbuf *eb);
/* {"TableName": table} and, when key_member is given, key_member: key (checked first). */
enum rc ddb_table_req(const char *table, const char *key_member, struct json_object *key,
		      struct json_object **out, struct errbuf *eb) MUSTCHECK;
/* True when the endpoint does not implement the operation err reports (DynamoDB Local's
 * UnknownOperationException, LocalStack's 501). */
bool ddb_unsupported(const struct aws_error *err);
/* The request of a PutItem (key_member "Item", w->update NULL) or UpdateItem ("Key"). */
enum rc ddb_build_write(const struct ddb_update_req *w, const char *key_member,
			struct json_object **out, struct errbuf *eb) MUSTCHECK;
/* A data-plane call: a missing table is RC_RETRY (see dynamodb.c). */
enum rc ddb_data_call(struct ddb_client *c, const char *op, struct json_object *req,
		      const struct aws_svc_call_opts *opts, struct json_object **ans,
		      struct errbuf *eb) MUSTCHECK;

#endif
