/* sns.c — Amazon SNS over the Query protocol: bodies are "Action=...&Version=2010-03-31&..."
 * with every value percent-encoded (RFC 3986 unreserved characters kept), answers are XML
 * read into aws/xml.h's element tree (expat; a DTD is refused, so no entity is expanded). */
#include "aws/sns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "base/buf.h"

#ifdef UNIT_TESTS
#include "aws/sns_int.h"
#endif

#define SNS_VERSION "2010-03-31"

struct sns_client {
	struct aws_svc_client base; /* first: an AWS_SVC_SNS client (aws_svc_client_new) */
};

struct sns_client *sns_client_new(const struct aws_config *cfg, struct errbuf *eb)
{
	return aws_svc_client_new(sizeof(struct sns_client), cfg, AWS_SVC_SNS, eb);
}

void sns_client_free(struct sns_client *c)
{
	aws_svc_client_free(c);
}

struct aws_client *sns_client_core(struct sns_client *c)
{
	return c->base.aws;
}

/* ---- errors -------------------------------------------------------------------------- */

/* An argument refused before anything is sent. */
#define bad_arg(err, op, ...)                                                                  \
	aws_error_local((err), AWS_SVC_SNS, (op), RC_INVAL, "InvalidArgument", __VA_ARGS__)

static enum rc local_fail(struct aws_error *err, const char *op, enum rc rc, const char *what)
{
	if (rc == RC_NOMEM)
		return aws_error_local(err, AWS_SVC_SNS, op, rc, "NoMemory", "out of memory");
	if (rc == RC_INVAL)
		return aws_error_local(err, AWS_SVC_SNS, op, rc, "RequestTooLarge",
				       "request over %d bytes", SNS_FORM_MAX);
	return aws_error_local(err, AWS_SVC_SNS, op, RC_IO, "MalformedResponse",
			       "answer without a usable %s", what);
}

/* ---- form encoding ------------------------------------------------------------------- */

static enum rc form_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char chunk[192];
	size_t n = 0;
	enum rc rc = RC_OK;

	for (; *s != '\0' && rc == RC_OK; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			chunk[n++] = (char)ch;
		} else {
			chunk[n++] = '%';
			chunk[n++] = hex[ch >> 4];
			chunk[n++] = hex[ch & 15];
		}
		if (n > sizeof(chunk) - 4) {
			rc = buf_append(b, chunk, n);
			n = 0;
		}
	}
	if (rc == RC_OK && n > 0)
		rc = buf_append(b, chunk, n);
	return rc;
}

/* Appends "&key=value" (no '&' before the first pair), both percent-encoded. */
TESTABLE enum rc sns_form_add(struct buf *b, const char *key, const char *value)
{
	enum rc rc = RC_OK;

	if (b->len > 0)
		rc = buf_append(b, "&", 1);
	if (rc == RC_OK)
		rc = form_escape(b, key);
	if (rc == RC_OK)
		rc = buf_append(b, "=", 1);
	if (rc == RC_OK)
		rc = form_escape(b, value);
	return rc;
}

static enum rc form_begin(struct buf *b, const char *action)
{
	enum rc rc;

	buf_init(b, SNS_FORM_MAX);
	rc = sns_form_add(b, "Action", action);
	if (rc == RC_OK)
		rc = sns_form_add(b, "Version", SNS_VERSION);
	return rc;
}

/* Appends prefix.entry.N.key / .value pairs (CreateTopic, Subscribe attributes). */
static enum rc form_kvs(struct buf *b, const char *prefix, const struct sns_kv *kv, size_t n)
{
	char key[96];
	enum rc rc = RC_OK;

	for (size_t i = 0; i < n && rc == RC_OK; i++) {
		snprintf(key, sizeof(key), "%s.entry.%zu.key", prefix, i + 1);
		rc = sns_form_add(b, key, kv[i].name);
		if (rc == RC_OK) {
			snprintf(key, sizeof(key), "%s.entry.%zu.value", prefix, i + 1);
			rc = sns_form_add(b, key, kv[i].value);
		}
	}
	return rc;
}

