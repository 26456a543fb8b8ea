/* cfg.c — the parse of the configuration engine: the INI walk (inih), the layers,
 * environment names, placeholders, inheritance and checks. It fills a fresh struct; nothing
 * is half-applied. The reload merge, the dump and the release are cfg_reload.c. */
#include "base/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cfg_priv.h"
#include "base/str.h"

#define ENV_NAME_MAX 128   /* an environment variable name we build */
#define SECTION_MAX 64     /* a section header we look at */
#define WHY_MAX 96         /* a reason made on the fly ("longer than 1023 bytes") */

/* Parse state of one load: the struct being filled and where values came from. */
struct loader {
	const struct cfg_schema *s;
	void *c;
	const struct cfg_env *env;
	bool *set;                  /* key i given by some layer: set[i] globally, then
				     * set[(1 + instance) * n_keys + i] per instance */
	const char *file;           /* file being parsed */
	int line;                   /* its current line */
	bool profile_only;          /* first pass: read only the profile key */
	char profile[CFG_MAX_VALUE_LEN + 1]; /* what the first pass settled */
	int profile_line;           /* the main file's line that set it; 0: not the file */
	const char *profile_env;    /* the variable that set it (profile_env_name), or NULL */
	char profile_env_name[ENV_NAME_MAX];
	char section[SECTION_MAX];  /* the section of the line read_line last passed */
	int no_value_line;          /* first line of the file that is a key without "= value" */
	char no_value_key[SECTION_MAX]; /* its key and section, for the error */
	char no_value_section[SECTION_MAX];
	FILE *fp;
	bool line_too_long;
	struct errbuf *eb;
	enum rc rc;                 /* first error of the pass */
	char why[WHY_MAX];          /* a reason set_value made up */
};

/* ---- where things are ------------------------------------------------------------------ */

static bool *set_flag(struct loader *ld, const struct cfg_key *k, const void *inst)
{
	size_t i = (size_t)(k - ld->s->keys);
	size_t slot = 0;

	if (inst != NULL)
		slot = 1 + ((size_t)((const char *)inst - ((const char *)ld->c +
							    ld->s->instances_offset)) /
			    ld->s->instance_size);
	return &ld->set[slot * ld->s->n_keys + i];
}

static const struct cfg_key *key_find(const struct cfg_schema *s, bool per_instance,
				      const char *section, const char *name)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->per_instance == per_instance && strcmp(k->name, name) == 0 &&
		    (per_instance || strcmp(k->section, section) == 0))
			return k;
	}
	return NULL;
}

static const struct cfg_key *profile_key(const struct cfg_schema *s)
{
	return key_find(s, false, s->profile_section, s->profile_name);
}

static size_t str_max(const struct cfg_key *k)
{
	return k->max > 0 && k->max < CFG_MAX_VALUE_LEN ? (size_t)k->max : CFG_MAX_VALUE_LEN;
}

/* ---- checks the tables share ---------------------------------------------------------- */

const char *cfg_check_url(const char *v)
{
	const char *host;

	if (*v == '\0')
		return NULL;
	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else
		return "not an http(s) URL";
	if (strcspn(host, "/?#") == 0)
		return "not an http(s) URL";
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "not an http(s) URL";
	return NULL;
}

const char *cfg_check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end = NULL;
	long port;

	if (*v == '\0')
		return NULL;
	if (colon == NULL || colon == v)
		return "not a host:port address";
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
		return "not a host:port address";
	if (v[0] == '[')
		return colon > v + 1 && colon[-1] == ']' ? NULL : "not a host:port address";
	return memchr(v, ':', (size_t)(colon - v)) == NULL ? NULL : "not a host:port address";
}

/* ---- values ---------------------------------------------------------------------------- */

bool cfg_parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = 1;
			return true;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = 0;
			return true;
		}
	}
	return false;
}

/* Checks and stores one value into base (the struct or an instance). Returns a reason on
 * error (static, or ld->why), NULL when fine. */
static const char *set_value(struct loader *ld, void *base, const struct cfg_key *k,
			     const char *v, bool *nomem)
{
	char *end = NULL;
	long long n;
	const char *why;
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
	case CFG_BOOL:
		if (!cfg_parse_bool(v, int_slot(base, k)))
			return "not a boolean (true or false)";
		return NULL;
	case CFG_LEVEL:
		if (log_level_parse(v, level_slot(base, k)) != RC_OK)
			return "not a log level (error, warn, info, debug)";
		return NULL;
	case CFG_STR:
		break;
	}
	if (strlen(v) > str_max(k)) {
		str_cut(ld->why, sizeof(ld->why), "longer than %zu bytes", str_max(k));
		return ld->why;
	}
	why = k->check != NULL ? k->check(v) : NULL;
	if (why != NULL)
		return why;
	dup = strdup(v);
	if (dup == NULL) {
		*nomem = true;
		return "out of memory";
	}
	free(*str_slot(base, k));
	*str_slot(base, k) = dup;
	return NULL;
}

