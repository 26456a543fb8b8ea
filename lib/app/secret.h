/* secret.h — the PostgreSQL password of SPEC §2, from the first source that has
 * it: the systemd credential $CREDENTIALS_DIRECTORY/rds-password, RDS_PASSWORD,
 * then the SSM SecureString named by [aws] ssm_password_parameter. */
#ifndef APPT_SECRET_H
#define APPT_SECRET_H

#include "aws/core.h"
#include "aws/ssm.h"
#include "app/conf.h"
#include "base/rc.h"

#define SECRET_MAX 1024 /* longest password accepted, bytes */

/* Where the password came from (for a log line; never the password). */
enum secret_source {
	SECRET_CREDENTIAL, /* systemd LoadCredential= */
	SECRET_ENV,        /* RDS_PASSWORD */
	SECRET_SSM,        /* SSM GetParameter with decryption */
};

/* "credential", "environment", "ssm". */
const char *secret_source_name(enum secret_source s);

/* Resolves the password into *out (heap, caller wipes and frees it with
 * secret_free). aws may be NULL when SSM must not be asked (then a missing password
 * is RC_NOTFOUND). env lookups use getenv. A credential file that exists but cannot
 * be read, is empty or too long is RC_INVAL (a broken deployment, not a fallback). */
enum rc secret_rds_password(const struct conf *cfg, const struct aws_config *aws, char **out,
			    enum secret_source *source, struct errbuf *eb) MUSTCHECK;

/* The SSM step of secret_rds_password alone: the SecureString [aws] ssm_password_parameter
 * of cfg, asked on ssm (the caller's client: its deadline, abort flag and metrics apply),
 * into *out (heap, secret_free). Reads no environment, so any thread may call it (on its own
 * client). RC_NOTFOUND when no parameter is configured or there is none of that name;
 * RC_INVAL when it is empty; otherwise ssm_get_parameter's rc, eb naming the parameter. */
enum rc secret_ssm_password(const struct conf *cfg, struct ssm_client *ssm, char **out,
			    struct errbuf *eb) MUSTCHECK;

/* secret_ssm_password on a client of its own, made from aws and freed before returning: for
 * a caller that asks once more later (the worker's start) and keeps no SSM client. */
enum rc secret_ssm_password_once(const struct conf *cfg, const struct aws_config *aws,
				 char **out, struct errbuf *eb) MUSTCHECK;

/* Takes RDS_PASSWORD and PGPASSWORD out of the process environment once the password is
 * resolved: each value is wiped in place (so /proc/PID/environ and a core dump no longer
 * show it) and unset (no child inherits it). When *password is NULL and PGPASSWORD is set,
 * *password becomes a copy of it first (libpq would have used it). RC_NOMEM. Call before
 * any thread exists: the environment is not thread-safe. */
enum rc secret_scrub_env(char **password) MUSTCHECK;

/* The unsetting half of secret_scrub_env alone (for a daemon that needs no password, and
 * as a last step of every daemon's setup). Same thread rule. */
void secret_unset_env(void);

/* Wipes and frees a password; accepts NULL. */
void secret_free(char *s);

#endif
