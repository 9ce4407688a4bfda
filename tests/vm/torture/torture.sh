#!/bin/bash
# The torture suite (make torture, make check-torture): seeded random
# sequences of vfio-migctl commands on migsim devices, each with random
# device faults and a random signal at a random moment, and the tool's
# promises checked after every step.  The idea is rcutorture's: what no
# hand-written test thought of, a long random run finds, and a seed
# replays it.
#
# Runs in the 6.12 test VM (run-vm.sh --exec; the make targets do that):
#   make torture SEED=N [STEPS=40]     one seed, from fresh devices
#   make torture DURATION=SECONDS      seeds N, N+1, ... until the time is up
#                                      (N random, printed; BASE_SEED=N sets it)
#   make check-torture                 the fixed seeds of torture.mk
# On the host, without a VM, the plan of a seed (what each step will do):
#   tests/vm/torture/torture.sh --plan SEED [STEPS]
#
# Knobs (the make variables arrive in the guest as VM_TEST_TORTURE_*):
#   SEED, SEEDS (a list), STEPS, DURATION, BASE_SEED as above;
#   CANCEL_S     seconds from SIGINT/TERM/HUP to the tool's exit (default 5:
#                loose, TCG on a busy host is slow; the promise is 250 ms
#                plus the device's transitions)
#   STEP_TIMEOUT seconds before a step counts as hung (default 120)
#   KEEP_GOING   0: stop at the first violation (default with SEED);
#                1: note it, start the next seed (default with DURATION);
#                2: note it, reset the devices, go on with the next step
#
# One step is one command, drawn from the PRNG seeded by (SEED, step): its
# plan never depends on what earlier steps did, so --plan shows it on the
# host.  Outcomes (races, which file a slot holds) do depend on the run.
#   save-file    save DEV -o FILE      (new, an earlier stream, a "precious"
#                                       file; with or without --force)
#   save-pipe    save DEV into a FIFO read by cat (-o FIFO, or stdout)
#   resume-file  resume DEV -i FILE    (an earlier stream, maybe corrupted,
#                                       maybe --raw of the wrong kind)
#   pipe         save A | resume B     (the shell's redirections)
#   fifo-pair    save A -o FIFO, resume B -i FIFO (the tool opens the FIFO)
#   state        state DEV NEW
#   check        check DEV DEV2
# with random --raw, --precopy, --single-pass, --then, --on-error,
# --buffer-size, --end-session, a random state the device is put in first,
# 0-2 of migsim's faults (fail_arc, fail_read_after, fail_write_after,
# short_io, delay_us, reset_on_close, fail_reset, stall_write_after), and a
# signal (INT, TERM, HUP, KILL or none) sent to one side or both: at once,
# a random time after the start, or a random time after data started to
# flow (the device entered a data state); maybe a second one during the
# recovery.
#
# The invariants checked after every step (the promises of the man page):
#   status     the exit status is a documented one (EXIT STATUS); 137 only
#              after our SIGKILL
#   report     the JSON report agrees with the status (ok, ERROR is 6, a
#              restore returns to the state found, a reset ends RUNNING, a
#              success ends in --then's state)
#   state      migsim's state is the state reported (RUNNING instead when
#              reset_on_close=1 and the tool opened the device); a command
#              that failed without a report left the device as it was
#   cancel     SIGINT/TERM/HUP: the tool exits within CANCEL_S seconds;
#              status 130 only after a signal
#   file       -o FILE exists (and `inspect` verifies it) only after
#              status 0; otherwise a file that was there is byte for byte
#              what it was; no temporary is left beside it.  After our
#              SIGKILL, which can land past the commit (atomic), the file
#              is also allowed to be the whole new stream, which `inspect`
#              verifies
#   stream     a failed framed save never leaves a stream that looks
#              complete: `inspect` refuses what went into a FIFO, and the
#              destination of a pipe refuses it (left untouched)
#   digest     a source's digest never changes; a destination holds its
#              old digest or the source's, never a third; after status 0
#              the source's
#   recovery   after SIGKILL, `vfio-migctl reset DEV` (documented way out)
#              brings the device back to RUNNING
#   kernel     no migsim module reference left once the step's processes
#              are gone, no WARN/BUG in the kernel log; at the end every
#              device is removed and the module unloads
# A violation prints "TORTURE-VIOLATION seed=S step=N <invariant>: ...",
# the step's plan (command lines, faults, signal and its timing) and what
# the commands printed; a violation ends its seed (KEEP_GOING says more).
# The last line: "TORTURE-DONE seeds=... steps=... violations=...".
set -u
shopt -s nullglob

# ---- the PRNG: bash's RANDOM, seeded per step (deterministic within a
# bash version; the guest runs the host's bash)

seed_step() { # SEED STEP
	RANDOM=$((($1 * 2654435761 + $2 * 40503 + 12345) % 2147483647))
}
# rnd N: R = uniform in [0, N)
rnd() { R=$((((RANDOM << 15) | RANDOM) % $1)); }
# chance PERCENT: true with that probability
chance() {
	rnd 100
	[ "$R" -lt "$1" ]
}
# wpick W1 V1 W2 V2 ...: R = one of the Vs, each with weight W
wpick() {
	local total=0 acc=0 i
	for ((i = 1; i <= $#; i += 2)); do total=$((total + ${!i})); done
	rnd "$total"
	while [ $# -gt 0 ]; do
		acc=$((acc + $1))
		if [ "$R" -lt "$acc" ]; then
			R=$2
			return
		fi
		shift 2
	done
}

bytes() { # 64K -> 65536
	case "$1" in
	*K) echo $((${1%K} * 1024)) ;;
	*M) echo $((${1%M} * 1024 * 1024)) ;;
	*) echo "$1" ;;
	esac
}

# ---- the plan of one step: globals P_*, from the PRNG only

NDEV=3 # migsim-full devices d0 d1 d2
data_states="STOP_COPY PRE_COPY PRE_COPY_P2P RESUMING"

# The arcs a save (src) or a resume (dst) takes on migsim-full, the --then
# arcs first: a failing --then is the commit-point case (issue 21, 3).
src_arcs=("STOP_COPY STOP" "STOP RUNNING_P2P" "RUNNING_P2P RUNNING"
	"RUNNING RUNNING_P2P" "RUNNING_P2P STOP" "STOP STOP_COPY"
	"RUNNING PRE_COPY" "PRE_COPY PRE_COPY_P2P" "PRE_COPY_P2P STOP_COPY")
dst_arcs=("RESUMING STOP" "STOP RUNNING_P2P" "RUNNING_P2P RUNNING"
	"STOP RESUMING" "RUNNING RUNNING_P2P" "RUNNING_P2P STOP")

