/* quota.c — atomic per-day counters. */
#include "app/quota.h"
#include "app/tables.h"

#include <json-c/json.h>
#include <stdio.h>

#include "domain/timeutil.h"

int64_t quota_seconds_to_reset(int64_t now_s)
{
	int64_t left = 86400 - now_s % 86400;

	return left < 1 ? 1 : left;
}

enum rc quota_take(struct ddb_client *ddb, const char *table, const char *api_key_hash,
		   int64_t now_s, int64_t *count, struct errbuf *eb)
{
	char day[TU_ISO_SIZE]; /* "YYYY-MM-DD" of now_s, UTC */
	char record[APIKEYS_HEX_SIZE];
	const char *parts[] = {api_key_hash, "#", day, NULL};
	struct json_object *key = json_object_new_object();
	struct json_object *values = json_object_new_object();
	struct json_object *names = NULL;
	struct json_object *attrs = NULL;
	struct ddb_update_req req = {.table = table,
				     .update = "ADD #c :one SET expiresAt = if_not_exists(expiresAt, :exp)",
				     .ret = DDB_RET_UPDATED_NEW};
	enum rc rc = RC_NOMEM;

	*count = 0;
	if (key == NULL || values == NULL)
		goto out;
	/* the one timestamp form, cut to its date (the format is fixed: nothing else is lost) */
	if (tu_format_ms(now_s * 1000, day) != RC_OK) {
		rc = eb_set(eb, RC_INVAL, "quota: time %lld out of range", (long long)now_s);
		goto out;
	}
	day[10] = '\0';
	apikeys_sha256_hex(parts, record);
	rc = ddb_put_s(key, TBL_SIDE_KEY, record);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":one", 1);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":exp", now_s - now_s % 86400 + QUOTA_TTL_SECONDS);
	if (rc == RC_OK)
		rc = ddb_name(&names, "#c", "count");
	if (rc != RC_OK)
		goto out;
	req.key = key;
	req.values = values;
	req.names = names;
	rc = ddb_update_item(ddb, &req, &attrs, NULL, eb);
	if (rc == RC_OK)
		rc = ddb_get_int64(attrs, "count", count, eb);
out:
	json_object_put(attrs);
	json_object_put(key);
	json_object_put(values);
	json_object_put(names);
	return rc;
}
