/* probe.c — the read-only survey of a stage behind `info` and `check` (probe.h). Resources
 * are asked for in provision's order, so the account needed to name the topics is known from
 * a queue's ARN by the time the topics come. */
#include "probe.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/secret.h"
#include "base/clock.h"
#include "base/str.h"
#include "app/tables.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/ssm.h"
#include "pg/db.h"

/* One run's clients and what later steps need from earlier ones. */
struct run {
	struct probe *p;
	struct ctl_clients cl;        /* this thread only */
	char sns_prefix[SNS_ARN_MAX]; /* "arn:aws:sns:<region>:<account>:", "" while unknown */
	bool prefix_tried;            /* the default-bus fallback was tried */
	char completion_arn[SQS_ARN_MAX]; /* the rules' target queues, "" when unknown */
	char error_arn[SQS_ARN_MAX];
	char any_queue_arn[SQS_ARN_MAX];  /* the first queue ARN seen (its account) */
	const struct probe_item *bus;     /* the bus item, once probed */
};

const char *probe_state_name(enum probe_state s)
{
	switch (s) {
	case PROBE_EXISTS:
		return "exists";
	case PROBE_MISSING:
		return "missing";
	case PROBE_UNKNOWN:
		break;
	}
	return "unknown";
}

static struct probe_item *add_item(struct probe *p, const char *kind, const char *name,
				   enum aws_service svc)
{
	struct probe_item *it;

	/* PROBE_ITEMS_MAX covers every resource of CONF_MAX_COUNTRIES countries */
	if (p->n >= PROBE_ITEMS_MAX)
		abort();
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->svc = svc;
	it->state = PROBE_UNKNOWN;
	it->visible = it->in_flight = it->delayed = -1;
	return it;
}

/* False (and the item unknown) when the item's endpoint was asked before and never answered:
 * one unreachable endpoint costs one retry budget, not one per resource. */
static bool reachable(struct run *r, struct probe_item *it)
{
	const struct probe_endpoint *ep = &r->p->ep[it->svc];

	if (ep->asked && !ep->reached) {
		snprintf(it->detail, sizeof(it->detail), "not asked: the %s endpoint did not answer",
			 aws_service_name(it->svc));
		it->state = PROBE_UNKNOWN;
		return false;
	}
	return true;
}

/* Records the outcome of the call made for it: RC_OK exists, RC_NOTFOUND missing, anything
 * else unknown with the failure; err says whether an HTTP answer came at all. */
static void settle(struct run *r, struct probe_item *it, enum rc rc, const struct aws_error *err,
		   const char *msg)
{
	struct probe_endpoint *ep = &r->p->ep[it->svc];
	bool answered = rc == RC_OK || rc == RC_NOTFOUND || err == NULL || err->http_status != 0 ||
			err->attempts == 0;

	ep->asked = true;
	if (answered)
		ep->reached = true;
	else if (!ep->reached)
		snprintf(ep->detail, sizeof(ep->detail), "%s", msg);
	if (rc == RC_OK) {
		it->state = PROBE_EXISTS;
	} else if (rc == RC_NOTFOUND) {
		it->state = PROBE_MISSING;
	} else {
		it->state = PROBE_UNKNOWN;
		snprintf(it->detail, sizeof(it->detail), "%s", msg);
	}
}

/* The same for the modules that report through an errbuf (their last AWS error tells). */
static void settle_eb(struct run *r, struct probe_item *it, enum rc rc,
		      const struct aws_error *last, const struct errbuf *eb)
{
	settle(r, it, rc, last, eb->msg);
}

/* An item that depends on another that is not there: missing with it, else unknown. */
static void inherit(struct probe_item *it, const struct probe_item *parent)
{
	it->state = parent->state == PROBE_MISSING ? PROBE_MISSING : PROBE_UNKNOWN;
	snprintf(it->detail, sizeof(it->detail), "%s %s %s", parent->kind, parent->name,
		 probe_state_name(parent->state));
}

/* ---- DynamoDB ---- */

/* Items of status st: Select=COUNT on status-createdAt-index, every page ("status" is a
 * DynamoDB reserved word, hence #s). Reads no item. */
