/* core.c — the AWS request core: environment and profile resolution, the credentials chain
 * (env, shared files, IMDSv2), SigV4 signing through CURLOPT_AWS_SIGV4 inside the subset that
 * libcurl 7.88 gets right (POST to "/", distinct headers, curl's own clock), retries with
 * full-jitter backoff, and the parsing and mapping of AWS errors to enum rc. */
#include "aws/core.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "config.h"
#include "jx.h"

#ifdef UNIT_TESTS
#include "aws/core_int.h"
#else
/* The same shape as core_int.h's, private to this file outside unit tests. */
struct aws_profile_vals {
	bool found;
	char key_id[AWS_KEY_ID_MAX];
	char secret[AWS_SECRET_MAX];
	char token[AWS_TOKEN_MAX];
	char region[AWS_REGION_MAX];
};
#endif

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_S "21600"
#define IMDS_RESPONSE_MAX (16 * 1024) /* token, role list or credentials document */
#define IMDS_ROLE_MAX 129             /* IAM role name, with NUL (AWS: up to 64) */
#define IMDS_TIMEOUT_MAX_S 60         /* AWS_METADATA_SERVICE_TIMEOUT upper bound */
/* Refresh IMDS credentials this long before they expire; keep using the old ones after a
 * failed refresh until this close to expiry. */
#define CREDS_REFRESH_BEFORE_S 600
#define CREDS_HARD_EXPIRY_S 60
/* Do not start an attempt with less time than this left in the budget. */
#define MIN_ATTEMPT_MS 200L
/* Abortable sleeps and transfers look at the abort flag this often. */
#define ABORT_POLL_MS 50L
/* curl waits this long for "100 Continue" before sending a body over 1 MiB anyway; we may
 * not strip the Expect header (7.88 would sign a header it does not send). */
#define EXPECT_100_TIMEOUT_MS 200L
#define ERROR_SNIPPET_MAX 100 /* bytes of an unparsable error body quoted in the message */
#define CTYPE_MAX 128         /* a caller's Content-Type value */

/* Per-service constants. */
struct svc_info {
	const char *name;          /* our stable name */
	const char *signing;       /* SigV4 service id */
	const char *host_prefix;   /* first label of the AWS host name */
	const char *env_suffix;    /* AWS_ENDPOINT_URL_<suffix> */
	const char *target_prefix; /* X-Amz-Target prefix, NULL for the Query protocol */
	const char *content_type;  /* default Content-Type of a request */
};

static const struct svc_info svc_table[AWS_SVC_COUNT] = {
	[AWS_SVC_DYNAMODB] = {"dynamodb", "dynamodb", "dynamodb", "DYNAMODB", "DynamoDB_20120810",
			      "application/x-amz-json-1.0"},
	[AWS_SVC_SNS] = {"sns", "sns", "sns", "SNS", NULL,
			 "application/x-www-form-urlencoded; charset=utf-8"},
	[AWS_SVC_SQS] = {"sqs", "sqs", "sqs", "SQS", "AmazonSQS", "application/x-amz-json-1.0"},
	[AWS_SVC_EVENTBRIDGE] = {"eventbridge", "events", "events", "EVENTBRIDGE", "AWSEvents",
				 "application/x-amz-json-1.1"},
	[AWS_SVC_SSM] = {"ssm", "ssm", "ssm", "SSM", "AmazonSSM", "application/x-amz-json-1.1"},
};

/* What the header callback keeps from one answer. */
struct hdr_capture {
	char request_id[AWS_REQUEST_ID_MAX]; /* x-amzn-RequestId or x-amz-request-id */
	char error_type[AWS_CODE_MAX];       /* x-amzn-ErrorType, up to the ':' */
	char query_error[AWS_CODE_MAX];      /* x-amzn-query-error, up to the ';' */
};

/* Where the write callback puts the body. */
struct body_sink {
	struct buf *buf; /* the destination, capped */
	bool too_large;  /* the cap was hit */
};

struct aws_client {
	struct aws_config cfg;        /* copied at creation */
	enum aws_service svc;         /* the one service this client talks to */
	CURL *curl;                   /* reused for every call: keeps the connection */
	uint64_t rng;                 /* xorshift64* state for backoff jitter */
	const atomic_bool *abort;     /* set by the owner to stop transfers; may be NULL */
	aws_observer_fn observe;      /* told the outcome of every call; may be NULL */
	void *observe_ud;
	struct aws_creds imds;        /* IMDS credentials, valid when imds_valid */
	bool imds_valid;              /* imds holds credentials fetched earlier */
	char sigv4[AWS_REGION_MAX + 32]; /* "aws:amz:<region>:<service>" */
	char url[AWS_URL_MAX + 1];    /* endpoint + "/" */
	char curl_err[CURL_ERROR_SIZE]; /* curl's message for the last failure */
	struct hdr_capture hc;        /* headers of the last answer */
	struct body_sink sink;        /* body of the last answer */
};

/* ---- small helpers ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies src into dst, truncating; never fails. Control characters become spaces so the
 * result is safe in a log line. */
