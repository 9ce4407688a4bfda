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
#   MIGCTL      the vfio-migctl under test (required)
#   VM_TIERS    the stages to run, in order (default "6.12 6.1 cross")
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

summary=() rc=0
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
	if kernel=$(kernel_of "$series"); then
		KERNEL=$kernel KERNEL_SERIES=$series VM_EXCHANGE=$exchange \
			VM_RESULTS=$here/results/$stage "$here/run-vm.sh" "${suites[@]}" || st=$?
	else
		st=1
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
