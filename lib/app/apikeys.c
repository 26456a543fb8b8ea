/* apikeys.c — key file loading and constant-time lookup (OpenSSL for SHA-256 and
 * CRYPTO_memcmp rather than a hand-written hash or comparison). */
#include "app/apikeys.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA256_LEN 32

struct apikeys {
	unsigned char (*hashes)[SHA256_LEN];
	size_t n;
};

static void sha256_parts(const char *const *parts, unsigned char out[SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = SHA256_LEN;

	/* EVP only fails on allocation; a zero hash then matches no stored key */
	memset(out, 0, SHA256_LEN);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		for (size_t i = 0; parts[i] != NULL; i++)
			(void)EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
		(void)EVP_DigestFinal_ex(ctx, out, &len);
	}
	EVP_MD_CTX_free(ctx);
}

static void to_hex(const unsigned char *h, char hex_out[APIKEYS_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < SHA256_LEN; i++) {
		hex_out[2 * i] = digits[h[i] >> 4];
		hex_out[2 * i + 1] = digits[h[i] & 15];
	}
	hex_out[2 * SHA256_LEN] = '\0';
}

void apikeys_sha256_hex(const char *const *parts, char hex_out[APIKEYS_HEX_SIZE])
{
	unsigned char h[SHA256_LEN];

	sha256_parts(parts, h);
	to_hex(h, hex_out);
}

static bool key_chars_ok(const char *k)
{
	for (; *k != '\0'; k++)
		if (!isgraph((unsigned char)*k))
			return false;
	return true;
}

enum rc apikeys_load(const char *path, struct apikeys **out, struct errbuf *eb)
{
	struct apikeys *k = NULL;
	FILE *f = NULL;
	char line[APIKEYS_KEY_MAX + 4];
	int lineno = 0;
	enum rc rc = RC_OK;

	*out = NULL;
	f = fopen(path, "re");
	if (f == NULL)
		return eb_set(eb, RC_IO, "%s: cannot open: %s", path, strerror(errno));
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		rc = eb_set(eb, RC_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line;
		size_t len;
		const char *parts[2] = {NULL, NULL};
		void *grown;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = eb_set(eb, RC_INVAL, "%s:%d: key longer than %d characters", path, lineno,
				    APIKEYS_KEY_MAX);
			goto out;
		}
		while (isspace((unsigned char)*s))
			s++;
		len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			s[--len] = '\0';
		if (len == 0 || s[0] == '#')
			continue;
		if (len < APIKEYS_KEY_MIN || !key_chars_ok(s)) {
			rc = eb_set(eb, RC_INVAL, "%s:%d: a key must be %d..%d printable characters "
				    "without blanks", path, lineno, APIKEYS_KEY_MIN, APIKEYS_KEY_MAX);
			goto out;
		}
		if (k->n >= APIKEYS_MAX) {
			rc = eb_set(eb, RC_INVAL, "%s:%d: more than %d keys", path, lineno, APIKEYS_MAX);
			goto out;
		}
		grown = realloc(k->hashes, (k->n + 1) * sizeof(*k->hashes));
		if (grown == NULL) {
			rc = eb_set(eb, RC_NOMEM, "out of memory reading %s", path);
			goto out;
		}
		k->hashes = grown;
		parts[0] = s;
		sha256_parts(parts, k->hashes[k->n++]);
		OPENSSL_cleanse(line, sizeof(line));
	}
	if (ferror(f)) {
		rc = eb_set(eb, RC_IO, "%s: read error", path);
		goto out;
	}
	if (k->n == 0) {
		rc = eb_set(eb, RC_INVAL, "%s: no key in the file (unset [api] keys_file to turn "
			    "keys off)", path);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	OPENSSL_cleanse(line, sizeof(line));
	if (f != NULL)
		fclose(f);
	apikeys_free(k);
	return rc;
}

void apikeys_free(struct apikeys *k)
{
	if (k == NULL)
		return;
	free(k->hashes);
	free(k);
}

size_t apikeys_count(const struct apikeys *k)
{
	return k != NULL ? k->n : 0;
}

bool apikeys_check(const struct apikeys *k, const char *key, char hex_out[APIKEYS_HEX_SIZE])
{
	unsigned char h[SHA256_LEN];
	const char *parts[2] = {key, NULL};
	int found = 0;

	if (k == NULL || key == NULL || strlen(key) > APIKEYS_KEY_MAX)
		return false;
	sha256_parts(parts, h);
	/* no early exit: every stored hash is compared */
	for (size_t i = 0; i < k->n; i++)
		found |= CRYPTO_memcmp(h, k->hashes[i], SHA256_LEN) == 0;
	if (found && hex_out != NULL)
		to_hex(h, hex_out);
	return found != 0;
}
