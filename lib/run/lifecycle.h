/* lifecycle.h — the whole life of every daemon, written once (STYLE rules 7-9): arguments,
 * configuration, logging, signals, AWS, the daemon's own start, READY=1, the main loop
 * (signals, reload, STATUS=, WATCHDOG=1 only while the daemon's work makes progress) and the
 * stop (STOPPING=1, quiesce, a bounded drain that a second SIGTERM cuts short, teardown;
 * past the drain's deadline, the bounded part of it and an exit that abandons the rest).
 * A daemon supplies its parts in struct lifecycle_app; the API and the queue daemons
 * (run/qdaemon) both run on it. */
#ifndef APPT_LIFECYCLE_H
#define APPT_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "app/conf.h"
#include "aws/core.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/rc.h"
#include "run/svc.h"

/* What lifecycle_main owns for the process: configuration snapshots, logger, signals,
 * AWS settings, metrics. Opaque; the daemon's parts reach it through the calls below. */
struct lifecycle;

/* The parts of one daemon. Every callback gets the app pointer setup returned. Unless said
 * otherwise they run on the main thread; NULL members are skipped. */
struct lifecycle_app {
	const char *service;     /* "appointment-api": logs, usage, messages */
	const char *usage_extra; /* extra usage text ("--country XX"), or NULL */
	bool needs_country;      /* --country XX is required (a usage error, 64, without) */
	const void *ud;          /* handed to setup (e.g. a family of daemons' own table) */

	/* After configuration, logging, signals (blocked: no thread yet) and AWS: builds the
	 * daemon's context. RC_INVAL is a configuration error (exit 78), others exit 1. With
	 * --check-config the process exits 0 right after it. Required. */
	enum rc (*setup)(struct lifecycle *lc, const void *ud, void **app, struct errbuf *eb);
	/* Starts the work (listeners, threads); READY=1 follows with the status it wrote.
	 * RC_OK: ready. RC_NOTFOUND: a stop came while it waited (exit 0, no READY). Others:
	 * exit 1 (RC_INVAL: 78), eb logged. Required. */
	enum rc (*start)(void *app, char *status, size_t n, struct errbuf *eb);
	/* SIGHUP, after the file was read and merged: next (a copy of the running configuration
	 * with the reloadable keys from the file) becomes current when this returns RC_OK;
	 * apply what the daemon holds apart (rates, API keys, CORS). A failure keeps the running
	 * configuration (eb is logged). The log level is the lifecycle's own business. */
	enum rc (*reload)(void *app, const struct conf *next, struct errbuf *eb);
	/* About every second (more often with a short watchdog): true when the daemon's work
	 * made progress since the last call (false: no WATCHDOG=1, so systemd restarts a stuck
	 * daemon), and the STATUS= line. Required. */
	bool (*tick)(void *app, char *status, size_t n);
	/* First SIGTERM, before quiesce: stop reporting ready (a load balancer's health check
	 * takes the host out) and return how long to go on serving before quiesce, in ms (0:
	 * none). Counts against drain_ms; a second SIGTERM meanwhile exits at once. */
	int (*lame_duck)(void *app);
	/* The longest drain, ms, lame duck included, as the configuration c (the one current at
	 * the first SIGTERM) sets it: below the unit's TimeoutStopSec. Required. */
	int (*drain_ms)(const struct conf *c);
	/* First SIGTERM: stop taking new work (the listener, the receiver). Required. */
	void (*quiesce)(void *app);
	/* Waits up to timeout_ms for the work in flight; true when none is left. Called in short
	 * slices so that a second SIGTERM is seen. Required. */
	bool (*drain)(void *app, int timeout_ms);
	/* Work in flight now, for STATUS= and the drain's log line. */
	unsigned (*in_flight)(void *app);
	/* The drain ran out of time with work in flight: the bounded parts of the teardown that
	 * matter (a consumer's deletes of finished messages, releases of those not started),
	 * within timeout_ms, without waiting for the work still running or freeing anything it
	 * may touch: the process exits right after, without teardown. Returns how much work is
	 * abandoned. NULL: nothing to do (in_flight counts it). */
	unsigned (*abandon)(void *app, int timeout_ms);
	/* Readers of lifecycle_conf other than the main thread, numbered as they start (HTTP
	 * requests): readers_next is the number the next one gets, readers_oldest the number of
	 * the oldest one still running (UINT64_MAX when none). NULL: no such readers (only the
	 * configuration setup saw may be kept by long-lived contexts, and that one lives until
	 * exit). */
	uint64_t (*readers_next)(void *app);
	uint64_t (*readers_oldest)(void *app);
	/* Frees the context, after a drain that finished in time (or at once when setup
	 * succeeded and start did not); never after one that timed out (abandon). Required. */
	void (*teardown)(void *app);
};

/* Runs the daemon; returns the process exit status. It never returns after a second SIGTERM
 * during the drain (ending the process at once with SVC_EXIT_FAILURE) and after a drain that
 * ran out of time (ending it with SVC_EXIT_OK once the app's abandon is done). */
int lifecycle_main(int argc, char **argv, const struct lifecycle_app *app);

/* The current configuration. Any thread. Valid for the rest of the calling unit of work:
 * the main thread until it next returns to the lifecycle; a reader counted by readers_*
 * until it ends; the configuration seen during setup until exit. After a reload, later
 * calls give the new one; an old one is freed once no reader that could hold it runs. */
const struct conf *lifecycle_conf(struct lifecycle *lc);

/* The process's logger (level changed atomically on reload), AWS settings, metrics
 * registry, parsed arguments and signals. Valid until exit. */
struct logger *lifecycle_log(struct lifecycle *lc);
const struct aws_config *lifecycle_aws(struct lifecycle *lc);
struct metrics *lifecycle_metrics(struct lifecycle *lc);
const struct svc_args *lifecycle_args(struct lifecycle *lc);
struct svc *lifecycle_svc(struct lifecycle *lc);

/* Reloads done, and configurations retired and not yet freed (tests, STATUS=). */
uint64_t lifecycle_reloads(const struct lifecycle *lc);
size_t lifecycle_retired(const struct lifecycle *lc);

#endif
