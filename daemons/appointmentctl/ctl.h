/* ctl.h — what the appointmentctl commands share: the run context, the progress lines
 * ("created queue X", with a step counter on a terminal), the one-line failure report, option
 * parsing helpers, and the resource names provision and destroy must agree on. */
#ifndef APPT_CTL_H
#define APPT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "aws/core.h"
#include "aws/sqs.h"
#include "app/conf.h"
#include "base/rc.h"

#define CTL_NAME "appointmentctl"

/* Exit statuses (sysexits.h where one fits). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAILURE 1   /* a resource or database operation failed */
#define CTL_EXIT_USAGE 64    /* EX_USAGE: bad command line (also destroy without --yes) */
#define CTL_EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: a program we run (journalctl) is missing */
#define CTL_EXIT_CONFIG 78   /* EX_CONFIG: the config file or the AWS environment is bad */

/* EventBridge names. Rules live on the stage's bus, which is its own by default, so their names
 * carry no stage and stay well under AWS's 64-character limit whatever the stage is called.
 * [aws] event_bus_name may still give two stages one bus: they then meet on the same rules,
 * and provision and destroy leave a rule that delivers to another stage's queue alone
 * (ctl_target_owner). */
#define CTL_RULE_PROCESSED_PREFIX "appointment-processed-" /* + country code in lower case */
#define CTL_RULE_ERROR "appointment-processing-error"
#define CTL_TARGET_COMPLETION "completion-queue" /* target id on every processed rule */
#define CTL_TARGET_ERROR "error-queue"           /* target id on the error rule */
#define CTL_RULE_NAME_MAX 64                     /* EventBridge's limit, with NUL: 65 */

/* Queue settings of SPEC §4 that do not come from the configuration. */
#define CTL_RETENTION_SECONDS 1209600 /* MessageRetentionPeriod: 14 days, SQS's maximum */
#define CTL_RECEIVE_WAIT_SECONDS 20   /* ReceiveMessageWaitTimeSeconds: long poll by default */

/* How long a table may take to become ACTIVE or to disappear (real DynamoDB: seconds to a
 * few minutes with three GSIs). */
#define CTL_TABLE_WAIT_MS (10L * 60 * 1000)

/* One run of one command. Embedded in the command's own state; fill with ctl_open. */
struct ctl {
	struct conf *cfg;        /* owned; the loaded configuration */
	struct aws_config aws;  /* resolved AWS settings (valid when has_aws) */
	bool has_aws;           /* aws was resolved */
	FILE *out;              /* progress lines: stdout */
	bool tty;               /* out is a terminal: prefix lines with "[i/n] " */
	int step;               /* progress lines printed so far */
	int steps;              /* expected total, for the counter; 0 = no counter */
};

/* The AWS clients of one command, one per service, for the calling thread only. Those not
 * asked for stay NULL. */
struct ctl_clients {
	struct ddb_client *ddb;
	struct sns_client *sns;
	struct sqs_client *sqs;
	struct evb_client *evb;
	struct ssm_client *ssm;
};

/* Which clients ctl_clients_open makes (a bit set). */
enum ctl_client_kind {
	CTL_DDB = 1 << 0,
	CTL_SNS = 1 << 1,
	CTL_SQS = 1 << 2,
	CTL_EVB = 1 << 3,
	CTL_SSM = 1 << 4,
	CTL_ALL_CLIENTS = CTL_DDB | CTL_SNS | CTL_SQS | CTL_EVB | CTL_SSM,
};

/* Makes the clients in which (a set of enum ctl_client_kind) from x's AWS settings (x
 * must be open with need_aws). On failure every client is freed again, c is all NULL and
 * eb says which one failed. */
enum rc ctl_clients_open(const struct ctl *x, unsigned which, struct ctl_clients *c,
			 struct errbuf *eb) MUSTCHECK;
/* Frees the clients and sets them NULL; accepts a zeroed struct. */
void ctl_clients_close(struct ctl_clients *c);

/* Loads the configuration at path (NULL = the default) and, when need_aws, resolves the AWS
 * settings from the environment, with the [aws] region and endpoint_url keys as fallbacks
 * for AWS_REGION and AWS_ENDPOINT_URL. On failure prints one line to stderr and returns
 * CTL_EXIT_CONFIG; x is then cleaned up. Returns CTL_EXIT_OK otherwise. */
int ctl_open(struct ctl *x, const char *path, bool need_aws);
/* Frees what ctl_open made; accepts a zeroed struct. */
void ctl_close(struct ctl *x);

/* Prints one progress line (a trailing newline is added), with the "[i/n] " counter when
 * out is a terminal and steps is set, and flushes it so a slow step shows what came before. */
void ctl_line(struct ctl *x, const char *fmt, ...) PRINTF(2, 3);

/* Prints "appointmentctl: <eb->msg>" to stderr and returns CTL_EXIT_FAILURE. */
int ctl_fail(const struct errbuf *eb);
/* Prints "appointmentctl: <message>" to stderr and returns code (usage errors and the like). */
int ctl_die(int code, const char *fmt, ...) PRINTF(2, 3);

/* Option parsing for the commands. argv[*i] is the option being looked at. If it is name
 * ("--count") followed by a value, or "name=value", stores the value in *val, advances *i
 * past what was used and returns 1. Returns 0 when argv[*i] is another option, and -1 when
 * it is name without a value (the caller reports a usage error). */
int ctl_opt_value(int argc, char **argv, int *i, const char *name, const char **val);

