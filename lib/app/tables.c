/* tables.c — the specs of the product's DynamoDB tables (SPEC §4). */
#include "app/tables.h"

#include <string.h>

static const struct ddb_gsi appointments_gsis[] = {
	{TBL_GSI_INSURED, {"insuredId", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
	{TBL_GSI_STATUS, {"status", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
	{TBL_GSI_COUNTRY, {"countryISO", DDB_KEY_S}, {"createdAt", DDB_KEY_S}},
};

void tbl_appointments_spec(const char *table, struct ddb_table_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->table = table;
	spec->hash.name = TBL_APPT_KEY;
	spec->hash.type = DDB_KEY_S;
	spec->gsis = appointments_gsis;
	spec->n_gsis = sizeof(appointments_gsis) / sizeof(appointments_gsis[0]);
	spec->stream = true;
	spec->sse = true;
}

void tbl_side_spec(const char *table, struct ddb_table_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->table = table;
	spec->hash.name = TBL_SIDE_KEY;
	spec->hash.type = DDB_KEY_S;
	spec->sse = true;
}

