#!/usr/bin/env bats
# wait DEV on the fixture root: a device that is ready returns at once, one
# that is not times out with status 3; nothing is opened either way.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
}

@test "wait: a VFIO-bound device with its node is ready at once (0)" {
	run -0 --separate-stderr timeout 5 "$MIGCTL" --sysroot="$ROOT" wait "$CDEV_PCI" --timeout=30
	[ "$output" = "$CDEV_PCI ready at $ROOT/dev/vfio/devices/vfio3" ]
	[ -z "$stderr" ]
	run -0 --separate-stderr timeout 5 "$MIGCTL" --sysroot="$ROOT" --json wait "$GROUP_ONLY"
	jq -e --arg n "$ROOT/dev/vfio/20" '.device == "0000:af:00.0" and .node == $n' <<<"$output"
}

@test "wait: opens no device node" {
	trace_opens wait "$MTTY" --timeout=1
	[ "$traced_status" -eq 0 ]
	[ -z "$nodes" ] || fail "wait opened: $nodes"
}

@test "wait: an absent or driverless device times out with 3, saying what is missing" {
	local start=$SECONDS
	run -3 --separate-stderr migctl wait 0000:99:00.0 --timeout=1
	no_stdout
	one_error_line "vfio-migctl: wait: 0000:99:00.0: not ready after 1 s: no such device"
	[ $((SECONDS - start)) -ge 1 ] || fail "returned before the timeout"
	run -3 --separate-stderr migctl wait "$NODRV_PCI" --timeout=0.5
	one_error_line "vfio-migctl: wait: $NODRV_PCI: not ready after 0.5 s: not bound to a VFIO driver (no driver)"
	run -3 --separate-stderr migctl wait "$NODRV_PCI" --timeout=300ms
	one_error_line "vfio-migctl: wait: $NODRV_PCI: not ready after 0.3 s:"
}

@test "wait: what can never become ready is refused at once, as info refuses it" {
	# timeout(1) ends a wait that sits out its own 30 s timeout: status 124
	run -2 --separate-stderr timeout 10 "$MIGCTL" --sysroot="$ROOT" wait notadevice --timeout=30
	one_error_line "vfio-migctl: wait: notadevice: not a device name"
	run -2 --separate-stderr timeout 10 "$MIGCTL" --sysroot="$ROOT" wait /dev/vfio/14 --timeout=30
	one_error_line "vfio-migctl: wait: /dev/vfio/14: the group holds 2 devices"
	run -3 --separate-stderr timeout 10 "$MIGCTL" --sysroot="$ROOT" wait "$NET_PCI" --timeout=30
	one_error_line "vfio-migctl: wait: $NET_PCI: not bound to a VFIO driver (bound to e1000e)"
}

@test "wait: a bad --timeout is a usage error" {
	run -2 --separate-stderr migctl wait "$CDEV_PCI" --timeout=soon
	stderr_has soon
	# the DURATION parser of save's --downtime: a suffix but no sign
	run -2 --separate-stderr migctl wait "$CDEV_PCI" --timeout=-1
	stderr_has "'-1'"
	run -2 --separate-stderr migctl wait "$CDEV_PCI" --timeout=1m
	stderr_has 1m
	[[ "$stderr" == vfio-migctl* ]]
}
