/* log.h — structured logging of SPEC §7: one JSON object per line on stderr, or
 * journald fields when stderr is the journal (JOURNAL_STREAM). insuredId is always
 * masked here, so callers may pass the full id. */
#ifndef APPT_LOG_H
#define APPT_LOG_H

#include <stdatomic.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/rc.h"

/* Severity, most severe first (numeric order matches syslog priorities). */
enum log_level {
	LOG_LVL_ERROR = 3, /* something failed that an operator must look at */
	LOG_LVL_WARN = 4,  /* degraded but handled (retry, fallback) */
	LOG_LVL_INFO = 6,  /* normal life events: start, stop, one line per request */
	LOG_LVL_DEBUG = 7, /* detail for developers */
};

/* A longer line is cut and marked "truncated". PIPE_BUF: a write(2) of at most that many
 * bytes to a pipe (docker-compose's log reader, a shell's) is atomic; a longer one may be
 * split and interleaved with another thread's line when the reader lags. */
#define LOG_MAX_LINE PIPE_BUF

/* An extra key/value pair; both borrowed for the duration of the call. */
struct log_kv {
	const char *key;   /* JSON key, e.g. "queue" */
	const char *value; /* string value; NULL is written as null */
};

/* Well-known fields of one line; every member is optional (NULL / negative). */
struct log_fields {
	const char *request_id;     /* X-Request-Id travelling with the appointment */
	const char *message_id;     /* SQS message id */
	const char *appointment_id;
	const char *insured_id;     /* written masked: ***34 */
	const char *country;
	const char *error;          /* error detail, never a secret */
	double duration_ms;         /* < 0 = absent */
	const struct log_kv *kv;    /* extra pairs */
	size_t n_kv;
};

/* Logger state; owned by the daemon's context. Every call below is thread-safe, and the
 * level may change (log_set_level, on reload) while other threads log. */
struct logger {
	char service[64];     /* "appointment-api", ... */
	atomic_int level;     /* an enum log_level: lines above it are dropped; read and
			       * written only through log_init / log_set_level / log_emit */
	bool journal;         /* send with sd_journal_send instead of stderr */
	int fd;               /* where JSON lines go, normally 2 */
};

/* Sets up a logger for service at level; journal is chosen when JOURNAL_STREAM
 * names stderr and libsystemd is built in. Never fails. */
void log_init(struct logger *lg, const char *service, enum log_level level);

/* Changes the level; any thread, any time (a relaxed atomic store: a line being written
 * while it changes is judged by either level). */
void log_set_level(struct logger *lg, enum log_level level);
/* The current level. */
enum log_level log_get_level(const struct logger *lg);

/* Writes one line if lv is enabled. f may be NULL. Thread-safe; one write(2) per
 * line so lines of concurrent threads never interleave. A text cut to fit (a journal
 * field past 1 KiB, a JSON line's message) ends with "…[truncated N bytes]", never inside
 * a UTF-8 character; a JSON line that lost anything says "truncated":true. */
void log_emit(const struct logger *lg, enum log_level lv, const struct log_fields *f,
	      const char *fmt, ...) PRINTF(4, 5);

/* log_emit with only the error field set: the common "X failed: <detail>" line. */
void log_emit_err(const struct logger *lg, enum log_level lv, const char *error, const char *fmt,
		  ...) PRINTF(4, 5);

/* Parses "error|warn|warning|info|debug" (any case). RC_INVAL otherwise. */
enum rc log_level_parse(const char *s, enum log_level *out) MUSTCHECK;
/* "error", "warn", "info" or "debug". */
const char *log_level_name(enum log_level lv);

/* Writes the masked form of an insuredId into out (6 bytes): "***" + its last 2
 * characters ("***34"); just "***" for NULL, 2 bytes or fewer (which would show the
 * whole id) or a non-printable tail. The one masking rule of the project. */
void log_mask_insured(const char *insured_id, char out[6]);

/* Sets f's request id and, through kv[0], its "traceparent" pair: the ids of the request an
 * appointment came from (SPEC §7), each absent when "". Any other pair of f is dropped;
 * both strings and kv must outlive the lines f is given to. */
void log_fields_trace(struct log_fields *f, struct log_kv kv[1], const char *request_id,
		      const char *traceparent);

#define log_error(lg, f, ...) log_emit((lg), LOG_LVL_ERROR, (f), __VA_ARGS__)
#define log_warn(lg, f, ...) log_emit((lg), LOG_LVL_WARN, (f), __VA_ARGS__)
#define log_info(lg, f, ...) log_emit((lg), LOG_LVL_INFO, (f), __VA_ARGS__)
#define log_debug(lg, f, ...) log_emit((lg), LOG_LVL_DEBUG, (f), __VA_ARGS__)

#endif
