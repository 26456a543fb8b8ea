/* test_dynamodb.c — every operation of lib/aws/dynamodb against DynamoDB Local (endpoint
 * AWS_ENDPOINT_URL_DYNAMODB): table provisioning, conditional writes, reads, GSI queries
 * across many pages, COUNT. Tables carry a per-run random prefix, and a teardown in the
 * parent process deletes every table with that prefix even when a test failed. A missing or
 * non-loopback endpoint fails the test: it must never reach a real AWS endpoint. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app/tables.h"
#include "aws/core.h"
#include "aws/dynamodb.h"
#include "base/str.h"
#include "itest.h"

#define ENDPOINT_VAR "AWS_ENDPOINT_URL_DYNAMODB"

/* "appt-it-<hex>": every table of this run starts with it. Set once in main(). */
static char run_prefix[32];

/* The client, or NULL with why filled (the teardown must not abort). */
static struct ddb_client *try_client(struct errbuf *why)
{
	struct aws_config cfg;
	struct ddb_client *c;

	if (!itest_config(ENDPOINT_VAR, &cfg, why))
		return NULL;
	c = ddb_client_new(&cfg, why);
	if (c == NULL)
		eb_prefix(why, "client");
	return c;
}

static struct ddb_client *client(void)
{
	struct errbuf why = {{0}};
	struct ddb_client *c = try_client(&why);

	ck_assert_msg(c != NULL, "%s", why.msg);
	return c;
}

static void table_name(const char *what, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s-%s", run_prefix, what);
}

/* An appointment item as the API writes it (the fields the queries use). */
static struct json_object *appt_item(const char *id, const char *insured, const char *created,
				     const char *status)
{
	struct json_object *it = json_object_new_object();

	ck_assert_ptr_nonnull(it);
	ck_assert_int_eq(ddb_put_s(it, "appointmentId", id), RC_OK);
	ck_assert_int_eq(ddb_put_s(it, "insuredId", insured), RC_OK);
	ck_assert_int_eq(ddb_put_int64(it, "scheduleId", 100), RC_OK);
	ck_assert_int_eq(ddb_put_s(it, "countryISO", "PE"), RC_OK);
	ck_assert_int_eq(ddb_put_s(it, "status", status), RC_OK);
	ck_assert_int_eq(ddb_put_s(it, "createdAt", created), RC_OK);
	ck_assert_int_eq(ddb_put_s_or_null(it, "processedAt", NULL), RC_OK);
	return it;
}

static struct json_object *key_of(const char *name, const char *id)
{
	struct json_object *k = json_object_new_object();

	ck_assert_int_eq(ddb_put_s(k, name, id), RC_OK);
	return k;
}

static void make_appointments_table(struct ddb_client *c, const char *what, char *name,
				    size_t namesz)
{
	struct ddb_table_spec spec;
	struct errbuf eb;

	table_name(what, name, namesz);
	tbl_appointments_spec(name, &spec);
	CK_RC(RC_OK, ddb_create_table(c, &spec, &eb));
	CK_RC(RC_OK, ddb_wait_active(c, name, 30000, NULL, &eb));
}

/* ---- tables ------------------------------------------------------------------------ */

struct name_seen {
	const char *want[2]; /* names to look for */
	bool seen[2];        /* found */
	size_t total;        /* names listed */
};

static enum rc on_table(void *ctx, const char *name, struct errbuf *eb)
{
	struct name_seen *ns = ctx;

	(void)eb;
	ns->total++;
	for (int i = 0; i < 2; i++)
		if (strcmp(name, ns->want[i]) == 0)
			ns->seen[i] = true;
	return RC_OK;
}

