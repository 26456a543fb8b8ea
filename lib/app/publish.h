/* publish.h — the "AppointmentCreated" publication of SPEC §4 to the country's SNS
 * topic, with its message attributes (countryISO, eventType, requestId, traceparent).
 * Used by the API and by the reconciler. */
#ifndef APPT_PUBLISH_H
#define APPT_PUBLISH_H

#include "aws/sns.h"
#include "domain/appointment.h"
#include "base/rc.h"

/* Publishes a (any status; the worker decides) to topic_arn. request_id and
 * traceparent may be NULL. now_ms stamps the message's timestamp. AWS failures as
 * sns_publish; err may be NULL. */
enum rc publish_appointment(struct sns_client *sns, const char *topic_arn,
			    const struct appointment *a, const char *request_id,
			    const char *traceparent, int64_t now_ms, struct aws_error *err,
			    struct errbuf *eb) MUSTCHECK;

#endif
