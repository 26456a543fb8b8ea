/* awscfg.h — the AWS settings every binary resolves the same way: the AWS SDK
 * environment, with the config file's [aws] region and endpoint_url standing in for
 * AWS_REGION and AWS_ENDPOINT_URL when the environment has neither. */
#ifndef APPT_AWSCFG_H
#define APPT_AWSCFG_H

#include "aws/core.h"
#include "app/conf.h"
#include "base/rc.h"

/* Fills out from the process environment and c (borrowed for the call). A variable set but
 * empty counts as unset. Errors as aws_config_from_env; a caller at startup exits 78 on
 * them. c's region and endpoint_url were checked when c was loaded (app/conf), naming their
 * line, so an error here that names AWS_REGION or AWS_ENDPOINT_URL is about the variable. */
enum rc awscfg_resolve(const struct conf *c, struct aws_config *out, struct errbuf *eb) MUSTCHECK;

#endif
