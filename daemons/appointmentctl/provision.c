/* provision.c — `appointmentctl provision`: makes every AWS resource of SPEC §4 for the
 * configured stage (or the groups of --only) exist with the settings the daemons rely on, in
 * dependency order, one line per resource (created / exists / updated / skipped), then prints
 * the environment the daemons need. Every step looks before it acts, so a second run creates
 * nothing and says so. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "app/secret.h"
#include "app/tables.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/sqs_queues.h"
#include "aws/ssm.h"
#include "base/jx.h"
#include "ctl.h"
#include "provgroup.h"

#define POLICY_MAX 16384  /* a queue policy we write or read back (SQS allows 20 KiB) */
#define ENV_PATH_MAX 4096 /* --env-file path, with NUL */
#define ENV_LINES_MAX (8 + 3 * CONF_MAX_COUNTRIES) /* lines of the environment block */
/* The groups that name a value of the environment block (env_lines): --env-file needs them
 * all, so the file the daemons read is never a part of it. */
#define ENV_GROUPS (PROV_TABLES | PROV_COUNTRIES | PROV_EVENTS)

/* What provision learns about one country's resources. */
struct prov_country {
	char dlq_url[SQS_URL_MAX];   /* the country's DLQ */
	char dlq_arn[SQS_ARN_MAX];
	char queue_url[SQS_URL_MAX]; /* the queue its worker consumes */
	char queue_arn[SQS_ARN_MAX];
	char topic_arn[SNS_ARN_MAX]; /* its SNS topic */
	char rule_arn[EVB_ARN_MAX];  /* its "Appointment Processed" rule */
};

/* One queue and its DLQ (completion, error). */
struct prov_queue_pair {
	char dlq_url[SQS_URL_MAX];
	char dlq_arn[SQS_ARN_MAX];
	char url[SQS_URL_MAX];
	char arn[SQS_ARN_MAX];
};

/* The state of one provision run; large, so it lives on the heap. */
struct prov {
	struct ctl x;                 /* config, AWS settings, progress */
	const char *env_file;         /* --env-file PATH, or NULL */
	bool password_from_env;       /* --password-from-env */
	unsigned groups;              /* what this run makes: a set of enum prov_group (--only) */
	char *password;               /* owned (secret_free); NULL = none given */
	struct ctl_clients cl;        /* used by this thread only */
	char sns_prefix[SNS_ARN_MAX]; /* "arn:aws:sns:<region>:<account>:" once known, else "" */
	struct prov_country cc[CONF_MAX_COUNTRIES];
	struct prov_queue_pair completion;
	struct prov_queue_pair error;
	char bus_arn[EVB_ARN_MAX];
	char error_rule_arn[EVB_ARN_MAX];
};

/* ---- DynamoDB ---- */

/* Is point-in-time recovery already on? Asked with DescribeContinuousBackups through the
 * core (dynamodb.h has no describe for it), so a rerun can say "exists" truthfully. Any
 * failure means "don't know": the caller then enables it, which is idempotent and is where
 * an endpoint without the operation is recognised. */
static bool pitr_enabled(struct prov *p, const char *table)
{
	const struct jx_member m[] = {{.key = "TableName", .type = JX_STR, .s = table}};
	struct json_object *req = NULL;
	struct json_object *ans = NULL, *d = NULL, *pd = NULL;
	struct aws_error err;
	const char *status = NULL;
	bool on = false;

	if (jx_build(m, JX_COUNT(m), &req) != RC_OK)
		goto out;
	if (aws_call_json(ddb_client_core(p->cl.ddb), NULL, "DescribeContinuousBackups", req, &ans,
			  &err) != RC_OK)
		goto out;
	if (json_object_object_get_ex(ans, "ContinuousBackupsDescription", &d) &&
	    json_object_object_get_ex(d, "PointInTimeRecoveryDescription", &pd) &&
	    jx_get_str(pd, "PointInTimeRecoveryStatus", &status, NULL, NULL) == RC_OK)
		on = strcmp(status, "ENABLED") == 0 || strcmp(status, "ENABLING") == 0;
out:
	json_object_put(ans);
	json_object_put(req);
	return on;
}

static enum rc prov_pitr(struct prov *p, const char *table, struct errbuf *eb)
{
	enum ddb_applied res;
	enum rc rc;

	if (pitr_enabled(p, table)) {
		ctl_line(&p->x, "exists pitr %s", table);
		return RC_OK;
	}
	rc = ddb_enable_pitr(p->cl.ddb, table, &res, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "enable pitr on table %s", table);
		return rc;
	}
	if (res == DDB_UNSUPPORTED)
		ctl_line(&p->x, "skipped pitr %s: not supported by this endpoint", table);
	else
		ctl_line(&p->x, "created pitr %s", table);
	return RC_OK;
}

static enum rc prov_ttl(struct prov *p, const char *table, struct errbuf *eb)
{
	enum ddb_applied res;
	enum rc rc = ddb_enable_ttl(p->cl.ddb, table, TBL_TTL_ATTR, &res, eb);

	if (rc != RC_OK) {
		eb_prefix(eb, "enable ttl on table %s", table);
		return rc;
	}
	if (res == DDB_UNSUPPORTED)
		ctl_line(&p->x, "skipped ttl %s: not supported by this endpoint", table);
	else
		ctl_line(&p->x, "%s ttl %s." TBL_TTL_ATTR, res == DDB_ALREADY ? "exists" : "created",
			 table);
	return RC_OK;
}