/* The instance ID of a section named "<kind> <ID>", written to id; false otherwise. */
static bool instance_section(const struct cfg_schema *s, const char *section, char *id)
{
	size_t kl = strlen(s->instance_kind);

	if (strncmp(section, s->instance_kind, kl) != 0 || section[kl] != ' ')
		return false;
	section += kl;
	while (*section == ' ')
		section++;
	if (strlen(section) >= s->id_size || !s->id_ok(section))
		return false;
	memcpy(id, section, strlen(section) + 1);
	return true;
}

static bool looks_like_instance(const struct cfg_schema *s, const char *section)
{
	return strncmp(section, s->instance_kind, strlen(s->instance_kind)) == 0;
}

static void *instance_get(const struct cfg_schema *s, void *c, const char *id, bool create)
{
	size_t *n = count_of(s, c);
	void *inst;

	for (size_t i = 0; i < *n; i++)
		if (strcmp(id_of(s, instance_at(s, c, i)), id) == 0)
			return instance_at(s, c, i);
	if (!create || *n >= s->max_instances)
		return NULL;
	inst = instance_at(s, c, (*n)++);
	memset(inst, 0, s->instance_size);
	memcpy(id_of(s, inst), id, strlen(id) + 1);
	for (size_t i = 0; id[i] != '\0'; i++)
		lower_of(s, inst)[i] = (char)tolower((unsigned char)id[i]);
	return inst;
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

static int too_many(struct loader *ld, const char *section, const char *name)
{
	char why[64];

	str_cut(why, sizeof(why), "too many %s", ld->s->instances_name);
	return fail_at(ld, RC_INVAL, section, name, why);
}

/* inih handler: one key = value of the current file. */
static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct cfg_schema *s = ld->s;
	const struct cfg_key *k;
	void *base;
	void *inst = NULL;
	const char *why;
	bool nomem;
	char id[CFG_ID_MAX];

	if (ld->profile_only) {
		if (strcmp(section, s->profile_section) == 0 && strcmp(name, s->profile_name) == 0) {
			(void)str_cut(ld->profile, sizeof(ld->profile), "%s", value);
			ld->profile_line = ld->line;
		}
		return 1;
	}
	if (instance_section(s, section, id)) {
		k = key_find(s, true, section, name);
		if (k == NULL)
			return fail_at(ld, RC_INVAL, section, name, "unknown key");
		inst = instance_get(s, ld->c, id, true);
		if (inst == NULL)
			return too_many(ld, section, name);
		base = inst;
	} else if (looks_like_instance(s, section)) {
		return fail_at(ld, RC_INVAL, section, name, s->bad_instance_msg);
	} else {
		k = key_find(s, false, section, name);
		if (k == NULL)
			return fail_at(ld, RC_INVAL, section, name, "unknown key or section");
		base = ld->c;
	}
	why = set_value(ld, base, k, value, &nomem);
	if (why != NULL)
		return fail_at(ld, nomem ? RC_NOMEM : RC_INVAL, section, name, why);
	*set_flag(ld, k, inst) = true;
	return 1;
}

/* The name of a "[section]" header line into out (leading blanks skipped, as inih does);
 * false for any other line, or a name longer than out holds. */
