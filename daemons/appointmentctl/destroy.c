/* destroy.c — `appointmentctl destroy --yes`: deletes everything provision makes for the
 * configured stage, in reverse dependency order, one line per resource (deleted / absent).
 * What is already gone is fine, so a destroy interrupted half way can simply be run again. */
#include <stdlib.h>
#include <string.h>

#include "aws/dynamodb.h"
#include "aws/dynamodb_tables.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/sqs_queues.h"
#include "aws/ssm.h"
#include "base/clock.h"
#include "ctl.h"

#define TARGET_IDS_MAX EVB_TARGETS_MAX /* targets removed from one rule (ours and strays) */

/* The state of one destroy run. */
struct dest {
	struct ctl x;                 /* config, AWS settings, progress */
	struct ctl_clients cl;        /* used by this thread only */
	char sns_prefix[SNS_ARN_MAX]; /* "arn:aws:sns:<region>:<account>:" or "" when unknown */
};

static enum rc aws_fail(const struct aws_error *err, struct errbuf *eb, const char *what,
			const char *name)
{
	enum rc rc = aws_error_to_eb(err, eb);

	eb_prefix(eb, "%s %s", what, name);
	return rc;
}

/* ---- Finding the account ----
 * Topics are addressed by ARN, and DeleteTopic succeeds for one that does not exist, so to
 * tell "deleted" from "absent" we need the ARN, hence the account. It is read from the ARN of
 * any queue of the stage that is still there (SNS and SQS share the account on AWS and moto),
 * else from the account's default event bus. */

static bool prefix_from_queue(struct dest *d, const char *name)
{
	char url[SQS_URL_MAX], arn[SQS_ARN_MAX];
	struct aws_error err;

	return sqs_get_queue_url(d->cl.sqs, name, url, &err) == RC_OK &&
	       sqs_get_queue_arn(d->cl.sqs, url, arn, &err) == RC_OK &&
	       ctl_arn_prefix(arn, "sns", d->sns_prefix, sizeof(d->sns_prefix));
}

static void find_sns_prefix(struct dest *d)
{
	const struct conf *c = d->x.cfg;
	char arn[EVB_ARN_MAX];
	struct errbuf eb = {{0}};

	for (size_t i = 0; i < c->n_countries; i++) {
		if (c->countries[i].topic_arn[0] != '\0' &&
		    ctl_arn_prefix(c->countries[i].topic_arn, "sns", d->sns_prefix,
				   sizeof(d->sns_prefix)))
			return;
		if (prefix_from_queue(d, c->countries[i].queue_name) ||
		    prefix_from_queue(d, c->countries[i].dlq_name))
			return;
	}
	if (prefix_from_queue(d, c->completion_queue_name) ||
	    prefix_from_queue(d, c->error_queue_name))
		return;
	if (evb_describe_bus(d->cl.evb, "default", arn, &eb) == RC_OK &&
	    ctl_arn_prefix(arn, "sns", d->sns_prefix, sizeof(d->sns_prefix)))
		return;
	d->sns_prefix[0] = '\0';
}

/* ---- EventBridge ---- */

/* The ids of a rule's targets, collected so they can all be removed (DeleteRule refuses a
 * rule that still has any). */
struct target_ids {
	char ids[TARGET_IDS_MAX][EVB_TARGET_ID_MAX + 1];
	size_t n;
};

static enum rc target_seen(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct target_ids *t = ctx;

	(void)arn;
	if (t->n >= TARGET_IDS_MAX)
		return eb_set(eb, RC_INVAL, "more than %d targets", TARGET_IDS_MAX);
	snprintf(t->ids[t->n++], sizeof(t->ids[0]), "%s", id);
	return RC_OK;
}

/* Removes every target of the rule, then the rule. Two lines: our target, the rule. */
static enum rc dest_rule(struct dest *d, const char *rule, const char *our_id, bool bus_exists,
			 struct errbuf *eb)
{
	const char *bus = d->x.cfg->event_bus_name;
	struct target_ids t = {.n = 0};
	const char *ids[TARGET_IDS_MAX];
	bool ours = false;
	enum rc rc = RC_NOTFOUND;

