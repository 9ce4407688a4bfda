#!/usr/bin/env bats
# migsim itself, and vfio-migctl's ordinary paths through it: the module
# loads, its devices are VFIO devices with the flags of their type, a state
# moves between two of them (the destination's digest, computed by the
# driver over the bytes it was given, equals the source's), PRE_COPY
# behaves as the uAPI says, and the module unloads cleanly.
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

# info_has KEY VALUE: `vfio-migctl info` said "KEY:   VALUE"
info_has() {
	sed 's/:  */: /' <<<"$output" | grep -qxF "$1: $2" ||
		fail "info has no '$1: $2':" "$output"
}

@test "migsim: five types of platform devices with both /dev nodes; info shows their flags" {
	for t in full p2p precopy basic none; do
		[ "$(cat "$migsim_types/migsim-$t/device_api")" = vfio-platform ] ||
			fail "migsim-$t device_api"
	done
	dev=$(migsim_create full)
	[ -c "$(cdev_of "$dev")" ] && [ -c "$(group_of "$dev")" ] || fail "no /dev nodes"
	[ "$(basename "$(readlink "$mdev_bus/$dev/driver")")" = migsim ]
	expect_msim "$dev" size 1048576
	expect_msim "$dev" state RUNNING
	expect_msim "$dev" fail_arc none
	expect_msim "$dev" fail_read_after -1
	[[ $(msim "$dev" digest) =~ ^[0-9a-f]{16}$ ]] || fail "digest '$(msim "$dev" digest)'"

	# vfio-migctl info: each type's flags, reset and data size
	local -A flags=([full]="STOP_COPY|P2P|PRE_COPY (0x7)" [p2p]="STOP_COPY|P2P (0x3)"
		[precopy]="STOP_COPY|PRE_COPY (0x5)" [basic]="STOP_COPY (0x1)")
	for t in full p2p precopy basic; do
		dev=$(migsim_create "$t" size=1000)
		run -0 --separate-stderr vfio-migctl info "$dev"
		info_has "migration" "${flags[$t]}"
		info_has "kind" platform
		info_has "reset" yes
		info_has "mdev type" "migsim-$t"
		# HDR + DATA + END records of 32 bytes, and the 1000 bytes
		info_has "data size" "1096 bytes (estimate)"
		# migsim has Linux 7.1's PRECOPY_INFOv2 where it has PRE_COPY
		if [[ $t == *p2p* || $t == basic ]]; then
			! grep -q "^reinit:" <<<"$output" || fail "a reinit line without PRE_COPY:" "$output"
		else
			info_has "reinit" "offered (PRE_COPY initial data may be re-sent, Linux 7.1)"
		fi
		run -0 --separate-stderr vfio-migctl --json info "$dev"
		want=$([[ $t == *p2p* || $t == basic ]] && echo null || echo true)
		[ "$(jq -c .precopy_reinit <<<"$output")" = "$want" ] ||
			fail "migsim-$t: precopy_reinit is $(jq -c .precopy_reinit <<<"$output"), not $want"
	done
	dev=$(migsim_create none)
	run -0 --separate-stderr vfio-migctl info "$dev"
	info_has "migration" "not supported"
}

@test "migsim: save --raw | resume --raw via cdev and group carries the state, of any size" {
	SRC=$(migsim_create full size=3000001)
	DST=$(migsim_create full size=17)
	digest=$(msim "$SRC" digest)
	[ "$(msim "$DST" digest)" != "$digest" ] || fail "same digest before"

	save_resume --raw "$(cdev_of "$SRC")" -- --raw "$(group_of "$DST")"
	expect_migrated
	expect_msim "$DST" digest "$digest"
	expect_msim "$DST" size 3000001
	expect_msim "$DST" load_count 1
	expect_msim "$SRC" digest "$digest"
	expect_msim_state "$SRC" STOP
	expect_msim_state "$DST" RUNNING

	# the raw stream is exactly the driver's records and the bytes
	vfio-migctl state "$SRC" running >/dev/null
	vfio-migctl save -q --raw "$SRC" >"$T/raw"
	[ "$(stat -c %s "$T/raw")" = $((3000001 + 96)) ] || fail "raw size $(stat -c %s "$T/raw")"

	# the smallest states, on the type without P2P (RUNNING <-> STOP direct)
	for size in 0 1; do
		SRC=$(migsim_create basic size=$size)
		DST=$(migsim_create basic)
		save_resume --raw "$SRC" -- --raw "$DST"
		expect_migrated
		expect_same_state "$SRC" "$DST"
	done
}

