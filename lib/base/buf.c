/* buf.c — bounded growable buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->secret = false;
}

void buf_set_secret(struct buf *b)
{
	b->secret = true;
}

void buf_cleanup(struct buf *b)
{
	if (b == NULL)
		return;
	if (b->secret && b->data != NULL)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

enum rc buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	size_t ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return RC_INVAL;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return RC_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (!b->secret) {
		p = realloc(b->data, ncap);
	} else {
		p = malloc(ncap);
		if (p != NULL && b->data != NULL) {
			memcpy(p, b->data, b->len + 1);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
	}
	if (p == NULL)
		return RC_NOMEM;
	b->data = p;
	b->cap = ncap;
	return RC_OK;
}

enum rc buf_append(struct buf *b, const void *p, size_t n)
{
	enum rc rc = buf_reserve(b, n);

	if (rc != RC_OK)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return RC_OK;
}

enum rc buf_extend(struct buf *b, size_t n, char **p)
{
	enum rc rc = buf_reserve(b, n);

	*p = NULL;
	if (rc != RC_OK)
		return rc;
	*p = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return RC_OK;
}

enum rc buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum rc buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum rc rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RC_INVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc != RC_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return RC_OK;
}

const char *buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

char *buf_take(struct buf *b)
{
	char *p = b->data;

	if (p == NULL)
		return strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
