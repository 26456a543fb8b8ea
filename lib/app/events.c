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

#define ENVELOPE_MAX (300 * 1024) /* an SNS envelope around a <= 256 KiB message */

enum rc events_put(struct evb_client *evb, const char *bus, const char *source,
		   const char *detail_type, const char *detail, struct errbuf *eb)
{
	struct evb_entry e = {source, detail_type, detail, bus, time(NULL)};
	struct evb_put_result res;
	size_t nfailed = 0;
	enum rc rc = evb_put_events(evb, &e, 1, &res, &nfailed, eb);

	if (rc != RC_OK)
		return rc;
	if (nfailed > 0)
		return eb_set(eb, res.rc != RC_OK ? res.rc : RC_IO, "PutEvents entry failed: %s: %s",
			      res.code, res.message);
	return RC_OK;
}

/* An optional text that is not set: left out of the event. */
static bool unset(const char *value)
{
	return value == NULL || value[0] == '\0';
}

enum rc events_put_outcome(struct evb_client *evb, const char *bus, const struct appointment *a,
			   const char *request_id, const char *traceparent, struct errbuf *eb)
{
	bool failed = a->status == APPT_FAILED;
	const struct jx_member d[] = {
		{.key = "appointmentId", .type = JX_STR, .s = a->appointment_id},
		{.key = "insuredId", .type = JX_STR, .s = a->insured_id},
		{.key = "scheduleId", .type = JX_INT, .i = a->schedule_id},
		{.key = "countryISO", .type = JX_STR, .s = a->country},
		{.key = "status", .type = JX_STR, .s = failed ? "FAILED" : "PROCESSED"},
		{.key = "processedAt", .type = JX_STR, .s = a->processed_at, .omit = failed},
		{.key = "failureReason", .type = JX_STR, .s = a->failure_reason, .omit = !failed},
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
		rc = events_put(evb, bus, source, failed ? EVENTS_TYPE_FAILED : EVENTS_TYPE_PROCESSED,
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

char *events_mask_body(const char *body, size_t len, size_t max)
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
