/* store.c — the appointments table: conditional writes of the status machine and
 * the per-insured listing. Conditions live in the UpdateItem itself (never a
 * read-then-write); a read only follows a failed condition, to name the outcome. */
#include "app/store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/store_item.h"
#include "app/tables.h"

/* Builds the key {name: {"S": value}}. */
static enum rc key_named(const char *name, const char *value, struct json_object **key)
{
	struct json_object *k = json_object_new_object();
	enum rc rc;

	*key = NULL;
	if (k == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(k, name, value);
	if (rc != RC_OK) {
		json_object_put(k);
		return rc;
	}
	*key = k;
	return RC_OK;
}

/* {"appointmentId": {"S": id}} */
static enum rc key_of(const char *id, struct json_object **key)
{
	return key_named(TBL_APPT_KEY, id, key);
}

/* The item a failed condition saw: the write's ALL_OLD image (old), or, where an endpoint
 * sends none, a consistent read. RC_NOTFOUND when there is no item. */
static enum rc condition_saw(struct ddb_client *ddb, const char *table, const char *id,
			     struct json_object *old, struct appointment *cur, struct errbuf *eb)
{
	enum rc rc;

	if (old != NULL)
		return store_appt_from_item(old, cur, eb);
	rc = store_get(ddb, table, id, cur, eb);
	if (rc == RC_NOTFOUND)
		eb_set(eb, RC_NOTFOUND, "no appointment %s", id);
	return rc;
}

/* "status" is a DynamoDB reserved word: every expression names it #s. */
#define STATUS_NAME "#s", "status"

/* ---- Counters ----
 * One item per insuredId in the counters table (key "key" = the insuredId): "all" and
 * one number per status name. Each is changed in the same transaction as the item it
 * counts, so the totals of a listing are one GetItem away, whatever the insured's size. */

#define CNT_ALL "all"

/* {"key": {"S": insured}} */
static enum rc counters_key(const char *insured, struct json_object **key)
{
	return key_named(TBL_SIDE_KEY, insured, key);
}

/* The counters update of a create (from NULL: "all" and to + 1) or of a transition
 * (from - 1, to + 1). Fills u's key, names and values (the caller puts them). */
static enum rc counters_update(const char *counters, const char *insured, const char *from,
			       const char *to, struct ddb_update_req *u)
{
	enum rc rc = counters_key(insured, &u->key);

	u->table = counters;
	u->update = "ADD #cf :cf, #ct :one";
	u->ret = DDB_RET_NONE;
	if (rc == RC_OK)
		rc = ddb_name(&u->names, "#cf", from != NULL ? from : CNT_ALL);
	if (rc == RC_OK)
		rc = ddb_name(&u->names, "#ct", to);
	if (rc == RC_OK) {
		u->values = json_object_new_object();
		rc = u->values != NULL ? RC_OK : RC_NOMEM;
	}
	if (rc == RC_OK)
		rc = ddb_put_int64(u->values, ":cf", from != NULL ? -1 : 1);
	if (rc == RC_OK)
		rc = ddb_put_int64(u->values, ":one", 1);
	return rc;
}

static void update_req_cleanup(struct ddb_update_req *u)
{
	json_object_put(u->key);
	json_object_put(u->names);
	json_object_put(u->values);
	memset(u, 0, sizeof(*u));
}

enum rc store_counters(struct ddb_client *ddb, const char *counters, const char *insured,
		       struct store_counts *out, struct errbuf *eb)
{
	int64_t *all = &out->all;
	int64_t *by_status = out->by_status;

	struct json_object *key = NULL, *item = NULL;
	enum rc rc = counters_key(insured, &key);

