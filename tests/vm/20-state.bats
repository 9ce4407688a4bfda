#!/usr/bin/env bats
# state and reset against mtty, which offers every state (flags 0x7).
#
# mtty keeps its migration state across close/open, so a state set by one
# vfio-migctl is what the next one finds.  One kernel hazard shapes these
# tests: mtty drops its data files on close, and RESUMING -> STOP in a later
# open dereferences the dropped resuming file (a NULL pointer oops in
# mtty_load_state).  A RESUMING left by `state` is therefore always left
# by `reset`, the uAPI's abort for RESUMING.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

# set_state DEV NEW FROM TO: `state DEV NEW` prints "FROM -> TO".  FROM is
# read from the device by a new open, so a chain of these also proves that
# each state was reached and kept.
set_state() {
	run -0 --separate-stderr vfio-migctl state "$1" "$2"
	[ "$output" = "$3 -> $4" ] || fail "state $2 printed '$output'"
}

@test "state: a fresh device is RUNNING, named by cdev, group, UUID or sysfs path" {
	for dev in "$(cdev_of "$SRC")" "$(group_of "$SRC")" "$SRC" "$mdev_bus/$SRC"; do
		expect_state "$dev" RUNNING
	done
	run -0 --separate-stderr vfio-migctl --json state "$SRC"
	jq -e --arg d "$SRC" '.device == $d and .state == "RUNNING"' <<<"$output" >/dev/null ||
		fail "json: $output"
}

@test "state: walks every state mtty offers, each change seen by the next open" {
	# One device name form per step, so every form sets as well as gets.
	cdev=$(cdev_of "$SRC") group=$(group_of "$SRC") sys=$mdev_bus/$SRC
	set_state "$cdev" running_p2p RUNNING RUNNING_P2P
	set_state "$group" STOP RUNNING_P2P STOP
	set_state "$SRC" Running STOP RUNNING
	set_state "$sys" pre-copy RUNNING PRE_COPY
	set_state "$cdev" PRE_COPY_P2P PRE_COPY PRE_COPY_P2P
	set_state "$group" stop-copy PRE_COPY_P2P STOP_COPY
	set_state "$SRC" stop STOP_COPY STOP
	set_state "$sys" resuming STOP RESUMING
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "RESUMING -> RUNNING" ] || fail "reset printed '$output'"
	expect_state "$SRC" RUNNING
}

@test "state: --via, a no-op set, and --json for a set" {
	run -0 --separate-stderr vfio-migctl --via=group state "$SRC" stop
	expect_state "$(cdev_of "$SRC")" STOP
	run -0 --separate-stderr vfio-migctl state --via=cdev "$SRC" running
	run -0 --separate-stderr vfio-migctl state --via=group "$SRC"
	[ "$output" = RUNNING ] || fail "via group: $output"

	# setting the current state succeeds and changes nothing
	run -0 --separate-stderr vfio-migctl state "$SRC" running
	expect_state "$SRC" RUNNING

	run -0 --separate-stderr vfio-migctl --json state "$SRC" stop_copy
	jq -e --arg d "$SRC" '.device == $d and .from == "RUNNING"
		and .to == "STOP_COPY" and .state == "STOP_COPY"' <<<"$output" >/dev/null ||
		fail "json: $output"
	run -0 --separate-stderr vfio-migctl reset "$SRC"
}

@test "state -v: prints each arc the kernel takes on stderr" {
	run -0 --separate-stderr vfio-migctl -v state "$SRC" stop_copy
	[ "$output" = "RUNNING -> STOP_COPY" ] || fail "stdout '$output'"
	# RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY, one arc at a time
	for s in RUNNING_P2P STOP STOP_COPY; do
		[[ $stderr == *"$s"* ]] || fail "-v did not mention $s: $stderr"
	done
	run -0 --separate-stderr vfio-migctl reset "$SRC"
}

# dry_run DEV NEW PATH: --dry-run prints PATH (the callers check that the
# device stayed put).
dry_run() {
	run -0 --separate-stderr vfio-migctl state --dry-run "$1" "$2"
	[ "$output" = "$3" ] || fail "dry-run to $2: '$output'" "expected '$3'"
}

