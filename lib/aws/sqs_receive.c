/* sqs_receive.c — receiving from SQS: ReceiveMessage (a long poll stretches its attempt and
 * budget), the bounded parse of its answer into struct sqs_messages, and their release. */
#include "aws/sqs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/sqs_priv.h"

#ifdef UNIT_TESTS
#include "aws/sqs_int.h"
#endif

void sqs_message_cleanup(struct sqs_message *m)
{
	if (m == NULL)
		return;
	free(m->body);
	free(m->receipt_handle);
	for (size_t k = 0; k < m->nattrs; k++) {
		free(m->attrs[k].name);
		free(m->attrs[k].type);
		free(m->attrs[k].value);
	}
	free(m->attrs);
	memset(m, 0, sizeof(*m));
}

void sqs_messages_cleanup(struct sqs_messages *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		sqs_message_cleanup(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const char *sqs_message_attr(const struct sqs_message *m, const char *name)
{
	for (size_t i = 0; i < m->nattrs; i++)
		if (strcmp(m->attrs[i].name, name) == 0)
			return m->attrs[i].value;
	return NULL;
}

static long long parse_ll(const char *s)
{
	char *end = NULL;
	long long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return 0;
	return v;
}

/* Fills one message from its JSON; RC_IO (why) when required fields are missing. */
static enum rc parse_message(struct json_object *j, struct sqs_message *m, char *why,
			     size_t whysz)
{
	struct json_object *body = sqs_jmember(j, "Body", json_type_string);
	const char *rh = sqs_jstr(j, "ReceiptHandle");
	const char *mid = sqs_jstr(j, "MessageId");
	struct json_object *sys = sqs_jmember(j, "Attributes", json_type_object);
	struct json_object *ma = sqs_jmember(j, "MessageAttributes", json_type_object);
	size_t blen;
	long long rc_count;

	if (body == NULL || rh == NULL || mid == NULL) {
		snprintf(why, whysz, "message without Body, ReceiptHandle or MessageId");
		return RC_IO;
	}
	blen = (size_t)json_object_get_string_len(body);
	if (strlen(mid) >= SQS_MESSAGE_ID_MAX) {
		snprintf(why, whysz, "MessageId too long");
		return RC_IO;
	}
	snprintf(m->message_id, sizeof(m->message_id), "%s", mid);
	m->body = malloc(blen + 1);
	m->receipt_handle = strdup(rh);
	if (m->body == NULL || m->receipt_handle == NULL)
		goto nomem;
	/* Copied by length: a body may hold an escaped NUL. */
	memcpy(m->body, json_object_get_string(body), blen);
	m->body[blen] = '\0';
	m->body_len = blen;
	rc_count = parse_ll(sqs_jstr(sys, "ApproximateReceiveCount"));
	m->receive_count = rc_count > 1000000 ? 1000000 : (int)rc_count;
	m->sent_timestamp_ms = parse_ll(sqs_jstr(sys, "SentTimestamp"));
	if (ma != NULL) {
		size_t n = (size_t)json_object_object_length(ma);

		if (n > SQS_MSG_ATTRS_MAX)
			n = SQS_MSG_ATTRS_MAX;
		m->attrs = n > 0 ? calloc(n, sizeof(*m->attrs)) : NULL;
		if (n > 0 && m->attrs == NULL)
			goto nomem;
		json_object_object_foreach(ma, key, val)
		{
			const char *type = sqs_jstr(val, "DataType");
			const char *sv = sqs_jstr(val, "StringValue");
			struct sqs_msg_attr_val *a;

			if (m->nattrs >= n)
				break;
			if (sv == NULL)
				sv = sqs_jstr(val, "BinaryValue");
			a = &m->attrs[m->nattrs];
			a->name = strdup(key);
			a->type = strdup(type != NULL ? type : "String");
			a->value = strdup(sv != NULL ? sv : "");
			m->nattrs++;
			if (a->name == NULL || a->type == NULL || a->value == NULL)
				goto nomem;
		}
	}
	return RC_OK;
nomem:
	snprintf(why, whysz, "out of memory");
	return RC_NOMEM;
}

TESTABLE enum rc sqs_parse_messages(struct json_object *resp, struct sqs_messages *out,
				    char *why, size_t whysz)
{
	struct json_object *arr = sqs_jmember(resp, "Messages", json_type_array);
	size_t n = arr != NULL ? json_object_array_length(arr) : 0;
	enum rc rc = RC_OK;

	sqs_messages_cleanup(out);
	if (n == 0)
		return RC_OK;
	if (n > SQS_BATCH_MAX) {
		snprintf(why, whysz, "%zu messages in one answer (limit %d)", n, SQS_BATCH_MAX);
		return RC_IO;
	}
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL) {
		snprintf(why, whysz, "out of memory");
		return RC_NOMEM;
	}
	for (size_t i = 0; i < n && rc == RC_OK; i++) {
		out->n = i + 1;
		rc = parse_message(json_object_array_get_idx(arr, i), &out->v[i], why, whysz);
	}
	if (rc != RC_OK)
		sqs_messages_cleanup(out);
	return rc;
}

enum rc sqs_receive(struct sqs_client *c, const char *url, const struct sqs_receive_opts *opts,
		    struct sqs_messages *out, struct aws_error *err)
{
	static const char op[] = "ReceiveMessage";
	const struct aws_config *cfg = aws_client_config(c->base.aws);
	struct aws_call_opts co = {0, 0, 0};
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	struct json_object *all = NULL;
	char why[256];
	enum rc rc;

	sqs_messages_cleanup(out);
	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	if (opts->max_messages < 1 || opts->max_messages > SQS_BATCH_MAX ||
	    opts->wait_seconds < 0 || opts->wait_seconds > SQS_WAIT_MAX_S ||
	    opts->visibility_timeout < -1 || opts->visibility_timeout > SQS_VISIBILITY_MAX_S)
		return bad_arg(err, op, "max %d, wait %d s, visibility %d s out of range",
			       opts->max_messages, opts->wait_seconds, opts->visibility_timeout);
	all = json_object_new_array();
	if (jx_append_str(all, "All") != RC_OK)
		goto nomem;
	{
		/* AttributeNames is deprecated for MessageSystemAttributeNames; emulators know
		 * only the old one, AWS accepts both. */
		const struct jx_member m[] = {
			{.key = "QueueUrl", .type = JX_STR, .s = url},
			{.key = "AttributeNames", .type = JX_VAL, .v = all},
			{.key = "MessageSystemAttributeNames", .type = JX_VAL, .v = all},
			{.key = "MessageAttributeNames", .type = JX_VAL, .v = all},
			{.key = "MaxNumberOfMessages", .type = JX_INT, .i = opts->max_messages},
			{.key = "WaitTimeSeconds", .type = JX_INT, .i = opts->wait_seconds},
			{.key = "VisibilityTimeout", .type = JX_INT, .i = opts->visibility_timeout,
			 .omit = opts->visibility_timeout < 0},
		};

		if (jx_build(m, JX_COUNT(m), &req) != RC_OK)
			goto nomem;
	}
	/* A long poll legitimately takes the whole wait: stretch the attempt and budget. */
	co.request_timeout_ms = opts->wait_seconds * 1000L + cfg->request_timeout_ms;
	co.retry_budget_ms = co.request_timeout_ms + cfg->retry_budget_ms;
	rc = sqs_call(c, &co, op, req, &resp, err);
	json_object_put(all);
	if (rc == RC_OK) {
		rc = sqs_parse_messages(resp, out, why, sizeof(why));
		if (rc != RC_OK)
			rc = aws_error_local(err, AWS_SVC_SQS, op, rc,
					     rc == RC_NOMEM ? "NoMemory" : "MalformedResponse", "%s",
					     why);
	}
	json_object_put(resp);
	return rc;
nomem:
	json_object_put(all);
	return sqs_nomem(err, op);
}