	if (rc != RC_OK)
		return eb_set(eb, rc, "building the counters key failed");
	rc = ddb_get_item(ddb, counters, key, false, &item, eb);
	if (rc == RC_OK) {
		/* a number never written is 0 */
		if (ddb_get_int64(item, CNT_ALL, all, NULL) != RC_OK)
			*all = 0;
		for (int st = 0; st < APPT_STATUS_COUNT; st++)
			if (ddb_get_int64(item, appt_status_name((enum appt_status)st),
					  &by_status[st], NULL) != RC_OK)
				by_status[st] = 0;
	}
	json_object_put(item);
	json_object_put(key);
	return rc;
}

/* Put (condition: no item with the id) and, with counters, the insured's counters and,
 * with a guard, its check, in the same transaction. The put comes first: when both its
 * condition and the guard fail, the item under the id is what the caller learns of.
 * *old as ddb_put_item gives it. */
static enum rc put_pending_write(struct ddb_client *ddb, const struct ddb_put_req *put,
				 const char *counters, const char *insured,
				 struct store_guard *guard, struct json_object **old,
				 struct errbuf *eb)
{
	struct ddb_update_req cnt = {0};
	struct ddb_tx_write w[3] = {{.put = put}};
	size_t n = 1, failed = 0;
	enum rc rc = RC_OK;

	if (counters == NULL && guard == NULL)
		return ddb_put_item(ddb, put, old, eb);
	if (counters != NULL) {
		rc = counters_update(counters, insured, NULL, appt_status_name(APPT_PENDING), &cnt);
		if (rc != RC_OK) {
			rc = eb_set(eb, rc, "building the counters update failed");
			goto out;
		}
		w[n++].update = &cnt;
	}
	if (guard != NULL) {
		guard->failed = false;
		w[n++].check = guard->check;
	}
	rc = ddb_transact_write(ddb, w, n, &failed, old, eb);
	if (rc == RC_CONFLICT && guard != NULL && failed == n - 1) {
		guard->failed = true;
		eb_prefix(eb, "the guard of the create did not hold");
	}
out:
	update_req_cleanup(&cnt);
	return rc;
}

bool store_same_request(const struct appointment *a, const struct appointment *b)
{
	return strcmp(a->appointment_id, b->appointment_id) == 0 &&
	       strcmp(a->insured_id, b->insured_id) == 0 && a->schedule_id == b->schedule_id &&
	       strcmp(a->country, b->country) == 0;
}

enum rc store_put_pending(struct ddb_client *ddb, const char *table, const char *counters,
			  const struct appointment *a, struct store_guard *guard,
			  struct appointment *stored, bool *existed, struct errbuf *eb)
{
	struct json_object *item = NULL;
	struct json_object *old = NULL;
	struct ddb_put_req req = {.table = table, .condition = "attribute_not_exists(appointmentId)",
				  .old_on_fail = true};
	struct appointment cur;
	enum rc rc = store_item_from_appt(a, &item);

	if (existed != NULL)
		*existed = false;
	if (rc != RC_OK)
		return eb_set(eb, rc, "building the item of %s failed", a->appointment_id);
	req.item = item;
	rc = put_pending_write(ddb, &req, counters, a->insured_id, guard, &old, eb);
	if (rc == RC_OK) {
		cur = *a;
		goto out;
	}
	if (rc != RC_CONFLICT || (guard != NULL && guard->failed))
		goto out;
	/* the condition failed: whose item is it? */
	rc = condition_saw(ddb, table, a->appointment_id, old, &cur, eb);
	if (rc == RC_NOTFOUND)
		rc = eb_set(eb, RC_RETRY, "the item of %s failed the create condition, then was gone",
			    a->appointment_id);
	if (rc != RC_OK)
		goto out;
	if (!store_same_request(a, &cur)) {
		rc = eb_set(eb, RC_CONFLICT, "appointment id %s already holds another appointment",
			    a->appointment_id);
		goto out;
	}
	if (existed != NULL)
		*existed = true;
out:
	if (rc == RC_OK && stored != NULL)
		*stored = cur;
	json_object_put(old);
	json_object_put(item);
	return rc;
}

enum rc store_get(struct ddb_client *ddb, const char *table, const char *id,
		  struct appointment *out, struct errbuf *eb)
{
	struct json_object *key = NULL;
	struct json_object *item = NULL;
	enum rc rc = key_of(id, &key);

	if (rc != RC_OK)
		return eb_set(eb, rc, "building the key failed");
	rc = ddb_get_item(ddb, table, key, true, &item, eb);
	if (rc == RC_OK) {
		rc = store_appt_from_item(item, out, eb);
		if (rc != RC_OK)
			eb_prefix(eb, "item %s is corrupt", id);
	}
	json_object_put(item);
	json_object_put(key);
	return rc;
}

/* ExpressionAttributeValues from name/value string pairs (NULL-terminated). */
static enum rc values_of(const char *const *pairs, struct json_object **out)
{
	struct json_object *v = json_object_new_object();
	enum rc rc = RC_OK;

