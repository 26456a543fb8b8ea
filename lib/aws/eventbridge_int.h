/* eventbridge_int.h — request builders and answer parsers of eventbridge.c, exposed only to
 * unit tests (built with -DUNIT_TESTS); nothing else includes this. */
#ifndef APPT_AWS_EVENTBRIDGE_INT_H
#define APPT_AWS_EVENTBRIDGE_INT_H
#ifdef UNIT_TESTS

#include "aws/eventbridge.h"

struct json_object;

enum rc evb_build_put_rule(const struct evb_rule *rule, struct json_object **out,
			   struct errbuf *eb) MUSTCHECK;
enum rc evb_build_put_targets(const char *rule, const char *bus,
			      const struct evb_target *targets, size_t n,
			      struct json_object **out, struct errbuf *eb) MUSTCHECK;
enum rc evb_build_put_events(const struct evb_entry *entries, size_t n,
			     struct json_object **out, struct errbuf *eb) MUSTCHECK;
enum rc evb_parse_put_events(struct json_object *answer, size_t n, struct evb_put_result *res,
			     size_t *nfailed, struct errbuf *eb) MUSTCHECK;
enum rc evb_entry_code_rc(const char *code);

#endif
#endif
