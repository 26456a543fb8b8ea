#!/usr/bin/env bash
# The local stack: PostgreSQL 15, DynamoDB Local, moto (SNS, SQS, EventBridge, SSM) and
# fauxqs (SQS, SNS), all on 127.0.0.1, all under one run directory.
#
#   scripts/stack.sh start    start what is not running, wait until every service answers
#   scripts/stack.sh stop     stop what this run directory started (by pid), drop its data
#   scripts/stack.sh status   one line per service; exit 0 when all run, 3 otherwise
#   scripts/stack.sh env      export lines for the daemons and the tests (eval "$(… env)")
#   scripts/stack.sh pg-down  stop the PostgreSQL server but keep its data (fault tests)
#   scripts/stack.sh pg-up    start it again on the same data
#
# Environment (defaults):
#   APPT_RUN_DIR=<repo>/run/stack   pid files, logs, PostgreSQL data
#   APPT_PG_PORT=15432 APPT_DDB_PORT=18000 APPT_MOTO_PORT=15000 APPT_FAUXQS_PORT=19324
#   APPT_STACK_TIMEOUT=60           seconds each service gets to become ready
# The state is in memory (DynamoDB Local -inMemory, moto, fauxqs) and the PostgreSQL cluster is
# made fresh by the first start after a stop: a stop/start cycle is a clean slate.
set -euo pipefail
APPT_PROG=stack.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_DIR=$(abs_path "${APPT_RUN_DIR:-$APPT_ROOT/run/stack}")
PG_PORT=${APPT_PG_PORT:-15432}
DDB_PORT=${APPT_DDB_PORT:-18000}
MOTO_PORT=${APPT_MOTO_PORT:-15000}
FAUXQS_PORT=${APPT_FAUXQS_PORT:-19324}
TIMEOUT=${APPT_STACK_TIMEOUT:-60}
HOST=127.0.0.1
PG_BIN=${APPT_PG_BIN:-/usr/lib/postgresql/15/bin}
SUPPORT=$APPT_ROOT/tests/support
DDB_DIR=$SUPPORT/node_modules/amplify-dynamodb-simulator/emulator
MOTO_SERVER=$APPT_ROOT/.venv/bin/moto_server
MOTO_PYTHON=$APPT_ROOT/.venv/bin/python
DB_ROLE=appointmentd
DB_PASSWORD=appointmentd
DATABASES=(appointments_pe appointments_cl)

for p in "$PG_PORT" "$DDB_PORT" "$MOTO_PORT" "$FAUXQS_PORT"; do
	if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
		die "bad port: $p"
	fi
done

# An Authorization header in the SigV4 shape: the emulators check none of it, but they need
# one (DynamoDB Local) or take the service from its credential scope (moto).
auth_header() {
	printf 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=00' "$1"
}

# http_code ARGS...: the HTTP status of a bounded curl call to loopback ("000" if none).
http_code() {
	curl --noproxy '*' -s -o /dev/null --max-time 2 -w '%{http_code}' "$@" 2>/dev/null || true
}

