#!/usr/bin/env bats
# vfio-migctl check: the v2 contract as rules, on real drivers.
#
# migsim keeps every rule, and its `break` attribute (tests/vm/migsim/
# migsim.c) makes it break one rule on purpose: for each switch, check
# must give that rule its verdict (FAIL for a "must", WARN for a "should")
# and every other rule PASS, but for the rules documented to depend on it
# (man vfio-migctl, RULES).  mtty's own departures are asserted as they
# are.  After every run the device is as found: migsim's digest and
# state, mtty's scratch register and loopback FIFO.
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

# (not_passing, expect_verdicts and detail_of, on check's JSON report in
# $output, are in helpers.bash: the 6.1 tier checks too.)

# A migsim-full device (64 KiB of state, 16 KiB of it PRE_COPY's initial
# data, then two dirty rounds of 4 KiB; re-initialised once 20 KiB were
# read, in the first: precopy.reinit-dirty's REINIT), with optional
# attributes; its digest in DIGEST.
broken_device() {
	DEV=$(migsim_create full size=64K precopy_initial=16K dirty_bytes=4K dirty_rounds=2 \
		reinit_after=20K "$@")
	read -r DIGEST <"$mdev_bus/$DEV/migsim/digest"
}

# check_break RULE STATUS WANT [DETAIL]: DEV breaks RULE; `check` exits
# STATUS, WANT are the rules that do not pass (the round trip skips: no
# DEV2), and RULE's detail starts with DETAIL; DEV ends as found, its saved
# state resumed.
check_break() {
	local report
	broken_device break="$1"
	run -"$2" --separate-stderr vfio-migctl --json check "$DEV"
	# one jq for the three answers: processes are dear under TCG
	report=$(jq -r --arg id "$1" '([.rules[] | select(.verdict != "pass") | "\(.id)=\(.verdict)"] | join(" ")),
		(.rules[] | select(.id == $id) | .detail),
		(.put_back[0] | .ok and .found == "RUNNING" and .final == "RUNNING")' <<<"$output") ||
		fail "no JSON report:" "$output"
	[ "${report%%$'\n'*}" = "$3 roundtrip.equal=skip" ] ||
		fail "not passing: '${report%%$'\n'*}'" "expected:    '$3 roundtrip.equal=skip'" "$output"
	[[ ${report#*$'\n'} == "${4:-}"*$'\n'true ]] || fail "detail of $1, put back:" "$report"
	expect_msim "$DEV" digest "$DIGEST"
	expect_msim_state "$DEV" RUNNING
}

# The device is as check found it: content (digest), state, and the put
# back report says so.
expect_put_back() { # DEV DIGEST STATE
	expect_msim "$1" digest "$2"
	expect_msim_state "$1" "$3"
	jq -e --arg d "$1" --arg s "$3" '.put_back[] | select(.device == $d) |
		.ok and .found == $s and .final == $s and .saved_bytes > 0' <<<"$output" >/dev/null ||
		fail "put back of $1:" "$output"
}

@test "check on a clean migsim with DEV2: every rule passes; both put back as found (STOP, RUNNING)" {
	broken_device
	DEV2=$(migsim_create full size=32K)
	read -r DIGEST2 <"$mdev_bus/$DEV2/migsim/digest"
	vfio-migctl -q state "$DEV" stop >/dev/null
	run -0 --separate-stderr vfio-migctl check "$DEV" "$DEV2"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	# one line per rule, PASS, its id and statement, a detail; then the put
	# back of both and the summary
	local n
	n=$(vfio-migctl check --list | tail -n +2 | wc -l)
	[ "$(grep -c '^PASS  [a-z-]*\.[a-z-]* .*: .' <<<"$output")" -eq "$n" ] ||
		fail "not $n PASS lines:" "$output"
	[[ $output == *"PASS  roundtrip.equal "*"which saved the same bytes"* ]] || fail "$output"
	grep -qx "put back: $DEV: saved state (65632 bytes) resumed; STOP, as found" <<<"$output" ||
		fail "put back of DEV:" "$output"
	grep -qx "put back: $DEV2: saved state ([0-9]* bytes) resumed; RUNNING, as found" <<<"$output" ||
		fail "put back of DEV2:" "$output"
	[ "${lines[-1]}" = "summary: $n pass, 0 warn, 0 fail, 0 skip" ] || fail "$output"
	expect_msim "$DEV" digest "$DIGEST"
	expect_msim_state "$DEV" STOP
	expect_msim "$DEV2" digest "$DIGEST2"
	expect_msim_state "$DEV2" RUNNING
}

@test "check on mtty: 0 at the temporary end, reset without its flag, DMA logging that refuses nothing; both put back" {
	setup_pair
	mtty_fill "$SRC" 0x5a 0x1b "hello"
	mtty_fill "$DST" 0x66 0x03 "dst"
	run -8 --separate-stderr vfio-migctl --json check "$SRC" "$DST"
	expect_verdicts "precopy.enomsg=warn precopy.reinit-flags=skip precopy.reinit-dirty=skip reset.flag=warn dma.refused=fail"
	[[ $(detail_of precopy.enomsg) == "read() returns 0 at the temporary end (after 24 bytes), not ENOMSG"* ]] ||
		fail "precopy.enomsg: $(detail_of precopy.enomsg)"
	[[ $(detail_of reset.flag) == *"lack VFIO_DEVICE_FLAGS_RESET" ]] || fail "reset.flag: $(detail_of reset.flag)"
	[ "$(detail_of dma.refused)" = "succeeded: REPORT with logging off, a second START" ] ||
		fail "dma.refused: $(detail_of dma.refused)"
	[ "$(detail_of data-size.estimate)" = "estimate 60 bytes, STOP_COPY gave 60: ratio 1.00" ] ||
		fail "data-size.estimate: $(detail_of data-size.estimate)"
	expect_error check "1 rule failed: dma.refused$"
	jq -e '.summary == {"pass": 21, "warn": 2, "fail": 1, "skip": 2} and
		([.put_back[] | .ok and .found == "RUNNING" and .saved_bytes == 60] == [true, true])' \
		<<<"$output" >/dev/null || fail "json: $output"
	expect_filled "$SRC" 0x5a 0x1b "hello"
	expect_filled "$DST" 0x66 0x03 "dst"
	expect_state "$SRC" RUNNING
}

@test "check refuses what it cannot put back: no STOP_COPY (then --force), a state above its bound, a device in ERROR" {
	broken_device break=flags.stop-copy
	arcs_clear "$DEV"
	run -4 --separate-stderr vfio-migctl check "$DEV"
	expect_error check "cannot save its state to put it back afterwards: its migration flags have no STOP_COPY; nothing was changed \(--force checks it anyway\)$"
	[ -z "$output" ] || fail "stdout: $output"
	# --force: that rule fails, those that need STOP_COPY skip
	run -8 --separate-stderr vfio-migctl --json check --force "$DEV"
	expect_verdicts "flags.stop-copy=fail fsm.arcs=skip fsm.unsupported-einval=skip fsm.error-refused=skip fsm.blocked-arcs=skip data.new-fd=skip data.precopy-keeps-fd=skip data.old-fd-dead=skip data.eof-sticks=skip data.no-seek=skip precopy.info-states=skip precopy.initial-decreases=skip precopy.enomsg=skip precopy.reinit-flags=skip precopy.reinit-dirty=skip precopy.reinit-einval=skip data-size.estimate=skip resume.empty-refused=skip resume.truncated-refused=skip resume.own-accepted=skip reset.every-state=skip roundtrip.equal=skip"
	[ "$(detail_of flags.stop-copy)" = "flags P2P|PRE_COPY (0x6): no STOP_COPY" ] || fail "$output"
	jq -e '.put_back[0] | .ok and .saved_bytes == null and .final == "RUNNING"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_error check "1 rule failed: flags.stop-copy$"
	# only the reset of reset.flag, asked with --force, reached the device
	expect_arcs "$DEV" reset
	expect_msim "$DEV" digest "$DIGEST"

	BIG=$(migsim_create basic size=65M)
	run -4 --separate-stderr vfio-migctl check "$BIG"
	expect_error check "MIG_DATA_SIZE says 68157536 bytes, above check's bound of 64.0 MiB; nothing was changed"
	expect_arcs "$BIG" ""

	ERR=$(migsim_create basic fail_arc="STOP RUNNING 5 error")
	vfio-migctl -q state "$ERR" stop >/dev/null
	run -6 vfio-migctl -q state "$ERR" running
	arcs_clear "$ERR"
	run -6 --separate-stderr vfio-migctl check "$ERR"
	expect_error check "device is in ERROR; recover it with 'vfio-migctl reset $ERR'$"
	expect_arcs "$ERR" ""
}

@test "check --rule: a rule or a family; a device that cannot be put back is status 5, said in one line" {
	broken_device
	run -0 --separate-stderr vfio-migctl --json check --rule fsm --rule reset.flag "$DEV"
	[ "$(jq -r '[.rules[].id] | join(" ")' <<<"$output")" = \
		"fsm.arcs fsm.unsupported-einval fsm.error-refused fsm.blocked-arcs reset.flag" ] ||
		fail "rules run: $output"
	# the put back's RESUMING -> STOP fails: the abort resets the device,
	# which is RUNNING as found, but its content was not restored
	msim_set "$DEV" fail_arc "RESUMING STOP 5"
	run -5 --separate-stderr vfio-migctl check --rule reset.flag "$DEV"
	expect_error check "could not be put back: RESUMING -> STOP refused its saved state: Input/output error; found in RUNNING, it is now RUNNING \(after a reset\)$"
	[[ $output == *"put back: $DEV: FAILED; found in RUNNING, now RUNNING"* ]] || fail "$output"
}

# ---- one switch per rule: that rule, and only those that depend on it
# (flags.stop-copy is the refusal test's, above)

@test "break state.get: state.get fails, and fsm.arcs, whose GETs it is" {
	check_break state.get 8 "state.get=fail fsm.arcs=fail" \
		"after SET RUNNING_P2P: GET gave a value outside enum vfio_device_mig_state"
}

@test "break fsm.arcs: RUNNING -> RUNNING_P2P lands in STOP" {
	check_break fsm.arcs 8 "fsm.arcs=fail" \
		"RUNNING -> RUNNING_P2P succeeded, but GET says STOP"
}

@test "break fsm.unsupported-einval: a SET past the enum succeeds" {
	check_break fsm.unsupported-einval 8 "fsm.unsupported-einval=fail" \
		"SET 8 (past the enum) succeeded; GET says RUNNING"
}

@test "break fsm.error-refused: a SET to ERROR succeeds (check resets it at once)" {
	check_break fsm.error-refused 8 "fsm.error-refused=fail" \
		"SET ERROR succeeded; GET says ERROR"
}

@test "break fsm.blocked-arcs: STOP_COPY -> PRE_COPY is taken" {
	check_break fsm.blocked-arcs 8 "fsm.blocked-arcs=fail" \
		"STOP_COPY -> PRE_COPY succeeded; GET says PRE_COPY"
}

@test "break data.new-fd: RUNNING_P2P -> PRE_COPY_P2P returns no data_fd" {
	check_break data.new-fd 8 "data.new-fd=fail" \
		"RUNNING_P2P -> PRE_COPY_P2P returned no data_fd"
}

@test "break data.precopy-keeps-fd: PRE_COPY -> STOP_COPY opens a new session" {
	check_break data.precopy-keeps-fd 8 "data.precopy-keeps-fd=fail" \
		"PRE_COPY -> STOP_COPY returned a new data_fd"
}

@test "break data.old-fd-dead: a saving data_fd works on after its state" {
	check_break data.old-fd-dead 8 "data.old-fd-dead=fail" \
		"read() on the STOP_COPY data_fd still gives data after STOP_COPY -> STOP"
}

@test "break data.eof-sticks: data after the end of the stream" {
	check_break data.eof-sticks 8 "data.eof-sticks=fail" \
		"read() after the end gave 32 more bytes"
}

@test "break data.no-seek: data_fds take positions (a should: WARN)" {
	check_break data.no-seek 0 "data.no-seek=warn" \
		"lseek() works on the STOP_COPY data_fd"
}

@test "break precopy.info-states: PRECOPY_INFO works in STOP_COPY (a should: WARN)" {
	check_break precopy.info-states 0 "precopy.info-states=warn" \
		"works in STOP_COPY"
}

@test "break precopy.initial-decreases: initial_bytes does not move (a should: WARN)" {
	check_break precopy.initial-decreases 0 "precopy.initial-decreases=warn" \
		"initial_bytes stayed at 16448 after a read of"
}

@test "break precopy.enomsg: 0 at the temporary end, as mtty (a should: WARN)" {
	check_break precopy.enomsg 0 "precopy.enomsg=warn" \
		"read() returns 0 at the temporary end (after 28832 bytes)"
}

@test "break precopy.reinit-flags: after the opt-in, flags keep the caller's bits and gain bit 1" {
	check_break precopy.reinit-flags 8 "precopy.reinit-flags=fail" \
		"flags 0xfffffffe after the opt-in (0xfffffffe passed in): bits other than REINIT"
}

@test "break precopy.reinit-dirty: the REINIT report claims 4K of dirt" {
	check_break precopy.reinit-dirty 8 "precopy.reinit-dirty=fail" \
		"REINIT after 20576 bytes came with dirty_bytes 4096"
}

@test "break precopy.reinit-einval: feature 12 accepted without PRE_COPY (on migsim-p2p)" {
	DEV=$(migsim_create p2p size=64K)
	read -r DIGEST <"$mdev_bus/$DEV/migsim/digest"
	run -0 --separate-stderr vfio-migctl --json check --rule=precopy.reinit-einval "$DEV"
	[ "$(detail_of precopy.reinit-einval)" = "EINVAL without PRE_COPY" ] || fail "$output"
	msim_set "$DEV" break precopy.reinit-einval
	run -8 --separate-stderr vfio-migctl --json check "$DEV"
	# p2p has no PRE_COPY: its rules skip
	expect_verdicts "fsm.blocked-arcs=skip data.precopy-keeps-fd=skip precopy.info-states=skip precopy.initial-decreases=skip precopy.enomsg=skip precopy.reinit-flags=skip precopy.reinit-dirty=skip precopy.reinit-einval=fail roundtrip.equal=skip"
	[ "$(detail_of precopy.reinit-einval)" = "PROBE succeeds on a device without PRE_COPY: must be EINVAL" ] ||
		fail "$output"
	expect_msim "$DEV" digest "$DIGEST"
	expect_msim_state "$DEV" RUNNING
}

@test "break data-size.estimate: an eighth of the stream (WARN, with the ratio)" {
	check_break data-size.estimate 0 "data-size.estimate=warn" \
		"estimate 8204 bytes, STOP_COPY gave 65632: ratio 0.12"
}

@test "break resume.empty-refused: an empty stream accepted" {
	check_break resume.empty-refused 8 "resume.empty-refused=fail" \
		"RESUMING -> STOP accepted an empty stream"
}

@test "break resume.truncated-refused: a cut stream accepted, garbage loaded; the put back restores the digest" {
	check_break resume.truncated-refused 8 "resume.truncated-refused=fail" \
		"RESUMING -> STOP accepted the first 65631 of 65632 bytes (and 1 more)"
	# alone, so that no later rule loads the saved stream: only the put back
	# can undo the garbage
	run -8 --separate-stderr vfio-migctl --json check --rule resume.truncated-refused "$DEV"
	expect_verdicts "resume.truncated-refused=fail"
	expect_put_back "$DEV" "$DIGEST" RUNNING
}

@test "break resume.own-accepted: a driver that wants its own write() sizes" {
	check_break resume.own-accepted 8 "resume.own-accepted=fail" \
		"write() refused the device's own stream at byte 1 with EINVAL"
}

@test "break reset.every-state: a reset in STOP_COPY that does nothing" {
	check_break reset.every-state 8 "reset.every-state=fail" \
		"VFIO_DEVICE_RESET in STOP_COPY left the device in STOP_COPY"
}

@test "break reset.flag: reset works, the flag is not set, as mtty (WARN)" {
	check_break reset.flag 0 "reset.flag=warn"
}

@test "break dma.start-report-stop: REPORT fails" {
	check_break dma.start-report-stop 8 "dma.start-report-stop=fail" \
		"REPORT on [0, 1 MiB) fails with EIO"
}

@test "break dma.refused: a second START and a REPORT with logging off succeed, as mtty" {
	check_break dma.refused 8 "dma.refused=fail" \
		"succeeded: REPORT with logging off, a second START"
}

@test "break roundtrip.equal (on DEV2): an equivalent stream with other bytes (WARN, where they differ)" {
	broken_device
	DEV2=$(migsim_create full size=32K break=roundtrip.equal)
	read -r DIGEST2 <"$mdev_bus/$DEV2/migsim/digest"
	run -0 --separate-stderr vfio-migctl --json check "$DEV" "$DEV2"
	expect_verdicts "roundtrip.equal=warn"
	[ "$(detail_of roundtrip.equal)" = "DEV2 saved 65664 bytes, DEV's stream has 65632: they differ from byte 49 on" ] ||
		fail "$(detail_of roundtrip.equal)"
	expect_put_back "$DEV" "$DIGEST" RUNNING
	expect_put_back "$DEV2" "$DIGEST2" RUNNING
}

# ---- a device that goes into ERROR during a rule

# check_into_error ARC FAILS [OPTION...]: DEV goes into ERROR on ARC
# (migsim's fail_arc "ARC 5 error") whenever a rule takes it.  Nothing but
# a reset is asked of it there: no SET reached it in ERROR (migsim's
# error_sets, the witness that does not depend on the kernel's WARN), and
# the kernel did not warn.  FAILS are the rules that fail, each naming the
# SET that left the device in ERROR and stopping there; check exits 8 (a
# rule failed, the device was put back); DEV ends RUNNING, as found, its
# content unchanged, by a reset.
check_into_error() {
	local arc=$1 fails=$2 resets start log report
	shift 2
	broken_device fail_arc="$arc 5 error"
	read -r resets <"$mdev_bus/$DEV/migsim/reset_count"
	start=$(dmesg | wc -l)
	run --separate-stderr vfio-migctl --json check "$@" "$DEV"
	expect_msim "$DEV" error_sets 0
	log=$(dmesg | tail -n +"$((start + 1))")
	if grep -E 'WARNING|BUG|Call Trace' <<<"$log"; then
		fail "the kernel warned during check:" "$log"
	fi
	[ "$status" -eq 8 ] || fail "check exited $status, not 8:" "$stderr" "$output"
	report=$(jq -r '([.rules[] | select(.verdict == "fail") | .id] | join(" ")),
		([.rules[] | select(.verdict == "fail") | .detail |
			test("^[A-Z_2]+ -> [A-Z_2]+ failed with EIO and left the device in ERROR; the rule stopped there$")] | all),
		(.put_back[0] | .ok and .found == "RUNNING" and .final == "RUNNING")' <<<"$output") ||
		fail "no JSON report:" "$output"
	[ "$report" = "$fails"$'\n'true$'\n'true ] ||
		fail "failing rules, their details in ERROR's words, put back:" "$report" "expected: $fails" "$output"
	expect_error check "$(wc -w <<<"$fails") rules failed: ${fails// /, }$"
	expect_msim_state "$DEV" RUNNING
	expect_msim "$DEV" digest "$DIGEST"
	[ "$(msim "$DEV" reset_count)" -gt "$resets" ] || fail "the device was not reset"
}

@test "ERROR in a rule (PRE_COPY -> PRE_COPY_P2P): no SET in ERROR, the rule FAILs there, a reset between rules" {
	check_into_error "PRE_COPY PRE_COPY_P2P" "state.get fsm.arcs data.precopy-keeps-fd precopy.info-states"
	expect_verdicts "state.get=fail fsm.arcs=fail data.precopy-keeps-fd=fail precopy.info-states=fail roundtrip.equal=skip"
	[ "$(detail_of precopy.info-states)" = "PRE_COPY -> PRE_COPY_P2P failed with EIO and left the device in ERROR; the rule stopped there" ] ||
		fail "precopy.info-states: $(detail_of precopy.info-states)"
}

@test "ERROR in a rule (STOP_COPY -> STOP, --force: the save's own last arc): check's way round by STOP stops there" {
	# the save fails (the engine resets the device): --force checks it anyway
	check_into_error "STOP_COPY STOP" "state.get fsm.arcs" --force
	# state.get's way from STOP_COPY to PRE_COPY, round by STOP
	[ "$(detail_of state.get)" = "STOP_COPY -> STOP failed with EIO and left the device in ERROR; the rule stopped there" ] ||
		fail "state.get: $(detail_of state.get)"
	# fsm.blocked-arcs leaves STOP_COPY, which the move back cannot: the
	# rules after it skip, and the put back resets the device
	[ "$(detail_of reset.flag)" = "the device could not be brought back to RUNNING (EIO; GET says ERROR) after an earlier rule" ] ||
		fail "reset.flag: $(detail_of reset.flag)"
	jq -e '.put_back[0].reset' <<<"$output" >/dev/null || fail "put back without a reset: $output"
}

@test "ERROR in a rule (RUNNING_P2P -> STOP, --force): every rule that moves through it FAILs there, none asks more" {
	check_into_error "RUNNING_P2P STOP" "state.get fsm.arcs fsm.blocked-arcs data.new-fd data.old-fd-dead data.eof-sticks data.no-seek data-size.estimate resume.empty-refused reset.every-state" --force
}

@test "migsim: the module unloads cleanly" {
	expect_clean_unload
}
