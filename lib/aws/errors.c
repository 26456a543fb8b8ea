/* errors.c — what a failed call means: AWS error answers (JSON and XML) parsed into code,
 * message and request id, and the table that maps codes and statuses to enum rc and
 * "worth retrying". */
#include "aws/core.h"
#include "aws/core_priv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aws/xml.h"
#include "base/jx.h"

#ifdef UNIT_TESTS
#include "aws/core_int.h"
#endif

#define ERROR_SNIPPET_MAX 100 /* bytes of an unparsable error body quoted in the message */

/* ---- responses and errors ----------------------------------------------------------- */

void aws_response_init(struct aws_response *r)
{
	r->status = 0;
	buf_init(&r->body, AWS_RESPONSE_MAX);
	r->request_id[0] = '\0';
}

void aws_response_cleanup(struct aws_response *r)
{
	if (r == NULL)
		return;
	buf_cleanup(&r->body);
	r->status = 0;
	r->request_id[0] = '\0';
}

enum rc aws_error_to_eb(const struct aws_error *err, struct errbuf *eb)
{
	char status[32] = "";

	if (err->http_status != 0)
		snprintf(status, sizeof(status), "HTTP %ld ", err->http_status);
	eb_set(eb, err->rc, "%s %s: %s%s: %s (%s%s%s%d attempt%s)", aws_service_name(err->service),
	       err->operation, status, err->code[0] != '\0' ? err->code : "error", err->message,
	       err->request_id[0] != '\0' ? "request id " : "", err->request_id,
	       err->request_id[0] != '\0' ? ", " : "", err->attempts,
	       err->attempts == 1 ? "" : "s");
	return err->rc;
}

/* Error codes, by what they mean for the caller. Sources: botocore's standard retry mode
 * (retries/standard.py) and the DynamoDB, SQS, SNS, EventBridge and SSM error references. */
static const char *const throttle_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
	"KMSThrottlingException", "KmsThrottled", "RequestTimeout", "RequestTimeoutException",
	"TransactionConflictException", "InternalServerError", "InternalFailure",
	"ServiceUnavailable", NULL};
static const char *const notfound_codes[] = {
	"ResourceNotFoundException", "ResourceNotFound", "QueueDoesNotExist",
	"AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue", "NotFound",
	"NotFoundException", "ParameterNotFound", "ParameterVersionNotFound", NULL};
static const char *const conflict_codes[] = {
	"ConditionalCheckFailedException", "TransactionCanceledException",
	"ResourceInUseException", "QueueNameExists", "QueueAlreadyExists",
	"ParameterAlreadyExists", "ResourceAlreadyExistsException", NULL};

static bool code_in(const char *code, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(code, list[i]) == 0)
			return true;
	return false;
}

/* Maps one attempt's outcome to the rc a caller sees and whether another attempt may help.
 * Order: transport errors, success, the AWS code, then the HTTP status. */
enum rc aws_classify(enum aws_service svc, CURLcode cc, long status, const char *code,
			      bool *retry)
{
	*retry = false;
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		*retry = true;
		return RC_TIMEOUT;
	case CURLE_OUT_OF_MEMORY:
		return RC_NOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR: /* our cap on the answer */
		return RC_IO;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_FAILED_INIT:
		return RC_FATAL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		/* Another attempt meets the same certificate. */
		return RC_IO;
	default:
		/* Refused, reset, DNS, TLS handshake, empty reply: the network. */
		*retry = true;
		return RC_IO;
	}
	if (status >= 200 && status < 300)
		return RC_OK;
	/* "HttpError" is ours: the answer named no code. */
	if (code != NULL && strcmp(code, "HttpError") == 0)
		code = NULL;
	if (code != NULL && code[0] != '\0') {
		if (code_in(code, throttle_codes) ||
		    /* DynamoDB's LimitExceeded is "too many control-plane operations at once,
		     * retry" (its docs); EventBridge/SSM use the same code for hard quotas. */
		    (svc == AWS_SVC_DYNAMODB && strcmp(code, "LimitExceededException") == 0)) {
			*retry = true;
			return RC_RETRY;
		}
		if (code_in(code, notfound_codes))
			return RC_NOTFOUND;
		if (code_in(code, conflict_codes))
			return RC_CONFLICT;
	}
	if (status >= 500 && status < 600) {
		*retry = true;
		return RC_RETRY;
	}
	if (status == 429) {
		*retry = true;
		return RC_RETRY;
	}
	if (status == 408) {
		*retry = true;
		return RC_TIMEOUT;
	}
	if (status == 404 && (code == NULL || code[0] == '\0'))
		return RC_NOTFOUND;
	if (status >= 400 && status < 500)
		return RC_INVAL;
	/* 1xx/3xx or no status at all: not an AWS answer. */
	return RC_IO;
}

enum rc aws_code_to_rc(enum aws_service svc, long http_status, const char *code, bool *retryable)
{
	bool retry = false;
	enum rc rc = aws_classify(svc, CURLE_OK, http_status, code, &retry);

