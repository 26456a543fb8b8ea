/* cfg.c — the configuration key table and its loader (inih for the INI syntax).
 * Every key is one row: section, name, type, offset, default, bounds, reloadable,
 * environment aliases. Parsing fills a fresh struct; nothing is half-applied. */
#include "base/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

enum cfg_type {
	CFG_STR,   /* free string (may contain {stage} / {cc}) */
	CFG_NAME,  /* AWS resource name: [A-Za-z0-9_.{}-], may use placeholders */
	CFG_URL,   /* http(s)://host[:port][/path] or empty */
	CFG_ARN,   /* arn:... or empty */
	CFG_INT,   /* integer within [min, max] */
	CFG_LEVEL, /* log level name */
	CFG_LISTEN,/* host:port, [v6]:port, or empty when allowed */
	CFG_STAGE, /* [a-z0-9-]{1,32} */
};

/* Where a key lives: the top-level struct cfg or one struct cfg_country. */
enum cfg_scope { SCOPE_GLOBAL, SCOPE_COUNTRY };

struct cfg_key {
	enum cfg_scope scope;
	const char *section;   /* "general", "aws", "api", "worker", "rds"; "country" */
	const char *name;      /* key inside the section */
	enum cfg_type type;
	size_t offset;         /* into struct cfg or struct cfg_country */
	const char *def;       /* default as text; NULL = per-stage or inherited */
	long long min, max;    /* CFG_INT bounds */
	bool reloadable;       /* SIGHUP may change it */
	const char *env[3];    /* extra environment names; for country keys a "%s" is
				* replaced by the upper-case code */
};

#define G(sec, nm, ty, field, def, mn, mx, rl, ...)                                              \
	{SCOPE_GLOBAL, sec, nm, ty, offsetof(struct cfg, field), def, mn, mx, rl, {__VA_ARGS__}}
#define C(nm, ty, field, def, mn, mx, ...)                                                       \
	{SCOPE_COUNTRY, "country", nm, ty, offsetof(struct cfg_country, field), def, mn, mx, false,  \
	 {__VA_ARGS__}}

#define NAME_PREFIX "medical-appointment-scheduling"

