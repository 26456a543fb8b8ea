/* ctl.c — the run context and reporting every appointmentctl command shares (ctl.h). */
#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/awscfg.h"
#include "app/secret.h"
#include "aws/core.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs_queues.h"
#include "aws/ssm.h"
#include "pg/db.h"
#include "run/svc.h"

static enum rc resolve_aws(struct ctl *x, struct errbuf *eb)
{
	enum rc rc = awscfg_resolve(x->cfg, &x->aws, eb);

	x->has_aws = rc == RC_OK;
	if (rc == RC_OK && x->aws.notice[0] != '\0')
		fprintf(stderr, CTL_NAME ": warning: AWS configuration: %s\n", x->aws.notice);
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
	conf_free(x->cfg);
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

enum rc ctl_clients_open(const struct ctl *x, unsigned which, struct ctl_clients *c,
			 struct errbuf *eb)
{
	bool ok = true;

	memset(c, 0, sizeof(*c));
	/* in order, stopping at the first failure so eb names it */
	if (ok && (which & CTL_DDB) != 0) {
		c->ddb = ddb_client_new(&x->aws, eb);
		ok = c->ddb != NULL;
	}
	if (ok && (which & CTL_SNS) != 0) {
		c->sns = sns_client_new(&x->aws, eb);
		ok = c->sns != NULL;
	}
	if (ok && (which & CTL_SQS) != 0) {
		c->sqs = sqs_client_new(&x->aws, eb);
		ok = c->sqs != NULL;
	}
	if (ok && (which & CTL_EVB) != 0) {
		c->evb = evb_client_new(&x->aws, eb);
		ok = c->evb != NULL;
	}
	if (ok && (which & CTL_SSM) != 0) {
		c->ssm = ssm_client_new(&x->aws, eb);
		ok = c->ssm != NULL;
	}
	if (ok)
		return RC_OK;
	ctl_clients_close(c);
	return RC_FATAL;
}

void ctl_clients_close(struct ctl_clients *c)
{
	ddb_client_free(c->ddb);
	sns_client_free(c->sns);
	sqs_client_free(c->sqs);
	evb_client_free(c->evb);
	ssm_client_free(c->ssm);
	memset(c, 0, sizeof(*c));
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

enum rc ctl_target_owner(struct sqs_client *sqs, const char *arn, const char *our_name,
			 const char *our_prefix, enum ctl_owner *owner, struct aws_error *err)
{
	char prefix[SQS_ARN_MAX], url[SQS_URL_MAX];
	const char *name;
	enum rc rc;

	*owner = CTL_OWNER_NOBODY;
	/* the prefix made for "sqs" starts arn only when arn is an SQS ARN */
	if (!ctl_arn_prefix(arn, "sqs", prefix, sizeof(prefix)) ||
	    strncmp(arn, prefix, strlen(prefix)) != 0)
		return RC_OK;
	name = arn + strlen(prefix);
	if (name[0] == '\0' || strchr(name, ':') != NULL)
		return RC_OK;
	if (our_prefix[0] != '\0' && strcmp(prefix, our_prefix) != 0) {
		/* another account or region, which we cannot look into: told by the name alone. A
		 * queue of our name is this stage's on another endpoint (a provision with SQS on
		 * fauxqs, then one on moto): a stray to set back, not another stage's */
		*owner = strcmp(name, our_name) == 0 ? CTL_OWNER_NOBODY : CTL_OWNER_OTHER;
		return RC_OK;
	}
	if (strcmp(name, our_name) == 0) {
		*owner = CTL_OWNER_US;
		return RC_OK;
	}
	rc = sqs_get_queue_url(sqs, name, url, err);
	if (rc == RC_NOTFOUND)
		return RC_OK;
	if (rc == RC_OK)
		*owner = CTL_OWNER_OTHER;
	return rc;
}

enum rc ctl_db_password(struct ctl *x, char **pw, const char **source, struct errbuf *eb)
{
	struct errbuf aws_eb = {{0}};
	enum secret_source src = SECRET_ENV;
	const char *unused;
	enum rc rc;

	if (source == NULL)
		source = &unused;
	*pw = NULL;
	*source = "none";
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
	*source = secret_source_name(src);
	return rc;
}

bool ctl_queue_pair(const struct ctl *x, const char *name, char label_buf[2][16],
		    struct ctl_queue *src, struct ctl_queue *dlq)
{
	const struct conf *c = x->cfg;
	char code[3];

	if (strcasecmp(name, "completion") == 0) {
		*src = (struct ctl_queue){"completion", "queue", c->completion_queue_name,
					  c->completion_queue_url};
		*dlq = (struct ctl_queue){"completion-dlq", "dlq", c->completion_dlq_name, ""};
		return true;
	}
	if (strcasecmp(name, "error") == 0) {
		*src = (struct ctl_queue){"error", "queue", c->error_queue_name, c->error_queue_url};
		*dlq = (struct ctl_queue){"error-dlq", "dlq", c->error_dlq_name, ""};
		return true;
	}
	if (strlen(name) != 2)
		return false;
	code[0] = (char)toupper((unsigned char)name[0]);
	code[1] = (char)toupper((unsigned char)name[1]);
	code[2] = '\0';
	for (size_t i = 0; i < c->n_countries; i++) {
		const struct conf_country *cc = &c->countries[i];

		if (strcmp(cc->code, code) != 0)
			continue;
		snprintf(label_buf[0], 16, "%s", cc->lower);
		snprintf(label_buf[1], 16, "%s-dlq", cc->lower);
		*src = (struct ctl_queue){label_buf[0], "queue", cc->queue_name, cc->queue_url};
		*dlq = (struct ctl_queue){label_buf[1], "dlq", cc->dlq_name, cc->dlq_url};
		return true;
	}
	return false;
}

enum rc ctl_queue_url(struct sqs_client *sqs, const struct ctl_queue *q, char url[SQS_URL_MAX],
		      struct aws_error *err)
{
	if (q->url != NULL && q->url[0] != '\0') {
		if (strlen(q->url) >= SQS_URL_MAX)
			return aws_error_local(err, AWS_SVC_SQS, "GetQueueUrl", RC_INVAL,
					       "InvalidArgument", "configured URL of %s too long",
					       q->name);
		snprintf(url, SQS_URL_MAX, "%s", q->url);
		return RC_OK;
	}
	return sqs_get_queue_url(sqs, q->name, url, err);
}

/* A count attribute as read back: -1 when absent or not a number. */
static long long count_attr(const struct sqs_attrs *a, const char *name)
{
	long v;

	return ctl_parse_long(sqs_attrs_get(a, name), 0, LONG_MAX, &v) ? (long long)v : -1;
}

enum rc ctl_queue_depth(struct sqs_client *sqs, const char *url, long long *visible,
			long long *in_flight, long long *delayed, char arn[SQS_ARN_MAX],
			struct aws_error *err)
{
	static const char *const names[] = {"QueueArn", "ApproximateNumberOfMessages",
					    "ApproximateNumberOfMessagesNotVisible",
					    "ApproximateNumberOfMessagesDelayed"};
	struct sqs_attrs a = {0};
	const char *v;
	enum rc rc = sqs_get_queue_attributes(sqs, url, names, sizeof(names) / sizeof(names[0]),
					      &a, err);

	if (rc != RC_OK)
		goto out;
	*visible = count_attr(&a, names[1]);
	*in_flight = count_attr(&a, names[2]);
	*delayed = count_attr(&a, names[3]);
	v = sqs_attrs_get(&a, "QueueArn");
	if (arn != NULL)
		snprintf(arn, SQS_ARN_MAX, "%s", v != NULL ? v : "");
out:
	sqs_attrs_cleanup(&a);
	return rc;
}

bool ctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int ctl_each_database(struct ctl *x, const char *what, ctl_db_fn fn, void *ud)
{
	struct errbuf eb = {{0}};
	char *pw = NULL;
	enum rc rc = RC_OK;
	int code = CTL_EXIT_OK;

	x->steps = (int)x->cfg->n_countries;
	if (ctl_db_password(x, &pw, NULL, &eb) != RC_OK) {
		eb_prefix(&eb, "%s", what);
		return ctl_fail(&eb);
	}
	for (size_t i = 0; rc == RC_OK && i < x->cfg->n_countries; i++) {
		const struct conf_country *cc = &x->cfg->countries[i];
		struct db_options opt;
		struct db_target target;
		struct db_conn *conn = NULL;

		db_options_init(&opt);
		opt.application_name = CTL_NAME;
		conf_db_target(x->cfg, cc, pw, &target);
		rc = db_conn_new(&target, &opt, &conn, &eb);
		if (rc != RC_OK)
			eb_prefix(&eb, "%s %s", what, cc->code);
		else
			rc = fn(x, cc, conn, ud, &eb);
		db_conn_free(conn);
	}
	if (rc != RC_OK)
		code = ctl_fail(&eb);
	secret_free(pw);
	return code;
}
