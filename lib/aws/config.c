/* config.c — aws_config from the environment, as the AWS SDKs resolve it: region, endpoints
 * (AWS_ENDPOINT_URL[_<SVC>]), the credentials chain (env, shared files, IMDSv2 settings), retry
 * settings. Touches no network. */
#include "aws/core.h"
#include "aws/core_priv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jx.h"
#include "base/str.h"

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
	const char *assume;
	bool process;
};
#endif

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TIMEOUT_MAX_S 60         /* AWS_METADATA_SERVICE_TIMEOUT upper bound */

/* ---- configuration ------------------------------------------------------------------ */

bool aws_region_valid(const char *r)
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

/* Profile keys naming a credential source that botocore tries before a profile's static
 * keys and that we do not implement: role_arn (with source_profile or credential_source),
 * web identity and IAM Identity Center (SSO). A profile with one is refused, not skipped. */
static const char *const assume_keys[] = {
	"role_arn",       "web_identity_token_file", "sso_session", "sso_start_url",
	"sso_account_id", "sso_role_name",           "sso_region",
};

/* Notes in out a key of an unsupported source (see assume_keys, credential_process). */
static void note_unsupported(struct aws_profile_vals *out, const char *k, size_t kn)
{
	if (span_is(k, kn, "credential_process")) {
		out->process = true;
		return;
	}
	for (size_t i = 0; i < sizeof(assume_keys) / sizeof(assume_keys[0]); i++)
		if (out->assume == NULL && span_is(k, kn, assume_keys[i]))
			out->assume = assume_keys[i];
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
			else
				note_unsupported(out, s, kn);
			if (rc != RC_OK)
				goto out;
		}
	}
out:
	return rc;
}

/* Reads a small file whole. A missing file is not an error: *exists says. RC_IO when it
 * exists but cannot be read (EACCES, a directory, a read error), RC_INVAL when it is not a
 * file or too large. */
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
	if (S_ISDIR(st.st_mode)) {
		rc = eb_set(eb, RC_IO, "%s: %s", path, strerror(EISDIR));
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

/* Loads [section] (and, when alt is not NULL, [alt] if section is absent) from path. A
 * file that exists but cannot be read is an error only when needed; otherwise vals stays
 * empty, as for a missing file (botocore ignores such files), and notice says why. */
static enum rc load_profile(const char *path, const char *section, const char *alt,
			    bool needed, struct aws_profile_vals *vals, char notice[AWS_NOTICE_MAX],
			    struct errbuf *eb)
{
	struct buf text;
	bool exists = false;
	struct errbuf why = {{0}};
	enum rc rc;

	buf_init(&text, AWS_FILE_MAX);
	buf_set_secret(&text); /* a credentials file holds keys */
	memset(vals, 0, sizeof(*vals));
	rc = read_small_file(path, &text, &exists, &why);
	if (rc == RC_IO && !needed) {
		if (notice[0] == '\0')
			str_cut(notice, AWS_NOTICE_MAX, "%s; passed over: not needed", why.msg);
		rc = RC_OK;
		goto out;
	}
	if (rc != RC_OK) {
		eb_set(eb, rc, "%s", why.msg);
		goto out;
	}
	if (!exists)
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
	const char *home = aws_env_get(env, "HOME");
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
	const char *v = aws_env_get(env, "AWS_REGION");
	const char *what = "AWS_REGION";

	if (v == NULL) {
		v = aws_env_get(env, "AWS_DEFAULT_REGION");
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
	return aws_copy_checked(cfg->region, sizeof(cfg->region), v, what, eb);
}

/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (the SDK convention) drops every configured
 * endpoint, the config file's [aws] endpoint_url included (it reaches us as
 * AWS_ENDPOINT_URL). Anything but true/false is refused: read as false, a typo would send
 * a test to its local endpoint, read as true, a local setup to real AWS. */
static enum rc resolve_endpoints(struct aws_config *cfg, const struct aws_env *env,
				 struct errbuf *eb)
{
	const char *ignore = aws_env_get(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *global = aws_env_get(env, "AWS_ENDPOINT_URL");
	const char *dns_suffix = strncmp(cfg->region, "cn-", 3) == 0 ? "amazonaws.com.cn"
								      : "amazonaws.com";
	bool configured = ignore == NULL || strcasecmp(ignore, "false") == 0;
	enum rc rc = RC_OK;

	if (!configured && strcasecmp(ignore, "true") != 0)
		return eb_set(eb, RC_INVAL,
			      "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: \"%s\" is not true or false",
			      ignore);

	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		char var[64];
		const char *v;
		const char *what;

		snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", aws_svc_table[s].env_suffix);
		v = configured ? aws_env_get(env, var) : NULL;
		what = var;
		if (v == NULL && configured) {
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
				 aws_svc_table[s].host_prefix, cfg->region, dns_suffix);
			cfg->endpoint_overridden[s] = false;
		}
	}
	return rc;
}

