/* eventbridge.c — EventBridge operations on top of aws/core: argument checks, request
 * building with json-c, NextToken paging, and per-entry results of PutEvents/PutTargets. */
#include "aws/eventbridge.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/eventbridge_int.h"
#include "base/jx.h"

#define EVB_TOKEN_MAX 4096 /* a NextToken we carry to the next page, with NUL */

struct evb_client {
	struct aws_svc_client base; /* first: the events-service client and its last error */
};

struct evb_client *evb_client_new(const struct aws_config *cfg, struct errbuf *eb)
{
	return aws_svc_client_new(sizeof(struct evb_client), cfg, AWS_SVC_EVENTBRIDGE, eb);
}

void evb_client_free(struct evb_client *c)
{
	aws_svc_client_free(c);
}

struct aws_client *evb_client_core(struct evb_client *c)
{
	return c->base.aws;
}

const struct aws_error *evb_last_error(const struct evb_client *c)
{
	return &c->base.last;
}

static enum rc nomem(struct errbuf *eb)
{
	return eb_set(eb, RC_NOMEM, "eventbridge: out of memory building a request");
}

/* ---- Argument checks ---- */

/* 1..max bytes of [A-Za-z0-9._-] plus the characters in extra. */
static bool word_ok(const char *s, size_t max, const char *extra)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-' || ch == '_' || strchr(extra, ch) != NULL))
			return false;
	}
	return true;
}

/* A bus name ("[/.\-_A-Za-z0-9]+") or a bus ARN (adds ':'). */
static enum rc check_bus(const char *bus, bool optional, struct errbuf *eb)
{
	if (bus == NULL && optional)
		return RC_OK;
	if (!word_ok(bus, EVB_BUS_NAME_MAX, "/:"))
		return eb_set(eb, RC_INVAL, "eventbridge: bad event bus name \"%.64s\"",
			      bus != NULL ? bus : "(null)");
	return RC_OK;
}

static enum rc check_rule_name(const char *rule, struct errbuf *eb)
{
	if (!word_ok(rule, EVB_RULE_NAME_MAX, ""))
		return eb_set(eb, RC_INVAL, "eventbridge: bad rule name \"%.64s\"",
			      rule != NULL ? rule : "(null)");
	return RC_OK;
}

/* Printable ASCII without spaces, 1..EVB_ARN_MAX-1 bytes. */
static bool arn_ok(const char *arn)
{
	size_t n;

	if (arn == NULL)
		return false;
	n = strnlen(arn, EVB_ARN_MAX);
	if (n == 0 || n >= EVB_ARN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (arn[i] <= ' ' || arn[i] > '~')
			return false;
	return true;
}

/* Some text of 1..max bytes (0..max when it may be empty). */
static bool text_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	return n > 0 && n <= max;
}

/* ---- Building ---- */

/* {"Name"|"Rule": rule, "EventBusName": bus?} */
static enum rc rule_req(const char *member, const char *rule, const char *bus,
			struct json_object **out, struct errbuf *eb)
{
	enum rc rc;

	*out = NULL;
	rc = check_rule_name(rule, eb);
	if (rc == RC_OK)
		rc = check_bus(bus, true, eb);
	if (rc != RC_OK)
		return rc;
	{
		const struct jx_member m[] = {
			{.key = member, .type = JX_STR, .s = rule},
			{.key = "EventBusName", .type = JX_STR, .s = bus, .omit = bus == NULL},
		};

		if (jx_build(m, JX_COUNT(m), out) != RC_OK)
			return nomem(eb);
	}
	return RC_OK;
}

TESTABLE enum rc evb_build_put_rule(const struct evb_rule *rule, struct json_object **out,
				    struct errbuf *eb)
{
	struct json_object *req = NULL, *pat = NULL;
	size_t plen;
	enum rc rc;

