/* cfg.h — the configuration engine (STYLE rule 7): a key table describes a struct; one
 * INI file, the profile file beside it and the environment fill a fresh one, checked as a
 * whole; a reload copies the running one and swaps in only the reloadable keys. It knows
 * nothing of what the keys mean: the product's table is app/conf. */
#ifndef APPT_CFG_H
#define APPT_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/log.h"
#include "base/rc.h"

#define CFG_MAX_VALUE_LEN 2048 /* longest value accepted from a file or the environment */
#define CFG_MAX_LINE_LEN 4096  /* longest accepted line of a config file */
#define CFG_ID_MAX 8           /* longest instance id ("PE"), with its NUL */

/* Exit status of a binary whose configuration is bad (sysexits.h EX_CONFIG). */
#define CFG_EXIT_CONFIG 78

/* What a key holds. */
enum cfg_type {
	CFG_STR,   /* a heap string (char *) the struct owns; may use the placeholders */
	CFG_INT,   /* an int within [min, max] */
	CFG_LEVEL, /* an enum log_level, by name */
	CFG_BOOL,  /* an int 0/1, written true/false (also yes/no, on/off, 1/0) */
};

/* Checks a string value: NULL when fine, else a static message ("not an http(s) URL"). */
typedef const char *(*cfg_check_fn)(const char *value);

/* One key: one row of a table. */
struct cfg_key {
	const char *section;  /* "api"; for an instance key the instance kind ("country") */
	const char *name;     /* key inside the section */
	enum cfg_type type;
	bool per_instance;    /* lives in each [<kind> <ID>] section (offset into its struct) */
	size_t offset;        /* of the field in the struct (or the instance struct) */
	const char *def;      /* default as text; NULL: set by the profile hook, or inherited */
	long long min, max;   /* CFG_INT: bounds. CFG_STR: max = longest value in bytes, after
			       * placeholders (0 = CFG_MAX_VALUE_LEN); longer is an error */
	bool reloadable;      /* a reload may change it; the rest is refused and reported */
	cfg_check_fn check;   /* CFG_STR: syntax check, or NULL */
	const char *inherit;  /* instance key without def: "section.name" of the global key whose
			       * value is its default */
	const char *env[3];   /* extra environment names, NULL-ended; in an instance key "%s"
			       * stands for the instance id */
};

/* A whole table and the struct it fills. The struct is calloc'd; offsets are into it. */
struct cfg_schema {
	const struct cfg_key *keys;
	size_t n_keys;
	size_t size;                  /* sizeof the struct */
	size_t path_offset;           /* its char * field that gets the main file's path */
	const char *env_prefix;       /* generic names: <PREFIX>_<SECTION>_<KEY>, upper case */

	/* The profile: a string key read first (environment, else the main file, else
	 * profile_default). It picks <dir of the main file>/<value>.conf as the layer below
	 * the main file and replaces profile_placeholder in every string. */
	const char *profile_section;
	const char *profile_name;
	const char *profile_default;
	const char *profile_placeholder; /* "{stage}" */

	/* Instances: [<instance_kind> <ID>] sections, each an instance struct in an array. */
	const char *instance_kind;       /* "country" */
	const char *instances_name;      /* "countries", for messages */
	const char *instance_placeholder;/* "{cc}": the ID in lower case, in instance keys */
	const char *bad_instance_msg;    /* why "[country pe]" is refused */
	size_t instance_size;            /* sizeof one instance struct */
	size_t instances_offset;         /* of the array in the struct */
	size_t count_offset;             /* of its size_t count */
	size_t max_instances;            /* capacity of the array */
	size_t id_offset;                /* char[CFG_ID_MAX] or smaller: the ID as written */
	size_t lower_offset;             /* the same size: the ID in lower case */
	size_t id_size;                  /* bytes of those two fields, NUL included */
	bool (*id_ok)(const char *id);   /* which IDs are valid */

	/* Hooks; may be NULL. profile_defaults runs after the table defaults; check after
	 * everything, for rules across keys (its message names the file). */
	void (*profile_defaults)(void *c, const char *profile);
	enum rc (*check)(const void *c, struct errbuf *eb);
};

/* Environment lookup, injectable so tests need no setenv. NULL = getenv(3) and environ. */
struct cfg_env {
	const char *(*get)(void *ud, const char *name); /* NULL when unset */
	void *ud;
	/* The i-th variable, "NAME=value" or "NAME", NULL past the last: every <PREFIX>_ name
	 * among them must be a key's (a typo is an error, not a setting silently ignored).
	 * NULL: not checked. */
	const char *(*entry)(void *ud, size_t i);
};

/* Reads path, the profile file beside it and the environment into a new struct (calloc'd,
 * s->size bytes). On failure returns RC_INVAL (or RC_NOMEM) with one line in eb naming the
 * file and line, or the environment variable, and the key; *out stays NULL. */
enum rc cfg_parse(const struct cfg_schema *s, const char *path, const struct cfg_env *env,
		  void **out, struct errbuf *eb) MUSTCHECK;

/* Frees a struct cfg_parse or cfg_reload_merge made; accepts NULL. */
void cfg_release(const struct cfg_schema *s, void *c);

/* A reload: *out is a new struct, a copy of running in which every reloadable key has
 * loaded's value (instance keys: from loaded's instance with the same ID). Everything
 * else keeps running's value, instances included (their set and order), so readers of
 * the old struct and the new one agree on them. refused (n bytes) lists, "; "-separated,
 * what differs in loaded and cannot change ("aws.table_name", "country PE.db_host",
 * "country MX added"); "" when nothing. RC_NOMEM (*out NULL). */
enum rc cfg_reload_merge(const struct cfg_schema *s, const void *running, const void *loaded,
			 void **out, char *refused, size_t n) MUSTCHECK;

/* Prints every key with its value, INI style (section headers, then one section per
 * instance), for `appointmentctl check --print-config`. */
void cfg_write(const struct cfg_schema *s, const void *c, FILE *f);

/* Syntax checks tables may use: an http(s) URL with a host and no spaces or control bytes
 * (an empty value passes: "not set"), and host:port or [v6]:port (empty passes). */
const char *cfg_check_url(const char *value);
const char *cfg_check_listen(const char *value);

/* Reads true/yes/on/1 or false/no/off/0 into *out (1 or 0); false for anything else. */
bool cfg_parse_bool(const char *v, int *out);

#endif
