/* provgroup.c — the names of provision's resource groups and the parse of --only LIST
 * (provgroup.h). */
#include <string.h>

#include "provgroup.h"

/* A group and the name --only knows it by. */
static const struct {
	const char *name;
	enum prov_group group;
} groups_by_name[] = {
	{"tables", PROV_TABLES},
	{"countries", PROV_COUNTRIES},
	{"events", PROV_EVENTS},
	{"password", PROV_PASSWORD},
};

enum rc prov_group_parse(const char *list, unsigned *groups, struct errbuf *eb)
{
	unsigned set = 0;
	const char *item = list;

	if (list[0] == '\0')
		return eb_set(eb, RC_INVAL, "--only needs a comma-separated list of groups (%s)",
			      PROV_GROUP_NAMES);
	for (;;) {
		size_t len = strcspn(item, ",");
		unsigned g = 0;

		for (size_t i = 0; i < sizeof(groups_by_name) / sizeof(groups_by_name[0]); i++)
			if (strlen(groups_by_name[i].name) == len &&
			    strncmp(item, groups_by_name[i].name, len) == 0)
				g = groups_by_name[i].group;
		if (len == 0)
			return eb_set(eb, RC_INVAL, "--only '%.200s': an empty group name "
				      "(groups: %s)", list, PROV_GROUP_NAMES);
		if (g == 0)
			return eb_set(eb, RC_INVAL, "--only: unknown group '%.*s' (groups: %s)",
				      (int)(len > 200 ? 200 : len), item, PROV_GROUP_NAMES);
		set |= g;
		if (item[len] == '\0')
			break;
		item += len + 1;
	}
	*groups = set;
	return RC_OK;
}
