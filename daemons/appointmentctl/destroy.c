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
	char sqs_prefix[SQS_ARN_MAX]; /* the same for our queues' ARNs */
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

/* ---- EventBridge ----
 * Rule names carry no stage, so two stages configured on one bus ([aws] event_bus_name) meet
 * on the same rules. A rule that delivers to another stage's queue is that stage's too: only
 * our own targets are taken off it, and it stays, and so does the bus (deleting a bus deletes
 * its rules). */

/* A rule's targets, collected so they can all be removed (DeleteRule refuses a rule that still
 * has any). */
struct target_list {
	char ids[TARGET_IDS_MAX][EVB_TARGET_ID_MAX + 1]; /* target ids */
	char arns[TARGET_IDS_MAX][EVB_ARN_MAX];          /* ... and what each delivers to */
	enum ctl_owner owner[TARGET_IDS_MAX];            /* ... whose that is */
	size_t n;
};

static enum rc target_seen(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct target_list *t = ctx;

	if (t->n >= TARGET_IDS_MAX)
		return eb_set(eb, RC_INVAL, "more than %d targets", TARGET_IDS_MAX);
	snprintf(t->ids[t->n], sizeof(t->ids[0]), "%s", id);
	snprintf(t->arns[t->n++], sizeof(t->arns[0]), "%s", arn);
	return RC_OK;
}

/* The rule delivers to another stage's queue (t->arns[other]): removes only the targets that
 * deliver to our queue and keeps the rule. Two lines: our target, the rule. */
static enum rc keep_rule(struct dest *d, const char *rule, const char *our_id,
			 const struct target_list *t, size_t other, struct errbuf *eb)
{
	const char *ids[TARGET_IDS_MAX];
	const char *mine = NULL; /* what the target of our id delivers to, if there is one */
	bool mine_ours = false;
	size_t n = 0;
	enum rc rc;

	for (size_t i = 0; i < t->n; i++) {
		if (t->owner[i] == CTL_OWNER_US)
			ids[n++] = t->ids[i];
		if (strcmp(t->ids[i], our_id) == 0) {
			mine = t->arns[i];
			mine_ours = t->owner[i] == CTL_OWNER_US;
		}
	}
	if (n > 0) {
		rc = evb_remove_targets(d->cl.evb, rule, d->x.cfg->event_bus_name, ids, n, eb);
		if (rc != RC_OK) {
			eb_prefix(eb, "remove our targets of rule %s", rule);
			return rc;
		}
	}
	if (mine_ours)
		ctl_line(&d->x, "deleted target %s/%s", rule, our_id);
	else if (mine != NULL)
		ctl_line(&d->x, "kept target %s/%s (it delivers to %s)", rule, our_id, mine);
	else
		ctl_line(&d->x, "absent target %s/%s", rule, our_id);
	ctl_line(&d->x, "kept rule %s (it delivers to %s of another stage)", rule, t->arns[other]);
	return RC_OK;
}

/* Removes every target of the rule, then the rule, unless the rule delivers to another
 * stage's queue (then *kept is set; see keep_rule). our_queue is the queue of ours it
 * delivers to. Two lines: our target, the rule. */
static enum rc dest_rule(struct dest *d, const char *rule, const char *our_id,
			 const char *our_queue, bool bus_exists, bool *kept, struct errbuf *eb)
{
	const char *bus = d->x.cfg->event_bus_name;
	struct target_list *t = calloc(1, sizeof(*t)); /* 16 KiB of ARNs: not on the stack */
	const char *ids[TARGET_IDS_MAX];
	struct aws_error err;
	bool ours = false;
	size_t other = TARGET_IDS_MAX;
	enum rc rc = RC_NOTFOUND;

	if (t == NULL)
		return eb_set(eb, RC_NOMEM, "rule %s: out of memory", rule);
	if (bus_exists)
		rc = evb_list_targets(d->cl.evb, rule, bus, target_seen, t, eb);
	if (rc == RC_NOTFOUND) {
		ctl_line(&d->x, "absent target %s/%s", rule, our_id);
		ctl_line(&d->x, "absent rule %s", rule);
		rc = RC_OK;
		goto out;
	}
	if (rc != RC_OK) {
		eb_prefix(eb, "list the targets of rule %s", rule);
		goto out;
	}
	for (size_t i = 0; i < t->n; i++) {
		rc = ctl_target_owner(d->cl.sqs, t->arns[i], our_queue, d->sqs_prefix, &t->owner[i],
				      &err);
		if (rc != RC_OK) {
			rc = aws_error_to_eb(&err, eb);
			eb_prefix(eb, "rule %s: look up %s", rule, t->arns[i]);
			goto out;
		}
		if (t->owner[i] == CTL_OWNER_OTHER && other == TARGET_IDS_MAX)
			other = i;
	}
	if (other < TARGET_IDS_MAX) {
		*kept = true;
		rc = keep_rule(d, rule, our_id, t, other, eb);
		goto out;
	}
	/* ours alone: strays (a queue gone, something not a queue) go with it */
	for (size_t i = 0; i < t->n; i++) {
		ids[i] = t->ids[i];
		ours = ours || strcmp(t->ids[i], our_id) == 0;
	}
	if (t->n > 0) {
		rc = evb_remove_targets(d->cl.evb, rule, bus, ids, t->n, eb);
		if (rc != RC_OK) {
			eb_prefix(eb, "remove the targets of rule %s", rule);
			goto out;
		}
	}
	if (t->n > (ours ? 1u : 0u))
		ctl_line(&d->x, "%s target %s/%s (and %zu other targets)", ours ? "deleted" : "absent",
			 rule, our_id, t->n - (ours ? 1u : 0u));
	else
		ctl_line(&d->x, "%s target %s/%s", ours ? "deleted" : "absent", rule, our_id);
	rc = evb_delete_rule(d->cl.evb, rule, bus, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "delete rule %s", rule);
		goto out;
	}
	ctl_line(&d->x, "deleted rule %s", rule);
