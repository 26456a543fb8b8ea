/* handlers.c — POST /appointments and GET /appointments/{insuredId} (SPEC §3).
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
#include "app/idem.h"
#include "app/publish.h"
#include "app/store.h"

#define REPLAY_WAIT_STEPS 30   /* a concurrent twin is polled this many times... */
#define REPLAY_WAIT_MS 100     /* ...this far apart before we answer 409 */

const struct http_route api_routes[] = {
	{"POST", "/appointments", api_post_appointment, true, false},
	{"GET", "/appointments/{insuredId}", api_list_appointments, false, false},
	{"GET", "/healthz", api_healthz, false, true},
	{"GET", "/readyz", api_readyz, false, true},
	{"GET", "/metrics", api_metrics, false, true},
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);

/* Maps a DynamoDB failure to the answer: unreachable or throttled is 503 with
 * Retry-After (the client may retry), anything else is our bug (500). */
static void reply_store_failure(struct http_response *resp, const struct http_request *req,
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

static void reply_validation(struct http_response *resp, const struct http_request *req,
			     const struct val_errors *errs)
{
	char *body = NULL;

	if (val_errors_to_json(errs, req->request_id, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, apierr_status(val_result_code(errs->result)), body);
}

/* The country database's view of the slot. Unreachable is not a refusal: SPEC §3
 * says accept and let the worker decide, so the API never depends on PostgreSQL. */
static bool schedule_refused(struct api_ctx *ctx, struct api_thread *t,
			     const struct appt_request *ar, const struct http_request *req,
			     struct http_response *resp)
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
		http_reply_error(resp, req, APIERR_SCHEDULE_NOT_FOUND, NULL, NULL);
		return true;
	}
	if (st == DB_CHECK_UNAVAILABLE) {
		http_reply_error(resp, req, APIERR_SCHEDULE_UNAVAILABLE, NULL, NULL);
		return true;
	}
	return false;
}

/* A repeat of a key: answer with the appointment it created, waiting briefly when
 * its first request is still at work (two concurrent requests, one appointment). */
static void replay(struct api_ctx *ctx, struct api_thread *t, const struct idem_record *rec,
		   const struct http_request *req, struct http_response *resp)
{
	const struct conf *cfg = api_cfg(ctx);
	struct appointment a;
	struct errbuf eb = {{0}};
	char *body = NULL;
	enum rc rc = RC_NOTFOUND;

	if (rec->response[0] != '\0') {
		body = strdup(rec->response);
	} else {
		for (int i = 0; i < REPLAY_WAIT_STEPS && rc == RC_NOTFOUND; i++) {
			rc = store_get(t->ddb, cfg->table_name, rec->appointment_id, &a, &eb);
			if (rc == RC_NOTFOUND)
				clk_sleep_ms(REPLAY_WAIT_MS);
		}
		if (rc == RC_NOTFOUND) {
			http_reply_error(resp, req, APIERR_IDEMPOTENCY_CONFLICT,
					 "A request with this Idempotency-Key is still being processed", NULL);
			http_add_header(resp, "Retry-After", "1");
			return;
		}
		if (rc != RC_OK) {
			reply_store_failure(resp, req, rc, &eb);
			return;
		}
		if (appt_created_json(&a, &body) != RC_OK)
			body = NULL;
	}
	if (body == NULL) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	http_reply(resp, 200, body);
	http_add_header(resp, "Idempotent-Replayed", "true");
	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", rec->appointment_id);
}

/* Claims the Idempotency-Key, if any. Returns true when the request is answered
 * (replay, conflict, error); *record_key is "" when there is no key. */
static bool idempotency_gate(struct api_ctx *ctx, struct api_thread *t, const struct appt_request *ar,
			     const char *appointment_id, const struct http_request *req,
			     struct http_response *resp, char record_key[APIKEYS_HEX_SIZE])
{
	const struct conf *cfg = api_cfg(ctx);
	const char *key = http_header(req, "Idempotency-Key");
	char api_hash[APIKEYS_HEX_SIZE] = "";
	char req_hash[APIKEYS_HEX_SIZE];
	struct idem_record rec;
	enum idem_state st;
	struct errbuf eb = {{0}};
	enum rc rc;

	record_key[0] = '\0';
	if (key == NULL)
		return false;
	if (!idem_key_valid(key)) {
		struct val_errors errs;

		val_errors_init(&errs);
		val_errors_add(&errs, VAL_VALIDATION_ERROR, "Idempotency-Key", VAL_CODE_INVALID_FORMAT,
			       "Idempotency-Key must be 1 to %d printable ASCII characters", IDEM_KEY_MAX);
		reply_validation(resp, req, &errs);
		return true;
	}
	pthread_rwlock_rdlock(&ctx->keys_lock);
	if (ctx->keys != NULL && !apikeys_check(ctx->keys, http_header(req, "X-Api-Key"), api_hash))
		api_hash[0] = '\0';
	pthread_rwlock_unlock(&ctx->keys_lock);
	idem_record_key(api_hash, key, record_key);
	idem_request_hash(ar, req_hash);
	rc = idem_claim(t->ddb, cfg->idempotency_table, record_key, req_hash, appointment_id,
			clk_wall_ms() / 1000, &st, &rec, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		record_key[0] = '\0';
		reply_store_failure(resp, req, rc, &eb);
		return true;
	}
	if (st == IDEM_CLAIMED)
		return false;
	record_key[0] = '\0';
	if (st == IDEM_MISMATCH)
		http_reply_error(resp, req, APIERR_IDEMPOTENCY_CONFLICT, NULL, NULL);
	else
		replay(ctx, t, &rec, req, resp);
	return true;
}

