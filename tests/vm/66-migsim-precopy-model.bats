#!/usr/bin/env bats
# migsim as a running device, the ground for iterative precopy: dirty_rate
# (dirty_bytes grows with time while the device runs, reads drain it, a
# destination refuses a stream that does not re-send what was dirtied),
# reinit_after (REINIT, once), and feature 12 (VFIO_DEVICE_FEATURE_
# MIG_PRECOPY_INFOv2, Linux 7.1): flags zeroed after the opt-in, echoed
# before it.  Driven by `migsim-ref steps`, which says what each ioctl and
# read() returned; tests/vm/migsim/migsim.c's header documents the model.
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

# steps DEV STEP...: run `migsim-ref steps`; the bytes read are in
# $T/stream, its lines (what each step got) in the array $got.
steps() {
	migsim-ref steps "$@" >"$T/stream" 2>"$T/log" || fail "steps $*:" "$(cat "$T/log")"
	mapfile -t got < <(grep -v '^migsim-ref:' "$T/log")
	printf '# %s\n' "${got[@]}" >&2
}

# expect_got I LINE-REGEX: line I of the steps' transcript matches
expect_got() {
	[[ ${got[$1]} =~ ^$2$ ]] || fail "line $1 is '${got[$1]}', expected /$2/:" "${got[@]}"
}

# The dirt in a dirty_bytes figure: what is left after the two 32-byte
# record headers (the DIRTY record that declares it, the DATA record that
# re-sends it) when it does not wrap round S.
dirt_of() { echo $(($1 > 64 ? $1 - 64 : 0)); }

@test "dirty_rate: dirty_bytes grows with time, reads drain it, never past SIZE; ENOMSG when clean" {
	SRC=$(migsim_create full size=4M dirty_rate=1M)
	steps "$SRC" state:pre_copy read info sleep:400 info read info datasize
	expect_got 0 "read 32"
	read -r _ i1 d1 f1 b1 a1 <<<"${got[1]}"
	read -r _ i2 d2 f2 b2 a2 <<<"${got[2]}"
	[ "$i1 $f1 $i2 $f2" = "0 0 0 0" ] || fail "initial bytes or flags: ${got[*]}"
	# 1 MiB/s over the time between the two calls (each call's time is
	# known to within its own duration)
	grown=$(($(dirt_of "$d2") - $(dirt_of "$d1")))
	read -r lo hi < <(awk -v b1="$b1" -v a1="$a1" -v b2="$b2" -v a2="$a2" \
		'BEGIN { printf "%d %d\n", (b2 - a1) * 1048.576 - 1, (a2 - b1) * 1048.576 + 1 }')
	((grown >= 400 * 1048 && grown >= lo && grown <= hi)) ||
		fail "dirt grew by $grown between $a1 and $b2 ms, expected $lo..$hi"
	# the read takes all of it (the DIRTY record, then its data), and
	# what is dirty after it is what came since it began
	read -r _ r <<<"${got[3]}"
	((r >= d2)) || fail "read $r bytes of $d2 dirty"
	read -r _ i3 d3 _ _ a3 <<<"${got[4]}"
	since=$(awk -v a2="$a2" -v a3="$a3" 'BEGIN { printf "%d", (a3 - a2) * 1048.576 + 1 }')
	((d3 < d2 && $(dirt_of "$d3") <= since)) ||
		fail "still $d3 dirty after reading $r (was $d2; $since dirtied since)"
	# STOP_COPY would send the dirt pending and the rest of S, which it
	# may overlap (the dirt that the read re-sent went past what was sent)
	read -r _ ds <<<"${got[5]}"
	rest=$((4194304 - (r - 64) + 32 + 32))
	((ds >= rest && ds <= rest + d3 + 65536)) || fail "MIG_DATA_SIZE $ds, $rest to send and $d3 dirty"

	# never more than all of S: 64 KiB in one record, from offset 0
	SRC=$(migsim_create full size=64K dirty_rate=1M)
	steps "$SRC" state:pre_copy read sleep:200 info read info
	expect_got 1 "info 0 $((32 + 32 + 65536)) 0 .*"
	expect_got 2 "read $((32 + 32 + 65536))"
	read -r _ _ d3 _ <<<"${got[3]}"
	((d3 < 32768)) || fail "still $d3 dirty after reading all of S"

	# a device that has dirtied nothing yet (1 byte a second): ENOMSG
	SRC=$(migsim_create full size=64K dirty_rate=1)
	steps "$SRC" state:pre_copy read info read
	expect_got 0 "read 32"
	expect_got 1 "info 0 0 0 .*"
	expect_got 2 "enomsg"
}