static const struct cfg_key cfg_keys[] = {
	G("general", "stage", CFG_STAGE, stage, "dev", 0, 0, false, "STAGE"),
	G("general", "log_level", CFG_LEVEL, log_level, NULL, 0, 0, true, "LOG_LEVEL"),

	G("aws", "region", CFG_STR, region, "", 0, 0, false, NULL),
	G("aws", "endpoint_url", CFG_URL, endpoint_url, "", 0, 0, false, NULL),
	G("aws", "table_name", CFG_NAME, table_name, NAME_PREFIX "-appointments-{stage}", 0, 0,
	  false, "APPOINTMENTS_TABLE_NAME"),
	G("aws", "idempotency_table", CFG_NAME, idempotency_table,
	  NAME_PREFIX "-idempotency-{stage}", 0, 0, false, NULL),
	G("aws", "quota_table", CFG_NAME, quota_table, NAME_PREFIX "-quota-{stage}", 0, 0, false,
	  NULL),
	G("aws", "event_bus_name", CFG_NAME, event_bus_name, NAME_PREFIX "-{stage}", 0, 0, false,
	  "EVENTBRIDGE_BUS_NAME"),
	G("aws", "completion_queue_name", CFG_NAME, completion_queue_name,
	  NAME_PREFIX "-appointments-completion-{stage}", 0, 0, false, NULL),
	G("aws", "completion_queue_url", CFG_URL, completion_queue_url, "", 0, 0, false,
	  "APPOINTMENTS_COMPLETION_QUEUE_URL"),
	G("aws", "completion_dlq_name", CFG_NAME, completion_dlq_name,
	  NAME_PREFIX "-appointments-completion-{stage}-dlq", 0, 0, false, NULL),
	G("aws", "error_queue_name", CFG_NAME, error_queue_name,
	  NAME_PREFIX "-appointments-error-{stage}", 0, 0, false, NULL),
	G("aws", "error_queue_url", CFG_URL, error_queue_url, "", 0, 0, false,
	  "APPOINTMENTS_ERROR_QUEUE_URL"),
	G("aws", "error_dlq_name", CFG_NAME, error_dlq_name,
	  NAME_PREFIX "-appointments-error-{stage}-dlq", 0, 0, false, NULL),
	G("aws", "ssm_password_parameter", CFG_STR, ssm_password_parameter,
	  "/medical-appointment/{stage}/rds/password", 0, 0, false, NULL),

	G("api", "listen", CFG_LISTEN, api_listen, "127.0.0.1:8080", 0, 0, false, NULL),
	G("api", "keys_file", CFG_STR, api_keys_file, "", 0, 0, true, NULL),
	G("api", "cors_origins", CFG_STR, cors_origins, "*", 0, 0, true, NULL),
	G("api", "rate_limit", CFG_INT, rate_limit, NULL, 1, 1000000, true, NULL),
	G("api", "burst", CFG_INT, rate_burst, NULL, 1, 1000000, true, NULL),
	G("api", "key_quota_per_day", CFG_INT, key_quota_per_day, "10000", 1, 1000000000, true,
	  NULL),
	G("api", "body_limit", CFG_INT, body_limit, "16384", 256, 1048576, false, NULL),
	G("api", "threads", CFG_INT, api_threads, "8", 1, 256, false, NULL),
	G("api", "db_check_timeout_ms", CFG_INT, db_check_timeout_ms, "1000", 50, 30000, false,
	  NULL),
	G("api", "list_page_size", CFG_INT, list_page_size, "0", 0, 1000, true, NULL),

	G("worker", "max_in_flight", CFG_INT, max_in_flight, "10", 1, 100, false, NULL),
	G("worker", "wait_seconds", CFG_INT, wait_seconds, "20", 0, 20, false, NULL),
	G("worker", "visibility_timeout", CFG_INT, visibility_timeout, "180", 10, 43200, false,
	  NULL),
	G("worker", "max_receive_count", CFG_INT, max_receive_count, "3", 1, 1000, false, NULL),
	G("worker", "backoff_min_seconds", CFG_INT, backoff_min_seconds, "5", 0, 43200, false,
	  NULL),
	G("worker", "backoff_max_seconds", CFG_INT, backoff_max_seconds, "180", 1, 43200, false,
	  NULL),
	G("worker", "dependency_wait_seconds", CFG_INT, dependency_wait_seconds, "60", 0, 3600,
	  false, NULL),
	G("worker", "metrics_listen", CFG_LISTEN, metrics_listen, "", 0, 0, false, NULL),
	G("worker", "reconcile_after_seconds", CFG_INT, reconcile_after_seconds, "300", 1,
	  604800, true, NULL),

	G("rds", "host", CFG_STR, rds_host, "127.0.0.1", 0, 0, false, "RDS_HOST"),
	G("rds", "port", CFG_INT, rds_port, "5432", 1, 65535, false, "RDS_PORT"),
	G("rds", "database", CFG_NAME, rds_database, "appointments_{cc}", 0, 0, false,
	  "RDS_DATABASE"),
	G("rds", "username", CFG_STR, rds_username, "appointmentd", 0, 0, false, "RDS_USERNAME"),
	G("rds", "sslmode", CFG_STR, rds_sslmode, "prefer", 0, 0, false, NULL),
	G("rds", "connect_timeout", CFG_INT, rds_connect_timeout, "5", 1, 600, false, NULL),

	/* country keys: a NULL default inherits from [aws]/[rds] or a naming rule */
	C("topic_name", CFG_NAME, topic_name, NAME_PREFIX "-appointments-{cc}-{stage}", 0, 0, NULL),
	C("topic_arn", CFG_ARN, topic_arn, "", 0, 0, "APPOINTMENTS_%s_TOPIC_ARN"),
	C("queue_name", CFG_NAME, queue_name, NAME_PREFIX "-appointments-{cc}-{stage}", 0, 0, NULL),
	C("queue_url", CFG_URL, queue_url, "", 0, 0, "APPOINTMENTS_%s_QUEUE_URL"),
	C("dlq_name", CFG_NAME, dlq_name, NAME_PREFIX "-appointments-{cc}-{stage}-dlq", 0, 0, NULL),
	C("dlq_url", CFG_URL, dlq_url, "", 0, 0, "APPOINTMENTS_%s_DLQ_URL"),
	C("db_host", CFG_STR, db_host, NULL, 0, 0, "RDS_%s_HOST"),
	C("db_port", CFG_INT, db_port, NULL, 1, 65535, "RDS_%s_PORT"),
	C("db_name", CFG_NAME, db_name, NULL, 0, 0, "RDS_%s_DATABASE"),
	C("db_user", CFG_STR, db_user, NULL, 0, 0, "RDS_%s_USERNAME"),
	C("db_sslmode", CFG_STR, db_sslmode, NULL, 0, 0, NULL),
};

