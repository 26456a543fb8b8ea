/* test_cfg.c — config loading: layers, env overrides, placeholders, every error
 * naming file:line or the variable and the key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/conf.h"

/* Fake environment: NULL-terminated name/value pairs. */
struct fake_env {
	const char *const *pairs;
};

static const char *fake_get(void *ud, const char *name)
{
	const struct fake_env *fe = ud;

	for (size_t i = 0; fe->pairs != NULL && fe->pairs[i] != NULL; i += 2)
		if (strcmp(fe->pairs[i], name) == 0)
			return fe->pairs[i + 1];
	return NULL;
}

/* The names of the pairs, as struct cfg_env lists the environment. */
static const char *fake_entry(void *ud, size_t i)
{
	const struct fake_env *fe = ud;

	for (size_t k = 0; fe->pairs != NULL; k++) {
		if (fe->pairs[2 * k] == NULL)
			return NULL;
		if (k == i)
			return fe->pairs[2 * k];
	}
	return NULL;
}

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cfg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Loads main.conf (written from text) with env pairs; returns rc, fills c/eb. */
static enum rc load(const char *text, const char *const *env, struct conf **c, struct errbuf *eb)
{
	char path[256];
	struct fake_env fe = {env};
	struct cfg_env ce = {fake_get, &fe, fake_entry};

	write_file("main.conf", text);
	snprintf(path, sizeof(path), "%s/main.conf", tmpdir);
	memset(eb, 0, sizeof(*eb));
	return conf_load(path, &ce, c, eb);
}

