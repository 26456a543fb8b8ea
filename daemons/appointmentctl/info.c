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
		       CFG_MAX_COUNTRIES)

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
	const struct cfg *c = p->x->cfg;
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

/* Adds key: value, or key: null when value is NULL or "". */
static enum rc add_str_or_null(struct json_object *o, const char *key, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return json_object_object_add(o, key, NULL) == 0 ? RC_OK : RC_NOMEM;
	return jx_add_str(o, key, value);
}

/* Adds key: n, or key: null when n < 0 (unknown). */
static enum rc add_count(struct json_object *o, const char *key, long long n)
{
	if (n < 0)
		return json_object_object_add(o, key, NULL) == 0 ? RC_OK : RC_NOMEM;
	return jx_add_int64(o, key, (int64_t)n);
}

/* Adds arr (taking it) under key; arr is released on failure. */
static enum rc add_taken(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return RC_NOMEM;
	if (jx_add_obj(o, key, v) != RC_OK) {
		json_object_put(v);
		return RC_NOMEM;
	}
	return RC_OK;
}

static enum rc push(struct json_object *arr, struct json_object *v)
{
	if (v == NULL)
		return RC_NOMEM;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return RC_NOMEM;
	}
	return RC_OK;
}

static struct json_object *json_endpoints(const struct probe *p)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = o != NULL ? RC_OK : RC_NOMEM;

	for (int s = 0; rc == RC_OK && s < AWS_SVC_COUNT; s++) {
		const struct probe_endpoint *ep = &p->ep[s];
		struct json_object *e = json_object_new_object();

		rc = e != NULL ? jx_add_str(e, "url", ep->url) : RC_NOMEM;
		if (rc == RC_OK)
			rc = ep->asked ? jx_add_bool(e, "reachable", ep->reached)
				       : add_str_or_null(e, "reachable", NULL);
		if (rc == RC_OK)
			rc = add_str_or_null(e, "error", ep->asked && !ep->reached ? ep->detail : NULL);
		if (rc == RC_OK)
			rc = add_taken(o, aws_service_name((enum aws_service)s), e);
		else
			json_object_put(e);
	}
	if (rc != RC_OK) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *json_item(const struct probe_item *it)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = o != NULL ? RC_OK : RC_NOMEM;

	if (rc == RC_OK)
		rc = jx_add_str(o, "kind", it->kind);
	if (rc == RC_OK)
		rc = jx_add_str(o, "name", it->name);
	if (rc == RC_OK)
		rc = it->state == PROBE_UNKNOWN ? add_str_or_null(o, "exists", NULL)
						: jx_add_bool(o, "exists", it->state == PROBE_EXISTS);
	if (rc == RC_OK)
		rc = add_str_or_null(o, "detail", it->detail);
	if (rc != RC_OK) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *json_queue(const struct probe_item *it)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = o != NULL ? RC_OK : RC_NOMEM;

	if (rc == RC_OK)
		rc = jx_add_str(o, "queue", it->queue);
	if (rc == RC_OK)
		rc = jx_add_str(o, "name", it->name);
	if (rc == RC_OK)
		rc = jx_add_bool(o, "dlq", strcmp(it->kind, "dlq") == 0);
	if (rc == RC_OK)
		rc = it->state == PROBE_UNKNOWN ? add_str_or_null(o, "exists", NULL)
						: jx_add_bool(o, "exists", it->state == PROBE_EXISTS);
	if (rc == RC_OK)
		rc = add_count(o, "visible", it->visible);
	if (rc == RC_OK)
		rc = add_count(o, "inFlight", it->in_flight);
	if (rc == RC_OK)
		rc = add_count(o, "delayed", it->delayed);
	if (rc != RC_OK) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *json_db(const struct probe_db *d)
{
	struct json_object *o = json_object_new_object();
	enum rc rc = o != NULL ? RC_OK : RC_NOMEM;

	if (rc == RC_OK)
		rc = jx_add_str(o, "country", d->country);
	if (rc == RC_OK)
		rc = jx_add_str(o, "target", d->target);
	if (rc == RC_OK)
		rc = jx_add_bool(o, "reachable", d->ok);
	if (rc == RC_OK && d->ok) {
		char ms[32];

		/* to 0.1 ms, as the human line: more digits would be noise */
		snprintf(ms, sizeof(ms), "%.1f", d->ms);
		rc = add_taken(o, "latencyMs", json_object_new_double_s(d->ms, ms));
	} else if (rc == RC_OK) {
		rc = add_str_or_null(o, "latencyMs", NULL);
	}
	if (rc == RC_OK)
		rc = add_str_or_null(o, "error", d->ok ? NULL : d->detail);
	if (rc != RC_OK) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The document of docs/appointmentctl.md ("info --json"). */
static enum rc json_doc(const struct probe *p, struct json_object **out)
{
	const struct cfg *c = p->x->cfg;
	struct json_object *doc = json_object_new_object();
	struct json_object *res = json_object_new_array();
	struct json_object *queues = json_object_new_array();
	struct json_object *dbs = json_object_new_array();
	struct json_object *counts = NULL, *pw = NULL;
	enum rc rc = doc != NULL && res != NULL && queues != NULL && dbs != NULL ? RC_OK : RC_NOMEM;

	if (rc == RC_OK)
		rc = jx_add_str(doc, "config", c->path);
	if (rc == RC_OK)
		rc = jx_add_str(doc, "stage", c->stage);
	if (rc == RC_OK)
		rc = jx_add_str(doc, "region", p->x->aws.region);
	if (rc == RC_OK)
		rc = add_taken(doc, "endpoints", json_endpoints(p));
	for (size_t i = 0; rc == RC_OK && i < p->n; i++) {
		rc = push(res, json_item(&p->items[i]));
		if (rc == RC_OK && p->items[i].queue[0] != '\0')
			rc = push(queues, json_queue(&p->items[i]));
	}
	if (rc == RC_OK) {
		rc = add_taken(doc, "resources", res);
		res = NULL;
	}
	if (rc == RC_OK) {
		rc = add_taken(doc, "queues", queues);
		queues = NULL;
	}
	if (rc == RC_OK && p->counts_known) {
		counts = json_object_new_object();
		for (int s = 0; counts != NULL && rc == RC_OK && s < APPT_STATUS_COUNT; s++)
			rc = jx_add_int64(counts, appt_status_name((enum appt_status)s), p->counts[s]);
		if (rc == RC_OK)
			rc = add_taken(doc, "appointments", counts);
		else
			json_object_put(counts);
	} else if (rc == RC_OK) {
		rc = add_str_or_null(doc, "appointments", NULL);
	}
	if (rc == RC_OK) {
		pw = json_object_new_object();
		rc = pw != NULL ? jx_add_str(pw, "source", p->password_source) : RC_NOMEM;
		if (rc == RC_OK)
			rc = add_str_or_null(pw, "error", p->password_ok ? NULL : p->password_detail);
		if (rc == RC_OK)
			rc = add_taken(doc, "password", pw);
		else
			json_object_put(pw);
	}
	for (size_t i = 0; rc == RC_OK && i < p->n_db; i++)
		rc = push(dbs, json_db(&p->db[i]));
	if (rc == RC_OK) {
		rc = add_taken(doc, "databases", dbs);
		dbs = NULL;
	}
	json_object_put(res);
	json_object_put(queues);
	json_object_put(dbs);
	if (rc != RC_OK) {
		json_object_put(doc);
		return RC_NOMEM;
	}
	*out = doc;
	return RC_OK;
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
