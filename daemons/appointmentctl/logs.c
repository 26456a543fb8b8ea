/* logs.c — `appointmentctl logs [UNIT...] [options]`: a thin wrapper that runs journalctl
 * over appointmentd's units, so an operator need not remember unit names or journal fields.
 * `--request-id ID` becomes the journal match REQUEST_ID=ID (the field lib/base/log.c sends), which
 * follows one request through every daemon; `--print` prints the command instead of running
 * it. Reads no configuration: the unit names are fixed by the packaging. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define LOGS_UNITS_MAX 16  /* UNIT arguments */
#define LOGS_ID_MAX 128    /* a request or appointment id, bytes */
#define LOGS_NAME_MAX 128  /* a unit name we build, with NUL */
#define LOGS_OPTS_MAX 16   /* option words passed on (--since VALUE counts two) */
#define LOGS_ARGV_MAX (2 * LOGS_UNITS_MAX + LOGS_OPTS_MAX + 8) /* journalctl's argv + NULL */

#define UNIT_API "appointment-api.service"
#define UNIT_WORKERS "appointment-worker@*.service"
#define UNIT_COMPLETION "appointment-completion.service"
#define UNIT_RECONCILE "appointment-reconcile.service"

/* The unit of a UNIT argument into out: api, worker (every country), a country code or
 * worker@<cc>, completion, reconcile, or a full appointment* unit name as is. */
static bool unit_of(const char *arg, char out[LOGS_NAME_MAX])
{
	const char *cc = NULL;

	if (strcmp(arg, "api") == 0)
		return snprintf(out, LOGS_NAME_MAX, UNIT_API) > 0;
	if (strcmp(arg, "worker") == 0 || strcmp(arg, "workers") == 0)
		return snprintf(out, LOGS_NAME_MAX, UNIT_WORKERS) > 0;
	if (strcmp(arg, "completion") == 0)
		return snprintf(out, LOGS_NAME_MAX, UNIT_COMPLETION) > 0;
	if (strcmp(arg, "reconcile") == 0)
		return snprintf(out, LOGS_NAME_MAX, UNIT_RECONCILE) > 0;
	if (strncmp(arg, "worker@", 7) == 0)
		cc = arg + 7;
	else if (strlen(arg) == 2)
		cc = arg;
	if (cc != NULL) {
		if (strlen(cc) != 2 || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]))
			return false;
		return snprintf(out, LOGS_NAME_MAX, "appointment-worker@%c%c.service",
				tolower((unsigned char)cc[0]), tolower((unsigned char)cc[1])) > 0;
	}
	if (strncmp(arg, "appointment", 11) == 0 && strlen(arg) < LOGS_NAME_MAX) {
		for (const char *c = arg; *c != '\0'; c++)
			if (!isalnum((unsigned char)*c) && strchr("-_.@*", *c) == NULL)
				return false;
		return snprintf(out, LOGS_NAME_MAX, "%s", arg) > 0;
	}
	return false;
}

/* An id for a journal match: 1..LOGS_ID_MAX printable ASCII bytes without spaces. */
static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LOGS_ID_MAX)
		return false;
	for (const char *c = s; *c != '\0'; c++)
		if (*c <= ' ' || *c > '~')
			return false;
	return true;
}

/* Prints one argument for a POSIX shell: as is when it is plain, else single-quoted. */
static void print_quoted(FILE *f, const char *a)
{
	bool plain = a[0] != '\0';

	for (const char *c = a; *c != '\0' && plain; c++)
		plain = isalnum((unsigned char)*c) || strchr("@%+=:,./_-", *c) != NULL;
	if (plain) {
		fputs(a, f);
		return;
	}
	fputc('\'', f);
	for (const char *c = a; *c != '\0'; c++) {
		if (*c == '\'')
			fputs("'\\''", f);
		else
			fputc(*c, f);
	}
	fputc('\'', f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " CTL_NAME " logs [UNIT...] [-f] [--request-id ID] [--appointment-id ID]\n"
		"                          [--since TIME] [--until TIME] [-n N] [-p PRIORITY]\n"
		"                          [-o FORMAT] [--print]\n"
		"UNIT: api, worker (every country), a country code (pe) or worker@pe, completion,\n"
		"      reconcile, or a unit name; none = all of them\n"
		"--print shows the journalctl command instead of running it\n");
}