	if (bus_exists)
		rc = evb_list_targets(d->cl.evb, rule, bus, target_seen, &t, eb);
	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent target %s/%s", rule, our_id);
		ctl_line(&d->x, "absent rule %s", rule);
		return RC_OK;
	}
	if (rc != RC_OK) {
		eb_prefix(eb, "list the targets of rule %s", rule);
		return rc;
	}
	for (size_t i = 0; i < t.n; i++) {
		ids[i] = t.ids[i];
		ours = ours || strcmp(t.ids[i], our_id) == 0;
	}
	if (t.n > 0) {
		rc = evb_remove_targets(d->cl.evb, rule, bus, ids, t.n, eb);
		if (rc != RC_OK) {
			eb_prefix(eb, "remove the targets of rule %s", rule);
			return rc;
		}
	}
	if (t.n > (ours ? 1u : 0u))
		ctl_line(&d->x, "%s target %s/%s (and %zu other targets)", ours ? "deleted" : "absent",
			 rule, our_id, t.n - (ours ? 1u : 0u));
	else
		ctl_line(&d->x, "%s target %s/%s", ours ? "deleted" : "absent", rule, our_id);
	rc = evb_delete_rule(d->cl.evb, rule, bus, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "delete rule %s", rule);
		return rc;
	}
	ctl_line(&d->x, "deleted rule %s", rule);
	return RC_OK;
}

static enum rc dest_eventbridge(struct dest *d, struct errbuf *eb)
{
	const struct conf *c = d->x.cfg;
	const char *bus = c->event_bus_name;
	char rule[CTL_RULE_NAME_MAX + 1];
	bool exists;
	enum rc rc = evb_describe_bus(d->cl.evb, bus, NULL, eb);

	if (rc != RC_OK && rc != RC_NOTFOUND) {
		eb_prefix(eb, "look up bus %s", bus);
		return rc;
	}
	exists = rc == RC_OK;
	rc = RC_OK;
	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		snprintf(rule, sizeof(rule), CTL_RULE_PROCESSED_PREFIX "%s", c->countries[i].lower);
		rc = dest_rule(d, rule, CTL_TARGET_COMPLETION, exists, eb);
	}
	if (rc == RC_OK)
		rc = dest_rule(d, CTL_RULE_ERROR, CTL_TARGET_ERROR, exists, eb);
	if (rc != RC_OK)
		return rc;
	if (!exists) {
		ctl_line(&d->x, "absent bus %s", bus);
		return RC_OK;
	}
	rc = evb_delete_bus(d->cl.evb, bus, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "delete bus %s", bus);
		return rc;
	}
	ctl_line(&d->x, "deleted bus %s", bus);
	return RC_OK;
}

/* ---- SNS ---- */

/* Whether a subscription endpoint is the queue called name (queue ARNs end in ":<name>"). */
static bool endpoint_is_queue(const char *endpoint, const char *name)
{
	size_t el = strlen(endpoint), nl = strlen(name);

	return el > nl && endpoint[el - nl - 1] == ':' && strcmp(endpoint + el - nl, name) == 0;
}

/* The subscription of the country's queue, then the topic. Two lines. */
static enum rc dest_topic(struct dest *d, const struct conf_country *cc, struct errbuf *eb)
{
	struct sns_subscriptions subs = {0};
	struct sns_attrs attrs = {0};
	struct aws_error err;
	char arn[SNS_ARN_MAX];
	bool ours = false;
	enum rc rc = RC_OK;
	int w;

