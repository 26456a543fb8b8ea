/* ssm_int.h — request builders of ssm.c, exposed only to unit tests (built with
 * -DUNIT_TESTS); nothing else includes this. */
#ifndef APPT_AWS_SSM_INT_H
#define APPT_AWS_SSM_INT_H
#ifdef UNIT_TESTS

#include "aws/ssm.h"

struct json_object;

bool ssm_name_ok(const char *name);
enum rc ssm_build_put(const char *name, const char *value, enum ssm_type type, bool overwrite,
		      struct json_object **out, struct errbuf *eb) MUSTCHECK;
enum rc ssm_build_get(const char *name, bool decrypt, struct json_object **out,
		      struct errbuf *eb) MUSTCHECK;

#endif
#endif
