/* timeutil.h — the one timestamp text form of the API and the table:
 * "2026-11-25T13:45:26.123Z" (UTC, ms). The clocks themselves are base/clock. */
#ifndef APPT_TIMEUTIL_H
#define APPT_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rc.h"

#define TU_ISO_LEN 24  /* strlen("2026-11-25T13:45:26.123Z") */
#define TU_ISO_SIZE 25 /* TU_ISO_LEN plus the NUL */
#define TU_INPUT_MAX 64 /* longest text tu_parse_iso reads; longer is rejected unread */

/* The representable span: 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. */
#define TU_MIN_MS (-62167219200000LL)
#define TU_MAX_MS (253402300799999LL)

/* Writes ms (epoch milliseconds, may be negative) as "YYYY-MM-DDTHH:MM:SS.mmmZ"
 * into out. RC_INVAL (out = "") outside [TU_MIN_MS, TU_MAX_MS]. Thread-safe. */
enum rc tu_format_ms(int64_t ms, char out[TU_ISO_SIZE]) MUSTCHECK;

/* Parses an ISO-8601 UTC instant into epoch ms. Accepted, and nothing else:
 *   YYYY-MM-DD                                 (midnight UTC; *date_only = true)
 *   YYYY-MM-DDTHH:MM:SS[.f]Z                   (f: 1 to 9 digits, truncated to ms)
 *   YYYY-MM-DDTHH:MM:SS[.f]+HH:MM or -HH:MM    (converted to UTC)
 * Upper-case T and Z only; months 01-12, days within the month (leap years by
 * the Gregorian rule), hours 00-23, minutes and seconds 00-59 (no leap second),
 * offsets up to 23:59; no trailing bytes; the UTC result within the span
 * above. date_only may be NULL. RC_INVAL with a reason in eb. Thread-safe. */
enum rc tu_parse_iso(const char *s, int64_t *ms, bool *date_only, struct errbuf *eb) MUSTCHECK;

#endif