START_TEST(test_table_lifecycle)
{
	struct ddb_client *c = client();
	struct ddb_table_spec spec;
	struct ddb_table_info info;
	struct errbuf eb;
	char appts[128], side[128];
	enum ddb_applied applied;
	struct name_seen ns = {{appts, side}, {false, false}, 0};

	table_name("appts", appts, sizeof(appts));
	tbl_appointments_spec(appts, &spec);
	CK_RC(RC_OK, ddb_create_table(c, &spec, &eb));
	CK_RC(RC_OK, ddb_wait_active(c, appts, 30000, &info, &eb));
	ck_assert_str_eq(info.status, "ACTIVE");
	ck_assert_uint_eq(info.n_gsis, 3);
	ck_assert(info.gsis_active);
	ck_assert(info.stream_enabled);
	ck_assert_str_eq(info.stream_view, "NEW_AND_OLD_IMAGES");
	ck_assert_str_eq(info.billing_mode, "PAY_PER_REQUEST");
	ck_assert_ptr_nonnull(strstr(info.arn, appts));
	/* Creating it again: the table exists. */
	CK_RC(RC_CONFLICT, ddb_create_table(c, &spec, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "already exists"));
	/* PITR: DynamoDB Local has no UpdateContinuousBackups; either outcome is RC_OK. */
	CK_RC(RC_OK, ddb_enable_pitr(c, appts, &applied, &eb));
	ck_assert(applied == DDB_APPLIED || applied == DDB_UNSUPPORTED);
	fprintf(stderr, "PITR on DynamoDB Local: %s (%s)\n", ddb_applied_name(applied), eb.msg);

	/* A side table with its TTL attribute, set once, then recognised. */
	table_name("idem", side, sizeof(side));
	tbl_side_spec(side, &spec);
	CK_RC(RC_OK, ddb_create_table(c, &spec, &eb));
	CK_RC(RC_OK, ddb_wait_active(c, side, 30000, &info, &eb));
	ck_assert_uint_eq(info.n_gsis, 0);
	ck_assert(!info.stream_enabled);
	CK_RC(RC_OK, ddb_enable_ttl(c, side, TBL_TTL_ATTR, &applied, &eb));
	ck_assert_int_eq(applied, DDB_APPLIED);
	CK_RC(RC_OK, ddb_enable_ttl(c, side, TBL_TTL_ATTR, &applied, &eb));
	ck_assert_int_eq(applied, DDB_ALREADY);
	CK_RC(RC_CONFLICT, ddb_enable_ttl(c, side, "otherAttr", &applied, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, TBL_TTL_ATTR));

	CK_RC(RC_OK, ddb_list_tables(c, on_table, &ns, &eb));
	ck_assert(ns.seen[0] && ns.seen[1]);
	ck_assert_uint_ge(ns.total, 2);

	CK_RC(RC_OK, ddb_delete_table(c, side, &eb));
	CK_RC(RC_OK, ddb_delete_table(c, appts, &eb));
	CK_RC(RC_NOTFOUND, ddb_describe_table(c, appts, &info, &eb));
	CK_RC(RC_NOTFOUND, ddb_delete_table(c, appts, &eb));
	CK_RC(RC_NOTFOUND, ddb_wait_active(c, appts, 1000, NULL, &eb));
	CK_RC(RC_INVAL, ddb_wait_active(c, appts, -1, NULL, &eb));
	ddb_client_free(c);
}
END_TEST

