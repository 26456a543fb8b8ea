/* dynamodb_tx.c — TransactWriteItems: several conditional writes applied together (an item
 * and the counters that summarise it), with the cancellation reasons mapped to what a
 * caller branches on: which condition failed, or "try again later". */
#include "aws/dynamodb.h"

#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws/dynamodb_priv.h"
#include "base/jx.h"

/* {"TransactItems": [{"Put": {...}} | {"Update": {...}}, ...]} */
static enum rc build_tx(const struct ddb_tx_write *w, size_t n, struct json_object **out,
			struct errbuf *eb)
{
	struct json_object *req = NULL, *arr = NULL, *one = NULL, *wrap = NULL;
	enum rc rc = RC_OK;

	*out = NULL;
	if (n == 0 || n > DDB_TX_MAX)
		return eb_set(eb, RC_INVAL, "dynamodb: a transaction takes 1-%d writes", DDB_TX_MAX);
	req = json_object_new_object();
	arr = json_object_new_array_ext((int)n);
	if (req == NULL || arr == NULL) {
		rc = ddb_nomem(eb);
		goto out;
	}
	for (size_t i = 0; i < n && rc == RC_OK; i++) {
		const struct ddb_put_req *p = w[i].put;
		const struct ddb_update_req *u = w[i].update;
		const struct ddb_update_req *k = w[i].check;
		const char *kind = p != NULL ? "Put" : u != NULL ? "Update" : "ConditionCheck";

		if ((p != NULL) + (u != NULL) + (k != NULL) != 1 ||
		    (u != NULL && (u->ret != DDB_RET_NONE || u->update == NULL)) ||
		    (k != NULL && (k->ret != DDB_RET_NONE || k->update != NULL ||
				   k->condition == NULL))) {
			rc = eb_set(eb, RC_INVAL, "dynamodb: transaction write %zu must be one Put, "
				    "one Update without ReturnValues or one ConditionCheck with a "
				    "condition", i);
			break;
		}
		if (k != NULL) {
			rc = ddb_build_write(k, "Key", &one, eb);
		} else if (p != NULL) {
			const struct ddb_update_req pw = {.table = p->table, .key = p->item,
							  .condition = p->condition,
							  .names = p->names, .values = p->values,
							  .old_on_fail = p->old_on_fail};

			rc = ddb_build_write(&pw, "Item", &one, eb);
		} else {
			rc = ddb_build_write(u, "Key", &one, eb);
		}
		if (rc != RC_OK)
			break;
		wrap = json_object_new_object();
		if (wrap == NULL || jx_add_obj(wrap, kind, one) != RC_OK) {
			json_object_put(one);
			rc = ddb_nomem(eb);
			break;
		}
		one = NULL;
		if (jx_append(arr, wrap) != RC_OK) {
			rc = ddb_nomem(eb);
			break;
		}
		wrap = NULL;
	}
	if (rc == RC_OK) {
		rc = jx_add_obj(req, "TransactItems", arr) == RC_OK ? RC_OK : ddb_nomem(eb);
		arr = NULL;
	}
	if (rc == RC_OK) {
		*out = req;
		req = NULL;
	}
out:
	json_object_put(wrap);
	json_object_put(arr);
	json_object_put(req);
	return rc;
}

/* What a TransactionCanceledException answer says: the index of the first failed
 * condition (and its old item), or that a concurrent transaction was in the way. */
struct tx_reasons {
	long failed;              /* index of the ConditionalCheckFailed write, or -1 */
	bool conflict;            /* a TransactionConflict reason */
	struct json_object *item; /* the failed write's Item (owned), or NULL */
};

static void read_reasons(struct json_object *body, struct tx_reasons *r)
{
	struct json_object *arr = NULL, *it = NULL;

	r->failed = -1;
	if (body == NULL || !json_object_object_get_ex(body, "CancellationReasons", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		struct json_object *code = NULL;
		const char *s;

		if (!json_object_object_get_ex(e, "Code", &code) ||
		    !json_object_is_type(code, json_type_string))
			continue;
		s = json_object_get_string(code);
		if (strcmp(s, "TransactionConflict") == 0)
			r->conflict = true;
		if (strcmp(s, "ConditionalCheckFailed") == 0 && r->failed < 0) {
			r->failed = (long)i;
			if (json_object_object_get_ex(e, "Item", &it) &&
			    json_object_is_type(it, json_type_object))
				r->item = json_object_get(it);
		}
	}
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

enum rc ddb_transact_write(struct ddb_client *c, const struct ddb_tx_write *w, size_t n,
			   size_t *failed, struct json_object **old_item, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *fail = NULL;
	struct tx_reasons why = {0};
	enum rc rc;

	if (failed != NULL)
		*failed = 0;
	if (old_item != NULL)
		*old_item = NULL;
	rc = build_tx(w, n, &req, eb);
	for (int attempt = 1; rc == RC_OK; attempt++) {
		struct aws_svc_call_opts opts = {.conflict_body = &fail};

		rc = ddb_data_call(c, "TransactWriteItems", req, &opts, &ans, eb);
		if (rc != RC_CONFLICT)
			break;
		json_object_put(why.item);
		memset(&why, 0, sizeof(why));
		if (strcmp(c->base.last.code, "TransactionCanceledException") == 0)
			read_reasons(fail, &why);
		json_object_put(fail);
		fail = NULL;
		if (why.failed >= 0) {
			rc = eb_set(eb, RC_CONFLICT, "dynamodb: the condition of transaction write "
				    "%ld failed", why.failed);
			if (failed != NULL)
				*failed = (size_t)why.failed;
			if (old_item != NULL && (size_t)why.failed < n &&
			    ((w[why.failed].put != NULL && w[why.failed].put->old_on_fail) ||
			     (w[why.failed].update != NULL && w[why.failed].update->old_on_fail) ||
			     (w[why.failed].check != NULL && w[why.failed].check->old_on_fail))) {
				*old_item = why.item;
				why.item = NULL;
			}
			break;
		}
		if (!why.conflict || attempt >= DDB_TX_ATTEMPTS) {
			rc = eb_set(eb, RC_RETRY, "dynamodb: transaction cancelled (%s), retry later",
				    why.conflict ? "conflicting transactions" : c->base.last.code);
			break;
		}
		/* another transaction holds one of the items for a moment (a hot counter) */
		pause_ms(2L << attempt);
		rc = RC_OK;
	}
	json_object_put(why.item);
	json_object_put(fail);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}