static bool section_header(const char *line, char out[SECTION_MAX])
{
	const char *p = line + strspn(line, " \t");
	size_t n;

	if (*p != '[')
		return false;
	p++;
	n = strcspn(p, "]\r\n");
	if (p[n] != ']' || n >= SECTION_MAX)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* inih calls no handler for a section without keys, yet "[<kind> <ID>]" alone must enable
 * an instance with all defaults: register it when its header is read. */
static void note_section_line(struct loader *ld, const char *section)
{
	char id[CFG_ID_MAX];

	if (instance_section(ld->s, section, id)) {
		if (instance_get(ld->s, ld->c, id, true) == NULL)
			(void)too_many(ld, section, NULL);
	} else if (looks_like_instance(ld->s, section)) {
		(void)fail_at(ld, RC_INVAL, section, NULL, ld->s->bad_instance_msg);
	}
}

/* Notes, for the error, the first line that names a key with no "= value" after it (inih
 * takes it for a syntax error and says only the line): "table_name" alone, in ld->section
 * (read_line follows the headers). A line that starts with a blank continues the value
 * above it (inih's multi-line values); comments, blank lines and headers are skipped. */
static void note_no_value(struct loader *ld, const char *line)
{
	size_t n = strcspn(line, "\r\n");
	size_t key;

	if (n == 0 || strchr(" \t;#[", line[0]) != NULL)
		return;
	/* inih stops a line at "=" or ":", or at a ";" comment after a blank */
	for (key = 0; key < n && line[key] != '=' && line[key] != ':'; key++)
		if (line[key] == ';' && key > 0 && (line[key - 1] == ' ' || line[key - 1] == '\t'))
			break;
	if ((key < n && line[key] != ';') || ld->no_value_line != 0)
		return;
	while (key > 0 && (line[key - 1] == ' ' || line[key - 1] == '\t'))
		key--;
	ld->no_value_line = ld->line;
	(void)str_cut(ld->no_value_key, sizeof(ld->no_value_key), "%.*s", (int)key, line);
	(void)str_cut(ld->no_value_section, sizeof(ld->no_value_section), "%s", ld->section);
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
	if (section_header(str, ld->section)) {
		if (!ld->profile_only)
			note_section_line(ld, ld->section);
	} else {
		note_no_value(ld, str);
	}
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
	ld->section[0] = '\0';
	ld->no_value_line = 0;
	res = ini_parse_stream(read_line, ld, on_ini_value, ld);
	fclose(ld->fp);
	ld->fp = NULL;
	if (ld->rc != RC_OK)
		return ld->rc;
	if (ld->line_too_long)
		return eb_set(ld->eb, RC_INVAL, "%s:%d: line too long", path, ld->line);
	if (res != 0 && res == ld->no_value_line)
		return eb_set(ld->eb, RC_INVAL, "%s:%d: [%s] %s: missing value (expected %s = value)",
			      path, res, ld->no_value_section, ld->no_value_key, ld->no_value_key);
	if (res != 0)
		return eb_set(ld->eb, RC_INVAL, "%s:%d: syntax error (expected [section] or key = value)",
			      path, res);
	return RC_OK;
}

/* ---- layers ---------------------------------------------------------------------------- */

static enum rc apply_defaults(struct loader *ld)
{
	const struct cfg_schema *s = ld->s;
	const struct cfg_key *pk = profile_key(s);
	const char *why;
	bool nomem;

	for (size_t i = 0; i < s->n_keys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->per_instance || k->def == NULL)
			continue;
		if (set_value(ld, ld->c, k, k->def, &nomem) != NULL)
			return eb_set(ld->eb, nomem ? RC_NOMEM : RC_FATAL, "default of %s.%s rejected",
				      k->section, k->name);
	}
	why = set_value(ld, ld->c, pk, ld->profile, &nomem);
	/* named as any other key's error: the variable, or the main file's line */
	if (why != NULL && ld->profile_env != NULL)
		return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "environment %s: %s",
			      ld->profile_env, why);
	if (why != NULL && ld->profile_line > 0)
		return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "%s:%d: [%s] %s: %s", ld->file,
			      ld->profile_line, s->profile_section, s->profile_name, why);
	if (why != NULL)
		return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "%s '%s': %s", s->profile_name,
			      ld->profile, why);
	if (s->profile_defaults != NULL)
		s->profile_defaults(ld->c, ld->profile);
	return RC_OK;
}

/* Generic environment name of a key: <PREFIX>_<SECTION>_<NAME>, <PREFIX>_<KIND>_<ID>_<NAME>. */
static void generic_env_name(const struct cfg_schema *s, const struct cfg_key *k,
			     const char *id, char *out, size_t n)
{
	if (id != NULL)
		(void)str_cut(out, n, "%s_%s_%s_%s", s->env_prefix, s->instance_kind, id, k->name);
	else
		(void)str_cut(out, n, "%s_%s_%s", s->env_prefix, k->section, k->name);
	for (size_t j = 0; out[j] != '\0'; j++)
		out[j] = (char)toupper((unsigned char)out[j]);
}

/* The environment names of k, lowest priority first: its aliases, then the generic name
 * (so the generic one wins when both are set). Returns how many were written. */
