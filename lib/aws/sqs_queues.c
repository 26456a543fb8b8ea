/* sqs_queues.c — the SQS control plane: CreateQueue, GetQueueUrl, Get/SetQueueAttributes,
 * PurgeQueue, DeleteQueue. */
#include "aws/sqs_queues.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/sqs_priv.h"

#ifdef UNIT_TESTS
#include "aws/sqs_int.h"
#endif

TESTABLE bool sqs_name_valid(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;
	size_t base = n;

	if (n == 0 || n > SQS_NAME_MAX)
		return false;
	if (n > 5 && strcmp(name + n - 5, ".fifo") == 0)
		base = n - 5;
	for (size_t i = 0; i < base; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	return base > 0;
}

/* Builds {"Name": "Value", ...} for queue attributes. */
static enum rc kv_object(const struct sqs_kv *attrs, size_t n, struct json_object **out)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = RC_OK;

	*out = NULL;
	if (o == NULL)
		return RC_NOMEM;
	for (size_t i = 0; i < n && rc == RC_OK; i++)
		rc = jx_add_str(o, attrs[i].name, attrs[i].value);
	if (rc != RC_OK) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return RC_OK;
}

static enum rc check_kvs(const struct sqs_kv *attrs, size_t n, struct aws_error *err,
			 const char *op)
{
	if (n > SQS_QUEUE_ATTRS_MAX || (n > 0 && attrs == NULL))
		return bad_arg(err, op, "%zu queue attributes (limit %d)", n, SQS_QUEUE_ATTRS_MAX);
	for (size_t i = 0; i < n; i++)
		if (attrs[i].name == NULL || attrs[i].name[0] == '\0' || attrs[i].value == NULL)
			return bad_arg(err, op, "queue attribute %zu has no name or value", i);
	return RC_OK;
}

enum rc sqs_create_queue(struct sqs_client *c, const char *name, const struct sqs_kv *attrs,
			 size_t nattrs, char url[SQS_URL_MAX], struct aws_error *err)
{
	static const char op[] = "CreateQueue";
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	struct json_object *ao = NULL;
	enum rc rc;

	if (!sqs_name_valid(name))
		return bad_arg(err, op, "bad queue name \"%.100s\" (1-%d of A-Za-z0-9_-, .fifo)",
			       name != NULL ? name : "", SQS_NAME_MAX);
	rc = check_kvs(attrs, nattrs, err, op);
	if (rc != RC_OK)
		return rc;
	if (nattrs > 0 && kv_object(attrs, nattrs, &ao) != RC_OK) {
		rc = sqs_nomem(err, op);
		goto out;
	}
	{
		const struct jx_member m[] = {
			{.key = "QueueName", .type = JX_STR, .s = name},
			{.key = "Attributes", .type = JX_VAL, .v = ao, .omit = ao == NULL},
		};

		if (jx_build(m, JX_COUNT(m), &req) != RC_OK) {
			rc = sqs_nomem(err, op);
			goto out;
		}
	}
	rc = sqs_call(c, NULL, op, req, &resp, err);
	req = NULL;
	if (rc != RC_OK)
		goto out;
	rc = sqs_copy_out(url, SQS_URL_MAX, sqs_jstr(resp, "QueueUrl"), err, op, "QueueUrl");
out:
	json_object_put(req);
	json_object_put(ao);
	json_object_put(resp);
	return rc;
}

enum rc sqs_get_queue_url(struct sqs_client *c, const char *name, char url[SQS_URL_MAX],
			  struct aws_error *err)
{
	static const char op[] = "GetQueueUrl";
	const struct jx_member m[] = {{.key = "QueueName", .type = JX_STR, .s = name}};
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	enum rc rc;

	if (!sqs_name_valid(name))
		return bad_arg(err, op, "bad queue name \"%.100s\"", name != NULL ? name : "");
	if (jx_build(m, JX_COUNT(m), &req) != RC_OK)
		return sqs_nomem(err, op);
	rc = sqs_call(c, NULL, op, req, &resp, err);
	if (rc == RC_OK)
		rc = sqs_copy_out(url, SQS_URL_MAX, sqs_jstr(resp, "QueueUrl"), err, op, "QueueUrl");
	json_object_put(resp);
	return rc;
}

void sqs_attrs_cleanup(struct sqs_attrs *a)
{
	if (a != NULL)
		aws_pairs_clear(&a->names, &a->values, &a->n);
}

const char *sqs_attrs_get(const struct sqs_attrs *a, const char *name)
{
	return aws_pairs_get(a->names, a->values, a->n, name);
}

