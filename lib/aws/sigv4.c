/* sigv4.c — AWS Signature Version 4 for the core's requests: the canonical request of a POST
 * to "/", the string to sign, the signing key (kept per day, region, service and secret: four
 * HMACs a day instead of four a request) and the Authorization value. HMAC-SHA256 is the
 * RFC 2104 construction over OpenSSL's SHA-256 with one reused digest context. */
#include "aws/sigv4.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define SHA_LEN 32
#define BLOCK 64 /* SHA-256's block: HMAC pads its key to it */
/* The canonical request holds no body (only its hash): headers and names, the token the
 * longest of them. */
#define SIGV4_CANON_MAX (AWS_TOKEN_MAX + 4096)

enum rc sigv4_init(struct sigv4 *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->canon, SIGV4_CANON_MAX);
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->md = EVP_MD_CTX_new();
	if (s->sha256 == NULL || s->md == NULL) {
		sigv4_cleanup(s);
		return RC_NOMEM;
	}
	return RC_OK;
}

void sigv4_cleanup(struct sigv4 *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	EVP_MD_free(s->sha256);
	buf_cleanup(&s->canon);
	explicit_bzero(s, sizeof(*s));
}

/* SHA-256 of a then b (blen may be 0). */
static enum rc digest(struct sigv4 *s, const void *a, size_t alen, const void *b, size_t blen,
		      unsigned char out[SHA_LEN])
{
	if (EVP_DigestInit_ex(s->md, s->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(s->md, a, alen) != 1 ||
	    (blen > 0 && EVP_DigestUpdate(s->md, b, blen) != 1) ||
	    EVP_DigestFinal_ex(s->md, out, NULL) != 1)
		return RC_NOMEM;
	return RC_OK;
}

/* HMAC-SHA256 of data under key (keylen <= BLOCK: every key here is). */
static enum rc hmac(struct sigv4 *s, const void *key, size_t keylen, const void *data,
		    size_t len, unsigned char out[SHA_LEN])
{
	unsigned char pad[BLOCK];
	unsigned char inner[SHA_LEN];
	enum rc rc;

	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= ((const unsigned char *)key)[i];
	rc = digest(s, pad, sizeof(pad), data, len, inner);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	if (rc == RC_OK)
		rc = digest(s, pad, sizeof(pad), inner, sizeof(inner), out);
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
	return rc;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* The signing key of r's day, region, service and secret: the kept one when they match. */
static enum rc signing_key(struct sigv4 *s, const struct sigv4_req *r, const char *day)
{
	unsigned char k[SHA_LEN];
	char secret[AWS_SECRET_MAX + 4];
	size_t slen = strlen(r->secret);
	enum rc rc;

	if (strcmp(s->day, day) == 0 && strcmp(s->region, r->region) == 0 &&
	    strcmp(s->service, r->service) == 0 && strcmp(s->secret, r->secret) == 0)
		return RC_OK;
	if (slen >= sizeof(s->secret) || strlen(r->region) >= sizeof(s->region) ||
	    strlen(r->service) >= sizeof(s->service))
		return RC_INVAL;
	s->day[0] = '\0';
	/* kSecret = "AWS4" + secret may exceed a block: HMAC then keys with its digest */
	memcpy(secret, "AWS4", 4);
	memcpy(secret + 4, r->secret, slen);
	if (slen + 4 > BLOCK)
		rc = digest(s, secret, slen + 4, NULL, 0, k) == RC_OK
			     ? hmac(s, k, sizeof(k), day, strlen(day), k)
			     : RC_NOMEM;
	else
		rc = hmac(s, secret, slen + 4, day, strlen(day), k);
	if (rc == RC_OK)
		rc = hmac(s, k, sizeof(k), r->region, strlen(r->region), k);
	if (rc == RC_OK)
		rc = hmac(s, k, sizeof(k), r->service, strlen(r->service), k);
	if (rc == RC_OK)
		rc = hmac(s, k, sizeof(k), "aws4_request", 12, s->key);
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(k, sizeof(k));
	if (rc != RC_OK)
		return rc;
	memcpy(s->day, day, sizeof(s->day));
	memcpy(s->region, r->region, strlen(r->region) + 1);
	memcpy(s->service, r->service, strlen(r->service) + 1);
	memcpy(s->secret, r->secret, slen + 1);
	return RC_OK;
}

/* "name:value\n" with the value trimmed and its runs of spaces made one (SigV4's canonical
 * header value). */
static enum rc canon_header(struct buf *b, const char *name, const char *value)
{
	enum rc rc = buf_puts(b, name);
	const char *p = value;

	if (rc == RC_OK)
		rc = buf_append(b, ":", 1);
	while (*p == ' ' || *p == '\t')
		p++;
	while (rc == RC_OK && *p != '\0') {
		const char *run = p;

		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		rc = buf_append(b, run, (size_t)(p - run));
		while (*p == ' ' || *p == '\t')
			p++;
		if (rc == RC_OK && *p != '\0')
			rc = buf_append(b, " ", 1);
	}
	if (rc == RC_OK)
		rc = buf_append(b, "\n", 1);
	return rc;
}

enum rc sigv4_sign(struct sigv4 *s, const struct sigv4_req *r, char amz_date[SIGV4_DATE_SIZE],
		   char *auth, size_t auth_size)
{
	const bool token = r->token != NULL && r->token[0] != '\0';
	const char *signed_names = token ? (r->target != NULL
						    ? "content-type;host;x-amz-date;"
						      "x-amz-security-token;x-amz-target"
						    : "content-type;host;x-amz-date;x-amz-security-token")
					 : (r->target != NULL ? "content-type;host;x-amz-date;x-amz-target"
							      : "content-type;host;x-amz-date");
	unsigned char h[SHA_LEN];
	char body_hex[2 * SHA_LEN + 1];
	char canon_hex[2 * SHA_LEN + 1];
	char sig_hex[2 * SHA_LEN + 1];
	char day[9];
	char sts[256];
	struct tm tm;
	struct buf *c = &s->canon;
	int n;
	enum rc rc;

	amz_date[0] = '\0';
	if (gmtime_r(&r->now, &tm) == NULL ||
	    strftime(amz_date, SIGV4_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_DATE_SIZE - 1)
		return RC_INVAL;
	memcpy(day, amz_date, 8);
	day[8] = '\0';
	rc = digest(s, r->body != NULL ? r->body : "", r->len, NULL, 0, h);
	if (rc != RC_OK)
		return rc;
	hex(h, SHA_LEN, body_hex);
	/* the canonical request: the headers in the order of their lower-case names */
	buf_reset(c);
	rc = buf_puts(c, "POST\n/\n\n");
	if (rc == RC_OK)
		rc = canon_header(c, "content-type", r->ctype);
	if (rc == RC_OK)
		rc = canon_header(c, "host", r->host);
	if (rc == RC_OK)
		rc = canon_header(c, "x-amz-date", amz_date);
	if (rc == RC_OK && token)
		rc = canon_header(c, "x-amz-security-token", r->token);
	if (rc == RC_OK && r->target != NULL)
		rc = canon_header(c, "x-amz-target", r->target);
	if (rc == RC_OK)
		rc = buf_printf(c, "\n%s\n%s", signed_names, body_hex);
	if (rc == RC_OK)
		rc = digest(s, c->data, c->len, NULL, 0, h);
	if (rc != RC_OK)
		return rc;
	hex(h, SHA_LEN, canon_hex);
	n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date,
		     day, r->region, r->service, canon_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return RC_INVAL;
	rc = signing_key(s, r, day);
	if (rc == RC_OK)
		rc = hmac(s, s->key, sizeof(s->key), sts, (size_t)n, h);
	if (rc != RC_OK)
		return rc;
	hex(h, SHA_LEN, sig_hex);
	n = snprintf(auth, auth_size,
		     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
		     "Signature=%s",
		     r->access_key, day, r->region, r->service, signed_names, sig_hex);
	if (n < 0 || (size_t)n >= auth_size)
		return RC_INVAL;
	return RC_OK;
}

enum rc sigv4_host(const char *endpoint, char *out, size_t out_size)
{
	const char *p = strstr(endpoint, "://");
	const char *end;
	size_t n;

	if (p == NULL)
		return RC_INVAL;
	p += 3;
	end = p + strcspn(p, "/?#");
	n = (size_t)(end - p);
	/* curl leaves the scheme's default port out of Host */
	if (strncmp(endpoint, "https://", 8) == 0 && n > 4 && strncmp(end - 4, ":443", 4) == 0)
		n -= 4;
	else if (strncmp(endpoint, "http://", 7) == 0 && n > 3 && strncmp(end - 3, ":80", 3) == 0)
		n -= 3;
	if (n == 0 || n >= out_size)
		return RC_INVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return RC_OK;
}
