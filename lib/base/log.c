/* log.c — JSON-lines / journald logger. Built without json-c on purpose: a log
 * line must be writable even when allocation fails, so it goes into a stack buffer. */
#include "base/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The formatted message before it is escaped; a longer one is cut (and marked) by the sink,
 * which knows its whole length. */
#define LOG_MSG_MAX 4096
/* log_vemit cuts the JSON message to an eighth of the line, in place in its msg buffer */
_Static_assert(LOG_MAX_LINE / 8 <= LOG_MSG_MAX, "the JSON message's cut fits msg");
/* What a cut text ends with: "…[truncated N bytes]", N the bytes left out. This many bytes
 * hold it with any N and its NUL. */
#define LOG_CUT_MARK_MAX 48

#include "config.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

/* A timestamp: 24 bytes in practice; wide enough for any int gmtime_r can give, so it is
 * never cut. */
#define LOG_TS_SIZE 64

/* A fixed-size line being built; overflow sets truncated instead of failing. */
struct line {
	char buf[LOG_MAX_LINE];
	size_t len;
	bool truncated; /* the field being written did not fit */
	bool cut;       /* some field was dropped or shortened: say so in the line */
};

/* Appends n bytes, or nothing and marks the line truncated when they do not fit
 * (room is kept for the closing `,"truncated":true}\n`). */
