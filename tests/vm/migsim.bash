# Shared by the suites that use migsim (tests/vm/6*-migsim-*.bats and
# those of the other tiers; load after helpers): migsim devices
# (tests/vm/migsim/migsim.c, whose header documents every attribute), the
# module's load and clean unload, and migsim-ref.  The module is built on
# the host (make migsim), once per kernel series, into the directory
# beside vfio-migctl (migsim/SERIES/migsim.ko), which the guest sees at
# the same path.

MIGSIM_KO=${MIGSIM_KO:-${MIGCTL:+$(dirname "$MIGCTL")/migsim/${VM_KERNEL_SERIES:-6.12}/migsim.ko}}
migsim_types=/sys/class/mdev_bus/migsim/mdev_supported_types

require_migsim() {
	require_vm
	command -v migsim-ref >/dev/null || skip "migsim-ref is not built (make migsim)"
	[ -d "$migsim_types" ] || fail "the migsim module is not loaded"
}

# setup_file: load the module and note where the kernel log stands, so the
# unload test looks only at what this suite caused.
migsim_load() {
	[ -d "$mtty_types" ] || return 0 # not in the VM: the tests skip
	[ -f "$MIGSIM_KO" ] || {
		echo "# $MIGSIM_KO is not built (make migsim)" >&3
		return 0
	}
	if [ ! -d /sys/module/migsim ]; then
		insmod "$MIGSIM_KO" || return 1
	fi
	dmesg | wc -l >"$BATS_FILE_TMPDIR/.dmesg-start"
}

# teardown_file: whatever happened, leave no module behind for the next suite.
migsim_cleanup() {
	local d
	for d in /sys/class/mdev_bus/migsim/*/remove; do
		[ -e "$d" ] && echo 1 >"$d" 2>/dev/null
	done
	[ ! -d /sys/module/migsim ] || rmmod migsim 2>/dev/null || :
}

# The last test of each suite: every device removed, no data session left
# holding the module, rmmod succeeds, and the kernel said nothing bad.
expect_clean_unload() {
	local d start log refs
	for d in /sys/class/mdev_bus/migsim/*/remove; do
		[ -e "$d" ] && echo 1 >"$d"
	done
	refs=$(cat /sys/module/migsim/refcnt)
	[ "$refs" = 0 ] || fail "migsim is still referenced ($refs): a data_fd or device leaked"
	rmmod migsim || fail "rmmod migsim failed"
	[ ! -d /sys/module/migsim ] || fail "migsim still loaded"
	[ ! -d /sys/class/mdev_bus/migsim ] || fail "the migsim parent outlived the module"
	start=$(cat "$BATS_FILE_TMPDIR/.dmesg-start")
	log=$(dmesg | tail -n +"$((start + 1))")
	if grep -Ei 'migsim.*(leak|error)|BUG|WARNING|Oops|refcount|use-after|general protection' <<<"$log"; then
		fail "kernel log after the suite:" "$log"
	fi
}

# Create a migsim mdev of TYPE (full basic p2p precopy none; on 6.1 only
# basic p2p none) with optional attributes (NAME=VALUE...) and print its
# UUID.  mtty_teardown removes it.
migsim_create() {
	local type=migsim-$1 uuid i kv d g
	shift
	read -r uuid </proc/sys/kernel/random/uuid
	echo "$uuid" >>"$BATS_TEST_TMPDIR/.mdevs"
	echo "$uuid" >"$migsim_types/$type/create" || fail "cannot create a $type"
	for kv in "$@"; do
		msim_set "$uuid" "${kv%%=*}" "${kv#*=}" || return 1
	done
	# Globs, not cdev_of/group_of: forks are dear under TCG.
	for ((i = 0; i < 50; i++)); do
		for d in "$mdev_bus/$uuid"/vfio-dev/vfio*; do :; done
		for g in /sys/kernel/iommu_groups/*/devices/"$uuid"; do :; done
		g=${g%/devices/*}
		if { ! vm_has_cdevs || [ -c "/dev/vfio/devices/${d##*/}" ]; } &&
			[ -c "/dev/vfio/${g##*/}" ]; then
			echo "$uuid"
			return 0
		fi
		sleep 0.1
	done
	fail "mdev $uuid ($type): no /dev/vfio nodes appeared"
}

