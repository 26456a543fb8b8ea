/* client.c — the transport: one CURL handle per client, SigV4 signing through
 * CURLOPT_AWS_SIGV4 inside the subset libcurl 7.88 gets right (POST to "/", distinct headers,
 * curl's own clock), bounded retries with full-jitter backoff, abort on shutdown, and the
 * observer that counts calls. */
#include "aws/core.h"
#include "aws/core_priv.h"
#include "base/backoff.h"
#include "base/clock.h"
#include "base/rng.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "config.h"
#include "base/jx.h"

#ifdef UNIT_TESTS
#include "aws/core_int.h"
#endif

/* Do not start an attempt with less time than this left in the budget. */
#define MIN_ATTEMPT_MS 200L
/* Abortable sleeps and transfers look at the abort flag this often. */
#define ABORT_POLL_MS 50L
/* curl waits this long for "100 Continue" before sending a body over 1 MiB anyway; we may
 * not strip the Expect header (7.88 would sign a header it does not send). */
#define EXPECT_100_TIMEOUT_MS 200L
#define CTYPE_MAX 128         /* a caller's Content-Type value */

/* ---- the client --------------------------------------------------------------------- */

static bool header_is(const char *line, size_t n, const char *name, const char **value,
		      size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return false;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	*value = line;
	*vlen = n;
	return true;
}

/* Length of the first n bytes of s up to (not including) stop. */
static size_t span_until(const char *s, size_t n, char stop)
{
	const char *p = memchr(s, stop, n);

	return p != NULL ? (size_t)(p - s) : n;
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
	struct hdr_capture *hc = userdata;
	size_t n = size * nitems;
	const char *v;
	size_t vn;

	if (header_is(line, n, "x-amzn-RequestId", &v, &vn) ||
	    header_is(line, n, "x-amz-request-id", &v, &vn))
		aws_copy_trunc(hc->request_id, sizeof(hc->request_id), v, vn);
	else if (header_is(line, n, "x-amzn-ErrorType", &v, &vn))
		aws_copy_trunc(hc->error_type, sizeof(hc->error_type), v, span_until(v, vn, ':'));
	else if (header_is(line, n, "x-amzn-query-error", &v, &vn))
		aws_copy_trunc(hc->query_error, sizeof(hc->query_error), v, span_until(v, vn, ';'));
	return n;
}

static int xfer_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		   curl_off_t ulnow)
{
	const atomic_bool *flag = clientp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return flag != NULL && atomic_load(flag) ? 1 : 0;
}

struct aws_client *aws_client_new(const struct aws_config *cfg, enum aws_service svc,
				  struct errbuf *eb)
{
	struct aws_client *c = NULL;
	struct aws_client *ret = NULL;

	/* a timeout of 0 would be none at all in libcurl: a config without them is unresolved */
	if ((unsigned)svc >= AWS_SVC_COUNT || cfg->region[0] == '\0' ||
	    cfg->endpoint[svc][0] == '\0' || cfg->request_timeout_ms < 1 ||
	    cfg->connect_timeout_ms < 1) {
		eb_set(eb, RC_INVAL, "aws_client_new: unresolved config or unknown service");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		eb_set(eb, RC_NOMEM, "out of memory creating an AWS client");
		goto out;
	}
	c->cfg = *cfg;
	c->svc = svc;
	rng_init(&c->rng, c);
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:%s", cfg->region, aws_svc_table[svc].signing);
	snprintf(c->url, sizeof(c->url), "%s/", cfg->endpoint[svc]);
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		eb_set(eb, RC_FATAL, "curl_easy_init failed");
		goto out;
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, aws_sink_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->sink);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &c->hc);
	/* No "region/..." in here: moto would take the region from it. */
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "appointmentd/" APPT_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_EXPECT_100_TIMEOUT_MS, EXPECT_100_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	ret = c;
	c = NULL;
out:
	aws_client_free(c);
	return ret;
}

void aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

enum aws_service aws_client_service(const struct aws_client *c)
{
	return c->svc;
}

const struct aws_config *aws_client_config(const struct aws_client *c)
{
	return &c->cfg;
}

void aws_client_set_abort_flag(struct aws_client *c, const atomic_bool *flag)
{
	c->abort = flag;
}

void aws_client_set_deadline(struct aws_client *c, int64_t deadline_ms)
{
	c->deadline_ms = deadline_ms;
}

int64_t aws_client_deadline(const struct aws_client *c)
{
	return c->deadline_ms;
}

void aws_client_set_observer(struct aws_client *c, aws_observer_fn fn, void *ud)
{
	c->observe = fn;
	c->observe_ud = ud;
}

