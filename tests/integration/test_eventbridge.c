/* test_eventbridge.c — every operation of lib/aws/eventbridge against moto (endpoint
 * AWS_ENDPOINT_URL_EVENTBRIDGE): buses, rules, targets, and PutEvents routed through the
 * worker's rule pattern to an SQS queue (AWS_ENDPOINT_URL_SQS, which must be the same moto:
 * moto delivers only to its own queues), with a non-matching event not delivered and
 * per-entry failures; and lib/app/events_batch: entries put while a PutEvents is held by
 * a loopback proxy travel together in the next call, each delivered once, and an entry
 * refused before sending fails alone. Names carry a per-run random prefix; a teardown in the parent process
 * removes whatever a failed test left. A missing or non-loopback endpoint fails the test. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app/events_batch.h"
#include "aws/core.h"
#include "aws/eventbridge.h"
#include "aws/sqs.h"
#include "aws/sqs_queues.h"
#include "base/buf.h"
#include "base/clock.h"
#include "itest.h"

#define PATTERN_PE                                                                             \
	"{\"source\":[\"medical.appointment.pe\"],\"detail-type\":[\"Appointment Processed\"]}"

/* "appt-it-<hex>": every resource of this run starts with it. Set once in main(). */
static char run_prefix[32];

/* The buses and queues the tests create, by suffix, for the teardown. */
static const char *const bus_suffixes[] = {"bus", "rules", "route", "fail", "batch0", "batch1", NULL};
static const char *const queue_suffixes[] = {"rules-q", "route-q", "batch0-q", "batch1-q", NULL};

static struct evb_client *evb(void)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct evb_client *c;

	ck_assert_msg(itest_config("AWS_ENDPOINT_URL_EVENTBRIDGE", &cfg, &eb), "%s", eb.msg);
	c = evb_client_new(&cfg, &eb);
	ck_assert_msg(c != NULL, "%s", eb.msg);
	return c;
}

static struct sqs_client *sqs(void)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct sqs_client *c;

	ck_assert_msg(itest_config("AWS_ENDPOINT_URL_SQS", &cfg, &eb), "%s", eb.msg);
	c = sqs_client_new(&cfg, &eb);
	ck_assert_msg(c != NULL, "%s", eb.msg);
	return c;
}

static void name_of(const char *what, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s-%s", run_prefix, what);
}

