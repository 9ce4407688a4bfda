#!/bin/bash
# The migsim benchmark (make bench; run in the test VM by run-vm.sh --exec).
# Figures only: nothing passes or fails on time.  BENCHMARKS.md explains
# them.  Knobs (make bench-migsim VM_TEST_BENCH_MB=N; run-vm.sh passes
# VM_TEST_* into the guest):
#   VM_TEST_BENCH_MB      state size in MiB (default 512: under TCG starting
#                         vfio-migctl costs ~17 ms more than the plain loop,
#                         section 5; 1.4% of a 256 MiB save, 0.7% of 512)
#   VM_TEST_BENCH_ROUNDS  each figure is the median of this many runs (default
#                         9; TCG on a small host is noisy: the median says
#                         what a user sees); the best run is shown too
#
# 1. Throughput of vfio-migctl save and resume, framed and --raw, against
#    migsim-ref's plain read()/write() loop with the same 1 MiB buffer on
#    the same device, in three shapes: save into /dev/null, resume from a
#    file in tmpfs, and save | resume through a pipe.  After each, one more
#    framed run's JSON says where its time went: how long the device's
#    I/O waited for the stream's side, and the stream's for the device.
# 2. The time the device spends stopped in a save, with and without
#    --precopy, for a state whose PRE_COPY initial bytes are 90% of it.
# 3. A slow consumer (a pipe drained at 16 MiB/s).
# 4. A slow device (10 ms per read()).
# 5. The fixed cost of one run (process start, threads, the session's
#    ioctls): a 1 MiB save beside /bin/true and vfio-migctl --version.
# 6. Peak RSS of a framed save | resume at 64 MiB and 1 GiB.
# 7. From a signal (SIGINT) to the exit, the device put back, per phase:
#    a slow device (2 ms per read() or write() of 64 KiB) so that it lands
#    while data flows.  The promise is 250 ms plus the device's own state
#    changes; the tests check a loose bound (tests/vm/42-signals.bats).
# 8. Iterative precopy against a downtime budget (bench-downtime.sh):
#    dirty rates from 0 to 120% of the device's read rate, --downtime 100
#    and 300 ms, beside the one-pass precopy.
# 9. A set of 4 devices (bench-sets.sh): its device-stopped time against
#    its slowest member's alone, and its peak RSS.
#
# When VM_TEST_BENCH_BASELINE names another vfio-migctl binary (an
# earlier build, e.g. before the pipelined engine), its framed figures are
# measured in the same rounds, as "base".
#
# It ends with one line per figure for scripts: "RATIO <name> <framed/ref>"
# of the median runs (save_devnull, resume_file, slow_device,
# save_pipe_resume), the same of the best runs as "RATIO_BEST <name>
# <framed/ref>", "RSS_KIB <name> <KiB>", "CANCEL_MS <phase> <ms>" (the
# median of 3), "DOWNTIME <case> <target_ms> <achieved_ms>" and
# "DOWNTIME_FIXED_MS <ms>" (section 8), "SET_STOPPED <case> <set_ms>
# <slowest_single_ms>" (section 9), and "THROUGHPUT <case> <ref> <raw>
# <framed> [<base>]" of the median runs in MiB/s for the picture
# tests/bench/plot.sh draws.
set -eu

bin=$(dirname "${MIGCTL:?run me through run-vm.sh --exec}")
base=${VM_TEST_BENCH_BASELINE:-}
MB=${VM_TEST_BENCH_MB:-512}
ROUNDS=${VM_TEST_BENCH_ROUNDS:-9}
mdev_bus=/sys/bus/mdev/devices
types=/sys/class/mdev_bus/migsim/mdev_supported_types
tmp=$(mktemp -d)

[ -d /sys/module/migsim ] || insmod "$bin/migsim/${VM_KERNEL_SERIES:-6.12}/migsim.ko"

