#!/bin/bash
# Section 8 of the migsim benchmark (bench.sh sources it; alone:
# tests/vm/run-vm.sh --exec tests/vm/migsim/bench-downtime.sh): iterative
# precopy against a downtime budget.  A migsim device whose read rate is
# set (VM_TEST_DOWNTIME_MB MiB of state, all of it PRE_COPY initial data,
# 64 KiB per read() after a 1 ms sleep) dirties its state at 0, 10, 50
# and 90% of the read rate measured, and at 120% (where convergence is
# impossible); for each, save --precopy with --downtime 100 ms and 300
# ms, and the one-pass precopy of before issue 24 (--downtime so large
# that the switchover comes as soon as the initial data is out): the time
# the device was stopped, the total time, the bytes moved over the state
# size, converged or not.  Figures only.  Machine-readable lines:
# "DOWNTIME <case> <target_ms> <achieved_ms>" (target "onepass" for the
# one-pass save) and "DOWNTIME_FIXED_MS <ms>" (a tiny state's stopped
# time: the fixed cost of the transitions).
set -eu

if [ -z "${mdev_bus:-}" ]; then
	# alone: what bench.sh would have set up
	bin=$(dirname "${MIGCTL:?run me through run-vm.sh --exec}")
	mdev_bus=/sys/bus/mdev/devices
	types=/sys/class/mdev_bus/migsim/mdev_supported_types
	[ -d /sys/module/migsim ] || insmod "$bin/migsim/${VM_KERNEL_SERIES:-6.12}/migsim.ko"
	dt_cleanup() {
		local d
		for d in "${dt_devices[@]}"; do echo 1 >"$mdev_bus/$d/remove" 2>/dev/null || :; done
		rmmod migsim 2>/dev/null || :
	}
	trap dt_cleanup EXIT
	summary=()
	dt_alone=1
fi
dt_devices=()

dt_create() { # NAME=VALUE...: a migsim-full device, its UUID in DT
	local kv
	read -r DT </proc/sys/kernel/random/uuid
	echo "$DT" >"$types/migsim-full/create"
	dt_devices+=("$DT")
	# sourced: bench.sh's cleanup removes them
	[ -n "${dt_alone:-}" ] || devices+=("$DT")
	for kv in "$@"; do
		echo "${kv#*=}" >"$mdev_bus/$DT/migsim/${kv%%=*}"
	done
	while ! compgen -G "$mdev_bus/$DT/vfio-dev/vfio*" >/dev/null; do sleep 0.1; done
}
dt_set() { echo "$3" >"$mdev_bus/$1/migsim/$2"; }
dt_running() { vfio-migctl -q state "$1" running >/dev/null; }

DT_MB=${VM_TEST_DOWNTIME_MB:-32}
DT_TIMEOUT=${VM_TEST_DOWNTIME_TIMEOUT:-10}
DT_JSON=$(mktemp)

echo
echo "8. downtime: save --precopy against --downtime ($DT_MB MiB, all initial data, 64 KiB per 1 ms read; --precopy-timeout=${DT_TIMEOUT}s)"

# The fixed cost of the transitions: a 4 KiB state stopped, read, put in STOP
dt_create size=4K
vfio-migctl --json save --precopy "$DT" 2>"$DT_JSON" >/dev/null
fixed=$(jq '.stopped_seconds * 1000 | round' "$DT_JSON")
echo "fixed cost of one switchover (4 KiB state): $fixed ms stopped"
summary+=("DOWNTIME_FIXED_MS $fixed")

dt_create size="${DT_MB}M" precopy_initial="${DT_MB}M" short_io=65536 delay_us=1000
dev=$DT
# The read rate: a plain save, all of it STOP_COPY
vfio-migctl --json save "$dev" 2>"$DT_JSON" >/dev/null
read_rate=$(jq '.bytes / .seconds | floor' "$DT_JSON")
echo "read rate: $((read_rate / 1024)) KiB/s"
printf '%-9s %-9s %9s %9s %8s %s\n' "dirty" "budget" "stopped" "total" "moved" "converged"

# one save: CASE LABEL TARGET-MS (onepass: none) DOWNTIME-ARG
dt_save() {
	local case=$1 label=$2 target=$3 arg=$4 stopped total moved conv goal=""
	dt_running "$dev"
	vfio-migctl --json save --precopy --downtime="$arg" --precopy-timeout="${DT_TIMEOUT}s" \
		"$dev" 2>"$DT_JSON" >/dev/null
	read -r stopped total moved conv < <(jq -r --argjson size $((DT_MB << 20)) \
		'"\(.stopped_seconds * 1000 | round) \(.seconds * 1000 | round) \(.bytes / $size * 100 | round / 100) \(.precopy_converged)"' \
		"$DT_JSON")
	if [ "$target" != onepass ] && [ "$conv" = true ]; then
		# the goal: within 1.2 x the budget and one switchover's fixed cost
		goal=" (goal $((target * 12 / 10 + fixed)) ms: $( ((stopped <= target * 12 / 10 + fixed)) && echo met || echo missed))"
	fi
	printf '%-9s %-9s %6s ms %6s ms %7sx %s%s\n' "$label" \
		"$([ "$target" = onepass ] && echo one-pass || echo "$target ms")" \
		"$stopped" "$total" "$moved" "$conv" "$goal"
	summary+=("DOWNTIME $case $target $stopped")
}

for pct in 0 10 50 90 120; do
	dt_set "$dev" dirty_rate $((read_rate * pct / 100))
	dt_save "dirty$pct" "$pct%" onepass 86400
	dt_save "dirty$pct" "$pct%" 100 100ms
	dt_save "dirty$pct" "$pct%" 300 300ms
done
dt_set "$dev" dirty_rate 0
rm -f "$DT_JSON"

if [ -n "${dt_alone:-}" ]; then
	echo
	printf '%s\n' "${summary[@]}"
fi