static enum rc check_kvs(const struct sns_kv *kv, size_t n, struct aws_error *err,
			 const char *op)
{
	if (n > SNS_ATTRS_MAX || (n > 0 && kv == NULL))
		return bad_arg(err, op, "%zu attributes (limit %d)", n, SNS_ATTRS_MAX);
	for (size_t i = 0; i < n; i++)
		if (kv[i].name == NULL || kv[i].name[0] == '\0' || kv[i].value == NULL)
			return bad_arg(err, op, "attribute %zu has no name or value", i);
	return RC_OK;
}

static bool arn_valid(const char *arn)
{
	return arn != NULL && strncmp(arn, "arn:", 4) == 0 && strlen(arn) < SNS_ARN_MAX;
}

/* ---- XML ----------------------------------------------------------------------------- */

static enum rc xml_parse(const char *xml, size_t len, struct aws_xml_node **root)
{
	*root = NULL;
	if (xml == NULL || len == 0 || len > AWS_RESPONSE_MAX)
		return RC_IO;
	return aws_xml_parse(xml, len, root);
}

/* Copies the trimmed text of n into out, which is left alone on failure: RC_IO when it does
 * not fit, or is empty (n NULL included) and required. */
static enum rc xml_text_copy(const struct aws_xml_node *n, bool required, char *out,
			     size_t outsz)
{
	char *text = aws_xml_text_dup(n);
	size_t len;
	enum rc rc = RC_IO;

	if (text == NULL)
		return RC_NOMEM;
	len = strlen(text);
	if ((len > 0 || !required) && len < outsz) {
		memcpy(out, text, len + 1);
		rc = RC_OK;
	}
	free(text);
	return rc;
}

/* Copies the text of the first <elem> into out. RC_IO when absent, empty or too long. */
TESTABLE enum rc sns_xml_text(const char *xml, size_t len, const char *elem, char *out,
			      size_t outsz)
{
	struct aws_xml_node *root;
	enum rc rc;

	out[0] = '\0';
	rc = xml_parse(xml, len, &root);
	if (rc != RC_OK)
		return rc;
	rc = xml_text_copy(aws_xml_find(root, elem), true, out, outsz);
	aws_xml_free(root);
	return rc;
}

void sns_subscriptions_cleanup(struct sns_subscriptions *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].arn);
		free(s->v[i].protocol);
		free(s->v[i].endpoint);
		free(s->v[i].owner);
		free(s->v[i].topic_arn);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Appends the <member>s of <Subscriptions> to out and copies <NextToken> ("" if none). */
TESTABLE enum rc sns_parse_subscriptions(const char *xml, size_t len,
					 struct sns_subscriptions *out, char next[SNS_TOKEN_MAX])
{
	struct aws_xml_node *root;
	const struct aws_xml_node *list;
	size_t count;
	enum rc rc;

	next[0] = '\0';
	rc = xml_parse(xml, len, &root);
	if (rc != RC_OK)
		return rc;
	list = aws_xml_find(root, "Subscriptions");
	if (list == NULL) {
		rc = RC_IO;
		goto out;
	}
	count = aws_xml_count(list, "member");
	if (count > 0) {
		struct sns_subscription *v = realloc(out->v, (out->n + count) * sizeof(*v));

		if (v == NULL) {
			rc = RC_NOMEM;
			goto out;
		}
		out->v = v;
	}
	for (const struct aws_xml_node *m = list->children; m != NULL; m = m->next) {
		struct sns_subscription *s;

		if (strcmp(m->name, "member") != 0)
			continue;
		s = &out->v[out->n++];
		s->arn = aws_xml_text_dup(aws_xml_child(m, "SubscriptionArn"));
		s->protocol = aws_xml_text_dup(aws_xml_child(m, "Protocol"));
		s->endpoint = aws_xml_text_dup(aws_xml_child(m, "Endpoint"));
		s->owner = aws_xml_text_dup(aws_xml_child(m, "Owner"));
		s->topic_arn = aws_xml_text_dup(aws_xml_child(m, "TopicArn"));
		if (s->arn == NULL || s->protocol == NULL || s->endpoint == NULL ||
		    s->owner == NULL || s->topic_arn == NULL) {
			rc = RC_NOMEM;
			goto out;
		}
	}
	rc = xml_text_copy(aws_xml_find(root, "NextToken"), false, next, SNS_TOKEN_MAX);
out:
	aws_xml_free(root);
	return rc;
}

void sns_attrs_cleanup(struct sns_attrs *a)
{
	if (a != NULL)
		aws_pairs_clear(&a->names, &a->values, &a->n);
}

