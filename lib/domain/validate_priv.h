/* validate_priv.h — the rule checks validate.c shares with its sibling rule sets
 * (validate_schedules.c); not part of the domain's contract: nothing outside
 * lib/domain includes it. Each check appends at most one error under field f. */
#ifndef APPT_VALIDATE_PRIV_H
#define APPT_VALIDATE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/validate.h"

/* Copies a client-chosen name for quoting in a message: printable ASCII kept,
 * any other byte shown as '?' (so the reply is valid UTF-8 whatever came in),
 * cut at VAL_ECHO_MAX bytes with "...". */
void val_echo(const char *s, size_t len, char *dst, size_t size);

/* s (len bytes) must be one of countries[0..n), exactly (case-sensitive, 2 bytes):
 * written to out, else a not_allowed error naming the allowed codes. */
void val_check_country(const char *f, const char *s, size_t len, const char *const *countries,
                       size_t n, char out[APPT_COUNTRY_SIZE], struct val_errors *e);

/* s must be a decimal integer of ASCII digits only in [lo, hi] (hi <= INT_MAX): written
 * to *out, else an invalid_format or out_of_range error (*out untouched). */
void val_check_count(const char *f, const char *s, long lo, long hi, int *out,
                     struct val_errors *e);

/* s must be an ISO-8601 UTC date or datetime: *ms (epoch ms) and norm (canonical
 * text) are set and true returned; a bare date means its first millisecond, or its
 * last with end_of_day (an inclusive end). Else an error and false. */
bool val_check_date(const char *f, const char *s, bool end_of_day, int64_t *ms,
                    char norm[TU_ISO_SIZE], struct val_errors *e);

/* n query parameters are more than VAL_QUERY_MAX: a too_many error under "query" and
 * true (nothing else of the query is looked at then), else false. */
bool val_query_too_many(size_t n, struct val_errors *e);

/* The known query parameters names[0..n_names) among params[0..n): vals[j] (n_names
 * entries, set here) is the value of names[j] when it appears once with at most
 * VAL_QUERY_VALUE_MAX bytes ("" for a bare "?key"), else NULL: absent, or repeated
 * (duplicate_field) or overlong (too_long), errors appended in the order of names. */
void val_query_known(const struct val_kv *params, size_t n, const char *const *names,
                     int n_names, const char **vals, struct val_errors *e);

/* An unknown_field error under "unknown" for each parameter of params[0..n) whose name is
 * not in names[0..n_names), each time one appears (reported after the known ones). */
void val_query_unknown(const struct val_kv *params, size_t n, const char *const *names,
                       int n_names, struct val_errors *e);

#endif
