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

@test "wait: an absent or non-VFIO device times out with 3 and one line" {
	local start=$SECONDS
	run -3 --separate-stderr migctl wait 0000:99:00.0 --timeout=1
	no_stdout
	one_error_line "vfio-migctl: wait: 0000:99:00.0:"
	[ $((SECONDS - start)) -ge 1 ] || fail "returned before the timeout"
	run -3 --separate-stderr migctl wait "$NET_PCI" --timeout=1
	one_error_line "vfio-migctl: wait:"
}

@test "wait: a bad --timeout is a usage error" {
	run -2 --separate-stderr migctl wait "$CDEV_PCI" --timeout=soon
	stderr_has soon
	[[ "$stderr" == vfio-migctl* ]]
}
