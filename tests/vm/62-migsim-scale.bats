#!/usr/bin/env bats
# A big state through `vfio-migctl save | vfio-migctl resume` between two
# migsim devices: the destination's digest (computed by the driver over the
# bytes it was given) must equal the source's, and the peak RSS of either
# side must not grow with the state.
#
# The size is VM_TEST_MIGSIM_SCALE_MB (make check-vm VM_TEST_MIGSIM_SCALE_MB=N;
# run-vm.sh passes VM_TEST_* into the guest).  By default it is 1024, unless
# the 64 MiB run says that would take more than SCALE_BUDGET seconds (TCG
# on a busy host can be ten times slower than on an idle one): then the
# largest power of two that fits, but not under 128.  The size used is
# printed.
bats_require_minimum_version 1.5.0
load helpers
load migsim

# RSS is ru_maxrss (KiB, from migsim-ref rusage); "flat" leaves room for
# allocator noise only.
RSS_SLACK_KIB=$((8 * 1024))
SMALL_MB=64
SCALE_BUDGET=30

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

# migrate MB: save | resume of MB MiB with each side's peak RSS and time
# kept in $BATS_FILE_TMPDIR/MB.{save,resume}.rss and MB.seconds.
migrate() {
	local mb=$1 src dst t0 t1
	src=$(migsim_create full size="${mb}M")
	dst=$(migsim_create full)
	local f=$BATS_FILE_TMPDIR/$mb
	t0=$(date +%s.%N)
	{
		migsim-ref rusage "$f.save.rss" vfio-migctl save -q "$src"
		echo $? >"$f.save.rc"
	} | {
		migsim-ref rusage "$f.resume.rss" vfio-migctl resume -q "$dst"
		echo $? >"$f.resume.rc"
	}
	t1=$(date +%s.%N)
	[ "$(cat "$f.save.rc")" = 0 ] || fail "save of $mb MiB exited $(cat "$f.save.rc")"
	[ "$(cat "$f.resume.rc")" = 0 ] || fail "resume of $mb MiB exited $(cat "$f.resume.rc")"
	expect_same_state "$src" "$dst"
	expect_msim "$dst" size $((mb << 20))
	expect_msim_state "$dst" RUNNING
	echo "$t1 - $t0" | bc >"$f.seconds"
	printf '# %5d MiB: %.1f s, peak RSS save %s KiB, resume %s KiB\n' "$mb" \
		"$(cat "$f.seconds")" "$(head -n 1 "$f.save.rss")" "$(head -n 1 "$f.resume.rss")" >&3
}

@test "scale: save | resume of 64 MiB, digests equal" {
	migrate "$SMALL_MB"
}

# The big size: the knob, or 1 GiB if the 64 MiB run says it fits the budget
scale_mb() {
	local t
	if [ -n "${VM_TEST_MIGSIM_SCALE_MB:-}" ]; then
		echo "$VM_TEST_MIGSIM_SCALE_MB"
		return
	fi
	t=$(cat "$BATS_FILE_TMPDIR/$SMALL_MB.seconds" 2>/dev/null) || t=0
	awk -v t="$t" -v small="$SMALL_MB" -v budget="$SCALE_BUDGET" 'BEGIN {
		mb = 1024
		while (mb > 128 && t * mb / small > budget)
			mb /= 2
		print mb
	}'
}

@test "scale: save | resume of 1 GiB (VM_TEST_MIGSIM_SCALE_MB), digests equal" {
	local mb
	mb=$(scale_mb)
	echo "$mb" >"$BATS_FILE_TMPDIR/scale_mb"
	[ "$mb" = 1024 ] || [ -n "${VM_TEST_MIGSIM_SCALE_MB:-}" ] ||
		echo "# 1 GiB would take over ${SCALE_BUDGET} s here: $mb MiB instead" >&3
	migrate "$mb"
}

@test "scale: the peak RSS of save and resume does not grow with the state" {
	local side small big mb
	mb=$(cat "$BATS_FILE_TMPDIR/scale_mb") || fail "the big run did not happen"
	[ "$mb" -ge $((2 * SMALL_MB)) ] ||
		fail "VM_TEST_MIGSIM_SCALE_MB=$mb is too small to show growth"
	for side in save resume; do
		read -r small <"$BATS_FILE_TMPDIR/$SMALL_MB.$side.rss" ||
			fail "no $SMALL_MB MiB figure: did the first test fail?"
		read -r big <"$BATS_FILE_TMPDIR/$mb.$side.rss" ||
			fail "no $mb MiB figure: did the second test fail?"
		[ "$big" -lt $((small + RSS_SLACK_KIB)) ] ||
			fail "$side: $big KiB at $mb MiB, $small KiB at $SMALL_MB MiB"
	done
}

@test "scale: migsim unloads cleanly" {
	expect_clean_unload
}
