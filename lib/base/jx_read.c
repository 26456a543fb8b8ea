/* jx_read.c — reading json-c values: JSON numbers as exact int64 (decimal arithmetic, no
 * floating point) and the typed getters that name a missing or mistyped member. */
#include "base/jx.h"

#include <ctype.h>
#include <string.h>

/* Digit idx of the concatenation of the integer and fraction digits. */
static int digit_at(const char *ip, size_t il, const char *fp, size_t idx)
{
	return idx < il ? ip[idx] - '0' : fp[idx - il] - '0';
}

/* Exponent magnitudes past this cannot change the verdict: the digit strings
 * are far shorter than this in any text we could hold. */
#define JX_EXP_CLAMP 1000000000000000LL

enum jx_num jx_integer_text(const char *s, int64_t *out)
{
	const char *ip;
	const char *fp = "";
	size_t il;
	size_t fl = 0;
	size_t nd;
	size_t first;
	size_t last;
	long long exp = 0;
	long long e;
	bool neg = false;
	uint64_t mag = 0;

	if (s == NULL)
		return JX_NUM_NOT_NUMBER;
	if (*s == '-') {
		neg = true;
		s++;
	}
	ip = s;
	while (isdigit((unsigned char)*s))
		s++;
	il = (size_t)(s - ip);
	if (il == 0 || (il > 1 && ip[0] == '0'))
		return JX_NUM_NOT_NUMBER;
	if (*s == '.') {
		fp = ++s;
		while (isdigit((unsigned char)*s))
			s++;
		fl = (size_t)(s - fp);
		if (fl == 0)
			return JX_NUM_NOT_NUMBER;
	}
	if (*s == 'e' || *s == 'E') {
		bool eneg = false;
		const char *ep;

		s++;
		if (*s == '+' || *s == '-')
			eneg = *s++ == '-';
		ep = s;
		while (isdigit((unsigned char)*s)) {
			if (exp < JX_EXP_CLAMP)
				exp = exp * 10 + (*s - '0');
			s++;
		}
		if (s == ep)
			return JX_NUM_NOT_NUMBER;
		if (eneg)
			exp = -exp;
	}
	if (*s != '\0')
		return JX_NUM_NOT_NUMBER;

	/* value = digits[first..last] * 10^e, with no leading/trailing zero digits */
	nd = il + fl;
	for (first = 0; first < nd && digit_at(ip, il, fp, first) == 0; first++)
		;
	if (first == nd) {
		*out = 0;
		return JX_NUM_INT;
	}
	for (last = nd - 1; digit_at(ip, il, fp, last) == 0; last--)
		;
	e = (long long)il - 1 - (long long)last + exp;
	if (e < 0)
		return JX_NUM_FRACTION;
	/* 10^19 > 2^63: more than 19 significant digits cannot fit. */
	if ((long long)(last - first + 1) + e > 19)
		return JX_NUM_RANGE;
	for (size_t i = first; i <= last; i++)
		mag = mag * 10 + (uint64_t)digit_at(ip, il, fp, i);
	for (long long i = 0; i < e; i++)
		mag *= 10;
	if (mag > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
		return JX_NUM_RANGE;
	if (neg)
		*out = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return JX_NUM_INT;
}

enum jx_num jx_value_int64(struct json_object *v, int64_t *out)
{
	enum jx_num r;
	int64_t val = 0;

	if (v == NULL)
		return JX_NUM_NOT_NUMBER;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return JX_NUM_NOT_NUMBER;
	/* For doubles made by the tokener this is the original text; for integers
	 * it is the (possibly saturated) value printed, uint64 included. */
	r = jx_integer_text(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), &val);
	if (r == JX_NUM_INT && val == INT64_MIN)
		return JX_NUM_RANGE;
	if (r == JX_NUM_INT)
		*out = val;
	return r;
}

/* Looks key up in obj; RC_NOTFOUND when absent, RC_INVAL when obj is no object. */
static enum rc get_member(struct json_object *obj, const char *key, struct json_object **v,
                          struct errbuf *eb)
{
	*v = NULL;
	if (!json_object_is_type(obj, json_type_object))
		return eb_set(eb, RC_INVAL, "not a JSON object");
	if (!json_object_object_get_ex(obj, key, v))
		return eb_set(eb, RC_NOTFOUND, "'%s' is missing", key);
	return RC_OK;
}

enum rc jx_get_str(struct json_object *obj, const char *key, const char **out, size_t *len,
                   struct errbuf *eb)
{
	struct json_object *v;
	enum rc rc = get_member(obj, key, &v, eb);

	if (rc != RC_OK)
		return rc;
	if (!json_object_is_type(v, json_type_string))
		return eb_set(eb, RC_INVAL, "'%s' is not a string", key);
	*out = json_object_get_string(v);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return RC_OK;
}

enum rc jx_get_str_opt(struct json_object *obj, const char *key, const char **out,
                       size_t *len, struct errbuf *eb)
{
	struct json_object *v;
	enum rc rc = get_member(obj, key, &v, eb);

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (rc == RC_NOTFOUND || (rc == RC_OK && v == NULL))
		return RC_OK;
	if (rc != RC_OK)
		return rc;
	return jx_get_str(obj, key, out, len, eb);
}

enum rc jx_get_int64(struct json_object *obj, const char *key, int64_t *out, struct errbuf *eb)
{
	struct json_object *v;
	enum rc rc = get_member(obj, key, &v, eb);

	if (rc != RC_OK)
		return rc;
	switch (jx_value_int64(v, out)) {
	case JX_NUM_INT:
		return RC_OK;
	case JX_NUM_FRACTION:
		return eb_set(eb, RC_INVAL, "'%s' is not an integer", key);
	case JX_NUM_RANGE:
		return eb_set(eb, RC_INVAL, "'%s' is out of the int64 range", key);
	case JX_NUM_NOT_NUMBER:
		break;
	}
	return eb_set(eb, RC_INVAL, "'%s' is not a number", key);
}

enum rc jx_get_bool(struct json_object *obj, const char *key, bool *out, struct errbuf *eb)
{
	struct json_object *v;
	enum rc rc = get_member(obj, key, &v, eb);

	if (rc != RC_OK)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return eb_set(eb, RC_INVAL, "'%s' is not a boolean", key);
	*out = json_object_get_boolean(v) != 0;
	return RC_OK;
}

enum rc jx_get_obj(struct json_object *obj, const char *key, struct json_object **out,
                   struct errbuf *eb)
{
	struct json_object *v;
	enum rc rc = get_member(obj, key, &v, eb);

	*out = NULL;
	if (rc != RC_OK)
		return rc;
	if (!json_object_is_type(v, json_type_object))
		return eb_set(eb, RC_INVAL, "'%s' is not an object", key);
	*out = v;
	return RC_OK;
}
