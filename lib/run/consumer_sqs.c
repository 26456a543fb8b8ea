/* consumer_sqs.c — the consumer's SQS seam wired to lib/aws/sqs (production): a client per
 * consumer thread, counted in the consumer's metrics, the receiver's cut short by a stop. */
#include "run/consumer.h"

#include "aws/awsmetrics.h"

static void *aws_client_make(const struct consumer_opts *o, const atomic_bool *abort_flag,
			     struct errbuf *eb)
{
	struct sqs_client *c = sqs_client_new(o->aws, eb);

	if (c == NULL)
		return NULL;
	if (abort_flag != NULL)
		aws_client_set_abort_flag(sqs_client_core(c), abort_flag);
	awsmetrics_attach(sqs_client_core(c), o->metrics);
	return c;
}

static void aws_client_drop(void *client)
{
	sqs_client_free(client);
}

static enum rc aws_receive(void *client, const char *url, const struct sqs_receive_opts *ro,
			   struct sqs_messages *out, struct aws_error *err)
{
	return sqs_receive(client, url, ro, out, err);
}

static enum rc aws_delete_batch(void *client, const char *url, const char *const *handles,
				size_t n, struct sqs_batch_result *res, size_t *nfailed,
				struct aws_error *err)
{
	return sqs_delete_message_batch(client, url, handles, n, res, nfailed, err);
}

static enum rc aws_visibility_batch(void *client, const char *url,
				    const struct sqs_visibility_entry *entries, size_t n,
				    struct sqs_batch_result *res, size_t *nfailed,
				    struct aws_error *err)
{
	return sqs_change_visibility_batch(client, url, entries, n, res, nfailed, err);
}

const struct consumer_sqs_ops consumer_sqs_aws = {
	.client_new = aws_client_make,
	.client_free = aws_client_drop,
	.receive = aws_receive,
	.delete_batch = aws_delete_batch,
	.change_visibility_batch = aws_visibility_batch,
};