	if (retryable != NULL)
		*retryable = retry;
	return rc;
}

enum rc aws_error_local(struct aws_error *err, enum aws_service svc, const char *op, enum rc rc,
			const char *code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return rc;
	memset(err, 0, sizeof(*err));
	err->service = svc;
	aws_copy_trunc(err->operation, sizeof(err->operation), op, strlen(op));
	aws_copy_trunc(err->code, sizeof(err->code), code, strlen(code));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->rc = rc;
	return rc;
}

bool aws_is_expired_token(const char *code)
{
	return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0;
}

/* Keeps the part of an AWS type name that is the code: "com.amazonaws.sqs#QueueDoesNotExist"
 * and "ValidationException:http://internal..." both give the bare name. */
void aws_copy_code(char code[AWS_CODE_MAX], const char *s)
{
	const char *hash = strrchr(s, '#');
	size_t n;

	if (hash != NULL)
		s = hash + 1;
	n = strcspn(s, ":;");
	aws_copy_trunc(code, AWS_CODE_MAX, s, n);
}

const char *aws_json_str_field(struct json_object *o, const char *const *names)
{
	struct json_object *v = NULL;

	for (size_t i = 0; names[i] != NULL; i++)
		if (json_object_object_get_ex(o, names[i], &v) &&
		    json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	return NULL;
}

static bool parse_json_error(const char *body, size_t len, char code[AWS_CODE_MAX],
			     char message[AWS_MESSAGE_MAX])
{
	static const char *const type_names[] = {"__type", "code", "Code", NULL};
	static const char *const msg_names[] = {"message", "Message", "errorMessage", NULL};
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	const char *s;
	bool ok = false;

	tok = json_tokener_new_ex(AWS_JSON_DEPTH_MAX);
	if (tok == NULL)
		goto out;
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto out;
	s = aws_json_str_field(o, type_names);
	if (s != NULL) {
		aws_copy_code(code, s);
		ok = code[0] != '\0';
	}
	s = aws_json_str_field(o, msg_names);
	if (s != NULL)
		aws_copy_trunc(message, AWS_MESSAGE_MAX, s, strlen(s));
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return ok;
}

/* Copies the trimmed text of n (if any) into dst, truncated to fit. */
static void xml_copy_text(const struct aws_xml_node *n, char *dst, size_t dstsz)
{
	char *t = n != NULL ? aws_xml_text_dup(n) : NULL;

	if (t != NULL)
		aws_copy_trunc(dst, dstsz, t, strlen(t));
	free(t);
}

static bool parse_xml_error(const char *body, size_t len, char code[AWS_CODE_MAX],
			    char message[AWS_MESSAGE_MAX], char request_id[AWS_REQUEST_ID_MAX])
{
	struct aws_xml_node *root;
	const struct aws_xml_node *err;
	bool ok = false;

	if (aws_xml_parse(body, len, &root) != RC_OK)
		return false;
	err = aws_xml_find(root, "Error");
	if (err == NULL)
		goto out;
	xml_copy_text(aws_xml_find(err->children, "Code"), code, AWS_CODE_MAX);
	xml_copy_text(aws_xml_find(err->children, "Message"), message, AWS_MESSAGE_MAX);
	if (request_id[0] == '\0')
		xml_copy_text(aws_xml_find(root, "RequestId"), request_id, AWS_REQUEST_ID_MAX);
	ok = code[0] != '\0';
out:
	aws_xml_free(root);
	return ok;
}

/* Reads the AWS code, message and request id from an error body (JSON protocols: __type +
 * message; Query protocol: <ErrorResponse><Error><Code>). Leaves them "" and returns false
 * for anything else (HTML, truncated, empty). */
bool aws_parse_error_body(const char *body, size_t len, char code[AWS_CODE_MAX],
				   char message[AWS_MESSAGE_MAX],
				   char request_id[AWS_REQUEST_ID_MAX])
{
	size_t i = 0;

	code[0] = '\0';
	message[0] = '\0';
	if (body == NULL || len == 0 || len > AWS_RESPONSE_MAX)
		return false;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return false;
	if (body[i] == '{')
		return parse_json_error(body + i, len - i, code, message);
	if (body[i] == '<')
		return parse_xml_error(body + i, len - i, code, message, request_id);
	return false;
}

/* Describes an unparsable error answer, quoting its start so HTML pages are recognisable. */
void aws_describe_unparsable(const struct buf *body, long status, char *dst, size_t dstsz)
{
	char snippet[ERROR_SNIPPET_MAX + 1];

	aws_copy_trunc(snippet, sizeof(snippet), buf_str(body), body->len);
	if (body->len == 0)
		snprintf(dst, dstsz, "HTTP %ld with an empty body", status);
	else
		snprintf(dst, dstsz, "HTTP %ld with an unparsable %zu-byte body: %s%s", status,
			 body->len, snippet, body->len > ERROR_SNIPPET_MAX ? "..." : "");
}