static enum rc count_status(struct ddb_client *ddb, const char *table, enum appt_status st,
			    int64_t *count, struct errbuf *eb)
{
	struct ddb_query_req req = {.table = table, .index = TBL_GSI_STATUS,
				    .key_condition = "#s = :st"};
	enum rc rc = RC_NOMEM;

	*count = 0;
	req.values = json_object_new_object();
	if (req.values != NULL)
		rc = ddb_name(&req.names, "#s", "status");
	if (rc == RC_OK)
		rc = ddb_put_s(req.values, ":st", appt_status_name(st));
	if (rc != RC_OK)
		rc = eb_set(eb, rc, "out of memory building the status count");
	else
		rc = ddb_query_count(ddb, &req, count, eb);
	json_object_put(req.values);
	json_object_put(req.names);
	return rc;
}

static void probe_table(struct run *r, const char *table, bool appointments)
{
	struct probe_item *it = add_item(r->p, "table", table, AWS_SVC_DYNAMODB);
	struct ddb_table_info info;
	struct errbuf eb = {{0}};
	enum rc rc;

	if (!reachable(r, it))
		return;
	rc = ddb_describe_table(r->cl.ddb, table, &info, &eb);
	settle_eb(r, it, rc, ddb_last_error(r->cl.ddb), &eb);
	if (rc == RC_OK) {
		if (appointments)
			snprintf(it->detail, sizeof(it->detail), "%s, %zu indexes%s", info.status,
				 info.n_gsis, info.gsis_active ? "" : " (not all active)");
		else
			snprintf(it->detail, sizeof(it->detail), "%s", info.status);
	}
	if (appointments && r->p->full) {
		if (rc != RC_OK) {
			snprintf(r->p->counts_detail, sizeof(r->p->counts_detail), "table %s %s", table,
				 probe_state_name(it->state));
			return;
		}
		for (int s = 0; s < APPT_STATUS_COUNT; s++) {
			rc = count_status(r->cl.ddb, table, (enum appt_status)s, &r->p->counts[s], &eb);
			if (rc != RC_OK) {
				str_cut(r->p->counts_detail, sizeof(r->p->counts_detail),
					"count %s: %s", appt_status_name((enum appt_status)s), eb.msg);
				return;
			}
		}
		r->p->counts_known = true;
	}
}

/* ---- SQS ---- */

/* Probes one queue; arn (may be NULL) gets its ARN when it exists. */
static void probe_queue(struct run *r, const struct ctl_queue *q, char arn[SQS_ARN_MAX])
{
	struct probe_item *it = add_item(r->p, q->kind, q->name, AWS_SVC_SQS);
	char url[SQS_URL_MAX], a[SQS_ARN_MAX] = "";
	struct aws_error err = {0};
	struct errbuf eb = {{0}};
	enum rc rc;

	snprintf(it->queue, sizeof(it->queue), "%s", q->label);
	if (!reachable(r, it))
		return;
	rc = ctl_queue_url(r->cl.sqs, q, url, &err);
	if (rc == RC_OK)
		rc = ctl_queue_depth(r->cl.sqs, url, &it->visible, &it->in_flight, &it->delayed, a, &err);
	if (rc != RC_OK && rc != RC_NOTFOUND)
		aws_error_to_eb(&err, &eb);
	settle(r, it, rc, &err, eb.msg);
	if (rc != RC_OK)
		return;
	snprintf(it->detail, sizeof(it->detail), "%lld visible, %lld in flight, %lld delayed",
		 it->visible, it->in_flight, it->delayed);
	if (arn != NULL)
		snprintf(arn, SQS_ARN_MAX, "%s", a);
	if (r->any_queue_arn[0] == '\0')
		snprintf(r->any_queue_arn, sizeof(r->any_queue_arn), "%s", a);
}

/* ---- SNS ---- */

/* "arn:aws:sns:<region>:<account>:" from a configured topic ARN, a queue's ARN, or the
 * account's default event bus; "" when none of them can tell. */
static const char *sns_prefix(struct run *r)
{
	const struct conf *c = r->p->x->cfg;
	struct probe_item probe_bus = {.svc = AWS_SVC_EVENTBRIDGE};
	struct errbuf eb = {{0}};
	char arn[EVB_ARN_MAX];

	if (r->sns_prefix[0] != '\0')
		return r->sns_prefix;
	for (size_t i = 0; i < c->n_countries; i++)
		if (c->countries[i].topic_arn[0] != '\0' &&
		    ctl_arn_prefix(c->countries[i].topic_arn, "sns", r->sns_prefix,
				   sizeof(r->sns_prefix)))
			return r->sns_prefix;
	if (r->any_queue_arn[0] != '\0' &&
	    ctl_arn_prefix(r->any_queue_arn, "sns", r->sns_prefix, sizeof(r->sns_prefix)))
		return r->sns_prefix;
	if (!r->prefix_tried && reachable(r, &probe_bus)) {
		enum rc rc = evb_describe_bus(r->cl.evb, "default", arn, &eb);

		r->prefix_tried = true;
		settle_eb(r, &probe_bus, rc, evb_last_error(r->cl.evb), &eb);
		if (rc == RC_OK && ctl_arn_prefix(arn, "sns", r->sns_prefix, sizeof(r->sns_prefix)))
			return r->sns_prefix;
	}
	r->sns_prefix[0] = '\0';
	return r->sns_prefix;
}

