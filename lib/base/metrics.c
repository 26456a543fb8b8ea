/* metrics.c — registry behind one mutex; series found through an open-addressing
 * hash of name + rendered labels. Updates are a hash and a few adds: cheap enough
 * for every request without per-thread shards. */
#include "base/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (METRICS_MAX_SERIES * 2) /* load factor <= 0.5 */

static const double latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					 0.5,   1,    2.5,   5,    10,  30};
#define N_BUCKETS (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

struct family {
	const char *name;
	const char *help;
	enum metrics_type type;
};

struct series {
	int family_1;                    /* index into families + 1; 0 = empty slot */
	char labels[METRICS_MAX_LABELS]; /* rendered: route="/x",status="201" */
	double value;                    /* counter / gauge value, histogram sum */
	uint64_t count;                  /* histogram observations */
	uint64_t buckets[N_BUCKETS];     /* histogram: observations <= bound (not cumulative) */
};

struct metrics {
	pthread_mutex_t lock;
	struct family families[METRICS_MAX_FAMILIES];
	int n_families;
	struct series *slots; /* SLOTS entries */
	int n_series;
	uint64_t dropped;     /* updates we could not record */
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->slots = calloc(SLOTS, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	/* empty is 0, as calloc left it: a slot's pages stay unmapped until a series lands in
	 * them (1.5 MB of the table, which a loop marking slots empty made resident at start) */
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->slots);
	free(m);
}

static int family_find(const struct metrics *m, const char *name)
{
	for (int i = 0; i < m->n_families; i++)
		if (strcmp(m->families[i].name, name) == 0)
			return i;
	return -1;
}

enum rc metrics_describe(struct metrics *m, const char *name, enum metrics_type type,
			 const char *help)
{
	enum rc rc = RC_OK;
	int i;

	pthread_mutex_lock(&m->lock);
	i = family_find(m, name);
	if (i >= 0) {
		if (m->families[i].type != type)
			rc = RC_INVAL;
	} else if (m->n_families >= METRICS_MAX_FAMILIES) {
		rc = RC_INVAL;
	} else {
		m->families[m->n_families].name = name;
		m->families[m->n_families].help = help;
		m->families[m->n_families].type = type;
		m->n_families++;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Renders key="value",... with Prometheus escaping; false when it does not fit. */
static bool render_labels(const char *const *labels, char out[METRICS_MAX_LABELS])
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
		const char *k = labels[i];
		const char *v = labels[i + 1];
		size_t kl = strlen(k);

		if (n + kl + 4 >= METRICS_MAX_LABELS)
			return false;
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, k, kl);
		n += kl;
		out[n++] = '=';
		out[n++] = '"';
		for (; *v != '\0'; v++) {
			const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
			size_t el = esc != NULL ? 2 : 1;

			if (n + el + 2 >= METRICS_MAX_LABELS)
				return false;
			if (esc != NULL)
				memcpy(out + n, esc, 2);
			else
				out[n] = *v;
			n += el;
		}
		out[n++] = '"';
		out[n] = '\0';
	}
	return true;
}

static uint64_t hash(int family, const char *labels)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)family;

	for (; *labels != '\0'; labels++)
		h = (h ^ (unsigned char)*labels) * 1099511628211ull;
	return h;
}

/* The series for name+labels, created if new; NULL (and counted) when impossible.
 * also_gauge: a gauge family is accepted too (metrics_add moves gauges both ways).
 * Called with the lock held. */
static struct series *series_get(struct metrics *m, const char *name, const char *const *labels,
				 enum metrics_type type, bool also_gauge)
{
	char rendered[METRICS_MAX_LABELS];
	int f = family_find(m, name);
	size_t i;
	bool type_ok = f >= 0 && (m->families[f].type == type ||
				  (also_gauge && m->families[f].type == METRICS_GAUGE));

	if (!type_ok || !render_labels(labels, rendered)) {
		m->dropped++;
		return NULL;
	}
	for (i = hash(f, rendered) % SLOTS;; i = (i + 1) % SLOTS) {
		struct series *s = &m->slots[i];

		if (s->family_1 == f + 1 && strcmp(s->labels, rendered) == 0)
			return s;
		if (s->family_1 == 0)
			break;
	}
	if (m->n_series >= METRICS_MAX_SERIES) {
		m->dropped++;
		return NULL;
	}
	m->slots[i].family_1 = f + 1;
	memcpy(m->slots[i].labels, rendered, sizeof(rendered));
	m->n_series++;
	return &m->slots[i];
}

void metrics_add(struct metrics *m, const char *name, const char *const *labels, double delta)
{
	struct series *s;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s = series_get(m, name, labels, METRICS_COUNTER, true);
	if (s != NULL)
		s->value += delta;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set(struct metrics *m, const char *name, const char *const *labels, double value)
{
	struct series *s;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s = series_get(m, name, labels, METRICS_GAUGE, false);
	if (s != NULL)
		s->value = value;
	pthread_mutex_unlock(&m->lock);
}

void metrics_observe(struct metrics *m, const char *name, const char *const *labels,
		     double seconds)
{
	struct series *s;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	s = series_get(m, name, labels, METRICS_HISTOGRAM, false);
	if (s != NULL) {
		s->value += seconds;
		s->count++;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			if (seconds <= latency_buckets[b]) {
				s->buckets[b]++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

static enum rc render_histogram(const struct family *fam, const struct series *s, struct buf *out)
{
	const char *sep = s->labels[0] != '\0' ? "," : "";
	uint64_t cum = 0;
	enum rc rc = RC_OK;

	for (size_t b = 0; b < N_BUCKETS && rc == RC_OK; b++) {
		cum += s->buckets[b];
		rc = buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", fam->name, s->labels, sep,
				latency_buckets[b], (unsigned long long)cum);
	}
	if (rc == RC_OK)
		rc = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
				fam->name, s->labels, sep, (unsigned long long)s->count, fam->name,
				s->labels, s->value, fam->name, s->labels, (unsigned long long)s->count);
	return rc;
}

enum rc metrics_render(struct metrics *m, struct buf *out)
{
	enum rc rc = RC_OK;

	pthread_mutex_lock(&m->lock);
	for (int f = 0; f < m->n_families && rc == RC_OK; f++) {
		const struct family *fam = &m->families[f];

		rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
				type_name(fam->type));
		for (size_t i = 0; i < SLOTS && rc == RC_OK; i++) {
			const struct series *s = &m->slots[i];

			if (s->family_1 != f + 1)
				continue;
			if (fam->type == METRICS_HISTOGRAM)
				rc = render_histogram(fam, s, out);
			else if (s->labels[0] != '\0')
				rc = buf_printf(out, "%s{%s} %.17g\n", fam->name, s->labels, s->value);
			else
				rc = buf_printf(out, "%s %.17g\n", fam->name, s->value);
		}
	}
	if (rc == RC_OK)
		rc = buf_printf(out, "# HELP appointmentd_metrics_dropped_total Metric updates not "
				     "recorded (undeclared name or too many series).\n"
				     "# TYPE appointmentd_metrics_dropped_total counter\n"
				     "appointmentd_metrics_dropped_total %llu\n",
				(unsigned long long)m->dropped);
	pthread_mutex_unlock(&m->lock);
	return rc;
}
