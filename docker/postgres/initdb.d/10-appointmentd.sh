#!/bin/sh
# Runs once, when the postgres container initialises its data directory: the role the
# daemons use and one database per country (APPT_COUNTRIES, lower case). The schema in sql/
# is then applied by `appointmentctl migrate` in the provision service, the one path that
# records each migration in schema_migrations (applying sql/ here too would make migrate
# find unrecorded tables and stop).
set -eu
: "${APPT_DB_PASSWORD:?set APPT_DB_PASSWORD}"
countries=${APPT_COUNTRIES:-pe cl}

psql -v ON_ERROR_STOP=1 -v pw="$APPT_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE appointmentd LOGIN PASSWORD :'pw';
SQL
for cc in $countries; do
	case $cc in
	[a-z][a-z]) ;;
	*) echo "10-appointmentd.sh: bad country code '$cc' (two lower-case letters)" >&2; exit 1 ;;
	esac
	psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
		-c "CREATE DATABASE appointments_$cc OWNER appointmentd ENCODING 'UTF8'"
done