static size_t env_names(const struct cfg_schema *s, const struct cfg_key *k, const char *id,
			char names[4][ENV_NAME_MAX])
{
	size_t nn = 0;

	for (size_t a = 0; a < 3 && k->env[a] != NULL; a++) {
		const char *slot = id != NULL ? strstr(k->env[a], "%s") : NULL;

		if (slot != NULL)
			(void)str_cut(names[nn++], ENV_NAME_MAX, "%.*s%s%s", (int)(slot - k->env[a]),
				      k->env[a], id, slot + 2);
		else
			(void)str_cut(names[nn++], ENV_NAME_MAX, "%s", k->env[a]);
	}
	generic_env_name(s, k, id, names[nn++], ENV_NAME_MAX);
	return nn;
}

static const char *env_get(const struct cfg_env *env, const char *name)
{
	if (env == NULL || env->get == NULL)
		return getenv(name);
	return env->get(env->ud, name);
}

/* The profile from the environment (the last of the key's names that is set), or NULL;
 * *name gets that variable's name (in ld->profile_env_name). */
static const char *env_profile(struct loader *ld, const char **name)
{
	char names[4][ENV_NAME_MAX];
	size_t nn = env_names(ld->s, profile_key(ld->s), NULL, names);
	const char *v = NULL;

	*name = NULL;
	for (size_t i = 0; i < nn; i++)
		if (env_get(ld->env, names[i]) != NULL) {
			v = env_get(ld->env, names[i]);
			(void)str_cut(ld->profile_env_name, sizeof(ld->profile_env_name), "%s",
				      names[i]);
			*name = ld->profile_env_name;
		}
	return v;
}

static enum rc apply_env_key(struct loader *ld, void *base, const struct cfg_key *k,
			     const char *id, void *inst)
{
	char names[4][ENV_NAME_MAX];
	size_t nn = env_names(ld->s, k, id, names);
	bool nomem;

	for (size_t i = 0; i < nn; i++) {
		const char *v = env_get(ld->env, names[i]);
		const char *why;

		if (v == NULL)
			continue;
		why = set_value(ld, base, k, v, &nomem);
		if (why != NULL)
			return eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL, "environment %s: %s",
				      names[i], why);
		*set_flag(ld, k, inst) = true;
	}
	return RC_OK;
}

static enum rc apply_env(struct loader *ld)
{
	const struct cfg_schema *s = ld->s;
	const struct cfg_key *pk = profile_key(s);
	enum rc rc = RC_OK;

	for (size_t i = 0; i < s->n_keys && rc == RC_OK; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k == pk)
			continue; /* settled before the files were read */
		if (!k->per_instance) {
			rc = apply_env_key(ld, ld->c, k, NULL, NULL);
			continue;
		}
		for (size_t c = 0; c < *count_of(s, ld->c) && rc == RC_OK; c++) {
			void *inst = instance_at(s, ld->c, c);

			rc = apply_env_key(ld, inst, k, id_of(s, inst), inst);
		}
	}
	return rc;
}

extern char **environ;

/* The i-th variable of env (environ when env is NULL), NULL at the end or when env does not
 * list its variables. Called with i = 0, 1, ... up to the first NULL, so environ[i] stays
 * within the array. */
static const char *env_entry(const struct cfg_env *env, size_t i)
{
	if (env == NULL || env->get == NULL)
		return environ != NULL ? environ[i] : NULL; /* NULL: clearenv(3) */
	return env->entry != NULL ? env->entry(env->ud, i) : NULL;
}

/* Is name (n bytes) one of k's environment names, for its instances if it has any? */
static bool env_name_of(struct loader *ld, const struct cfg_key *k, const char *name, size_t n)
{
	char names[4][ENV_NAME_MAX];
	size_t count = k->per_instance ? *count_of(ld->s, ld->c) : 1;

	for (size_t c = 0; c < count; c++) {
		size_t nn = env_names(ld->s, k, k->per_instance ? id_of(ld->s, instance_at(ld->s,
					ld->c, c)) : NULL, names);

		for (size_t i = 0; i < nn; i++)
			if (strlen(names[i]) == n && strncmp(names[i], name, n) == 0)
				return true;
	}
	return false;
}

/* Every <PREFIX>_ variable of the environment names a key (of a configured instance, for
 * instance keys): a misspelt one would otherwise be ignored without a word. */
static enum rc check_env_names(struct loader *ld)
{
	const struct cfg_schema *s = ld->s;
	size_t plen = strlen(s->env_prefix);
	const char *e;