static void copy_trunc(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i;

	if (dstsz == 0)
		return;
	if (n > dstsz - 1)
		n = dstsz - 1;
	for (i = 0; i < n && src[i] != '\0'; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
	dst[i] = '\0';
}

/* Copies src into dst, failing with RC_INVAL naming what if it does not fit. */
static enum rc copy_checked(char *dst, size_t dstsz, const char *src, const char *what,
			    struct errbuf *eb)
{
	size_t n = strlen(src);

	if (n >= dstsz)
		return eb_set(eb, RC_INVAL, "%s is too long (%zu bytes, limit %zu)", what, n,
			      dstsz - 1);
	memcpy(dst, src, n + 1);
	return RC_OK;
}

/* True when s is non-empty (or may be empty), shorter than max and printable ASCII: values
 * that go into header lines (tokens, key ids, content types). */
static bool header_value_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static const char *env_get(const struct aws_env *env, const char *name)
{
	const char *v = env->get(env->ctx, name);

	/* The SDKs treat an empty variable as unset. */
	return (v != NULL && v[0] != '\0') ? v : NULL;
}

static const char *process_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

struct aws_env aws_env_process(void)
{
	struct aws_env e = {process_getenv, NULL};

	return e;
}

const char *aws_service_name(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SVC_COUNT)
		return "unknown";
	return svc_table[svc].name;
}

const char *aws_service_signing_name(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SVC_COUNT)
		return "unknown";
	return svc_table[svc].signing;
}

enum rc aws_global_init(struct errbuf *eb)
{
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (cc != CURLE_OK)
		return eb_set(eb, RC_FATAL, "curl_global_init: %s", curl_easy_strerror(cc));
	xmlInitParser();
	return RC_OK;
}

void aws_global_cleanup(void)
{
	xmlCleanupParser();
	curl_global_cleanup();
}

/* ---- configuration ------------------------------------------------------------------ */

TESTABLE bool aws_region_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n >= AWS_REGION_MAX || !isalnum((unsigned char)r[0]) || r[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)r[i];

		if (!(islower(ch) || isdigit(ch) || ch == '-'))
			return false;
	}
	return true;
}

enum rc aws_endpoint_parse(const char *url, char out[AWS_URL_MAX], struct errbuf *eb)
{
	CURLU *u = NULL;
	char *scheme = NULL;
	char *host = NULL;
	char *port = NULL;
	char *path = NULL;
	char *part = NULL;
	CURLUcode uc;
	enum rc rc = RC_OK;
	int n;

