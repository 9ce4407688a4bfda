#!/usr/bin/env bats
# Device names through the resolver: every form a user types, the errors
# (exit status and one line "vfio-migctl: <command>: ..."), and which /dev
# node each name leads to (seen with strace: the fixture nodes are regular
# files, so the open itself fails with exit 3 once the name is resolved).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
}

# A device that resolves but is no real VFIO device: exit 3, and the
# cause is not a resolver error.
opened_but_not_vfio() {
	one_error_line "vfio-migctl: $1:"
	[[ "$stderr" != *"no such device"* ]] || fail "resolver said no such device"
	[[ "$stderr" != *"not bound"* ]] || fail "resolver said not bound"
	[[ "$stderr" != *"not a device name"* ]] || fail "resolver said not a device name"
}

@test "no such device: exit 3 for every command, one line naming the command and DEV" {
	# (resume --raw: a framed resume reads the stream's header first)
	for cmd in info state reset save "resume --raw"; do
		run -3 --separate-stderr migctl $cmd 0000:99:00.0 </dev/null
		cmd=${cmd%% *}
		no_stdout
		one_error_line "vfio-migctl: $cmd:"
		stderr_has "0000:99:00.0"
		stderr_has "no such device"
	done
}

@test "no such device: every naming form" {
	for dev in 99:00.0 /dev/vfio/devices/vfio9 /dev/vfio/99 \
		00000000-0000-0000-0000-000000000000 /sys/bus/pci/devices/0000:99:00.0 \
		/sys/class/vfio-dev/vfio9; do
		run -3 --separate-stderr migctl info "$dev"
		one_error_line "vfio-migctl: info:"
		stderr_has "no such device"
	done
}

@test "not bound to VFIO: exit 3, names the driver it is bound to" {
	for cmd in info state; do
		run -3 --separate-stderr migctl "$cmd" "$NET_PCI"
		no_stdout
		one_error_line "vfio-migctl: $cmd:"
		stderr_has "not bound to a VFIO driver"
		stderr_has e1000e
	done
	run -3 --separate-stderr migctl info 00:1f.6
	stderr_has e1000e
}

@test "not bound to any driver: exit 3, says so" {
	run -3 --separate-stderr migctl info "$NODRV_PCI"
	one_error_line "vfio-migctl: info:"
	stderr_has "not bound to a VFIO driver"
	stderr_has "no driver"
}

@test "a group of two devices: exit 2, one line listing both" {
	for cmd in info state; do
		run -2 --separate-stderr migctl "$cmd" /dev/vfio/14
		no_stdout
		one_error_line "vfio-migctl: $cmd:"
		stderr_has "$SHARED_A"
		stderr_has "$SHARED_B"
	done
	run -2 --separate-stderr migctl info /sys/kernel/iommu_groups/14
	one_error_line "vfio-migctl: info:"
	stderr_has "$SHARED_A"
	stderr_has "$SHARED_B"
}

@test "/dev/vfio/vfio is the container, not a device: exit 2" {
	run -2 --separate-stderr migctl info /dev/vfio/vfio
	no_stdout
	one_error_line "vfio-migctl: info:"
}

@test "garbage: exit 2, not a device name" {
	for dev in not-a-device 3b:00 0000:3b:00.9 3b:00.1x /tmp/vfio0 /dev/null \
		83b8f4f2-509f-382f-3c1e; do
		run -2 --separate-stderr migctl info "$dev"
		no_stdout
		one_error_line "vfio-migctl: info:"
		stderr_has "not a device name"
	done
}

@test "--via cdev on a device without a cdev: exit 3, says cdev" {
	run -3 --separate-stderr migctl --via=cdev info "$GROUP_ONLY"
	no_stdout
	one_error_line "vfio-migctl: info:"
	stderr_has cdev
	[[ "$stderr" != *"no such device"* ]] || fail "reported as absent"
	# the same device through its group gets as far as the node
	trace_opens --via=group info "$GROUP_ONLY"
	opens_only /dev/vfio/20 /dev/vfio/vfio
}

