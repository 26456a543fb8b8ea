/* store.c — the appointments table: conditional writes of the status machine and
 * the per-insured listing. Conditions live in the UpdateItem itself (never a
 * read-then-write); a read only follows a failed condition, to name the outcome. */
#include "app/store.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "app/store_item.h"
#include "app/tables.h"

/* Builds {"appointmentId": {"S": id}}. */
static enum rc key_of(const char *id, struct json_object **key)
{
	struct json_object *k = json_object_new_object();
	enum rc rc;

	*key = NULL;
	if (k == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(k, TBL_APPT_KEY, id);
	if (rc != RC_OK) {
		json_object_put(k);
		return rc;
	}
	*key = k;
	return RC_OK;
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

bool store_same_request(const struct appointment *a, const struct appointment *b)
{
	return strcmp(a->appointment_id, b->appointment_id) == 0 &&
	       strcmp(a->insured_id, b->insured_id) == 0 && a->schedule_id == b->schedule_id &&
	       strcmp(a->country, b->country) == 0;
}

enum rc store_put_pending(struct ddb_client *ddb, const char *table, const struct appointment *a,
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
	rc = ddb_put_item(ddb, &req, &old, eb);
	if (rc == RC_OK) {
		cur = *a;
		goto out;
	}
	if (rc != RC_CONFLICT)
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

/* "status" is a DynamoDB reserved word: every expression names it #s. */
#define STATUS_NAME "#s", "status"

/* One step of the status machine: the conditional UpdateItem and what a failed
 * condition means, given the status the item has then. */
struct transition {
	const char *update;            /* UpdateExpression (#s = status) */
	const char *condition;         /* ConditionExpression on #s */
	const char *const *pairs;      /* string values: ":name", value, ..., NULL */
	struct json_object *extra;     /* one more value, named ":sch" (taken), or NULL */
	enum appt_status already[2];   /* statuses that count as "already there" */
	size_t n_already;
};

static enum store_outcome classify(const struct transition *t, enum appt_status now)
{
	for (size_t i = 0; i < t->n_already; i++)
		if (t->already[i] == now)
			return STORE_ALREADY;
	return STORE_WRONG_STATE;
}

/* Runs one conditional UpdateItem and names the outcome of a failed condition from
 * the old image (ReturnValuesOnConditionCheckFailure) or, where an endpoint does not
 * return one, a consistent read. Takes t->extra. */
static enum rc transition_run(struct ddb_client *ddb, const char *table, const char *id,
			      const struct transition *t, enum store_outcome *outcome,
			      struct errbuf *eb)
{
	struct ddb_update_req req = {.table = table, .update = t->update,
				     .condition = t->condition, .ret = DDB_RET_NONE,
				     .old_on_fail = true};
	struct json_object *extra = t->extra;
	struct json_object *old = NULL;
	struct appointment cur;
	enum rc rc = key_of(id, &req.key);

	if (rc == RC_OK)
		rc = values_of(t->pairs, &req.values);
	if (rc == RC_OK)
		rc = ddb_name(&req.names, STATUS_NAME);
	if (rc == RC_OK && extra != NULL) {
		rc = ddb_put(req.values, ":sch", extra);
		extra = NULL;
	}
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the update of %s failed", id);
		goto out;
	}
	rc = ddb_update_item(ddb, &req, NULL, &old, eb);
	if (rc == RC_OK) {
		*outcome = STORE_APPLIED;
		goto out;
	}
	if (rc != RC_CONFLICT)
		goto out;
	rc = condition_saw(ddb, table, id, old, &cur, eb);
	if (rc == RC_OK)
		*outcome = classify(t, cur.status);
out:
	json_object_put(extra);
	json_object_put(old);
	json_object_put(req.key);
	json_object_put(req.values);
	json_object_put(req.names);
	return rc;
}

enum rc store_mark_processed(struct ddb_client *ddb, const char *table, const char *id,
			     const struct appt_schedule *schedule, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":p", "pending", ":new", "processed", ":now", now_iso, NULL};
	struct transition t = {
		"SET #s = :new, processedAt = :now, updatedAt = :now, schedule = :sch", "#s = :p",
		pairs, NULL, {APPT_PROCESSED, APPT_COMPLETED}, 2};
	enum rc rc = store_schedule_value(schedule, &t.extra);

	if (rc != RC_OK)
		return eb_set(eb, rc, "building the update of %s failed", id);
	return transition_run(ddb, table, id, &t, outcome, eb);
}

enum rc store_mark_failed(struct ddb_client *ddb, const char *table, const char *id,
			  const char *reason, const char *now_iso, enum store_outcome *outcome,
			  struct errbuf *eb)
{
	const char *pairs[] = {":p", "pending", ":new", "failed", ":now", now_iso, ":r", reason, NULL};
	const struct transition t = {"SET #s = :new, failureReason = :r, updatedAt = :now",
				     "#s = :p", pairs, NULL, {APPT_FAILED, APPT_FAILED}, 1};

