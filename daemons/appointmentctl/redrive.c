/* redrive.c — `appointmentctl redrive QUEUE [--dry-run] [--max N]`: moves the messages of a
 * queue's DLQ back to the queue (SPEC §8), without loss: each message is received from the
 * DLQ (hidden for REDRIVE_VISIBILITY_S), sent to the source with the same body and message
 * attributes, and deleted from the DLQ only once the send succeeded. A crash in between
 * leaves a duplicate (the consumers are idempotent), never a loss. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/sqs.h"
#include "ctl.h"
#include "domain/timeutil.h"

#define REDRIVE_VISIBILITY_S 60   /* a received DLQ message stays hidden while it is moved */
#define REDRIVE_WAIT_S 1          /* long poll of each receive: asks every SQS server */
#define REDRIVE_EMPTY_RECEIVES 2  /* empty receives in a row that mean "the DLQ is empty" */
#define REDRIVE_MAX_LIMIT 10000000L /* largest --max */
#define REDRIVE_PEEK 10           /* messages a dry run looks at */

struct redrive {
	struct ctl x;              /* config, AWS settings, output */
	struct ctl_clients cl;        /* SQS only */
	struct ctl_queue src, dlq; /* where messages go, where they come from */
	char labels[2][16];        /* storage for the country labels */
	char src_url[SQS_URL_MAX];
	char dlq_url[SQS_URL_MAX];
	long max;                  /* --max, 0 = until the DLQ is empty */
	bool dry_run;              /* --dry-run */
	long moved;                /* sent to the source and deleted from the DLQ */
	long duplicated;           /* sent, but the delete from the DLQ failed */
};

static enum rc aws_fail(const struct aws_error *err, struct errbuf *eb, const char *what,
			const char *name)
{
	enum rc rc = aws_error_to_eb(err, eb);

	eb_prefix(eb, "%s %s", what, name);
	return rc;
}

/* The send entry of a received message: same body, same message attributes. Binary
 * attributes cannot be sent by our client: RC_INVAL (the message stays in the DLQ). */
static enum rc entry_of(const struct sqs_message *m, struct sqs_msg_attr *attrs,
			struct sqs_send_entry *e, struct errbuf *eb)
{
	for (size_t i = 0; i < m->nattrs; i++) {
		if (strncmp(m->attrs[i].type, "String", 6) != 0 &&
		    strncmp(m->attrs[i].type, "Number", 6) != 0)
			return eb_set(eb, RC_INVAL, "message %s has the %s attribute %s, which "
				      "redrive cannot copy; it stays in the DLQ", m->message_id,
				      m->attrs[i].type, m->attrs[i].name);
		attrs[i] = (struct sqs_msg_attr){m->attrs[i].name, m->attrs[i].type,
						 m->attrs[i].value};
	}
	*e = (struct sqs_send_entry){.body = m->body, .attrs = attrs, .nattrs = m->nattrs,
				     .delay_seconds = -1};
	return RC_OK;
}

/* Makes messages whose move did not happen visible in the DLQ again at once. Best effort:
 * if it fails they come back when their visibility timeout ends. */
static void give_back(struct redrive *r, const struct sqs_messages *msgs, const bool *keep)
{
	struct aws_error err;

	for (size_t i = 0; i < msgs->n; i++) {
		enum rc ignored;

		if (!keep[i])
			continue;
		ignored = sqs_change_visibility(r->cl.sqs, r->dlq_url, msgs->v[i].receipt_handle, 0,
						&err);
		(void)ignored;
	}
}

/* Moves one received batch: send (as a batch; one by one if the batch call itself fails,
 * e.g. for its size), then delete what was sent. Stops the run (error) on any failure. */
static enum rc move_batch(struct redrive *r, const struct sqs_messages *msgs, struct errbuf *eb)
{
	struct sqs_msg_attr attrs[SQS_BATCH_MAX][SQS_MSG_ATTRS_MAX];
	struct sqs_send_entry entries[SQS_BATCH_MAX];
	struct sqs_batch_result res[SQS_BATCH_MAX];
	const char *handles[SQS_BATCH_MAX];
	bool unsent[SQS_BATCH_MAX];
	struct errbuf first = {{0}};
	struct aws_error err;
	size_t nfailed = 0, nsent = 0, ndel_failed = 0;
	enum rc rc = RC_OK;