	*out = NULL;
	plen = rule->pattern != NULL ? strnlen(rule->pattern, EVB_PATTERN_MAX + 1) : 0;
	if (plen == 0 || plen > EVB_PATTERN_MAX)
		return eb_set(eb, RC_INVAL, "eventbridge: event pattern must be 1-%d bytes",
			      EVB_PATTERN_MAX);
	/* Checked here so a typo fails with our message, not an InvalidEventPatternException. */
	rc = jx_parse(rule->pattern, plen, EVB_PATTERN_MAX, 16, &pat, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "eventbridge: event pattern");
		return rc;
	}
	if (!json_object_is_type(pat, json_type_object)) {
		json_object_put(pat);
		return eb_set(eb, RC_INVAL, "eventbridge: event pattern must be a JSON object");
	}
	json_object_put(pat);
	if (rule->description != NULL && strnlen(rule->description, EVB_DESCRIPTION_MAX + 1) >
						 EVB_DESCRIPTION_MAX)
		return eb_set(eb, RC_INVAL, "eventbridge: description over %d bytes",
			      EVB_DESCRIPTION_MAX);
	rc = rule_req("Name", rule->name, rule->bus, &req, eb);
	if (rc != RC_OK)
		return rc;
	{
		const struct jx_member m[] = {
			{.key = "EventPattern", .type = JX_STR, .s = rule->pattern},
			{.key = "State", .type = JX_STR, .s = rule->disabled ? "DISABLED" : "ENABLED"},
			{.key = "Description", .type = JX_STR, .s = rule->description,
			 .omit = rule->description == NULL},
		};

		if (jx_add_members(req, m, JX_COUNT(m)) != RC_OK) {
			json_object_put(req);
			return nomem(eb);
		}
	}
	*out = req;
	return RC_OK;
}

/* Fills element i of a request array of objects from the caller's items. RC_NOMEM. */
typedef enum rc (*fill_fn)(struct json_object *o, const void *items, size_t i);

/* Adds member: [n objects, element i filled by fill(o, items, i)] to req. RC_NOMEM. */
static enum rc add_objects(struct json_object *req, const char *member, size_t n, fill_fn fill,
			   const void *items)
{
	struct json_object *arr = json_object_new_array();
	enum rc rc = arr != NULL ? RC_OK : RC_NOMEM;

	for (size_t i = 0; rc == RC_OK && i < n; i++) {
		struct json_object *o = json_object_new_object();

		rc = o != NULL ? fill(o, items, i) : RC_NOMEM;
		if (rc == RC_OK)
			rc = jx_append(arr, o);
		else
			json_object_put(o);
	}
	if (rc != RC_OK) {
		json_object_put(arr);
		return rc;
	}
	return jx_add_obj(req, member, arr) == RC_OK ? RC_OK : RC_NOMEM;
}

static enum rc fill_target(struct json_object *t, const void *items, size_t i)
{
	const struct evb_target *tg = (const struct evb_target *)items + i;
	const struct jx_member m[] = {
		{.key = "Id", .type = JX_STR, .s = tg->id},
		{.key = "Arn", .type = JX_STR, .s = tg->arn},
	};

	return jx_add_members(t, m, JX_COUNT(m));
}

TESTABLE enum rc evb_build_put_targets(const char *rule, const char *bus,
				       const struct evb_target *targets, size_t n,
				       struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc;

	*out = NULL;
	if (n == 0 || n > EVB_TARGETS_MAX || targets == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: 1-%d targets per call", EVB_TARGETS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!word_ok(targets[i].id, EVB_TARGET_ID_MAX, ""))
			return eb_set(eb, RC_INVAL, "eventbridge: target %zu has a bad id", i);
		if (!arn_ok(targets[i].arn))
			return eb_set(eb, RC_INVAL, "eventbridge: target %s has a bad ARN",
				      targets[i].id);
	}
	rc = rule_req("Rule", rule, bus, &req, eb);
	if (rc != RC_OK)
		return rc;
	if (add_objects(req, "Targets", n, fill_target, targets) != RC_OK) {
		json_object_put(req);
		return nomem(eb);
	}
	*out = req;
	return RC_OK;
}

