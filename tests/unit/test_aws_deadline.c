/* test_aws_deadline.c — a call whose deadline passes between the client's check and its
 * attempt. Linked with -Wl,--wrap=clk_mono_ms: every reading of the monotonic clock made
 * by the library comes here, and while `step_ms` is set each reading is that much later
 * than the one before, so the time the check saw left is gone when the attempt reads it. */
#include <check.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/core.h"
#include "base/clock.h"
#include "itest.h"

int64_t __real_clk_mono_ms(void);
int64_t __wrap_clk_mono_ms(void);

static atomic_long step_ms;  /* 0: the real clock */
static atomic_long readings; /* readings since step_ms was set */

int64_t __wrap_clk_mono_ms(void)
{
	long step = atomic_load(&step_ms);

	if (step == 0)
		return __real_clk_mono_ms();
	return __real_clk_mono_ms() + step * atomic_fetch_add(&readings, 1);
}

/* A listener that never accepts: connections complete in its backlog, and no request is
 * ever answered. Returns its port; *fd is closed by the caller. */
static int black_hole(int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(*fd, 16), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* The check before the first attempt saw 5 ms left; the attempt's own reading finds the
 * deadline passed. It must fail at once as DeadlineExceeded, not run with a timeout of 0
 * (libcurl: none) or a negative one (refused by libcurl, leaving the handle's previous
 * one), which against a silent endpoint held the caller for ever. */
START_TEST(test_deadline_passed_after_the_check)
{
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	int fd;
	int port = black_hole(&fd);
	int64_t t0;
	enum rc rc;

	itest_unreachable_config(&cfg);
	for (int s = 0; s < AWS_SVC_COUNT; s++)
		snprintf(cfg.endpoint[s], sizeof(cfg.endpoint[s]), "http://127.0.0.1:%d", port);
	cfg.max_attempts = 1;
	cfg.connect_timeout_ms = 1000;
	cfg.request_timeout_ms = 3000;
	cfg.retry_budget_ms = 3000;
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	ck_assert_ptr_nonnull(c);

	t0 = __real_clk_mono_ms();
	atomic_store(&readings, 1);
	atomic_store(&step_ms, 10);
	/* readings from here: t0 + 10, t0 + 20, ...; the check reads t0 + 10 (5 ms left) */
	aws_client_set_deadline(c, t0 + 15);
	rc = aws_call(c, "SendMessage", NULL, "{}", 2, NULL, &err);
	atomic_store(&step_ms, 0);
	ck_assert_int_eq(rc, RC_TIMEOUT);
	ck_assert_str_eq(err.code, "DeadlineExceeded");
	/* the check passed (its message is another): the attempt refused itself */
	ck_assert_msg(strstr(err.message, "before its first attempt") != NULL, "%s", err.message);
	ck_assert_int_eq(err.attempts, 0);
	ck_assert_msg(__real_clk_mono_ms() - t0 < 1000, "the call took %lld ms",
		      (long long)(__real_clk_mono_ms() - t0));
	aws_client_free(c);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_deadline");
	TCase *tc = tcase_create("deadline");
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_deadline_passed_after_the_check);
	suite_add_tcase(s, tc);
	status = itest_run(s, CK_NORMAL);
	aws_global_cleanup();
	return status;
}
