/* str.h — fixed-size text fields: the checked copy for data (what does not fit is an
 * error, never a cut value) and the one helper that cuts on purpose, for messages. */
#ifndef APPT_STR_H
#define APPT_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/rc.h"

/* Copies src (NUL-terminated) into dst of n bytes when it fits with its NUL and returns
 * true; otherwise writes "" (when n > 0) and returns false, so the caller reports the
 * overflow instead of using a cut value. src NULL copies "". */
bool str_copy(char *dst, size_t n, const char *src) MUSTCHECK;

/* Writes printf-formatted text into dst (n bytes), cut to fit. The one place the project
 * truncates on purpose: human-readable messages (error details for a log line, STATUS=,
 * a probe's detail) where a cut end beats no message. Never for data. Returns false when
 * the text was cut. */
bool str_cut(char *dst, size_t n, const char *fmt, ...) PRINTF(3, 4);

/* The value of the hex digit c (0..15), or -1 when c is not one. */
int str_hexval(unsigned char c);

#endif
