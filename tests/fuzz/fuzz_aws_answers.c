/* fuzz_aws_answers.c — the parsers of AWS answers (lib/aws): SNS's XML (attributes,
 * subscriptions, one element's text, an <ErrorResponse>: lib/aws/xml.c's tree under each)
 * and SQS's JSON (ReceiveMessage, the batch results, read as aws_call_json reads them).
 * The first byte of an input picks the parser, the rest is the answer's body. Built with
 * -DUNIT_TESTS: the parsers are internals of sns.c and sqs.c. */
#include <json-c/json.h>
#include <stdlib.h>

#include "aws/core_priv.h"
#include "aws/sns_int.h"
#include "aws/sqs_int.h"
#include "base/jx.h"
#include "fuzz.h"

#define BATCH_MAX 10 /* entries of one SQS batch */

static void sqs_json(const char *body, size_t len, bool batch)
{
	struct json_object *resp = NULL;
	struct sqs_messages msgs = {0};
	struct sqs_batch_result res[BATCH_MAX];
	size_t failed = 0;
	char why[256];

	/* as aws_call_json reads an SQS answer */
	if (jx_parse_answer(body, len, AWS_RESPONSE_MAX, AWS_JSON_DEPTH_MAX, false, &resp, NULL) !=
	    RC_OK)
		return;
	if (batch && sqs_parse_batch(resp, BATCH_MAX, res, &failed, why, sizeof(why)) != RC_OK)
		why[0] = '\0';
	if (!batch && sqs_parse_messages(resp, &msgs, why, sizeof(why)) != RC_OK)
		why[0] = '\0';
	sqs_messages_cleanup(&msgs);
	json_object_put(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	size_t len = size > 0 ? size - 1 : 0;
	struct sns_attrs attrs = {0};
	struct sns_subscriptions subs = {0};
	char next[SNS_TOKEN_MAX];
	char text[256];
	char code[AWS_CODE_MAX];
	char message[AWS_MESSAGE_MAX];
	char request_id[AWS_REQUEST_ID_MAX];

	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (sns_parse_attributes(body, len, &attrs) != RC_OK)
			text[0] = '\0';
		sns_attrs_cleanup(&attrs);
		break;
	case 1:
		if (sns_parse_subscriptions(body, len, &subs, next) != RC_OK)
			text[0] = '\0';
		sns_subscriptions_cleanup(&subs);
		break;
	case 2:
		if (sns_xml_text(body, len, "MessageId", text, sizeof(text)) != RC_OK)
			text[0] = '\0';
		request_id[0] = '\0';
		if (!aws_parse_error_body(body, len, code, message, request_id))
			code[0] = '\0';
		break;
	default:
		sqs_json(body, len, data[0] % 5 == 4);
		break;
	}
	return 0;
}
