#!/usr/bin/env bats
# --from-pid: looking at and acting on a device another process holds,
# through that process's own file, as it is: its cdev file, or a device
# file it opened through the group that the kernel names as the device's
# (fdinfo, Linux 6.18; refused where the kernel does not say).  Never a
# file of our own.  The holder stands in for a VMM: `vfio-migctl
# hold --via=cdev|group DEV -- CMD`, whose process keeps the device open
# while CMD waits for the test, then checks the device through the held
# file.
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
	require_vm
}

teardown() {
	mtty_teardown
}

# start_holder VIA DEV [BEFORE [AFTER]]: a holder of DEV in the background.
# Its CMD runs BEFORE with the device held ($dev names it), says it is
# ready, waits for release_holder, then runs AFTER, into $T/holder.out.
# HOLDER is the pid of hold's process, which has the device open; HELD_CMD
# CMD's, which inherited it (both are ended by teardown, so that a test
# that fails half-way leaves no user that would block the device's removal).
start_holder() {
	local i
	mkfifo "$T/go"
	exec 8<>"$T/go" # opened both ways: neither side blocks on opening it
	vfio-migctl hold --via="$1" "$2" -- bash -c '
		set -e
		echo $$ >"$2/cmd.pid"
		dev=$1
		eval "$3"
		: >"$2/ready"
		read -r _ <"$2/go"
		eval "$4"' holder "$2" "$T" "${3:-}" "${4:-}" >"$T/holder.out" 2>"$T/holder.err" 8>&- &
	HOLDER=$!
	bg_track "$HOLDER"
	for ((i = 0; i < 300; i++)); do
		[ ! -e "$T/ready" ] || break
		[ -d "/proc/$HOLDER" ] || break
		sleep 0.05
	done
	if [ -s "$T/cmd.pid" ]; then
		read -r HELD_CMD <"$T/cmd.pid"
		bg_track "$HELD_CMD"
	fi
	[ -e "$T/ready" ] || fail "the holder never got ready: $(cat "$T/holder.err")"
}

# release_holder: let CMD go on and end; holder_status is hold's (CMD's)
release_holder() {
	echo go >&8
	exec 8>&-
	holder_status=0
	wait "$HOLDER" || holder_status=$?
	[ "$holder_status" -eq 0 ] ||
		fail "the holder exited $holder_status: $(cat "$T/holder.err")"
}

# kernel_names_device_files PID: a device file PID opened through a group
# says whose it is in its fdinfo (vfio-device-syspath, Linux 6.18)
kernel_names_device_files() {
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f")" = "anon_inode:[vfio-device]" ] || continue
		grep -q '^vfio-device-syspath: /sys/' "/proc/$1/fdinfo/${f##*/}" && return 0
	done
	return 1
}

# What --from-pid says when the holder's device files do not say whose they are
unnamed_refusal() { # PID
	echo "--from-pid $1: it holds the device's group, but this kernel does not say which device its device files are \(fdinfo's vfio-device-syspath, Linux 6\.18\), and a new one from the group could be the device's first open \(a reset\): refused$"
}

