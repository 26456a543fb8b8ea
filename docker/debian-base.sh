#!/usr/bin/env bash
# Makes the one base image the compose file builds on, debian:12, where no image registry is
# reachable (docs/operations.md "docker-compose"): debootstrap (minbase) from the Debian
# mirror this machine's apt already uses, read from /etc/apt at run time, then `docker import`.
# This machine's package set-up goes in with it, so apt-get, pip and npm work in the image
# builds as they do here: its Debian apt sources and apt.conf.d, its local CA certificates
# (/usr/local/share/ca-certificates, e.g. a proxy's; an image that installs ca-certificates
# trusts them) and /etc/pip.conf, /etc/npmrc. Nothing of it is written into the repository.
# With a registry, `docker pull debian:12` gives the same base.
#   bash docker/debian-base.sh [CACHE_DIR]     (as root; DOCKER_HOST picks the engine)
# Nothing to do when the engine already has debian:12. The root file system is kept as
# CACHE_DIR/debian-12.tar.gz (default run/docker-cache) and reused for 7 days while that
# set-up is unchanged.
# Output: one line saying what it did. Exit non-zero with one line naming the failed step.
set -euo pipefail
APPT_PROG=debian-base.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

IMAGE=debian:12
SUITE=bookworm
MAX_AGE_DAYS=7
CACHE=$(abs_path "${1:-$APPT_ROOT/run/docker-cache}")
TARBALL=$CACHE/debian-12.tar.gz

# apt_sources: the active apt source files of this machine (one-line and deb822).
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s "$f" ]] && printf '%s\n' "$f"
	done
	return 0
}

# suites_of FILE: every suite (distribution) FILE names, one a line.
suites_of() {
	case $1 in
	*.sources) awk 'tolower($1) == "suites:" { for (i = 2; i <= NF; i++) print $i }' "$1" ;;
	*) awk '$1 == "deb" || $1 == "deb-src" {
		i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
		print $(i + 1) }' "$1" ;;
	esac
}

# debian_only FILE: FILE names only Debian 12 suites (bookworm, bookworm-updates, …).
debian_only() {
	local s n=0
	while read -r s; do
		[[ "$s" == "$SUITE" || "$s" == "$SUITE"-* || "$s" == "$SUITE"/* ]] || return 1
		n=$((n + 1))
	done < <(suites_of "$1")
	((n > 0))
}

# mirror: the URI of the first "deb" source for the suite itself.
mirror() {
	local f uri=""
	while read -r f; do
		debian_only "$f" || continue
		case $f in
		*.sources)
			uri=$(awk -v suite="$SUITE" '
				BEGIN { RS = ""; FS = "\n" }
				{
					types = uris = suites = ""
					for (i = 1; i <= NF; i++) {
						split($i, kv, ":[ \t]*")
						key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
						gsub(/^[ \t]+/, "", val)
						if (key == "types") types = " " val " "
						if (key == "uris") uris = val
						if (key == "suites") suites = " " val " "
					}
					if (types ~ / deb / && suites ~ " " suite " ") { split(uris, u, " "); print u[1]; exit }
				}' "$f")
			;;
		*)
			uri=$(awk -v suite="$SUITE" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit } }' "$f")
			;;
		esac
		[[ -n "$uri" ]] && break
	done < <(apt_sources)
	[[ -n "$uri" ]] || die "no apt source for Debian $SUITE in /etc/apt (sources.list, sources.list.d)"
	printf '%s\n' "$uri"
}

# host_setup: the files of this machine that go into the image, one a line.
host_setup() {
	local f
	while read -r f; do
		debian_only "$f" && printf '%s\n' "$f"
	done < <(apt_sources)
	for f in /etc/apt/apt.conf.d/* /usr/local/share/ca-certificates/*.crt /etc/pip.conf /etc/npmrc; do
		[[ -f "$f" ]] && printf '%s\n' "$f"
	done
	return 0
}

# stamp: what the cached root file system was made from (mirror, host set-up, debootstrap).
stamp() {
	{
		mirror
		# the layout this script gives the root file system: a cached tarball of an older
		# layout is made again (root-0755: / was 0700 before)
		printf 'layout root-0755\n'
		dpkg-query -W -f='${Version}\n' debootstrap 2>/dev/null || true
		host_setup | while read -r f; do sha256sum "$f"; done
	} | sha256sum | cut -c1-16
}

# debootstrap_into DIR URI: a minbase Debian 12 in DIR, which is emptied first (a try of
# retry_step starts from scratch).
debootstrap_into() {
	find "$1" -mindepth 1 -xdev -delete &&
		debootstrap --variant=minbase "$SUITE" "$1" "$2"
}

# make_rootfs DIR URI: debootstrap into DIR from URI, this machine's package set-up copied in.
make_rootfs() {
	local root=$1 uri=$2 f log=$CACHE/debootstrap.log
	command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
	retry_step 3 "$log" debootstrap_into "$root" "$uri" || {
		log_tail "$log" 20
		die "debootstrap $SUITE from $uri failed 3 times (log: $log)"
	}
	rm -f "$root/etc/apt/sources.list"
	mkdir -p "$root/usr/local/share/ca-certificates"
	while read -r f; do
		case $f in
		/etc/apt/sources.list) cp "$f" "$root$f" ;;
		/etc/apt/sources.list.d/*) cp "$f" "$root/etc/apt/sources.list.d/" ;;
		# apt's settings (proxies, validity checks of a snapshot mirror, …): the image's own
		# files stay as they are.
		/etc/apt/apt.conf.d/*) cp -n "$f" "$root/etc/apt/apt.conf.d/" ;;
		*) cp "$f" "$root$f" ;;
		esac
	done < <(host_setup)
	# What debootstrap copied from this machine or left behind: not part of an image.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
		"$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* "$root"/dev/*
	mkdir -p "$root/var/lib/apt/lists/partial"
	: >"$root/etc/resolv.conf"
	: >"$root/etc/hostname"
	# As in Debian's own image: dpkg skips its fsync calls, a layer is written once anyway.
	printf 'force-unsafe-io\n' >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
	# / is 0755 on Debian; DIR came from mktemp -d (0700), and the archive's "./" keeps
	# its mode: with 0700 no user but root could reach anything in the image (postgres,
	# the daemons' users; a chroot made from the cached tarball alike).
	chmod 0755 "$root"
}

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
	say "debian-base: $IMAGE already in the engine"
	exit 0
fi

mkdir -p "$CACHE"
# One maker at a time per cache directory (tests may run side by side).
exec {lock}>"$CACHE/.debian-12.lock"
flock "$lock"
t0=$(now_ms)
how="cached $(basename "$TARBALL")"
want=$(stamp)
if [[ -z "$(find "$TARBALL" -mtime -"$MAX_AGE_DAYS" 2>/dev/null)" ||
	"$(cat "$TARBALL.stamp" 2>/dev/null)" != "$want" ]]; then
	uri=$(mirror)
	root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	trap 'rm -rf "$root" "$TARBALL.tmp"' EXIT
	make_rootfs "$root" "$uri"
	tar --numeric-owner -C "$root" -c . | gzip -1 >"$TARBALL.tmp"
	mv "$TARBALL.tmp" "$TARBALL"
	printf '%s\n' "$want" >"$TARBALL.stamp"
	rm -rf "$root"
	trap - EXIT
	how="debootstrap from $uri"
fi
# The CMD of Debian's own image.
docker import --change 'CMD ["bash"]' "$TARBALL" "$IMAGE" >/dev/null ||
	die "docker import $TARBALL failed"
say "debian-base: $IMAGE imported ($how, $(elapsed_s "$t0") s)"
