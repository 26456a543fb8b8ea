/* imds.c — credentials from the EC2 instance metadata service (IMDSv2: a session token,
 * then the role's credentials), cached per client and refreshed before they expire. */
#include "aws/core.h"
#include "aws/core_priv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "base/jx.h"

#ifdef UNIT_TESTS
#include "aws/core_int.h"
#endif

#define IMDS_TOKEN_TTL_S "21600"
#define IMDS_RESPONSE_MAX (16 * 1024) /* token, role list or credentials document */
#define IMDS_ROLE_MAX 129             /* IAM role name, with NUL (AWS: up to 64) */
/* Refresh IMDS credentials this long before they expire; keep using the old ones after a
 * failed refresh until this close to expiry. */
#define CREDS_REFRESH_BEFORE_S 600
#define CREDS_HARD_EXPIRY_S 60
/* Inside the refresh window, ask IMDS again at most this often: EC2 hands out new
 * credentials only about 5 minutes before expiry, so until then a refresh returns the same
 * ones, and a failed one costs its timeouts: neither may be paid on every call. */
#define CREDS_RETRY_S 60

/* ---- IMDSv2 ------------------------------------------------------------------------- */

TESTABLE enum rc aws_parse_iso8601(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return RC_INVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return RC_INVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return RC_INVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return RC_INVAL;
	*out = t;
	return RC_OK;
}

/* Parses the IMDS credentials document {"Code":"Success","AccessKeyId",...}. */
TESTABLE enum rc aws_imds_parse_creds(const char *body, size_t len, struct aws_creds *out,
				      struct errbuf *eb)
{
	static const char *const code_n[] = {"Code", NULL};
	static const char *const ak_n[] = {"AccessKeyId", NULL};
	static const char *const sk_n[] = {"SecretAccessKey", NULL};
	static const char *const tok_n[] = {"Token", NULL};
	static const char *const exp_n[] = {"Expiration", NULL};
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	const char *code;
	const char *ak;
	const char *sk;
	const char *st;
	const char *exp;
	enum rc rc = RC_OK;

	memset(out, 0, sizeof(*out));
	tok = json_tokener_new_ex(AWS_JSON_DEPTH_MAX);
	if (tok == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		rc = eb_set(eb, RC_IO, "IMDS credentials: not a JSON object");
		goto out;
	}
	code = aws_json_str_field(o, code_n);
	ak = aws_json_str_field(o, ak_n);
	sk = aws_json_str_field(o, sk_n);
	st = aws_json_str_field(o, tok_n);
	exp = aws_json_str_field(o, exp_n);
	if (code != NULL && strcmp(code, "Success") != 0) {
		rc = eb_set(eb, RC_IO, "IMDS credentials: Code is \"%.64s\"", code);
		goto out;
	}
	if (ak == NULL || sk == NULL || ak[0] == '\0' || sk[0] == '\0') {
		rc = eb_set(eb, RC_IO, "IMDS credentials: AccessKeyId or SecretAccessKey missing");
		goto out;
	}
	rc = aws_copy_checked(out->access_key_id, sizeof(out->access_key_id), ak,
			  "IMDS AccessKeyId", eb);
	if (rc == RC_OK)
		rc = aws_copy_checked(out->secret_access_key, sizeof(out->secret_access_key), sk,
				  "IMDS SecretAccessKey", eb);
	if (rc == RC_OK && st != NULL)
		rc = aws_copy_checked(out->session_token, sizeof(out->session_token), st, "IMDS Token",
				  eb);
	if (rc != RC_OK)
		goto out;
	if (!aws_header_value_valid(out->access_key_id, sizeof(out->access_key_id)) ||
	    !aws_header_value_valid(out->secret_access_key, sizeof(out->secret_access_key)) ||
	    !aws_header_value_valid(out->session_token, sizeof(out->session_token))) {
		rc = eb_set(eb, RC_IO, "IMDS credentials: not printable ASCII");
		goto out;
	}
	if (exp != NULL && aws_parse_iso8601(exp, &out->expires_at) != RC_OK) {
		rc = eb_set(eb, RC_IO, "IMDS credentials: bad Expiration \"%.64s\"", exp);
		goto out;
	}
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	if (rc != RC_OK)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

size_t aws_sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_sink *s = userdata;
	size_t n = size * nmemb;

	if (buf_append(s->buf, ptr, n) != RC_OK) {
		s->too_large = true;
		return 0;
	}
	return n;
}

