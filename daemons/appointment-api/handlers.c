/* handlers.c — the API's route table, POST /appointments and GET /appointments/{insuredId}
 * (SPEC §3).
 * A 201 goes out only once the item is stored; a failed publish leaves it pending
 * for the reconciler and the client still gets 201, since it will be processed. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pg/db_booking.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/timeutil.h"
#include "domain/validate.h"
#include "domain/validate_item.h"
#include "app/idem.h"
#include "app/publish.h"
#include "app/store.h"
#include "run/http_park.h"

/* A request that meets a twin's live claim of its key (the same request, another HTTP
 * exchange: a concurrent twin, or an earlier attempt of the client still at work) waits
 * for at most half its AWS budget ([api] aws_budget_ms: the wait counts against it, and the
 * rest is left for taking the claim over) until the twin stores its answer (replayed), or
 * gives up its claim (taken over). Past it, an item already stored under the claimed id is
 * answered; else 503 with Retry-After: 1. It waits parked (run/http_park): the poller reads the
 * claim every HTTP_PARK_INTERVAL_MS, each read bounded by TWIN_POLL_BUDGET_MS, and hands the
 * request back to an HTTP thread once the claim is decided, released or the wait is over;
 * no HTTP thread is held meanwhile. */
#define TWIN_POLL_BUDGET_MS 500

const struct http_route api_routes[] = {
	{"POST", "/appointments", api_post_appointment, true, false},
	{"GET", "/appointments/{insuredId}", api_list_appointments, false, false},
	{"GET", "/appointments/{insuredId}/{appointmentId}", api_get_appointment, false, false},
	{"DELETE", "/appointments/{insuredId}/{appointmentId}", api_cancel_appointment, false,
	 false},
	{"GET", "/schedules", api_list_schedules, false, false},
	{"GET", "/healthz", api_healthz, false, true},
	{"GET", "/readyz", api_readyz, false, true},
	{"GET", "/metrics", api_metrics, false, true},
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);

void api_reply_store_failure(struct http_response *resp, const struct http_request *req,
			     enum rc rc, const struct errbuf *eb)
{
	str_cut(resp->error, sizeof(resp->error), "%s", eb->msg);
	if (rc == RC_IO || rc == RC_TIMEOUT || rc == RC_RETRY || rc == RC_NOTFOUND) {
		http_reply_error(resp, req, APIERR_SERVICE_UNAVAILABLE, NULL, NULL);
		http_add_header(resp, "Retry-After", "5");
		return;
	}
	http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
}

