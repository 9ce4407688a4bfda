# Shared by the tests/vm suites.  They run inside the test VM (run-vm.sh),
# as root, against real mtty devices created per test; vfio-migctl and
# mtty-reg come first on PATH (the fresh build).  Outside the VM every test
# skips, which CI=true turns into a failure.
# globals for the suites, and bats' own (stderr_lines, output...):
# shellcheck shell=bash disable=SC2034,SC2119,SC2120,SC2154

mtty_types=/sys/class/mdev_bus/mtty/mdev_supported_types
mdev_bus=/sys/bus/mdev/devices
# mtty-1 is the single-port UART: a 24-byte header + one 36-byte port make
# the 60 bytes of MIG_DATA_SIZE.  (mtty-2, two ports, has 96.)
MTTY_TYPE=${MTTY_TYPE:-mtty-1}
MTTY_DATA_SIZE=60
# struct mtty_data starts with this u64, little-endian.
MTTY_MAGIC_HEX=4e2c3e8c89099d7e

all_states="STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P"

# The kernel series the guest runs (guest-init.sh exports it): 6.12, or
# 6.1, where VFIO has no iommufd cdev (no /dev/vfio/devices) and a device
# is reached through its group only.
VM_KERNEL_SERIES=${VM_KERNEL_SERIES:-}
vm_has_cdevs() { [ "$VM_KERNEL_SERIES" != 6.1 ]; }

# Every suite's setup calls it: T is the test's own directory.
require_vm() {
	T=$BATS_TEST_TMPDIR
	[ -d "$mtty_types" ] ||
		skip "needs the test VM's kernel with mtty (make check-vm)"
	command -v vfio-migctl >/dev/null || skip "vfio-migctl is not built"
	command -v mtty-reg >/dev/null || skip "mtty-reg is not built"
	kernel_log_mark
}

# Every test ends with a clean kernel log: whatever it did to a device, the
# kernel said nothing bad (a WARN is how the kernel reports a uAPI misuse,
# such as a state change asked of a device in ERROR).  The mark is the
# uptime when the test began; the log's own timestamps (printk.time=1)
# select what came after, whatever the ring buffer dropped.
kernel_log_mark() {
	local up
	read -r up _ </proc/uptime
	echo "$up" >"$BATS_TEST_TMPDIR/.klog-mark"
}

