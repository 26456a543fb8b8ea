/* publish.h — the publication of SPEC §4 to the country's SNS topic: "AppointmentCreated",
 * or the cancel ("AppointmentCancelled") of an item on the cancel side, with its message
 * attributes (countryISO, eventType as in the body, requestId, traceparent). Used by the
 * API and by the reconciler. */
#ifndef APPT_PUBLISH_H
#define APPT_PUBLISH_H

#include <stdbool.h>

#include "aws/sns.h"
#include "domain/appointment.h"
#include "base/rc.h"

/* Publishes a (any status; the worker decides; cancelling or cancelled: its cancel) to
 * topic_arn. request_id and traceparent may be NULL. now_ms stamps the message's timestamp. AWS failures as
 * sns_publish; err may be NULL. */
enum rc publish_appointment(struct sns_client *sns, const char *topic_arn,
			    const struct appointment *a, const char *request_id,
			    const char *traceparent, int64_t now_ms, struct aws_error *err,
			    struct errbuf *eb) MUSTCHECK;

/* Whether topic_arn delivers anywhere: true when it has a confirmed subscription. A topic
 * with none takes every Publish and delivers it nowhere (deleted, then made again empty by
 * a CreateTopic by name; or never subscribed). GetTopicAttributes' SubscriptionsConfirmed
 * decides when it counts one or more; when it says 0 (AWS updates it with a delay, moto
 * always says 0, fauxqs counts) or is absent, the first page of ListSubscriptionsByTopic
 * does: a subscription whose ARN is not "PendingConfirmation" or "Deleted" is confirmed,
 * and a page with a next one is taken as subscribed (no verdict from a partial list).
 * RC_OK with *subscribed set; a failed call as sns_* (RC_NOTFOUND: no such topic), err and
 * eb filled. One or two calls on the caller's client (its deadline applies). */
enum rc publish_topic_subscribed(struct sns_client *sns, const char *topic_arn,
				 bool *subscribed, struct aws_error *err,
				 struct errbuf *eb) MUSTCHECK;

#endif