START_TEST(test_defaults_and_countries)
{
	struct conf *c = NULL;
	struct errbuf eb;
	const struct conf_country *pe;

	ck_assert_int_eq(load("[general]\nstage = dev\n[country PE]\n[country CL]\ndb_port = 6543\n",
			      NULL, &c, &eb), RC_OK);
	ck_assert_str_eq(c->stage, "dev");
	ck_assert_int_eq(c->log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(c->rate_limit, 100);
	ck_assert_int_eq(c->rate_burst, 200);
	ck_assert_int_eq(c->key_quota_per_day, 10000);
	ck_assert_str_eq(c->table_name, "medical-appointment-scheduling-appointments-dev");
	ck_assert_str_eq(c->event_bus_name, "medical-appointment-scheduling-dev");
	ck_assert_str_eq(c->ssm_password_parameter, "/medical-appointment/dev/rds/password");
	ck_assert_str_eq(c->completion_queue_name,
			 "medical-appointment-scheduling-appointments-completion-dev");
	ck_assert_uint_eq(c->n_countries, 2);
	pe = conf_country(c, "PE");
	ck_assert_ptr_nonnull(pe);
	ck_assert_str_eq(pe->topic_name, "medical-appointment-scheduling-appointments-pe-dev");
	ck_assert_str_eq(pe->dlq_name, "medical-appointment-scheduling-appointments-pe-dev-dlq");
	ck_assert_str_eq(pe->db_name, "appointments_pe");
	ck_assert_int_eq(pe->db_port, 5432);
	ck_assert_int_eq(conf_country(c, "CL")->db_port, 6543);
	ck_assert_ptr_null(conf_country(c, "pe"));
	ck_assert_ptr_null(conf_country(c, "MX"));
	conf_free(c);
}
END_TEST

START_TEST(test_stage_from_env_and_stage_file)
{
	static const char *const env[] = {"STAGE", "prod", NULL};
	struct conf *c = NULL;
	struct errbuf eb;

	write_file("prod.conf", "[api]\nrate_limit = 999\n");
	ck_assert_int_eq(load("[general]\nstage = dev\n[country PE]\n", env, &c, &eb), RC_OK);
	ck_assert_str_eq(c->stage, "prod");
	ck_assert_int_eq(c->log_level, LOG_LVL_WARN);
	ck_assert_int_eq(c->rate_limit, 999); /* stage file over built-in default */
	ck_assert_int_eq(c->rate_burst, 2000);
	ck_assert_str_eq(c->table_name, "medical-appointment-scheduling-appointments-prod");
	conf_free(c);
}
END_TEST

START_TEST(test_env_overrides)
{
	static const char *const env[] = {
		"APPOINTMENTS_TABLE_NAME", "my-table",
		"APPOINTMENTS_PE_QUEUE_URL", "http://127.0.0.1:1/000/q",
		"APPOINTMENTS_PE_TOPIC_ARN", "arn:aws:sns:us-east-1:000:t",
		"RDS_HOST", "db.example",
		"RDS_PORT", "6000",
		"LOG_LEVEL", "ERROR",
		"APPOINTMENTD_API_BURST", "7",
		"APPOINTMENTD_COUNTRY_CL_DB_NAME", "chile",
		NULL};
	struct conf *c = NULL;
	struct errbuf eb;

	ck_assert_int_eq(load("[country PE]\n[country CL]\n[rds]\nhost = file.example\n", env, &c,
			      &eb), RC_OK);
	ck_assert_str_eq(c->table_name, "my-table");
	ck_assert_int_eq(c->log_level, LOG_LVL_ERROR);
	ck_assert_int_eq(c->rate_burst, 7);
	ck_assert_str_eq(conf_country(c, "PE")->queue_url, "http://127.0.0.1:1/000/q");
	ck_assert_str_eq(conf_country(c, "PE")->topic_arn, "arn:aws:sns:us-east-1:000:t");
	ck_assert_str_eq(conf_country(c, "CL")->queue_url, "");
	ck_assert_str_eq(conf_country(c, "PE")->db_host, "db.example");
	ck_assert_int_eq(conf_country(c, "CL")->db_port, 6000);
	ck_assert_str_eq(conf_country(c, "CL")->db_name, "chile");
	conf_free(c);
}
END_TEST

/* [aws] region and endpoint_url as the AWS resolver takes them; {stage} still works in the
 * endpoint (checked with the placeholder standing for a host part). */
START_TEST(test_aws_region_and_endpoint)
{
	struct conf *c = NULL;
	struct errbuf eb = {{0}};

	ck_assert_msg(load("[country PE]\n[aws]\nregion = ap-southeast-1\n"
			   "endpoint_url = http://{stage}-stack:4566/\n",
			   NULL, &c, &eb) == RC_OK,
		      "%s", eb.msg);
	ck_assert_str_eq(c->region, "ap-southeast-1");
	ck_assert_str_eq(c->endpoint_url, "http://dev-stack:4566/");
	conf_free(c);
}
END_TEST

/* Bad files: the message names the file, the line and the key. */
static const struct {
	const char *text;
	const char *want; /* substring of the error after "<dir>/main.conf" */
} bad_files[] = {
	{"[country PE]\n[api]\nlisten = 127.0.0.1:8080\nfoo = 1\n", ":4: [api] foo: unknown key"},
	{"[country PE]\n[api]\nrate_limit = ten\n", ":3: [api] rate_limit: not an integer"},
	{"[country PE]\n[api]\nrate_limit = 0\n", ":3: [api] rate_limit: out of range"},
	{"[country PE]\n[api]\nrate_limit = 99999999999999999999\n", ":3: [api] rate_limit: not an integer"},
	{"[country PE]\n[api]\nlisten = 8080\n", ":3: [api] listen: not a host:port address"},
	{"[country PE]\nqueue_url = ftp://x/y\n", ":2: [country PE] queue_url: not an http(s) URL"},
	{"[country PE]\ntopic_arn = nope\n", ":2: [country PE] topic_arn: not an ARN"},
	{"[country PE]\ncolour = red\n", ":2: [country PE] colour: unknown key"},
	{"[country pe]\n", ":1: [country pe] : bad section name"},
	{"[country PER]\n", ":1: [country PER] : bad section name"},
	{"[nope]\nx = 1\n[country PE]\n", ":2: [nope] x: unknown key or section"},
	{"[general]\nlog_level = loud\n[country PE]\n", ":2: [general] log_level: not a log level"},
	/* the stage, read before the rest, is named like any other key (SPEC §2) */
	{"[general]\nstage = Prod!\n[country PE]\n", ":2: [general] stage: not a stage name"},
	{"# c\n[general]\nlog_level = info\nstage =\n[country PE]\n",
	 ":4: [general] stage: not a stage name"},
	/* a key with no "= value": a missing value, named, not a bare syntax error */
	{"[country PE]\n[aws]\ntable_name\n", ":3: [aws] table_name: missing value (expected "
	 "table_name = value)"},
	{"[country PE]\n[aws]\ntable_name ; = x\n", ":3: [aws] table_name: missing value"},
	{"[country PE]\nthis is not ini\n", ":2: [country PE] this is not ini: missing value"},
	{"[country PE\n", ":1: syntax error"},
	{"[general]\nstage = dev\n", "no [country XX] section"},
	{"[country PE]\n[worker]\nbackoff_min_seconds = 100\nbackoff_max_seconds = 10\n",
	 "backoff_min_seconds: greater than backoff_max_seconds"},
	{"[country PE]\n[aws]\ntable_name = bad name\n", ":3: [aws] table_name: not a valid resource name"},
	/* checked as the AWS resolver will take them, so the error names this line and not
	 * AWS_REGION / AWS_ENDPOINT_URL, which the file's values stand in for */
	{"[country PE]\n[aws]\nregion = US_EAST\n", ":3: [aws] region: not a region name"},
	{"[country PE]\n[aws]\nendpoint_url = http://localhost:4566/path\n",
	 ":3: [aws] endpoint_url: not an http(s)://host[:port] URL"},
	{"[country PE]\n[aws]\nendpoint_url = http://user@localhost:4566\n",
	 ":3: [aws] endpoint_url: not an http(s)://host[:port] URL"},
	/* a database setting libpq cannot do without is a missing value at load (SPEC §2), not
	 * a worker that stops later naming no line, nor an API whose every check fails */
	{"[rds]\nhost =\n[country PE]\n", ":2: [rds] host: missing value"},
	{"[rds]\nusername =\n[country PE]\n", ":2: [rds] username: missing value"},
	{"[country PE]\ndb_host =\n", ":2: [country PE] db_host: missing value"},
	{"[country PE]\ndb_user =\n", ":2: [country PE] db_user: missing value"},
	{"[rds]\nsslmode =\n[country PE]\n", ":2: [rds] sslmode: missing value"},
	{"[rds]\nsslmode = verify_full\n[country PE]\n", ":2: [rds] sslmode: not an sslmode"},
	{"[country PE]\ndb_sslmode = on\n", ":2: [country PE] db_sslmode: not an sslmode"},
};

START_TEST(test_bad_file)
{
	struct conf *c = (struct conf *)0x1;
	struct errbuf eb;

	ck_assert_int_eq(load(bad_files[_i].text, NULL, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, bad_files[_i].want) != NULL, "case %d: got '%s', want '%s'", _i,
		      eb.msg, bad_files[_i].want);
	ck_assert_msg(strstr(eb.msg, "main.conf") != NULL, "no file name in '%s'", eb.msg);
}
END_TEST

START_TEST(test_bad_env)
{
	static const char *const env1[] = {"RDS_PORT", "70000", NULL};
	static const char *const env2[] = {"APPOINTMENTS_PE_QUEUE_URL", "not a url", NULL};
	static const char *const env3[] = {"APPOINTMENTD_API_THREADS", "", NULL};
	static const char *const env4[] = {"APPOINTMENTD_AWS_REGION", "us_east_1", NULL};
	static const char *const env5[] = {"RDS_PE_HOST", "", NULL};
	static const char *const env6[] = {"STAGE", "Prod", NULL};
	static const char *const env7[] = {"APPOINTMENTD_GENERAL_STAGE", "", NULL};
	struct conf *c = NULL;
	struct errbuf eb;

	ck_assert_int_eq(load("[country PE]\n", env1, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment RDS_PORT: out of range");
	ck_assert_int_eq(load("[country PE]\n", env2, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment APPOINTMENTS_PE_QUEUE_URL: not an http(s) URL");
	ck_assert_int_eq(load("[country PE]\n", env3, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment APPOINTMENTD_API_THREADS: not an integer");
	ck_assert_int_eq(load("[country PE]\n", env4, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment APPOINTMENTD_AWS_REGION: not a region name "
				 "(lower-case letters, digits and dashes)");
	ck_assert_int_eq(load("[country PE]\n", env5, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment RDS_PE_HOST: missing value");
	ck_assert_int_eq(load("[general]\nstage = dev\n[country PE]\n", env6, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment STAGE: not a stage name ([a-z0-9-], at most 32)");
	ck_assert_int_eq(load("[country PE]\n", env7, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment APPOINTMENTD_GENERAL_STAGE: not a stage name "
				 "([a-z0-9-], at most 32)");
	ck_assert_ptr_null(c);
}
END_TEST

/* A variable of ours that names no key is an error, not a setting silently ignored: a typo,
 * or a country the file does not configure. Other variables are not ours to judge. */
START_TEST(test_unknown_env)
{
	static const char *const typo[] = {"APPOINTMENTD_API_BURST", "7",
					   "APPOINTMENTD_WORKER_METRICS_LISTN", "127.0.0.1:1", NULL};
	static const char *const no_country[] = {"APPOINTMENTD_COUNTRY_MX_DB_HOST", "db", NULL};
	static const char *const lower[] = {"appointmentd_api_burst", "7", NULL};
	static const char *const others[] = {"APPOINTMENTDX_API_FOO", "1", "APPOINTMENTD", "1",
					     "APPOINTMENTD_", "1", "PGPASSWORD", "pw",
					     "APPOINTMENTD_COUNTRY_PE_DB_HOST", "db", NULL};
	struct conf *c = NULL;
	struct errbuf eb;

	ck_assert_int_eq(load("[country PE]\n", typo, &c, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "environment APPOINTMENTD_WORKER_METRICS_LISTN: no such setting "
				 "(a key's name, for a country: of a configured [country ID] section)");
	ck_assert_ptr_null(c);
	ck_assert_int_eq(load("[country PE]\n", no_country, &c, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "APPOINTMENTD_COUNTRY_MX_DB_HOST: no such setting"));
	/* names are upper case, as the documentation gives them */
	ck_assert_int_eq(load("[country PE]\n", lower, &c, &eb), RC_OK);
	conf_free(c);
	c = NULL;
	ck_assert_int_eq(load("[country PE]\n", others, &c, &eb), RC_INVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "environment APPOINTMENTD_: no such setting"));
	ck_assert_int_eq(load("[country PE]\n", others + 6, &c, &eb), RC_OK);
	ck_assert_str_eq(conf_country(c, "PE")->db_host, "db");
	conf_free(c);
}
END_TEST

START_TEST(test_missing_file_and_long_line)
{
	struct conf *c = NULL;
	struct errbuf eb = {{0}};
	char path[256];
	char text[1024];

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	ck_assert_int_eq(conf_load(path, NULL, &c, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "absent.conf: cannot open") != NULL, "%s", eb.msg);
	memset(text, 'a', sizeof(text));
	memcpy(text, "[country PE]\nqueue_name = ", 26);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(load(text, NULL, &c, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "main.conf:2: line too long") != NULL, "%s", eb.msg);
}
END_TEST

/* conf_reload on main.conf rewritten with text: the merge of running and the new file.
 * The environment is load's (none), not the process's: a shell with the local stack's
 * RDS_PORT would otherwise change keys under the test. */
static struct conf *reload(const struct conf *running, const char *text, char *refused,
			   size_t n)
{
	struct conf *m = NULL;
	struct errbuf eb = {{0}};
	struct fake_env fe = {NULL};
	struct cfg_env ce = {fake_get, &fe, fake_entry};

	write_file("main.conf", text);
	ck_assert_msg(conf_reload(running, &ce, &m, refused, n, &eb) == RC_OK, "%s", eb.msg);
	ck_assert_ptr_nonnull(m);
	return m;
}

START_TEST(test_reload_applies_only_reloadable_keys)
{
	struct conf *a = NULL;
	struct conf *m = NULL;
	struct errbuf eb;
	char refused[256];

	ck_assert_int_eq(load("[country PE]\n[api]\nrate_limit = 5\n", NULL, &a, &eb), RC_OK);
	m = reload(a, "[country PE]\ndb_port = 1\n[api]\nrate_limit = 6\nthreads = 3\n"
		      "[aws]\ntable_name = other\n", refused, sizeof(refused));
	ck_assert_str_eq(refused, "aws.table_name; api.threads; country PE.db_port");
	ck_assert_int_eq(m->rate_limit, 6);                /* reloadable: applied */
	ck_assert_int_eq(m->api_threads, a->api_threads);  /* the rest keeps running values */
	ck_assert_str_eq(m->table_name, a->table_name);
	ck_assert_int_eq(m->countries[0].db_port, 5432);
	ck_assert_str_eq(m->path, a->path);
	conf_free(m);
	/* an unchanged file: nothing refused */
	m = reload(a, "[country PE]\n[api]\nrate_limit = 5\n", refused, sizeof(refused));
	ck_assert_str_eq(refused, "");
	conf_free(m);
	conf_free(a);
}
END_TEST

START_TEST(test_reload_keeps_countries_by_code)
{
	struct conf *a = NULL;
	struct conf *m = NULL;
	struct errbuf eb;
	char refused[256];

	ck_assert_int_eq(load("[country PE]\n[country CL]\n", NULL, &a, &eb), RC_OK);
	/* swapped sections are the same countries: nothing to refuse, nothing moves */
	m = reload(a, "[country CL]\n[country PE]\n", refused, sizeof(refused));
	ck_assert_str_eq(refused, "");
	ck_assert_str_eq(m->countries[0].code, "PE");
	ck_assert_str_eq(m->countries[0].topic_name, a->countries[0].topic_name);
	ck_assert_str_eq(m->countries[1].code, "CL");
	conf_free(m);
	/* a country added or removed needs a restart */
	m = reload(a, "[country CL]\n[country MX]\n", refused, sizeof(refused));
	ck_assert_str_eq(refused, "country PE removed; country MX added");
	ck_assert_uint_eq(m->n_countries, 2);
	ck_assert_ptr_nonnull(conf_country(m, "PE"));
	ck_assert_ptr_null(conf_country(m, "MX"));
	conf_free(m);
	conf_free(a);
}
END_TEST

/* The drain times of a stop: the units' (25 s below the API's TimeoutStopSec=30s, 50 s below
 * the consumers' 60s) by default, set by a file or the environment, bounded, and read from the
 * configuration current at the stop (reloadable). They were constants that only a rebuild
 * changed. */
START_TEST(test_drain_timeouts)
{
	static const char *const env[] = {"APPOINTMENTD_WORKER_DRAIN_TIMEOUT_MS", "1500", NULL};
	static const char *const bad[] = {"APPOINTMENTD_API_DRAIN_TIMEOUT_MS", "600001", NULL};
	struct conf *c = NULL;
	struct conf *m = NULL;
	struct errbuf eb;
	char refused[256];

	ck_assert_int_eq(load("[country PE]\n", NULL, &c, &eb), RC_OK);
	ck_assert_int_eq(c->api_drain_timeout_ms, 25000);
	ck_assert_int_eq(c->worker_drain_timeout_ms, 50000);
	conf_free(c);
	ck_assert_int_eq(load("[country PE]\n[api]\ndrain_timeout_ms = 0\n", env, &c, &eb), RC_OK);
	ck_assert_int_eq(c->api_drain_timeout_ms, 0);
	ck_assert_int_eq(c->worker_drain_timeout_ms, 1500);
	conf_free(c);
	c = NULL;
	ck_assert_int_eq(load("[country PE]\n", bad, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, "APPOINTMENTD_API_DRAIN_TIMEOUT_MS") != NULL, "%s", eb.msg);
	ck_assert_int_eq(load("[country PE]\n", NULL, &c, &eb), RC_OK);
	m = reload(c, "[country PE]\n[api]\ndrain_timeout_ms = 20000\n[worker]\n"
		      "drain_timeout_ms = 40000\n", refused, sizeof(refused));
	ck_assert_str_eq(refused, "");
	ck_assert_int_eq(m->api_drain_timeout_ms, 20000);
	ck_assert_int_eq(m->worker_drain_timeout_ms, 40000);
	conf_free(m);
	conf_free(c);
}
END_TEST

/* Before issue 11 a value longer than the buffer it went to was accepted and cut later
 * (a 1199-byte queue URL reached SQS as its first 1023 bytes). */
START_TEST(test_over_long_value_refused)
{
	char url[1200];
	char arn[600];
	const char *env[] = {"APPOINTMENTS_PE_QUEUE_URL", url, NULL};
	const char *env2[] = {"APPOINTMENTS_PE_TOPIC_ARN", arn, NULL};
	struct conf *c = NULL;
	struct errbuf eb;

	memset(url, 'a', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	memcpy(url, "http://h/", 9);
	ck_assert_int_eq(load("[country PE]\n", env, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, "environment APPOINTMENTS_PE_QUEUE_URL: longer than 1023 bytes")
		      != NULL, "got '%s'", eb.msg);
	memset(arn, 'a', sizeof(arn) - 1);
	arn[sizeof(arn) - 1] = '\0';
	memcpy(arn, "arn:", 4);
	ck_assert_int_eq(load("[country PE]\n", env2, &c, &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "longer than 511 bytes") != NULL, "got '%s'", eb.msg);
	/* a name that fits before {stage} is expanded but not after */
	ck_assert_int_eq(load("[general]\nstage = abcdefghijklmnopqrstuvwxyz012345\n"
			      "[country PE]\nqueue_name = q-{stage}-{stage}-{stage}\n", NULL, &c,
			      &eb), RC_INVAL);
	ck_assert_msg(strstr(eb.msg, "[country PE] queue_name: longer than 80 bytes once "
				     "placeholders are replaced") != NULL, "got '%s'", eb.msg);
}
END_TEST

START_TEST(test_boolean_key)
{
	const char *yes[] = {"true", "yes", "on", "1"};
	const char *no[] = {"false", "no", "off", "0"};
	char text[96];
	struct conf *c = NULL;
	struct errbuf eb;

	ck_assert_int_eq(load("[country PE]\n", NULL, &c, &eb), RC_OK);
	ck_assert_int_eq(c->api_reuse_port, 0);
	conf_free(c);
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[api]\nreuse_port = %s\n[country PE]\n", yes[i]);
		ck_assert_int_eq(load(text, NULL, &c, &eb), RC_OK);
		ck_assert_int_eq(c->api_reuse_port, 1);
		conf_free(c);
		snprintf(text, sizeof(text), "[api]\nreuse_port = %s\n[country PE]\n", no[i]);
		ck_assert_int_eq(load(text, NULL, &c, &eb), RC_OK);
		ck_assert_int_eq(c->api_reuse_port, 0);
		conf_free(c);
	}
	c = NULL;
	ck_assert_int_eq(load("[api]\nreuse_port = True2\n[country PE]\n", NULL, &c, &eb), RC_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(eb.msg, "reuse_port: not a boolean (true or false)") != NULL, "got '%s'",
		      eb.msg);
}
END_TEST

START_TEST(test_db_target)
{
	struct conf *c = NULL;
	struct errbuf eb;
	struct db_target t;

	ck_assert_int_eq(load("[rds]\nconnect_timeout = 7\n[country PE]\ndb_host = h\n"
			      "db_port = 6000\n", NULL, &c, &eb), RC_OK);
	conf_db_target(c, conf_country(c, "PE"), "pw", &t);
	ck_assert_str_eq(t.host, "h");
	ck_assert_int_eq(t.port, 6000);
	ck_assert_str_eq(t.dbname, "appointments_pe");
	ck_assert_str_eq(t.user, "appointmentd");
	ck_assert_str_eq(t.sslmode, "prefer");
	ck_assert_str_eq(t.password, "pw");
	ck_assert_int_eq(t.connect_timeout_ms, 7000);
	conf_free(c);
}
END_TEST

START_TEST(test_shipped_files_load)
{
	char path[512];
	struct conf *c = NULL;
	struct errbuf eb = {{0}};
	const char *root = getenv("APPT_SOURCE_ROOT");
	static const char *const stages[] = {"dev", "staging", "prod"};
	static const int rates[] = {100, 500, 1000};
	/* dev talks to the local PostgreSQL; staging and prod must authenticate the server */
	static const char *const sslmodes[] = {"prefer", "verify-full", "verify-full"};

	ck_assert_ptr_nonnull(root);
	snprintf(path, sizeof(path), "%s/etc/appointmentd.conf", root);
	for (int i = 0; i < 3; i++) {
		const char *env[] = {"STAGE", stages[i], NULL};
		struct fake_env fe = {env};
		struct cfg_env ce = {fake_get, &fe, fake_entry};
		FILE *devnull = fopen("/dev/null", "w");

		ck_assert_msg(conf_load(path, &ce, &c, &eb) == RC_OK, "%s", eb.msg);
		ck_assert_int_eq(c->rate_limit, rates[i]);
		ck_assert_uint_eq(c->n_countries, 2);
		ck_assert_str_eq(c->rds_sslmode, sslmodes[i]);
		ck_assert_str_eq(conf_country(c, "PE")->db_sslmode, sslmodes[i]);
		conf_dump(c, devnull);
		fclose(devnull);
		conf_free(c);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("load");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_and_countries);
	tcase_add_test(tc, test_stage_from_env_and_stage_file);
	tcase_add_test(tc, test_env_overrides);
	tcase_add_test(tc, test_aws_region_and_endpoint);
	tcase_add_loop_test(tc, test_bad_file, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	tcase_add_test(tc, test_bad_env);
	tcase_add_test(tc, test_unknown_env);
	tcase_add_test(tc, test_missing_file_and_long_line);
	tcase_add_test(tc, test_reload_applies_only_reloadable_keys);
	tcase_add_test(tc, test_reload_keeps_countries_by_code);
	tcase_add_test(tc, test_drain_timeouts);
	tcase_add_test(tc, test_over_long_value_refused);
	tcase_add_test(tc, test_boolean_key);
	tcase_add_test(tc, test_db_target);
	tcase_add_test(tc, test_shipped_files_load);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
