/* test_log.c — JSON lines: valid JSON, fields, masking, escaping, levels, cuts; journald
 * fields (seen through --wrap=sd_journal_sendv): cut fields are marked, UTF-8 kept whole. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "config.h"

/* The mark a cut field ends with: "…[truncated N bytes]". */
#define CUT_MARK "\xe2\x80\xa6[truncated "

/* True when the n bytes of s are well-formed UTF-8 (lead and continuation bytes; a cut
 * sequence at the end is not). */
static bool utf8_whole(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 0 || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* Checks that got (n bytes) is text whole, or a prefix of it, cut at a character
 * boundary, followed by the mark whose N is the number of bytes left out. */
static void assert_whole_or_marked(const char *got, size_t n, const char *text)
{
	size_t full = strlen(text);
	const char *mark;
	unsigned long long left = 0;
	char tail[16];

	ck_assert_msg(utf8_whole(got, n), "not UTF-8: ...%.40s", got + (n > 40 ? n - 40 : 0));
	if (n == full && memcmp(got, text, n) == 0)
		return;
	mark = NULL;
	for (const char *p = strstr(got, CUT_MARK); p != NULL; p = strstr(p + 1, CUT_MARK))
		mark = p;
	ck_assert_msg(mark != NULL, "cut without a mark (%zu of %zu bytes): ...%.40s", n, full,
		      got + (n > 40 ? n - 40 : 0));
	ck_assert_int_eq(sscanf(mark + strlen(CUT_MARK), "%llu bytes%15s", &left, tail), 2);
	ck_assert_str_eq(tail, "]");
	ck_assert_ptr_eq(mark + strlen(mark), got + n);
	ck_assert_int_eq(memcmp(got, text, (size_t)(mark - got)), 0);
	ck_assert_uint_eq((size_t)(mark - got) + left, full);
}

/* Emits through lg into a pipe and returns the one line read back (caller frees). */
static char *capture(struct logger *lg, enum log_level lv, const struct log_fields *f,
		     const char *msg)
{
	int p[2];
	char *out = calloc(1, 65536);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(pipe(p), 0);
	lg->fd = p[1];
	lg->journal = false;
	log_emit(lg, lv, f, "%s", msg);
	close(p[1]);
	n = read(p[0], out, 65535);
	close(p[0]);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	return out;
}

static const char *field(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

struct race {
	struct logger *lg;
	int rounds;
};

static void *emitter(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < r->rounds; i++) {
		log_debug(r->lg, NULL, "debug %d", i);
		log_error(r->lg, NULL, "error %d", i);
	}
	return NULL;
}

/* A reload changes the level while every thread logs. Before issue 11 the daemons wrote
 * the plain field (lg.level = ...) and ThreadSanitizer reported a data race with
 * log_emit's read; under the TSan build this test fails if that comes back. */
START_TEST(test_level_changes_while_logging)
{
	struct logger lg;
	struct race r = {&lg, 2000};
	pthread_t t[4];
	int devnull = open("/dev/null", O_WRONLY);

	ck_assert_int_ge(devnull, 0);
	log_init(&lg, "race", LOG_LVL_INFO);
	lg.journal = false;
	lg.fd = devnull;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, emitter, &r), 0);
	for (int i = 0; i < 2000; i++)
		log_set_level(&lg, i % 2 ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(log_get_level(&lg), LOG_LVL_DEBUG);
	close(devnull);
}
END_TEST

