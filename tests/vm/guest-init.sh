#!/bin/bash
# PID 1 of the test VM (run-vm.sh boots with init=<this file>).  The root is
# the host's / over read-only 9p, so the repository sits at the same path as
# on the host.  Reads the job from the "results" 9p share, loads the
# modules run-vm.sh put there (mtty on 6.1), runs the job, writes
# tap/output/status back there and powers off.  PID 1 must never exit (that
# panics the kernel), so failures are reported through the share instead.
# The suites see VM_KERNEL_SERIES (6.12 or 6.1) and VM_EXCHANGE (a
# writable directory shared with the host, the same one for every tier
# of a `make check-vm`).
set -u

results=/run/results
exchange=/run/exchange
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() {
	local up=""
	[ ! -r /proc/uptime ] || read -r up _ </proc/uptime
	echo "guest-init: [$up] $*" >/dev/console
}

poweroff_now() {
	sync
	busybox poweroff -f
	# Without ACPI power-off this returns; a reboot ends QEMU (-no-reboot).
	busybox reboot -f
	sleep 5
	exit 1
}

# Report a failure of the rig itself as the job's status, then stop.
die() {
	log "FATAL: $*"
	if [ -d "$results" ] && [ -w "$results" ]; then
		echo "guest-init: $*" >>"$results/output"
		echo 1 >"$results/status"
	fi
	poweroff_now
}

# The 9p root shows the host's own /proc, /sys and /dev mounts as plain
# directories that look like mount points (multidevs=remap), so mount ours
# unconditionally; only devtmpfs may already be there (DEVTMPFS_MOUNT).
mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sysfs /sys || die "mount /sys"
grep -q '^[^ ]* /dev devtmpfs ' /proc/mounts ||
	mount -t devtmpfs devtmpfs /dev || die "mount /dev"
mount -t tmpfs -o mode=755 tmpfs /run || die "mount /run"
# Scratch space is /run/tmp; /tmp gets a tmpfs of its own only when the
# repository is not under it (CI may clone there).
mkdir -p -m 1777 /run/tmp
case "$0" in
/tmp/*) ;;
*) mount -t tmpfs -o mode=1777 tmpfs /tmp || die "mount /tmp" ;;
esac
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
# Bash process substitution and scripts reading /dev/stdin need these.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
# Pseudo-terminals, for the tests of what is shown on a terminal (script(1))
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts 2>/dev/null || log "no devpts: no pseudo-terminals"

log "mounted"
mkdir -p "$results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "$results" ||
	die "mount the results share"
[ -r "$results/job" ] || die "no job file in the results share"
MODE="" SCRIPT="" MIGCTL="" CI="" KERNEL_SERIES="" SUITES=()
# shellcheck source=/dev/null
. "$results/job"

log "job read"
# The series run-vm.sh chose the suites for must be the one booted.
read -r release </proc/sys/kernel/osrelease
case "$release" in
"$KERNEL_SERIES".*) ;;
*) die "booted Linux $release, the job is for $KERNEL_SERIES" ;;
esac
mkdir -p "$exchange"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 exchange "$exchange" ||
	die "mount the exchange share"
for m in "$results"/modules/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || die "insmod $m failed"
	log "loaded ${m##*/}"
done

mkdir -p /run/tmp/home
VM_KERNEL_SERIES=$KERNEL_SERIES VM_EXCHANGE=$exchange
export HOME=/run/tmp/home TMPDIR=/run/tmp CI MIGCTL VM_KERNEL_SERIES VM_EXCHANGE
PATH=$(dirname "$MIGCTL"):$PATH
here=$(dirname "$(realpath "$0")")
cd "$(dirname "$(dirname "$here")")" || die "cd to the repository"

log "kernel $(uname -r), mode $MODE, $(command -v vfio-migctl || echo 'no vfio-migctl')"

rc=0
case "$MODE" in
bats)
	bats --tap --timing "${SUITES[@]}" >"$results/tap" 2>"$results/output" || rc=$?
	;;
demo)
	"$here/demo.sh" >"$results/output" 2>&1 || rc=$?
	;;
exec)
	"$SCRIPT" >"$results/output" 2>&1 || rc=$?
	;;
shell)
	log "interactive shell; 'exit' powers off"
	setsid -c bash -i </dev/console >/dev/console 2>&1 || :
	;;
*)
	die "unknown mode '$MODE'"
	;;
esac
sync
echo "$rc" >"$results/status"
log "done, status $rc"
poweroff_now