/* The table (created, or found), waited for until it and its GSIs are ACTIVE, then its PITR
 * (appointments) or TTL (side tables). */
static enum rc prov_table(struct prov *p, const char *table, bool appointments,
			  struct errbuf *eb)
{
	struct ddb_table_spec spec;
	enum rc rc;
	bool created;

	if (appointments)
		tbl_appointments_spec(table, &spec);
	else
		tbl_side_spec(table, &spec);
	rc = ddb_create_table(p->cl.ddb, &spec, eb);
	if (rc != RC_OK && rc != RC_CONFLICT) {
		eb_prefix(eb, "create table %s", table);
		return rc;
	}
	created = rc == RC_OK;
	/* a new table is CREATING for a while; PITR, TTL and the daemons need it ACTIVE */
	rc = ddb_wait_active(p->cl.ddb, table, CTL_TABLE_WAIT_MS, NULL, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "wait for table %s", table);
		return rc;
	}
	ctl_line(&p->x, "%s table %s", created ? "created" : "exists", table);
	return appointments ? prov_pitr(p, table, eb) : prov_ttl(p, table, eb);
}

/* ---- SQS ---- */

static enum rc aws_fail(const struct aws_error *err, struct errbuf *eb, const char *what,
			const char *name)
{
	enum rc rc = aws_error_to_eb(err, eb);

	eb_prefix(eb, "%s %s", what, name);
	return rc;
}

/* The maxReceiveCount of a RedrivePolicy as read back (a number, or a string on some
 * endpoints), -1 when absent or unreadable. */
static long redrive_count(struct json_object *rp)
{
	struct json_object *v = NULL;
	int64_t n;

	if (!json_object_object_get_ex(rp, "maxReceiveCount", &v))
		return -1;
	if (json_object_is_type(v, json_type_string)) {
		char *end = NULL;
		long l;

		errno = 0;
		l = strtol(json_object_get_string(v), &end, 10);
		return errno == 0 && end != NULL && *end == '\0' ? l : -1;
	}
	return jx_value_int64(v, &n) == JX_NUM_INT ? (long)n : -1;
}

/* Whether the RedrivePolicy text found on a queue says what we want. */
static bool redrive_matches(const char *have, const char *dlq_arn, long max_receive)
{
	struct json_object *o = NULL;
	const char *arn = NULL;
	bool same = false;

	if (have == NULL || jx_parse(have, strlen(have), POLICY_MAX, 8, &o, NULL) != RC_OK)
		return false;
	same = jx_get_str(o, "deadLetterTargetArn", &arn, NULL, NULL) == RC_OK &&
	       strcmp(arn, dlq_arn) == 0 && redrive_count(o) == max_receive;
	json_object_put(o);
	return same;
}

/* Makes the queue exist with SPEC §4's settings: created with them, or, when it exists, read
 * back and corrected (only what differs is set, and the line says what). dlq_arn is NULL for
 * a DLQ itself. url and arn receive the queue's. */
static enum rc prov_queue(struct prov *p, const char *kind, const char *name,
			  const char *dlq_arn, char url[SQS_URL_MAX], char arn[SQS_ARN_MAX],
			  struct errbuf *eb)
{
	char vis[16], ret[16], wait[16], redrive[SQS_ARN_MAX + 96];
	struct sqs_kv want[4], fix[4];
	struct sqs_attrs have = {0};
	struct aws_error err;
	char changed[128] = "";
	size_t nwant = 0, nfix = 0;
	enum rc rc;

	snprintf(vis, sizeof(vis), "%d", p->x.cfg->visibility_timeout);
	snprintf(ret, sizeof(ret), "%d", CTL_RETENTION_SECONDS);
	snprintf(wait, sizeof(wait), "%d", CTL_RECEIVE_WAIT_SECONDS);
	want[nwant++] = (struct sqs_kv){"VisibilityTimeout", vis};
	want[nwant++] = (struct sqs_kv){"MessageRetentionPeriod", ret};
	want[nwant++] = (struct sqs_kv){"ReceiveMessageWaitTimeSeconds", wait};
	if (dlq_arn != NULL) {
		/* the ARN comes from SQS itself: no character in it needs JSON escaping */
		snprintf(redrive, sizeof(redrive),
			 "{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%d}", dlq_arn,
			 p->x.cfg->max_receive_count);
		want[nwant++] = (struct sqs_kv){"RedrivePolicy", redrive};
	}

	rc = sqs_get_queue_url(p->cl.sqs, name, url, &err);
	if (rc == RC_NOTFOUND) {
		rc = sqs_create_queue(p->cl.sqs, name, want, nwant, url, &err);
		if (rc != RC_OK)
			return aws_fail(&err, eb, "create queue", name);
		ctl_line(&p->x, "created %s %s", kind, name);
		goto arn;
	}
	if (rc != RC_OK)
		return aws_fail(&err, eb, "look up queue", name);