void api_reply_validation(struct http_response *resp, const struct http_request *req,
			  const struct val_errors *errs)
{
	char *body = NULL;

	if (val_errors_to_json(errs, req->request_id, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, apierr_status(val_result_code(errs->result)), body);
}

/* The country database's view of the slot: true with *code set when it refuses the
 * request. Unreachable is not a refusal: SPEC §3 says accept and let the worker decide, so
 * the API never depends on PostgreSQL. */
static bool schedule_refused(struct api_ctx *ctx, struct api_thread *t,
			     const struct appt_request *ar, const struct http_request *req,
			     enum apierr_code *code)
{
	const struct conf *cfg = api_cfg(ctx);
	struct errbuf eb = {{0}};
	enum db_check_status st = DB_CHECK_NONE;
	struct log_fields f = {.request_id = req->request_id, .country = ar->country,
			       .duration_ms = -1};
	struct db_conn *db = NULL;
	enum rc rc = api_thread_db(ctx, t, ar->country, &db, &eb);

	if (rc != RC_OK) {
		f.error = eb.msg;
		log_warn(ctx->lg, &f, "schedule check skipped: no connection object");
		return false;
	}
	rc = db_check_schedule(db, ar->schedule_id, ar->country, cfg->db_check_timeout_ms,
			       &st, NULL, &eb);
	if (rc != RC_OK) {
		f.error = eb.msg;
		log_warn(ctx->lg, &f, "schedule check skipped, accepting: the worker will decide");
		metrics_add(ctx->metrics, "appointmentd_schedule_check_skipped_total", NULL, 1);
		return false;
	}
	if (st == DB_CHECK_NOT_FOUND) {
		*code = APIERR_SCHEDULE_NOT_FOUND;
		return true;
	}
	if (st == DB_CHECK_UNAVAILABLE) {
		*code = APIERR_SCHEDULE_UNAVAILABLE;
		return true;
	}
	return false;
}

/* The refusals stored on a key (idem_refuse): the same request meets them again. */
static const enum apierr_code stored_refusals[] = {APIERR_SCHEDULE_NOT_FOUND,
						   APIERR_SCHEDULE_UNAVAILABLE};

/* The key of this request as claimed: what every later write to the claim needs. */
struct key_claim {
	char record_key[APIKEYS_HEX_SIZE]; /* "" when the request has no Idempotency-Key */
	char request_hash[APIKEYS_HEX_SIZE];
	char token[IDEM_TOKEN_SIZE];       /* this HTTP exchange's claim token */
	bool taken_over;                   /* the id is an earlier claim's: its item may exist */
};

static void reply_replayed(struct http_response *resp, const char *appointment_id, char *body)
{
	http_reply(resp, 200, body);
	http_add_header(resp, "Idempotent-Replayed", "true");
	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", appointment_id);
}

/* A repeat of a key whose answer is stored: the appointment it created (200, replayed),
 * or the refusal its first request met. */
static void replay_stored(const struct idem_record *rec, const struct http_request *req,
			  struct http_response *resp)
{
	char *body = NULL;

	if (rec->response[0] == '\0') {
		for (size_t i = 0; i < sizeof(stored_refusals) / sizeof(stored_refusals[0]); i++) {
			if (strcmp(rec->refusal, apierr_name(stored_refusals[i])) == 0) {
				http_reply_error(resp, req, stored_refusals[i], NULL, NULL);
				http_add_header(resp, "Idempotent-Replayed", "true");
				return;
			}
		}
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	body = strdup(rec->response);
	if (body == NULL) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	reply_replayed(resp, rec->appointment_id, body);
}

/* Another request holds the key and has not answered yet: come back (a SPEC §3 client
 * retries a 503 with the same key and body, and then meets that request's answer; 409
 * IDEMPOTENCY_CONFLICT would tell it the key went with another body, and to stop). */
static void reply_key_busy(const struct http_request *req, struct http_response *resp)
{
	http_reply_error(resp, req, APIERR_SERVICE_UNAVAILABLE,
			 "A request with this Idempotency-Key is still being processed", NULL);
	http_add_header(resp, "Retry-After", "1");
}

/* The twin still holds the key past our wait: its item, if already stored, is the answer;
 * else come back later. A pending item is published again, since the twin may have died
 * between its put and its publish (kill -9): nothing else would publish it before the
 * reconciler, and the worker books a repeated message once. */
static void replay_busy(struct api_ctx *ctx, struct api_thread *t, const char *appointment_id,
			const struct http_request *req, struct http_response *resp)
{
	struct appointment a;
	struct errbuf eb = {{0}};
	char *body = NULL;
	enum rc rc = store_get(t->ddb, api_cfg(ctx)->table_name, appointment_id, &a, &eb);

	api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_OK : rc);
	if (rc == RC_NOTFOUND) {
		reply_key_busy(req, resp);
		return;
	}
	if (rc != RC_OK) {
		api_reply_store_failure(resp, req, rc, &eb);
		return;
	}
	if (a.status == APPT_PENDING)
		api_publish_or_defer(ctx, t, &a, req);
	if (appt_created_json(&a, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	reply_replayed(resp, appointment_id, body);
}

/* Gives up a claim whose request ends without an answer (SERVICE_UNAVAILABLE, a bug):
 * the record keeps its appointment id, and a twin or the client's retry takes it over. */
static void idempotency_release(struct api_ctx *ctx, struct api_thread *t,
				const struct key_claim *kc)
{
	struct errbuf eb = {{0}};
	enum rc rc;

	if (kc->record_key[0] == '\0')
		return;
	/* past the request's AWS budget: a claim left behind would hold the key until taken over */
	api_budget_set(t, clk_mono_ms() + API_RELEASE_GRACE_MS);
	rc = idem_release(t->ddb, api_cfg(ctx)->idempotency_table, kc->record_key, kc->token, &eb);
	if (rc != RC_OK && rc != RC_CONFLICT)
		log_emit_err(ctx->lg, LOG_LVL_WARN, eb.msg,
			     "releasing an Idempotency-Key claim failed; it is taken over once stale (20 s)");
}

/* One POST past its validation: what it goes on with after a twin's wait. */
struct post_state {
	struct api_ctx *ctx;
	const struct conf *cfg;          /* the request's configuration (valid while it is in
					  * flight, parked included) */
	struct appt_request ar;
	char id[APPT_ID_SIZE];           /* the appointment id to create */
	struct key_claim kc;
	char twin_id[APPT_ID_SIZE];      /* the appointment id of the twin's claim */
	int64_t wait_until_ms;           /* monotonic end of the twin wait (half the budget) */
	int64_t budget_until_ms;         /* monotonic end of the POST's AWS budget */
	bool timed_out;                  /* the twin wait is over */
};

enum gate {
	GATE_OWN,      /* the request owns the key (or has none): create */
	GATE_ANSWERED, /* resp is filled (replay, conflict, error) */
	GATE_PARKED,   /* waiting on a twin, parked */
};

static const struct http_park_ops twin_park_ops;

/* Claims ps's key; meeting a twin's live claim, parks the request until the twin is done
 * (or answers at once when the wait is over or no park is left). */
static enum gate gate_claim(struct api_thread *t, struct post_state *ps,
			    const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ps->ctx;
	struct key_claim *kc = &ps->kc;
	struct idem_record *rec = malloc(sizeof(*rec));
	enum idem_state st = IDEM_BUSY;
	struct errbuf eb = {{0}};
	enum gate g = GATE_ANSWERED;
	struct post_state *parked;
	enum rc rc;

	if (rec == NULL) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return GATE_ANSWERED;
	}
	rc = idem_claim(t->ddb, ps->cfg->idempotency_table, kc->record_key, kc->request_hash,
			kc->token, ps->id, clk_wall_ms() / 1000, &st, rec, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		/* the claim may have been applied with its reply lost: give it up (a no-op when
		 * it is not ours), so the client's retry need not wait for it to go stale */
		if (rc == RC_IO || rc == RC_TIMEOUT || rc == RC_RETRY)
			idempotency_release(ctx, t, kc);
		api_reply_store_failure(resp, req, rc, &eb);
		goto out;
	}
	switch (st) {
	case IDEM_CLAIMED:
	case IDEM_TAKEN_OVER:
		memcpy(ps->id, rec->appointment_id, APPT_ID_SIZE);
		kc->taken_over = st == IDEM_TAKEN_OVER;
		g = GATE_OWN;
		break;
	case IDEM_MISMATCH:
		http_reply_error(resp, req, APIERR_IDEMPOTENCY_CONFLICT, NULL, NULL);
		break;
	case IDEM_REPLAY:
		replay_stored(rec, req, resp);
		break;
	case IDEM_BUSY:
		memcpy(ps->twin_id, rec->appointment_id, APPT_ID_SIZE);
		parked = clk_mono_ms() < ps->wait_until_ms ? malloc(sizeof(*parked)) : NULL;
		if (parked != NULL) {
			*parked = *ps;
			if (http_park(req, resp, &twin_park_ops, parked, ps->wait_until_ms)) {
				g = GATE_PARKED;
				break;
			}
			free(parked);
		}
		/* the wait is over, or HTTP_PARK_LIMIT requests wait already */
		replay_busy(ctx, t, ps->twin_id, req, resp);
		break;
	}
out:
	if (g != GATE_OWN)
		kc->record_key[0] = '\0';
	free(rec);
	return g;
}

/* Checks the Idempotency-Key, if any, and claims it (gate_claim). */
static enum gate idempotency_gate(struct api_thread *t, struct post_state *ps,
				  const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ps->ctx;
	const char *key = http_header(req, "Idempotency-Key");
	char api_hash[APIKEYS_HEX_SIZE] = "";

	memset(&ps->kc, 0, sizeof(ps->kc));
	if (key == NULL)
		return GATE_OWN;
	if (!idem_key_valid(key)) {
		struct val_errors errs;

		val_errors_init(&errs);
		val_errors_add(&errs, VAL_VALIDATION_ERROR, "Idempotency-Key", VAL_CODE_INVALID_FORMAT,
			       "Idempotency-Key must be 1 to %d printable ASCII characters", IDEM_KEY_MAX);
		api_reply_validation(resp, req, &errs);
		return GATE_ANSWERED;
	}
	pthread_rwlock_rdlock(&ctx->keys_lock);
	if (ctx->keys != NULL && !apikeys_check(ctx->keys, http_header(req, "X-Api-Key"), api_hash))
		api_hash[0] = '\0';
	pthread_rwlock_unlock(&ctx->keys_lock);
	idem_record_key(api_hash, key, ps->kc.record_key);
	idem_request_hash(&ps->ar, ps->kc.request_hash);
	appt_id_new(ps->kc.token);
	return gate_claim(t, ps, req, resp);
}

void api_publish_or_defer(struct api_ctx *ctx, struct api_thread *t,
			  const struct appointment *a, const struct http_request *req)
{
	struct errbuf eb = {{0}};
	struct aws_error err;
	const char *arn = NULL;
	struct log_fields f = {.request_id = req->request_id, .appointment_id = a->appointment_id,
			       .insured_id = a->insured_id, .country = a->country, .duration_ms = -1};
	enum rc rc = api_topic_arn(ctx, t, a->country, &arn, &eb);

	if (rc == RC_OK)
		rc = publish_appointment(t->sns, arn, a, req->request_id,
					 http_header(req, "traceparent"), clk_wall_ms(), &err, &eb);
	api_topic_mark(ctx, a->country, rc);
	if (rc != RC_OK) {
		f.error = eb.msg;
		log_warn(ctx->lg, &f, "publish failed; stored as %s, the reconciler will publish it",
			 appt_status_name(a->status));
		metrics_add(ctx->metrics, "appointmentd_publish_deferred_total", NULL, 1);
	}
}

/* A claim taken over from a request that may have stored its item before it died or gave
 * up: that item, read back (*found), is the appointment of the key. Returns true when the
 * request is answered (the read failed: the claim is released). */
static bool taken_over_item(struct api_ctx *ctx, struct api_thread *t, const struct key_claim *kc,
			    const struct appointment *want, struct appointment *a, bool *found,
			    const struct http_request *req, struct http_response *resp)
{
	struct errbuf eb = {{0}};
	enum rc rc = store_get(t->ddb, api_cfg(ctx)->table_name, want->appointment_id, a, &eb);

	*found = rc == RC_OK;
	api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_OK : rc);
	if (rc == RC_OK && !store_same_request(want, a))
		rc = eb_set(&eb, RC_CONFLICT, "appointment %s describes another request",
			    want->appointment_id);
	if (rc == RC_OK || rc == RC_NOTFOUND)
		return false;
	idempotency_release(ctx, t, kc);
	api_reply_store_failure(resp, req, rc, &eb);
	return true;
}

/* Stores the outcome on the key; a failure only costs replays a read of the item (or,
 * for a refusal, a twin's wait). */
static void idempotency_store(struct api_ctx *ctx, struct api_thread *t,
			      const struct key_claim *kc, const struct http_request *req,
			      const char *body, enum apierr_code refusal)
{
	const char *table = api_cfg(ctx)->idempotency_table;
	struct errbuf eb = {{0}};
	struct log_fields f = {.request_id = req->request_id, .duration_ms = -1};
	enum rc rc;

	if (kc->record_key[0] == '\0')
		return;
	if (body != NULL)
		rc = idem_complete(t->ddb, table, kc->record_key, kc->token, body, &eb);
	else
		rc = idem_refuse(t->ddb, table, kc->record_key, kc->token, apierr_name(refusal),
				 &eb);
	if (rc == RC_OK)
		return;
	f.error = eb.msg;
	log_warn(ctx->lg, &f, rc == RC_CONFLICT
		 ? "the Idempotency-Key claim was taken over meanwhile; its new holder answers"
		 : "storing the idempotent answer failed; replays read the appointment");
}

/* Stores the item of ps (a put that finds our own earlier attempt of it sets *existed
 * and *a to the item as stored). With a key, the put is fenced by our claim: if the claim
 * was taken over or released meanwhile, nothing is stored, and the new holder answers.
 * Returns false when the request is answered. */
static bool create_item(struct api_ctx *ctx, struct api_thread *t, struct post_state *ps,
			const struct appointment *want, struct appointment *a, bool *existed,
			const struct http_request *req, struct http_response *resp)
{
	const struct conf *cfg = api_cfg(ctx);
	const struct key_claim *kc = &ps->kc;
	struct ddb_update_req check = {0};
	struct store_guard guard = {.check = &check};
	struct errbuf eb = {{0}};
	enum rc rc = RC_OK;

	if (kc->record_key[0] != '\0')
		rc = idem_fence(cfg->idempotency_table, kc->record_key, kc->token, &check, &eb);
	if (rc == RC_OK)
		rc = store_put_pending(t->ddb, cfg->table_name, cfg->counters_table, want,
				       kc->record_key[0] != '\0' ? &guard : NULL, a, existed, &eb);
	idem_fence_cleanup(&check);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc == RC_OK)
		return true;
	if (guard.failed) {
		struct log_fields f = {.request_id = req->request_id,
				       .appointment_id = want->appointment_id, .duration_ms = -1};

		log_warn(ctx->lg, &f, "the Idempotency-Key claim was taken over before the item "
			 "was stored; its new holder answers");
		reply_key_busy(req, resp);
		return false;
	}
	idempotency_release(ctx, t, kc);
	api_reply_store_failure(resp, req, rc, &eb);
	return false;
}