@test "a PCI address opens the cdev (and /dev/iommu), full or short" {
	for dev in "$CDEV_PCI" 3b:00.1; do
		run -3 --separate-stderr migctl info "$dev"
		opened_but_not_vfio info
		trace_opens info "$dev"
		[ "$traced_status" -eq 3 ]
		opens_only /dev/vfio/devices/vfio3 /dev/iommu
		grep -qx /dev/vfio/devices/vfio3 <<<"$nodes" || fail "vfio3 not opened"
	done
}

@test "a cdev node and the sysfs paths of a device open that device's cdev" {
	for dev in /dev/vfio/devices/vfio3 /sys/bus/pci/devices/$CDEV_PCI \
		/sys/class/vfio-dev/vfio3 \
		/sys/devices/pci0000:3a/0000:3a:00.0/$CDEV_PCI \
		/sys/devices/pci0000:3a/0000:3a:00.0/$CDEV_PCI/vfio-dev/vfio3; do
		trace_opens info "$dev"
		[ "$traced_status" -eq 3 ] || fail "$dev: exit $traced_status"
		opens_only /dev/vfio/devices/vfio3 /dev/iommu
		grep -qx /dev/vfio/devices/vfio3 <<<"$nodes" || fail "$dev: vfio3 not opened"
	done
}

@test "--via group opens the group and the container, never the cdev" {
	trace_opens --via=group info "$CDEV_PCI"
	[ "$traced_status" -eq 3 ]
	opens_only /dev/vfio/12 /dev/vfio/vfio
	trace_opens info --via group "$SHARED_B"
	opens_only /dev/vfio/14 /dev/vfio/vfio
}

@test "a group node opens the group" {
	run -3 --separate-stderr migctl info /dev/vfio/12
	opened_but_not_vfio info
	trace_opens info /dev/vfio/12
	opens_only /dev/vfio/12 /dev/vfio/vfio
}

@test "a vfio-pci device without a cdev is opened through its group" {
	run -3 --separate-stderr migctl info "$GROUP_ONLY"
	opened_but_not_vfio info
	trace_opens info "$GROUP_ONLY"
	opens_only /dev/vfio/20 /dev/vfio/vfio
}

@test "one device of a shared group, by name, opens its own cdev" {
	trace_opens state "$SHARED_B"
	[ "$traced_status" -eq 3 ]
	opens_only /dev/vfio/devices/vfio5 /dev/iommu
}

@test "an mdev UUID and its sysfs path open the mdev's cdev" {
	for dev in "$MTTY" "/sys/bus/mdev/devices/$MTTY" /dev/vfio/devices/vfio0; do
		run -3 --separate-stderr migctl info "$dev"
		opened_but_not_vfio info
		trace_opens info "$dev"
		opens_only /dev/vfio/devices/vfio0 /dev/iommu
	done
	trace_opens --via=group info "$MTTY"
	opens_only /dev/vfio/0 /dev/vfio/vfio
}

@test "state, reset, save and resume resolve the same way as info" {
	trace_opens state "$CDEV_PCI"
	opens_only /dev/vfio/devices/vfio3 /dev/iommu
	trace_opens reset 3b:00.1
	opens_only /dev/vfio/devices/vfio3 /dev/iommu
	trace_opens save "$MTTY" -o "$BATS_TEST_TMPDIR/out"
	opens_only /dev/vfio/devices/vfio0 /dev/iommu
	trace_opens --via=group resume --raw "$CDEV_PCI"
	opens_only /dev/vfio/12 /dev/vfio/vfio
}

@test "--json does not change where errors go: one line on stderr, nothing on stdout" {
	run -3 --separate-stderr migctl --json info 0000:99:00.0
	no_stdout
	one_error_line "vfio-migctl: info:"
	run -2 --separate-stderr migctl --json info /dev/vfio/14
	no_stdout
	one_error_line "vfio-migctl: info:"
}
