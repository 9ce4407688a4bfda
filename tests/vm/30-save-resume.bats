#!/usr/bin/env bats
# save | resume between two real mtty devices.  Fidelity is checked through
# the device itself: mtty-reg puts a scratch value, a line-control value and
# bytes in the loopback FIFO into the source's UART (all part of mtty's
# migrated struct serial_port), and reads them back on the destination,
# which is first shown NOT to hold them.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

@test "save | resume via cdev carries SCR, LCR and FIFO bytes" {
	mtty_fill "$SRC" 0x5a 0x03 "hello"
	expect_pristine "$DST"

	save_resume "$(cdev_of "$SRC")" -- "$(cdev_of "$DST")"
	expect_migrated
	[[ $save_err =~ ^saved\ $MTTY_DATA_SIZE\ bytes.*\ in\ .*now\ STOP$ ]] ||
		fail "save summary: $save_err"
	[[ $resume_err$resume_out =~ resumed\ $MTTY_DATA_SIZE\ bytes\ in\ .*now\ RUNNING ]] ||
		fail "resume summary: $resume_err$resume_out"

	expect_state "$SRC" STOP
	expect_state "$DST" RUNNING
	expect_filled "$DST" 0x5a 0x03 "hello"
	# Saving copies; the source keeps its state.
	expect_filled "$SRC" 0x5a 0x03 "hello"
}

@test "save | resume via group (group path, UUID --via=group) and across doors" {
	mtty_fill "$SRC" 0xc3 0x1f "group"
	expect_pristine "$DST"
	save_resume "$(group_of "$SRC")" -- --via=group "$DST"
	expect_migrated
	expect_state "$SRC" STOP
	expect_state "$DST" RUNNING
	expect_filled "$DST" 0xc3 0x1f "group"

	# cdev on one side, group on the other, and back
	mtty_fill "$DST" 0x10 0x20 "yz"
	expect_reg "$SRC" scr 0xc3
	vfio-migctl state "$SRC" running >/dev/null
	save_resume --via=cdev "$DST" -- "$(group_of "$SRC")"
	expect_migrated
	expect_filled "$SRC" 0x10 0x20 "yz"
}

@test "save --precopy: 24 header bytes move while RUNNING, then STOP_COPY; --json" {
	mtty_fill "$SRC" 0x42 0x07 "precopy"
	expect_pristine "$DST"
	save_resume --precopy "$SRC" -- "$DST"
	expect_migrated
	expect_filled "$DST" 0x42 0x07 "precopy"
	summary=$save_err

	# JSON: on stderr for save (stdout carries the stream), on stdout for
	# resume (it reads stdin)
	vfio-migctl state "$SRC" running >/dev/null
	save_resume --json --precopy "$SRC" -- --json "$DST"
	expect_migrated
	jq -e --arg d "$SRC" --argjson n "$MTTY_DATA_SIZE" '
		.command == "save" and .device == $d and .ok == true
		and .bytes == $n and .precopy_bytes == 24 and .stopcopy_bytes == $n - 24
		and .estimate >= $n and .initial_state == "RUNNING"
		and .final_state == "STOP" and .recovery == "none"
		and (.seconds | type) == "number" and (.stopped_seconds | type) == "number"
		and (has("error") | not)' <<<"$save_err" >/dev/null ||
		fail "save json: $save_err"
	jq -e --arg d "$DST" --argjson n "$MTTY_DATA_SIZE" '
		.command == "resume" and .device == $d and .ok == true
		and .bytes == $n and .initial_state == "RUNNING"
		and .final_state == "RUNNING" and .recovery == "none"' <<<"$resume_out" >/dev/null ||
		fail "resume json: $resume_out"

	# the text summary, as the contract words it
	[[ $summary =~ ^saved\ $MTTY_DATA_SIZE\ bytes\ \(precopy\ 24\)\ in\ .*now\ STOP$ ]] ||
		fail "save summary: $summary" "expected: saved $MTTY_DATA_SIZE bytes (precopy 24) in ..."
}

@test "save -o / resume -i: a 0600 file, kept unless --force, replayable" {
	echo precious >"$T/state.mig"
	run ! --separate-stderr vfio-migctl save "$SRC" -o "$T/state.mig"
	expect_error save
	[ "$(cat "$T/state.mig")" = precious ] || fail "file overwritten"
	expect_state "$SRC" RUNNING

	mtty_fill "$SRC" 0x6b 0x13 "file"
	run -0 --separate-stderr vfio-migctl save --force "$SRC" -o "$T/state.mig"
	# stdout is free with -o: at most the summary goes there, never data
	[[ -z $output || $output == "saved $MTTY_DATA_SIZE bytes"*"now STOP" ]] ||
		fail "save -o wrote to stdout: $output"
	[ "$(stat -c %a "$T/state.mig")" = 600 ] || fail "mode $(stat -c %a "$T/state.mig")"
	expect_state "$SRC" STOP
	run -0 --separate-stderr vfio-migctl save "$DST" -o "$T/new.mig"
	[ "$(stat -c %a "$T/new.mig")" = 600 ] || fail "mode $(stat -c %a "$T/new.mig")"

	vfio-migctl state "$DST" running >/dev/null
	expect_pristine "$DST"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/state.mig"
	expect_filled "$DST" 0x6b 0x13 "file"
	third=$(mtty_create)
	run -0 --separate-stderr vfio-migctl resume "$(group_of "$third")" -i "$T/state.mig"
	expect_filled "$third" 0x6b 0x13 "file"
}

