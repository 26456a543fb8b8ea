/* test_idem.c — Idempotency-Key claims on DynamoDB Local (issue 10): a claim retried into
 * its own write is ours, a take-over keeps the claimed appointment id, and every later
 * write to a claim (response, refusal, release) is conditional on its token. The clock is
 * passed in, so "60 s later" needs no waiting. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/idem.h"
#include "app/tables.h"
#include "aws/dynamodb.h"
#include "itest.h"

static struct ddb_client *ddb;
static char table[64];
static const int64_t T0 = 1800000000; /* "now" of the tests, epoch seconds */

static void setup(void)
{
	ddb = itest_ddb_table_new("idem-test", tbl_side_spec, table, sizeof(table));
}

static void teardown(void)
{
	itest_ddb_table_free(ddb, table);
}

/* One request's view: its record key, hash, token and fresh id. */
struct req {
	char key[APIKEYS_HEX_SIZE];
	char hash[APIKEYS_HEX_SIZE];
	char token[IDEM_TOKEN_SIZE];
	char id[APPT_ID_SIZE];
};

static struct req req_new(const char *key, const char *hash)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.hash, sizeof(r.hash), "%s", hash);
	appt_id_new(r.token);
	appt_id_new(r.id);
	return r;
}

static enum idem_state claim(const struct req *r, int64_t now, struct idem_record *rec)
{
	struct errbuf eb = {{0}};
	enum idem_state st = IDEM_MISMATCH;

	ck_assert_msg(idem_claim(ddb, table, r->key, r->hash, r->token, r->id, now, &st, rec,
				 &eb) == RC_OK, "%s", eb.msg);
	return st;
}

static struct idem_record rec; /* 4 KiB: off the stack */

START_TEST(test_claim_own_retry_and_twin)
{
	struct req a = req_new("k-own", "h1");
	struct req b = req_new("k-own", "h1");
	struct req other = req_new("k-own", "h2");

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_str_eq(rec.appointment_id, a.id);
	/* the core's retry of the same put (same token and id) meets its own claim */
	ck_assert_int_eq(claim(&a, T0 + 1, &rec), IDEM_CLAIMED);
	ck_assert_str_eq(rec.appointment_id, a.id);
	/* a twin (same request, other token) waits; another request conflicts */
	ck_assert_int_eq(claim(&b, T0 + 2, &rec), IDEM_BUSY);
	ck_assert_str_eq(rec.appointment_id, a.id);
	ck_assert_int_eq(claim(&other, T0 + 2, &rec), IDEM_MISMATCH);
}
END_TEST

START_TEST(test_takeover_keeps_the_id)
{
	struct req a = req_new("k-stale", "h1");
	struct req b = req_new("k-stale", "h1");
	struct req c = req_new("k-stale", "h1");
	struct errbuf eb = {{0}};
	bool busy = false;

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_int_eq(idem_busy(ddb, table, a.key, b.hash, b.token, T0 + 5, &busy, &eb), RC_OK);
	ck_assert(busy);
	ck_assert_int_eq(idem_busy(ddb, table, a.key, b.hash, b.token,
				   T0 + IDEM_STALE_SECONDS + 1, &busy, &eb), RC_OK);
	ck_assert(!busy);
	/* abandoned: taken over with a's id, never a new one */
	ck_assert_int_eq(claim(&b, T0 + IDEM_STALE_SECONDS + 1, &rec), IDEM_TAKEN_OVER);
	ck_assert_str_eq(rec.appointment_id, a.id);
	/* b's take-over is fresh: c waits on it */
	ck_assert_int_eq(claim(&c, T0 + IDEM_STALE_SECONDS + 2, &rec), IDEM_BUSY);
	/* a, late, no longer holds it: its release, refusal and response change nothing */
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_CONFLICT);
	ck_assert_int_eq(idem_refuse(ddb, table, a.key, a.token, "SCHEDULE_NOT_FOUND", &eb),
			 RC_CONFLICT);
	ck_assert_int_eq(idem_complete(ddb, table, a.key, a.token, "{\"late\":1}", &eb),
			 RC_CONFLICT);
	ck_assert_int_eq(claim(&c, T0 + IDEM_STALE_SECONDS + 2, &rec), IDEM_BUSY);
	/* b completes; everyone replays b's answer, with a's id */
	ck_assert_int_eq(idem_complete(ddb, table, b.key, b.token, "{\"b\":1}", &eb), RC_OK);
	ck_assert_int_eq(idem_complete(ddb, table, b.key, b.token, "{\"b\":1}", &eb), RC_OK);
	ck_assert_int_eq(claim(&c, T0 + 3 * IDEM_STALE_SECONDS, &rec), IDEM_REPLAY);
	ck_assert_str_eq(rec.response, "{\"b\":1}");
	ck_assert_str_eq(rec.appointment_id, a.id);
	ck_assert_int_eq(claim(&a, T0 + 3 * IDEM_STALE_SECONDS, &rec), IDEM_REPLAY);
	/* a completed record is not released */
	ck_assert_int_eq(idem_release(ddb, table, b.key, b.token, &eb), RC_CONFLICT);
}
END_TEST

