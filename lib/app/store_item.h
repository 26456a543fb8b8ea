/* store_item.h — how an appointment is laid out as a DynamoDB item (SPEC §4):
 * attribute names, types and the NULL/absent rules, in both directions. Pure. */
#ifndef APPT_STORE_ITEM_H
#define APPT_STORE_ITEM_H

#include "domain/appointment.h"
#include "base/rc.h"

struct json_object;

/* The request ids an item keeps (SPEC §7; docs/aws-dynamodb.md, "The appointments
 * table"): the POST's, and the DELETE's that made it cancelling. Internal: no API answer
 * shows them. */
#define STORE_ATTR_REQUEST_ID "requestId"
#define STORE_ATTR_TRACEPARENT "traceparent"
#define STORE_ATTR_CANCEL_REQUEST_ID "cancelRequestId"
#define STORE_ATTR_CANCEL_TRACEPARENT "cancelTraceparent"

/* A new item map (name -> attribute value) for a; the caller owns it. processedAt
 * is written as NULL while unset (SPEC: "S or NULL"); completedAt, failureReason,
 * cancelledAt, schedule and the request ids only once known. RC_NOMEM / RC_INVAL. */
enum rc store_item_from_appt(const struct appointment *a, struct json_object **item) MUSTCHECK;

/* The {"M": {...}} value of a schedule: centerId, specialtyId, medicId (N), date (S). */
enum rc store_schedule_value(const struct appt_schedule *s, struct json_object **val) MUSTCHECK;

/* ProjectionExpression of what an answer shows of an item (SPEC §3's item shape: every
 * attribute store_appt_from_item reads but the request ids), for reads that answer a client
 * (the listing): the internal attributes are not fetched nor parsed. Its placeholders
 * ("status" and "schedule" are DynamoDB reserved words) go into ExpressionAttributeNames
 * by store_public_names. */
#define STORE_PUBLIC_PROJECTION                                                                \
	"appointmentId, insuredId, scheduleId, countryISO, #s, createdAt, updatedAt, "         \
	"processedAt, completedAt, failureReason, cancelledAt, #sc"

/* Adds STORE_PUBLIC_PROJECTION's placeholders to *names (made when NULL). RC_NOMEM. */
enum rc store_public_names(struct json_object **names) MUSTCHECK;

/* Reads an item (borrowed) into a. RC_INVAL names the attribute that is missing or
 * malformed (a corrupt item must not crash a reader, and is reported, not skipped); a
 * request id or traceparent that is absent or not valid is read as "", never an error. */
enum rc store_appt_from_item(struct json_object *item, struct appointment *a,
			     struct errbuf *eb) MUSTCHECK;

#endif