START_TEST(test_missing_table)
{
	struct ddb_client *c = client();
	struct json_object *item = appt_item("a1", "00001", "2026-01-01T00:00:00.000Z", "pending");
	struct json_object *key = key_of("appointmentId", "a1"), *got = NULL;
	struct ddb_table_info info;
	struct ddb_page page = {0};
	struct errbuf eb;
	char name[128];
	enum ddb_applied applied;
	struct ddb_put_req put = {.item = item};
	struct ddb_update_req upd = {.key = key, .update = "SET x = :x"};
	struct json_object *vals = json_object_new_object();
	struct ddb_query_req q = {.key_condition = "appointmentId = :x", .values = vals};
	int64_t n;

	table_name("missing", name, sizeof(name));
	put.table = upd.table = q.table = name;
	ck_assert_int_eq(ddb_put_s(vals, ":x", "a1"), RC_OK);
	upd.values = vals;
	CK_RC(RC_NOTFOUND, ddb_describe_table(c, name, &info, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "ResourceNotFoundException"));
	/* the data plane: a missing table is a deployment fault, transient for the caller, and
	 * never "no such item" (issue 10) */
	CK_RC(RC_RETRY, ddb_put_item(c, &put, NULL, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "the table does not exist"));
	CK_RC(RC_RETRY, ddb_get_item(c, name, key, false, &got, &eb));
	ck_assert_ptr_null(got);
	CK_RC(RC_RETRY, ddb_update_item(c, &upd, NULL, NULL, &eb));
	CK_RC(RC_RETRY, ddb_delete_item(c, name, key, &eb));
	CK_RC(RC_RETRY, ddb_query_page(c, &q, NULL, &page, &eb));
	CK_RC(RC_RETRY, ddb_query_count(c, &q, &n, &eb));
	ck_assert_str_eq(ddb_last_error(c)->code, "ResourceNotFoundException");
	/* DynamoDB Local does not know the operation at all, so it cannot say "no table". */
	{
		enum rc rc = ddb_enable_pitr(c, name, &applied, &eb);

		ck_assert_msg(rc == RC_NOTFOUND || (rc == RC_OK && applied == DDB_UNSUPPORTED),
			      "pitr: %s %s", rc_name(rc), eb.msg);
	}
	CK_RC(RC_NOTFOUND, ddb_enable_ttl(c, name, TBL_TTL_ATTR, &applied, &eb));
	/* The last error is there for metrics. */
	ck_assert_str_eq(ddb_last_error(c)->code, "ResourceNotFoundException");
	ck_assert_int_eq(ddb_last_error(c)->http_status, 400);
	json_object_put(vals);
	json_object_put(key);
	json_object_put(item);
	ddb_client_free(c);
}
END_TEST

/* ---- items ------------------------------------------------------------------------- */

START_TEST(test_conditional_put_and_get)
{
	struct ddb_client *c = client();
	struct json_object *item = appt_item("a1", "00123", "2026-01-01T00:00:00.000Z", "pending");
	struct json_object *other = appt_item("a1", "99999", "2026-02-02T00:00:00.000Z", "failed");
	struct json_object *key = key_of("appointmentId", "a1");
	struct json_object *nokey = key_of("appointmentId", "nope");
	struct json_object *old = NULL, *got = NULL;
	struct errbuf eb;
	char name[128];
	const char *s;
	int64_t n;
	struct ddb_put_req put = {
		.item = item,
		.condition = "attribute_not_exists(appointmentId)",
		.old_on_fail = true,
	};

	make_appointments_table(c, "put", name, sizeof(name));
	put.table = name;
	CK_RC(RC_OK, ddb_put_item(c, &put, &old, &eb));
	ck_assert_ptr_null(old);
	/* The same key again: the condition fails, and the item it saw comes back. */
	put.item = other;
	CK_RC(RC_CONFLICT, ddb_put_item(c, &put, &old, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "condition failed"));
	ck_assert_ptr_nonnull(old);
	CK_RC(RC_OK, ddb_get_s(old, "insuredId", &s, NULL, &eb));
	ck_assert_str_eq(s, "00123");
	json_object_put(old);
	old = NULL;
	/* Without old_on_fail nothing comes back, still RC_CONFLICT. */
	put.old_on_fail = false;
	CK_RC(RC_CONFLICT, ddb_put_item(c, &put, &old, &eb));
	ck_assert_ptr_null(old);

	CK_RC(RC_OK, ddb_get_item(c, name, key, true, &got, &eb));
	CK_RC(RC_OK, ddb_get_s(got, "status", &s, NULL, &eb));
	ck_assert_str_eq(s, "pending");
	CK_RC(RC_OK, ddb_get_int64(got, "scheduleId", &n, &eb));
	ck_assert(n == 100);
	ck_assert_int_eq(ddb_type_of(got, "processedAt"), DDB_T_NULL);
	json_object_put(got);
	got = NULL;
	CK_RC(RC_NOTFOUND, ddb_get_item(c, name, nokey, false, &got, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "no item"));
	ck_assert_ptr_null(got);

	/* Unconditional overwrite, then delete (twice: deleting nothing is fine). */
	put.condition = NULL;
	CK_RC(RC_OK, ddb_put_item(c, &put, NULL, &eb));
	CK_RC(RC_OK, ddb_get_item(c, name, key, true, &got, &eb));
	CK_RC(RC_OK, ddb_get_s(got, "insuredId", &s, NULL, &eb));
	ck_assert_str_eq(s, "99999");
	json_object_put(got);
	CK_RC(RC_OK, ddb_delete_item(c, name, key, &eb));
	CK_RC(RC_OK, ddb_delete_item(c, name, key, &eb));
	CK_RC(RC_NOTFOUND, ddb_get_item(c, name, key, true, &got, &eb));

	CK_RC(RC_OK, ddb_delete_table(c, name, &eb));
	json_object_put(nokey);
	json_object_put(key);
	json_object_put(other);
	json_object_put(item);
	ddb_client_free(c);
}
END_TEST

