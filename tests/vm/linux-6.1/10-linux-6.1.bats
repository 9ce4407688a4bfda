#!/usr/bin/env bats
# Linux 6.1, Debian 12's own kernel: what vfio-migctl does where the kernel
# has less.  6.1 has no iommufd cdev (its vfio-dev/vfioN class device has
# no `dev` attribute and no node), no PRE_COPY and no MIG_DATA_SIZE in the
# uAPI, and its mtty has no migration.  Each test asserts the degraded
# behaviour: one clear line and the documented exit status (man
# vfio-migctl, EXIT STATUS: 3 cannot open, 4 not supported, 7 stream
# invalid), or a plain success through the group.  Runs only on the 6.1
# tier (run-vm.sh refuses other kernels for this directory).
bats_require_minimum_version 1.5.0
load ../helpers
load ../migsim

setup_file() {
	migsim_load
}

teardown_file() {
	migsim_cleanup
}

setup() {
	require_vm
	[ "$VM_KERNEL_SERIES" = 6.1 ] ||
		fail "a Linux 6.1 suite, run on '$VM_KERNEL_SERIES' (run-vm.sh KERNEL_SERIES=6.1)"
}

teardown() {
	mtty_teardown
}

# has_line REGEX: a line of $output matches (case-insensitive)
has_line() {
	grep -qiE "$1" <<<"$output" || fail "no line matches /$1/ in:" "$output"
}

@test "6.1 rig: groups only (no iommufd, a vfio-dev without dev or node); mtty from its module; migsim without PRE_COPY" {
	local rel types=() t
	read -r rel </proc/sys/kernel/osrelease
	[[ $rel == 6.1.* ]] || fail "the guest runs Linux $rel"
	[ -d /sys/module/mtty ] || fail "mtty.ko is not loaded"
	[ -c /dev/vfio/vfio ] || fail "no /dev/vfio/vfio"
	[ ! -e /dev/iommu ] || fail "/dev/iommu exists: not the 6.1 tier's kernel"

	dev=$(mtty_create)
	# the /dev/vfio/devices node a cdev would have, from sysfs
	node=$(cdev_of "$dev") || fail "$dev has no vfio-dev/vfioN"
	for t in "$mdev_bus/$dev"/vfio-dev/vfio*; do
		[ ! -e "$t/dev" ] || fail "$t has a dev attribute"
	done
	[ ! -e "$node" ] || fail "$node exists"
	[ -c "$(group_of "$dev")" ] || fail "no group node"

	for t in "$migsim_types"/*; do types+=("${t##*/}"); done
	[ "${types[*]}" = "migsim-basic migsim-none migsim-p2p" ] ||
		fail "migsim types on 6.1: ${types[*]}"
	dev=$(migsim_create p2p)
	[ ! -e "$mdev_bus/$dev/migsim/precopy_initial" ] ||
		fail "migsim offers PRE_COPY attributes on 6.1"
}

@test "list: each device with its group and no cdev, in text and JSON" {
	tty=$(mtty_create)
	sim=$(migsim_create p2p)
	run -0 --separate-stderr vfio-migctl list
	[ -z "$stderr" ] || fail "list wrote to stderr: $stderr"
	read -ra f <<<"${lines[0]}"
	[ "${f[*]:0:6}" = "DEVICE DRIVER GROUP CDEV ID TYPE" ] || fail "header: ${lines[0]}"
	local -A rows=()
	for l in "${lines[@]:1}"; do
		read -ra f <<<"$l"
		rows[${f[0]}]=${f[*]}
	done
	for want in "$tty mtty $(group_nr_of "$tty") - - $MTTY_TYPE" \
		"$sim migsim $(group_nr_of "$sim") - - migsim-p2p"; do
		[ "${rows[${want%% *}]:-}" = "$want" ] ||
			fail "row '${rows[${want%% *}]:-}'" "want '$want'"
	done

	run -0 --separate-stderr vfio-migctl --json list
	jq -e --arg a "$tty" --arg b "$sim" \
		--argjson ga "$(group_nr_of "$tty")" --argjson gb "$(group_nr_of "$sim")" '
		[.devices[] | select(.name == $a or .name == $b)] as $d |
		($d | length) == 2 and ($d | all(.cdev == null)) and
		($d[] | select(.name == $a) | .group) == $ga and
		($d[] | select(.name == $b) | .group) == $gb' <<<"$output" >/dev/null ||
		fail "list --json:" "$output"
}

