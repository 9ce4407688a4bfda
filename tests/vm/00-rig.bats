#!/usr/bin/env bats
# The rig itself: the kernel has what the other suites rely on, mtty
# devices come and go with both /dev nodes, and mtty-reg (the tests' probe
# of device state) really reads and writes the device.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	require_vm
}

teardown() {
	mtty_teardown
}

@test "rig: the build under test, VFIO containers, iommufd and the mtty types" {
	[ -n "${MIGCTL:-}" ] || fail "MIGCTL is not passed into the guest"
	[ "$(command -v vfio-migctl)" = "$MIGCTL" ] ||
		fail "PATH finds $(command -v vfio-migctl), not $MIGCTL"
	run -0 --separate-stderr vfio-migctl --help
	[[ $output == *save* && $output == *resume* ]] || fail "--help lists no save/resume"

	[ -c /dev/vfio/vfio ] || fail "no /dev/vfio/vfio (VFIO_CONTAINER)"
	[ -c /dev/iommu ] || fail "no /dev/iommu (IOMMUFD)"
	[ -d /sys/class/vfio-dev ] || fail "no vfio-dev class (VFIO_DEVICE_CDEV)"
	for t in mtty-1 mtty-2; do
		[ "$(cat "$mtty_types/$t/device_api")" = vfio-pci ] ||
			fail "$t is not a vfio-pci type"
	done
}

@test "rig: an mtty mdev gets a group node and a cdev, and loses them on remove" {
	uuid=$(mtty_create)
	cdev=$(cdev_of "$uuid")
	group=$(group_of "$uuid")
	[[ $cdev == /dev/vfio/devices/vfio[0-9]* ]] || fail "cdev '$cdev'"
	[[ $group == /dev/vfio/[0-9]* ]] || fail "group '$group'"
	[ -c "$cdev" ] && [ -c "$group" ] || fail "$cdev or $group is no char device"
	[ "$(basename "$(readlink "$mdev_bus/$uuid/driver")")" = mtty ]
	[ "$(basename "$(readlink "$mdev_bus/$uuid/mdev_type")")" = "$MTTY_TYPE" ]

	mtty_remove "$uuid"
	[ ! -e "$mdev_bus/$uuid" ] || fail "$uuid still in sysfs"
	for i in $(seq 20); do
		[ -e "$cdev" ] || [ -e "$group" ] || break
		sleep 0.1
	done
	[ ! -e "$cdev" ] || fail "$cdev outlived its device"
	[ ! -e "$group" ] || fail "$group outlived its device"
}

@test "rig: mtty-reg reads and writes the UART through cdev and group, not when busy" {
	uuid=$(mtty_create)
	expect_pristine "$uuid"
	run -0 mtty-reg --via=cdev "$uuid" set scr 0xa5
	run -0 mtty-reg --via=group "$uuid" get scr
	[ "$output" = 0xa5 ] || fail "scr read back $output through the group"
	# several commands in one run, checked before any is applied
	run -2 mtty-reg "$uuid" set scr 0x11 get bogus
	run -0 mtty-reg "$uuid" get scr set scr 0x11 get scr
	[ "${lines[*]}" = "0xa5 0x11" ] || fail "multi-command run gave: ${lines[*]}"
	run -0 mtty-reg "$(cdev_of "$uuid")" send abc
	expect_reg "$uuid" lsr 0x01 # data ready, transmitter not empty
	run -0 mtty-reg "$(group_of "$uuid")" recv 3
	[ "$output" = abc ] || fail "FIFO gave '$output'"
	expect_reg "$uuid" lsr 0x60
	# A 4th byte is not there: recv must say so rather than invent one.
	run -1 --separate-stderr mtty-reg "$uuid" recv 1
	[[ $stderr == *empty* ]] || fail "recv of an empty FIFO: $stderr"

	# fd 3 belongs to bats; hold the group on 8.
	exec 8<>"$(group_of "$uuid")"
	run -3 --separate-stderr mtty-reg "$uuid" get scr
	exec 8>&-
	run -0 mtty-reg "$uuid" get scr
}