	rc = sqs_get_queue_attributes(p->cl.sqs, url, NULL, 0, &have, &err);
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "read attributes of queue", name);
		goto out;
	}
	for (size_t i = 0; i < nwant; i++) {
		const char *v = sqs_attrs_get(&have, want[i].name);
		bool same = strcmp(want[i].name, "RedrivePolicy") == 0
				    ? redrive_matches(v, dlq_arn, p->x.cfg->max_receive_count)
				    : v != NULL && strcmp(v, want[i].value) == 0;

		if (!same) {
			fix[nfix++] = want[i];
			snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed), "%s%s",
				 nfix > 1 ? ", " : "", want[i].name);
		}
	}
	if (nfix == 0) {
		ctl_line(&p->x, "exists %s %s", kind, name);
	} else {
		rc = sqs_set_queue_attributes(p->cl.sqs, url, fix, nfix, &err);
		if (rc != RC_OK) {
			rc = aws_fail(&err, eb, "set attributes of queue", name);
			goto out;
		}
		ctl_line(&p->x, "updated %s %s (%s)", kind, name, changed);
	}
arn:
	rc = sqs_get_queue_arn(p->cl.sqs, url, arn, &err);
	if (rc != RC_OK)
		rc = aws_fail(&err, eb, "read the ARN of queue", name);
out:
	sqs_attrs_cleanup(&have);
	return rc;
}

/* The queue policy of SPEC §4: only `service` (sns / events) may send, and only on behalf of
 * the given source ARNs (the topic, or the bus's rules). */
static enum rc policy_build(const char *queue_arn, const char *service,
			    const char *const *sources, size_t n, struct json_object **out)
{
	struct json_object *arns = json_object_new_array();
	struct json_object *st = NULL;
	struct json_object *stmts = json_object_new_array();
	enum rc rc = arns != NULL && stmts != NULL ? RC_OK : RC_NOMEM;
	char principal[64];

	*out = NULL;
	snprintf(principal, sizeof(principal), "%s.amazonaws.com", service);
	for (size_t i = 0; rc == RC_OK && i < n; i++)
		rc = jx_append_str(arns, sources[i]);
	if (rc == RC_OK) {
		const struct jx_member prin[] = {{.key = "Service", .type = JX_STR, .s = principal}};
		const struct jx_member eq[] = {{.key = "aws:SourceArn", .type = JX_VAL, .v = arns}};
		const struct jx_member cond[] = {
			{.key = "ArnEquals", .type = JX_OBJ, .sub = eq, .nsub = JX_COUNT(eq)},
		};
		const struct jx_member m[] = {
			{.key = "Sid", .type = JX_STR, .s = service},
			{.key = "Effect", .type = JX_STR, .s = "Allow"},
			{.key = "Principal", .type = JX_OBJ, .sub = prin, .nsub = JX_COUNT(prin)},
			{.key = "Action", .type = JX_STR, .s = "sqs:SendMessage"},
			{.key = "Resource", .type = JX_STR, .s = queue_arn},
			{.key = "Condition", .type = JX_OBJ, .sub = cond, .nsub = JX_COUNT(cond)},
		};

		rc = jx_build(m, JX_COUNT(m), &st);
	}
	if (rc == RC_OK)
		rc = jx_append(stmts, st);
	if (rc == RC_OK) {
		const struct jx_member pol[] = {
			{.key = "Version", .type = JX_STR, .s = "2012-10-17"},
			{.key = "Statement", .type = JX_VAL, .v = stmts},
		};

		rc = jx_build(pol, JX_COUNT(pol), out);
	}
	json_object_put(arns);
	json_object_put(stmts);
	return rc;
}

static enum rc prov_queue_policy(struct prov *p, const char *name, const char *url,
				 const char *arn, const char *service, const char *const *sources,
				 size_t n, struct errbuf *eb)
{
	static const char *const names[] = {"Policy"};
	struct json_object *want = NULL, *have_o = NULL;
	struct sqs_attrs have = {0};
	struct aws_error err;
	struct sqs_kv kv;
	const char *have_s;
	char *text = NULL;
	enum rc rc = policy_build(arn, service, sources, n, &want);

	if (rc != RC_OK || jx_to_text(want, &text) != RC_OK) {
		rc = eb_set(eb, RC_NOMEM, "queue policy of %s: out of memory", name);
		goto out;
	}
	rc = sqs_get_queue_attributes(p->cl.sqs, url, names, 1, &have, &err);
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "read the policy of queue", name);
		goto out;
	}
	have_s = sqs_attrs_get(&have, "Policy");
	/* compared as JSON: an endpoint may hand the text back reformatted */
	if (have_s != NULL && have_s[0] != '\0' &&
	    jx_parse(have_s, strlen(have_s), POLICY_MAX, 16, &have_o, NULL) == RC_OK &&
	    json_object_equal(have_o, want)) {
		ctl_line(&p->x, "exists queue-policy %s", name);
		goto out;
	}
	kv = (struct sqs_kv){"Policy", text};
	rc = sqs_set_queue_attributes(p->cl.sqs, url, &kv, 1, &err);
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "set the policy of queue", name);
		goto out;
	}
	ctl_line(&p->x, "%s queue-policy %s", have_s != NULL && have_s[0] != '\0' ? "updated" :
		 "created", name);
out:
	sqs_attrs_cleanup(&have);
	json_object_put(have_o);
	json_object_put(want);
	free(text);
	return rc;
}

/* ---- SNS ---- */

/* The topic: found by GetTopicAttributes on the ARN it would have (the account and region
 * are the queue's, which holds on AWS and on moto), else created. CreateTopic is idempotent,
 * so a wrong guess of the ARN costs only a "created" where "exists" was true. */