# plan_fault: append one fault "ROLE ATTR VALUE" to P_FAULTS (ROLE src or
# dst: the saving and the resuming device; check's DEV and DEV2 do both).
plan_fault() {
	local role kind size arc e
	case "$P_CMD" in
	save-file | save-pipe | state) role=src ;;
	resume-file) role=dst ;;
	*) wpick 1 src 1 dst && role=$R ;;
	esac
	wpick 25 fail_arc 12 fail_read_after 12 fail_write_after 10 short_io \
		14 delay_us 10 reset_on_close 7 fail_reset 10 stall_write_after
	kind=$R
	# a read fault belongs to a saving device, a write fault to a resuming
	# one; on a command without that side the fault lands on the other
	# side's device and is simply never hit
	size=$(bytes "$P_SIZE")
	case "$kind" in
	fail_arc)
		if [ "$role" = src ]; then
			wpick 30 0 10 1 5 2 5 3 5 4 10 5 5 6 5 7 5 8
			arc=${src_arcs[R]}
		else
			wpick 30 0 10 1 5 2 10 3 5 4 5 5
			arc=${dst_arcs[R]}
		fi
		wpick 3 5 2 71 1 22
		e=$R
		chance 30 && e="$e error"
		P_FAULTS+=("$role fail_arc $arc $e")
		;;
	fail_read_after | fail_write_after | stall_write_after)
		rnd "$size"
		P_FAULTS+=("$role $kind $R")
		;;
	short_io)
		# not 1: 64 Ki system calls of a few ms each under TCG pass any step's bound
		if [ "$size" -le 65536 ]; then wpick 1 333 1 4096 1 65536; else wpick 1 4096 1 65536; fi
		P_FAULTS+=("$role short_io $R")
		;;
	delay_us)
		wpick 1 100 1 1000 1 5000 1 20000
		P_FAULTS+=("$role delay_us $R")
		;;
	reset_on_close) P_FAULTS+=("$role reset_on_close 1") ;;
	fail_reset)
		wpick 1 5 1 16
		P_FAULTS+=("$role fail_reset $R")
		;;
	esac
}

plan_step() { # SEED STEP
	local nf i size nreads delay
	seed_step "$1" "$2"
	wpick 18 save-file 12 save-pipe 16 resume-file 24 pipe 12 fifo-pair 12 state 6 check
	P_CMD=$R
	rnd $NDEV
	P_SRC=$R
	rnd $((NDEV - 1))
	P_DST=$(((P_SRC + 1 + R) % NDEV))
	wpick 30 64K 30 1M 25 16M 15 64M
	P_SIZE=$R
	wpick 15 4K 45 64K 40 1M
	P_BUF=$R
	# 4 KiB chunks cost ~4 ms each under TCG: not for the big states
	case "$P_SIZE" in 16M | 64M) [ "$P_BUF" != 4K ] || P_BUF=64K ;; esac
	P_RAW=0
	chance 30 && P_RAW=1
	P_PRECOPY=0
	chance 35 && P_PRECOPY=1
	P_INITIAL=0 # PRE_COPY initial bytes: none, or half the state
	chance 50 && P_INITIAL=1
	P_SINGLE=0
	chance 40 && P_SINGLE=1
	wpick 40 "" 25 restore 20 reset 15 leave
	P_ONERR=$R
	wpick 50 "" 20 stop 20 running 10 running_p2p
	P_THEN=$R
	# the state the (first) device is put in before the command; the data
	# states are sessions a killed process left open (refused without
	# --end-session)
	wpick 60 "" 15 running 8 stop 7 running_p2p 4 stop_copy 3 pre_copy 3 resuming
	P_PRESTATE=$R
	P_END_SESSION=0
	case " $data_states " in
	*" ${P_PRESTATE^^} "*) chance 60 && P_END_SESSION=1 ;;
	*) chance 5 && P_END_SESSION=1 ;;
	esac
	rnd 3
	P_SLOT=$R
	wpick 40 absent 30 keep 30 precious
	P_TARGET=$R
	P_FORCE=0
	chance 70 && P_FORCE=1
	P_CORRUPT=-1 # resume-file: flip the byte at this permille of the file
	chance 15 && rnd 1000 && P_CORRUPT=$R
	P_MISMATCH=0 # resume-file: --raw of the other kind than the file's
	chance 8 && P_MISMATCH=1
	wpick 1 -o 1 stdout
	P_VIA=$R
	wpick 1 stop 1 running 1 stop_copy 1 resuming 1 running_p2p 1 pre_copy 1 pre_copy_p2p
	P_NEW=$R
	[ "$P_CMD" != state ] || P_RAW=0
	# check keeps both devices' states in memory: small ones
	[ "$P_CMD" != check ] || P_SIZE=64K
	P_FAULTS=()
	wpick 35 0 40 1 25 2
	nf=$R
	for ((i = 0; i < nf; i++)); do plan_fault; done

	P_SIG=none P_SIG_TO=src P_SIG_WHEN=- P_SIG_MS=0 P_SIG2=-1
	[ "$P_CMD" = state ] && return # state does not catch signals (not a transfer)
	wpick 45 none 14 INT 14 TERM 10 HUP 17 KILL
	P_SIG=$R
	[ "$P_SIG" = none ] && return
	case "$P_CMD" in
	pipe | fifo-pair) wpick 40 src 30 dst 30 both && P_SIG_TO=$R ;;
	resume-file) P_SIG_TO=dst ;;
	esac
	wpick 15 early 60 flow 25 at
	P_SIG_WHEN=$R
	case "$P_SIG_WHEN" in
	flow) rnd 500 && P_SIG_MS=$R ;;
	at) rnd 2500 && P_SIG_MS=$R ;;
	esac
	if [ "$P_SIG" != KILL ] && chance 25; then
		rnd 300
		P_SIG2=$R
	fi
	# Most signals land while data flows steadily: a big state, a device
	# that takes a little time per chunk (well under the 100 ms a stage
	# waits before it looks at the cancel flag today), ~9 s in all; long
	# enough that a signal not acted on shows.
	if [ "$P_SIG" != KILL ] && [ "$P_SIG_WHEN" = flow ] && chance 70; then
		[ "$P_CMD" = check ] || { wpick 1 16M 1 64M && P_SIZE=$R; }
		P_BUF=64K
		nreads=$(($(bytes "$P_SIZE") / $(bytes "$P_BUF")))
		delay=$((9000000 / nreads))
		[ "$delay" -gt 50000 ] && delay=50000
		case "$P_CMD" in resume-file) P_FAULTS+=("dst delay_us $delay") ;;
		*) P_FAULTS+=("src delay_us $delay") ;;
		esac
	fi
	# Bound the time a step takes: a per-I/O delay on many small I/Os
	size=$(bytes "$P_SIZE")
	for i in "${!P_FAULTS[@]}"; do
		# shellcheck disable=SC2086 # a fault is "ROLE ATTR VALUE..."
		set -- ${P_FAULTS[i]}
		[ "$2" = delay_us ] || continue
		nreads=$((size / $(bytes "$P_BUF") + 1))
		[ $(($3 * nreads)) -le 12000000 ] || P_FAULTS[i]="$1 delay_us $((12000000 / nreads))"
	done
}

