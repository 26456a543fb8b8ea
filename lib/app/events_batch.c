/* events_batch.c — one FIFO of waiting entries and at most one PutEvents in flight: the
 * thread that finds no call in flight takes up to EVB_ENTRIES_MAX entries from the head
 * (its own among them or not), sends them, hands each waiter its result and wakes them;
 * a waiter whose entry is still queued then sends the next batch. */
#include "app/events_batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* One put waiting for its result; lives on the putting thread's stack. */
struct waiter {
	const struct evb_entry *e;
	size_t size;           /* what AWS counts against EVB_EVENT_MAX */
	bool done;             /* set under the lock once rc/eb are final */
	enum rc rc;
	struct errbuf eb;
	struct waiter *next;
};

struct events_batch {
	pthread_mutex_t lock;
	pthread_cond_t cv;     /* a call finished: results to read, or a turn to send */
	struct waiter *head, *tail;
	bool sending;          /* a PutEvents is in flight */
	unsigned long calls, entries;
};

struct events_batch *events_batch_new(void)
{
	struct events_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b);
		return NULL;
	}
	if (pthread_cond_init(&b->cv, NULL) != 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return NULL;
	}
	return b;
}

void events_batch_free(struct events_batch *b)
{
	if (b == NULL)
		return;
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Takes up to EVB_ENTRIES_MAX waiters from the head whose sizes fit one call together
 * (the first always: alone, it gets its own verdict). Under the lock. */
static size_t take_batch(struct events_batch *b, struct waiter **out)
{
	size_t n = 0;
	size_t total = 0;

	while (b->head != NULL && n < EVB_ENTRIES_MAX) {
		struct waiter *w = b->head;

		if (n > 0 && total + w->size > EVB_EVENT_MAX)
			break;
		total += w->size;
		b->head = w->next;
		if (b->head == NULL)
			b->tail = NULL;
		out[n++] = w;
	}
	return n;
}

/* Sends waiters[0..n) in one PutEvents and fills their results (not done yet). */
static void send_batch(struct evb_client *evb, struct waiter **waiters, size_t n)
{
	struct evb_entry entries[EVB_ENTRIES_MAX] = {{NULL, NULL, NULL, NULL, 0}};
	struct evb_put_result res[EVB_ENTRIES_MAX];
	struct errbuf eb = {{0}};
	size_t nfailed = 0;
	enum rc rc;

	for (size_t i = 0; i < n; i++)
		entries[i] = *waiters[i]->e;
	rc = evb_put_events(evb, entries, n, res, &nfailed, &eb);
	if (rc == RC_INVAL && n > 1) {
		/* refused before or as a whole: one bad entry must not fail the others */
		for (size_t i = 0; i < n; i++)
			send_batch(evb, &waiters[i], 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct waiter *w = waiters[i];

		if (rc != RC_OK) {
			w->rc = rc;
			w->eb = eb;
		} else {
			w->rc = evb_result_rc(&res[i], &w->eb);
		}
	}
}

enum rc events_batch_put(struct events_batch *b, struct evb_client *evb,
			 const struct evb_entry *e, struct errbuf *eb)
{
	struct waiter me = {.e = e, .size = evb_entry_size(e), .rc = RC_IO};

	/* me stays on this stack while queued: it leaves the queue (take_batch) before done is
	 * set, and this function returns only once done */
	pthread_mutex_lock(&b->lock);
	if (b->tail != NULL)
		b->tail->next = &me;
	else
		/* cppcheck-suppress autoVariables */
		b->head = &me;
	/* cppcheck-suppress autoVariables */
	b->tail = &me;
	while (!me.done) {
		struct waiter *batch[EVB_ENTRIES_MAX];
		size_t n;

		if (b->sending) {
			pthread_cond_wait(&b->cv, &b->lock);
			continue;
		}
		n = take_batch(b, batch);
		b->sending = true;
		b->calls++;
		b->entries += n;
		pthread_mutex_unlock(&b->lock);
		send_batch(evb, batch, n);
		pthread_mutex_lock(&b->lock);
		for (size_t i = 0; i < n; i++)
			batch[i]->done = true;
		b->sending = false;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->lock);
	if (me.rc != RC_OK)
		*eb = me.eb;
	return me.rc;
}

void events_batch_stats(struct events_batch *b, unsigned long *calls, unsigned long *entries)
{
	pthread_mutex_lock(&b->lock);
	*calls = b->calls;
	*entries = b->entries;
	pthread_mutex_unlock(&b->lock);
}