	for (size_t i = 0; i < msgs->n; i++) {
		unsent[i] = true;
		if (rc == RC_OK)
			rc = entry_of(&msgs->v[i], attrs[i], &entries[i], eb);
	}
	if (rc != RC_OK) {
		give_back(r, msgs, unsent);
		return rc;
	}
	rc = sqs_send_message_batch(r->cl.sqs, r->src_url, entries, msgs->n, res, &nfailed, &err);
	if (rc != RC_OK) {
		/* the whole call failed (too big a batch, or the endpoint): one at a time */
		for (size_t i = 0; i < msgs->n; i++) {
			res[i].rc = sqs_send_message(r->cl.sqs, r->src_url, &entries[i], NULL, &err);
			if (res[i].rc != RC_OK && first.msg[0] == '\0')
				aws_fail(&err, &first, "send to queue", r->src.name);
		}
	} else {
		for (size_t i = 0; i < msgs->n; i++)
			if (res[i].rc != RC_OK && first.msg[0] == '\0')
				eb_set(&first, res[i].rc, "send to queue %s: %s: %s", r->src.name,
				       res[i].code, res[i].message);
	}
	for (size_t i = 0; i < msgs->n; i++)
		if (res[i].rc == RC_OK) {
			unsent[i] = false;
			handles[nsent++] = msgs->v[i].receipt_handle;
		}
	if (nsent > 0) {
		struct sqs_batch_result dres[SQS_BATCH_MAX];

		rc = sqs_delete_message_batch(r->cl.sqs, r->dlq_url, handles, nsent, dres, &ndel_failed,
					      &err);
		if (rc != RC_OK) {
			ndel_failed = nsent;
			if (first.msg[0] == '\0')
				aws_fail(&err, &first, "delete from queue", r->dlq.name);
		} else if (ndel_failed > 0 && first.msg[0] == '\0') {
			for (size_t i = 0; i < nsent; i++)
				if (dres[i].rc != RC_OK) {
					eb_set(&first, dres[i].rc, "delete from queue %s: %s: %s",
					       r->dlq.name, dres[i].code, dres[i].message);
					break;
				}
		}
	}
	r->moved += (long)(nsent - ndel_failed);
	r->duplicated += (long)ndel_failed;
	give_back(r, msgs, unsent);
	if (first.msg[0] != '\0') {
		*eb = first;
		return RC_IO;
	}
	return RC_OK;
}

static void progress(struct redrive *r)
{
	if (!r->x.tty)
		return;
	fprintf(r->x.out, "\rmoving %s -> %s: %ld moved", r->dlq.name, r->src.name, r->moved);
	fflush(r->x.out);
}

static enum rc run_move(struct redrive *r, struct errbuf *eb)
{
	struct sqs_messages msgs = {0};
	struct aws_error err;
	int empty = 0;
	enum rc rc = RC_OK;

	while (rc == RC_OK && empty < REDRIVE_EMPTY_RECEIVES && (r->max == 0 || r->moved < r->max)) {
		long want = r->max == 0 ? SQS_BATCH_MAX : r->max - r->moved;
		struct sqs_receive_opts o = {want < SQS_BATCH_MAX ? (int)want : SQS_BATCH_MAX,
					     REDRIVE_WAIT_S, REDRIVE_VISIBILITY_S};

		rc = sqs_receive(r->cl.sqs, r->dlq_url, &o, &msgs, &err);
		if (rc != RC_OK) {
			aws_fail(&err, eb, "receive from queue", r->dlq.name);
			break;
		}
		if (msgs.n == 0) {
			empty++;
			continue;
		}
		empty = 0;
		rc = move_batch(r, &msgs, eb);
		progress(r);
	}
	sqs_messages_cleanup(&msgs);
	if (r->x.tty)
		fputs("\r\033[K", r->x.out);
	fprintf(r->x.out, "moved %ld message(s) from %s to %s\n", r->moved, r->dlq.name,
		r->src.name);
	if (r->duplicated > 0)
		fprintf(r->x.out, "%ld message(s) were sent to %s but stay in %s too (the delete "
			"failed): they will be delivered twice, which the consumers tolerate\n",
			r->duplicated, r->src.name, r->dlq.name);
	fflush(r->x.out);
	return rc;
}

/* --dry-run: the DLQ's approximate depth and a look at up to REDRIVE_PEEK messages,
 * received with visibility 0 (so they stay where they are) and never deleted. */
static enum rc run_dry(struct redrive *r, struct errbuf *eb)
{
	struct sqs_receive_opts o = {REDRIVE_PEEK, REDRIVE_WAIT_S, 0};
	struct sqs_messages msgs = {0};
	struct aws_error err;
	long long visible = -1, in_flight = -1, delayed = -1;
	enum rc rc = ctl_queue_depth(r->cl.sqs, r->dlq_url, &visible, &in_flight, &delayed, NULL, &err);

