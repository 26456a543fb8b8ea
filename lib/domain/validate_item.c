/* validate_item.c — the rules of the one-appointment routes (validate_item.h), built on the
 * checks validate.c shares (validate_priv.h). */
#include "domain/validate_item.h"

#include <string.h>

#include "domain/validate_priv.h"

/* Query parameter names, in the order their errors are reported. */
enum item_param { IP_WAIT = 0, IP_TIMEOUT, IP_COUNT };
static const char *const item_params[IP_COUNT] = {"waitFor", "timeout"};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The appointmentId rule on s (any length): a UUID in either case, lowered into id. */
static void check_id(const char *s, char id[APPT_ID_SIZE], struct val_errors *e)
{
	static const char f[] = "appointmentId";
	size_t len;

	id[0] = '\0';
	if (s == NULL) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_REQUIRED, "%s is required", f);
		return;
	}
	len = strnlen(s, APPT_ID_LEN + 1);
	if (len == 0) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_SHORT, "%s must not be empty", f);
		return;
	}
	if (len > APPT_ID_LEN) {
		val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_TOO_LONG,
		               "%s must be a UUID of %d characters", f, APPT_ID_LEN);
		return;
	}
	for (size_t i = 0; i < APPT_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (i >= len || (dash ? s[i] != '-' : !is_hex(s[i]))) {
			val_errors_add(e, VAL_VALIDATION_ERROR, f, VAL_CODE_INVALID_FORMAT,
			               "%s must be a UUID (8-4-4-4-12 hexadecimal digits)", f);
			id[0] = '\0';
			return;
		}
		id[i] = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
	}
	id[APPT_ID_LEN] = '\0';
}

enum rc val_item_path(const char *insured_s, const char *id_s, char insured[APPT_INSURED_SIZE],
                      char id[APPT_ID_SIZE], struct val_errors *errs)
{
	bool insured_ok = val_insured_id(insured_s, insured, errs) == RC_OK;

	check_id(id_s, id, errs);
	return insured_ok && id[0] != '\0' ? RC_OK : RC_INVAL;
}

enum rc val_item_query(const struct val_kv *params, size_t n, struct val_item_query *out,
                       struct val_errors *errs)
{
	const char *val[IP_COUNT] = {NULL};
	size_t before = errs->count + errs->dropped;

	out->wait = APPT_WAIT_NONE;
	out->timeout_s = VAL_WAIT_TIMEOUT_DEFAULT;
	if (val_query_too_many(n, errs))
		return RC_INVAL;
	val_query_known(params, n, item_params, IP_COUNT, val, errs);
	if (val[IP_WAIT] != NULL && appt_wait_parse(val[IP_WAIT], &out->wait) != RC_OK)
		val_errors_add(errs, VAL_VALIDATION_ERROR, item_params[IP_WAIT], VAL_CODE_NOT_ALLOWED,
		               "%s must be one of: completed, failed, cancelled, any-final",
		               item_params[IP_WAIT]);
	if (val[IP_TIMEOUT] != NULL)
		val_check_count(item_params[IP_TIMEOUT], val[IP_TIMEOUT], VAL_WAIT_TIMEOUT_MIN,
		                VAL_WAIT_TIMEOUT_MAX, &out->timeout_s, errs);
	val_query_unknown(params, n, item_params, IP_COUNT, errs);
	return errs->count + errs->dropped > before ? RC_INVAL : RC_OK;
}

enum rc val_item_no_query(const struct val_kv *params, size_t n, struct val_errors *errs)
{
	if (n == 0)
		return RC_OK;
	if (!val_query_too_many(n, errs))
		val_query_unknown(params, n, NULL, 0, errs);
	return RC_INVAL;
}
