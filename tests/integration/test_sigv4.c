/* test_sigv4.c — the AWS core against loopback fakes, no emulator needed:
 *  - signatures: the request our client sends to each of the five services, with and
 *    without a session token, is re-signed by botocore (tests/support/sigv4/resign.py) and
 *    must carry the identical Authorization header; a wrong secret must not;
 *  - IMDSv2: credentials fetched from a fake metadata service, refreshed before expiry and
 *    after ExpiredToken; never 169.254.169.254;
 *  - retries and malformed answers: throttling, 5xx, HTML, empty and truncated bodies,
 *    dropped connections, timeouts, a refused port, oversized answers, the abort flag. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "aws/core.h"
#include "itest.h"

#define AK "AKIDEXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN                                                                                    \
	"IQoJb3JpZ2luX2VjEHAaCXVzLWVhc3QtMSJHMEUCIQDExampleSessionToken+/=abcdefghijklmnop"   \
	"qrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/=="
#define REQ_MAX (256 * 1024)

/* ---- a tiny loopback HTTP server, one request per connection ------------------------ */

struct fake;
/* Writes the raw HTTP response for request number idx (0-based) into out (at most outsz);
 * returns its length, -1 to close the connection without answering, or FAKE_BIG to send a
 * 200 with a body larger than AWS_RESPONSE_MAX. May sleep. */
#define FAKE_BIG (-2)
typedef int (*fake_handler)(struct fake *f, int idx, const char *req, size_t len, char *out,
			    size_t outsz);

struct fake {
	int lfd;
	int port;
	pthread_t th;
	atomic_bool stop;
	fake_handler handler;
	void *ud;
	pthread_mutex_t mu;
	int nreq;
	char *last; /* the last request, raw */
	size_t last_len;
	char paths[16][256]; /* "METHOD path" of the first requests */
};

static size_t header_end(const char *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n')
			return i + 1;
	return 0;
}

static size_t content_length(const char *req, size_t hend)
{
	const char *p = req;

	while (p < req + hend) {
		const char *eol = memchr(p, '\n', (size_t)(req + hend - p));

		if (eol == NULL)
			break;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			return (size_t)strtoul(p + 15, NULL, 10);
		p = eol + 1;
	}
	return 0;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char *req = malloc(REQ_MAX);
	char *resp = malloc(REQ_MAX);

	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = {f->lfd, POLLIN, 0};
		size_t len = 0;
		size_t hend = 0;
		int cfd;
		int idx;
		int rlen;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		cfd = accept(f->lfd, NULL, NULL);
		if (cfd < 0)
			continue;
		for (;;) {
			ssize_t n = recv(cfd, req + len, REQ_MAX - 1 - len, 0);

			if (n <= 0)
				break;
			len += (size_t)n;
			if (hend == 0)
				hend = header_end(req, len);
			if (hend != 0 && len >= hend + content_length(req, hend))
				break;
			if (len >= REQ_MAX - 1)
				break;
		}
		req[len] = '\0';
		pthread_mutex_lock(&f->mu);
		idx = f->nreq++;
		free(f->last);
		f->last = malloc(len + 1);
		memcpy(f->last, req, len + 1);
		f->last_len = len;
		if (idx < 16)
			sscanf(req, "%15s %200s", f->paths[idx], f->paths[idx] + 16);
		pthread_mutex_unlock(&f->mu);
		rlen = f->handler(f, idx, req, len, resp, REQ_MAX);
		if (rlen == FAKE_BIG) {
			size_t total = (size_t)AWS_RESPONSE_MAX + 1000;
			int n = snprintf(resp, REQ_MAX,
					 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", total);

			if (send(cfd, resp, (size_t)n, MSG_NOSIGNAL) == n) {
				memset(resp, 'x', REQ_MAX);
				while (total > 0) {
					size_t chunk = total < REQ_MAX ? total : REQ_MAX;
					ssize_t w = send(cfd, resp, chunk, MSG_NOSIGNAL);

					if (w <= 0)
						break;
					total -= (size_t)w;
				}
			}
		} else if (rlen > 0) {
			size_t off = 0;

			while (off < (size_t)rlen) {
				ssize_t n = send(cfd, resp + off, (size_t)rlen - off, MSG_NOSIGNAL);

				if (n <= 0)
					break;
				off += (size_t)n;
			}
		}
		close(cfd);
	}
	free(req);
	free(resp);
	return NULL;
}