static enum rc fill_entry(struct json_object *e, const void *items, size_t i)
{
	const struct evb_entry *en = (const struct evb_entry *)items + i;
	const struct jx_member m[] = {
		{.key = "Source", .type = JX_STR, .s = en->source},
		{.key = "DetailType", .type = JX_STR, .s = en->detail_type},
		{.key = "Detail", .type = JX_STR, .s = en->detail},
		{.key = "EventBusName", .type = JX_STR, .s = en->bus, .omit = en->bus == NULL},
		{.key = "Time", .type = JX_INT, .i = (int64_t)en->time, .omit = en->time <= 0},
	};

	return jx_add_members(e, m, JX_COUNT(m));
}

size_t evb_entry_size(const struct evb_entry *e)
{
	return (e->source != NULL ? strlen(e->source) : 0) +
	       (e->detail_type != NULL ? strlen(e->detail_type) : 0) +
	       (e->detail != NULL ? strlen(e->detail) : 0);
}

TESTABLE enum rc evb_build_put_events(const struct evb_entry *entries, size_t n,
				      struct json_object **out, struct errbuf *eb)
{
	struct json_object *req = NULL;
	size_t total = 0;
	enum rc rc;

	*out = NULL;
	if (n == 0 || n > EVB_ENTRIES_MAX || entries == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: 1-%d entries per PutEvents",
			      EVB_ENTRIES_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct evb_entry *en = &entries[i];

		if (!text_ok(en->source, EVB_SOURCE_MAX))
			return eb_set(eb, RC_INVAL, "eventbridge: entry %zu: Source must be 1-%d bytes",
				      i, EVB_SOURCE_MAX);
		if (!text_ok(en->detail_type, EVB_DETAIL_TYPE_MAX))
			return eb_set(eb, RC_INVAL,
				      "eventbridge: entry %zu: DetailType must be 1-%d bytes", i,
				      EVB_DETAIL_TYPE_MAX);
		if (!text_ok(en->detail, EVB_EVENT_MAX))
			return eb_set(eb, RC_INVAL, "eventbridge: entry %zu: Detail must be 1-%d bytes",
				      i, EVB_EVENT_MAX);
		rc = check_bus(en->bus, true, eb);
		if (rc != RC_OK)
			return rc;
		if (en->time < 0)
			return eb_set(eb, RC_INVAL, "eventbridge: entry %zu: negative Time", i);
		total += evb_entry_size(en);
		if (total > EVB_EVENT_MAX)
			return eb_set(eb, RC_INVAL, "eventbridge: entries over %d bytes together",
				      EVB_EVENT_MAX);
	}
	if (jx_build(NULL, 0, &req) != RC_OK ||
	    add_objects(req, "Entries", n, fill_entry, entries) != RC_OK) {
		json_object_put(req);
		return nomem(eb);
	}
	*out = req;
	return RC_OK;
}

/* ---- Answers ---- */

/* The borrowed string member key of o, or "". */
static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

/* Per-entry error codes: the retryable ones are the service's own trouble. */
TESTABLE enum rc evb_entry_code_rc(const char *code)
{
	static const char *const retry[] = {"InternalFailure", "InternalException",
					    "ThrottlingException", "ConcurrentModificationException",
					    "ServiceUnavailable", NULL};

	if (code == NULL || code[0] == '\0')
		return RC_OK;
	for (size_t i = 0; retry[i] != NULL; i++)
		if (strcmp(code, retry[i]) == 0)
			return RC_RETRY;
	return RC_INVAL;
}

TESTABLE enum rc evb_parse_put_events(struct json_object *answer, size_t n,
				      struct evb_put_result *res, size_t *nfailed,
				      struct errbuf *eb)
{
	struct json_object *arr = NULL;
	size_t have = 0;