@test "--via cdev is refused with one line (3); UUID, group node and sysfs path open through the group" {
	dev=$(migsim_create p2p)
	group=$(group_of "$dev")
	run -3 --separate-stderr vfio-migctl --via cdev info "$dev"
	expect_error info "cdev"
	run -3 --separate-stderr vfio-migctl --via cdev state "$group"
	expect_error state "cdev"

	for name in "$dev" "$group" "$mdev_bus/$dev"; do
		run -0 --separate-stderr vfio-migctl --json info "$name"
		jq -e --arg g "$group" '.via == "group" and .node == $g and .cdev == null' \
			<<<"$output" >/dev/null || fail "info $name:" "$output" "$stderr"
	done
	expect_msim_state "$dev" RUNNING
}

@test "a cdev name (/dev/vfio/devices/vfioN, no such node on 6.1) is refused with one line (3)" {
	dev=$(migsim_create p2p)
	# the /dev/vfio/devices node a cdev would have, from sysfs
	node=$(cdev_of "$dev") || fail "$dev has no vfio-dev/vfioN"
	run -3 --separate-stderr vfio-migctl info "$node"
	expect_error info "cdev|no such|not exist"
	run -3 --separate-stderr vfio-migctl state "$node" stop
	expect_error state "cdev|no such|not exist"
	expect_msim_state "$dev" RUNNING
}

@test "mtty (no migration on 6.1): info says so (0); save, resume and state stop exit 4 with one line" {
	local -a errs=()
	dev=$(mtty_create)
	mtty-reg "$dev" set scr 0x5a
	run -0 --separate-stderr vfio-migctl info "$dev"
	has_line '^migration: +not supported$'
	[ -z "$stderr" ] || fail "info wrote to stderr: $stderr"

	run -4 --separate-stderr vfio-migctl save "$dev" -o "$T/mtty.mig"
	expect_error save "migration"
	errs+=("$stderr")
	[ ! -e "$T/mtty.mig" ] || fail "a refused save left $T/mtty.mig"
	printf 'any bytes' >"$T/raw"
	run -4 --separate-stderr vfio-migctl resume --raw "$dev" -i "$T/raw"
	expect_error resume "migration"
	errs+=("$stderr")
	run -4 --separate-stderr vfio-migctl state "$dev" stop
	expect_error state "migration"
	errs+=("$stderr")
	# nothing was done to the device
	expect_reg "$dev" scr 0x5a
	# A device without migration has no migration state to name
	for e in "${errs[@]}"; do
		[[ $e != *UNKNOWN* ]] || fail "a state named UNKNOWN: $e"
	done
}

@test "migsim info: STOP_COPY|P2P; data size and PRE_COPY shown as not offered, not as errors" {
	dev=$(migsim_create p2p size=1000)
	run -0 --separate-stderr vfio-migctl --json info "$dev"
	jq -e '.migration.flags == 3 and .data_size == null and .state == "RUNNING" and
		(.migration.states | index("PRE_COPY") | not)' <<<"$output" >/dev/null ||
		fail "info --json:" "$output"

	run -0 --separate-stderr vfio-migctl info "$dev"
	[ -z "$stderr" ] || fail "info wrote to stderr: $stderr"
	has_line '^migration: +STOP_COPY\|P2P \(0x3\)$'
	has_line '^states: +STOP RUNNING STOP_COPY RESUMING RUNNING_P2P$'
	has_line '^data size: .*not (offered|supported)'
	has_line 'pre.?copy.*not (offered|supported)'
}

