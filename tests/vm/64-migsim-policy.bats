#!/usr/bin/env bats
# The failure and PRE_COPY policy on a device that shows what it was asked:
# migsim's arc log (the arcs attribute) lists every arc the device took
# and every reset, and error_sets counts the SETs it received in ERROR, so
# "never woke the device", "never entered RESUMING" and "never asked
# anything of a device in ERROR" are facts, not inferences.
bats_require_minimum_version 1.5.0
load helpers
load migsim

setup_file() {
	migsim_load
}

teardown_file() {
	migsim_cleanup
}

setup() {
	migsim_pair full 256K
}

teardown() {
	mtty_teardown
}

# ---- PRE_COPY never wakes a device

@test "save --precopy from RUNNING: PRE_COPY, then STOP_COPY" {
	msim_set "$SRC" precopy_initial 64K
	arcs_clear "$SRC"
	run -0 --separate-stderr vfio-migctl --json save --precopy "$SRC" -o "$T/s.mig"
	expect_arcs "$SRC" "RUNNING>PRE_COPY PRE_COPY>PRE_COPY_P2P PRE_COPY_P2P>STOP_COPY STOP_COPY>STOP"
	jq -e '.ok and .precopy_bytes > 0 and .precopy_skipped == null' <<<"$output" >/dev/null ||
		fail "json: $output"
}

@test "save --precopy from RUNNING_P2P: PRE_COPY_P2P, never RUNNING" {
	msim_set "$SRC" precopy_initial 64K
	vfio-migctl -q state "$SRC" running_p2p >/dev/null
	arcs_clear "$SRC"
	run -0 --separate-stderr vfio-migctl --json save --precopy --then=running_p2p "$SRC" -o "$T/s.mig"
	expect_arcs "$SRC" "RUNNING_P2P>PRE_COPY_P2P PRE_COPY_P2P>STOP_COPY STOP_COPY>STOP STOP>RUNNING_P2P"
	jq -e '.ok and .precopy_bytes > 0' <<<"$output" >/dev/null || fail "json: $output"
}

@test "save --precopy from STOP: straight to STOP_COPY, and the report says why" {
	vfio-migctl -q state "$SRC" stop >/dev/null
	arcs_clear "$SRC"
	run -0 --separate-stderr vfio-migctl save --precopy "$SRC" -o "$T/s.mig"
	expect_arcs "$SRC" "STOP>STOP_COPY STOP_COPY>STOP"
	[[ $output == *"precopy skipped (the device was stopped: nothing to pre-copy)"* ]] ||
		fail "text report: $output"
	run -0 --separate-stderr vfio-migctl --json save --precopy "$SRC" -o "$T/s2.mig"
	jq -e '.ok and .precopy_bytes == 0 and
		(.precopy_skipped | test("stopped")) and .final_state == "STOP"' <<<"$output" >/dev/null ||
		fail "json: $output"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/s.mig"
	expect_same_state "$SRC" "$DST"
}

@test "save --precopy on a device without PRE_COPY: status 4 before anything is touched" {
	P2P=$(migsim_create p2p size=64K)
	arcs_clear "$P2P"
	run -4 --separate-stderr vfio-migctl save --precopy "$P2P" -o "$T/s.mig"
	expect_error save "PRE_COPY: not supported"
	expect_arcs "$P2P" ""
	[ ! -e "$T/s.mig" ]
}

# ---- nothing but reset out of ERROR

@test "a save whose arc ends in ERROR: reset at once, no state change asked of ERROR" {
	msim_set "$SRC" fail_arc "STOP STOP_COPY 5 error"
	arcs_clear "$SRC"
	run -5 --separate-stderr vfio-migctl --json save "$SRC" -o "$T/s.mig"
	expect_error save "entering STOP_COPY failed: Input/output error; device reset, now RUNNING"
	# the log has the two arcs to STOP, then only the reset
	expect_arcs "$SRC" "RUNNING>RUNNING_P2P RUNNING_P2P>STOP reset"
	jq -e '.recovery == "reset" and .final_state == "RUNNING"' <<<"$output" >/dev/null ||
		fail "json: $output"
	# a SET from ERROR fails without an arc: only migsim's count shows it
	expect_msim "$SRC" error_sets 0
}

# ---- a bad file costs the device nothing

