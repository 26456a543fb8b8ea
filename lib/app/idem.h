/* idem.h — Idempotency-Key records of SPEC §3/§4 in their DynamoDB table: a claim
 * is a conditional put, so several API hosts agree on one winner per key. */
#ifndef APPT_IDEM_H
#define APPT_IDEM_H

#include <stdint.h>

#include "app/apikeys.h"
#include "aws/dynamodb.h"
#include "domain/appointment.h"
#include "base/rc.h"

#define IDEM_KEY_MAX 128          /* Idempotency-Key: 1..128 printable ASCII */
#define IDEM_TTL_SECONDS 86400    /* records are kept 24 h */
#define IDEM_RESPONSE_MAX 4096    /* stored 201 body */
#define IDEM_STALE_SECONDS 60     /* a claim with no response after this long was abandoned
				   * (its request died before storing anything): taken over */

/* What a claim found. */
enum idem_state {
	IDEM_CLAIMED,   /* this request owns the key: create the appointment */
	IDEM_REPLAY,    /* same key, same request: answer with the stored appointment */
	IDEM_MISMATCH,  /* same key, another request: 409 IDEMPOTENCY_CONFLICT */
};

/* An existing record as read back. */
struct idem_record {
	char appointment_id[APPT_ID_SIZE];   /* the appointment the key created */
	char response[IDEM_RESPONSE_MAX];    /* its 201 body, "" while the owner works */
};

/* True when key is 1..IDEM_KEY_MAX printable ASCII (0x21..0x7e and space). */
bool idem_key_valid(const char *key);

/* The table key: SHA-256 hex of api_key_hash ("" without API keys) + "#" + key. */
void idem_record_key(const char *api_key_hash, const char *key, char out[APIKEYS_HEX_SIZE]);

/* The request fingerprint: SHA-256 hex of the validated request (padded insuredId,
 * scheduleId, countryISO), so "123" and "00123" are the same request. */
void idem_request_hash(const struct appt_request *req, char out[APIKEYS_HEX_SIZE]);

/* Claims record_key for appointment_id unless a live record holds it. An expired
 * one (past its TTL, not yet swept) and an abandoned one (no response after
 * IDEM_STALE_SECONDS: its request died before answering) are taken over. On
 * IDEM_REPLAY/MISMATCH, *rec describes the holder. */
enum rc idem_claim(struct ddb_client *ddb, const char *table, const char *record_key,
		   const char *request_hash, const char *appointment_id, int64_t now_s,
		   enum idem_state *state, struct idem_record *rec, struct errbuf *eb) MUSTCHECK;

/* Stores the 201 body on the record this request claimed. */
enum rc idem_complete(struct ddb_client *ddb, const char *table, const char *record_key,
		      const char *response, struct errbuf *eb) MUSTCHECK;

/* Drops a claim whose request failed before anything was stored, so a retry of the
 * same key can go through. */
enum rc idem_release(struct ddb_client *ddb, const char *table, const char *record_key,
		     struct errbuf *eb) MUSTCHECK;

#endif
