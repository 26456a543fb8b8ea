/* http_router.c — what a request meets once it has arrived: the route table (path
 * captures, 404/405/413/415 answered here with SPEC §3 bodies), the guard, CORS, the
 * answer's headers, the request's log line and metrics, and the reply helpers handlers
 * call. */
#include "run/http.h"

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/str.h"
#include "run/http_priv.h"

#define CORS_METHODS "GET,POST,DELETE,OPTIONS" /* SPEC §3; DELETE cancels */
#define CORS_HEADERS                                                                               \
	"Content-Type,X-Api-Key,Idempotency-Key,X-Request-Id,X-Amz-Date,Authorization,"            \
	"X-Amz-Security-Token"
#define JSON_TYPE "application/json; charset=utf-8"

static double elapsed_ms(uint64_t start_us)
{
	return (double)(clk_mono_us() - start_us) / 1000.0;
}

enum rc http_metrics_describe(struct metrics *m)
{
	enum rc rc = metrics_describe(m, "appointmentd_http_requests_total", METRICS_COUNTER,
				      "HTTP requests by route, method and status.");

	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_http_request_duration_seconds",
				      METRICS_HISTOGRAM, "HTTP request handling time by route.");
	if (rc == RC_OK)
		rc = metrics_describe(m, "appointmentd_http_requests_in_flight", METRICS_GAUGE,
				      "HTTP requests being handled now.");
	if (rc == RC_OK)
		rc = http_acceptor_metrics_describe(m);
	return rc;
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->state->conn, MHD_HEADER_KIND, name);
}

struct query_walk {
	struct val_kv *out;
	size_t max;
	size_t n;
};

static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct query_walk *w = cls;

	(void)kind;
	if (w->n < w->max) {
		w->out[w->n].key = key;
		w->out[w->n].value = value;
	}
	w->n++;
	return w->n <= w->max ? MHD_YES : MHD_NO;
}

size_t http_query(const struct http_request *req, struct val_kv *out, size_t max)
{
	struct query_walk w = {out, max, 0};

	MHD_get_connection_values(req->state->conn, MHD_GET_ARGUMENT_KIND, on_query_arg, &w);
	return w.n;
}

void http_reply(struct http_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
}

void http_reply_error(struct http_response *resp, const struct http_request *req,
		      enum apierr_code code, const char *message, struct json_object *fields)
{
	char *body = NULL;

	if (apierr_body(code, message, req->request_id, fields, &body) != RC_OK)
		body = NULL;
	http_reply(resp, apierr_status(code), body);
}

void http_reply_defect(struct http_response *resp, const struct http_request *req,
		       enum http_defect d)
{
	struct json_object *fields = json_object_new_object();
	struct json_object *list = json_object_new_array();
	struct json_object *one = json_object_new_object();

	if (fields != NULL && list != NULL && one != NULL &&
	    json_object_object_add(one, "message",
				   json_object_new_string(http_defect_message(d))) == 0 &&
	    json_object_object_add(one, "code", json_object_new_string(http_defect_code(d))) == 0 &&
	    json_object_array_add(list, one) == 0) {
		one = NULL;
		if (json_object_object_add(fields, "request", list) == 0)
			list = NULL;
	}
	http_reply_error(resp, req, APIERR_VALIDATION_ERROR, NULL, list == NULL ? fields : NULL);
	http_add_header(resp, "Connection", "close");
	json_object_put(one);
	json_object_put(list);
	json_object_put(fields);
}

void http_add_header(struct http_response *resp, const char *name, const char *value)
{
	struct http_header_kv *h;

	if (resp->n_headers >= HTTP_MAX_HEADERS)
		return;
	h = &resp->headers[resp->n_headers];
	/* a header cut short would say something else: one that does not fit is left out */
	if (!str_copy(h->name, sizeof(h->name), name) || !str_copy(h->value, sizeof(h->value), value))
		return;
	resp->n_headers++;
}

/* Matches path against pattern; captures {x} segments into req->params. */
static bool route_match(const char *pattern, const char *path, struct http_request *req,
			char caps[HTTP_MAX_PARAMS][256])
{
	const char *p = pattern;
	const char *u = path;
	size_t n = 0;

	while (*p != '\0' && *u != '\0') {
		if (*p == '{') {
			size_t seg = strcspn(u, "/");
			const char *close = strchr(p, '}');

			if (close == NULL || n >= HTTP_MAX_PARAMS || seg == 0)
				return false;
			/* a longer segment is kept cut at 255 bytes: longer than any id, so its
			 * rule refuses it with the same 400 whatever its length */
			memcpy(caps[n], u, seg < 256 ? seg : 255);
			caps[n][seg < 256 ? seg : 255] = '\0';
			n++;
			p = close + 1;
			u += seg;
			continue;
		}
		if (*p != *u)
			return false;
		p++;
		u++;
	}
	if (*p != '\0' || *u != '\0')
		return false;
	for (size_t i = 0; i < n; i++)
		req->params[i] = caps[i];
	req->n_params = n;
	return true;
}

/* The Access-Control-Allow-Origin to send, or NULL for none: "*", or the request's own
 * Origin header (valid while the request is) when the configured list names it. */
static const char *cors_origin(const char *configured, const char *origin)
{
	const char *p = configured;

	if (strcmp(configured, "*") == 0)
		return "*";
	if (origin == NULL)
		return NULL;
	while (*p != '\0') {
		size_t len = strcspn(p, ", ");

		if (len == strlen(origin) && strncmp(p, origin, len) == 0)
			return origin;
		p += len;
		p += strspn(p, ", ");
	}
	return NULL;
}

