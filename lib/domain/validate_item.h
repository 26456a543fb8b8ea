/* validate_item.h — the input rules of the routes on one appointment, SPEC §3
 * /appointments/{insuredId}/{appointmentId}: the two path parameters, and the query of the
 * GET (waitFor, timeout). Same error model as validate.h (every failing parameter, stable
 * codes; docs/validation.md). */
#ifndef APPT_VALIDATE_ITEM_H
#define APPT_VALIDATE_ITEM_H

#include "domain/validate.h"

#define VAL_WAIT_TIMEOUT_MIN 1      /* seconds a waitFor may hold the answer, at least */
#define VAL_WAIT_TIMEOUT_MAX 20     /* ... at most */
#define VAL_WAIT_TIMEOUT_DEFAULT 10 /* without timeout= */

/* The path of one appointment: insuredId by val_insured_id's rule (padded into insured),
 * appointmentId a UUID (8-4-4-4-12 hex digits, either case; written in lower case into id,
 * the form ids are stored in). Appends one error per failing parameter to errs (not
 * initialised here). RC_OK, or RC_INVAL with errs->result VAL_VALIDATION_ERROR. Either
 * string may be NULL (required) and of any length. Pure. */
enum rc val_item_path(const char *insured_s, const char *id_s, char insured[APPT_INSURED_SIZE],
                      char id[APPT_ID_SIZE], struct val_errors *errs) MUSTCHECK;

/* GET /appointments/{insuredId}/{appointmentId} query, validated and defaulted. */
struct val_item_query {
	enum appt_wait wait; /* waitFor; APPT_WAIT_NONE when absent */
	int timeout_s;       /* timeout, VAL_WAIT_TIMEOUT_MIN..MAX; the default when absent
	                        (given without waitFor it has no effect) */
};

/* Validates params[0..n) (waitFor, timeout; any other name, a repeated name, an empty or
 * overlong value, more than VAL_QUERY_MAX parameters are errors) into *out. Appends to errs
 * (not initialised here). RC_OK, or RC_INVAL with errs->result VAL_VALIDATION_ERROR.
 * Pure and thread-safe. */
enum rc val_item_query(const struct val_kv *params, size_t n, struct val_item_query *out,
                       struct val_errors *errs) MUSTCHECK;

/* The query of a route that takes none (DELETE /appointments/{insuredId}/{appointmentId},
 * POST /appointments): every parameter is an unknown_field error (more than VAL_QUERY_MAX: one too_many error).
 * Appends to errs (not initialised here). RC_OK for an empty query, else RC_INVAL. Pure. */
enum rc val_item_no_query(const struct val_kv *params, size_t n,
                          struct val_errors *errs) MUSTCHECK;

#endif
