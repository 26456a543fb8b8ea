/* consumer.h — the one SQS consumer loop of SPEC §5, shared by the worker and the
 * completion daemon: long-poll receive, up to N messages handled at once on worker
 * threads, DeleteMessageBatch of successes, backoff through the visibility timeout
 * for transient failures, a poison hook then delete for bad messages, heartbeats
 * for slow ones, and a drain on stop that releases what was not started. */
#ifndef APPT_CONSUMER_H
#define APPT_CONSUMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/sqs.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/rc.h"

#define CONSUMER_MAX_IN_FLIGHT 100 /* worker threads at most */
#define CONSUMER_STALL_USEC (90u * 1000000u) /* receiver silent this long = stuck */
/* hung_after when the daemon gives none (ours derive theirs from their handlers' bounds:
 * 960 s for the worker, 270 s for the completion daemon at the defaults) */
#define CONSUMER_HUNG_AFTER_DEFAULT_MS (600 * 1000)

/* What a handler decided about one message. */
enum consumer_verdict {
	CONSUMER_DONE,    /* handled (or a harmless redelivery): delete it */
	CONSUMER_RETRY,   /* transient failure: keep it, retry after a backoff */
	CONSUMER_POISON,  /* the message itself is bad: on_poison, then delete */
};

/* A message as a handler sees it; borrowed for the call. */
struct consumer;

struct consumer_message {
	const struct sqs_message *sqs; /* body, message id, receive count, attributes */
	const char *queue;             /* the queue's label for logs ("pe", "completion") */
	const atomic_bool *stopping;   /* true once a stop is asked: a handler that waits for
					* a dependency gives up and returns CONSUMER_RETRY */
	struct consumer *consumer;     /* for consumer_waiting_on */
};

struct consumer_opts;

/* The SQS calls the consumer makes: a seam, so that tests can run it against a fake queue.
 * consumer_sqs_aws is lib/aws/sqs; each member has the contract of the sqs_* call it is
 * named after, with the client made by client_new. One client is used by one thread at a
 * time (the consumer makes one for its receiver and one for its acker). */
struct consumer_sqs_ops {
	/* Makes a client for o (o->aws, o->metrics, o->sqs_ud); abort_flag (may be NULL),
	 * once true, cuts an open long poll short. NULL with eb filled on failure. */
	void *(*client_new)(const struct consumer_opts *o, const atomic_bool *abort_flag,
			    struct errbuf *eb);
	void (*client_free)(void *client); /* accepts NULL */
	enum rc (*receive)(void *client, const char *url, const struct sqs_receive_opts *ro,
			   struct sqs_messages *out, struct aws_error *err);
	enum rc (*delete_batch)(void *client, const char *url, const char *const *handles,
				size_t n, struct sqs_batch_result *res, size_t *nfailed,
				struct aws_error *err);
	enum rc (*change_visibility_batch)(void *client, const char *url,
					   const struct sqs_visibility_entry *entries, size_t n,
					   struct sqs_batch_result *res, size_t *nfailed,
					   struct aws_error *err);
};

/* The production seam: lib/aws/sqs clients on o->aws, counted in o->metrics. */
extern const struct consumer_sqs_ops consumer_sqs_aws;

