#!/usr/bin/env bats
# --from-pid PID on the host, without a device: the values it takes, the
# commands it is for, and the processes it refuses (none, gone, without
# the device), each one line with its status.  What needs a device held by
# a live process is in tests/vm/52-from-pid.bats.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
}

@test "--from-pid: what is not a process id is a usage error, before or after the command" {
	local bad
	for bad in abc 0 -3 +5 07 1.5 '' 2147483648; do
		run -2 --separate-stderr migctl --from-pid="$bad" info "$CDEV_PCI"
		one_error_line "vfio-migctl: --from-pid takes a process id, not '$bad'"
		run -2 --separate-stderr migctl state --from-pid="$bad" "$CDEV_PCI"
		one_error_line "vfio-migctl: state: --from-pid takes a process id, not '$bad'"
	done
	run -2 --separate-stderr migctl info "$CDEV_PCI" --from-pid
	one_error_line "vfio-migctl: info: option '--from-pid' requires an argument"
}

@test "--from-pid: a command that acts on no one device refuses it" {
	local cmd
	for cmd in "list" "inspect -" "wait --timeout=0 $CDEV_PCI" "monitor --timeout=0"; do
		# shellcheck disable=SC2086 # the command and its arguments
		run -2 --separate-stderr migctl --from-pid=$$ $cmd </dev/null
		one_error_line "vfio-migctl: ${cmd%% *}: --from-pid is for the commands that act on one device"
		no_stdout
	done
}

@test "--from-pid: no such process is status 3, one line" {
	local nopid
	# pids stay below pid_max: this one is never a process
	read -r nopid </proc/sys/kernel/pid_max
	run -3 --separate-stderr migctl --from-pid "$nopid" info "$CDEV_PCI"
	one_error_line "vfio-migctl: info: $CDEV_PCI: --from-pid $nopid: no such process (or it has exited)"
	no_stdout
}

@test "--from-pid: a process that exited (a zombie, with its pid but no files) is status 3" {
	# A child that exits once its shell has become a sleep, which never
	# reaps it: it stays a zombie, with its pid
	local t=$BATS_TEST_TMPDIR parent comm zombie state i
	mkfifo "$t/exit"
	# shellcheck disable=SC2016 # the inner shell's $1 and $!
	bash -c '(read -r _ <"$1/exit") & echo $! >"$1/zpid"; exec sleep 30' - "$t" &
	parent=$!
	for ((i = 0; i < 100; i++)); do
		read -r comm <"/proc/$parent/comm" && [ "$comm" = sleep ] && break
		sleep 0.05
	done
	read -r zombie <"$t/zpid"
	echo >"$t/exit"
	for ((i = 0; i < 100; i++)); do
		read -r _ _ state _ <"/proc/$zombie/stat" && [ "$state" = Z ] && break
		sleep 0.05
	done
	[ "$state" = Z ] || fail "no zombie (state '$state')"
	run -3 --separate-stderr migctl --from-pid "$zombie" state "$CDEV_PCI"
	kill "$parent"
	one_error_line "vfio-migctl: state: $CDEV_PCI: --from-pid $zombie: no such process (or it has exited)"
}

@test "--from-pid: a process without the device open is status 3, one line" {
	run -3 --separate-stderr migctl --from-pid $$ reset "$CDEV_PCI"
	one_error_line "vfio-migctl: reset: $CDEV_PCI: --from-pid $$: that process has not opened this device (by its cdev, or through its group)"
	no_stdout
	# --via narrows which of its files may be used; it does not change the answer
	run -3 --separate-stderr migctl --via=group --from-pid $$ info "$CDEV_PCI"
	stderr_has "that process has not opened this device"
}

@test "hold: an inherited descriptor that is not the named device's file is refused, one line, status 3" {
	# /dev/null is a character device, but not this device's cdev; a pipe
	# is no device file at all; fd 9 is not open
	VFIO_MIGCTL_HOLD_DEVICE=$CDEV_PCI VFIO_MIGCTL_HOLD_FD=0 \
		run -3 --separate-stderr migctl state "$CDEV_PCI" stop </dev/null
	one_error_line "vfio-migctl: state: $CDEV_PCI: VFIO_MIGCTL_HOLD_FD=0 is not this device's file (another device's, or no VFIO device's): refused"
	no_stdout
	VFIO_MIGCTL_HOLD_DEVICE=$CDEV_PCI VFIO_MIGCTL_HOLD_FD=0 \
		run -3 --separate-stderr migctl info "$CDEV_PCI" < <(:)
	one_error_line "vfio-migctl: info: $CDEV_PCI: VFIO_MIGCTL_HOLD_FD=0 is not this device's file"
	VFIO_MIGCTL_HOLD_DEVICE=$CDEV_PCI VFIO_MIGCTL_HOLD_FD=9 \
		run -3 --separate-stderr migctl info "$CDEV_PCI" 9<&-
	one_error_line "vfio-migctl: info: $CDEV_PCI: VFIO_MIGCTL_HOLD_FD=9 is not an open file"
}

@test "hold --from-pid: the commands under it take their file from that process too" {
	# What 'hold --from-pid PID' passes down: a held device, and the process
	# to take it from.  A command for that device goes to the process (here
	# one without it), not to the inherited descriptor.
	VFIO_MIGCTL_HOLD_DEVICE=$CDEV_PCI VFIO_MIGCTL_HOLD_FD=0 VFIO_MIGCTL_HOLD_FROM_PID=$$ \
		run -3 --separate-stderr migctl info "$CDEV_PCI"
	one_error_line "vfio-migctl: info: $CDEV_PCI: --from-pid $$: that process has not opened this device"
	VFIO_MIGCTL_HOLD_DEVICE=$CDEV_PCI VFIO_MIGCTL_HOLD_FD=0 VFIO_MIGCTL_HOLD_FROM_PID=x \
		run -3 --separate-stderr migctl info "$CDEV_PCI"
	one_error_line "vfio-migctl: info: $CDEV_PCI: VFIO_MIGCTL_HOLD_FROM_PID=x is not a process id"
}
