/* conf.h — appointmentd's configuration: the struct every binary reads, its key table
 * (app/conf.c, on the base/cfg engine), the stage defaults of SPEC §2 and the rules that
 * span keys. Layers, lowest first: built-in defaults (per stage) < {confdir}/{stage}.conf <
 * the main file < environment. String values may use {stage} and {cc} (country code in
 * lower case), expanded after all layers are applied. docs/configuration.md lists it all. */
#ifndef APPT_CONF_H
#define APPT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#include "base/cfg.h"
#include "base/log.h"
#include "base/rc.h"
#include "pg/db.h"

/* The file every binary reads without --config: under the configured sysconfdir (meson.build),
 * the one the units pass: /etc/appointmentd (SPEC §2) unless the build sets -Dsysconfdir. */
#define CONF_DEFAULT_PATH APPT_SYSCONFDIR "/appointmentd.conf"
#define CONF_MAX_COUNTRIES 32      /* [country XX] sections accepted */

/* One [country XX] section. Strings are owned by the struct conf. */
struct conf_country {
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

/* The whole configuration. Create with conf_load (or conf_reload), release with conf_free;
 * never modified afterwards, so it may be read from any thread while it is alive. */
struct conf {
	char *path;                 /* main file it was read from */
	char *stage;                /* dev | staging | prod | any [a-z0-9-] name */
	enum log_level log_level;   /* minimum level logged (reloadable) */

	/* [aws] */
	char *region;               /* AWS_REGION wins; empty = SDK resolution */
	char *endpoint_url;         /* AWS_ENDPOINT_URL wins; empty = real AWS */
	char *table_name;           /* appointments table */
	char *idempotency_table;    /* Idempotency-Key table */
	char *quota_table;          /* API key daily quota counters */
	char *counters_table;       /* per-insuredId appointment counters (listing totals) */
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
	int api_reuse_port;         /* SO_REUSEPORT on that socket: processes share the port */
	char *api_keys_file;        /* "" = API keys disabled (reloadable) */
	char *cors_origins;         /* Access-Control-Allow-Origin (reloadable) */
	int rate_limit;             /* token bucket refill, requests/s (reloadable) */
	int rate_burst;             /* token bucket size (reloadable) */
	int key_quota_per_day;      /* requests per API key per UTC day (reloadable) */
	int body_limit;             /* bytes accepted in a request body */
	int api_threads;            /* HTTP worker threads */
	int shutdown_delay_ms;      /* SIGTERM: /readyz 503 this long before the listener closes */
	int api_drain_timeout_ms;   /* SIGTERM: longest drain, lame duck included (reloadable) */
	int db_check_timeout_ms;    /* schedule check in PostgreSQL before accepting */
	int list_page_size;         /* Limit of each DynamoDB Query page of a listing; 0 = 1 MB pages */
	int per_client_rate_limit;  /* token bucket refill of one API key (or client address when
				     * keys are off), requests/s; 0 = half of rate_limit (reloadable) */
	int per_client_burst;       /* its bucket size; 0 = half of burst (reloadable) */
	int aws_budget_ms;          /* total AWS time of one POST (reloadable) */
	int api_connections;        /* open HTTP connections at once */
	int api_connections_per_client; /* open HTTP connections per client address; 0 = no cap */
	int api_header_timeout;     /* seconds a connection has to send a complete request head */
	int api_request_timeout;    /* seconds a connection has to send a complete request */

	/* [worker] (also the completion daemon) */
	int max_in_flight;          /* messages handled concurrently */
	int wait_seconds;           /* ReceiveMessage long-poll */
	int visibility_timeout;     /* seconds, as provisioned on the queues */
	int max_receive_count;      /* redrive to the DLQ after this many receives */
	int backoff_min_seconds;    /* first transient-failure delay */
	int backoff_max_seconds;    /* cap of the exponential backoff */
	int dependency_wait_seconds;/* a handler waits this long for a lost database before
				     * giving the message back (saves its receive count) */
	int worker_drain_timeout_ms;/* SIGTERM: longest wait for the handlers (reloadable) */
	char *metrics_listen;       /* "" = no /metrics listener */
	int reconcile_after_seconds;/* reconciler: age of a stuck item (reloadable) */

	/* [rds] defaults every country inherits */
	char *rds_host;
	int rds_port;
	char *rds_database;         /* template, default appointments_{cc} */
	char *rds_username;
	char *rds_sslmode;
	int rds_connect_timeout;    /* seconds, libpq connect_timeout */

	struct conf_country countries[CONF_MAX_COUNTRIES];
	size_t n_countries;
};

/* Reads path (or CONF_DEFAULT_PATH when NULL), the stage file beside it and the
 * environment (env NULL = getenv) into a new struct conf. On failure returns RC_INVAL (or
 * RC_NOMEM) with one line in eb naming the file and line, or the environment variable, and
 * the key; *out stays NULL. */
enum rc conf_load(const char *path, const struct cfg_env *env, struct conf **out,
		  struct errbuf *eb) MUSTCHECK;

/* SIGHUP: loads running's file again and, when it is valid, makes *out a copy of running
 * with the reloadable keys (the "reload: yes" rows of docs/configuration.md) taken from
 * it. Everything else keeps its running value, the countries (their set and order)
 * included; refused (n bytes) lists what the file changes that needs a restart, "" when
 * nothing. A bad file: RC_INVAL with eb as for conf_load, *out NULL; running is untouched
 * either way. */
enum rc conf_reload(const struct conf *running, const struct cfg_env *env, struct conf **out,
		    char *refused, size_t n, struct errbuf *eb) MUSTCHECK;

/* Releases a configuration; accepts NULL. */
void conf_free(struct conf *c);

/* The country section for code (exact case), or NULL. Valid while c lives. */
const struct conf_country *conf_country(const struct conf *c, const char *code);

/* Fills out with where country cc's database is, as c says (db_host, db_port, db_name,
 * db_user, db_sslmode, [rds] connect_timeout), logging in with password (NULL = none).
 * Everything is borrowed from c and password. Never fails. */
void conf_db_target(const struct conf *c, const struct conf_country *cc, const char *password,
		    struct db_target *out);

/* Prints every key with its effective value (secrets never exist here) to f, INI style, for
 * `appointmentctl check --print-config` and the docs test. */
void conf_dump(const struct conf *c, FILE *f);

#endif
