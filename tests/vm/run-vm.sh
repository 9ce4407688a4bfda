#!/bin/bash
# Boot a test kernel under QEMU with the host's / as a read-only 9p root
# and run bats suites (or the demo) inside it against real mtty devices.
#
#   run-vm.sh SUITE.bats|DIR...   run the suites, print their TAP
#   run-vm.sh --demo              run tests/vm/demo.sh
#   run-vm.sh --exec SCRIPT       run an executable file, print its output
#   run-vm.sh --shell             interactive shell in the guest (debugging)
#
# Two kernel series (tiers): 6.12 and Debian 12's own 6.1.  A suite runs
# on the series its directory names, tests/vm/linux-SERIES/; every other
# suite (tests/vm/*.bats, tests/vm/cross-tier/) runs on 6.12 only, and
# run-vm.sh refuses to boot a series for a suite of another.  The guest
# knows its series as VM_KERNEL_SERIES.
#
# Environment:
#   KERNEL_SERIES   6.12 (default) or 6.1: the kernel to build and boot
#   KERNEL          bzImage to boot (default: build-kernel.sh SERIES); its
#                   series is read from the image (KERNEL_SERIES, if also
#                   given, must agree)
#   VM_EXCHANGE     a host directory the guest may write, at /run/exchange
#                   (VM_EXCHANGE in the guest): how streams saved on one
#                   tier reach the other (default: an empty one per run)
#   MIGCTL          vfio-migctl binary (default: <repo>/build/vfio-migctl);
#                   its directory goes first on the guest's PATH
#   VM_TIMEOUT      seconds before the VM is killed (default 300, 900 under
#                   TCG)
#   VM_ACCEL        kvm or tcg (default: kvm when it boots the kernel)
#   VM_MEM          the guest's memory, in QEMU's syntax (default 1G)
#   VM_RESULTS      where tap, status and console.log are kept after the run
#                   (default <repo>/tests/vm/results)
#   CI              when "true", a skipped test counts as a failure
#   VM_TEST_*       passed into the guest's environment (suite knobs, e.g.
#                   VM_TEST_EXHAUSTIVE=1)
#
# Exit status: the guest's (bats' or the demo's), 1 when the guest never
# reported one (boot failure, hang, panic), 2 on usage errors (and a suite
# given to the wrong series).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

say() { echo "vm: $*" >&2; }
usage() {
	sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

mode=bats
script=""
suites=()
while [ $# -gt 0 ]; do
	case "$1" in
	--demo) mode=demo ;;
	--exec)
		if [ $# -lt 2 ] || [ ! -x "$2" ]; then
			say "--exec needs an executable file"
			exit 2
		fi
		mode="exec"
		script=$(realpath "$2")
		shift
		;;
	--shell) mode=shell ;;
	-h | --help) usage ;;
	-*) say "unknown option $1"; usage ;;
	*)
		[ -e "$1" ] || { say "no such suite: $1"; exit 2; }
		suites+=("$(realpath "$1")")
		;;
	esac
	shift
