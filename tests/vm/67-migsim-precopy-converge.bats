#!/usr/bin/env bats
# save --precopy as live migration (issue 24): rounds while the device
# runs and dirties its state, until what is left fits --downtime, or
# --precopy-timeout ends it; PRE_COPY re-initialization (feature 12,
# REINIT) opted in to and counted; a device without it (flags echoed, a
# re-initialisation unreported) handled all the same.  migsim's rate
# model proves, through the destination's digest and `dirtied`, that
# every byte dirtied was re-sent.
#
# migsim's reads are slowed (short_io, delay_us) so that its read rate is
# known whatever the emulator: 32 KiB per 10 ms read, about 3 MiB/s.
bats_require_minimum_version 1.5.0
load helpers
load migsim

SLOW="short_io=32768 delay_us=10000"

setup_file() {
	migsim_load
}

teardown_file() {
	migsim_cleanup
}

setup() {
	require_migsim
}

teardown() {
	mtty_teardown
}

# save_json: the JSON report of the last save_resume --json
save_json() { json_of "$save_err"; }

@test "precopy converges with a moderate dirty rate: rounds, converged, the destination's digest equal" {
	# ~20% of the read rate: the initial 2 MiB take ~0.7 s, what was
	# dirtied meanwhile (~0.35 MiB, ~0.1 s) does not fit 50 ms, the
	# second round's remainder does
	# shellcheck disable=SC2086
	migsim_pair full 2M precopy_initial=2M dirty_rate=512K $SLOW
	save_resume --json --precopy --downtime=50ms --precopy-timeout=60s "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_dirt_carried "$SRC" "$DST" 65536
	jq -e '.ok and .precopy_converged == true and .precopy_round_count >= 2
		and (.precopy_rounds | length) == .precopy_round_count
		and .precopy_rounds[0].initial_bytes > 2097152
		and .precopy_rounds[1].dirty_bytes > 0 and .precopy_rounds[1].initial_bytes == 0
		and all(.precopy_rounds[]; .bytes > 0)
		and ([.precopy_rounds[].bytes] | add) == .precopy_bytes
		and .precopy_bytes > 2097152 + 65536
		and .downtime_target_seconds == 0.05
		and .downtime_estimate_seconds >= 0 and .downtime_estimate_seconds <= 0.05
		and .precopy_reinits == 0 and .precopy_skipped == null' <<<"$(save_json)" >/dev/null ||
		fail "save json: $save_err"
}

@test "precopy that cannot converge ends at --precopy-timeout, switches over anyway and says so" {
	# dirtied faster than read: what is left never fits 10 ms
	# shellcheck disable=SC2086
	migsim_pair full 1M precopy_initial=1M dirty_rate=4M $SLOW
	save_resume --json --precopy --downtime=10ms --precopy-timeout=2s "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_dirt_carried "$SRC" "$DST" 1048576
	jq -e '.ok and .precopy_converged == false and .precopy_round_count >= 2
		and .seconds >= 2 and .downtime_estimate_seconds > 0.01
		and .downtime_target_seconds == 0.01' <<<"$(save_json)" >/dev/null ||
		fail "save json: $save_err"

	# the summary line says it, with what was left and the estimate
	vfio-migctl state "$SRC" running >/dev/null
	save_resume --precopy --downtime=10ms --precopy-timeout=1s "$SRC" -- "$DST"
	expect_migrated
	[[ $save_err =~ \;\ precopy\ rounds:\ [0-9]+,\ not\ converged\ within\ the\ precopy\ timeout:\ switched\ over\ anyway\ with\ .*\ left,\ estimated\ [0-9.]+\ s\ of\ a\ 0.010\ s\ budget ]] ||
		fail "summary: $save_err"
	expect_same_state "$SRC" "$DST"
}

@test "REINIT after the opt-in: counted, its new initial bytes sent before the switchover, digest equal" {
	# re-initialised once 256 KiB were read: S[0, 128K) is initial again
	# shellcheck disable=SC2086
	migsim_pair full 512K precopy_initial=512K dirty_rate=64K reinit_after=256K \
		reinit_bytes=128K $SLOW
	run -0 --separate-stderr vfio-migctl --json info "$SRC"
	jq -e '.precopy_reinit == true' <<<"$output" >/dev/null || fail "info: $output"
	save_resume --json --precopy --downtime=50ms "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_dirt_carried "$SRC" "$DST" 1
	# a round begins at the REINIT, with its initial bytes; all of S and
	# the 128 KiB again went in PRE_COPY
	jq -e '.precopy_reinits == 1 and .precopy_converged == true
		and any(.precopy_rounds[1:][]; .initial_bytes >= 131072)
		and .precopy_bytes >= 524288 + 131072' <<<"$(save_json)" >/dev/null ||
		fail "save json: $save_err"
}

