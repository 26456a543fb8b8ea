/* cfg_reload.c — a parsed struct after the parse: the reload merge (a copy of the running
 * struct with only the reloadable keys taken from the new file, and the list of what it
 * refused), the INI dump, and the release. */
#include "base/cfg.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cfg_priv.h"
#include "base/str.h"

#define WHAT_MAX 128 /* one entry of the refused list */

void cfg_release(const struct cfg_schema *s, void *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->type != CFG_STR)
			continue;
		if (!k->per_instance)
			free(*str_slot(c, k));
		else
			for (size_t ci = 0; ci < *count_of(s, c); ci++)
				free(*str_slot(instance_at(s, c, ci), k));
	}
	free(*(char **)(void *)((char *)c + s->path_offset));
	free(c);
}

/* ---- reload ---------------------------------------------------------------------------- */

static bool key_differs(const void *a, const void *b, const struct cfg_key *k)
{
	if (k->type == CFG_INT || k->type == CFG_BOOL)
		return *int_slot(a, k) != *int_slot(b, k);
	if (k->type == CFG_LEVEL)
		return *level_slot(a, k) != *level_slot(b, k);
	return strcmp(*str_slot(a, k), *str_slot(b, k)) != 0;
}

/* Copies key k's value from src into dst (a fresh struct). RC_NOMEM. */
static enum rc copy_key(void *dst, const void *src, const struct cfg_key *k)
{
	if (k->type == CFG_INT || k->type == CFG_BOOL) {
		*int_slot(dst, k) = *int_slot(src, k);
	} else if (k->type == CFG_LEVEL) {
		*level_slot(dst, k) = *level_slot(src, k);
	} else {
		*str_slot(dst, k) = strdup(*str_slot(src, k));
		if (*str_slot(dst, k) == NULL)
			return RC_NOMEM;
	}
	return RC_OK;
}

static const void *instance_by_id(const struct cfg_schema *s, const void *c, const char *id)
{
	for (size_t i = 0; i < *count_of(s, c); i++)
		if (strcmp(id_of(s, instance_at(s, c, i)), id) == 0)
			return instance_at(s, c, i);
	return NULL;
}

/* Appends "; text" (or text first) to the refused list; a full list is cut (log text). */
static void note(struct buf *b, const char *text)
{
	enum rc rc = RC_OK;

	if (b->len > 0)
		rc = buf_puts(b, "; ");
	if (rc == RC_OK)
		rc = buf_puts(b, text);
	(void)rc; /* out of room: the rest of the list is left out of the log line */
}

static void list_refused(const struct cfg_schema *s, const void *running, const void *loaded,
			 struct buf *b)
{
	char what[WHAT_MAX];

	for (size_t i = 0; i < s->n_keys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->reloadable)
			continue;
		if (!k->per_instance) {
			if (key_differs(running, loaded, k)) {
				(void)str_cut(what, sizeof(what), "%s.%s", k->section, k->name);
				note(b, what);
			}
			continue;
		}
		for (size_t ci = 0; ci < *count_of(s, running); ci++) {
			const void *ri = instance_at(s, running, ci);
			const void *li = instance_by_id(s, loaded, id_of(s, ri));

			if (li == NULL || !key_differs(ri, li, k))
				continue;
			(void)str_cut(what, sizeof(what), "%s %s.%s", s->instance_kind, id_of(s, ri),
				      k->name);
			note(b, what);
		}
	}
	for (size_t ci = 0; ci < *count_of(s, running); ci++) {
		const char *id = id_of(s, instance_at(s, running, ci));

		if (instance_by_id(s, loaded, id) == NULL) {
			(void)str_cut(what, sizeof(what), "%s %s removed", s->instance_kind, id);
			note(b, what);
		}
	}
	for (size_t ci = 0; ci < *count_of(s, loaded); ci++) {
		const char *id = id_of(s, instance_at(s, loaded, ci));

		if (instance_by_id(s, running, id) == NULL) {
			(void)str_cut(what, sizeof(what), "%s %s added", s->instance_kind, id);
			note(b, what);
		}
	}
}

enum rc cfg_reload_merge(const struct cfg_schema *s, const void *running, const void *loaded,
			 void **out, char *refused, size_t n)
{
	void *c = calloc(1, s->size);
	char **pathp;
	struct buf b;
	enum rc rc = c != NULL ? RC_OK : RC_NOMEM;

	*out = NULL;
	if (rc == RC_OK) {
		/* the instances first: their count tells cfg_release what to free */
		*count_of(s, c) = *count_of(s, running);
		for (size_t ci = 0; ci < *count_of(s, running); ci++) {
			memcpy(id_of(s, instance_at(s, c, ci)),
			       id_of(s, instance_at(s, running, ci)), s->id_size);
			memcpy(lower_of(s, instance_at(s, c, ci)),
			       lower_of(s, instance_at(s, running, ci)), s->id_size);
		}
		pathp = (char **)(void *)((char *)c + s->path_offset);
		*pathp = strdup(*(char *const *)(const void *)((const char *)running + s->path_offset));
		if (*pathp == NULL)
			rc = RC_NOMEM;
	}
	for (size_t i = 0; i < s->n_keys && rc == RC_OK; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (!k->per_instance) {
			rc = copy_key(c, k->reloadable ? loaded : running, k);
			continue;
		}
		for (size_t ci = 0; ci < *count_of(s, c) && rc == RC_OK; ci++) {
			const void *ri = instance_at(s, running, ci);
			const void *li = instance_by_id(s, loaded, id_of(s, ri));

			rc = copy_key(instance_at(s, c, ci), k->reloadable && li != NULL ? li : ri, k);
		}
	}
	if (rc != RC_OK) {
		cfg_release(s, c);
		return RC_NOMEM;
	}
	buf_init(&b, n > 0 ? n - 1 : 0);
	list_refused(s, running, loaded, &b);
	if (n > 0)
		(void)str_cut(refused, n, "%s", buf_str(&b));
	buf_cleanup(&b);
	*out = c;
	return RC_OK;
}

/* ---- dump ------------------------------------------------------------------------------ */

static void write_key(const void *base, const struct cfg_key *k, FILE *f)
{
	if (k->type == CFG_LEVEL)
		fprintf(f, "%s = %s\n", k->name, log_level_name(*level_slot(base, k)));
	else if (k->type == CFG_INT)
		fprintf(f, "%s = %d\n", k->name, *int_slot(base, k));
	else if (k->type == CFG_BOOL)
		fprintf(f, "%s = %s\n", k->name, *int_slot(base, k) ? "true" : "false");
	else
		fprintf(f, "%s = %s\n", k->name, *str_slot(base, k));
}

void cfg_write(const struct cfg_schema *s, const void *c, FILE *f)
{
	const char *section = "";

	for (size_t i = 0; i < s->n_keys; i++) {
		const struct cfg_key *k = &s->keys[i];

		if (k->per_instance)
			continue;
		if (strcmp(section, k->section) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		write_key(c, k, f);
	}
	for (size_t ci = 0; ci < *count_of(s, c); ci++) {
		const void *inst = instance_at(s, c, ci);

		fprintf(f, "\n[%s %s]\n", s->instance_kind, id_of(s, inst));
		for (size_t i = 0; i < s->n_keys; i++)
			if (s->keys[i].per_instance)
				write_key(inst, &s->keys[i], f);
	}
}
