/* awsmetrics.h — appointmentd_aws_calls_total{service,operation,outcome} (SPEC §7) fed by
 * the AWS clients' observer hook. */
#ifndef APPT_AWSMETRICS_H
#define APPT_AWSMETRICS_H

#include "aws/core.h"
#include "base/metrics.h"
#include "base/rc.h"

/* Declares the family (once per registry). */
enum rc awsmetrics_describe(struct metrics *m) MUSTCHECK;

/* An aws_observer_fn: ud is the struct metrics * to count in (NULL counts nothing). */
void awsmetrics_observe(void *ud, enum aws_service svc, const char *operation, enum rc rc);

/* Counts every call of client c in m from now on. */
void awsmetrics_attach(struct aws_client *c, struct metrics *m);

#endif