	for (size_t i = 0; (e = env_entry(ld->env, i)) != NULL; i++) {
		size_t n = strcspn(e, "=");
		bool known = false;

		if (n <= plen || strncmp(e, s->env_prefix, plen) != 0 || e[plen] != '_')
			continue;
		for (size_t k = 0; k < s->n_keys && !known; k++)
			known = env_name_of(ld, &s->keys[k], e, n);
		if (!known)
			return eb_set(ld->eb, RC_INVAL, "environment %.*s: no such setting (a key's "
				      "name, for a %s: of a configured [%s ID] section)",
				      (int)(n > 100 ? 100 : n), e, s->instance_kind, s->instance_kind);
	}
	return RC_OK;
}

/* Replaces the placeholders in *slot: the profile's everywhere, the instance's when id is
 * not NULL (elsewhere it stays, e.g. in a template an instance inherits). */
static enum rc expand(const struct cfg_schema *s, char **slot, const char *profile,
		      const char *lower_id)
{
	const char *pp = s->profile_placeholder;
	const char *ip = s->instance_placeholder;
	struct buf b;
	char *res;

	if (*slot == NULL || strchr(*slot, '{') == NULL)
		return RC_OK;
	buf_init(&b, CFG_MAX_VALUE_LEN * 2);
	for (const char *p = *slot; *p != '\0';) {
		enum rc rc;

		if (pp != NULL && strncmp(p, pp, strlen(pp)) == 0) {
			rc = buf_puts(&b, profile);
			p += strlen(pp);
		} else if (lower_id != NULL && ip != NULL && strncmp(p, ip, strlen(ip)) == 0) {
			rc = buf_puts(&b, lower_id);
			p += strlen(ip);
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

/* An instance key's inherited default, as text (an int is printed into num). */
static const char *inherited(struct loader *ld, const struct cfg_key *k, char *num, size_t n)
{
	const char *dot = k->inherit != NULL ? strchr(k->inherit, '.') : NULL;
	char section[SECTION_MAX];
	const struct cfg_key *g;

	if (dot == NULL || (size_t)(dot - k->inherit) >= sizeof(section))
		return NULL;
	memcpy(section, k->inherit, (size_t)(dot - k->inherit));
	section[dot - k->inherit] = '\0';
	g = key_find(ld->s, false, section, dot + 1);
	if (g == NULL)
		return NULL;
	if (g->type == CFG_STR)
		return *str_slot(ld->c, g);
	if (g->type == CFG_INT || g->type == CFG_BOOL)
		(void)str_cut(num, n, "%d", *int_slot(ld->c, g));
	else
		(void)str_cut(num, n, "%s", log_level_name(*level_slot(ld->c, g)));
	return num;
}

/* After expansion a string may pass its key's limit: refused by name. */
static enum rc check_expanded(struct loader *ld, const void *base, const struct cfg_key *k,
			      const char *where)
{
	const char *v = *str_slot(base, k);

	if (v != NULL && strlen(v) > str_max(k))
		return eb_set(ld->eb, RC_INVAL, "%s%s: longer than %zu bytes once placeholders are "
			      "replaced", where, k->name, str_max(k));
	return RC_OK;
}

/* Instance defaults (table or inherited), then placeholders everywhere. */
static enum rc finish(struct loader *ld)
{
	const struct cfg_schema *s = ld->s;
	const char *profile = *str_slot(ld->c, profile_key(s));
	char where[SECTION_MAX + 8];
	bool nomem;
	enum rc rc = RC_OK;

	for (size_t ci = 0; ci < *count_of(s, ld->c) && rc == RC_OK; ci++) {
		void *inst = instance_at(s, ld->c, ci);

		for (size_t i = 0; i < s->n_keys && rc == RC_OK; i++) {
			const struct cfg_key *k = &s->keys[i];
			const char *def = k->def;
			char num[32];

			nomem = false;
			if (!k->per_instance || *set_flag(ld, k, inst))
				continue;
			if (def == NULL)
				def = inherited(ld, k, num, sizeof(num));
			if (def == NULL || set_value(ld, inst, k, def, &nomem) != NULL)
				rc = eb_set(ld->eb, nomem ? RC_NOMEM : RC_INVAL,
					    "[%s %s] %s: bad inherited value '%s'", s->instance_kind,
					    id_of(s, inst), k->name, def != NULL ? def : "(none)");
		}
		(void)str_cut(where, sizeof(where), "[%s %s] ", s->instance_kind, id_of(s, inst));
		for (size_t i = 0; i < s->n_keys && rc == RC_OK; i++) {
			if (!s->keys[i].per_instance || s->keys[i].type != CFG_STR)
				continue;
			rc = expand(s, str_slot(inst, &s->keys[i]), profile, lower_of(s, inst));
			if (rc == RC_OK)
				rc = check_expanded(ld, inst, &s->keys[i], where);
			else
				rc = eb_set(ld->eb, rc, "%s%s: value too long after expansion", where,
					    s->keys[i].name);
		}
	}
	for (size_t i = 0; i < s->n_keys && rc == RC_OK; i++) {
		if (s->keys[i].per_instance || s->keys[i].type != CFG_STR)
			continue;
		rc = expand(s, str_slot(ld->c, &s->keys[i]), profile, NULL);
		if (rc == RC_OK)
			rc = check_expanded(ld, ld->c, &s->keys[i], "");
		else
			rc = eb_set(ld->eb, rc, "%s: value too long after expansion", s->keys[i].name);
	}
	return rc;
}

/* Directory part of path ("." when none) into out; false when it does not fit. */
static bool dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return str_copy(out, n, ".");
	if (slash == path)
		return str_copy(out, n, "/");
	return str_cut(out, n, "%.*s", (int)(slash - path), path);
}

static enum rc load_layers(struct loader *ld, const char *path)
{
	const struct cfg_schema *s = ld->s;
	const struct cfg_key *pk = profile_key(s);
	const char *env_p;
	char dir[CFG_MAX_VALUE_LEN];
	char profile_path[CFG_MAX_VALUE_LEN * 2];
	enum rc rc;

	/* The profile picks the defaults and the profile file, so settle it first. */
	if (!str_copy(ld->profile, sizeof(ld->profile), s->profile_default))
		return eb_set(ld->eb, RC_FATAL, "%s: default too long", s->profile_name);
	ld->profile_only = true;
	rc = parse_file(ld, path, false);
	if (rc != RC_OK)
		return rc;
	ld->profile_only = false;
	env_p = env_profile(ld, &ld->profile_env);
	if (env_p != NULL && !str_copy(ld->profile, sizeof(ld->profile), env_p))
		return eb_set(ld->eb, RC_INVAL, "environment %s: value too long", ld->profile_env);
	rc = apply_defaults(ld);
	if (rc != RC_OK)
		return rc;
	if (!dir_of(path, dir, sizeof(dir)) ||
	    !str_cut(profile_path, sizeof(profile_path), "%s/%s.conf", dir, ld->profile))
		return eb_set(ld->eb, RC_INVAL, "%s: path too long", path);
	rc = parse_file(ld, profile_path, true);
	if (rc == RC_OK)
		rc = parse_file(ld, path, false);
	if (rc != RC_OK)
		return rc;
	/* a file may not contradict the profile chosen before the files were read */
	if (strcmp(*str_slot(ld->c, pk), ld->profile) != 0) {
		bool nomem;

		if (set_value(ld, ld->c, pk, ld->profile, &nomem) != NULL)
			return eb_set(ld->eb, RC_NOMEM, "out of memory loading %s", path);
	}
	rc = apply_env(ld);
	if (rc == RC_OK)
		rc = check_env_names(ld);
	if (rc == RC_OK)
		rc = finish(ld);
	if (rc == RC_OK && s->check != NULL)
		rc = s->check(ld->c, ld->eb);
	return rc;
}

enum rc cfg_parse(const struct cfg_schema *s, const char *path, const struct cfg_env *env,
		  void **out, struct errbuf *eb)
{
	struct loader *ld = NULL;
	char **pathp;
	enum rc rc;

	*out = NULL;
	ld = calloc(1, sizeof(*ld));
	if (ld == NULL)
		return eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
	ld->s = s;
	ld->env = env;
	ld->eb = eb;
	ld->c = calloc(1, s->size);
	ld->set = calloc((1 + s->max_instances) * s->n_keys, sizeof(*ld->set));
	pathp = ld->c != NULL ? (char **)(void *)((char *)ld->c + s->path_offset) : NULL;
	if (pathp != NULL)
		*pathp = strdup(path);
	if (ld->set == NULL || pathp == NULL || *pathp == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory loading %s", path);
		goto out;
	}
	rc = load_layers(ld, path);
	if (rc == RC_OK) {
		*out = ld->c;
		ld->c = NULL;
	}
out:
	cfg_release(s, ld->c);
	free(ld->set);
	free(ld);
	return rc;
}