	*nfailed = 0;
	if (json_object_object_get_ex(answer, "Entries", &arr)) {
		if (!json_object_is_type(arr, json_type_array))
			return eb_set(eb, RC_IO, "eventbridge PutEvents: Entries is not an array");
		have = json_object_array_length(arr);
	}
	for (size_t i = 0; i < n; i++) {
		struct evb_put_result *r = &res[i];
		struct json_object *e = i < have ? json_object_array_get_idx(arr, i) : NULL;

		memset(r, 0, sizeof(*r));
		if (!json_object_is_type(e, json_type_object)) {
			r->rc = RC_IO;
			snprintf(r->code, sizeof(r->code), "MissingEntryResult");
			snprintf(r->message, sizeof(r->message), "the answer has no result for entry %zu",
				 i);
			(*nfailed)++;
			continue;
		}
		aws_copy_member(e, "EventId", r->event_id, sizeof(r->event_id));
		aws_copy_member(e, "ErrorCode", r->code, sizeof(r->code));
		aws_copy_member(e, "ErrorMessage", r->message, sizeof(r->message));
		if (r->code[0] != '\0' || r->event_id[0] == '\0') {
			r->rc = r->code[0] != '\0' ? evb_entry_code_rc(r->code) : RC_IO;
			if (r->code[0] == '\0')
				snprintf(r->code, sizeof(r->code), "MissingEventId");
			(*nfailed)++;
		}
	}
	return RC_OK;
}

enum rc evb_result_rc(const struct evb_put_result *r, struct errbuf *eb)
{
	if (r->rc == RC_OK)
		return RC_OK;
	return eb_set(eb, r->rc, "PutEvents entry failed: %s: %s", r->code, r->message);
}

/* The first failed entry of a PutTargets/RemoveTargets answer as an rc and a message. */
static enum rc targets_failed(struct json_object *answer, const char *op, struct errbuf *eb)
{
	struct json_object *arr = NULL, *e;
	const char *code;

	if (!json_object_object_get_ex(answer, "FailedEntries", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0)
		return RC_OK;
	e = json_object_array_get_idx(arr, 0);
	code = str_member(e, "ErrorCode");
	return eb_set(eb, code[0] != '\0' ? evb_entry_code_rc(code) : RC_IO,
		      "eventbridge %s: target %.64s failed: %.128s: %.256s (%zu failed)", op,
		      str_member(e, "TargetId"), code, str_member(e, "ErrorMessage"),
		      json_object_array_length(arr));
}

/* ---- Buses ---- */

static enum rc bus_req(const char *name, struct json_object **out, struct errbuf *eb)
{
	enum rc rc = check_bus(name, false, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	{
		const struct jx_member m[] = {{.key = "Name", .type = JX_STR, .s = name}};

		if (jx_build(m, JX_COUNT(m), out) != RC_OK)
			return nomem(eb);
	}
	return RC_OK;
}

/* Sends req as op unless build_rc (what building it returned) is a failure, then releases
 * req. arn (may be NULL) gets the answer's string member arn_member, "" otherwise. */
static enum rc send_req(struct evb_client *c, enum rc build_rc, const char *op,
			struct json_object *req, const char *arn_member, char arn[EVB_ARN_MAX],
			struct errbuf *eb)
{
	struct json_object *ans = NULL;
	enum rc rc = build_rc;

