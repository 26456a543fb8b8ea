/* completion.h — appointment-completion: closes processed appointments. */
#ifndef APPT_COMPLETION_H
#define APPT_COMPLETION_H

#include "run/qdaemon.h"

extern const struct qdaemon_app completion_app;

#endif
