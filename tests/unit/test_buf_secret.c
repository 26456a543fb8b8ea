/* test_buf_secret.c — a buffer marked secret lets no block go with the secret in it.
 * Linked with -Wl,--wrap=free,--wrap=realloc: every block the library frees or hands to
 * realloc (which frees the old block as it was when it moves it) passes through here first
 * and is searched for the canary while the test watches. */
#include <check.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "itest.h"

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

static const char canary[] = "AKIA-CANARY-SECRET-0123456789";
static atomic_bool watching;
static atomic_int leaked; /* blocks let go with the canary in them */

static void look(void *p)
{
	if (p != NULL && atomic_load(&watching) &&
	    memmem(p, malloc_usable_size(p), canary, sizeof(canary) - 1) != NULL)
		atomic_fetch_add(&leaked, 1);
}

void __wrap_free(void *p)
{
	look(p);
	__real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
	look(p);
	return __real_realloc(p, n);
}

/* The secret lands in the first 256-byte block, then the buffer grows four times (as an
 * IMDS or SSM answer arriving in pieces does) and is cleaned up. */
static int let_go_with_secret(bool secret)
{
	struct buf b;
	char chunk[64];

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 1 << 16);
	if (secret)
		buf_set_secret(&b);
	atomic_store(&leaked, 0);
	atomic_store(&watching, true);
	ck_assert_int_eq(buf_append(&b, canary, sizeof(canary) - 1), RC_OK);
	for (int i = 0; i < 60; i++)
		ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), RC_OK);
	ck_assert_ptr_nonnull(memmem(b.data, b.len, canary, sizeof(canary) - 1));
	buf_cleanup(&b);
	atomic_store(&watching, false);
	return atomic_load(&leaked);
}

START_TEST(test_secret_buffer_wipes_what_it_lets_go)
{
	ck_assert_int_eq(let_go_with_secret(true), 0);
}
END_TEST

/* The check can see a leak: an ordinary buffer lets the canary go (growth and cleanup). */
START_TEST(test_ordinary_buffer_is_seen_letting_it_go)
{
	ck_assert_int_ge(let_go_with_secret(false), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf_secret");
	TCase *tc = tcase_create("secret");

	tcase_add_test(tc, test_secret_buffer_wipes_what_it_lets_go);
	tcase_add_test(tc, test_ordinary_buffer_is_seen_letting_it_go);
	suite_add_tcase(s, tc);
	return itest_run(s, CK_NORMAL);
}