@test "migsim: save | resume through the group (UUID to group node) carries the state; the report has no estimate" {
	migsim_pair p2p 3000001
	save_resume --json "$SRC" -- --json "$(group_of "$DST")"
	expect_migrated
	expect_same_state "$SRC" "$DST"
	expect_msim "$DST" load_count 1
	expect_msim_state "$SRC" STOP
	expect_msim_state "$DST" RUNNING
	# save's report is on stderr (stdout is the stream), resume's on stdout
	jq -e '.ok and .stopcopy_bytes > 3000001 and .precopy_bytes == 0 and
		(.estimate == 0 or .estimate == null)' <<<"$save_err" >/dev/null ||
		fail "save --json: $save_err"
	jq -e '.ok and .final_state == "RUNNING"' <<<"$resume_out" >/dev/null ||
		fail "resume --json: $resume_out"
}

@test "migsim: the progress bar on a terminal works without an estimate (no percentage)" {
	dev=$(migsim_create p2p size=4M delay_us=20000)
	# script(1) gives vfio-migctl a terminal; the bar is drawn on stderr
	run -0 script -qec "vfio-migctl save $dev -o $T/bar.mig" /dev/null
	[[ $output == *stop-copy* ]] || fail "no progress bar:" "$output"
	[[ $output != *%* ]] || fail "a percentage without an estimate:" "$output"
	[[ $output == *"saved "* ]] || fail "no summary:" "$output"
	[ -s "$T/bar.mig" ] || fail "no stream saved"
}

@test "migsim: save --precopy is refused (4) before the device is touched" {
	dev=$(migsim_create p2p size=64K)
	# Any arc the tool tried would leave the device in ERROR.
	msim_set "$dev" fail_arc "RUNNING RUNNING_P2P 5 error"
	run -4 --separate-stderr vfio-migctl save --precopy "$dev" -o "$T/p.mig"
	expect_error save "pre.?copy.*not (offered|supported)|not (offered|supported).*pre.?copy"
	[ ! -e "$T/p.mig" ] || fail "a refused save left $T/p.mig"
	expect_msim_state "$dev" RUNNING
	expect_msim "$dev" reset_count 0

	# from RUNNING_P2P (where PRE_COPY_P2P would be the way) just the same
	msim_set "$dev" fail_arc none
	vfio-migctl -q state "$dev" running_p2p >/dev/null
	msim_set "$dev" fail_arc "RUNNING_P2P STOP 5 error"
	run -4 --separate-stderr vfio-migctl save --precopy "$dev" -o "$T/p.mig"
	expect_error save
	expect_msim_state "$dev" RUNNING_P2P
	expect_msim "$dev" reset_count 0
}

@test "cross-tier: a stream saved here is left for the 6.12 tier" {
	src=$(migsim_create p2p size=200003 seed=61)
	exchange_save "$VM_EXCHANGE/6.1" p2p "$src"
	expect_msim_state "$src" STOP
}

@test "cross-tier: a stream saved on 6.12 resumes here (same type); another type is refused (7), forced it works" {
	local x=$VM_EXCHANGE/6.12 p2p_digest
	[ -f "$x/p2p.info" ] && [ -f "$x/full.info" ] ||
		skip "no streams from the 6.12 tier in $x (make check-vm runs it first)"

	dst=$(migsim_create p2p size=17)
	run -0 --separate-stderr vfio-migctl resume "$(group_of "$dst")" -i "$x/p2p.mig"
	# and this kernel's migsim makes the same content with the same digest
	expect_exchanged "$dst" "$x/p2p.info" p2p
	p2p_digest=$x_digest

	# migsim-full (no such type here), saved with PRE_COPY records
	run -7 --separate-stderr vfio-migctl resume "$dst" -i "$x/full.mig"
	expect_error resume "migsim-full"
	expect_untouched "$dst" "$p2p_digest" 1
	run -0 --separate-stderr vfio-migctl resume -q --force "$dst" -i "$x/full.mig"
	expect_exchanged "$dst" "$x/full.info"
}