const char *sns_attrs_get(const struct sns_attrs *a, const char *name)
{
	return aws_pairs_get(a->names, a->values, a->n, name);
}

/* Reads <Attributes><entry><key/><value/></entry>...</Attributes> into out. */
TESTABLE enum rc sns_parse_attributes(const char *xml, size_t len, struct sns_attrs *out)
{
	struct aws_xml_node *root;
	const struct aws_xml_node *attrs;
	size_t count;
	enum rc rc;

	sns_attrs_cleanup(out);
	rc = xml_parse(xml, len, &root);
	if (rc != RC_OK)
		return rc;
	attrs = aws_xml_find(root, "Attributes");
	if (attrs == NULL) {
		rc = RC_IO;
		goto out;
	}
	count = aws_xml_count(attrs, "entry");
	if (count == 0)
		goto out;
	out->names = calloc(count, sizeof(*out->names));
	out->values = calloc(count, sizeof(*out->values));
	if (out->names == NULL || out->values == NULL) {
		rc = RC_NOMEM;
		goto out;
	}
	for (const struct aws_xml_node *e = attrs->children; e != NULL; e = e->next) {
		size_t i;

		if (strcmp(e->name, "entry") != 0)
			continue;
		i = out->n++;
		out->names[i] = aws_xml_text_dup(aws_xml_child(e, "key"));
		out->values[i] = aws_xml_text_dup(aws_xml_child(e, "value"));
		if (out->names[i] == NULL || out->values[i] == NULL) {
			rc = RC_NOMEM;
			goto out;
		}
	}
out:
	if (rc != RC_OK)
		sns_attrs_cleanup(out);
	aws_xml_free(root);
	return rc;
}

/* ---- operations ---------------------------------------------------------------------- */

/* Sends the form (built by form_begin and form_add calls that returned build_rc) as action
 * unless building it failed, then releases it. On RC_OK resp holds the 2xx answer. */
static enum rc send_form(struct sns_client *c, const char *action, enum rc build_rc,
			 struct buf *form, struct aws_response *resp, struct aws_error *err)
{
	enum rc rc = build_rc;

	if (rc == RC_OK)
		rc = aws_call(c->base.aws, action, NULL, buf_str(form), form->len, resp, err);
	else
		rc = local_fail(err, action, rc, "");
	buf_cleanup(form);
	return rc;
}

/* An answer we could not read (the parsers return RC_IO or RC_NOMEM). */
static enum rc answer_fail(struct aws_error *err, const char *action, enum rc rc,
			   const char *what)
{
	return local_fail(err, action, rc == RC_NOMEM ? RC_NOMEM : RC_IO, what);
}

/* send_form for an action whose answer names one element to copy into out (out NULL: the
 * answer is ignored). */
static enum rc send_for_text(struct sns_client *c, const char *action, enum rc build_rc,
			     struct buf *form, const char *elem, char *out, size_t outsz,
			     struct aws_error *err)
{
	struct aws_response resp;
	enum rc rc;

	aws_response_init(&resp);
	rc = send_form(c, action, build_rc, form, &resp, err);
	if (rc == RC_OK && out != NULL) {
		rc = sns_xml_text(buf_str(&resp.body), resp.body.len, elem, out, outsz);
		if (rc != RC_OK)
			rc = answer_fail(err, action, rc, elem);
	}
	aws_response_cleanup(&resp);
	return rc;
}

enum rc sns_create_topic(struct sns_client *c, const char *name, const struct sns_kv *attrs,
			 size_t nattrs, char arn[SNS_ARN_MAX], struct aws_error *err)
{
	static const char op[] = "CreateTopic";
	struct buf form;
	size_t n = name != NULL ? strlen(name) : 0;
	enum rc rc;

	if (n == 0 || n > SNS_TOPIC_NAME_MAX)
		return bad_arg(err, op, "topic name of %zu bytes (need 1..%d)", n,
			       SNS_TOPIC_NAME_MAX);
	rc = check_kvs(attrs, nattrs, err, op);
	if (rc != RC_OK)
		return rc;
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "Name", name);
	if (rc == RC_OK)
		rc = form_kvs(&form, "Attributes", attrs, nattrs);
	return send_for_text(c, op, rc, &form, "TopicArn", arn, SNS_ARN_MAX, err);
}

