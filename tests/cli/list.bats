#!/usr/bin/env bats
# `list` on the fixture root: text columns, --json, --names; only
# VFIO-bound devices; opens nothing; a failed write to stdout is an error.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
}

# squeeze: lines with their columns joined by single spaces
squeeze() {
	awk '{ $1 = $1; print }'
}

@test "list: header and one row per VFIO-bound device, sorted by name" {
	run -0 --separate-stderr migctl list
	[ -z "$stderr" ] || fail "stderr not empty"
	diff -u - <(printf '%s\n' "$output" | squeeze) <<-EOF
	DEVICE DRIVER GROUP CDEV ID TYPE
	0000:3b:00.1 vfio-pci 12 vfio3 15b3:101e -
	0000:5e:00.0 vfio-pci 14 vfio4 8086:1592 -
	0000:5e:00.1 vfio-pci 14 vfio5 8086:1592 -
	0000:af:00.0 vfio-pci 20 - 10de:2236 -
	83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 mtty 0 vfio0 - mtty-2
	EOF
}

@test "list: devices not bound to VFIO (e1000e, no driver) are not listed" {
	run -0 --separate-stderr migctl list
	[[ "$output" != *"$NET_PCI"* ]] || fail "the e1000e device is listed"
	[[ "$output" != *e1000e* ]] || fail "e1000e is listed"
	[[ "$output" != *"$NODRV_PCI"* ]] || fail "the driverless device is listed"
	# but they are in the fixture: the resolver finds them
	[ -e "$ROOT/sys/bus/pci/devices/$NET_PCI" ]
	[ -e "$ROOT/sys/bus/pci/devices/$NODRV_PCI" ]
}

@test "list --names: one name per line, nothing else" {
	run -0 --separate-stderr migctl list --names
	[ -z "$stderr" ]
	diff -u <(printf '%s\n' "${LISTED[@]}") <(printf '%s\n' "$output")
}

@test "list --json: well-formed, one object per device, names sorted" {
	run -0 --separate-stderr migctl list --json
	[ -z "$stderr" ]
	jq -e . >/dev/null <<<"$output"
	diff -u <(printf '%s\n' "${LISTED[@]}") <(jq -r '.devices[].name' <<<"$output")
}

@test "list --json: stable keys, and nothing else without --probe" {
	run -0 --separate-stderr migctl --json list
	jq -e '.devices | length == 5' <<<"$output"
	jq -e 'keys == ["devices"]' <<<"$output"
	jq -e '[.devices[] | keys] | unique ==
		[["bus","cdev","device","driver","group","mdev_type","name","vendor"]]' <<<"$output"
}

@test "list --json: drivers, buses, groups and cdevs from sysfs" {
	run -0 --separate-stderr migctl --json list
	jq -e '[.devices[] | [.name, .bus, .driver, (.group | tostring), .cdev]] == [
		["0000:3b:00.1", "pci", "vfio-pci", "12", "vfio3"],
		["0000:5e:00.0", "pci", "vfio-pci", "14", "vfio4"],
		["0000:5e:00.1", "pci", "vfio-pci", "14", "vfio5"],
		["0000:af:00.0", "pci", "vfio-pci", "20", null],
		["83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "mdev", "mtty", "0", "vfio0"]
	]' <<<"$output"
}

@test "list --json: vendor/device are \"0x....\" strings for PCI, null for mdev; mdev_type" {
	run -0 --separate-stderr migctl --json list
	jq -e '.devices[0] | .vendor == "0x15b3" and .device == "0x101e" and .mdev_type == null' <<<"$output"
	jq -e '.devices[3] | .vendor == "0x10de" and .device == "0x2236"' <<<"$output"
	jq -e '.devices[4] | .vendor == null and .device == null and .mdev_type == "mtty-2"' <<<"$output"
}

@test "list --probe: adds MIGRATION and STATE columns, and PROBE for devices it cannot open" {
	run --separate-stderr migctl list --probe
	local hdr
	hdr=$(head -n1 <<<"$output" | squeeze)
	# Every fixture device fails to open (its nodes are plain files)
	[ "$hdr" = "DEVICE DRIVER GROUP CDEV ID TYPE MIGRATION STATE PROBE" ] ||
		fail "header: $hdr"
	[[ ${lines[1]} == *" -"*" -"*" not a VFIO device"* ]] || fail "row: ${lines[1]}"
	run -0 --separate-stderr migctl --json list --probe
	jq -e '[.devices[] | .probe_error] | all(. == "not a VFIO device, or its group is not viable")' <<<"$output"
	jq -e '[.devices[] | .migration_flags, .state] | all(. == null)' <<<"$output"
}

