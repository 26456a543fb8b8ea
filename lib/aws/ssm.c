/* ssm.c — Parameter Store operations on top of aws/core. Calls go through aws_svc_call with
 * its secret option, so the bodies that carried a secret are wiped before they are freed. */
#include "aws/ssm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/ssm_int.h"
#include "base/jx.h"

struct ssm_client {
	struct aws_svc_client base; /* first: the ssm-service client and its last error */
};

struct ssm_client *ssm_client_new(const struct aws_config *cfg, struct errbuf *eb)
{
	return aws_svc_client_new(sizeof(struct ssm_client), cfg, AWS_SVC_SSM, eb);
}

void ssm_client_free(struct ssm_client *c)
{
	aws_svc_client_free(c);
}

struct aws_client *ssm_client_core(struct ssm_client *c)
{
	return c->base.aws;
}

const struct aws_error *ssm_last_error(const struct ssm_client *c)
{
	return &c->base.last;
}

/* Zeroes a string we own through a const pointer (json-c hands out const views of buffers
 * that belong to objects we are about to free). */
static void wipe_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		explicit_bzero((void *)(uintptr_t)json_object_get_string(v),
			       (size_t)json_object_get_string_len(v));
}

/* For the calls whose request or answer carries a value: wipe both bodies afterwards. */
static const struct aws_svc_call_opts secret_call = {.secret = true};

/* 1..SSM_NAME_MAX bytes of [A-Za-z0-9_.-/]. */
TESTABLE bool ssm_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	n = strnlen(name, SSM_NAME_MAX + 1);
	if (n == 0 || n > SSM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-' || ch == '/'))
			return false;
	}
	return true;
}

static enum rc check_name(const char *name, struct errbuf *eb)
{
	if (!ssm_name_ok(name))
		return eb_set(eb, RC_INVAL, "ssm: bad parameter name \"%.64s\" (1-%d of A-Z a-z 0-9 _ . - /)",
			      name != NULL ? name : "(null)", SSM_NAME_MAX);
	return RC_OK;
}

static enum rc nomem(struct errbuf *eb)
{
	return eb_set(eb, RC_NOMEM, "ssm: out of memory building a request");
}

TESTABLE enum rc ssm_build_put(const char *name, const char *value, enum ssm_type type,
			       bool overwrite, struct json_object **out, struct errbuf *eb)
{
	const struct jx_member m[] = {
		{.key = "Name", .type = JX_STR, .s = name},
		{.key = "Value", .type = JX_STR, .s = value},
		{.key = "Type", .type = JX_STR,
		 .s = type == SSM_SECURE_STRING ? "SecureString" : "String"},
		{.key = "Overwrite", .type = JX_BOOL, .b = overwrite},
	};
	struct json_object *req = NULL;
	size_t vlen;
	enum rc rc;

	*out = NULL;
	rc = check_name(name, eb);
	if (rc != RC_OK)
		return rc;
	vlen = value != NULL ? strnlen(value, SSM_VALUE_MAX + 1) : 0;
	if (vlen == 0 || vlen > SSM_VALUE_MAX)
		return eb_set(eb, RC_INVAL, "ssm: the value of %s must be 1-%d bytes", name,
			      SSM_VALUE_MAX);
	if (type != SSM_STRING && type != SSM_SECURE_STRING)
		return eb_set(eb, RC_INVAL, "ssm: bad parameter type %d", (int)type);
	req = json_object_new_object();
	if (req == NULL || jx_add_members(req, m, JX_COUNT(m)) != RC_OK) {
		/* built here rather than by jx_build, so a half-built request is wiped too */
		wipe_member(req, "Value");
		json_object_put(req);
		return nomem(eb);
	}
	*out = req;
	return RC_OK;
}

TESTABLE enum rc ssm_build_get(const char *name, bool decrypt, struct json_object **out,
			       struct errbuf *eb)
{
	const struct jx_member m[] = {
		{.key = "Name", .type = JX_STR, .s = name},
		{.key = "WithDecryption", .type = JX_BOOL, .b = decrypt},
	};
	enum rc rc;

	*out = NULL;
	rc = check_name(name, eb);
	if (rc != RC_OK)
		return rc;
	if (jx_build(m, JX_COUNT(m), out) != RC_OK)
		return nomem(eb);
	return RC_OK;
}

enum rc ssm_put_parameter(struct ssm_client *c, const char *name, const char *value,
			  enum ssm_type type, bool overwrite, int64_t *version,
			  struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *v = NULL;
	enum rc rc;

	if (version != NULL)
		*version = 0;
	rc = ssm_build_put(name, value, type, overwrite, &req, eb);
	if (rc != RC_OK)
		goto out;
	rc = aws_svc_call(&c->base, "PutParameter", req, &secret_call, &ans, eb);
	if (rc == RC_CONFLICT)
		eb_set(eb, RC_CONFLICT, "ssm: parameter %s already exists (no overwrite)", name);
	if (rc == RC_OK && version != NULL && json_object_object_get_ex(ans, "Version", &v) &&
	    json_object_is_type(v, json_type_int))
		*version = json_object_get_int64(v);
out:
	wipe_member(req, "Value");
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ssm_get_parameter(struct ssm_client *c, const char *name, bool decrypt, char *value,
			  size_t size, size_t *len, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *p = NULL, *v = NULL;
	size_t n;
	enum rc rc;

	if (len != NULL)
		*len = 0;
	if (value == NULL || size == 0)
		return eb_set(eb, RC_INVAL, "ssm: GetParameter needs a value buffer");
	value[0] = '\0';
	rc = ssm_build_get(name, decrypt, &req, eb);
	if (rc != RC_OK)
		goto out;
	rc = aws_svc_call(&c->base, "GetParameter", req, &secret_call, &ans, eb);
	if (rc != RC_OK)
		goto out;
	if (!json_object_object_get_ex(ans, "Parameter", &p) ||
	    !json_object_object_get_ex(p, "Value", &v) || !json_object_is_type(v, json_type_string)) {
		rc = eb_set(eb, RC_IO, "ssm GetParameter %s: no Parameter.Value in the answer", name);
		goto out;
	}
	n = (size_t)json_object_get_string_len(v);
	if (n >= size) {
		rc = eb_set(eb, RC_INVAL, "ssm: the value of %s (%zu bytes) does not fit in %zu", name,
			    n, size);
		goto out;
	}
	memcpy(value, json_object_get_string(v), n);
	value[n] = '\0';
	if (len != NULL)
		*len = n;
out:
	if (p != NULL)
		wipe_member(p, "Value");
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc ssm_delete_parameter(struct ssm_client *c, const char *name, struct errbuf *eb)
{
	const struct jx_member m[] = {{.key = "Name", .type = JX_STR, .s = name}};
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc = check_name(name, eb);

	if (rc != RC_OK)
		return rc;
	if (jx_build(m, JX_COUNT(m), &req) != RC_OK)
		return nomem(eb);
	rc = aws_svc_call(&c->base, "DeleteParameter", req, NULL, &ans, eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}
