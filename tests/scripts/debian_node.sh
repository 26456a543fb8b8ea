#!/usr/bin/env bash
# A manual check's tool, not part of scripts/test or CI: Debian 12's own Node.js (what
# scripts/deps.sh installs on a fresh machine: nodejs 18.20 from bookworm-security) on a
# machine whose node is another one (NodeSource 20 on the development machines), without
# installing, replacing or changing anything outside DIR.
#
#   bash tests/scripts/debian_node.sh [DIR]      (as root; DIR default run/debian-node)
#   export PATH=DIR/bin:$PATH                    then scripts/stack.sh start, meson test, …
#
# `apt-get download` fetches Debian's nodejs (the newest +dfsg version apt knows, or
# APPT_DEBIAN_NODE_VERSION), its libnode and every package they depend on that is not
# installed here (libc-ares2, node-acorn, node-cjs-module-lexer, node-undici, …); `dpkg -x`
# unpacks them into DIR/root. DIR/bin/node runs DIR/root/usr/bin/node with LD_LIBRARY_PATH on
# the unpacked libraries. Debian's libnode loads some of its built-in modules from absolute
# paths (/usr/share/nodejs/{acorn,cjs-module-lexer,undici}: it aborts at start without them),
# so the wrapper runs node in a private mount namespace (unshare -m) in which the unpacked
# usr/share is overlaid on /usr/share, for that process only. Every step is exec, so the pid
# the caller sees (scripts/stack.sh's pid file) is node's, and /proc/PID/exe names the
# unpacked binary. npm (`#!/usr/bin/env node`) runs on it too while DIR/bin is first on PATH.
# Output: the node version and the PATH line; exit 1 when anything failed.
set -euo pipefail
APPT_PROG=debian_node.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root (unshare -m, mount)"
for t in apt-get apt-cache dpkg dpkg-query unshare mount; do
	command -v "$t" >/dev/null || die "$t not found"
done
DIR=$(abs_path "${1:-$APPT_ROOT/run/debian-node}")
VERSION=${APPT_DEBIAN_NODE_VERSION:-$(apt-cache madison nodejs |
	awk -F'|' '$2 ~ /dfsg/ { gsub(/ /, "", $2); print $2; exit }')}
[[ -n "$VERSION" ]] || die "apt knows no Debian nodejs (run apt-get update first)"

# The packages to unpack: nodejs and, breadth first, each dependency (first alternative) that
# is not installed and has a candidate (a virtual one such as nodejs:any has none).
declare -A seen=([nodejs]=1)
queue=("nodejs=$VERSION")
debs=()
while ((${#queue[@]} > 0)); do
	pkg=${queue[0]}
	queue=("${queue[@]:1}")
	debs+=("$pkg")
	while read -r dep; do
		[[ -n "$dep" && -z "${seen[$dep]:-}" ]] || continue
		seen[$dep]=1
		[[ "$(dpkg-query -W -f='${db:Status-Status}' "$dep" 2>/dev/null || true)" == installed ]] &&
			continue
		[[ "$(apt-cache policy "$dep" | awk '/Candidate:/ { print $2 }')" =~ ^(|\(none\))$ ]] &&
			continue
		# libnode's version must be nodejs's
		[[ "$dep" == libnode* ]] && dep="$dep=$VERSION"
		queue+=("$dep")
	done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$pkg" | awk '/^ *\|?Depends:/ && $2 !~ /^</ { print $2 }')
done

rm -rf "$DIR"
mkdir -p "$DIR/debs" "$DIR/root" "$DIR/bin"
# apt-get download writes into the current directory (as root: _apt cannot; it warns so)
(cd "$DIR/debs" && apt-get download "${debs[@]}" >"$DIR/download.log" 2>&1) ||
	{ log_tail "$DIR/download.log"; die "apt-get download ${debs[*]} failed"; }
for d in "$DIR"/debs/*.deb; do
	dpkg -x "$d" "$DIR/root"
done
libnode=$(find "$DIR/root/usr/lib" -name 'libnode.so.*' -print -quit)
[[ -n "$libnode" ]] || die "no libnode.so in ${debs[*]}"

cat >"$DIR/bin/node" <<EOF
#!/bin/sh
# Debian's nodejs $VERSION, unpacked by tests/scripts/debian_node.sh (see there).
exec unshare -m --propagation private "$DIR/bin/node-ns" "\$@"
EOF
cat >"$DIR/bin/node-ns" <<EOF
#!/bin/sh
mount -t overlay overlay -o "lowerdir=$DIR/root/usr/share:/usr/share" /usr/share || exit 127
LD_LIBRARY_PATH="${libnode%/*}"
export LD_LIBRARY_PATH
exec "$DIR/root/usr/bin/node" "\$@"
EOF
chmod 755 "$DIR/bin/node" "$DIR/bin/node-ns"

got=$("$DIR/bin/node" -p 'process.version + " " + process.execPath') ||
	die "the unpacked node does not run"
say "debian_node.sh: ${debs[*]} -> $DIR/root"
say "debian_node.sh: node $got"
say "export PATH=$DIR/bin:\$PATH"
