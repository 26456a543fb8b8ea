/* events_batch.h — PutEvents shared by a daemon's threads ("group commit"): entries put
 * while another thread's PutEvents is in flight wait and then travel together in one call
 * (up to EVB_ENTRIES_MAX), sent by the first of them with its own client. Nothing waits for
 * a batch to fill: a thread alone sends alone, at once. Under load this cuts the calls —
 * and the per-request work of the service (a request quota on AWS; on moto ~2 ms of CPU
 * per call on top of ~3 ms per entry) — without adding latency. */
#ifndef APPT_EVENTS_BATCH_H
#define APPT_EVENTS_BATCH_H

#include "aws/eventbridge.h"
#include "base/rc.h"

struct events_batch;

/* A batcher for threads that each own an evb_client. NULL on NOMEM. */
struct events_batch *events_batch_new(void);
/* Frees it; no put may be running. Accepts NULL. */
void events_batch_free(struct events_batch *b);

/* Puts e (borrowed until the return) through the calling thread's own client evb, in one
 * call with the entries other threads put meanwhile. RC_OK when e was put; otherwise the
 * rc of its entry (RC_RETRY for the service's trouble, RC_INVAL for a rejected entry) or of
 * the whole call, with eb saying why. An entry rejected before sending never fails the
 * others: a call refused as invalid is sent again entry by entry. Thread-safe. */
enum rc events_batch_put(struct events_batch *b, struct evb_client *evb,
			 const struct evb_entry *e, struct errbuf *eb) MUSTCHECK;

/* Calls made and entries sent so far (for tests and metrics). */
void events_batch_stats(struct events_batch *b, unsigned long *calls, unsigned long *entries);

#endif