/* Builds {":a": S a, ":b": S b} (b may be NULL). */
static struct json_object *values2(const char *na, const char *a, const char *nb, const char *b)
{
	struct json_object *v = json_object_new_object();

	ck_assert_int_eq(ddb_put_s(v, na, a), RC_OK);
	if (nb != NULL)
		ck_assert_int_eq(ddb_put_s(v, nb, b), RC_OK);
	return v;
}

START_TEST(test_conditional_update)
{
	struct ddb_client *c = client();
	struct json_object *item = appt_item("a1", "00123", "2026-01-01T00:00:00.000Z", "pending");
	struct json_object *key = key_of("appointmentId", "a1");
	struct json_object *nokey = key_of("appointmentId", "nope");
	struct json_object *names = json_object_new_object();
	struct json_object *vals = values2(":pending", "pending", ":processed", "processed");
	struct json_object *attrs = NULL, *old = NULL;
	struct errbuf eb;
	char name[128], side[128];
	const char *s;
	int64_t n;
	struct ddb_put_req put = {.item = item};
	struct ddb_update_req u = {
		.key = key,
		.update = "SET #s = :processed, processedAt = :processed",
		.condition = "#s = :pending",
		.names = names,
		.values = vals,
		.ret = DDB_RET_ALL_NEW,
		.old_on_fail = true,
	};
	struct ddb_table_spec spec;

	json_object_object_add(names, "#s", json_object_new_string("status"));
	make_appointments_table(c, "upd", name, sizeof(name));
	put.table = u.table = name;
	CK_RC(RC_OK, ddb_put_item(c, &put, NULL, &eb));

	/* pending -> processed, returning the whole new item. */
	CK_RC(RC_OK, ddb_update_item(c, &u, &attrs, &old, &eb));
	ck_assert_ptr_null(old);
	ck_assert_ptr_nonnull(attrs);
	CK_RC(RC_OK, ddb_get_s(attrs, "status", &s, NULL, &eb));
	ck_assert_str_eq(s, "processed");
	CK_RC(RC_OK, ddb_get_s(attrs, "insuredId", &s, NULL, &eb));
	ck_assert_str_eq(s, "00123");
	json_object_put(attrs);
	attrs = NULL;

	/* Redelivery: the condition fails; the old item says it is already at the target. */
	CK_RC(RC_CONFLICT, ddb_update_item(c, &u, &attrs, &old, &eb));
	ck_assert_ptr_null(attrs);
	ck_assert_ptr_nonnull(old);
	CK_RC(RC_OK, ddb_get_s(old, "status", &s, NULL, &eb));
	ck_assert_str_eq(s, "processed");
	json_object_put(old);
	old = NULL;

	/* A missing item fails the condition too, and then there is no old item. */
	u.key = nokey;
	u.condition = "attribute_exists(appointmentId) AND #s = :pending";
	CK_RC(RC_CONFLICT, ddb_update_item(c, &u, &attrs, &old, &eb));
	ck_assert_ptr_null(old);
	ck_assert_ptr_null(attrs);
	CK_RC(RC_NOTFOUND, ddb_get_item(c, name, nokey, true, &attrs, &eb));

	/* UPDATED_NEW returns only what changed; NONE returns nothing. */
	u.key = key;
	u.condition = NULL;
	u.names = NULL;
	json_object_put(vals);
	vals = values2(":r", "schedule_unavailable", NULL, NULL);
	u.values = vals;
	u.update = "SET failureReason = :r";
	u.ret = DDB_RET_UPDATED_NEW;
	CK_RC(RC_OK, ddb_update_item(c, &u, &attrs, NULL, &eb));
	ck_assert_ptr_nonnull(attrs);
	ck_assert_uint_eq(json_object_object_length(attrs), 1);
	CK_RC(RC_OK, ddb_get_s(attrs, "failureReason", &s, NULL, &eb));
	ck_assert_str_eq(s, "schedule_unavailable");
	json_object_put(attrs);
	attrs = NULL;
	u.ret = DDB_RET_NONE;
	CK_RC(RC_OK, ddb_update_item(c, &u, &attrs, NULL, &eb));
	ck_assert_ptr_null(attrs);
	u.ret = DDB_RET_ALL_OLD;
	CK_RC(RC_OK, ddb_update_item(c, &u, &attrs, NULL, &eb));
	CK_RC(RC_OK, ddb_get_s(attrs, "status", &s, NULL, &eb));
	ck_assert_str_eq(s, "processed");
	json_object_put(attrs);
	attrs = NULL;

	/* The quota counter of SPEC §3: an atomic ADD on a side table. */
	table_name("quota", side, sizeof(side));
	tbl_side_spec(side, &spec);
	CK_RC(RC_OK, ddb_create_table(c, &spec, &eb));
	CK_RC(RC_OK, ddb_wait_active(c, side, 30000, NULL, &eb));
	json_object_put(key);
	key = key_of("key", "hash#2026-01-01");
	json_object_put(vals);
	vals = json_object_new_object();
	ck_assert_int_eq(ddb_put_int64(vals, ":one", 1), RC_OK);
	ck_assert_int_eq(ddb_put_int64(vals, ":exp", 1767398400), RC_OK);
	json_object_put(names);
	names = json_object_new_object();
	json_object_object_add(names, "#c", json_object_new_string("count"));
	u = (struct ddb_update_req){
		.table = side,
		.key = key,
		.update = "ADD #c :one SET expiresAt = if_not_exists(expiresAt, :exp)",
		.names = names,
		.values = vals,
		.ret = DDB_RET_UPDATED_NEW,
	};
	for (int64_t want = 1; want <= 3; want++) {
		CK_RC(RC_OK, ddb_update_item(c, &u, &attrs, NULL, &eb));
		CK_RC(RC_OK, ddb_get_int64(attrs, "count", &n, &eb));
		ck_assert(n == want);
		json_object_put(attrs);
		attrs = NULL;
	}

	CK_RC(RC_OK, ddb_delete_table(c, side, &eb));
	CK_RC(RC_OK, ddb_delete_table(c, name, &eb));
	json_object_put(names);
	json_object_put(vals);
	json_object_put(nokey);
	json_object_put(key);
	json_object_put(item);
	ddb_client_free(c);
}
END_TEST

