/* worker.h — appointment-worker@<cc>: books one country's appointments. */
#ifndef APPT_WORKER_H
#define APPT_WORKER_H

#include "run/qdaemon.h"

extern const struct qdaemon_app worker_app;

#endif
