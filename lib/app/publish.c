/* publish.c — message body and attributes for the country topic. */
#include "app/publish.h"

#include <stdlib.h>

enum rc publish_appointment(struct sns_client *sns, const char *topic_arn,
			    const struct appointment *a, const char *request_id,
			    const char *traceparent, int64_t now_ms, struct aws_error *err,
			    struct errbuf *eb)
{
	struct appt_message m;
	struct sns_msg_attr attrs[4];
	struct sns_publish p = {0};
	struct aws_error local;
	char *body = NULL;
	size_t n = 0;
	enum rc rc;

	if (err == NULL)
		err = &local;
	rc = appt_msg_init(&m, a, now_ms, request_id, traceparent);
	if (rc == RC_OK)
		rc = appt_msg_encode(&m, &body);
	if (rc != RC_OK)
		return eb_set(eb, rc, "building the message of %s failed", a->appointment_id);
	attrs[n++] = (struct sns_msg_attr){"countryISO", "String", m.country};
	attrs[n++] = (struct sns_msg_attr){"eventType", "String", APPT_EVENT_CREATED};
	if (m.request_id[0] != '\0')
		attrs[n++] = (struct sns_msg_attr){"requestId", "String", m.request_id};
	if (m.traceparent[0] != '\0')
		attrs[n++] = (struct sns_msg_attr){"traceparent", "String", m.traceparent};
	p.message = body;
	p.attrs = attrs;
	p.nattrs = n;
	rc = sns_publish(sns, topic_arn, &p, NULL, err);
	if (rc != RC_OK)
		aws_error_to_eb(err, eb);
	free(body);
	return rc;
}
