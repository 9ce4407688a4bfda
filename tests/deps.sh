#!/bin/sh
# Install what building and testing vfio-migctl needs on Debian 12, and
# nothing that is already there.  Usage: tests/deps.sh [build|test|vm|bench]...
set -eu

build="gcc make pkg-config libnl-3-dev libjson-c-dev libxxhash-dev libsmartcols-dev"
test="bats jq strace zsh fish groff-base mandoc man-db clang-14 clang-format-14 libclang-rt-14-dev"
vm="qemu-system-x86 linux-source-6.12 linux-source-6.1 bc bison flex libelf-dev libssl-dev
    busybox-static xz-utils kmod cpio"
bench="gnuplot-nox"

want=""
[ $# -gt 0 ] || set -- build test vm
for tier in "$@"; do
	case "$tier" in
	build) want="$want $build" ;;
	test) want="$want $test" ;;
	vm) want="$want $vm" ;;
	bench) want="$want $bench" ;;
	*) echo "deps.sh: unknown tier '$tier'" >&2; exit 2 ;;
	esac
done

missing=""
for pkg in $want; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0

echo "deps.sh: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