static void fake_start(struct fake *f, fake_handler h, void *ud)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->handler = h;
	f->ud = ud;
	pthread_mutex_init(&f->mu, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->lfd, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->lfd, 16), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	close(f->lfd);
	free(f->last);
	pthread_mutex_destroy(&f->mu);
}

static int fake_count(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->nreq;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static int http_reply(char *out, size_t outsz, int status, const char *extra_headers,
		      const char *body)
{
	return snprintf(out, outsz,
			"HTTP/1.1 %d X\r\nContent-Length: %zu\r\nx-amzn-RequestId: rid-%d\r\n%s"
			"Connection: close\r\n\r\n%s",
			status, strlen(body), status, extra_headers, body);
}

/* The value of header name in a raw request, copied into out ("" when absent). */
static void req_header(const char *req, const char *name, char *out, size_t outsz)
{
	size_t n = strlen(name);
	const char *p = strstr(req, "\r\n");

	out[0] = '\0';
	while (p != NULL && p[2] != '\r') {
		const char *line = p + 2;
		const char *eol = strstr(line, "\r\n");

		if (eol == NULL)
			break;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ')
				v++;
			snprintf(out, outsz, "%.*s", (int)(eol - v), v);
			return;
		}
		p = eol;
	}
}

static void base_config(struct aws_config *cfg, const char *region, int port,
			const char *token)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->region, sizeof(cfg->region), "%s", region);
	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		snprintf(cfg->endpoint[s], sizeof(cfg->endpoint[s]), "http://127.0.0.1:%d", port);
		cfg->endpoint_overridden[s] = true;
	}
	snprintf(cfg->profile, sizeof(cfg->profile), "default");
	cfg->creds_source = AWS_CREDS_STATIC;
	snprintf(cfg->creds.access_key_id, sizeof(cfg->creds.access_key_id), AK);
	snprintf(cfg->creds.secret_access_key, sizeof(cfg->creds.secret_access_key), SK);
	snprintf(cfg->creds.session_token, sizeof(cfg->creds.session_token), "%s",
		 token != NULL ? token : "");
	snprintf(cfg->imds_endpoint, sizeof(cfg->imds_endpoint), "http://127.0.0.1:1");
	cfg->imds_timeout_ms = 1000;
	cfg->connect_timeout_ms = 1000;
	cfg->request_timeout_ms = 2000;
	cfg->max_attempts = 4;
	cfg->retry_budget_ms = 5000;
	cfg->backoff_base_ms = 10;
	cfg->backoff_max_ms = 50;
}

/* ---- signatures against botocore ---------------------------------------------------- */

static int reply_ok(struct fake *f, int idx, const char *req, size_t len, char *out,
		    size_t outsz)
{
	(void)f;
	(void)idx;
	(void)req;
	(void)len;
	return http_reply(out, outsz, 200, "", "{}");
}

/* Runs resign.py on the captured request with secret; returns its Authorization line. */
static void botocore_sign(const char *raw, size_t len, const char *secret, char *out,
			  size_t outsz)
{
	const char *root = getenv("APPT_SOURCE_ROOT");
	char path[] = "/tmp/test_sigv4_req_XXXXXX";
	char cmd[1024];
	FILE *fp;
	int fd;

	ck_assert_msg(root != NULL, "APPT_SOURCE_ROOT is not set (run through meson test)");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, raw, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/support/sigv4/resign.py' '%s' '%s'",
		 root, path, secret);
	fp = popen(cmd, "r");
	ck_assert_ptr_nonnull(fp);
	out[0] = '\0';
	if (fgets(out, (int)outsz, fp) == NULL)
		out[0] = '\0';
	ck_assert_int_eq(pclose(fp), 0);
	out[strcspn(out, "\r\n")] = '\0';
	unlink(path);
}