	if (cc->topic_arn[0] != '\0')
		w = snprintf(arn, sizeof(arn), "%s", cc->topic_arn);
	else
		w = snprintf(arn, sizeof(arn), "%s%s", d->sns_prefix, cc->topic_name);
	if (d->sns_prefix[0] == '\0' && cc->topic_arn[0] == '\0') {
		/* nothing of the stage is left to tell the account: the topic went with the rest
		 * (destroy deletes topics before queues) or was never made */
		ctl_line(&d->x, "absent subscription %s (topic %s)", cc->queue_name, cc->topic_name);
		ctl_line(&d->x, "absent topic %s (no queue of the stage is left to name its account)",
			 cc->topic_name);
		goto out;
	}
	if (w < 0 || (size_t)w >= sizeof(arn)) {
		rc = eb_set(eb, RC_INVAL, "topic %s: ARN too long", cc->topic_name);
		goto out;
	}
	rc = sns_get_topic_attributes(d->cl.sns, arn, &attrs, &err);
	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent subscription %s (topic %s)", cc->queue_name, cc->topic_name);
		ctl_line(&d->x, "absent topic %s", cc->topic_name);
		rc = RC_OK;
		goto out;
	}
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "look up topic", cc->topic_name);
		goto out;
	}
	rc = sns_list_subscriptions_by_topic(d->cl.sns, arn, &subs, &err);
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "list the subscriptions of topic", cc->topic_name);
		goto out;
	}
	for (size_t i = 0; i < subs.n; i++) {
		/* "PendingConfirmation" is not an ARN and cannot be unsubscribed */
		if (strcmp(subs.v[i].protocol, "sqs") != 0 ||
		    !endpoint_is_queue(subs.v[i].endpoint, cc->queue_name) ||
		    strncmp(subs.v[i].arn, "arn:", 4) != 0)
			continue;
		rc = sns_unsubscribe(d->cl.sns, subs.v[i].arn, &err);
		if (rc != RC_OK && rc != RC_NOTFOUND) {
			rc = aws_fail(&err, eb, "unsubscribe queue", cc->queue_name);
			goto out;
		}
		rc = RC_OK;
		ours = true;
	}
	ctl_line(&d->x, "%s subscription %s (topic %s)", ours ? "deleted" : "absent",
		 cc->queue_name, cc->topic_name);
	/* DeleteTopic also drops any other subscription the topic has */
	rc = sns_delete_topic(d->cl.sns, arn, &err);
	if (rc != RC_OK && rc != RC_NOTFOUND) {
		rc = aws_fail(&err, eb, "delete topic", cc->topic_name);
		goto out;
	}
	rc = RC_OK;
	ctl_line(&d->x, "deleted topic %s", cc->topic_name);
out:
	sns_attrs_cleanup(&attrs);
	sns_subscriptions_cleanup(&subs);
	return rc;
}

/* ---- SQS, DynamoDB, SSM ---- */

static enum rc dest_queue(struct dest *d, const char *kind, const char *name, struct errbuf *eb)
{
	char url[SQS_URL_MAX];
	struct aws_error err;
	enum rc rc = sqs_get_queue_url(d->cl.sqs, name, url, &err);

	if (rc == RC_OK)
		rc = sqs_delete_queue(d->cl.sqs, url, &err);
	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent %s %s", kind, name);
		return RC_OK;
	}
	if (rc != RC_OK)
		return aws_fail(&err, eb, "delete queue", name);
	ctl_line(&d->x, "deleted %s %s", kind, name);
	return RC_OK;
}

/* Deletes the table and waits until it is gone, so a provision right after does not find it
 * DELETING (real DynamoDB takes a while; DynamoDB Local is immediate). */