	if (arn != NULL)
		arn[0] = '\0';
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, op, req, NULL, &ans, eb);
	if (rc == RC_OK && arn != NULL)
		aws_copy_member(ans, arn_member, arn, EVB_ARN_MAX);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc evb_create_bus(struct evb_client *c, const char *name, char arn[EVB_ARN_MAX],
		       struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = bus_req(name, &req, eb);

	rc = send_req(c, rc, "CreateEventBus", req, "EventBusArn", arn, eb);
	if (rc == RC_CONFLICT)
		eb_set(eb, RC_CONFLICT, "eventbridge: event bus %s already exists", name);
	return rc;
}

enum rc evb_describe_bus(struct evb_client *c, const char *name, char arn[EVB_ARN_MAX],
			 struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = bus_req(name, &req, eb);

	return send_req(c, rc, "DescribeEventBus", req, "Arn", arn, eb);
}

enum rc evb_delete_bus(struct evb_client *c, const char *name, struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = bus_req(name, &req, eb);

	return send_req(c, rc, "DeleteEventBus", req, NULL, NULL, eb);
}

/* ---- Rules and targets ---- */

enum rc evb_put_rule(struct evb_client *c, const struct evb_rule *rule, char arn[EVB_ARN_MAX],
		     struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = evb_build_put_rule(rule, &req, eb);

	return send_req(c, rc, "PutRule", req, "RuleArn", arn, eb);
}

enum rc evb_delete_rule(struct evb_client *c, const char *rule, const char *bus,
			struct errbuf *eb)
{
	struct json_object *req = NULL;
	enum rc rc = rule_req("Name", rule, bus, &req, eb);

