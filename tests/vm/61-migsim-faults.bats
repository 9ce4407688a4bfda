#!/usr/bin/env bats
# Device faults mtty cannot produce, injected with migsim: a failing arc
# (with and without ERROR), EIO part-way through the data, short reads and
# writes, a slow device, a stream the driver refuses at RESUMING -> STOP.
# For each: vfio-migctl's documented exit status and one-line error, the
# device in the state reported, a source back in its pre-save state, a
# destination that took nothing (same digest, no stream accepted), and no
# output file that looks complete.
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
	migsim_pair full 1M
}

teardown() {
	mtty_teardown
}

@test "arc fault in save: status 5, the source back in RUNNING, STOP or RUNNING_P2P; no file" {
	msim_set "$SRC" fail_arc "STOP STOP_COPY 5"
	expect_msim "$SRC" fail_arc "STOP STOP_COPY 5"
	for before in RUNNING STOP RUNNING_P2P; do
		vfio-migctl -q state "$SRC" "$before" >/dev/null
		run -5 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
		expect_error save "entering STOP_COPY failed: Input/output error; device restored to $before$"
		[ ! -e "$T/s.mig" ] || fail "a failed save left $T/s.mig"
		expect_msim_state "$SRC" "$before"
	done
	expect_msim "$SRC" digest "$SRC_DIGEST"
	expect_msim "$SRC" reset_count 0
	msim_set "$SRC" fail_arc none
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
}

@test "arc fault ending in ERROR during save: restore fails, reset; status 5, RUNNING" {
	msim_set "$SRC" fail_arc "stop stop-copy 71 error"
	expect_msim "$SRC" fail_arc "STOP STOP_COPY 71 error"
	run -5 --separate-stderr vfio-migctl --json save "$SRC" -o "$T/s.mig"
	expect_error save "Protocol error; device reset, now RUNNING"
	jq -e '.ok == false and .recovery == "reset" and .initial_state == "RUNNING"
		and .final_state == "RUNNING"' <<<"$output" >/dev/null || fail "json: $output"
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" reset_count 1
	expect_msim "$SRC" digest "$SRC_DIGEST"
	# the arc that failed is named, not the recovery's attempt after it
	expect_error save "entering STOP_COPY failed: Protocol error; device reset, now RUNNING"
}

@test "ERROR: status 6 with the remedy from state, save and info, until reset" {
	msim_set "$SRC" fail_arc "STOP_COPY STOP 5 error"
	run -0 --separate-stderr vfio-migctl state "$SRC" stop_copy
	run -6 --separate-stderr vfio-migctl state "$SRC" stop
	# (its message is checked last, so that the rest is seen even if it fails)
	local into_error=$stderr
	expect_msim_state "$SRC" ERROR
	run -6 --separate-stderr vfio-migctl state "$SRC"
	[ "$output" = ERROR ] || fail "state says $output"
	expect_error state "device is in ERROR; recover it with 'vfio-migctl reset $SRC'$"
	run -0 --separate-stderr vfio-migctl info "$SRC"
	grep -qxF "note: device is in ERROR; recover it with 'vfio-migctl reset $SRC'" \
		<<<"$(sed 's/:  */: /' <<<"$output")" || fail "info: $output"
	run -6 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	expect_error save "ERROR.*vfio-migctl reset"
	# the remedy once, not twice
	[ "$(grep -o "vfio-migctl reset" <<<"$stderr" | wc -l)" -eq 1 ] || fail "remedy twice: $stderr"
	[ ! -e "$T/s.mig" ] || fail "save of an ERROR device wrote a file"
	run -6 --separate-stderr vfio-migctl state "$SRC" running
	expect_error state "ERROR.*vfio-migctl reset"
	expect_msim "$SRC" reset_count 0 # nothing above may have reset it
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "ERROR -> RUNNING" ] || fail "reset said: $output"
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
	msim_set "$SRC" fail_arc none
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	[[ $into_error == "vfio-migctl: state: $SRC: STOP_COPY -> STOP failed: "*ERROR*"vfio-migctl reset"* ]] ||
		fail "the failed arc into ERROR gave no remedy: $into_error"
}