/* The parts of an ARN "arn:<partition>:<service>:<region>:<account>:<rest>": writes
 * "arn:<partition>:<service>:<region>:<account>:" for service into out (size n). Returns
 * false when arn is not shaped like that or out is too small. Used to name a resource of
 * another service in the same account (an SNS topic from a queue ARN). */
bool ctl_arn_prefix(const char *arn, const char *service, char *out, size_t n);

/* Whose a rule's target is, as far as one stage can tell. */
enum ctl_owner {
	CTL_OWNER_US,     /* our queue, the one the rule should deliver to */
	CTL_OWNER_OTHER,  /* another SQS queue that exists, or one of another name in another
			   * account or region (which we cannot look up): another stage's,
			   * sharing our bus */
	CTL_OWNER_NOBODY, /* not an SQS queue, a queue that no longer exists, or one of our name in
			   * another account or region (this stage on another endpoint): a stray */
};

/* Classifies arn, a target of a rule that should deliver to our queue our_name. our_prefix
 * is "arn:<partition>:sqs:<region>:<account>:" of our queues, or "" when unknown (a queue is
 * then told by its name alone). Only a queue that is not ours is looked up (GetQueueUrl by
 * name). RC_OK with *owner set; otherwise that lookup failed, err filled. */
enum rc ctl_target_owner(struct sqs_client *sqs, const char *arn, const char *our_name,
			 const char *our_prefix, enum ctl_owner *owner,
			 struct aws_error *err) MUSTCHECK;

/* The PostgreSQL password for migrate, seed, info and check, in SPEC §2's order: the
 * systemd credential rds-password, RDS_PASSWORD, then the SSM parameter (asked only when the
 * AWS environment resolves). *pw (free with secret_free) is NULL when no source has one:
 * libpq may still find PGPASSWORD or ~/.pgpass. *source (may be NULL) gets where it came
 * from: "credential", "environment", "ssm" or "none" (static strings). Fails when a source
 * exists but is broken or SSM fails. */
enum rc ctl_db_password(struct ctl *x, char **pw, const char **source,
			struct errbuf *eb) MUSTCHECK;

/* A queue the configuration names, by its URL setting or its name. */
struct ctl_queue {
	const char *label; /* "pe", "pe-dlq", "completion", "completion-dlq", "error", ... */
	const char *kind;  /* "queue" or "dlq" (the words provision prints) */
	const char *name;  /* queue name (borrowed from the cfg) */
	const char *url;   /* configured URL, "" = look it up by name (borrowed) */
};

/* The queue QUEUE of `redrive QUEUE` and its DLQ: a configured country code in either case,
 * "completion" or "error". src and dlq borrow from x->cfg; label_buf holds the labels
 * (lower-case country code). Returns false when name is none of these. */
bool ctl_queue_pair(const struct ctl *x, const char *name, char label_buf[2][16],
		    struct ctl_queue *src, struct ctl_queue *dlq);

/* Writes q's URL: its configured URL as is, else GetQueueUrl by name (RC_NOTFOUND when there
 * is no such queue). err is filled on failure. */
enum rc ctl_queue_url(struct sqs_client *sqs, const struct ctl_queue *q, char url[SQS_URL_MAX],
		      struct aws_error *err) MUSTCHECK;

/* Reads the counts of ApproximateNumberOfMessages{,NotVisible,Delayed} of the queue at url
 * (-1 for one the answer lacks) and its ARN ("" when absent; arn may be NULL).
 * RC_NOTFOUND for a missing queue; err filled on failure. */
enum rc ctl_queue_depth(struct sqs_client *sqs, const char *url, long long *visible,
			long long *in_flight, long long *delayed, char arn[SQS_ARN_MAX],
			struct aws_error *err) MUSTCHECK;

/* Parses a whole decimal number in [min, max] (nothing else: no sign, no spaces). */
bool ctl_parse_long(const char *s, long min, long max, long *out);

/* The commands: argv[0] is the command name, the rest its own options. Each returns the
 * process exit status. config_path is the --config value or NULL. */
struct db_conn;

/* The work of a database command for one country, on a connection made for it (freed by
 * the caller). Lines go through ctl_line; a failure fills eb naming the country. */
typedef enum rc (*ctl_db_fn)(struct ctl *x, const struct conf_country *cc, struct db_conn *conn,
			     void *ud, struct errbuf *eb);

/* Runs fn for every configured country in order, each on a fresh connection to its database
 * with the password resolved once (SPEC §2 order), stopping at the first failure. what names
 * the command in error lines ("migrate"). Returns the exit status (CTL_EXIT_OK or the
 * ctl_fail of the failure). x must be open. */
int ctl_each_database(struct ctl *x, const char *what, ctl_db_fn fn, void *ud);

int ctl_cmd_provision(const char *config_path, int argc, char **argv);
int ctl_cmd_destroy(const char *config_path, int argc, char **argv);
int ctl_cmd_migrate(const char *config_path, int argc, char **argv);
int ctl_cmd_seed(const char *config_path, int argc, char **argv);
int ctl_cmd_check(const char *config_path, int argc, char **argv);
int ctl_cmd_info(const char *config_path, int argc, char **argv);
int ctl_cmd_redrive(const char *config_path, int argc, char **argv);
int ctl_cmd_reconcile(const char *config_path, int argc, char **argv);
int ctl_cmd_logs(const char *config_path, int argc, char **argv);

#endif