@test "a device without feature 12 (before 7.1): no opt-in, flags ignored, a re-initialisation not counted, digest equal" {
	# shellcheck disable=SC2086
	migsim_pair full 512K precopy_initial=512K dirty_rate=64K reinit_after=256K \
		reinit_bytes=128K no_v2=1 $SLOW
	run -0 --separate-stderr vfio-migctl --json info "$SRC"
	jq -e '.precopy_reinit == false' <<<"$output" >/dev/null || fail "info: $output"
	save_resume --json --precopy --downtime=50ms "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_dirt_carried "$SRC" "$DST" 1
	jq -e '.ok and .precopy_reinits == 0 and .precopy_converged == true' \
		<<<"$(save_json)" >/dev/null || fail "save json: $save_err"
}

@test "from RUNNING_P2P: PRE_COPY_P2P rounds, never RUNNING; a stopped device skips precopy" {
	# shellcheck disable=SC2086
	migsim_pair full 1M precopy_initial=1M dirty_rate=256K $SLOW
	run -0 --separate-stderr vfio-migctl state "$SRC" running_p2p
	arcs_clear "$SRC"
	save_resume --json --precopy --downtime=50ms "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_arcs "$SRC" "RUNNING_P2P>PRE_COPY_P2P PRE_COPY_P2P>STOP_COPY STOP_COPY>STOP"
	jq -e '.precopy_converged == true and .precopy_round_count >= 1' <<<"$(save_json)" \
		>/dev/null || fail "save json: $save_err"

	arcs_clear "$SRC"
	save_resume --json --precopy "$SRC" -- "$DST"
	expect_migrated
	expect_arcs "$SRC" "STOP>STOP_COPY STOP_COPY>STOP"
	jq -e '.precopy_skipped != null and .precopy_converged == null
		and .precopy_round_count == 0 and .downtime_target_seconds == null' \
		<<<"$(save_json)" >/dev/null || fail "save json: $save_err"
}

# interrupt_precopy DEV: a save --precopy of DEV, interrupted by SIGINT
# once it has been in PRE_COPY a second: it ends promptly (130), the
# device back in RUNNING, and no file
interrupt_precopy() {
	local pid rc=0 start ms
	rm -f "$T/s.mig"
	vfio-migctl save --precopy --precopy-timeout=60s "$1" -o "$T/s.mig" 2>"$T/err" &
	pid=$!
	bg_track "$pid"
	wait_msim_state "$1" PRE_COPY
	sleep 1
	expect_msim_state "$1" PRE_COPY
	start=$(date +%s%N)
	kill -INT "$pid"
	wait "$pid" || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$rc" -eq 130 ] || fail "save exited $rc: $(cat "$T/err")"
	((ms < 1000)) || fail "took $ms ms to stop"
	expect_msim_state "$1" RUNNING
	[ ! -e "$T/s.mig" ] || fail "a file was left"
}

@test "SIGINT during precopy: prompt, the device RUNNING again, no file; reading or waiting for dirt" {
	# rounds that never converge: always something to read
	SRC=$(migsim_create full size=1M precopy_initial=1M dirty_rate=4M short_io=32768 delay_us=10000)
	interrupt_precopy "$SRC"
	# nothing pending, 64 MiB still to move (~20 s): waiting for dirt
	SRC=$(migsim_create full size=64M precopy_initial=32K short_io=32768 delay_us=10000)
	interrupt_precopy "$SRC"
}

@test "mtty: precopy unchanged, its 24 header bytes in one round, converged" {
	setup_pair
	mtty_fill "$SRC" 0x42 0x07 "precopy"
	save_resume --json --precopy "$SRC" -- "$DST"
	expect_migrated
	expect_filled "$DST" 0x42 0x07 "precopy"
	jq -e '.precopy_bytes == 24 and .precopy_round_count == 1 and .precopy_converged == true
		and .precopy_reinits == 0 and .precopy_rounds[0].bytes == 24' \
		<<<"$(save_json)" >/dev/null || fail "save json: $save_err"
}

@test "migsim unloads cleanly after the suite" {
	expect_clean_unload
}
