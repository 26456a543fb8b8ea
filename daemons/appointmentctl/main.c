/* appointmentctl — operator tool (SPEC §8). main() only wires: global options, the command
 * table, process-wide library setup; each command lives in its own file (ctl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/core.h"
#include "cfg.h"
#include "ctl.h"
#include "svc.h"

#define EXIT_UNAVAILABLE 69 /* sysexits EX_UNAVAILABLE: command not available yet */

/* One command. run is NULL for a command that arrives with a later issue. */
struct command {
	const char *name;
	int (*run)(const char *config_path, int argc, char **argv);
	const char *summary;
};

static int cmd_check(const char *config_path, int argc, char **argv)
{
	struct cfg *cfg = NULL;

	if (argc > 1)
		return ctl_die(CTL_EXIT_USAGE, "check: unknown argument '%s'", argv[1]);
	if (!svc_load_config(CTL_NAME, config_path, &cfg))
		return CTL_EXIT_CONFIG;
	cfg_dump(cfg, stdout);
	cfg_free(cfg);
	return CTL_EXIT_OK;
}

static const struct command commands[] = {
	{"check", cmd_check, "validate the configuration and print every effective value"},
	{"provision", ctl_cmd_provision,
	 "create what is missing in AWS for the stage [--password-from-env] [--env-file PATH]"},
	{"migrate", ctl_cmd_migrate, "apply sql/ to every country database [--sql-dir DIR]"},
	{"seed", ctl_cmd_seed, "reference data and future schedules per country [--count N]"},
	{"destroy", ctl_cmd_destroy, "delete everything provision made (needs --yes)"},
	{"info", NULL, NULL},
	{"redrive", NULL, NULL},
	{"reconcile", NULL, NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " CTL_NAME " [--config PATH] COMMAND [OPTIONS]\n"
		   "  --config PATH  configuration file (default " CFG_DEFAULT_PATH ")\n"
		   "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i].run != NULL)
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
	if (cmd->run == NULL) {
		code = ctl_die(EXIT_UNAVAILABLE, "'%s' is not implemented in this build yet",
			       cmd->name);
		goto out;
	}
	/* curl and libxml2 global state, set up once before anything could start a thread */
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
