/* str.c — checked copies and deliberate cuts of text into fixed-size fields. */
#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool str_copy(char *dst, size_t n, const char *src)
{
	size_t len = src != NULL ? strlen(src) : 0;

	if (n == 0)
		return false;
	if (len >= n) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src != NULL ? src : "", len + 1);
	return true;
}

bool str_cut(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (n == 0)
		return false;
	va_start(ap, fmt);
	w = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	if (w < 0) {
		dst[0] = '\0';
		return false;
	}
	return (size_t)w < n;
}

int str_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