/* Gives up a claimed key when the request ends without an appointment. */
static void idempotency_release(struct api_ctx *ctx, struct api_thread *t, const char *record_key)
{
	struct errbuf eb = {{0}};

	if (record_key[0] == '\0')
		return;
	if (idem_release(t->ddb, api_cfg(ctx)->idempotency_table, record_key, &eb) != RC_OK)
		log_emit_err(ctx->lg, LOG_LVL_WARN, eb.msg, "releasing an Idempotency-Key claim failed; it expires in 24 h");
}

/* Publishes; a failure is logged and left to the reconciler (SPEC §3). */
static void publish_or_defer(struct api_ctx *ctx, struct api_thread *t,
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
	api_dep_mark(&ctx->sns_dep, rc);
	if (rc != RC_OK) {
		f.error = eb.msg;
		log_warn(ctx->lg, &f, "publish failed; stored as pending, the reconciler will publish it");
		metrics_add(ctx->metrics, "appointmentd_publish_deferred_total", NULL, 1);
	}
}

void api_post_appointment(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	const struct conf *cfg = api_cfg(ctx);
	struct appt_request ar;
	struct val_errors errs;
	struct appointment a;
	struct api_thread *t;
	struct errbuf eb = {{0}};
	char id[APPT_ID_SIZE];
	char record_key[APIKEYS_HEX_SIZE] = "";
	char location[64];
	char *body = NULL;
	bool existed = false;
	enum rc rc;

	val_errors_init(&errs);
	if (val_appointment_body(req->body, req->body_len, ctx->countries, ctx->n_countries, &ar,
				 &errs) != RC_OK) {
		reply_validation(resp, req, &errs);
		return;
	}
	snprintf(resp->insured_id, sizeof(resp->insured_id), "%s", ar.insured_id);
	t = api_thread_get(ctx, &eb);
	if (t == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", eb.msg);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	appt_id_new(id);
	if (idempotency_gate(ctx, t, &ar, id, req, resp, record_key))
		return;
	if (schedule_refused(ctx, t, &ar, req, resp)) {
		idempotency_release(ctx, t, record_key);
		return;
	}
	rc = appt_init_pending(&a, &ar, id, clk_wall_ms());
	if (rc != RC_OK) {
		idempotency_release(ctx, t, record_key);
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	/* a put that finds our own earlier attempt of it (a reply lost, the core retried)
	 * is our success, and a is then the item as stored */
	rc = store_put_pending(t->ddb, cfg->table_name, &a, &a, &existed, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		idempotency_release(ctx, t, record_key);
		reply_store_failure(resp, req, rc, &eb);
		return;
	}
	snprintf(resp->appointment_id, sizeof(resp->appointment_id), "%s", a.appointment_id);
	if (!existed || a.status == APPT_PENDING)
		publish_or_defer(ctx, t, &a, req);
	if (appt_created_json(&a, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	if (record_key[0] != '\0' &&
	    idem_complete(t->ddb, cfg->idempotency_table, record_key, body, &eb) != RC_OK) {
		struct log_fields f = {.request_id = req->request_id, .error = eb.msg, .duration_ms = -1};

		log_warn(ctx->lg, &f, "storing the idempotent response failed; replays read the appointment");
	}
	snprintf(location, sizeof(location), "/appointments/%s", a.insured_id);
	http_reply(resp, 201, body);
	http_add_header(resp, "Location", location);
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
	char insured[APPT_INSURED_SIZE];
	struct api_thread *t;
	struct errbuf eb = {{0}};
	char *body = NULL;
	size_t n = http_query(req, params, HTTP_MAX_QUERY);
	bool path_ok;
	enum rc rc;

	val_errors_init(&errs);
	path_ok = val_insured_id(req->params[0], insured, &errs) == RC_OK;
	if (n > HTTP_MAX_QUERY) {
		val_errors_add(&errs, VAL_VALIDATION_ERROR, "query", VAL_CODE_TOO_MANY,
			       "at most %d query parameters are accepted", VAL_QUERY_MAX);
	} else if (val_list_query(params, n, &lq, &errs) != RC_OK || !path_ok) {
		errs.result = VAL_VALIDATION_ERROR;
	}
	if (errs.result != VAL_OK) {
		reply_validation(resp, req, &errs);
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
	q.page_size = cfg->list_page_size;
	rc = store_list(t->ddb, cfg->table_name, &q, &page, &eb);
	api_dep_mark(&ctx->ddb_dep, rc);
	if (rc != RC_OK) {
		reply_store_failure(resp, req, rc, &eb);
		return;
	}
	pg.total = page.total;
	pg.total_available = page.total_available;
	pg.limit = lq.limit;
	pg.offset = lq.offset;
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
