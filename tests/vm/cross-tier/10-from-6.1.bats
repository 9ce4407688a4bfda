#!/usr/bin/env bats
# Last stage of make check-vm (tests/vm/check-vm.sh), on Linux 6.12 after
# the 6.1 tier: the migsim stream 6.1 saved into the exchange directory
# (VM_EXCHANGE) resumes here.  See tests/vm/70-cross-tier.bats for the
# other direction and the .info files.
bats_require_minimum_version 1.5.0
load ../helpers
load ../migsim

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

@test "cross-tier: a stream saved by migsim on 6.1 resumes on 6.12 (same type), digests equal" {
	local x=${VM_EXCHANGE:-}/6.1
	[ -f "$x/p2p.info" ] ||
		skip "no stream from the 6.1 tier in $x (make check-vm runs it first)"
	dst=$(migsim_create p2p size=17)
	run -0 --separate-stderr vfio-migctl resume "$dst" -i "$x/p2p.mig"
	expect_msim "$dst" load_count 1
	# and this kernel's migsim makes the same content with the same digest
	expect_exchanged "$dst" "$x/p2p.info" p2p
}
