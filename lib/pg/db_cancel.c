/* db_cancel.c — a server-side cancel that cannot hold its caller. libpq 15's PQcancel opens
 * a connection of its own and waits, with no timeout, to connect (a host gone from the
 * network: the kernel's ~2 min of SYN retries) and for the server to close it (a frozen
 * postmaster or a proxy that holds it: for ever). It runs here on a detached thread; the
 * caller waits until its deadline and then goes on without it. The thread ends when libpq
 * returns and frees what it holds; at most one exists per timed-out round trip, and a
 * connection whose cancel did not come back is dropped, so an outage makes no more. */
#include <pthread.h>
#include <stdlib.h>

#include "base/clock.h"
#include "pg/db_priv.h"

struct cancel_job {
	PGcancel *cn;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;      /* PQcancel returned */
	bool sent;      /* and said the request was sent */
	bool abandoned; /* the caller left: the thread frees the job */
};

static void job_free(struct cancel_job *j)
{
	PQfreeCancel(j->cn);
	pthread_cond_destroy(&j->done_cv);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *cancel_main(void *arg)
{
	struct cancel_job *j = arg;
	char err[256];
	bool sent = PQcancel(j->cn, err, sizeof(err)) != 0;
	bool orphan;

	pthread_mutex_lock(&j->lock);
	j->sent = sent;
	j->done = true;
	orphan = j->abandoned;
	pthread_cond_signal(&j->done_cv);
	pthread_mutex_unlock(&j->lock);
	if (orphan)
		job_free(j);
	return NULL;
}

bool db_cancel_bounded(PGconn *pg, int64_t until_ms)
{
	struct cancel_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t t;
	bool sent;

	if (j == NULL)
		return false;
	j->cn = PQgetCancel(pg);
	if (j->cn == NULL) {
		free(j);
		return false;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, cancel_main, j) != 0) {
		pthread_attr_destroy(&attr);
		job_free(j);
		return false;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&j->lock);
	while (!j->done) {
		int64_t left = until_ms - clk_mono_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		ts = clk_deadline(CLOCK_MONOTONIC, (long)left);
		(void)pthread_cond_timedwait(&j->done_cv, &j->lock, &ts);
	}
	if (!j->done) {
		j->abandoned = true; /* the thread frees it when libpq lets go */
		pthread_mutex_unlock(&j->lock);
		return false;
	}
	sent = j->sent;
	pthread_mutex_unlock(&j->lock);
	job_free(j);
	return sent;
}