static enum rc prov_topic(struct prov *p, const struct conf_country *cc, struct prov_country *pc,
			  struct errbuf *eb)
{
	struct sns_attrs attrs = {0};
	struct aws_error err;
	char guess[SNS_ARN_MAX];
	enum rc rc;
	int w;

	if (p->sns_prefix[0] == '\0' &&
	    !ctl_arn_prefix(pc->queue_arn, "sns", p->sns_prefix, sizeof(p->sns_prefix)))
		p->sns_prefix[0] = '\0';
	if (p->sns_prefix[0] != '\0') {
		w = snprintf(guess, sizeof(guess), "%s%s", p->sns_prefix, cc->topic_name);
		if (w > 0 && (size_t)w < sizeof(guess) &&
		    sns_get_topic_attributes(p->cl.sns, guess, &attrs, &err) == RC_OK) {
			sns_attrs_cleanup(&attrs);
			snprintf(pc->topic_arn, sizeof(pc->topic_arn), "%s", guess);
			ctl_line(&p->x, "exists topic %s", cc->topic_name);
			return RC_OK;
		}
		sns_attrs_cleanup(&attrs);
	}
	rc = sns_create_topic(p->cl.sns, cc->topic_name, NULL, 0, pc->topic_arn, &err);
	if (rc != RC_OK)
		return aws_fail(&err, eb, "create topic", cc->topic_name);
	/* learn the real account for the next topics if the guess was off */
	if (!ctl_arn_prefix(pc->topic_arn, "sns", p->sns_prefix, sizeof(p->sns_prefix)))
		p->sns_prefix[0] = '\0';
	ctl_line(&p->x, "created topic %s", cc->topic_name);
	return RC_OK;
}

/* The topic -> queue subscription, raw delivery off (SPEC §4: the worker unwraps the SNS
 * envelope). Looked up first: AWS answers Subscribe idempotently, emulators may not. */
static enum rc prov_subscription(struct prov *p, const struct conf_country *cc,
				 const struct prov_country *pc, struct errbuf *eb)
{
	static const struct sns_kv raw_off[] = {{"RawMessageDelivery", "false"}};
	struct sns_subscriptions subs = {0};
	struct aws_error err;
	char sub_arn[SNS_ARN_MAX];
	enum rc rc = sns_list_subscriptions_by_topic(p->cl.sns, pc->topic_arn, &subs, &err);

	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "list the subscriptions of topic", cc->topic_name);
		goto out;
	}
	for (size_t i = 0; i < subs.n; i++) {
		if (strcmp(subs.v[i].protocol, "sqs") == 0 &&
		    strcmp(subs.v[i].endpoint, pc->queue_arn) == 0) {
			ctl_line(&p->x, "exists subscription %s (topic %s)", cc->queue_name,
				 cc->topic_name);
			goto out;
		}
	}
	rc = sns_subscribe(p->cl.sns, pc->topic_arn, "sqs", pc->queue_arn, raw_off, 1, sub_arn, &err);
	if (rc != RC_OK) {
		rc = aws_fail(&err, eb, "subscribe queue", cc->queue_name);
		eb_prefix(eb, "topic %s", cc->topic_name);
		goto out;
	}
	ctl_line(&p->x, "created subscription %s (topic %s)", cc->queue_name, cc->topic_name);
out:
	sns_subscriptions_cleanup(&subs);
	return rc;
}

/* ---- EventBridge ---- */

static enum rc prov_bus(struct prov *p, struct errbuf *eb)
{
	const char *bus = p->x.cfg->event_bus_name;
	enum rc rc = evb_describe_bus(p->cl.evb, bus, p->bus_arn, eb);

	if (rc == RC_OK) {
		ctl_line(&p->x, "exists bus %s", bus);
		return RC_OK;
	}
	if (rc == RC_NOTFOUND)
		rc = evb_create_bus(p->cl.evb, bus, p->bus_arn, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "create bus %s", bus);
		return rc;
	}
	ctl_line(&p->x, "created bus %s", bus);
	return RC_OK;
}

/* What evb_list_rules found about one rule name. */
struct rule_probe {
	const char *name;          /* the rule looked for */
	bool found;                /* a rule of exactly that name exists */
	bool same;                 /* ... with an equal pattern */
	struct json_object *want;  /* the pattern wanted (borrowed) */
	char arn[EVB_ARN_MAX];     /* its ARN when found */
};

static enum rc rule_seen(void *ctx, const struct evb_rule_info *r, struct errbuf *eb)
{
	struct rule_probe *rp = ctx;
	struct json_object *have = NULL;

	(void)eb;
	if (strcmp(r->name, rp->name) != 0)
		return RC_OK;
	rp->found = true;
	snprintf(rp->arn, sizeof(rp->arn), "%s", r->arn);
	if (jx_parse(r->pattern, strlen(r->pattern), EVB_PATTERN_MAX, 16, &have, NULL) == RC_OK)
		rp->same = json_object_equal(have, rp->want) != 0;
	json_object_put(have);
	return RC_OK;
}