START_TEST(test_release_is_taken_over_at_once)
{
	struct req a = req_new("k-rel", "h1");
	struct req b = req_new("k-rel", "h1");
	struct req never = req_new("k-none", "h1");
	struct errbuf eb = {{0}};
	bool busy = true;

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_OK);
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_OK); /* a retry */
	ck_assert_int_eq(idem_busy(ddb, table, b.key, b.hash, b.token, T0 + 1, &busy, &eb), RC_OK);
	ck_assert(!busy);
	ck_assert_int_eq(claim(&b, T0 + 1, &rec), IDEM_TAKEN_OVER);
	ck_assert_str_eq(rec.appointment_id, a.id);
	/* the late retry of a's release meets b's claim: nothing changes */
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_CONFLICT);
	ck_assert_int_eq(idem_busy(ddb, table, a.key, a.hash, a.token, T0 + 2, &busy, &eb), RC_OK);
	ck_assert(busy);
	/* releasing a claim that was never applied is harmless */
	ck_assert_int_eq(idem_release(ddb, table, never.key, never.token, &eb), RC_CONFLICT);
}
END_TEST

START_TEST(test_refusal_is_replayed_and_frees_the_key_for_another_body)
{
	struct req a = req_new("k-ref", "h1");
	struct req b = req_new("k-ref", "h1");
	struct req fixed = req_new("k-ref", "h2");
	struct errbuf eb = {{0}};
	bool busy = true;

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_int_eq(claim(&b, T0, &rec), IDEM_BUSY);
	ck_assert_int_eq(idem_refuse(ddb, table, a.key, a.token, "SCHEDULE_NOT_FOUND", &eb), RC_OK);
	ck_assert_int_eq(idem_busy(ddb, table, b.key, b.hash, b.token, T0 + 1, &busy, &eb), RC_OK);
	ck_assert(!busy);
	ck_assert_int_eq(claim(&b, T0 + 1, &rec), IDEM_REPLAY);
	ck_assert_str_eq(rec.refusal, "SCHEDULE_NOT_FOUND");
	ck_assert_str_eq(rec.response, "");
	/* a refused record is neither released nor completed by its owner afterwards */
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_CONFLICT);
	/* another body may use the key: nothing was created under it */
	ck_assert_int_eq(claim(&fixed, T0 + 2, &rec), IDEM_CLAIMED);
	ck_assert_str_eq(rec.appointment_id, fixed.id);
	ck_assert_int_eq(claim(&b, T0 + 3, &rec), IDEM_MISMATCH);
}
END_TEST

START_TEST(test_expired_record_is_a_new_claim)
{
	struct req a = req_new("k-exp", "h1");
	struct req b = req_new("k-exp", "h1");
	struct errbuf eb = {{0}};

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_int_eq(idem_complete(ddb, table, a.key, a.token, "{}", &eb), RC_OK);
	ck_assert_int_eq(claim(&b, T0 + IDEM_TTL_SECONDS + 1, &rec), IDEM_CLAIMED);
	ck_assert_str_eq(rec.appointment_id, b.id);
}
END_TEST

