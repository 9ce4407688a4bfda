#!/bin/sh
# Build the test VM's kernel from Debian's linux-source-6.12 tarball:
# tinyconfig + tests/vm/kernel.config, bzImage and modules_prepare.
#
# The tree and build live in a cache outside the repository, keyed by the
# source package version and the fragment's hash, so a build happens only
# when one of them changes.  Progress goes to stderr; the only stdout line
# is the bzImage path.
#
#   VFIO_MIGCTL_CACHE  cache root (default $XDG_CACHE_HOME/vfio-migctl)
#   LINUX_TARBALL      source tarball (default /usr/src/linux-source-6.12.tar.xz)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/kernel.config
tarball=${LINUX_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
pkg=linux-source-6.12
root=${VFIO_MIGCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migctl}

say() { echo "build-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported"
[ -r "$tarball" ] || die "$tarball missing; run tests/deps.sh vm"
version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
	die "$pkg is not installed; run tests/deps.sh vm"
sha=$(sha256sum "$fragment" | cut -c1-12)
dir=$root/kernel-$version-$sha
src=$dir/linux
log=$dir/build.log
image=$src/arch/x86/boot/bzImage

# Fast path without the lock: the stamp is written only after everything.
if [ -f "$dir/done" ]; then
	echo "$image"
	exit 0
fi

mkdir -p "$root"
# One builder at a time (CI job and `make demo` may race); the loser waits
# and then finds the stamp.
exec 9>"$root/lock"
flock 9
if [ -f "$dir/done" ]; then
	echo "$image"
	exit 0
fi

fail() {
	say "FAILED: $*; last lines of $log:"
	tail -n 40 "$log" >&2 || :
	exit 1
}
run() { "$@" >>"$log" 2>&1 || fail "$*"; }

start=$(date +%s)
say "building kernel $version (fragment $sha) in $dir"

# A partial extraction cannot be trusted, a partial build can: make resumes.
if [ ! -f "$dir/extracted" ]; then
	rm -rf "$dir"
	mkdir -p "$src"
	say "extracting $tarball"
	tar -xJf "$tarball" -C "$src" --strip-components=1 ||
		die "cannot extract $tarball"
	touch "$dir/extracted"
fi

: >>"$log"
if [ ! -f "$dir/configured" ]; then
	say "configuring (tinyconfig + kernel.config)"
	run make -C "$src" tinyconfig
	run "$src/scripts/kconfig/merge_config.sh" -m -O "$src" \
		"$src/.config" "$fragment"
	run make -C "$src" olddefconfig
	# Kconfig silently drops symbols whose dependencies are unmet: every
	# line of the fragment must have survived, the VFIO ones above all.
	missing=""
	wanted=$(sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=y$/\1/p' "$fragment")
	for sym in $wanted; do
		grep -qx "$sym=y" "$src/.config" || missing="$missing $sym"
	done
	[ -z "$missing" ] || die "not =y after olddefconfig:$missing"
	touch "$dir/configured"
fi

jobs=$(nproc)
say "make -j$jobs bzImage modules_prepare (log: $log)"
run make -C "$src" -j"$jobs" bzImage
run make -C "$src" -j"$jobs" modules_prepare
[ -f "$image" ] || fail "no $image"
touch "$dir/done"

# Each tree is a few GB; keep only the current one.
for old in "$root"/kernel-*; do
	[ "$old" = "$dir" ] || [ ! -d "$old" ] || rm -rf "$old"
done

say "done in $(($(date +%s) - start)) s"
echo "$image"
