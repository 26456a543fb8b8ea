/* events.c — EventBridge entries for the worker and the consumers' error reports. */
#include "app/events.h"

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jx.h"
#include "base/log.h"

#define ENVELOPE_MAX (300 * 1024) /* an SNS envelope around a <= 256 KiB message */
#define EVENTS_MASK_DEPTH 32       /* JSON nesting the masking walks (json-c's default) */

/* events_put, or through batch when not NULL. */
static enum rc put_one(struct evb_client *evb, struct events_batch *batch, const char *bus,
		       const char *source, const char *detail_type, const char *detail,
		       struct errbuf *eb)
{
	struct evb_entry e = {source, detail_type, detail, bus, time(NULL)};
	struct evb_put_result res;
	size_t nfailed = 0;
	enum rc rc;

	if (batch != NULL)
		return events_batch_put(batch, evb, &e, eb);
	rc = evb_put_events(evb, &e, 1, &res, &nfailed, eb);
	return rc != RC_OK ? rc : evb_result_rc(&res, eb);
}

enum rc events_put(struct evb_client *evb, const char *bus, const char *source,
		   const char *detail_type, const char *detail, struct errbuf *eb)
{
	return put_one(evb, NULL, bus, source, detail_type, detail, eb);
}

/* An optional text that is not set: left out of the event. */
static bool unset(const char *value)
{
	return value == NULL || value[0] == '\0';
}

enum rc events_put_outcome(struct evb_client *evb, struct events_batch *batch, const char *bus,
			   const struct appointment *a, const char *request_id,
			   const char *traceparent, struct errbuf *eb)
{
	bool failed = a->status == APPT_FAILED;
	bool cancelled = a->status == APPT_CANCELLED;
	const struct jx_member d[] = {
		{.key = "appointmentId", .type = JX_STR, .s = a->appointment_id},
		{.key = "insuredId", .type = JX_STR, .s = a->insured_id},
		{.key = "scheduleId", .type = JX_INT, .i = a->schedule_id},
		{.key = "countryISO", .type = JX_STR, .s = a->country},
		{.key = "status", .type = JX_STR,
		 .s = failed ? "FAILED" : cancelled ? "CANCELLED" : "PROCESSED"},
		{.key = "processedAt", .type = JX_STR, .s = a->processed_at, .omit = failed || cancelled},
		{.key = "failureReason", .type = JX_STR, .s = a->failure_reason, .omit = !failed},
		{.key = "cancelledAt", .type = JX_STR, .s = a->cancelled_at, .omit = !cancelled},
		{.key = "requestId", .type = JX_STR, .s = request_id, .omit = unset(request_id)},
		{.key = "traceparent", .type = JX_STR, .s = traceparent, .omit = unset(traceparent)},
	};
	char source[64];
	char *text = NULL;
	enum rc rc;

	snprintf(source, sizeof(source), "medical.appointment.%c%c", tolower((unsigned char)a->country[0]),
		 tolower((unsigned char)a->country[1]));
	rc = jx_build_text(d, JX_COUNT(d), &text);
	if (rc == RC_OK)
		rc = put_one(evb, batch, bus, source,
			     failed ? EVENTS_TYPE_FAILED
				    : cancelled ? EVENTS_TYPE_CANCELLED : EVENTS_TYPE_PROCESSED,
			     text, eb);
	else
		rc = eb_set(eb, rc, "building the outcome event failed");
	free(text);
	return rc;
}

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && i > n - 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xC0) {
		unsigned char lead = (unsigned char)s[i - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (n - (i - 1) < need)
			return i - 1;
	}
	return n;
}

/* Raw text: every "insuredId" as written (the fallback for a body that is not JSON). */
static char *mask_text(const char *body, size_t len, size_t max)
{
	static const char key[] = "insuredId";
	size_t n = utf8_cut(body, len < max ? len : max);
	char *out = malloc(n + 1);
	char *p;

	if (out == NULL)
		return NULL;
	memcpy(out, body, n);
	out[n] = '\0';
	for (p = strstr(out, key); p != NULL; p = strstr(p, key)) {
		char *v = p + sizeof(key) - 1;
		char *end;
		size_t vl;

		/* skip the closing quote(s), escapes, blanks and the colon up to the value */
		while (*v != '\0' && strchr("\\\": \t", *v) != NULL)
			v++;
		end = v;
		while (*end != '\0' && *end != '"' && *end != '\\' && *end != ',' && *end != '}')
			end++;
		vl = (size_t)(end - v);
		for (size_t i = 0; i + 2 < vl; i++)
			v[i] = '*';
		if (vl > 0 && vl <= 2)
			for (size_t i = 0; i < vl; i++)
				v[i] = '*';
		p = end;
	}
	return out;
}

