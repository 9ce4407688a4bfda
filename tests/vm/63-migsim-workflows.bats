#!/usr/bin/env bats
# Workflows that need a device mtty cannot be: one that resets its
# migration state when its file is closed (as pds, xe and mlx5 do), and one
# whose arcs can be made to fail.
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
	migsim_pair full 64K
}

teardown() {
	mtty_teardown
}

@test "hold: keeps a reset-on-close device's state across commands; without it the state is lost" {
	msim_set "$SRC" reset_on_close 1
	# Without hold: each command is its own open, and the close undoes it
	run -0 --separate-stderr vfio-migctl state "$SRC" stop
	[ "$output" = "RUNNING -> STOP" ] || fail "$output"
	expect_msim_state "$SRC" RUNNING
	run -0 --separate-stderr vfio-migctl state "$SRC"
	[ "$output" = RUNNING ] || fail "without hold the next command saw $output"

	# With hold: one open file, so the next command finds STOP, and a save
	# from STOP returns it to STOP (its recovery state) inside the hold
	run -0 --separate-stderr vfio-migctl hold "$SRC" -- bash -c '
		set -e
		vfio-migctl state "$1" stop >/dev/null
		vfio-migctl state "$1"
		vfio-migctl save -q "$1" >"$2"
		vfio-migctl state "$1"
		cat "/sys/bus/mdev/devices/$1/migsim/state"
	' hold "$SRC" "$T/held.mig"
	[ "${lines[*]}" = "STOP STOP STOP" ] || fail "inside hold: ${lines[*]}"
	[[ $stderr == *"released in STOP"* ]] || fail "$stderr"
	# Closed at last: the driver resets it; nothing of the save was lost
	expect_msim_state "$SRC" RUNNING
	run -0 --separate-stderr vfio-migctl resume -q "$DST" -i "$T/held.mig"
	expect_same_state "$SRC" "$DST"
}

@test "state --step: an injected arc failure is named, with the errno and the state now" {
	msim_set "$SRC" fail_arc "RUNNING_P2P STOP 5"
	run -5 --separate-stderr vfio-migctl state --step "$SRC" stop_copy
	[[ ${lines[0]} =~ ^RUNNING\ -\>\ RUNNING_P2P\ +[0-9.]+\ ms$ ]] || fail "${lines[0]}"
	now=$(msim "$SRC" state)
	expect_error state "^vfio-migctl: state: $SRC: RUNNING_P2P -> STOP failed: Input/output error; device is now $now$"

	# Into ERROR: status 6 and the remedy
	msim_set "$SRC" fail_arc "RUNNING_P2P STOP 5 error"
	vfio-migctl reset "$SRC" >/dev/null
	run -6 --separate-stderr vfio-migctl state --step "$SRC" stop
	expect_error state "RUNNING_P2P -> STOP failed: .*device is now ERROR; recover it with 'vfio-migctl reset $SRC'$"
	msim_set "$SRC" fail_arc none
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "ERROR -> RUNNING" ] || fail "reset: $output"
}

@test "migsim: the module unloads cleanly after the workflow tests" {
	expect_clean_unload
}