#define N_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* Stage defaults of SPEC §2 for keys whose table default is NULL. */
struct stage_defaults {
	const char *stage;
	enum log_level level;
	int rate;
	int burst;
};

static const struct stage_defaults stage_table[] = {
	{"dev", LOG_LVL_DEBUG, 100, 200},
	{"staging", LOG_LVL_INFO, 500, 1000},
	{"prod", LOG_LVL_WARN, 1000, 2000},
};

/* Parse state for one load: the struct being filled plus where values came from. */
struct loader {
	struct cfg *c;
	const struct cfg_env *env;
	bool set_global[N_KEYS];                       /* key given by some layer */
	bool set_country[CFG_MAX_COUNTRIES][N_KEYS];
	const char *file;                              /* file being parsed */
	int line;                                      /* its current line */
	bool stage_only;                               /* first pass: read only "stage" */
	char stage[40];                                /* what the first pass found */
	FILE *fp;
	bool line_too_long;
	struct errbuf *eb;
	enum rc rc;                                    /* first error of the pass */
};

static const char *env_get(const struct cfg_env *env, const char *name)
{
	if (env == NULL || env->get == NULL)
		return getenv(name);
	return env->get(env->ud, name);
}

static char **str_slot(void *base, const struct cfg_key *k)
{
	return (char **)(void *)((char *)base + k->offset);
}

static int *int_slot(void *base, const struct cfg_key *k)
{
	return (int *)(void *)((char *)base + k->offset);
}

static bool valid_url(const char *v)
{
	const char *host;
	size_t hostlen;

	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else
		return false;
	hostlen = strcspn(host, "/?#");
	if (hostlen == 0)
		return false;
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static bool valid_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end = NULL;
	long port;

	if (colon == NULL || colon == v)
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
		return false;
	if (v[0] == '[')
		return colon > v + 1 && colon[-1] == ']';
	return memchr(v, ':', (size_t)(colon - v)) == NULL;
}

static bool valid_name(const char *v)
{
	if (*v == '\0')
		return false;
	for (const char *p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.{}", *p) == NULL)
			return false;
	return true;
}

/* Checks and stores one value. Returns a static reason on error, NULL when fine. */
static const char *set_value(struct loader *ld, void *base, const struct cfg_key *k,
			     const char *v, bool *nomem)
{
	char *end = NULL;
	long long n;
	char *dup;

	*nomem = false;
	if (strlen(v) > CFG_MAX_VALUE_LEN)
		return "value too long";
	switch (k->type) {
	case CFG_INT:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || isspace((unsigned char)*v))
			return "not an integer";
		if (n < k->min || n > k->max)
			return "out of range";
		*int_slot(base, k) = (int)n;
		return NULL;
	case CFG_LEVEL: {
		enum log_level lv;

		if (log_level_parse(v, &lv) != RC_OK)
			return "not a log level (error, warn, info, debug)";
		*(enum log_level *)(void *)((char *)base + k->offset) = lv;
		return NULL;
	}
	case CFG_URL:
		if (*v != '\0' && !valid_url(v))
			return "not an http(s) URL";
		break;
	case CFG_ARN:
		if (*v != '\0' && strncmp(v, "arn:", 4) != 0)
			return "not an ARN";
		break;
	case CFG_LISTEN:
		if (*v != '\0' && !valid_listen(v))
			return "not a host:port address";
		break;
	case CFG_NAME:
		if (!valid_name(v))
			return "not a valid resource name";
		break;
	case CFG_STAGE:
		if (*v == '\0' || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(v))
			return "not a stage name ([a-z0-9-], at most 32)";
		break;
	case CFG_STR:
		break;
	}
	(void)ld;
	dup = strdup(v);
	if (dup == NULL) {
		*nomem = true;
		return "out of memory";
	}
	free(*str_slot(base, k));
	*str_slot(base, k) = dup;
	return NULL;
}

