/* svc.h — systemd and signals for run/lifecycle (STYLE rule 9): signals taken through a
 * signalfd in the main loop, sd_notify READY/STATUS/RELOADING/STOPPING/WATCHDOG, socket
 * activation, arguments, and config loading at start with exit 78. Without libsystemd the
 * notify calls are no-ops. */
#ifndef APPT_SVC_H
#define APPT_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "app/conf.h"
#include "base/log.h"
#include "base/rc.h"

/* Exit statuses (sysexits.h where one fits). */
#define SVC_EXIT_OK 0
#define SVC_EXIT_FAILURE 1      /* runtime failure; systemd restarts on-failure */
#define SVC_EXIT_USAGE 64       /* bad command line */
#define SVC_EXIT_CONFIG CFG_EXIT_CONFIG

/* What svc_wait saw. */
enum svc_event {
	SVC_EV_NONE,     /* timeout: nothing happened */
	SVC_EV_STOP,     /* first SIGTERM/SIGINT: drain and exit */
	SVC_EV_STOP_NOW, /* a second one: exit at once */
	SVC_EV_RELOAD,   /* SIGHUP: reload the configuration */
};

/* Lifecycle state; embedded in a daemon's top-level context. */
struct svc {
	int sigfd;               /* signalfd for TERM, INT, HUP; -1 before svc_init */
	uint64_t watchdog_usec;  /* WatchdogSec in µs, 0 when no watchdog is set */
	uint64_t last_ping_usec; /* CLOCK_MONOTONIC of the last WATCHDOG=1 */
	int stop_signals;        /* TERM/INT received so far */
	bool reload_pending;     /* a SIGHUP taken before the main loop ran (svc_defer_reload) */
	char last_status[256];   /* last STATUS= sent: an unchanged one is not resent */
	const struct logger *lg; /* where sd_notify failures are logged; borrowed */
};

/* Standard options every daemon takes. */
struct svc_args {
	const char *config_path; /* --config PATH, or NULL for the default */
	const char *country;     /* --country XX (worker), or NULL */
	bool check_only;         /* --check-config: load, report, exit */
};

/* Parses --config, --country, --check-config, --help, --version. On --help or
 * --version prints and returns false with *exit_code = 0; on a bad option prints
 * one line to stderr and returns false with *exit_code = SVC_EXIT_USAGE. */
bool svc_parse_args(int argc, char **argv, const char *name, const char *usage_extra,
		    struct svc_args *out, int *exit_code);

/* Loads the configuration; on failure prints "NAME: <reason>" to stderr and
 * returns false, and the caller exits SVC_EXIT_CONFIG. Takes no ownership. */
bool svc_load_config(const char *name, const char *path, struct conf **out);

/* Blocks TERM/INT/HUP, ignores PIPE, opens the signalfd and reads the watchdog
 * interval. Must run before any thread exists (libcurl, libpq, MHD threads inherit
 * the mask). lg is borrowed for the life of s. */
enum rc svc_init(struct svc *s, const struct logger *lg, struct errbuf *eb) MUSTCHECK;
/* Closes the signalfd; accepts a never-initialised (zeroed with sigfd -1) struct. */
void svc_cleanup(struct svc *s);

/* Waits up to timeout_ms for a signal. Call it from the loop that does the work. */
enum svc_event svc_wait(struct svc *s, int timeout_ms);
/* A waiter before the main loop (a start that waits for a dependency) got SVC_EV_RELOAD:
 * the main loop reloads once it runs, so a SIGHUP sent during the start is not lost. */
void svc_defer_reload(struct svc *s);

/* The listening socket passed by systemd (LISTEN_FDS) in *fd, or -1 when none. RC_INVAL
 * when more than one was passed: the server serves one, and a connection to another
 * would wait in its backlog for ever. */
enum rc svc_listen_fd(const struct svc *s, int *fd, struct errbuf *eb) MUSTCHECK;

/* READY=1 plus STATUS=<status>. */
void svc_ready(struct svc *s, const char *fmt, ...) PRINTF(2, 3);
/* STATUS=<status>: one line an operator sees in `systemctl status`; sent only when
 * it differs from the last one (sd_notify blocks while the manager is busy). */
void svc_status(struct svc *s, const char *fmt, ...) PRINTF(2, 3);
/* RELOADING=1 with MONOTONIC_USEC, before a reload. Follow with svc_reloaded. */
void svc_reloading(struct svc *s);
/* READY=1 after a reload (STATUS= stays what it was). */
void svc_reloaded(struct svc *s);
/* STOPPING=1, when the drain starts. */
void svc_stopping(struct svc *s);
/* WATCHDOG=1 when half the interval has passed since the last ping; call it only
 * from a loop that is making progress, so a stuck loop stops pinging. */
void svc_watchdog(struct svc *s);

#endif
