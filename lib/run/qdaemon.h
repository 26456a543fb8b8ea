/* qdaemon.h — a queue-consuming daemon (appointment-worker, appointment-completion) on the
 * one lifecycle (run/lifecycle: arguments, configuration, signals, reload, watchdog,
 * drain): queue URL resolution, the optional /metrics listener and the consumer are written
 * here once; a daemon only supplies its handler through struct qdaemon_app. */
#ifndef APPT_QDAEMON_H
#define APPT_QDAEMON_H

#include <stdbool.h>

#include "aws/sqs.h"
#include "app/conf.h"
#include "run/consumer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "run/svc.h"

/* What qdaemon_main hands to the application's setup. */
struct qdaemon_env {
	const struct conf *cfg;        /* configuration at start (valid until teardown); a reload
				       * changes nothing a consumer uses but the log level */
	const struct svc_args *args;  /* parsed standard options */
	const struct aws_config *aws; /* resolved AWS settings */
	const struct logger *lg;
	struct metrics *metrics;
};

/* The queue a daemon consumes, as setup picks it. */
struct qdaemon_queue {
	char label[16];              /* "pe", "completion": logs and metrics */
	const char *url;             /* configured URL, or "" to resolve name */
	const char *name;            /* queue name (GetQueueUrl) */
};

struct qdaemon_app {
	const char *service;         /* "appointment-worker" */
	const char *usage_extra;     /* extra usage text, or NULL */
	bool needs_country;          /* --country XX is required (a usage error, 64, without) */
	/* Validates arguments, builds the app context, fills co's handler members (ud,
	 * thread_new, thread_free, handle, on_poison) and q. RC_INVAL = configuration
	 * error (exit 78), other failures exit 1. */
	enum rc (*setup)(const struct qdaemon_env *env, void **app, struct consumer_opts *co,
			 struct qdaemon_queue *q, struct errbuf *eb);
	/* Optional, at start before any thread exists (not with --check-config): what needs a
	 * service that may be down at boot. RC_IO, RC_TIMEOUT and RC_RETRY are waited out like
	 * an SQS outage (STATUS= says why, it is called again after a pause, a stop ends the
	 * wait); anything else but RC_OK fails the start (RC_INVAL: exit 78). */
	enum rc (*prepare)(void *app, struct errbuf *eb);
	const char *prepare_what; /* what prepare waits for: "waiting for <it>" in STATUS= */
	void (*teardown)(void *app);
};

/* An upper bound of one AWS call on aws, ms (aws_call: its retry budget, or an attempt's
 * timeout started just before it ends, plus three IMDS requests per attempt), for a daemon
 * to set its consumer's hung_after_ms from its handler's calls. Never fails. */
long qdaemon_aws_call_max_ms(const struct aws_config *aws);

/* Runs the daemon; returns the process exit status. */
int qdaemon_main(int argc, char **argv, const struct qdaemon_app *app);

#endif
