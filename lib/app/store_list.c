/* store_list.c — reading the appointments table: the per-insured listing on
 * insuredId-createdAt-index (a page, its totals and the cursor that continues it) and
 * the reconciler's walk over status-createdAt-index. */
#include "app/store.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "app/store_item.h"
#include "app/tables.h"

/* "status" is a DynamoDB reserved word: every expression names it #s. */
#define STATUS_NAME "#s", "status"

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
 * order of SPEC §3 puts it. Items before offset are counted, not kept; items a cursor
 * already listed (its createdAt, appointmentId and above) are skipped. */
struct gather {
	struct appointment *page;  /* items at positions offset .. offset+limit-1 */
	size_t n;                  /* items in page */
	struct appointment *run;   /* the current run of equal createdAt, unordered */
	size_t run_n, run_cap;
	size_t seen;               /* items numbered so far (runs already flushed) */
	size_t offset, limit;
	const char *after_created; /* the cursor's item, or NULL */
	const char *after_id;
	bool stopped;              /* we ended the walk ourselves: an item follows the page */
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

/* True when the cursor's page already listed a (it is not after the cursor's item). */
static bool gather_listed(const struct gather *g, const struct appointment *a)
{
	int c;

	if (g->after_created == NULL)
		return false;
	c = strcmp(a->created_at, g->after_created);
	return c > 0 || (c == 0 && strcmp(a->appointment_id, g->after_id) >= 0);
}

static enum rc gather_item(void *ctx, struct json_object *item, struct errbuf *eb)
{
	struct gather *g = ctx;
	struct appointment a;
	enum rc rc;

	rc = store_appt_from_item(item, &a, eb);
	if (rc != RC_OK)
		return rc;
	if (gather_listed(g, &a))
		return RC_OK;
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

/* How the listing Query of list_request is bounded. */
enum list_scope {
	LIST_BARE,     /* insuredId only: every item of the insured (totalAvailable) */
	LIST_FILTERED, /* with the status and date filters (the total) */
	LIST_PAGE,     /* filtered and, with a cursor, ending at the cursor's createdAt */
};

/* Key condition and values for q in the given scope. *empty is set when the range is
 * empty (a cursor older than startDate): no Query is needed. */
static enum rc list_request(const struct store_list_query *q, enum list_scope scope,
			    const char *table, struct ddb_query_req *req, bool *empty)
{
	const char *upper = scope == LIST_BARE ? NULL : q->end_date;
	const char *lower = scope == LIST_BARE ? NULL : q->start_date;
	enum rc rc = RC_OK;

	memset(req, 0, sizeof(*req));
	*empty = false;
	if (scope == LIST_PAGE && q->after_created != NULL &&
	    (upper == NULL || strcmp(q->after_created, upper) < 0))
		upper = q->after_created;
	if (lower != NULL && upper != NULL && strcmp(lower, upper) > 0)
		*empty = true;
	req->table = table;
	req->index = TBL_GSI_INSURED;
	req->descending = true;
	req->limit = q->page_size;
	req->key_condition = "insuredId = :i";
	req->values = json_object_new_object();
	if (req->values == NULL)
		return RC_NOMEM;
	rc = ddb_put_s(req->values, ":i", q->insured_id);
	if (scope == LIST_BARE || rc != RC_OK)
		return rc;
	/* only a page's Query reads items (a COUNT takes no projection) */
	if (scope == LIST_PAGE) {
		req->projection = STORE_PUBLIC_PROJECTION;
		rc = store_public_names(&req->names);
		if (rc != RC_OK)
			return rc;
	}
	if (lower != NULL && upper != NULL)
		req->key_condition = "insuredId = :i AND createdAt BETWEEN :a AND :b";
	else if (lower != NULL)
		req->key_condition = "insuredId = :i AND createdAt >= :a";
	else if (upper != NULL)
		req->key_condition = "insuredId = :i AND createdAt <= :b";
	if (rc == RC_OK && lower != NULL)
		rc = ddb_put_s(req->values, ":a", lower);
	if (rc == RC_OK && upper != NULL)
		rc = ddb_put_s(req->values, ":b", upper);
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
	memset(req, 0, sizeof(*req));
}

/* COUNT of the items of q in scope (LIST_BARE or LIST_FILTERED): O(items counted). */
static enum rc list_count(struct ddb_client *ddb, const char *table,
			  const struct store_list_query *q, enum list_scope scope, size_t *out,
			  struct errbuf *eb)
{
	struct ddb_query_req req;
	int64_t n = 0;
	bool empty = false;
	enum rc rc = list_request(q, scope, table, &req, &empty);