	return transition_run(ddb, table, id, &t, outcome, eb);
}

enum rc store_mark_completed(struct ddb_client *ddb, const char *table, const char *id,
			     const char *now_iso, enum store_outcome *outcome, struct errbuf *eb)
{
	const char *pairs[] = {":p", "pending", ":d", "processed", ":new", "completed",
			       ":now", now_iso, NULL};
	const struct transition t = {"SET #s = :new, completedAt = :now, updatedAt = :now",
				     "#s IN (:p, :d)", pairs, NULL,
				     {APPT_COMPLETED, APPT_COMPLETED}, 1};

	return transition_run(ddb, table, id, &t, outcome, eb);
}

/* ---- Listing ---- */

/* SPEC §3 order: createdAt descending, then appointmentId descending. */
static int newest_first(const void *pa, const void *pb)
{
	const struct appointment *a = pa;
	const struct appointment *b = pb;
	int c = strcmp(b->created_at, a->created_at);

	return c != 0 ? c : strcmp(b->appointment_id, a->appointment_id);
}

/* The page being cut out of the walk. DynamoDB returns the index newest first, but
 * items tied on createdAt come in no set order: each run of ties is buffered, put in
 * appointmentId order and only then numbered, so the page boundary falls where the
 * order of SPEC §3 puts it. Items before offset are counted, not kept. */
struct gather {
	struct appointment *page;  /* items at positions offset .. offset+limit-1 */
	size_t n;                  /* items in page */
	struct appointment *run;   /* the current run of equal createdAt, unordered */
	size_t run_n, run_cap;
	size_t seen;               /* items numbered so far (runs already flushed) */
	size_t offset, limit;
	bool stopped;              /* we ended the walk ourselves */
};

#define GATHER_STOP RC_CONFLICT /* returned by the callback to end the walk early */

/* Numbers the buffered run and keeps the part of it that falls on the page. */
static void gather_flush(struct gather *g)
{
	if (g->run_n > 1)
		qsort(g->run, g->run_n, sizeof(*g->run), newest_first);
	for (size_t i = 0; i < g->run_n; i++) {
		size_t pos = g->seen + i;

		if (pos >= g->offset && pos - g->offset < g->limit)
			g->page[g->n++] = g->run[i];
	}
	g->seen += g->run_n;
	g->run_n = 0;
}

static enum rc gather_item(void *ctx, struct json_object *item, struct errbuf *eb)
{
	struct gather *g = ctx;
	struct appointment a;
	enum rc rc;

	rc = store_appt_from_item(item, &a, eb);
	if (rc != RC_OK)
		return rc;
	if (g->run_n > 0 && strcmp(a.created_at, g->run[0].created_at) != 0) {
		gather_flush(g);
		if (g->seen >= g->offset + g->limit) {
			g->stopped = true;
			return GATHER_STOP;
		}
	}
	if (g->run_n >= STORE_TIES_MAX)
		return eb_set(eb, RC_INVAL, "more than %d appointments share createdAt %s",
			      STORE_TIES_MAX, a.created_at);
	if (g->run_n == g->run_cap) {
		size_t ncap = g->run_cap ? g->run_cap * 2 : 32;
		void *p;

		if (ncap > STORE_TIES_MAX)
			ncap = STORE_TIES_MAX;
		p = realloc(g->run, ncap * sizeof(*g->run));
		if (p == NULL)
			return eb_set(eb, RC_NOMEM, "out of memory listing appointments");
		g->run = p;
		g->run_cap = ncap;
	}
	g->run[g->run_n++] = a;
	return RC_OK;
}

/* Key condition and values for q; with_filters=false gives the bare insuredId query. */
static enum rc list_request(const struct store_list_query *q, bool with_filters, const char *table,
			    struct ddb_query_req *req)
{
	enum rc rc = RC_OK;