static bool mask_tree(struct json_object *o, int depth);

/* JSON whitespace bytes at the start of s (n bytes). */
static size_t ws_span(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* A string that is itself JSON (an SNS envelope's Message): masked inside, re-serialised
 * into *out (owned by the caller; NULL when the string is not a JSON object or array). */
static bool mask_nested(const char *s, size_t len, int depth, struct json_object **out)
{
	struct json_tokener *tok = NULL;
	struct json_object *inner = NULL;
	bool ok = true;

	size_t lead = ws_span(s, len);

	*out = NULL;
	if (lead == len || (s[lead] != '{' && s[lead] != '['))
		return true;
	tok = json_tokener_new_ex(EVENTS_MASK_DEPTH);
	if (tok == NULL)
		return false;
	inner = json_tokener_parse_ex(tok, s, (int)len);
	if (inner != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) <= len &&
	    ws_span(s + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok)) ==
		    len - json_tokener_get_parse_end(tok)) {
		ok = mask_tree(inner, depth + 1);
		if (ok) {
			const char *text = json_object_to_json_string_ext(
				inner, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

			*out = text != NULL ? json_object_new_string(text) : NULL;
			ok = *out != NULL;
		}
	}
	json_object_put(inner);
	json_tokener_free(tok);
	return ok;
}

/* Masks, in place, the value of every key that decodes to "insuredId", at any depth and
 * inside strings that are JSON themselves. False on NOMEM. */
static bool mask_tree(struct json_object *o, int depth)
{
	if (depth > EVENTS_MASK_DEPTH)
		return true;
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!mask_tree(json_object_array_get_idx(o, i), depth + 1))
				return false;
		return true;
	}
	if (!json_object_is_type(o, json_type_object))
		return true;
	json_object_object_foreach(o, key, val)
	{
		struct json_object *repl = NULL;

		if (strcmp(key, "insuredId") == 0 && val != NULL) {
			char masked[6];

			log_mask_insured(json_object_get_string(val), masked);
			repl = json_object_new_string(masked);
			if (repl == NULL)
				return false;
		} else if (json_object_is_type(val, json_type_string)) {
			if (!mask_nested(json_object_get_string(val),
					 (size_t)json_object_get_string_len(val), depth, &repl))
				return false;
		} else if (!mask_tree(val, depth + 1)) {
			return false;
		}
		/* replacing the value of an existing key keeps the table as it is */
		if (repl != NULL && json_object_object_add(o, key, repl) != 0) {
			json_object_put(repl);
			return false;
		}
	}
	return true;
}

char *events_mask_body(const char *body, size_t len, size_t max)
{
	struct json_object *whole = NULL;
	char *out = NULL;

	/* a body that parses is masked on its parsed keys: "insured\u0049d" is insuredId too */
	if (len > 0 && len <= ENVELOPE_MAX && mask_nested(body, len, 0, &whole) && whole != NULL) {
		const char *text = json_object_get_string(whole);

		out = mask_text(text, strlen(text), max);
		json_object_put(whole);
		return out;
	}
	return mask_text(body, len, max);
}

enum rc events_put_processing_error(struct evb_client *evb, const char *bus, const char *reason,
				    const char *queue, const char *message_id, int receive_count,
				    const char *body, size_t body_len, struct errbuf *eb)
{
	char *masked = events_mask_body(body != NULL ? body : "", body != NULL ? body_len : 0,
					EVENTS_BODY_MAX);
	const struct jx_member d[] = {
		{.key = "reason", .type = JX_STR, .s = reason},
		{.key = "queue", .type = JX_STR, .s = queue},
		{.key = "messageId", .type = JX_STR, .s = message_id},
		{.key = "receiveCount", .type = JX_INT, .i = receive_count},
		{.key = "body", .type = JX_STR, .s = masked},
	};
	char *text = NULL;
	enum rc rc = masked != NULL ? jx_build_text(d, JX_COUNT(d), &text) : RC_NOMEM;

	if (rc == RC_OK)
		rc = events_put(evb, bus, EVENTS_SOURCE_ERROR, EVENTS_TYPE_ERROR, text, eb);
	else
		rc = eb_set(eb, rc, "building the error event failed");
	free(text);
	free(masked);
	return rc;
}

