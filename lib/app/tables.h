/* tables.h — the product's DynamoDB tables (SPEC §4): the appointments table with its key and
 * GSIs, and the side tables (idempotency, quota) with their key and TTL attribute, as specs
 * for appointmentctl provision and as the names every query and write uses. */
#ifndef APPT_APP_TABLES_H
#define APPT_APP_TABLES_H

#include "aws/dynamodb_tables.h"

/* The appointments table of SPEC §4: its key and GSIs, and the side tables' key and TTL. */
#define TBL_APPT_KEY "appointmentId"
#define TBL_GSI_INSURED "insuredId-createdAt-index"
#define TBL_GSI_STATUS "status-createdAt-index"
#define TBL_GSI_COUNTRY "countryISO-createdAt-index"
#define TBL_SIDE_KEY "key"
#define TBL_TTL_ATTR "expiresAt"

/* Fills spec for the appointments table of SPEC §4: key appointmentId (S), the three
 * createdAt GSIs, stream and SSE on. table is borrowed. Never fails. */
void tbl_appointments_spec(const char *table, struct ddb_table_spec *spec);
/* Fills spec for a side table (idempotency, quota): key "key" (S), no GSIs, no stream, SSE
 * on. table is borrowed. Never fails. */
void tbl_side_spec(const char *table, struct ddb_table_spec *spec);

#endif