	*out = NULL;
	if (v == NULL)
		return RC_NOMEM;
	for (size_t i = 0; pairs[i] != NULL && rc == RC_OK; i += 2)
		rc = ddb_put_s(v, pairs[i], pairs[i + 1]);
	if (rc != RC_OK) {
		json_object_put(v);
		return rc;
	}
	*out = v;
	return RC_OK;
}

/* One step of the status machine: the conditional UpdateItem and what a failed
 * condition means, given the status the item has then. */
struct transition {
	const char *update;            /* UpdateExpression (#s = status, :new = to) */
	const char *const *pairs;      /* more string values: ":name", value, ..., NULL */
	struct json_object *extra;     /* one more value, named ":sch" (taken), or NULL */
	enum appt_status to;           /* the target status */
	enum appt_status from[3];      /* statuses it may leave */
	size_t n_from;
	enum appt_status already[2];   /* statuses that count as "already there" */
	size_t n_already;
	struct appointment *item;      /* NULL, or the caller's read of the item, kept current:
					* replaced by the item a failed condition showed, and
					* (without counters) by the item the update wrote */
};

static bool status_in(const enum appt_status *set, size_t n, enum appt_status st)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == st)
			return true;
	return false;
}

static enum store_outcome classify(const struct transition *t, enum appt_status now)
{
	return status_in(t->already, t->n_already, now) ? STORE_ALREADY : STORE_WRONG_STATE;
}

/* The item's UpdateItem of t, conditioned on a status in from[0..n_from) and, when insured
 * is not NULL, on the item's insuredId. */
static enum rc transition_request(const char *table, const char *id, const struct transition *t,
				  const enum appt_status *from, size_t n_from, const char *insured,
				  struct ddb_update_req *req)
{
	static const char *const conds[2][3] = {
		{"#s = :f0", "#s IN (:f0, :f1)", "#s IN (:f0, :f1, :f2)"},
		{"#s = :f0 AND insuredId = :ins", "#s IN (:f0, :f1) AND insuredId = :ins",
		 "#s IN (:f0, :f1, :f2) AND insuredId = :ins"}};
	static const char *const fnames[3] = {":f0", ":f1", ":f2"};
	enum rc rc;

	memset(req, 0, sizeof(*req));
	req->table = table;
	req->update = t->update;
	req->condition = conds[insured != NULL][n_from - 1];
	req->ret = DDB_RET_NONE;
	req->old_on_fail = true;
	rc = key_of(id, &req->key);
	if (rc == RC_OK)
		rc = values_of(t->pairs, &req->values);
	if (rc == RC_OK)
		rc = ddb_put_s(req->values, ":new", appt_status_name(t->to));
	for (size_t i = 0; i < n_from && rc == RC_OK; i++)
		rc = ddb_put_s(req->values, fnames[i], appt_status_name(from[i]));
	if (rc == RC_OK && insured != NULL)
		rc = ddb_put_s(req->values, ":ins", insured);
	if (rc == RC_OK)
		rc = ddb_name(&req->names, STATUS_NAME);
	if (rc == RC_OK && t->extra != NULL)
		rc = ddb_put(req->values, ":sch", json_object_get(t->extra));
	return rc;
}

/* The item update of t, and with counters the insured's counters (from - 1, to + 1), in
 * one transaction. On a failed condition, *old as ddb_update_item gives it. */
static enum rc transition_write(struct ddb_client *ddb, const char *table, const char *counters,
				const char *id, const char *insured, const struct transition *t,
				const enum appt_status *from, size_t n_from,
				struct json_object **old, struct errbuf *eb)
{
	struct ddb_update_req req;
	struct ddb_update_req cnt = {0};
	enum rc rc = transition_request(table, id, t, from, n_from, insured, &req);