# ---- PostgreSQL ------------------------------------------------------------------------
# The cluster lives in PG_AREA: <run dir>/pg when the postgres user can reach it and the
# socket path fits, else /tmp/appointmentd-pg-<hash of the run dir> (e.g. a repo under /root,
# which is mode 700). The choice is remembered in <run dir>/pg.area so stop finds it.
as_pg() {
	if [[ $EUID -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

pg_area_ok() {
	local area=$1
	# unix socket paths are limited to 107 bytes; postgres -k takes no blanks
	[[ "$area" != *[[:space:]]* ]] || return 1
	((${#area} + ${#PG_PORT} + 20 < 100)) || return 1
	as_pg test -w "$area" 2>/dev/null
}

pg_area() {
	if [[ -r "$RUN_DIR/pg.area" ]]; then
		cat "$RUN_DIR/pg.area"
		return 0
	fi
	local area=$RUN_DIR/pg
	mkdir -p "$area"
	[[ $EUID -eq 0 ]] && chown postgres:postgres "$area"
	chmod 700 "$area"
	if ! pg_area_ok "$area"; then
		rmdir "$area" 2>/dev/null || true
		area=/tmp/appointmentd-pg-$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)
		if [[ -e "$area" || -L "$area" ]]; then
			[[ -d "$area" && ! -L "$area" ]] || die "$area exists and is not a directory"
			[[ "$(stat -c %U "$area")" == "$([[ $EUID -eq 0 ]] && echo postgres || id -un)" ]] ||
				die "$area is not owned by the PostgreSQL user"
		else
			mkdir -m 700 "$area"
			[[ $EUID -eq 0 ]] && chown postgres:postgres "$area"
		fi
		pg_area_ok "$area" || die "no directory the postgres user can write for the cluster"
	fi
	printf '%s\n' "$area" >"$RUN_DIR/pg.area"
	printf '%s\n' "$area"
}

pg_running() {
	local area pid
	[[ -r "$RUN_DIR/pg.area" ]] || return 1
	area=$(cat "$RUN_DIR/pg.area")
	pid=$(pid_of "$area/data/postmaster.pid")
	pid_matches "$pid" postgres && printf '%s\n' "$pid"
}

pg_psql() {
	local area=$1
	shift
	as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$area/sock" -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_start() {
	local area log t0=$1 pid
	area=$(pg_area)
	# The server writes its log as the postgres user, so it lives in the PG area; the run
	# directory gets a link now and a copy when the stack stops.
	log=$area/postgres.log
	as_pg touch "$log"
	ln -sfn "$log" "$RUN_DIR/postgres.log"
	if [[ ! -s "$area/data/PG_VERSION" ]]; then
		rm -rf "$area/data" "$area/sock"
		as_pg mkdir -m 700 "$area/data" "$area/sock"
		# trust on the socket (mode 0700, in a 0700 directory: the postgres user only),
		# passwords over TCP.
		as_pg "$PG_BIN/initdb" -D "$area/data" -U postgres -E UTF8 --no-locale \
			--auth-local=trust --auth-host=scram-sha-256 >>"$log" 2>&1 ||
			{ log_tail "$log"; die "postgres: initdb failed (log: $log)"; }
	fi
	as_pg "$PG_BIN/pg_ctl" -D "$area/data" -l "$log" -w -t "$TIMEOUT" \
		-o "-c listen_addresses=$HOST -p $PG_PORT -k $area/sock -c unix_socket_permissions=0700 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
		start >/dev/null 2>&1 ||
		{ log_tail "$log"; die "postgres: did not start on $HOST:$PG_PORT within ${TIMEOUT} s (log: $log)"; }
	local sql db
	sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE') THEN CREATE ROLE $DB_ROLE; END IF;
END \$\$;
ALTER ROLE $DB_ROLE WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
"
	for db in "${DATABASES[@]}"; do
		sql+="SELECT 'CREATE DATABASE $db OWNER $DB_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\\gexec
"
	done
	printf '%s' "$sql" | pg_psql "$area" >>"$log" 2>&1 ||
		{ log_tail "$log"; die "postgres: creating role and databases failed (log: $log)"; }
	pid=$(pg_running) || die "postgres: started but no live postmaster.pid"
	printf '%s\n' "$pid" >"$RUN_DIR/postgres.pid"
	say "postgres: ready on $HOST:$PG_PORT (pid $pid, $(elapsed_s "$t0") s, databases ${DATABASES[*]})"
}

pg_stop() {
	local area pid
	[[ -r "$RUN_DIR/pg.area" ]] || return 0
	area=$(cat "$RUN_DIR/pg.area")
	if pid=$(pg_running); then
		if as_pg "$PG_BIN/pg_ctl" -D "$area/data" -m fast -w -t 20 stop >/dev/null 2>&1; then
			say "postgres: stopped (pid $pid)"
		else
			stop_pid postgres "$area/data/postmaster.pid" postgres 10
		fi
	fi
	if [[ -L "$RUN_DIR/postgres.log" && -r "$area/postgres.log" ]]; then
		rm -f "$RUN_DIR/postgres.log"
		cp "$area/postgres.log" "$RUN_DIR/postgres.log"
	fi
	rm -f "$RUN_DIR/postgres.pid" "$RUN_DIR/pg.area"
	# The data is ephemeral like the emulators' state: the next start makes a fresh cluster.
	case "$area" in
	"$RUN_DIR"/pg | /tmp/appointmentd-pg-*) rm -rf "$area" ;;
	esac
}

# ---- emulators -----------------------------------------------------------------------
# name, pid token, port, ready check
ddb_ready() {
	[[ "$(http_code -X POST "http://$HOST:$DDB_PORT/" \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H "$(auth_header dynamodb)" -d '{}')" == 200 ]]
}
moto_ready() {
	[[ "$(http_code "http://$HOST:$MOTO_PORT/moto-api/data.json")" == 200 ]]
}
fauxqs_ready() {
	[[ "$(http_code -X POST "http://$HOST:$FAUXQS_PORT/" \
		-H 'X-Amz-Target: AmazonSQS.ListQueues' \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H "$(auth_header sqs)" -d '{}')" == 200 ]]
}

EMULATORS=(dynamodb moto fauxqs)
token_of() {
	case "$1" in
	dynamodb) echo DynamoDBLocal ;;
	moto) echo moto_server ;;
	fauxqs) echo fauxqs-loopback ;;
	esac
}
port_var_of() {
	case "$1" in
	dynamodb) echo APPT_DDB_PORT ;;
	moto) echo APPT_MOTO_PORT ;;
	fauxqs) echo APPT_FAUXQS_PORT ;;
	esac
}
port_of() {
	case "$1" in
	dynamodb) echo "$DDB_PORT" ;;
	moto) echo "$MOTO_PORT" ;;
	fauxqs) echo "$FAUXQS_PORT" ;;
	postgres) echo "$PG_PORT" ;;
	esac
}

