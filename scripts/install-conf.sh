#!/bin/sh
# install-conf.sh — the last step of meson install (meson.build): copies each sample NAME from
# EXAMPLES into CONFDIR when CONFDIR has nothing of that name, so neither an install nor an
# upgrade ever replaces the operator's configuration (docs/operations.md, sections 2 and 5).
# Usage: install-conf.sh EXAMPLES CONFDIR NAME...   (absolute install paths; DESTDIR, as meson
# install --destdir sets it, is put in front of both)
# Prints one line per NAME: "installed PATH", "kept PATH" (same as the sample), "kept PATH
# (differs from SAMPLE)" or "kept PATH (a symlink, not followed)"; under meson install also
# into <build>/meson-logs/install-conf.txt, since meson 1.0 (Debian 12) shows what an install
# script prints only when it fails. A failure: one line on stderr, exit 1.
set -eu

fail() {
	printf 'install-conf.sh: %s\n' "$*" >&2
	exit 1
}

# The copy of the report in the build tree is a convenience: a tree that cannot be written
# (a read-only source checkout, another user's) leaves it out instead of failing the install.
log=
if [ -n "${MESON_BUILD_ROOT:-}" ] && [ -d "$MESON_BUILD_ROOT/meson-logs" ]; then
	log=$MESON_BUILD_ROOT/meson-logs/install-conf.txt
	{ printf "" >"$log"; } 2>/dev/null || log=
fi

report() {
	printf '%s\n' "$1"
	[ -z "$log" ] || { printf '%s\n' "$1" >>"$log"; } 2>/dev/null || :
}

[ $# -ge 3 ] || fail "usage: install-conf.sh EXAMPLES CONFDIR NAME..."
examples=${DESTDIR:-}$1
confdir=${DESTDIR:-}$2
shift 2

# The daemons run as dynamic users: the directory and the files must be readable by anyone,
# whatever umask the installing shell has. Secrets never go here (credentials instead).
if [ ! -d "$confdir" ]; then
	(umask 022 && mkdir -p "$confdir") 2>/dev/null || fail "cannot create $confdir"
fi

for name in "$@"; do
	src=$examples/$name
	dst=$confdir/$name
	[ -f "$src" ] || fail "no sample $src"
	if [ -L "$dst" ]; then
		# The operator's choice (a dangling one included): never written through.
		report "kept $dst (a symlink, not followed)"
	elif [ -e "$dst" ]; then
		if cmp -s "$src" "$dst"; then
			report "kept $dst"
		else
			report "kept $dst (differs from $src)"
		fi
	else
		# A private temporary file beside the target, then link(2): it fails rather than
		# replace anything that appeared meanwhile, and never follows a symlink.
		tmp=$(mktemp "$confdir/.$name.XXXXXX" 2>/dev/null) || fail "cannot write in $confdir"
		if cp "$src" "$tmp" 2>/dev/null && chmod 0644 "$tmp" 2>/dev/null && ln "$tmp" "$dst" 2>/dev/null; then
			rm -f "$tmp"
			report "installed $dst"
		else
			rm -f "$tmp"
			fail "cannot install $dst from $src"
		fi
	fi
done
