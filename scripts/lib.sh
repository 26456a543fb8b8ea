# shellcheck shell=bash
# Helpers shared by scripts/deps.sh, stack.sh, test, up and down. Sourced, never run.
# Every process these scripts start is recorded in a pid file and stopped by that pid only,
# after checking that the pid still runs the program we started (no pkill by name).

# shellcheck disable=SC2034 # used by the scripts that source this file
APPT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APPT_PROG=${APPT_PROG:-$(basename "$0")}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$APPT_PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$APPT_PROG" "$*" >&2
	exit 1
}

# abs_path PATH: PATH made absolute (it need not exist yet).
abs_path() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# elapsed_s START_MS: seconds since START_MS, one decimal.
elapsed_s() {
	local d=$(($(now_ms) - $1))
	printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# pid_of PIDFILE: the pid recorded in PIDFILE (empty when there is none).
pid_of() {
	local pid=""
	if [[ -r "$1" ]]; then
		read -r pid <"$1" 2>/dev/null || true
	fi
	[[ "$pid" =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
	return 0
}

# pid_matches PID TOKEN: PID is alive and its command line contains TOKEN.
pid_matches() {
	local pid=$1 token=$2 cmdline
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ "$cmdline" == *"$token"* ]] || return 1
	# A zombie has finished: it no longer serves anything.
	[[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]]
}

# running PIDFILE TOKEN: prints the pid when PIDFILE names a live process running TOKEN.
running() {
	local pid
	pid=$(pid_of "$1")
	pid_matches "$pid" "$2" && printf '%s\n' "$pid"
}

# spawn PIDFILE LOGFILE CMD...: start CMD detached (own session, stdin /dev/null, output
# appended to LOGFILE); the started process writes its own pid to PIDFILE before exec.
spawn() {
	local pidfile=$1 logfile=$2
	shift 2
	rm -f "$pidfile"
	# shellcheck disable=SC2016 # $$ and $@ expand in the child shell.
	setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
		</dev/null >>"$logfile" 2>&1 &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s "$pidfile" ]] && return 0
		sleep 0.1
	done
	die "could not start $1 (no pid file after 5 s, see $logfile)"
}

# stop_pid NAME PIDFILE TOKEN [TIMEOUT_S]: TERM the recorded process, wait, then KILL.
# Prints one line when it stopped something; removes PIDFILE.
stop_pid() {
	local name=$1 pidfile=$2 token=$3 timeout=${4:-15} pid i
	pid=$(pid_of "$pidfile")
	if [[ -z "$pid" ]]; then
		rm -f "$pidfile"
		return 0
	fi
	if ! pid_matches "$pid" "$token"; then
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		pid_matches "$pid" "$token" || break
		sleep 0.1
	done
	if pid_matches "$pid" "$token"; then
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			pid_matches "$pid" "$token" || break
			sleep 0.1
		done
		say "$name: killed (pid $pid, no exit ${timeout} s after SIGTERM)"
	else
		say "$name: stopped (pid $pid)"
	fi
	rm -f "$pidfile"
}

# retry_step TRIES LOG CMD...: run CMD, the output of every try in LOG (emptied first), until
# it succeeds or has failed TRIES times (a line in LOG before each retry, then 2, 4, ... s of
# waiting). For downloads: a registry or its mirror now and then hands over a cut or mangled
# file (a CI run once got a wheel whose sha256 was not the one PyPI's index gives; the next
# fetch was).
# CMD must start from scratch each time and must not reuse what it fetched before (pip:
# --no-cache-dir).
retry_step() {
	local tries=$1 log=$2 n
	shift 2
	: >"$log"
	for ((n = 1; ; n++)); do
		"$@" >>"$log" 2>&1 && return 0
		((n < tries)) || return 1
		printf '%s: attempt %d of %d failed; trying again in %d s\n' \
			"$APPT_PROG" "$n" "$tries" $((2 * n)) >>"$log"
		sleep $((2 * n))
	done
}

# port_busy PORT: something listens on TCP PORT (any address).
port_busy() {
	[[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# log_tail FILE [N]: the last N lines of FILE, indented, on stderr.
log_tail() {
	[[ -r "$1" ]] || return 0
	tail -n "${2:-20}" "$1" | sed 's/^/    | /' >&2
}
