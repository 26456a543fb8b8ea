/* awscfg.c — environment lookups with the config file's fallbacks. The
 * per-service AWS_ENDPOINT_URL_<SVC> variables still beat both. */
#include "app/awscfg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* getenv, with a set-but-empty variable read as unset, as the SDKs do ("AWS_REGION=" in an
 * EnvironmentFile must not hide the config file's region). */
static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *env_with_cfg(void *ctx, const char *name)
{
	const struct conf *c = ctx;
	const char *v = env_nonempty(name);

	if (v != NULL)
		return v;
	if (strcmp(name, "AWS_REGION") == 0 && env_nonempty("AWS_DEFAULT_REGION") == NULL &&
	    c->region[0] != '\0')
		return c->region;
	if (strcmp(name, "AWS_ENDPOINT_URL") == 0 && c->endpoint_url[0] != '\0')
		return c->endpoint_url;
	return NULL;
}

enum rc awscfg_resolve(const struct conf *c, struct aws_config *out, struct errbuf *eb)
{
	struct aws_env env = {env_with_cfg, (void *)(uintptr_t)c};

	return aws_config_from_env(out, &env, eb);
}