enum MHD_Result http_send(struct http_conn_state *st, const struct http_request *req,
			  struct http_response *resp)
{
	struct MHD_Response *r;
	const char *body = resp->body != NULL ? resp->body : "";
	char fallback[160 + HTTP_REQUEST_ID_MAX];
	const char *origin;
	enum MHD_Result ret;

	if (resp->body == NULL && resp->status >= 400) {
		/* apierr_body ran out of memory: a body built without the heap still honours
		 * the contract (the request id is [A-Za-z0-9._:-] only: no escaping needed) */
		snprintf(fallback, sizeof(fallback),
			 "{\"error\":{\"errorCode\":\"INTERNAL_ERROR\",\"message\":\"%s\","
			 "\"requestId\":\"%s\"}}",
			 apierr_message(APIERR_INTERNAL_ERROR), req->request_id);
		body = fallback;
		resp->status = 500;
	}
	r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
					    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (resp->status != 204 && resp->status != 304) /* neither has a body */
		(void)MHD_add_response_header(r, "Content-Type",
					      resp->content_type != NULL ? resp->content_type : JSON_TYPE);
	(void)MHD_add_response_header(r, "X-Request-Id", req->request_id);
	origin = cors_origin(atomic_load(&st->srv->cors),
			     MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "Origin"));
	if (origin != NULL) {
		(void)MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
		if (strcmp(origin, "*") != 0)
			(void)MHD_add_response_header(r, "Vary", "Origin");
	}
	(void)MHD_add_response_header(r, "Access-Control-Allow-Methods", CORS_METHODS);
	(void)MHD_add_response_header(r, "Access-Control-Allow-Headers", CORS_HEADERS);
	for (size_t i = 0; i < resp->n_headers; i++)
		(void)MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	/* draining: no keep-alive, so no client sends a request into a closing socket */
	if (atomic_load(&st->srv->draining))
		(void)MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(st->conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The method as logged and counted: the client chooses it (any bytes, any number of
 * distinct values), so only the ones we know are kept; the rest would put invalid
 * UTF-8 in the log and fill the metric table with series. */
static const char *method_label(const char *method)
{
	static const char *const known[] = {"GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE",
					    "PATCH"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "OTHER";
}

void http_log_request(struct http_conn_state *st, const struct http_request *req,
		      const struct http_response *resp)
{
	const struct http_opts *o = &st->srv->opts;
	double ms = elapsed_ms(st->start_us);
	const char *method = method_label(req->method);
	char status[8];
	struct log_kv kv[] = {{"method", method}, {"route", req->route}, {"status", status}};
	struct log_fields f = {.request_id = req->request_id, .duration_ms = ms, .kv = kv, .n_kv = 3};
	char route[HTTP_ROUTE_LABEL_MAX];
	const char *labels[] = {"route", route, "method", method, "status", status, NULL};
	const char *dlabels[] = {"route", route, NULL};

	snprintf(status, sizeof(status), "%d", resp->status);
	/* a parked request's wait (a long poll) is kept apart from its route's own latency;
	 * a label that does not fit is the route's (no pattern comes near the size) */
	if (st->route_suffix == NULL ||
	    snprintf(route, sizeof(route), "%s%s", req->route, st->route_suffix) >= (int)sizeof(route))
		snprintf(route, sizeof(route), "%s", req->route);
	if (resp->appointment_id[0] != '\0')
		f.appointment_id = resp->appointment_id;
	if (resp->insured_id[0] != '\0')
		f.insured_id = resp->insured_id;
	if (resp->error[0] != '\0')
		f.error = resp->error;
	log_emit(o->lg, resp->status >= 500 ? LOG_LVL_ERROR : LOG_LVL_INFO, &f, "%s %s -> %d",
		 method, req->route, resp->status);
	metrics_add(o->metrics, "appointmentd_http_requests_total", labels, 1);
	metrics_observe(o->metrics, "appointmentd_http_request_duration_seconds", dlabels, ms / 1000.0);
}

static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";

	if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ';
}

void http_dispatch(struct http_conn_state *st, struct http_request *req,
		   struct http_response *resp)
{
	const struct http_opts *o = &st->srv->opts;
	char caps[HTTP_MAX_PARAMS][256];
	char allow[64] = "";
	const struct http_route *hit = NULL;

	for (size_t i = 0; i < o->n_routes; i++) {
		struct http_request probe = *req;

		if (!route_match(o->routes[i].pattern, req->path, &probe, caps))
			continue;
		req->route = o->routes[i].pattern;
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
			 allow[0] != '\0' ? "," : "", o->routes[i].method);
		if (strcmp(o->routes[i].method, req->method) == 0) {
			*req = probe;
			req->route = o->routes[i].pattern;
			hit = &o->routes[i];
		}
	}
	if (allow[0] == '\0') {
		req->route = "unmatched";
		http_reply_error(resp, req, APIERR_ROUTE_NOT_FOUND, NULL, NULL);
		return;
	}
	if (hit == NULL && strcmp(req->method, "OPTIONS") == 0) {
		http_reply(resp, 204, NULL);
		return;
	}
	if (hit == NULL) {
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), ",OPTIONS");
		http_reply_error(resp, req, APIERR_METHOD_NOT_ALLOWED, NULL, NULL);
		http_add_header(resp, "Allow", allow);
		return;
	}
	/* 413 and 415 cost nothing to decide: before the guard, which may spend a quota write */
	if (st->too_large) {
		http_reply_error(resp, req, APIERR_PAYLOAD_TOO_LARGE, NULL, NULL);
		return;
	}
	if (hit->json_body && !is_json_type(http_header(req, "Content-Type"))) {
		http_reply_error(resp, req, APIERR_UNSUPPORTED_MEDIA_TYPE, NULL, NULL);
		return;
	}
	if (!hit->operational && o->guard != NULL && !o->guard(o->ud, req, resp))
		return;
	hit->fn(o->ud, req, resp);
}