static enum rc creds_from_vals(struct aws_creds *cr, const struct aws_profile_vals *v,
			       const char *what, struct errbuf *eb)
{
	enum rc rc;

	if (!aws_header_value_valid(v->key_id, sizeof(cr->access_key_id)) ||
	    !aws_header_value_valid(v->secret, sizeof(cr->secret_access_key)) ||
	    !aws_header_value_valid(v->token, sizeof(cr->session_token)))
		return eb_set(eb, RC_INVAL, "%s: credentials must be printable ASCII", what);
	rc = aws_copy_checked(cr->access_key_id, sizeof(cr->access_key_id), v->key_id, what, eb);
	if (rc == RC_OK)
		rc = aws_copy_checked(cr->secret_access_key, sizeof(cr->secret_access_key), v->secret,
				  what, eb);
	if (rc == RC_OK)
		rc = aws_copy_checked(cr->session_token, sizeof(cr->session_token), v->token, what,
				  eb);
	cr->expires_at = 0;
	return rc;
}

/* The one-line refusal of a credential source we do not implement. */
static enum rc refuse_profile(const char *profile, const char *path, const char *key,
			      struct errbuf *eb)
{
	return eb_set(eb, RC_INVAL,
		      "profile \"%s\" in %s uses %s, which appointmentd does not support; give "
		      "it static keys or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (e.g. from "
		      "\"aws configure export-credentials --profile %s --format env\")",
		      profile, path, key, profile);
}

/* what says what var selects, instead what the caller can do */
static enum rc refuse_env(const char *var, const char *what, const char *instead,
			  struct errbuf *eb)
{
	return eb_set(eb, RC_INVAL, "%s is set (%s), which appointmentd does not support; %s",
		      var, what, instead);
}

/* The chain, in botocore's order less what we do not implement, which is refused where
 * botocore would use it (never skipped: that would act with another identity, usually the
 * instance role): env keys > role_arn/web identity/SSO in the profile (refused) >
 * AWS_WEB_IDENTITY_TOKEN_FILE (refused) > the credentials file's keys > credential_process
 * (refused) > the config file's keys > container credentials (refused) > IMDS. */