/* Options passed on to journalctl with their value. */
static const char *const passed[][2] = {
	{"--since", "--since"}, {"--until", "--until"}, {"-n", "-n"}, {"--lines", "-n"},
	{"-p", "-p"},           {"--priority", "-p"},   {"-o", "-o"}, {"--output", "-o"},
};

int ctl_cmd_logs(const char *config_path, int argc, char **argv)
{
	static const char *const fields[2] = {"REQUEST_ID", "APPOINTMENT_ID"};
	char units[LOGS_UNITS_MAX][LOGS_NAME_MAX];
	char matches[2][LOGS_ID_MAX + 32] = {"", ""}; /* FIELD=id, "" = none; a repeat replaces */
	const char *jargv[LOGS_ARGV_MAX];
	const char *opts[LOGS_OPTS_MAX];
	const char *v = NULL;
	size_t nunits = 0, nopts = 0, n = 0;
	bool follow = false, print = false;

	(void)config_path;
	for (int i = 1; i < argc; i++) {
		bool taken = false;
		int r;

		for (size_t k = 0; k < sizeof(passed) / sizeof(passed[0]) && !taken; k++) {
			r = ctl_opt_value(argc, argv, &i, passed[k][0], &v);
			if (r < 0)
				return ctl_die(CTL_EXIT_USAGE, "logs: %s needs a value", passed[k][0]);
			if (r > 0) {
				if (nopts + 2 > LOGS_OPTS_MAX)
					return ctl_die(CTL_EXIT_USAGE, "logs: too many options");
				opts[nopts++] = passed[k][1];
				opts[nopts++] = v;
				taken = true;
			}
		}
		for (int m = 0; m < 2 && !taken; m++) {
			const char *opt = m == 0 ? "--request-id" : "--appointment-id";

			r = ctl_opt_value(argc, argv, &i, opt, &v);
			if (r < 0 || (r > 0 && !id_ok(v)))
				return ctl_die(CTL_EXIT_USAGE, "logs: %s needs an id (1 to %d printable "
					       "characters, no spaces)", opt, LOGS_ID_MAX);
			if (r > 0) {
				snprintf(matches[m], sizeof(matches[m]), "%s=%s", fields[m], v);
				taken = true;
			}
		}
		if (taken)
			continue;
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			follow = true;
		} else if (strcmp(argv[i], "--print") == 0) {
			print = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return CTL_EXIT_OK;
		} else if (argv[i][0] != '-') {
			if (nunits == LOGS_UNITS_MAX)
				return ctl_die(CTL_EXIT_USAGE, "logs: at most %d units", LOGS_UNITS_MAX);
			if (!unit_of(argv[i], units[nunits]))
				return ctl_die(CTL_EXIT_USAGE, "logs: unknown unit '%s' (api, worker, a "
					       "country code, completion, reconcile or an "
					       "appointment* unit name)", argv[i]);
			nunits++;
		} else {
			return ctl_die(CTL_EXIT_USAGE, "logs: unknown argument '%s' (try logs --help)",
				       argv[i]);
		}
	}
	if (nunits == 0) {
		snprintf(units[nunits++], LOGS_NAME_MAX, UNIT_API);
		snprintf(units[nunits++], LOGS_NAME_MAX, UNIT_WORKERS);
		snprintf(units[nunits++], LOGS_NAME_MAX, UNIT_COMPLETION);
		snprintf(units[nunits++], LOGS_NAME_MAX, UNIT_RECONCILE);
	}

	/* journalctl ANDs the field matches with the OR of the units */
	jargv[n++] = "journalctl";
	for (size_t i = 0; i < nunits; i++) {
		jargv[n++] = "-u";
		jargv[n++] = units[i];
	}
	if (follow)
		jargv[n++] = "-f";
	for (size_t i = 0; i < nopts; i++)
		jargv[n++] = opts[i];
	for (int m = 0; m < 2; m++)
		if (matches[m][0] != '\0')
			jargv[n++] = matches[m];
	jargv[n] = NULL;

	if (print) {
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				fputc(' ', stdout);
			print_quoted(stdout, jargv[i]);
		}
		fputc('\n', stdout);
		return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
	}
	fflush(stdout);
	execvp(jargv[0], (char *const *)jargv);
	return ctl_die(errno == ENOENT ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_FAILURE,
		       "logs: cannot run journalctl: %s", strerror(errno));
}
