/* itest.c — the shared helpers of the C tests (see itest.h). */
#include "itest.h"

#include "aws/dynamodb.h"
#include "aws/dynamodb_tables.h"
#include "domain/appointment.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>

extern char **environ;

const char *const itest_target_names[T_COUNT] = {"moto", "fauxqs"};

const char *itest_getenv(void *ctx, const char *name)
{
	const struct itest_env *te = ctx;
	const char *v;

	for (int i = 0; i < ITEST_ENDPOINTS_MAX; i++)
		if (te->var[i] != NULL && strcmp(name, te->var[i]) == 0)
			return te->url[i];
	if (strcmp(name, "AWS_ENDPOINT_URL") == 0)
		return te->url[0];
	if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
		return "true";
	v = getenv(name);
	if (v != NULL && v[0] != '\0')
		return v;
	if (strcmp(name, "AWS_REGION") == 0)
		return "us-east-1";
	if (strcmp(name, "AWS_ACCESS_KEY_ID") == 0 || strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
		return "test";
	return NULL;
}

const char *itest_need_env(const char *var)
{
	const char *v = getenv(var);

	if (v == NULL || v[0] == '\0')
		ck_abort_msg("%s is not set: run through scripts/test (the local stack)", var);
	return v;
}

bool itest_loopback(const char *url)
{
	static const char *const ok[] = {"http://127.", "http://localhost:", "http://[::1]:",
					 NULL};

	for (size_t i = 0; ok[i] != NULL; i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

bool itest_config_env(const struct itest_env *te, struct aws_config *cfg, struct errbuf *why)
{
	struct aws_env env = {itest_getenv, (void *)(uintptr_t)te};

	if (aws_config_from_env(cfg, &env, why) != RC_OK) {
		eb_prefix(why, "config");
		return false;
	}
	/* Emulators answer fast; keep failing tests short. */
	cfg->request_timeout_ms = 10000;
	cfg->backoff_base_ms = 20;
	cfg->backoff_max_ms = 200;
	return true;
}

bool itest_config(const char *var, struct aws_config *cfg, struct errbuf *why)
{
	struct itest_env te = {{var, NULL}, {getenv(var), NULL}};

	if (te.url[0] == NULL || te.url[0][0] == '\0') {
		eb_set(why, RC_INVAL, "%s is not set: run through scripts/test (the local stack)",
		       var);
		return false;
	}
	if (!itest_loopback(te.url[0])) {
		eb_set(why, RC_INVAL, "%s=%s is not a loopback address", var, te.url[0]);
		return false;
	}
	return itest_config_env(&te, cfg, why);
}

void itest_unreachable_config(struct aws_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->region, sizeof(cfg->region), "us-east-1");
	for (int s = 0; s < AWS_SVC_COUNT; s++)
		snprintf(cfg->endpoint[s], sizeof(cfg->endpoint[s]), "http://127.0.0.1:1");
	cfg->creds_source = AWS_CREDS_STATIC;
	cfg->max_attempts = 1;
	cfg->connect_timeout_ms = 1000;
	cfg->request_timeout_ms = 2000;
	cfg->retry_budget_ms = 2000;
}

const char *itest_target_sqs(int t)
{
	return itest_need_env(t == T_MOTO ? "AWS_ENDPOINT_URL_SQS" : "APPT_FAUXQS_URL");
}

void itest_target_config(int t, bool sns, const char *override, struct aws_config *cfg)
{
	struct itest_env te = {{"AWS_ENDPOINT_URL_SQS", NULL}, {NULL, NULL}};
	struct errbuf eb = {{0}};

	if (sns) {
		te.var[1] = "AWS_ENDPOINT_URL_SNS";
		te.url[1] =
			itest_need_env(t == T_MOTO ? "AWS_ENDPOINT_URL_SNS" : "APPT_FAUXQS_URL");
	}
	te.url[0] = itest_target_sqs(t);
	for (int i = 0; override != NULL && i < ITEST_ENDPOINTS_MAX; i++)
		te.url[i] = override;
	ck_assert_msg(itest_config_env(&te, cfg, &eb), "%s", eb.msg);
	ck_assert(cfg->endpoint_overridden[AWS_SVC_SQS]);
	ck_assert(!sns || cfg->endpoint_overridden[AWS_SVC_SNS]);
}

unsigned int itest_random(void)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)time(NULL) ^ (unsigned int)clock();
	return r;
}

void itest_run_prefix(char *out, size_t outsz)
{
	snprintf(out, outsz, "appt-it-%08x", itest_random());
}

void itest_unique_name(const char *what, char *out, size_t outsz)
{
	snprintf(out, outsz, "appt-it-%08x-%s", itest_random(), what);
}

const char *itest_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
}

struct json_object *itest_parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	ck_assert_msg(o != NULL, "bad test JSON: %s", s);
	return o;
}