/* Probes the country's topic; arn gets the ARN used ("" when none could be built). */
static struct probe_item *probe_topic(struct run *r, const struct conf_country *cc,
				      char arn[SNS_ARN_MAX])
{
	struct probe_item *it = add_item(r->p, "topic", cc->topic_name, AWS_SVC_SNS);
	struct sns_attrs attrs = {0};
	struct aws_error err = {0};
	struct errbuf eb = {{0}};
	enum rc rc;
	int w;

	arn[0] = '\0';
	if (cc->topic_arn[0] != '\0')
		w = snprintf(arn, SNS_ARN_MAX, "%s", cc->topic_arn);
	else if (sns_prefix(r)[0] != '\0')
		w = snprintf(arn, SNS_ARN_MAX, "%s%s", r->sns_prefix, cc->topic_name);
	else
		w = -1;
	if (w < 0 || w >= SNS_ARN_MAX) {
		arn[0] = '\0';
		snprintf(it->detail, sizeof(it->detail), "its ARN is not known: no topic_arn set and "
			 "no queue of the stage or default bus tells the account");
		return it;
	}
	if (!reachable(r, it))
		return it;
	rc = sns_get_topic_attributes(r->cl.sns, arn, &attrs, &err);
	if (rc != RC_OK && rc != RC_NOTFOUND)
		aws_error_to_eb(&err, &eb);
	settle(r, it, rc, &err, eb.msg);
	if (rc == RC_OK)
		str_cut(it->detail, sizeof(it->detail), "%s", arn);
	sns_attrs_cleanup(&attrs);
	return it;
}

/* Whether a subscription endpoint is the queue: its ARN, or an ARN ending in ":<name>". */
static bool endpoint_is(const char *endpoint, const char *queue_arn, const char *name)
{
	size_t el = strlen(endpoint), nl = strlen(name);

	if (queue_arn[0] != '\0')
		return strcmp(endpoint, queue_arn) == 0;
	return el > nl && endpoint[el - nl - 1] == ':' && strcmp(endpoint + el - nl, name) == 0;
}

static void probe_subscription(struct run *r, const struct conf_country *cc,
			       const struct probe_item *topic, const char *topic_arn,
			       const char *queue_arn)
{
	struct probe_item *it = add_item(r->p, "subscription", cc->queue_name, AWS_SVC_SNS);
	struct sns_subscriptions subs = {0};
	struct aws_error err = {0};
	struct errbuf eb = {{0}};
	bool found = false;
	enum rc rc;

	if (topic->state != PROBE_EXISTS) {
		inherit(it, topic);
		return;
	}
	if (!reachable(r, it))
		return;
	rc = sns_list_subscriptions_by_topic(r->cl.sns, topic_arn, &subs, &err);
	if (rc != RC_OK)
		aws_error_to_eb(&err, &eb);
	for (size_t i = 0; rc == RC_OK && i < subs.n; i++)
		found = found || (strcmp(subs.v[i].protocol, "sqs") == 0 &&
				  endpoint_is(subs.v[i].endpoint, queue_arn, cc->queue_name));
	settle(r, it, rc == RC_OK && !found ? RC_NOTFOUND : rc, &err, eb.msg);
	if (it->state != PROBE_UNKNOWN)
		snprintf(it->detail, sizeof(it->detail), "topic %s", cc->topic_name);
	sns_subscriptions_cleanup(&subs);
}

/* ---- EventBridge ---- */

static void probe_bus(struct run *r)
{
	const char *bus = r->p->x->cfg->event_bus_name;
	struct probe_item *it = add_item(r->p, "bus", bus, AWS_SVC_EVENTBRIDGE);
	struct errbuf eb = {{0}};
	char arn[EVB_ARN_MAX];
	enum rc rc;

	r->bus = it;
	if (!reachable(r, it))
		return;
	rc = evb_describe_bus(r->cl.evb, bus, arn, &eb);
	settle_eb(r, it, rc, evb_last_error(r->cl.evb), &eb);
	if (rc == RC_OK)
		str_cut(it->detail, sizeof(it->detail), "%s", arn);
}