static enum rc resolve_creds(struct aws_config *cfg, const struct aws_env *env,
			     const struct aws_profile_vals *credvals, const char *cred_path,
			     const struct aws_profile_vals *cfgvals, const char *config_path,
			     struct errbuf *eb)
{
	const char *ak = aws_env_get(env, "AWS_ACCESS_KEY_ID");
	const char *sk = aws_env_get(env, "AWS_SECRET_ACCESS_KEY");
	const char *tok = aws_env_get(env, "AWS_SESSION_TOKEN");
	const char *disabled = aws_env_get(env, "AWS_EC2_METADATA_DISABLED");
	const char *container_instead = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or give "
					"the profile static keys, or unset it to use instance "
					"credentials";
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
		rc = aws_copy_checked(v.key_id, sizeof(v.key_id), ak, "AWS_ACCESS_KEY_ID", eb);
		if (rc == RC_OK)
			rc = aws_copy_checked(v.secret, sizeof(v.secret), sk, "AWS_SECRET_ACCESS_KEY",
					  eb);
		if (rc == RC_OK && tok != NULL)
			rc = aws_copy_checked(v.token, sizeof(v.token), tok, "AWS_SESSION_TOKEN", eb);
		if (rc == RC_OK)
			rc = creds_from_vals(&cfg->creds, &v, "AWS_ACCESS_KEY_ID", eb);
		if (rc == RC_OK)
			cfg->creds_source = AWS_CREDS_ENV;
		return rc;
	}
	if (credvals->assume != NULL)
		return refuse_profile(cfg->profile, cred_path, credvals->assume, eb);
	if (cfgvals->assume != NULL)
		return refuse_profile(cfg->profile, config_path, cfgvals->assume, eb);
	if (aws_env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE") != NULL)
		return refuse_env("AWS_WEB_IDENTITY_TOKEN_FILE", "web identity, as EKS IRSA sets",
				  "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or unset it to use "
				  "the profile's static keys or instance credentials",
				  eb);
	if (credvals->key_id[0] != '\0' || credvals->secret[0] != '\0') {
		fv = credvals;
		fpath = cred_path;
	} else if (credvals->process || cfgvals->process) {
		return refuse_profile(cfg->profile, credvals->process ? cred_path : config_path,
				      "credential_process", eb);
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
	if (aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL)
		return refuse_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
				  "container credentials, as ECS sets", container_instead, eb);
	if (aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL)
		return refuse_env("AWS_CONTAINER_CREDENTIALS_FULL_URI",
				  "container credentials, as ECS and EKS Pod Identity set",
				  container_instead, eb);
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
	const char *ep = aws_env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *to = aws_env_get(env, "AWS_METADATA_SERVICE_TIMEOUT");
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
	bool env_keys;
	bool env_region;
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

	v = aws_env_get(env, "AWS_PROFILE");
	if (v == NULL)
		v = aws_env_get(env, "AWS_DEFAULT_PROFILE");
	explicit_profile = v != NULL;
	rc = aws_copy_checked(cfg->profile, sizeof(cfg->profile), v != NULL ? v : "default",
			  "AWS_PROFILE", eb);
	if (rc != RC_OK)
		goto out;

	v = aws_env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
	if (v != NULL)
		rc = aws_copy_checked(cred_path, sizeof(cred_path), v, "AWS_SHARED_CREDENTIALS_FILE",
				  eb);
	else if (!home_path(env, ".aws/credentials", cred_path))
		cred_path[0] = '\0';
	if (rc != RC_OK)
		goto out;
	v = aws_env_get(env, "AWS_CONFIG_FILE");
	if (v != NULL)
		rc = aws_copy_checked(config_path, sizeof(config_path), v, "AWS_CONFIG_FILE", eb);
	else if (!home_path(env, ".aws/config", config_path))
		config_path[0] = '\0';
	if (rc != RC_OK)
		goto out;

	/* Keys in the environment (even half a pair, refused later) need no credentials file;
	 * with a region there too, the config file is not needed either. */
	env_keys = aws_env_get(env, "AWS_ACCESS_KEY_ID") != NULL ||
		   aws_env_get(env, "AWS_SECRET_ACCESS_KEY") != NULL;
	env_region = aws_env_get(env, "AWS_REGION") != NULL ||
		     aws_env_get(env, "AWS_DEFAULT_REGION") != NULL;
	if (cred_path[0] != '\0') {
		rc = load_profile(cred_path, cfg->profile, NULL, !env_keys, credvals, cfg->notice,
				  eb);
		if (rc != RC_OK)
			goto out;
	}
	if (config_path[0] != '\0') {
		/* The config file names sections "[profile x]", except "[default]". */
		snprintf(section, sizeof(section), "profile %s", cfg->profile);
		rc = load_profile(config_path, section,
				  strcmp(cfg->profile, "default") == 0 ? "default" : NULL,
				  !env_keys || !env_region, cfgvals, cfg->notice, eb);
		if (rc != RC_OK)
			goto out;
	}
	if (explicit_profile && !credvals->found && !cfgvals->found) {
		/* a file passed over may hold it: say so rather than "not found" */
		if (cfg->notice[0] != '\0')
			rc = eb_set(eb, RC_IO, "AWS_PROFILE: profile \"%s\" not found: %s",
				    cfg->profile, cfg->notice);
		else
			rc = eb_set(eb, RC_INVAL, "AWS_PROFILE: profile \"%s\" not found in %s or %s",
				    cfg->profile,
				    cred_path[0] != '\0' ? cred_path : "(no credentials file)",
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
	v = aws_env_get(env, "AWS_MAX_ATTEMPTS");
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

