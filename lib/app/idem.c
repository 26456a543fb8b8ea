/* idem.c — Idempotency-Key claims as conditional puts with a TTL attribute; every later
 * write to a claim (take-over, response, refusal, release) is conditional on its token. */
#include "app/idem.h"
#include "app/tables.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
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

static int64_t int_attr(struct json_object *item, const char *name, int64_t dflt)
{
	int64_t v = dflt;
	struct errbuf ignore;

	if (ddb_get_int64(item, name, &v, &ignore) != RC_OK)
		return dflt;
	return v;
}

/* A record as read back, beyond what struct idem_record tells the caller. */
struct held {
	char token[IDEM_TOKEN_SIZE];   /* claimToken, "" on a record written before tokens */
	char hash[APIKEYS_HEX_SIZE];   /* requestHash */
	int64_t claimed_at;            /* claimedAt: 0 once released */
	int64_t expires_at;            /* expiresAt */
};

/* What a record means to the request (request_hash, token) at now_s. */
enum verdict {
	V_OURS,     /* our token holds it */
	V_MISMATCH, /* another request's */
	V_REPLAY,   /* a response or refusal stored for this request */
	V_FREE,     /* an abandoned or released claim of this request: take it over */
	V_BUSY,     /* a live claim of this request under another token */
	V_AGAIN,    /* a fresh claim may overwrite it (it changed under us): put again */
};

static enum verdict judge(struct json_object *item, const char *request_hash, const char *token,
			  int64_t now_s, struct held *h, struct idem_record *rec)
{
	copy_attr(item, "claimToken", h->token, sizeof(h->token));
	copy_attr(item, "requestHash", h->hash, sizeof(h->hash));
	h->claimed_at = int_attr(item, "claimedAt", 0);
	h->expires_at = int_attr(item, TBL_TTL_ATTR, INT64_MAX);
	copy_attr(item, "appointmentId", rec->appointment_id, sizeof(rec->appointment_id));
	copy_attr(item, "response", rec->response, sizeof(rec->response));
	copy_attr(item, "refusal", rec->refusal, sizeof(rec->refusal));
	if (h->expires_at < now_s)
		return V_AGAIN;
	if (h->token[0] != '\0' && strcmp(h->token, token) == 0)
		return V_OURS;
	if (strcmp(h->hash, request_hash) != 0)
		return rec->refusal[0] != '\0' ? V_AGAIN : V_MISMATCH;
	if (rec->response[0] != '\0' || rec->refusal[0] != '\0')
		return V_REPLAY;
	if (h->claimed_at < now_s - IDEM_STALE_SECONDS)
		return V_FREE;
	return V_BUSY;
}

/* The conditional put of a new claim. On RC_CONFLICT, *old is the record it met (NULL when
 * the endpoint does not return it). */
static enum rc put_claim(struct ddb_client *ddb, const char *table, const char *record_key,
			 const char *request_hash, const char *token, const char *appointment_id,
			 int64_t now_s, struct json_object **old, struct errbuf *eb)
{
	struct json_object *item = json_object_new_object();
	struct json_object *values = json_object_new_object();
	struct json_object *names = NULL;
	/* a refusal stored for another request does not keep the key: nothing was created */
	struct ddb_put_req req = {.table = table,
				  .condition = "attribute_not_exists(#k) OR expiresAt < :now OR "
					       "(attribute_exists(refusal) AND requestHash <> :h)",
				  .old_on_fail = true};
	enum rc rc = RC_NOMEM;

	if (item == NULL || values == NULL)
		goto out;
	rc = ddb_put_s(item, TBL_SIDE_KEY, record_key);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "requestHash", request_hash);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "appointmentId", appointment_id);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "claimToken", token);
	if (rc == RC_OK)
		rc = ddb_put_s(item, "response", "");
	if (rc == RC_OK)
		rc = ddb_put_int64(item, TBL_TTL_ATTR, now_s + IDEM_TTL_SECONDS);
	if (rc == RC_OK)
		rc = ddb_put_int64(item, "claimedAt", now_s);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":now", now_s);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":h", request_hash);
	if (rc == RC_OK)
		rc = ddb_name(&names, "#k", "key");
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the idempotency record failed");
		goto out;
	}
	req.item = item;
	req.values = values;
	req.names = names;
	rc = ddb_put_item(ddb, &req, old, eb);
out:
	json_object_put(item);
	json_object_put(values);
	json_object_put(names);
	return rc;
}

/* An UpdateItem of the record: set under cond, both naming response "#r"; values (borrowed)
 * holds what they use. *old (may be NULL) as for ddb_update_item. */
static enum rc update_record(struct ddb_client *ddb, const char *table, const char *record_key,
			     const char *set, const char *cond, struct json_object *values,
			     struct json_object **old, struct errbuf *eb)
{
	struct json_object *key = NULL;
	struct json_object *names = NULL;
	struct ddb_update_req req = {.table = table, .update = set, .condition = cond,
				     .values = values, .old_on_fail = old != NULL};
	enum rc rc = key_map(record_key, &key);