# P_* as one line, for the plan and for a violation's report
plan_line() {
	local f sig=none
	if [ "$P_SIG" != none ]; then
		sig="$P_SIG to $P_SIG_TO, $P_SIG_WHEN"
		[ "$P_SIG_WHEN" = early ] || sig+="+${P_SIG_MS}ms"
		[ "$P_SIG2" -lt 0 ] || sig+=", again +${P_SIG2}ms"
	fi
	printf '%s' "$P_CMD"
	case "$P_CMD" in
	save-file | save-pipe) printf ' d%s' "$P_SRC" ;;
	resume-file) printf ' slot%s -> d%s' "$P_SLOT" "$P_DST" ;;
	pipe | fifo-pair | check) printf ' d%s d%s' "$P_SRC" "$P_DST" ;;
	state) printf ' d%s %s' "$P_SRC" "$P_NEW" ;;
	esac
	[ "$P_CMD" = resume-file ] || printf ' size=%s' "$P_SIZE"
	[ -z "$P_PRESTATE" ] || printf ' found-in=%s' "$P_PRESTATE"
	case "$P_CMD" in state | check) ;; *)
		printf ' buf=%s then=%s on-error=%s' "$P_BUF" "${P_THEN:-default}" "${P_ONERR:-default}"
		[ "$P_RAW" = 0 ] || printf ' raw'
		[ "$P_END_SESSION" = 0 ] || printf ' end-session' ;;
	esac
	case "$P_CMD" in save-file | save-pipe | pipe | fifo-pair)
		[ "$P_PRECOPY" = 0 ] || printf ' precopy(initial %s)' "$([ "$P_INITIAL" = 1 ] && echo half || echo 0)" ;;
	esac
	case "$P_CMD" in
	save-file)
		printf ' -o slot%s(%s)' "$P_SLOT" "$P_TARGET"
		[ "$P_FORCE" = 0 ] || printf ' force' ;;
	save-pipe) printf ' via %s' "$P_VIA" ;;
	resume-file)
		[ "$P_SINGLE" = 0 ] || printf ' single-pass'
		[ "$P_CORRUPT" -lt 0 ] || printf ' corrupted-at=%s/1000' "$P_CORRUPT"
		[ "$P_MISMATCH" = 0 ] || printf ' raw-mismatch' ;;
	pipe | fifo-pair) [ "$P_SINGLE" = 0 ] || printf ' single-pass' ;;
	esac
	printf '; faults: '
	[ ${#P_FAULTS[@]} -gt 0 ] || printf 'none'
	for f in "${P_FAULTS[@]}"; do printf '[%s] ' "$f"; done
	printf '; signal: %s\n' "$sig"
}

if [ "${1:-}" = --plan ]; then
	[ $# -ge 2 ] || { echo "usage: $0 --plan SEED [STEPS]" >&2; exit 2; }
	for ((s = 1; s <= ${3:-40}; s++)); do
		plan_step "$2" "$s"
		echo "step $s: $(plan_line)"
	done
	exit 0
fi

# ---- in the VM from here on

bin=$(dirname "${MIGCTL:?run me through run-vm.sh --exec (make torture)}")
mdev_bus=/sys/bus/mdev/devices
types=/sys/class/mdev_bus/migsim/mdev_supported_types
CANCEL_S=${VM_TEST_TORTURE_CANCEL_S:-5}
STEP_TIMEOUT=${VM_TEST_TORTURE_STEP_TIMEOUT:-120}
STEPS=${VM_TEST_TORTURE_STEPS:-40}
DURATION=${VM_TEST_TORTURE_DURATION:-}
SEEDS=${VM_TEST_TORTURE_SEEDS:-${VM_TEST_TORTURE_SEED:-}}
if [ -n "$SEEDS" ]; then
	KEEP_GOING=${VM_TEST_TORTURE_KEEP_GOING:-0}
else
	KEEP_GOING=${VM_TEST_TORTURE_KEEP_GOING:-1}
	BASE_SEED=${VM_TEST_TORTURE_BASE_SEED:-$((SRANDOM % 1000000))}
	DURATION=${DURATION:-600}
fi
W=$(mktemp -d)
mkdir -p "$W/pool" "$W/step" "$W/bad"
# a builtin sleep: read -t on a FIFO nobody writes (a fork costs ~20 ms
# under TCG, more than the polling interval)
mkfifo "$W/zz"
exec {zz}<>"$W/zz"
nap() { read -r -t "$1" -u "$zz" _ || :; }
now_ms() { local t=${EPOCHREALTIME/./}; NOW=$((t / 1000)); }

[ -d /sys/module/migsim ] || insmod "$bin/migsim/${VM_KERNEL_SERIES:-6.12}/migsim.ko" ||
	{ echo "torture: cannot load migsim" >&2; exit 1; }

DEV=() # the UUIDs of d0 d1 d2
devices_create() {
	local i uuid
	DEV=()
	for ((i = 0; i < NDEV; i++)); do
		read -r uuid </proc/sys/kernel/random/uuid
		echo "$uuid" >"$types/migsim-full/create" || return 1
		DEV+=("$uuid")
		until compgen -G "$mdev_bus/$uuid/vfio-dev/vfio*" >/dev/null &&
			compgen -G "/dev/vfio/devices/vfio*" >/dev/null; do nap 0.05; done
	done
	# the /dev nodes follow the mdevs
	for ((i = 0; i < 50; i++)); do
		vfio-migctl -q info "${DEV[NDEV - 1]}" >/dev/null 2>&1 && break
		nap 0.1
	done
}
devices_remove() {
	local u
	for u in "${DEV[@]}"; do echo 1 >"$mdev_bus/$u/remove" 2>/dev/null || :; done
	DEV=()
}
cleanup() {
	devices_remove
	rmmod migsim 2>/dev/null || :
	rm -rf "$W"
}
trap cleanup EXIT

attr() { # D ATTR -> A (d index)
	A=""
	read -r A 2>/dev/null <"$mdev_bus/${DEV[$1]}/migsim/$2" || A="?"
}
set_attr() { echo "$3" >"$mdev_bus/${DEV[$1]}/migsim/$2" 2>/dev/null; }
fault_defaults() { # D
	set_attr "$1" fail_arc none
	set_attr "$1" fail_read_after -1
	set_attr "$1" fail_write_after -1
	set_attr "$1" stall_write_after -1
	set_attr "$1" short_io 0
	set_attr "$1" delay_us 0
	set_attr "$1" reset_on_close 0
	set_attr "$1" fail_reset 0
	set_attr "$1" precopy_initial 0
}

# ---- violations

STEP_BAD=0
violate() { # INVARIANT MESSAGE...
	local inv=$1
	shift
	STEP_BAD=$((STEP_BAD + 1))
	echo "TORTURE-VIOLATION seed=$SEED step=$STEP $inv: $*"
	VIOLATIONS+=("seed=$SEED step=$STEP $inv: $*")
}

# What the step did, after its violations
step_report() {
	local i f
	echo "  replay: make torture SEED=$SEED STEPS=$STEP  (plan: tests/vm/torture/torture.sh --plan $SEED $STEP)"
	echo "  plan: $(plan_line)"
	echo "  devices: $(for ((i = 0; i < NDEV; i++)); do printf 'd%s=%s ' $i "${DEV[i]}"; done)"
	for i in "${!CMDS[@]}"; do
		echo "  command $i: ${CMDS[i]}"
		echo "    exit ${RC[i]:-?}, ran ${RUN_MS[i]:-?} ms${SIG_AT[i]:+; signal sent at ${SIG_AT[i]} ms}${FLOW_AT:+; data flowed from $FLOW_AT ms}"
		for f in out err; do
			[ -s "$W/step/$f.$i" ] || continue
			echo "    std$f:"
			head -c 2000 "$W/step/$f.$i" | sed 's/^/      | /'
		done
	done
	for i in "${NOTES[@]}"; do echo "  note: $i"; done
}

# ---- running the step's commands

# launch I CMD...: start command I in the background (its stdin/stdout
# redirections are given as the variables IN_I, OUT_I), stdout and
# stderr into the step directory.  SIGINT is put back to its default:
# bash starts background jobs with it ignored, a terminal would not.
CMDS=() PIDS=() RC=() RUN_MS=() SIG_AT=() EXIT_AT=()
launch() {
	local i=$1 in=$2 out=$3
	shift 3
	CMDS[i]="$*"
	[ "$in" = - ] || CMDS[i]+=" <$in"
	[ "$out" = - ] || CMDS[i]+=" >$out"
	if [ "$in" = - ]; then in=/dev/null; fi
	if [ "$out" = - ]; then out=$W/step/out.$i; fi
	env --default-signal=INT "$@" <"$in" >"$out" 2>"$W/step/err.$i" &
	PIDS[i]=$!
}

# exited PID: true once it is a zombie or gone
exited() {
	local st=""
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 0
	[ "$st" = Z ]
}

# catches PID SIG: the tool is running and has its handler for SIG.
# (One read of the whole file: a loop over a redirected file that
# returns from inside can leave bash's stdin on that file.)
catches() {
	local comm status="" mask bit
	read -r comm 2>/dev/null <"/proc/$1/comm" || return 1
	[ "$comm" = vfio-migctl ] || return 1
	[ "$2" = KILL ] && return 0
	case "$2" in INT) bit=2 ;; TERM) bit=15 ;; HUP) bit=1 ;; esac
	read -r -d '' status 2>/dev/null <"/proc/$1/status"
	# (empty if it exited meanwhile: not catching, then)
	[[ $status =~ SigCgt:[[:space:]]*([0-9a-f]+) ]] || return 1
	mask=$((16#${BASH_REMATCH[1]}))
	[ $(((mask >> (bit - 1)) & 1)) = 1 ]
}

# A FIFO whose other side never opened it (that side failed first) would
# block the open for ever: opening it read-write ourselves and closing
# completes any open waiting on it, and adds no data.
release_fifo() {
	local fd
	[ -p "$1" ] || return 0
	exec {fd}<>"$1" && exec {fd}>&-
}

# run_all: wait for every launched command, sending the planned signal at
# its moment to its targets (TARGETS: command indexes), timing each exit;
# RC[i] and RUN_MS[i] are set, SIG_AT[i] when a signal reached i.
run_all() {
	local start n left i sent=0 sent2=0 t_sig=0 flow_seen=0 d
	local -a targets=("${TARGETS[@]}")
	now_ms
	start=$NOW
	FLOW_AT=""
	SIG_DATA_STATE=""
	n=${#PIDS[@]}
	while :; do
		now_ms
		left=0
		for i in "${!PIDS[@]}"; do
			[ -z "${EXIT_AT[i]:-}" ] || continue
			if exited "${PIDS[i]}"; then
				EXIT_AT[i]=$((NOW - start))
			else
				left=$((left + 1))
			fi
		done
		[ "$left" -gt 0 ] || break
		# once one side is gone, the other may wait (or come to wait)
		# in open() on the FIFO for ever, as a shell's > would
		[ "$left" = "$n" ] || release_fifo "$W/step/fifo"
		if [ "$P_SIG" != none ] && [ "$flow_seen" = 0 ]; then
			for d in "${INVOLVED[@]}"; do
				attr "$d" state
				case " $data_states " in *" $A "*)
					flow_seen=1
					FLOW_AT=$((NOW - start)) ;;
				esac
			done
		fi
		if [ "$P_SIG" != none ] && [ "$sent" = 0 ] && ready_to_signal "$start"; then
			sent=1
			t_sig=$NOW
			signal_targets "$start"
		fi
		if [ "$sent" = 1 ] && [ "$sent2" = 0 ] && [ "$P_SIG2" -ge 0 ] &&
			[ $((NOW - t_sig)) -ge "$P_SIG2" ]; then
			sent2=1
			signal_targets "$start" again
		fi
		if [ "$KILLED_BY_US" = 0 ] && [ $((NOW - start)) -gt $((STEP_TIMEOUT * 1000)) ]; then
			violate hang "still running after ${STEP_TIMEOUT}s: killed"
			for i in "${!PIDS[@]}"; do
				kill -KILL "${PIDS[i]}" 2>/dev/null && KILLED[i]=1
			done
			KILLED_BY_US=1
		fi
		nap 0.01
	done
	for i in "${!PIDS[@]}"; do
		RC[i]=0
		# (bash would say "Killed" on stderr for SIGKILL's victims)
		{ wait "${PIDS[i]}"; } 2>/dev/null || RC[i]=$?
		RUN_MS[i]=${EXIT_AT[i]}
	done
}

# The moment the plan names: every target has its handler (the tool is
# past its start), then at once (early), a time after the start (at) or a
# time after data started to flow (flow).
ready_to_signal() {
	local i
	for i in "${targets[@]}"; do
		exited "${PIDS[i]}" && continue
		catches "${PIDS[i]}" "$P_SIG" || return 1
	done
	case "$P_SIG_WHEN" in
	early) return 0 ;;
	at) [ $((NOW - $1)) -ge "$P_SIG_MS" ] ;;
	flow) [ -n "$FLOW_AT" ] && [ $((NOW - $1 - FLOW_AT)) -ge "$P_SIG_MS" ] ;;
	esac
}

