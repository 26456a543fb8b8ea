/* store_item.h — how an appointment is laid out as a DynamoDB item (SPEC §4):
 * attribute names, types and the NULL/absent rules, in both directions. Pure. */
#ifndef APPT_STORE_ITEM_H
#define APPT_STORE_ITEM_H

#include "domain/appointment.h"
#include "base/rc.h"

struct json_object;
struct jx_doc;

/* A new item map (name -> attribute value) for a; the caller owns it. processedAt
 * is written as NULL while unset (SPEC: "S or NULL"); completedAt, failureReason,
 * cancelledAt and schedule only once known. RC_NOMEM / RC_INVAL. */
enum rc store_item_from_appt(const struct appointment *a, struct json_object **item) MUSTCHECK;

/* The {"M": {...}} value of a schedule: centerId, specialtyId, medicId (N), date (S). */
enum rc store_schedule_value(const struct appt_schedule *s, struct json_object **val) MUSTCHECK;

/* Reads the item at node item of d (a Query page, a GetItem answer) into a. RC_INVAL names
 * the attribute that is missing or malformed (a corrupt item must not crash a reader, and
 * is reported, not skipped). */
enum rc store_appt_from_doc(const struct jx_doc *d, size_t item, struct appointment *a,
			    struct errbuf *eb) MUSTCHECK;
/* The same from a json-c item (borrowed: the old image a failed condition sends), by way of
 * its text: the one reading of an item is store_appt_from_doc's. */
enum rc store_appt_from_item(struct json_object *item, struct appointment *a,
			     struct errbuf *eb) MUSTCHECK;

#endif