static bool aborted(const struct aws_client *c)
{
	return c->abort != NULL && atomic_load(c->abort);
}

/* Sleeps ms, waking early when the abort flag is set; false if it was. */
static bool sleep_ms(const struct aws_client *c, long ms)
{
	while (ms > 0) {
		long slice = c->abort != NULL && ms > ABORT_POLL_MS ? ABORT_POLL_MS : ms;

		if (aborted(c))
			return false;
		clk_sleep_ms(slice);
		ms -= slice;
	}
	return !aborted(c);
}

/* Sends one signed request. Returns curl's code; *status is the HTTP status or 0. */
static CURLcode perform_once(struct aws_client *c, const struct aws_creds *cr,
			     const char *target, const char *ctype, const char *body, size_t len,
			     long timeout_ms, long connect_ms, struct aws_response *out,
			     long *status)
{
	struct curl_slist *hl = NULL;
	struct curl_slist *tmp;
	char *line = NULL;
	CURLcode cc = CURLE_OK;
	size_t tlen = strlen(cr->session_token);

	*status = 0;
	memset(&c->hc, 0, sizeof(c->hc));
	c->curl_err[0] = '\0';
	buf_reset(&out->body);
	c->sink.buf = &out->body;
	c->sink.too_large = false;

	/* Only distinct, non-empty header names (curl 7.88 signs others wrongly). */
	line = malloc(tlen + AWS_OP_MAX + 256);
	if (line == NULL) {
		cc = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	snprintf(line, tlen + AWS_OP_MAX + 256, "Content-Type: %s", ctype);
	tmp = curl_slist_append(hl, line);
	if (tmp == NULL) {
		cc = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	hl = tmp;
	if (aws_svc_table[c->svc].target_prefix != NULL) {
		snprintf(line, tlen + AWS_OP_MAX + 256, "X-Amz-Target: %s.%s",
			 aws_svc_table[c->svc].target_prefix, target);
		tmp = curl_slist_append(hl, line);
		if (tmp == NULL) {
			cc = CURLE_OUT_OF_MEMORY;
			goto out;
		}
		hl = tmp;
	}
	if (tlen > 0) {
		/* curl signs it like any header we set; it does not add it itself. */
		snprintf(line, tlen + AWS_OP_MAX + 256, "X-Amz-Security-Token: %s",
			 cr->session_token);
		tmp = curl_slist_append(hl, line);
		if (tmp == NULL) {
			cc = CURLE_OUT_OF_MEMORY;
			goto out;
		}
		hl = tmp;
	}

	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	/* Set on every request: duphandle drops it, and a region change must not linger. */
	curl_easy_setopt(c->curl, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, cr->access_key_id);
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, cr->secret_access_key);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (c->abort != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xfer_cb);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, (void *)(uintptr_t)c->abort);
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	}
	cc = curl_easy_perform(c->curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
out:
	/* The handle keeps a pointer to the list until the next perform: clear it first. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, "");
	curl_slist_free_all(hl);
	if (line != NULL)
		explicit_bzero(line, tlen + AWS_OP_MAX + 256);
	free(line);
	return cc;
}

/* Fills err from one failed attempt. */
static void fill_error(struct aws_client *c, CURLcode cc, long status,
		       const struct aws_response *out, struct aws_error *err)
{
	err->http_status = status;
	err->code[0] = '\0';
	err->message[0] = '\0';
	aws_copy_trunc(err->request_id, sizeof(err->request_id), c->hc.request_id,
		   sizeof(c->hc.request_id));
	if (cc != CURLE_OK) {
		const char *msg = c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(cc);

		if (cc == CURLE_ABORTED_BY_CALLBACK) {
			snprintf(err->code, sizeof(err->code), "Aborted");
			snprintf(err->message, sizeof(err->message), "stopped by the abort flag");
		} else if (cc == CURLE_WRITE_ERROR && c->sink.too_large) {
			snprintf(err->code, sizeof(err->code), "ResponseTooLarge");
			snprintf(err->message, sizeof(err->message),
				 "answer larger than %u bytes", AWS_RESPONSE_MAX);
		} else {
			snprintf(err->code, sizeof(err->code), "%s",
				 cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "NetworkError");
			aws_copy_trunc(err->message, sizeof(err->message), msg, strlen(msg));
		}
		return;
	}
	if (!aws_parse_error_body(buf_str(&out->body), out->body.len, err->code, err->message,
				  err->request_id)) {
		/* The headers may still name the error (JSON services send x-amzn-ErrorType). */
		if (c->hc.error_type[0] != '\0')
			aws_copy_code(err->code, c->hc.error_type);
		else if (c->hc.query_error[0] != '\0')
			aws_copy_code(err->code, c->hc.query_error);
		if (err->code[0] == '\0')
			snprintf(err->code, sizeof(err->code), "HttpError");
		aws_describe_unparsable(&out->body, status, err->message, sizeof(err->message));
	} else if (err->message[0] == '\0') {
		snprintf(err->message, sizeof(err->message), "HTTP %ld without a message", status);
	}
}

static bool op_valid(const char *op)
{
	size_t n = strlen(op);

	if (n == 0 || n >= AWS_OP_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)op[i]))
			return false;
	return true;
}