static const struct {
	enum aws_service svc;
	const char *op;
	const char *body;
	const char *target;  /* expected X-Amz-Target, "" for SNS */
	const char *ctype;   /* expected Content-Type */
	const char *service; /* expected in the credential scope */
} sig_cases[] = {
	{AWS_SVC_DYNAMODB, "PutItem",
	 "{\"TableName\":\"appointments\",\"Item\":{\"appointmentId\":{\"S\":\"a-1\"},"
	 "\"note\":{\"S\":\"caf\xc3\xa9 \xe2\x9c\x93\"}}}",
	 "DynamoDB_20120810.PutItem", "application/x-amz-json-1.0", "dynamodb"},
	{AWS_SVC_SNS, "Publish",
	 "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012"
	 "%3At&Message=%7B%22a%22%3A1%7D",
	 "", "application/x-www-form-urlencoded; charset=utf-8", "sns"},
	{AWS_SVC_SQS, "SendMessage",
	 "{\"QueueUrl\":\"http://127.0.0.1/123456789012/q\",\"MessageBody\":\"hello\"}",
	 "AmazonSQS.SendMessage", "application/x-amz-json-1.0", "sqs"},
	{AWS_SVC_EVENTBRIDGE, "PutEvents",
	 "{\"Entries\":[{\"Source\":\"medical.appointment.pe\",\"DetailType\":\"Appointment "
	 "Processed\",\"Detail\":\"{}\"}]}",
	 "AWSEvents.PutEvents", "application/x-amz-json-1.1", "events"},
	{AWS_SVC_SSM, "GetParameter",
	 "{\"Name\":\"/medical-appointment/dev/rds/password\",\"WithDecryption\":true}",
	 "AmazonSSM.GetParameter", "application/x-amz-json-1.1", "ssm"},
};

static void check_signature(int i, const char *token, const char *region)
{
	struct fake f;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_response resp;
	struct aws_error err;
	struct errbuf eb = {{0}};
	char got[2048];
	char want[2048];
	char wrong[2048];
	char h[8192];
	char scope[128];

	fake_start(&f, reply_ok, NULL);
	base_config(&cfg, region, f.port, token);
	c = aws_client_new(&cfg, sig_cases[i].svc, &eb);
	ck_assert_msg(c != NULL, "%s", eb.msg);
	aws_response_init(&resp);
	ck_assert_int_eq(aws_call(c, sig_cases[i].op, NULL, sig_cases[i].body,
				  strlen(sig_cases[i].body), &resp, &err),
			 RC_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.request_id, "rid-200");
	ck_assert_int_eq(fake_count(&f), 1);

	/* The shape: POST /, our headers, the body as given. */
	ck_assert_msg(strncmp(f.last, "POST / HTTP/1.1\r\n", 17) == 0, "%.40s", f.last);
	req_header(f.last, "X-Amz-Target", h, sizeof(h));
	ck_assert_str_eq(h, sig_cases[i].target);
	req_header(f.last, "Content-Type", h, sizeof(h));
	ck_assert_str_eq(h, sig_cases[i].ctype);
	req_header(f.last, "X-Amz-Security-Token", h, sizeof(h));
	ck_assert_str_eq(h, token != NULL ? token : "");
	req_header(f.last, "User-Agent", h, sizeof(h));
	ck_assert_msg(strstr(h, "region/") == NULL, "User-Agent %s", h);
	req_header(f.last, "Expect", h, sizeof(h));
	ck_assert_str_eq(h, "");
	ck_assert_str_eq(f.last + f.last_len - strlen(sig_cases[i].body), sig_cases[i].body);

	req_header(f.last, "Authorization", got, sizeof(got));
	snprintf(scope, sizeof(scope), "/%s/%s/aws4_request", region, sig_cases[i].service);
	ck_assert_msg(strstr(got, scope) != NULL, "scope %s not in %s", scope, got);
	ck_assert_msg(strstr(got, token != NULL ? "x-amz-security-token" : "x-amz-date") != NULL,
		      "%s", got);

	botocore_sign(f.last, f.last_len, SK, want, sizeof(want));
	ck_assert_str_eq(got, want);
	/* Control: the comparison can fail. */
	botocore_sign(f.last, f.last_len, "wrong-secret", wrong, sizeof(wrong));
	ck_assert_str_ne(got, wrong);

	aws_response_cleanup(&resp);
	aws_client_free(c);
	fake_stop(&f);
}

