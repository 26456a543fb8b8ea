/* rc.h — the one error convention of libappointment: an enum rc result plus an
 * optional caller-supplied error buffer that carries the human-readable detail. */
#ifndef APPT_RC_H
#define APPT_RC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define MUSTCHECK __attribute__((warn_unused_result))
#define PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#ifdef UNIT_TESTS
#define TESTABLE
#else
#define TESTABLE static
#endif

/* Result of every function that can fail. Callers branch on the kind. */
enum rc {
	RC_OK = 0,   /* success */
	RC_NOMEM,    /* allocation failed */
	RC_INVAL,    /* the input (argument, message, config value) is invalid: permanent */
	RC_IO,       /* a network or system call failed; usually worth a retry */
	RC_TIMEOUT,  /* a deadline passed before an answer came */
	RC_RETRY,    /* the remote side asked us to come back later (throttling, 5xx), or a
		      * resource a data-plane call needs is missing (a table not made yet):
		      * transient, an operator or time repairs it */
	RC_CONFLICT, /* a condition did not hold (conditional write, slot taken) */
	RC_NOTFOUND, /* the thing asked for does not exist */
	RC_FATAL,    /* unrecoverable: a bug or a broken environment */
};

/* Detail for a failure; fixed size so filling it never fails. */
struct errbuf {
	char msg[512]; /* NUL-terminated human sentence, empty when nothing was set */
};

/* Sets eb->msg from a printf format (no-op when eb is NULL) and returns rc, so a
 * failure path can be `return eb_set(eb, RC_INVAL, "...")`. */
enum rc eb_set(struct errbuf *eb, enum rc rc, const char *fmt, ...) PRINTF(3, 4);

/* Prepends "prefix: " to the message already in eb (no-op when eb is NULL). */
void eb_prefix(struct errbuf *eb, const char *fmt, ...) PRINTF(2, 3);

/* Stable lower-case name of an rc ("ok", "nomem", ...); never NULL. */
const char *rc_name(enum rc rc);

/* RC_IO, RC_TIMEOUT, RC_RETRY: a failure time or an operator repairs (worth a retry). */
bool rc_transient(enum rc rc);

#endif
