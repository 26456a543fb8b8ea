/* ctl.c — the run context and reporting every appointmentctl command shares (ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/core.h"
#include "secret.h"
#include "svc.h"

/* The process environment, with the config file's [aws] region and endpoint_url standing in
 * for AWS_REGION and AWS_ENDPOINT_URL when the environment has neither (cfg.h: "AWS_REGION
 * wins"). The per-service AWS_ENDPOINT_URL_<SVC> variables still beat both. */
static const char *env_with_cfg(void *ctx, const char *name)
{
	const struct cfg *c = ctx;
	const char *v = getenv(name);

	if (v != NULL)
		return v;
	if (strcmp(name, "AWS_REGION") == 0 && getenv("AWS_DEFAULT_REGION") == NULL &&
	    c->region[0] != '\0')
		return c->region;
	if (strcmp(name, "AWS_ENDPOINT_URL") == 0 && c->endpoint_url[0] != '\0')
		return c->endpoint_url;
	return NULL;
}

static enum rc resolve_aws(struct ctl *x, struct errbuf *eb)
{
	struct aws_env env = {env_with_cfg, x->cfg};
	enum rc rc = aws_config_from_env(&x->aws, &env, eb);

	x->has_aws = rc == RC_OK;
	return rc;
}

int ctl_open(struct ctl *x, const char *path, bool need_aws)
{
	struct errbuf eb = {{0}};

	memset(x, 0, sizeof(*x));
	x->out = stdout;
	x->tty = isatty(fileno(stdout)) == 1;
	if (!svc_load_config(CTL_NAME, path, &x->cfg))
		return CTL_EXIT_CONFIG;
	if (need_aws && resolve_aws(x, &eb) != RC_OK) {
		ctl_close(x);
		return ctl_die(CTL_EXIT_CONFIG, "AWS configuration error: %s", eb.msg);
	}
	return CTL_EXIT_OK;
}

void ctl_close(struct ctl *x)
{
	cfg_free(x->cfg);
	x->cfg = NULL;
	x->has_aws = false;
}

void ctl_line(struct ctl *x, const char *fmt, ...)
{
	va_list ap;

	x->step++;
	if (x->tty && x->steps > 0)
		fprintf(x->out, "[%d/%d] ", x->step, x->steps);
	va_start(ap, fmt);
	vfprintf(x->out, fmt, ap);
	va_end(ap);
	fputc('\n', x->out);
	fflush(x->out);
}

int ctl_fail(const struct errbuf *eb)
{
	/* stdout may hold progress lines that a pipe has not seen yet: keep the order */
	fflush(stdout);
	fprintf(stderr, CTL_NAME ": %s\n", eb->msg[0] != '\0' ? eb->msg : "failed");
	return CTL_EXIT_FAILURE;
}

int ctl_die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(CTL_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int ctl_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*i += 1;
	*val = argv[*i];
	return 1;
}

void ctl_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool ctl_arn_prefix(const char *arn, const char *service, char *out, size_t n)
{
	const char *p = arn;
	const char *part, *region;
	size_t part_len, region_len, account_len;
	int w;

	if (strncmp(p, "arn:", 4) != 0)
		return false;
	part = p + 4;
	p = strchr(part, ':');
	if (p == NULL)
		return false;
	part_len = (size_t)(p - part);
	p = strchr(p + 1, ':'); /* skip the service */
	if (p == NULL)
		return false;
	region = p + 1;
	p = strchr(region, ':');
	if (p == NULL)
		return false;
	region_len = (size_t)(p - region);
	account_len = strcspn(p + 1, ":");
	if (part_len == 0 || region_len == 0 || account_len == 0 || p[1 + account_len] != ':')
		return false;
	w = snprintf(out, n, "arn:%.*s:%s:%.*s:%.*s:", (int)part_len, part, service,
		     (int)region_len, region, (int)account_len, p + 1);
	return w > 0 && (size_t)w < n;
}

enum rc ctl_db_password(struct ctl *x, char **pw, struct errbuf *eb)
{
	struct errbuf aws_eb = {{0}};
	enum secret_source src;
	enum rc rc;

	*pw = NULL;
	/* SSM is the last source; without a usable AWS environment it is simply not asked, so a
	 * machine with RDS_PASSWORD or a credential needs no AWS settings to migrate. */
	if (!x->has_aws && resolve_aws(x, &aws_eb) != RC_OK)
		x->has_aws = false;
	rc = secret_rds_password(x->cfg, x->has_aws ? &x->aws : NULL, pw, &src, eb);
	if (rc == RC_NOTFOUND) {
		/* no password anywhere: libpq may still use PGPASSWORD, ~/.pgpass or trust */
		eb->msg[0] = '\0';
		return RC_OK;
	}
	return rc;
}