void itest_check_max_len(bool (*ok)(const char *), size_t max, char fill)
{
	char *big = malloc(max + 2);

	ck_assert_ptr_nonnull(big);
	ck_assert(!ok(NULL));
	memset(big, fill, max + 1);
	big[max + 1] = '\0';
	ck_assert_msg(!ok(big), "%zu bytes accepted (limit %zu)", max + 1, max);
	big[max] = '\0';
	ck_assert_msg(ok(big), "%zu bytes refused (limit %zu)", max, max);
	free(big);
}

bool itest_aws_init(void)
{
	struct errbuf eb = {{0}};

	if (aws_global_init(&eb) == RC_OK)
		return true;
	fprintf(stderr, "aws_global_init: %s\n", eb.msg);
	return false;
}

int itest_run(Suite *s, enum print_output mode)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, mode);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- the fault proxy ---------------------------------------------------------------- */

void itest_proxy_start(struct itest_proxy *p, const char *upstream)
{
	const char *root = getenv("APPT_SOURCE_ROOT");
	char script[1024];
	int in[2];
	int out[2];
	posix_spawn_file_actions_t fa;
	char line[64] = "";
	FILE *fp;
	int port = 0;

	ck_assert_msg(root != NULL, "APPT_SOURCE_ROOT is not set (run through meson test)");
	snprintf(script, sizeof(script), "%s/tests/support/faultproxy/faultproxy.py", root);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	{
		char *argv[] = {"/usr/bin/python3", script, "--upstream", (char *)upstream, NULL};

		ck_assert_int_eq(posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ), 0);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	p->stdin_fd = in[1];
	fp = fdopen(out[0], "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_msg(fgets(line, sizeof(line), fp) != NULL && sscanf(line, "PORT %d", &port) == 1,
		      "faultproxy did not start: %s", line);
	fclose(fp);
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", port);
}

void itest_proxy_stop(struct itest_proxy *p)
{
	close(p->stdin_fd);
	kill(p->pid, SIGTERM);
	waitpid(p->pid, NULL, 0);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	return buf_append(b, ptr, size * nmemb) == RC_OK ? size * nmemb : 0;
}

void itest_proxy_control(const struct itest_proxy *p, const char *path, const char *body,
			  struct buf *out)
{
	CURL *h = curl_easy_init();
	char url[128];

	snprintf(url, sizeof(url), "%s%s", p->url, path);
	buf_reset(out);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
}

int itest_proxy_stat(const struct itest_proxy *p, const char *key)
{
	struct buf b;
	char pat[64];
	const char *at;
	int v = -1;

	buf_init(&b, 4096);
	itest_proxy_control(p, "/__faultproxy/stats", NULL, &b);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	at = strstr(buf_str(&b), pat);
	ck_assert_msg(at != NULL, "%s", buf_str(&b));
	v = (int)strtol(at + strlen(pat), NULL, 10);
	buf_cleanup(&b);
	return v;
}

struct ddb_client *itest_ddb_table_new(const char *prefix,
				       void (*spec_fn)(const char *table, struct ddb_table_spec *spec),
				       char *table, size_t size)
{
	struct aws_config cfg;
	struct aws_env env = aws_env_process();
	struct errbuf eb = {{0}};
	struct ddb_table_spec spec;
	struct ddb_client *ddb;
	char id[APPT_ID_SIZE];

	ck_assert_msg(getenv("AWS_ENDPOINT_URL_DYNAMODB") != NULL,
		      "AWS_ENDPOINT_URL_DYNAMODB is not set: run through scripts/test");
	ck_assert_int_eq(aws_global_init(&eb), RC_OK);
	ck_assert_msg(aws_config_from_env(&cfg, &env, &eb) == RC_OK, "%s", eb.msg);
	ddb = ddb_client_new(&cfg, &eb);
	ck_assert_msg(ddb != NULL, "%s", eb.msg);
	appt_id_new(id);
	snprintf(table, size, "%s-%.8s", prefix, id);
	spec_fn(table, &spec);
	ck_assert_msg(ddb_create_table(ddb, &spec, &eb) == RC_OK, "%s", eb.msg);
	ck_assert_msg(ddb_wait_active(ddb, table, 30000, NULL, &eb) == RC_OK, "%s", eb.msg);
	return ddb;
}

void itest_ddb_table_free(struct ddb_client *ddb, const char *table)
{
	struct errbuf eb = {{0}};

	ck_assert_msg(ddb_delete_table(ddb, table, &eb) == RC_OK, "%s", eb.msg);
	ddb_client_free(ddb);
	aws_global_cleanup();
}

void itest_pg_drop_database(struct pg_conn *admin, const char *name)
{
	char sql[256];
	char why[256] = "";

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	for (int attempt = 0; attempt < 50; attempt++) {
		PGresult *r = PQexec(admin, sql);
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		/* 42501: a process of another role (autovacuum); 55006: still in use */
		bool again = !ok && state != NULL &&
			     (strcmp(state, "42501") == 0 || strcmp(state, "55006") == 0);

		snprintf(why, sizeof(why), "%s", PQresultErrorMessage(r));
		PQclear(r);
		if (ok)
			return;
		if (!again)
			break;
		usleep(200 * 1000);
	}
	ck_abort_msg("%s: %s", sql, why);
}