signal_targets() { # START [again]
	local i d
	SIG_DATA_STATE=""
	for d in "${INVOLVED[@]}"; do
		attr "$d" state
		SIG_DATA_STATE+="d$d=$A "
	done
	for i in "${targets[@]}"; do
		exited "${PIDS[i]}" && continue
		kill -"$P_SIG" "${PIDS[i]}" 2>/dev/null || continue
		if [ -z "${2:-}" ]; then
			KINDS[SIG$P_SIG]=$((${KINDS[SIG$P_SIG]:-0} + 1))
			SIG_AT[i]=$((NOW - $1))
			[ "$P_SIG" != KILL ] || KILLED[i]=1
		fi
	done
	NOTES+=("signal ${2:+(again) }$P_SIG at $((NOW - $1)) ms; device states then: $SIG_DATA_STATE")
}

# ---- the invariants

documented_status() { # I
	local rc=${RC[$1]}
	case "$rc" in
	0 | 1 | 3 | 4 | 5 | 6 | 7 | 130) return 0 ;;
	8) [ "$P_CMD" = check ] && return 0 ;;
	137) [ -n "${KILLED[$1]:-}" ] && return 0 ;;
	esac
	violate status "command $1 exited $rc, not a documented status${KILLED[$1]:+ (after SIGKILL)}"
}

# The signal promises of command I: acted on within CANCEL_S, and 130
# only after one.
check_cancel() { # I
	local i=$1 ms
	if [ "${RC[i]}" = 130 ] && [ -z "${SIG_AT[i]:-}" ]; then
		violate cancel "command $i exited 130 but no signal was sent to it"
	fi
	[ -n "${SIG_AT[i]:-}" ] && [ "$P_SIG" != KILL ] || return 0
	ms=$((RUN_MS[i] - SIG_AT[i]))
	if [ "$ms" -gt $((CANCEL_S * 1000)) ]; then
		violate cancel "SIG$P_SIG not acted on: command $i exited ${RC[i]} $ms ms after it (bound ${CANCEL_S}s; device states at the signal: $SIG_DATA_STATE)"
	fi
}