@test "dirty_rate: a stream saved while the device dirties, in rounds, resumes to the source's digest" {
	# 300 KB/s over 100000 bytes: the dirty cursor goes round S more
	# than once, and the initial data sent all of S before it started
	migsim_pair full 100000 precopy_initial=100000 dirty_rate=300K
	for pre in pre_copy pre_copy_p2p; do
		steps "$SRC" state:running "state:$pre" read:2 sleep:100 read:2 sleep:150 read:2 \
			sleep:150 read:2 sleep:200 read:2 sleep:100 stopcopy
		expect_got 0 "read 32"
		expect_got 1 "read $((32 + 100000))"
		size=$(stat -c %s "$T/stream")
		# every round re-sent something: over a third of S more than a plain save
		((size > 100000 + 96 + 33000)) || fail "a stream of $size bytes re-sent little"
		loads=$(msim "$DST" load_count)
		migsim-ref resume "$DST" <"$T/stream" 2>"$T/log" || fail "resume:" "$(cat "$T/log")"
		expect_same_state "$SRC" "$DST"
		expect_msim "$DST" load_count $((loads + 1))
		expect_msim "$DST" load_errors 0
		expect_msim_state "$DST" RUNNING
		# 300 KB/s for 700 ms at least
		expect_dirt_carried "$SRC" "$DST" 210000
	done
}

@test "dirty_rate: a stream that declares dirt it does not re-send is refused at RESUMING -> STOP" {
	migsim_pair full 64K precopy_initial=64K dirty_rate=1M drop_dirty=1
	# S is all sent in PRE_COPY, then dirtied: only STOP_COPY re-sends it,
	# and drop_dirty makes it skip that (it still says what was dirtied)
	steps "$SRC" state:pre_copy read:2 sleep:50 stopcopy
	expect_got 2 "stopcopy $((32 + 32))"
	run -1 --separate-stderr migsim-ref resume "$DST" <"$T/stream"
	expect_untouched "$DST" "$DST_DIGEST" 0
	expect_msim "$DST" load_errors 1

	# the same save with the dirt re-sent is taken
	msim_set "$SRC" drop_dirty 0
	steps "$SRC" state:running state:pre_copy read:2 sleep:50 stopcopy
	read -r _ n <<<"${got[2]}"
	((n > 64 + 32 + 32)) || fail "STOP_COPY re-sent no dirt: ${got[2]}"
	DST=$(migsim_create full)
	migsim-ref resume "$DST" <"$T/stream" 2>"$T/log" || fail "resume:" "$(cat "$T/log")"
	expect_same_state "$SRC" "$DST"
	expect_msim "$DST" load_count 1
}

