/* conf.c — appointmentd's key table on the base/cfg engine: one row per key (section,
 * name, type, field, default, bounds or longest value, reloadable, check, environment
 * aliases), the stage defaults of SPEC §2 and the rules across keys. Every string has the
 * limit of the buffer or service it ends up in, so a value that would not fit is refused
 * at load (naming the key), never cut later. */
#include "app/conf.h"

#include <ctype.h>
#include <string.h>

#include "aws/core.h"
#include "aws/dynamodb.h"
#include "aws/eventbridge.h"
#include "aws/sns.h"
#include "aws/sqs.h"
#include "aws/ssm.h"

#define NAME_PREFIX "medical-appointment-scheduling"
#define STAGE_MAX 32     /* a stage name, bytes */
#define LISTEN_MAX 262   /* "[" + 255-byte host + "]:" + port: what http_listen takes */

static const char *check_name(const char *v)
{
	if (*v == '\0')
		return "not a valid resource name";
	for (const char *p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.{}", *p) == NULL)
			return "not a valid resource name";
	return NULL;
}

/* A database setting libpq cannot do without: empty is a missing value, refused at load
 * (naming the line) rather than by every connection of a daemon that started. */
static const char *check_required(const char *v)
{
	return *v == '\0' ? "missing value" : NULL;
}

/* libpq's sslmode values: any other fails every connection ("invalid sslmode value"). */
static const char *check_sslmode(const char *v)
{
	static const char *const modes[] = {"disable", "allow",     "prefer",
					    "require", "verify-ca", "verify-full"};

	if (*v == '\0')
		return "missing value";
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(v, modes[i]) == 0)
			return NULL;
	return "not an sslmode (disable, allow, prefer, require, verify-ca, verify-full)";
}

static const char *check_arn(const char *v)
{
	return *v == '\0' || strncmp(v, "arn:", 4) == 0 ? NULL : "not an ARN";
}