enum rc sqs_get_queue_attributes(struct sqs_client *c, const char *url,
				 const char *const *names, size_t nnames, struct sqs_attrs *out,
				 struct aws_error *err)
{
	static const char op[] = "GetQueueAttributes";
	struct json_object *req = NULL;
	struct json_object *resp = NULL;
	struct json_object *arr = NULL;
	struct json_object *attrs;
	size_t n;
	size_t i = 0;
	enum rc rc = RC_OK;

	sqs_attrs_cleanup(out);
	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	if (nnames > SQS_QUEUE_ATTRS_MAX)
		return bad_arg(err, op, "%zu attribute names (limit %d)", nnames,
			       SQS_QUEUE_ATTRS_MAX);
	arr = json_object_new_array();
	if (arr == NULL || sqs_url_req(url, &req) != RC_OK) {
		json_object_put(arr);
		rc = sqs_nomem(err, op);
		goto out;
	}
	if (names == NULL || nnames == 0)
		rc = jx_append_str(arr, "All");
	for (size_t k = 0; names != NULL && k < nnames && rc == RC_OK; k++)
		rc = jx_append_str(arr, names[k]);
	if (rc == RC_OK)
		rc = jx_add_obj(req, "AttributeNames", arr);
	else
		json_object_put(arr);
	arr = NULL;
	if (rc != RC_OK) {
		rc = sqs_nomem(err, op);
		goto out;
	}
	rc = sqs_call(c, NULL, op, req, &resp, err);
	req = NULL;
	if (rc != RC_OK)
		goto out;
	attrs = sqs_jmember(resp, "Attributes", json_type_object);
	n = attrs != NULL ? (size_t)json_object_object_length(attrs) : 0;
	if (n == 0)
		goto out;
	out->names = calloc(n, sizeof(*out->names));
	out->values = calloc(n, sizeof(*out->values));
	if (out->names == NULL || out->values == NULL) {
		rc = sqs_nomem(err, op);
		goto out;
	}
	json_object_object_foreach(attrs, key, val)
	{
		if (i >= n)
			break;
		out->names[i] = strdup(key);
		out->values[i] = strdup(json_object_get_string(val));
		out->n = i + 1;
		if (out->names[i] == NULL || out->values[i] == NULL) {
			rc = sqs_nomem(err, op);
			goto out;
		}
		i++;
	}
out:
	if (rc != RC_OK)
		sqs_attrs_cleanup(out);
	json_object_put(req);
	json_object_put(resp);
	return rc;
}

enum rc sqs_get_queue_arn(struct sqs_client *c, const char *url, char arn[SQS_ARN_MAX],
			  struct aws_error *err)
{
	static const char *const names[] = {"QueueArn"};
	struct sqs_attrs a = {0, NULL, NULL};
	enum rc rc;

	rc = sqs_get_queue_attributes(c, url, names, 1, &a, err);
	if (rc == RC_OK)
		rc = sqs_copy_out(arn, SQS_ARN_MAX, sqs_attrs_get(&a, "QueueArn"), err,
			      "GetQueueAttributes", "QueueArn");
	sqs_attrs_cleanup(&a);
	return rc;
}

enum rc sqs_set_queue_attributes(struct sqs_client *c, const char *url,
				 const struct sqs_kv *attrs, size_t nattrs, struct aws_error *err)
{
	static const char op[] = "SetQueueAttributes";
	struct json_object *req = NULL;
	struct json_object *ao = NULL;
	enum rc rc;

	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	rc = check_kvs(attrs, nattrs, err, op);
	if (rc != RC_OK)
		return rc;
	if (sqs_url_req(url, &req) != RC_OK || kv_object(attrs, nattrs, &ao) != RC_OK ||
	    jx_add_obj(req, "Attributes", ao) != RC_OK) {
		json_object_put(req);
		return sqs_nomem(err, op);
	}
	return sqs_call_void(c, op, req, err);
}

/* An operation whose request is only the QueueUrl and whose answer is ignored. */
static enum rc url_only(struct sqs_client *c, const char *op, const char *url,
			struct aws_error *err)
{
	struct json_object *req = NULL;

	if (!sqs_url_valid(url))
		return bad_arg(err, op, "bad queue URL");
	if (sqs_url_req(url, &req) != RC_OK)
		return sqs_nomem(err, op);
	return sqs_call_void(c, op, req, err);
}

enum rc sqs_purge_queue(struct sqs_client *c, const char *url, struct aws_error *err)
{
	return url_only(c, "PurgeQueue", url, err);
}

enum rc sqs_delete_queue(struct sqs_client *c, const char *url, struct aws_error *err)
{
	return url_only(c, "DeleteQueue", url, err);
}

