/* etag.c — the strong ETag of an item answer and the If-None-Match test (etag.h). */
#include "domain/etag.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

void etag_of(const char *text, size_t len, char out[ETAG_SIZE])
{
	uint64_t h = FNV64_OFFSET;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= FNV64_PRIME;
	}
	snprintf(out, ETAG_SIZE, "\"%016llx\"", (unsigned long long)h);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool etag_match(const char *inm, const char *etag)
{
	size_t want = strlen(etag);
	const char *p;

	if (inm == NULL || want < 2 || etag[0] != '"')
		return false;
	p = skip_ows(inm);
	if (*p == '*')
		return *skip_ows(p + 1) == '\0';
	while (*p != '\0') {
		const char *tag;
		const char *end;

		if (*p == ',') { /* empty list members are allowed (RFC 9110 §5.6.1) */
			p = skip_ows(p + 1);
			continue;
		}
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"')
			return false;
		tag = p;
		end = strchr(p + 1, '"');
		if (end == NULL)
			return false;
		if ((size_t)(end + 1 - tag) == want && memcmp(tag, etag, want) == 0)
			return true;
		p = skip_ows(end + 1);
		if (*p != ',' && *p != '\0')
			return false;
	}
	return false;
}
