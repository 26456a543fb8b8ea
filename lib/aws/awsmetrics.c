/* awsmetrics.c — one counter per AWS service, operation and outcome. */
#include "aws/awsmetrics.h"

enum rc awsmetrics_describe(struct metrics *m)
{
	return metrics_describe(m, "appointmentd_aws_calls_total", METRICS_COUNTER,
				"AWS calls by service, operation and outcome.");
}

void awsmetrics_observe(void *ud, enum aws_service svc, const char *operation, enum rc rc)
{
	const char *labels[] = {"service", aws_service_name(svc), "operation",
				operation != NULL ? operation : "unknown", "outcome",
				rc == RC_OK ? "ok" : rc_name(rc), NULL};

	metrics_add(ud, "appointmentd_aws_calls_total", labels, 1);
}

void awsmetrics_attach(struct aws_client *c, struct metrics *m)
{
	aws_client_set_observer(c, awsmetrics_observe, m);
}