/* One IMDS request on its own short-lived handle (IMDS is asked once per refresh). */
static enum rc imds_request(const struct aws_config *cfg, const char *method, const char *path,
			    const char *hdr, struct buf *out, struct errbuf *eb)
{
	CURL *h = NULL;
	struct curl_slist *hl = NULL;
	struct body_sink sink = {out, false};
	char url[AWS_URL_MAX + 128];
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	long status = 0;
	enum rc rc = RC_OK;

	buf_reset(out);
	snprintf(url, sizeof(url), "%s%s", cfg->imds_endpoint, path);
	h = curl_easy_init();
	if (h == NULL) {
		rc = eb_set(eb, RC_NOMEM, "curl_easy_init failed");
		goto out;
	}
	if (hdr != NULL) {
		hl = curl_slist_append(NULL, hdr);
		if (hl == NULL) {
			rc = eb_set(eb, RC_NOMEM, "out of memory");
			goto out;
		}
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg->imds_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cfg->imds_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, aws_sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = eb_set(eb, cc == CURLE_OPERATION_TIMEDOUT ? RC_TIMEOUT : RC_IO,
			    "IMDS %s %s: %s", method, path,
			    cerr[0] != '\0' ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		rc = eb_set(eb, RC_IO, "IMDS %s %s: HTTP %ld", method, path, status);
		goto out;
	}
out:
	curl_slist_free_all(hl);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}

/* IMDSv2: PUT a session token, GET the role name, GET the role's credentials. */
static enum rc imds_fetch(const struct aws_config *cfg, struct aws_creds *out,
			  struct errbuf *eb)
{
	struct buf b;
	char hdr[IMDS_RESPONSE_MAX + 64];
	char role[IMDS_ROLE_MAX];
	char path[IMDS_ROLE_MAX + 64];
	size_t n;
	enum rc rc;

	buf_init(&b, IMDS_RESPONSE_MAX);
	buf_set_secret(&b); /* the session token, then the credentials document */
	rc = imds_request(cfg, "PUT", "/latest/api/token",
			  "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL_S, &b, eb);
	if (rc != RC_OK)
		goto out;
	n = strcspn(buf_str(&b), "\r\n");
	if (n == 0) {
		rc = eb_set(eb, RC_IO, "IMDS: empty session token");
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %.*s", (int)n, buf_str(&b));
	rc = imds_request(cfg, "GET", "/latest/meta-data/iam/security-credentials/", hdr, &b, eb);
	if (rc != RC_OK)
		goto out;
	n = strcspn(buf_str(&b), "\r\n");
	if (n == 0 || n >= sizeof(role)) {
		rc = eb_set(eb, RC_IO, "IMDS: no usable IAM role name (is a role attached?)");
		goto out;
	}
	memcpy(role, buf_str(&b), n);
	role[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)role[i]) && strchr("+=,.@_-", role[i]) == NULL) {
			rc = eb_set(eb, RC_IO, "IMDS: unexpected character in the role name");
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	rc = imds_request(cfg, "GET", path, hdr, &b, eb);
	if (rc != RC_OK)
		goto out;
	rc = aws_imds_parse_creds(buf_str(&b), b.len, out, eb);
out:
	explicit_bzero(hdr, sizeof(hdr));
	buf_cleanup(&b);
	return rc;
}

/* The credentials for the next attempt: static ones, or IMDS ones fetched or refreshed
 * when missing, close to expiry or rejected as expired (force). */
enum rc aws_client_creds(struct aws_client *c, bool force, const struct aws_creds **cr,
			    struct errbuf *eb)
{
	time_t now = time(NULL);
	struct aws_creds *fresh = NULL;
	enum rc rc = RC_OK;

	if (c->cfg.creds_source != AWS_CREDS_IMDS) {
		*cr = &c->cfg.creds;
		goto out;
	}
	if (c->imds_valid && !force &&
	    (c->imds.expires_at == 0 || now < c->imds.expires_at - CREDS_REFRESH_BEFORE_S ||
	     (now < c->imds_retry_at && now < c->imds.expires_at - CREDS_HARD_EXPIRY_S))) {
		*cr = &c->imds;
		goto out;
	}
	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	rc = imds_fetch(&c->cfg, fresh, eb);
	c->imds_retry_at = now + CREDS_RETRY_S;
	if (rc == RC_OK) {
		c->imds = *fresh;
		c->imds_valid = true;
	} else if (c->imds_valid && !force && now < c->imds.expires_at - CREDS_HARD_EXPIRY_S) {
		/* The refresh failed but the old credentials still have a while to live. */
		rc = RC_OK;
	}
	if (rc == RC_OK)
		*cr = &c->imds;
out:
	if (fresh != NULL)
		explicit_bzero(fresh, sizeof(*fresh));
	free(fresh);
	return rc;
}

