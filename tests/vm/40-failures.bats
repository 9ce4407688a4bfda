#!/usr/bin/env bats
# Failure paths with the real driver.  Each test says what it proves; all
# check the documented exit status, that both devices are left in a valid
# state (read back with `state`), that the destination never took the bad
# data (its UART keeps its own values), and that a following save | resume
# still works.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
	# The destination's own, recognisable state: a failed resume must not
	# replace it (mtty's reset touches only the migration state, so these
	# survive the recovery).
	mtty-reg "$DST" set scr 0x99 set lcr 0x05
	mtty_fill "$SRC" 0x5a 0x03 "hello"
}

teardown() {
	mtty_teardown
}

# Run a command with stdout sent to FILE or &FD: `run` itself captures
# stdout, so the redirection has to happen inside what it runs.
to_file() { # FILE CMD...
	local f=$1
	shift
	"$@" >"$f"
}
to_fd() { # FD CMD...
	local fd=$1
	shift
	"$@" >&"$fd"
}

# The JSON summary among save's stderr lines (after the error line)
json_of_stderr() { printf '%s\n' "${stderr_lines[@]}" | sed -n '/^{/,$p'; }

# Flip every bit of the byte at OFFSET of FILE into OUT.
flip_byte() { # FILE OFFSET OUT
	stream_load "$1"
	stream_flip "$2" "$3"
}

# The destination is RUNNING with its own values: no resumed data took hold.
expect_dst_untouched() {
	expect_state "$DST" RUNNING
	expect_regs "$DST" "0x99 0x05 0x60" get scr get lcr get lsr
}

