#!/usr/bin/env bats
# The 6.12 half of the cross-tier check (make check-vm, tests/vm/check-vm.sh):
# migsim streams saved here go through the exchange directory (VM_EXCHANGE,
# shared by every tier of the run) to the Linux 6.1 tier, which resumes
# them (tests/vm/linux-6.1/); what 6.1 saves comes back to 6.12 in
# tests/vm/cross-tier/.  Each stream has an .info beside it: "SIZE SEED
# DIGEST" of its source, so the other side can compare digests and
# recreate the content with its own migsim.
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
	mkdir -p "$x"
	src=$(migsim_create p2p size=300001 seed=612)
	run -0 --separate-stderr vfio-migctl save -q --force "$src" -o "$x/p2p.mig"
	echo "300001 612 $(msim "$src" digest)" >"$x/p2p.info"

	# a type 6.1 has not, with PRE_COPY data in the stream
	src=$(migsim_create full size=100003 seed=6120 precopy_initial=40000)
	run -0 --separate-stderr vfio-migctl save -q --force --json --precopy "$src" -o "$x/full.mig"
	jq -e '.precopy_bytes > 40000' <<<"$output" >/dev/null ||
		fail "no PRE_COPY data in the stream: $output"
	echo "100003 6120 $(msim "$src" digest)" >"$x/full.info"

	# both resume here: the streams are sound before 6.1 sees them
	dst=$(migsim_create full)
	run -0 --separate-stderr vfio-migctl resume -q "$dst" -i "$x/full.mig"
	expect_same_state "$src" "$dst"
}