# json FILE: the JSON object in FILE (on stderr it follows the error line)
json() { sed -n '/^{/,/^}/p' "$1" 2>/dev/null; }

# The JSON report of a save or resume, in FILE: J_OK J_INIT J_FINAL J_REC
# J_FAILED J_ENDED; J=1 if there is one.  J_START is the state a restore
# returns to: the one found, or where --end-session took a data state.
read_report() { # FILE
	local line
	J=0 J_OK="" J_INIT="" J_FINAL="" J_REC="" J_FAILED="" J_ENDED=""
	line=$(json "$1" | jq -r '[.ok, .initial_state, .final_state, .recovery, .failed_at, .ended_session] | map(tostring) | join("|")' 2>/dev/null) || return 0
	[ -n "$line" ] || return 0
	IFS='|' read -r J_OK J_INIT J_FINAL J_REC J_FAILED J_ENDED <<<"$line"
	[ "$J_ENDED" != null ] || J_ENDED=""
	case "$J_ENDED" in
	STOP_COPY) J_START=STOP ;;
	PRE_COPY | RESUMING) J_START=RUNNING ;;
	PRE_COPY_P2P) J_START=RUNNING_P2P ;;
	*) J_START=$J_INIT ;;
	esac
	J=1
}

# the state migsim must be in after a command that ended with device D in
# REPORTED: RUNNING when closing resets the device
expected_after_close() { # D REPORTED
	if [ "${ROC[$1]}" = 1 ]; then EXP=RUNNING; else EXP=$2; fi
}

# check_transfer I D ROLE THEN: the report of save (ROLE src) or resume
# (dst) command I on device D, and D's state, against its status
check_transfer() {
	local i=$1 d=$2 role=$3 then=${4^^} rc
	rc=${RC[i]}
	[ "$rc" = 137 ] && return 0
	if [ "$J" = 0 ]; then
		# failed before the transfer (refused, or could not open): the
		# device must be as found (closing may reset it)
		if [ "$rc" = 0 ]; then
			violate report "command $i exited 0 without a JSON report"
			return
		fi
		attr "$d" state
		if [ "$A" != "${BEFORE_STATE[d]}" ] && [ "${ROC[d]}" != 1 ]; then
			violate state "command $i failed ($rc) without a report, but d$d went from ${BEFORE_STATE[d]} to $A"
		fi
		return
	fi
	[ "$J_OK" = true ] && [ "$rc" != 0 ] && violate report "command $i: ok is true, status $rc"
	[ "$J_OK" = false ] && [ "$rc" = 0 ] && violate report "command $i: ok is false, status 0"
	if [ "$rc" = 0 ]; then
		[ "$J_FINAL" = "$then" ] || violate report "command $i succeeded in $J_FINAL, not --then's $then"
		[ "$J_FAILED" = null ] || violate report "command $i succeeded, failed_at is $J_FAILED"
	fi
	if [ "$J_FINAL" = ERROR ] && [ "$rc" != 6 ]; then
		violate report "command $i left d$d in ERROR, status $rc (not 6)"
	fi
	[ "$rc" = 6 ] && [ "$J_FINAL" != ERROR ] && violate report "command $i: status 6, final_state $J_FINAL"
	case "$J_REC" in
	restored) [ "$J_FINAL" = "$J_START" ] || violate report "command $i: recovery restored, but final $J_FINAL != initial $J_INIT${J_ENDED:+ (session ended: $J_ENDED)}" ;;
	reset) [ "$J_FINAL" = RUNNING ] || violate report "command $i: recovery reset, final $J_FINAL" ;;
	esac
	if [ "$rc" = 130 ] && [ "$J_FAILED" != cancel ]; then
		NOTES+=("command $i exited 130 with failed_at $J_FAILED")
	fi
	if [ "$J_FINAL" != null ]; then
		expected_after_close "$d" "$J_FINAL"
		attr "$d" state
		[ "$A" = "$EXP" ] || violate state "command $i reported d$d in $J_FINAL, migsim has $A${ROC[d]:+ (reset_on_close=${ROC[d]})}"
	fi
}

# check_source D: a save never changes its source's content
check_source() {
	attr "$1" digest
	[ "$A" = "${BEFORE_DIGEST[$1]}" ] || violate digest "the source d$1's digest changed: ${BEFORE_DIGEST[$1]} -> $A"
}

# check_destination D SRCDIGEST: old or the source's, never a third;
# the source's after a resume that exited 0
check_destination() { # D SRC_DIGEST RESUME_RC
	local d=$1
	attr "$d" digest
	if [ "$A" != "${BEFORE_DIGEST[d]}" ] && [ "$A" != "$2" ]; then
		violate digest "d$d holds a third digest $A (old ${BEFORE_DIGEST[d]}, source $2)"
	fi
	if [ "$3" = 0 ] && [ "$A" != "$2" ]; then
		violate digest "resume exited 0 but d$d has digest $A, not the source's $2"
	fi
}

# a destination that must have refused the stream
check_untouched() { # D WHY
	local d=$1 lc
	attr "$d" digest
	attr "$d" load_count
	lc=$A
	attr "$d" digest
	if [ "$A" != "${BEFORE_DIGEST[d]}" ] || [ "$lc" != "${BEFORE_LOADS[d]}" ]; then
		violate stream "$2, yet d$d accepted it (digest ${BEFORE_DIGEST[d]} -> $A, loads ${BEFORE_LOADS[d]} -> $lc)"
	fi
}

