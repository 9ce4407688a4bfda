#!/usr/bin/env bats
# Device sets: save, resume and state over several devices as one unit.
# migsim's arcs_seq numbers every device's arcs with one module-wide
# counter, so the merged logs show the RUNNING_P2P barrier: every member
# there before any leaves it for STOP or STOP_COPY, and on the way back
# every member there before any runs.  A failure of one member puts every
# member back, and no stream is committed.
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
	require_migsim
}

teardown() {
	mtty_teardown
}

@test "a set of 3 saved and resumed into 3 others: every digest in order; the barrier both ways; JSON devices" {
	make_set full 1M 256K 64K
	SRC=("${SET[@]}")
	make_set full 4K 4K 4K
	DST=("${SET[@]}")
	src_digests=$(digests_of "${SRC[@]}")
	seq_clear "${SRC[@]}" "${DST[@]}"

	run -0 --separate-stderr vfio-migctl --json save "${SRC[@]}" -o "$BATS_TEST_TMPDIR/set.mig"
	jq -e --arg a "${SRC[0]}" --arg c "${SRC[2]}" '.ok and (.devices | length) == 3 and
		.devices[0].device == $a and .devices[2].device == $c and
		([.devices[].final_state] | unique) == ["STOP"] and .bytes > 1300000 and
		([.devices[].stopped_seconds] | min) > 0 and .stopped_seconds > 0' \
		<<<"$output" >/dev/null || fail "save json: $output"
	[ "$(states_of "${SRC[@]}")" = "STOP STOP STOP " ] || fail "sources: $(states_of "${SRC[@]}")"
	expect_barrier 'RUNNING>RUNNING_P2P' 'RUNNING_P2P>STOP|RUNNING_P2P>STOP_COPY|STOP>STOP_COPY' \
		"${SRC[@]}"

	run -0 --separate-stderr vfio-migctl resume "${DST[@]}" -i "$BATS_TEST_TMPDIR/set.mig"
	[ "$(digests_of "${DST[@]}")" = "$src_digests" ] || fail "destinations differ"
	[ "$(states_of "${DST[@]}")" = "RUNNING RUNNING RUNNING " ] || fail "$(states_of "${DST[@]}")"
	expect_barrier 'STOP>RUNNING_P2P' 'RUNNING_P2P>RUNNING' "${DST[@]}"
	# Text: one line per member, then the set's
	[[ $output =~ ${DST[0]}:\ resumed\ [0-9]+\ bytes.*now\ RUNNING && $output == *"set of 3: resumed"* ]] ||
		fail "text: $output"
}

@test "save | resume of a set through a pipe, --precopy: PRE_COPY_P2P for every member before any STOP_COPY" {
	make_set full 512K 512K
	SRC=("${SET[@]}")
	for d in "${SRC[@]}"; do msim_set "$d" precopy_initial 65536; done
	make_set full 4K 4K
	DST=("${SET[@]}")
	src_digests=$(digests_of "${SRC[@]}")
	seq_clear "${SRC[@]}"
	run -0 --separate-stderr bash -c "vfio-migctl save --precopy --then=running ${SRC[*]} |
		vfio-migctl resume ${DST[*]}"
	[ "$(digests_of "${DST[@]}")" = "$src_digests" ] || fail "destinations differ"
	expect_barrier 'PRE_COPY>PRE_COPY_P2P' 'PRE_COPY_P2P>STOP_COPY' "${SRC[@]}"
	# --then=running: back through RUNNING_P2P, all before any runs
	expect_barrier 'STOP>RUNNING_P2P' 'RUNNING_P2P>RUNNING' "${SRC[@]}"
	[ "$(states_of "${SRC[@]}")" = "RUNNING RUNNING " ] || fail "$(states_of "${SRC[@]}")"
}

@test "a member without P2P: refused before any device is touched (4), naming it; --no-barrier waives it" {
	make_set full 64K
	A=${SET[0]}
	B=$(migsim_create precopy size=64K)
	seq_clear "$A" "$B"
	run -4 --separate-stderr vfio-migctl save "$A" "$B" -o "$BATS_TEST_TMPDIR/x.mig"
	expect_error "save: $B" 'RUNNING_P2P'
	expect_no_arcs "$A" "$B"
	[ ! -e "$BATS_TEST_TMPDIR/x.mig" ] || fail "a file was left"
	run -4 --separate-stderr vfio-migctl state "$A" "$B" stop
	expect_no_arcs "$A" "$B"
	run -0 --separate-stderr vfio-migctl save --no-barrier "$A" "$B" -o "$BATS_TEST_TMPDIR/x.mig"
	[ "$(states_of "$A" "$B")" = "STOP STOP " ] || fail "$(states_of "$A" "$B")"
}

