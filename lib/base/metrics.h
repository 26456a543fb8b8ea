/* metrics.h — a small thread-safe Prometheus registry (counters, gauges, histograms)
 * rendered in the text exposition format for /metrics (SPEC §7). */
#ifndef APPT_METRICS_H
#define APPT_METRICS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/rc.h"

#define METRICS_MAX_SERIES 2048  /* distinct name+labels kept; more are dropped and counted */
#define METRICS_MAX_LABELS 256   /* bytes of one rendered label set */
#define METRICS_MAX_FAMILIES 64  /* described metric names */

enum metrics_type {
	METRICS_COUNTER,   /* only goes up */
	METRICS_GAUGE,     /* goes up and down (in-flight) */
	METRICS_HISTOGRAM, /* observations in seconds, default latency buckets */
};

/* Opaque registry; one per daemon context. All calls are thread-safe. */
struct metrics;

/* Creates an empty registry; NULL on NOMEM. */
struct metrics *metrics_new(void);
/* Frees it; accepts NULL. */
void metrics_free(struct metrics *m);

/* Declares a family: its type and HELP text (both borrowed, static strings). Must be
 * called before the first update of that name. RC_INVAL on a clash or a full table. */
enum rc metrics_describe(struct metrics *m, const char *name, enum metrics_type type,
			 const char *help) MUSTCHECK;

/* Updates one series. labels is NULL or an even-length NULL-terminated list of
 * key, value strings ("route", "/appointments", "status", "201", NULL); values are
 * escaped here. Updates to an undescribed name or past METRICS_MAX_SERIES are
 * dropped (and counted in appointmentd_metrics_dropped_total), never an error for
 * the caller: metrics must not fail a request. */
void metrics_add(struct metrics *m, const char *name, const char *const *labels, double delta);
void metrics_set(struct metrics *m, const char *name, const char *const *labels, double value);
void metrics_observe(struct metrics *m, const char *name, const char *const *labels,
		     double seconds);

/* Appends the whole registry in the text format (version 0.0.4) to out. */
enum rc metrics_render(struct metrics *m, struct buf *out) MUSTCHECK;

#endif
