/* cfg_priv.h — what cfg.c (the parse) and cfg_reload.c (merge, dump, release) share: where
 * a key, an instance and its id live in a struct a schema describes. Nothing else includes
 * it. */
#ifndef APPT_CFG_PRIV_H
#define APPT_CFG_PRIV_H

#include <stdint.h>

#include "base/cfg.h"

static inline size_t *count_of(const struct cfg_schema *s, const void *c)
{
	return (size_t *)(void *)((char *)(uintptr_t)c + s->count_offset);
}

static inline void *instance_at(const struct cfg_schema *s, const void *c, size_t i)
{
	return (char *)(uintptr_t)c + s->instances_offset + i * s->instance_size;
}

static inline char *id_of(const struct cfg_schema *s, const void *inst)
{
	return (char *)(uintptr_t)inst + s->id_offset;
}

static inline char *lower_of(const struct cfg_schema *s, const void *inst)
{
	return (char *)(uintptr_t)inst + s->lower_offset;
}

static inline char **str_slot(const void *base, const struct cfg_key *k)
{
	return (char **)(void *)((char *)(uintptr_t)base + k->offset);
}

static inline int *int_slot(const void *base, const struct cfg_key *k)
{
	return (int *)(void *)((char *)(uintptr_t)base + k->offset);
}

static inline enum log_level *level_slot(const void *base, const struct cfg_key *k)
{
	return (enum log_level *)(void *)((char *)(uintptr_t)base + k->offset);
}

#endif