@test "migsim: framed save | resume, then onwards from the destination" {
	SRC=$(migsim_create full size=5M)
	DST=$(migsim_create full)
	THIRD=$(migsim_create full)
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	# a resumed device saves what it was given
	save_resume "$DST" -- "$THIRD"
	expect_migrated
	expect_same_state "$SRC" "$THIRD"
}

@test "migsim: PRE_COPY reports initial then dirty bytes for N rounds, then ENOMSG" {
	SRC=$(migsim_create full size=100000 precopy_initial=4096 dirty_bytes=1000 dirty_rounds=3)
	DST=$(migsim_create full)
	migsim-ref precopy "$SRC" >"$T/stream" 2>"$T/log" || fail "precopy:" "$(cat "$T/log")"
	# HDR (32), then the initial DATA record (32 + 4096) one read each,
	# then one dirty round per read (32 + 1000), then nothing pending.
	expected="info 4160 0
read 32
info 4128 0
read 4128
info 0 1032
read 1032
info 0 1032
read 1032
info 0 1032
read 1032
info 0 0
enomsg
stopcopy $((32 + 100000 - 4096 + 32))"
	got=$(grep -v '^migsim-ref:' "$T/log")
	[ "$got" = "$expected" ] || fail "transcript:" "$got" "expected:" "$expected"
	expect_msim_state "$SRC" STOP
	# the resent rounds are merged: the destination holds the state
	migsim-ref resume "$DST" <"$T/stream" 2>"$T/log" || fail "resume:" "$(cat "$T/log")"
	expect_same_state "$SRC" "$DST"
	expect_msim_state "$DST" RUNNING
}

@test "migsim: save --precopy moves the initial bytes while running" {
	SRC=$(migsim_create full size=2M precopy_initial=1M dirty_bytes=4096 dirty_rounds=5)
	DST=$(migsim_create full)
	save_resume --json --precopy "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	# precopy: HDR and the initial record; STOP_COPY: the pending dirty
	# round, the rest of the state and END
	jq -e '.precopy_bytes == 32 + 32 + 1048576 and
		.stopcopy_bytes == (32 + 4096) + (32 + 1048576) + 32' <<<"$save_err" >/dev/null ||
		fail "save json: $save_err"

	# PRE_COPY without P2P, a dirty round longer than what was sent;
	# no PRE_COPY on the basic type
	SRC=$(migsim_create precopy size=64K precopy_initial=8K dirty_bytes=20K dirty_rounds=1)
	DST=$(migsim_create precopy)
	save_resume --precopy "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	SRC=$(migsim_create basic size=64K)
	run -4 --separate-stderr vfio-migctl save --precopy "$SRC"
	expect_error save
	expect_msim_state "$SRC" RUNNING
}

@test "migsim: reset_on_close=1 returns the device to RUNNING on close, 0 keeps STOP; save | resume work" {
	dev=$(migsim_create full)
	run -0 --separate-stderr vfio-migctl state "$dev" stop
	expect_msim_state "$dev" STOP
	msim_set "$dev" reset_on_close 1
	run -0 --separate-stderr vfio-migctl state "$dev"
	# that open and close reset it
	expect_msim_state "$dev" RUNNING
	[ "$output" = STOP ] || fail "seen while open: $output"
	run -0 --separate-stderr vfio-migctl state "$dev" stop
	expect_msim_state "$dev" RUNNING

	# save and resume keep one open file from start to end
	SRC=$(migsim_create full size=1M reset_on_close=1)
	DST=$(migsim_create full reset_on_close=1)
	save_resume "$SRC" -- "$DST"
	expect_migrated
	expect_same_state "$SRC" "$DST"
}

