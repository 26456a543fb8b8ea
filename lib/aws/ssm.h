/* ssm.h — AWS Systems Manager Parameter Store (JSON 1.1, X-Amz-Target AmazonSSM.<Op>) on
 * aws/core: put, get (with decryption) and delete one parameter, for the PostgreSQL password
 * SecureString of SPEC §2. */
#ifndef APPT_AWS_SSM_H
#define APPT_AWS_SSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/core.h"
#include "base/rc.h"

/* Limits checked before anything is sent (AWS's own). */
#define SSM_NAME_MAX 2048  /* parameter name, bytes: [A-Za-z0-9_.-/] */
#define SSM_VALUE_MAX 8192 /* parameter value, bytes (advanced tier; standard is 4 KiB) */

/* The parameter types we write. */
enum ssm_type {
	SSM_STRING = 0,    /* String: plain text */
	SSM_SECURE_STRING, /* SecureString: encrypted with the account's aws/ssm KMS key */
};

/* One SSM client. Not thread-safe: one per thread. */
struct ssm_client;

/* Creates a client from a resolved config (copied). NULL with eb filled on failure. */
struct ssm_client *ssm_client_new(const struct aws_config *cfg, struct errbuf *eb);
/* Frees it; accepts NULL. */
void ssm_client_free(struct ssm_client *c);
/* The underlying core client (for aws_client_set_abort_flag); valid while c lives. */
struct aws_client *ssm_client_core(struct ssm_client *c);
/* The AWS detail of the last call; valid until the next call on c. */
const struct aws_error *ssm_last_error(const struct ssm_client *c);

/* Every operation: RC_INVAL (eb says which argument) before any request when an argument
 * breaks a limit above; otherwise the rc the core mapped, eb holding its summary. Values
 * never appear in eb. The request and answer bodies that carried a value are wiped before
 * they are freed (best effort: libcurl and the kernel may hold copies). */

/* PutParameter name = value of type. Without overwrite, an existing parameter is RC_CONFLICT
 * (ParameterAlreadyExists); with it, the value is replaced. *version (may be NULL) gets the
 * new version. */
enum rc ssm_put_parameter(struct ssm_client *c, const char *name, const char *value,
			  enum ssm_type type, bool overwrite, int64_t *version,
			  struct errbuf *eb) MUSTCHECK;

/* GetParameter name, decrypting a SecureString when decrypt is set. The value is copied into
 * value[0..size) with a NUL; *len (may be NULL) gets its length. RC_NOTFOUND when there is
 * no such parameter (ParameterNotFound); RC_INVAL when it does not fit in size (value is then
 * ""). The caller should explicit_bzero a secret when done. */
enum rc ssm_get_parameter(struct ssm_client *c, const char *name, bool decrypt, char *value,
			  size_t size, size_t *len, struct errbuf *eb) MUSTCHECK;

/* DeleteParameter. RC_NOTFOUND when there is no such parameter. */
enum rc ssm_delete_parameter(struct ssm_client *c, const char *name,
			     struct errbuf *eb) MUSTCHECK;

#endif
