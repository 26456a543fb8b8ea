/* secret.c — password resolution; the value is wiped before its memory is freed. */
#include "app/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ssm.h"

const char *secret_source_name(enum secret_source s)
{
	switch (s) {
	case SECRET_CREDENTIAL:
		return "credential";
	case SECRET_ENV:
		return "environment";
	case SECRET_SSM:
		return "ssm";
	}
	return "unknown";
}

void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Reads the credential file; RC_NOTFOUND when there is none. */
static enum rc from_credential(char **out, struct errbuf *eb)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	char buf[SECRET_MAX + 2];
	FILE *f;
	size_t n;

	if (dir == NULL || dir[0] == '\0')
		return RC_NOTFOUND;
	snprintf(path, sizeof(path), "%s/rds-password", dir);
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT)
			return RC_NOTFOUND;
		return eb_set(eb, RC_INVAL, "%s: cannot read: %s", path, strerror(errno));
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* a trailing newline from `echo pw > file` is not part of the password */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0 || n > SECRET_MAX || strlen(buf) != n) {
		explicit_bzero(buf, sizeof(buf));
		return eb_set(eb, RC_INVAL, "%s: empty, too long or not text", path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out != NULL ? RC_OK : eb_set(eb, RC_NOMEM, "out of memory");
}

enum rc secret_ssm_password(const struct conf *cfg, struct ssm_client *ssm, char **out,
			    struct errbuf *eb)
{
	char *buf = NULL;
	size_t len = 0;
	enum rc rc;

	*out = NULL;
	if (cfg->ssm_password_parameter[0] == '\0')
		return eb_set(eb, RC_NOTFOUND, "no PostgreSQL password: no SSM parameter configured");
	buf = calloc(1, SECRET_MAX + 1);
	if (buf == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory");
	rc = ssm_get_parameter(ssm, cfg->ssm_password_parameter, true, buf, SECRET_MAX + 1, &len, eb);
	if (rc == RC_OK && len == 0)
		rc = eb_set(eb, RC_INVAL, "SSM parameter %s is empty", cfg->ssm_password_parameter);
	if (rc != RC_OK) {
		eb_prefix(eb, "PostgreSQL password from SSM %s", cfg->ssm_password_parameter);
		secret_free(buf);
		return rc;
	}
	*out = buf;
	return RC_OK;
}

enum rc secret_ssm_password_once(const struct conf *cfg, const struct aws_config *aws,
				 char **out, struct errbuf *eb)
{
	struct ssm_client *ssm = ssm_client_new(aws, eb);
	enum rc rc;

	if (ssm == NULL)
		return RC_FATAL;
	rc = secret_ssm_password(cfg, ssm, out, eb);
	ssm_client_free(ssm);
	return rc;
}

enum rc secret_rds_password(const struct conf *cfg, const struct aws_config *aws, char **out,
			    enum secret_source *source, struct errbuf *eb)
{
	const char *env = getenv("RDS_PASSWORD");
	enum rc rc;

	*out = NULL;
	rc = from_credential(out, eb);
	if (rc != RC_NOTFOUND) {
		*source = SECRET_CREDENTIAL;
		return rc;
	}
	if (env != NULL && env[0] != '\0') {
		if (strlen(env) > SECRET_MAX)
			return eb_set(eb, RC_INVAL, "RDS_PASSWORD: longer than %d bytes", SECRET_MAX);
		*out = strdup(env);
		*source = SECRET_ENV;
		return *out != NULL ? RC_OK : eb_set(eb, RC_NOMEM, "out of memory");
	}
	if (aws == NULL || cfg->ssm_password_parameter[0] == '\0')
		return eb_set(eb, RC_NOTFOUND, "no PostgreSQL password: no credential rds-password, "
			      "no RDS_PASSWORD%s", aws != NULL ? ", no SSM parameter configured" : "");
	*source = SECRET_SSM;
	return secret_ssm_password_once(cfg, aws, out, eb);
}

/* Wipes name's value in place, then unsets it. */
static void scrub(const char *name)
{
	char *v = getenv(name);

	if (v != NULL)
		explicit_bzero(v, strlen(v));
	(void)unsetenv(name);
}

enum rc secret_scrub_env(char **password)
{
	const char *pg = getenv("PGPASSWORD");

	if (*password == NULL && pg != NULL && pg[0] != '\0') {
		*password = strdup(pg);
		if (*password == NULL)
			return RC_NOMEM;
	}
	secret_unset_env();
	return RC_OK;
}

void secret_unset_env(void)
{
	scrub("RDS_PASSWORD");
	scrub("PGPASSWORD");
}