	memset(req, 0, sizeof(*req));
	req->table = table;
	req->index = TBL_GSI_INSURED;
	req->descending = true;
	req->limit = q->page_size;
	req->key_condition = "insuredId = :i";
	req->values = json_object_new_object();
	if (req->values == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(req->values, ":i", q->insured_id);
	if (!with_filters || rc != RC_OK)
		return rc;
	if (q->start_date != NULL && q->end_date != NULL)
		req->key_condition = "insuredId = :i AND createdAt BETWEEN :a AND :b";
	else if (q->start_date != NULL)
		req->key_condition = "insuredId = :i AND createdAt >= :a";
	else if (q->end_date != NULL)
		req->key_condition = "insuredId = :i AND createdAt <= :b";
	if (rc == RC_OK && q->start_date != NULL)
		rc = ddb_put_s(req->values, ":a", q->start_date);
	if (rc == RC_OK && q->end_date != NULL)
		rc = ddb_put_s(req->values, ":b", q->end_date);
	if (rc == RC_OK && q->status != NULL) {
		req->filter = "#s = :st";
		rc = ddb_put_s(req->values, ":st", q->status);
		if (rc == RC_OK)
			rc = ddb_name(&req->names, STATUS_NAME);
	}
	return rc;
}

static void list_request_cleanup(struct ddb_query_req *req)
{
	json_object_put(req->values);
	json_object_put(req->names);
}

enum rc store_list(struct ddb_client *ddb, const char *table, const struct store_list_query *q,
		   struct store_page *out, struct errbuf *eb)
{
	struct ddb_query_req req;
	struct ddb_query_req bare;
	struct gather g = {0};
	struct ddb_query_stats stats;
	int64_t total = 0;
	int64_t available = 0;
	bool filtered = q->status != NULL || q->start_date != NULL || q->end_date != NULL;
	enum rc rc;

	memset(out, 0, sizeof(*out));
	memset(&bare, 0, sizeof(bare));
	if (q->limit < 1 || q->limit > STORE_PAGE_MAX || q->offset < 0 ||
	    q->offset > STORE_OFFSET_MAX)
		return eb_set(eb, RC_INVAL, "limit must be 1..%d and offset 0..%d", STORE_PAGE_MAX,
			      STORE_OFFSET_MAX);
	g.offset = (size_t)q->offset;
	g.limit = (size_t)q->limit;
	rc = list_request(q, true, table, &req);
	if (rc == RC_OK && filtered)
		rc = list_request(q, false, table, &bare);
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the listing query failed");
		goto out;
	}
	/* The totals first: a page past the end is answered without reading items. */
	rc = ddb_query_count(ddb, &req, &total, eb);
	if (rc == RC_OK && filtered)
		rc = ddb_query_count(ddb, &bare, &available, eb);
	if (rc != RC_OK)
		goto out;
	if (!filtered)
		available = total;
	out->total = (size_t)total;
	out->total_available = (size_t)available;
	if ((size_t)total <= g.offset)
		goto out;
	g.page = malloc(g.limit * sizeof(*g.page));
	if (g.page == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory listing appointments");
		goto out;
	}
	/* the walk ends at the first createdAt past the page, so a run of ties is all it
	 * reads beyond offset + limit */
	rc = ddb_query_all(ddb, &req, g.offset + g.limit + STORE_TIES_MAX + 1, gather_item, &g,
			   &stats, eb);
	if (rc == GATHER_STOP && g.stopped)
		rc = RC_OK;
	else if (rc == RC_OK && stats.truncated)
		rc = eb_set(eb, RC_INVAL, "listing walked past its bound");
	if (rc != RC_OK)
		goto out;
	gather_flush(&g);
	out->n = g.n;
	if (g.n > 0) {
		out->items = g.page;
		g.page = NULL;
	}
out:
	if (rc != RC_OK)
		memset(out, 0, sizeof(*out));
	free(g.page);
	free(g.run);
	list_request_cleanup(&req);
	list_request_cleanup(&bare);
	return rc;
}

void store_page_cleanup(struct store_page *p)
{
	if (p == NULL)
		return;
	free(p->items);
	memset(p, 0, sizeof(*p));
}

struct scan_ctx {
	bool (*fn)(void *ud, const struct appointment *a);
	void *ud;
	bool stopped;
};

static enum rc scan_item(void *ctx, struct json_object *item, struct errbuf *eb)
{
	struct scan_ctx *s = ctx;
	struct appointment a;
	enum rc rc = store_appt_from_item(item, &a, eb);

	if (rc != RC_OK)
		return rc;
	if (!s->fn(s->ud, &a)) {
		s->stopped = true;
		return GATHER_STOP;
	}
	return RC_OK;
}

enum rc store_scan_status(struct ddb_client *ddb, const char *table, enum appt_status st,
			  const char *before_iso, size_t max,
			  bool (*fn)(void *ud, const struct appointment *a), void *ud,
			  struct errbuf *eb)
{
	const char *pairs[] = {":st", appt_status_name(st), ":b", before_iso, NULL};
	struct ddb_query_req req = {.index = TBL_GSI_STATUS,
				    .key_condition = "#s = :st AND createdAt < :b"};
	struct scan_ctx s = {fn, ud, false};
	enum rc rc = values_of(pairs, &req.values);

	req.table = table;
	if (rc == RC_OK)
		rc = ddb_name(&req.names, STATUS_NAME);
	if (rc != RC_OK)
		rc = eb_set(eb, rc, "building the status query failed");
	else
		rc = ddb_query_all(ddb, &req, max, scan_item, &s, NULL, eb);
	if (rc == GATHER_STOP && s.stopped)
		rc = RC_OK;
	json_object_put(req.values);
	json_object_put(req.names);
	return rc;
}