enum rc aws_call_with(struct aws_client *c, const struct aws_call_opts *opts,
		      const char *target_or_action, const char *content_type, const char *body,
		      size_t len, struct aws_response *out, struct aws_error *err)
{
	struct aws_error local_err;
	struct aws_response local_out;
	bool own_out = out == NULL;
	long req_timeout = c->cfg.request_timeout_ms;
	int max_attempts = c->cfg.max_attempts;
	long budget = c->cfg.retry_budget_ms;
	int64_t start;
	int64_t deadline;
	bool refreshed = false;
	bool force_refresh = false;
	enum rc rc = RC_OK;

	if (err == NULL)
		err = &local_err;
	if (own_out) {
		aws_response_init(&local_out);
		out = &local_out;
	}
	memset(err, 0, sizeof(*err));
	err->service = c->svc;
	aws_copy_trunc(err->operation, sizeof(err->operation), target_or_action,
		   strlen(target_or_action));
	if (opts != NULL) {
		if (opts->request_timeout_ms > 0)
			req_timeout = opts->request_timeout_ms;
		if (opts->max_attempts > 0)
			max_attempts = opts->max_attempts;
		if (opts->retry_budget_ms > 0)
			budget = opts->retry_budget_ms;
	}
	if (max_attempts < 1)
		max_attempts = 1;
	if (len > AWS_REQUEST_MAX) {
		rc = aws_error_local(err, c->svc, target_or_action, RC_INVAL, "RequestTooLarge",
				     "request body of %zu bytes (limit %u)", len, AWS_REQUEST_MAX);
		goto out;
	}
	if (content_type == NULL)
		content_type = aws_svc_table[c->svc].content_type;
	/* Both end up in header lines: no room for CR/LF or other surprises. */
	if (!op_valid(target_or_action) || !aws_header_value_valid(content_type, CTYPE_MAX)) {
		rc = aws_error_local(err, c->svc, target_or_action, RC_INVAL, "InvalidArgument",
				     "operation must be 1-%d letters and digits, content type "
				     "printable and under %d bytes",
				     AWS_OP_MAX - 1, CTYPE_MAX);
		goto out;
	}
	/* The first attempt always gets its full timeout, whatever the budget. */
	if (budget < req_timeout)
		budget = req_timeout;
	start = clk_mono_ms();
	deadline = start + budget;
	if (c->deadline_ms > 0 && c->deadline_ms < deadline) {
		/* the caller's deadline is harder than the first attempt's full timeout */
		deadline = c->deadline_ms;
		if (deadline - start < 1) {
			rc = aws_error_local(err, c->svc, target_or_action, RC_TIMEOUT,
					     "DeadlineExceeded", "the request's time budget is spent");
			goto out;
		}
	}

	for (int attempt = 1;; attempt++) {
		const struct aws_creds *cr = NULL;
		struct errbuf ceb = {{0}};
		int64_t remaining;
		long timeout = 0;
		long connect = 0;
		bool retry = false;
		CURLcode cc;
		long status = 0;

		err->attempts = attempt;
		rc = aws_client_creds(c, force_refresh, &cr, &ceb);
		force_refresh = false;
		/* read after the credentials (an IMDS fetch takes time); libcurl takes a timeout
		 * of 0 as none and refuses a negative one, keeping the handle's previous one */
		remaining = deadline - clk_mono_ms();
		if (rc == RC_OK && remaining < 1) {
			if (attempt > 1) { /* the sleep overran: the last attempt's error stands */
				err->attempts = attempt - 1;
				rc = err->rc;
				break;
			}
			rc = aws_error_local(err, c->svc, target_or_action, RC_TIMEOUT,
					     "DeadlineExceeded",
					     "the request's time budget ran out before its first attempt");
			break;
		}
		timeout = req_timeout < remaining ? req_timeout : (long)remaining;
		connect = c->cfg.connect_timeout_ms < timeout ? c->cfg.connect_timeout_ms : timeout;
		if (rc != RC_OK) {
			err->http_status = 0;
			snprintf(err->code, sizeof(err->code), "CredentialsError");
			aws_copy_trunc(err->message, sizeof(err->message), ceb.msg, strlen(ceb.msg));
			retry = rc == RC_IO || rc == RC_TIMEOUT;
		} else {
			cc = perform_once(c, cr, target_or_action, content_type, body, len, timeout,
					  connect, out, &status);
			out->status = status;
			aws_copy_trunc(out->request_id, sizeof(out->request_id), c->hc.request_id,
				   sizeof(c->hc.request_id));
			if (cc == CURLE_OK && status >= 200 && status < 300) {
				/* Earlier failed attempts leave no trace in err. */
				err->http_status = status;
				err->code[0] = '\0';
				err->message[0] = '\0';
				aws_copy_trunc(err->request_id, sizeof(err->request_id),
					   c->hc.request_id, sizeof(c->hc.request_id));
				rc = RC_OK;
				err->rc = RC_OK;
				goto out;
			}
			fill_error(c, cc, status, out, err);
			rc = aws_classify(c->svc, cc, status, err->code, &retry);
			/* Temporary credentials expired under us: fetch new ones once. */
			if (cc == CURLE_OK && aws_is_expired_token(err->code) &&
			    c->cfg.creds_source == AWS_CREDS_IMDS && !refreshed) {
				refreshed = true;
				force_refresh = true;
				retry = true;
			}
		}
		err->rc = rc;
		if (!retry || attempt >= max_attempts || aborted(c))
			break;
		{
			const struct backoff bo = {c->cfg.backoff_base_ms, c->cfg.backoff_max_ms, 0};
			long delay = backoff_delay(&bo, attempt, rng_next(&c->rng));

			if (clk_mono_ms() + delay + MIN_ATTEMPT_MS > deadline)
				break;
			if (!sleep_ms(c, delay))
				break;
		}
	}
	if (aborted(c) && rc != RC_OK) {
		rc = RC_IO;
		err->rc = RC_IO;
		snprintf(err->code, sizeof(err->code), "Aborted");
	}
out:
	if (c->observe != NULL)
		c->observe(c->observe_ud, c->svc, target_or_action, rc);
	if (own_out)
		aws_response_cleanup(&local_out);
	return rc;
}