	if (rc == RC_OK && counters != NULL)
		rc = counters_update(counters, insured, appt_status_name(from[0]),
				     appt_status_name(t->to), &cnt);
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the update of %s failed", id);
	} else if (counters == NULL) {
		struct json_object *attrs = NULL;

		if (t->item != NULL)
			req.ret = DDB_RET_ALL_NEW;
		rc = ddb_update_item(ddb, &req, t->item != NULL ? &attrs : NULL, old, eb);
		if (rc == RC_OK && attrs != NULL)
			rc = store_appt_from_item(attrs, t->item, eb);
		json_object_put(attrs);
	} else {
		const struct ddb_tx_write w[] = {{.update = &req}, {.update = &cnt}};

		rc = ddb_transact_write(ddb, w, 2, NULL, old, eb);
	}
	update_req_cleanup(&req);
	update_req_cleanup(&cnt);
	return rc;
}

#define TRANSITION_TRIES 4 /* a counted transition follows the item's status this often */

/* Runs one transition and names the outcome of a failed condition from the old image
 * (ReturnValuesOnConditionCheckFailure) or, where an endpoint does not return one, a
 * consistent read. Without counters: one UpdateItem conditioned on any status of
 * t->from. With counters, the counters item of the insured changes with the item, so
 * the status it leaves must be known: one status at a time, starting from the first of
 * t->from (or the one a read finds when insured is NULL), following the item's status
 * when the condition fails. Takes t->extra. */
static enum rc transition_run(struct ddb_client *ddb, const char *table, const char *counters,
			      const char *id, const char *insured, struct transition *t,
			      enum store_outcome *outcome, struct errbuf *eb)
{
	struct json_object *old = NULL;
	struct appointment cur;
	enum appt_status from = t->from[0];
	char who[APPT_INSURED_SIZE] = "";
	char key[APPT_ID_SIZE];
	enum rc rc = RC_OK;

	/* copies: id and insured may point into *t->item, which this overwrites */
	snprintf(key, sizeof(key), "%s", id);
	id = key;
	if (insured != NULL) {
		snprintf(who, sizeof(who), "%s", insured);
		insured = who;
	}
	/* the caller's read is the likeliest status to leave: the first write is then right
	 * unless the item moved since (and the condition tells where to) */
	if (t->item != NULL && status_in(t->from, t->n_from, t->item->status))
		from = t->item->status;
	if (counters != NULL && insured == NULL) {
		rc = store_get(ddb, table, id, &cur, eb);
		if (rc != RC_OK)
			goto out;
		snprintf(who, sizeof(who), "%s", cur.insured_id);
		insured = who;
		if (t->item != NULL)
			*t->item = cur;
		if (!status_in(t->from, t->n_from, cur.status)) {
			*outcome = classify(t, cur.status);
			goto out;
		}
		from = cur.status;
	}
	for (int tries = 0;; tries++) {
		if (counters != NULL)
			rc = transition_write(ddb, table, counters, id, insured, t, &from, 1, &old, eb);
		else
			rc = transition_write(ddb, table, NULL, id, NULL, t, t->from, t->n_from, &old,
					      eb);
		if (rc == RC_OK) {
			*outcome = STORE_APPLIED;
			break;
		}
		if (rc != RC_CONFLICT)
			break;
		rc = condition_saw(ddb, table, id, old, &cur, eb);
		json_object_put(old);
		old = NULL;
		if (rc != RC_OK)
			break;
		if (counters != NULL && strcmp(cur.insured_id, insured) != 0) {
			/* no insuredId in the text: it travels into logs and Processing Errors */
			rc = eb_set(eb, RC_INVAL, "appointment %s belongs to another insuredId", id);
			break;
		}
		if (t->item != NULL)
			*t->item = cur;
		if (counters == NULL || !status_in(t->from, t->n_from, cur.status)) {
			*outcome = classify(t, cur.status);
			break;
		}
		/* it moved to another status this transition may leave: count from that one */
		if (tries + 1 >= TRANSITION_TRIES) {
			rc = eb_set(eb, RC_RETRY, "appointment %s keeps changing status", id);
			break;
		}
		from = cur.status;
	}
out:
	json_object_put(old);
	json_object_put(t->extra);
	t->extra = NULL;
	return rc;
}

