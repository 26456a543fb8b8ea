#!/bin/sh
# PID 1 of the postgres image (docker/postgres/Dockerfile). On the first start (no
# $PGDATA/PG_VERSION): initdb with the superuser $POSTGRES_USER (default postgres) and
# $POSTGRES_PASSWORD (scram-sha-256 over TCP, trust on the Unix socket inside the container),
# then the scripts of /docker-entrypoint-initdb.d/ run against a server that listens on its
# Unix socket only, so a TCP health check passes only once they are done. Then PostgreSQL
# runs in the foreground on every interface of the container; arguments go to `postgres`.
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
export POSTGRES_USER="${POSTGRES_USER:-postgres}"
# the Unix socket: in /tmp (PGHOST in the Dockerfile), writable whatever the root file system
socket_dir=${PGHOST:-/tmp}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	# initdb's pg_hba.conf allows loopback only: the daemons come over the compose network.
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -w -l "$PGDATA/init.log" \
		-o "-c listen_addresses='' -k $socket_dir" start >/dev/null
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh) echo "appointmentd-postgres: running $f"; "$f" ;;
		*.sql) echo "appointmentd-postgres: running $f"
			psql -v ON_ERROR_STOP=1 -X -q -U "$POSTGRES_USER" -d postgres -f "$f" ;;
		*) ;;
		esac
	done
	pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
	echo "appointmentd-postgres: $PGDATA initialised"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k "$socket_dir" "$@"