expect_clean_kernel_log() {
	local mark bad
	[ -f "$BATS_TEST_TMPDIR/.klog-mark" ] || return 0
	read -r mark <"$BATS_TEST_TMPDIR/.klog-mark"
	bad=$(dmesg | awk -v t="$mark" '
		match($0, /^\[ *[0-9]+\.[0-9]+\]/) {
			ts = substr($0, 2, RLENGTH - 2) + 0
			if (ts >= t) print
		}' | grep -E 'WARNING|BUG|Oops|general protection|refcount_t|use-after-free|Call Trace') || :
	[ -z "$bad" ] || fail "the kernel complained during the test:" "$bad"
}

fail() {
	printf '# %s\n' "$@" >&2
	return 1
}

# ---- devices

# Create an mtty mdev of TYPE (default $MTTY_TYPE), with UUID if given (a
# fresh one otherwise), and print its UUID.  It is removed by
# mtty_teardown: every device is also listed in a file, because callers
# run this in a command substitution.
mtty_create() { # [TYPE [UUID]]
	local type=${1:-$MTTY_TYPE} uuid=${2:-} i
	[ -n "$uuid" ] || read -r uuid </proc/sys/kernel/random/uuid
	echo "$uuid" >>"$BATS_TEST_TMPDIR/.mdevs"
	echo "$uuid" >"$mtty_types/$type/create"
	# The mdev registers synchronously; the /dev nodes may lag a little.
	for ((i = 0; i < 50; i++)); do
		if { ! vm_has_cdevs || [ -e "$(cdev_of "$uuid" 2>/dev/null)" ]; } &&
			[ -e "$(group_of "$uuid" 2>/dev/null)" ]; then
			echo "$uuid"
			return 0
		fi
		sleep 0.1
	done
	fail "mdev $uuid ($type): no /dev/vfio nodes appeared"
}

# /dev/vfio/devices/vfioN of an mdev
cdev_of() {
	local d
	for d in "$mdev_bus/$1"/vfio-dev/vfio*; do
		[ -e "$d" ] || return 1
		echo "/dev/vfio/devices/${d##*/}"
		return 0
	done
}

# /dev/vfio/N of an mdev
group_of() {
	local g
	g=$(readlink "$mdev_bus/$1/iommu_group") || return 1
	echo "/dev/vfio/${g##*/}"
}

group_nr_of() {
	local g
	g=$(group_of "$1") || return 1
	echo "${g##*/}"
}

mtty_remove() {
	[ ! -e "$mdev_bus/$1" ] || echo 1 >"$mdev_bus/$1/remove"
}

# Background processes a test starts (holders of a device, blocked savers):
# remembered so teardown can end them before removing the devices, since
# removing an mdev waits for its users.
bg_track() {
	echo "$1" >>"$BATS_TEST_TMPDIR/.pids"
}

mtty_teardown() {
	local pid uuid rmem
	if [ -f "$BATS_TEST_TMPDIR/.rmem" ]; then
		read -r rmem <"$BATS_TEST_TMPDIR/.rmem"
		echo "$rmem" >/proc/sys/net/core/rmem_max
	fi
	if [ -f "$BATS_TEST_TMPDIR/.pids" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || :
			wait "$pid" 2>/dev/null || :
		done <"$BATS_TEST_TMPDIR/.pids"
	fi
	if [ -f "$BATS_TEST_TMPDIR/.mdevs" ]; then
		while read -r uuid; do
			mtty_remove "$uuid"
		done <"$BATS_TEST_TMPDIR/.mdevs"
	fi
	# Shown by bats only when the test failed: the last `run`.
	if [ -n "${BATS_RUN_COMMAND:-}" ]; then
		printf '# last run: %s\n# status: %s\n' "$BATS_RUN_COMMAND" "${status:-}"
		printf '# stdout: %s\n' "${output:-}"
		printf '# stderr: %s\n' "${stderr:-}"
	fi >&2
	expect_clean_kernel_log
}

# Make every socket opened from now on get the smallest receive buffer the
# kernel allows (a few KiB): a burst of uevents then overruns it.
# mtty_teardown puts the limit back.
rmem_shrink() {
	local min
	cp /proc/sys/net/core/rmem_max "$BATS_TEST_TMPDIR/.rmem"
	# the kernel refuses a limit below its minimum buffer (about 2 KiB)
	for min in 2048 2304 4096 4608 8192; do
		echo "$min" 2>/dev/null >/proc/sys/net/core/rmem_max && return 0
	done
	fail "cannot lower net.core.rmem_max"
}

# A burst of uevents: N devices created and removed
uevent_burst() { # N
	local i u
	for ((i = 0; i < $1; i++)); do
		u=$(mtty_create) || return 1
		mtty_remove "$u"
	done
}

# cdev_name_of UUID: "vfioN", without a process for basename
cdev_name_of() {
	local c
	c=$(cdev_of "$1") || return 1
	echo "${c##*/}"
}

# The usual fixture: two fresh devices, SRC and DST (UUIDs).
setup_pair() {
	require_vm
	SRC=$(mtty_create)
	DST=$(mtty_create)
}

# ---- assertions

# expect_state DEV STATE: the device is in STATE (read by vfio-migctl).
# Not through `run`: its --separate-stderr costs a mktemp process per call.
expect_state() {
	local got
	got=$(vfio-migctl state "$1" 2>"$BATS_TEST_TMPDIR/.state.err") ||
		fail "vfio-migctl state $1 failed: $(cat "$BATS_TEST_TMPDIR/.state.err")"
	[ "$got" = "$2" ] || fail "state of $1: '$got', expected $2"
}

# expect_reg DEV REG VALUE: an mtty register reads VALUE (0xNN).
expect_reg() {
	local v
	v=$(mtty-reg "$1" get "$2") || fail "mtty-reg $1 get $2 failed"
	[ "$v" = "$3" ] || fail "$2 of $1 is $v, expected $3"
}

# expect_error CMD [REGEX]: stderr is exactly one line, in the format
# "vfio-migctl: CMD: ...", matching REGEX if given (case-insensitive).
expect_error() {
	[ "${#stderr_lines[@]}" -eq 1 ] ||
		fail "expected one line on stderr, got ${#stderr_lines[@]}:" "$stderr"
	[[ $stderr == "vfio-migctl: $1: "* ]] ||
		fail "stderr does not start 'vfio-migctl: $1: ': $stderr"
	if [ $# -gt 1 ]; then
		shopt -s nocasematch
		[[ $stderr =~ $2 ]] || {
			shopt -u nocasematch
			fail "stderr does not match /$2/: $stderr"
		}
		shopt -u nocasematch
	fi
}

# expect_usage_error CMD REGEX: argp's usage report ("vfio-migctl CMD:
# reason" and a "Try ... --help" line) naming the problem.
expect_usage_error() {
	[[ ${stderr_lines[0]:-} == "vfio-migctl $1: "* || ${stderr_lines[0]:-} == "vfio-migctl: $1: "* ]] ||
		fail "usage error does not name 'vfio-migctl $1': $stderr"
	shopt -s nocasematch
	[[ $stderr =~ $2 ]] || {
		shopt -u nocasematch
		fail "stderr does not match /$2/: $stderr"
	}
	shopt -u nocasematch
}

# ---- reports

# The JSON summary of a transfer, after any error line
json_of() { sed -n '/^{/,$p' <<<"$1"; }

# not_passing: the rules of check's JSON report in $output that did not
# pass, as "id=verdict ..." in the order they ran
not_passing() {
	jq -r '[.rules[] | select(.verdict != "pass") | "\(.id)=\(.verdict)"] | join(" ")' <<<"$output"
}

# expect_verdicts WANT: not_passing is WANT
expect_verdicts() {
	local got
	got=$(not_passing) || fail "no JSON report:" "$output"
	[ "$got" = "$1" ] || fail "not passing: '$got'" "expected:    '$1'" "$output"
}

# detail_of ID: the detail check gave rule ID
detail_of() {
	jq -r --arg id "$1" '.rules[] | select(.id == $id) | .detail' <<<"$output"
}

# ---- streams

hex_of() { od -An -tx1 -v "$@" | tr -d ' \n'; }

# Load FILE's bytes as printf escapes into the array stream_bytes, so that
# altered copies can be written without a process per copy (every fork is
# expensive in an emulated VM).
stream_load() { # FILE
	local b
	stream_bytes=()
	for b in $(od -An -tx1 -v "$1"); do
		stream_bytes+=("\\x$b")
	done
}

# Write the loaded stream to OUT with every bit of the byte at OFFSET
# flipped (OFFSET -1: unaltered).
stream_flip() { # OFFSET OUT
	local -a copy=("${stream_bytes[@]}")
	local v
	if [ "$1" -ge 0 ]; then
		v=${copy[$1]#\\x}
		printf -v v '\\x%02x' $((0x$v ^ 0xff))
		copy[$1]=$v
	fi
	printf '%b' "${copy[@]}" >"$2"
}

# file_flip FILE OFFSET OUT: OUT is a copy of FILE with every bit of the
# byte at OFFSET inverted (so it differs, whatever the byte was); for
# files too large for stream_load.
file_flip() {
	local byte
	cp "$1" "$3" || fail "cannot copy $1 to $3"
	byte=$(od -An -tu1 -j "$2" -N1 "$1")
	[ -n "$byte" ] || fail "$1 has no byte at offset $2"
	printf -v byte '\\x%02x' $((255 - byte))
	printf '%b' "$byte" | dd of="$3" bs=1 seek="$2" conv=notrunc status=none
}

# ---- migration

# Give a device recognisable migrated state: scratch register, line control
# and bytes waiting in the loopback FIFO.  FCR 0x07 empties the FIFO first
# (saving copies the state, the source keeps its bytes) and keeps it 16
# deep (without FCR's enable bit mtty shrinks it to one byte).
mtty_fill() { # DEV SCR LCR FIFO-STRING
	mtty-reg "$1" set fcr 0x07 set scr "$2" set lcr "$3" send "$4"
}

# expect_regs DEV "VALUE..." CMD...: mtty-reg DEV CMD... prints these lines
# (one process for several registers: forks are dear in an emulated VM).
expect_regs() {
	local dev=$1 want=$2 got
	shift 2
	got=$(mtty-reg "$dev" "$@" | tr '\n' ' ') || fail "mtty-reg $dev $* failed"
	[ "$got" = "$want " ] || fail "mtty-reg $dev $*:" "  got  $got" "  want $want"
}

# The device holds the state mtty_fill gave it (this consumes the FIFO).
# The FIFO must hold exactly those bytes: LSR says empty after them.
expect_filled() { # DEV SCR LCR FIFO-STRING
	expect_regs "$1" "$2 $3 $4 0x60" get scr get lcr recv "${#4}" get lsr
}

# A device in its power-on state: nothing to confuse with migrated values.
expect_pristine() { # DEV
	# LSR 0x60: THRE|TEMT, no data ready
	expect_regs "$1" "0x00 0x00 0x60" get scr get lcr get lsr
}

# save_resume SAVE-ARGS... -- RESUME-ARGS...: `vfio-migctl save | vfio-migctl
# resume` with both exit statuses and stderrs kept: save_status,
# resume_status, save_err, resume_err, resume_out.
save_resume() {
	local -a sargs=() rargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	rargs=("$@")
	# Each side records its own status (errexit is on: `|| st=$?`).
	{
		local st=0
		vfio-migctl save "${sargs[@]}" 2>"$T/save.err" || st=$?
		echo "$st" >"$T/save.rc"
	} | {
		local st=0
		vfio-migctl resume "${rargs[@]}" >"$T/resume.out" 2>"$T/resume.err" || st=$?
		echo "$st" >"$T/resume.rc"
	}
	# builtins only: no process per file
	read -r save_status <"$T/save.rc"
	read -r resume_status <"$T/resume.rc"
	IFS= read -r -d '' save_err <"$T/save.err" || :
	IFS= read -r -d '' resume_err <"$T/resume.err" || :
	IFS= read -r -d '' resume_out <"$T/resume.out" || :
	save_err=${save_err%$'\n'} resume_err=${resume_err%$'\n'} resume_out=${resume_out%$'\n'}
	printf '# save %s -> %s: %s\n' "${sargs[*]}" "$save_status" "$save_err" >&2
	printf '# resume %s -> %s: %s\n' "${rargs[*]}" "$resume_status" "$resume_err" >&2
}

# Both sides of a save | resume succeeded.
expect_migrated() {
	[ "$save_status" -eq 0 ] || fail "save exited $save_status: $save_err"
	[ "$resume_status" -eq 0 ] || fail "resume exited $resume_status: $resume_err"
}

# A plain save | resume from $1 to $2 works and carries fresh values: the
# proof that a device is usable again after a failure.
expect_still_migrates() { # SRC DST
	mtty_fill "$1" 0x3c 0x1b "again"
	vfio-migctl state "$1" running >/dev/null 2>&1 || :
	save_resume -q "$1" -- -q "$2"
	expect_migrated
	expect_filled "$2" 0x3c 0x1b "again"
}

# ---- blocking a process deterministically

# Make FIFO a named pipe whose buffer is already full: a writer opening it
# blocks on its first write until we read.  FD 7 keeps the read side open.
# vfio-migctl resizes its output pipe to its buffer size (F_SETPIPE_SZ, 1
# MiB by default), which would make room in a full 64 KiB pipe: make it 4
# MiB first (or as big as allowed), so that the resize cannot add room.
full_fifo() { # PATH
	mkfifo "$1"
	exec 7<>"$1"
	perl -e 'fcntl(STDOUT, 1031, 4 << 20) or fcntl(STDOUT, 1031, int(`cat /proc/sys/fs/pipe-max-size`))
		or die "F_SETPIPE_SZ: $!\n"' >&7 || fail "cannot grow the FIFO"
	# Write until the pipe refuses more (EAGAIN), whatever its size.
	dd if=/dev/zero of="$1" bs=64K count=256 oflag=nonblock status=none 2>/dev/null || :
}

# Wait until PID sleeps in a system call writing to (or polling) a file:
# then it is blocked on the full FIFO, with the device open.
wait_blocked() { # PID
	local i nr task
	for i in $(seq 100); do
		[ -d "/proc/$1" ] || fail "process $1 exited early"
		# any of its threads: the transfer engine writes on a thread of its own
		for task in /proc/"$1"/task/*; do
			read -r nr _ <"$task/syscall" 2>/dev/null || nr=
			case "$nr" in
			# write, writev, pwrite64, poll, select, ppoll, pselect6, splice,
			# epoll_wait, epoll_pwait, sendfile, copy_file_range
			1 | 20 | 18 | 7 | 23 | 271 | 270 | 275 | 232 | 281 | 40 | 326)
				[ "$(cut -d' ' -f3 "$task/stat")" = S ] && return 0
				;;
			esac
		done
		sleep 0.05
	done
	fail "process $1 never blocked (syscall '$nr')"
}

# Wait until PID sleeps in poll()/ppoll(): subscribed and waiting for events.
wait_polling() { # PID
	local i nr
	for i in $(seq 100); do
		[ -d "/proc/$1" ] || fail "process $1 exited early"
		read -r nr _ <"/proc/$1/syscall" 2>/dev/null || nr=
		case "$nr" in 7 | 271) return 0 ;; esac
		sleep 0.05
	done
	fail "process $1 never waited for events (syscall '$nr')"
}

# Wait until PID has FILE open.
wait_until_open() { # PID FILE
	local i fd
	for i in $(seq 100); do
		for fd in /proc/"$1"/fd/*; do
			[ "$(readlink "$fd")" != "$2" ] || return 0
		done
		sleep 0.05
	done
	fail "process $1 never opened $2"
}
