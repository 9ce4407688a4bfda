#!/bin/bash
# Section 9 of the migsim benchmark (bench.sh sources it; alone:
# tests/vm/run-vm.sh --exec tests/vm/migsim/bench-sets.sh): a set of 4
# migsim devices of VM_TEST_BENCH_SET_MB MiB each (default 128), saved as
# a set into /dev/null and through save | resume, against the same 4
# saved one by one: the set's device-stopped time (its longest member's)
# beside its slowest member saved alone, the median of 3 runs, and the
# same with devices slower than the CPUs (32 MiB, 10 ms per read: where
# the members' concurrency shows under an emulator); and the set's peak
# RSS.  Figures only.  Machine-readable lines:
# "SET_STOPPED <case> <set_ms> <slowest_single_ms>" and "RSS_KIB
# set4_save|set4_resume <KiB>".
set -eu

if [ -z "${mdev_bus:-}" ]; then
	# alone: what bench.sh would have set up
	bin=$(dirname "${MIGCTL:?run me through run-vm.sh --exec}")
	mdev_bus=/sys/bus/mdev/devices
	types=/sys/class/mdev_bus/migsim/mdev_supported_types
	tmp=$(mktemp -d)
	[ -d /sys/module/migsim ] || insmod "$bin/migsim/${VM_KERNEL_SERIES:-6.12}/migsim.ko"
	set_cleanup() {
		local d
		for d in "${set_devices[@]}"; do echo 1 >"$mdev_bus/$d/remove" 2>/dev/null || :; done
		rm -rf "$tmp"
		rmmod migsim 2>/dev/null || :
	}
	trap set_cleanup EXIT
	summary=()
	set_alone=1
fi
set_devices=()
SET_MB=${VM_TEST_BENCH_SET_MB:-128}

set_create() { # NAME=VALUE...: a migsim-full device, its UUID in SD
	local kv
	read -r SD </proc/sys/kernel/random/uuid
	echo "$SD" >"$types/migsim-full/create"
	set_devices+=("$SD")
	for kv in "$@"; do
		echo "${kv#*=}" >"$mdev_bus/$SD/migsim/${kv%%=*}"
	done
	while ! compgen -G "$mdev_bus/$SD/vfio-dev/vfio*" >/dev/null; do sleep 0.1; done
}

echo
echo "9. a set of 4 devices of $SET_MB MiB: the set's device-stopped time against its slowest member saved alone (ms, median of 3), and its peak RSS (KiB)"
members=() dests=()
for i in 1 2 3 4; do
	set_create size="${SET_MB}M"
	members+=("$SD")
	set_create
	dests+=("$SD")
done
# the longest stopped_seconds in a save's JSON report (one device or a set), in ms
stopped_ms() { jq -r '[.. | objects | .stopped_seconds? // empty] | max * 1000 | floor' "$1"; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# set_row CASE SET-CMD ONE-CMD: in the commands $M is the members, $D the
# destinations, $m and $d one member and its destination
set_row() {
	local set_all=() one_all=() i k worst ms M D m d
	# shellcheck disable=SC2034 # the eval'd commands use them
	M=${members[*]} D=${dests[*]}
	for ((i = 0; i < 3; i++)); do
		vfio-migctl -q state "${members[@]}" running >/dev/null
		eval "$2"
		set_all+=("$(stopped_ms "$tmp/set.json")")
		worst=0
		for k in 0 1 2 3; do
			# shellcheck disable=SC2034
			m=${members[k]} d=${dests[k]}
			vfio-migctl -q state "$m" running >/dev/null
			eval "$3"
			ms=$(stopped_ms "$tmp/set.json")
			((ms > worst)) && worst=$ms
		done
		one_all+=("$worst")
	done
	printf '%-22s set %s ms, slowest member alone %s ms (runs: %s / %s)\n' "$1" \
		"$(median3 "${set_all[@]}")" "$(median3 "${one_all[@]}")" "${set_all[*]}" "${one_all[*]}"
	summary+=("SET_STOPPED $1 $(median3 "${set_all[@]}") $(median3 "${one_all[@]}")")
}
# shellcheck disable=SC2016 # expanded by set_row's eval
set_row devnull 'vfio-migctl --json save $M -o /dev/null >"$tmp/set.json"' \
	'vfio-migctl --json save $m -o /dev/null >"$tmp/set.json"'
# shellcheck disable=SC2016
set_row pipe 'vfio-migctl --json save $M 2>"$tmp/set.json" | vfio-migctl -q resume $D' \
	'vfio-migctl --json save $m 2>"$tmp/set.json" | vfio-migctl -q resume $d'
# Devices slower than the CPUs (10 ms per 1 MiB read, as a real device
# that reads at its own pace): what running the members at once buys
for d in "${members[@]}"; do
	echo 32M >"$mdev_bus/$d/migsim/size"
	echo 10000 >"$mdev_bus/$d/migsim/delay_us"
done
# shellcheck disable=SC2016
set_row slowdev 'vfio-migctl --json save $M -o /dev/null >"$tmp/set.json"' \
	'vfio-migctl --json save $m -o /dev/null >"$tmp/set.json"'
for d in "${members[@]}"; do
	echo 0 >"$mdev_bus/$d/migsim/delay_us"
	echo "${SET_MB}M" >"$mdev_bus/$d/migsim/size"
done
vfio-migctl -q state "${members[@]}" running >/dev/null
migsim-ref rusage "$tmp/s.rss" vfio-migctl save -q "${members[@]}" |
	migsim-ref rusage "$tmp/r.rss" vfio-migctl resume -q "${dests[@]}"
read -r s_rss <"$tmp/s.rss"
read -r r_rss <"$tmp/r.rss"
for k in 0 1 2 3; do
	[ "$(cat "$mdev_bus/${members[k]}/migsim/digest")" = "$(cat "$mdev_bus/${dests[k]}/migsim/digest")" ] || {
		echo "bench: ${dests[k]} does not hold its member's state" >&2
		exit 1
	}
done
printf '%-22s save %s, resume %s\n' "set of 4, peak RSS" "$s_rss" "$r_rss"
summary+=("RSS_KIB set4_save $s_rss" "RSS_KIB set4_resume $r_rss")
for d in "${set_devices[@]}"; do echo 1 >"$mdev_bus/$d/remove"; done
set_devices=()
if [ -n "${set_alone:-}" ]; then
	echo
	printf '%s\n' "${summary[@]}"
fi