START_TEST(test_signature_no_token)
{
	check_signature(_i, NULL, "us-east-1");
}
END_TEST

START_TEST(test_signature_with_token)
{
	check_signature(_i, TOKEN, "us-east-1");
}
END_TEST

START_TEST(test_signature_other_region)
{
	check_signature(_i, TOKEN, "sa-east-1");
}
END_TEST

/* A 3 KiB body and a second request on the same handle are signed right too. */
START_TEST(test_signature_large_body_reused_handle)
{
	struct fake f;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	char *body = malloc(4096);
	char got[2048];
	char want[2048];

	fake_start(&f, reply_ok, NULL);
	base_config(&cfg, "us-east-1", f.port, NULL);
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	ck_assert_ptr_nonnull(c);
	snprintf(body, 4096, "{\"QueueUrl\":\"http://x/1/q\",\"MessageBody\":\"");
	for (size_t n = strlen(body); n < 3100; n++)
		body[n] = (char)('a' + n % 26);
	snprintf(body + 3100, 4096 - 3100, "\"}");
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(aws_call(c, "SendMessage", NULL, body, strlen(body), NULL, &err),
				 RC_OK);
		req_header(f.last, "Authorization", got, sizeof(got));
		botocore_sign(f.last, f.last_len, SK, want, sizeof(want));
		ck_assert_str_eq(got, want);
	}
	aws_client_free(c);
	fake_stop(&f);
	free(body);
}
END_TEST

/* ---- IMDSv2 --------------------------------------------------------------------------- */

struct imds_state {
	const char *expiration; /* the Expiration the fake hands out */
	atomic_int cred_gets;   /* GETs of the credentials document */
	atomic_int bad_token;   /* requests without the session token */
};

static int imds_handler(struct fake *f, int idx, const char *req, size_t len, char *out,
			size_t outsz)
{
	struct imds_state *st = f->ud;
	char tok[256];
	char body[1024];
	int n;

	(void)idx;
	(void)len;
	if (strncmp(req, "PUT /latest/api/token ", 22) == 0) {
		req_header(req, "X-aws-ec2-metadata-token-ttl-seconds", tok, sizeof(tok));
		if (strcmp(tok, "21600") != 0)
			return http_reply(out, outsz, 400, "", "");
		return http_reply(out, outsz, 200, "", "imds-session-token");
	}
	req_header(req, "X-aws-ec2-metadata-token", tok, sizeof(tok));
	if (strcmp(tok, "imds-session-token") != 0) {
		atomic_fetch_add(&st->bad_token, 1);
		return http_reply(out, outsz, 401, "", "");
	}
	if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/ ", 48) == 0)
		return http_reply(out, outsz, 200, "", "appointment-role\n");
	if (strncmp(req, "GET /latest/meta-data/iam/security-credentials/appointment-role ", 64) ==
	    0) {
		n = atomic_fetch_add(&st->cred_gets, 1) + 1;
		snprintf(body, sizeof(body),
			 "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\","
			 "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS%d\","
			 "\"SecretAccessKey\":\"imds-secret-%d\",\"Token\":\"imds-token-%d\","
			 "\"Expiration\":\"%s\"}",
			 n, n, n, st->expiration);
		return http_reply(out, outsz, 200, "", body);
	}
	return http_reply(out, outsz, 404, "", "");
}