static const struct cfg_key *key_find(enum cfg_scope scope, const char *section, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->scope == scope && strcmp(k->name, name) == 0 &&
		    (scope == SCOPE_COUNTRY || strcmp(k->section, section) == 0))
			return k;
	}
	return NULL;
}

/* "country PE" → code "PE"; RC_INVAL when the section name is not like that. */
static bool country_section(const char *section, char code[3])
{
	if (strncmp(section, "country ", 8) != 0)
		return false;
	section += 8;
	while (*section == ' ')
		section++;
	if (strlen(section) != 2 || !isupper((unsigned char)section[0]) ||
	    !isupper((unsigned char)section[1]))
		return false;
	code[0] = section[0];
	code[1] = section[1];
	code[2] = '\0';
	return true;
}

static struct cfg_country *country_get(struct cfg *c, const char *code, bool create)
{
	struct cfg_country *cc;

	for (size_t i = 0; i < c->n_countries; i++)
		if (strcmp(c->countries[i].code, code) == 0)
			return &c->countries[i];
	if (!create || c->n_countries >= CFG_MAX_COUNTRIES)
		return NULL;
	cc = &c->countries[c->n_countries++];
	memset(cc, 0, sizeof(*cc));
	memcpy(cc->code, code, 3);
	cc->lower[0] = (char)tolower((unsigned char)code[0]);
	cc->lower[1] = (char)tolower((unsigned char)code[1]);
	cc->lower[2] = '\0';
	return cc;
}

static int fail_at(struct loader *ld, enum rc rc, const char *section, const char *name,
		   const char *why)
{
	if (ld->rc == RC_OK) {
		ld->rc = rc;
		eb_set(ld->eb, rc, "%s:%d: [%s] %s: %s", ld->file, ld->line, section,
		       name != NULL ? name : "", why);
	}
	return 0;
}

/* inih handler: one key = value of the current file. */
static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct cfg_key *k;
	void *base;
	size_t idx;
	const char *why;
	bool nomem;
	char code[3];
	struct cfg_country *cc = NULL;

	if (ld->stage_only) {
		if (strcmp(section, "general") == 0 && strcmp(name, "stage") == 0)
			snprintf(ld->stage, sizeof(ld->stage), "%s", value);
		return 1;
	}
	if (country_section(section, code)) {
		k = key_find(SCOPE_COUNTRY, section, name);
		if (k == NULL)
			return fail_at(ld, RC_INVAL, section, name, "unknown key");
		cc = country_get(ld->c, code, true);
		if (cc == NULL)
			return fail_at(ld, RC_INVAL, section, name, "too many countries");
		base = cc;
	} else if (strncmp(section, "country", 7) == 0) {
		return fail_at(ld, RC_INVAL, section, name,
			       "bad section name: use [country XX] with an upper-case ISO code");
	} else {
		k = key_find(SCOPE_GLOBAL, section, name);
		if (k == NULL)
			return fail_at(ld, RC_INVAL, section, name, "unknown key or section");
		base = ld->c;
	}
	why = set_value(ld, base, k, value, &nomem);
	if (why != NULL)
		return fail_at(ld, nomem ? RC_NOMEM : RC_INVAL, section, name, why);
	idx = (size_t)(k - cfg_keys);
	if (cc != NULL)
		ld->set_country[cc - ld->c->countries][idx] = true;
	else
		ld->set_global[idx] = true;
	return 1;
}

