/* dynamodb_int.h — request builders and answer parsers of dynamodb.c, exposed only to unit
 * tests (built with -DUNIT_TESTS); nothing else includes this. */
#ifndef APPT_AWS_DYNAMODB_INT_H
#define APPT_AWS_DYNAMODB_INT_H
#ifdef UNIT_TESTS

#include "aws/dynamodb_priv.h"
#include "aws/dynamodb_tables.h"

enum rc ddb_build_create_table(const struct ddb_table_spec *spec, struct json_object **out,
			       struct errbuf *eb) MUSTCHECK;
enum rc ddb_build_put_item(const struct ddb_put_req *r, struct json_object **out,
			   struct errbuf *eb) MUSTCHECK;
enum rc ddb_build_get_item(const char *table, struct json_object *key, bool consistent,
			   struct json_object **out, struct errbuf *eb) MUSTCHECK;
enum rc ddb_build_update_item(const struct ddb_update_req *r, struct json_object **out,
			      struct errbuf *eb) MUSTCHECK;
enum rc ddb_build_query(const struct ddb_query_req *q, struct json_object *start_key,
			bool count_only, struct json_object **out, struct errbuf *eb) MUSTCHECK;
enum rc ddb_parse_table_info(struct json_object *table, struct ddb_table_info *info,
			     struct errbuf *eb) MUSTCHECK;
enum rc ddb_parse_page(struct json_object *answer, struct ddb_page *page,
		       struct errbuf *eb) MUSTCHECK;
bool ddb_unsupported(const struct aws_error *err);

#endif
#endif