/* An action whose only parameter is an ARN and whose answer is ignored. */
static enum rc arn_only(struct sns_client *c, const char *op, const char *param,
			const char *arn, struct aws_error *err)
{
	struct buf form;
	enum rc rc;

	if (!arn_valid(arn))
		return bad_arg(err, op, "bad %s", param);
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, param, arn);
	return send_for_text(c, op, rc, &form, NULL, NULL, 0, err);
}

enum rc sns_delete_topic(struct sns_client *c, const char *topic_arn, struct aws_error *err)
{
	return arn_only(c, "DeleteTopic", "TopicArn", topic_arn, err);
}

enum rc sns_unsubscribe(struct sns_client *c, const char *sub_arn, struct aws_error *err)
{
	return arn_only(c, "Unsubscribe", "SubscriptionArn", sub_arn, err);
}

enum rc sns_get_topic_attributes(struct sns_client *c, const char *topic_arn,
				 struct sns_attrs *out, struct aws_error *err)
{
	static const char op[] = "GetTopicAttributes";
	struct aws_response resp;
	struct buf form;
	enum rc rc;

	sns_attrs_cleanup(out);
	if (!arn_valid(topic_arn))
		return bad_arg(err, op, "bad TopicArn");
	aws_response_init(&resp);
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "TopicArn", topic_arn);
	rc = send_form(c, op, rc, &form, &resp, err);
	if (rc == RC_OK) {
		rc = sns_parse_attributes(buf_str(&resp.body), resp.body.len, out);
		if (rc != RC_OK)
			rc = answer_fail(err, op, rc, "Attributes");
	}
	aws_response_cleanup(&resp);
	return rc;
}

enum rc sns_subscribe(struct sns_client *c, const char *topic_arn, const char *protocol,
		      const char *endpoint, const struct sns_kv *attrs, size_t nattrs,
		      char sub_arn[SNS_ARN_MAX], struct aws_error *err)
{
	static const char op[] = "Subscribe";
	struct buf form;
	enum rc rc;

	if (!arn_valid(topic_arn) || protocol == NULL || protocol[0] == '\0' ||
	    endpoint == NULL || endpoint[0] == '\0' || strlen(endpoint) >= SNS_ARN_MAX * 4)
		return bad_arg(err, op, "bad TopicArn, Protocol or Endpoint");
	rc = check_kvs(attrs, nattrs, err, op);
	if (rc != RC_OK)
		return rc;
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "TopicArn", topic_arn);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "Protocol", protocol);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "Endpoint", endpoint);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "ReturnSubscriptionArn", "true");
	if (rc == RC_OK)
		rc = form_kvs(&form, "Attributes", attrs, nattrs);
	return send_for_text(c, op, rc, &form, "SubscriptionArn", sub_arn, SNS_ARN_MAX, err);
}

enum rc sns_publish(struct sns_client *c, const char *topic_arn, const struct sns_publish *p,
		    char message_id[SNS_MESSAGE_ID_MAX], struct aws_error *err)
{
	static const char op[] = "Publish";
	char mid[SNS_MESSAGE_ID_MAX];
	char key[96];
	struct buf form;
	size_t mlen = p->message != NULL ? strlen(p->message) : 0;
	enum rc rc;

	if (!arn_valid(topic_arn))
		return bad_arg(err, op, "bad TopicArn");
	if (mlen == 0 || mlen > SNS_MESSAGE_MAX)
		return bad_arg(err, op, "message of %zu bytes (need 1..%d)", mlen, SNS_MESSAGE_MAX);
	if (p->subject != NULL && (p->subject[0] == '\0' || strlen(p->subject) > SNS_SUBJECT_MAX))
		return bad_arg(err, op, "subject of %zu bytes (need 1..%d)", strlen(p->subject),
			       SNS_SUBJECT_MAX);
	if (p->nattrs > SNS_MSG_ATTRS_MAX || (p->nattrs > 0 && p->attrs == NULL))
		return bad_arg(err, op, "%zu message attributes (limit %d)", p->nattrs,
			       SNS_MSG_ATTRS_MAX);
	for (size_t i = 0; i < p->nattrs; i++) {
		const struct sns_msg_attr *a = &p->attrs[i];

		if (a->name == NULL || a->name[0] == '\0' || a->value == NULL || a->type == NULL ||
		    (strcmp(a->type, "String") != 0 && strcmp(a->type, "Number") != 0 &&
		     strcmp(a->type, "String.Array") != 0))
			return bad_arg(err, op,
				       "message attribute %zu needs a name, a value and type "
				       "String, Number or String.Array",
				       i);
	}
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "TopicArn", topic_arn);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "Message", p->message);
	if (rc == RC_OK && p->subject != NULL)
		rc = sns_form_add(&form, "Subject", p->subject);
	if (rc == RC_OK && p->group_id != NULL)
		rc = sns_form_add(&form, "MessageGroupId", p->group_id);
	if (rc == RC_OK && p->dedup_id != NULL)
		rc = sns_form_add(&form, "MessageDeduplicationId", p->dedup_id);
	for (size_t i = 0; i < p->nattrs && rc == RC_OK; i++) {
		snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Name", i + 1);
		rc = sns_form_add(&form, key, p->attrs[i].name);
		if (rc == RC_OK) {
			snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.DataType",
				 i + 1);
			rc = sns_form_add(&form, key, p->attrs[i].type);
		}
		if (rc == RC_OK) {
			snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.StringValue",
				 i + 1);
			rc = sns_form_add(&form, key, p->attrs[i].value);
		}
	}
	return send_for_text(c, op, rc, &form, "MessageId", message_id != NULL ? message_id : mid,
			     SNS_MESSAGE_ID_MAX, err);
}