/* inih calls no handler for a section without keys, yet "[country XX]" alone
 * must enable a country with all defaults: register it when its header is read. */
static void note_section_line(struct loader *ld, const char *line)
{
	char section[64];
	char code[3];
	const char *p = line + strspn(line, " \t");
	size_t n;

	if (*p != '[')
		return;
	p++;
	n = strcspn(p, "]");
	if (p[n] != ']' || n >= sizeof(section))
		return;
	memcpy(section, p, n);
	section[n] = '\0';
	if (country_section(section, code)) {
		if (country_get(ld->c, code, true) == NULL)
			(void)fail_at(ld, RC_INVAL, section, NULL, "too many countries");
	} else if (strncmp(section, "country", 7) == 0) {
		(void)fail_at(ld, RC_INVAL, section, NULL,
			      "bad section name: use [country XX] with an upper-case ISO code");
	}
}

/* inih reader: fgets that counts lines and refuses lines inih would split. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	size_t n;

	if (fgets(str, num, ld->fp) == NULL)
		return NULL;
	ld->line++;
	n = strlen(str);
	if (!ld->stage_only)
		note_section_line(ld, str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(ld->fp)) {
		ld->line_too_long = true;
		return NULL;
	}
	return str;
}

/* Parses one file into ld->c. missing_ok: a file that does not exist is skipped. */
static enum rc parse_file(struct loader *ld, const char *path, bool missing_ok)
{
	int res;

	ld->fp = fopen(path, "re");
	if (ld->fp == NULL) {
		if (missing_ok && errno == ENOENT)
			return RC_OK;
		return eb_set(ld->eb, RC_INVAL, "%s: cannot open: %s", path, strerror(errno));
	}
	ld->file = path;
	ld->line = 0;
	ld->line_too_long = false;
	res = ini_parse_stream(read_line, ld, on_ini_value, ld);
	fclose(ld->fp);
	ld->fp = NULL;
	if (ld->rc != RC_OK)
		return ld->rc;
	if (ld->line_too_long)
		return eb_set(ld->eb, RC_INVAL, "%s:%d: line too long", path, ld->line);
	if (res != 0)
		return eb_set(ld->eb, RC_INVAL, "%s:%d: syntax error (expected [section] or key = value)",
			      path, res);
	return RC_OK;
}

static const struct stage_defaults *stage_defaults_for(const char *stage)
{
	for (size_t i = 0; i < sizeof(stage_table) / sizeof(stage_table[0]); i++)
		if (strcmp(stage_table[i].stage, stage) == 0)
			return &stage_table[i];
	return &stage_table[0]; /* an unnamed stage gets dev's defaults */
}

static enum rc apply_defaults(struct loader *ld)
{
	const struct stage_defaults *sd = stage_defaults_for(ld->stage);
	bool nomem;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->scope != SCOPE_GLOBAL || k->def == NULL)
			continue;
		if (set_value(ld, ld->c, k, k->def, &nomem) != NULL)
			return eb_set(ld->eb, nomem ? RC_NOMEM : RC_FATAL, "default of %s.%s rejected",
				      k->section, k->name);
	}
	if (set_value(ld, ld->c, key_find(SCOPE_GLOBAL, "general", "stage"), ld->stage, &nomem) != NULL)
		return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "stage '%s': not a stage name "
			      "([a-z0-9-], at most 32)", ld->stage);
	ld->c->log_level = sd->level;
	ld->c->rate_limit = sd->rate;
	ld->c->rate_burst = sd->burst;
	return RC_OK;
}

/* Generic environment name of a key: APPOINTMENTD_<SECTION>[_<CC>]_<NAME>. */
static void generic_env_name(const struct cfg_key *k, const char *code, char *out, size_t n)
{
	size_t j;

	if (code != NULL)
		snprintf(out, n, "APPOINTMENTD_COUNTRY_%s_%s", code, k->name);
	else
		snprintf(out, n, "APPOINTMENTD_%s_%s", k->section, k->name);
	for (j = 0; out[j] != '\0'; j++)
		out[j] = (char)toupper((unsigned char)out[j]);
}