/* The rule `name` on the stage's bus with pattern; arn receives its ARN. */
static enum rc prov_rule(struct prov *p, const char *name, const char *pattern,
			 char arn[EVB_ARN_MAX], struct errbuf *eb)
{
	const char *bus = p->x.cfg->event_bus_name;
	struct rule_probe rp = {.name = name};
	struct evb_rule rule = {name, bus, pattern, NULL, false};
	enum rc rc = jx_parse(pattern, strlen(pattern), EVB_PATTERN_MAX, 16, &rp.want, eb);

	if (rc != RC_OK) {
		eb_prefix(eb, "rule %s: pattern", name);
		goto out;
	}
	rc = evb_list_rules(p->cl.evb, bus, name, rule_seen, &rp, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "look up rule %s", name);
		goto out;
	}
	if (rp.found && rp.same && rp.arn[0] != '\0') {
		snprintf(arn, EVB_ARN_MAX, "%s", rp.arn);
		ctl_line(&p->x, "exists rule %s", name);
		goto out;
	}
	rc = evb_put_rule(p->cl.evb, &rule, arn, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "put rule %s", name);
		goto out;
	}
	ctl_line(&p->x, "%s rule %s", rp.found ? "updated" : "created", name);
out:
	json_object_put(rp.want);
	return rc;
}

/* What evb_list_targets found about one target id. */
struct target_probe {
	const char *id;         /* the target id looked for */
	const char *arn;        /* the ARN it should point at */
	bool found;             /* the rule has a target with that id */
	bool same;              /* ... pointing at arn */
	char have[EVB_ARN_MAX]; /* ... the ARN it points at */
};

static enum rc target_seen(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct target_probe *tp = ctx;

	(void)eb;
	if (strcmp(id, tp->id) == 0) {
		tp->found = true;
		tp->same = strcmp(arn, tp->arn) == 0;
		snprintf(tp->have, sizeof(tp->have), "%s", arn);
	}
	return RC_OK;
}

/* The rule's target id -> our queue. A target of that id pointing elsewhere is set back, unless
 * it delivers to another stage's queue: rule names carry no stage, so two stages configured on
 * one bus meet here, and re-pointing would take the other stage's events. That is refused. */
static enum rc prov_target(struct prov *p, const char *rule, const char *id,
			   const char *queue_arn, const char *queue_name, struct errbuf *eb)
{
	const char *bus = p->x.cfg->event_bus_name;
	struct target_probe tp = {.id = id, .arn = queue_arn};
	struct evb_target t = {id, queue_arn};
	enum ctl_owner owner = CTL_OWNER_NOBODY;
	char our_prefix[SQS_ARN_MAX];
	struct aws_error err;
	enum rc rc = evb_list_targets(p->cl.evb, rule, bus, target_seen, &tp, eb);

	if (rc != RC_OK) {
		eb_prefix(eb, "list the targets of rule %s", rule);
		return rc;
	}
	if (tp.same) {
		ctl_line(&p->x, "exists target %s/%s (queue %s)", rule, id, queue_name);
		return RC_OK;
	}
	if (tp.found) {
		if (!ctl_arn_prefix(queue_arn, "sqs", our_prefix, sizeof(our_prefix)))
			our_prefix[0] = '\0';
		rc = ctl_target_owner(p->cl.sqs, tp.have, queue_name, our_prefix, &owner, &err);
		if (rc != RC_OK) {
			rc = aws_error_to_eb(&err, eb);
			eb_prefix(eb, "put target %s/%s: look up %s", rule, id, tp.have);
			return rc;
		}
	}
	if (owner == CTL_OWNER_OTHER)
		return eb_set(eb, RC_CONFLICT, "put target %s/%s: it delivers to %s, a queue of "
			      "another stage, and re-pointing it would take that stage's events: "
			      "give each stage its own bus ([aws] event_bus_name; both use %s)",
			      rule, id, tp.have, bus);
	rc = evb_put_targets(p->cl.evb, rule, bus, &t, 1, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "put target %s/%s", rule, id);
		return rc;
	}
	ctl_line(&p->x, "%s target %s/%s (queue %s)", tp.found ? "updated" : "created", rule, id,
		 queue_name);
	return RC_OK;
}

/* ---- SSM ---- */

static enum rc prov_password(struct prov *p, struct errbuf *eb)
{
	const char *name = p->x.cfg->ssm_password_parameter;
	char *have = calloc(1, SSM_VALUE_MAX + 1);
	size_t len = 0;
	bool existed;
	enum rc rc;

	if (have == NULL)
		return eb_set(eb, RC_NOMEM, "ssm-parameter %s: out of memory", name);
	rc = ssm_get_parameter(p->cl.ssm, name, true, have, SSM_VALUE_MAX + 1, &len, eb);
	if (rc != RC_OK && rc != RC_NOTFOUND) {
		eb_prefix(eb, "read ssm-parameter %s", name);
		goto out;
	}
	if (p->password == NULL) {
		if (rc == RC_OK)
			ctl_line(&p->x, "exists ssm-parameter %s (left as it is: no password given)",
				 name);
		else
			ctl_line(&p->x, "skipped ssm-parameter %s: no password given "
				 "(--password-from-env or the rds-password credential)", name);
		rc = RC_OK;
		goto out;
	}
	existed = rc == RC_OK;
	if (existed && strcmp(have, p->password) == 0) {
		ctl_line(&p->x, "exists ssm-parameter %s", name);
		goto out;
	}
	rc = ssm_put_parameter(p->cl.ssm, name, p->password, SSM_SECURE_STRING, true, NULL, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "put ssm-parameter %s", name);
		goto out;
	}
	ctl_line(&p->x, "%s ssm-parameter %s", existed ? "updated" : "created", name);
out:
	explicit_bzero(have, SSM_VALUE_MAX + 1);
	free(have);
	return rc;
}

