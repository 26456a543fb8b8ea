/* sqs_int.h — internals of sqs.c exposed only to unit tests (built with -DUNIT_TESTS). */
#ifndef APPT_AWS_SQS_INT_H
#define APPT_AWS_SQS_INT_H
#ifdef UNIT_TESTS

#include "aws/sqs.h"

struct json_object;

enum rc sqs_entry_json(const struct sqs_send_entry *m, const char *id,
		       struct json_object **out, char *why, size_t whysz) MUSTCHECK;
enum rc sqs_parse_messages(struct json_object *resp, struct sqs_messages *out, char *why,
			   size_t whysz) MUSTCHECK;
enum rc sqs_parse_batch(struct json_object *resp, size_t n, struct sqs_batch_result *res,
			size_t *nfailed, char *why, size_t whysz) MUSTCHECK;
bool sqs_name_valid(const char *name);

#endif
#endif