static void line_raw(struct line *l, const char *s, size_t n)
{
	const size_t reserve = 24;

	if (l->truncated || l->len + n + reserve > sizeof(l->buf)) {
		l->truncated = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* Appends s as a JSON string body (no quotes), escaping control characters. Bytes
 * >= 0x80 pass through: callers log UTF-8, and an invalid byte must not hide the line. */
static void line_escaped(struct line *l, const char *s)
{
	char esc[8];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			line_raw(l, esc, 2);
		} else if (c == '\n') {
			line_raw(l, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			line_raw(l, esc, 6);
		} else {
			line_raw(l, s, 1);
		}
	}
}

/* Appends ,"key":"value" whole or not at all, so a cut line stays valid JSON.
 * Returns false when the field did not fit. */
static bool line_field(struct line *l, const char *key, const char *value)
{
	size_t mark = l->len;

	line_raw(l, ",\"", 2);
	line_escaped(l, key);
	if (value == NULL) {
		line_raw(l, "\":null", 6);
	} else {
		line_raw(l, "\":\"", 3);
		line_escaped(l, value);
		line_raw(l, "\"", 1);
	}
	if (!l->truncated)
		return true;
	l->len = mark;
	l->truncated = false;
	l->cut = true;
	return false;
}

/* The largest length <= keep at which the text s does not end inside a UTF-8 sequence
 * (reads only s[0..keep)): a character whose bytes do not all fit is left out whole. */
static size_t utf8_cut(const char *s, size_t keep)
{
	size_t lead = keep;
	size_t need;
	unsigned char c;

	/* back over the continuation bytes of the last character (3 at most) */
	while (lead > 0 && keep - lead < 4 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return keep;
	c = (unsigned char)s[lead - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return lead - 1 + need > keep ? lead - 1 : keep;
}

/* Writes into out (size bytes) s, the first n bytes of a text of full >= n bytes (longer
 * when s was cut already), NUL-terminated: whole when full < size; else as many bytes as fit
 * before the mark "…[truncated N bytes]" (N = full - those), never cutting a UTF-8
 * sequence. out may be s. Returns the length written, NUL excluded. */
static size_t fit_marked(char *out, size_t size, const char *s, size_t n, size_t full)
{
	size_t keep;
	int m;

	if (size == 0)
		return 0;
	if (full < size && n == full) {
		memmove(out, s, n);
		out[n] = '\0';
		return n;
	}
	keep = size > LOG_CUT_MARK_MAX ? size - LOG_CUT_MARK_MAX : 0;
	keep = utf8_cut(s, keep < n ? keep : n);
	memmove(out, s, keep);
	m = snprintf(out + keep, size - keep, "\xe2\x80\xa6[truncated %zu bytes]", full - keep);
	if (m < 0)
		m = 0;
	return keep + ((size_t)m < size - keep ? (size_t)m : size - keep - 1);
}

void log_fields_trace(struct log_fields *f, struct log_kv kv[1], const char *request_id,
		      const char *traceparent)
{
	f->request_id = request_id[0] != '\0' ? request_id : NULL;
	f->kv = kv;
	f->n_kv = 0;
	if (traceparent[0] != '\0') {
		kv[0] = (struct log_kv){"traceparent", traceparent};
		f->n_kv = 1;
	}
}

void log_mask_insured(const char *insured_id, char out[6])
{
	size_t n = insured_id != NULL ? strlen(insured_id) : 0;

	memcpy(out, "***", 4);
	/* 2 bytes or fewer would be shown whole; a non-printable tail is not shown */
	if (n <= 2 || !isgraph((unsigned char)insured_id[n - 2]) ||
	    !isgraph((unsigned char)insured_id[n - 1]))
		return;
	out[3] = insured_id[n - 2];
	out[4] = insured_id[n - 1];
	out[5] = '\0';
}

enum rc log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lv;
	} names[] = {
		{"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN}, {"warning", LOG_LVL_WARN},
		{"info", LOG_LVL_INFO},   {"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lv;
			return RC_OK;
		}
	}
	return RC_INVAL;
}

const char *log_level_name(enum log_level lv)
{
	switch (lv) {
	case LOG_LVL_ERROR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "info";
}

/* True when JOURNAL_STREAM names the device:inode of our stderr (sd_journal_stream_fd(3)). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev;
	unsigned long long ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_level(struct logger *lg, enum log_level level)
{
	atomic_store_explicit(&lg->level, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(const struct logger *lg)
{
	return (enum log_level)atomic_load_explicit(&lg->level, memory_order_relaxed);
}

void log_init(struct logger *lg, const char *service, enum log_level level)
{
	snprintf(lg->service, sizeof(lg->service), "%s", service);
	atomic_init(&lg->level, (int)level);
	lg->fd = STDERR_FILENO;
	lg->journal = HAVE_LIBSYSTEMD && stderr_is_journal();
}

static void format_ts(char out[LOG_TS_SIZE])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, LOG_TS_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

#if HAVE_LIBSYSTEMD
#define JOURNAL_MAX_FIELDS 24
/* One field (MESSAGE=, ERROR=...) with its NUL; a longer value is cut and marked
 * (fit_marked). journald has no pipe limit: this only bounds the stack. */
#define JOURNAL_FIELD_MAX 1024

/* journald fields being collected for one sd_journal_sendv call. */
struct jfields {
	char text[JOURNAL_MAX_FIELDS][JOURNAL_FIELD_MAX];
	struct iovec iov[JOURNAL_MAX_FIELDS];
	int n;
};

/* Adds NAME=value; value is the first strlen(value) bytes of a text of full bytes (more
 * when the caller cut it already): cut and marked when it does not fit the field. name is
 * short (a field name, < 64 bytes). */
static void jf_add_text(struct jfields *j, const char *name, const char *value, size_t full)
{
	char *t;
	size_t k;

	if (j->n >= JOURNAL_MAX_FIELDS)
		return;
	t = j->text[j->n];
	k = strlen(name);
	memcpy(t, name, k);
	t[k++] = '=';
	k += fit_marked(t + k, sizeof(j->text[j->n]) - k, value, strlen(value), full);
	j->iov[j->n].iov_base = t;
	j->iov[j->n].iov_len = k;
	j->n++;
}

/* Adds NAME=value with the whole of value. */
static void jf_add(struct jfields *j, const char *name, const char *value)
{
	jf_add_text(j, name, value, strlen(value));
}

/* journald: one field per well-known key, upper-case names as journald wants. msg is the
 * first bytes of a message of msg_full bytes. */
static void emit_journal(const struct logger *lg, enum log_level lv, const struct log_fields *f,
			 const char *msg, size_t msg_full)
{
	struct jfields j;
	char masked[6];
	char num[32];

	j.n = 0;
	jf_add_text(&j, "MESSAGE", msg, msg_full);
	snprintf(num, sizeof(num), "%d", (int)lv);
	jf_add(&j, "PRIORITY", num);
	jf_add(&j, "SYSLOG_IDENTIFIER", lg->service);
	jf_add(&j, "LEVEL", log_level_name(lv));
	if (f != NULL) {
		if (f->request_id != NULL)
			jf_add(&j, "REQUEST_ID", f->request_id);
		if (f->message_id != NULL)
			jf_add(&j, "SQS_MESSAGE_ID", f->message_id);
		if (f->appointment_id != NULL)
			jf_add(&j, "APPOINTMENT_ID", f->appointment_id);
		if (f->insured_id != NULL) {
			log_mask_insured(f->insured_id, masked);
			jf_add(&j, "INSURED_ID", masked);
		}
		if (f->country != NULL)
			jf_add(&j, "COUNTRY_ISO", f->country);
		if (f->error != NULL)
			jf_add(&j, "ERROR", f->error);
		if (f->duration_ms >= 0) {
			snprintf(num, sizeof(num), "%.1f", f->duration_ms);
			jf_add(&j, "DURATION_MS", num);
		}
		for (size_t i = 0; i < f->n_kv; i++) {
			char key[64];
			size_t k = 0;

			for (const char *p = f->kv[i].key; *p != '\0' && k + 1 < sizeof(key); p++)
				key[k++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
			key[k] = '\0';
			jf_add(&j, key, f->kv[i].value != NULL ? f->kv[i].value : "");
		}
	}
	(void)sd_journal_sendv(j.iov, j.n);
}
#endif

/* log_emit with a va_list: formats the message once, so a cut says how long it was. */
static void log_vemit(const struct logger *lg, enum log_level lv, const struct log_fields *f,
		      const char *fmt, va_list ap) PRINTF(4, 0);
static void log_vemit(const struct logger *lg, enum log_level lv, const struct log_fields *f,
		      const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];
	char ts[LOG_TS_SIZE];
	char masked[6];
	char num[32];
	struct line l;
	int saved_errno = errno;
	int full = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t msg_full = full > 0 ? (size_t)full : 0;

	if (full < 0)
		msg[0] = '\0';
#if HAVE_LIBSYSTEMD
	if (lg->journal) {
		emit_journal(lg, lv, f, msg, msg_full);
		errno = saved_errno;
		return;
	}
#endif
	l.len = 0;
	l.truncated = false;
	l.cut = false;
	format_ts(ts);
	line_raw(&l, "{\"ts\":\"", 7);
	line_raw(&l, ts, strlen(ts));
	line_raw(&l, "\"", 1);
	(void)line_field(&l, "level", log_level_name(lv));
	(void)line_field(&l, "service", lg->service);
	if (msg_full >= sizeof(msg) || !line_field(&l, "msg", msg)) {
		/* control characters escape to 6 bytes each: cut the message to fit, and leave
		 * the fields after it room */
		(void)fit_marked(msg, (sizeof(l.buf) - l.len) / 8, msg, strlen(msg), msg_full);
		(void)line_field(&l, "msg", msg);
		l.cut = true;
	}
	if (f != NULL) {
		if (f->request_id != NULL)
			(void)line_field(&l, "requestId", f->request_id);
		if (f->message_id != NULL)
			(void)line_field(&l, "messageId", f->message_id);
		if (f->appointment_id != NULL)
			(void)line_field(&l, "appointmentId", f->appointment_id);
		if (f->insured_id != NULL) {
			log_mask_insured(f->insured_id, masked);
			(void)line_field(&l, "insuredId", masked);
		}
		if (f->country != NULL)
			(void)line_field(&l, "countryISO", f->country);
		if (f->duration_ms >= 0) {
			snprintf(num, sizeof(num), ",\"durationMs\":%.1f", f->duration_ms);
			line_raw(&l, num, strlen(num));
		}
		if (f->error != NULL)
			(void)line_field(&l, "error", f->error);
		for (size_t i = 0; i < f->n_kv; i++)
			(void)line_field(&l, f->kv[i].key, f->kv[i].value);
	}
	if (l.cut) {
		memcpy(l.buf + l.len, ",\"truncated\":true}\n", 19);
		l.len += 19;
	} else {
		memcpy(l.buf + l.len, "}\n", 2);
		l.len += 2;
	}
	/* One write per line; a short write to a full pipe is not worth a retry loop
	 * that could block a request thread. */
	(void)!write(lg->fd, l.buf, l.len);
	errno = saved_errno;
}

void log_emit(const struct logger *lg, enum log_level lv, const struct log_fields *f,
	      const char *fmt, ...)
{
	va_list ap;

	if (lg == NULL || lv > log_get_level(lg))
		return;
	va_start(ap, fmt);
	log_vemit(lg, lv, f, fmt, ap);
	va_end(ap);
}

void log_emit_err(const struct logger *lg, enum log_level lv, const char *error, const char *fmt,
		  ...)
{
	struct log_fields f = {.error = error, .duration_ms = -1};
	va_list ap;

	if (lg == NULL || lv > log_get_level(lg))
		return;
	va_start(ap, fmt);
	log_vemit(lg, lv, &f, fmt, ap);
	va_end(ap);
}