enum rc events_unwrap_sns(const char *body, size_t len, const char **msg, size_t *msg_len,
			  char **owned, struct errbuf *eb)
{
	struct json_object *o = NULL;
	const char *type = NULL;
	const char *m = NULL;
	size_t mlen = 0;
	enum rc rc;

	*owned = NULL;
	*msg = body;
	*msg_len = len;
	/* anything that is not a JSON object is handed on raw: the decoder names the fault */
	if (jx_parse(body, len, ENVELOPE_MAX, 8, &o, NULL) != RC_OK ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return RC_OK;
	}
	if (jx_get_str_opt(o, "Type", &type, NULL, NULL) != RC_OK || type == NULL ||
	    strcmp(type, "Notification") != 0) {
		json_object_put(o);
		return RC_OK;
	}
	rc = jx_get_str(o, "Message", &m, &mlen, eb);
	if (rc == RC_OK) {
		*owned = malloc(mlen + 1);
		if (*owned == NULL) {
			rc = eb_set(eb, RC_NOMEM, "out of memory");
		} else {
			memcpy(*owned, m, mlen + 1);
			*msg = *owned;
			*msg_len = mlen;
		}
	} else {
		eb_prefix(eb, "SNS envelope");
	}
	json_object_put(o);
	return rc;
}

enum rc events_parse_processed(const char *body, size_t len, struct events_processed *ev,
			       struct errbuf *eb)
{
	struct json_object *o = NULL;
	struct json_object *detail = NULL;
	const char *type = NULL;
	const char *id = NULL;
	const char *rid = NULL;
	const char *ins = NULL;
	const char *tp = NULL;
	size_t n = 0;
	enum rc rc = jx_parse(body, len, EVENTS_EVENT_MAX, EVENTS_EVENT_DEPTH, &o, eb);

	memset(ev, 0, sizeof(*ev));
	if (rc == RC_OK && !json_object_is_type(o, json_type_object))
		rc = eb_set(eb, RC_INVAL, "not a JSON object");
	if (rc == RC_OK)
		rc = jx_get_str(o, "detail-type", &type, NULL, eb);
	if (rc == RC_OK && strcmp(type, EVENTS_TYPE_PROCESSED) != 0)
		rc = eb_set(eb, RC_INVAL, "detail-type is not \"%s\"", EVENTS_TYPE_PROCESSED);
	if (rc == RC_OK)
		rc = jx_get_obj(o, "detail", &detail, eb);
	if (rc == RC_OK)
		rc = jx_get_str(detail, "appointmentId", &id, &n, eb);
	if (rc == RC_OK && !appt_id_valid(id))
		rc = eb_set(eb, RC_INVAL, "detail.appointmentId is not a UUID v4");
	if (rc == RC_OK)
		rc = jx_get_str_opt(detail, "requestId", &rid, &n, eb);
	if (rc == RC_OK)
		rc = jx_get_str_opt(detail, "insuredId", &ins, &n, eb);
	if (rc == RC_OK)
		rc = jx_get_str_opt(detail, "traceparent", &tp, &n, eb);
	if (rc == RC_OK) {
		snprintf(ev->appointment_id, sizeof(ev->appointment_id), "%s", id);
		if (rid != NULL && strlen(rid) < sizeof(ev->request_id))
			snprintf(ev->request_id, sizeof(ev->request_id), "%s", rid);
		if (ins != NULL && strlen(ins) < sizeof(ev->insured_id))
			snprintf(ev->insured_id, sizeof(ev->insured_id), "%s", ins);
		if (tp != NULL && strlen(tp) < sizeof(ev->traceparent))
			snprintf(ev->traceparent, sizeof(ev->traceparent), "%s", tp);
	}
	json_object_put(o);
	return rc;
}

/* A string member of obj that fits size bytes and is printable ASCII, copied into out; out
 * stays "" otherwise. */
static void peek_str(struct json_object *obj, const char *key, char *out, size_t size)
{
	struct json_object *v = NULL;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n >= size)
		return;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return;
	memcpy(out, s, n);
	out[n] = '\0';
}

bool events_peek_processed(const char *body, size_t len, struct events_processed *ev)
{
	struct json_object *o = NULL;
	struct json_object *detail = NULL;

	memset(ev, 0, sizeof(*ev));
	if (jx_parse(body, len, EVENTS_EVENT_MAX, EVENTS_EVENT_DEPTH, &o, NULL) != RC_OK)
		return false;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "detail", &detail) &&
	    json_object_is_type(detail, json_type_object)) {
		peek_str(detail, "appointmentId", ev->appointment_id, sizeof(ev->appointment_id));
		peek_str(detail, "requestId", ev->request_id, sizeof(ev->request_id));
		peek_str(detail, "insuredId", ev->insured_id, sizeof(ev->insured_id));
		peek_str(detail, "traceparent", ev->traceparent, sizeof(ev->traceparent));
		if (!appt_id_valid(ev->appointment_id))
			ev->appointment_id[0] = '\0';
	}
	json_object_put(o);
	return ev->appointment_id[0] != '\0' || ev->request_id[0] != '\0' ||
	       ev->insured_id[0] != '\0';
}