# msim UUID ATTR: print an attribute; msim_set UUID ATTR VALUE: write one.
# (Builtins only: every fork costs a lot under TCG.)
msim() {
	local v
	read -r v <"$mdev_bus/$1/migsim/$2" || return 1
	echo "$v"
}

msim_set() {
	echo "$3" >"$mdev_bus/$1/migsim/$2" || fail "cannot set $2=$3 on $1"
}

# expect_msim UUID ATTR VALUE
expect_msim() {
	local v
	read -r v <"$mdev_bus/$1/migsim/$2" || fail "cannot read $2 of $1"
	[ "$v" = "$3" ] || fail "$2 of $1 is '$v', expected '$3'"
}

# The device's state as the driver has it, without opening the device
# (opening could reset it: reset_on_close).
expect_msim_state() { expect_msim "$1" state "$2"; }

# wait_msim_state DEV STATE: wait (up to 10 s) until the device is in
# STATE, as a process working on it in the background gets there; then
# expect it there.
wait_msim_state() {
	local i v
	for ((i = 0; i < 100; i++)); do
		read -r v <"$mdev_bus/$1/migsim/state" && [ "$v" = "$2" ] && break
		sleep 0.1
	done
	expect_msim_state "$1" "$2"
}

# slow_save_bg DEV [SAVE ARG...]: `vfio-migctl save --buffer-size=64K DEV
# ARG...` left running in the background, slowed so that the test can act
# on it mid-way: DEV made 2 MiB, 100 ms per 64 KiB read (seconds of data).
# Returns once DEV is in STOP_COPY; the save's pid in $pid (killed at
# teardown), its stderr in $T/err (a --json report too).  slow_save_wait
# then waits for it: its status in $rc.
slow_save_bg() {
	local dev=$1
	shift
	msim_set "$dev" size 2M
	msim_set "$dev" delay_us 100000
	vfio-migctl save --buffer-size=64K "$dev" "$@" 2>"$T/err" &
	pid=$!
	bg_track "$pid"
	wait_msim_state "$dev" STOP_COPY
}

slow_save_wait() {
	rc=0
	wait "$pid" || rc=$?
}

# The arc log: arcs_clear DEV empties it; expect_arcs DEV "FROM>TO ..."
# (and "reset") is what it holds.
arcs_clear() { msim_set "$1" arcs clear; }
expect_arcs() { expect_msim "$1" arcs "$2"; }

# Two devices of TYPE with different contents: SRC (SIZE bytes) and DST.
migsim_pair() { # TYPE SIZE [NAME=VALUE...] (applied to SRC)
	local type=$1 size=$2
	shift 2
	require_migsim
	SRC=$(migsim_create "$type" size="$size" "$@")
	DST=$(migsim_create "$type" size=4096)
	read -r SRC_DIGEST <"$mdev_bus/$SRC/migsim/digest"
	read -r DST_DIGEST <"$mdev_bus/$DST/migsim/digest"
	[ "$SRC_DIGEST" != "$DST_DIGEST" ] || fail "fresh devices share a digest"
}

# DST now holds exactly SRC's state
expect_same_state() { # SRC DST
	local s d
	read -r s <"$mdev_bus/$1/migsim/digest"
	read -r d <"$mdev_bus/$2/migsim/digest"
	[ "$s" = "$d" ] || fail "digest of $2 is $d, source $1 has $s"
	read -r s <"$mdev_bus/$1/migsim/size"
	read -r d <"$mdev_bus/$2/migsim/size"
	[ "$s" = "$d" ] || fail "size of $2 is $d, source $1 has $s"
}

# The rate model (dirty_rate): DST took a stream that proved re-sent all
# that SRC dirtied while it ran, and SRC dirtied MIN bytes at least.
expect_dirt_carried() { # SRC DST MIN
	local dirtied
	read -r dirtied <"$mdev_bus/$1/migsim/dirtied"
	((dirtied >= $3)) || fail "$1 dirtied $dirtied bytes, expected $3 at least"
	expect_msim "$2" dirtied "$dirtied"
}