enum rc aws_call(struct aws_client *c, const char *target_or_action, const char *content_type,
		 const char *body, size_t len, struct aws_response *out, struct aws_error *err)
{
	return aws_call_with(c, NULL, target_or_action, content_type, body, len, out, err);
}

enum rc aws_call_json(struct aws_client *c, const struct aws_call_opts *opts, const char *op,
		      struct json_object *req, struct json_object **out,
		      struct aws_error *err)
{
	struct aws_error local_err;
	struct aws_response resp;
	struct json_object *o = NULL;
	const char *text = "{}";
	size_t i;
	enum rc rc;

	*out = NULL;
	if (err == NULL)
		err = &local_err;
	aws_response_init(&resp);
	if (req != NULL)
		text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		memset(err, 0, sizeof(*err));
		err->service = c->svc;
		aws_copy_trunc(err->operation, sizeof(err->operation), op, strlen(op));
		snprintf(err->code, sizeof(err->code), "NoMemory");
		rc = err->rc = RC_NOMEM;
		goto out;
	}
	rc = aws_call_with(c, opts, op, NULL, text, strlen(text), &resp, err);
	if (rc != RC_OK)
		goto out;
	for (i = 0; i < resp.body.len && isspace((unsigned char)resp.body.data[i]); i++)
		;
	if (i == resp.body.len) {
		/* Some operations (DeleteQueue on some emulators) answer 200 with nothing. */
		o = json_object_new_object();
		if (o == NULL) {
			rc = err->rc = RC_NOMEM;
			goto out;
		}
		goto done;
	}
	/* SQS's message bodies are checked one by one by their readers (UTF-8 included), so
	 * that one bad message goes to its own failure path instead of failing every receive */
	rc = jx_parse_answer(resp.body.data, resp.body.len, AWS_RESPONSE_MAX, AWS_JSON_DEPTH_MAX,
			     false, &o, NULL);
	if (rc == RC_NOMEM) {
		err->rc = rc;
		goto out;
	}
	if (rc != RC_OK) {
		err->http_status = resp.status;
		snprintf(err->code, sizeof(err->code), "MalformedResponse");
		aws_describe_unparsable(&resp.body, resp.status, err->message, sizeof(err->message));
		rc = err->rc = RC_IO;
		goto out;
	}
done:
	*out = o;
	o = NULL;
out:
	json_object_put(o);
	aws_response_cleanup(&resp);
	return rc;
}

