/* service.c — the base every service module builds on: a client struct with the core
 * client first, one JSON call reporting through an errbuf, and small answer helpers. */
#include "aws/core.h"
#include "aws/core_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/jx.h"

/* ---- for the service modules -------------------------------------------------------- */

void *aws_svc_client_new(size_t size, const struct aws_config *cfg, enum aws_service svc,
			 struct errbuf *eb)
{
	struct aws_svc_client *sc = NULL;

	if (size < sizeof(*sc)) {
		eb_set(eb, RC_FATAL, "aws_svc_client_new: %zu bytes cannot hold a client", size);
		return NULL;
	}
	sc = calloc(1, size);
	if (sc == NULL) {
		eb_set(eb, RC_NOMEM, "%s client: out of memory", aws_service_name(svc));
		return NULL;
	}
	sc->aws = aws_client_new(cfg, svc, eb);
	if (sc->aws == NULL) {
		free(sc);
		return NULL;
	}
	sc->last.service = svc;
	return sc;
}

void aws_svc_client_free(void *client)
{
	struct aws_svc_client *sc = client;

	if (sc == NULL)
		return;
	aws_client_free(sc->aws);
	free(sc);
}

/* Zeroes bytes we own through a const pointer (json-c hands out a const view of the text it
 * keeps in the request object). */
static void wipe(const char *s, size_t n)
{
	if (s != NULL)
		explicit_bzero((void *)(uintptr_t)s, n);
}

/* An answer body as one JSON object; an empty body is an empty object. RC_INVAL when it is
 * anything else. */
static enum rc parse_answer(const struct buf *body, struct json_object **out)
{
	*out = NULL;
	if (body->len == 0) {
		*out = json_object_new_object();
		return *out != NULL ? RC_OK : RC_NOMEM;
	}
	return jx_parse_answer(body->data, body->len, AWS_RESPONSE_MAX, AWS_JSON_DEPTH_MAX, true,
			       out, NULL);
}

enum rc aws_svc_call(struct aws_svc_client *sc, const char *op, struct json_object *req,
		     const struct aws_svc_call_opts *opts, struct json_object **out,
		     struct errbuf *eb)
{
	static const struct aws_svc_call_opts none = {false, NULL};
	const char *name = aws_service_name(aws_client_service(sc->aws));
	struct aws_response resp;
	const char *text;
	size_t tlen = 0;
	enum rc rc;

	*out = NULL;
	if (opts == NULL)
		opts = &none;
	if (opts->conflict_body != NULL)
		*opts->conflict_body = NULL;
	aws_response_init(&resp);
	if (opts->secret)
		buf_set_secret(&resp.body); /* wiped as it grows and at cleanup */
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		rc = eb_set(eb, RC_NOMEM, "%s %s: out of memory", name, op);
		goto out;
	}
	tlen = strlen(text);
	rc = aws_call(sc->aws, op, NULL, text, tlen, &resp, &sc->last);
	if (rc != RC_OK) {
		aws_error_to_eb(&sc->last, eb);
		/* A failed DynamoDB condition carries the old item in the error answer. */
		if (rc == RC_CONFLICT && opts->conflict_body != NULL && resp.body.len > 0 &&
		    parse_answer(&resp.body, opts->conflict_body) != RC_OK)
			*opts->conflict_body = NULL;
		goto out;
	}
	rc = parse_answer(&resp.body, out);
	if (rc == RC_INVAL)
		rc = eb_set(eb, RC_IO, "%s %s: the answer is not a JSON object", name, op);
	else if (rc != RC_OK)
		eb_set(eb, rc, "%s %s: out of memory", name, op);
out:
	if (opts->secret)
		wipe(text, tlen);
	aws_response_cleanup(&resp);
	return rc;
}

void aws_copy_member(struct json_object *o, const char *key, char *dst, size_t size)
{
	struct json_object *v = NULL;

	dst[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

void aws_pairs_clear(char ***names, char ***values, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*names)[i]);
		free((*values)[i]);
	}
	free(*names);
	free(*values);
	*names = NULL;
	*values = NULL;
	*n = 0;
}

const char *aws_pairs_get(char *const *names, char *const *values, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return values[i];
	return NULL;
}

