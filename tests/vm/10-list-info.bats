#!/usr/bin/env bats
# list and info against real mtty mdevs: what sysfs and the kernel say
# about a device, in text and JSON, for every way of naming it.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

# The row of the last `vfio-migctl list` output that names $1.
row_of() {
	printf '%s\n' "${lines[@]}" | awk -v d="$1" '$1 == d'
}

@test "list: each mdev with driver, group, cdev and type; --names; gone once removed" {
	run -0 --separate-stderr vfio-migctl list
	read -ra head <<<"${lines[0]}"
	[ "${head[*]:0:6}" = "DEVICE DRIVER GROUP CDEV ID TYPE" ] ||
		fail "header: ${lines[0]}"
	for d in "$SRC" "$DST"; do
		read -ra f <<<"$(row_of "$d")"
		want="$d mtty $(group_nr_of "$d") $(cdev_name_of "$d") - $MTTY_TYPE"
		[ "${f[*]}" = "$want" ] || fail "row '${f[*]}'" "want '$want'"
	done
	[ -z "$stderr" ] || fail "list wrote to stderr: $stderr"

	run -0 --separate-stderr vfio-migctl list --names
	printf '%s\n' "${lines[@]}" | grep -qx "$SRC" || fail "--names: $SRC missing"
	printf '%s\n' "${lines[@]}" | grep -qx "$DST" || fail "--names: $DST missing"
	for l in "${lines[@]}"; do
		[[ $l != *" "* ]] || fail "--names: not a bare name: '$l'"
	done

	mtty_remove "$DST"
	run -0 --separate-stderr vfio-migctl list
	[ -n "$(row_of "$SRC")" ] || fail "$SRC missing"
	[ -z "$(row_of "$DST")" ] || fail "removed $DST still listed"
}

@test "list --json: stable keys, mdev fields, numbers and nulls" {
	run -0 --separate-stderr vfio-migctl --json list
	dev=$(jq -ce --arg d "$SRC" '.devices[] | select(.name == $d)' <<<"$output") ||
		fail "$SRC not in .devices"
	jq -e --arg g "$(group_nr_of "$SRC")" --arg c "$(cdev_name_of "$SRC")" \
		--arg t "$MTTY_TYPE" '
		.bus == "mdev" and .driver == "mtty" and (.group | tostring) == $g
		and .cdev == $c and .vendor == null and .device == null
		and .mdev_type == $t and (has("state") | not)' <<<"$dev" >/dev/null ||
		fail "entry: $dev"
	[ "$(jq '.devices | length' <<<"$output")" -ge 2 ]
}

@test "list --probe: flags and state per device; a busy device sinks nothing" {
	vfio-migctl state "$DST" stop >/dev/null
	run -0 --separate-stderr vfio-migctl list --probe
	read -ra head <<<"${lines[0]}"
	[[ " ${head[*]} " == *" MIGRATION "* && " ${head[*]} " == *" STATE "* ]] ||
		fail "header: ${lines[0]}"
	[[ $(row_of "$SRC") =~ (0x7|STOP_COPY\|P2P\|PRE_COPY).*RUNNING ]] ||
		fail "row: $(row_of "$SRC")"
	[[ $(row_of "$DST") =~ (0x7|STOP_COPY\|P2P\|PRE_COPY).*STOP ]] ||
		fail "row: $(row_of "$DST")"

	run -0 --separate-stderr vfio-migctl list --probe --json
	jq -e --arg s "$SRC" --arg d "$DST" '
		[.devices[] | select(.name == $s)][0] as $a
		| [.devices[] | select(.name == $d)][0] as $b
		| $a.migration_flags == 7 and $a.state == "RUNNING"
		  and $b.migration_flags == 7 and $b.state == "STOP"' <<<"$output" >/dev/null ||
		fail "json: $output"

	# Plain list opens nothing: a device held elsewhere is listed as ever.
	# --probe cannot open it, but still lists it and probes the others.
	exec 8<>"$(group_of "$DST")"
	run -0 --separate-stderr vfio-migctl list
	[ -n "$(row_of "$DST")" ] || fail "busy $DST missing from list"
	run --separate-stderr vfio-migctl list --probe
	exec 8>&-
	[[ $(row_of "$SRC") == *RUNNING* ]] || fail "row: $(row_of "$SRC")"
	[ -n "$(row_of "$DST")" ] || fail "busy $DST dropped from list --probe"
	expect_state "$DST" STOP
}