emu_launch() {
	local name=$1 pidfile=$RUN_DIR/$1.pid log=$RUN_DIR/$1.log
	: >"$log"
	case "$name" in
	dynamodb)
		[[ -r "$DDB_DIR/DynamoDBLocal.jar" ]] || die "DynamoDB Local jar missing ($DDB_DIR): run scripts/deps.sh"
		# DynamoDB Local has no option to pick the listen address; the launcher binds its
		# Jetty connector to 127.0.0.1 before start (tests/support/DynamoDBLocalLoopback.java).
		(cd "$RUN_DIR" && spawn "$pidfile" "$log" java -Xmx256m -XX:+UseSerialGC \
			-Dappt.ddb.host="$HOST" \
			-Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" \
			-cp "$DDB_DIR/DynamoDBLocal.jar" "$SUPPORT/DynamoDBLocalLoopback.java" \
			-inMemory -sharedDb -disableTelemetry -port "$DDB_PORT")
		;;
	moto)
		[[ -x "$MOTO_SERVER" ]] || die "moto_server missing ($MOTO_SERVER): run scripts/deps.sh"
		# moto_server's main() with two per-request costs made once (tests/support/moto_server.py)
		(cd "$RUN_DIR" && spawn "$pidfile" "$log" "$MOTO_PYTHON" "$SUPPORT/moto_server.py" \
			-H "$HOST" -p "$MOTO_PORT")
		;;
	fauxqs)
		[[ -r "$SUPPORT/node_modules/fauxqs/dist/app.js" ]] || die "fauxqs missing: run scripts/deps.sh"
		(cd "$SUPPORT" && APPT_FAUXQS_HOST=$HOST APPT_FAUXQS_PORT=$FAUXQS_PORT \
			spawn "$pidfile" "$log" node "$SUPPORT/fauxqs-loopback.mjs")
		;;
	esac
}

# ---- commands --------------------------------------------------------------------------
# What this start launched itself (a failed start stops these and nothing else: a stack that
# was already running keeps its processes and its data).
STARTED_EMULATORS=()
STARTED_PG=0
stop_started() {
	local name
	for name in "${STARTED_EMULATORS[@]}"; do
		stop_pid "$name" "$RUN_DIR/$name.pid" "$(token_of "$name")" 15
	done
	if ((STARTED_PG)); then
		pg_stop
	fi
}

cmd_start() {
	mkdir -p "$RUN_DIR"
	local t0 name pid port deadline
	t0=$(now_ms)
	# Refuse ports held by something that is not ours, before starting anything.
	if ! pg_running >/dev/null && port_busy "$PG_PORT"; then
		die "port $PG_PORT (postgres) is in use by another process; set APPT_PG_PORT"
	fi
	for name in "${EMULATORS[@]}"; do
		port=$(port_of "$name")
		if ! running "$RUN_DIR/$name.pid" "$(token_of "$name")" >/dev/null && port_busy "$port"; then
			die "port $port ($name) is in use by another process; set $(port_var_of "$name")"
		fi
	done
	# If anything below fails, stop what this call started.
	trap 'rc=$?; if ((rc != 0)); then warn "start failed: stopping what this start launched"; stop_started >&2 || true; fi' EXIT
	for name in "${EMULATORS[@]}"; do
		if pid=$(running "$RUN_DIR/$name.pid" "$(token_of "$name")"); then
			say "$name: already running on $HOST:$(port_of "$name") (pid $pid)"
		else
			STARTED_EMULATORS+=("$name")
			emu_launch "$name"
		fi
	done
	if pid=$(pg_running); then
		say "postgres: already running on $HOST:$PG_PORT (pid $pid)"
	else
		STARTED_PG=1
		pg_start "$t0"
	fi
	deadline=$(($(now_ms) + TIMEOUT * 1000))
	for name in "${STARTED_EMULATORS[@]}"; do
		until "${name/dynamodb/ddb}_ready"; do
			if ! running "$RUN_DIR/$name.pid" "$(token_of "$name")" >/dev/null; then
				log_tail "$RUN_DIR/$name.log"
				die "$name exited during start (log: $RUN_DIR/$name.log)"
			fi
			if (($(now_ms) > deadline)); then
				log_tail "$RUN_DIR/$name.log"
				die "$name not ready on $HOST:$(port_of "$name") within ${TIMEOUT} s (log: $RUN_DIR/$name.log)"
			fi
			sleep 0.2
		done
		say "$name: ready on $HOST:$(port_of "$name") (pid $(pid_of "$RUN_DIR/$name.pid"), $(elapsed_s "$t0") s)"
	done
	trap - EXIT
}

