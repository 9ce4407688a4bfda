#!/usr/bin/env bats
# What a new user trips over, on real mtty devices: one line for each
# mistake, naming the cause and the remedy; reports that say what the man
# page says they say.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

MAN=$BATS_TEST_DIRNAME/../../man/vfio-migctl.1

# The man page's example of a report, as a pattern: numbers match numbers
man_example() { # PREFIX
	grep -m1 "^$1 " "$MAN" | sed -e 's/\\-/-/g' -e 's/[.()]/\\&/g' -e 's/[0-9][0-9]*/[0-9]+/g'
}

@test "the save and resume summaries read as the man page shows them" {
	mtty_fill "$SRC" 0x11 0x03 "x"
	run -0 --separate-stderr vfio-migctl save --precopy "$SRC" -o "$T/s.mig"
	pattern=$(man_example saved)
	[[ $pattern == *precopy* ]] || fail "the man page's example has no precopy: $pattern"
	[[ $output =~ ^$pattern$ ]] || fail "save said: $output" "the man page: $pattern"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/s.mig"
	pattern=$(man_example resumed)
	[[ $output =~ ^$pattern$ ]] || fail "resume said: $output" "the man page: $pattern"
}

@test "resume --raw of a framed stream: says so, before the device sees a byte" {
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	vfio-migctl -q state "$DST" stop >/dev/null
	run -7 --separate-stderr vfio-migctl resume --raw "$DST" -i "$T/s.mig"
	expect_error resume "this is a framed vfio-migctl stream; drop --raw; device unchanged \(STOP\)$"
	expect_state "$DST" STOP
}

@test "resume --force of another kind of device's stream: one line, with the reason" {
	OTHER=$(mtty_create mtty-2)
	run -0 --separate-stderr vfio-migctl save "$OTHER" -o "$T/two.mig"
	# mtty itself then refuses two ports in one: one line says both
	run -7 --separate-stderr vfio-migctl resume --force "$DST" -i "$T/two.mig"
	expect_error resume "accepted with --force: stream is from mdev type mtty-2"
}

@test "hold CMD that does not exist: one line, status 127" {
	run -127 --separate-stderr vfio-migctl hold "$SRC" -- /nonexistent/cmd
	expect_error hold "cannot run /nonexistent/cmd: No such file or directory; released in RUNNING$"
}

# CMD for hold: a background sleep that outlives it, its pid in $T/bg; CMD
# ends once the job is sleep itself (not yet the shell forked to run it)
BG_SLEEP='sleep 5 & echo $! >"$1"; until read -r c </proc/$!/comm && [ "$c" = sleep ]; do :; done'

@test "hold: a background process still holding the device is named" {
	run -0 --separate-stderr vfio-migctl hold "$SRC" -- sh -c "$BG_SLEEP" sh "$T/bg"
	read -r bg <"$T/bg"
	bg_track "$bg"
	expect_error hold "released in RUNNING; still held by sleep \(pid $bg\)$"
	run -0 --separate-stderr vfio-migctl --json hold "$SRC" -- sh -c "$BG_SLEEP" sh "$T/bg"
	read -r bg <"$T/bg"
	bg_track "$bg"
	jq -e --argjson p "$bg" '.held_by == [{"pid": $p, "comm": "sleep"}]' <<<"$stderr" >/dev/null ||
		fail "json: $stderr"
}

@test "save | resume whose reader fails early: resume says nothing was loaded; save leaves the state its status says" {
	absent=$(cat /proc/sys/kernel/random/uuid)
	# save may end well, its small stream all in the pipe (the device then
	# in STOP, the --then default), or meet EPIPE and put RUNNING back
	save_resume -q "$SRC" -- "$absent"
	[ "$resume_status" -ne 0 ] || fail "resume succeeded"
	[[ $resume_err == *"resume: $absent: no such device; the stream was not loaded"* ]] || fail "$resume_err"
	case $save_status in
	0) expect_state "$SRC" STOP ;;
	1) expect_state "$SRC" RUNNING ;;
	*) fail "save exited $save_status" ;;
	esac
}

@test "JSON seconds have six decimals" {
	run -0 --separate-stderr vfio-migctl --json save "$SRC" -o "$T/s.mig"
	[[ $output =~ \"seconds\":\ ?[0-9]+\.[0-9]{6}[,$'\n'] ]] || fail "$output"
	[[ $output =~ \"stopped_seconds\":\ ?[0-9]+\.[0-9]{6}[,$'\n'] ]] || fail "$output"
}