devices=()
create() { # TYPE NAME=VALUE...
	local uuid kv
	read -r uuid </proc/sys/kernel/random/uuid
	echo "$uuid" >"$types/migsim-$1/create"
	devices+=("$uuid")
	shift
	for kv in "$@"; do
		echo "${kv#*=}" >"$mdev_bus/$uuid/migsim/${kv%%=*}"
	done
	# the /dev nodes follow the mdev
	while ! compgen -G "$mdev_bus/$uuid/vfio-dev/vfio*" >/dev/null; do sleep 0.1; done
	UUID=$uuid
}
attr() { cat "$mdev_bus/$1/migsim/$2"; }
set_attr() { echo "$3" >"$mdev_bus/$1/migsim/$2"; }
running() { vfio-migctl -q state "$1" running >/dev/null; }

cleanup() {
	local d
	for d in "${devices[@]}"; do echo 1 >"$mdev_bus/$d/remove" 2>/dev/null || :; done
	rm -rf "$tmp"
	rmmod migsim 2>/dev/null || :
}
trap cleanup EXIT

# compare PRE NAME CMD [NAME CMD]...: run each CMD (a shell string, after
# PRE) ROUNDS times, round-robin so that load drifting during the run hits
# every variant alike, and keep each one's median wall time in
# MEDIAN[NAME], its best in BEST[NAME], and the rusage (peak KiB, user s,
# system s) of the median run in $tmp/NAME.ru.  "%RU" in CMD becomes a
# rusage file for the command it prefixes.
declare -A BEST MEDIAN
compare() {
	local pre=$1 i j name cmd t0 t1 t median
	shift
	for ((i = 0; i < ROUNDS; i++)); do
		for ((j = 1; j < $#; j += 2)); do
			name=${!j}
			cmd=${*:j+1:1}
			eval "$pre"
			t0=$EPOCHREALTIME
			eval "${cmd//%RU/$tmp/ru}"
			t1=$EPOCHREALTIME
			t=$(echo "$t1 - $t0" | bc)
			echo "$t $i" >>"$tmp/$name.times"
			[ ! -f "$tmp/ru" ] || mv "$tmp/ru" "$tmp/$name.$i.ru"
		done
	done
	for ((j = 1; j < $#; j += 2)); do
		name=${!j}
		BEST[$name]=$(sort -n "$tmp/$name.times" | sed -n 1p | cut -d' ' -f1)
		read -r t median < <(sort -n "$tmp/$name.times" | sed -n "$(((ROUNDS + 1) / 2))p")
		MEDIAN[$name]=$t
		[ ! -f "$tmp/$name.$median.ru" ] || mv "$tmp/$name.$median.ru" "$tmp/$name.ru"
		rm -f "$tmp/$name.times" "$tmp/$name".[0-9]*.ru
	done
}
rate() { echo "scale=1; $MB / $1" | bc; }       # SECONDS -> MiB/s
ratio() { echo "scale=3; $1 / $2" | bc; }       # REF-SECONDS TOOL-SECONDS
cpu() { { read -r _; read -r u; read -r s; } <"$tmp/$1.ru"; printf '%.2f+%.2f' "$u" "$s"; }

accel=TCG
! grep -qw kvm-clock /sys/devices/system/clocksource/clocksource0/available_clocksource ||
	accel=KVM
echo "migsim benchmark: $MB MiB state, 1 MiB buffer, median of $ROUNDS; $accel, $(nproc) CPUs, $(uname -r), $(vfio-migctl --version | head -n 1)"

create full size="${MB}M"
A=$UUID
create full
B=$UUID
want=$(attr "$A" digest)
check_b() {
	[ "$(attr "$B" digest)" = "$want" ] || { echo "bench: $B does not hold the state" >&2; exit 1; }
}

# The machine-readable lines, printed together at the end
summary=()
row() { # LABEL NAME (the figures in MEDIAN[ref], MEDIAN[raw], MEDIAN[framed], MEDIAN[base])
	printf '%-22s %7.1f %7.1f %5.3f %7.1f %5.3f' "$1" "$(rate "${MEDIAN[ref]}")" \
		"$(rate "${MEDIAN[raw]}")" "$(ratio "${MEDIAN[ref]}" "${MEDIAN[raw]}")" \
		"$(rate "${MEDIAN[framed]}")" "$(ratio "${MEDIAN[ref]}" "${MEDIAN[framed]}")"
	[ -z "$base" ] || printf ' %7.1f %5.3f' "$(rate "${MEDIAN[base]}")" \
		"$(ratio "${MEDIAN[ref]}" "${MEDIAN[base]}")"
	if [ -f "$tmp/ref.ru" ]; then
		printf '   %s %s %s' "$(cpu ref)" "$(cpu raw)" "$(cpu framed)"
		[ -z "$base" ] || printf ' %s' "$(cpu base)"
		rm -f "$tmp"/*.ru
	fi
	echo
	bests "$2"
	summary+=("THROUGHPUT $2 $(rate "${MEDIAN[ref]}") $(rate "${MEDIAN[raw]}") $(rate "${MEDIAN[framed]}")${base:+ $(rate "${MEDIAN[base]}")}")
}
# bests NAME: the best runs beside the medians (what the code can do at best)
bests() {
	printf '%-22s ref %.1f MiB/s, framed %.1f MiB/s: ratio %.3f\n' "  best of $ROUNDS" \
		"$(rate "${BEST[ref]}")" "$(rate "${BEST[framed]}")" "$(ratio "${BEST[ref]}" "${BEST[framed]}")"
	summary+=("RATIO $1 $(ratio "${MEDIAN[ref]}" "${MEDIAN[framed]}")")
	summary+=("RATIO_BEST $1 $(ratio "${BEST[ref]}" "${BEST[framed]}")")
}
# waits LABEL JSON: where a framed run's time went, from its JSON summary
waits() {
	printf '%-22s %s\n' "  $1" "$(jq -r '"device I/O waited \(.device_waited_seconds * 1000 | floor) ms, stream I/O waited \(.stream_waited_seconds * 1000 | floor) ms, of \(.seconds * 1000 | floor) ms"' "$2")"
}
# with_base NAME CMD: the variant of the baseline binary, when there is one
with_base() { [ -z "$base" ] || printf '%s\n%s' base "${1//vfio-migctl /$base }"; }
echo
echo "1. throughput, MiB/s (ratio to the reference loop); CPU seconds (user+system)"
echo "   of the client process in the median run${base:+; base: $base}"
printf '%-22s %7s %7s %5s %7s %5s' "" ref raw ratio framed ratio
[ -z "$base" ] || printf ' %7s %5s' base ratio
printf '   %s\n' "cpu: ref raw framed${base:+ base}"

ru="migsim-ref rusage %RU"
mapfile -t b < <(with_base "$ru vfio-migctl save -q $A >/dev/null")
compare "running $A" \
	ref "$ru migsim-ref save $A >/dev/null 2>&1" \
	raw "$ru vfio-migctl save -q --raw $A >/dev/null" \
	framed "$ru vfio-migctl save -q $A >/dev/null" "${b[@]}"
row "save > /dev/null" save_devnull
running "$A"
vfio-migctl --json save "$A" 2>"$tmp/json" >/dev/null
waits save "$tmp/json"

running "$A"
vfio-migctl save -q --raw "$A" >"$tmp/raw"
running "$A"
vfio-migctl save -q "$A" -o "$tmp/framed"
# each run must load the state anew: B's own content is changed before it
fresh_b() { [ -z "${1:-}" ] || check_b; set_attr "$B" seed 1; }
# a file: read once to verify, once to load (--single-pass: once, as ref)
mapfile -t b < <(with_base "$ru vfio-migctl resume -q $B -i $tmp/framed")
compare "fresh_b \${loaded:-}; loaded=1" \
	ref "$ru migsim-ref resume $B <$tmp/raw 2>/dev/null" \
	raw "$ru vfio-migctl resume -q --raw $B -i $tmp/raw" \
	framed "$ru vfio-migctl resume -q --single-pass $B -i $tmp/framed" "${b[@]}"
check_b
row "resume < tmpfs file" resume_file
fresh_b
vfio-migctl --json resume --single-pass "$B" -i "$tmp/framed" >"$tmp/json"
waits resume "$tmp/json"
compare "fresh_b 1" \
	ref "migsim-ref resume $B <$tmp/raw 2>/dev/null" \
	verified "vfio-migctl resume -q $B -i $tmp/framed"
check_b
printf '%-22s %7.1f MiB/s, verified whole first (two reads of the file): ratio %.3f\n' \
	"resume -i FILE" "$(rate "${MEDIAN[verified]}")" "$(ratio "${MEDIAN[ref]}" "${MEDIAN[verified]}")"
rm "$tmp/raw" "$tmp/framed"

mapfile -t b < <(with_base "vfio-migctl save -q $A | vfio-migctl resume -q $B")
compare "fresh_b 1; running $A" \
	ref "migsim-ref save $A 2>/dev/null | migsim-ref resume $B 2>/dev/null" \
	raw "vfio-migctl save -q --raw $A | vfio-migctl resume -q --raw $B" \
	framed "vfio-migctl save -q $A | vfio-migctl resume -q $B" "${b[@]}"
check_b
row "save | resume" save_pipe_resume
fresh_b 1
running "$A"
vfio-migctl --json save "$A" 2>"$tmp/json" | vfio-migctl --json resume "$B" >"$tmp/json2"
check_b
waits save "$tmp/json"
waits resume "$tmp/json2"

stopped() { # SAVE-ARGS...: stopped_seconds and precopy_bytes of a save
	running "$A"
	vfio-migctl --json save "$@" "$A" 2>"$tmp/json" >/dev/null
	jq -r '"\(.stopped_seconds * 1000 | floor) ms stopped, \(.seconds * 1000 | floor) ms in all, \(.precopy_bytes) bytes before the stop"' "$tmp/json"
}
echo
echo "2. device stopped during save ($MB MiB, initial bytes 90%, 4 dirty rounds of 1 MiB)"
set_attr "$A" precopy_initial $((MB * 9 / 10))M
set_attr "$A" dirty_bytes 1M
set_attr "$A" dirty_rounds 4
printf '%-22s %s\n' "save" "$(stopped)"
printf '%-22s %s\n' "save --precopy" "$(stopped --precopy)"

echo
echo "3. slow consumer (pipe drained at 16 MiB/s), 32 MiB state, initial bytes 90%"
set_attr "$A" size 32M
set_attr "$A" precopy_initial 29M
# the reference loop has no PRE_COPY: stopped from STOP_COPY to its end
running "$A"
t0=$EPOCHREALTIME
migsim-ref save "$A" 2>/dev/null | migsim-ref throttle 16M >/dev/null
printf '%-22s %s ms in all, as many stopped\n' "ref" "$(echo "($EPOCHREALTIME - $t0) * 1000 / 1" | bc)"
for args in "" "--precopy"; do
	running "$A"
	# shellcheck disable=SC2086
	vfio-migctl --json save $args "$A" 2>"$tmp/json" | migsim-ref throttle 16M >/dev/null
	printf '%-22s %s\n' "save ${args:-}" "$(jq -r '"\(.seconds * 1000 | floor) ms in all, \(.stopped_seconds * 1000 | floor) ms stopped"' "$tmp/json")"
done

echo
echo "4. slow device (10 ms per read()), $MB MiB state, into /dev/null"
set_attr "$A" size "${MB}M"
set_attr "$A" precopy_initial 0
set_attr "$A" delay_us 10000
compare "running $A" \
	ref "migsim-ref save $A >/dev/null 2>&1" \
	framed "vfio-migctl save -q $A >/dev/null"
printf '%-22s ref %.1f MiB/s, framed %.1f MiB/s (ratio %.3f)\n' "save > /dev/null" \
	"$(rate "${MEDIAN[ref]}")" "$(rate "${MEDIAN[framed]}")" "$(ratio "${MEDIAN[ref]}" "${MEDIAN[framed]}")"
bests slow_device
set_attr "$A" delay_us 0

# What every run pays, whatever its size (so a part of every figure above):
# a process that loads four more libraries and starts two more threads
echo
echo "5. the fixed cost of one run: a save of 1 MiB into /dev/null, ms"
set_attr "$A" size 1M
compare "running $A" \
	true "/bin/true" \
	version "vfio-migctl --version >/dev/null" \
	ref "migsim-ref save $A >/dev/null 2>&1" \
	framed "vfio-migctl save -q $A >/dev/null"
ms() { echo "${MEDIAN[$1]} * 1000 / 1" | bc; }
printf '%-22s /bin/true %s, vfio-migctl --version %s, ref %s, framed %s\n' "1 MiB" \
	"$(ms true)" "$(ms version)" "$(ms ref)" "$(ms framed)"

echo
echo "6. peak RSS of a framed save | resume (ru_maxrss, KiB)"
for size in 64 1024; do
	set_attr "$A" size "${size}M"
	set_attr "$B" seed 1
	running "$A"
	migsim-ref rusage "$tmp/s.rss" vfio-migctl save -q "$A" |
		migsim-ref rusage "$tmp/r.rss" vfio-migctl resume -q "$B"
	read -r s_rss <"$tmp/s.rss"
	read -r r_rss <"$tmp/r.rss"
	want=$(attr "$A" digest) # A's content changed with its size
	check_b
	printf '%-22s save %s, resume %s\n' "$size MiB" "$s_rss" "$r_rss"
	summary+=("RSS_KIB save_${size}M $s_rss" "RSS_KIB resume_${size}M $r_rss")
done

echo
echo "7. from SIGINT to the exit, the device put back, ms (3 runs; 2 ms per 64 KiB of data)"
until_state() { # DEV STATE: wait (10 s at most) until the device is there
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(attr "$1" state)" = "$2" ] && return 0
		sleep 0.01
	done
	echo "bench: $1 never reached $2" >&2
	exit 1
}
# interrupt DEV STATE CMD...: start CMD, SIGINT once DEV is in STATE and
# data has flowed for a moment; the ms to its exit in $ms
interrupt() {
	local dev=$1 state=$2 pid t0 st=0
	shift 2
	"$@" >/dev/null 2>&1 &
	pid=$!
	until_state "$dev" "$state"
	sleep 0.3
	t0=$EPOCHREALTIME
	kill -INT "$pid"
	wait "$pid" || st=$?
	ms=$(echo "($EPOCHREALTIME - $t0) * 1000 / 1" | bc)
	# a figure, not a test: but one of something else would mislead
	[ "$st" = 130 ] || echo "bench: $* exited $st, not 130 (interrupted)" >&2
}
cancel_row() { # PHASE DEV STATE CMD...
	local phase=$1 all=() i
	shift
	for ((i = 0; i < 3; i++)); do
		running "$A"
		interrupt "$@"
		all+=("$ms")
	done
	printf '%-22s %s\n' "$phase" "${all[*]}"
	summary+=("CANCEL_MS $phase $(printf '%s\n' "${all[@]}" | sort -n | sed -n 2p)")
}
set_attr "$A" size 256M
set_attr "$A" precopy_initial 192M
set_attr "$A" dirty_rounds 0
set_attr "$A" delay_us 2000
cancel_row precopy "$A" PRE_COPY vfio-migctl save --precopy --buffer-size=64K "$A" -o /dev/null
cancel_row stopcopy "$A" STOP_COPY vfio-migctl save --buffer-size=64K "$A" -o /dev/null
cancel_row stopcopy_raw "$A" STOP_COPY vfio-migctl save --raw --buffer-size=64K "$A" -o /dev/null
set_attr "$A" delay_us 0
set_attr "$A" size 64M
running "$A"
vfio-migctl save -q --buffer-size=64K "$A" -o "$tmp/s.mig"
set_attr "$B" delay_us 2000
cancel_row load "$B" RESUMING vfio-migctl resume --single-pass --buffer-size=64K "$B" -i "$tmp/s.mig"
set_attr "$B" delay_us 0
rm -f "$tmp/s.mig"

# shellcheck source=tests/vm/migsim/bench-downtime.sh
. "$(dirname "$0")/bench-downtime.sh"
# shellcheck source=tests/vm/migsim/bench-sets.sh
. "$(dirname "$0")/bench-sets.sh"

echo
printf '%s\n' "${summary[@]}"
