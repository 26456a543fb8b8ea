/* rc.c — error buffer helpers shared by every module. */
#include "base/rc.h"

#include <stdio.h>
#include <string.h>

#include "base/str.h"

enum rc eb_set(struct errbuf *eb, enum rc rc, const char *fmt, ...)
{
	va_list ap;

	if (eb == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void eb_prefix(struct errbuf *eb, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(eb->msg)];
	va_list ap;

	if (eb == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, eb->msg, sizeof(old));
	/* an error message: cut to fit rather than lost */
	str_cut(eb->msg, sizeof(eb->msg), "%s: %s", prefix, old);
}

const char *rc_name(enum rc rc)
{
	switch (rc) {
	case RC_OK:
		return "ok";
	case RC_NOMEM:
		return "nomem";
	case RC_INVAL:
		return "inval";
	case RC_IO:
		return "io";
	case RC_TIMEOUT:
		return "timeout";
	case RC_RETRY:
		return "retry";
	case RC_CONFLICT:
		return "conflict";
	case RC_NOTFOUND:
		return "notfound";
	case RC_FATAL:
		return "fatal";
	}
	return "unknown";
}

bool rc_transient(enum rc rc)
{
	return rc == RC_IO || rc == RC_TIMEOUT || rc == RC_RETRY;
}