out:
	free(t);
	return rc;
}

/* The rules left on the bus other than those of our names (ours are deleted or kept by now). */
struct other_rules {
	const struct conf *cfg; /* for our rule names */
	size_t n;               /* how many */
	char first[EVB_RULE_NAME_MAX + 1]; /* the first one's name */
};

static enum rc other_rule_seen(void *ctx, const struct evb_rule_info *r, struct errbuf *eb)
{
	struct other_rules *o = ctx;
	char ours[CTL_RULE_NAME_MAX + 1];

	(void)eb;
	if (strcmp(r->name, CTL_RULE_ERROR) == 0)
		return RC_OK;
	for (size_t i = 0; i < o->cfg->n_countries; i++) {
		snprintf(ours, sizeof(ours), CTL_RULE_PROCESSED_PREFIX "%s", o->cfg->countries[i].lower);
		if (strcmp(r->name, ours) == 0)
			return RC_OK;
	}
	if (o->n++ == 0)
		snprintf(o->first, sizeof(o->first), "%s", r->name);
	return RC_OK;
}

/* The bus, unless it is the account's default one or still carries rules: a rule of another
 * stage we kept, or any rule not of our names. One line. */
static enum rc dest_bus(struct dest *d, bool kept, struct errbuf *eb)
{
	const char *bus = d->x.cfg->event_bus_name;
	struct other_rules o = {.cfg = d->x.cfg};
	enum rc rc;

	if (strcmp(bus, "default") == 0) {
		ctl_line(&d->x, "kept bus %s (the account's default bus is never deleted)", bus);
		return RC_OK;
	}
	if (kept) {
		ctl_line(&d->x, "kept bus %s (rules of another stage are on it)", bus);
		return RC_OK;
	}
	rc = evb_list_rules(d->cl.evb, bus, NULL, other_rule_seen, &o, eb);
	if (rc != RC_OK && rc != RC_NOTFOUND) {
		eb_prefix(eb, "list the rules of bus %s", bus);
		return rc;
	}
	if (o.n > 0) {
		ctl_line(&d->x, "kept bus %s (%zu other rule%s on it, such as %s)", bus, o.n,
			 o.n == 1 ? " is" : "s are", o.first);
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

static enum rc dest_eventbridge(struct dest *d, struct errbuf *eb)
{
	const struct conf *c = d->x.cfg;
	const char *bus = c->event_bus_name;
	char rule[CTL_RULE_NAME_MAX + 1];
	bool exists, kept = false;
	enum rc rc = evb_describe_bus(d->cl.evb, bus, NULL, eb);

	if (rc != RC_OK && rc != RC_NOTFOUND) {
		eb_prefix(eb, "look up bus %s", bus);
		return rc;
	}
	exists = rc == RC_OK;
	rc = RC_OK;
	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		snprintf(rule, sizeof(rule), CTL_RULE_PROCESSED_PREFIX "%s", c->countries[i].lower);
		rc = dest_rule(d, rule, CTL_TARGET_COMPLETION, c->completion_queue_name, exists,
			       &kept, eb);
	}
	if (rc == RC_OK)
		rc = dest_rule(d, CTL_RULE_ERROR, CTL_TARGET_ERROR, c->error_queue_name, exists, &kept,
			       eb);
	if (rc != RC_OK)
		return rc;
	if (!exists) {
		ctl_line(&d->x, "absent bus %s", bus);
		return RC_OK;
	}
	return dest_bus(d, kept, eb);
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
	if (d->sns_prefix[0] == '\0' ||
	    !ctl_arn_prefix(d->sns_prefix, "sqs", d->sqs_prefix, sizeof(d->sqs_prefix)))
		d->sqs_prefix[0] = '\0';
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