# After every step: nothing holds the module, the kernel said nothing bad
check_kernel() {
	local refs line i
	if [ -d /sys/module/migsim ]; then
		read -r refs </sys/module/migsim/refcnt
		[ "$refs" = 0 ] || violate kernel "migsim still referenced ($refs) after the step's processes ended"
	fi
	mapfile -t KLOG < <(dmesg)
	for ((i = KLOG_SEEN; i < ${#KLOG[@]}; i++)); do
		line=${KLOG[i]}
		case "$line" in
		*WARNING* | *BUG* | *Oops* | *"general protection"* | *refcount_t* | *use-after-free* | *"Call Trace"*)
			violate kernel "kernel log: $line" ;;
		esac
	done
	KLOG_SEEN=${#KLOG[@]}
}

# ---- one step

# bounded_delay D US: the per-I/O delay, lowered so that D's I/Os take
# 12 s at most (a resume moves the stream a slot holds, whatever its size)
bounded_delay() {
	local d=$1 us=$2 bytes chunk io
	bytes=$(bytes "$P_SIZE")
	if [ "$P_CMD" = resume-file ]; then
		bytes=$(stat -c %s "$W/pool/slot$P_SLOT.mig" 2>/dev/null || echo 0)
	fi
	chunk=$(bytes "$P_BUF")
	attr "$d" short_io
	[ "$A" -gt 0 ] 2>/dev/null && [ "$A" -lt "$chunk" ] && chunk=$A
	io=$((bytes / chunk + 1))
	[ $((us * io)) -le 12000000 ] || us=$((12000000 / io))
	echo "$us"
}

# the options common to save/resume from the plan
save_opts() {
	SAVE=(vfio-migctl --json save --buffer-size="$P_BUF")
	[ "$P_RAW" = 1 ] && SAVE+=(--raw)
	[ "$P_PRECOPY" = 1 ] && SAVE+=(--precopy)
	[ -n "$P_THEN" ] && SAVE+=(--then="$P_THEN")
	[ -n "$P_ONERR" ] && SAVE+=(--on-error="$P_ONERR")
	[ "$P_END_SESSION" = 1 ] && SAVE+=(--end-session)
	SAVE_THEN=${P_THEN:-stop}
}
resume_opts() { # RAW
	RESUME=(vfio-migctl --json resume --buffer-size="$P_BUF")
	[ "$1" = 1 ] && RESUME+=(--raw)
	[ "$P_SINGLE" = 1 ] && RESUME+=(--single-pass)
	[ -n "$P_THEN" ] && RESUME+=(--then="$P_THEN")
	[ -n "$P_ONERR" ] && [ "$P_ONERR" != restore ] && RESUME+=(--on-error="$P_ONERR")
	[ "$P_ONERR" = restore ] && RESUME+=(--on-error=restore)
	[ "$P_END_SESSION" = 1 ] && [ "$P_CMD" = resume-file ] && RESUME+=(--end-session)
	RESUME_THEN=${P_THEN:-running}
}

# What each file slot holds: "DIGEST RAW" of the stream's source, or "".
declare -a SLOT_SRC

# fill the slots with good streams (setup, checked only for success)
fill_slots() {
	local k raw
	for k in 0 1 2; do
		raw=() # slot1 holds a bare kernel stream, the others framed ones
		[ $k != 1 ] || raw=(--raw)
		if ! vfio-migctl -q save --force "${raw[@]}" "${DEV[0]}" -o "$W/pool/slot$k.mig" \
			>/dev/null 2>&1 || ! vfio-migctl -q state "${DEV[0]}" running >/dev/null 2>&1; then
			echo "torture: cannot save d0 for the slots" >&2
			return 1
		fi
		attr 0 digest
		SLOT_SRC[k]="$A ${#raw[@]}"
	done
}

step() {
	local d i f pass src=$P_SRC dst=$P_DST target pre_exist=0 slot raw sd
	CMDS=() PIDS=() RC=() RUN_MS=() SIG_AT=() EXIT_AT=() KILLED=() NOTES=()
	TARGETS=() INVOLVED=() ROC=() KILLED_BY_US=0 FLOW_AT=""
	STEP_BAD=0
	rm -rf "$W/step" && mkdir -p "$W/step"

	# the devices: no faults, arcs cleared, the source's size, the
	# pre-state (a setup step, not checked)
	for ((d = 0; d < NDEV; d++)); do
		fault_defaults "$d"
		ROC[d]=0
	done
	case "$P_CMD" in
	save-file | save-pipe | state) INVOLVED=("$src") ;;
	resume-file) INVOLVED=("$dst") ;;
	*) INVOLVED=("$src" "$dst") ;;
	esac
	set_attr "$src" size "$P_SIZE" || NOTES+=("size of d$src not set (session open?)")
	[ "$P_PRECOPY" = 1 ] && [ "$P_INITIAL" = 1 ] &&
		set_attr "$src" precopy_initial $(($(bytes "$P_SIZE") / 2))
	if [ -n "$P_PRESTATE" ]; then
		d=${INVOLVED[0]}
		vfio-migctl -q state "${DEV[d]}" "$P_PRESTATE" >/dev/null 2>&1 ||
			NOTES+=("prestate $P_PRESTATE of d$d not reached")
	fi
	for ((d = 0; d < NDEV; d++)); do
		set_attr "$d" arcs clear
		attr "$d" state && BEFORE_STATE[d]=$A
		attr "$d" digest && BEFORE_DIGEST[d]=$A
		attr "$d" load_count && BEFORE_LOADS[d]=$A
	done
	# delay_us last: its bound counts the I/Os that short_io makes
	for pass in other delay_us; do
		for f in "${P_FAULTS[@]}"; do
			# shellcheck disable=SC2086 # a fault is "ROLE ATTR VALUE..."
			set -- $f
			if [ "$pass" = delay_us ]; then [ "$2" = delay_us ] || continue
			elif [ "$2" = delay_us ]; then continue
			fi
			if [ "$1" = src ]; then d=$src; else d=$dst; fi
			[ "$2" = reset_on_close ] && ROC[d]=1
			[ "$2" = delay_us ] && set -- "$1" "$2" "$(bounded_delay "$d" "$3")"
			set_attr "$d" "$2" "${*:3}" || NOTES+=("fault $f not set")
		done
	done

	save_opts
	case "$P_CMD" in
	save-file)
		target=$W/pool/slot$P_SLOT.mig
		case "$P_TARGET" in
		absent) rm -f "$target" && SLOT_SRC[P_SLOT]="" ;;
		precious) printf 'precious %s %s\n' "$SEED" "$STEP" >"$target" && SLOT_SRC[P_SLOT]="" ;;
		esac
		[ -e "$target" ] && pre_exist=1 && cp -p "$target" "$W/step/backup"
		POOL_BEFORE=$(cd "$W/pool" && echo .* *)
		[ "$P_FORCE" = 1 ] && SAVE+=(--force)
		launch 0 - - "${SAVE[@]}" "${DEV[src]}" -o "$target"
		TARGETS=(0)
		run_all
		documented_status 0
		check_cancel 0
		read_report "$W/step/out.0"
		check_transfer 0 "$src" src "$SAVE_THEN"
		check_source "$src"
		check_file 0 "$target" "$pre_exist"
		# the slot holds the source's stream after a success, and after a
		# SIGKILL that landed past the commit (check_file)
		if [ "${RC[0]}" = 0 ] || { [ -n "${KILLED[0]:-}" ] && [ -f "$target" ] &&
			{ [ "$pre_exist" = 0 ] || ! cmp -s "$target" "$W/step/backup"; }; }; then
			SLOT_SRC[P_SLOT]="${BEFORE_DIGEST[src]} $P_RAW"
		fi
		if [ "$pre_exist" = 1 ] && [ "$P_FORCE" = 0 ] && [ -z "${KILLED[0]:-}" ]; then
			expect_refused_untouched 0 "$src" "an existing file without --force"
		fi
		;;
	save-pipe)
		mkfifo "$W/step/fifo"
		launch 1 "$W/step/fifo" "$W/step/capture" cat
		if [ "$P_VIA" = -o ]; then
			launch 0 - - "${SAVE[@]}" "${DEV[src]}" -o "$W/step/fifo"
			f=$W/step/out.0
		else
			launch 0 - "$W/step/fifo" "${SAVE[@]}" "${DEV[src]}"
			f=$W/step/err.0
		fi
		TARGETS=(0)
		run_all
		documented_status 0
		check_cancel 0
		read_report "$f"
		check_transfer 0 "$src" src "$SAVE_THEN"
		check_source "$src"
		check_capture 0
		;;
	resume-file)
		slot=$P_SLOT
		f=$W/pool/slot$slot.mig
		sd=${SLOT_SRC[slot]:-}
		raw=0
		[ -n "$sd" ] && raw=${sd#* }
		[ "$P_MISMATCH" = 1 ] && raw=$((1 - raw))
		if [ "$P_CORRUPT" -ge 0 ] && [ -s "$f" ]; then
			corrupt "$f" "$W/bad/bad.mig" "$P_CORRUPT"
			f=$W/bad/bad.mig
		fi
		resume_opts "$raw"
		launch 0 - - "${RESUME[@]}" "${DEV[dst]}" -i "$f"
		TARGETS=(0)
		run_all
		documented_status 0
		check_cancel 0
		read_report "$W/step/out.0"
		check_transfer 0 "$dst" dst "$RESUME_THEN"
		check_destination "$dst" "${sd%% *}" "${RC[0]}"
		if [ -z "$sd" ] || [ "$P_MISMATCH" = 1 ] || [ "$f" = "$W/bad/bad.mig" ]; then
			# not a good stream of its kind: refused, and nothing loaded
			[ "${RC[0]}" = 0 ] && violate stream "resume of ${sd:+a corrupted or mismatched}${sd:-a slot without a stream} exited 0"
			[ "${RC[0]}" = 137 ] || check_untouched "$dst" "the stream was bad"
			if [ "$f" = "$W/bad/bad.mig" ] && [ "$raw" = 0 ] && [ "$P_SINGLE" = 0 ] && [ -z "${KILLED[0]:-}" ]; then
				# a regular file is verified whole before the device is opened
				expect_refused_untouched 0 "$dst" "a corrupted framed file (verified first)"
			fi
		fi
		;;
	pipe | fifo-pair)
		mkfifo "$W/step/fifo"
		resume_opts "$P_RAW"
		if [ "$P_CMD" = pipe ]; then
			launch 1 "$W/step/fifo" - "${RESUME[@]}" "${DEV[dst]}"
			launch 0 - "$W/step/fifo" "${SAVE[@]}" "${DEV[src]}"
			f=$W/step/err.0
		else
			launch 1 - - "${RESUME[@]}" "${DEV[dst]}" -i "$W/step/fifo"
			launch 0 - - "${SAVE[@]}" "${DEV[src]}" -o "$W/step/fifo"
			f=$W/step/out.0
		fi
		case "$P_SIG_TO" in src) TARGETS=(0) ;; dst) TARGETS=(1) ;; both) TARGETS=(0 1) ;; esac
		run_all
		documented_status 0
		documented_status 1
		check_cancel 0
		check_cancel 1
		read_report "$f"
		check_transfer 0 "$src" src "$SAVE_THEN"
		check_source "$src"
		read_report "$W/step/out.1"
		check_transfer 1 "$dst" dst "$RESUME_THEN"
		check_destination "$dst" "${BEFORE_DIGEST[src]}" "${RC[1]}"
		# the commit point (issue 21, 3): a framed save that failed sent
		# no END, so its destination refused the stream
		if [ "$P_RAW" = 0 ] && [ "${RC[0]}" != 0 ] && [ "${RC[0]}" != 137 ]; then
			check_untouched "$dst" "save exited ${RC[0]} (its stream must not be complete)"
			[ "${RC[1]}" = 0 ] && violate stream "save exited ${RC[0]}, but resume of its stream exited 0"
		fi
		;;
	state)
		d=$src
		launch 0 - - vfio-migctl --json state "${DEV[d]}" "$P_NEW"
		run_all
		documented_status 0
		check_state_cmd 0 "$d"
		;;
	check)
		launch 0 - - vfio-migctl --json check "${DEV[src]}" "${DEV[dst]}"
		TARGETS=(0)
		run_all
		documented_status 0
		check_cancel 0
		check_check 0
		;;
	esac

	recover_after_kill
	check_kernel
	return "$STEP_BAD"
}