@test "reinit_after: after the opt-in, REINIT once, with dirty_bytes 0 and new initial bytes; the stream resumes" {
	migsim_pair full 256K precopy_initial=64K dirty_rate=256K reinit_after=100K reinit_bytes=32K
	# 32 + 64K + 32 read, then the dirt of 200 ms (over 50K): past 100K.
	# info passes flags 4: the opt-in makes them output, zeroed.
	steps "$SRC" optin state:pre_copy read:2 sleep:200 info:4 read info:4 info:4 read info:4 \
		read info:4 stopcopy
	expect_got 0 "optin 0"
	expect_got 3 "info 0 [0-9]+ 0 .*"
	# the REINIT: S[0, 32K) again, and the dirt pending, as initial data
	expect_got 5 "info [0-9]+ 0 1 .*"
	read -r _ i5 _ <<<"${got[5]}"
	((i5 >= 32 + 32768)) || fail "initial bytes after REINIT: $i5"
	# once: flags 0 from then on, the new initial data read, then dirty again
	expect_got 6 "info $i5 [0-9]+ 0 .*"
	expect_got 7 "read $((32 + 32768))"
	expect_got 8 "info [0-9]+ [0-9]+ 0 .*"
	expect_got 10 "info 0 [0-9]+ 0 .*"
	migsim-ref resume "$DST" <"$T/stream" 2>"$T/log" || fail "resume:" "$(cat "$T/log")"
	expect_same_state "$SRC" "$DST"
	expect_dirt_carried "$SRC" "$DST" 51000

	# the opt-in ended with the device's last close: flags are echoed
	# again, and the re-initialization happens all the same
	steps "$SRC" state:running state:pre_copy read:2 sleep:200 info:6 read info:6 info:6
	expect_got 2 "info 0 [0-9]+ 6 .*"
	expect_got 4 "info [0-9]+ 0 6 .*"
	read -r _ i4 _ <<<"${got[4]}"
	((i4 >= 32 + 32768)) || fail "no new initial bytes without the opt-in: ${got[4]}"
	expect_got 5 "info $i4 [0-9]+ 6 .*"
}

@test "feature 12: PROBE and SET with PRE_COPY, GET refused; EINVAL without PRE_COPY" {
	for t in full precopy; do
		dev=$(migsim_create $t)
		steps "$dev" probe12 optin get12
		[ "${got[*]}" = "probe12 0 optin 0 get12 EINVAL" ] || fail "migsim-$t: ${got[*]}"
	done
	for t in basic p2p none; do
		dev=$(migsim_create $t)
		steps "$dev" probe12 optin get12
		[ "${got[*]}" = "probe12 EINVAL optin EINVAL get12 EINVAL" ] ||
			fail "migsim-$t: ${got[*]}"
	done
}

@test "the breaks of the 7.1 rules: reinit-einval, reinit-flags, reinit-dirty" {
	dev=$(migsim_create basic break=precopy.reinit-einval)
	steps "$dev" probe12 optin
	[ "${got[*]}" = "probe12 0 optin 0" ] || fail "reinit-einval: ${got[*]}"

	dev=$(migsim_create full size=64K precopy_initial=8K reinit_after=0 break=precopy.reinit-flags)
	steps "$dev" optin state:pre_copy info:4 info:4
	expect_got 1 "info [0-9]+ 0 7 .*"
	expect_got 2 "info [0-9]+ 0 6 .*"

	dev=$(migsim_create full size=64K precopy_initial=8K reinit_after=0 break=precopy.reinit-dirty)
	steps "$dev" optin state:pre_copy info info
	expect_got 1 "info [0-9]+ 4096 1 .*"
	expect_got 2 "info [0-9]+ 0 0 .*"
}

@test "save --precopy on a dirtying device: one pass as before, the dirt re-sent in STOP_COPY" {
	for t in full precopy; do
		SRC=$(migsim_create $t size=2M precopy_initial=1M dirty_rate=4M)
		DST=$(migsim_create $t)
		save_resume --json --precopy "$SRC" -- "$DST"
		expect_migrated
		expect_same_state "$SRC" "$DST"
		# HDR and the initial bytes while running; STOP_COPY: what was
		# dirtied meanwhile, the other 1M and END
		jq -e '.precopy_bytes == 32 + 32 + 1048576 and
			.stopcopy_bytes > 32 + 32 + (32 + 1048576) + 32' <<<"$save_err" >/dev/null ||
			fail "save json: $save_err"
		expect_dirt_carried "$SRC" "$DST" 1
	done
}

@test "migsim unloads cleanly after the precopy model" {
	expect_clean_unload
}
