/* info.c — `appointmentctl info [--json]`: the stage at a glance (SPEC §8): the config file,
 * the endpoints, every resource and whether it exists, queue and DLQ depths, appointments by
 * status, where the database password comes from and whether each database answers. A
 * report: missing things are shown, not failed on (exit 0); only a bad configuration (78)
 * or a report that cannot be made (1) fail it. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/jx.h"
#include "base/metrics.h"
#include "probe.h"

/* Pretty-printed for people; one document either way for scripts. */
#define INFO_JSON_FLAGS \
	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
#define INFO_ROWS_MAX (PROBE_ITEMS_MAX + 16 + AWS_SVC_COUNT + APPT_STATUS_COUNT + \
		       CONF_MAX_COUNTRIES)

/* One line of the human report: three aligned columns and free text. */
struct row {
	char kind[PROBE_KIND_MAX + 8];   /* "table", "endpoint", "appointments", ... */
	char name[PROBE_NAME_MAX];       /* what it is about */
	char state[24];                  /* exists / missing / reachable / a count */
	char detail[PROBE_DETAIL_MAX + 64];
};

struct rows {
	struct row *v; /* INFO_ROWS_MAX of them */
	size_t n;
};

static struct row *row_add(struct rows *r, const char *kind, const char *name,
			   const char *state)
{
	struct row *w = &r->v[r->n++];

	snprintf(w->kind, sizeof(w->kind), "%s", kind);
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->state, sizeof(w->state), "%s", state);
	w->detail[0] = '\0';
	return w;
}

static void print_rows(FILE *f, const struct rows *r)
{
	int wk = 0, wn = 0, ws = 0;

	for (size_t i = 0; i < r->n; i++) {
		int k = (int)strlen(r->v[i].kind), n = (int)strlen(r->v[i].name);
		int s = (int)strlen(r->v[i].state);

		wk = k > wk ? k : wk;
		wn = n > wn ? n : wn;
		ws = s > ws ? s : ws;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct row *w = &r->v[i];

		if (w->detail[0] != '\0')
			fprintf(f, "%-*s  %-*s  %-*s  %s\n", wk, w->kind, wn, w->name, ws, w->state,
				w->detail);
		else
			fprintf(f, "%-*s  %-*s  %s\n", wk, w->kind, wn, w->name, w->state);
	}
}

static void human(const struct probe *p, struct rows *r)
{
	const struct conf *c = p->x->cfg;
	struct row *w;

	w = row_add(r, "config", c->path, "loaded");
	snprintf(w->detail, sizeof(w->detail), "stage %s, %zu countries, region %s", c->stage,
		 c->n_countries, p->x->aws.region);
	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		const struct probe_endpoint *ep = &p->ep[s];

		w = row_add(r, "endpoint", aws_service_name((enum aws_service)s),
			    !ep->asked ? "not-asked" : ep->reached ? "reachable" : "unreachable");
		if (ep->asked && !ep->reached)
			snprintf(w->detail, sizeof(w->detail), "%s: %s", ep->url, ep->detail);
		else
			snprintf(w->detail, sizeof(w->detail), "%s", ep->url);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct probe_item *it = &p->items[i];

		w = row_add(r, it->kind, it->name, probe_state_name(it->state));
		snprintf(w->detail, sizeof(w->detail), "%s", it->detail);
	}
	if (p->counts_known) {
		for (int s = 0; s < APPT_STATUS_COUNT; s++) {
			char n[24];

			snprintf(n, sizeof(n), "%lld", (long long)p->counts[s]);
			row_add(r, "appointments", appt_status_name((enum appt_status)s), n);
		}
	} else {
		w = row_add(r, "appointments", "by-status", "unknown");
		snprintf(w->detail, sizeof(w->detail), "%s", p->counts_detail);
	}
	w = row_add(r, "password", "rds-password", p->password_ok ? "ok" : "broken");
	if (p->password_ok)
		snprintf(w->detail, sizeof(w->detail), "from %s", p->password_source);
	else
		snprintf(w->detail, sizeof(w->detail), "%s", p->password_detail);
	for (size_t i = 0; i < p->n_db; i++) {
		const struct probe_db *d = &p->db[i];

		w = row_add(r, "database", d->country, d->ok ? "reachable" : "unreachable");
		if (d->ok)
			snprintf(w->detail, sizeof(w->detail), "%s (select 1 in %.1f ms)", d->target,
				 d->ms);
		else
			snprintf(w->detail, sizeof(w->detail), "%s: %s", d->target, d->detail);
	}
}

