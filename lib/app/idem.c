/* idem.c — Idempotency-Key claims as conditional puts with a TTL attribute. */
#include "app/idem.h"
#include "app/tables.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

bool idem_key_valid(const char *key)
{
	size_t n;

	if (key == NULL)
		return false;
	n = strlen(key);
	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return false;
	return true;
}

void idem_record_key(const char *api_key_hash, const char *key, char out[APIKEYS_HEX_SIZE])
{
	const char *parts[] = {api_key_hash != NULL ? api_key_hash : "", "#", key, NULL};

	apikeys_sha256_hex(parts, out);
}

void idem_request_hash(const struct appt_request *req, char out[APIKEYS_HEX_SIZE])
{
	char sched[24];
	const char *parts[] = {req->insured_id, "|", sched, "|", req->country, NULL};

	snprintf(sched, sizeof(sched), "%" PRId64, req->schedule_id);
	apikeys_sha256_hex(parts, out);
}

static enum rc key_map(const char *record_key, struct json_object **out)
{
	*out = json_object_new_object();
	if (*out == NULL)
		return RC_NOMEM;
	return ddb_put_s(*out, TBL_SIDE_KEY, record_key);
}

/* Copies a string attribute of an old record into dst ("" when absent). */
static void copy_attr(struct json_object *item, const char *name, char *dst, size_t n)
{
	const char *s = NULL;
	size_t len = 0;
	struct errbuf ignore;

	dst[0] = '\0';
	if (ddb_get_s_opt(item, name, &s, &len, &ignore) == RC_OK && s != NULL && len < n)
		memcpy(dst, s, len + 1);
}

enum rc idem_claim(struct ddb_client *ddb, const char *table, const char *record_key,
		   const char *request_hash, const char *appointment_id, int64_t now_s,
		   enum idem_state *state, struct idem_record *rec, struct errbuf *eb)
{
	struct json_object *item = json_object_new_object();
	struct json_object *values = json_object_new_object();
	struct json_object *old = NULL;
	struct ddb_put_req req = {.table = table,
				  .condition = "attribute_not_exists(#k) OR expiresAt < :now OR "
					       "(#r = :empty AND claimedAt < :stale)",
				  .old_on_fail = true};
	struct json_object *names = NULL;
	char theirs[APIKEYS_HEX_SIZE];
	enum rc rc = RC_NOMEM;

	memset(rec, 0, sizeof(*rec));
	if (item == NULL || values == NULL)
		goto out;
	rc = ddb_put_s(item, TBL_SIDE_KEY, record_key);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "requestHash", request_hash);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "appointmentId", appointment_id);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "response", "");
	if (rc == RC_OK)
		rc = ddb_put_int64(item, TBL_TTL_ATTR, now_s + IDEM_TTL_SECONDS);
	if (rc == RC_OK)
		rc = ddb_put_int64(item, "claimedAt", now_s);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":now", now_s);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":stale", now_s - IDEM_STALE_SECONDS);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":empty", "");
	if (rc == RC_OK)
		rc = ddb_name(&names, "#k", "key");
	if (rc == RC_OK)
		rc = ddb_name(&names, "#r", "response");
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the idempotency record failed");
		goto out;
	}
	req.item = item;
	req.values = values;
	req.names = names;
	rc = ddb_put_item(ddb, &req, &old, eb);
	if (rc == RC_OK) {
		*state = IDEM_CLAIMED;
		memcpy(rec->appointment_id, appointment_id, APPT_ID_SIZE);
		goto out;
	}
	if (rc != RC_CONFLICT)
		goto out;
	if (old == NULL) {
		/* endpoints without ReturnValuesOnConditionCheckFailure: read it */
		struct json_object *key = NULL;

		rc = key_map(record_key, &key);
		if (rc == RC_OK)
			rc = ddb_get_item(ddb, table, key, true, &old, eb);
		json_object_put(key);
		if (rc != RC_OK)
			goto out;
	}
	copy_attr(old, "requestHash", theirs, sizeof(theirs));
	copy_attr(old, "appointmentId", rec->appointment_id, sizeof(rec->appointment_id));
	copy_attr(old, "response", rec->response, sizeof(rec->response));
	*state = strcmp(theirs, request_hash) == 0 ? IDEM_REPLAY : IDEM_MISMATCH;
	rc = RC_OK;
out:
	json_object_put(old);
	json_object_put(item);
	json_object_put(values);
	json_object_put(names);
	return rc;
}

enum rc idem_complete(struct ddb_client *ddb, const char *table, const char *record_key,
		      const char *response, struct errbuf *eb)
{
	struct json_object *key = NULL;
	struct json_object *values = json_object_new_object();
	struct ddb_update_req req = {.table = table, .update = "SET #r = :r"};
	struct json_object *names = NULL;
	enum rc rc = RC_NOMEM;

	if (values == NULL)
		goto out;
	rc = key_map(record_key, &key);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":r", response);
	if (rc == RC_OK)
		rc = ddb_name(&names, "#r", "response");
	if (rc != RC_OK)
		goto out;
	req.key = key;
	req.values = values;
	req.names = names;
	rc = ddb_update_item(ddb, &req, NULL, NULL, eb);
out:
	json_object_put(key);
	json_object_put(values);
	json_object_put(names);
	return rc;
}

enum rc idem_release(struct ddb_client *ddb, const char *table, const char *record_key,
		     struct errbuf *eb)
{
	struct json_object *key = NULL;
	enum rc rc = key_map(record_key, &key);

	if (rc == RC_OK)
		rc = ddb_delete_item(ddb, table, key, eb);
	json_object_put(key);
	return rc;
}
