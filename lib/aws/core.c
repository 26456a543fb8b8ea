/* core.c — the hub of the AWS request core: the per-service table, library setup and the
 * small helpers the other files share. The core is split by concern: config.c (region,
 * endpoints, the credentials chain), errors.c (error answers and their mapping to enum rc),
 * imds.c (IMDSv2 credentials), client.c (transport: SigV4 through CURLOPT_AWS_SIGV4, retries
 * with full-jitter backoff), service.c (the base the service modules build on). */
#include "aws/core.h"
#include "aws/core_priv.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

const struct aws_svc_info aws_svc_table[AWS_SVC_COUNT] = {
	[AWS_SVC_DYNAMODB] = {"dynamodb", "dynamodb", "dynamodb", "DYNAMODB", "DynamoDB_20120810",
			      "application/x-amz-json-1.0"},
	[AWS_SVC_SNS] = {"sns", "sns", "sns", "SNS", NULL,
			 "application/x-www-form-urlencoded; charset=utf-8"},
	[AWS_SVC_SQS] = {"sqs", "sqs", "sqs", "SQS", "AmazonSQS", "application/x-amz-json-1.0"},
	[AWS_SVC_EVENTBRIDGE] = {"eventbridge", "events", "events", "EVENTBRIDGE", "AWSEvents",
				 "application/x-amz-json-1.1"},
	[AWS_SVC_SSM] = {"ssm", "ssm", "ssm", "SSM", "AmazonSSM", "application/x-amz-json-1.1"},
};

/* ---- small helpers ------------------------------------------------------------------ */

/* Copies src into dst, truncating; never fails. Control characters become spaces so the
 * result is safe in a log line. */
void aws_copy_trunc(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i;

	if (dstsz == 0)
		return;
	if (n > dstsz - 1)
		n = dstsz - 1;
	for (i = 0; i < n && src[i] != '\0'; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
	dst[i] = '\0';
}

/* Copies src into dst, failing with RC_INVAL naming what if it does not fit. */
enum rc aws_copy_checked(char *dst, size_t dstsz, const char *src, const char *what,
			    struct errbuf *eb)
{
	size_t n = strlen(src);

	if (n >= dstsz)
		return eb_set(eb, RC_INVAL, "%s is too long (%zu bytes, limit %zu)", what, n,
			      dstsz - 1);
	memcpy(dst, src, n + 1);
	return RC_OK;
}

/* True when s is non-empty (or may be empty), shorter than max and printable ASCII: values
 * that go into header lines (tokens, key ids, content types). */
bool aws_header_value_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

const char *aws_env_get(const struct aws_env *env, const char *name)
{
	const char *v = env->get(env->ctx, name);

	/* The SDKs treat an empty variable as unset. */
	return (v != NULL && v[0] != '\0') ? v : NULL;
}

static const char *process_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

struct aws_env aws_env_process(void)
{
	struct aws_env e = {process_getenv, NULL};

	return e;
}

const char *aws_service_name(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SVC_COUNT)
		return "unknown";
	return aws_svc_table[svc].name;
}

const char *aws_service_signing_name(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SVC_COUNT)
		return "unknown";
	return aws_svc_table[svc].signing;
}

enum rc aws_global_init(struct errbuf *eb)
{
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (cc != CURLE_OK)
		return eb_set(eb, RC_FATAL, "curl_global_init: %s", curl_easy_strerror(cc));
	return RC_OK;
}

void aws_global_cleanup(void)
{
	curl_global_cleanup();
}