/* Settings; strings and the logger/metrics are borrowed for the consumer's life. */
struct consumer_opts {
	const char *queue_url;        /* the queue to consume */
	const char *queue_label;      /* label in logs and metrics */
	int max_in_flight;            /* worker threads, 1..CONSUMER_MAX_IN_FLIGHT */
	int wait_seconds;             /* long poll, 0..20 */
	int visibility_timeout;       /* seconds, as the queue has it (heartbeat at half) */
	int max_receive_count;        /* the queue's redrive maxReceiveCount (metrics, logs) */
	int backoff_min_seconds;      /* first transient-failure delay */
	int backoff_max_seconds;      /* its cap */
	/* ms; a handler running longer is hung (0: CONSUMER_HUNG_AFTER_DEFAULT_MS). Set it above
	 * the longest a handler may legitimately take (its calls' timeouts, its dependency waits):
	 * past it the job is logged once as hung, its visibility is no longer extended (SQS hands
	 * it to another consumer within a visibility timeout) and consumer_healthy turns false,
	 * so the watchdog fires. A message received but not started that waited this long for
	 * a worker is released (visibility 0): with every handler within the bound, none waits
	 * that long. */
	int hung_after_ms;
	const struct aws_config *aws; /* for the consumer's own SQS clients */
	const struct consumer_sqs_ops *sqs; /* NULL: consumer_sqs_aws */
	void *sqs_ud;                 /* for a seam other than consumer_sqs_aws (tests) */
	const struct logger *lg;
	struct metrics *metrics;      /* may be NULL */
	void *ud;                     /* passed to thread_new */
	/* Per worker thread state (clients, connections): made on the thread itself, before
	 * anything is received. A failure fails consumer_start with its rc (RC_INVAL: the
	 * configuration cannot work, e.g. an empty database host); it is not retried. */
	enum rc (*thread_new)(void *ud, void **tctx, struct errbuf *eb);
	void (*thread_free)(void *tctx);
	/* The decision for one message; reason says why for RETRY and POISON. */
	enum consumer_verdict (*handle)(void *tctx, const struct consumer_message *m,
					struct errbuf *reason);
	/* Reports a poison message (the "Processing Error" event). RC_OK lets it be
	 * deleted; a failure keeps it for a retry, so nothing is dropped unreported. */
	enum rc (*on_poison)(void *tctx, const struct consumer_message *m, const char *reason,
			     struct errbuf *eb);
};

/* Declares the consumer's metric families (once per registry). */
enum rc consumer_metrics_describe(struct metrics *m) MUSTCHECK;

/* Starts the worker threads, waits until each has made its state (thread_new), then starts
 * the acker and the receiver: nothing is received unless every worker can handle it. Fails
 * when a thread, a client or a worker's state cannot be made (the rc of thread_new, eb
 * naming the worker); then nothing runs and nothing was received. Main thread. */
enum rc consumer_start(const struct consumer_opts *opts, struct consumer **out,
		       struct errbuf *eb) MUSTCHECK;

/* Asks it to stop: receiving ends at once (an open long poll is aborted), work
 * in flight goes on, messages received but not started are released (visibility 0), and so
 * is a message whose handler gives up because of the stop (CONSUMER_RETRY once stopping):
 * another consumer takes it at once instead of after a backoff. */
void consumer_stop(struct consumer *c);

/* Waits for the stop to finish (in-flight done, deletes flushed, releases sent) or
 * timeout_ms to pass; true when it finished. */
bool consumer_wait(struct consumer *c, int timeout_ms);

/* After consumer_stop, when the wait ran out of time with handlers still running: the acker
 * sends what it holds (deletes of finished messages, releases of those not started) without
 * more heartbeats and ends without waiting for the handlers (nor a receive still open).
 * Waits up to timeout_ms for it; returns how many handlers are still running: abandoned,
 * their messages come back after their visibility timeout. Main thread. The consumer must
 * not be freed while one of them runs: a daemon exits instead (run/lifecycle). */
unsigned consumer_abandon(struct consumer *c, int timeout_ms);

/* Joins the threads (after consumer_stop) and frees; accepts NULL. */
void consumer_free(struct consumer *c);

/* For the watchdog and /healthz: true while the receiver makes progress (a receive returned,
 * or it waited for busy workers) and no handler has run past hung_after. Any thread. */
bool consumer_healthy(struct consumer *c);
/* Messages being handled now, and handled in all. */
unsigned consumer_in_flight(struct consumer *c);
uint64_t consumer_handled(struct consumer *c);
/* A short description of what it waits on ("receiving", "waiting for SQS: <error>"); first,
 * while a handler is hung, "hung (message <id> running <n> s, past <bound> s);". */
void consumer_state(struct consumer *c, char *out, size_t n);

/* What a CONSUMER_RETRY does to m, for a handler's own log line: "will retry", or "its last
 * receive: not retried" when its receive count has reached consumer_opts.max_receive_count
 * (SQS then moves it to the DLQ; the consumer's next line says so). Static text; any
 * thread. */
const char *consumer_retry_note(const struct consumer_message *m);

/* A handler says what it waits for (NULL: nothing any more); STATUS= shows it. */
void consumer_waiting_on(struct consumer *c, const char *what);

#endif
