/* appointment-api — placeholder wiring until its issue lands: it loads and validates the
 * configuration (exit 78 when bad), reports READY to systemd and waits for a stop. */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "svc.h"

#define SERVICE_NAME "appointment-api"

int main(int argc, char **argv)
{
	struct svc_args args;
	struct cfg *cfg = NULL;
	struct logger lg;
	struct svc svc = {.sigfd = -1};
	struct errbuf eb = {{0}};
	int code = SVC_EXIT_OK;

	if (!svc_parse_args(argc, argv, SERVICE_NAME, NULL, &args, &code))
		return code;
	if (!svc_load_config(SERVICE_NAME, args.config_path, &cfg))
		return SVC_EXIT_CONFIG;
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