# expect_aligned: in $output, every column starts where its header does:
# at that offset each row has a character that follows a space (or is
# the first of the line).  Squeezing spaces would hide exactly this.
expect_aligned() {
	local header=${lines[0]} line i start
	local -a starts=()
	for ((i = 0; i < ${#header}; i++)); do
		[ "${header:i:1}" != " " ] && { [ "$i" -eq 0 ] || [ "${header:i-1:1}" = " " ]; } &&
			starts+=("$i")
	done
	for line in "${lines[@]:1}"; do
		for start in "${starts[@]}"; do
			[ "${line:start:1}" != " " ] && [ -n "${line:start:1}" ] &&
				{ [ "$start" -eq 0 ] || [ "${line:start-1:1}" = " " ]; } ||
				fail "column at $start is not aligned:" "$header" "$line"
		done
	done
}

@test "list: columns are as wide as their widest cell (mlx5_vfio_pci, migsim-precopy)" {
	"$MKSYSROOT" --long "$BATS_TEST_TMPDIR/long"
	run -0 --separate-stderr "$MIGCTL" --sysroot="$BATS_TEST_TMPDIR/long" list
	[ "${#lines[@]}" -eq 8 ] || fail "expected 7 devices"
	[[ $output == *mlx5_vfio_pci* && $output == *migsim-precopy* ]]
	expect_aligned
	# the last column is not padded
	for line in "${lines[@]}"; do
		[[ $line != *" " ]] || fail "trailing blanks: '$line'"
	done
	run --separate-stderr "$MIGCTL" --sysroot="$BATS_TEST_TMPDIR/long" list --probe
	expect_aligned
}

@test "list opens no device node (opening may reset a device)" {
	trace_opens list
	[ "$traced_status" -eq 0 ] || fail "list failed under strace: $traced_status"
	[ -z "$nodes" ] || fail "list opened: $nodes"
	trace_opens list --json
	[ -z "$nodes" ] || fail "list --json opened: $nodes"
	# the trace does see opens: the same run on a device does open its node
	trace_opens info "$CDEV_PCI"
	[ -n "$nodes" ] || fail "tracing saw no open for info"
}

@test "VFIO_MIGCTL_SYSROOT is --sysroot" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 --separate-stderr "$MIGCTL" list --names
	diff -u <(printf '%s\n' "${LISTED[@]}") <(printf '%s\n' "$output")
}

@test "--sysroot wins over VFIO_MIGCTL_SYSROOT" {
	"$MKSYSROOT" --empty "$BATS_TEST_TMPDIR/empty"
	VFIO_MIGCTL_SYSROOT=$BATS_TEST_TMPDIR/empty run -0 --separate-stderr migctl list --names
	diff -u <(printf '%s\n' "${LISTED[@]}") <(printf '%s\n' "$output")
}

@test "list on a root with no VFIO devices: empty, exit 0" {
	"$MKSYSROOT" --empty "$BATS_TEST_TMPDIR/empty"
	run -0 --separate-stderr "$MIGCTL" --sysroot="$BATS_TEST_TMPDIR/empty" list --names
	no_stdout
	run -0 --separate-stderr "$MIGCTL" --sysroot="$BATS_TEST_TMPDIR/empty" --json list
	jq -e '.devices == []' <<<"$output"
}

@test "list > /dev/full: exit 1 and one error line" {
	run -1 --separate-stderr migctl_to_full --sysroot="$ROOT" list
	one_error_line vfio-migctl
	stderr_has "space|write"
}

@test "list --json > /dev/full and list --names > /dev/full fail too" {
	run -1 --separate-stderr migctl_to_full --sysroot="$ROOT" --json list
	one_error_line vfio-migctl
	run -1 --separate-stderr migctl_to_full --sysroot="$ROOT" list --names
	one_error_line vfio-migctl
}

@test "--help > /dev/full and --version > /dev/full fail" {
	run ! --separate-stderr migctl_to_full --help
	[ -n "$stderr" ]
	run ! --separate-stderr migctl_to_full --version
	[ -n "$stderr" ]
}