# The same through either of the holder's files; WORDS: how -v and info
# say which was used.
through_holder() { # VIA WORDS
	local via=$1 words=$2 words_re dev
	words_re=${words//(/\\(}
	words_re=${words_re//)/\\)}
	dev=$(mtty_create)
	start_holder "$via" "$dev" 'mtty-reg "$dev" set scr 0x5a' \
		'vfio-migctl state "$dev"; mtty-reg "$dev" get scr'

	# An open of our own is refused, naming the holder and the way in
	run -3 --separate-stderr vfio-migctl --via="$via" state "$dev"
	expect_error state "in use by vfio-migctl \(pid $HOLDER\).*; --from-pid $HOLDER acts through its open file$"

	# Through a group, before 6.18: nothing proves which device the
	# holder's device file is; refused, looking included, and nothing moved
	if [ "$via" = group ] && ! kernel_names_device_files "$HOLDER"; then
		run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" info "$dev"
		expect_error info "$(unnamed_refusal "$HOLDER")"
		run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" state --force "$dev" stop
		expect_error state "$(unnamed_refusal "$HOLDER")"
		release_holder
		[ "$(cat "$T/holder.out")" = $'RUNNING\n0x5a' ] ||
			fail "the holder's file: $(cat "$T/holder.out")"
		return 0
	fi

	# Looking is free; -v and info say which of its files was used
	run -0 --separate-stderr vfio-migctl -v --from-pid "$HOLDER" info "$dev"
	[[ $stderr == "vfio-migctl: info: $dev: using fd "[0-9]*" of vfio-migctl (pid $HOLDER), /dev/vfio/"*": $words" ]] ||
		fail "-v: $stderr"
	grep -qxE "from pid: +$HOLDER \(vfio-migctl\), its fd [0-9]+: $words_re" <<<"$output" ||
		fail "info: $output"
	grep -qxE "state: +RUNNING" <<<"$output" || fail "info: $output"
	run -0 --separate-stderr vfio-migctl --json --from-pid "$HOLDER" info "$dev"
	jq -e --argjson pid "$HOLDER" --arg via "$via" '.state == "RUNNING" and .via == $via
		and .from_pid.pid == $pid and .from_pid.comm == "vfio-migctl"
		and (.from_pid.fd | type) == "number"' <<<"$output" >/dev/null || fail "json: $output"

	# A change asks for --force; without it nothing changes
	run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" state "$dev" stop
	expect_error state "the device is in use by vfio-migctl \(pid $HOLDER\): changing its state through its file needs --force$"
	run -0 --separate-stderr vfio-migctl --from-pid "$HOLDER" state --force "$dev" stop
	[ "$output" = "RUNNING -> STOP" ] || fail "stop: $output"

	# hold --from-pid: the commands under it go through the holder too, as
	# carefully, and the device is left as they leave it, a data state too
	# (a plain hold would end it)
	run -0 --separate-stderr vfio-migctl --from-pid "$HOLDER" hold "$dev" -- bash -c '
		vfio-migctl state "$1"
		vfio-migctl state "$1" running 2>/dev/null || echo "refused $?"
		vfio-migctl state --force "$1" stop_copy' - "$dev"
	[ "$output" = $'STOP\nrefused 3\nSTOP -> STOP_COPY' ] || fail "under hold --from-pid: $output"
	[[ $stderr == *"released in STOP_COPY; still held by vfio-migctl (pid $HOLDER)"* ]] ||
		fail "hold --from-pid: $stderr"

	run -0 --separate-stderr vfio-migctl --from-pid "$HOLDER" state --force "$dev" running
	[ "$output" = "STOP_COPY -> RUNNING" ] || fail "running: $output"

	# The holder lived through it all, and its own file reads RUNNING and
	# the scratch register it set
	[ -d "/proc/$HOLDER" ] || fail "the holder is gone"
	release_holder
	[ "$(cat "$T/holder.out")" = $'RUNNING\n0x5a' ] || fail "the holder's file: $(cat "$T/holder.out")"
}

@test "through the holder's cdev file: info, state STOP and back, hold; its file and SCR intact" {
	through_holder cdev "its cdev file, as it is"
}

@test "through the holder's group: info, state STOP and back, hold (refused before 6.18); its file and SCR intact" {
	through_holder group "its device file (opened through its group), as it is"
}

# A migsim device pushed into ERROR while held, and reset through the holder
error_reset_through() { # VIA
	local dev
	require_migsim
	dev=$(migsim_create basic "fail_arc=RUNNING STOP 5 error")
	if [ "$1" = group ]; then
		# Before 6.18 only the holder itself may reset it (its CMD, here)
		start_holder "$1" "$dev" 'vfio-migctl state "$dev" stop || :' \
			'vfio-migctl reset "$dev" >/dev/null; vfio-migctl state "$dev"'
		if ! kernel_names_device_files "$HOLDER"; then
			expect_msim_state "$dev" ERROR
			run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" reset "$dev"
			expect_error reset "$(unnamed_refusal "$HOLDER")"
			expect_msim_state "$dev" ERROR
			expect_msim "$dev" reset_count 0
			release_holder
			[ "$(cat "$T/holder.out")" = RUNNING ] ||
				fail "the holder's file: $(cat "$T/holder.out")"
			return 0
		fi
	else
		start_holder "$1" "$dev" '' 'vfio-migctl state "$dev"'
		run -6 --separate-stderr vfio-migctl --from-pid "$HOLDER" state --force "$dev" stop
	fi
	expect_msim_state "$dev" ERROR
	# Out of ERROR is the operator's case: no --force
	run -0 --separate-stderr vfio-migctl --from-pid "$HOLDER" reset "$dev"
	[ "$output" = "ERROR -> RUNNING" ] || fail "reset: $output"
	expect_msim_state "$dev" RUNNING
	# Any other reset asks for it
	run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" reset "$dev"
	expect_error reset "a reset of a device not in ERROR through its file needs --force$"
	expect_msim "$dev" reset_count 1
	release_holder
	[ "$(cat "$T/holder.out")" = RUNNING ] || fail "the holder's file: $(cat "$T/holder.out")"
}

@test "ERROR while held by its cdev: reset through the holder without --force; its file reads RUNNING" {
	error_reset_through cdev
}

@test "ERROR while held by its group: reset through the holder without --force (refused before 6.18); its file reads RUNNING" {
	error_reset_through group
}

@test "refusals: no such process, one without the device, a group with no device open, an unprivileged user, save and resume without --force" {
	local dev other group nopid attached i
	dev=$(mtty_create)
	start_holder cdev "$dev" '' 'vfio-migctl state "$dev"'

	read -r nopid </proc/sys/kernel/pid_max # pids stay below it
	run -3 --separate-stderr vfio-migctl --from-pid "$nopid" info "$dev"
	expect_error info "--from-pid $nopid: no such process \(or it has exited\)$"
	run -3 --separate-stderr vfio-migctl --from-pid $$ info "$dev"
	expect_error info "--from-pid $$: that process has not opened this device"

	# Taking another's file needs ptrace access to it
	run -3 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		vfio-migctl --from-pid "$HOLDER" info "$dev"
	expect_error info "--from-pid $HOLDER: permission denied; taking its files needs ptrace access"

	# A save and a resume change the device: refused before anything is
	# written or loaded; with --force they go through
	run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" save "$dev" -o "$T/s.mig"
	expect_error save "a save \(it stops the device\) through its file needs --force$"
	[ ! -e "$T/s.mig" ] || fail "a refused save left $T/s.mig"
	run -0 --separate-stderr vfio-migctl -q --from-pid "$HOLDER" save --force --then=running "$dev" -o "$T/s.mig"
	run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" resume "$dev" -i "$T/s.mig"
	expect_error resume "a resume \(it replaces the device's state\) through its file needs --force; the stream was not loaded$"
	run -0 --separate-stderr vfio-migctl -q --from-pid "$HOLDER" resume --force "$dev" -i "$T/s.mig"
	release_holder
	[ "$(cat "$T/holder.out")" = RUNNING ] || fail "the holder's file: $(cat "$T/holder.out")"

	# A group attached to a container with no device file through it: ours
	# would be the device's first open, which may reset it; refused
	other=$(mtty_create)
	group=$(group_of "$other")
	perl -e 'open(C, "+<", "/dev/vfio/vfio") && open(G, "+<", $ARGV[0]) or die "open: $!\n";
		# VFIO_GROUP_SET_CONTAINER, then VFIO_SET_IOMMU type1v2 (or type1)
		ioctl(G, 0x3B68, pack("i", fileno(C))) or die "SET_CONTAINER: $!\n";
		ioctl(C, 0x3B66, 3) || ioctl(C, 0x3B66, 1) or die "SET_IOMMU: $!\n";
		open(R, ">", $ARGV[1]) or die; close(R); sleep 60' "$group" "$T/attached" &
	attached=$!
	bg_track "$attached"
	for ((i = 0; i < 100; i++)); do
		[ ! -e "$T/attached" ] || break
		sleep 0.05
	done
	run -3 --separate-stderr vfio-migctl --from-pid "$attached" info "$other"
	expect_error info "--from-pid $attached: that process has not opened this device"
}

# A process that holds devices the way a VMM may, written out: perl, for
# its ioctl().  holder_cdevs A B: both cdevs bound to one iommufd; on
# SIGUSR1 it dup2()s B's file onto A's number (A's is closed), as a VMM
# that closes a device and opens another may reuse the number.
holder_cdevs() { # DEV-A DEV-B
	local i
	perl -MPOSIX -e '
		open(my $iommu, "+<", "/dev/iommu") or die "/dev/iommu: $!\n";
		open(my $a, "+<", $ARGV[0]) or die "$ARGV[0]: $!\n";
		open(my $b, "+<", $ARGV[1]) or die "$ARGV[1]: $!\n";
		# VFIO_DEVICE_BIND_IOMMUFD {argsz, flags, iommufd, out_devid}
		for my $f ($a, $b) {
			ioctl($f, 0x3B76, pack("LLlL", 16, 0, fileno($iommu), 0)) or die "BIND: $!\n";
		}
		$SIG{USR1} = sub {
			POSIX::dup2(fileno($b), fileno($a)) or die "dup2: $!\n";
			open(my $r, ">", $ARGV[3]) or die; close($r);
		};
		open(my $r, ">", $ARGV[2]) or die; close($r);
		sleep 1 while 1;' "$(cdev_of "$1")" "$(cdev_of "$2")" "$T/ready" "$T/swapped" \
		2>"$T/holder.err" &
	HOLDER=$!
	bg_track "$HOLDER"
	for ((i = 0; i < 100; i++)); do
		[ ! -e "$T/ready" ] || return 0
		sleep 0.05
	done
	fail "the holder never got ready: $(cat "$T/holder.err")"
}

@test "the holder's fd number given to another device between the look and pidfd_getfd: refused, that device untouched" {
	local a b mig rc=0 i
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	vm_has_cdevs || skip "no cdevs on this kernel"
	a=$(mtty_create)
	b=$(mtty_create)
	mtty-reg "$b" set scr 0x5a
	holder_cdevs "$a" "$b"

	# vfio-migctl finds A's cdev among the holder's files, then waits in
	# pidfd_getfd (strace delays it) while the holder puts B's file there
	strace -f -qq -o /dev/null -e trace=pidfd_getfd -e inject=pidfd_getfd:delay_enter=3000000 \
		bash -c 'echo $$ >"$1"; exec vfio-migctl --from-pid "$2" state --force "$3" stop' \
		- "$T/mig.pid" "$HOLDER" "$a" >"$T/out" 2>"$T/err" &
	mig=$!
	bg_track "$mig"
	for ((i = 0; i < 200; i++)); do
		# 438: pidfd_getfd on x86-64, the syscall it is stopped in
		[ -s "$T/mig.pid" ] && grep -q '^438 ' "/proc/$(cat "$T/mig.pid")/syscall" 2>/dev/null && break
		sleep 0.05
	done
	[ "$i" -lt 200 ] || fail "vfio-migctl never reached pidfd_getfd: $(cat "$T/err")"
	kill -USR1 "$HOLDER"
	for ((i = 0; i < 100; i++)); do
		[ ! -e "$T/swapped" ] || break
		sleep 0.05
	done
	[ -e "$T/swapped" ] || fail "the holder did not swap its files: $(cat "$T/holder.err")"
	wait "$mig" || rc=$?

	[ "$rc" -eq 3 ] || fail "exit $rc, expected 3: $(cat "$T/out" "$T/err")"
	[ ! -s "$T/out" ] || fail "stdout: $(cat "$T/out")"
	[ "$(cat "$T/err")" = "vfio-migctl: state: $a: --from-pid $HOLDER: its file for the device was closed or replaced while being taken: nothing was done" ] ||
		fail "stderr: $(cat "$T/err")"
	# B, now at A's number, was not touched: RUNNING, its SCR as it was
	kill -KILL "$HOLDER"
	wait "$HOLDER" 2>/dev/null || :
	expect_state "$b" RUNNING
	expect_reg "$b" scr 0x5a
	expect_state "$a" RUNNING
}

# holder_groups A B: both groups attached to one container, a device file
# opened through A's group only: B's group is there, B is not open.
holder_groups() { # DEV-A DEV-B
	local i
	perl -e '
		open(my $c, "+<", "/dev/vfio/vfio") or die "container: $!\n";
		open(my $ga, "+<", $ARGV[0]) or die "$ARGV[0]: $!\n";
		open(my $gb, "+<", $ARGV[1]) or die "$ARGV[1]: $!\n";
		# VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU type1v2 (or type1), then
		# the second group, and VFIO_GROUP_GET_DEVICE_FD for A
		ioctl($ga, 0x3B68, pack("i", fileno($c))) or die "SET_CONTAINER: $!\n";
		ioctl($c, 0x3B66, 3) || ioctl($c, 0x3B66, 1) or die "SET_IOMMU: $!\n";
		ioctl($gb, 0x3B68, pack("i", fileno($c))) or die "SET_CONTAINER: $!\n";
		my $dev = ioctl($ga, 0x3B6A, $ARGV[2]) or die "GET_DEVICE_FD: $!\n";
		open(my $r, ">", $ARGV[3]) or die; close($r);
		sleep 1 while 1;' "$(group_of "$1")" "$(group_of "$2")" "$1" "$T/ready" \
		2>"$T/holder.err" &
	HOLDER=$!
	bg_track "$HOLDER"
	for ((i = 0; i < 100; i++)); do
		[ ! -e "$T/ready" ] || return 0
		sleep 0.05
	done
	fail "the holder never got ready: $(cat "$T/holder.err")"
}

@test "through a group, never a device file of our own: B's group held, only A open; info B is refused and opens nothing" {
	local a b
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	a=$(mtty_create)
	b=$(mtty_create)
	holder_groups "$a" "$b"

	# Looking at B would have been B's first open (VFIO_GROUP_GET_DEVICE_FD
	# on the holder's group: for vfio-pci, a function reset)
	run -3 --separate-stderr strace -f -qq -o "$T/trace" -e trace=openat,ioctl \
		vfio-migctl --via=group --from-pid "$HOLDER" info "$b"
	if kernel_names_device_files "$HOLDER"; then
		expect_error info "--from-pid $HOLDER: that process has not opened this device"
	else
		expect_error info "$(unnamed_refusal "$HOLDER")"
	fi
	if grep -E 'openat\(.*"/dev/vfio/|0x3b, 0x6a|GET_DEVICE_FD' "$T/trace"; then
		fail "a device or group node was opened, or a device file asked for"
	fi

	# A's own device file: used as it is where the kernel says whose it is
	if kernel_names_device_files "$HOLDER"; then
		run -0 --separate-stderr vfio-migctl --from-pid "$HOLDER" info "$a"
		grep -qxE "from pid: +$HOLDER \(perl\), its fd [0-9]+: its device file \(opened through its group\), as it is" <<<"$output" ||
			fail "info: $output"
	else
		run -3 --separate-stderr vfio-migctl --from-pid "$HOLDER" info "$a"
		expect_error info "$(unnamed_refusal "$HOLDER")"
	fi
}

@test "hold: an inherited VFIO_MIGCTL_HOLD_FD that is not the named device's file is refused; neither device touched" {
	local a b
	vm_has_cdevs || skip "no cdevs on this kernel"
	a=$(mtty_create)
	b=$(mtty_create)
	mtty-reg "$b" set scr 0x5a
	# B's held cdev file passed off as A's
	run -3 --separate-stderr vfio-migctl -q --via=cdev hold "$b" -- bash -c '
		VFIO_MIGCTL_HOLD_DEVICE=$1 exec vfio-migctl state "$1" stop' - "$a"
	expect_error state "^vfio-migctl: state: $a: VFIO_MIGCTL_HOLD_FD=[0-9]+ is not this device's file \(another device's, or no VFIO device's\): refused$"
	expect_state "$b" RUNNING
	expect_reg "$b" scr 0x5a
	expect_state "$a" RUNNING
	# Not a VFIO device's file at all
	run -3 --separate-stderr bash -c '
		VFIO_MIGCTL_HOLD_DEVICE=$1 VFIO_MIGCTL_HOLD_FD=0 vfio-migctl state "$1" stop </dev/zero' - "$a"
	expect_error state "VFIO_MIGCTL_HOLD_FD=0 is not this device's file \(another device's, or no VFIO device's\): refused$"
	expect_state "$a" RUNNING
}

@test "a holder that exits during the command: one line, status 3, after the save completed" {
	local dev saver rc=0 i
	dev=$(mtty_create)
	start_holder cdev "$dev"
	full_fifo "$T/fifo"
	vfio-migctl --from-pid "$HOLDER" save --force "$dev" >"$T/fifo" 2>"$T/save.err" 3>&- 8>&- &
	saver=$!
	bg_track "$saver"
	wait_blocked "$saver"
	# The holder goes, its CMD (which inherited the device) too: the save's
	# file is the device's last
	kill -KILL "$HOLDER" "$HELD_CMD"
	wait "$HOLDER" || :
	exec 8>&-
	for ((i = 0; i < 100; i++)); do
		dd iflag=nonblock bs=64K status=none <&7 >/dev/null 2>&1 || :
		[ -d "/proc/$saver" ] || break
		sleep 0.05
	done
	wait "$saver" || rc=$?
	exec 7<&-
	[ "$rc" -eq 3 ] || fail "save exited $rc: $(cat "$T/save.err")"
	grep -q "^saved .*; now STOP$" "$T/save.err" || fail "no summary: $(cat "$T/save.err")"
	grep -qx "vfio-migctl: save: $dev: vfio-migctl (pid $HOLDER) exited during the command: .*" \
		"$T/save.err" || fail "stderr: $(cat "$T/save.err")"
	# Nobody holds it now: it opens as any free device
	expect_state "$dev" STOP
}

@test "migsim: every device removed, no reference left, the module unloads" {
	require_migsim
	expect_clean_unload
}
