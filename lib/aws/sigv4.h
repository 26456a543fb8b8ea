/* sigv4.h — AWS Signature Version 4 of the core's requests (POST to "/", no query string,
 * the headers content-type, host, x-amz-date and, when set, x-amz-security-token and
 * x-amz-target), with OpenSSL: the derived signing key of a day is kept between requests,
 * the digest fetched once. Private to lib/aws (client.c); the integration test
 * tests/integration/test_sigv4.c checks every service's Authorization against botocore. */
#ifndef APPT_AWS_SIGV4_H
#define APPT_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "aws/core.h"
#include "base/buf.h"
#include "base/rc.h"

#define SIGV4_DATE_SIZE 17  /* "20261204T134500Z" + NUL */
#define SIGV4_AUTH_MAX 1024 /* an Authorization value: scope, signed header names, signature */

struct evp_md_st;
struct evp_md_ctx_st;

/* One client's signer. Embedded value: sigv4_init / sigv4_cleanup. Not thread-safe (one per
 * client, as the client itself). */
struct sigv4 {
	struct evp_md_st *sha256;     /* SHA-256, fetched once */
	struct evp_md_ctx_st *md;     /* reused for every digest */
	char day[9];                  /* YYYYMMDD of key, "" = no key yet */
	char region[AWS_REGION_MAX];  /* the scope key was derived for */
	char service[32];
	char secret[AWS_SECRET_MAX];  /* the secret key was derived from (wiped at cleanup) */
	unsigned char key[32];        /* kSigning of day, region, service and secret */
	struct buf canon;             /* the canonical request, reused */
};

/* What one request is signed over; every string NUL-terminated, none NULL unless said. */
struct sigv4_req {
	const char *access_key; /* the credential's key id */
	const char *secret;     /* its secret */
	const char *token;      /* session token, or "" / NULL for none */
	const char *region;     /* e.g. "us-east-1" */
	const char *service;    /* the signing name, e.g. "dynamodb" */
	const char *host;       /* the Host header sent, e.g. "127.0.0.1:8000" */
	const char *ctype;      /* the Content-Type sent */
	const char *target;     /* the X-Amz-Target sent, or NULL for none */
	const char *body;       /* the body (len bytes; NULL when len is 0) */
	size_t len;
	time_t now;             /* the signing time, epoch seconds */
};

/* RC_NOMEM when OpenSSL has no SHA-256 or memory. On success sigv4_cleanup must follow. */
enum rc sigv4_init(struct sigv4 *s) MUSTCHECK;
/* Frees and wipes (the derived key and the secret). Accepts NULL and a zeroed struct. */
void sigv4_cleanup(struct sigv4 *s);

/* Signs r: amz_date gets its X-Amz-Date value, auth its Authorization value ("AWS4-HMAC-SHA256
 * Credential=..., SignedHeaders=..., Signature=..."), both NUL-terminated. RC_INVAL when a
 * value does not fit auth (auth_size >= SIGV4_AUTH_MAX always fits a valid config) or the
 * time is not representable, RC_NOMEM. */
enum rc sigv4_sign(struct sigv4 *s, const struct sigv4_req *r, char amz_date[SIGV4_DATE_SIZE],
		   char *auth, size_t auth_size) MUSTCHECK;

/* The Host header curl would send for the endpoint "scheme://host[:port]" (no path): the
 * authority, without a port that is the scheme's default (80 for http, 443 for https).
 * RC_INVAL when it does not fit out or the endpoint has no "://". */
enum rc sigv4_host(const char *endpoint, char *out, size_t out_size) MUSTCHECK;

#endif
