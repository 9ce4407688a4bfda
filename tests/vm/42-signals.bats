#!/usr/bin/env bats
# Signals while data flows, and the stream's commit point, on migsim
# devices slowed down (delay_us) so that a signal lands mid-transfer:
# SIGINT, SIGTERM and SIGHUP are acted on in every phase (a framed or raw
# save, PRE_COPY, a pipe, the verify pass and the load of resume), within a
# loose bound of seconds, with status 130, the device as it was found and
# no file; a second signal does not stop the put-back.  And a save commits
# (END, the file's link) only once the source is in its --then state.
bats_require_minimum_version 1.5.0
load helpers
load migsim

# From the signal to the exit, the device put back: the promise is 250 ms
# plus the device's own transitions; under TCG on a busy host, seconds.
# Each transfer below would run on for many seconds more if the signal
# were not acted on (before the fix it was, by chance, at the first pause
# of 100 ms between two chunks; they come every few ms here).
CANCEL_BOUND_MS=2000

setup_file() {
	migsim_load
}

teardown_file() {
	migsim_cleanup
}

setup() {
	require_migsim
	T=$BATS_TEST_TMPDIR
}

teardown() {
	mtty_teardown
	# the guest's tmpfs is small: no stream outlives its test
	rm -f "$T"/*.mig "$T"/*.raw "$T"/out
}

# A source whose reads take 2 ms per 64 KiB chunk: 128 MiB is over 4 s of
# data (about 10 s under TCG)
slow_source() { # [NAME=VALUE...]
	SRC=$(migsim_create full size=128M delay_us=2000 "$@")
	read -r SRC_DIGEST <"$mdev_bus/$SRC/migsim/digest"
}

# start_bg ARGS...: vfio-migctl ARGS in the background, SIGINT at its default as
# from a terminal (bats starts background jobs with it ignored); $pid.
# The error line goes to $T/err, a --json report to $T/report (the stream
# goes to a file: the report to stdout).
start_bg() {
	env --default-signal=INT vfio-migctl "$@" >"$T/report" 2>"$T/err" 3>&- &
	pid=$!
	bg_track "$pid"
}

# file_pos PID: the furthest offset among its open files (the stream file's;
# the others stay at 0), in $pos.  Builtins only: it is polled.
file_pos() {
	local f k v
	pos=0
	for f in /proc/"$1"/fdinfo/*; do
		read -r k v 2>/dev/null <"$f" || continue
		[ "$k" = pos: ] && [ "$v" -gt "$pos" ] && pos=$v
	done
	return 0
}

# flowing DEV STATE: the device reached STATE and its data has been
# flowing for a moment (in a slow device's first few chunks)
flowing() {
	wait_msim_state "$1" "$2"
	[ -d "/proc/$pid" ] || fail "process $pid exited early: $(cat "$T/err")"
	sleep 0.3
}

# signal_pid SIG: send it to $pid and wait; rc, ms from signal to exit, and
# how far the stream file was when it came (pos_at_signal)
signal_pid() {
	local t0 t1
	file_pos "$pid"
	pos_at_signal=$pos
	t0=$EPOCHREALTIME
	kill -"$1" "$pid"
	rc=0
	wait "$pid" || rc=$?
	t1=$EPOCHREALTIME
	elapsed_ms=$(((${t1/./} - ${t0/./}) / 1000))
}

# expect_interrupted CMD: status 130, said so in one line, and in time
expect_interrupted() {
	[ "$rc" -eq 130 ] || fail "$1 exited $rc: $(cat "$T/err")"
	grep -q "^vfio-migctl: $1: .*interrupted" "$T/err" || fail "$1 said: $(cat "$T/err")"
	[ "$elapsed_ms" -le "$CANCEL_BOUND_MS" ] ||
		fail "$1 took $elapsed_ms ms from the signal to its exit (bound $CANCEL_BOUND_MS)"
	echo "# $1: $elapsed_ms ms from the signal to the exit" >&3
}

# expect_acted_within N: by the exit, the device had moved at most N
# chunks of 64 KiB more than the stream file had when the signal came (a
# save reads at most the ring's 4 chunks ahead of what is written; resume
# writes nothing the file had not given): the signal was acted on at the
# next chunk, not at some pause or the end.  N allows for the handler's
# thread waiting for a CPU meanwhile (under TCG, 100 ms and more) while
# the others carry on.  Needs --json.
expect_acted_within() {
	local bytes
	bytes=$(jq -r .bytes "$T/report") || fail "no JSON report: $(cat "$T/report")"
	[ "$bytes" -le $((pos_at_signal + $1 * 65536)) ] ||
		fail "$bytes bytes moved by the exit, the file was at $pos_at_signal at the signal"
}

# A framed stream of a fresh device of SIZE in FILE; its digest in SAVED
saved_file() { # SIZE FILE
	local src
	src=$(migsim_create full size="$1")
	# records of 64 KiB: a slow device is written in as many steps
	vfio-migctl save -q --buffer-size=64K "$src" -o "$2" || fail "cannot save a $1 stream"
	read -r SAVED <"$mdev_bus/$src/migsim/digest"
}

# ---- save

@test "SIGINT, SIGTERM, SIGHUP mid-STOP_COPY, framed to a file: 130 at once, no file, RUNNING" {
	slow_source
	for sig in INT TERM HUP; do
		arcs_clear "$SRC"
		start_bg --json save --buffer-size=64K "$SRC" -o "$T/s.mig"
		flowing "$SRC" STOP_COPY
		signal_pid $sig
		expect_interrupted save
		expect_acted_within 64
		grep -q "device restored to RUNNING" "$T/err" || fail "save said: $(cat "$T/err")"
		[ ! -e "$T/s.mig" ] || fail "SIG$sig left $T/s.mig"
		expect_msim_state "$SRC" RUNNING
		expect_arcs "$SRC" "RUNNING>RUNNING_P2P RUNNING_P2P>STOP STOP>STOP_COPY STOP_COPY>STOP STOP>RUNNING_P2P RUNNING_P2P>RUNNING"
	done
	expect_msim "$SRC" digest "$SRC_DIGEST"
}

@test "SIGTERM mid-save with --force over an existing file: the file is left byte for byte" {
	slow_source
	head -c 100000 /dev/urandom >"$T/s.mig"
	cp "$T/s.mig" "$T/before"
	start_bg --json save --force --buffer-size=64K "$SRC" -o "$T/s.mig"
	flowing "$SRC" STOP_COPY
	signal_pid TERM
	expect_interrupted save
	expect_acted_within 64
	cmp "$T/s.mig" "$T/before" || fail "the existing file changed"
	expect_msim_state "$SRC" RUNNING
}

@test "SIGTERM to save --raw -o FILE: 130, no file, RUNNING" {
	slow_source
	start_bg --json save --raw --buffer-size=64K "$SRC" -o "$T/s.raw"
	flowing "$SRC" STOP_COPY
	signal_pid TERM
	expect_interrupted save
	expect_acted_within 64
	[ ! -e "$T/s.raw" ] || fail "an interrupted raw save left $T/s.raw"
	expect_msim_state "$SRC" RUNNING
}

@test "SIGINT in PRE_COPY: 130 at once, back to RUNNING, never stopped" {
	slow_source precopy_initial=96M
	arcs_clear "$SRC"
	start_bg --json save --precopy --buffer-size=64K "$SRC" -o "$T/s.mig"
	flowing "$SRC" PRE_COPY
	signal_pid INT
	expect_interrupted save
	expect_acted_within 64
	[ ! -e "$T/s.mig" ] || fail "an interrupted save left $T/s.mig"
	expect_arcs "$SRC" "RUNNING>PRE_COPY PRE_COPY>RUNNING"
	expect_msim "$SRC" digest "$SRC_DIGEST"
}

@test "the output fails in PRE_COPY as its last read ends: the device never stopped for it" {
	# Two 40 ms reads: migsim's header, then the 64 KiB of initial data
	# in one.  The header's write into /dev/full fails while the second
	# read is under way; when it ends nothing is left of the initial data,
	# and the save must not go on to STOP_COPY.
	SRC=$(migsim_create full size=1M precopy_initial=64K delay_us=40000)
	arcs_clear "$SRC"
	run -1 --separate-stderr vfio-migctl save --raw --precopy --buffer-size=128K "$SRC" -o /dev/full
	expect_error save "writing the stream: no space left on device; device restored to RUNNING$"
	expect_arcs "$SRC" "RUNNING>PRE_COPY PRE_COPY>RUNNING"
	expect_msim_state "$SRC" RUNNING
}

@test "SIGTERM to save in save | resume: 130, RUNNING; resume refuses the stream, the destination untouched" {
	slow_source
	DST=$(migsim_create full size=4096)
	read -r DST_DIGEST <"$mdev_bus/$DST/migsim/digest"
	mkfifo "$T/pipe"
	vfio-migctl resume "$DST" -i "$T/pipe" 2>"$T/resume.err" 3>&- &
	rpid=$!
	bg_track "$rpid"
	start_bg save --buffer-size=64K "$SRC" -o "$T/pipe"
	flowing "$DST" RESUMING
	signal_pid TERM
	expect_interrupted save
	expect_msim_state "$SRC" RUNNING
	rrc=0
	wait "$rpid" || rrc=$?
	[ "$rrc" -eq 7 ] || fail "resume exited $rrc: $(cat "$T/resume.err")"
	grep -q "end record missing; device reset, now RUNNING" "$T/resume.err" ||
		fail "resume said: $(cat "$T/resume.err")"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "signal after signal while the device is put back: the put-back completes, 130" {
	slow_source
	start_bg --json save --buffer-size=64K "$SRC" -o "$T/s.mig"
	flowing "$SRC" STOP_COPY
	file_pos "$pid"
	pos_at_signal=$pos
	t0=$EPOCHREALTIME
	kill -INT "$pid"
	# keep them coming until it has exited (a zombie takes signals too)
	for ((i = 0; i < 500; i++)); do
		read -r _ _ st _ 2>/dev/null </proc/"$pid"/stat || break
		[ "$st" != Z ] || break
		kill -TERM "$pid" 2>/dev/null && kill -HUP "$pid" 2>/dev/null &&
			kill -INT "$pid" 2>/dev/null || break
	done
	rc=0
	wait "$pid" || rc=$?
	t1=$EPOCHREALTIME
	elapsed_ms=$(((${t1/./} - ${t0/./}) / 1000))
	expect_interrupted save
	expect_acted_within 64
	grep -q "device restored to RUNNING$" "$T/err" || fail "save said: $(cat "$T/err")"
	jq -e '.recovery == "restored" and .final_state == "RUNNING"' "$T/report" \
		>/dev/null || fail "report: $(cat "$T/report")"
	expect_msim_state "$SRC" RUNNING
	[ ! -e "$T/s.mig" ] || fail "an interrupted save left $T/s.mig"
}

# ---- resume

@test "SIGINT to resume --single-pass -i FILE mid-load: 130, the destination reset and untouched" {
	saved_file 64M "$T/s.mig"
	DST=$(migsim_create full size=4096 delay_us=2000)
	read -r DST_DIGEST <"$mdev_bus/$DST/migsim/digest"
	start_bg --json resume --single-pass --buffer-size=64K "$DST" -i "$T/s.mig"
	flowing "$DST" RESUMING
	signal_pid INT
	expect_interrupted resume
	expect_acted_within 64
	grep -q "device reset, now RUNNING" "$T/err" || fail "resume said: $(cat "$T/err")"
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "SIGHUP to resume -i FILE in its verify pass: 130, the device never touched" {
	saved_file 96M "$T/s.mig"
	DST=$(migsim_create full size=4096)
	read -r DST_DIGEST <"$mdev_bus/$DST/migsim/digest"
	size=$(stat -c %s "$T/s.mig")
	arcs_clear "$DST"
	start_bg resume "$DST" -i "$T/s.mig"
	# busy-wait, builtins only: the whole pass takes about a second
	pos=0
	while [ -d "/proc/$pid" ] && [ "$pos" -lt $((8 << 20)) ]; do
		file_pos "$pid"
	done
	signal_pid HUP
	[ "$pos" -lt "$size" ] || fail "the signal came after the verify pass ($pos of $size)"
	expect_interrupted resume
	expect_arcs "$DST" ""
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim_state "$DST" RUNNING
}

# ---- the commit point is the source's final state

@test "--then fails: status 5, no END, no file (an existing one untouched), the device put back" {
	SRC=$(migsim_create full size=1M)
	read -r SRC_DIGEST <"$mdev_bus/$SRC/migsim/digest"
	msim_set "$SRC" fail_arc "STOP_COPY STOP 5"
	run -5 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	# the way back to RUNNING is the arc that fails: reset
	expect_error save "entering STOP failed: Input/output error; device reset, now RUNNING$"
	[ ! -e "$T/s.mig" ] || fail "a save whose --then failed left $T/s.mig"
	expect_msim_state "$SRC" RUNNING
	head -c 5000 /dev/urandom >"$T/s.mig"
	cp "$T/s.mig" "$T/before"
	run -5 --separate-stderr vfio-migctl save --force "$SRC" -o "$T/s.mig"
	cmp "$T/s.mig" "$T/before" || fail "the existing file changed"
	expect_msim_state "$SRC" RUNNING
	# to stdout, written as it goes: no END, whatever else went out
	rc=0
	vfio-migctl save "$SRC" 2>"$T/err" >"$T/out" || rc=$?
	[ "$rc" -eq 5 ] || fail "save to stdout exited $rc: $(cat "$T/err")"
	run -7 --separate-stderr vfio-migctl inspect "$T/out"
	[[ $stderr == *"end record missing"* ]] || fail "inspect said: $stderr"
	expect_msim "$SRC" digest "$SRC_DIGEST"
}

@test "--then fails in save | resume: the destination refuses the stream, reset and untouched" {
	migsim_pair full 1M
	msim_set "$SRC" fail_arc "STOP_COPY STOP 5"
	save_resume "$SRC" -- "$DST"
	[ "$save_status" -eq 5 ] || fail "save exited $save_status: $save_err"
	[ "$resume_status" -eq 7 ] || fail "resume exited $resume_status: $resume_err"
	[[ $resume_err == *"end record missing; device reset, now RUNNING"* ]] ||
		fail "resume said: $resume_err"
	expect_msim_state "$SRC" RUNNING
	expect_msim_state "$DST" RUNNING
	expect_untouched "$DST" "$DST_DIGEST" 0
}

@test "the commit fails after --then was reached: the device back in the state found" {
	SRC=$(migsim_create full)
	vfio-migctl -q state "$SRC" stop >/dev/null
	arcs_clear "$SRC"
	slow_save_bg "$SRC" --then running_p2p -o "$T/s.mig"
	# someone else's file appears under the name meanwhile: never replaced
	echo "theirs" >"$T/s.mig"
	slow_save_wait
	[ "$rc" -eq 1 ] || fail "save exited $rc: $(cat "$T/err")"
	grep -q "committing $T/s.mig: .*; device restored to STOP$" "$T/err" ||
		fail "save said: $(cat "$T/err")"
	[ "$(cat "$T/s.mig")" = theirs ] || fail "their file was replaced"
	# RUNNING_P2P was reached before the commit, and left for the state found
	expect_arcs "$SRC" "STOP>STOP_COPY STOP_COPY>STOP STOP>RUNNING_P2P RUNNING_P2P>STOP"
	expect_msim_state "$SRC" STOP
}

# ---- check

@test "SIGINT to check while a rule reads the whole stream: 130 at once, the device put back" {
	# 48 MiB read in check's 64 KiB chunks, 4 ms each: seconds of reading
	# in the rule; its own save and put-back move 1 MiB at a time
	SRC=$(migsim_create full size=48M delay_us=4000)
	read -r SRC_DIGEST <"$mdev_bus/$SRC/migsim/digest"
	arcs_clear "$SRC"
	start_bg check --rule data.eof-sticks "$SRC"
	# the second STOP_COPY is the rule's (the first, check's own save)
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -o 'STOP>STOP_COPY' "$mdev_bus/$SRC/migsim/arcs" | wc -l)" -lt 2 ] || break
		sleep 0.05
	done
	flowing "$SRC" STOP_COPY
	signal_pid INT
	expect_interrupted check
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
}

@test "SIGINT to check during its own save: 130 at once, the device put back, no rule run" {
	# 1 MiB read 4 KiB at a time, 10 ms each: seconds of check's own save
	# (before any rule), as long again to resume it if it were not stopped
	SRC=$(migsim_create full size=1M short_io=4096 delay_us=10000)
	read -r SRC_DIGEST <"$mdev_bus/$SRC/migsim/digest"
	arcs_clear "$SRC"
	start_bg check "$SRC"
	flowing "$SRC" STOP_COPY
	signal_pid INT
	expect_interrupted check
	# the save stopped and put the device back; nothing to resume
	expect_arcs "$SRC" "RUNNING>RUNNING_P2P RUNNING_P2P>STOP STOP>STOP_COPY STOP_COPY>STOP STOP>RUNNING_P2P RUNNING_P2P>RUNNING"
	expect_msim_state "$SRC" RUNNING
	expect_msim "$SRC" digest "$SRC_DIGEST"
	[ ! -s "$T/report" ] || fail "check reported rules and a put back: $(cat "$T/report")"
}

@test "migsim unloads cleanly after the signals" {
	expect_clean_unload
}
