/* appointment_get.c — GET /appointments/{insuredId}/{appointmentId} (SPEC §3): one
 * appointment in the list's item shape with a strong ETag (If-None-Match → 304), and on
 * request (waitFor, timeout) held until its status matches or the time is up. A waiting
 * request is parked (run/http_park): no HTTP thread is held, and the server's one poller
 * reads the item of every waiter, each read with its own short budget. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app/store.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/etag.h"
#include "domain/validate_item.h"
#include "run/http_park.h"

/* The poller reads a waiter's item at most every WAIT_READ_EVERY_MS (an item changes a few
 * times in its life: 5 consistent reads a second per waiter bound the cost and keep the
 * answer within ~0.3 s of the change), each read bounded by WAIT_READ_BUDGET_MS (a slow
 * DynamoDB must not hold the other parked requests back: a failed read is tried again). */
#define WAIT_READ_EVERY_MS 200
#define WAIT_READ_BUDGET_MS 300
#define WAIT_FULL_RETRY_AFTER "1" /* seconds, when HTTP_PARK_LIMIT requests wait already */

/* One parked waiter. */
struct wait_state {
	struct api_ctx *ctx;
	const struct conf *cfg;          /* the request's configuration (valid while it is in
					  * flight, parked included; the poller reads it) */
	char insured[APPT_INSURED_SIZE]; /* the path's, padded */
	char id[APPT_ID_SIZE];           /* the path's, lower case */
	enum appt_wait wait;             /* what ends the wait (never APPT_WAIT_NONE) */
	int64_t next_read_ms;            /* monotonic ms of the poller's next read */
	bool have;                       /* the poller read a, and it ends the wait */
	struct appointment a;            /* when have */
};