START_TEST(test_exact_numbers)
{
	struct ddb_client *c = client();
	struct json_object *item = appt_item("n1", "00001", "2026-01-01T00:00:00.000Z", "pending");
	struct json_object *key = key_of("appointmentId", "n1"), *got = NULL;
	struct errbuf eb;
	char name[128];
	int64_t n;
	const char *text;
	struct ddb_put_req put = {.item = item};

	ck_assert_int_eq(ddb_put_int64(item, "max", INT64_MAX), RC_OK);
	ck_assert_int_eq(ddb_put_int64(item, "min", INT64_MIN), RC_OK);
	ck_assert_int_eq(ddb_put_n_text(item, "huge", "123456789012345678901234567890"), RC_OK);
	ck_assert_int_eq(ddb_put_n_text(item, "frac", "2.5"), RC_OK);
	make_appointments_table(c, "num", name, sizeof(name));
	put.table = name;
	CK_RC(RC_OK, ddb_put_item(c, &put, NULL, &eb));
	CK_RC(RC_OK, ddb_get_item(c, name, key, true, &got, &eb));
	CK_RC(RC_OK, ddb_get_int64(got, "max", &n, &eb));
	ck_assert(n == INT64_MAX);
	CK_RC(RC_OK, ddb_get_int64(got, "min", &n, &eb));
	ck_assert(n == INT64_MIN);
	CK_RC(RC_INVAL, ddb_get_int64(got, "huge", &n, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "huge"));
	CK_RC(RC_OK, ddb_get_n_text(got, "huge", &text, &eb));
	ck_assert_str_eq(text, "123456789012345678901234567890");
	CK_RC(RC_INVAL, ddb_get_int64(got, "frac", &n, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "not an integer"));
	json_object_put(got);
	CK_RC(RC_OK, ddb_delete_table(c, name, &eb));
	json_object_put(key);
	json_object_put(item);
	ddb_client_free(c);
}
END_TEST

