# Shared setup for the host-side CLI tests (bats >= 1.5; Debian 12 has 1.8.2).
#
# The binary under test is $MIGCTL (the Makefile sets it); by default the one
# built in this tree.  Each .bats file builds its fixture root once, in
# setup_file, with tests/cli/fixtures/mksysroot.sh.

bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${MIGCTL:=$REPO/build/vfio-migctl}"
export MIGCTL
MKSYSROOT=$BATS_TEST_DIRNAME/fixtures/mksysroot.sh

# Keep the developer's environment out of the tests.
unset VFIO_MIGCTL_SYSROOT
export LC_ALL=C

# Fixture names (see fixtures/mksysroot.sh)
CDEV_PCI=0000:3b:00.1        # vfio-pci, group 12, cdev vfio3
NET_PCI=0000:00:1f.6         # e1000e
NODRV_PCI=0000:3c:00.0       # no driver
SHARED_A=0000:5e:00.0        # vfio-pci, group 14 (with SHARED_B), cdev vfio4
SHARED_B=0000:5e:00.1        # vfio-pci, group 14, cdev vfio5
GROUP_ONLY=0000:af:00.0      # vfio-pci, group 20, no cdev
MTTY=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 # mtty-2 mdev, group 0, cdev vfio0
# What `list` must show, in order
LISTED=("$CDEV_PCI" "$SHARED_A" "$SHARED_B" "$GROUP_ONLY" "$MTTY")

# make_root: the fixture root for this file, in $ROOT
make_root() {
	ROOT=$BATS_FILE_TMPDIR/root
	[ -d "$ROOT/sys" ] || "$MKSYSROOT" "$ROOT" >&2
	export ROOT
}

# migctl ARGS...: the binary on the fixture root
migctl() {
	"$MIGCTL" --sysroot="$ROOT" "$@"
}

# The binary with stdout on /dev/full
migctl_to_full() {
	"$MIGCTL" "$@" >/dev/full
}

fail() {
	printf '%s\n' "$@" >&2
	return 1
}

# one_error_line PREFIX: stderr is exactly one line and starts with PREFIX
one_error_line() {
	[ "${#stderr_lines[@]}" -eq 1 ] ||
		fail "expected exactly one line on stderr, got ${#stderr_lines[@]}"
	[[ "$stderr" == "$1"* ]] ||
		fail "expected stderr to start with '$1'"
}

# stderr_has REGEX: stderr matches the extended regex (case-insensitive)
stderr_has() {
	grep -Eqi -- "$1" <<<"$stderr" || fail "stderr does not match /$1/"
}

# no_stdout: nothing was printed on stdout
no_stdout() {
	[ -z "$output" ] || fail "expected empty stdout"
}

# trace_opens ARGS...: run the binary on the fixture root under strace.
# Sets $nodes to every non-directory file under $ROOT/dev it tried to open,
# one per line, sorted, relative to $ROOT ("/dev/vfio/12"), and
# $traced_status to its exit status.
# Without strace (or when it traced nothing) the test fails: an empty
# trace would pass every "opened nothing" check.
trace_opens() {
	local log=$BATS_TEST_TMPDIR/strace.log
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	traced_status=0
	rm -f "$log"
	strace -f -qq -e trace=open,openat,openat2 -e signal=none -o "$log" \
		"$MIGCTL" --sysroot="$ROOT" "$@" >/dev/null 2>&1 </dev/null ||
		traced_status=$?
	grep -q 'execve\|open' "$log" 2>/dev/null || fail "strace traced nothing (status $traced_status)"
	nodes=$(grep -v O_DIRECTORY "$log" |
		grep -o "\"$ROOT/dev/[^\"]*\"" | tr -d '"' | sed "s|^$ROOT||" | sort -u)
}

# opens_only NODE...: $nodes is not empty and holds only the given nodes
opens_only() {
	[ -n "$nodes" ] || fail "nothing under /dev was opened"
	local n
	while read -r n; do
		[[ " $* " == *" $n "* ]] || fail "opened $n; expected only: $*"
	done <<<"$nodes"
}

# After a failed test, show what the last `run` saw.
teardown() {
	if [ -n "${BATS_RUN_COMMAND:-}" ]; then
		printf '# last run: %s\n# status: %s\n' "$BATS_RUN_COMMAND" "${status:-}"
		printf '# stdout: %s\n' "${lines[@]}"
		[ -z "${stderr+x}" ] || printf '# stderr: %s\n' "${stderr_lines[@]}"
	fi
}
