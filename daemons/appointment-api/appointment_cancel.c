/* appointment_cancel.c — DELETE /appointments/{insuredId}/{appointmentId} (SPEC §3), the
 * cancel: the item turns cancelling (conditional, with the insured's counters), then its
 * cancel message goes to the country topic, as a creation's does; the worker releases the
 * slot and closes it cancelled. A failed publish leaves the item cancelling for the
 * reconciler, which sends the cancel again with this DELETE's request id and traceparent
 * (kept on the item): the client still gets 202. A repeated DELETE
 * of a cancelling item sends it again too. */

#include "api.h"
#include "app/store.h"
#include "base/clock.h"
#include "base/str.h"
#include "domain/validate_item.h"

/* The item that just turned cancelling, as written. */
static void accepted(struct api_ctx *ctx, struct api_thread *t, struct appointment *a,
		     const struct http_request *req, struct http_response *resp)
{
	api_publish_or_defer(ctx, t, a, req);
	api_reply_item(a, 202, NULL, req, resp);
}

/* Moves the read item a (pending, processed or completed) to cancelling and answers with
 * the item as written (a worker may have processed or completed it since the read). The
 * write is conditional: a twin DELETE that got there first makes this one a 200 with the
 * item as it is now; a worker that failed the appointment meanwhile makes it a 409. */
static void cancel_item(struct api_ctx *ctx, struct api_thread *t, struct appointment *a,
			const struct http_request *req, struct http_response *resp)
{
	const struct conf *cfg = api_cfg(ctx);
	enum store_outcome o = STORE_APPLIED;
	struct errbuf eb = {{0}};
	struct appt_trace by;
	char now[APPT_TS_SIZE];
	enum rc rc = tu_format_ms(clk_wall_ms(), now);

	if (rc != RC_OK) {
		str_cut(resp->error, sizeof(resp->error), "clock out of range");
		http_reply_error(resp, req, APIERR_INTERNAL_ERROR, NULL, NULL);
		return;
	}
	/* this DELETE's ids go with the item: the reconciler's re-sent cancel carries them */
	appt_trace_set(&by, req->request_id, http_header(req, "traceparent"));
	rc = store_mark_cancelling(t->ddb, cfg->table_name, cfg->counters_table, a->appointment_id,
				   a->insured_id, now, &by, a, &o, &eb);
	api_dep_mark(&ctx->ddb_dep, rc == RC_NOTFOUND ? RC_OK : rc);
	if (rc == RC_NOTFOUND) {
		/* deleted since the read (by hand): there is nothing to cancel */
		http_reply_error(resp, req, APIERR_APPOINTMENT_NOT_FOUND, NULL, NULL);
		return;
	}
	if (rc != RC_OK) {
		api_reply_store_failure(resp, req, rc, &eb);
		return;
	}
	if (o == STORE_APPLIED) {
		accepted(ctx, t, a, req, resp);
		return;
	}
	if (o == STORE_WRONG_STATE) {
		http_reply_error(resp, req, APIERR_APPOINTMENT_NOT_CANCELLABLE, NULL, NULL);
		return;
	}
	if (api_read_item(ctx, t, a->insured_id, a->appointment_id, a, req, resp))
		api_reply_item(a, 200, NULL, req, resp);
}

void api_cancel_appointment(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct api_ctx *ctx = ud;
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_errors errs;
	struct appointment a;
	char insured[APPT_INSURED_SIZE];
	char id[APPT_ID_SIZE];
	struct api_thread *t = NULL;
	size_t n = http_query(req, params, HTTP_MAX_QUERY);

	val_errors_init(&errs);
	if (val_item_path(req->params[0], req->params[1], insured, id, &errs) != RC_OK ||
	    val_item_no_query(params, n, &errs) != RC_OK)
		errs.result = VAL_VALIDATION_ERROR;
	if (errs.result != VAL_OK) {
		api_reply_validation(resp, req, &errs);
		return;
	}
	if (!api_load_item(ctx, insured, id, &t, &a, req, resp))
		return;
	switch (a.status) {
	case APPT_FAILED:
		http_reply_error(resp, req, APIERR_APPOINTMENT_NOT_CANCELLABLE, NULL, NULL);
		return;
	case APPT_CANCELLING:
		/* a repeat (the client's retry): the DELETE that turned it cancelling may have
		 * died before its publish (kill -9), and nothing else would send the cancel
		 * before the reconciler; the worker handles a repeated cancel once */
		api_publish_or_defer(ctx, t, &a, req);
		api_reply_item(&a, 200, NULL, req, resp);
		return;
	case APPT_CANCELLED:
		api_reply_item(&a, 200, NULL, req, resp);
		return;
	case APPT_PENDING:
	case APPT_PROCESSED:
	case APPT_COMPLETED:
		break;
	}
	cancel_item(ctx, t, &a, req, resp);
}
