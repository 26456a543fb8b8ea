/* idem.h — Idempotency-Key records of SPEC §3/§4 in their DynamoDB table: a claim
 * is a conditional put, so several API hosts agree on one winner per key. Each claim
 * carries a token of the request that holds it, so a write that meets its own earlier
 * attempt (a reply lost, the AWS core retried) is told from a twin's claim. */
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
#define IDEM_REFUSAL_MAX 32       /* stored errorCode of a refusal, with NUL */
#define IDEM_TOKEN_SIZE APPT_ID_SIZE /* a claim token: a UUID v4 text, with NUL */
#define IDEM_STALE_SECONDS 20     /* a claim with no response after this long was abandoned
				   * (its request died, or gave up without storing anything):
				   * taken over, keeping its appointment id. Well past a POST's
				   * life ([api] aws_budget_ms, 3 s, and the schedule check); a
				   * request still alive past it shares the id with its taker,
				   * its create refused by the fence (idem_fence) */
#define IDEM_CLAIM_ROUNDS 4       /* put / take-over rounds one idem_claim makes while
				   * other requests move the record under it */

/* What a claim found. */
enum idem_state {
	IDEM_CLAIMED,    /* this request owns the key with the fresh id it passed: create */
	IDEM_TAKEN_OVER, /* this request took over an abandoned or released claim: it owns
			  * the key with that claim's appointment id, whose item may exist */
	IDEM_REPLAY,     /* a response or a refusal is stored: answer with it */
	IDEM_BUSY,       /* the same request holds a live claim under another token (a twin,
			  * or an earlier attempt of the client still at work) */
	IDEM_MISMATCH,   /* same key, another request: 409 IDEMPOTENCY_CONFLICT */
};

/* An existing record as read back. */
struct idem_record {
	char appointment_id[APPT_ID_SIZE];   /* the appointment the key is for */
	char response[IDEM_RESPONSE_MAX];    /* its 201 body, "" while the owner works */
	char refusal[IDEM_REFUSAL_MAX];      /* errorCode of a refusal stored instead
					      * (SCHEDULE_NOT_FOUND...), else "" */
};

/* True when key is 1..IDEM_KEY_MAX printable ASCII (0x21..0x7e and space). */
bool idem_key_valid(const char *key);

/* The table key: SHA-256 hex of api_key_hash ("" without API keys) + "#" + key. */
void idem_record_key(const char *api_key_hash, const char *key, char out[APIKEYS_HEX_SIZE]);

/* The request fingerprint: SHA-256 hex of the validated request (padded insuredId,
 * scheduleId, countryISO), so "123" and "00123" are the same request. */
void idem_request_hash(const struct appt_request *req, char out[APIKEYS_HEX_SIZE]);

/* Claims record_key for this request (token: unique per HTTP request, e.g. a UUID v4)
 * with the fresh appointment_id, unless a live record holds it:
 * - no record, an expired one (past its TTL, not yet swept), or a refusal stored for
 *   another request: a new claim with appointment_id (IDEM_CLAIMED);
 * - a record holding this token (our own write, its reply lost): IDEM_CLAIMED (or
 *   IDEM_TAKEN_OVER when it was our take-over) with the record's id;
 * - another request hash: IDEM_MISMATCH;
 * - a stored response or refusal: IDEM_REPLAY;
 * - a claim with neither, older than IDEM_STALE_SECONDS or released: taken over with a
 *   compare-and-swap on its token, keeping its appointment id (IDEM_TAKEN_OVER);
 * - else IDEM_BUSY.
 * *rec describes the record: on IDEM_CLAIMED/TAKEN_OVER its appointment_id is the one to
 * create. Fails with the DynamoDB rc (the claim may then have been applied: see
 * idem_release), or RC_RETRY when other requests changed the record in each of
 * IDEM_CLAIM_ROUNDS rounds. Blocks for up to IDEM_CLAIM_ROUNDS DynamoDB calls' budgets. */
enum rc idem_claim(struct ddb_client *ddb, const char *table, const char *record_key,
		   const char *request_hash, const char *token, const char *appointment_id,
		   int64_t now_s, enum idem_state *state, struct idem_record *rec,
		   struct errbuf *eb) MUSTCHECK;

/* One strongly consistent read: *busy is true while the record is a live claim of
 * request_hash under another token with no response or refusal stored (IDEM_BUSY);
 * false when idem_claim would decide otherwise (call it then). */
enum rc idem_busy(struct ddb_client *ddb, const char *table, const char *record_key,
		  const char *request_hash, const char *token, int64_t now_s, bool *busy,
		  struct errbuf *eb) MUSTCHECK;

/* Stores the 201 body on the record, if token still holds the claim: RC_CONFLICT when
 * another request took it over meanwhile (nothing is written). Repeating it is harmless. */
enum rc idem_complete(struct ddb_client *ddb, const char *table, const char *record_key,
		      const char *token, const char *response, struct errbuf *eb) MUSTCHECK;

/* Stores a refusal that any repeat of this request would meet too (an errorCode such as
 * SCHEDULE_NOT_FOUND, under IDEM_REFUSAL_MAX), if token still holds the claim with no
 * response: a twin waiting on the claim answers the same; another request may reuse the
 * key (nothing was created). RC_CONFLICT when the claim is no longer ours. */
enum rc idem_refuse(struct ddb_client *ddb, const char *table, const char *record_key,
		    const char *token, const char *refusal, struct errbuf *eb) MUSTCHECK;

/* Gives up the claim of token when its request ends without an answer (a transient
 * failure): the record keeps its appointment id and is at once free to take over (a twin
 * or the client's retry creates the appointment under that id, or finds it stored).
 * Conditional on token holding the claim with nothing stored: RC_CONFLICT otherwise (also
 * when there is no record, e.g. a claim that was never applied). */
enum rc idem_release(struct ddb_client *ddb, const char *table, const char *record_key,
		     const char *token, struct errbuf *eb) MUSTCHECK;

/* The ConditionCheck that fences a write by the claim token holds on record_key: put in
 * the same TransactWriteItems as the write, it lets the write apply only while token still
 * holds the claim. A write that outlives its request (delayed in the network past the
 * request's budget, while the claim was released or taken over) then stores nothing, so
 * the taker's answer stays the only one. Fills *check (key and values owned: free them
 * with idem_fence_cleanup, also on failure). */
enum rc idem_fence(const char *table, const char *record_key, const char *token,
		   struct ddb_update_req *check, struct errbuf *eb) MUSTCHECK;
void idem_fence_cleanup(struct ddb_update_req *check);

#endif