START_TEST(test_line_fields_and_mask)
{
	struct logger lg;
	struct log_kv kv[] = {{"queue", "pe"}, {"weird\"key", NULL}};
	struct log_fields f = {.request_id = "req-1", .message_id = "m-1", .appointment_id = "a-1",
			       .insured_id = "01234", .country = "PE", .error = "boom\n\"x\"",
			       .duration_ms = 12.5, .kv = kv, .n_kv = 2};
	char *line;
	struct json_object *o;

	log_init(&lg, "appointment-api", LOG_LVL_INFO);
	line = capture(&lg, LOG_LVL_INFO, &f, "hello \x01 world");
	ck_assert_int_eq(line[strlen(line) - 1], '\n');
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
	o = json_tokener_parse(line);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(field(o, "level"), "info");
	ck_assert_str_eq(field(o, "service"), "appointment-api");
	ck_assert_str_eq(field(o, "msg"), "hello \x01 world");
	ck_assert_str_eq(field(o, "requestId"), "req-1");
	ck_assert_str_eq(field(o, "messageId"), "m-1");
	ck_assert_str_eq(field(o, "appointmentId"), "a-1");
	ck_assert_str_eq(field(o, "insuredId"), "***34");
	ck_assert_str_eq(field(o, "countryISO"), "PE");
	ck_assert_str_eq(field(o, "error"), "boom\n\"x\"");
	ck_assert_str_eq(field(o, "durationMs"), "12.5");
	ck_assert_str_eq(field(o, "queue"), "pe");
	ck_assert_ptr_null(strstr(line, "01234"));
	ck_assert_int_eq(strlen(field(o, "ts")), 24);
	json_object_put(o);
	free(line);
}
END_TEST

START_TEST(test_levels)
{
	struct logger lg;
	char *line;

	log_init(&lg, "x", LOG_LVL_WARN);
	line = capture(&lg, LOG_LVL_INFO, NULL, "dropped");
	ck_assert_str_eq(line, "");
	free(line);
	line = capture(&lg, LOG_LVL_ERROR, NULL, "kept");
	ck_assert_ptr_nonnull(strstr(line, "\"level\":\"error\""));
	free(line);
}
END_TEST

START_TEST(test_long_line_stays_json)
{
	struct logger lg;
	char *msg = malloc(LOG_MAX_LINE * 2);
	char *err = malloc(LOG_MAX_LINE * 2);
	struct log_fields f = {.duration_ms = -1, .error = err, .request_id = "r"};
	char *line;
	struct json_object *o;

	memset(msg, 0x02, LOG_MAX_LINE * 2 - 1); /* escapes to 6 bytes each */
	msg[LOG_MAX_LINE * 2 - 1] = '\0';
	memset(err, 'e', LOG_MAX_LINE * 2 - 1);
	err[LOG_MAX_LINE * 2 - 1] = '\0';
	log_init(&lg, "x", LOG_LVL_DEBUG);
	line = capture(&lg, LOG_LVL_DEBUG, &f, msg);
	ck_assert_uint_le(strlen(line), LOG_MAX_LINE);
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %.200s", line);
	ck_assert_str_eq(field(o, "truncated"), "true");
	ck_assert_str_eq(field(o, "requestId"), "r");
	ck_assert_ptr_null(field(o, "error")); /* did not fit, dropped whole */
	json_object_put(o);
	free(line);
	free(msg);
	free(err);
}
END_TEST

/* Long lines from many threads to a pipe read slowly (docker-compose's log reader, a
 * journal that lags): each must arrive whole. A write(2) of more than PIPE_BUF bytes to a
 * pipe may be split and interleaved with another thread's. */
#define PIPE_THREADS 8
#define PIPE_LINES 40

static void *long_emitter(void *arg)
{
	const struct logger *lg = arg;
	char *msg = malloc(6001);

	memset(msg, 'm', 6000);
	msg[6000] = '\0';
	for (int i = 0; i < PIPE_LINES; i++)
		log_emit(lg, LOG_LVL_INFO, NULL, "%s", msg);
	free(msg);
	return NULL;
}