void api_reply_item(const struct appointment *a, int status, const char *inm,
		    const struct http_request *req, struct http_response *resp)
{
	char etag[ETAG_SIZE];
	char *body = NULL;

	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", a->appointment_id);
	if (appt_item_json(a, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	etag_of(body, strlen(body), etag);
	if (etag_match(inm, etag)) {
		free(body);
		http_reply(resp, 304, NULL);
	} else {
		http_reply(resp, status, body);
	}
	http_add_header(resp, "ETag", etag);
}

bool api_read_item(struct api_ctx *ctx, struct api_thread *t, const char *insured,
		      const char *id, struct appointment *a, const struct http_request *req,
		      struct http_response *resp)
{
	struct errbuf eb = {{0}};
	enum rc rc = store_get(t->ddb, api_cfg(ctx)->table_name, id, a, &eb);

	api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_OK : rc);
	if (rc == RC_OK && strcmp(a->insured_id, insured) == 0)
		return true;
	if (rc == RC_OK || rc == RC_NOTFOUND)
		http_reply_error(resp, req, APIERR_APPOINTMENT_NOT_FOUND, NULL, NULL);
	else
		api_reply_store_failure(resp, req, rc, &eb);
	return false;
}

bool api_load_item(struct api_ctx *ctx, const char *insured, const char *id,
		   struct api_thread **t, struct appointment *a, const struct http_request *req,
		   struct http_response *resp)
{
	struct errbuf eb = {{0}};

	snprintf(resp->insured_id, sizeof(resp->insured_id), "%s", insured);
	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", id);
	*t = api_thread_get(ctx, &eb);
	if (*t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return false;
	}
	return api_read_item(ctx, *t, insured, id, a, req, resp);
}

static void wait_free(void *pctx)
{
	struct wait_state *ws = pctx;

	if (ws == NULL)
		return;
	metrics_add(ws->ctx->metrics, "appointmentd_appointment_waiters", NULL, -1);
	free(ws);
}

/* The poller: the item, once its read is due. A match (or the item gone) goes back to an
 * HTTP thread to be answered; a failed read waits for the next one. A stopping daemon
 * answers its waiters at once with what they have (the drain need not outwait them). */
static enum http_park_step wait_poll(void *pctx, const struct http_request *req,
				     struct http_response *resp)
{
	struct wait_state *ws = pctx;
	struct errbuf eb = {{0}};
	struct api_thread *t;
	struct appointment a;
	int64_t now = clk_mono_ms();
	enum rc rc;

	(void)req;
	(void)resp;
	if (atomic_load(&ws->ctx->stopping))
		return HTTP_PARK_RESUME;
	if (now < ws->next_read_ms)
		return HTTP_PARK_WAIT;
	ws->next_read_ms = now + WAIT_READ_EVERY_MS;
	t = api_thread_get(ws->ctx, &eb);
	if (t == NULL)
		return HTTP_PARK_WAIT;
	api_budget_set(t, now + WAIT_READ_BUDGET_MS);
	rc = store_get(t->ddb, ws->cfg->table_name, ws->id, &a, &eb);
	api_dep_mark(&ws->ctx->ddb_dep, rc == RC_NOTFOUND ? RC_OK : rc);
	if (rc == RC_NOTFOUND)
		return HTTP_PARK_RESUME;
	if (rc != RC_OK || !appt_wait_done(ws->wait, a.status))
		return HTTP_PARK_WAIT;
	ws->a = a;
	ws->have = true;
	return HTTP_PARK_RESUME;
}

/* The time is up: the current state is the answer (read on an HTTP thread). */
static enum http_park_step wait_timeout(void *pctx, const struct http_request *req,
					struct http_response *resp)
{
	(void)pctx;
	(void)req;
	(void)resp;
	return HTTP_PARK_RESUME;
}

/* Back on an HTTP thread: the item the poller found, or a fresh read of it. */
static void wait_resume(void *ud, const struct http_request *req, struct http_response *resp,
			void *pctx)
{
	struct api_ctx *ctx = ud;
	struct wait_state *ws = pctx;
	struct errbuf eb = {{0}};
	struct api_thread *t = ws->have ? NULL : api_thread_get(ctx, &eb);

	if (!ws->have && t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
	} else {
		if (t != NULL)
			api_budget_set(t, 0); /* a GET keeps the AWS policy (guard.c) */
		if (ws->have || api_read_item(ctx, t, ws->insured, ws->id, &ws->a, req, resp))
			api_reply_item(&ws->a, 200, http_header(req, "If-None-Match"), req, resp);
	}
	wait_free(ws);
}

/* "?waitFor": a waiter is held up to 20 s on purpose; in the route's histogram its wait
 * would be latency, and the p99 alert would fire once 1 % of the GETs wait
 * (docs/operations.md, section 8) */
static const struct http_park_ops wait_park_ops = {wait_poll, wait_timeout, wait_resume,
						   wait_free, "?waitFor"};

/* Parks the request until a's status ends the wait q asks for; false when it cannot
 * (HTTP_PARK_LIMIT requests wait already, or no memory). */
static bool park_waiter(struct api_ctx *ctx, const struct appointment *a,
			const struct val_item_query *q, const struct http_request *req,
			struct http_response *resp)
{
	struct wait_state *ws = calloc(1, sizeof(*ws));
	int64_t now = clk_mono_ms();

	if (ws == NULL)
		return false;
	ws->ctx = ctx;
	ws->cfg = api_cfg(ctx);
	memcpy(ws->insured, a->insured_id, sizeof(ws->insured));
	memcpy(ws->id, a->appointment_id, sizeof(ws->id));
	ws->wait = q->wait;
	ws->next_read_ms = now + WAIT_READ_EVERY_MS;
	if (!http_park(req, resp, &wait_park_ops, ws, now + (int64_t)q->timeout_s * 1000)) {
		free(ws);
		return false;
	}
	metrics_add(ctx->metrics, "appointmentd_appointment_waiters", NULL, 1);
	return true;
}

void api_get_appointment(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_item_query q;
	struct val_errors errs;
	struct appointment a;
	char insured[APPT_INSURED_SIZE];
	char id[APPT_ID_SIZE];
	struct api_thread *t = NULL;
	size_t n = http_query(req, params, HTTP_MAX_QUERY);
	bool path_ok;

	val_errors_init(&errs);
	path_ok = val_item_path(req->params[0], req->params[1], insured, id, &errs) == RC_OK;
	if (val_item_query(params, n, &q, &errs) != RC_OK || !path_ok)
		errs.result = VAL_VALIDATION_ERROR;
	if (errs.result != VAL_OK) {
		api_reply_validation(resp, req, &errs);
		return;
	}
	if (!api_load_item(ctx, insured, id, &t, &a, req, resp))
		return;
	/* a stopping daemon answers what it has rather than make its drain wait */
	if (appt_wait_done(q.wait, a.status) || atomic_load(&ctx->stopping)) {
		api_reply_item(&a, 200, http_header(req, "If-None-Match"), req, resp);
		return;
	}
	if (park_waiter(ctx, &a, &q, req, resp))
		return;
	http_reply_error(resp, req, APIERR_SERVICE_UNAVAILABLE, NULL, NULL);
	http_add_header(resp, "Retry-After", WAIT_FULL_RETRY_AFTER);
}