/* The password to store, per the options: RDS_PASSWORD with --password-from-env, else the
 * systemd credential rds-password when there is one. Never printed. */
static int take_password(struct prov *p)
{
	struct errbuf eb = {{0}};
	enum secret_source src;
	char *pw = NULL;
	enum rc rc;

	if (p->password_from_env) {
		const char *v = getenv("RDS_PASSWORD");

		if (v == NULL || v[0] == '\0')
			return ctl_die(CTL_EXIT_USAGE, "--password-from-env: RDS_PASSWORD is not set");
		if (strlen(v) > SECRET_MAX)
			return ctl_die(CTL_EXIT_USAGE, "--password-from-env: RDS_PASSWORD is longer "
				       "than %d bytes", SECRET_MAX);
		p->password = strdup(v);
		return p->password != NULL ? CTL_EXIT_OK : ctl_die(CTL_EXIT_FAILURE, "out of memory");
	}
	/* secret.c reads (and bounds) the credential file; RDS_PASSWORD is used here only
	 * when asked for, so a password meant for migrate is not pushed to SSM by surprise */
	rc = secret_rds_password(p->x.cfg, NULL, &pw, &src, &eb);
	if (rc == RC_OK && src == SECRET_CREDENTIAL)
		p->password = pw;
	else
		secret_free(pw);
	if (rc != RC_OK && rc != RC_NOTFOUND)
		return ctl_fail(&eb);
	return CTL_EXIT_OK;
}

/* ---- The environment block ---- */

/* One NAME=value line for the daemons. */
struct env_line {
	char name[64];   /* e.g. APPOINTMENTS_PE_QUEUE_URL */
	const char *val; /* borrowed */
	unsigned group;  /* the group that makes what it names: printed only when that ran */
};

/* Values go into files that systemd's EnvironmentFile= and `. FILE` both read, unquoted; ARNs,
 * URLs and names never hold a character either would treat specially, so refuse one that does
 * rather than quote it. */
static bool env_value_ok(const char *v)
{
	for (const char *c = v; *c != '\0'; c++)
		if (*c <= ' ' || *c > '~' || strchr("\"'\\$`;&|<>()#*?[]{}!", *c) != NULL)
			return false;
	return v[0] != '\0';
}

/* Every line of the block, each with its group; print_env keeps those of the run's groups. */
static size_t env_lines(const struct prov *p, struct env_line *l)
{
	const struct conf *c = p->x.cfg;
	size_t n = 0;

	l[n++] = (struct env_line){"APPOINTMENTS_TABLE_NAME", c->table_name, PROV_TABLES};
	l[n++] = (struct env_line){"EVENTBRIDGE_BUS_NAME", c->event_bus_name, PROV_EVENTS};
	for (size_t i = 0; i < c->n_countries; i++) {
		const char *cc = c->countries[i].code;
		const char *const what[] = {"TOPIC_ARN", "QUEUE_URL", "DLQ_URL"};
		const char *const val[] = {p->cc[i].topic_arn, p->cc[i].queue_url,
					   p->cc[i].dlq_url};

		for (size_t k = 0; k < 3; k++) {
			snprintf(l[n].name, sizeof(l[n].name), "APPOINTMENTS_%s_%s", cc, what[k]);
			l[n].val = val[k];
			l[n++].group = PROV_COUNTRIES;
		}
	}
	l[n++] = (struct env_line){"APPOINTMENTS_COMPLETION_QUEUE_URL", p->completion.url,
				   PROV_EVENTS};
	l[n++] = (struct env_line){"APPOINTMENTS_ERROR_QUEUE_URL", p->error.url, PROV_EVENTS};
	return n;
}

/* Writes the lines to path through a temporary file renamed into place, mode 0600 from the
 * start (the values are not secret, but the file sits next to ones that are). */
static enum rc write_env_file(const char *path, const char *stage, const struct env_line *l,
			      size_t n, struct errbuf *eb)
{
	char tmp[ENV_PATH_MAX + 8];
	FILE *f = NULL;
	int fd = -1;
	enum rc rc = RC_IO;
	int w = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (strlen(path) >= ENV_PATH_MAX || w < 0 || (size_t)w >= sizeof(tmp))
		return eb_set(eb, RC_INVAL, "--env-file: path longer than %d bytes", ENV_PATH_MAX - 1);
	(void)unlink(tmp); /* a leftover from a crash may have other permissions */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		eb_set(eb, RC_IO, "write env file %s: %s", tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		eb_set(eb, RC_IO, "write env file %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	fprintf(f, "# written by " CTL_NAME " provision for stage %s\n", stage);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s=%s\n", l[i].name, l[i].val);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		eb_set(eb, RC_IO, "write env file %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		eb_set(eb, RC_IO, "write env file %s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		eb_set(eb, RC_IO, "write env file %s: %s", path, strerror(errno));
		goto out;
	}
	rc = RC_OK;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != RC_OK)
		(void)unlink(tmp);
	return rc;
}

/* The block of what this run made (--env-file is refused unless that is the whole of it);
 * nothing when none of its groups names a value (--only password). */
static enum rc print_env(struct prov *p, struct errbuf *eb)
{
	struct env_line all[ENV_LINES_MAX], l[ENV_LINES_MAX];
	size_t nall = env_lines(p, all), n = 0;

