/* appointmentctl — operator tool (SPEC §8). main() only wires: global options, the command
 * table, process-wide library setup; each command lives in its own file (ctl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/core.h"
#include "app/conf.h"
#include "ctl.h"

/* One command: its name, what runs it, its line in --help. */
struct command {
	const char *name;
	int (*run)(const char *config_path, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"check", ctl_cmd_check,
	 "validate the configuration and reach everything it names [--print-config]"},
	{"info", ctl_cmd_info, "endpoints, resources, queue depths, counts by status [--json]"},
	{"provision", ctl_cmd_provision,
	 "create what is missing in AWS for the stage [--only LIST] [--password-from-env] "
	 "[--env-file PATH]"},
	{"migrate", ctl_cmd_migrate, "apply sql/ to every country database [--sql-dir DIR]"},
	{"seed", ctl_cmd_seed, "reference data and future schedules per country [--count N]"},
	{"redrive", ctl_cmd_redrive,
	 "move a DLQ's messages back to its queue: QUEUE [--dry-run] [--max N]"},
	{"reconcile", ctl_cmd_reconcile,
	 "re-publish stuck pending, re-announce stuck processed [--older-than S] [--every S]"},
	{"logs", ctl_cmd_logs, "journalctl over the units [UNIT...] [-f] [--request-id ID] ..."},
	{"destroy", ctl_cmd_destroy, "delete everything provision made (needs --yes)"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " CTL_NAME " [--config PATH] COMMAND [OPTIONS]\n"
		   "  --config PATH  configuration file (default " CONF_DEFAULT_PATH ")\n"
		   "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "COMMAND --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	const char *config_path = NULL;
	struct errbuf eb = {{0}};
	char **cargv = NULL;
	int cargc = 0;
	int code = CTL_EXIT_OK;

	/* the command's own argv: its name, then its options, with --config (accepted before
	 * or after the command) taken out */
	cargv = calloc((size_t)argc + 1, sizeof(*cargv));
	if (cargv == NULL)
		return ctl_die(CTL_EXIT_FAILURE, "out of memory");
	for (int i = 1; i < argc; i++) {
		int r = ctl_opt_value(argc, argv, &i, "--config", &config_path);

		if (r < 0) {
			code = ctl_die(CTL_EXIT_USAGE, "--config needs a path");
			goto out;
		}
		if (r > 0)
			continue;
		if (cargc == 0 && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
			usage(stdout);
			goto out;
		}
		if (cargc == 0 && argv[i][0] == '-') {
			code = ctl_die(CTL_EXIT_USAGE, "unknown option '%s' (try --help)", argv[i]);
			goto out;
		}
		cargv[cargc++] = argv[i];
	}
	if (cargc == 0) {
		usage(stderr);
		code = CTL_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(cargv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		code = ctl_die(CTL_EXIT_USAGE, "unknown command '%s' (try --help)", cargv[0]);
		goto out;
	}
	/* curl's global state, set up once before anything could start a thread */
	if (aws_global_init(&eb) != RC_OK) {
		code = ctl_die(CTL_EXIT_FAILURE, "startup failed: %s", eb.msg);
		goto out;
	}
	code = cmd->run(config_path, cargc, cargv);
	aws_global_cleanup();
out:
	free(cargv);
	return code;
}