done
[ "$mode" != bats ] || [ ${#suites[@]} -gt 0 ] || usage

migctl=$(realpath "${MIGCTL:-$repo/build/vfio-migctl}")
[ -x "$migctl" ] || { say "$migctl is not built (run make)"; exit 1; }
# The guest mounts a fresh tmpfs on /run, hiding the host's files there
# (/tmp too, unless the repository is under it).
for p in "$migctl" "${script:-}" "${suites[@]+"${suites[@]}"}"; do
	case "$p" in
	/run/*) say "$p is hidden in the guest (tmpfs over /run)"; exit 2 ;;
	esac
done

# The series of a bzImage, from the version string its setup header
# points to (a 16-bit offset at 0x20e, relative to 0x200).
image_series() {
	local off v
	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ') || return 1
	v=$(dd if="$1" bs=1 skip=$((off + 512)) count=64 status=none | tr -d '\0') ||
		return 1
	v=${v%% *}
	case "$v" in
	[0-9]*.[0-9]*.*) v=${v%.*}; echo "${v%%[!0-9.]*}" ;;
	*) return 1 ;;
	esac
}

if [ -n "${KERNEL:-}" ]; then
	[ -f "$KERNEL" ] || { say "no kernel at $KERNEL"; exit 1; }
	kernel=$KERNEL
	series=$(image_series "$kernel") || { say "$kernel: no Linux version in it"; exit 1; }
	if [ -n "${KERNEL_SERIES:-}" ] && [ "$KERNEL_SERIES" != "$series" ]; then
		say "KERNEL is Linux $series, KERNEL_SERIES says $KERNEL_SERIES"
		exit 2
	fi
else
	series=${KERNEL_SERIES:-6.12}
	kernel=$("$here/build-kernel.sh" "$series")
fi
case "$series" in
6.12)
	root_tag=/dev/root
	modules=()
	;;
6.1)
	# 6.1 strips "/dev/" from root= before it mounts a 9p root by that
	# name; and its mtty can only be a module, built in the kernel tree.
	root_tag=root
	modules=("${kernel%/arch/x86/boot/bzImage}/samples/vfio-mdev/mtty.ko")
	;;
*) say "$kernel is Linux $series: no tier for that series (6.12 or 6.1)"; exit 2 ;;
esac

# Which series a suite is for: its directory says (see the top).
suite_series() {
	local rel
	case "$1" in
	"$here"/linux-*)
		rel=${1#"$here"/linux-}
		echo "${rel%%/*}"
		;;
	*) echo 6.12 ;;
	esac
}
for s in "${suites[@]+"${suites[@]}"}"; do
	if [ "$(suite_series "$s")" != "$series" ]; then
		say "$s is for Linux $(suite_series "$s"), not $series"
		exit 2
	fi
done
keep=${VM_RESULTS:-$here/results}

# A /dev/kvm is not always a KVM that runs this kernel (e.g. kvm_pvm only
# runs PVM-built guests and hangs ours silently): boot it once with no root,
# which panics at once on a working KVM, and look for the banner.
kvm_boots() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] || return 1
	timeout 5 qemu-system-x86_64 -machine q35 -accel kvm -cpu max -m 256M \
		-nographic -no-reboot -nic none -kernel "$kernel" \
		-append "console=ttyS0 panic=-1 root=/dev/nowhere" </dev/null 2>&1 |
		grep -q "Linux version"
}
accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
	if kvm_boots; then accel=kvm; else accel=tcg; fi
fi
# Emulation makes every exec in the guest ~20x dearer: the suites that take
# a minute under KVM take several under TCG.
timeout=${VM_TIMEOUT:-$([ "$accel" = kvm ] && echo 300 || echo 900)}

# The guest writes its results here: a fresh directory, so that a status
# left over from an earlier run can never be mistaken for this one's.
share=$(mktemp -d "${TMPDIR:-/tmp}/vfio-migctl-vm.XXXXXX")
exchange=${VM_EXCHANGE:-$share/exchange}
qpid=""
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || :
	rm -rf "$share"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$exchange"
exchange=$(realpath "$exchange")
# Modules the guest loads before the job, in this order
mkdir "$share/modules"
i=0
for m in "${modules[@]+"${modules[@]}"}"; do
	[ -f "$m" ] || { say "no $m (build-kernel.sh $series builds it)"; exit 1; }
	i=$((i + 1))
	cp "$m" "$share/modules/$i-$(basename "$m")"
done

# What the guest should do, as shell assignments guest-init.sh sources.
{
	printf 'MODE=%q\n' "$mode"
	printf 'SCRIPT=%q\n' "$script"
	printf 'MIGCTL=%q\n' "$migctl"
	printf 'CI=%q\n' "${CI:-}"
	printf 'KERNEL_SERIES=%q\n' "$series"
	printf 'SUITES=(%s)\n' "$(printf '%q ' "${suites[@]+"${suites[@]}"}")"
	for v in $(compgen -e); do
		case "$v" in VM_TEST_*) printf 'export %s=%q\n' "$v" "${!v}" ;; esac
	done
} >"$share/job"

console=$share/console.log
# oops=panic: a kernel oops (a driver bug hit by a test) ends the run at
# once, console shown, instead of a guest hung on a lock until the timeout.
# shellcheck disable=SC2054  # the commas are QEMU syntax
qemu=(
	qemu-system-x86_64 -machine q35 -accel "$accel" -cpu max
	-m "${VM_MEM:-1G}" -smp 2 -name vfio-migctl-test,debug-threads=on -nographic -no-reboot -nic none -kernel "$kernel"
	-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
	-device "virtio-9p-pci,fsdev=root,mount_tag=$root_tag"
	-fsdev "local,id=results,path=$share,security_model=none"
	-device virtio-9p-pci,fsdev=results,mount_tag=results
	-fsdev "local,id=exchange,path=$exchange,security_model=none"
	-device virtio-9p-pci,fsdev=exchange,mount_tag=exchange
	-append "console=ttyS0 root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro init=$here/guest-init.sh panic=-1 oops=panic printk.time=1"
)

say "booting Linux $series ($accel, timeout ${timeout}s, $mode)"
start=$(date +%s.%N)
if [ "$mode" = shell ]; then
	"${qemu[@]}" || :
	exit 0
fi
# timeout runs QEMU in its own process group, so signals to us must be
# passed on by hand (the trap above); --kill-after catches a wedged QEMU.
timeout --kill-after=10 "$timeout" "${qemu[@]}" </dev/null >"$console" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=""
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

mkdir -p "$keep"
rm -f "$keep/tap" "$keep/status" "$keep/console.log" "$keep/output"
cp "$console" "$keep/console.log"
for f in tap output status; do
	[ ! -f "$share/$f" ] || cp "$share/$f" "$keep/$f"
done

show_console() {
	[ -z "${console_shown:-}" ] || return 0
	console_shown=1
	say "kernel console (last 60 lines of $keep/console.log):"
	tail -n 60 "$console" | sed 's/^/  | /' >&2
}

[ ! -f "$share/output" ] || cat "$share/output"
status=$(cat "$share/status" 2>/dev/null || :)
case "$status" in
'' | *[!0-9]*)
	# Boot failure, hang, panic: whatever TAP there is still gets shown.
	[ "$qrc" -ne 124 ] || say "timed out after ${timeout}s (VM_TIMEOUT)"
	say "the guest reported no exit status (qemu exit $qrc)"
	status=1
	show_console
	;;
*) say "guest exited $status after $(printf '%.1f' "$elapsed") s" ;;
esac
[ "$mode" = bats ] || exit "$status"

# The TAP is the verdict; counting it (rather than trusting the status
# alone) catches a bats that died before running its whole plan.
tap=$share/tap
[ -f "$tap" ] || : >"$tap"
cat "$tap"
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -n 1)
passed=$(grep -c '^ok ' "$tap" || :)
failed=$(grep -c '^not ok ' "$tap" || :)
skipped=$(grep -ci '^ok .* # skip' "$tap" || :)
missing=$((${planned:-0} - passed - failed))
if [ "$missing" -gt 0 ]; then
	say "$missing planned tests never reported"
	failed=$((failed + missing))
fi
if [ "$skipped" -gt 0 ]; then
	if [ "${CI:-}" = true ]; then
		say "$skipped skipped tests count as failures under CI=true"
		passed=$((passed - skipped))
		failed=$((failed + skipped))
	else
		say "$skipped tests skipped (failures under CI=true)"
	fi
fi
[ -n "$planned" ] || { say "no TAP plan"; failed=$((failed + 1)); }
[ "$status" -ne 0 ] || [ "$failed" -eq 0 ] || status=1
[ "$status" -eq 0 ] || show_console
echo "vm: $passed passed, $failed failed"
exit "$status"
