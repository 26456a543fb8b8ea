/* schedules.c — GET /schedules (SPEC §3): a country's free slots, a page at a time, read
 * from that country's PostgreSQL. Unlike the POST's schedule check, a listing has nothing to
 * fall back on when the database is unreachable: that is 503 with Retry-After. */
#include <stdlib.h>

#include "api.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/schedule.h"
#include "domain/validate_schedules.h"
#include "pg/db_schedules.h"

#define SCHEDULES_RETRY_AFTER "5" /* seconds a client waits after a 503 */

/* The query, validated into *q; false after answering the validation error. */
static bool read_query(struct api_ctx *ctx, const struct http_request *req,
		       struct http_response *resp, struct val_schedule_query *q)
{
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_errors errs;
	size_t n = http_query(req, params, HTTP_MAX_QUERY);

	val_errors_init(&errs);
	if (val_schedule_query(params, n, ctx->countries, ctx->n_countries, clk_wall_ms(), q,
				    &errs) != RC_OK)
		errs.result = VAL_VALIDATION_ERROR;
	if (errs.result == VAL_OK)
		return true;
	api_reply_validation(resp, req, &errs);
	return false;
}

/* Maps a failed read: unreachable, past the deadline or busy is 503 (the client retries),
 * anything else is our bug. */
static void reply_db_failure(struct api_ctx *ctx, const struct http_request *req,
			     struct http_response *resp, const char *country, enum rc rc,
			     const struct errbuf *eb)
{
	struct log_fields f = {.request_id = req->request_id, .country = country,
			       .duration_ms = -1, .error = eb->msg};

	str_cut(resp->error, sizeof(resp->error), "%s", eb->msg);
	if (rc == RC_IO || rc == RC_TIMEOUT || rc == RC_RETRY) {
		http_reply_error(resp, req, APIERR_SERVICE_UNAVAILABLE, NULL, NULL);
		http_add_header(resp, "Retry-After", SCHEDULES_RETRY_AFTER);
		return;
	}
	log_warn(ctx->lg, &f, "listing free slots failed");
	http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
}

void api_list_schedules(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	struct val_schedule_query sq;
	struct db_slot_query q = {0};
	struct db_slot_page *page = NULL;
	struct appt_page pg = {0};
	struct api_thread *t;
	struct db_conn *db = NULL;
	struct errbuf eb = {{0}};
	char *body = NULL;
	enum rc rc;

	if (!read_query(ctx, req, resp, &sq))
		return;
	t = api_thread_get(ctx, &eb);
	page = malloc(sizeof(*page));
	if (t == NULL || page == NULL) {
		str_cut(resp->error, sizeof(resp->error), "%s", t == NULL ? eb.msg : "out of memory");
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		goto out;
	}
	rc = api_thread_db(ctx, t, sq.country, &db, &eb);
	if (rc == RC_OK) {
		q.country = sq.country;
		q.from = sq.from;
		q.to = sq.to;
		q.center_id = sq.center_id;
		q.specialty_id = sq.specialty_id;
		q.medic_id = sq.medic_id;
		q.limit = sq.limit;
		q.offset = sq.offset;
		rc = db_free_slots(db, &q, api_cfg(ctx)->db_check_timeout_ms, page, &eb);
	}
	if (rc != RC_OK) {
		reply_db_failure(ctx, req, resp, sq.country, rc, &eb);
		goto out;
	}
	pg.total = (size_t)page->total;
	pg.limit = sq.limit;
	pg.offset = sq.offset;
	pg.more = (int64_t)sq.offset + (int64_t)page->n < page->total;
	if (sched_list_json(page->items, page->n, &pg, &body) != RC_OK) {
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		goto out;
	}
	http_reply(resp, 200, body);
out:
	free(page);
}