static enum rc apply_env_key(struct loader *ld, void *base, const struct cfg_key *k,
			     const char *code, bool *set)
{
	char names[4][128];
	size_t nn = 0;
	bool nomem;

	/* serverless names first, our generic name last so it wins when both are set */
	for (size_t a = 0; a < 3 && k->env[a] != NULL; a++) {
		const char *slot = code != NULL ? strstr(k->env[a], "%s") : NULL;

		if (slot != NULL)
			snprintf(names[nn++], sizeof(names[0]), "%.*s%s%s", (int)(slot - k->env[a]),
				 k->env[a], code, slot + 2);
		else
			snprintf(names[nn++], sizeof(names[0]), "%s", k->env[a]);
	}
	generic_env_name(k, code, names[nn++], sizeof(names[0]));
	for (size_t i = 0; i < nn; i++) {
		const char *v = env_get(ld->env, names[i]);
		const char *why;

		if (v == NULL)
			continue;
		why = set_value(ld, base, k, v, &nomem);
		if (why != NULL)
			return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "environment %s: %s",
				      names[i], why);
		*set = true;
	}
	return RC_OK;
}

static enum rc apply_env(struct loader *ld)
{
	enum rc rc;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->scope == SCOPE_GLOBAL) {
			/* the stage was settled before the files were read */
			if (strcmp(k->name, "stage") == 0)
				continue;
			rc = apply_env_key(ld, ld->c, k, NULL, &ld->set_global[i]);
			if (rc != RC_OK)
				return rc;
			continue;
		}
		for (size_t c = 0; c < ld->c->n_countries; c++) {
			rc = apply_env_key(ld, &ld->c->countries[c], k, ld->c->countries[c].code,
					   &ld->set_country[c][i]);
			if (rc != RC_OK)
				return rc;
		}
	}
	return RC_OK;
}

/* Replaces {stage} and {cc} in *slot; cc may be NULL (then {cc} stays). */
static enum rc expand(char **slot, const char *stage, const char *cc)
{
	struct buf b;
	const char *p;
	char *res;

	if (*slot == NULL || strchr(*slot, '{') == NULL)
		return RC_OK;
	buf_init(&b, CFG_MAX_VALUE_LEN * 2);
	for (p = *slot; *p != '\0';) {
		enum rc rc;

		if (strncmp(p, "{stage}", 7) == 0) {
			rc = buf_puts(&b, stage);
			p += 7;
		} else if (cc != NULL && strncmp(p, "{cc}", 4) == 0) {
			rc = buf_puts(&b, cc);
			p += 4;
		} else {
			rc = buf_append(&b, p, 1);
			p++;
		}
		if (rc != RC_OK) {
			buf_cleanup(&b);
			return rc;
		}
	}
	res = buf_take(&b);
	if (res == NULL)
		return RC_NOMEM;
	free(*slot);
	*slot = res;
	return RC_OK;
}

static bool is_string_type(enum cfg_type t)
{
	return t != CFG_INT && t != CFG_LEVEL;
}

/* Country defaults inherited from [rds], then placeholder expansion everywhere. */
static enum rc finish(struct loader *ld)
{
	struct cfg *c = ld->c;
	bool nomem;
	enum rc rc;

