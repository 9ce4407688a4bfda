#!/usr/bin/env bats
# Where a saved stream goes and where it comes from, on real mtty devices:
# an output file is committed (fsync, then link) once the device is in its
# final state, only regular files are ever replaced, FIFOs and devices are written
# as they are, "-" is stdout/stdin; and a bad input file costs the device
# nothing.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

@test "save -o FILE: the device's last state change, then fsync, then the link" {
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	run -0 --separate-stderr strace -f -qq -e trace=fsync,fdatasync,linkat,renameat2,rename,ioctl \
		-e signal=none -o "$T/trace" vfio-migctl save "$SRC" -o "$T/s.mig"
	# The ioctls that move the device on (STOP_COPY -> STOP), and only then
	# the file's fsync, its link under the name, the directory's fsync: the
	# commit point is the device's final state.  After the link the device
	# is only asked its state once, for the report.
	awk '
		/fsync\(/ && !linked { synced = 1 }
		/linkat\(.*s\.mig/ { if (!synced) { print "link before fsync"; exit 1 } linked = NR }
		/ioctl\(/ && linked { after++ }
		END {
			if (!linked) { print "no linkat"; exit 1 }
			if (after > 1) { print "the device moved on after the commit"; exit 1 }
		}' "$T/trace" || fail "trace:" "$(grep -v '^$' "$T/trace" | tail -n 20)"
	grep -q 'fsync(' "$T/trace" || fail "no fsync in the trace"
	run -0 vfio-migctl inspect "$T/s.mig"
}

@test "save -o /dev/null, with or without --force: written, never replaced" {
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/null
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/null --force
	[ -c /dev/null ] || fail "/dev/null is no longer a character device"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/stdout --force
	[ -c /dev/null ]
}

@test "save -o FIFO: the reader gets the stream, no temporary file, no --force" {
	mkfifo "$T/pipe"
	cat "$T/pipe" >"$T/from-pipe" &
	reader=$!
	bg_track "$reader"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/pipe"
	wait "$reader"
	[ -p "$T/pipe" ] || fail "the FIFO was replaced"
	run -0 --separate-stderr vfio-migctl inspect "$T/from-pipe"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/from-pipe"
}

@test "save -o DIR, or a socket: refused before the device is touched (status 1)" {
	mkdir "$T/dir"
	vfio-migctl -q state "$SRC" stop >/dev/null
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/dir"
	expect_error save "$T/dir: Is a directory$"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/dir" --force
	expect_error save "Is a directory$"
	[ -d "$T/dir" ]
	expect_state "$SRC" STOP
}

@test "save -o a symlink: followed; --force replaces its target, the link stays" {
	echo old >"$T/target"
	ln -s target "$T/link"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/link"
	expect_error save "link: exists; use --force to replace it$"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/link" --force
	[ -L "$T/link" ] || fail "the link was replaced"
	run -0 --separate-stderr vfio-migctl inspect "$T/target"
}

@test "-o - is stdout and -i - is stdin" {
	vfio-migctl save "$SRC" -o - >"$T/dash.mig"
	[ ! -e ./- ] || fail "a file named - was created"
	run -0 --separate-stderr vfio-migctl inspect "$T/dash.mig"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i - <"$T/dash.mig"
	[ ! -e ./- ]
}

@test "resume of a corrupt file into a stopped device: status 7, still STOP" {
	mtty_fill "$SRC" 0x42 0x03 "abc"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	stream_load "$T/s.mig"
	# the last byte of the last data record, just before END (24 + 32 bytes)
	stream_flip $((${#stream_bytes[@]} - 57)) "$T/bad.mig"
	vfio-migctl -q state "$DST" stop >/dev/null
	run -7 --separate-stderr vfio-migctl resume "$DST" -i "$T/bad.mig"
	expect_error resume "checksum mismatch; device unchanged$"
	# before: RESUMING, the good records written, then a reset to RUNNING
	expect_state "$DST" STOP
	expect_pristine "$DST"
}
