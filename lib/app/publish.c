/* publish.c — message body and attributes for the country topic, and whether that topic
 * has a subscription to deliver them to. */
#include "app/publish.h"

#include <stdlib.h>
#include <string.h>

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
	/* the attribute says what the body says: a subscription filtering on eventType must
	 * not take a cancel for a creation */
	attrs[n++] = (struct sns_msg_attr){"eventType", "String", appt_msg_event_type(m.kind)};
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

/* SubscriptionsConfirmed as a count: -1 when absent or not a count. */
static long long confirmed_count(const struct sns_attrs *attrs)
{
	const char *v = sns_attrs_get(attrs, "SubscriptionsConfirmed");
	char *end = NULL;
	long long n;

	if (v == NULL || v[0] < '0' || v[0] > '9')
		return -1;
	n = strtoll(v, &end, 10);
	return *end == '\0' ? n : -1;
}

enum rc publish_topic_subscribed(struct sns_client *sns, const char *topic_arn,
				 bool *subscribed, struct aws_error *err, struct errbuf *eb)
{
	struct sns_attrs attrs = {0};
	struct sns_subscriptions subs = {0};
	char next[SNS_TOKEN_MAX];
	enum rc rc;

	*subscribed = false;
	rc = sns_get_topic_attributes(sns, topic_arn, &attrs, err);
	if (rc == RC_OK && confirmed_count(&attrs) > 0) {
		*subscribed = true;
		goto out;
	}
	if (rc == RC_OK)
		rc = sns_list_subscriptions_page(sns, topic_arn, NULL, &subs, next, err);
	if (rc != RC_OK) {
		aws_error_to_eb(err, eb);
		goto out;
	}
	*subscribed = next[0] != '\0';
	for (size_t i = 0; i < subs.n && !*subscribed; i++)
		*subscribed = subs.v[i].arn != NULL && strcmp(subs.v[i].arn, "PendingConfirmation") != 0 &&
			      strcmp(subs.v[i].arn, "Deleted") != 0;
out:
	sns_attrs_cleanup(&attrs);
	sns_subscriptions_cleanup(&subs);
	return rc;
}
