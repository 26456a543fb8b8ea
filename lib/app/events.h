/* events.h — the EventBridge events of SPEC §4: "Appointment Processed" / "Appointment
 * Failed" / "Appointment Cancelled" from the worker and "Processing Error" for unrecoverable messages, plus the
 * helpers the consumers share: unwrapping the SNS envelope and masking a body. */
#ifndef APPT_EVENTS_H
#define APPT_EVENTS_H

#include <stddef.h>

#include "app/events_batch.h"
#include "aws/eventbridge.h"
#include "domain/appointment.h"
#include "base/rc.h"

#define EVENTS_BODY_MAX 4096          /* bytes of a bad message kept in its error event */
#define EVENTS_SOURCE_ERROR "medical.appointment"
#define EVENTS_TYPE_PROCESSED "Appointment Processed"
#define EVENTS_TYPE_FAILED "Appointment Failed"
#define EVENTS_TYPE_CANCELLED "Appointment Cancelled"
#define EVENTS_TYPE_ERROR "Processing Error"

/* Puts one event on bus; a failed entry is an error too (RC_RETRY for throttling
 * or internal failures, else the entry's kind), so the caller can retry the message. */
enum rc events_put(struct evb_client *evb, const char *bus, const char *source,
		   const char *detail_type, const char *detail, struct errbuf *eb) MUSTCHECK;

/* The worker's outcome event for a: processed (status "PROCESSED", processedAt), failed
 * (failureReason) or cancelled ("Appointment Cancelled", status "CANCELLED", cancelledAt).
 * request_id and traceparent travel in the detail so the completion daemon's log lines
 * carry them (SPEC §7); either may be "" / NULL. Through batch (events_batch.h) when not
 * NULL, with the entries other threads put meanwhile; else in a call of its own. */
enum rc events_put_outcome(struct evb_client *evb, struct events_batch *batch, const char *bus,
			   const struct appointment *a, const char *request_id,
			   const char *traceparent, struct errbuf *eb) MUSTCHECK;

/* The "Processing Error" event: {reason, queue, messageId, receiveCount, body}; the
 * body is cut to EVENTS_BODY_MAX bytes (on a UTF-8 boundary) with insuredId masked. */
enum rc events_put_processing_error(struct evb_client *evb, const char *bus, const char *reason,
				    const char *queue, const char *message_id, int receive_count,
				    const char *body, size_t body_len, struct errbuf *eb) MUSTCHECK;

/* Copies body (at most max bytes, cut on a UTF-8 boundary) into a new string with the
 * value of every "insuredId" masked to its last two characters, escaped or not (the
 * key may sit inside an SNS envelope's Message string). NULL on NOMEM. */
char *events_mask_body(const char *body, size_t len, size_t max);

#define EVENTS_EVENT_MAX (256 * 1024) /* an EventBridge event is at most 256 KiB */
#define EVENTS_EVENT_DEPTH 8          /* JSON nesting accepted in one */

/* What the completion daemon needs from an "Appointment Processed" event. */
struct events_processed {
	char appointment_id[APPT_ID_SIZE];       /* a UUID v4 */
	char request_id[APPT_REQID_SIZE];        /* "" when absent or too long */
	char insured_id[APPT_INSURED_SIZE];      /* "" when absent or too long */
	char traceparent[APPT_TRACEPARENT_SIZE]; /* "" when absent or too long */
};

/* Reads the EventBridge envelope the completion queue receives,
 * {"detail-type":"Appointment Processed","detail":{"appointmentId",...},...} (strict JSON,
 * at most EVENTS_EVENT_MAX bytes and EVENTS_EVENT_DEPTH deep) into *ev. Anything else
 * fails with the reason in eb: RC_INVAL, RC_NOTFOUND for a missing member, RC_NOMEM.
 * Pure and thread-safe. */
enum rc events_parse_processed(const char *body, size_t len, struct events_processed *ev,
			       struct errbuf *eb) MUSTCHECK;

/* What the log line of an event events_parse_processed refused (or the handler found
 * poison) can name of it: the envelope's detail.appointmentId (when a UUID v4),
 * detail.requestId, detail.insuredId and detail.traceparent, each when it is a string of
 * printable ASCII that fits its field, whatever else is wrong with the event (its
 * detail-type, another member). The rest of *ev is "". True when appointmentId,
 * requestId or insuredId was read; false for a body that is not such a JSON object at all.
 * Pure and thread-safe. */
bool events_peek_processed(const char *body, size_t len, struct events_processed *ev);

/* The appointment message inside an SQS body: the SNS envelope's Message when the body
 * is a Notification (raw delivery off), else the body itself (raw delivery on). *msg
 * points into *owned or into body; free *owned. RC_INVAL for an envelope that is not
 * well formed. */
enum rc events_unwrap_sns(const char *body, size_t len, const char **msg, size_t *msg_len,
			  char **owned, struct errbuf *eb) MUSTCHECK;

#endif