/* ---- JSON ---- */

/* A member that is null when unknown: a string (NULL or "" = unknown). */
#define STR_OR_NULL(name, text)                                                                    \
	{.key = (name), .type = JX_STR, .s = (text) != NULL && (text)[0] != '\0' ? (text) : NULL}
/* A count, null when negative (unknown). */
#define COUNT_OR_NULL(name, count) {.key = (name), .type = (count) < 0 ? JX_VAL : JX_INT, .i = (count)}
/* A boolean, null when unknown. */
#define BOOL_OR_NULL(name, known, yes) {.key = (name), .type = (known) ? JX_BOOL : JX_VAL, .b = (yes)}

static enum rc json_endpoints(const struct probe *p, struct json_object **out)
{
	enum rc rc = RC_OK;

	*out = json_object_new_object();
	if (*out == NULL)
		return RC_NOMEM;
	for (int s = 0; rc == RC_OK && s < AWS_SVC_COUNT; s++) {
		const struct probe_endpoint *ep = &p->ep[s];
		const struct jx_member e[] = {
			{.key = "url", .type = JX_STR, .s = ep->url},
			BOOL_OR_NULL("reachable", ep->asked, ep->reached),
			STR_OR_NULL("error", ep->asked && !ep->reached ? ep->detail : NULL),
		};
		const struct jx_member m[] = {
			{.key = aws_service_name((enum aws_service)s), .type = JX_OBJ, .sub = e,
			 .nsub = JX_COUNT(e)},
		};

		rc = jx_add_members(*out, m, JX_COUNT(m));
	}
	return rc;
}

static enum rc json_item(const struct probe_item *it, struct json_object **out)
{
	const struct jx_member m[] = {
		{.key = "kind", .type = JX_STR, .s = it->kind},
		{.key = "name", .type = JX_STR, .s = it->name},
		BOOL_OR_NULL("exists", it->state != PROBE_UNKNOWN, it->state == PROBE_EXISTS),
		STR_OR_NULL("detail", it->detail),
	};

	return jx_build(m, JX_COUNT(m), out);
}

static enum rc json_queue(const struct probe_item *it, struct json_object **out)
{
	const struct jx_member m[] = {
		{.key = "queue", .type = JX_STR, .s = it->queue},
		{.key = "name", .type = JX_STR, .s = it->name},
		{.key = "dlq", .type = JX_BOOL, .b = strcmp(it->kind, "dlq") == 0},
		BOOL_OR_NULL("exists", it->state != PROBE_UNKNOWN, it->state == PROBE_EXISTS),
		COUNT_OR_NULL("visible", it->visible),
		COUNT_OR_NULL("inFlight", it->in_flight),
		COUNT_OR_NULL("delayed", it->delayed),
	};

	return jx_build(m, JX_COUNT(m), out);
}

static enum rc json_db(const struct probe_db *d, struct json_object **out)
{
	struct json_object *latency = NULL;
	char ms[32];
	enum rc rc;

	if (d->ok) {
		/* to 0.1 ms, as the human line: more digits would be noise */
		snprintf(ms, sizeof(ms), "%.1f", d->ms);
		latency = json_object_new_double_s(d->ms, ms);
		if (latency == NULL)
			return RC_NOMEM;
	}
	{
		const struct jx_member m[] = {
			{.key = "country", .type = JX_STR, .s = d->country},
			{.key = "target", .type = JX_STR, .s = d->target},
			{.key = "reachable", .type = JX_BOOL, .b = d->ok},
			{.key = "latencyMs", .type = JX_VAL, .v = latency},
			STR_OR_NULL("error", d->ok ? NULL : d->detail),
		};

		rc = jx_build(m, JX_COUNT(m), out);
	}
	json_object_put(latency);
	return rc;
}