@test "a fault in one member, in each phase: every member put back, no file, each member's state reported" {
	make_set full 256K 256K 256K
	SRC=("${SET[@]}")
	out=$BATS_TEST_TMPDIR/f.mig
	for fault in "fail_read_after=100000" "fail_arc=STOP STOP_COPY 5" \
		"fail_arc=RUNNING RUNNING_P2P 5" "fail_arc=STOP_COPY STOP 5 error"; do
		msim_set "${SRC[1]}" "${fault%%=*}" "${fault#*=}"
		run --separate-stderr vfio-migctl --json save "${SRC[@]}" -o "$out"
		[ "$status" -ne 0 ] || fail "$fault: the save succeeded"
		[ ! -e "$out" ] || fail "$fault: a file was left"
		[ "$(states_of "${SRC[@]}")" = "RUNNING RUNNING RUNNING " ] ||
			fail "$fault: $(states_of "${SRC[@]}")"
		jq -e --arg b "${SRC[1]}" '(.ok | not) and (.devices | length) == 3 and
			([.devices[].final_state] | unique) == ["RUNNING"] and
			([.devices[] | select(.failed_at != "peer") | .device]) == [$b]' \
			<<<"$output" >/dev/null || fail "$fault: $output"
		expect_msim "${SRC[1]}" error_sets 0
		msim_set "${SRC[1]}" fail_read_after -1
		msim_set "${SRC[1]}" fail_arc none
	done
}

@test "a resume that fails in one member: none left RESUMING, none half-loaded; a count mismatch is refused untouched (7)" {
	make_set full 128K 128K
	SRC=("${SET[@]}")
	run -0 --separate-stderr vfio-migctl save "${SRC[@]}" -o "$BATS_TEST_TMPDIR/two.mig"
	make_set full 4K 4K 4K
	DST=("${SET[@]}")
	dst_digests=$(digests_of "${DST[@]}")
	seq_clear "${DST[@]}"
	# Three devices named for a stream of two, and one for a set stream
	run -7 --separate-stderr vfio-migctl resume "${DST[@]}" -i "$BATS_TEST_TMPDIR/two.mig"
	expect_error resume 'holds 2 devices, 3 named'
	run -7 --separate-stderr vfio-migctl resume "${DST[0]}" -i "$BATS_TEST_TMPDIR/two.mig"
	expect_no_arcs "${DST[@]}"
	[ "$(digests_of "${DST[@]}")" = "$dst_digests" ] || fail "a destination changed"

	# A fault in the second, in each phase of a resume: both reset, none
	# left RESUMING, none keeps a half; with --then=running the loaded
	# states are kept only where the driver accepted them
	for fault in "fail_write_after=50000" "stall_write_after=50000" \
		"fail_arc=RESUMING STOP 5" "fail_arc=STOP RUNNING_P2P 5 error"; do
		msim_set "${DST[1]}" "${fault%%=*}" "${fault#*=}"
		run --separate-stderr vfio-migctl --json resume "${DST[0]}" "${DST[1]}" \
			-i "$BATS_TEST_TMPDIR/two.mig"
		[ "$status" -ne 0 ] || fail "$fault: the resume succeeded"
		states=$(states_of "${DST[0]}" "${DST[1]}")
		[[ $states != *RESUMING* ]] || fail "$fault: left RESUMING: $states"
		jq -e --arg b "${DST[1]}" '(.ok | not) and
			([.devices[] | select(.failed_at != "peer") | .device]) == [$b]' \
			<<<"$output" >/dev/null || fail "$fault: $output"
		# the second never keeps what it refused or was refused
		[ "$(msim "${DST[1]}" digest)" != "$(msim "${SRC[1]}" digest)" ] ||
			[[ $fault == *"STOP RUNNING_P2P"* ]] || fail "$fault: the second holds the state"
		expect_msim "${DST[1]}" error_sets 0
		msim_set "${DST[1]}" fail_write_after -1
		msim_set "${DST[1]}" stall_write_after -1
		msim_set "${DST[1]}" fail_arc none
		vfio-migctl -q reset "${DST[0]}" >/dev/null
		vfio-migctl -q reset "${DST[1]}" >/dev/null
	done
}

