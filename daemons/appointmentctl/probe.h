/* probe.h — what `info` and `check` both learn about a stage: for every resource the
 * configuration names, whether it exists (read-only calls only: nothing is created, received
 * or changed), whether each service endpoint answered, queue depths, counts by status, where
 * the PostgreSQL password comes from and whether each country database answers `select 1`. */
#ifndef APPT_CTL_PROBE_H
#define APPT_CTL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/core.h"
#include "ctl.h"
#include "domain/appointment.h"
#include "base/rc.h"

#define PROBE_KIND_MAX 16     /* "ssm-parameter" and the like, with NUL */
#define PROBE_NAME_MAX 320    /* a resource name ("rule/target" pairs, parameter paths) */
#define PROBE_DETAIL_MAX 512  /* one detail text: a status, or the error as the service gave it */
#define PROBE_LABEL_MAX 24    /* a queue label: "pe", "pe-dlq", "completion-dlq" */
#define PROBE_ITEMS_MAX (16 + 8 * CONF_MAX_COUNTRIES) /* resources of one stage, with room */
#define PROBE_DB_TIMEOUT_MS 5000 /* `select 1` deadline (the connect has rds_connect_timeout) */

/* What the probe found out about one resource. */
enum probe_state {
	PROBE_EXISTS = 0, /* the service said it is there */
	PROBE_MISSING,    /* the service said it is not */
	PROBE_UNKNOWN,    /* no answer that tells (endpoint unreachable, access denied, a
			   * resource it depends on is missing or unknown): see detail */
};

/* "exists", "missing", "unknown". */
const char *probe_state_name(enum probe_state s);

/* One resource. */
struct probe_item {
	char kind[PROBE_KIND_MAX];      /* table, queue, dlq, topic, subscription, bus, rule,
					 * target, ssm-parameter (provision's words) */
	char name[PROBE_NAME_MAX];      /* its name as provision prints it */
	enum aws_service svc;           /* the service asked */
	enum probe_state state;         /* what came of it */
	char detail[PROBE_DETAIL_MAX];  /* e.g. "ACTIVE", the error; "" when nothing to add */
	char queue[PROBE_LABEL_MAX];    /* queues and DLQs: their label, else "" */
	long long visible;              /* queues that exist: ApproximateNumberOfMessages; -1 */
	long long in_flight;            /* ...NotVisible; -1 when unknown */
	long long delayed;              /* ...Delayed; -1 when unknown */
};

/* One service endpoint. */
struct probe_endpoint {
	char url[AWS_URL_MAX];         /* as resolved (AWS_ENDPOINT_URL_<SVC>, [aws], or AWS's) */
	bool asked;                    /* at least one call was made */
	bool reached;                  /* at least one call got an HTTP answer */
	char detail[PROBE_DETAIL_MAX]; /* the network failure when asked but never reached */
};

/* One country database. */
struct probe_db {
	char country[APPT_COUNTRY_SIZE]; /* "PE" */
	char target[256];                /* host:port/dbname */
	bool ok;                         /* connected and `select 1` answered */
	double ms;                       /* connect + select 1, milliseconds (when ok) */
	char detail[PROBE_DETAIL_MAX];   /* the failure (when not ok) */
};

/* The whole picture. Fill with probe_run, release with probe_cleanup. */
struct probe {
	struct ctl *x;                           /* borrowed: config, AWS settings */
	bool full;                               /* info: subscriptions, rules, targets and the
						  * counts by status too (check skips them) */
	struct probe_endpoint ep[AWS_SVC_COUNT]; /* indexed by enum aws_service */
	struct probe_item *items;                /* owned, n of them, in provision's order */
	size_t n;
	bool counts_known;                       /* counts holds the table's counts */
	int64_t counts[APPT_STATUS_COUNT];       /* items per status (enum appt_status) */
	char counts_detail[PROBE_DETAIL_MAX];    /* why not known */
	const char *password_source;             /* "credential", "environment", "ssm", "none" */
	bool password_ok;                        /* the password resolved (or none was needed) */
	char password_detail[PROBE_DETAIL_MAX];  /* the failure when not ok */
	struct probe_db db[CONF_MAX_COUNTRIES];   /* one per configured country, in order */
	size_t n_db;
};

/* Probes everything the configuration of x names (x opened with AWS). What it finds,
 * failures included, goes into p; only running out of memory or failing to create a client
 * is an error (RC_NOMEM / RC_FATAL with eb). An endpoint that does not answer is asked once:
 * its other resources are reported unknown without more calls. Blocks for the calls (each
 * bounded by the AWS retry budget, each database by its connect timeout + 5 s). */
enum rc probe_run(struct probe *p, struct ctl *x, bool full, struct errbuf *eb) MUSTCHECK;

/* Frees what probe_run made; accepts a zeroed struct. */
void probe_cleanup(struct probe *p);

#endif