static enum rc dest_table(struct dest *d, const char *table, struct errbuf *eb)
{
	struct ddb_table_info info;
	long waited = 0;
	enum rc rc = ddb_delete_table(d->cl.ddb, table, eb);

	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent table %s", table);
		return RC_OK;
	}
	if (rc != RC_OK) {
		eb_prefix(eb, "delete table %s", table);
		return rc;
	}
	for (;;) {
		rc = ddb_describe_table(d->cl.ddb, table, &info, eb);
		if (rc == RC_NOTFOUND)
			break;
		if (rc != RC_OK) {
			eb_prefix(eb, "wait for the deletion of table %s", table);
			return rc;
		}
		if (waited >= CTL_TABLE_WAIT_MS)
			return eb_set(eb, RC_TIMEOUT, "delete table %s: still %s after %ld s", table,
				      info.status, waited / 1000);
		clk_sleep_ms(DDB_WAIT_POLL_MS);
		waited += DDB_WAIT_POLL_MS;
	}
	ctl_line(&d->x, "deleted table %s", table);
	return RC_OK;
}

static enum rc dest_parameter(struct dest *d, struct errbuf *eb)
{
	const char *name = d->x.cfg->ssm_password_parameter;
	enum rc rc = ssm_delete_parameter(d->cl.ssm, name, eb);

	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent ssm-parameter %s", name);
		return RC_OK;
	}
	if (rc != RC_OK) {
		eb_prefix(eb, "delete ssm-parameter %s", name);
		return rc;
	}
	ctl_line(&d->x, "deleted ssm-parameter %s", name);
	return RC_OK;
}

/* Reverse order of provision: nothing deleted is still named by something that remains, so
 * the rules stop sending before their queues go, and the topics go before the queues that
 * tell their account. */
static enum rc dest_run(struct dest *d, struct errbuf *eb)
{
	const struct conf *c = d->x.cfg;
	enum rc rc;

	d->x.steps = 12 + 6 * (int)c->n_countries;
	find_sns_prefix(d);
	rc = dest_eventbridge(d, eb);
	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++)
		rc = dest_topic(d, &c->countries[i], eb);
	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		rc = dest_queue(d, "queue", c->countries[i].queue_name, eb);
		if (rc == RC_OK)
			rc = dest_queue(d, "dlq", c->countries[i].dlq_name, eb);
	}
	if (rc == RC_OK)
		rc = dest_queue(d, "queue", c->completion_queue_name, eb);
	if (rc == RC_OK)
		rc = dest_queue(d, "dlq", c->completion_dlq_name, eb);
	if (rc == RC_OK)
		rc = dest_queue(d, "queue", c->error_queue_name, eb);
	if (rc == RC_OK)
		rc = dest_queue(d, "dlq", c->error_dlq_name, eb);
	if (rc == RC_OK)
		rc = dest_table(d, c->table_name, eb);
	if (rc == RC_OK)
		rc = dest_table(d, c->idempotency_table, eb);
	if (rc == RC_OK)
		rc = dest_table(d, c->quota_table, eb);
	if (rc == RC_OK)
		rc = dest_table(d, c->counters_table, eb);
	if (rc == RC_OK)
		rc = dest_parameter(d, eb);
	return rc;
}

int ctl_cmd_destroy(const char *config_path, int argc, char **argv)
{
	struct dest *d = NULL;
	struct errbuf eb = {{0}};
	bool yes = false;
	int code = CTL_EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0) {
			yes = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] destroy --yes\n");
			return CTL_EXIT_OK;
		} else {
			return ctl_die(CTL_EXIT_USAGE, "destroy: unknown argument '%s' (try destroy "
				       "--help)", argv[i]);
		}
	}
	if (!yes)
		return ctl_die(CTL_EXIT_USAGE, "destroy deletes the stage's tables (with their data), "
			       "queues (with their messages), topics, bus, rules and SSM parameter: "
			       "run it with --yes");
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ctl_die(CTL_EXIT_FAILURE, "out of memory");
	code = ctl_open(&d->x, config_path, true);
	if (code != CTL_EXIT_OK)
		goto out;
	if (ctl_clients_open(&d->x, CTL_ALL_CLIENTS, &d->cl, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	if (dest_run(d, &eb) != RC_OK)
		code = ctl_fail(&eb);
out:
	ctl_clients_close(&d->cl);
	ctl_close(&d->x);
	free(d);
	return code;
}