/* ---- queries ----------------------------------------------------------------------- */

#define N_ITEMS 13 /* items of the queried insuredId: > 4 pages of 3 */

struct seen {
	char created[64][32]; /* createdAt of every item, in callback order */
	char ids[64][16];     /* appointmentId */
	size_t n;             /* items seen */
	size_t stop_after;    /* return RC_CONFLICT after this many (0 = never) */
};

static enum rc on_item(void *ctx, struct json_object *item, struct errbuf *eb)
{
	struct seen *s = ctx;
	const char *v = NULL;
	enum rc rc;

	if (s->stop_after != 0 && s->n == s->stop_after)
		return eb_set(eb, RC_CONFLICT, "stop");
	if (s->n >= 64)
		return eb_set(eb, RC_INVAL, "too many items");
	rc = ddb_get_s(item, "createdAt", &v, NULL, eb);
	if (rc != RC_OK)
		return rc;
	snprintf(s->created[s->n], sizeof(s->created[0]), "%s", v);
	rc = ddb_get_s(item, "appointmentId", &v, NULL, eb);
	if (rc != RC_OK)
		return rc;
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", v);
	s->n++;
	return RC_OK;
}

static void created_at(int i, char *out, size_t outsz)
{
	/* days 1..28 of March: the text is always 24 bytes */
	ck_assert(i >= 0 && i < 28 && outsz > 24);
	ck_assert(str_cut(out, outsz, "2026-03-%02dT10:00:00.000Z", i + 1));
}

/* Puts N_ITEMS items for insuredId 00123 (status pending for even i, processed for odd) and
 * 4 for 00999, in an order unrelated to createdAt. */
static void fill(struct ddb_client *c, const char *table)
{
	struct errbuf eb;

	for (int k = 0; k < N_ITEMS + 4; k++) {
		int i = (k * 7) % (N_ITEMS + 4); /* 7 is prime to 17: a permutation */
		char id[16], created[32];
		struct json_object *it;
		struct ddb_put_req put = {.table = table,
					  .condition = "attribute_not_exists(appointmentId)"};

		snprintf(id, sizeof(id), "id-%02d", i);
		created_at(i, created, sizeof(created));
		it = appt_item(id, i < N_ITEMS ? "00123" : "00999", created,
			       i % 2 == 0 ? "pending" : "processed");
		put.item = it;
		CK_RC(RC_OK, ddb_put_item(c, &put, NULL, &eb));
		json_object_put(it);
	}
}