static const char *check_stage(const char *v)
{
	if (*v == '\0' || strlen(v) > STAGE_MAX ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
		return "not a stage name ([a-z0-9-], at most 32)";
	return NULL;
}

/* [aws] region and endpoint_url stand in for AWS_REGION and AWS_ENDPOINT_URL: checked here
 * as the AWS resolver takes them, so a bad one is refused naming this file's line (or the
 * APPOINTMENTD_ variable) and not the AWS variable it stands in for. Empty = not set. */
static const char *check_region(const char *v)
{
	if (*v == '\0' || aws_region_valid(v))
		return NULL;
	return "not a region name (lower-case letters, digits and dashes)";
}

static const char *check_endpoint(const char *v)
{
	static const char stage[] = "{stage}";
	char probe[AWS_URL_MAX];
	char norm[AWS_URL_MAX];
	size_t n = 0;

	if (*v == '\0')
		return NULL;
	/* {stage} is replaced after the checks; a stage name ([a-z0-9-]) is valid where "s" is */
	while (*v != '\0' && n < sizeof(probe) - 1) {
		if (strncmp(v, stage, sizeof(stage) - 1) == 0) {
			probe[n++] = 's';
			v += sizeof(stage) - 1;
		} else {
			probe[n++] = *v++;
		}
	}
	probe[n] = '\0';
	if (*v != '\0' || aws_endpoint_parse(probe, norm, NULL) != RC_OK)
		return "not an http(s)://host[:port] URL (no user, path, query or fragment)";
	return NULL;
}

static bool country_code_ok(const char *id)
{
	return strlen(id) == 2 && isupper((unsigned char)id[0]) && isupper((unsigned char)id[1]);
}

/* A global key / a country key. MAX is a string's longest value (0: the engine's). */
#define G(sec, nm, ty, field, def, mn, mx, rl, chk, ...)                                         \
	{sec, nm, ty, false, offsetof(struct conf, field), def, mn, mx, rl, chk, NULL,            \
	 {__VA_ARGS__}}
#define C(nm, ty, field, def, mn, mx, chk, inh, ...)                                             \
	{"country", nm, ty, true, offsetof(struct conf_country, field), def, mn, mx, false, chk,  \
	 inh, {__VA_ARGS__}}

static const struct cfg_key conf_keys[] = {
	G("general", "stage", CFG_STR, stage, "dev", 0, STAGE_MAX, false, check_stage, "STAGE"),
	G("general", "log_level", CFG_LEVEL, log_level, NULL, 0, 0, true, NULL, "LOG_LEVEL"),

	G("aws", "region", CFG_STR, region, "", 0, AWS_REGION_MAX - 1, false, check_region,
	  NULL),
	G("aws", "endpoint_url", CFG_STR, endpoint_url, "", 0, AWS_URL_MAX - 1, false,
	  check_endpoint, NULL),
	G("aws", "table_name", CFG_STR, table_name, NAME_PREFIX "-appointments-{stage}", 0,
	  DDB_TABLE_NAME_MAX, false, check_name, "APPOINTMENTS_TABLE_NAME"),
	G("aws", "idempotency_table", CFG_STR, idempotency_table,
	  NAME_PREFIX "-idempotency-{stage}", 0, DDB_TABLE_NAME_MAX, false, check_name, NULL),
	G("aws", "quota_table", CFG_STR, quota_table, NAME_PREFIX "-quota-{stage}", 0,
	  DDB_TABLE_NAME_MAX, false, check_name, NULL),
	G("aws", "counters_table", CFG_STR, counters_table, NAME_PREFIX "-counters-{stage}", 0,
	  DDB_TABLE_NAME_MAX, false, check_name, NULL),
	G("aws", "event_bus_name", CFG_STR, event_bus_name, NAME_PREFIX "-{stage}", 0,
	  EVB_BUS_NAME_MAX, false, check_name, "EVENTBRIDGE_BUS_NAME"),
	G("aws", "completion_queue_name", CFG_STR, completion_queue_name,
	  NAME_PREFIX "-appointments-completion-{stage}", 0, SQS_NAME_MAX, false, check_name,
	  NULL),
	G("aws", "completion_queue_url", CFG_STR, completion_queue_url, "", 0, SQS_URL_MAX - 1,
	  false, cfg_check_url, "APPOINTMENTS_COMPLETION_QUEUE_URL"),
	G("aws", "completion_dlq_name", CFG_STR, completion_dlq_name,
	  NAME_PREFIX "-appointments-completion-{stage}-dlq", 0, SQS_NAME_MAX, false, check_name,
	  NULL),
	G("aws", "error_queue_name", CFG_STR, error_queue_name,
	  NAME_PREFIX "-appointments-error-{stage}", 0, SQS_NAME_MAX, false, check_name, NULL),
	G("aws", "error_queue_url", CFG_STR, error_queue_url, "", 0, SQS_URL_MAX - 1, false,
	  cfg_check_url, "APPOINTMENTS_ERROR_QUEUE_URL"),
	G("aws", "error_dlq_name", CFG_STR, error_dlq_name,
	  NAME_PREFIX "-appointments-error-{stage}-dlq", 0, SQS_NAME_MAX, false, check_name,
	  NULL),
	G("aws", "ssm_password_parameter", CFG_STR, ssm_password_parameter,
	  "/medical-appointment/{stage}/rds/password", 0, SSM_NAME_MAX, false, NULL, NULL),

	G("api", "listen", CFG_STR, api_listen, "127.0.0.1:8080", 0, LISTEN_MAX, false,
	  cfg_check_listen, NULL),
	G("api", "reuse_port", CFG_BOOL, api_reuse_port, "false", 0, 1, false, NULL, NULL),
	G("api", "keys_file", CFG_STR, api_keys_file, "", 0, 0, true, NULL, NULL),
	G("api", "cors_origins", CFG_STR, cors_origins, "*", 0, 0, true, NULL, NULL),
	G("api", "rate_limit", CFG_INT, rate_limit, NULL, 1, 1000000, true, NULL, NULL),
	G("api", "burst", CFG_INT, rate_burst, NULL, 1, 1000000, true, NULL, NULL),
	G("api", "key_quota_per_day", CFG_INT, key_quota_per_day, "10000", 1, 1000000000, true,
	  NULL, NULL),
	G("api", "body_limit", CFG_INT, body_limit, "16384", 256, 1048576, false, NULL, NULL),
	G("api", "shutdown_delay_ms", CFG_INT, shutdown_delay_ms, "0", 0, 20000, true, NULL, NULL),
	G("api", "drain_timeout_ms", CFG_INT, api_drain_timeout_ms, "25000", 0, 600000, true,
	  NULL, NULL),
	G("api", "threads", CFG_INT, api_threads, "8", 1, 256, false, NULL, NULL),
	G("api", "db_check_timeout_ms", CFG_INT, db_check_timeout_ms, "1000", 50, 30000, false,
	  NULL, NULL),
	G("api", "list_page_size", CFG_INT, list_page_size, "0", 0, 1000, true, NULL, NULL),
	G("api", "per_client_rate_limit", CFG_INT, per_client_rate_limit, "0", 0, 1000000, true,
	  NULL, NULL),
	G("api", "per_client_burst", CFG_INT, per_client_burst, "0", 0, 1000000, true, NULL,
	  NULL),
	G("api", "aws_budget_ms", CFG_INT, aws_budget_ms, "3000", 200, 60000, true, NULL, NULL),
	G("api", "connections", CFG_INT, api_connections, "1024", 16, 65536, false, NULL, NULL),
	G("api", "per_client_connections", CFG_INT, api_connections_per_client, "64", 0, 65536,
	  false, NULL, NULL),
	G("api", "header_timeout_s", CFG_INT, api_header_timeout, "5", 1, 300, false, NULL, NULL),
	G("api", "request_timeout_s", CFG_INT, api_request_timeout, "10", 1, 3600, false, NULL,
	  NULL),

	G("worker", "max_in_flight", CFG_INT, max_in_flight, "10", 1, 100, false, NULL, NULL),
	G("worker", "wait_seconds", CFG_INT, wait_seconds, "20", 0, 20, false, NULL, NULL),
	G("worker", "visibility_timeout", CFG_INT, visibility_timeout, "180", 10, 43200, false,
	  NULL, NULL),
	G("worker", "max_receive_count", CFG_INT, max_receive_count, "3", 1, 1000, false, NULL,
	  NULL),
	G("worker", "backoff_min_seconds", CFG_INT, backoff_min_seconds, "5", 0, 43200, false,
	  NULL, NULL),
	G("worker", "backoff_max_seconds", CFG_INT, backoff_max_seconds, "180", 1, 43200, false,
	  NULL, NULL),
	G("worker", "dependency_wait_seconds", CFG_INT, dependency_wait_seconds, "60", 0, 3600,
	  false, NULL, NULL),
	G("worker", "drain_timeout_ms", CFG_INT, worker_drain_timeout_ms, "50000", 0, 600000,
	  true, NULL, NULL),
	G("worker", "metrics_listen", CFG_STR, metrics_listen, "", 0, LISTEN_MAX, false,
	  cfg_check_listen, NULL),
	G("worker", "reconcile_after_seconds", CFG_INT, reconcile_after_seconds, "300", 1,
	  604800, true, NULL, NULL),

	G("rds", "host", CFG_STR, rds_host, "127.0.0.1", 0, DB_PARAM_MAX, false, check_required,
	  "RDS_HOST"),
	G("rds", "port", CFG_INT, rds_port, "5432", 1, 65535, false, NULL, "RDS_PORT"),
	G("rds", "database", CFG_STR, rds_database, "appointments_{cc}", 0, DB_PARAM_MAX, false,
	  check_name, "RDS_DATABASE"),
	G("rds", "username", CFG_STR, rds_username, "appointmentd", 0, DB_PARAM_MAX, false,
	  check_required, "RDS_USERNAME"),
	G("rds", "sslmode", CFG_STR, rds_sslmode, "prefer", 0, DB_PARAM_MAX, false, check_sslmode,
	  NULL),
	G("rds", "connect_timeout", CFG_INT, rds_connect_timeout, "5", 1, 600, false, NULL, NULL),

	/* country keys: a NULL default is inherited from [rds] */
	C("topic_name", CFG_STR, topic_name, NAME_PREFIX "-appointments-{cc}-{stage}", 0,
	  SNS_TOPIC_NAME_MAX, check_name, NULL, NULL),
	C("topic_arn", CFG_STR, topic_arn, "", 0, SNS_ARN_MAX - 1, check_arn, NULL,
	  "APPOINTMENTS_%s_TOPIC_ARN"),
	C("queue_name", CFG_STR, queue_name, NAME_PREFIX "-appointments-{cc}-{stage}", 0,
	  SQS_NAME_MAX, check_name, NULL, NULL),
	C("queue_url", CFG_STR, queue_url, "", 0, SQS_URL_MAX - 1, cfg_check_url, NULL,
	  "APPOINTMENTS_%s_QUEUE_URL"),
	C("dlq_name", CFG_STR, dlq_name, NAME_PREFIX "-appointments-{cc}-{stage}-dlq", 0,
	  SQS_NAME_MAX, check_name, NULL, NULL),
	C("dlq_url", CFG_STR, dlq_url, "", 0, SQS_URL_MAX - 1, cfg_check_url, NULL,
	  "APPOINTMENTS_%s_DLQ_URL"),
	C("db_host", CFG_STR, db_host, NULL, 0, DB_PARAM_MAX, check_required, "rds.host",
	  "RDS_%s_HOST"),
	C("db_port", CFG_INT, db_port, NULL, 1, 65535, NULL, "rds.port", "RDS_%s_PORT"),
	C("db_name", CFG_STR, db_name, NULL, 0, DB_PARAM_MAX, check_name, "rds.database",
	  "RDS_%s_DATABASE"),
	C("db_user", CFG_STR, db_user, NULL, 0, DB_PARAM_MAX, check_required, "rds.username",
	  "RDS_%s_USERNAME"),
	C("db_sslmode", CFG_STR, db_sslmode, NULL, 0, DB_PARAM_MAX, check_sslmode, "rds.sslmode",
	  NULL),
};

/* Stage defaults of SPEC §2 for keys whose table default is NULL. */
static const struct {
	const char *stage;
	enum log_level level;
	int rate;
	int burst;
} stage_table[] = {
	{"dev", LOG_LVL_DEBUG, 100, 200},
	{"staging", LOG_LVL_INFO, 500, 1000},
	{"prod", LOG_LVL_WARN, 1000, 2000},
};

static void stage_defaults(void *cp, const char *stage)
{
	struct conf *c = cp;
	size_t i = 0; /* an unnamed stage gets dev's defaults */

	for (size_t k = 0; k < sizeof(stage_table) / sizeof(stage_table[0]); k++)
		if (strcmp(stage_table[k].stage, stage) == 0)
			i = k;
	c->log_level = stage_table[i].level;
	c->rate_limit = stage_table[i].rate;
	c->rate_burst = stage_table[i].burst;
}

/* Rules that involve more than one key. */
static enum rc check_whole(const void *cp, struct errbuf *eb)
{
	const struct conf *c = cp;

	if (c->n_countries == 0)
		return eb_set(eb, RC_INVAL, "%s: no [country XX] section: at least one is required",
			      c->path);
	if (c->backoff_min_seconds > c->backoff_max_seconds)
		return eb_set(eb, RC_INVAL,
			      "%s: [worker] backoff_min_seconds: greater than backoff_max_seconds",
			      c->path);
	if (c->rate_burst < c->rate_limit / 1000)
		return eb_set(eb, RC_INVAL, "%s: [api] burst: too small for rate_limit", c->path);
	for (size_t i = 0; i < c->n_countries; i++)
		if (strchr(c->countries[i].db_name, '{') != NULL ||
		    strchr(c->countries[i].topic_name, '{') != NULL ||
		    strchr(c->countries[i].queue_name, '{') != NULL)
			return eb_set(eb, RC_INVAL, "%s: [country %s]: unknown {placeholder} in a name",
				      c->path, c->countries[i].code);
	return RC_OK;
}

static const struct cfg_schema conf_schema = {
	.keys = conf_keys,
	.n_keys = sizeof(conf_keys) / sizeof(conf_keys[0]),
	.size = sizeof(struct conf),
	.path_offset = offsetof(struct conf, path),
	.env_prefix = "APPOINTMENTD",
	.profile_section = "general",
	.profile_name = "stage",
	.profile_default = "dev",
	.profile_placeholder = "{stage}",
	.instance_kind = "country",
	.instances_name = "countries",
	.instance_placeholder = "{cc}",
	.bad_instance_msg = "bad section name: use [country XX] with an upper-case ISO code",
	.instance_size = sizeof(struct conf_country),
	.instances_offset = offsetof(struct conf, countries),
	.count_offset = offsetof(struct conf, n_countries),
	.max_instances = CONF_MAX_COUNTRIES,
	.id_offset = offsetof(struct conf_country, code),
	.lower_offset = offsetof(struct conf_country, lower),
	.id_size = sizeof(((struct conf_country *)0)->code),
	.id_ok = country_code_ok,
	.profile_defaults = stage_defaults,
	.check = check_whole,
};

enum rc conf_load(const char *path, const struct cfg_env *env, struct conf **out,
		  struct errbuf *eb)
{
	void *c = NULL;
	enum rc rc = cfg_parse(&conf_schema, path != NULL ? path : CONF_DEFAULT_PATH, env, &c, eb);

	*out = c;
	return rc;
}

enum rc conf_reload(const struct conf *running, const struct cfg_env *env, struct conf **out,
		    char *refused, size_t n, struct errbuf *eb)
{
	struct conf *loaded = NULL;
	void *merged = NULL;
	enum rc rc = conf_load(running->path, env, &loaded, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	rc = cfg_reload_merge(&conf_schema, running, loaded, &merged, refused, n);
	conf_free(loaded);
	if (rc != RC_OK)
		return eb_set(eb, rc, "out of memory reloading %s", running->path);
	*out = merged;
	return RC_OK;
}

void conf_free(struct conf *c)
{
	cfg_release(&conf_schema, c);
}

const struct conf_country *conf_country(const struct conf *c, const char *code)
{
	for (size_t i = 0; i < c->n_countries; i++)
		if (strcmp(c->countries[i].code, code) == 0)
			return &c->countries[i];
	return NULL;
}

void conf_db_target(const struct conf *c, const struct conf_country *cc, const char *password,
		    struct db_target *out)
{
	out->host = cc->db_host;
	out->port = cc->db_port;
	out->dbname = cc->db_name;
	out->user = cc->db_user;
	out->password = password;
	out->sslmode = cc->db_sslmode;
	out->connect_timeout_ms = c->rds_connect_timeout * 1000;
}

void conf_dump(const struct conf *c, FILE *f)
{
	cfg_write(&conf_schema, c, f);
}