@test "migsim: a device without migration is refused with status 4" {
	dev=$(migsim_create none)
	run -4 --separate-stderr vfio-migctl save "$dev" -o "$T/s.mig"
	# no state to name: "device unchanged", not "device unchanged (UNKNOWN)"
	expect_error save "device has no migration support; device unchanged$"
	run -4 --separate-stderr vfio-migctl --json save "$dev" -o "$T/s.mig"
	jq -e '.final_state == null and .ok == false' <<<"$output" >/dev/null || fail "json: $output"
	run -4 --separate-stderr vfio-migctl state "$dev" stop
	expect_error state "device has no migration support"
	# info: every key, null where there is nothing
	run -0 --separate-stderr vfio-migctl --json info "$dev"
	jq -e '.migration == null and .state == null and .data_size == null and
		.dma_logging == null and has("state") and has("data_size") and has("dma_logging") and
		.precopy_reinit == null and has("precopy_reinit")' \
		<<<"$output" >/dev/null || fail "json: $output"
}

@test "migsim: arcs_seq numbers the arcs of every device in one order; a write clears it alone" {
	A=$(migsim_create full)
	B=$(migsim_create full)
	msim_set "$A" arcs_seq clear
	msim_set "$B" arcs_seq clear
	# Two devices' arcs, interleaved: each through RUNNING_P2P before either stops
	for step in "$A running_p2p" "$B running_p2p" "$A stop" "$B stop"; do
		run -0 --separate-stderr vfio-migctl state ${step% *} "${step#* }"
	done
	run -0 vfio-migctl reset "$A"
	a=$(cat "$mdev_bus/$A/migsim/arcs_seq")
	b=$(cat "$mdev_bus/$B/migsim/arcs_seq")
	# Each line is "SEQ FROM>TO" ("SEQ reset"), FROM>TO as arcs writes it
	diff -u - <(cut -d' ' -f2- <<<"$a") <<<$'RUNNING>RUNNING_P2P\nRUNNING_P2P>STOP\nreset' ||
		fail "arcs_seq of A: $a"
	[ "$(cut -d' ' -f2- <<<"$a" | head -2 | tr '\n' ' ')" = "$(msim "$A" arcs | cut -d' ' -f1-2) " ] ||
		fail "arcs_seq of A '$a' is not arcs '$(msim "$A" arcs)'"
	# Merged by SEQ, the two logs are the order the steps were taken in,
	# with SEQ increasing by one from step to step (one counter for the module)
	merged=$({ sed 's/$/ A/' <<<"$a"; sed 's/$/ B/' <<<"$b"; } | sort -n)
	diff -u - <(cut -d' ' -f2- <<<"$merged") <<-EOF || fail "merged: $merged"
	RUNNING>RUNNING_P2P A
	RUNNING>RUNNING_P2P B
	RUNNING_P2P>STOP A
	RUNNING_P2P>STOP B
	reset A
	EOF
	first=$(head -1 <<<"$merged" | cut -d' ' -f1)
	[ "$(cut -d' ' -f1 <<<"$merged" | tr '\n' ' ')" = \
		"$first $((first + 1)) $((first + 2)) $((first + 3)) $((first + 4)) " ] ||
		fail "SEQ does not count one arc at a time: $merged"

	# A write clears arcs_seq, and only it; a later arc numbers on
	msim_set "$A" arcs_seq clear
	[ -z "$(cat "$mdev_bus/$A/migsim/arcs_seq")" ] || fail "a write left arcs_seq non-empty"
	[ -n "$(msim "$A" arcs)" ] || fail "clearing arcs_seq cleared arcs"
	msim_set "$A" arcs clear
	run -0 --separate-stderr vfio-migctl state "$A" running_p2p
	expect_msim "$A" arcs_seq "$((first + 5)) RUNNING>RUNNING_P2P"
	[ "$(cat "$mdev_bus/$B/migsim/arcs_seq")" = "$b" ] || fail "B's arcs_seq changed with A's"
}

@test "migsim: the module unloads cleanly" {
	expect_clean_unload
}
