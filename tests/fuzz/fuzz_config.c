/* fuzz_config.c — the configuration parser (app/conf over base/cfg): the input is a
 * config file, read from a memfd through /proc/self/fd (conf_load takes a path), with an
 * empty environment. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/conf.h"
#include "fuzz.h"

static const char *no_env(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	const struct cfg_env env = {no_env, NULL, NULL};
	struct errbuf eb = {{0}};
	struct conf *c = NULL;
	char path[64];

	if (fd < 0)
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (conf_load(path, &env, &c, &eb) == RC_OK)
		conf_free(c);
	return 0;
}