/* What ListRules / ListTargetsByRule found about one name. */
struct seek {
	const char *name;  /* rule name or target id looked for */
	bool found;        /* it is there */
	char arn[EVB_ARN_MAX]; /* a target's ARN */
};

static enum rc rule_seen(void *ctx, const struct evb_rule_info *rule, struct errbuf *eb)
{
	struct seek *s = ctx;

	(void)eb;
	if (strcmp(rule->name, s->name) == 0)
		s->found = true;
	return RC_OK;
}

static enum rc target_seen(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct seek *s = ctx;

	(void)eb;
	if (strcmp(id, s->name) == 0) {
		s->found = true;
		snprintf(s->arn, sizeof(s->arn), "%s", arn);
	}
	return RC_OK;
}

/* The rule and its target (to the queue queue_name, ARN queue_arn or ""). */
static void probe_rule(struct run *r, const char *rule, const char *target_id,
		       const char *queue_name, const char *queue_arn)
{
	const char *bus = r->p->x->cfg->event_bus_name;
	struct probe_item *ri = add_item(r->p, "rule", rule, AWS_SVC_EVENTBRIDGE);
	struct probe_item *ti;
	struct seek s = {.name = rule};
	struct errbuf eb = {{0}};
	char tname[PROBE_NAME_MAX];
	enum rc rc;

	if (r->bus->state != PROBE_EXISTS)
		inherit(ri, r->bus);
	else if (reachable(r, ri)) {
		rc = evb_list_rules(r->cl.evb, bus, rule, rule_seen, &s, &eb);
		settle_eb(r, ri, rc == RC_OK && !s.found ? RC_NOTFOUND : rc, evb_last_error(r->cl.evb),
			  &eb);
	}
	snprintf(tname, sizeof(tname), "%s/%s", rule, target_id);
	ti = add_item(r->p, "target", tname, AWS_SVC_EVENTBRIDGE);
	if (ri->state != PROBE_EXISTS) {
		inherit(ti, ri);
		return;
	}
	if (!reachable(r, ti))
		return;
	s = (struct seek){.name = target_id};
	rc = evb_list_targets(r->cl.evb, rule, bus, target_seen, &s, &eb);
	settle_eb(r, ti, rc == RC_OK && !s.found ? RC_NOTFOUND : rc, evb_last_error(r->cl.evb), &eb);
	if (ti->state != PROBE_EXISTS)
		return;
	if (queue_arn[0] != '\0' && strcmp(s.arn, queue_arn) != 0)
		str_cut(ti->detail, sizeof(ti->detail), "points at %s, not at queue %s", s.arn,
			queue_name);
	else
		snprintf(ti->detail, sizeof(ti->detail), "queue %s", queue_name);
}

/* ---- SSM, password, databases ---- */

static void probe_parameter(struct run *r)
{
	const char *name = r->p->x->cfg->ssm_password_parameter;
	struct probe_item *it = add_item(r->p, "ssm-parameter", name, AWS_SVC_SSM);
	struct errbuf eb = {{0}};
	char *buf = NULL;
	enum rc rc;

	if (!reachable(r, it))
		return;
	buf = calloc(1, SSM_VALUE_MAX + 1);
	if (buf == NULL) {
		snprintf(it->detail, sizeof(it->detail), "out of memory");
		return;
	}
	/* existence only: the value is not decrypted, and wiped anyway */
	rc = ssm_get_parameter(r->cl.ssm, name, false, buf, SSM_VALUE_MAX + 1, NULL, &eb);
	explicit_bzero(buf, SSM_VALUE_MAX + 1);
	free(buf);
	settle_eb(r, it, rc, ssm_last_error(r->cl.ssm), &eb);
}

