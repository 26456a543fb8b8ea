/* store.h — the appointments table (SPEC §4) over the DynamoDB client: create a
 * pending item, read one, the conditional status transitions of the status
 * machine, and the per-insured listing on insuredId-createdAt-index. Shared by
 * the API, the worker, the completion daemon and appointmentctl. */
#ifndef APPT_STORE_H
#define APPT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/dynamodb.h"
#include "domain/appointment.h"
#include "base/rc.h"

#define STORE_PAGE_MAX 1000       /* items on one listing page (the API allows 100) */
#define STORE_OFFSET_MAX 1000000  /* deepest listing offset: the walk reads offset + limit items */
#define STORE_TIES_MAX 10000      /* items of one listing sharing one createdAt; more is RC_INVAL */
#define STORE_FILTER_READAHEAD 4  /* a status-filtered page reads this many times its need */

/* Result of a status transition. */
enum store_outcome {
	STORE_APPLIED,        /* this call moved the item to the target status */
	STORE_ALREADY,        /* the item was already at or past the target: a redelivery */
	STORE_WRONG_STATE,    /* the item is in a state the transition cannot leave (failed) */
};

/* Counters: with a counters table (the side table of SPEC §4's totals; NULL = none kept),
 * every create and status transition also changes the insured's counters item ("all"
 * and one number per status) in the same TransactWriteItems, so a listing's totals cost
 * one GetItem. A transition then conditions the item on one status at a time (and on
 * insured, the insuredId the caller's message names: a mismatch is RC_INVAL; NULL makes
 * it read the item first). Without counters, writes are single PutItem/UpdateItem. */

/* Every call: AWS failures come back as the DynamoDB client maps them (RC_IO,
 * RC_TIMEOUT, RC_RETRY after retries or for a missing table: all transient) with eb
 * filled; ddb_last_error() has the AWS detail for metrics. RC_NOTFOUND means only that
 * the appointment is not in the table. */

/* A condition on another item that a create applies under (e.g. idem_fence's: the
 * request still holds its Idempotency-Key claim), checked in the same transaction. */
struct store_guard {
	const struct ddb_update_req *check; /* a ConditionCheck, borrowed */
	bool failed;                        /* out: it did not hold, nothing was written */
};

/* Creates the item, status pending (with a->trace, the POST's ids, when set), only if no
 * item has its id (attribute_not_exists)
 * and, with a guard (may be NULL), only while the guard's condition holds: when it does
 * not (and no item has the id), RC_CONFLICT with guard->failed set.
 * When the condition fails, the item holding the id decides (read from the failed
 * write's ALL_OLD image, or by a consistent read where an endpoint sends none): if it is
 * the same request (insuredId, scheduleId, countryISO), it is this appointment, stored
 * by an earlier attempt of ours: the AWS core's retry of this very put after a lost
 * reply (the id is fresh: nobody else knows it), or the first request of an
 * Idempotency-Key claim this request took over (the claim matched our request hash).
 * That is success: RC_OK with *existed true and *stored the item as it is now (its own
 * createdAt; its status may have moved on). Another appointment under the id is
 * RC_CONFLICT. On a fresh create *existed is false and *stored a copy of a. stored and
 * existed may be NULL. */
enum rc store_put_pending(struct ddb_client *ddb, const char *table, const char *counters,
			  const struct appointment *a, struct store_guard *guard,
			  struct appointment *stored, bool *existed, struct errbuf *eb) MUSTCHECK;

/* True when b is the appointment a request described by a asked for: same id, insuredId,
 * scheduleId and countryISO (createdAt and status may differ). */
bool store_same_request(const struct appointment *a, const struct appointment *b);

/* Reads one item (strongly consistent). RC_NOTFOUND when absent; RC_INVAL when
 * the item is corrupt (named in eb). */
enum rc store_get(struct ddb_client *ddb, const char *table, const char *id,
		  struct appointment *out, struct errbuf *eb) MUSTCHECK;

/* pending -> processed with schedule and processedAt/updatedAt = now_iso, in one
 * UpdateItem conditioned on status = pending. processed/completed already →
 * STORE_ALREADY; failed, cancelling, cancelled → STORE_WRONG_STATE; no item → RC_NOTFOUND. */
enum rc store_mark_processed(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured,
			     const struct appt_schedule *schedule, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb) MUSTCHECK;

/* pending -> failed with failureReason. failed already → STORE_ALREADY;
 * processed/completed → STORE_WRONG_STATE (the booking won); cancelling/cancelled too. */
enum rc store_mark_failed(struct ddb_client *ddb, const char *table, const char *counters,
			  const char *id, const char *insured, const char *reason,
			  const char *now_iso, enum store_outcome *outcome,
			  struct errbuf *eb) MUSTCHECK;

