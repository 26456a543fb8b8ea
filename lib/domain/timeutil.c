/* timeutil.c — strict ISO-8601 UTC text, by civil-date
 * arithmetic (no gmtime/timegm: no locale, no TZ, same result everywhere). */
#include "domain/timeutil.h"
#include "base/str.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

TESTABLE int64_t tu_days_from_civil(int64_t y, int m, int d);
TESTABLE void tu_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
TESTABLE bool tu_is_leap(int64_t y);

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm,
 * eras of 400 years so it is exact for negative years too). */
TESTABLE int64_t tu_days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	int64_t yoe;
	int64_t doy;
	int64_t doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of tu_days_from_civil. */
TESTABLE void tu_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era;
	int64_t doe;
	int64_t yoe;
	int64_t doy;
	int64_t mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

TESTABLE bool tu_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && tu_is_leap(y) ? 29 : dim[m - 1];
}

enum rc tu_format_ms(int64_t ms, char out[TU_ISO_SIZE])
{
	char text[64];
	int64_t days;
	int64_t rem;
	int64_t y;
	int m;
	int d;

	out[0] = '\0';
	if (ms < TU_MIN_MS || ms > TU_MAX_MS)
		return RC_INVAL;
	/* Floor division, so instants before 1970 land on the right day. */
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	tu_civil_from_days(days, &y, &m, &d);
	/* the span above keeps every field in range, so the text is TU_ISO_LEN long; written
	 * through a wide buffer so that no cut is even possible */
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
	         (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	         (int)(rem % 1000));
	return str_copy(out, TU_ISO_SIZE, text) ? RC_OK : RC_INVAL;
}

/* Reads exactly n ASCII digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

enum rc tu_parse_iso(const char *s, int64_t *ms, bool *date_only, struct errbuf *eb)
{
	size_t len;
	int y;
	int mo;
	int d;
	int hh = 0;
	int mi = 0;
	int ss = 0;
	int frac_ms = 0;
	int off_min = 0;
	const char *p;
	int64_t v;

	if (date_only != NULL)
		*date_only = false;
	if (s == NULL)
		return eb_set(eb, RC_INVAL, "no date given");
	len = strnlen(s, TU_INPUT_MAX + 1);
	if (len > TU_INPUT_MAX)
		return eb_set(eb, RC_INVAL, "date text longer than %d bytes", TU_INPUT_MAX);
	if (len < 10 || s[4] != '-' || s[7] != '-')
		return eb_set(eb, RC_INVAL, "expected YYYY-MM-DD");
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 0 || mo < 0 || d < 0)
		return eb_set(eb, RC_INVAL, "expected YYYY-MM-DD");
	if (mo < 1 || mo > 12)
		return eb_set(eb, RC_INVAL, "month %02d out of range", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return eb_set(eb, RC_INVAL, "day %02d out of range for %04d-%02d", d, y, mo);
	if (len == 10) {
		if (date_only != NULL)
			*date_only = true;
		*ms = tu_days_from_civil(y, mo, d) * MS_PER_DAY;
		return RC_OK;
	}
	if (len < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return eb_set(eb, RC_INVAL, "expected YYYY-MM-DDTHH:MM:SS");
	hh = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	ss = digits(s + 17, 2);
	if (hh < 0 || mi < 0 || ss < 0)
		return eb_set(eb, RC_INVAL, "expected YYYY-MM-DDTHH:MM:SS");
	if (hh > 23 || mi > 59 || ss > 59)
		return eb_set(eb, RC_INVAL, "time %02d:%02d:%02d out of range", hh, mi, ss);
	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		p++;
		while (p[nd] >= '0' && p[nd] <= '9')
			nd++;
		if (nd < 1 || nd > 9)
			return eb_set(eb, RC_INVAL, "fraction of a second needs 1 to 9 digits");
		/* Truncated, never rounded: rounding could carry into the next day. */
		for (int i = 0; i < 3; i++)
			frac_ms = frac_ms * 10 + (i < nd ? p[i] - '0' : 0);
		p += nd;
	}
	if (p[0] == 'Z' && p[1] == '\0') {
		off_min = 0;
	} else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits(p + 1, 2);
		int om = digits(p + 4, 2);

		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return eb_set(eb, RC_INVAL, "bad UTC offset");
		off_min = (oh * 60 + om) * (p[0] == '-' ? -1 : 1);
	} else {
		return eb_set(eb, RC_INVAL, "expected Z or a +HH:MM offset after the time");
	}
	v = tu_days_from_civil(y, mo, d) * MS_PER_DAY +
	    ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac_ms - (int64_t)off_min * 60000;
	if (v < TU_MIN_MS || v > TU_MAX_MS)
		return eb_set(eb, RC_INVAL, "instant outside years 0000-9999 in UTC");
	*ms = v;
	return RC_OK;
}
