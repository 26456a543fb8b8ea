/* cfg.h — appointmentd configuration: one INI file (+ the stage file beside it)
 * with environment overrides, parsed into a fresh struct cfg, validated as a whole.
 * Layers, lowest first: built-in defaults (per stage) < {confdir}/{stage}.conf <
 * the main file < environment. String values may use {stage} and {cc} (country
 * code in lower case) placeholders, expanded after all layers are applied. */
#ifndef APPT_CFG_H
#define APPT_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/log.h"
#include "base/rc.h"

#define CFG_DEFAULT_PATH "/etc/appointmentd/appointmentd.conf"
#define CFG_MAX_COUNTRIES 32      /* [country XX] sections accepted */
#define CFG_MAX_VALUE_LEN 2048    /* longest accepted value, file or environment */
#define CFG_MAX_LINE_LEN 4096     /* longest accepted line of a config file */

/* Exit status of a binary whose configuration is bad (sysexits.h EX_CONFIG). */
#define CFG_EXIT_CONFIG 78

/* One [country XX] section. Strings are owned by the struct cfg. */
struct cfg_country {
	char code[3];       /* upper-case ISO code exactly as configured, e.g. "PE" */
	char lower[3];      /* the same in lower case, used in resource names */
	char *topic_name;   /* SNS topic name */
	char *topic_arn;    /* SNS topic ARN; "" means resolve from topic_name */
	char *queue_name;   /* SQS queue the country's worker consumes */
	char *queue_url;    /* "" means resolve from queue_name (GetQueueUrl) */
	char *dlq_name;     /* dead-letter queue of queue_name */
	char *dlq_url;      /* "" means resolve from dlq_name */
	char *db_host;      /* PostgreSQL host of the country database */
	int db_port;        /* its port */
	char *db_name;      /* database name */
	char *db_user;      /* role to log in as; password resolved at run time */
	char *db_sslmode;   /* libpq sslmode */
};

/* The whole configuration. Create with cfg_load, release with cfg_free; never
 * modified after load, so it may be read from any thread while it is alive. */
struct cfg {
	char *path;                 /* main file it was read from */
	char *stage;                /* dev | staging | prod | any [a-z0-9-] name */
	enum log_level log_level;   /* minimum level logged (reloadable) */

	/* [aws] */
	char *region;               /* AWS_REGION wins; empty = SDK resolution */
	char *endpoint_url;         /* AWS_ENDPOINT_URL wins; empty = real AWS */
	char *table_name;           /* appointments table */
	char *idempotency_table;    /* Idempotency-Key table */
	char *quota_table;          /* API key daily quota counters */
	char *event_bus_name;       /* custom EventBridge bus */
	char *completion_queue_name;
	char *completion_queue_url; /* "" = resolve from the name */
	char *completion_dlq_name;
	char *error_queue_name;
	char *error_queue_url;      /* "" = resolve from the name */
	char *error_dlq_name;
	char *ssm_password_parameter; /* SecureString holding the PostgreSQL password */

	/* [api] */
	char *api_listen;           /* host:port when systemd passes no socket */
	char *api_keys_file;        /* "" = API keys disabled (reloadable) */
	char *cors_origins;         /* Access-Control-Allow-Origin (reloadable) */
	int rate_limit;             /* token bucket refill, requests/s (reloadable) */
	int rate_burst;             /* token bucket size (reloadable) */
	int key_quota_per_day;      /* requests per API key per UTC day (reloadable) */
	int body_limit;             /* bytes accepted in a request body */
	int api_threads;            /* HTTP worker threads */
	int db_check_timeout_ms;    /* schedule check in PostgreSQL before accepting */
	int list_page_size;         /* Limit of each DynamoDB Query page of a listing; 0 = 1 MB pages */

	/* [worker] (also the completion daemon) */
	int max_in_flight;          /* messages handled concurrently */
	int wait_seconds;           /* ReceiveMessage long-poll */
	int visibility_timeout;     /* seconds, as provisioned on the queues */
	int max_receive_count;      /* redrive to the DLQ after this many receives */
	int backoff_min_seconds;    /* first transient-failure delay */
	int backoff_max_seconds;    /* cap of the exponential backoff */
	int dependency_wait_seconds;/* a handler waits this long for a lost database before
				     * giving the message back (saves its receive count) */
	char *metrics_listen;       /* "" = no /metrics listener */
	int reconcile_after_seconds;/* reconciler: age of a stuck item (reloadable) */

	/* [rds] defaults every country inherits */
	char *rds_host;
	int rds_port;
	char *rds_database;         /* template, default appointments_{cc} */
	char *rds_username;
	char *rds_sslmode;
	int rds_connect_timeout;    /* seconds, libpq connect_timeout */

	struct cfg_country countries[CFG_MAX_COUNTRIES];
	size_t n_countries;
};

/* Environment lookup, injectable so tests need no setenv. NULL = getenv(3). */
struct cfg_env {
	const char *(*get)(void *ud, const char *name); /* NULL when unset */
	void *ud;
};

/* Reads path (or CFG_DEFAULT_PATH when NULL), the stage file beside it and the
 * environment into a new struct cfg. On failure returns RC_INVAL (or RC_NOMEM)
 * with one line in eb naming the file and line, or the environment variable,
 * and the key; *out stays NULL. */
enum rc cfg_load(const char *path, const struct cfg_env *env, struct cfg **out,
		 struct errbuf *eb) MUSTCHECK;

/* Releases a configuration; accepts NULL. */
void cfg_free(struct cfg *c);

/* The country section for code (exact case), or NULL. Valid while c lives. */
const struct cfg_country *cfg_country_find(const struct cfg *c, const char *code);

/* Writes into out (size n) a "; "-separated list of keys that differ between old and
 * new and cannot change on reload; "" when none. Used to log what a SIGHUP ignores. */
void cfg_non_reloadable_changes(const struct cfg *old, const struct cfg *new_cfg, char *out,
				size_t n);

/* Prints every key with its effective value (secrets never exist here) to f, INI
 * style, for `appointmentctl check` and the docs test. */
void cfg_dump(const struct cfg *c, FILE *f);

#endif