/* The POST once it owns its key (or has none): the schedule check, the item, the publish,
 * the answer stored on the key. */
static void post_owned(struct api_ctx *ctx, struct api_thread *t, struct post_state *ps,
		       const struct http_request *req, struct http_response *resp)
{
	struct key_claim *kc = &ps->kc;
	struct appointment a;
	struct appointment want;
	enum apierr_code refusal = APIERR_INTERNAL_ERROR;
	char location[64];
	char *body = NULL;
	bool existed = false;
	enum rc rc = appt_init_pending(&want, &ps->ar, ps->id, clk_wall_ms());

	if (rc != RC_OK) {
		idempotency_release(ctx, t, kc);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	/* kept on the item: a publish the reconciler makes later carries them too (SPEC §7) */
	appt_trace_set(&want.trace, req->request_id, http_header(req, "traceparent"));
	if (kc->taken_over && taken_over_item(ctx, t, kc, &want, &a, &existed, req, resp))
		return;
	if (!existed && schedule_refused(ctx, t, &ps->ar, req, &refusal)) {
		/* after a take-over the slot may be taken by this very id: the request that
		 * gave the claim up stored its item after we looked (the worker books only
		 * stored items, so a second look finds it) */
		if (kc->taken_over && taken_over_item(ctx, t, kc, &want, &a, &existed, req, resp))
			return;
		if (!existed) {
			idempotency_store(ctx, t, kc, req, NULL, refusal);
			http_reply_error(resp, req, refusal, NULL, NULL);
			return;
		}
	}
	/* a put that finds our own earlier attempt of it (a reply lost, the core retried; or
	 * the request whose claim we took over) is our success, and a is then the item as
	 * stored */
	if (!existed && !create_item(ctx, t, ps, &want, &a, &existed, req, resp))
		return;
	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", a.appointment_id);
	if (!existed || a.status == APPT_PENDING)
		api_publish_or_defer(ctx, t, &a, req);
	if (appt_created_json(&a, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	idempotency_store(ctx, t, kc, req, body, refusal);
	if (kc->taken_over && existed) {
		/* created by the request whose claim we took over: this is its repeat */
		reply_replayed(resp, a.appointment_id, body);
		return;
	}
	snprintf(location, sizeof(location), "/appointments/%s", a.insured_id);
	http_reply(resp, 201, body);
	http_add_header(resp, "Location", location);
}

/* The poller's look at the twin's claim (one consistent read with its own short budget, on
 * the poller's clients): still busy, or back to an HTTP thread to claim again. A failed read
 * is tried again next period; the wait's end bounds it all. */
static enum http_park_step twin_poll(void *pctx, const struct http_request *req,
				     struct http_response *resp)
{
	struct post_state *ps = pctx;
	struct errbuf eb = {{0}};
	struct api_thread *t = api_thread_get(ps->ctx, &eb);
	int64_t until = clk_mono_ms() + TWIN_POLL_BUDGET_MS;
	bool busy = true;
	enum rc rc;

	(void)req;
	(void)resp;
	if (t == NULL)
		return HTTP_PARK_RESUME;
	api_budget_set(t, until < ps->budget_until_ms ? until : ps->budget_until_ms);
	rc = idem_busy(t->ddb, ps->cfg->idempotency_table, ps->kc.record_key,
		       ps->kc.request_hash, ps->kc.token, clk_wall_ms() / 1000, &busy, &eb);
	api_dep_mark(&ps->ctx->ddb_dep, rc);
	return rc == RC_OK && !busy ? HTTP_PARK_RESUME : HTTP_PARK_WAIT;
}

static enum http_park_step twin_timeout(void *pctx, const struct http_request *req,
					struct http_response *resp)
{
	struct post_state *ps = pctx;

	(void)req;
	(void)resp;
	ps->timed_out = true;
	return HTTP_PARK_RESUME;
}

/* Back on an HTTP thread: the twin's claim is decided or released (claim again: replay,
 * take over, or wait more), or the wait is over (answer what is stored). */
static void twin_resume(void *ud, const struct http_request *req, struct http_response *resp,
			void *pctx)
{
	struct api_ctx *ctx = ud;
	struct post_state ps = *(struct post_state *)pctx;
	struct errbuf eb = {{0}};
	struct api_thread *t = api_thread_get(ctx, &eb);

	free(pctx);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	api_budget_set(t, ps.budget_until_ms);
	if (ps.timed_out) {
		replay_busy(ctx, t, ps.twin_id, req, resp);
		return;
	}
	if (gate_claim(t, &ps, req, resp) == GATE_OWN)
		post_owned(ctx, t, &ps, req, resp);
}

/* no route_suffix: a twin's wait is the POST's own latency, which the client did not ask for */
static const struct http_park_ops twin_park_ops = {twin_poll, twin_timeout, twin_resume, free,
						   NULL};

void api_post_appointment(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	struct post_state ps = {.ctx = ctx, .cfg = api_cfg(ctx)};
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_errors errs;
	struct api_thread *t;
	struct errbuf eb = {{0}};
	int64_t now = clk_mono_ms();
	size_t n = http_query(req, params, HTTP_MAX_QUERY);
	enum rc body_rc = val_appointment_body(req->body, req->body_len, ctx->countries,
					       ctx->n_countries, &ps.ar, &errs);

	/* no query parameter, as on DELETE: one the client meant (an idempotency key in the
	 * URL) must not be ignored; its error comes with the body's, all fields at once */
	if (val_item_no_query(params, n, &errs) != RC_OK || body_rc != RC_OK) {
		api_reply_validation(resp, req, &errs);
		return;
	}
	snprintf(resp->insured_id, sizeof(resp->insured_id), "%s", ps.ar.insured_id);
	t = api_thread_get(ctx, &eb);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	/* the guard set the thread's AWS deadline to the same budget a moment ago */
	ps.budget_until_ms = now + ps.cfg->aws_budget_ms;
	ps.wait_until_ms = now + ps.cfg->aws_budget_ms / 2;
	appt_id_new(ps.id);
	if (idempotency_gate(t, &ps, req, resp) == GATE_OWN)
		post_owned(ctx, t, &ps, req, resp);
}

void api_list_appointments(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	const struct conf *cfg = api_cfg(ctx);
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_list_query lq;
	struct val_errors errs;
	struct store_list_query q = {0};
	struct store_page page = {0};
	struct appt_page pg = {0};
	struct val_cursor next = {0};
	char next_text[VAL_CURSOR_SIZE];
	char insured[APPT_INSURED_SIZE];
	struct api_thread *t;
	struct errbuf eb = {{0}};
	char *body = NULL;
	size_t n = http_query(req, params, HTTP_MAX_QUERY);
	bool path_ok;
	enum rc rc;

	val_errors_init(&errs);
	path_ok = val_insured_id(req->params[0], insured, &errs) == RC_OK;
	if (val_list_query(params, n, &lq, &errs) != RC_OK || !path_ok)
		errs.result = VAL_VALIDATION_ERROR;
	if (errs.result != VAL_OK) {
		api_reply_validation(resp, req, &errs);
		return;
	}
	snprintf(resp->insured_id, sizeof(resp->insured_id), "%s", insured);
	t = api_thread_get(ctx, &eb);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	q.insured_id = insured;
	q.status = lq.has_status ? appt_status_name(lq.status) : NULL;
	q.start_date = lq.has_start ? lq.start_date : NULL;
	q.end_date = lq.has_end ? lq.end_date : NULL;
	q.limit = lq.limit;
	q.offset = lq.offset;
	if (lq.has_cursor) {
		q.after_created = lq.cursor.created_at;
		q.after_id = lq.cursor.id;
		q.after_pos = lq.cursor.pos;
	}
	q.page_size = cfg->list_page_size;
	rc = store_list(t->ddb, cfg->table_name, cfg->counters_table, &q, &page, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		api_reply_store_failure(resp, req, rc, &eb);
		return;
	}
	pg.total = page.total;
	pg.total_available = page.total_available;
	pg.limit = lq.limit;
	pg.offset = lq.has_cursor ? lq.cursor.pos : lq.offset;
	pg.more = page.more;
	if (page.more && page.n > 0) {
		next.pos = pg.offset + (int64_t)page.n;
		snprintf(next.created_at, sizeof(next.created_at), "%s", page.items[page.n - 1].created_at);
		snprintf(next.id, sizeof(next.id), "%s", page.items[page.n - 1].appointment_id);
		if (val_cursor_format(&next, next_text) == RC_OK)
			pg.next_cursor = next_text;
	}
	pg.status = q.status;
	pg.start_date = q.start_date;
	pg.end_date = q.end_date;
	rc = appt_list_json(page.items, page.n, &pg, &body);
	store_page_cleanup(&page);
	if (rc != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, 200, body);
}