static void iso_in(long secs, char *out, size_t outsz)
{
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct aws_client *imds_client(struct fake *imds, struct fake *svc)
{
	struct aws_config cfg;
	struct errbuf eb = {{0}};
	struct aws_client *c;

	base_config(&cfg, "us-east-1", svc->port, NULL);
	cfg.creds_source = AWS_CREDS_IMDS;
	memset(&cfg.creds, 0, sizeof(cfg.creds));
	snprintf(cfg.imds_endpoint, sizeof(cfg.imds_endpoint), "http://127.0.0.1:%d", imds->port);
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	ck_assert_msg(c != NULL, "%s", eb.msg);
	return c;
}

/* One IMDS test: a fake metadata service whose credentials expire expires_in seconds from
 * now, a fake service answering with svc_handler, and a client of both. */
struct imds_fixture {
	struct imds_state st; /* what the metadata service saw */
	char exp[64];         /* the Expiration it hands out */
	struct fake imds;     /* the metadata service */
	struct fake svc;      /* the service called */
	struct aws_client *c; /* IMDS credentials, service endpoint */
};

static void imds_setup(struct imds_fixture *fx, long expires_in, fake_handler svc_handler)
{
	iso_in(expires_in, fx->exp, sizeof(fx->exp));
	fx->st.expiration = fx->exp;
	fake_start(&fx->imds, imds_handler, &fx->st);
	fake_start(&fx->svc, svc_handler, NULL);
	fx->c = imds_client(&fx->imds, &fx->svc);
}

static void imds_teardown(struct imds_fixture *fx)
{
	aws_client_free(fx->c);
	fake_stop(&fx->svc);
	fake_stop(&fx->imds);
}

START_TEST(test_imds_credentials_signed)
{
	struct imds_fixture fx = {0};
	struct aws_error err;
	char h[2048];
	char want[2048];

	imds_setup(&fx, 6 * 3600, reply_ok);
	ck_assert_int_eq(aws_call(fx.c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_OK);
	req_header(fx.svc.last, "X-Amz-Security-Token", h, sizeof(h));
	ck_assert_str_eq(h, "imds-token-1");
	req_header(fx.svc.last, "Authorization", h, sizeof(h));
	ck_assert_msg(strstr(h, "Credential=ASIAIMDS1/") != NULL, "%s", h);
	botocore_sign(fx.svc.last, fx.svc.last_len, "imds-secret-1", want, sizeof(want));
	ck_assert_str_eq(h, want);
	/* Cached: a second call asks IMDS nothing. */
	ck_assert_int_eq(aws_call(fx.c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_OK);
	ck_assert_int_eq(atomic_load(&fx.st.cred_gets), 1);
	ck_assert_int_eq(atomic_load(&fx.st.bad_token), 0);
	ck_assert_str_eq(fx.imds.paths[0], "PUT");
	imds_teardown(&fx);
}
END_TEST

START_TEST(test_imds_refresh_before_expiry)
{
	struct imds_fixture fx = {0};
	struct aws_error err;
	char h[2048];

	/* Five minutes left is inside the refresh window, and the fake (as EC2 does until
	 * about 5 minutes before expiry) hands out credentials just as close to it: IMDS is
	 * asked again at most once a minute, not on every call (it was: 3 requests, each up
	 * to imds_timeout_ms, before every call of every client). */
	imds_setup(&fx, 300, reply_ok);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(aws_call(fx.c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_OK);
	ck_assert_int_eq(atomic_load(&fx.st.cred_gets), 1);
	req_header(fx.svc.last, "X-Amz-Security-Token", h, sizeof(h));
	ck_assert_str_eq(h, "imds-token-1");
	imds_teardown(&fx);
}
END_TEST

static int reply_expired_once(struct fake *f, int idx, const char *req, size_t len, char *out,
			      size_t outsz)
{
	(void)f;
	(void)req;
	(void)len;
	if (idx == 0)
		return http_reply(out, outsz, 400, "",
				  "{\"__type\":\"com.amazonaws.sqs#ExpiredToken\",\"message\":"
				  "\"The security token included in the request is expired\"}");
	return http_reply(out, outsz, 200, "", "{}");
}

START_TEST(test_imds_expired_token_refreshes)
{
	struct imds_fixture fx = {0};
	struct aws_error err;
	char h[2048];

	imds_setup(&fx, 6 * 3600, reply_expired_once);
	ck_assert_int_eq(aws_call(fx.c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_OK);
	ck_assert_int_eq(err.attempts, 2);
	ck_assert_int_eq(atomic_load(&fx.st.cred_gets), 2);
	req_header(fx.svc.last, "X-Amz-Security-Token", h, sizeof(h));
	ck_assert_str_eq(h, "imds-token-2");
	imds_teardown(&fx);
}
END_TEST

START_TEST(test_imds_unreachable)
{
	struct fake svc;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	struct timespec t0;
	struct timespec t1;

	fake_start(&svc, reply_ok, NULL);
	base_config(&cfg, "us-east-1", svc.port, NULL);
	cfg.creds_source = AWS_CREDS_IMDS;
	cfg.max_attempts = 2;
	/* Port 1 on loopback: refused at once. */
	snprintf(cfg.imds_endpoint, sizeof(cfg.imds_endpoint), "http://127.0.0.1:1");
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(aws_call(c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_str_eq(err.code, "CredentialsError");
	ck_assert_int_eq(err.attempts, 2);
	ck_assert_int_eq(fake_count(&svc), 0);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 3);
	aws_client_free(c);
	fake_stop(&svc);
}
END_TEST

/* ---- retries and malformed answers ------------------------------------------------------ */

/* A script: one raw behaviour per request, the last one repeated. */
struct script {
	const char *steps[8]; /* "STATUS|BODY", "CLOSE", "SLEEP:<ms>", "BIG" */
	int n;
};

static int script_handler(struct fake *f, int idx, const char *req, size_t len, char *out,
			  size_t outsz)
{
	const struct script *s = f->ud;
	const char *step = s->steps[idx < s->n ? idx : s->n - 1];
	int status;

	(void)req;
	(void)len;
	if (strcmp(step, "CLOSE") == 0)
		return -1;
	if (strncmp(step, "SLEEP:", 6) == 0) {
		long ms = strtol(step + 6, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		return http_reply(out, outsz, 200, "", "{}");
	}
	if (strcmp(step, "BIG") == 0)
		return FAKE_BIG;
	status = (int)strtol(step, NULL, 10);
	return http_reply(out, outsz, status,
			  strstr(step, "<") != NULL ? "Content-Type: text/html\r\n" : "",
			  strchr(step, '|') + 1);
}

static const struct {
	const char *name;
	struct script script;
	enum aws_service svc;
	bool json;         /* use aws_call_json */
	enum rc rc;
	int attempts;
	const char *code;
} retry_cases[] = {
	{"throttled then ok",
	 {{"400|{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
	   "\"message\":\"Rate exceeded\"}",
	   "200|{\"ok\":true}"},
	  2},
	 AWS_SVC_DYNAMODB, true, RC_OK, 2, ""},
	{"503 SlowDown then ok", {{"503|{\"__type\":\"SlowDown\"}", "200|{}"}, 2}, AWS_SVC_SQS,
	 false, RC_OK, 2, ""},
	{"500 forever", {{"500|{\"__type\":\"InternalServerError\"}"}, 1}, AWS_SVC_SQS, false,
	 RC_RETRY, 4, "InternalServerError"},
	{"html 502 forever",
	 {{"502|<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"}, 1},
	 AWS_SVC_SQS, false, RC_RETRY, 4, "HttpError"},
	{"empty 500 then ok", {{"500|", "200|{}"}, 2}, AWS_SVC_SSM, true, RC_OK, 2, ""},
	{"validation not retried",
	 {{"400|{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":"
	   "\"bad\"}"},
	  1},
	 AWS_SVC_DYNAMODB, true, RC_INVAL, 1, "ValidationException"},
	{"conditional check", {{"400|{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
				 "ConditionalCheckFailedException\",\"message\":\"no\"}"},
				1},
	 AWS_SVC_DYNAMODB, true, RC_CONFLICT, 1, "ConditionalCheckFailedException"},
	{"queue does not exist",
	 {{"400|{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"gone\"}"}, 1},
	 AWS_SVC_SQS, true, RC_NOTFOUND, 1, "QueueDoesNotExist"},
	{"sns xml not found",
	 {{"404|<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic "
	   "does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>"},
	  1},
	 AWS_SVC_SNS, false, RC_NOTFOUND, 1, "NotFound"},
	{"sns xml throttled then ok",
	 {{"400|<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message>"
	   "</Error></ErrorResponse>",
	   "200|<PublishResponse/>"},
	  2},
	 AWS_SVC_SNS, false, RC_OK, 2, ""},
	{"html 400 not retried", {{"400|<html><body>Bad Request</body></html>"}, 1}, AWS_SVC_SQS,
	 false, RC_INVAL, 1, "HttpError"},
	{"connection dropped then ok", {{"CLOSE", "200|{}"}, 2}, AWS_SVC_SQS, true, RC_OK, 2, ""},
	{"connection dropped forever", {{"CLOSE"}, 1}, AWS_SVC_SQS, true, RC_IO, 4,
	 "NetworkError"},
	{"truncated json 200", {{"200|{\"Messages\":[{\"Body\":\"x\""}, 1}, AWS_SVC_SQS, true,
	 RC_IO, 1, "MalformedResponse"},
	{"html 200", {{"200|<html>hello</html>"}, 1}, AWS_SVC_SQS, true, RC_IO, 1,
	 "MalformedResponse"},
	{"json array 200", {{"200|[1]"}, 1}, AWS_SVC_SQS, true, RC_IO, 1, "MalformedResponse"},
	{"empty 200 is {}", {{"200|"}, 1}, AWS_SVC_SQS, true, RC_OK, 1, ""},
	{"trailing garbage 200", {{"200|{} x"}, 1}, AWS_SVC_SQS, true, RC_IO, 1,
	 "MalformedResponse"},
	{"429 then ok", {{"429|", "200|{}"}, 2}, AWS_SVC_EVENTBRIDGE, true, RC_OK, 2, ""},
	{"slow answer times out", {{"SLEEP:1500"}, 1}, AWS_SVC_SQS, true, RC_TIMEOUT, 2, "Timeout"},
	{"oversized answer", {{"BIG"}, 1}, AWS_SVC_SQS, false, RC_IO, 1, "ResponseTooLarge"},
};

START_TEST(test_retry_cases)
{
	struct fake f;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	enum rc rc;

	fake_start(&f, script_handler, (void *)(uintptr_t)&retry_cases[_i].script);
	base_config(&cfg, "us-east-1", f.port, NULL);
	if (strcmp(retry_cases[_i].name, "slow answer times out") == 0) {
		cfg.request_timeout_ms = 500;
		cfg.max_attempts = 2;
	}
	c = aws_client_new(&cfg, retry_cases[_i].svc, &eb);
	ck_assert_ptr_nonnull(c);
	if (retry_cases[_i].json) {
		struct json_object *out = NULL;

		rc = aws_call_json(c, NULL, "Op", NULL, &out, &err);
		ck_assert(rc == RC_OK ? out != NULL : out == NULL);
		json_object_put(out);
	} else {
		rc = aws_call(c, "Op", NULL, "Action=Op", 9, NULL, &err);
	}
	aws_error_to_eb(&err, &eb);
	ck_assert_msg(rc == retry_cases[_i].rc, "%s: got %s (%s)", retry_cases[_i].name,
		      rc_name(rc), eb.msg);
	ck_assert_int_eq(err.rc, rc);
	ck_assert_msg(err.attempts == retry_cases[_i].attempts, "%s: %d attempts (%s)",
		      retry_cases[_i].name, err.attempts, eb.msg);
	ck_assert_str_eq(err.code, retry_cases[_i].code);
	if (rc != RC_OK)
		ck_assert_msg(err.message[0] != '\0', "%s: no message", retry_cases[_i].name);
	aws_client_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(test_refused_port_bounded)
{
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	struct timespec t0;
	struct timespec t1;

	base_config(&cfg, "us-east-1", 1, NULL);
	cfg.backoff_base_ms = 100;
	cfg.backoff_max_ms = 2000;
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(aws_call(c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(err.attempts, 4);
	ck_assert_int_eq(err.http_status, 0);
	ck_assert_str_eq(err.code, "NetworkError");
	/* Backoff ceilings 100+200+400 ms at most. */
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 1500);
	aws_client_free(c);
}
END_TEST

START_TEST(test_retry_budget_stops_early)
{
	static const struct script s = {{"SLEEP:400"}, 1};
	struct fake f;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};

	fake_start(&f, script_handler, (void *)(uintptr_t)&s);
	base_config(&cfg, "us-east-1", f.port, NULL);
	cfg.request_timeout_ms = 300;
	cfg.retry_budget_ms = 700;
	cfg.max_attempts = 10;
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	ck_assert_int_eq(aws_call(c, "ListQueues", NULL, "{}", 2, NULL, &err), RC_TIMEOUT);
	ck_assert_int_le(err.attempts, 3);
	ck_assert_int_ge(err.attempts, 2);
	aws_client_free(c);
	fake_stop(&f);
}
END_TEST

struct abort_ctx {
	atomic_bool flag;
};

static void *set_flag_later(void *arg)
{
	struct abort_ctx *a = arg;
	struct timespec ts = {0, 300 * 1000000L};

	nanosleep(&ts, NULL);
	atomic_store(&a->flag, true);
	return NULL;
}

START_TEST(test_abort_flag_stops_long_call)
{
	static const struct script s = {{"SLEEP:5000"}, 1};
	struct fake f;
	struct aws_config cfg;
	struct aws_client *c;
	struct aws_error err;
	struct errbuf eb = {{0}};
	struct abort_ctx a;
	struct aws_call_opts opts = {.request_timeout_ms = 10000};
	pthread_t th;
	struct timespec t0;
	struct timespec t1;

	atomic_init(&a.flag, false);
	fake_start(&f, script_handler, (void *)(uintptr_t)&s);
	base_config(&cfg, "us-east-1", f.port, NULL);
	c = aws_client_new(&cfg, AWS_SVC_SQS, &eb);
	aws_client_set_abort_flag(c, &a.flag);
	pthread_create(&th, NULL, set_flag_later, &a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(aws_call_with(c, &opts, "ReceiveMessage", NULL, "{}", 2, NULL, &err),
			 RC_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	ck_assert_str_eq(err.code, "Aborted");
	ck_assert_int_eq(err.attempts, 1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 3);
	aws_client_set_abort_flag(c, NULL);
	aws_client_free(c);
	fake_stop(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sigv4");
	TCase *sig = tcase_create("signature");
	TCase *imds = tcase_create("imds");
	TCase *retry = tcase_create("retry");
	int nsig = (int)(sizeof(sig_cases) / sizeof(sig_cases[0]));
	int status;

	if (!itest_aws_init())
		return EXIT_FAILURE;
	tcase_set_timeout(sig, 60);
	tcase_add_loop_test(sig, test_signature_no_token, 0, nsig);
	tcase_add_loop_test(sig, test_signature_with_token, 0, nsig);
	tcase_add_loop_test(sig, test_signature_other_region, 0, nsig);
	tcase_add_test(sig, test_signature_large_body_reused_handle);
	tcase_set_timeout(imds, 30);
	tcase_add_test(imds, test_imds_credentials_signed);
	tcase_add_test(imds, test_imds_refresh_before_expiry);
	tcase_add_test(imds, test_imds_expired_token_refreshes);
	tcase_add_test(imds, test_imds_unreachable);
	tcase_set_timeout(retry, 30);
	tcase_add_loop_test(retry, test_retry_cases, 0,
			    (int)(sizeof(retry_cases) / sizeof(retry_cases[0])));
	tcase_add_test(retry, test_refused_port_bounded);
	tcase_add_test(retry, test_retry_budget_stops_early);
	tcase_add_test(retry, test_abort_flag_stops_long_call);
	suite_add_tcase(s, sig);
	suite_add_tcase(s, imds);
	suite_add_tcase(s, retry);
	status = itest_run(s, CK_NORMAL);
	aws_global_cleanup();
	return status;
}