@test "save --raw is exactly mtty's kernel stream, the framed one wraps it" {
	mtty_fill "$SRC" 0xe7 0x0b "raw"
	run -0 --separate-stderr vfio-migctl save --raw --then=running "$SRC" -o "$T/raw"
	[ "$(stat -c %s "$T/raw")" -eq "$MTTY_DATA_SIZE" ] ||
		fail "raw stream is $(stat -c %s "$T/raw") bytes"
	[ "$(hex_of -N 8 "$T/raw")" = "$MTTY_MAGIC_HEX" ] || fail "no mtty magic at 0"
	# nr_ports (u32 at 16) and port 0's SCR (24 + uart_reg[7])
	[ "$(hex_of -j 16 -N 4 "$T/raw")" = 01000000 ] || fail "nr_ports"
	[ "$(hex_of -j 31 -N 1 "$T/raw")" = e7 ] || fail "SCR not at offset 31"

	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/framed"
	size=$(stat -c %s "$T/framed")
	[ "$size" -gt "$MTTY_DATA_SIZE" ] || fail "framed stream is only $size bytes"
	[ "$(hex_of -N 8 "$T/framed")" != "$MTTY_MAGIC_HEX" ] ||
		fail "framed stream starts like the raw one"
	[[ $(hex_of "$T/framed") == *"$(hex_of "$T/raw")"* ]] ||
		fail "the kernel stream is not inside the framed one"

	expect_pristine "$DST"
	run -0 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/raw"
	expect_state "$DST" RUNNING
	expect_filled "$DST" 0xe7 0x0b "raw"
}

@test "save --then / resume --then / -q; from a STOP source into a device that ran" {
	mtty_fill "$SRC" 0x11 0x03 "then"
	save_resume -q --then=running "$SRC" -- -q --then=stop "$DST"
	expect_migrated
	[ -z "$save_err" ] || fail "save -q said: $save_err"
	[ -z "$resume_err$resume_out" ] || fail "resume -q said: $resume_err$resume_out"
	expect_state "$SRC" RUNNING
	expect_state "$DST" STOP
	expect_filled "$DST" 0x11 0x03 "then"

	# A STOP source saves; the resumed state replaces all a destination
	# had, FIFO included.
	mtty_fill "$SRC" 0x21 0x03 "ab"
	vfio-migctl state "$SRC" stop >/dev/null
	vfio-migctl state "$DST" running >/dev/null
	mtty_fill "$DST" 0x77 0x1b "old"
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_filled "$DST" 0x21 0x03 "ab"
}

@test "save | resume with tiny buffers: 1-byte reads, 7-byte writes" {
	mtty_fill "$SRC" 0x2d 0x1a "tiny"
	save_resume --buffer-size=1 --precopy "$SRC" -- --buffer-size=7 "$DST"
	expect_migrated
	expect_filled "$DST" 0x2d 0x1a "tiny"
	save_resume --raw --buffer-size=1 "$DST" -- --raw --buffer-size=7 "$SRC"
	expect_migrated
	expect_reg "$SRC" scr 0x2d
}

@test "save | resume: mtty-2 carries both UART ports (96 bytes)" {
	a=$(mtty_create mtty-2)
	b=$(mtty_create mtty-2)
	run -0 --separate-stderr vfio-migctl --json info "$a"
	[ "$(jq .data_size <<<"$output")" -eq 96 ] || fail "data size $output"
	mtty-reg --port=0 "$a" set scr 0x10
	mtty-reg --port=1 "$a" set scr 0x20
	mtty-reg --port=1 "$a" send two
	expect_reg "$b" scr 0x00
	save_resume "$a" -- "$b"
	expect_migrated
	[[ $save_err == "saved 96 bytes"* ]] || fail "save summary: $save_err"
	[ "$(mtty-reg --port=0 "$b" get scr)" = 0x10 ] || fail "port 0 scr"
	[ "$(mtty-reg --port=1 "$b" get scr)" = 0x20 ] || fail "port 1 scr"
	[ "$(mtty-reg --port=1 "$b" recv 3)" = two ] || fail "port 1 FIFO"
}
