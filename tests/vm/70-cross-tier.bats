#!/usr/bin/env bats
# The 6.12 half of the cross-tier check (make check-vm, tests/vm/check-vm.sh):
# migsim streams saved here go through the exchange directory (VM_EXCHANGE,
# shared by every tier of the run) to the Linux 6.1 tier, which resumes
# them (tests/vm/linux-6.1/); what 6.1 saves comes back to 6.12 in
# tests/vm/cross-tier/.  Each stream has an .info beside it (migsim.bash,
# exchange_save).
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
	[ -n "${VM_EXCHANGE:-}" ] && [ -d "$VM_EXCHANGE" ] ||
		fail "no exchange directory (run-vm.sh shares one as VM_EXCHANGE)"
}

teardown() {
	mtty_teardown
}

@test "cross-tier: save migsim streams for the 6.1 tier (p2p; full with PRE_COPY records)" {
	local x=$VM_EXCHANGE/6.12
	src=$(migsim_create p2p size=300001 seed=612)
	exchange_save "$x" p2p "$src"

	# a type 6.1 has not, with PRE_COPY data in the stream
	src=$(migsim_create full size=100003 seed=6120 precopy_initial=40000)
	exchange_save "$x" full "$src" --json --precopy
	jq -e '.precopy_bytes > 40000' <<<"$output" >/dev/null ||
		fail "no PRE_COPY data in the stream: $output"

	# both resume here: the streams are sound before 6.1 sees them
	dst=$(migsim_create full)
	run -0 --separate-stderr vfio-migctl resume -q "$dst" -i "$x/full.mig"
	expect_same_state "$src" "$dst"
}