	for (size_t ci = 0; ci < c->n_countries; ci++) {
		struct cfg_country *cc = &c->countries[ci];

		for (size_t i = 0; i < N_KEYS; i++) {
			const struct cfg_key *k = &cfg_keys[i];
			const char *def = k->def;
			char port[16];

			if (k->scope != SCOPE_COUNTRY || ld->set_country[ci][i])
				continue;
			if (def == NULL) {
				if (strcmp(k->name, "db_host") == 0)
					def = c->rds_host;
				else if (strcmp(k->name, "db_name") == 0)
					def = c->rds_database;
				else if (strcmp(k->name, "db_user") == 0)
					def = c->rds_username;
				else if (strcmp(k->name, "db_sslmode") == 0)
					def = c->rds_sslmode;
				else {
					snprintf(port, sizeof(port), "%d", c->rds_port);
					def = port;
				}
			}
			if (set_value(ld, cc, k, def, &nomem) != NULL)
				return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL,
					      "[country %s] %s: bad inherited value '%s'", cc->code,
					      k->name, def);
		}
		for (size_t i = 0; i < N_KEYS; i++) {
			if (cfg_keys[i].scope != SCOPE_COUNTRY || !is_string_type(cfg_keys[i].type))
				continue;
			rc = expand(str_slot(cc, &cfg_keys[i]), c->stage, cc->lower);
			if (rc != RC_OK)
				return eb_set(ld->eb, rc, "[country %s] %s: value too long after expansion",
					      cc->code, cfg_keys[i].name);
		}
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		if (cfg_keys[i].scope != SCOPE_GLOBAL || !is_string_type(cfg_keys[i].type))
			continue;
		rc = expand(str_slot(c, &cfg_keys[i]), c->stage, NULL);
		if (rc != RC_OK)
			return eb_set(ld->eb, rc, "%s: value too long after expansion", cfg_keys[i].name);
	}
	return RC_OK;
}

/* Rules that involve more than one key. */
static enum rc check_whole(struct loader *ld)
{
	const struct cfg *c = ld->c;

	if (c->n_countries == 0)
		return eb_set(ld->eb, RC_INVAL, "%s: no [country XX] section: at least one is required",
			      c->path);
	if (c->backoff_min_seconds > c->backoff_max_seconds)
		return eb_set(ld->eb, RC_INVAL,
			      "%s: [worker] backoff_min_seconds: greater than backoff_max_seconds",
			      c->path);
	if (c->rate_burst < c->rate_limit / 1000)
		return eb_set(ld->eb, RC_INVAL, "%s: [api] burst: too small for rate_limit", c->path);
	for (size_t i = 0; i < c->n_countries; i++)
		if (strchr(c->countries[i].db_name, '{') != NULL ||
		    strchr(c->countries[i].topic_name, '{') != NULL ||
		    strchr(c->countries[i].queue_name, '{') != NULL)
			return eb_set(ld->eb, RC_INVAL, "%s: [country %s]: unknown {placeholder} in a name",
				      c->path, c->countries[i].code);
	return RC_OK;
}

/* Directory part of path ("." when none) into out. */
static void dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

enum rc cfg_load(const char *path, const struct cfg_env *env, struct cfg **out,
		 struct errbuf *eb)
{
	struct loader *ld = NULL;
	const char *env_stage;
	char dir[1024];
	char stage_path[1200];
	enum rc rc;

	*out = NULL;
	if (path == NULL)
		path = CFG_DEFAULT_PATH;
	ld = calloc(1, sizeof(*ld));
	if (ld == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
	ld->c = calloc(1, sizeof(*ld->c));
	if (ld->c == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
		goto out;
	}
	ld->env = env;
	ld->eb = eb;
	ld->c->path = strdup(path);
	if (ld->c->path == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
		goto out;
	}

	/* The stage picks the defaults and the stage file, so settle it first. */
	snprintf(ld->stage, sizeof(ld->stage), "dev");
	ld->stage_only = true;
	rc = parse_file(ld, path, false);
	if (rc != RC_OK)
		goto out;
	ld->stage_only = false;
	env_stage = env_get(env, "STAGE");
	if (env_stage == NULL)
		env_stage = env_get(env, "APPOINTMENTD_GENERAL_STAGE");
	if (env_stage != NULL)
		snprintf(ld->stage, sizeof(ld->stage), "%s", env_stage);
	rc = apply_defaults(ld);
	if (rc != RC_OK)
		goto out;

	dir_of(path, dir, sizeof(dir));
	snprintf(stage_path, sizeof(stage_path), "%s/%s.conf", dir, ld->c->stage);
	rc = parse_file(ld, stage_path, true);
	if (rc != RC_OK)
		goto out;
	rc = parse_file(ld, path, false);
	if (rc != RC_OK)
		goto out;
	/* a file may not contradict the stage chosen by the environment */
	if (strcmp(ld->c->stage, ld->stage) != 0) {
		free(ld->c->stage);
		ld->c->stage = strdup(ld->stage);
		if (ld->c->stage == NULL) {
			rc = eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
			goto out;
		}
	}
	rc = apply_env(ld);
	if (rc != RC_OK)
		goto out;
	rc = finish(ld);
	if (rc != RC_OK)
		goto out;
	rc = check_whole(ld);
	if (rc != RC_OK)
		goto out;
	*out = ld->c;
	ld->c = NULL;
out:
	if (ld != NULL)
		cfg_free(ld->c);
	free(ld);
	return rc;
}

void cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (!is_string_type(k->type))
			continue;
		if (k->scope == SCOPE_GLOBAL)
			free(*str_slot(c, k));
		else
			for (size_t ci = 0; ci < c->n_countries; ci++)
				free(*str_slot(&c->countries[ci], k));
	}
	free(c->path);
	free(c);
}