	if (rc == RC_OK)
		rc = ddb_name(&names, "#r", "response");
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the idempotency update failed");
		goto out;
	}
	req.key = key;
	req.names = names;
	rc = ddb_update_item(ddb, &req, NULL, old, eb);
out:
	json_object_put(key);
	json_object_put(names);
	return rc;
}

/* update_record conditioned on token holding the claim (and on cond_extra, when not NULL);
 * ":mine" is added to values. */
static enum rc update_ours(struct ddb_client *ddb, const char *table, const char *record_key,
			   const char *token, const char *set, const char *cond_extra,
			   struct json_object *values, struct errbuf *eb)
{
	char cond[256];
	enum rc rc = ddb_put_s(values, ":mine", token);

	if (rc != RC_OK)
		return eb_set(eb, rc, "building the idempotency update failed");
	snprintf(cond, sizeof(cond), "claimToken = :mine%s%s", cond_extra != NULL ? " AND " : "",
		 cond_extra != NULL ? cond_extra : "");
	return update_record(ddb, table, record_key, set, cond, values, NULL, eb);
}

/* Takes over the abandoned or released claim h describes: a compare-and-swap of its token
 * for ours, so of several requests taking it over one wins. The appointment id stays. */
static enum rc take_over(struct ddb_client *ddb, const char *table, const char *record_key,
			 const struct held *h, const char *token, int64_t now_s,
			 struct json_object **old, struct errbuf *eb)
{
	struct json_object *values = json_object_new_object();
	const char *cond = h->token[0] != '\0'
		? "claimToken = :theirs AND #r = :empty AND attribute_not_exists(refusal) AND "
		  "claimedAt < :stale"
		: "attribute_not_exists(claimToken) AND #r = :empty AND "
		  "attribute_not_exists(refusal) AND claimedAt < :stale";
	enum rc rc = RC_NOMEM;

	if (values == NULL)
		goto out;
	rc = ddb_put_s(values, ":mine", token);
	if (rc == RC_OK && h->token[0] != '\0')
		rc = ddb_put_s(values, ":theirs", h->token);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":empty", "");
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":now", now_s);
	if (rc == RC_OK)
		rc = ddb_put_int64(values, ":stale", now_s - IDEM_STALE_SECONDS);
	if (rc != RC_OK) {
		rc = eb_set(eb, rc, "building the idempotency take-over failed");
		goto out;
	}
	rc = update_record(ddb, table, record_key, "SET claimToken = :mine, claimedAt = :now", cond,
			   values, old, eb);
out:
	json_object_put(values);
	return rc;
}

/* The record as it is now (consistent read): *item NULL when there is none. */
static enum rc read_record(struct ddb_client *ddb, const char *table, const char *record_key,
			   struct json_object **item, struct errbuf *eb)
{
	struct json_object *key = NULL;
	enum rc rc = key_map(record_key, &key);

	*item = NULL;
	if (rc == RC_OK)
		rc = ddb_get_item(ddb, table, key, true, item, eb);
	json_object_put(key);
	if (rc == RC_NOTFOUND)
		rc = RC_OK;
	return rc;
}

enum rc idem_claim(struct ddb_client *ddb, const char *table, const char *record_key,
		   const char *request_hash, const char *token, const char *appointment_id,
		   int64_t now_s, enum idem_state *state, struct idem_record *rec,
		   struct errbuf *eb)
{
	struct json_object *old = NULL;
	struct held h;
	enum rc rc = RC_OK;

	memset(rec, 0, sizeof(*rec));
	*state = IDEM_BUSY;
	for (int round = 0; round < IDEM_CLAIM_ROUNDS; round++) {
		json_object_put(old);
		old = NULL;
		rc = put_claim(ddb, table, record_key, request_hash, token, appointment_id, now_s,
			       &old, eb);
		if (rc == RC_OK) {
			memset(rec, 0, sizeof(*rec));
			memcpy(rec->appointment_id, appointment_id, APPT_ID_SIZE);
			*state = IDEM_CLAIMED;
			goto out;
		}
		if (rc != RC_CONFLICT)
			goto out;
		rc = RC_OK;
		/* endpoints without ReturnValuesOnConditionCheckFailure: read it */
		if (old == NULL) {
			rc = read_record(ddb, table, record_key, &old, eb);
			if (rc != RC_OK)
				goto out;
			if (old == NULL)
				continue;
		}
		switch (judge(old, request_hash, token, now_s, &h, rec)) {
		case V_OURS:
			/* our own put (or take-over) applied, its reply lost and retried */
			*state = strcmp(rec->appointment_id, appointment_id) == 0 ? IDEM_CLAIMED
										 : IDEM_TAKEN_OVER;
			goto out;
		case V_MISMATCH:
			*state = IDEM_MISMATCH;
			goto out;
		case V_REPLAY:
			*state = IDEM_REPLAY;
			goto out;
		case V_BUSY:
			*state = IDEM_BUSY;
			goto out;
		case V_AGAIN:
			continue;
		case V_FREE:
			break;
		}
		json_object_put(old);
		old = NULL;
		rc = take_over(ddb, table, record_key, &h, token, now_s, &old, eb);
		if (rc == RC_OK) {
			rec->response[0] = '\0';
			rec->refusal[0] = '\0';
			*state = IDEM_TAKEN_OVER;
			goto out;
		}
		if (rc != RC_CONFLICT)
			goto out;
		rc = RC_OK;
		/* the retry of our own take-over meets it; else someone moved first: again */
		if (old != NULL && judge(old, request_hash, token, now_s, &h, rec) == V_OURS) {
			*state = IDEM_TAKEN_OVER;
			goto out;
		}
	}
	/* others kept moving the record under us: transient, the client retries */
	rc = eb_set(eb, RC_RETRY, "the Idempotency-Key record changed %d times during the claim",
		    IDEM_CLAIM_ROUNDS);
out:
	if (rc != RC_OK)
		memset(rec, 0, sizeof(*rec));
	json_object_put(old);
	return rc;
}