enum rc sns_list_subscriptions_page(struct sns_client *c, const char *topic_arn,
				    const char *next_token, struct sns_subscriptions *out,
				    char next[SNS_TOKEN_MAX], struct aws_error *err)
{
	static const char op[] = "ListSubscriptionsByTopic";
	struct aws_response resp;
	struct buf form;
	enum rc rc;

	next[0] = '\0';
	if (!arn_valid(topic_arn))
		return bad_arg(err, op, "bad TopicArn");
	if (next_token != NULL && strlen(next_token) >= SNS_TOKEN_MAX)
		return bad_arg(err, op, "NextToken too long");
	aws_response_init(&resp);
	rc = form_begin(&form, op);
	if (rc == RC_OK)
		rc = sns_form_add(&form, "TopicArn", topic_arn);
	if (rc == RC_OK && next_token != NULL && next_token[0] != '\0')
		rc = sns_form_add(&form, "NextToken", next_token);
	rc = send_form(c, op, rc, &form, &resp, err);
	if (rc == RC_OK) {
		rc = sns_parse_subscriptions(buf_str(&resp.body), resp.body.len, out, next);
		if (rc != RC_OK)
			rc = answer_fail(err, op, rc, "Subscriptions");
	}
	aws_response_cleanup(&resp);
	return rc;
}

enum rc sns_list_subscriptions_by_topic(struct sns_client *c, const char *topic_arn,
					struct sns_subscriptions *out, struct aws_error *err)
{
	static const char op[] = "ListSubscriptionsByTopic";
	char *token = NULL;
	char *next = NULL;
	enum rc rc = RC_OK;
	int pages = 0;

	sns_subscriptions_cleanup(out);
	token = calloc(1, SNS_TOKEN_MAX);
	next = calloc(1, SNS_TOKEN_MAX);
	if (token == NULL || next == NULL) {
		rc = local_fail(err, op, RC_NOMEM, "");
		goto out;
	}
	do {
		if (++pages > SNS_LIST_PAGES_MAX) {
			rc = aws_error_local(err, AWS_SVC_SNS, op, RC_IO, "TooManyPages",
					     "more than %d pages of subscriptions",
					     SNS_LIST_PAGES_MAX);
			goto out;
		}
		rc = sns_list_subscriptions_page(c, topic_arn, token, out, next, err);
		if (rc != RC_OK)
			goto out;
		if (next[0] != '\0' && strcmp(next, token) == 0) {
			/* A server repeating its token would loop us forever. */
			rc = aws_error_local(err, AWS_SVC_SNS, op, RC_IO, "MalformedResponse",
					     "NextToken did not advance");
			goto out;
		}
		memcpy(token, next, SNS_TOKEN_MAX);
	} while (token[0] != '\0');
out:
	if (rc != RC_OK)
		sns_subscriptions_cleanup(out);
	free(token);
	free(next);
	return rc;
}