	return send_req(c, rc, "DeleteRule", req, NULL, NULL, eb);
}

enum rc evb_put_targets(struct evb_client *c, const char *rule, const char *bus,
			const struct evb_target *targets, size_t n, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc;

	rc = evb_build_put_targets(rule, bus, targets, n, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "PutTargets", req, NULL, &ans, eb);
	if (rc == RC_OK)
		rc = targets_failed(ans, "PutTargets", eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

enum rc evb_remove_targets(struct evb_client *c, const char *rule, const char *bus,
			   const char *const *ids, size_t n, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL, *arr = NULL;
	enum rc rc;

	if (n == 0 || n > EVB_TARGETS_MAX || ids == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: 1-%d target ids per call", EVB_TARGETS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!word_ok(ids[i], EVB_TARGET_ID_MAX, ""))
			return eb_set(eb, RC_INVAL, "eventbridge: target id %zu is bad", i);
	rc = rule_req("Rule", rule, bus, &req, eb);
	if (rc != RC_OK)
		goto out;
	arr = json_object_new_array();
	if (arr == NULL) {
		rc = nomem(eb);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (jx_append_str(arr, ids[i]) != RC_OK) {
			rc = nomem(eb);
			goto out;
		}
	}
	rc = jx_add_obj(req, "Ids", arr);
	arr = NULL;
	if (rc != RC_OK) {
		rc = nomem(eb);
		goto out;
	}
	rc = aws_svc_call(&c->base, "RemoveTargets", req, NULL, &ans, eb);
	if (rc == RC_OK)
		rc = targets_failed(ans, "RemoveTargets", eb);
out:
	json_object_put(arr);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}

/* Pages through op: builds each request with base's members plus NextToken, hands every
 * element of the answer's list_member array to each_fn. */
typedef enum rc (*page_item_fn)(void *ctx, struct json_object *elem, struct errbuf *eb);

static enum rc list_pages(struct evb_client *c, const char *op, struct json_object *base,
			  const char *list_member, page_item_fn each, void *ctx,
			  struct errbuf *eb)
{
	struct json_object *ans = NULL, *arr = NULL;
	char *token = NULL;
	enum rc rc = RC_OK;

	token = calloc(1, EVB_TOKEN_MAX);
	if (token == NULL)
		return nomem(eb);
	for (long page = 0;; page++) {
		if (page >= EVB_PAGES_MAX) {
			rc = eb_set(eb, RC_INVAL, "eventbridge %s: more than %d pages", op,
				    EVB_PAGES_MAX);
			break;
		}
		json_object_object_del(base, "NextToken");
		if (token[0] != '\0' && jx_add_str(base, "NextToken", token) != RC_OK) {
			rc = nomem(eb);
			break;
		}
		rc = aws_svc_call(&c->base, op, base, NULL, &ans, eb);
		if (rc != RC_OK)
			break;
		if (json_object_object_get_ex(ans, list_member, &arr) &&
		    json_object_is_type(arr, json_type_array))
			for (size_t i = 0; rc == RC_OK && i < json_object_array_length(arr); i++)
				rc = each(ctx, json_object_array_get_idx(arr, i), eb);
		if (rc != RC_OK)
			break;
		aws_copy_member(ans, "NextToken", token, EVB_TOKEN_MAX);
		json_object_put(ans);
		ans = NULL;
		if (token[0] == '\0')
			break;
	}
	json_object_put(ans);
	free(token);
	return rc;
}

struct rule_walk {
	evb_rule_fn fn; /* the caller's callback */
	void *ctx;      /* its context */
};

static enum rc each_rule(void *ctx, struct json_object *elem, struct errbuf *eb)
{
	struct rule_walk *w = ctx;
	struct evb_rule_info info = {
		.name = str_member(elem, "Name"),
		.arn = str_member(elem, "Arn"),
		.pattern = str_member(elem, "EventPattern"),
		.state = str_member(elem, "State"),
	};

	return w->fn(w->ctx, &info, eb);
}

enum rc evb_list_rules(struct evb_client *c, const char *bus, const char *prefix,
		       evb_rule_fn fn, void *ctx, struct errbuf *eb)
{
	struct rule_walk w = {fn, ctx};
	struct json_object *req = NULL;
	enum rc rc;

	if (fn == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: ListRules needs a callback");
	if (prefix != NULL && !word_ok(prefix, EVB_RULE_NAME_MAX, ""))
		return eb_set(eb, RC_INVAL, "eventbridge: bad rule name prefix");
	rc = check_bus(bus, true, eb);
	if (rc != RC_OK)
		return rc;
	{
		const struct jx_member m[] = {
			{.key = "EventBusName", .type = JX_STR, .s = bus, .omit = bus == NULL},
			{.key = "NamePrefix", .type = JX_STR, .s = prefix, .omit = prefix == NULL},
		};

		if (jx_build(m, JX_COUNT(m), &req) != RC_OK)
			return nomem(eb);
	}
	rc = list_pages(c, "ListRules", req, "Rules", each_rule, &w, eb);
	json_object_put(req);
	return rc;
}

struct target_walk {
	evb_target_fn fn; /* the caller's callback */
	void *ctx;        /* its context */
};

static enum rc each_target(void *ctx, struct json_object *elem, struct errbuf *eb)
{
	struct target_walk *w = ctx;

	return w->fn(w->ctx, str_member(elem, "Id"), str_member(elem, "Arn"), eb);
}

enum rc evb_list_targets(struct evb_client *c, const char *rule, const char *bus,
			 evb_target_fn fn, void *ctx, struct errbuf *eb)
{
	struct target_walk w = {fn, ctx};
	struct json_object *req = NULL;
	enum rc rc;

	if (fn == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: ListTargetsByRule needs a callback");
	rc = rule_req("Rule", rule, bus, &req, eb);
	if (rc == RC_OK)
		rc = list_pages(c, "ListTargetsByRule", req, "Targets", each_target, &w, eb);
	json_object_put(req);
	return rc;
}

/* ---- Events ---- */

enum rc evb_put_events(struct evb_client *c, const struct evb_entry *entries, size_t n,
		       struct evb_put_result *res, size_t *nfailed, struct errbuf *eb)
{
	struct json_object *req = NULL, *ans = NULL;
	enum rc rc;

	*nfailed = 0;
	if (res == NULL)
		return eb_set(eb, RC_INVAL, "eventbridge: PutEvents needs a result array");
	rc = evb_build_put_events(entries, n, &req, eb);
	if (rc == RC_OK)
		rc = aws_svc_call(&c->base, "PutEvents", req, NULL, &ans, eb);
	if (rc == RC_OK)
		rc = evb_parse_put_events(ans, n, res, nfailed, eb);
	json_object_put(ans);
	json_object_put(req);
	return rc;
}
