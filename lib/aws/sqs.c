/* sqs.c — the Amazon SQS data plane over the JSON protocol: the client, sending (one message
 * or a batch), deleting and changing visibility, batch answers mapped back to the caller's
 * entries by Id. Receiving is sqs_receive.c, queues (the control plane) sqs_queues.c. */
#include "aws/sqs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/sqs_priv.h"

#ifdef UNIT_TESTS
#include "aws/sqs_int.h"
#endif

struct sqs_client *sqs_client_new(const struct aws_config *cfg, struct errbuf *eb)
{
	return aws_svc_client_new(sizeof(struct sqs_client), cfg, AWS_SVC_SQS, eb);
}

void sqs_client_free(struct sqs_client *c)
{
	aws_svc_client_free(c);
}

struct aws_client *sqs_client_core(struct sqs_client *c)
{
	return c->base.aws;
}

/* ---- helpers ------------------------------------------------------------------------- */


static enum rc malformed(struct aws_error *err, const char *op, const char *why)
{
	return aws_error_local(err, AWS_SVC_SQS, op, RC_IO, "MalformedResponse", "%s", why);
}

enum rc sqs_nomem(struct aws_error *err, const char *op)
{
	return aws_error_local(err, AWS_SVC_SQS, op, RC_NOMEM, "NoMemory", "out of memory");
}