	if (strlen(url) >= AWS_URL_MAX) {
		rc = eb_set(eb, RC_INVAL, "URL too long (limit %d bytes)", AWS_URL_MAX - 1);
		goto out;
	}
	for (const char *p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			rc = eb_set(eb, RC_INVAL, "URL \"%s\" contains a space or control character",
				    url);
			goto out;
		}
	}
	u = curl_url();
	if (u == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory parsing a URL");
		goto out;
	}
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		rc = eb_set(eb, RC_INVAL, "malformed URL \"%s\" (need scheme://host[:port])", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		rc = eb_set(eb, RC_INVAL, "URL \"%s\": scheme must be http or https", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		rc = eb_set(eb, RC_INVAL, "URL \"%s\" has no host", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		rc = eb_set(eb, RC_INVAL, "URL \"%s\" must not carry user information", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		rc = eb_set(eb, RC_INVAL, "URL \"%s\" must not have a query or fragment", url);
		goto out;
	}
	/* We only ever POST to "/": a path prefix would be signed wrongly by curl 7.88. */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0 &&
	    path[0] != '\0') {
		rc = eb_set(eb, RC_INVAL, "URL \"%s\" must not have a path (only \"/\")", url);
		goto out;
	}
	uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (uc == CURLUE_OK)
		n = snprintf(out, AWS_URL_MAX, "%s://%s:%s", scheme, host, port);
	else
		n = snprintf(out, AWS_URL_MAX, "%s://%s", scheme, host);
	if (n < 0 || n >= AWS_URL_MAX)
		rc = eb_set(eb, RC_INVAL, "URL \"%s\" too long", url);
out:
	curl_free(part);
	curl_free(path);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static bool span_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Copies the span into dst, RC_INVAL naming what:line when it does not fit. */
static enum rc span_copy(char *dst, size_t dstsz, const char *s, size_t n, const char *what,
			 int line, const char *key, struct errbuf *eb)
{
	if (n >= dstsz)
		return eb_set(eb, RC_INVAL, "%s:%d: %s is too long (limit %zu bytes)", what, line,
			      key, dstsz - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return RC_OK;
}

/* Reads the keys we use from [section] of an AWS shared credentials/config file (INI:
 * '#'/';' comments, "key = value", indented lines belong to nested sub-sections and are
 * skipped). Written by hand because inih caps lines at 200 bytes, shorter than a session
 * token. what names the file in errors. */
TESTABLE enum rc aws_ini_profile(const char *text, size_t len, const char *section,
				 struct aws_profile_vals *out, const char *what,
				 struct errbuf *eb)
{
	const char *p = text;
	const char *end = text + len;
	bool in_section = false;
	int line = 0;
	enum rc rc = RC_OK;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		const char *s = p;
		const char *e = eol != NULL ? eol : end;
		bool indented;

		line++;
		p = next;
		indented = s < e && (*s == ' ' || *s == '\t');
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *ns = s + 1;
			const char *ne = e;

			if (e[-1] != ']') {
				rc = eb_set(eb, RC_INVAL, "%s:%d: unterminated section header", what,
					    line);
				goto out;
			}
			ne = e - 1;
			while (ns < ne && isspace((unsigned char)*ns))
				ns++;
			while (ne > ns && isspace((unsigned char)ne[-1]))
				ne--;
			in_section = span_is(ns, (size_t)(ne - ns), section);
			if (in_section)
				out->found = true;
			continue;
		}
		if (!in_section || indented)
			continue;
		{
			const char *eq = memchr(s, '=', (size_t)(e - s));
			const char *ke;
			const char *vs;
			size_t kn;

			if (eq == NULL) {
				rc = eb_set(eb, RC_INVAL, "%s:%d: expected \"key = value\"", what, line);
				goto out;
			}
			ke = eq;
			while (ke > s && isspace((unsigned char)ke[-1]))
				ke--;
			vs = eq + 1;
			while (vs < e && isspace((unsigned char)*vs))
				vs++;
			kn = (size_t)(ke - s);
			if (span_is(s, kn, "aws_access_key_id"))
				rc = span_copy(out->key_id, sizeof(out->key_id), vs, (size_t)(e - vs),
					       what, line, "aws_access_key_id", eb);
			else if (span_is(s, kn, "aws_secret_access_key"))
				rc = span_copy(out->secret, sizeof(out->secret), vs, (size_t)(e - vs),
					       what, line, "aws_secret_access_key", eb);
			else if (span_is(s, kn, "aws_session_token"))
				rc = span_copy(out->token, sizeof(out->token), vs, (size_t)(e - vs),
					       what, line, "aws_session_token", eb);
			else if (span_is(s, kn, "region"))
				rc = span_copy(out->region, sizeof(out->region), vs, (size_t)(e - vs),
					       what, line, "region", eb);
			if (rc != RC_OK)
				goto out;
		}
	}
out:
	return rc;
}

/* Reads a small file whole. A missing file is not an error: *exists says. */
static enum rc read_small_file(const char *path, struct buf *out, bool *exists,
			       struct errbuf *eb)
{
	int fd = -1;
	struct stat st;
	char chunk[4096];
	enum rc rc = RC_OK;

	*exists = false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			goto out;
		rc = eb_set(eb, RC_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	*exists = true;
	if (fstat(fd, &st) != 0) {
		rc = eb_set(eb, RC_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* a character device is allowed so /dev/null can say "no file", as the SDKs take it;
	 * reads are capped by the buffer either way */
	if (!(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) || st.st_size > AWS_FILE_MAX) {
		rc = eb_set(eb, RC_INVAL, "%s: not a regular file of at most %d bytes", path,
			    AWS_FILE_MAX);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = eb_set(eb, RC_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_append(out, chunk, (size_t)n);
		if (rc != RC_OK) {
			eb_set(eb, rc, "%s: larger than %d bytes", path, AWS_FILE_MAX);
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Loads [section] (and, when alt is not NULL, [alt] if section is absent) from path. */
static enum rc load_profile(const char *path, const char *section, const char *alt,
			    struct aws_profile_vals *vals, struct errbuf *eb)
{
	struct buf text;
	bool exists = false;
	enum rc rc;

	buf_init(&text, AWS_FILE_MAX);
	memset(vals, 0, sizeof(*vals));
	rc = read_small_file(path, &text, &exists, eb);
	if (rc != RC_OK || !exists)
		goto out;
	rc = aws_ini_profile(buf_str(&text), text.len, section, vals, path, eb);
	if (rc == RC_OK && !vals->found && alt != NULL)
		rc = aws_ini_profile(buf_str(&text), text.len, alt, vals, path, eb);
out:
	buf_cleanup(&text);
	return rc;
}

/* Builds "<dir>/<rel>" from HOME into out; false when HOME is unset or too long. */
static bool home_path(const struct aws_env *env, const char *rel, char out[AWS_PATH_MAX])
{
	const char *home = env_get(env, "HOME");
	int n;

	if (home == NULL)
		return false;
	n = snprintf(out, AWS_PATH_MAX, "%s/%s", home, rel);
	return n > 0 && n < AWS_PATH_MAX;
}

/* Parses a decimal integer in [lo, hi] from a whole string. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static enum rc resolve_region(struct aws_config *cfg, const struct aws_env *env,
			      const struct aws_profile_vals *cfgvals, const char *config_path,
			      struct errbuf *eb)
{
	const char *v = env_get(env, "AWS_REGION");
	const char *what = "AWS_REGION";

	if (v == NULL) {
		v = env_get(env, "AWS_DEFAULT_REGION");
		what = "AWS_DEFAULT_REGION";
	}
	if (v == NULL && cfgvals->region[0] != '\0') {
		v = cfgvals->region;
		what = config_path;
	}
	if (v == NULL)
		return eb_set(eb, RC_INVAL,
			      "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in "
			      "profile \"%s\" of %s)",
			      cfg->profile, config_path[0] != '\0' ? config_path : "~/.aws/config");
	if (!aws_region_valid(v))
		return eb_set(eb, RC_INVAL, "%s: \"%s\" is not a region name", what, v);
	return copy_checked(cfg->region, sizeof(cfg->region), v, what, eb);
}

static enum rc resolve_endpoints(struct aws_config *cfg, const struct aws_env *env,
				 struct errbuf *eb)
{
	const char *global = env_get(env, "AWS_ENDPOINT_URL");
	const char *dns_suffix = strncmp(cfg->region, "cn-", 3) == 0 ? "amazonaws.com.cn"
								      : "amazonaws.com";
	enum rc rc = RC_OK;

	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		char var[64];
		const char *v;
		const char *what;

		snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", svc_table[s].env_suffix);
		v = env_get(env, var);
		what = var;
		if (v == NULL) {
			v = global;
			what = "AWS_ENDPOINT_URL";
		}
		if (v != NULL) {
			rc = aws_endpoint_parse(v, cfg->endpoint[s], eb);
			if (rc != RC_OK) {
				eb_prefix(eb, "%s", what);
				return rc;
			}
			cfg->endpoint_overridden[s] = true;
		} else {
			snprintf(cfg->endpoint[s], AWS_URL_MAX, "https://%s.%s.%s",
				 svc_table[s].host_prefix, cfg->region, dns_suffix);
			cfg->endpoint_overridden[s] = false;
		}
	}
	return rc;
}

static enum rc creds_from_vals(struct aws_creds *cr, const struct aws_profile_vals *v,
			       const char *what, struct errbuf *eb)
{
	enum rc rc;

	if (!header_value_valid(v->key_id, sizeof(cr->access_key_id)) ||
	    !header_value_valid(v->secret, sizeof(cr->secret_access_key)) ||
	    !header_value_valid(v->token, sizeof(cr->session_token)))
		return eb_set(eb, RC_INVAL, "%s: credentials must be printable ASCII", what);
	rc = copy_checked(cr->access_key_id, sizeof(cr->access_key_id), v->key_id, what, eb);
	if (rc == RC_OK)
		rc = copy_checked(cr->secret_access_key, sizeof(cr->secret_access_key), v->secret,
				  what, eb);
	if (rc == RC_OK)
		rc = copy_checked(cr->session_token, sizeof(cr->session_token), v->token, what,
				  eb);
	cr->expires_at = 0;
	return rc;
}

static enum rc resolve_creds(struct aws_config *cfg, const struct aws_env *env,
			     const struct aws_profile_vals *credvals, const char *cred_path,
			     const struct aws_profile_vals *cfgvals, const char *config_path,
			     struct errbuf *eb)
{
	const char *ak = env_get(env, "AWS_ACCESS_KEY_ID");
	const char *sk = env_get(env, "AWS_SECRET_ACCESS_KEY");
	const char *tok = env_get(env, "AWS_SESSION_TOKEN");
	const char *disabled = env_get(env, "AWS_EC2_METADATA_DISABLED");
	const struct aws_profile_vals *fv = NULL;
	const char *fpath = NULL;
	enum rc rc;

	if ((ak == NULL) != (sk == NULL))
		return eb_set(eb, RC_INVAL, "%s is set but %s is not",
			      ak != NULL ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			      ak != NULL ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (ak != NULL) {
		struct aws_profile_vals v;

		memset(&v, 0, sizeof(v));
		rc = copy_checked(v.key_id, sizeof(v.key_id), ak, "AWS_ACCESS_KEY_ID", eb);
		if (rc == RC_OK)
			rc = copy_checked(v.secret, sizeof(v.secret), sk, "AWS_SECRET_ACCESS_KEY",
					  eb);
		if (rc == RC_OK && tok != NULL)
			rc = copy_checked(v.token, sizeof(v.token), tok, "AWS_SESSION_TOKEN", eb);
		if (rc == RC_OK)
			rc = creds_from_vals(&cfg->creds, &v, "AWS_ACCESS_KEY_ID", eb);
		if (rc == RC_OK)
			cfg->creds_source = AWS_CREDS_ENV;
		return rc;
	}
	if (credvals->key_id[0] != '\0' || credvals->secret[0] != '\0') {
		fv = credvals;
		fpath = cred_path;
	} else if (cfgvals->key_id[0] != '\0' || cfgvals->secret[0] != '\0') {
		fv = cfgvals;
		fpath = config_path;
	}
	if (fv != NULL) {
		if (fv->key_id[0] == '\0' || fv->secret[0] == '\0')
			return eb_set(eb, RC_INVAL,
				      "%s: profile \"%s\" needs both aws_access_key_id and "
				      "aws_secret_access_key",
				      fpath, cfg->profile);
		rc = creds_from_vals(&cfg->creds, fv, fpath, eb);
		if (rc == RC_OK)
			cfg->creds_source = AWS_CREDS_FILE;
		return rc;
	}
	if (disabled != NULL && strcasecmp(disabled, "true") == 0)
		return eb_set(eb, RC_INVAL,
			      "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
			      "profile \"%s\" in the shared credentials file "
			      "(instance metadata is disabled by AWS_EC2_METADATA_DISABLED)",
			      cfg->profile);
	cfg->creds_source = AWS_CREDS_IMDS;
	return RC_OK;
}

static enum rc resolve_imds(struct aws_config *cfg, const struct aws_env *env,
			    struct errbuf *eb)
{
	const char *ep = env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *to = env_get(env, "AWS_METADATA_SERVICE_TIMEOUT");
	enum rc rc;
	long secs;

	rc = aws_endpoint_parse(ep != NULL ? ep : IMDS_DEFAULT_ENDPOINT, cfg->imds_endpoint, eb);
	if (rc != RC_OK) {
		eb_prefix(eb, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
		return rc;
	}
	cfg->imds_timeout_ms = AWS_DEFAULT_IMDS_TIMEOUT_MS;
	if (to != NULL) {
		if (!parse_long(to, 1, IMDS_TIMEOUT_MAX_S, &secs))
			return eb_set(eb, RC_INVAL,
				      "AWS_METADATA_SERVICE_TIMEOUT: \"%s\" is not 1..%d seconds", to,
				      IMDS_TIMEOUT_MAX_S);
		cfg->imds_timeout_ms = secs * 1000;
	}
	return RC_OK;
}

enum rc aws_config_from_env(struct aws_config *cfg, const struct aws_env *env,
			    struct errbuf *eb)
{
	struct aws_profile_vals *credvals = NULL;
	struct aws_profile_vals *cfgvals = NULL;
	char cred_path[AWS_PATH_MAX] = "";
	char config_path[AWS_PATH_MAX] = "";
	char section[AWS_PROFILE_MAX + 16];
	const char *v;
	bool explicit_profile;
	enum rc rc;
	long n;

	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = AWS_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->request_timeout_ms = AWS_DEFAULT_REQUEST_TIMEOUT_MS;
	cfg->max_attempts = AWS_DEFAULT_MAX_ATTEMPTS;
	cfg->retry_budget_ms = AWS_DEFAULT_RETRY_BUDGET_MS;
	cfg->backoff_base_ms = AWS_DEFAULT_BACKOFF_BASE_MS;
	cfg->backoff_max_ms = AWS_DEFAULT_BACKOFF_MAX_MS;
	cfg->imds_timeout_ms = AWS_DEFAULT_IMDS_TIMEOUT_MS;

	/* Big (two tokens each): keep them off the stack of small daemon threads. */
	credvals = calloc(1, sizeof(*credvals));
	cfgvals = calloc(1, sizeof(*cfgvals));
	if (credvals == NULL || cfgvals == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory resolving the AWS config");
		goto out;
	}

	v = env_get(env, "AWS_PROFILE");
	if (v == NULL)
		v = env_get(env, "AWS_DEFAULT_PROFILE");
	explicit_profile = v != NULL;
	rc = copy_checked(cfg->profile, sizeof(cfg->profile), v != NULL ? v : "default",
			  "AWS_PROFILE", eb);
	if (rc != RC_OK)
		goto out;

	v = env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
	if (v != NULL)
		rc = copy_checked(cred_path, sizeof(cred_path), v, "AWS_SHARED_CREDENTIALS_FILE",
				  eb);
	else if (!home_path(env, ".aws/credentials", cred_path))
		cred_path[0] = '\0';
	if (rc != RC_OK)
		goto out;
	v = env_get(env, "AWS_CONFIG_FILE");
	if (v != NULL)
		rc = copy_checked(config_path, sizeof(config_path), v, "AWS_CONFIG_FILE", eb);
	else if (!home_path(env, ".aws/config", config_path))
		config_path[0] = '\0';
	if (rc != RC_OK)
		goto out;

	if (cred_path[0] != '\0') {
		rc = load_profile(cred_path, cfg->profile, NULL, credvals, eb);
		if (rc != RC_OK)
			goto out;
	}
	if (config_path[0] != '\0') {
		/* The config file names sections "[profile x]", except "[default]". */
		snprintf(section, sizeof(section), "profile %s", cfg->profile);
		rc = load_profile(config_path, section,
				  strcmp(cfg->profile, "default") == 0 ? "default" : NULL, cfgvals,
				  eb);
		if (rc != RC_OK)
			goto out;
	}
	if (explicit_profile && !credvals->found && !cfgvals->found) {
		rc = eb_set(eb, RC_INVAL, "AWS_PROFILE: profile \"%s\" not found in %s or %s",
			    cfg->profile, cred_path[0] != '\0' ? cred_path : "(no credentials file)",
			    config_path[0] != '\0' ? config_path : "(no config file)");
		goto out;
	}

	rc = resolve_region(cfg, env, cfgvals, config_path, eb);
	if (rc != RC_OK)
		goto out;
	rc = resolve_endpoints(cfg, env, eb);
	if (rc != RC_OK)
		goto out;
	rc = resolve_creds(cfg, env, credvals, cred_path, cfgvals, config_path, eb);
	if (rc != RC_OK)
		goto out;
	rc = resolve_imds(cfg, env, eb);
	if (rc != RC_OK)
		goto out;
	v = env_get(env, "AWS_MAX_ATTEMPTS");
	if (v != NULL) {
		if (!parse_long(v, 1, AWS_MAX_ATTEMPTS_LIMIT, &n)) {
			rc = eb_set(eb, RC_INVAL, "AWS_MAX_ATTEMPTS: \"%s\" is not 1..%d", v,
				    AWS_MAX_ATTEMPTS_LIMIT);
			goto out;
		}
		cfg->max_attempts = (int)n;
	}
out:
	if (credvals != NULL)
		explicit_bzero(credvals, sizeof(*credvals));
	if (cfgvals != NULL)
		explicit_bzero(cfgvals, sizeof(*cfgvals));
	free(credvals);
	free(cfgvals);
	return rc;
}

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
TESTABLE enum rc aws_classify(enum aws_service svc, CURLcode cc, long status, const char *code,
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
	copy_trunc(err->operation, sizeof(err->operation), op, strlen(op));
	copy_trunc(err->code, sizeof(err->code), code, strlen(code));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->rc = rc;
	return rc;
}

static bool is_expired_token(const char *code)
{
	return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0;
}

/* Keeps the part of an AWS type name that is the code: "com.amazonaws.sqs#QueueDoesNotExist"
 * and "ValidationException:http://internal..." both give the bare name. */
static void copy_code(char code[AWS_CODE_MAX], const char *s)
{
	const char *hash = strrchr(s, '#');
	size_t n;

	if (hash != NULL)
		s = hash + 1;
	n = strcspn(s, ":;");
	copy_trunc(code, AWS_CODE_MAX, s, n);
}

static const char *json_str_field(struct json_object *o, const char *const *names)
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
	s = json_str_field(o, type_names);
	if (s != NULL) {
		copy_code(code, s);
		ok = code[0] != '\0';
	}
	s = json_str_field(o, msg_names);
	if (s != NULL)
		copy_trunc(message, AWS_MESSAGE_MAX, s, strlen(s));
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return ok;
}

xmlNode *aws_xml_find(xmlNode *n, const char *name)
{
	for (; n != NULL; n = n->next) {
		xmlNode *hit;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, name) == 0)
			return n;
		hit = aws_xml_find(n->children, name);
		if (hit != NULL)
			return hit;
	}
	return NULL;
}

static void xml_copy_text(xmlNode *n, char *dst, size_t dstsz)
{
	xmlChar *t;

	if (n == NULL)
		return;
	t = xmlNodeGetContent(n);
	if (t != NULL) {
		/* Trim: pretty-printed answers carry the indentation. */
		const char *s = (const char *)t;
		size_t len;

		while (isspace((unsigned char)*s))
			s++;
		len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		copy_trunc(dst, dstsz, s, len);
	}
	xmlFree(t);
}

static bool parse_xml_error(const char *body, size_t len, char code[AWS_CODE_MAX],
			    char message[AWS_MESSAGE_MAX], char request_id[AWS_REQUEST_ID_MAX])
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	xmlNode *err;
	bool ok = false;

	/* No network, no entity expansion, no noise on stderr. */
	doc = xmlReadMemory(body, (int)len, "error.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		goto out;
	root = xmlDocGetRootElement(doc);
	err = aws_xml_find(root, "Error");
	if (err == NULL)
		goto out;
	xml_copy_text(aws_xml_find(err->children, "Code"), code, AWS_CODE_MAX);
	xml_copy_text(aws_xml_find(err->children, "Message"), message, AWS_MESSAGE_MAX);
	if (request_id[0] == '\0')
		xml_copy_text(aws_xml_find(root, "RequestId"), request_id, AWS_REQUEST_ID_MAX);
	ok = code[0] != '\0';
out:
	xmlFreeDoc(doc);
	return ok;
}

/* Reads the AWS code, message and request id from an error body (JSON protocols: __type +
 * message; Query protocol: <ErrorResponse><Error><Code>). Leaves them "" and returns false
 * for anything else (HTML, truncated, empty). */
TESTABLE bool aws_parse_error_body(const char *body, size_t len, char code[AWS_CODE_MAX],
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
static void describe_unparsable(const struct buf *body, long status, char *dst, size_t dstsz)
{
	char snippet[ERROR_SNIPPET_MAX + 1];

	copy_trunc(snippet, sizeof(snippet), buf_str(body), body->len);
	if (body->len == 0)
		snprintf(dst, dstsz, "HTTP %ld with an empty body", status);
	else
		snprintf(dst, dstsz, "HTTP %ld with an unparsable %zu-byte body: %s%s", status,
			 body->len, snippet, body->len > ERROR_SNIPPET_MAX ? "..." : "");
}

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
	code = json_str_field(o, code_n);
	ak = json_str_field(o, ak_n);
	sk = json_str_field(o, sk_n);
	st = json_str_field(o, tok_n);
	exp = json_str_field(o, exp_n);
	if (code != NULL && strcmp(code, "Success") != 0) {
		rc = eb_set(eb, RC_IO, "IMDS credentials: Code is \"%.64s\"", code);
		goto out;
	}
	if (ak == NULL || sk == NULL || ak[0] == '\0' || sk[0] == '\0') {
		rc = eb_set(eb, RC_IO, "IMDS credentials: AccessKeyId or SecretAccessKey missing");
		goto out;
	}
	rc = copy_checked(out->access_key_id, sizeof(out->access_key_id), ak,
			  "IMDS AccessKeyId", eb);
	if (rc == RC_OK)
		rc = copy_checked(out->secret_access_key, sizeof(out->secret_access_key), sk,
				  "IMDS SecretAccessKey", eb);
	if (rc == RC_OK && st != NULL)
		rc = copy_checked(out->session_token, sizeof(out->session_token), st, "IMDS Token",
				  eb);
	if (rc != RC_OK)
		goto out;
	if (!header_value_valid(out->access_key_id, sizeof(out->access_key_id)) ||
	    !header_value_valid(out->secret_access_key, sizeof(out->secret_access_key)) ||
	    !header_value_valid(out->session_token, sizeof(out->session_token))) {
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

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
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
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
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
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_cleanup(&b);
	return rc;
}

/* The credentials for the next attempt: static ones, or IMDS ones fetched or refreshed
 * when missing, close to expiry or rejected as expired (force). */
static enum rc client_creds(struct aws_client *c, bool force, const struct aws_creds **cr,
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
	    (c->imds.expires_at == 0 || now < c->imds.expires_at - CREDS_REFRESH_BEFORE_S)) {
		*cr = &c->imds;
		goto out;
	}
	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory");
		goto out;
	}
	rc = imds_fetch(&c->cfg, fresh, eb);
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

/* ---- the client --------------------------------------------------------------------- */

TESTABLE uint64_t aws_rng_next(uint64_t *state)
{
	uint64_t x = *state;

	/* xorshift64*: fast, good enough for jitter, and the state stays in the client. */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

/* Full jitter: a uniform delay in [0, min(max, base * 2^(attempt-1))]; attempt >= 1 is the
 * attempt that just failed. */
TESTABLE long aws_backoff_ms(uint64_t *rng, int attempt, long base_ms, long max_ms)
{
	long ceiling = base_ms;

	for (int i = 1; i < attempt && ceiling < max_ms; i++)
		ceiling *= 2;
	if (ceiling > max_ms)
		ceiling = max_ms;
	if (ceiling <= 0)
		return 0;
	return (long)(aws_rng_next(rng) % (uint64_t)(ceiling + 1));
}

static uint64_t rng_seed(const void *salt)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* No entropy yet (early boot): jitter only needs to differ between clients. */
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
		       (uint64_t)(uintptr_t)salt;
	}
	return seed != 0 ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

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
		copy_trunc(hc->request_id, sizeof(hc->request_id), v, vn);
	else if (header_is(line, n, "x-amzn-ErrorType", &v, &vn))
		copy_trunc(hc->error_type, sizeof(hc->error_type), v, span_until(v, vn, ':'));
	else if (header_is(line, n, "x-amzn-query-error", &v, &vn))
		copy_trunc(hc->query_error, sizeof(hc->query_error), v, span_until(v, vn, ';'));
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

	if ((unsigned)svc >= AWS_SVC_COUNT || cfg->region[0] == '\0' ||
	    cfg->endpoint[svc][0] == '\0') {
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
	c->rng = rng_seed(c);
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:%s", cfg->region, svc_table[svc].signing);
	snprintf(c->url, sizeof(c->url), "%s/", cfg->endpoint[svc]);
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		eb_set(eb, RC_FATAL, "curl_easy_init failed");
		goto out;
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink_write);
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
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};

		if (aborted(c))
			return false;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
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
	if (svc_table[c->svc].target_prefix != NULL) {
		snprintf(line, tlen + AWS_OP_MAX + 256, "X-Amz-Target: %s.%s",
			 svc_table[c->svc].target_prefix, target);
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
	copy_trunc(err->request_id, sizeof(err->request_id), c->hc.request_id,
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
			copy_trunc(err->message, sizeof(err->message), msg, strlen(msg));
		}
		return;
	}
	if (!aws_parse_error_body(buf_str(&out->body), out->body.len, err->code, err->message,
				  err->request_id)) {
		/* The headers may still name the error (JSON services send x-amzn-ErrorType). */
		if (c->hc.error_type[0] != '\0')
			copy_code(err->code, c->hc.error_type);
		else if (c->hc.query_error[0] != '\0')
			copy_code(err->code, c->hc.query_error);
		if (err->code[0] == '\0')
			snprintf(err->code, sizeof(err->code), "HttpError");
		describe_unparsable(&out->body, status, err->message, sizeof(err->message));
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
	copy_trunc(err->operation, sizeof(err->operation), target_or_action,
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
		content_type = svc_table[c->svc].content_type;
	/* Both end up in header lines: no room for CR/LF or other surprises. */
	if (!op_valid(target_or_action) || !header_value_valid(content_type, CTYPE_MAX)) {
		rc = aws_error_local(err, c->svc, target_or_action, RC_INVAL, "InvalidArgument",
				     "operation must be 1-%d letters and digits, content type "
				     "printable and under %d bytes",
				     AWS_OP_MAX - 1, CTYPE_MAX);
		goto out;
	}
	/* The first attempt always gets its full timeout, whatever the budget. */
	if (budget < req_timeout)
		budget = req_timeout;
	start = now_ms();
	deadline = start + budget;

	for (int attempt = 1;; attempt++) {
		const struct aws_creds *cr = NULL;
		struct errbuf ceb = {{0}};
		int64_t remaining = deadline - now_ms();
		long timeout = req_timeout < remaining ? req_timeout : (long)remaining;
		long connect = c->cfg.connect_timeout_ms < timeout ? c->cfg.connect_timeout_ms
								   : timeout;
		bool retry = false;
		CURLcode cc;
		long status = 0;

		err->attempts = attempt;
		rc = client_creds(c, force_refresh, &cr, &ceb);
		force_refresh = false;
		if (rc != RC_OK) {
			err->http_status = 0;
			snprintf(err->code, sizeof(err->code), "CredentialsError");
			copy_trunc(err->message, sizeof(err->message), ceb.msg, strlen(ceb.msg));
			retry = rc == RC_IO || rc == RC_TIMEOUT;
		} else {
			cc = perform_once(c, cr, target_or_action, content_type, body, len, timeout,
					  connect, out, &status);
			out->status = status;
			copy_trunc(out->request_id, sizeof(out->request_id), c->hc.request_id,
				   sizeof(c->hc.request_id));
			if (cc == CURLE_OK && status >= 200 && status < 300) {
				/* Earlier failed attempts leave no trace in err. */
				err->http_status = status;
				err->code[0] = '\0';
				err->message[0] = '\0';
				copy_trunc(err->request_id, sizeof(err->request_id),
					   c->hc.request_id, sizeof(c->hc.request_id));
				rc = RC_OK;
				err->rc = RC_OK;
				goto out;
			}
			fill_error(c, cc, status, out, err);
			rc = aws_classify(c->svc, cc, status, err->code, &retry);
			/* Temporary credentials expired under us: fetch new ones once. */
			if (cc == CURLE_OK && is_expired_token(err->code) &&
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
			long delay = aws_backoff_ms(&c->rng, attempt, c->cfg.backoff_base_ms,
						    c->cfg.backoff_max_ms);

			if (now_ms() + delay + MIN_ATTEMPT_MS > deadline)
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
	struct json_tokener *tok = NULL;
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
		copy_trunc(err->operation, sizeof(err->operation), op, strlen(op));
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
	tok = json_tokener_new_ex(AWS_JSON_DEPTH_MAX);
	if (tok == NULL) {
		rc = err->rc = RC_NOMEM;
		goto out;
	}
	o = json_tokener_parse_ex(tok, resp.body.data, (int)resp.body.len);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    json_tokener_get_parse_end(tok) < resp.body.len) {
		size_t end = json_tokener_get_parse_end(tok);
		bool trailing_ws = o != NULL;

		for (size_t k = end; trailing_ws && k < resp.body.len; k++)
			trailing_ws = isspace((unsigned char)resp.body.data[k]) != 0;
		if (o == NULL || !json_object_is_type(o, json_type_object) || !trailing_ws) {
			err->http_status = resp.status;
			snprintf(err->code, sizeof(err->code), "MalformedResponse");
			describe_unparsable(&resp.body, resp.status, err->message,
					    sizeof(err->message));
			rc = err->rc = RC_IO;
			goto out;
		}
	}
done:
	*out = o;
	o = NULL;
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	aws_response_cleanup(&resp);
	return rc;
}

/* ---- for the service modules -------------------------------------------------------- */

void *aws_svc_client_new(size_t size, const struct aws_config *cfg, enum aws_service svc,
			 struct errbuf *eb)
{
	struct aws_svc_client *sc = NULL;

	if (size < sizeof(*sc)) {
		eb_set(eb, RC_FATAL, "aws_svc_client_new: %zu bytes cannot hold a client", size);
		return NULL;
	}
	sc = calloc(1, size);
	if (sc == NULL) {
		eb_set(eb, RC_NOMEM, "%s client: out of memory", aws_service_name(svc));
		return NULL;
	}
	sc->aws = aws_client_new(cfg, svc, eb);
	if (sc->aws == NULL) {
		free(sc);
		return NULL;
	}
	sc->last.service = svc;
	return sc;
}

void aws_svc_client_free(void *client)
{
	struct aws_svc_client *sc = client;

	if (sc == NULL)
		return;
	aws_client_free(sc->aws);
	free(sc);
}

/* Zeroes bytes we own through a const pointer (json-c hands out a const view of the text it
 * keeps in the request object). */
static void wipe(const char *s, size_t n)
{
	if (s != NULL)
		explicit_bzero((void *)(uintptr_t)s, n);
}

/* An answer body as one JSON object; an empty body is an empty object. RC_INVAL when it is
 * anything else. */
static enum rc parse_answer(const struct buf *body, struct json_object **out)
{
	enum rc rc;

	*out = NULL;
	if (body->len == 0) {
		*out = json_object_new_object();
		return *out != NULL ? RC_OK : RC_NOMEM;
	}
	rc = jx_parse(body->data, body->len, AWS_RESPONSE_MAX, AWS_JSON_DEPTH_MAX, out, NULL);
	if (rc == RC_OK && !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		rc = RC_INVAL;
	}
	return rc;
}

enum rc aws_svc_call(struct aws_svc_client *sc, const char *op, struct json_object *req,
		     const struct aws_svc_call_opts *opts, struct json_object **out,
		     struct errbuf *eb)
{
	static const struct aws_svc_call_opts none = {false, NULL};
	const char *name = aws_service_name(aws_client_service(sc->aws));
	struct aws_response resp;
	const char *text;
	size_t tlen = 0;
	enum rc rc;

	*out = NULL;
	if (opts == NULL)
		opts = &none;
	if (opts->conflict_body != NULL)
		*opts->conflict_body = NULL;
	aws_response_init(&resp);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		rc = eb_set(eb, RC_NOMEM, "%s %s: out of memory", name, op);
		goto out;
	}
	tlen = strlen(text);
	rc = aws_call(sc->aws, op, NULL, text, tlen, &resp, &sc->last);
	if (rc != RC_OK) {
		aws_error_to_eb(&sc->last, eb);
		/* A failed DynamoDB condition carries the old item in the error answer. */
		if (rc == RC_CONFLICT && opts->conflict_body != NULL && resp.body.len > 0 &&
		    parse_answer(&resp.body, opts->conflict_body) != RC_OK)
			*opts->conflict_body = NULL;
		goto out;
	}
	rc = parse_answer(&resp.body, out);
	if (rc == RC_INVAL)
		rc = eb_set(eb, RC_IO, "%s %s: the answer is not a JSON object", name, op);
	else if (rc != RC_OK)
		eb_set(eb, rc, "%s %s: out of memory", name, op);
out:
	if (opts->secret) {
		wipe(text, tlen);
		wipe(resp.body.data, resp.body.len);
	}
	aws_response_cleanup(&resp);
	return rc;
}

void aws_copy_member(struct json_object *o, const char *key, char *dst, size_t size)
{
	struct json_object *v = NULL;

	dst[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

void aws_pairs_clear(char ***names, char ***values, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*names)[i]);
		free((*values)[i]);
	}
	free(*names);
	free(*values);
	*names = NULL;
	*values = NULL;
	*n = 0;
}

const char *aws_pairs_get(char *const *names, char *const *values, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return values[i];
	return NULL;
}