	for (size_t i = 0; i < nall; i++)
		if ((all[i].group & p->groups) != 0)
			l[n++] = all[i];
	if (n == 0)
		return RC_OK;
	for (size_t i = 0; i < n; i++)
		if (!env_value_ok(l[i].val))
			return eb_set(eb, RC_INVAL, "%s: value \"%.200s\" is not safe for an "
				      "environment file", l[i].name, l[i].val);
	fprintf(p->x.out, "# environment for the daemons of stage %s\n", p->x.cfg->stage);
	for (size_t i = 0; i < n; i++)
		fprintf(p->x.out, "%s=%s\n", l[i].name, l[i].val);
	fflush(p->x.out);
	if (p->env_file != NULL)
		return write_env_file(p->env_file, p->x.cfg->stage, l, n, eb);
	return RC_OK;
}

/* ---- The run ---- */

/* The four tables, each with its PITR (appointments) or TTL line. */
static enum rc prov_tables(struct prov *p, struct errbuf *eb)
{
	const struct conf *c = p->x.cfg;
	enum rc rc = prov_table(p, c->table_name, true, eb);

	if (rc == RC_OK)
		rc = prov_table(p, c->idempotency_table, false, eb);
	if (rc == RC_OK)
		rc = prov_table(p, c->quota_table, false, eb);
	if (rc == RC_OK)
		rc = prov_table(p, c->counters_table, false, eb);
	return rc;
}

/* The queues EventBridge delivers to, each after its DLQ: the queue's RedrivePolicy names the
 * DLQ's ARN. */
static enum rc prov_event_queues(struct prov *p, struct errbuf *eb)
{
	const struct conf *c = p->x.cfg;
	enum rc rc = prov_queue(p, "dlq", c->completion_dlq_name, NULL, p->completion.dlq_url,
				p->completion.dlq_arn, eb);

	if (rc == RC_OK)
		rc = prov_queue(p, "queue", c->completion_queue_name, p->completion.dlq_arn,
				p->completion.url, p->completion.arn, eb);
	if (rc == RC_OK)
		rc = prov_queue(p, "dlq", c->error_dlq_name, NULL, p->error.dlq_url,
				p->error.dlq_arn, eb);
	if (rc == RC_OK)
		rc = prov_queue(p, "queue", c->error_queue_name, p->error.dlq_arn, p->error.url,
				p->error.arn, eb);
	return rc;
}

/* Per country: DLQ, queue, topic, the queue's policy, the subscription. */
static enum rc prov_countries(struct prov *p, struct errbuf *eb)
{
	const struct conf *c = p->x.cfg;
	enum rc rc = RC_OK;

	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		const struct conf_country *cc = &c->countries[i];
		struct prov_country *pc = &p->cc[i];

		rc = prov_queue(p, "dlq", cc->dlq_name, NULL, pc->dlq_url, pc->dlq_arn, eb);
		if (rc == RC_OK)
			rc = prov_queue(p, "queue", cc->queue_name, pc->dlq_arn, pc->queue_url,
					pc->queue_arn, eb);
		if (rc == RC_OK)
			rc = prov_topic(p, cc, pc, eb);
		/* the policy before the subscription, so no delivery is ever refused */
		if (rc == RC_OK) {
			const char *topic = pc->topic_arn;

			rc = prov_queue_policy(p, cc->queue_name, pc->queue_url, pc->queue_arn, "sns",
					       &topic, 1, eb);
		}
		if (rc == RC_OK)
			rc = prov_subscription(p, cc, pc, eb);
	}
	return rc;
}

/* The bus, its rules (one per country, then the error rule), the policies of the queues they
 * deliver to (prov_event_queues made those), then the targets. */
static enum rc prov_eventbridge(struct prov *p, struct errbuf *eb)
{
	const struct conf *c = p->x.cfg;
	const char *sources[CONF_MAX_COUNTRIES];
	char pattern[256], rule[CTL_RULE_NAME_MAX + 1];
	enum rc rc = prov_bus(p, eb);

	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		snprintf(rule, sizeof(rule), CTL_RULE_PROCESSED_PREFIX "%s", c->countries[i].lower);
		snprintf(pattern, sizeof(pattern),
			 "{\"source\":[\"medical.appointment.%s\"],"
			 "\"detail-type\":[\"Appointment Processed\"]}", c->countries[i].lower);
		rc = prov_rule(p, rule, pattern, p->cc[i].rule_arn, eb);
		sources[i] = p->cc[i].rule_arn;
	}
	if (rc == RC_OK)
		rc = prov_rule(p, CTL_RULE_ERROR,
			       "{\"source\":[\"medical.appointment\"],"
			       "\"detail-type\":[\"Processing Error\"]}",
			       p->error_rule_arn, eb);
	/* policies before targets: a rule's first event must not meet a closed queue */
	if (rc == RC_OK)
		rc = prov_queue_policy(p, c->completion_queue_name, p->completion.url,
				       p->completion.arn, "events", sources, c->n_countries, eb);
	if (rc == RC_OK) {
		const char *src = p->error_rule_arn;

		rc = prov_queue_policy(p, c->error_queue_name, p->error.url, p->error.arn, "events",
				       &src, 1, eb);
	}
	for (size_t i = 0; rc == RC_OK && i < c->n_countries; i++) {
		snprintf(rule, sizeof(rule), CTL_RULE_PROCESSED_PREFIX "%s", c->countries[i].lower);
		rc = prov_target(p, rule, CTL_TARGET_COMPLETION, p->completion.arn,
				 c->completion_queue_name, eb);
	}
	if (rc == RC_OK)
		rc = prov_target(p, CTL_RULE_ERROR, CTL_TARGET_ERROR, p->error.arn,
				 c->error_queue_name, eb);
	return rc;
}