@test "a member of another type: refused (7) naming it, nothing touched; --force loads it and says so once" {
	make_set full 64K 64K
	SRC=("${SET[@]}")
	run -0 --separate-stderr vfio-migctl save "${SRC[@]}" -o "$BATS_TEST_TMPDIR/two.mig"
	A=$(migsim_create full size=4K)
	B=$(migsim_create p2p size=4K)
	seq_clear "$A" "$B"
	run -7 --separate-stderr vfio-migctl resume "$A" "$B" -i "$BATS_TEST_TMPDIR/two.mig"
	expect_error "resume: $B" 'member 1 of the stream'
	expect_no_arcs "$A" "$B"
	run -0 --separate-stderr vfio-migctl --json resume --force "$A" "$B" -i "$BATS_TEST_TMPDIR/two.mig"
	jq -e '.ok and (.note | test("accepted with --force")) and ([.devices[].note] | unique) == [null]' \
		<<<"$output" >/dev/null || fail "$output"
	[ "$(digests_of "$A" "$B")" = "$(digests_of "${SRC[@]}")" ] || fail "not loaded"
}

@test "mtty: a set of two carries each one's registers in order, through the barrier" {
	SRC=("$(mtty_create)" "$(mtty_create)")
	DST=("$(mtty_create)" "$(mtty_create)")
	mtty_fill "${SRC[0]}" 0x5a 0x03 "first"
	mtty_fill "${SRC[1]}" 0x11 0x02 "second"
	run -0 --separate-stderr bash -c "vfio-migctl save ${SRC[*]} | vfio-migctl resume ${DST[*]}"
	expect_filled "${DST[0]}" 0x5a 0x03 "first"
	expect_filled "${DST[1]}" 0x11 0x02 "second"
	expect_state "${DST[0]}" RUNNING
	expect_state "${DST[1]}" RUNNING
}

@test "state DEV DEV NEW moves a set through RUNNING_P2P; a failed SET puts every member back" {
	make_set full 4K 4K 4K
	seq_clear "${SET[@]}"
	run -0 --separate-stderr vfio-migctl --json state "${SET[@]}" stop
	jq -e '(.devices | length) == 3 and ([.devices[].state] | unique) == ["STOP"]' \
		<<<"$output" >/dev/null || fail "$output"
	expect_barrier 'RUNNING>RUNNING_P2P' 'RUNNING_P2P>STOP' "${SET[@]}"
	seq_clear "${SET[@]}"
	run -0 --separate-stderr vfio-migctl state "${SET[@]}" running
	expect_barrier 'STOP>RUNNING_P2P' 'RUNNING_P2P>RUNNING' "${SET[@]}"

	msim_set "${SET[2]}" fail_arc "RUNNING_P2P STOP 5"
	run -5 --separate-stderr vfio-migctl state "${SET[@]}" stop
	expect_error "state: ${SET[2]}" 'RUNNING -> STOP failed'
	[ "$(states_of "${SET[@]}")" = "RUNNING RUNNING RUNNING " ] || fail "$(states_of "${SET[@]}")"
}

@test "SIGINT while a set's data flows: 130, every member back in RUNNING, no file" {
	make_set full 4M 4M
	for d in "${SET[@]}"; do
		msim_set "$d" short_io 65536
		msim_set "$d" delay_us 50000
	done
	out=$BATS_TEST_TMPDIR/int.mig
	vfio-migctl save "${SET[@]}" -o "$out" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	wait_msim_state "${SET[0]}" STOP_COPY
	sleep 0.3
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat "$BATS_TEST_TMPDIR/err")"
	[ ! -e "$out" ] || fail "a file was left"
	[ "$(states_of "${SET[@]}")" = "RUNNING RUNNING " ] || fail "$(states_of "${SET[@]}")"
}

@test "migsim unloads cleanly after the sets" {
	expect_clean_unload
}