static void probe_databases(struct probe *p)
{
	const struct conf *c = p->x->cfg;
	struct errbuf eb = {{0}};
	char *pw = NULL;

	p->password_ok = ctl_db_password(p->x, &pw, &p->password_source, &eb) == RC_OK;
	if (!p->password_ok)
		snprintf(p->password_detail, sizeof(p->password_detail), "%s", eb.msg);
	for (size_t i = 0; i < c->n_countries; i++) {
		const struct conf_country *cc = &c->countries[i];
		struct probe_db *d = &p->db[p->n_db++];
		struct db_options opt;
		struct db_target target;
		struct db_conn *conn = NULL;
		uint64_t t0;

		snprintf(d->country, sizeof(d->country), "%s", cc->code);
		snprintf(d->target, sizeof(d->target), "%s:%d/%s", cc->db_host, cc->db_port,
			 cc->db_name);
		if (!p->password_ok) {
			str_cut(d->detail, sizeof(d->detail), "not tried: no password (%s)",
				p->password_detail);
			continue;
		}
		db_options_init(&opt);
		opt.application_name = CTL_NAME;
		conf_db_target(c, cc, pw, &target);
		eb.msg[0] = '\0';
		if (db_conn_new(&target, &opt, &conn, &eb) != RC_OK) {
			snprintf(d->detail, sizeof(d->detail), "%s", eb.msg);
			continue;
		}
		snprintf(d->target, sizeof(d->target), "%s", db_describe(conn));
		t0 = clk_mono_us();
		d->ok = db_ping(conn, PROBE_DB_TIMEOUT_MS, &eb) == RC_OK;
		d->ms = (double)(clk_mono_us() - t0) / 1000.0;
		if (!d->ok)
			snprintf(d->detail, sizeof(d->detail), "%s", eb.msg);
		db_conn_free(conn);
	}
	secret_free(pw);
}

/* ---- The run ---- */

static void probe_all(struct run *r)
{
	const struct conf *c = r->p->x->cfg;
	char labels[CONF_MAX_COUNTRIES][2][16];
	char qarn[CONF_MAX_COUNTRIES][SQS_ARN_MAX];
	char rule[CTL_RULE_NAME_MAX + 1];
	struct ctl_queue src, dlq;

	probe_table(r, c->table_name, true);
	probe_table(r, c->idempotency_table, false);
	probe_table(r, c->quota_table, false);
	probe_table(r, c->counters_table, false);

	if (ctl_queue_pair(r->p->x, "completion", labels[0], &src, &dlq)) {
		probe_queue(r, &dlq, NULL);
		probe_queue(r, &src, r->completion_arn);
	}
	if (ctl_queue_pair(r->p->x, "error", labels[0], &src, &dlq)) {
		probe_queue(r, &dlq, NULL);
		probe_queue(r, &src, r->error_arn);
	}
	for (size_t i = 0; i < c->n_countries; i++) {
		const struct conf_country *cc = &c->countries[i];
		const struct probe_item *topic;
		char topic_arn[SNS_ARN_MAX];

		qarn[i][0] = '\0';
		if (!ctl_queue_pair(r->p->x, cc->code, labels[i], &src, &dlq))
			continue;
		probe_queue(r, &dlq, NULL);
		probe_queue(r, &src, qarn[i]);
		topic = probe_topic(r, cc, topic_arn);
		if (r->p->full)
			probe_subscription(r, cc, topic, topic_arn, qarn[i]);
	}

	probe_bus(r);
	if (r->p->full) {
		for (size_t i = 0; i < c->n_countries; i++) {
			snprintf(rule, sizeof(rule), CTL_RULE_PROCESSED_PREFIX "%s",
				 c->countries[i].lower);
			probe_rule(r, rule, CTL_TARGET_COMPLETION, c->completion_queue_name,
				   r->completion_arn);
		}
		probe_rule(r, CTL_RULE_ERROR, CTL_TARGET_ERROR, c->error_queue_name, r->error_arn);
	}
	probe_parameter(r);
	probe_databases(r->p);
}

enum rc probe_run(struct probe *p, struct ctl *x, bool full, struct errbuf *eb)
{
	struct run r = {.p = p};
	enum rc rc = RC_OK;

	memset(p, 0, sizeof(*p));
	p->x = x;
	p->full = full;
	p->password_source = "none";
	for (int s = 0; s < AWS_SVC_COUNT; s++)
		snprintf(p->ep[s].url, sizeof(p->ep[s].url), "%s", x->aws.endpoint[s]);
	p->items = calloc(PROBE_ITEMS_MAX, sizeof(*p->items));
	if (p->items == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	rc = ctl_clients_open(x, CTL_ALL_CLIENTS, &r.cl, eb);
	if (rc == RC_OK)
		probe_all(&r);
	ctl_clients_close(&r.cl);
	return rc;
}

void probe_cleanup(struct probe *p)
{
	free(p->items);
	p->items = NULL;
	p->n = 0;
}