@test "resume of a corrupt or truncated file: status 7, the device never touched" {
	# records of 64 KiB: a reader checking one at a time writes a few first
	run -0 --separate-stderr vfio-migctl save --buffer-size=64K "$SRC" -o "$T/s.mig"
	size=$(stat -c %s "$T/s.mig")
	head -c $((size - 100)) "$T/s.mig" >"$T/cut.mig"
	# flip a byte in the last data record: a record-by-record reader would
	# have written everything before it
	file_flip "$T/s.mig" $((size - 200)) "$T/flip.mig"
	vfio-migctl -q state "$DST" stop >/dev/null
	arcs_clear "$DST"
	for bad in cut flip; do
		run -7 --separate-stderr vfio-migctl resume "$DST" -i "$T/$bad.mig"
		expect_error resume "; device unchanged$"
		run -7 --separate-stderr vfio-migctl resume "$DST" <"$T/$bad.mig"
		expect_error resume "; device unchanged$"
	done
	expect_arcs "$DST" ""
	expect_msim_state "$DST" STOP
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim "$DST" reset_count 0
	# --single-pass: checked while loading, so a bad record aborts by reset
	run -7 --separate-stderr vfio-migctl resume --single-pass "$DST" -i "$T/flip.mig"
	expect_error resume "checksum mismatch; device reset, now RUNNING"
	expect_msim "$DST" reset_count 1
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "resume of a stream from another kind of device: refused, RESUMING never entered" {
	OTHER=$(migsim_create basic size=64K)
	run -0 --separate-stderr vfio-migctl save "$OTHER" -o "$T/other.mig"
	arcs_clear "$DST"
	# from a pipe too: the identity is checked before the device is opened
	run -7 --separate-stderr vfio-migctl resume "$DST" < <(cat "$T/other.mig")
	expect_error resume "incompatible stream: .*migsim-basic.*migsim-full.*device unchanged"
	expect_arcs "$DST" ""
	expect_untouched "$DST" "$DST_DIGEST" 0
	# accepted with --force: the reason is in the one line there is
	run -0 --separate-stderr vfio-migctl resume --force "$DST" -i "$T/other.mig"
	[ -z "$stderr" ] || fail "a second line: $stderr"
	[[ $output == "resumed "*"; now RUNNING; accepted with --force: stream is from mdev type migsim-basic"* ]] ||
		fail "summary: $output"
	expect_same_state "$OTHER" "$DST"
}

@test "resume --on-error=leave: a load that leaves ERROR is status 6, as for any transition" {
	msim_set "$DST" fail_arc "RESUMING STOP 5 error"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	run -6 --separate-stderr vfio-migctl --json resume --on-error=leave "$DST" -i "$T/s.mig"
	expect_error resume "recover it with 'vfio-migctl reset $DST'$"
	jq -e '.recovery == "left" and .final_state == "ERROR"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_msim_state "$DST" ERROR
	expect_msim "$DST" error_sets 0
}

# ---- a load that succeeded is kept

@test "resume: only the step to --then fails: status 5, the loaded state kept in STOP" {
	msim_set "$DST" fail_arc "STOP RUNNING_P2P 5"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	arcs_clear "$DST"
	run -5 --separate-stderr vfio-migctl --json resume "$DST" -i "$T/s.mig"
	expect_error resume "entering RUNNING failed: Input/output error; the device accepted the stream and keeps it, in STOP"
	jq -e '.recovery == "kept" and .final_state == "STOP"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_arcs "$DST" "RUNNING>RUNNING_P2P RUNNING_P2P>STOP STOP>RESUMING RESUMING>STOP"
	expect_msim "$DST" reset_count 0
	expect_same_state "$SRC" "$DST"
}

# ---- the output file is part of the save

@test "save: a file that cannot be committed puts the device back, and is reported" {
	slow_save_bg "$SRC" --json -o "$T/s.mig"
	# someone else's file appears under the name meanwhile: never replaced
	echo "theirs" >"$T/s.mig"
	slow_save_wait
	[ "$rc" -eq 1 ] || fail "save exited $rc: $(cat "$T/err")"
	grep -q "committing $T/s.mig: exists; use --force to replace it; device restored to RUNNING" "$T/err" ||
		fail "save said: $(cat "$T/err")"
	jq -e '.ok == false and .recovery == "restored" and .final_state == "RUNNING"' \
		<<<"$(json_of "$(cat "$T/err")")" >/dev/null || fail "no JSON report: $(cat "$T/err")"
	[ "$(cat "$T/s.mig")" = theirs ] || fail "their file was replaced"
	expect_msim_state "$SRC" RUNNING
}

@test "save --force: a file that appears at a new name meanwhile is not replaced either" {
	slow_save_bg "$SRC" --json -o "$T/s.mig" --force
	# --force replaces the file there was when the save began: none
	echo "theirs" >"$T/s.mig"
	slow_save_wait
	[ "$rc" -eq 1 ] || fail "save exited $rc: $(cat "$T/err")"
	grep -q "committing $T/s.mig: appeared during the save: not replaced; device restored to RUNNING" "$T/err" ||
		fail "save said: $(cat "$T/err")"
	[ "$(cat "$T/s.mig")" = theirs ] || fail "their file was replaced"
	expect_msim_state "$SRC" RUNNING
}

@test "save --force: the file to replace turns into a FIFO meanwhile: not replaced, the device put back" {
	echo old >"$T/s.mig"
	slow_save_bg "$SRC" --json -o "$T/s.mig" --force
	mkfifo "$T/fifo"
	mv -T "$T/fifo" "$T/s.mig"
	slow_save_wait
	[ "$rc" -eq 1 ] || fail "save exited $rc: $(cat "$T/err")"
	grep -q "committing $T/s.mig: no longer the file that was checked (it was replaced meanwhile): not replaced; device restored to RUNNING" "$T/err" ||
		fail "save said: $(cat "$T/err")"
	[ -p "$T/s.mig" ] || fail "the FIFO was replaced: $(ls -l "$T/s.mig")"
	[ "$(echo "$T"/.s.mig.*)" = "$T/.s.mig.*" ] || fail "a temporary is left: $(ls -a "$T")"
	expect_msim_state "$SRC" RUNNING
}

# ---- when the abort itself fails

@test "resume: the reset that aborts RESUMING fails: said plainly, with the next step" {
	msim_set "$DST" fail_write_after 100000
	msim_set "$DST" fail_reset 5
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	run -5 --separate-stderr vfio-migctl --json resume --raw "$DST" -i "$T/raw"
	expect_error resume "the device refused the data: Input/output error; the reset failed \(Input/output error\): device left in RESUMING; retry 'vfio-migctl reset $DST', or unbind and rebind its driver$"
	jq -e '.recovery == "failed" and .final_state == "RESUMING"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_msim_state "$DST" RESUMING
	msim_set "$DST" fail_reset 0
	run -0 --separate-stderr vfio-migctl reset "$DST"
	expect_msim_state "$DST" RUNNING
}

# ---- a write that makes no progress

@test "resume: a device whose write() returns 0 is an error, not a hang" {
	msim_set "$DST" stall_write_after 4096
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	run -7 --separate-stderr timeout -k 5 60 vfio-migctl resume --raw "$DST" -i "$T/raw"
	expect_error resume "the device refused the data: Input/output error; device reset, now RUNNING"
	expect_untouched "$DST" "$DST_DIGEST" 0
}

# ---- a session a killed process left open

@test "a save killed mid-way leaves STOP_COPY: the next one says so and how out; --end-session" {
	msim_set "$SRC" reset_on_close 0
	slow_save_bg "$SRC" -o "$T/killed.mig"
	kill -KILL "$pid"
	slow_save_wait
	msim_set "$SRC" delay_us 0
	expect_msim_state "$SRC" STOP_COPY
	run -3 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	expect_error save "device is in STOP_COPY: a migration session left open by a process that is gone; end it with 'vfio-migctl state $SRC stop', or add --end-session; device unchanged \(STOP_COPY\)$"
	expect_msim_state "$SRC" STOP_COPY
	arcs_clear "$SRC"
	run -0 --separate-stderr vfio-migctl --json save --end-session "$SRC" -o "$T/s.mig"
	jq -e '.ok and .ended_session == "STOP_COPY" and .initial_state == "STOP_COPY"' \
		<<<"$output" >/dev/null || fail "json: $output"
	expect_arcs "$SRC" "STOP_COPY>STOP STOP>STOP_COPY STOP_COPY>STOP"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/s.mig"
	expect_same_state "$SRC" "$DST"
}

@test "a RESUMING left open: resume says reset is the way out; --end-session resets first" {
	msim_set "$DST" reset_on_close 0
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	vfio-migctl -q state "$DST" resuming >/dev/null
	run -3 --separate-stderr vfio-migctl resume "$DST" -i "$T/s.mig"
	expect_error resume "device is in RESUMING: .*end it with 'vfio-migctl reset $DST', or add --end-session"
	run -0 --separate-stderr vfio-migctl resume --end-session "$DST" -i "$T/s.mig"
	expect_same_state "$SRC" "$DST"
	expect_msim "$DST" reset_count 1
}

# ---- what each command does from each state a device can be found in

# found DEV STATE: put DEV in STATE and close it (reset_on_close is off, so
# a data state stays behind as an orphaned session); ERROR through a fault
found() {
	vfio-migctl -q reset "$1" >/dev/null
	if [ "$2" = ERROR ]; then
		msim_set "$1" fail_arc "RUNNING RUNNING_P2P 5 error"
		vfio-migctl -q state "$1" stop >/dev/null 2>&1 || :
		msim_set "$1" fail_arc none
	elif [ "$2" != RUNNING ]; then
		vfio-migctl -q state "$1" "$2" >/dev/null
	fi
	expect_msim_state "$1" "$2"
}

# matrix CMD... -- "STATE:STATUS:FINAL ...": from each STATE, CMD exits
# STATUS and leaves the device in FINAL; "DEV" in CMD is the device.
matrix() {
	local -a cmd=()
	local cell state want final got now sets err=""
	while [ "$1" != -- ]; do
		cmd+=("${1//DEV/$SRC}")
		shift
	done
	shift
	msim_set "$SRC" reset_on_close 0
	for cell in $1; do
		IFS=: read -r state want final <<<"$cell"
		found "$SRC" "$state"
		got=0
		"${cmd[@]}" >/dev/null 2>"$T/cell.err" </dev/null || got=$?
		read -r now <"$mdev_bus/$SRC/migsim/state"
		read -r sets <"$mdev_bus/$SRC/migsim/error_sets"
		[ "$got" = "$want" ] && [ "$now" = "$final" ] && [ "$sets" = 0 ] ||
			err+=" [from $state: status $got (want $want), now $now (want $final), $sets SETs in ERROR (want 0): $(head -n1 "$T/cell.err")]"
	done
	[ -z "$err" ] || fail "${cmd[*]}:$err"
}

@test "matrix: save from every state a device can be found in" {
	run -0 --separate-stderr vfio-migctl save "$DST" -o "$T/unused"
	matrix vfio-migctl save DEV -o "$T/m.mig" --force -- "RUNNING:0:STOP STOP:0:STOP RUNNING_P2P:0:STOP ERROR:6:ERROR STOP_COPY:3:STOP_COPY PRE_COPY:3:PRE_COPY PRE_COPY_P2P:3:PRE_COPY_P2P RESUMING:3:RESUMING"
}

@test "matrix: resume from every state a device can be found in" {
	run -0 --separate-stderr vfio-migctl save "$DST" -o "$T/dst.mig" --then=running
	# a stream of the same kind of device: migsim-full
	matrix vfio-migctl resume DEV -i "$T/dst.mig" -- "RUNNING:0:RUNNING STOP:0:RUNNING RUNNING_P2P:0:RUNNING ERROR:6:ERROR STOP_COPY:3:STOP_COPY PRE_COPY:3:PRE_COPY PRE_COPY_P2P:3:PRE_COPY_P2P RESUMING:3:RESUMING"
}

@test "matrix: state stop from every state a device can be found in" {
	matrix vfio-migctl state DEV stop -- "RUNNING:0:STOP STOP:0:STOP RUNNING_P2P:0:STOP ERROR:6:ERROR STOP_COPY:0:STOP PRE_COPY:0:STOP PRE_COPY_P2P:0:STOP RESUMING:5:RESUMING"
}

@test "matrix: reset from every state a device can be found in" {
	matrix vfio-migctl reset DEV -- "RUNNING:0:RUNNING STOP:0:RUNNING RUNNING_P2P:0:RUNNING ERROR:0:RUNNING STOP_COPY:0:RUNNING PRE_COPY:0:RUNNING PRE_COPY_P2P:0:RUNNING RESUMING:0:RUNNING"
}

@test "migsim unloads cleanly after the policy tests" {
	expect_clean_unload
}