# Nothing of a failed resume reached DEV: same digest, no load accepted.
expect_untouched() { # DEV DIGEST LOADS
	expect_msim "$1" digest "$2"
	expect_msim "$1" load_count "$3"
}

# ---- device sets: several devices, and the order of their arcs (arcs_seq)

# make_set TYPE SIZE...: one migsim-TYPE per SIZE, their UUIDs in SET
make_set() {
	local type=$1 size
	shift
	SET=()
	for size in "$@"; do
		SET+=("$(migsim_create "$type" size="$size")")
	done
}

digests_of() {
	local d
	for d in "$@"; do
		msim "$d" digest
	done
}

states_of() {
	local d
	for d in "$@"; do
		msim "$d" state
	done | tr '\n' ' '
}

seq_clear() {
	local d
	for d in "$@"; do
		msim_set "$d" arcs_seq clear
	done
}

# The members' arcs_seq merged in the order taken: "SEQ FROM>TO MEMBER"
seq_merged() {
	local i=0 d
	for d in "$@"; do
		sed "s/\$/ $i/" "$mdev_bus/$d/migsim/arcs_seq"
		i=$((i + 1))
	done | sort -n
}

# expect_barrier INTO OUT DEV...: every DEV took an arc matching the
# regex INTO, all of them before the first arc of any DEV matching OUT.
expect_barrier() {
	local into=$1 out=$2 merged last_in first_out members
	shift 2
	merged=$(seq_merged "$@")
	members=$(grep -E "^[0-9]+ ($into) " <<<"$merged" | cut -d' ' -f3 | sort -u | wc -l)
	[ "$members" = $# ] || fail "$members of $# members took $into:" "$merged"
	last_in=$(grep -E "^[0-9]+ ($into) " <<<"$merged" | tail -1 | cut -d' ' -f1)
	first_out=$(grep -E "^[0-9]+ ($out) " <<<"$merged" | head -1 | cut -d' ' -f1)
	[ -n "$first_out" ] || fail "no member took $out:" "$merged"
	((last_in < first_out)) || fail "a member took $out before all took $into:" "$merged"
}

# expect_no_arcs DEV...: nothing was asked of them since seq_clear
expect_no_arcs() {
	local merged
	merged=$(seq_merged "$@")
	[ -z "$merged" ] || fail "devices were touched:" "$merged"
}

# ---- the cross-tier exchange (make check-vm): each tier leaves streams in
# VM_EXCHANGE/SERIES as NAME.mig, each with NAME.info beside it: "SIZE
# SEED DIGEST" of its source, so the other side can compare digests and
# recreate the content with its own migsim.

# exchange_save DIR NAME DEV [SAVE-OPTION...]: save DEV (it ends in STOP)
# as DIR/NAME.mig, through `run` ($output is save's), and write NAME.info
exchange_save() {
	local dir=$1 name=$2 dev=$3 size seed digest
	shift 3
	mkdir -p "$dir"
	run -0 --separate-stderr vfio-migctl save -q --force "$@" "$dev" -o "$dir/$name.mig"
	read -r size <"$mdev_bus/$dev/migsim/size"
	read -r seed <"$mdev_bus/$dev/migsim/seed"
	read -r digest <"$mdev_bus/$dev/migsim/digest"
	echo "$size $seed $digest" >"$dir/$name.info"
}

# expect_exchanged DEV INFO [TYPE]: DEV holds the state INFO describes
# (digest and size); with TYPE, a fresh migsim-TYPE of INFO's size and
# seed makes the same content here (same digest).  INFO's digest is left
# in x_digest.
expect_exchanged() {
	local size seed ref
	read -r size seed x_digest <"$2" || fail "cannot read $2"
	expect_msim "$1" digest "$x_digest"
	expect_msim "$1" size "$size"
	[ $# -lt 3 ] && return 0
	ref=$(migsim_create "$3" size="$size" seed="$seed")
	expect_msim "$ref" digest "$x_digest"
}