# check_file I TARGET PRE_EXIST: the output file's promises
check_file() {
	local i=$1 t=$2 pre=$3 mode now
	if [ "${RC[i]}" = 0 ]; then
		if [ ! -f "$t" ]; then
			violate file "save exited 0, no regular file $t"
			return
		fi
		read -r mode < <(stat -c %a "$t")
		[ "$mode" = 600 ] || [ "$pre" = 1 ] || violate file "new file $t has mode $mode, not 600"
		if [ "$P_RAW" = 0 ] && ! vfio-migctl -q inspect "$t" >"$W/step/inspect" 2>&1; then
			violate file "save exited 0, but inspect refuses $t: $(tail -n 1 "$W/step/inspect")"
		fi
	elif [ -n "${KILLED[i]:-}" ] && [ -f "$t" ] && { [ "$pre" = 0 ] || ! cmp -s "$t" "$W/step/backup"; }; then
		# SIGKILL can land after the commit (the device at --then) and
		# before the exit; the commit is atomic: the file is as it was,
		# or the whole new stream, never a part of one
		if [ "$P_RAW" = 0 ] && ! vfio-migctl -q inspect "$t" >"$W/step/inspect" 2>&1; then
			violate file "save killed, and $t is neither what was there nor a stream inspect verifies: $(tail -n 1 "$W/step/inspect")"
		fi
	elif [ "$pre" = 0 ]; then
		[ ! -e "$t" ] || violate file "save exited ${RC[i]}, yet $t exists (it did not before)"
	else
		cmp -s "$t" "$W/step/backup" ||
			violate file "save exited ${RC[i]}, and the file that was there changed: $(ls -l "$t" 2>&1)"
	fi
	# no temporary left beside it (a SIGKILL may leave one; the next save
	# must cope with it)
	if [ -z "${KILLED[i]:-}" ]; then
		now=$(cd "$W/pool" && echo .* *)
		if [ "$pre" = 0 ] && [ "${RC[i]}" = 0 ]; then
			# the new file, wherever it is in the list (alone, too)
			now=" $now "
			now=${now/ ${t##*/} / }
			now=${now# }
			now=${now% }
		fi
		[ "$now" = "$POOL_BEFORE" ] || violate file "the directory holds '$now', before '$POOL_BEFORE'"
	fi
}

# check_capture I: what a save wrote into a FIFO (read by cat)
check_capture() {
	local i=$1 rc
	[ "$P_RAW" = 0 ] || return 0
	rc=0
	vfio-migctl -q inspect "$W/step/capture" >"$W/step/inspect" 2>&1 || rc=$?
	if [ "${RC[i]}" = 0 ] && [ "$rc" != 0 ]; then
		violate stream "save exited 0, but inspect refuses what it wrote ($rc): $(tail -n 1 "$W/step/inspect")"
	elif [ "${RC[i]}" != 0 ] && [ "${RC[i]}" != 137 ] && [ "$rc" = 0 ]; then
		violate stream "save exited ${RC[i]}, but what it wrote is a complete, intact stream"
	fi
}

# a command refused before it touched the device: status 1 or 7 (as
# documented for that refusal), and no state change at all
expect_refused_untouched() { # I D WHY
	local i=$1 d=$2 arcs
	case "${RC[i]}" in
	1 | 7) ;;
	130) [ -n "${SIG_AT[i]:-}" ] || violate status "$3: exited 130" ;;
	*) violate status "$3: exited ${RC[i]}, not refused (1 or 7)" ;;
	esac
	attr "$d" arcs
	arcs=$A
	[ -z "$arcs" ] || [ "$arcs" = "?" ] || violate state "$3: refused, but d$d took arcs: $arcs"
}

