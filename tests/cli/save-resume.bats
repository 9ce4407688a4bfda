#!/usr/bin/env bats
# save and resume without a device: the checks that must come before a
# device is opened (opening may reset it; a failed resume resets it), and
# output files that never look complete unless they are.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
	# a directory of its own: `run --separate-stderr` keeps files in
	# $BATS_TEST_TMPDIR, and these tests look for stray files
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
}

# on_tty CMD...: run CMD with stdin, stdout and stderr on a pseudo-terminal
# (script(1) from util-linux); $output gets what it printed, without \r.
on_tty() {
	local cmd
	cmd=$(printf '%q ' "$@")
	script -qec "$cmd" /dev/null </dev/null | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# snapshot FILE: what must not change about FILE
snapshot() {
	stat -c '%i %s %Y %a' "$1"
	sha256sum <"$1"
}

@test "save to a terminal: refused with exit 2, one line" {
	run -2 on_tty "$MIGCTL" --sysroot="$ROOT" save "$CDEV_PCI"
	[ "${#lines[@]}" -eq 1 ] || fail "expected one line, got ${#lines[@]}"
	[[ "${lines[0]}" == "vfio-migctl: save:"* ]] || fail "not a 'vfio-migctl: save:' line"
	grep -qi terminal <<<"$output" || fail "does not say terminal"
}

@test "save to a terminal is refused before the device is opened" {
	local log=$BATS_TEST_TMPDIR/strace.log
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	run -2 on_tty strace -f -qq -e trace=open,openat,openat2 -e signal=none -o "$log" \
		"$MIGCTL" --sysroot="$ROOT" save "$CDEV_PCI"
	[ -s "$log" ] || fail "no strace log"
	local opened
	opened=$(grep -v O_DIRECTORY "$log" | grep -F "$ROOT/dev/" || true)
	[ -z "$opened" ] || fail "opened before refusing: $opened"
}

@test "save -o FILE with stdout on a terminal is not refused (the fixture device fails: 3)" {
	run -3 on_tty "$MIGCTL" --sysroot="$ROOT" save "$CDEV_PCI" -o "$BATS_TEST_TMPDIR/out"
	[[ "$output" == "vfio-migctl: save:"* ]]
	[[ "${output,,}" != *terminal* ]] || fail "refused for the terminal"
}

@test "save -o EXISTING without --force: refused, file untouched" {
	echo "precious" >keep.bin
	chmod 0644 keep.bin
	local before
	before=$(snapshot keep.bin)
	run ! --separate-stderr migctl save "$CDEV_PCI" -o keep.bin
	one_error_line "vfio-migctl: save:"
	[ "$(snapshot keep.bin)" = "$before" ] || fail "keep.bin changed"
	[ "$(cat keep.bin)" = precious ]
	[ "$(ls -A)" = keep.bin ] || fail "stray files: $(ls -A)"
}

@test "save -o EXISTING without --force: refused before the device is opened, naming the file" {
	echo "precious" >keep.bin
	run ! --separate-stderr migctl save "$CDEV_PCI" -o keep.bin
	one_error_line "vfio-migctl: save:"
	stderr_has "keep\.bin"
	stderr_has "exists"
	trace_opens save "$CDEV_PCI" -o "$PWD/keep.bin"
	[ "$traced_status" -ne 0 ]
	[ -z "$nodes" ] || fail "opened $nodes before refusing"
}

@test "save -o EXISTING --force: a failed save leaves the old file as it was" {
	echo "precious" >keep.bin
	local before
	before=$(snapshot keep.bin)
	run -3 --separate-stderr migctl save "$CDEV_PCI" -o keep.bin --force
	one_error_line "vfio-migctl: save:"
	[ "$(snapshot keep.bin)" = "$before" ] || fail "keep.bin changed"
	[ "$(ls -A)" = keep.bin ] || fail "stray files: $(ls -A)"
}

@test "save -o NEW: a failed save leaves no file and no temporary behind" {
	run -3 --separate-stderr migctl save "$CDEV_PCI" -o new.bin
	one_error_line "vfio-migctl: save:"
	no_stdout
	[ -z "$(ls -A)" ] || fail "left behind: $(ls -A)"
}

@test "save: --precopy, --raw and --force are accepted (the fixture device fails: 3)" {
	run -3 --separate-stderr migctl save "$CDEV_PCI" --precopy --raw --force -o new.bin
	one_error_line "vfio-migctl: save:"
	[ ! -e new.bin ]
	run -3 --separate-stderr migctl -q --json save "$CDEV_PCI" -o new.bin
	one_error_line "vfio-migctl: save:"
	[ ! -e new.bin ]
}

@test "save: --downtime and --precopy-timeout take a DURATION (ms, s, plain seconds), with --precopy" {
	for d in 300ms 2s 1.5 .25s; do
		run -3 --separate-stderr migctl save "$CDEV_PCI" --precopy --downtime="$d" \
			--precopy-timeout="$d" -o new.bin
		one_error_line "vfio-migctl: save:"
	done
	for d in 0 0ms -1 5m 1e3 inf soon ""; do
		run -2 --separate-stderr migctl save "$CDEV_PCI" --precopy --downtime="$d"
		one_error_line "vfio-migctl: save: --downtime takes a DURATION"
		run -2 --separate-stderr migctl save "$CDEV_PCI" --precopy --precopy-timeout="$d"
		one_error_line "vfio-migctl: save: --precopy-timeout takes a DURATION"
	done
	# without --precopy they would mean nothing
	run -2 --separate-stderr migctl save "$CDEV_PCI" --downtime=1s
	one_error_line "vfio-migctl: save: --downtime and --precopy-timeout need --precopy"
	[ -z "$(ls -A)" ] || fail "left behind: $(ls -A)"
}

@test "resume: --raw and --force are accepted (the fixture device fails: 3)" {
	run -3 --separate-stderr migctl resume "$CDEV_PCI" --raw --force </dev/null
	one_error_line "vfio-migctl: resume:"
}

@test "resume: an empty framed stream is invalid (7) and the device is not opened" {
	: >empty.bin
	run -7 --separate-stderr migctl resume "$CDEV_PCI" -i empty.bin
	no_stdout
	one_error_line "vfio-migctl: resume:"
	trace_opens resume "$CDEV_PCI" -i "$PWD/empty.bin"
	[ "$traced_status" -eq 7 ]
	[ -z "$nodes" ] || fail "opened $nodes"
}

@test "resume -i MISSING: one line naming the file, non-zero" {
	run ! --separate-stderr migctl resume "$CDEV_PCI" -i missing.bin
	no_stdout
	one_error_line "vfio-migctl: resume:"
	stderr_has "missing\.bin"
}

@test "resume -i MISSING: the device is not opened (a failed resume would reset it)" {
	trace_opens resume "$CDEV_PCI" -i "$PWD/missing.bin"
	[ "$traced_status" -ne 0 ]
	[ -z "$nodes" ] || fail "opened $nodes"
}

@test "resume --raw -i FILE and save -o FILE: no such device is 3, and no file is left" {
	: >in.bin
	run -3 --separate-stderr migctl resume --raw 0000:99:00.0 -i in.bin
	one_error_line "vfio-migctl: resume:"
	stderr_has "no such device"
	run -3 --separate-stderr migctl save 0000:99:00.0 -o out.bin
	stderr_has "no such device"
	[ ! -e out.bin ]
}

@test "resume with stdin on a terminal and no -i: refused with exit 2, one line" {
	run -2 on_tty "$MIGCTL" --sysroot="$ROOT" resume "$CDEV_PCI"
	[ "${#lines[@]}" -eq 1 ] || fail "expected one line, got ${#lines[@]}"
	[[ "${lines[0]}" == "vfio-migctl: resume: $CDEV_PCI: refusing to read device state from a terminal"* ]] ||
		fail "${lines[0]}"
	# -i FILE reads the file, whatever stdin is (the fixture device then fails: 3)
	run -3 on_tty "$MIGCTL" --sysroot="$ROOT" resume --raw "$CDEV_PCI" -i /dev/null
}

@test "save -o '' and resume -i '': a usage error, not a missing device" {
	run -2 --separate-stderr migctl save "$CDEV_PCI" -o ""
	one_error_line "vfio-migctl: save: -o needs a file name (- for stdout)"
	run -2 --separate-stderr migctl resume "$CDEV_PCI" -i ""
	one_error_line "vfio-migctl: resume: -i needs a file name (- for stdin)"
}

@test "save -o DIR: one line, before the device is opened, even with --force" {
	mkdir dir
	run -1 --separate-stderr migctl save "$CDEV_PCI" -o dir
	one_error_line "vfio-migctl: save: $CDEV_PCI: dir: Is a directory"
	run -1 --separate-stderr migctl save "$CDEV_PCI" -o dir --force
	one_error_line "vfio-migctl: save: $CDEV_PCI: dir: Is a directory"
	[ -d dir ]
}

@test "resume: a device that cannot be had says the stream was not loaded" {
	# (save A | resume A: the writer may succeed while nothing was loaded)
	run -3 --separate-stderr migctl resume --raw "$CDEV_PCI" -i /dev/null
	one_error_line "vfio-migctl: resume: $CDEV_PCI: "
	[[ $stderr == *"; the stream was not loaded" ]] || fail "$stderr"
	run -3 --separate-stderr migctl resume --raw 0000:99:00.0 -i /dev/null
	[[ $stderr == *"no such device; the stream was not loaded" ]] || fail "$stderr"
}

@test "resume -i FILE: a file damaged after its first records is refused whole (7), the device not opened" {
	local f
	# (--force: the fixtures were saved from another kind of device)
	for f in corrupt truncated; do
		run -7 --separate-stderr migctl resume --force "$CDEV_PCI" -i "$BATS_TEST_DIRNAME/fixtures/streams/$f.vfmig"
		no_stdout
		one_error_line "vfio-migctl: resume: $CDEV_PCI: record 2 at byte 183: "
		stderr_has "device unchanged"
		trace_opens resume --force "$CDEV_PCI" -i "$BATS_TEST_DIRNAME/fixtures/streams/$f.vfmig"
		[ "$traced_status" -eq 7 ]
		[ -z "$nodes" ] || fail "$f: opened $nodes"
	done
	# (control) without the verify-first pass the same file gets as far as the device
	trace_opens resume --force --single-pass "$CDEV_PCI" -i "$BATS_TEST_DIRNAME/fixtures/streams/corrupt.vfmig"
	[ -n "$nodes" ] || fail "--single-pass: the device was not opened"
}
