#!/usr/bin/env bash
# Installs everything the build, the local stack and the tests need on Debian 12, as root.
# Idempotent and quick on a rerun: each step is skipped when its stamp is current.
#   1. Debian packages (apt-get only when one of them is missing)
#   2. tests/support/node_modules with npm ci (DynamoDB Local jar, fauxqs), stamped on the lock
#   3. .venv with moto[server] and schemathesis from tests/support/requirements.txt, stamped on that file
# Downloads are tried up to 3 times (retry_step in lib.sh): mirrors now and then hand over a
# mangled file, which npm refuses by the lock's integrity hashes and pip by the sha256 the
# index publishes for each file (requirements.txt pins versions, not hashes).
# Output: one line per step. On failure: the tail of the step's log and one line naming it.
# Logs: run/deps/*.log
set -euo pipefail
APPT_PROG=deps.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOG_DIR=$APPT_ROOT/run/deps
mkdir -p "$LOG_DIR"
SUPPORT=$APPT_ROOT/tests/support
VENV=$APPT_ROOT/.venv
PY=/usr/bin/python3

# step_fail STEP LOG: show the end of LOG, then the one line, and exit 1.
step_fail() {
	log_tail "$2" 25
	die "$1 failed (full log: $2)"
}

sha_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# --- 1. Debian packages -------------------------------------------------------------------
PACKAGES=(
	build-essential meson ninja-build pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev libpq-dev libsystemd-dev
	check libsubunit-dev libexpat1-dev uuid-dev libinih-dev libssl-dev
	postgresql default-jre-headless
	python3 python3-venv python3-botocore
	ca-certificates curl jq procps iproute2 util-linux postgresql-client
	systemd-container docker-compose python3-yaml cppcheck
	docker.io debootstrap
	wrk
	clang libclang-rt-dev
)
# Node: Debian's nodejs + npm on a fresh box. A machine that already has node and npm
# (e.g. a NodeSource build, which conflicts with Debian's npm package) keeps its own.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[[ "$status" == installed ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	say "deps: debian packages: all ${#PACKAGES[@]} present"
else
	[[ $EUID -eq 0 ]] || die "debian packages missing (${missing[*]}): run as root (sudo $0)"
	log=$LOG_DIR/apt.log
	t0=$(now_ms)
	export DEBIAN_FRONTEND=noninteractive
	{
		apt-get -o Acquire::Retries=3 update -q &&
			apt-get -o Acquire::Retries=3 install -y -q --no-install-recommends "${missing[@]}"
	} >"$log" 2>&1 || step_fail "apt-get install ${missing[*]}" "$log"
	say "deps: debian packages: installed ${missing[*]} ($(elapsed_s "$t0") s)"
fi

# Tools the next steps rely on, whatever installed them.
for tool in node npm java "$PY" curl jq ss setsid runuser; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found after installing packages"
done
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || die "PostgreSQL 15 server binaries missing (/usr/lib/postgresql/15/bin)"

# Steps 2 and 3 are independent (and mostly network and disk): they run side by side.

# --- 2. npm packages ----------------------------------------------------------------------
# npm_install: node_modules from the lock, from scratch (npm ci removes what was there).
npm_install() {
	# --ignore-scripts: nothing in there needs an install script; the jar ships in the tarball.
	(cd "$SUPPORT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn)
}

npm_step() {
	local node_major stamp_want stamp_file jar log t0
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	stamp_want="lock=$(sha_of "$SUPPORT/package-lock.json" "$SUPPORT/package.json") node=$node_major"
	stamp_file=$SUPPORT/node_modules/.appointmentd-stamp
	jar=$SUPPORT/node_modules/amplify-dynamodb-simulator/emulator/DynamoDBLocal.jar
	if [[ -r "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_want" && -r "$jar" &&
		-r "$SUPPORT/node_modules/fauxqs/dist/app.js" ]]; then
		say "deps: npm packages: up to date (node $(node --version))"
	else
		log=$LOG_DIR/npm.log
		t0=$(now_ms)
		retry_step 3 "$log" npm_install || step_fail "npm ci in tests/support" "$log"
		[[ -r "$jar" ]] || step_fail "npm ci did not provide $jar" "$log"
		printf '%s\n' "$stamp_want" >"$stamp_file"
		say "deps: npm packages: installed (node $(node --version), $(elapsed_s "$t0") s)"
	fi
}

# --- 3. Python venv with moto ---------------------------------------------------------------
# venv_install: a new .venv with the pinned requirements. --no-cache-dir: a retry
# (retry_step) must fetch again, not read back a mangled download from pip's cache.
venv_install() {
	rm -rf "$VENV" &&
		"$PY" -m venv "$VENV" &&
		"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input --no-cache-dir \
			-r "$SUPPORT/requirements.txt"
}

venv_step() {
	local py_version stamp_want stamp_file log t0 moto_version
	py_version=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
	stamp_want="req=$(sha_of "$SUPPORT/requirements.txt") python=$py_version"
	stamp_file=$VENV/.appointmentd-stamp
	if [[ -r "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_want" && -x "$VENV/bin/moto_server" ]] &&
		moto_version=$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null); then
		say "deps: python venv: up to date (.venv, moto $moto_version)"
	else
		log=$LOG_DIR/pip.log
		t0=$(now_ms)
		retry_step 3 "$log" venv_install ||
			step_fail "python venv (.venv) with tests/support/requirements.txt" "$log"
		printf '%s\n' "$stamp_want" >"$stamp_file"
		say "deps: python venv: installed (.venv, moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)'), $(elapsed_s "$t0") s)"
	fi
}

npm_step &
npm_pid=$!
venv_step &
venv_pid=$!
rc=0
wait "$npm_pid" || rc=1
wait "$venv_pid" || rc=1
exit "$rc"