enum rc store_mark_processed(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured,
			     const struct appt_schedule *schedule, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":now", now_iso, NULL};
	struct transition t = {
		"SET #s = :new, processedAt = :now, updatedAt = :now, schedule = :sch", pairs, NULL,
		APPT_PROCESSED, {APPT_PENDING}, 1, {APPT_PROCESSED, APPT_COMPLETED}, 2, NULL};
	/* cancelling/cancelled is WRONG_STATE: the worker gives back the slot it just took */
	enum rc rc = store_schedule_value(schedule, &t.extra);

	if (rc != RC_OK)
		return eb_set(eb, rc, "building the update of %s failed", id);
	return transition_run(ddb, table, counters, id, insured, &t, outcome, eb);
}

enum rc store_mark_failed(struct ddb_client *ddb, const char *table, const char *counters,
			  const char *id, const char *insured, const char *reason,
			  const char *now_iso, enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":now", now_iso, ":r", reason, NULL};
	struct transition t = {"SET #s = :new, failureReason = :r, updatedAt = :now", pairs, NULL,
			       APPT_FAILED, {APPT_PENDING}, 1, {APPT_FAILED}, 1, NULL};

	return transition_run(ddb, table, counters, id, insured, &t, outcome, eb);
}

enum rc store_mark_completed(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":now", now_iso, NULL};
	/* processed first: the worker has nearly always been there before the event */
	struct transition t = {"SET #s = :new, completedAt = :now, updatedAt = :now", pairs, NULL,
			       APPT_COMPLETED, {APPT_PROCESSED, APPT_PENDING}, 2,
			       {APPT_COMPLETED}, 1, NULL};

	return transition_run(ddb, table, counters, id, insured, &t, outcome, eb);
}

enum rc store_mark_cancelling(struct ddb_client *ddb, const char *table, const char *counters,
			      const char *id, const char *insured, const char *now_iso,
			      const struct appt_trace *by, struct appointment *item,
			      enum store_outcome *outcome, struct errbuf *eb)
{
	/* by index: 1 = the cancel's request id is set, 2 = its traceparent */
	static const char *const updates[4] = {
		"SET #s = :new, updatedAt = :now",
		"SET #s = :new, updatedAt = :now, " STORE_ATTR_CANCEL_REQUEST_ID " = :crid",
		"SET #s = :new, updatedAt = :now, " STORE_ATTR_CANCEL_TRACEPARENT " = :ctp",
		"SET #s = :new, updatedAt = :now, " STORE_ATTR_CANCEL_REQUEST_ID " = :crid, "
		STORE_ATTR_CANCEL_TRACEPARENT " = :ctp"};
	static const struct appt_trace none; /* no ids */
	const char *pairs[7] = {":now", now_iso};
	size_t np = 2;
	int which = 0;
	/* completed first: most appointments are completed by the time anyone cancels */
	struct transition t = {NULL, pairs, NULL, APPT_CANCELLING,
			       {APPT_COMPLETED, APPT_PROCESSED, APPT_PENDING}, 3,
			       {APPT_CANCELLING, APPT_CANCELLED}, 2, item};
	enum rc rc;

	if (by == NULL)
		by = &none;
	if (by->request_id[0] != '\0') {
		pairs[np++] = ":crid";
		pairs[np++] = by->request_id;
		which |= 1;
	}
	if (by->traceparent[0] != '\0') {
		pairs[np++] = ":ctp";
		pairs[np++] = by->traceparent;
		which |= 2;
	}
	t.update = updates[which];
	rc = transition_run(ddb, table, counters, id, insured, &t, outcome, eb);
	/* the item as written: what the write found (a worker may have moved it on since the
	 * caller's read), with the attributes the update sets */
	if (rc == RC_OK && *outcome == STORE_APPLIED && item != NULL) {
		item->status = APPT_CANCELLING;
		snprintf(item->updated_at, sizeof(item->updated_at), "%s", now_iso);
		item->cancel_trace = *by;
	}
	return rc;
}

enum rc store_mark_cancelled(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":now", now_iso, NULL};
	struct transition t = {"SET #s = :new, cancelledAt = :now, updatedAt = :now", pairs, NULL,
			       APPT_CANCELLED, {APPT_CANCELLING}, 1, {APPT_CANCELLED}, 1, NULL};

	return transition_run(ddb, table, counters, id, insured, &t, outcome, eb);
}