enum rc idem_busy(struct ddb_client *ddb, const char *table, const char *record_key,
		  const char *request_hash, const char *token, int64_t now_s, bool *busy,
		  struct errbuf *eb)
{
	struct json_object *item = NULL;
	struct idem_record *rec = calloc(1, sizeof(*rec));
	struct held h;
	enum rc rc = RC_NOMEM;

	*busy = false;
	if (rec == NULL)
		goto out;
	rc = read_record(ddb, table, record_key, &item, eb);
	if (rc == RC_OK && item != NULL)
		*busy = judge(item, request_hash, token, now_s, &h, rec) == V_BUSY;
out:
	free(rec);
	json_object_put(item);
	return rc;
}

enum rc idem_complete(struct ddb_client *ddb, const char *table, const char *record_key,
		      const char *token, const char *response, struct errbuf *eb)
{
	struct json_object *values = json_object_new_object();
	enum rc rc = RC_NOMEM;

	if (values == NULL)
		goto out;
	rc = ddb_put_s(values, ":r", response);
	if (rc == RC_OK)
		rc = update_ours(ddb, table, record_key, token, "SET #r = :r", NULL, values, eb);
out:
	json_object_put(values);
	return rc;
}

enum rc idem_refuse(struct ddb_client *ddb, const char *table, const char *record_key,
		    const char *token, const char *refusal, struct errbuf *eb)
{
	struct json_object *values = json_object_new_object();
	enum rc rc = RC_NOMEM;

	if (values == NULL)
		goto out;
	if (refusal[0] == '\0' || strlen(refusal) >= IDEM_REFUSAL_MAX) {
		rc = eb_set(eb, RC_INVAL, "a refusal is 1 to %d bytes", IDEM_REFUSAL_MAX - 1);
		goto out;
	}
	rc = ddb_put_s(values, ":f", refusal);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":empty", "");
	if (rc == RC_OK)
		rc = update_ours(ddb, table, record_key, token, "SET refusal = :f", "#r = :empty",
				 values, eb);
out:
	json_object_put(values);
	return rc;
}

enum rc idem_release(struct ddb_client *ddb, const char *table, const char *record_key,
		     const char *token, struct errbuf *eb)
{
	struct json_object *values = json_object_new_object();
	enum rc rc = RC_NOMEM;

	if (values == NULL)
		goto out;
	rc = ddb_put_int64(values, ":zero", 0);
	if (rc == RC_OK)
		rc = ddb_put_s(values, ":empty", "");
	/* claimedAt 0 is older than any stale limit: free to take over at once */
	if (rc == RC_OK)
		rc = update_ours(ddb, table, record_key, token, "SET claimedAt = :zero",
				 "#r = :empty AND attribute_not_exists(refusal)", values, eb);
out:
	json_object_put(values);
	return rc;
}

enum rc idem_fence(const char *table, const char *record_key, const char *token,
		   struct ddb_update_req *check, struct errbuf *eb)
{
	enum rc rc;

	memset(check, 0, sizeof(*check));
	check->table = table;
	/* a released claim keeps its token with claimedAt 0 (idem_release) */
	check->condition = "claimToken = :mine AND claimedAt > :zero";
	check->ret = DDB_RET_NONE;
	rc = key_map(record_key, &check->key);
	if (rc == RC_OK) {
		check->values = json_object_new_object();
		rc = check->values != NULL ? ddb_put_s(check->values, ":mine", token) : RC_NOMEM;
	}
	if (rc == RC_OK)
		rc = ddb_put_int64(check->values, ":zero", 0);
	if (rc != RC_OK)
		return eb_set(eb, rc, "building the idempotency fence failed");
	return RC_OK;
}

void idem_fence_cleanup(struct ddb_update_req *check)
{
	json_object_put(check->key);
	json_object_put(check->values);
	memset(check, 0, sizeof(*check));
}
