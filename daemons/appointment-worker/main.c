/* appointment-worker — placeholder wiring until its issue lands: it loads and validates the
 * configuration (exit 78 when bad), reports READY to systemd and waits for a stop. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "svc.h"

#define SERVICE_NAME "appointment-worker"

/* The systemd instance is lower case (appointment-worker@pe); sections are upper. */
static bool country_configured(const struct cfg *cfg, const char *arg)
{
	char code[3];

	if (strlen(arg) != 2)
		return false;
	code[0] = (char)toupper((unsigned char)arg[0]);
	code[1] = (char)toupper((unsigned char)arg[1]);
	code[2] = '\0';
	return cfg_country_find(cfg, code) != NULL;
}

int main(int argc, char **argv)
{
	struct svc_args args;
	struct cfg *cfg = NULL;
	struct logger lg;
	struct svc svc = {.sigfd = -1};
	struct errbuf eb = {{0}};
	int code = SVC_EXIT_OK;

	if (!svc_parse_args(argc, argv, SERVICE_NAME, "--country XX", &args, &code))
		return code;
	if (!svc_load_config(SERVICE_NAME, args.config_path, &cfg))
		return SVC_EXIT_CONFIG;
	if (args.country == NULL) {
		fprintf(stderr, SERVICE_NAME ": --country XX is required (the unit instance, e.g. pe)\n");
		code = SVC_EXIT_USAGE;
		goto out;
	}
	if (!country_configured(cfg, args.country)) {
		fprintf(stderr, SERVICE_NAME ": configuration error: %s: no [country %s] section\n",
			cfg->path, args.country);
		code = SVC_EXIT_CONFIG;
		goto out;
	}
	if (args.check_only)
		goto out;
	log_init(&lg, SERVICE_NAME, cfg->log_level);
	if (svc_init(&svc, &lg, &eb) != RC_OK) {
		log_error(&lg, NULL, "startup failed: %s", eb.msg);
		code = SVC_EXIT_FAILURE;
		goto out;
	}
	log_warn(&lg, NULL, "placeholder build: configuration loaded (stage %s), no work done yet",
		 cfg->stage);
	svc_ready(&svc, "placeholder: idle");
	(void)svc_run(&svc, NULL);
	log_info(&lg, NULL, "stopped");
out:
	svc_cleanup(&svc);
	cfg_free(cfg);
	return code;
}