# The info report is the same whatever the device is called.
info_fields_ok() { # VIA STATE
	[ "$status" -eq 0 ] || fail "info exited $status"
	: "${src_group:=$(group_nr_of "$SRC")}" "${src_cdev:=$(cdev_name_of "$SRC")}"
	local -A f=()
	local l v
	for l in "${lines[@]}"; do
		v=${l#*:}
		f[${l%%:*}]=${v#"${v%%[! ]*}"} # value without the alignment
	done
	[ "${f[device]}" = "$SRC" ] || fail "device: ${f[device]}"
	[ "${f[bus]}" = mdev ] || fail "bus: ${f[bus]}"
	[ "${f[driver]}" = mtty ] || fail "driver: ${f[driver]}"
	[ "${f[mdev type]}" = "$MTTY_TYPE" ] || fail "mdev type: ${f[mdev type]}"
	[ "${f[group]}" = "$src_group" ] || fail "group: ${f[group]}"
	[ "${f[cdev]}" = "$src_cdev" ] || fail "cdev: ${f[cdev]}"
	[ "${f[opened via]}" = "$1" ] || fail "opened via: ${f[opened via]}"
	[ "${f[kind]}" = pci ] || fail "kind: ${f[kind]}"
	# mtty's GET_INFO reports only FLAGS_PCI (no RESET flag), though it
	# implements VFIO_DEVICE_RESET: info reports what the kernel says.
	[ "${f[reset]}" = no ] || fail "reset: ${f[reset]}"
	[ "${f[migration]}" = "STOP_COPY|P2P|PRE_COPY (0x7)" ] ||
		fail "migration: ${f[migration]}"
	local s
	for s in $all_states; do
		[[ " ${f[states]} " == *" $s "* ]] || fail "states lacks $s: ${f[states]}"
	done
	[ "${f[state]}" = "$2" ] || fail "state: ${f[state]}"
	[ "${f[pre-copy]}" = offered ] || fail "pre-copy: ${f[pre-copy]}"
	[ "${f[data size]}" = "$MTTY_DATA_SIZE bytes (estimate)" ] ||
		fail "data size: ${f[data size]}"
	[ "${f[dma logging]}" = yes ] || fail "dma logging: ${f[dma logging]}"
	# Linux 6.12's mtty predates PRECOPY_INFOv2
	[ "${f[reinit]}" = "not offered" ] || fail "reinit: ${f[reinit]}"
}

@test "info: the same report by cdev, group, UUID and sysfs paths; the real state" {
	run --separate-stderr vfio-migctl info "$(cdev_of "$SRC")"
	info_fields_ok cdev RUNNING
	run --separate-stderr vfio-migctl info "$(group_of "$SRC")"
	info_fields_ok group RUNNING
	run --separate-stderr vfio-migctl info "$SRC"
	info_fields_ok cdev RUNNING
	run --separate-stderr vfio-migctl info --via=group "$SRC"
	info_fields_ok group RUNNING
	run --separate-stderr vfio-migctl info "$mdev_bus/$SRC"
	info_fields_ok cdev RUNNING
	run --separate-stderr vfio-migctl info "/sys/class/vfio-dev/$(cdev_name_of "$SRC")"
	info_fields_ok cdev RUNNING
	# mtty keeps its state across opens: info must read it, not assume it.
	vfio-migctl state "$SRC" stop >/dev/null
	run --separate-stderr vfio-migctl --via=cdev info "$(realpath "$mdev_bus/$SRC")"
	info_fields_ok cdev STOP
}

@test "info --json: keys and types" {
	run -0 --separate-stderr vfio-migctl info --json "$SRC"
	jq -e --arg d "$SRC" --arg t "$MTTY_TYPE" --arg c "$(cdev_name_of "$SRC")" \
		--arg g "$(group_nr_of "$SRC")" --argjson sz "$MTTY_DATA_SIZE" '
		.device == $d and .bus == "mdev" and .driver == "mtty"
		and .mdev_type == $t and (.group | tostring) == $g and .cdev == $c
		and .via == "cdev" and .kind == "pci" and .reset == false
		and .migration.flags == 7
		and (.migration.flag_names | sort) == ["P2P", "PRE_COPY", "STOP_COPY"]
		and (.migration.states | sort) == (["STOP", "RUNNING", "STOP_COPY",
			"RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"] | sort)
		and .state == "RUNNING" and .pre_copy == true and .data_size == $sz
		and .dma_logging == true and .precopy_reinit == false' <<<"$output" >/dev/null ||
		fail "json: $output"
	run -0 --separate-stderr vfio-migctl --json info --via=group "$SRC"
	[ "$(jq -r .via <<<"$output")" = group ]
}

@test "info: absent devices and devices held elsewhere are exit 3, one line" {
	run -3 --separate-stderr vfio-migctl info /dev/vfio/devices/vfio999
	expect_error info
	run -3 --separate-stderr vfio-migctl info 01234567-89ab-cdef-0123-456789abcdef
	expect_error info

	exec 8<>"$(group_of "$SRC")"
	run -3 --separate-stderr vfio-migctl info "$SRC"
	expect_error info 'busy|in use'
	run -3 --separate-stderr vfio-migctl info --via=group "$SRC"
	expect_error info 'busy|in use'
	exec 8>&-
	run -0 --separate-stderr vfio-migctl info "$SRC"
}