cmd_stop() {
	local name
	for name in fauxqs moto dynamodb; do
		stop_pid "$name" "$RUN_DIR/$name.pid" "$(token_of "$name")" 15
	done
	pg_stop
}

cmd_status() {
	local name pid all=0
	for name in postgres "${EMULATORS[@]}"; do
		if [[ $name == postgres ]]; then
			pid=$(pg_running) || pid=""
		else
			pid=$(running "$RUN_DIR/$name.pid" "$(token_of "$name")") || pid=""
		fi
		if [[ -n "$pid" ]]; then
			say "$name: running on $HOST:$(port_of "$name") (pid $pid)"
		else
			say "$name: stopped"
			all=3
		fi
	done
	return "$all"
}

cmd_env() {
	local moto=http://$HOST:$MOTO_PORT
	# Empty shared config and credentials files: no profile from ~/.aws can leak in. (Regular
	# files, not /dev/null: an SDK-style loader may insist on a regular file.)
	mkdir -p "$RUN_DIR"
	[[ -f "$RUN_DIR/aws-config" ]] || : >"$RUN_DIR/aws-config"
	[[ -f "$RUN_DIR/aws-credentials" ]] || : >"$RUN_DIR/aws-credentials"
	say "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI"
	local kv
	for kv in \
		AWS_REGION=us-east-1 \
		AWS_DEFAULT_REGION=us-east-1 \
		AWS_ACCESS_KEY_ID=test \
		AWS_SECRET_ACCESS_KEY=test \
		AWS_EC2_METADATA_DISABLED=true \
		"AWS_CONFIG_FILE=$RUN_DIR/aws-config" \
		"AWS_SHARED_CREDENTIALS_FILE=$RUN_DIR/aws-credentials" \
		"AWS_ENDPOINT_URL=$moto" \
		"AWS_ENDPOINT_URL_DYNAMODB=http://$HOST:$DDB_PORT" \
		"AWS_ENDPOINT_URL_SNS=$moto" \
		"AWS_ENDPOINT_URL_SQS=$moto" \
		"AWS_ENDPOINT_URL_EVENTBRIDGE=$moto" \
		"AWS_ENDPOINT_URL_SSM=$moto" \
		"APPT_FAUXQS_URL=http://$HOST:$FAUXQS_PORT" \
		"RDS_HOST=$HOST" \
		"RDS_PORT=$PG_PORT" \
		"RDS_USERNAME=$DB_ROLE" \
		"RDS_PASSWORD=$DB_PASSWORD" \
		"PGHOST=$HOST" \
		"PGPORT=$PG_PORT" \
		"PGUSER=$DB_ROLE" \
		"PGPASSWORD=$DB_PASSWORD" \
		"APPT_RUN_DIR=$RUN_DIR" \
		"APPT_PG_PORT=$PG_PORT" \
		"APPT_DDB_PORT=$DDB_PORT" \
		"APPT_MOTO_PORT=$MOTO_PORT" \
		"APPT_FAUXQS_PORT=$FAUXQS_PORT"; do
		printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
	done
}

# Fault tests take the database away and bring it back; the data stays.
cmd_pg_down() {
	local area
	[[ -r "$RUN_DIR/pg.area" ]] || die "postgres: not started from $RUN_DIR"
	area=$(cat "$RUN_DIR/pg.area")
	pg_running >/dev/null || { say "postgres: already down"; return 0; }
	as_pg "$PG_BIN/pg_ctl" -D "$area/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
		die "postgres: pg_ctl stop failed"
	say "postgres: down (data kept in $area)"
}

cmd_pg_up() {
	[[ -r "$RUN_DIR/pg.area" ]] || die "postgres: not started from $RUN_DIR"
	pg_running >/dev/null && { say "postgres: already up"; return 0; }
	pg_start "$(now_ms)"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
pg-down) cmd_pg_down ;;
pg-up) cmd_pg_up ;;
*)
	echo "usage: $0 start|stop|status|env|pg-down|pg-up" >&2
	exit 2
	;;
esac
