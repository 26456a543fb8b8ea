/* test_guard.c — the API's gatekeepers: token bucket and API key file / lookup. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/apikeys.h"
#include "run/ratelimit.h"

START_TEST(test_bucket)
{
	struct ratelimit rl;
	int ra = 0;
	uint64_t t = 1000000;

	ratelimit_init(&rl, 10, 3, t);
	ck_assert(ratelimit_take(&rl, t, &ra));
	ck_assert(ratelimit_take(&rl, t, &ra));
	ck_assert(ratelimit_take(&rl, t, &ra));
	ck_assert(!ratelimit_take(&rl, t, &ra));
	ck_assert_int_eq(ra, 1);
	t += 100000; /* 0.1 s at 10/s = one token */
	ck_assert(ratelimit_take(&rl, t, &ra));
	ck_assert(!ratelimit_take(&rl, t, &ra));
	t += 10000000; /* long idle refills only up to burst */
	for (int i = 0; i < 3; i++)
		ck_assert(ratelimit_take(&rl, t, &ra));
	ck_assert(!ratelimit_take(&rl, t, &ra));
	ratelimit_set(&rl, 1, 1);
	t += 500000;
	ck_assert(!ratelimit_take(&rl, t, &ra));
	ck_assert_int_eq(ra, 1);
	ratelimit_set(&rl, 1, 100);
	ck_assert(!ratelimit_take(&rl, t, &ra));
	ratelimit_cleanup(&rl);
}
END_TEST

START_TEST(test_bucket_slow_rate_retry_after)
{
	struct ratelimit rl;
	int ra = 0;

	ratelimit_init(&rl, 1, 1, 0);
	ck_assert(ratelimit_take(&rl, 0, &ra));
	ck_assert(!ratelimit_take(&rl, 0, &ra));
	ck_assert_int_eq(ra, 1);
	ratelimit_cleanup(&rl);
}
END_TEST

START_TEST(test_client_buckets)
{
	struct ratelimit_clients *t = NULL;
	char key[32];
	int ra = 0;
	uint64_t now = 1000000;

	ck_assert_int_eq(ratelimit_clients_new(1, 2, &t), RC_OK);
	/* each client has its own bucket */
	ck_assert(ratelimit_clients_take(t, "a", now, &ra));
	ck_assert(ratelimit_clients_take(t, "a", now, &ra));
	ck_assert(!ratelimit_clients_take(t, "a", now, &ra));
	ck_assert_int_eq(ra, 1);
	ck_assert(ratelimit_clients_take(t, "b", now, &ra));
	/* many more clients than slots: bounded, each new one starts full */
	for (int i = 0; i < 3 * RATELIMIT_CLIENTS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(ratelimit_clients_take(t, key, now + (uint64_t)i, &ra));
	}
	/* a refill of one second brings one token back */
	ck_assert(ratelimit_clients_take(t, "c", now, &ra));
	ck_assert(ratelimit_clients_take(t, "c", now, &ra));
	ck_assert(!ratelimit_clients_take(t, "c", now, &ra));
	ck_assert(ratelimit_clients_take(t, "c", now + 1000000, &ra));
	ratelimit_clients_set(t, 1, 1);
	ck_assert(!ratelimit_clients_take(t, "c", now + 1000000, &ra));
	ratelimit_clients_free(t);
	ratelimit_clients_free(NULL);
}
END_TEST

static char path[64];

static void write_keys(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_apikeys.XXXXXX");
	ck_assert_int_ge(mkstemp(path), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_keys)
{
	struct apikeys *k = NULL;
	struct errbuf eb = {{0}};
	char hex[APIKEYS_HEX_SIZE];
	const char *parts[] = {"key-one-0123456789", NULL};
	char want[APIKEYS_HEX_SIZE];

	write_keys("# ops keys\n\n  key-one-0123456789  \nkey-two-0123456789\n");
	ck_assert_int_eq(apikeys_load(path, &k, &eb), RC_OK);
	unlink(path);
	ck_assert_uint_eq(apikeys_count(k), 2);
	ck_assert(apikeys_check(k, "key-one-0123456789", hex));
	apikeys_sha256_hex(parts, want);
	ck_assert_str_eq(hex, want);
	ck_assert_uint_eq(strlen(hex), 64);
	ck_assert(apikeys_check(k, "key-two-0123456789", NULL));
	ck_assert(!apikeys_check(k, "key-two-012345678", NULL));
	ck_assert(!apikeys_check(k, "", NULL));
	ck_assert(!apikeys_check(k, NULL, NULL));
	ck_assert(!apikeys_check(NULL, "key-one-0123456789", NULL));
	apikeys_free(k);
}
END_TEST

static const struct {
	const char *text;
	const char *want;
} bad_keys[] = {
	{"short\n", ":1: a key must be"},
	{"# only comments\n\n", "no key in the file"},
	{"good-key-0123456789\nhas space inside 0123\n", ":2: a key must be"},
};

START_TEST(test_bad_key_files)
{
	struct apikeys *k = NULL;
	struct errbuf eb = {{0}};

	write_keys(bad_keys[_i].text);
	ck_assert_int_eq(apikeys_load(path, &k, &eb), RC_INVAL);
	unlink(path);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(eb.msg, bad_keys[_i].want) != NULL, "%s", eb.msg);
	ck_assert_int_eq(apikeys_load("/nonexistent/keys", &k, &eb), RC_IO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_bucket_slow_rate_retry_after);
	tcase_add_test(tc, test_client_buckets);
	tcase_add_test(tc, test_keys);
	tcase_add_loop_test(tc, test_bad_key_files, 0, (int)(sizeof(bad_keys) / sizeof(bad_keys[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