@test "save --on-error=leave into an ERROR arc: status 6, left in ERROR, reported" {
	msim_set "$SRC" fail_arc "STOP STOP_COPY 5 error"
	run -6 --separate-stderr vfio-migctl --json save --on-error=leave "$SRC" -o "$T/s.mig"
	expect_error save "entering STOP_COPY failed: Input/output error; device left in ERROR"
	jq -e '.recovery == "left" and .final_state == "ERROR"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_msim_state "$SRC" ERROR
	local left=$stderr
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	expect_msim_state "$SRC" RUNNING
	[[ $left == *"vfio-migctl reset"* ]] || fail "no remedy for ERROR: $left"
}

@test "arc fault entering RESUMING: status 5, destination reset and untouched" {
	msim_set "$DST" fail_arc "STOP RESUMING 16"
	save_resume "$SRC" -- --json "$DST"
	[ "$save_status" -eq 0 ] || fail "save: $save_err"
	[ "$resume_status" -eq 5 ] || fail "resume exited $resume_status: $resume_err"
	[[ $resume_err == "vfio-migctl: resume: $DST: entering RESUMING failed: "* ]] ||
		fail "resume said: $resume_err"
	jq -e '.recovery == "reset" and .final_state == "RUNNING"' <<<"$(json_of "$resume_out")" \
		>/dev/null || fail "json: $resume_out"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "the driver refuses the stream at RESUMING -> STOP (arc fault): status 7, untouched" {
	msim_set "$DST" fail_arc "RESUMING STOP 22"
	save_resume "$SRC" -- "$DST"
	[ "$save_status" -eq 0 ] || fail "save: $save_err"
	[ "$resume_status" -eq 7 ] || fail "resume exited $resume_status: $resume_err"
	[[ $resume_err == *"refused the stream (RESUMING -> STOP)"*"device reset, now RUNNING" ]] ||
		fail "resume said: $resume_err"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim "$DST" reset_count 1
}

@test "EIO part-way through the save: status 1, source restored; the cut stream is 7 downstream" {
	msim_set "$SRC" fail_read_after 300000
	save_resume "$SRC" -- "$DST"
	[ "$save_status" -eq 1 ] || fail "save exited $save_status: $save_err"
	[[ $save_err == "vfio-migctl: save: $SRC: reading the device's data: Input/output error; device restored to RUNNING" ]] ||
		fail "save said: $save_err"
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
	# the framed stream had no end: the driver was never asked to load it
	[ "$resume_status" -eq 7 ] || fail "resume exited $resume_status: $resume_err"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim "$DST" load_errors 0
	# no file either
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	[ ! -e "$T/s.mig" ] || fail "a failed save left $T/s.mig"
}

@test "EIO in PRE_COPY and a refused PRE_COPY arc: the source back in RUNNING" {
	msim_set "$SRC" precopy_initial 512K
	msim_set "$SRC" fail_read_after 100000
	run -1 --separate-stderr vfio-migctl save --precopy "$SRC" -o "$T/s.mig"
	expect_error save "Input/output error; device restored to RUNNING"
	expect_msim_state "$SRC" RUNNING
	msim_set "$SRC" fail_read_after -1
	msim_set "$SRC" fail_arc "PRE_COPY_P2P STOP_COPY 5"
	run -5 --separate-stderr vfio-migctl save --precopy "$SRC" -o "$T/s.mig"
	expect_error save "entering STOP_COPY failed.*restored to RUNNING"
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
	[ ! -e "$T/s.mig" ] || fail "a failed save left $T/s.mig"
}

@test "EIO part-way through the resume: status 7, destination reset and untouched" {
	msim_set "$DST" fail_write_after 200000
	save_resume --raw "$SRC" -- --raw "$DST"
	[ "$save_status" -eq 0 ] || [ "$save_status" -eq 1 ] || fail "save: $save_err"
	[ "$resume_status" -eq 7 ] || fail "resume exited $resume_status: $resume_err"
	[[ $resume_err == *"the device refused the data: Input/output error; device reset, now RUNNING" ]] ||
		fail "resume said: $resume_err"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim "$DST" reset_count 1
}

@test "a stream cut short or with a flipped byte: the driver refuses it at RESUMING -> STOP (--raw)" {
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	size=$(stat -c %s "$T/raw")
	head -c $((size - 1000)) "$T/raw" >"$T/cut"
	file_flip "$T/raw" 500000 "$T/flip"
	cmp -s "$T/raw" "$T/flip" && fail "no byte flipped"
	errors=0
	for bad in cut flip; do
		run -7 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/$bad"
		expect_error resume "refused the stream \(RESUMING -> STOP\).*device reset, now RUNNING"
		expect_untouched "$DST" "$DST_DIGEST" 0
		expect_msim "$DST" load_errors $((errors += 1))
	done
	run -0 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/raw"
	expect_same_state "$SRC" "$DST"
}

@test "short reads and writes (7 and 1021 bytes a call): the state arrives whole" {
	msim_set "$SRC" size 64K
	msim_set "$SRC" short_io 7
	msim_set "$DST" short_io 1021
	for fmt in --raw ""; do
		vfio-migctl -q state "$SRC" running
		save_resume $fmt "$SRC" -- $fmt "$DST"
		expect_migrated
		expect_same_state "$SRC" "$DST"
	done
	expect_msim "$DST" load_count 2
}

@test "a slow device: save | resume waits for it and completes" {
	msim_set "$SRC" delay_us 20000
	msim_set "$DST" delay_us 20000
	save_resume --json --buffer-size=64K "$SRC" -- --json --buffer-size=64K "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	# 16+ reads of 64 KiB, 20 ms each
	jq -e '.seconds >= 0.32 and .stopped_seconds >= 0.32' <<<"$(json_of "$save_err")" \
		>/dev/null || fail "save json: $save_err"
}

@test "the JSON summary says which side was slower: the device's I/O or the stream's" {
	# 16 reads of 64 KiB, 20 ms each: the stream waited for them, the device never
	msim_set "$SRC" delay_us 20000
	run -0 --separate-stderr vfio-migctl --json save --buffer-size=64K "$SRC" -o "$T/s.mig"
	jq -e '.stream_waited_seconds >= 0.25 and .device_waited_seconds < 0.1' <<<"$output" \
		>/dev/null || fail "slow device: $output"
	# 1 MiB into a pipe drained at 512 KiB/s: the device's reads waited for it
	msim_set "$SRC" delay_us 0
	vfio-migctl --json save --buffer-size=64K "$SRC" 2>"$T/json" |
		migsim-ref throttle 512K >/dev/null
	jq -e '.device_waited_seconds >= 1 and .stream_waited_seconds < 0.5' "$T/json" \
		>/dev/null || fail "slow pipe: $(cat "$T/json")"
}

@test "SIGINT while a slow device is read: status 130, the source back in RUNNING" {
	slow_save_bg "$SRC" -o "$T/s.mig"
	# the content cannot change under an open session
	! echo 5M 2>/dev/null >"$mdev_bus/$SRC/migsim/size" || fail "size changed mid-save"
	kill -INT "$pid"
	slow_save_wait
	[ "$rc" -eq 130 ] || fail "save exited $rc: $(cat "$T/err")"
	grep -q "interrupted.*device restored to RUNNING" "$T/err" || fail "save said: $(cat "$T/err")"
	expect_msim_state "$SRC" RUNNING
	[ ! -e "$T/s.mig" ] || fail "an interrupted save left $T/s.mig"
}

@test "SIGINT while a slow device is written: status 130, destination reset and untouched" {
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	msim_set "$DST" delay_us 200000
	vfio-migctl resume --buffer-size=64K "$DST" -i "$T/s.mig" 2>"$T/err" &
	pid=$!
	bg_track "$pid"
	wait_msim_state "$DST" RESUMING
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ] || fail "resume exited $rc: $(cat "$T/err")"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "a client killed mid-save: the module held meanwhile, everything released after" {
	for roc in 0 1; do
		msim_set "$SRC" reset_on_close $roc
		msim_set "$SRC" delay_us 200000
		migsim-ref -b 64K save "$SRC" >/dev/null 2>&1 &
		pid=$!
		bg_track "$pid"
		wait_msim_state "$SRC" STOP_COPY
		[ "$(cat /sys/module/migsim/refcnt)" -gt 0 ] || fail "an open device does not hold migsim"
		run ! rmmod migsim
		[ -d /sys/module/migsim ] || fail "migsim unloaded under an open data_fd"
		kill -KILL "$pid"
		wait "$pid" || :
		[ "$(cat /sys/module/migsim/refcnt)" = 0 ] || fail "refs left after the client died"
		if [ $roc = 1 ]; then
			expect_msim_state "$SRC" RUNNING
		else
			# like mtty: the state outlives the client, reset clears it
			expect_msim_state "$SRC" STOP_COPY
			run -0 --separate-stderr vfio-migctl reset "$SRC"
			[ "$output" = "STOP_COPY -> RUNNING" ] || fail "reset said $output"
		fi
	done
	msim_set "$SRC" delay_us 0
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
}

# ---- faults that land while a buffer is in flight in another stage

@test "a device read fails while the output is blocked on a full pipe: stopped at once, restored" {
	# within the ring's reach (4 buffers of 16 KiB), while the first waits
	msim_set "$SRC" fail_read_after 40000
	full_fifo "$T/fifo"
	# raw: the first write is the stream thread's, into the full pipe
	run -1 --separate-stderr timeout -k 5 60 vfio-migctl save --raw --buffer-size=16K "$SRC" -o "$T/fifo"
	expect_error save "reading the device's data: Input/output error; device restored to RUNNING$"
	exec 7<&-
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
}

@test "a device write fails while the input waits on a pipe that never ends: stopped at once, reset" {
	run -0 --separate-stderr vfio-migctl save --raw "$SRC" -o "$T/raw"
	msim_set "$DST" fail_write_after 1000
	mkfifo "$T/in"
	exec 8<>"$T/in" # a writer that stays
	# a chunk and a bit: the stream thread waits in read() for the rest
	head -c 20000 "$T/raw" >&8
	run -7 --separate-stderr timeout -k 5 60 vfio-migctl resume --raw --buffer-size=16K "$DST" -i "$T/in"
	exec 8>&-
	expect_error resume "the device refused the data: Input/output error; device reset, now RUNNING$"
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "a corrupt record met while the device still writes the one before: nothing of it loaded" {
	run -0 --separate-stderr vfio-migctl save --buffer-size=64K "$SRC" -o "$T/s.mig"
	# a byte of the third data record (each is 24 + 65536 bytes; the header
	# record and the preamble come first, under 200 bytes), inverted
	file_flip "$T/s.mig" $((200 + 2 * 65560 + 1000)) "$T/bad.mig"
	msim_set "$DST" delay_us 100000
	arcs_clear "$DST"
	# from a pipe: checked record by record, while the device is written
	run -7 --separate-stderr vfio-migctl resume --buffer-size=64K "$DST" < <(cat "$T/bad.mig")
	expect_error resume "record 3 at byte [0-9]+: checksum mismatch; device reset, now RUNNING$"
	expect_arcs "$DST" "RUNNING>RUNNING_P2P RUNNING_P2P>STOP STOP>RESUMING reset"
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "migsim unloads cleanly after the faults" {
	expect_clean_unload
}