#define CK_SQS(call)                                                                           \
	do {                                                                                   \
		struct aws_error err_;                                                         \
		struct errbuf eb_ = {{0}};                                                     \
		enum rc rc_ = (call);                                                          \
		if (rc_ != RC_OK) {                                                            \
			aws_error_to_eb(&err_, &eb_);                                          \
			ck_abort_msg("%s failed: %s", #call, eb_.msg);                         \
		}                                                                              \
	} while (0)
#define ERR (&err_)

/* Creates a queue called <prefix>-<what>; writes its URL and ARN. */
static void make_queue(struct sqs_client *q, const char *what, char url[SQS_URL_MAX],
		       char arn[SQS_ARN_MAX])
{
	char name[SQS_NAME_MAX + 1];

	name_of(what, name, sizeof(name));
	CK_SQS(sqs_create_queue(q, name, NULL, 0, url, ERR));
	CK_SQS(sqs_get_queue_arn(q, url, arn, ERR));
}

/* ---- buses --------------------------------------------------------------------------- */

START_TEST(test_bus_lifecycle)
{
	struct evb_client *c = evb();
	struct errbuf eb;
	char bus[128], missing[128], arn[EVB_ARN_MAX], arn2[EVB_ARN_MAX];

	name_of("bus", bus, sizeof(bus));
	name_of("nobus", missing, sizeof(missing));
	CK_RC(RC_OK, evb_create_bus(c, bus, arn, &eb));
	ck_assert_msg(strstr(arn, ":event-bus/") != NULL && strstr(arn, bus) != NULL, "%s", arn);
	CK_RC(RC_CONFLICT, evb_create_bus(c, bus, arn2, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "already exists"));
	ck_assert_str_eq(evb_last_error(c)->code, "ResourceAlreadyExistsException");
	CK_RC(RC_OK, evb_describe_bus(c, bus, arn2, &eb));
	ck_assert_str_eq(arn, arn2);
	CK_RC(RC_NOTFOUND, evb_describe_bus(c, missing, arn2, &eb));
	ck_assert_str_eq(arn2, "");
	CK_RC(RC_INVAL, evb_create_bus(c, "bad name", NULL, &eb));
	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	CK_RC(RC_NOTFOUND, evb_describe_bus(c, bus, NULL, &eb));
	/* Deleting a bus that is gone succeeds (AWS and moto alike). */
	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	evb_client_free(c);
}
END_TEST

/* ---- rules and targets --------------------------------------------------------------- */

struct rules_seen {
	const char *want;      /* the rule name to find */
	int found;             /* times seen */
	char pattern[512];     /* its EventPattern */
	char state[16];        /* its State */
	char target_arn[512];  /* ListTargetsByRule: the arn of target "completion" */
	int targets;           /* targets listed */
};

static enum rc on_rule(void *ctx, const struct evb_rule_info *r, struct errbuf *eb)
{
	struct rules_seen *rs = ctx;

	(void)eb;
	if (strcmp(r->name, rs->want) == 0) {
		rs->found++;
		snprintf(rs->pattern, sizeof(rs->pattern), "%s", r->pattern);
		snprintf(rs->state, sizeof(rs->state), "%s", r->state);
	}
	return RC_OK;
}

static enum rc on_target(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct rules_seen *rs = ctx;

	(void)eb;
	rs->targets++;
	if (strcmp(id, "completion") == 0)
		snprintf(rs->target_arn, sizeof(rs->target_arn), "%s", arn);
	return RC_OK;
}

START_TEST(test_rules_and_targets)
{
	struct evb_client *c = evb();
	struct sqs_client *q = sqs();
	struct errbuf eb;
	char bus[128], rule[64], url[SQS_URL_MAX], qarn[SQS_ARN_MAX];
	char arn[EVB_ARN_MAX], arn2[EVB_ARN_MAX];
	struct rules_seen rs;
	struct evb_rule r = {.pattern = PATTERN_PE, .description = "pe processed"};
	struct evb_target t = {"completion", NULL};
	const char *ids[] = {"completion", "never-added"};
	struct json_object *a = NULL, *b = NULL;

	name_of("rules", bus, sizeof(bus));
	snprintf(rule, sizeof(rule), "%s-pe", run_prefix);
	r.name = rule;
	r.bus = bus;
	CK_RC(RC_OK, evb_create_bus(c, bus, NULL, &eb));
	CK_RC(RC_OK, evb_put_rule(c, &r, arn, &eb));
	ck_assert_msg(strstr(arn, rule) != NULL, "%s", arn);
	/* PutRule is idempotent: the same ARN again. */
	CK_RC(RC_OK, evb_put_rule(c, &r, arn2, &eb));
	ck_assert_str_eq(arn, arn2);

	memset(&rs, 0, sizeof(rs));
	rs.want = rule;
	CK_RC(RC_OK, evb_list_rules(c, bus, run_prefix, on_rule, &rs, &eb));
	ck_assert_int_eq(rs.found, 1);
	ck_assert_str_eq(rs.state, "ENABLED");
	/* The pattern comes back as JSON text, possibly re-spaced: compare parsed. */
	a = json_tokener_parse(rs.pattern);
	b = json_tokener_parse(PATTERN_PE);
	ck_assert_msg(a != NULL && json_object_equal(a, b), "pattern %s", rs.pattern);
	json_object_put(a);
	json_object_put(b);

	make_queue(q, "rules-q", url, qarn);
	t.arn = qarn;
	CK_RC(RC_OK, evb_put_targets(c, rule, bus, &t, 1, &eb));
	CK_RC(RC_OK, evb_list_targets(c, rule, bus, on_target, &rs, &eb));
	ck_assert_int_eq(rs.targets, 1);
	ck_assert_str_eq(rs.target_arn, qarn);
	/* A rule that does not exist. */
	CK_RC(RC_NOTFOUND, evb_put_targets(c, "no-such-rule", bus, &t, 1, &eb));
	CK_RC(RC_NOTFOUND, evb_list_targets(c, "no-such-rule", bus, on_target, &rs, &eb));

	/* Removing an id the rule never had is not an error. */
	CK_RC(RC_OK, evb_remove_targets(c, rule, bus, ids, 2, &eb));
	rs.targets = 0;
	CK_RC(RC_OK, evb_list_targets(c, rule, bus, on_target, &rs, &eb));
	ck_assert_int_eq(rs.targets, 0);
	CK_RC(RC_OK, evb_delete_rule(c, rule, bus, &eb));
	rs.found = 0;
	CK_RC(RC_OK, evb_list_rules(c, bus, NULL, on_rule, &rs, &eb));
	ck_assert_int_eq(rs.found, 0);

	/* A rule on a bus that does not exist. */
	r.bus = "appt-it-no-such-bus";
	CK_RC(RC_NOTFOUND, evb_put_rule(c, &r, NULL, &eb));
	r.pattern = "{\"source\":";
	CK_RC(RC_INVAL, evb_put_rule(c, &r, NULL, &eb));

	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	CK_SQS(sqs_delete_queue(q, url, ERR));
	sqs_client_free(q);
	evb_client_free(c);
}
END_TEST

/* ---- PutEvents ------------------------------------------------------------------------ */

/* Receives for up to about wait_s seconds; returns how many messages came, keeping the first
 * body in first (owned; NULL when none). */
static size_t drain(struct sqs_client *q, const char *url, int wait_s, char **first)
{
	struct sqs_receive_opts ro = {10, 1, 30};
	size_t total = 0;

	*first = NULL;
	for (int i = 0; i < wait_s; i++) {
		struct sqs_messages m = {NULL, 0};

		CK_SQS(sqs_receive(q, url, &ro, &m, ERR));
		for (size_t k = 0; k < m.n; k++) {
			if (*first == NULL)
				*first = strdup(m.v[k].body);
			CK_SQS(sqs_delete_message(q, url, m.v[k].receipt_handle, ERR));
		}
		total += m.n;
		sqs_messages_cleanup(&m);
		if (total > 0 && i >= 1)
			break;
	}
	return total;
}

START_TEST(test_put_events_routed)
{
	struct evb_client *c = evb();
	struct sqs_client *q = sqs();
	struct errbuf eb;
	char bus[128], rule[64], url[SQS_URL_MAX], qarn[SQS_ARN_MAX], *body = NULL;
	struct evb_rule r = {.pattern = PATTERN_PE};
	struct evb_target t = {"completion", NULL};
	const char *ids[] = {"completion"};
	const char *detail = "{\"appointmentId\":\"a-route-1\",\"insuredId\":\"00123\","
			     "\"scheduleId\":100,\"countryISO\":\"PE\",\"status\":\"PROCESSED\","
			     "\"processedAt\":\"2026-11-25T13:45:26.123Z\"}";
	struct evb_entry e[3] = {
		{"medical.appointment.pe", "Appointment Processed", detail, NULL, 0},
		/* Another country's source, and another detail type: the rule matches neither. */
		{"medical.appointment.cl", "Appointment Processed", "{\"appointmentId\":\"x\"}", NULL,
		 0},
		{"medical.appointment.pe", "Appointment Failed", "{\"appointmentId\":\"y\"}", NULL, 0},
	};
	struct evb_put_result res[3];
	struct json_object *env = NULL, *v = NULL, *d = NULL;
	size_t nfailed = 99, got;

	name_of("route", bus, sizeof(bus));
	snprintf(rule, sizeof(rule), "%s-route-pe", run_prefix);
	r.name = rule;
	r.bus = bus;
	CK_RC(RC_OK, evb_create_bus(c, bus, NULL, &eb));
	CK_RC(RC_OK, evb_put_rule(c, &r, NULL, &eb));
	make_queue(q, "route-q", url, qarn);
	t.arn = qarn;
	CK_RC(RC_OK, evb_put_targets(c, rule, bus, &t, 1, &eb));

	for (int i = 0; i < 3; i++) {
		e[i].bus = bus;
		e[i].time = time(NULL);
	}
	CK_RC(RC_OK, evb_put_events(c, e, 3, res, &nfailed, &eb));
	ck_assert_uint_eq(nfailed, 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(res[i].rc, RC_OK);
		ck_assert_str_ne(res[i].event_id, "");
	}
	ck_assert_str_ne(res[0].event_id, res[1].event_id);

	/* Exactly one event arrives: the matching one, in the EventBridge envelope. */
	got = drain(q, url, 5, &body);
	ck_assert_msg(got == 1, "%zu messages routed, want 1 (first: %s)", got,
		      body != NULL ? body : "none");
	env = json_tokener_parse(body);
	ck_assert_msg(env != NULL, "body is not JSON: %s", body);
	ck_assert(json_object_object_get_ex(env, "source", &v));
	ck_assert_str_eq(json_object_get_string(v), "medical.appointment.pe");
	ck_assert(json_object_object_get_ex(env, "detail-type", &v));
	ck_assert_str_eq(json_object_get_string(v), "Appointment Processed");
	ck_assert(json_object_object_get_ex(env, "id", &v));
	ck_assert_str_eq(json_object_get_string(v), res[0].event_id);
	ck_assert(json_object_object_get_ex(env, "detail", &d));
	ck_assert(json_object_object_get_ex(d, "appointmentId", &v));
	ck_assert_str_eq(json_object_get_string(v), "a-route-1");
	ck_assert(json_object_object_get_ex(d, "scheduleId", &v));
	ck_assert_int_eq(json_object_get_int64(v), 100);
	json_object_put(env);
	free(body);
	body = NULL;
	/* Nothing else comes later. */
	got = drain(q, url, 2, &body);
	ck_assert_msg(got == 0, "a non-matching event was delivered: %s", body);

	CK_RC(RC_OK, evb_remove_targets(c, rule, bus, ids, 1, &eb));
	CK_RC(RC_OK, evb_delete_rule(c, rule, bus, &eb));
	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	CK_SQS(sqs_delete_queue(q, url, ERR));
	sqs_client_free(q);
	evb_client_free(c);
}
END_TEST

START_TEST(test_put_events_failures)
{
	struct evb_client *c = evb();
	struct errbuf eb;
	char bus[128];
	struct evb_entry e[EVB_ENTRIES_MAX + 1];
	struct evb_put_result res[EVB_ENTRIES_MAX + 1];
	size_t nfailed = 99;

	name_of("fail", bus, sizeof(bus));
	CK_RC(RC_OK, evb_create_bus(c, bus, NULL, &eb));
	for (int i = 0; i <= EVB_ENTRIES_MAX; i++)
		e[i] = (struct evb_entry){"medical.appointment", "Processing Error",
					  "{\"reason\":\"bad json\"}", bus, time(NULL)};
	/* Per-entry failure: Detail that is not JSON; its neighbours still go through. */
	e[1].detail = "not json";
	CK_RC(RC_OK, evb_put_events(c, e, 3, res, &nfailed, &eb));
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_int_eq(res[0].rc, RC_OK);
	ck_assert_int_eq(res[1].rc, RC_INVAL);
	ck_assert_str_eq(res[1].code, "MalformedDetail");
	ck_assert_str_eq(res[1].event_id, "");
	ck_assert_int_eq(res[2].rc, RC_OK);
	/* Ten entries is the most; eleven never leave the process. */
	e[1].detail = e[0].detail;
	CK_RC(RC_OK, evb_put_events(c, e, EVB_ENTRIES_MAX, res, &nfailed, &eb));
	ck_assert_uint_eq(nfailed, 0);
	CK_RC(RC_INVAL, evb_put_events(c, e, EVB_ENTRIES_MAX + 1, res, &nfailed, &eb));
	/* A bus that does not exist: moto fails the whole call (AWS reports it per entry). */
	e[0].bus = "appt-it-no-such-bus";
	{
		enum rc rc = evb_put_events(c, e, 1, res, &nfailed, &eb);

		ck_assert_msg(rc == RC_NOTFOUND || (rc == RC_OK && nfailed == 1 &&
						    res[0].rc != RC_OK),
			      "missing bus: %s %s", rc_name(rc), eb.msg);
	}
	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	evb_client_free(c);
}
END_TEST

/* ---- events_batch --------------------------------------------------------------------- */

#define BATCH_PUTTERS 10

/* One thread's put through the batcher, on a client of its own. */
struct batch_put {
	pthread_t tid;
	struct events_batch *b;
	struct aws_config cfg;
	struct evb_entry e;
	char detail[96];
	char source[EVB_SOURCE_MAX + 16];
	enum rc rc;
	struct errbuf eb;
};

static void *batch_put_main(void *arg)
{
	struct batch_put *p = arg;
	struct evb_client *c = evb_client_new(&p->cfg, &p->eb);

	p->rc = c != NULL ? events_batch_put(p->b, c, &p->e, &p->eb) : RC_NOMEM;
	evb_client_free(c);
	return NULL;
}

/* _i = 0: ten putters, the first held 800 ms by the proxy: the nine others queue meanwhile
 * and share the next call; all ten delivered once. _i = 1: one of the nine has a Source
 * over EVB_SOURCE_MAX: their call is refused before sending and redone entry by entry, so
 * only that one fails. */
START_TEST(test_events_batch_shares_calls)
{
	struct evb_client *c = evb();
	struct sqs_client *q = sqs();
	struct itest_env te = {{"AWS_ENDPOINT_URL_EVENTBRIDGE"}, {NULL}};
	struct itest_proxy px;
	struct events_batch *b = events_batch_new();
	struct batch_put *p = calloc(BATCH_PUTTERS, sizeof(*p));
	struct errbuf eb = {{0}};
	struct buf ctl;
	char bus[128], rule[64], url[SQS_URL_MAX], qarn[SQS_ARN_MAX], *body = NULL;
	struct evb_rule r = {.pattern = PATTERN_PE};
	struct evb_target t = {"completion", NULL};
	const char *ids[] = {"completion"};
	const int bad = _i == 1 ? 5 : -1;
	unsigned long calls = 0, entries = 0;
	size_t got;

	ck_assert(b != NULL && p != NULL);
	name_of(_i == 0 ? "batch0" : "batch1", bus, sizeof(bus));
	snprintf(rule, sizeof(rule), "%s-batch-pe", run_prefix);
	r.name = rule;
	r.bus = bus;
	CK_RC(RC_OK, evb_create_bus(c, bus, NULL, &eb));
	CK_RC(RC_OK, evb_put_rule(c, &r, NULL, &eb));
	make_queue(q, _i == 0 ? "batch0-q" : "batch1-q", url, qarn);
	t.arn = qarn;
	CK_RC(RC_OK, evb_put_targets(c, rule, bus, &t, 1, &eb));

	itest_proxy_start(&px, itest_need_env("AWS_ENDPOINT_URL_EVENTBRIDGE"));
	te.url[0] = px.url;
	buf_init(&ctl, 1024);
	itest_proxy_control(&px, "/__faultproxy/rules",
			    "[{\"op\": \"PutEvents\", \"fault\": \"slow:800\", \"count\": 1, "
			    "\"contains\": \"batch-0\"}]",
			    &ctl);
	for (int i = 0; i < BATCH_PUTTERS; i++) {
		ck_assert_msg(itest_config_env(&te, &p[i].cfg, &eb), "%s", eb.msg);
		p[i].b = b;
		snprintf(p[i].detail, sizeof(p[i].detail), "{\"appointmentId\":\"batch-%d\"}", i);
		if (i == bad)
			memset(p[i].source, 's', EVB_SOURCE_MAX + 1);
		else
			snprintf(p[i].source, sizeof(p[i].source), "medical.appointment.pe");
		p[i].e = (struct evb_entry){p[i].source, "Appointment Processed", p[i].detail, bus,
					    time(NULL)};
	}
	/* the first call is held; the others arrive while it is in flight */
	ck_assert_int_eq(pthread_create(&p[0].tid, NULL, batch_put_main, &p[0]), 0);
	for (int waited = 0; itest_proxy_stat(&px, "faulted") < 1 && waited < 5000; waited += 20)
		clk_sleep_ms(20);
	ck_assert_int_eq(itest_proxy_stat(&px, "faulted"), 1);
	for (int i = 1; i < BATCH_PUTTERS; i++)
		ck_assert_int_eq(pthread_create(&p[i].tid, NULL, batch_put_main, &p[i]), 0);
	for (int i = 0; i < BATCH_PUTTERS; i++)
		pthread_join(p[i].tid, NULL);
	for (int i = 0; i < BATCH_PUTTERS; i++)
		ck_assert_msg(p[i].rc == (i == bad ? RC_INVAL : RC_OK), "putter %d: %s %s", i,
			      rc_name(p[i].rc), p[i].eb.msg);
	events_batch_stats(b, &calls, &entries);
	ck_assert_msg(calls == 2 && entries == BATCH_PUTTERS, "%lu calls for %lu entries", calls,
		      entries);
	/* the held call and the shared one; with the bad entry, its eight neighbours alone */
	ck_assert_int_eq(itest_proxy_stat(&px, "forwarded"), bad < 0 ? 2 : BATCH_PUTTERS - 1);

	got = drain(q, url, 5, &body);
	ck_assert_msg(got == (size_t)(bad < 0 ? BATCH_PUTTERS : BATCH_PUTTERS - 1),
		      "%zu events delivered (first: %s)", got, body != NULL ? body : "none");
	free(body);
	CK_RC(RC_OK, evb_remove_targets(c, rule, bus, ids, 1, &eb));
	CK_RC(RC_OK, evb_delete_rule(c, rule, bus, &eb));
	CK_RC(RC_OK, evb_delete_bus(c, bus, &eb));
	CK_SQS(sqs_delete_queue(q, url, ERR));
	buf_cleanup(&ctl);
	itest_proxy_stop(&px);
	events_batch_free(b);
	free(p);
	sqs_client_free(q);
	evb_client_free(c);
}
END_TEST

/* ---- harness ------------------------------------------------------------------------- */

struct rule_names {
	char names[16][EVB_RULE_NAME_MAX + 1]; /* rules of this run on one bus */
	size_t n;                              /* their number */
};

static enum rc collect_rule(void *ctx, const struct evb_rule_info *r, struct errbuf *eb)
{
	struct rule_names *rn = ctx;

	(void)eb;
	if (rn->n < 16)
		snprintf(rn->names[rn->n++], sizeof(rn->names[0]), "%s", r->name);
	return RC_OK;
}

struct target_ids {
	char ids[16][EVB_TARGET_ID_MAX + 1]; /* target ids of one rule */
	size_t n;                            /* their number */
};

static enum rc collect_target(void *ctx, const char *id, const char *arn, struct errbuf *eb)
{
	struct target_ids *ti = ctx;

	(void)arn;
	(void)eb;
	if (ti->n < 16)
		snprintf(ti->ids[ti->n++], sizeof(ti->ids[0]), "%s", id);
	return RC_OK;
}

/* Runs in the parent after the test case, whatever happened: removes this run's targets,
 * rules, buses and queues. Best effort and silent about what is already gone. */
static void cleanup_resources(void)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	char name[128];
	struct evb_client *c = NULL;
	struct sqs_client *q = NULL;

	if (itest_config("AWS_ENDPOINT_URL_EVENTBRIDGE", &cfg, &eb))
		c = evb_client_new(&cfg, &eb);
	for (size_t b = 0; c != NULL && bus_suffixes[b] != NULL; b++) {
		struct rule_names rn = {.n = 0};

		name_of(bus_suffixes[b], name, sizeof(name));
		if (evb_describe_bus(c, name, NULL, &eb) != RC_OK)
			continue;
		fprintf(stderr, "cleanup: removing bus %s left by a failed test\n", name);
		if (evb_list_rules(c, name, NULL, collect_rule, &rn, &eb) != RC_OK)
			rn.n = 0;
		for (size_t i = 0; i < rn.n; i++) {
			struct target_ids ti = {.n = 0};
			const char *ids[16];

			if (evb_list_targets(c, rn.names[i], name, collect_target, &ti, &eb) == RC_OK &&
			    ti.n > 0) {
				for (size_t k = 0; k < ti.n; k++)
					ids[k] = ti.ids[k];
				if (evb_remove_targets(c, rn.names[i], name, ids,
						       ti.n > EVB_TARGETS_MAX ? EVB_TARGETS_MAX : ti.n,
						       &eb) != RC_OK)
					fprintf(stderr, "cleanup: %s\n", eb.msg);
			}
			if (evb_delete_rule(c, rn.names[i], name, &eb) != RC_OK)
				fprintf(stderr, "cleanup: %s\n", eb.msg);
		}
		if (evb_delete_bus(c, name, &eb) != RC_OK)
			fprintf(stderr, "cleanup: %s\n", eb.msg);
	}
	evb_client_free(c);
	if (itest_config("AWS_ENDPOINT_URL_SQS", &cfg, &eb))
		q = sqs_client_new(&cfg, &eb);
	for (size_t i = 0; q != NULL && queue_suffixes[i] != NULL; i++) {
		char url[SQS_URL_MAX];
		struct aws_error err;

		name_of(queue_suffixes[i], name, sizeof(name));
		if (sqs_get_queue_url(q, name, url, &err) != RC_OK)
			continue;
		fprintf(stderr, "cleanup: deleting queue %s left by a failed test\n", name);
		if (sqs_delete_queue(q, url, &err) != RC_OK) {
			aws_error_to_eb(&err, &eb);
			fprintf(stderr, "cleanup: %s\n", eb.msg);
		}
	}
	sqs_client_free(q);
}

int main(void)
{
	Suite *s = suite_create("eventbridge");
	TCase *tc = tcase_create("moto");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	itest_run_prefix(run_prefix, sizeof(run_prefix));
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_resources);
	tcase_add_test(tc, test_bus_lifecycle);
	tcase_add_test(tc, test_rules_and_targets);
	tcase_add_test(tc, test_put_events_routed);
	tcase_add_test(tc, test_put_events_failures);
	tcase_add_loop_test(tc, test_events_batch_shares_calls, 0, 2);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_NORMAL);
	aws_global_cleanup();
	return status;
}