START_TEST(test_long_lines_from_threads_never_interleave_on_a_pipe)
{
	struct logger lg;
	pthread_t t[PIPE_THREADS];
	int p[2];
	char *all = NULL;
	size_t len = 0;
	char buf[1024];
	ssize_t n;
	int lines = 0;

	ck_assert_int_eq(pipe(p), 0);
	log_init(&lg, "x", LOG_LVL_DEBUG);
	lg.journal = false;
	lg.fd = p[1];
	for (int i = 0; i < PIPE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, long_emitter, &lg), 0);
	/* a slow reader keeps the pipe full, so writers block part-way through */
	for (int k = 0; len < (size_t)PIPE_THREADS * PIPE_LINES * 4200 && k < 100000; k++) {
		n = read(p[0], buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		all = realloc(all, len + (size_t)n + 1);
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
		if (k % 64 == 0)
			usleep(1000);
		if (len > 0 && all[len - 1] == '\n') {
			size_t nl = 0;

			for (size_t i = 0; i < len; i++)
				nl += all[i] == '\n';
			if (nl == PIPE_THREADS * PIPE_LINES)
				break;
		}
	}
	for (int i = 0; i < PIPE_THREADS; i++)
		pthread_join(t[i], NULL);
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		all = realloc(all, len + (size_t)n + 1);
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(p[0]);
	all[len] = '\0';
	for (char *line = strtok(all, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		struct json_object *o = json_tokener_parse(line);

		ck_assert_msg(o != NULL, "line %d is not JSON: %.120s", lines, line);
		json_object_put(o);
		lines++;
	}
	ck_assert_int_eq(lines, PIPE_THREADS * PIPE_LINES);
	free(all);
}
END_TEST

/* Texts longer than what one sink keeps of them, in characters of 1 to 4 bytes after 0 to 3
 * bytes of ASCII (so a cut falls on every byte of a sequence), around the journal's field
 * limit (1024 bytes with "NAME=" and the NUL), past a JSON line (4096) and past the message
 * buffer (4096). */
static const struct {
	size_t pad;       /* ASCII bytes first */
	const char *unit; /* then this character ... */
	size_t bytes;     /* ... up to this many bytes in all */
} long_texts[] = {
	{0, "a", 100},  {0, "a", 1015}, {0, "a", 1016}, {0, "a", 1100},  {0, "a", 10000},
	{0, "\xc3\xa9", 3000}, {1, "\xc3\xa9", 3000}, {0, "\xe2\x82\xac", 3000},
	{1, "\xe2\x82\xac", 3000}, {2, "\xe2\x82\xac", 3000}, {0, "\xf0\x9f\x98\x80", 9000},
	{1, "\xf0\x9f\x98\x80", 2000}, {2, "\xf0\x9f\x98\x80", 2000},
	{3, "\xf0\x9f\x98\x80", 2000}, {1, "\xe2\x82\xac", 9000}, {2, "\xe2\x82\xac", 9000},
	{1, "\xf0\x9f\x98\x80", 9000}, {2, "\xf0\x9f\x98\x80", 9000},
	{3, "\xf0\x9f\x98\x80", 9000},
};

/* long_texts[i] as a new string (caller frees). */
static char *long_text(int i)
{
	size_t u = strlen(long_texts[i].unit);
	size_t n = long_texts[i].bytes;
	char *s = malloc(n + 1);
	size_t k;

	ck_assert_ptr_nonnull(s);
	memset(s, 'x', long_texts[i].pad);
	for (k = long_texts[i].pad; k + u <= n; k += u)
		memcpy(s + k, long_texts[i].unit, u);
	s[k] = '\0';
	return s;
}

/* The JSON line: a message too long for the line is cut at a character boundary and ends
 * with the mark (the line says "truncated" as well). */
START_TEST(test_long_message_in_a_line_is_marked)
{
	struct logger lg;
	char *text = long_text(_i);
	char *line;
	struct json_object *o;
	const char *msg;

	log_init(&lg, "x", LOG_LVL_DEBUG);
	line = capture(&lg, LOG_LVL_INFO, NULL, text);
	ck_assert_msg(utf8_whole(line, strlen(line)), "the line is not UTF-8");
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %.200s", line);
	msg = field(o, "msg");
	ck_assert_ptr_nonnull(msg);
	assert_whole_or_marked(msg, strlen(msg), text);
	if (strcmp(msg, text) != 0)
		ck_assert_str_eq(field(o, "truncated"), "true");
	json_object_put(o);
	free(line);
	free(text);
}
END_TEST

#if HAVE_LIBSYSTEMD
/* What log_emit sent to the journal last: sd_journal_sendv (a macro for
 * sd_journal_sendv_with_location) is wrapped (tests/unit/meson.build), so nothing reaches a
 * journal. */
#define SENT_MAX 32
static char sent[SENT_MAX][8192];
static size_t sent_len[SENT_MAX];
static int n_sent;

int __wrap_sd_journal_sendv_with_location(const char *file, const char *line, const char *func,
					  const struct iovec *iov, int n);
int __wrap_sd_journal_sendv_with_location(const char *file, const char *line, const char *func,
					  const struct iovec *iov, int n)
{
	(void)file;
	(void)line;
	(void)func;
	n_sent = n < SENT_MAX ? n : SENT_MAX;
	for (int i = 0; i < n_sent; i++) {
		size_t len = iov[i].iov_len < sizeof(sent[i]) - 1 ? iov[i].iov_len
								    : sizeof(sent[i]) - 1;

		memcpy(sent[i], iov[i].iov_base, len);
		sent[i][len] = '\0';
		sent_len[i] = len;
	}
	return 0;
}

/* The value of the journal field NAME= sent last, and its length; NULL when absent. */
static const char *sent_field(const char *name, size_t *len)
{
	size_t k = strlen(name);

	for (int i = 0; i < n_sent; i++)
		if (strncmp(sent[i], name, k) == 0 && sent[i][k] == '=') {
			*len = sent_len[i] - k - 1;
			return sent[i] + k + 1;
		}
	return NULL;
}

/* journald: MESSAGE=, ERROR= and an extra pair longer than a field keeps (1 KiB) are cut at
 * a character boundary and end with the mark; a field that fits is sent whole. */
START_TEST(test_long_journal_fields_are_marked)
{
	struct logger lg;
	char *text = long_text(_i);
	struct log_kv kv[] = {{"body", text}};
	struct log_fields f = {.error = text, .request_id = "r-1", .kv = kv, .n_kv = 1,
			       .duration_ms = -1};
	static const char *const names[] = {"MESSAGE", "ERROR", "BODY"};
	const char *v;
	size_t len = 0;

	log_init(&lg, "x", LOG_LVL_DEBUG);
	lg.journal = true;
	n_sent = 0;
	log_emit(&lg, LOG_LVL_INFO, &f, "%s", text);
	ck_assert_int_gt(n_sent, 0);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		v = sent_field(names[k], &len);
		ck_assert_msg(v != NULL, "no %s=", names[k]);
		ck_assert_uint_le(strlen(names[k]) + 1 + len, 1023);
		assert_whole_or_marked(v, len, text);
	}
	v = sent_field("REQUEST_ID", &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "r-1");
	/* log_emit_err formats the message once more: the count is still of the whole text */
	n_sent = 0;
	log_emit_err(&lg, LOG_LVL_WARN, "e", "%s", text);
	v = sent_field("MESSAGE", &len);
	ck_assert_ptr_nonnull(v);
	assert_whole_or_marked(v, len, text);
	free(text);
}
END_TEST
#endif

