#!/bin/bash
# `make check-vm`: every real-kernel tier, in the order the cross-tier
# streams need, sharing one fresh exchange directory (VM_EXCHANGE):
#
#   6.12   Linux 6.12: tests/vm/*.bats; 70-cross-tier.bats saves migsim
#          streams into the exchange for the 6.1 tier
#   6.1    Debian 12's Linux 6.1: tests/vm/linux-6.1/*.bats; resumes the
#          6.12 streams and saves its own
#   cross  Linux 6.12 again: tests/vm/cross-tier/*.bats resumes what 6.1
#          saved
#
# Every stage runs even when one before it failed (a later stage's
# cross-tier test then skips, which CI=true counts as a failure); the exit
# status is 1 if any stage failed.  Each stage keeps its tap, output and
# console.log in tests/vm/results/STAGE/.
#
# The 6.12 stage's suites are shared out over VM_JOBS virtual machines
# booted side by side (default 2): a guest runs its tests one after the
# other on one vCPU most of the time, so two of them use the two host cores
# the one would leave half idle.  Each keeps its results in
# tests/vm/results/6.12-N/.
#
#   MIGCTL      the vfio-migctl under test (required)
#   VM_TIERS    the stages to run, in order (default "6.12 6.1 cross")
#   VM_JOBS     virtual machines for the 6.12 stage (default 2)
#   VM_TIMEOUT, VM_ACCEL, CI, VM_TEST_*: as for run-vm.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
say() { echo "check-vm: $*" >&2; }
: "${MIGCTL:?the vfio-migctl to test}"

exchange=$(mktemp -d "${TMPDIR:-/tmp}/vfio-migctl-exchange.XXXXXX")
trap 'rm -rf "$exchange"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A kernels
kernel_of() { # SERIES
	[ -n "${kernels[$1]:-}" ] || kernels[$1]=$("$here/build-kernel.sh" "$1") || return 1
	echo "${kernels[$1]}"
}

# shard N JOBS SUITE...: the suites of shard N of JOBS, balanced by their
# number of tests (the biggest first, each to the lightest shard so far)
shard() {
	local n=$1 jobs=$2 f i best
	shift 2
	local -a load=()
	for ((i = 0; i < jobs; i++)); do load[i]=0; done
	while read -r count f; do
		best=0
		for ((i = 1; i < jobs; i++)); do
			((load[i] < load[best])) && best=$i
		done
		load[best]=$((load[best] + count))
		[ "$best" -ne "$n" ] || echo "$f"
	done < <(for f in "$@"; do echo "$(grep -c '^@test' "$f") $f"; done | sort -rn)
}

# run_stage NAME SERIES RESULTS SUITE...: one VM; its status
run_stage() {
	local name=$1 series=$2 results=$3 kernel
	shift 3
	kernel=$(kernel_of "$series") || return 1
	KERNEL=$kernel KERNEL_SERIES=$series VM_EXCHANGE=$exchange \
		VM_RESULTS=$results "$here/run-vm.sh" "$@" >"$results.log" 2>&1
	local st=$?
	cat "$results.log"
	rm -f "$results.log"
	return "$st"
}

summary=() rc=0
jobs=${VM_JOBS:-2}
mkdir -p "$here/results"
# Both kernels built before any VM starts: no build competes with a guest
for series in 6.12 6.1; do kernel_of "$series" >/dev/null || exit 1; done
for stage in ${VM_TIERS:-6.12 6.1 cross}; do
	case "$stage" in
	6.12) series=6.12 suites=("$here"/*.bats) ;;
	6.1) series=6.1 suites=("$here"/linux-6.1/*.bats) ;;
	cross) series=6.12 suites=("$here"/cross-tier/*.bats) ;;
	*) say "unknown stage '$stage' (6.12 6.1 cross)"; exit 2 ;;
	esac
	say "stage $stage: Linux $series, ${#suites[@]} suites"
	start=$(date +%s)
	st=0
	if [ "$stage" = 6.12 ] && [ "$jobs" -gt 1 ]; then
		pids=()
		for ((n = 0; n < jobs; n++)); do
			mapfile -t part < <(shard "$n" "$jobs" "${suites[@]}")
			[ "${#part[@]}" -gt 0 ] || continue
			say "  vm $n: $(printf '%s ' "${part[@]##*/}")"
			run_stage "$stage-$n" "$series" "$here/results/$stage-$n" "${part[@]}" &
			pids+=($!)
		done
		for pid in "${pids[@]}"; do wait "$pid" || st=1; done
	else
		run_stage "$stage" "$series" "$here/results/$stage" "${suites[@]}" || st=$?
	fi
	secs=$(($(date +%s) - start))
	if [ "$st" -eq 0 ]; then
		summary+=("$stage ok (${secs} s)")
	else
		summary+=("$stage FAILED, status $st (${secs} s)")
		rc=1
	fi
done
for line in "${summary[@]}"; do say "$line"; done
exit "$rc"
