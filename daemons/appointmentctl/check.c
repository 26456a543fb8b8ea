/* check.c — `appointmentctl check`: validates the configuration (loading it is the
 * validation: exit 78 and one line when it is bad), then reaches every endpoint, table,
 * queue, DLQ, topic, the bus, the SSM parameter and every country database it names, one
 * line each, `ok|FAIL <kind> <name> (<detail>)`; exit 0 when every line is ok, else 1 (the
 * serverless reference's `validate`). `check --print-config` prints every effective value
 * instead and reaches nothing. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "run/svc.h"

static void line(FILE *f, bool ok, int *failed, const char *kind, const char *name,
		 const char *fmt, ...) PRINTF(6, 7);

static void line(FILE *f, bool ok, int *failed, const char *kind, const char *name,
		 const char *fmt, ...)
{
	va_list ap;

	if (!ok)
		(*failed)++;
	fprintf(f, "%s %s %s (", ok ? "ok" : "FAIL", kind, name);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputs(")\n", f);
}

/* Whether the SSM parameter may be absent: the password comes from elsewhere (or, with no
 * source at all, libpq's own; the database lines say whether that works). */
static const char *parameter_absent_note(const struct probe *p)
{
	if (strcmp(p->password_source, "credential") == 0)
		return "absent; not needed: the password comes from the credential rds-password";
	if (strcmp(p->password_source, "environment") == 0)
		return "absent; not needed: the password comes from RDS_PASSWORD";
	return "absent: no password configured anywhere; libpq's PGPASSWORD, ~/.pgpass or trust "
	       "must do";
}

static int report(const struct probe *p, FILE *f)
{
	const struct conf *c = p->x->cfg;
	int failed = 0;

	line(f, true, &failed, "config", c->path, "stage %s, %zu countries, region %s", c->stage,
	     c->n_countries, p->x->aws.region);
	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		const struct probe_endpoint *ep = &p->ep[s];
		const char *svc = aws_service_name((enum aws_service)s);

		if (ep->reached)
			line(f, true, &failed, "endpoint", svc, "%s", ep->url);
		else if (ep->asked)
			line(f, false, &failed, "endpoint", svc, "%s: %s", ep->url, ep->detail);
		else
			line(f, false, &failed, "endpoint", svc, "%s: no call could be made", ep->url);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct probe_item *it = &p->items[i];
		const char *detail = it->detail[0] != '\0' ? it->detail : "exists";

		if (strcmp(it->kind, "ssm-parameter") == 0 && it->state == PROBE_MISSING)
			line(f, true, &failed, it->kind, it->name, "%s", parameter_absent_note(p));
		else if (it->state == PROBE_EXISTS)
			line(f, true, &failed, it->kind, it->name, "%s", detail);
		else if (it->state == PROBE_MISSING)
			line(f, false, &failed, it->kind, it->name, "does not exist");
		else
			line(f, false, &failed, it->kind, it->name, "%s", detail);
	}
	if (p->password_ok)
		line(f, true, &failed, "password", "rds-password", "from %s", p->password_source);
	else
		line(f, false, &failed, "password", "rds-password", "%s", p->password_detail);
	for (size_t i = 0; i < p->n_db; i++) {
		const struct probe_db *d = &p->db[i];

		if (d->ok)
			line(f, true, &failed, "database", d->country, "%s, select 1 in %.1f ms",
			     d->target, d->ms);
		else
			line(f, false, &failed, "database", d->country, "%s: %s", d->target, d->detail);
	}
	fflush(f);
	return failed;
}

static int print_config(const char *config_path)
{
	struct conf *cfg = NULL;

	if (!svc_load_config(CTL_NAME, config_path, &cfg))
		return CTL_EXIT_CONFIG;
	conf_dump(cfg, stdout);
	conf_free(cfg);
	return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

int ctl_cmd_check(const char *config_path, int argc, char **argv)
{
	struct ctl x = {0};
	struct probe p = {0};
	struct errbuf eb = {{0}};
	bool dump = false;
	int code, failed;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print-config") == 0) {
			dump = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: " CTL_NAME " [--config PATH] check [--print-config]\n");
			return CTL_EXIT_OK;
		} else {
			return ctl_die(CTL_EXIT_USAGE, "check: unknown argument '%s' (try check --help)",
				       argv[i]);
		}
	}
	if (dump)
		return print_config(config_path);
	code = ctl_open(&x, config_path, true);
	if (code != CTL_EXIT_OK)
		return code;
	if (probe_run(&p, &x, false, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	failed = report(&p, x.out);
	if (failed > 0)
		code = ctl_die(CTL_EXIT_FAILURE, "check: %d of the checks above failed", failed);
out:
	probe_cleanup(&p);
	ctl_close(&x);
	return code;
}