static const struct {
	const char *in;
	const char *want;
} masks[] = {
	{"01234", "***34"}, {"123", "***23"}, {"12", "***"}, {"5", "***"}, {"", "***"},
	{NULL, "***"}, {"0012345678901234567890", "***90"}, {"001\n3", "***"},
	{"00\xc3\xa9", "***"},
};

START_TEST(test_mask)
{
	char out[6];

	log_mask_insured(masks[_i].in, out);
	ck_assert_str_eq(out, masks[_i].want);
}
END_TEST

START_TEST(test_level_names)
{
	enum log_level lv;

	ck_assert_int_eq(log_level_parse("WARNING", &lv), RC_OK);
	ck_assert_int_eq(lv, LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("debug", &lv), RC_OK);
	ck_assert_int_eq(lv, LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("verbose", &lv), RC_INVAL);
	ck_assert_str_eq(log_level_name(LOG_LVL_ERROR), "error");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_line_fields_and_mask);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_long_line_stays_json);
	tcase_add_test(tc, test_long_lines_from_threads_never_interleave_on_a_pipe);
	tcase_add_loop_test(tc, test_mask, 0, (int)(sizeof(masks) / sizeof(masks[0])));
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_level_changes_while_logging);
	tcase_add_loop_test(tc, test_long_message_in_a_line_is_marked, 0,
			    (int)(sizeof(long_texts) / sizeof(long_texts[0])));
#if HAVE_LIBSYSTEMD
	tcase_add_loop_test(tc, test_long_journal_fields_are_marked, 0,
			    (int)(sizeof(long_texts) / sizeof(long_texts[0])));
#endif
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