/* One step of the run: the group of --only it belongs to, and the progress lines it prints
 * (each resource one line), for the counter. */
struct prov_step {
	enum prov_group group;
	enum rc (*run)(struct prov *p, struct errbuf *eb);
	int lines;       /* lines it prints ... */
	int per_country; /* ... plus this many per country */
};

/* The run, in dependency order: a step needs only what an earlier step of its own group
 * made, so any set of groups can run alone. The events group is two steps, around the
 * countries, so a full run prints its lines in the order it always has. */
static const struct prov_step prov_steps[] = {
	{PROV_TABLES, prov_tables, 8, 0},       /* 4 tables, each with PITR or TTL */
	{PROV_EVENTS, prov_event_queues, 4, 0}, /* completion and error, each with its DLQ */
	{PROV_COUNTRIES, prov_countries, 0, 5}, /* DLQ, queue, topic, policy, subscription */
	{PROV_EVENTS, prov_eventbridge, 5, 2},  /* bus, error rule, 2 policies, error target;
						 * per country a rule and a target */
	{PROV_PASSWORD, prov_password, 1, 0},   /* the SSM parameter */
};
#define PROV_STEPS (sizeof(prov_steps) / sizeof(prov_steps[0]))

static enum rc prov_run(struct prov *p, struct errbuf *eb)
{
	enum rc rc = RC_OK;

	/* every line a step prints is one step of the counter */
	p->x.steps = 0;
	for (size_t i = 0; i < PROV_STEPS; i++)
		if ((prov_steps[i].group & p->groups) != 0)
			p->x.steps += prov_steps[i].lines +
				      prov_steps[i].per_country * (int)p->x.cfg->n_countries;
	for (size_t i = 0; rc == RC_OK && i < PROV_STEPS; i++)
		if ((prov_steps[i].group & p->groups) != 0)
			rc = prov_steps[i].run(p, eb);
	if (rc == RC_OK)
		rc = print_env(p, eb);
	return rc;
}

static void prov_usage(FILE *f)
{
	fprintf(f, "usage: " CTL_NAME " [--config PATH] provision [--only LIST] "
		   "[--password-from-env] [--env-file PATH]\n"
		   "  --only LIST  make only these groups (comma-separated; default all): "
		   PROV_GROUP_NAMES "\n");
}

int ctl_cmd_provision(const char *config_path, int argc, char **argv)
{
	struct prov *p = calloc(1, sizeof(*p));
	struct errbuf eb = {{0}};
	int code = CTL_EXIT_OK;
	const char *v = NULL;
	unsigned only = 0; /* the groups of every --only, or 0 */
	int r;

	if (p == NULL)
		return ctl_die(CTL_EXIT_FAILURE, "out of memory");
	p->groups = PROV_ALL;
	for (int i = 1; i < argc; i++) {
		r = ctl_opt_value(argc, argv, &i, "--env-file", &v);
		if (r != 0) {
			if (r < 0 || v[0] == '\0') {
				code = ctl_die(CTL_EXIT_USAGE, "provision: --env-file needs a path");
				goto out;
			}
			p->env_file = v;
			continue;
		}
		r = ctl_opt_value(argc, argv, &i, "--only", &v);
		if (r != 0) {
			unsigned g = 0;

			if (r < 0)
				v = "";
			if (prov_group_parse(v, &g, &eb) != RC_OK) {
				code = ctl_die(CTL_EXIT_USAGE, "provision: %s", eb.msg);
				goto out;
			}
			/* a repeated --only adds its groups to the earlier ones */
			only |= g;
		} else if (strcmp(argv[i], "--password-from-env") == 0) {
			p->password_from_env = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			prov_usage(stdout);
			goto out;
		} else {
			code = ctl_die(CTL_EXIT_USAGE, "provision: unknown argument '%s' (try "
				       "provision --help)", argv[i]);
			goto out;
		}
	}
	if (only != 0)
		p->groups = only;
	/* an option for a group the run leaves out would silently do nothing */
	if (p->env_file != NULL && (p->groups & ENV_GROUPS) != ENV_GROUPS) {
		code = ctl_die(CTL_EXIT_USAGE, "provision: --env-file writes the whole environment "
			       "block, so --only must include tables, countries and events");
		goto out;
	}
	if (p->password_from_env && (p->groups & PROV_PASSWORD) == 0) {
		code = ctl_die(CTL_EXIT_USAGE, "provision: --password-from-env is for the password "
			       "group, which --only leaves out");
		goto out;
	}
	code = ctl_open(&p->x, config_path, true);
	if (code != CTL_EXIT_OK)
		goto out;
	if ((p->groups & PROV_PASSWORD) != 0)
		code = take_password(p);
	if (code != CTL_EXIT_OK)
		goto out;
	if (ctl_clients_open(&p->x, CTL_ALL_CLIENTS, &p->cl, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	if (prov_run(p, &eb) != RC_OK)
		code = ctl_fail(&eb);
out:
	ctl_clients_close(&p->cl);
	secret_free(p->password);
	ctl_close(&p->x);
	free(p);
	return code;
}