/* pending|processed -> completed with completedAt. completed already →
 * STORE_ALREADY; failed, cancelling, cancelled → STORE_WRONG_STATE (a cancel is never
 * completed); no item → RC_NOTFOUND. */
enum rc store_mark_completed(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb) MUSTCHECK;

/* The API's cancel: pending|processed|completed -> cancelling (updatedAt = now_iso), with
 * the ids of the DELETE that cancels (by, may be NULL: none) stored as cancelRequestId and
 * cancelTraceparent, each when set, so the reconciler's re-sent cancel carries them.
 * cancelling/cancelled already → STORE_ALREADY (nothing written); failed →
 * STORE_WRONG_STATE (not cancellable); no item → RC_NOTFOUND. item: NULL, or the caller's
 * read of the item; on STORE_APPLIED it is the item as written, which may have moved on
 * since that read (a worker's processed or completed in between). */
enum rc store_mark_cancelling(struct ddb_client *ddb, const char *table, const char *counters,
			      const char *id, const char *insured, const char *now_iso,
			      const struct appt_trace *by, struct appointment *item,
			      enum store_outcome *outcome, struct errbuf *eb) MUSTCHECK;

/* The worker's cancel, once the slot is released: cancelling -> cancelled with
 * cancelledAt = updatedAt = now_iso. cancelled already → STORE_ALREADY; any other status
 * → STORE_WRONG_STATE (no cancel was accepted); no item → RC_NOTFOUND. */
enum rc store_mark_cancelled(struct ddb_client *ddb, const char *table, const char *counters,
			     const char *id, const char *insured, const char *now_iso,
			     enum store_outcome *outcome, struct errbuf *eb) MUSTCHECK;

/* The counters item of one insuredId. */
struct store_counts {
	int64_t all;                            /* appointments ever created */
	int64_t by_status[APPT_STATUS_COUNT];   /* appointments now in each status */
};

/* Reads the counters of insured (eventually consistent). RC_NOTFOUND when it has none:
 * nothing created since counters were kept. */
enum rc store_counters(struct ddb_client *ddb, const char *counters, const char *insured,
		       struct store_counts *out, struct errbuf *eb) MUSTCHECK;

/* Listing filter; NULL members mean "no filter". */
struct store_list_query {
	const char *insured_id; /* required: 5 digits */
	const char *status;     /* a status name (appt_status_name) */
	const char *start_date; /* createdAt >= (canonical ISO-8601 ms) */
	const char *end_date;   /* createdAt <= */
	int limit;              /* 1..100 */
	int offset;             /* >= 0; 0 when a cursor is given */
	const char *after_created; /* a cursor: list what follows the item (after_created, */
	const char *after_id;      /* after_id) in the list order; NULL = from the newest */
	int64_t after_pos;      /* the cursor's position: items listed before it */
	int page_size;          /* Limit of each Query request at most; 0 = what the page needs */
};

/* One page of a listing. items is owned (store_page_cleanup). */
struct store_page {
	struct appointment *items; /* newest first: createdAt desc, then appointmentId desc */
	size_t n;                  /* items on this page, <= limit */
	size_t total;              /* items matching every filter */
	size_t total_available;    /* items of the insuredId before status/date filters */
	bool more;                 /* items follow this page */
};

/* Queries insuredId-createdAt-index (never a Scan), following LastEvaluatedKey while
 * the page needs it; the date range (and a cursor's createdAt) is a key condition, the
 * status a filter. Reads offset + limit + 1 items (plus the rest of a run of ties):
 * O(page) from a cursor, O(offset + page) with offset. A list that ends on this page
 * from its start knows its total without counting; otherwise (a page that does not end
 * the list, or any page reached through a cursor) the counters give it (one GetItem), or
 * a COUNT Query (O(items matched)) under a date filter or where the insured has no
 * counters item; the same for totalAvailable under a filter. RC_INVAL
 * for a limit or offset outside STORE_PAGE_MAX / STORE_OFFSET_MAX, or a cursor with an
 * offset. */
enum rc store_list(struct ddb_client *ddb, const char *table, const char *counters,
		   const struct store_list_query *q, struct store_page *out,
		   struct errbuf *eb) MUSTCHECK;
void store_page_cleanup(struct store_page *p);

/* Calls fn for each item of status st created before before_iso (the reconciler),
 * on status-createdAt-index, oldest first, at most max items. fn returns false to
 * stop early. */
enum rc store_scan_status(struct ddb_client *ddb, const char *table, enum appt_status st,
			  const char *before_iso, size_t max,
			  bool (*fn)(void *ud, const struct appointment *a), void *ud,
			  struct errbuf *eb) MUSTCHECK;

#endif