/* Appends to arr the JSON of what fn makes of each of the n items of size sz at v (only
 * those keep accepts, when it is not NULL). */
static enum rc json_list(struct json_object *arr, const void *v, size_t n, size_t sz,
			 enum rc (*fn)(const void *item, struct json_object **out),
			 bool (*keep)(const void *item))
{
	enum rc rc = RC_OK;

	for (size_t i = 0; rc == RC_OK && i < n; i++) {
		const void *item = (const char *)v + i * sz;
		struct json_object *o = NULL;

		if (keep != NULL && !keep(item))
			continue;
		rc = fn(item, &o);
		if (rc == RC_OK)
			rc = jx_append(arr, o);
	}
	return rc;
}

static enum rc item_fn(const void *it, struct json_object **out)
{
	return json_item(it, out);
}

static enum rc queue_fn(const void *it, struct json_object **out)
{
	return json_queue(it, out);
}

static bool is_queue(const void *it)
{
	return ((const struct probe_item *)it)->queue[0] != '\0';
}

static enum rc db_fn(const void *d, struct json_object **out)
{
	return json_db(d, out);
}

/* The document of docs/appointmentctl.md ("info --json"). */
static enum rc json_doc(const struct probe *p, struct json_object **out)
{
	const struct conf *c = p->x->cfg;
	struct json_object *endpoints = NULL;
	struct json_object *res = json_object_new_array();
	struct json_object *queues = json_object_new_array();
	struct json_object *dbs = json_object_new_array();
	struct json_object *counts = NULL;
	enum rc rc = res != NULL && queues != NULL && dbs != NULL ? RC_OK : RC_NOMEM;

	*out = NULL;
	if (rc == RC_OK)
		rc = json_endpoints(p, &endpoints);
	if (rc == RC_OK)
		rc = json_list(res, p->items, p->n, sizeof(p->items[0]), item_fn, NULL);
	if (rc == RC_OK)
		rc = json_list(queues, p->items, p->n, sizeof(p->items[0]), queue_fn, is_queue);
	if (rc == RC_OK)
		rc = json_list(dbs, p->db, p->n_db, sizeof(p->db[0]), db_fn, NULL);
	if (rc == RC_OK && p->counts_known) {
		counts = json_object_new_object();
		rc = counts != NULL ? RC_OK : RC_NOMEM;
		for (int s = 0; rc == RC_OK && s < APPT_STATUS_COUNT; s++)
			rc = jx_add_int64(counts, appt_status_name((enum appt_status)s), p->counts[s]);
	}
	if (rc == RC_OK) {
		const struct jx_member pw[] = {
			{.key = "source", .type = JX_STR, .s = p->password_source},
			STR_OR_NULL("error", p->password_ok ? NULL : p->password_detail),
		};
		const struct jx_member m[] = {
			{.key = "config", .type = JX_STR, .s = c->path},
			{.key = "stage", .type = JX_STR, .s = c->stage},
			{.key = "region", .type = JX_STR, .s = p->x->aws.region},
			{.key = "endpoints", .type = JX_VAL, .v = endpoints},
			{.key = "resources", .type = JX_VAL, .v = res},
			{.key = "queues", .type = JX_VAL, .v = queues},
			{.key = "appointments", .type = JX_VAL, .v = counts},
			{.key = "password", .type = JX_OBJ, .sub = pw, .nsub = JX_COUNT(pw)},
			{.key = "databases", .type = JX_VAL, .v = dbs},
		};

		rc = jx_build(m, JX_COUNT(m), out);
	}
	json_object_put(endpoints);
	json_object_put(res);
	json_object_put(queues);
	json_object_put(dbs);
	json_object_put(counts);
	return rc != RC_OK ? RC_NOMEM : RC_OK;
}

/* The gauges docs/alerts.yml reads, in the Prometheus text format, for node_exporter's
 * textfile collector (docs/operations.md shows the timer that writes them). */
