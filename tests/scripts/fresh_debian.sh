#!/usr/bin/env bash
# A manual check, not part of scripts/test or CI (it takes 10 to 25 minutes, most of it
# downloads): the README quick start's first command on a pristine Debian 12, as the developers'
# guide asks ("exactly two commands that work as root on a fresh Debian 12 machine with nothing
# pre-installed but the base image"). This machine has gathered packages over time; a chroot
# into a minbase Debian 12 has none of them.
#
#   bash tests/scripts/fresh_debian.sh [TARBALL]          (as root)
#
# TARBALL: a Debian 12 root file system as docker/debian-base.sh makes it (a minbase
# debootstrap with this machine's apt sources, apt.conf.d, local CA certificates, /etc/pip.conf
# and /etc/npmrc: the network set-up any machine here needs, nothing else); default
# run/docker-cache/debian-12.tar.gz, else build-test/compose-cache/debian-12.tar.gz (the compose
# suite's cache). Steps, each bounded by `timeout`:
#   1. unpack it into a new directory under APPT_FRESH_DIR (bind-mounted onto itself: a
#      mount point, as / is), mount proc, sys, /dev (bind), /dev/pts and /dev/shm, copy
#      /etc/resolv.conf; the host's network stays shared;
#   2. put the committed tree there (`git archive HEAD`, so nothing local comes along: no
#      .venv, node_modules, build/ or run/) as /root/appointmentd;
#   3. chroot, clean environment (env -i) plus the ports below and the machine's network
#      variables named in APPT_FRESH_PASS_ENV: `bash scripts/up`;
#   4. the curl line it prints: POST an appointment, wait for `completed`, GET the list;
#   5. `bash scripts/down`, then no process may be left whose root is the chroot;
#   6. with APPT_FRESH_TESTS=1: the test build as scripts/test makes it (scripts/deps.sh,
#      meson setup build-test with ASan+UBSan and the tests, ninja) and the unit suite.
# On exit, whatever happened: every process left in the chroot is stopped by its pid,
# everything is unmounted and the directory removed (APPT_FRESH_KEEP=1 keeps it). The logs
# (up, curl, down, run/deps, run/stack, build-test/meson-logs) are copied to
# APPT_FRESH_DIR/logs first.
#
# Environment (defaults): APPT_FRESH_DIR=<repo>/run/fresh, APPT_FRESH_UP_TIMEOUT=1800 (s, the
# first scripts/up downloads Debian, npm and PyPI packages), APPT_FRESH_TESTS=0, APPT_FRESH_KEEP=0,
# ports APPT_PG_PORT=15435 APPT_DDB_PORT=18003 APPT_MOTO_PORT=15003 APPT_FAUXQS_PORT=19327 and
# APPT_FRESH_API_PORT=18083 (the API's listen, as APPOINTMENTD_API_LISTEN; all apart from the
# development, test and bench stacks' defaults, since the chroot shares the host's network),
# APPT_FRESH_PASS_ENV (the host variables handed in when set: proxies, CA bundles, registries).
# Output: one line per step; exit 0 when every step passed, 1 otherwise.
set -euo pipefail
APPT_PROG=fresh_debian.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root (chroot, mount)"
for t in git tar gzip chroot mount umount timeout findmnt; do
	command -v "$t" >/dev/null || die "$t not found"
done