START_TEST(test_query_paging)
{
	struct ddb_client *c = client();
	struct json_object *vals = values2(":i", "00123", NULL, NULL);
	struct ddb_query_stats st;
	struct ddb_page page = {0};
	struct seen *s = calloc(1, sizeof(*s));
	struct errbuf eb;
	char name[128];
	struct ddb_query_req q = {
		.index = TBL_GSI_INSURED,
		.key_condition = "insuredId = :i",
		.values = vals,
		.descending = true,
		.limit = 3,
	};

	ck_assert_ptr_nonnull(s);
	make_appointments_table(c, "query", name, sizeof(name));
	q.table = name;
	fill(c, name);

	/* Every page, newest first, each item once. */
	CK_RC(RC_OK, ddb_query_all(c, &q, 100, on_item, s, &st, &eb));
	ck_assert_uint_eq(s->n, N_ITEMS);
	ck_assert_uint_eq(st.items, N_ITEMS);
	ck_assert(!st.truncated);
	ck_assert_uint_gt(st.pages, 3);
	ck_assert_uint_ge(st.pages, (N_ITEMS + 2) / 3);
	for (size_t i = 0; i < s->n; i++) {
		char want[32];

		/* Strictly descending and exactly the expected set: each seen once. */
		created_at(N_ITEMS - 1 - (int)i, want, sizeof(want));
		ck_assert_str_eq(s->created[i], want);
		if (i > 0)
			ck_assert_int_gt(strcmp(s->created[i - 1], s->created[i]), 0);
	}

	/* One page by hand: Limit items and a key to go on from. */
	CK_RC(RC_OK, ddb_query_page(c, &q, NULL, &page, &eb));
	ck_assert_uint_eq(json_object_array_length(page.items), 3);
	ck_assert(page.count == 3);
	ck_assert_ptr_nonnull(page.last_key);
	{
		struct json_object *start = json_object_get(page.last_key);
		const char *v;

		CK_RC(RC_OK, ddb_query_page(c, &q, start, &page, &eb));
		ck_assert_uint_eq(json_object_array_length(page.items), 3);
		CK_RC(RC_OK, ddb_get_s(json_object_array_get_idx(page.items, 0), "createdAt", &v,
				       NULL, &eb));
		ck_assert_str_eq(v, s->created[3]);
		json_object_put(start);
	}
	ddb_page_cleanup(&page);

	/* Stopping at max_items, and a callback that stops the walk. */
	memset(s, 0, sizeof(*s));
	CK_RC(RC_OK, ddb_query_all(c, &q, 5, on_item, s, &st, &eb));
	ck_assert_uint_eq(s->n, 5);
	ck_assert(st.truncated);
	memset(s, 0, sizeof(*s));
	s->stop_after = 4;
	CK_RC(RC_CONFLICT, ddb_query_all(c, &q, 100, on_item, s, &st, &eb));
	ck_assert_uint_eq(st.items, 4);
	CK_RC(RC_INVAL, ddb_query_all(c, &q, 0, on_item, s, &st, &eb));
	CK_RC(RC_OK, ddb_delete_table(c, name, &eb));
	ddb_client_free(c);
	free(s);
	json_object_put(vals);
}
END_TEST

