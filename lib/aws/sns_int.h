/* sns_int.h — internals of sns.c exposed only to unit tests (built with -DUNIT_TESTS). */
#ifndef APPT_AWS_SNS_INT_H
#define APPT_AWS_SNS_INT_H
#ifdef UNIT_TESTS

#include "aws/sns.h"
#include "base/buf.h"

enum rc sns_form_add(struct buf *b, const char *key, const char *value) MUSTCHECK;
enum rc sns_xml_text(const char *xml, size_t len, const char *elem, char *out,
		     size_t outsz) MUSTCHECK;
enum rc sns_parse_subscriptions(const char *xml, size_t len, struct sns_subscriptions *out,
				char next[SNS_TOKEN_MAX]) MUSTCHECK;
enum rc sns_parse_attributes(const char *xml, size_t len, struct sns_attrs *out) MUSTCHECK;

#endif
#endif