# Offset of mtty's own stream (its magic) inside a framed file.
magic_offset() { # FILE
	local hex
	hex=$(hex_of "$1")
	hex=${hex%%"$MTTY_MAGIC_HEX"*}
	echo $((${#hex} / 2))
}

# ---- streams the destination must refuse

@test "resume --raw: a corrupted mtty header is refused; reset, old state kept" {
	# Proves a driver write error is fatal: mtty checks magic/version/
	# nr_ports in write(), and (uapi-notes) RESUMING -> RUNNING would still
	# succeed and run the old state if the error were ignored.
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	for off in 0 16; do # magic, nr_ports
		flip_byte "$T/raw" "$off" "$T/bad"
		run --separate-stderr vfio-migctl --json resume --raw "$DST" -i "$T/bad"
		[ "$status" -eq 5 ] || [ "$status" -eq 7 ] ||
			fail "corrupt byte $off: exit $status, expected 5 or 7"
		expect_error resume
		jq -e '.ok == false and .recovery == "reset" and .final_state == "RUNNING"
			and (.error | type) == "string"' <<<"$output" >/dev/null ||
			fail "json: $output"
		expect_dst_untouched
	done
	run -0 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/raw"
	expect_filled "$DST" 0x5a 0x03 "hello"
}

@test "resume: a flipped device byte loads silently with --raw, the framed stream refuses it (7)" {
	# The bare kernel stream has no checksum and mtty checks only its
	# header: a flipped SCR byte (offset 31) loads.  The framed stream
	# carries the same bytes under a checksum and must refuse them.
	run -0 --separate-stderr vfio-migctl save --raw --then=running "$SRC" -o "$T/raw"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/mig"
	flip_byte "$T/raw" 31 "$T/bad"
	run -0 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/bad"
	expect_reg "$DST" scr 0xa5

	mtty-reg "$DST" set scr 0x99 recv 5 set lcr 0x05 >/dev/null
	off=$(($(magic_offset "$T/mig") + 31))
	flip_byte "$T/mig" "$off" "$T/bad"
	run -7 --separate-stderr vfio-migctl resume "$DST" -i "$T/bad"
	expect_error resume
	expect_dst_untouched
	vfio-migctl state "$SRC" running >/dev/null
	expect_still_migrates "$SRC" "$DST"
}

@test "resume: any corrupted byte of a framed stream is refused (exit 7)" {
	# Header, records, checksums, end record: no byte is outside the
	# protection.  One flipped byte per run: all of the first 16 and last
	# 16, and every 8th offset between (~60 runs, as every process is dear
	# in an emulated VM); every offset with VM_TEST_EXHAUSTIVE=1 (~275).
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/mig"
	stream_load "$T/mig"
	size=${#stream_bytes[@]}
	step=8
	[ "${VM_TEST_EXHAUSTIVE:-0}" = 0 ] || step=1
	bad=""
	for ((off = 0; off < size; off++)); do
		[ $((off % step)) -eq 0 ] || [ "$off" -lt 16 ] || [ "$off" -ge $((size - 16)) ] ||
			continue
		stream_flip "$off" "$T/bad"
		st=0
		vfio-migctl -q resume "$DST" -i "$T/bad" 2>/dev/null || st=$?
		[ "$st" -eq 7 ] || bad="$bad $off:$st"
	done
	[ -z "$bad" ] || fail "offset:exit not refused with 7:$bad"
	expect_dst_untouched
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/mig"
	expect_filled "$DST" 0x5a 0x03 "hello"
}

@test "resume: a framed stream cut anywhere is truncated (exit 7), device reset" {
	# Includes the cut just before the end record: all device bytes are
	# there, only the proof of completeness is missing.
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/mig"
	size=$(stat -c %s "$T/mig")
	m=$(magic_offset "$T/mig")
	for cut in 1 $((m - 1)) "$m" $((m + 24)) $((m + MTTY_DATA_SIZE)) $((size - 1)); do
		[ "$cut" -gt 0 ] && [ "$cut" -lt "$size" ] || continue
		head -c "$cut" "$T/mig" >"$T/cut"
		run -7 --separate-stderr vfio-migctl resume "$DST" -i "$T/cut"
		expect_error resume
		expect_dst_untouched
	done
	# a cut stream through a pipe, too
	run -7 --separate-stderr bash -c "head -c $((size / 2)) '$T/mig' | vfio-migctl resume '$DST'"
	expect_dst_untouched
	expect_still_migrates "$SRC" "$DST"
}

@test "resume: truncated or empty kernel streams fail at mtty's checks; empty framed is 7" {
	# mtty validates the header after 24 bytes and the length when leaving
	# RESUMING (mtty_load_state): 40 of 60 bytes must not become a state.
	run -0 --separate-stderr vfio-migctl save --raw --then=running "$SRC" -o "$T/raw"
	for cut in 0 10 40 $((MTTY_DATA_SIZE - 1)); do
		head -c "$cut" "$T/raw" >"$T/cut"
		run ! --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/cut"
		[ "$status" -eq 5 ] || [ "$status" -eq 7 ] ||
			fail "cut at $cut: exit $status, expected 5 or 7"
		expect_error resume
		expect_dst_untouched
	done
	run -7 --separate-stderr vfio-migctl resume "$DST" </dev/null
	expect_error resume 'empty'
	expect_dst_untouched
	expect_still_migrates "$SRC" "$DST"
}

@test "resume: a failed save upstream leaves the destination reset, not RESUMING" {
	# The source is busy, so save fails at once; resume sees no stream.
	exec 8<>"$(group_of "$SRC")"
	save_resume "$SRC" -- "$DST"
	exec 8>&-
	[ "$save_status" -eq 3 ] || fail "save exited $save_status"
	[ "$resume_status" -eq 7 ] || fail "resume exited $resume_status"
	expect_dst_untouched
	expect_state "$SRC" RUNNING
	expect_still_migrates "$SRC" "$DST"
}

@test "resume: a stream from another mdev type is incompatible (7); --force meets mtty's check" {
	# mtty-2 has two ports: the identity check refuses a mtty-1 stream
	# before the device sees it; forced through, mtty itself refuses
	# nr_ports 1 and the device is reset.
	two=$(mtty_create mtty-2)
	mtty-reg "$two" set scr 0x99
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/mig"
	run -7 --separate-stderr vfio-migctl resume "$two" -i "$T/mig"
	expect_error resume
	expect_state "$two" RUNNING
	expect_reg "$two" scr 0x99
	run ! --separate-stderr vfio-migctl resume --force "$two" -i "$T/mig"
	[ "$status" -eq 5 ] || [ "$status" -eq 7 ] || fail "forced: exit $status"
	expect_state "$two" RUNNING
	expect_reg "$two" scr 0x99
	expect_still_migrates "$SRC" "$DST"
}

@test "resume --on-error=leave: a refused stream leaves RESUMING, reported; reset recovers" {
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	flip_byte "$T/raw" 0 "$T/bad"
	run ! --separate-stderr vfio-migctl --json resume --raw --on-error=leave "$DST" -i "$T/bad"
	jq -e '.ok == false and .recovery == "left" and .final_state == "RESUMING"' \
		<<<"$output" >/dev/null || fail "json: $output"
	expect_state "$DST" RESUMING
	run -0 --separate-stderr vfio-migctl reset "$DST"
	[ "$output" = "RESUMING -> RUNNING" ] || fail "reset printed '$output'"
	expect_dst_untouched
	expect_still_migrates "$SRC" "$DST"
}

# ---- saves whose output goes nowhere

@test "save into a pipe with no reader (save | true): exit 1, source restored" {
	# `save | true` races (true may exit before or after the write): a
	# FIFO whose reader is gone makes the first write fail every time.
	# The source must not die of SIGPIPE mid-STOP_COPY.
	mkfifo "$T/fifo"
	exec 8<>"$T/fifo" 9>"$T/fifo"
	exec 8<&-
	# framed: the header write fails before the device is touched; raw
	# (and raw --precopy): the first write comes mid-save, after the
	# device left RUNNING, and it must be put back.
	for opts in "" "--raw" "--raw --precopy"; do
		# shellcheck disable=SC2086
		run -1 --separate-stderr to_fd 9 vfio-migctl save $opts "$SRC"
		expect_error save 'pipe'
		expect_state "$SRC" RUNNING
	done
	exec 9>&-
	# The literal form: whatever the race gives, never SIGPIPE's 141, and
	# the state matches the verdict.
	{
		st=0
		vfio-migctl -q save "$SRC" 2>/dev/null || st=$?
		echo "$st" >"$T/rc"
	} | true
	rc=$(cat "$T/rc")
	case "$rc" in
	0) expect_state "$SRC" STOP ;;
	1) expect_state "$SRC" RUNNING ;;
	*) fail "save | true exited $rc" ;;
	esac
	vfio-migctl state "$SRC" running >/dev/null
	expect_still_migrates "$SRC" "$DST"
}

@test "save > /dev/full: exit 1, no space, source restored; --on-error=reset|leave" {
	run -1 --separate-stderr to_file /dev/full vfio-migctl save "$SRC"
	expect_error save 'space'
	expect_state "$SRC" RUNNING
	for opts in "--raw" "--raw --precopy"; do
		# shellcheck disable=SC2086
		run -1 --separate-stderr to_file /dev/full vfio-migctl save $opts "$SRC"
		expect_error save 'space'
		expect_state "$SRC" RUNNING
	done

	# --raw: nothing is written before the device is in STOP_COPY, so
	# there is something to recover from.
	run -1 --separate-stderr to_file /dev/full vfio-migctl --json save --raw --on-error=reset "$SRC"
	json_of_stderr | jq -e '.ok == false and .recovery == "reset"
		and .final_state == "RUNNING" and (.error | type) == "string"' >/dev/null ||
		fail "stderr: $stderr"
	expect_state "$SRC" RUNNING
	run -1 --separate-stderr to_file /dev/full vfio-migctl --json save --raw --on-error=leave "$SRC"
	json_of_stderr | jq -e '.ok == false and .recovery == "left"' >/dev/null ||
		fail "stderr: $stderr"
	run -0 --separate-stderr vfio-migctl state "$SRC"
	[ "$output" != RUNNING ] || fail "--on-error=leave put the device back"
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	expect_still_migrates "$SRC" "$DST"
}

# ---- interrupted while blocked

# start_blocked_save ARGS...: a vfio-migctl save writing into a full FIFO,
# with SIGINT at its default (bats runs background jobs with SIGINT
# ignored; a terminal's Ctrl-C would not be); sets $pid once it blocks.
start_blocked_save() {
	full_fifo "$T/fifo"
	env --default-signal=INT vfio-migctl save "$@" >"$T/fifo" 2>"$T/bg.err" 3>&- &
	pid=$!
	bg_track "$pid"
	wait_blocked "$pid"
}

# wait_rc PID: rc = its exit status, once it has exited (not in a $(...):
# only this shell can wait for its children)
wait_rc() {
	rc=0
	wait "$1" || rc=$?
}

@test "SIGINT while save is blocked on its output: exit 130, source restored" {
	# The pipe is full before save starts, so it blocks on its first write.
	# Framed, that is the stream header, before the device is touched; raw,
	# it is the device's data, in STOP_COPY (or PRE_COPY with --precopy):
	# Ctrl-C must put the device back before exiting.
	for opts in "" "--raw" "--raw --precopy"; do
		# shellcheck disable=SC2086
		start_blocked_save $opts "$SRC"
		kill -INT "$pid"
		wait_rc "$pid"
		[ "$rc" -eq 130 ] || fail "save $opts exited $rc: $(cat "$T/bg.err")"
		[[ $(cat "$T/bg.err") == *"vfio-migctl: save: "*interrupt* ]] ||
			fail "stderr: $(cat "$T/bg.err")"
		exec 7<&-
		rm -f "$T/fifo"
		expect_state "$SRC" RUNNING
	done
	expect_still_migrates "$SRC" "$DST"
}

@test "SIGINT while resume waits for its input: exit 130, destination reset" {
	mkfifo "$T/in"
	exec 8<>"$T/in" # a writer that never writes
	env --default-signal=INT vfio-migctl resume "$DST" <"$T/in" 2>"$T/bg.err" 3>&- &
	pid=$!
	bg_track "$pid"
	# blocked in read(2) on the FIFO (on the thread that reads the stream)
	for i in $(seq 100); do
		nr=$(cat /proc/"$pid"/task/*/syscall 2>/dev/null | cut -d' ' -f1 | grep -x 0 || :)
		[ "$nr" != 0 ] || break
		sleep 0.05
	done
	[ "$nr" = 0 ] || fail "resume never blocked reading ($nr)"
	kill -INT "$pid"
	wait_rc "$pid"
	exec 8>&-
	[ "$rc" -eq 130 ] || fail "resume exited $rc: $(cat "$T/bg.err")"
	expect_dst_untouched
	expect_still_migrates "$SRC" "$DST"
}

# ---- devices in use

@test "busy: a group held open elsewhere is exit 3, in use, by every door" {
	run -0 --separate-stderr vfio-migctl save --then=running "$DST" -o "$T/mig"
	exec 8<>"$(group_of "$SRC")"
	for args in "state $SRC" "state --via=group $SRC" "info $(cdev_of "$SRC")" \
		"save $SRC -o $T/x" "resume $SRC -i $T/mig" "reset $SRC" \
		"state $(group_of "$SRC") stop"; do
		# shellcheck disable=SC2086
		run -3 --separate-stderr vfio-migctl $args
		expect_error "${args%% *}" 'busy|in use'
	done
	exec 8>&-
	# the refused save -o left nothing behind
	[ ! -e "$T/x" ] || fail "a failed save left $T/x"
	expect_state "$SRC" RUNNING
	expect_still_migrates "$SRC" "$DST"
}

@test "busy: a device held by another vfio-migctl (cdev) is exit 3 for cdev and group" {
	# The holder is a save blocked on a full pipe: it has the device bound
	# through iommufd.  A second bind is EINVAL in the kernel; the group
	# is EBUSY.  Both must read as "in use".
	start_blocked_save "$SRC"
	run -3 --separate-stderr vfio-migctl state "$SRC"
	expect_error state 'busy|in use'
	run -3 --separate-stderr vfio-migctl state --via=group "$SRC"
	expect_error state 'busy|in use'
	run -3 --separate-stderr vfio-migctl save "$(cdev_of "$SRC")" -o "$T/x"
	expect_error save 'busy|in use'
	# The holder is unharmed: drain the pipe and it completes.
	# (fd 7 is also a writer, so cat never sees EOF: teardown ends it)
	cat <&7 >"$T/drained" 3>&- &
	bg_track $!
	wait_rc "$pid"
	[ "$rc" -eq 0 ] || fail "the blocked save exited $rc: $(cat "$T/bg.err")"
	exec 7<&-
	expect_state "$SRC" STOP
	vfio-migctl state "$SRC" running >/dev/null
	expect_still_migrates "$SRC" "$DST"
}