const struct cfg_country *cfg_country_find(const struct cfg *c, const char *code)
{
	for (size_t i = 0; i < c->n_countries; i++)
		if (strcmp(c->countries[i].code, code) == 0)
			return &c->countries[i];
	return NULL;
}

static bool key_differs(const void *a, const void *b, const struct cfg_key *k)
{
	if (!is_string_type(k->type))
		return *int_slot((void *)(uintptr_t)a, k) != *int_slot((void *)(uintptr_t)b, k);
	return strcmp(*str_slot((void *)(uintptr_t)a, k), *str_slot((void *)(uintptr_t)b, k)) != 0;
}

void cfg_non_reloadable_changes(const struct cfg *old, const struct cfg *new_cfg, char *out,
				size_t n)
{
	struct buf b;

	buf_init(&b, n > 0 ? n - 1 : 0);
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->reloadable)
			continue;
		if (k->scope == SCOPE_GLOBAL) {
			if (key_differs(old, new_cfg, k) &&
			    buf_printf(&b, "%s%s.%s", b.len ? "; " : "", k->section, k->name) != RC_OK)
				break; /* out is full: the list is cut, which is fine for a log line */
			continue;
		}
		for (size_t ci = 0; ci < new_cfg->n_countries; ci++) {
			const struct cfg_country *oc = cfg_country_find(old, new_cfg->countries[ci].code);

			if (oc != NULL && key_differs(oc, &new_cfg->countries[ci], k) &&
			    buf_printf(&b, "%scountry %s.%s", b.len ? "; " : "",
				       new_cfg->countries[ci].code, k->name) != RC_OK)
				break;
		}
	}
	if (old->n_countries != new_cfg->n_countries) {
		enum rc rc = buf_puts(&b, b.len ? "; countries" : "countries");

		(void)rc; /* a cut list is fine for a log line */
	}
	snprintf(out, n, "%s", buf_str(&b));
	buf_cleanup(&b);
}

static void dump_key(const void *base, const struct cfg_key *k, FILE *f)
{
	if (k->type == CFG_LEVEL)
		fprintf(f, "%s = %s\n", k->name,
			log_level_name(*(const enum log_level *)(const void *)((const char *)base + k->offset)));
	else if (k->type == CFG_INT)
		fprintf(f, "%s = %d\n", k->name, *int_slot((void *)(uintptr_t)base, k));
	else
		fprintf(f, "%s = %s\n", k->name, *str_slot((void *)(uintptr_t)base, k));
}

void cfg_dump(const struct cfg *c, FILE *f)
{
	const char *section = "";

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->scope != SCOPE_GLOBAL)
			continue;
		if (strcmp(section, k->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		dump_key(c, k, f);
	}
	for (size_t ci = 0; ci < c->n_countries; ci++) {
		fprintf(f, "\n[country %s]\n", c->countries[ci].code);
		for (size_t i = 0; i < N_KEYS; i++)
			if (cfg_keys[i].scope == SCOPE_COUNTRY)
				dump_key(&c->countries[ci], &cfg_keys[i], f);
	}
}
