/* appointmentctl — operator tool. Today: `check` (validate and print the effective
 * configuration). provision, migrate, seed, info, redrive, reconcile and destroy
 * arrive with their issues and say so until then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "svc.h"

#define TOOL_NAME "appointmentctl"
#define EXIT_UNAVAILABLE 69 /* sysexits EX_UNAVAILABLE: command not available yet */

static const char *const pending_commands[] = {
	"provision", "migrate", "seed", "info", "redrive", "reconcile", "destroy",
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " TOOL_NAME " [--config PATH] COMMAND\n"
		   "commands:\n"
		   "  check       validate the configuration and print every effective value\n");
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	const char *cmd = NULL;
	struct cfg *cfg = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return SVC_EXIT_OK;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, TOOL_NAME ": unknown option '%s' (try --help)\n", argv[i]);
			return SVC_EXIT_USAGE;
		} else {
			cmd = argv[i];
			break;
		}
	}
	if (cmd == NULL) {
		usage(stderr);
		return SVC_EXIT_USAGE;
	}
	for (size_t p = 0; p < sizeof(pending_commands) / sizeof(pending_commands[0]); p++) {
		if (strcmp(cmd, pending_commands[p]) == 0) {
			fprintf(stderr, TOOL_NAME ": '%s' is not implemented in this build yet\n", cmd);
			return EXIT_UNAVAILABLE;
		}
	}
	if (strcmp(cmd, "check") != 0) {
		fprintf(stderr, TOOL_NAME ": unknown command '%s' (try --help)\n", cmd);
		return SVC_EXIT_USAGE;
	}
	if (!svc_load_config(TOOL_NAME, config_path, &cfg))
		return SVC_EXIT_CONFIG;
	cfg_dump(cfg, stdout);
	cfg_free(cfg);
	return SVC_EXIT_OK;
}