	if (rc != RC_OK)
		rc = eb_set(eb, rc, "building the listing count failed");
	else if (!empty)
		rc = ddb_query_count(ddb, &req, &n, eb);
	list_request_cleanup(&req);
	*out = rc == RC_OK ? (size_t)n : 0;
	return rc;
}

/* Reads the page: one Query whose Limit is what the page needs (offset + limit and one
 * more item, to know whether the list goes on), followed over its pages only while
 * the filter leaves the page short. */
static enum rc list_walk(struct ddb_client *ddb, const char *table,
			 const struct store_list_query *q, struct gather *g, struct errbuf *eb)
{
	struct ddb_query_req req;
	struct ddb_query_stats stats;
	/* + 1 to know whether the list goes on; + 1 for the cursor's own item, read again */
	size_t need = g->offset + g->limit + 1 + (q->after_created != NULL ? 1 : 0);
	bool empty = false;
	enum rc rc = list_request(q, LIST_PAGE, table, &req, &empty);

	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the listing query failed");
		goto out;
	}
	if (empty)
		goto out;
	/* Limit counts items read before the status filter: read ahead for a filtered page */
	if (q->status != NULL)
		need *= STORE_FILTER_READAHEAD;
	if (need > DDB_PAGE_LIMIT_MAX)
		need = DDB_PAGE_LIMIT_MAX;
	if (req.limit <= 0 || (size_t)req.limit > need)
		req.limit = (int)need;
	/* the walk ends at the first createdAt past the page, so a run of ties is all it
	 * reads beyond offset + limit */
	rc = ddb_query_all(ddb, &req, g->offset + g->limit + STORE_TIES_MAX + 1, gather_item, g,
			   &stats, eb);
	if (rc == GATHER_STOP && g->stopped)
		rc = RC_OK;
	else if (rc == RC_OK && stats.truncated)
		rc = eb_set(eb, RC_INVAL, "listing walked past its bound");
out:
	list_request_cleanup(&req);
	return rc;
}

/* The totals of a listing from the insured's counters where they can tell them (no date
 * filter: a date range is not counted), else from COUNT Queries: total when the walk
 * stopped before the end of the list or started at a cursor (need_total), totalAvailable
 * when filtered. */
static enum rc list_totals(struct ddb_client *ddb, const char *table, const char *counters,
			   const struct store_list_query *q, bool need_total,
			   struct store_page *out, struct errbuf *eb)
{
	struct store_counts cnt;
	bool filtered = q->status != NULL || q->start_date != NULL || q->end_date != NULL;
	bool dated = q->start_date != NULL || q->end_date != NULL;
	bool have = false;
	enum appt_status st = APPT_PENDING;
	enum rc rc = RC_OK;

	if (q->status != NULL && appt_status_parse(q->status, &st) != RC_OK)
		return eb_set(eb, RC_INVAL, "unknown status %s", q->status);
	if (counters != NULL && ((need_total && !dated) || filtered)) {
		rc = store_counters(ddb, counters, q->insured_id, &cnt, eb);
		have = rc == RC_OK;
		/* no counters item: appointments stored before counters were kept */
		if (rc == RC_NOTFOUND)
			rc = RC_OK;
	}
	if (rc == RC_OK && need_total) {
		if (have && !dated)
			out->total = (size_t)(q->status != NULL ? cnt.by_status[st] : cnt.all);
		else
			rc = list_count(ddb, table, q, LIST_FILTERED, &out->total, eb);
	}
	out->total_available = out->total;
	if (rc == RC_OK && filtered) {
		if (have)
			out->total_available = (size_t)cnt.all;
		else
			rc = list_count(ddb, table, q, LIST_BARE, &out->total_available, eb);
	}
	return rc;
}

enum rc store_list(struct ddb_client *ddb, const char *table, const char *counters,
		   const struct store_list_query *q, struct store_page *out, struct errbuf *eb)
{
	struct gather g = {0};
	size_t known;
	enum rc rc;

	memset(out, 0, sizeof(*out));
	if (q->limit < 1 || q->limit > STORE_PAGE_MAX || q->offset < 0 ||
	    q->offset > STORE_OFFSET_MAX || q->after_pos < 0 ||
	    (q->after_created != NULL && (q->after_id == NULL || q->offset != 0)))
		return eb_set(eb, RC_INVAL, "limit must be 1..%d, offset 0..%d, a cursor without offset",
			      STORE_PAGE_MAX, STORE_OFFSET_MAX);
	g.offset = (size_t)q->offset;
	g.limit = (size_t)q->limit;
	g.after_created = q->after_created;
	g.after_id = q->after_id;
	g.page = malloc(g.limit * sizeof(*g.page));
	if (g.page == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory listing appointments");
		goto out;
	}
	rc = list_walk(ddb, table, q, &g, eb);
	if (rc != RC_OK)
		goto out;
	gather_flush(&g);
	out->more = g.stopped || g.seen > g.offset + g.limit;
	/* What the walk saw is a floor for the totals. A walk from the start that reached the
	 * end of the list saw the total itself: neither counters nor a COUNT are needed. From
	 * a cursor it saw only what follows; the cursor's position is the list as it was when
	 * its page was served (items created since come before it) and the client's to alter,
	 * so the last page reads its totals like any other. */
	known = g.seen + (g.stopped ? 1 : 0);
	out->total = known;
	rc = list_totals(ddb, table, counters, q, g.stopped || q->after_created != NULL, out,
			 eb);
	if (rc != RC_OK)
		goto out;
	/* counters and the index are read apart (the index lags a little): never below
	 * what this very walk saw */
	if (out->total < known)
		out->total = known;
	if (out->total_available < out->total)
		out->total_available = out->total;
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
	struct ddb_query_req req = {.index = TBL_GSI_STATUS,
				    .key_condition = "#s = :st AND createdAt < :b"};
	struct scan_ctx s = {fn, ud, false};
	enum rc rc = RC_NOMEM;

	req.table = table;
	req.values = json_object_new_object();
	if (req.values != NULL)
		rc = ddb_put_s(req.values, ":st", appt_status_name(st));
	if (rc == RC_OK)
		rc = ddb_put_s(req.values, ":b", before_iso);
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