START_TEST(test_query_filter_count)
{
	struct ddb_client *c = client();
	struct json_object *vals = values2(":i", "00123", ":s", "pending");
	struct json_object *names = json_object_new_object();
	struct ddb_query_stats st;
	struct seen *s = calloc(1, sizeof(*s));
	struct errbuf eb;
	char name[128];
	int64_t n = -1;
	struct ddb_query_req q = {
		.index = TBL_GSI_INSURED,
		.key_condition = "insuredId = :i",
		.descending = true,
		.limit = 2,
	};
	struct json_object *ivals = values2(":i", "00123", NULL, NULL);

	ck_assert_ptr_nonnull(s);
	json_object_object_add(names, "#s", json_object_new_string("status"));
	make_appointments_table(c, "filter", name, sizeof(name));
	q.table = name;
	fill(c, name);

	/* COUNT over every page. */
	q.values = ivals;
	CK_RC(RC_OK, ddb_query_count(c, &q, &n, &eb));
	ck_assert(n == N_ITEMS);
	q.limit = 0;
	CK_RC(RC_OK, ddb_query_count(c, &q, &n, &eb));
	ck_assert(n == N_ITEMS);

	/* FilterExpression on status: only pending (even i), still newest first. */
	q.limit = 2;
	q.filter = "#s = :s";
	q.names = names;
	q.values = vals;
	CK_RC(RC_OK, ddb_query_all(c, &q, 100, on_item, s, &st, &eb));
	ck_assert_uint_eq(s->n, (N_ITEMS + 1) / 2);
	for (size_t i = 0; i < s->n; i++) {
		char want[32];
		int idx = N_ITEMS - 1 - 2 * (int)i; /* 12, 10, ..., 0: the even ones */

		created_at(idx, want, sizeof(want));
		ck_assert_str_eq(s->created[i], want);
	}
	CK_RC(RC_OK, ddb_query_count(c, &q, &n, &eb));
	ck_assert(n == (N_ITEMS + 1) / 2);

	/* The status GSI, as the reconciler uses it, with a createdAt bound. */
	json_object_put(vals);
	vals = values2(":s", "pending", ":before", "2026-03-05T00:00:00.000Z");
	q = (struct ddb_query_req){
		.table = name,
		.index = TBL_GSI_STATUS,
		.key_condition = "#s = :s AND createdAt < :before",
		.names = names,
		.values = vals,
	};
	CK_RC(RC_OK, ddb_query_count(c, &q, &n, &eb));
	ck_assert(n == 2); /* i = 0, 2 (March 1st and 3rd) */
	/* A date range on the insuredId GSI, inclusive on both ends. */
	json_object_put(vals);
	vals = values2(":i", "00123", ":a", "2026-03-02T10:00:00.000Z");
	ck_assert_int_eq(ddb_put_s(vals, ":b", "2026-03-06T10:00:00.000Z"), RC_OK);
	q = (struct ddb_query_req){
		.table = name,
		.index = TBL_GSI_INSURED,
		.key_condition = "insuredId = :i AND createdAt BETWEEN :a AND :b",
		.values = vals,
	};
	CK_RC(RC_OK, ddb_query_count(c, &q, &n, &eb));
	ck_assert(n == 5);
	/* An unknown insuredId: an empty result, not an error. */
	json_object_put(vals);
	vals = values2(":i", "55555", NULL, NULL);
	q.key_condition = "insuredId = :i";
	q.values = vals;
	memset(s, 0, sizeof(*s));
	CK_RC(RC_OK, ddb_query_all(c, &q, 100, on_item, s, &st, &eb));
	ck_assert_uint_eq(s->n, 0);
	ck_assert_uint_eq(st.pages, 1);
	/* A bad expression is the caller's error. */
	q.key_condition = "insuredId = :nope";
	CK_RC(RC_INVAL, ddb_query_count(c, &q, &n, &eb));
	ck_assert_ptr_nonnull(strstr(eb.msg, "ValidationException"));

	CK_RC(RC_OK, ddb_delete_table(c, name, &eb));
	json_object_put(ivals);
	json_object_put(names);
	json_object_put(vals);
	free(s);
	ddb_client_free(c);
}
END_TEST

/* ---- harness ----------------------------------------------------------------------- */

struct prefix_walk {
	char names[64][128]; /* tables of this run */
	size_t n;            /* their number */
};

static enum rc collect_ours(void *ctx, const char *name, struct errbuf *eb)
{
	struct prefix_walk *w = ctx;

	(void)eb;
	if (strncmp(name, run_prefix, strlen(run_prefix)) == 0 && w->n < 64)
		snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", name);
	return RC_OK;
}

/* Runs in the parent after the test case, whatever happened: deletes this run's tables. */
static void cleanup_tables(void)
{
	struct errbuf why = {{0}};
	struct ddb_client *c = try_client(&why);
	struct prefix_walk *w = calloc(1, sizeof(*w));
	struct errbuf eb = {{0}};

	if (c != NULL && w != NULL && ddb_list_tables(c, collect_ours, w, &eb) == RC_OK)
		for (size_t i = 0; i < w->n; i++) {
			fprintf(stderr, "cleanup: deleting table %s left by a failed test\n",
				w->names[i]);
			if (ddb_delete_table(c, w->names[i], &eb) != RC_OK)
				fprintf(stderr, "cleanup: %s\n", eb.msg);
		}
	free(w);
	ddb_client_free(c);
}

int main(void)
{
	Suite *s = suite_create("dynamodb");
	TCase *tc = tcase_create("local");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	itest_run_prefix(run_prefix, sizeof(run_prefix));
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_tables);
	tcase_add_test(tc, test_table_lifecycle);
	tcase_add_test(tc, test_missing_table);
	tcase_add_test(tc, test_conditional_put_and_get);
	tcase_add_test(tc, test_conditional_update);
	tcase_add_test(tc, test_exact_numbers);
	tcase_add_test(tc, test_query_paging);
	tcase_add_test(tc, test_query_filter_count);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_NORMAL);
	aws_global_cleanup();
	return status;
}