@test "state --dry-run: the kernel's arc paths from RUNNING, device untouched" {
	dry_run "$SRC" stop "RUNNING -> RUNNING_P2P -> STOP"
	dry_run "$SRC" stop_copy "RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY"
	dry_run "$SRC" resuming "RUNNING -> RUNNING_P2P -> STOP -> RESUMING"
	dry_run "$SRC" pre_copy "RUNNING -> PRE_COPY"
	dry_run "$SRC" pre_copy_p2p "RUNNING -> RUNNING_P2P -> PRE_COPY_P2P"
	dry_run "$SRC" running_p2p "RUNNING -> RUNNING_P2P"

	run -0 --separate-stderr vfio-migctl --json state --dry-run "$SRC" stop
	jq -e --arg d "$SRC" '.device == $d and .from == "RUNNING" and .to == "STOP"
		and (.path == ["RUNNING_P2P", "STOP"]
		     or .path == ["RUNNING", "RUNNING_P2P", "STOP"])' \
		<<<"$output" >/dev/null || fail "json: $output"

	run -2 --separate-stderr vfio-migctl state --dry-run "$SRC"
	expect_state "$SRC" RUNNING
}

@test "state --dry-run: paths from saving and resuming states, by every name form" {
	vfio-migctl state "$SRC" pre_copy >/dev/null
	dry_run "$(cdev_of "$SRC")" stop_copy "PRE_COPY -> PRE_COPY_P2P -> STOP_COPY"
	dry_run "$(group_of "$SRC")" stop "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP"
	expect_state "$SRC" PRE_COPY
	vfio-migctl state "$SRC" stop_copy >/dev/null
	dry_run "$SRC" running "STOP_COPY -> STOP -> RUNNING_P2P -> RUNNING"
	expect_state "$SRC" STOP_COPY
	vfio-migctl state "$SRC" stop >/dev/null
	vfio-migctl state "$SRC" resuming >/dev/null
	dry_run "$mdev_bus/$SRC" running "RESUMING -> STOP -> RUNNING_P2P -> RUNNING"
	expect_state "$SRC" RESUMING
	run -0 --separate-stderr vfio-migctl reset "$SRC"
}

@test "state: refused requests leave the device where it was" {
	run -2 --separate-stderr vfio-migctl state "$SRC" flying
	expect_usage_error state 'flying'
	expect_state "$SRC" RUNNING

	# ERROR cannot be requested: usage (2) or not offered (4), not a
	# failed transition, since nothing was tried.
	run ! --separate-stderr vfio-migctl state "$SRC" error
	[ "$status" -eq 2 ] || [ "$status" -eq 4 ] || fail "ERROR: exit $status"
	expect_state "$SRC" RUNNING

	# STOP_COPY -> PRE_COPY has no arc in the kernel's FSM: exit 5.
	vfio-migctl state "$SRC" stop_copy >/dev/null
	run -5 --separate-stderr vfio-migctl state "$SRC" pre_copy
	expect_error state
	expect_state "$SRC" STOP_COPY
	run ! --separate-stderr vfio-migctl state --dry-run "$SRC" pre_copy
	expect_state "$SRC" STOP_COPY
	run -0 --separate-stderr vfio-migctl reset "$SRC"
}

@test "reset: from STOP_COPY left behind, then the device migrates again" {
	mtty_fill "$SRC" 0x77 0x03 "stuck"
	run -0 --separate-stderr vfio-migctl state "$SRC" stop_copy
	expect_state "$SRC" STOP_COPY
	# A save must not start on a device already in a saving state.
	run ! --separate-stderr vfio-migctl save "$SRC" -o "$T/x"
	expect_error save
	[ ! -e "$T/x" ] || fail "a refused save left $T/x"
	expect_state "$SRC" STOP_COPY

	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "STOP_COPY -> RUNNING" ] || fail "reset printed '$output'"
	expect_state "$SRC" RUNNING
	# reset moves the migration state only: the UART kept its values.
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_filled "$DST" 0x77 0x03 "stuck"
}

@test "reset: from PRE_COPY by group path with --json; harmless when RUNNING" {
	vfio-migctl state "$SRC" pre_copy >/dev/null
	run -0 --separate-stderr vfio-migctl --json reset "$(group_of "$SRC")"
	jq -e '.before == "PRE_COPY" and .after == "RUNNING"' <<<"$output" >/dev/null ||
		fail "json: $output"
	expect_state "$SRC" RUNNING
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "RUNNING -> RUNNING" ] || fail "reset printed '$output'"
	expect_state "$SRC" RUNNING
}