# corrupt FILE OUT PERMILLE: OUT is FILE with one byte flipped
corrupt() {
	local size off byte
	cp "$1" "$2"
	size=$(stat -c %s "$2")
	off=$((size * $3 / 1000))
	byte=$(od -An -tu1 -j "$off" -N1 "$2" | tr -d ' ')
	printf '%b' "\\$(printf '%03o' $((byte ^ 255)))" |
		dd of="$2" bs=1 seek="$off" conv=notrunc status=none
}

# state DEV NEW: its report against the device
check_state_cmd() { # I D
	local i=$1 d=$2 rc=${RC[0]} err now
	attr "$d" state
	now=$A
	case "$rc" in
	0)
		expected_after_close "$d" "${P_NEW^^}"
		[ "$now" = "$EXP" ] || violate state "state ${P_NEW^^} exited 0, migsim has $now"
		;;
	5 | 6)
		read -r err <"$W/step/err.$i"
		if [[ $err =~ device\ is\ now\ ([A-Z_0-9]+) ]]; then
			expected_after_close "$d" "${BASH_REMATCH[1]}"
			[ "$now" = "$EXP" ] || violate state "state failed saying the device is now ${BASH_REMATCH[1]}, migsim has $now"
			[ "$rc" = 6 ] && [ "${BASH_REMATCH[1]}" != ERROR ] && violate report "state: status 6, device now ${BASH_REMATCH[1]}"
			[ "$rc" = 5 ] && [ "${BASH_REMATCH[1]}" = ERROR ] && violate report "state: status 5, device in ERROR"
		else
			NOTES+=("state failed with no 'device is now' in: $err")
		fi
		;;
	*)
		[ "$now" = "${BEFORE_STATE[d]}" ] || [ "${ROC[d]}" = 1 ] ||
			violate state "state exited $rc, the device went ${BEFORE_STATE[d]} -> $now"
		;;
	esac
}

# check DEV DEV2: each device put back as reported
check_check() { # I
	local i=$1 rc=${RC[0]} dev found final ok d
	[ "$rc" = 137 ] && return 0
	while read -r dev found final ok; do
		for ((d = 0; d < NDEV; d++)); do [ "${DEV[d]}" = "$dev" ] && break; done
		[ "$d" -lt "$NDEV" ] || continue
		attr "$d" state
		if [ "$final" != null ]; then
			expected_after_close "$d" "$final"
			[ "$A" = "$EXP" ] || violate state "check put d$d back in $final, migsim has $A"
		fi
		if [ "$rc" = 0 ] || [ "$rc" = 8 ]; then
			[ "$final" = "$found" ] || violate report "check exited $rc, but d$d was found in $found and left in $final"
			[ "$ok" = true ] || violate report "check exited $rc, but says d$d was not put back"
			attr "$d" digest
			[ "$A" = "${BEFORE_DIGEST[d]}" ] || violate digest "check exited $rc, d$d's digest changed ${BEFORE_DIGEST[d]} -> $A"
		fi
	done < <(json "$W/step/out.$i" | jq -r '.put_back[]? | "\(.device) \(.found) \(.final) \(.ok)"' 2>/dev/null)
}

# After a SIGKILL nothing put the device back: the documented way out,
# `vfio-migctl reset DEV`, must bring it to RUNNING.  And a device a step
# left in ERROR or a data state (--on-error=leave, a failed reset) is reset
# the same way, so that the next step starts from a usable device.
recover_after_kill() {
	local d out rc
	for ((d = 0; d < NDEV; d++)); do
		attr "$d" state
		case " $data_states ERROR " in *" $A "*) ;; *)
			[ -n "${KILLED[*]:-}" ] || continue ;;
		esac
		fault_defaults "$d"
		rc=0
		out=$(vfio-migctl reset "${DEV[d]}" 2>&1) || rc=$?
		attr "$d" state
		if [ "$rc" != 0 ] || [ "$A" != RUNNING ]; then
			violate recovery "vfio-migctl reset d$d exited $rc ($out), migsim has $A"
		fi
	done
}

# ---- the run

VIOLATIONS=()
declare -A KINDS # steps per command kind, signals sent per signal
TOTAL_STEPS=0
KLOG_SEEN=0
mapfile -t KLOG < <(dmesg)
KLOG_SEEN=${#KLOG[@]}

run_seed() { # SEED
	local bad=0 d
	SEED=$1
	echo "TORTURE-SEED $SEED (replay: make torture SEED=$SEED STEPS=$STEPS)"
	devices_create || { violate setup "cannot create the devices"; return 1; }
	fill_slots || { violate setup "cannot fill the file slots"; devices_remove; return 1; }
	for ((STEP = 1; STEP <= STEPS; STEP++)); do
		plan_step "$SEED" "$STEP"
		TOTAL_STEPS=$((TOTAL_STEPS + 1))
		KINDS[$P_CMD]=$((${KINDS[$P_CMD]:-0} + 1))
		if ! step; then
			step_report
			bad=1
			if [ "$KEEP_GOING" != 2 ]; then
				devices_remove
				return 1
			fi
			# go on from usable devices: no faults, RUNNING
			for ((d = 0; d < NDEV; d++)); do
				fault_defaults "$d"
				vfio-migctl -q reset "${DEV[d]}" >/dev/null 2>&1
			done
		fi
		[ -z "$DEADLINE" ] || [ "$SECONDS" -lt "$DEADLINE" ] || break
	done
	[ "$bad" = 1 ] || echo "TORTURE-SEED $SEED clean, $((STEP > STEPS ? STEPS : STEP)) steps"
	devices_remove
	# every reference dropped: the devices went, the module can go
	local refs
	read -r refs </sys/module/migsim/refcnt
	[ "$refs" = 0 ] || violate kernel "migsim still referenced ($refs) with its devices removed"
	return "$bad"
}

DEADLINE=""
seeds_run=0
if [ -n "$SEEDS" ]; then
	for s in $SEEDS; do
		seeds_run=$((seeds_run + 1))
		run_seed "$s" || [ "$KEEP_GOING" != 0 ] || break
	done
else
	echo "TORTURE base seed $BASE_SEED, for ${DURATION}s (replay one: make torture SEED=N)"
	DEADLINE=$((SECONDS + DURATION))
	s=$BASE_SEED
	while [ "$SECONDS" -lt "$DEADLINE" ]; do
		seeds_run=$((seeds_run + 1))
		run_seed "$s" || [ "$KEEP_GOING" != 0 ] || break
		s=$((s + 1))
	done
fi

devices_remove
if ! rmmod migsim; then
	violate kernel "rmmod migsim failed"
fi
check_kernel
echo "TORTURE-DONE seeds=$seeds_run steps=$TOTAL_STEPS violations=${#VIOLATIONS[@]} seconds=$SECONDS"
echo "  steps and signals: $(for k in "${!KINDS[@]}"; do printf '%s=%s ' "$k" "${KINDS[$k]}"; done)"
for v in "${VIOLATIONS[@]}"; do echo "  $v"; done
[ ${#VIOLATIONS[@]} -eq 0 ]