if [[ $# -gt 0 ]]; then
	TARBALL=$(abs_path "$1")
elif [[ -r "$APPT_ROOT/run/docker-cache/debian-12.tar.gz" ]]; then
	TARBALL=$APPT_ROOT/run/docker-cache/debian-12.tar.gz
else
	TARBALL=$APPT_ROOT/build-test/compose-cache/debian-12.tar.gz
fi
[[ -r "$TARBALL" ]] ||
	die "no Debian 12 root file system at $TARBALL (make one: bash docker/debian-base.sh, or pass its path)"

DIR=$(abs_path "${APPT_FRESH_DIR:-$APPT_ROOT/run/fresh}")
UP_TIMEOUT=${APPT_FRESH_UP_TIMEOUT:-1800}
PG_PORT=${APPT_PG_PORT:-15435}
DDB_PORT=${APPT_DDB_PORT:-18003}
MOTO_PORT=${APPT_MOTO_PORT:-15003}
FAUXQS_PORT=${APPT_FAUXQS_PORT:-19327}
API_PORT=${APPT_FRESH_API_PORT:-18083}
PASS_ENV=${APPT_FRESH_PASS_ENV:-"http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY
	NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE
	PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT npm_config_registry"}
for p in "$PG_PORT" "$DDB_PORT" "$MOTO_PORT" "$FAUXQS_PORT" "$API_PORT"; do
	port_busy "$p" && die "port $p is in use: pick others (APPT_*_PORT, APPT_FRESH_API_PORT)"
done

mkdir -p "$DIR/logs"
LOGS=$DIR/logs
ROOT=$(mktemp -d "$DIR/root.XXXXXX")
APP=/root/appointmentd
MOUNTS=()
T0=$(now_ms)

# chroot_pids: the processes whose root directory is the chroot.
chroot_pids() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[[ "$r" == "$ROOT" || "$r" == "$ROOT"/* ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

cleanup() {
	local rc=$? pid i m
	trap - EXIT INT TERM
	# The logs first, while the tree is there.
	if [[ -d "$ROOT$APP/run" ]]; then
		cp -r "$ROOT$APP/run/deps" "$LOGS/" 2>/dev/null || true
		cp -rL "$ROOT$APP/run/stack" "$LOGS/" 2>/dev/null || true
		cp -r "$ROOT$APP/build-test/meson-logs" "$LOGS/" 2>/dev/null || true
	fi
	for pid in $(chroot_pids); do
		warn "left in the chroot: pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)): stopping it"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		[[ -z "$(chroot_pids)" ]] && break
		sleep 0.2
	done
	for pid in $(chroot_pids); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "could not unmount $m"
	done
	if [[ "${APPT_FRESH_KEEP:-0}" == 1 ]]; then
		say "fresh: kept $ROOT (unmounted)"
	elif findmnt -rn -o TARGET | grep -q "^$ROOT"; then
		warn "something is still mounted under $ROOT: not removing it"
		rc=1
	else
		rm -rf --one-file-system "$ROOT"
	fi
	say "fresh: done in $(elapsed_s "$T0") s (logs: $LOGS)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# mnt ARGS... TARGET: mount, and remember TARGET for the cleanup.
mnt() {
	mount "$@"
	MOUNTS+=("${*: -1}")
}

# in_root TIMEOUT LOG SCRIPT: run SCRIPT with bash in the chroot, as root, from the tree, in a
# clean environment; its output to LOG and to stdout.
ENVS=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}"
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	APPT_PG_PORT="$PG_PORT" APPT_DDB_PORT="$DDB_PORT" APPT_MOTO_PORT="$MOTO_PORT"
	APPT_FAUXQS_PORT="$FAUXQS_PORT" APPOINTMENTD_API_LISTEN="127.0.0.1:$API_PORT")
for v in $PASS_ENV; do
	[[ -n "${!v:-}" ]] && ENVS+=("$v=${!v}")
done
in_root() {
	local limit=$1 log=$2
	timeout -k 10 "$limit" chroot "$ROOT" /usr/bin/env -i "${ENVS[@]}" \
		/bin/bash -c "cd $APP && $3" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

step() { say "==> fresh: $*"; }

step "unpack $(basename "$TARBALL") into $ROOT"
tar --numeric-owner -xzf "$TARBALL" -C "$ROOT"
# A machine's / is 0755. (A tarball cached by docker/debian-base.sh before it set that keeps
# mktemp's 0700, on which no user but root reaches anything: postgres cannot run.)
chmod 0755 "$ROOT"
# / of a machine (or a container) is a mount point; a plain chroot directory is not, and
# there `unshare -m` (tests/systemd/test_units.py) fails: "cannot change root filesystem
# propagation". A bind mount of the directory onto itself makes it one.
mnt --bind "$ROOT" "$ROOT"
mnt -t proc proc "$ROOT/proc"
mnt -t sysfs sysfs "$ROOT/sys"
mnt --bind /dev "$ROOT/dev"
mnt --bind /dev/pts "$ROOT/dev/pts"
mnt --bind /dev/shm "$ROOT/dev/shm"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

step "the committed tree ($(git -C "$APPT_ROOT" rev-parse --short HEAD)) as $APP"
mkdir -p "$ROOT$APP"
git -C "$APPT_ROOT" archive HEAD | tar -x -C "$ROOT$APP"
say "    environment: ${ENVS[*]%%=*}"

FAILED=()
step "bash scripts/up (at most $UP_TIMEOUT s)"
t=$(now_ms)
if in_root "$UP_TIMEOUT" "$LOGS/up.log" 'bash scripts/up'; then
	say "    scripts/up: ok ($(elapsed_s "$t") s)"
	step "the curl line: POST, wait for completed, GET the list"
	# shellcheck disable=SC2016 # expands in the chroot
	if in_root 90 "$LOGS/curl.log" 'set -euo pipefail
		api=http://$APPOINTMENTD_API_LISTEN
		post=$(curl -sS -X POST "$api/appointments" -H "Content-Type: application/json" \
			-d "{\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\"}")
		echo "POST /appointments: $post"
		id=$(jq -er .appointmentId <<<"$post")
		one=$(curl -sS "$api/appointments/00123/$id?waitFor=any-final&timeout=20")
		echo "GET /appointments/00123/$id?waitFor=any-final: $one"
		list=$(curl -sS "$api/appointments/00123")
		echo "GET /appointments/00123: $list"
		[[ "$(jq -r .status <<<"$one")" == completed ]]
		jq -e --arg id "$id" "any(.appointments[]; .appointmentId == \$id and .status == \"completed\")" \
			<<<"$list" >/dev/null'; then
		say "    curl: ok (the appointment reached completed and is in the list)"
	else
		FAILED+=(curl)
	fi
else
	say "    scripts/up: FAILED (exit $?, $(elapsed_s "$t") s)"
	FAILED+=(up)
fi

step "bash scripts/down"
in_root 120 "$LOGS/down.log" 'bash scripts/down' || FAILED+=(down)
sleep 1
left=$(chroot_pids)
if [[ -n "$left" ]]; then
	say "    left running after scripts/down:"
	for pid in $left; do
		say "      $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
	done
	FAILED+=(down-left-processes)
else
	say "    no process left in the chroot"
fi

if [[ "${APPT_FRESH_TESTS:-0}" == 1 ]]; then
	step "test build: scripts/deps.sh, build-test (address,undefined, tests), unit suite"
	t=$(now_ms)
	if in_root 2400 "$LOGS/test-build.log" 'set -e
		bash scripts/deps.sh
		meson setup build-test -Db_sanitize=address,undefined -Db_lundef=false -Dtests=enabled >/dev/null
		ninja -C build-test >build-test/ninja.log 2>&1 || { tail -40 build-test/ninja.log; exit 1; }
		meson test -C build-test --no-rebuild --print-errorlogs --suite unit'; then
		say "    test build and unit suite: ok ($(elapsed_s "$t") s)"
	else
		FAILED+=(test-build)
	fi
fi

if ((${#FAILED[@]} > 0)); then
	die "failed: ${FAILED[*]}"
fi
say "==> fresh: every step passed"