@test "check: migsim-p2p keeps every rule 6.1 can have (PRE_COPY and MIG_DATA_SIZE skip), put back; mtty without migration is 4" {
	dev=$(migsim_create p2p size=64K)
	read -r digest <"$mdev_bus/$dev/migsim/digest"
	run -0 --separate-stderr vfio-migctl --json check "$dev"
	expect_verdicts "fsm.blocked-arcs=skip data.precopy-keeps-fd=skip precopy.info-states=skip precopy.initial-decreases=skip precopy.enomsg=skip precopy.reinit-flags=skip precopy.reinit-dirty=skip data-size.estimate=skip roundtrip.equal=skip"
	[ "$(detail_of data-size.estimate)" = "MIG_DATA_SIZE is not offered (ENOTTY)" ] || fail "$output"
	expect_msim "$dev" digest "$digest"
	expect_msim_state "$dev" RUNNING
	tty=$(mtty_create)
	run -4 --separate-stderr vfio-migctl check "$tty"
	expect_error check "device has no migration support$"
}

@test "--from-pid through a group: refused (3), nothing touched, as 6.1 does not say whose a device file is; hold's own commands use its file" {
	local dev holder cmd i rc=0
	dev=$(migsim_create basic)
	mkfifo "$T/go"
	exec 8<>"$T/go" # both ways: neither side blocks on opening it
	# shellcheck disable=SC2016 # the inner shell's $1 and $2
	vfio-migctl hold "$dev" -- bash -c 'set -e; echo $$ >"$2/cmd.pid"
		vfio-migctl state "$1" stop; : >"$2/ready"
		read -r _ <"$2/go"; vfio-migctl state "$1"' - "$dev" "$T" >"$T/holder.out" 2>"$T/holder.err" 8>&- &
	holder=$!
	bg_track "$holder"
	for ((i = 0; i < 200; i++)); do
		[ ! -e "$T/ready" ] || break
		sleep 0.05
	done
	# CMD has the device too: teardown must end it before removing the device
	read -r cmd <"$T/cmd.pid" && bg_track "$cmd"
	[ -e "$T/ready" ] || fail "the holder never got ready: $(cat "$T/holder.err")"

	# Its device file is anyone's as far as 6.1 says, and a new one from its
	# group could be a first open: looking is refused too
	run -3 --separate-stderr vfio-migctl --from-pid "$holder" info "$dev"
	expect_error info "--from-pid $holder: it holds the device's group, but this kernel does not say which device its device files are \(fdinfo's vfio-device-syspath, Linux 6\.18\), and a new one from the group could be the device's first open \(a reset\): refused$"
	run -3 --separate-stderr vfio-migctl --from-pid "$holder" reset --force "$dev"
	expect_error reset "--from-pid $holder: it holds the device's group, but .*: refused$"
	expect_msim_state "$dev" STOP
	expect_msim "$dev" reset_count 0

	echo go >&8
	exec 8>&-
	wait "$holder" || rc=$?
	[ "$rc" -eq 0 ] || fail "hold exited $rc: $(cat "$T/holder.err")"
	[ "$(cat "$T/holder.out")" = $'RUNNING -> STOP\nSTOP' ] || fail "under hold: $(cat "$T/holder.out")"
}

@test "a set of two migsim-p2p through their groups: saved and resumed into two others, the barrier both ways" {
	make_set p2p 256K 64K
	SRC=("${SET[@]}")
	make_set p2p 4K 4K
	DST=("${SET[@]}")
	src_digests=$(digests_of "${SRC[@]}")
	seq_clear "${SRC[@]}" "${DST[@]}"
	run -0 --separate-stderr vfio-migctl save "${SRC[@]}" -o "$BATS_TEST_TMPDIR/set.mig"
	expect_barrier 'RUNNING>RUNNING_P2P' 'RUNNING_P2P>STOP|STOP>STOP_COPY' "${SRC[@]}"
	run -0 --separate-stderr vfio-migctl resume "${DST[@]}" -i "$BATS_TEST_TMPDIR/set.mig"
	[ "$(digests_of "${DST[@]}")" = "$src_digests" ] || fail "destinations differ"
	expect_barrier 'STOP>RUNNING_P2P' 'RUNNING_P2P>RUNNING' "${DST[@]}"
}

@test "migsim: the module unloads cleanly" {
	expect_clean_unload
}