	if (rc != RC_OK)
		return aws_fail(&err, eb, "read the depth of queue", r->dlq.name);
	/* what the same command without --dry-run would move: --max caps it */
	if (r->max > 0 && visible > r->max)
		fprintf(r->x.out, "would move %ld of about %lld message(s) from %s to %s (--max; "
			"%lld more in flight); dry run: nothing moved\n", r->max, visible,
			r->dlq.name, r->src.name, in_flight);
	else
		fprintf(r->x.out, "would move about %lld message(s) from %s to %s (%lld more in "
			"flight); dry run: nothing moved\n", visible, r->dlq.name, r->src.name,
			in_flight);
	rc = sqs_receive(r->cl.sqs, r->dlq_url, &o, &msgs, &err);
	if (rc != RC_OK) {
		aws_fail(&err, eb, "peek at queue", r->dlq.name);
		goto out;
	}
	for (size_t i = 0; i < msgs.n; i++) {
		const struct sqs_message *m = &msgs.v[i];
		char sent[TU_ISO_SIZE] = "?";

		if (m->sent_timestamp_ms > 0 && tu_format_ms(m->sent_timestamp_ms, sent) != RC_OK)
			snprintf(sent, sizeof(sent), "?");
		fprintf(r->x.out, "message %s: first sent %s, received %d times, %zu bytes, %zu "
			"attributes\n", m->message_id, sent, m->receive_count, m->body_len, m->nattrs);
	}
out:
	sqs_messages_cleanup(&msgs);
	fflush(r->x.out);
	return rc;
}

static enum rc resolve(struct redrive *r, struct errbuf *eb)
{
	struct aws_error err;
	enum rc rc = ctl_queue_url(r->cl.sqs, &r->src, r->src_url, &err);

	if (rc == RC_NOTFOUND)
		return eb_set(eb, rc, "queue %s does not exist (run provision)", r->src.name);
	if (rc != RC_OK)
		return aws_fail(&err, eb, "look up queue", r->src.name);
	rc = ctl_queue_url(r->cl.sqs, &r->dlq, r->dlq_url, &err);
	if (rc == RC_NOTFOUND)
		return eb_set(eb, rc, "queue %s does not exist (run provision)", r->dlq.name);
	if (rc != RC_OK)
		return aws_fail(&err, eb, "look up queue", r->dlq.name);
	return RC_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " CTL_NAME " [--config PATH] redrive QUEUE [--dry-run] [--max N]\n"
		   "QUEUE: a configured country code (pe), completion or error\n");
}

int ctl_cmd_redrive(const char *config_path, int argc, char **argv)
{
	struct redrive *r = calloc(1, sizeof(*r));
	struct errbuf eb = {{0}};
	const char *queue = NULL, *v = NULL;
	int code = CTL_EXIT_OK;
	enum rc rc;

	if (r == NULL)
		return ctl_die(CTL_EXIT_FAILURE, "out of memory");
	for (int i = 1; i < argc; i++) {
		int o = ctl_opt_value(argc, argv, &i, "--max", &v);

		if (o != 0) {
			if (o < 0 || !ctl_parse_long(v, 1, REDRIVE_MAX_LIMIT, &r->max)) {
				code = ctl_die(CTL_EXIT_USAGE, "redrive: --max needs a whole number from "
					       "1 to %ld", REDRIVE_MAX_LIMIT);
				goto out;
			}
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			r->dry_run = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			goto out;
		} else if (argv[i][0] != '-' && queue == NULL) {
			queue = argv[i];
		} else {
			code = ctl_die(CTL_EXIT_USAGE, "redrive: unknown argument '%s' (try redrive "
				       "--help)", argv[i]);
			goto out;
		}
	}
	if (queue == NULL) {
		code = ctl_die(CTL_EXIT_USAGE, "redrive: which queue? (a country code, completion "
			       "or error; try redrive --help)");
		goto out;
	}
	code = ctl_open(&r->x, config_path, true);
	if (code != CTL_EXIT_OK)
		goto out;
	if (!ctl_queue_pair(&r->x, queue, r->labels, &r->src, &r->dlq)) {
		code = ctl_die(CTL_EXIT_USAGE, "redrive: unknown queue '%s' (a configured country "
			       "code, completion or error)", queue);
		goto out;
	}
	if (ctl_clients_open(&r->x, CTL_SQS, &r->cl, &eb) != RC_OK) {
		code = ctl_fail(&eb);
		goto out;
	}
	rc = resolve(r, &eb);
	if (rc == RC_OK)
		rc = r->dry_run ? run_dry(r, &eb) : run_move(r, &eb);
	if (rc != RC_OK) {
		eb_prefix(&eb, "redrive %s", queue);
		code = ctl_fail(&eb);
	}
out:
	ctl_clients_close(&r->cl);
	ctl_close(&r->x);
	free(r);
	return code;
}