/* The string member key of o, or NULL when absent or not a string. */
const char *sqs_jstr(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct json_object *sqs_jmember(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

bool sqs_url_valid(const char *url)
{
	return url != NULL && url[0] != '\0' && strlen(url) < SQS_URL_MAX;
}

enum rc sqs_copy_out(char *dst, size_t dstsz, const char *src, struct aws_error *err,
			const char *op, const char *what)
{
	size_t n;

	if (src == NULL)
		return malformed(err, op, what);
	n = strlen(src);
	if (n >= dstsz)
		return aws_error_local(err, AWS_SVC_SQS, op, RC_IO, "MalformedResponse",
				       "%s longer than %zu bytes", what, dstsz - 1);
	memcpy(dst, src, n + 1);
	return RC_OK;
}

/* Sends req (consumed: always released) and hands the parsed answer to *resp. */
enum rc sqs_call(struct sqs_client *c, const struct aws_call_opts *opts, const char *op,
		    struct json_object *req, struct json_object **resp, struct aws_error *err)
{
	enum rc rc = aws_call_json(c->base.aws, opts, op, req, resp, err);

	json_object_put(req);
	return rc;
}

/* Sends req (consumed) for an operation whose answer says nothing we need. */
enum rc sqs_call_void(struct sqs_client *c, const char *op, struct json_object *req,
			 struct aws_error *err)
{
	struct json_object *resp = NULL;
	enum rc rc = sqs_call(c, NULL, op, req, &resp, err);

	json_object_put(resp);
	return rc;
}

/* Starts {"QueueUrl": url}. */
enum rc sqs_url_req(const char *url, struct json_object **out)
{
	const struct jx_member m[] = {{.key = "QueueUrl", .type = JX_STR, .s = url}};

	return jx_build(m, JX_COUNT(m), out);
}

/* ---- sending ------------------------------------------------------------------------- */

/* Builds one SendMessage body / SendMessageBatch entry (with "Id" when id is not NULL).
 * RC_INVAL with the reason in why for an entry AWS would refuse. */
TESTABLE enum rc sqs_entry_json(const struct sqs_send_entry *m, const char *id,
				struct json_object **out, char *why, size_t whysz)
{
	struct json_object *o = NULL;
	struct json_object *attrs = NULL;
	size_t blen;

	*out = NULL;
	blen = m->body != NULL ? strlen(m->body) : 0;
	if (blen == 0 || blen > SQS_BODY_MAX) {
		snprintf(why, whysz, "message body of %zu bytes (need 1..%d)", blen, SQS_BODY_MAX);
		return RC_INVAL;
	}
	if (m->nattrs > SQS_MSG_ATTRS_MAX || (m->nattrs > 0 && m->attrs == NULL)) {
		snprintf(why, whysz, "%zu message attributes (limit %d)", m->nattrs,
			 SQS_MSG_ATTRS_MAX);
		return RC_INVAL;
	}
	if (m->delay_seconds < -1 || m->delay_seconds > SQS_DELAY_MAX_S) {
		snprintf(why, whysz, "delay %d s (need -1 or 0..%d)", m->delay_seconds,
			 SQS_DELAY_MAX_S);
		return RC_INVAL;
	}
	for (size_t i = 0; i < m->nattrs; i++) {
		const struct sqs_msg_attr *a = &m->attrs[i];

		if (a->name == NULL || a->name[0] == '\0' || a->value == NULL || a->type == NULL ||
		    (strncmp(a->type, "String", 6) != 0 && strncmp(a->type, "Number", 6) != 0)) {
			snprintf(why, whysz,
				 "message attribute %zu needs a name, a value and type String or "
				 "Number",
				 i);
			return RC_INVAL;
		}
	}
	attrs = m->nattrs > 0 ? json_object_new_object() : NULL;
	if (m->nattrs > 0 && attrs == NULL)
		goto nomem;
	for (size_t i = 0; i < m->nattrs; i++) {
		const struct jx_member am[] = {
			{.key = "DataType", .type = JX_STR, .s = m->attrs[i].type},
			{.key = "StringValue", .type = JX_STR, .s = m->attrs[i].value},
		};
		struct json_object *v = NULL;

		if (jx_build(am, JX_COUNT(am), &v) != RC_OK ||
		    jx_add_obj(attrs, m->attrs[i].name, v) != RC_OK)
			goto nomem;
	}
	{
		const struct jx_member em[] = {
			{.key = "Id", .type = JX_STR, .s = id, .omit = id == NULL},
			{.key = "MessageBody", .type = JX_STR, .s = m->body},
			{.key = "DelaySeconds", .type = JX_INT, .i = m->delay_seconds,
			 .omit = m->delay_seconds < 0},
			{.key = "MessageGroupId", .type = JX_STR, .s = m->group_id,
			 .omit = m->group_id == NULL},
			{.key = "MessageDeduplicationId", .type = JX_STR, .s = m->dedup_id,
			 .omit = m->dedup_id == NULL},
			{.key = "MessageAttributes", .type = JX_VAL, .v = attrs, .omit = attrs == NULL},
		};

		if (jx_build(em, JX_COUNT(em), &o) != RC_OK)
			goto nomem;
	}
	json_object_put(attrs);
	*out = o;
	return RC_OK;
nomem:
	json_object_put(attrs);
	snprintf(why, whysz, "out of memory");
	return RC_NOMEM;
}

enum rc sqs_send_message(struct sqs_client *c, const char *url, const struct sqs_send_entry *m,
			 char message_id[SQS_MESSAGE_ID_MAX], struct aws_error *err)
{
	static const char op[] = "SendMessage";
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	char why[256];
	enum rc rc;

	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	rc = sqs_entry_json(m, NULL, &req, why, sizeof(why));
	if (rc != RC_OK)
		return aws_error_local(err, AWS_SVC_SQS, op, rc,
				       rc == RC_NOMEM ? "NoMemory" : "InvalidArgument", "%s", why);
	if (jx_add_str(req, "QueueUrl", url) != RC_OK) {
		json_object_put(req);
		return sqs_nomem(err, op);
	}
	rc = sqs_call(c, NULL, op, req, &resp, err);
	if (rc == RC_OK && message_id != NULL)
		rc = sqs_copy_out(message_id, SQS_MESSAGE_ID_MAX, sqs_jstr(resp, "MessageId"), err, op,
			      "MessageId");
	json_object_put(resp);
	return rc;
}

/* Maps a batch answer {"Successful":[{"Id",...}], "Failed":[{"Id","Code","Message",
 * "SenderFault"}]} onto res[0..n-1] by Id ("0".."n-1"). RC_IO when it is malformed. */
TESTABLE enum rc sqs_parse_batch(struct json_object *resp, size_t n,
				 struct sqs_batch_result *res, size_t *nfailed, char *why,
				 size_t whysz)
{
	struct json_object *ok = sqs_jmember(resp, "Successful", json_type_array);
	struct json_object *bad = sqs_jmember(resp, "Failed", json_type_array);
	bool seen[SQS_BATCH_MAX] = {false};
	size_t failed = 0;

	if (n > SQS_BATCH_MAX) {
		snprintf(why, whysz, "batch of %zu", n);
		return RC_INVAL;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].rc = RC_IO;
		snprintf(res[i].code, sizeof(res[i].code), "MissingEntryResult");
		snprintf(res[i].message, sizeof(res[i].message),
			 "the answer does not mention this entry");
	}
	for (int pass = 0; pass < 2; pass++) {
		struct json_object *arr = pass == 0 ? ok : bad;
		size_t len = arr != NULL ? json_object_array_length(arr) : 0;

		for (size_t k = 0; k < len; k++) {
			struct json_object *e = json_object_array_get_idx(arr, k);
			const char *id = sqs_jstr(e, "Id");
			char *end = NULL;
			unsigned long idx;
			struct sqs_batch_result *r;

			if (id == NULL || !isdigit((unsigned char)id[0])) {
				snprintf(why, whysz, "batch result without a usable Id");
				return RC_IO;
			}
			errno = 0;
			idx = strtoul(id, &end, 10);
			if (errno != 0 || *end != '\0' || idx >= n || seen[idx]) {
				snprintf(why, whysz, "batch result with unknown or repeated Id \"%.16s\"",
					 id);
				return RC_IO;
			}
			seen[idx] = true;
			r = &res[idx];
			r->code[0] = '\0';
			r->message[0] = '\0';
			if (pass == 0) {
				const char *mid = sqs_jstr(e, "MessageId");

				r->rc = RC_OK;
				if (mid != NULL)
					snprintf(r->message_id, sizeof(r->message_id), "%s", mid);
			} else {
				struct json_object *sf = sqs_jmember(e, "SenderFault", json_type_boolean);
				const char *code = sqs_jstr(e, "Code");
				const char *msg = sqs_jstr(e, "Message");

				r->sender_fault = sf != NULL && json_object_get_boolean(sf);
				snprintf(r->code, sizeof(r->code), "%s", code != NULL ? code : "");
				snprintf(r->message, sizeof(r->message), "%s", msg != NULL ? msg : "");
				r->rc = aws_code_to_rc(AWS_SVC_SQS, r->sender_fault ? 400 : 500, r->code,
						       NULL);
				if (r->rc == RC_OK)
					r->rc = RC_IO;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (res[i].rc != RC_OK)
			failed++;
	if (nfailed != NULL)
		*nfailed = failed;
	return RC_OK;
}

/* Runs one batch operation: entries already built into arr (consumed). */
static enum rc batch_call(struct sqs_client *c, const char *op, const char *url,
			  struct json_object *arr, size_t n, struct sqs_batch_result *res,
			  size_t *nfailed, struct aws_error *err)
{
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	char why[256];
	enum rc rc;

	if (sqs_url_req(url, &req) != RC_OK || jx_add_obj(req, "Entries", arr) != RC_OK) {
		if (req == NULL)
			json_object_put(arr);
		json_object_put(req);
		return sqs_nomem(err, op);
	}
	rc = sqs_call(c, NULL, op, req, &resp, err);
	if (rc == RC_OK) {
		rc = sqs_parse_batch(resp, n, res, nfailed, why, sizeof(why));
		if (rc != RC_OK)
			rc = malformed(err, op, why);
	}
	json_object_put(resp);
	return rc;
}

static enum rc check_batch(const char *url, size_t n, const void *entries,
			   const struct sqs_batch_result *res, struct aws_error *err, const char *op)
{
	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	if (n == 0 || n > SQS_BATCH_MAX || entries == NULL || res == NULL)
		return bad_arg(err, op, "batch of %zu entries (need 1..%d)", n, SQS_BATCH_MAX);
	return RC_OK;
}

enum rc sqs_send_message_batch(struct sqs_client *c, const char *url,
			       const struct sqs_send_entry *entries, size_t n,
			       struct sqs_batch_result *res, size_t *nfailed,
			       struct aws_error *err)
{
	static const char op[] = "SendMessageBatch";
	struct json_object *arr = NULL;
	size_t total = 0;
	char why[256];
	enum rc rc;

	rc = check_batch(url, n, entries, res, err, op);
	if (rc != RC_OK)
		return rc;
	arr = json_object_new_array();
	if (arr == NULL)
		return sqs_nomem(err, op);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = NULL;
		char id[SQS_ENTRY_ID_SIZE];

		snprintf(id, sizeof(id), "%zu", i);
		rc = sqs_entry_json(&entries[i], id, &e, why, sizeof(why));
		if (rc != RC_OK) {
			json_object_put(arr);
			return aws_error_local(err, AWS_SVC_SQS, op, rc,
					       rc == RC_NOMEM ? "NoMemory" : "InvalidArgument",
					       "entry %zu: %s", i, why);
		}
		total += strlen(entries[i].body);
		if (jx_append(arr, e) != RC_OK) {
			json_object_put(arr);
			return sqs_nomem(err, op);
		}
	}
	if (total > SQS_BODY_MAX) {
		json_object_put(arr);
		return bad_arg(err, op, "batch payload of %zu bytes (limit %d)", total, SQS_BODY_MAX);
	}
	return batch_call(c, op, url, arr, n, res, nfailed, err);
}

/* ---- deleting and visibility --------------------------------------------------------- */

static bool handle_valid(const char *receipt_handle)
{
	return receipt_handle != NULL && receipt_handle[0] != '\0';
}

/* {"QueueUrl": url, "ReceiptHandle": receipt_handle[, "VisibilityTimeout": visibility]}
 * (visibility < 0: without it). */
static enum rc receipt_req(const char *url, const char *receipt_handle, int visibility,
			   struct json_object **out)
{
	const struct jx_member m[] = {
		{.key = "QueueUrl", .type = JX_STR, .s = url},
		{.key = "ReceiptHandle", .type = JX_STR, .s = receipt_handle},
		{.key = "VisibilityTimeout", .type = JX_INT, .i = visibility, .omit = visibility < 0},
	};

	return jx_build(m, JX_COUNT(m), out);
}

enum rc sqs_delete_message(struct sqs_client *c, const char *url, const char *receipt_handle,
			   struct aws_error *err)
{
	static const char op[] = "DeleteMessage";
	struct json_object *req = NULL;

	if (!sqs_url_valid(url) || !handle_valid(receipt_handle))
		return bad_arg(err, op, "bad queue URL or receipt handle");
	if (receipt_req(url, receipt_handle, -1, &req) != RC_OK)
		return sqs_nomem(err, op);
	return sqs_call_void(c, op, req, err);
}

/* The two batches on received messages: DeleteMessageBatch (with_visibility false: each
 * entry's visibility_timeout is ignored) and ChangeMessageVisibilityBatch. Every entry is
 * checked before anything is built. */
static enum rc receipt_batch(struct sqs_client *c, const char *op, const char *url,
			     const struct sqs_visibility_entry *entries, size_t n,
			     bool with_visibility, struct sqs_batch_result *res, size_t *nfailed,
			     struct aws_error *err)
{
	struct json_object *arr = NULL;

	for (size_t i = 0; i < n; i++) {
		int v = entries[i].visibility_timeout;

		if (!with_visibility && !handle_valid(entries[i].receipt_handle))
			return bad_arg(err, op, "entry %zu has no receipt handle", i);
		if (with_visibility && (!handle_valid(entries[i].receipt_handle) || v < 0 ||
					v > SQS_VISIBILITY_MAX_S))
			return bad_arg(err, op, "entry %zu: no receipt handle or visibility out of "
					       "0..%d",
				       i, SQS_VISIBILITY_MAX_S);
	}
	arr = json_object_new_array();
	if (arr == NULL)
		return sqs_nomem(err, op);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = NULL;
		char id[SQS_ENTRY_ID_SIZE];
		const struct jx_member m[] = {
			{.key = "Id", .type = JX_STR, .s = id},
			{.key = "ReceiptHandle", .type = JX_STR, .s = entries[i].receipt_handle},
			{.key = "VisibilityTimeout", .type = JX_INT, .i = entries[i].visibility_timeout,
			 .omit = !with_visibility},
		};

		snprintf(id, sizeof(id), "%zu", i);
		if (jx_build(m, JX_COUNT(m), &e) != RC_OK || jx_append(arr, e) != RC_OK) {
			json_object_put(arr);
			return sqs_nomem(err, op);
		}
	}
	return batch_call(c, op, url, arr, n, res, nfailed, err);
}

enum rc sqs_delete_message_batch(struct sqs_client *c, const char *url,
				 const char *const *receipt_handles, size_t n,
				 struct sqs_batch_result *res, size_t *nfailed,
				 struct aws_error *err)
{
	static const char op[] = "DeleteMessageBatch";
	struct sqs_visibility_entry entries[SQS_BATCH_MAX];
	enum rc rc;

	rc = check_batch(url, n, receipt_handles, res, err, op);
	if (rc != RC_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		entries[i] = (struct sqs_visibility_entry){receipt_handles[i], 0};
	return receipt_batch(c, op, url, entries, n, false, res, nfailed, err);
}

enum rc sqs_change_visibility(struct sqs_client *c, const char *url, const char *receipt_handle,
			      int visibility_timeout, struct aws_error *err)
{
	static const char op[] = "ChangeMessageVisibility";
	struct json_object *req = NULL;

	if (!sqs_url_valid(url) || !handle_valid(receipt_handle))
		return bad_arg(err, op, "bad queue URL or receipt handle");
	if (visibility_timeout < 0 || visibility_timeout > SQS_VISIBILITY_MAX_S)
		return bad_arg(err, op, "visibility %d s (need 0..%d)", visibility_timeout,
			       SQS_VISIBILITY_MAX_S);
	if (receipt_req(url, receipt_handle, visibility_timeout, &req) != RC_OK)
		return sqs_nomem(err, op);
	return sqs_call_void(c, op, req, err);
}

enum rc sqs_change_visibility_batch(struct sqs_client *c, const char *url,
				    const struct sqs_visibility_entry *entries, size_t n,
				    struct sqs_batch_result *res, size_t *nfailed,
				    struct aws_error *err)
{
	static const char op[] = "ChangeMessageVisibilityBatch";
	enum rc rc;

	rc = check_batch(url, n, entries, res, err, op);
	if (rc != RC_OK)
		return rc;
	return receipt_batch(c, op, url, entries, n, true, res, nfailed, err);
}
