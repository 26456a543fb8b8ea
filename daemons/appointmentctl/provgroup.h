/* provgroup.h — the resource groups of `appointmentctl provision --only LIST`: their names and
 * the parse of LIST. Which step of the run belongs to which group is provision.c's table. */
#ifndef APPT_CTL_PROVGROUP_H
#define APPT_CTL_PROVGROUP_H

#include "base/rc.h"

/* One group of resources (a bit set: a run makes the groups it is given). */
enum prov_group {
	PROV_TABLES = 1 << 0,    /* the four DynamoDB tables, with their PITR or TTL */
	PROV_COUNTRIES = 1 << 1, /* per country: DLQ, queue, topic, queue policy, subscription */
	PROV_EVENTS = 1 << 2,    /* the completion and error queues and DLQs, the bus, the rules,
				  * the two queues' policies, the rules' targets */
	PROV_PASSWORD = 1 << 3,  /* the SSM SecureString of the database password */
	PROV_ALL = PROV_TABLES | PROV_COUNTRIES | PROV_EVENTS | PROV_PASSWORD,
};

/* The group names for messages and --help: "tables, countries, events, password". */
#define PROV_GROUP_NAMES "tables, countries, events, password"

/* Parses LIST, comma-separated group names in any order (a repeated name counts once), into
 * *groups (a set of enum prov_group). RC_INVAL for an empty list, an empty item or an unknown
 * name, eb then saying which; *groups is left alone then. Thread-safe; no allocation. */
enum rc prov_group_parse(const char *list, unsigned *groups, struct errbuf *eb) MUSTCHECK;

#endif