static enum rc prometheus_text(const struct probe *p, struct buf *out)
{
	static const struct {
		const char *name;
		const char *help;
	} fams[] = {
		{"appointmentd_queue_depth", "Messages available in the queue (ApproximateNumberOfMessages)."},
		{"appointmentd_queue_in_flight", "Messages received and not yet deleted (...NotVisible)."},
		{"appointmentd_appointments_by_status", "Appointments in the table per status."},
		{"appointmentd_resource_up", "1 when a resource of the stage exists, 0 when missing or unknown."},
		{"appointmentd_database_up", "1 when the country database answered select 1."},
	};
	struct metrics *m = metrics_new();
	enum rc rc = m != NULL ? RC_OK : RC_NOMEM;

	for (size_t i = 0; rc == RC_OK && i < sizeof(fams) / sizeof(fams[0]); i++)
		rc = metrics_describe(m, fams[i].name, METRICS_GAUGE, fams[i].help);
	for (size_t i = 0; rc == RC_OK && i < p->n; i++) {
		const struct probe_item *it = &p->items[i];
		const char *rl[] = {"kind", it->kind, "name", it->name, NULL};
		const char *ql[] = {"queue", it->queue, NULL};

		metrics_set(m, "appointmentd_resource_up", rl, it->state == PROBE_EXISTS ? 1 : 0);
		if (it->queue[0] != '\0' && it->visible >= 0)
			metrics_set(m, "appointmentd_queue_depth", ql, (double)it->visible);
		if (it->queue[0] != '\0' && it->in_flight >= 0)
			metrics_set(m, "appointmentd_queue_in_flight", ql, (double)it->in_flight);
	}
	for (int st = 0; rc == RC_OK && p->counts_known && st < APPT_STATUS_COUNT; st++) {
		const char *sl[] = {"status", appt_status_name((enum appt_status)st), NULL};

		metrics_set(m, "appointmentd_appointments_by_status", sl, (double)p->counts[st]);
	}
	for (size_t i = 0; rc == RC_OK && i < p->n_db; i++) {
		const char *dl[] = {"country", p->db[i].country, NULL};

		metrics_set(m, "appointmentd_database_up", dl, p->db[i].ok ? 1 : 0);
	}
	if (rc == RC_OK)
		rc = metrics_render(m, out);
	metrics_free(m);
	return rc;
}

int ctl_cmd_info(const char *config_path, int argc, char **argv)
{
	struct ctl x = {0};
	struct probe p = {0};
	struct rows rows = {0};
	struct errbuf eb = {{0}};
	struct json_object *doc = NULL;
	struct buf prom;
	bool json = false;
	bool prometheus = false;
	int code;

	buf_init(&prom, 4u << 20);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--prometheus") == 0) {
			prometheus = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] info [--json | --prometheus]\n");
			return CTL_EXIT_OK;
		} else {
			return ctl_die(CTL_EXIT_USAGE, "info: unknown argument '%s' (try info --help)",
				       argv[i]);
		}
	}
	code = ctl_open(&x, config_path, true);
	if (code != CTL_EXIT_OK)
		return code;
	if (probe_run(&p, &x, true, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	if (prometheus) {
		if (prometheus_text(&p, &prom) != RC_OK) {
			code = ctl_die(CTL_EXIT_FAILURE, "info: out of memory");
			goto out;
		}
		fputs(buf_str(&prom), x.out);
	} else if (json) {
		if (json_doc(&p, &doc) != RC_OK) {
			code = ctl_die(CTL_EXIT_FAILURE, "info: out of memory");
			goto out;
		}
		fprintf(x.out, "%s\n", json_object_to_json_string_ext(doc, INFO_JSON_FLAGS));
	} else {
		rows.v = calloc(INFO_ROWS_MAX, sizeof(*rows.v));
		if (rows.v == NULL) {
			code = ctl_die(CTL_EXIT_FAILURE, "info: out of memory");
			goto out;
		}
		human(&p, &rows);
		print_rows(x.out, &rows);
	}
	if (fflush(x.out) != 0)
		code = ctl_die(CTL_EXIT_FAILURE, "info: writing the report failed");
out:
	buf_cleanup(&prom);
	json_object_put(doc);
	free(rows.v);
	probe_cleanup(&p);
	ctl_close(&x);
	return code;
}
