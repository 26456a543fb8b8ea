/* svc.c — signals, sd_notify, socket activation and config-at-start for daemons. */
#include "run/svc.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "config.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
/* Stand-ins so a build without libsystemd still runs (outside systemd). */
static int sd_notify(int unset_environment, const char *state)
{
	(void)unset_environment;
	(void)state;
	return 0;
}
static int sd_watchdog_enabled(int unset_environment, uint64_t *usec)
{
	(void)unset_environment;
	*usec = 0;
	return 0;
}
static int sd_listen_fds(int unset_environment)
{
	(void)unset_environment;
	return 0;
}
#define SD_LISTEN_FDS_START 3
#endif

bool svc_parse_args(int argc, char **argv, const char *name, const char *usage_extra,
		    struct svc_args *out, int *exit_code)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"country", required_argument, NULL, 'C'},
		{"check-config", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(out, 0, sizeof(*out));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			out->config_path = optarg;
			break;
		case 'C':
			out->country = optarg;
			break;
		case 'k':
			out->check_only = true;
			break;
		case 'h':
			printf("usage: %s [--config PATH] [--check-config]%s%s\n"
			       "  --config PATH    configuration file (default %s)\n"
			       "  --check-config   load and validate the configuration, then exit\n",
			       name, usage_extra != NULL ? " " : "", usage_extra != NULL ? usage_extra : "",
			       CONF_DEFAULT_PATH);
			*exit_code = SVC_EXIT_OK;
			return false;
		case 'V':
			printf("%s %s\n", name, APPT_VERSION);
			*exit_code = SVC_EXIT_OK;
			return false;
		default:
			fprintf(stderr, "%s: unknown or incomplete option '%s' (try --help)\n", name,
				argv[optind - 1]);
			*exit_code = SVC_EXIT_USAGE;
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", name, argv[optind]);
		*exit_code = SVC_EXIT_USAGE;
		return false;
	}
	return true;
}

bool svc_load_config(const char *name, const char *path, struct conf **out)
{
	struct errbuf eb = {{0}};
	enum rc rc = conf_load(path, NULL, out, &eb);

	if (rc != RC_OK) {
		fprintf(stderr, "%s: configuration error: %s\n", name, eb.msg);
		return false;
	}
	return true;
}

enum rc svc_init(struct svc *s, const struct logger *lg, struct errbuf *eb)
{
	sigset_t set;
	uint64_t usec = 0;

	s->sigfd = -1;
	s->watchdog_usec = 0;
	s->stop_signals = 0;
	s->reload_pending = false;
	s->lg = lg;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return eb_set(eb, RC_FATAL, "ignoring SIGPIPE: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return eb_set(eb, RC_FATAL, "blocking signals failed");
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return eb_set(eb, RC_FATAL, "signalfd: %s", strerror(errno));
	if (sd_watchdog_enabled(0, &usec) > 0)
		s->watchdog_usec = usec;
	s->last_ping_usec = clk_mono_us();
	return RC_OK;
}

void svc_cleanup(struct svc *s)
{
	if (s == NULL || s->sigfd < 0)
		return;
	close(s->sigfd);
	s->sigfd = -1;
}

enum svc_event svc_wait(struct svc *s, int timeout_ms)
{
	struct pollfd pfd = {.fd = s->sigfd, .events = POLLIN};
	struct signalfd_siginfo si;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return SVC_EV_NONE;
	n = read(s->sigfd, &si, sizeof(si));
	if (n != (ssize_t)sizeof(si))
		return SVC_EV_NONE;
	if (si.ssi_signo == SIGHUP)
		return SVC_EV_RELOAD;
	s->stop_signals++;
	return s->stop_signals > 1 ? SVC_EV_STOP_NOW : SVC_EV_STOP;
}

void svc_defer_reload(struct svc *s)
{
	s->reload_pending = true;
}

enum rc svc_listen_fd(const struct svc *s, int *fd, struct errbuf *eb)
{
	int n = sd_listen_fds(1);

	(void)s;
	*fd = -1;
	if (n > 1)
		return eb_set(eb, RC_INVAL,
			      "systemd passed %d listening sockets and one is served (the others "
			      "would never be accepted): keep one ListenStream= in the socket unit "
			      "([::]:PORT takes IPv4 and IPv6)",
			      n);
	if (n == 1)
		*fd = SD_LISTEN_FDS_START;
	return RC_OK;
}

static void notify(struct svc *s, const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		log_warn(s->lg, NULL, "sd_notify(%s) failed: %s", state, strerror(-r));
}

static void notify_line(struct svc *s, const char *prefix, const char *text)
{
	char state[sizeof(s->last_status) + 32];

	snprintf(state, sizeof(state), "%s%s", prefix, text);
	notify(s, state);
}

void svc_ready(struct svc *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_status, sizeof(s->last_status), fmt, ap);
	va_end(ap);
	notify_line(s, "READY=1\nSTATUS=", s->last_status);
}

void svc_status(struct svc *s, const char *fmt, ...)
{
	char status[sizeof(s->last_status)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	if (strcmp(status, s->last_status) == 0)
		return;
	memcpy(s->last_status, status, sizeof(status));
	notify_line(s, "STATUS=", status);
}

void svc_reloading(struct svc *s)
{
	char state[64];

	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)clk_mono_us());
	notify(s, state);
}

void svc_reloaded(struct svc *s)
{
	notify(s, "READY=1");
}

void svc_stopping(struct svc *s)
{
	notify(s, "STOPPING=1");
}

void svc_watchdog(struct svc *s)
{
	uint64_t now;

	if (s->watchdog_usec == 0)
		return;
	now = clk_mono_us();
	if (now - s->last_ping_usec < s->watchdog_usec / 2)
		return;
	s->last_ping_usec = now;
	notify(s, "WATCHDOG=1");
}