/* A Put into the table (item key item_key) fenced by token's claim of r's key: the
 * rc of the transaction, *failed the index of the write whose condition failed. */
static enum rc fenced_put(const struct req *r, const char *token, const char *item_key,
			  size_t *failed)
{
	struct json_object *item = json_object_new_object();
	struct ddb_update_req check;
	struct ddb_put_req put = {.table = table, .condition = "attribute_not_exists(#k)"};
	struct json_object *names = NULL;
	struct errbuf eb = {{0}};
	enum rc rc;

	ck_assert_int_eq(ddb_put_s(item, TBL_SIDE_KEY, item_key), RC_OK);
	ck_assert_int_eq(ddb_name(&names, "#k", TBL_SIDE_KEY), RC_OK);
	ck_assert_int_eq(idem_fence(table, r->key, token, &check, &eb), RC_OK);
	put.item = item;
	put.names = names;
	{
		const struct ddb_tx_write w[] = {{.put = &put}, {.check = &check}};

		rc = ddb_transact_write(ddb, w, 2, failed, NULL, &eb);
	}
	idem_fence_cleanup(&check);
	json_object_put(names);
	json_object_put(item);
	return rc;
}

static bool item_exists(const char *item_key)
{
	struct json_object *key = json_object_new_object();
	struct json_object *item = NULL;
	struct errbuf eb = {{0}};
	enum rc rc;

	ck_assert_int_eq(ddb_put_s(key, TBL_SIDE_KEY, item_key), RC_OK);
	rc = ddb_get_item(ddb, table, key, true, &item, &eb);
	json_object_put(item);
	json_object_put(key);
	ck_assert_msg(rc == RC_OK || rc == RC_NOTFOUND, "%s", eb.msg);
	return rc == RC_OK;
}

/* A write fenced by a claim applies only while its token holds the claim: once released
 * or taken over, the write of the request that gave it up (say, delayed in the network
 * past its answer) stores nothing. */
START_TEST(test_fence_holds_only_for_the_claim_holder)
{
	struct req a = req_new("k-fence", "h1");
	struct req b = req_new("k-fence", "h1");
	struct errbuf eb = {{0}};
	size_t failed = 9;

	ck_assert_int_eq(claim(&a, T0, &rec), IDEM_CLAIMED);
	ck_assert_int_eq(fenced_put(&a, a.token, "fenced-1", &failed), RC_OK);
	ck_assert(item_exists("fenced-1"));
	ck_assert_int_eq(fenced_put(&a, b.token, "fenced-2", &failed), RC_CONFLICT);
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(idem_release(ddb, table, a.key, a.token, &eb), RC_OK);
	ck_assert_int_eq(fenced_put(&a, a.token, "fenced-3", &failed), RC_CONFLICT);
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(claim(&b, T0 + 1, &rec), IDEM_TAKEN_OVER);
	ck_assert_int_eq(fenced_put(&a, a.token, "fenced-4", &failed), RC_CONFLICT);
	ck_assert_int_eq(fenced_put(&b, b.token, "fenced-5", &failed), RC_OK);
	ck_assert(!item_exists("fenced-2") && !item_exists("fenced-3") &&
		  !item_exists("fenced-4"));
	ck_assert(item_exists("fenced-5"));
	/* no claim at all: nothing is fenced in */
	ck_assert_int_eq(fenced_put(&(struct req){.key = "k-none"}, a.token, "fenced-6", &failed),
			 RC_CONFLICT);
	ck_assert(!item_exists("fenced-6"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idem");
	TCase *tc = tcase_create("idem");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_claim_own_retry_and_twin);
	tcase_add_test(tc, test_takeover_keeps_the_id);
	tcase_add_test(tc, test_release_is_taken_over_at_once);
	tcase_add_test(tc, test_refusal_is_replayed_and_frees_the_key_for_another_body);
	tcase_add_test(tc, test_expired_record_is_a_new_claim);
	tcase_add_test(tc, test_fence_holds_only_for_the_claim_holder);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
