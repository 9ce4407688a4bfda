#!/bin/sh
# Build a test VM kernel from Debian's linux-source-SERIES tarball:
# tinyconfig + the series' fragment, then bzImage and what out-of-tree
# modules need.
#
#   build-kernel.sh [SERIES]    6.12 (the default) or 6.1
#
#   6.12  tests/vm/kernel.config: VFIO with group and iommufd cdev, mtty
#         (with migration) built in; bzImage + modules_prepare
#   6.1   tests/vm/kernel-6.1.config: Debian 12's own kernel, group only;
#         mtty can only be a module there, so this also runs `make
#         modules` and the guest loads samples/vfio-mdev/mtty.ko
#
# The tree and build live in a cache outside the repository, one
# directory per series, keyed by the source package version and the
# fragment's hash, so a build happens only when one of them changes:
#   $VFIO_MIGCTL_CACHE/SERIES/kernel-VERSION-SHA/linux
# Each series has its own lock, and a finished build removes only older
# builds of the same series, all but the latest two.  Progress goes to stderr; the only stdout
# line is the bzImage path (the tree is the path without
# /arch/x86/boot/bzImage).
#
#   KERNEL_SERIES      the series when no argument is given (default 6.12)
#   VFIO_MIGCTL_CACHE  cache root (default $XDG_CACHE_HOME/vfio-migctl)
#   LINUX_TARBALL      source tarball (default
#                      /usr/src/linux-source-SERIES.tar.xz)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
series=${1:-${KERNEL_SERIES:-6.12}}

say() { echo "build-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

case "$series" in
6.12)
	fragment=$here/kernel.config
	modules=modules_prepare
	;;
6.1)
	fragment=$here/kernel-6.1.config
	modules=modules
	;;
*) die "unknown kernel series '$series' (6.12 or 6.1)" ;;
esac
pkg=linux-source-$series
tarball=${LINUX_TARBALL:-/usr/src/$pkg.tar.xz}
# The series' own directory: builds of one series never touch another's,
# nor the kernel-* directories an older version of this script left at
# the top of the cache (it may still be running, and cleans those).
root=${VFIO_MIGCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migctl}/$series

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
# One builder per series at a time (CI job and `make demo` may race); the
# loser waits and then finds the stamp.
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
say "building Linux $series ($version, fragment $sha) in $dir"

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
	say "configuring (tinyconfig + $(basename "$fragment"))"
	run make -C "$src" tinyconfig
	run "$src/scripts/kconfig/merge_config.sh" -m -O "$src" \
		"$src/.config" "$fragment"
	run make -C "$src" olddefconfig
	# Kconfig silently drops symbols whose dependencies are unmet, and
	# turns a module into built-in code or nothing when MODULES is off:
	# every =y and =m line of the fragment must have survived as written.
	missing=""
	wanted=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*=[ym]\)$/\1/p' "$fragment")
	for want in $wanted; do
		grep -qx "$want" "$src/.config" || missing="$missing $want"
	done
	[ -z "$missing" ] || die "not as asked after olddefconfig:$missing"
	touch "$dir/configured"
fi

jobs=$(nproc)
say "make -j$jobs bzImage $modules (log: $log)"
run make -C "$src" -j"$jobs" bzImage
run make -C "$src" -j"$jobs" "$modules"
[ -f "$image" ] || fail "no $image"
touch "$dir/done"

# Each tree is a few GB: keep this one and the one built before it (a
# checkout of another revision, or a run still booting it, may want it),
# and remove the rest of this series.
ls -1dt "$root"/kernel-*/ 2>/dev/null | tail -n +3 | while read -r old; do
	[ "${old%/}" = "$dir" ] || rm -rf "${old%/}"
done

say "done in $(($(date +%s) - start)) s"
echo "$image"
