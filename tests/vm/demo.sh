#!/bin/bash
# `make demo`, inside the test VM: move the state of one mtty serial device
# into another with `vfio-migctl save | vfio-migctl resume`, and show that
# the destination now holds what was written into the source.
set -eu

types=/sys/class/mdev_bus/mtty/mdev_supported_types
step() { printf '\n== %s\n' "$*"; }
# Echo a command as a shell prompt would, then run it.
show() {
	printf '$ %s\n' "$*"
	"$@"
}

created=()
cleanup() {
	for u in "${created[@]+"${created[@]}"}"; do
		echo 1 >"/sys/bus/mdev/devices/$u/remove" 2>/dev/null || :
	done
}
trap cleanup EXIT

new_mtty() {
	local uuid
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$types/mtty-1/create"
	created+=("$uuid")
	printf -v "$1" '%s' "$uuid"
}

step "Two mtty devices (the kernel's sample serial port with migration)"
SRC="" DST=""
new_mtty SRC
new_mtty DST
echo "source:      $SRC"
echo "destination: $DST"
show vfio-migctl list

step "What the source offers"
show vfio-migctl info "$SRC"

step "Give the source some state: scratch register and bytes in its FIFO"
show mtty-reg "$SRC" set scr 0x5a
show mtty-reg "$SRC" send "hello"
echo "The destination starts out blank:"
show mtty-reg "$DST" get scr

step "Migrate: save the source into resume on the destination"
cdev=$(basename /sys/bus/mdev/devices/"$DST"/vfio-dev/vfio*)
printf '$ vfio-migctl save %s | vfio-migctl resume %s\n' "$SRC" "/dev/vfio/devices/$cdev"
vfio-migctl save "$SRC" | vfio-migctl resume "/dev/vfio/devices/$cdev"
show vfio-migctl state "$SRC"
show vfio-migctl state "$DST"

step "Read the state back on the destination"
shown() { # VAR CMD...: like show, and keep the output in VAR
	local var=$1 out
	shift
	printf '$ %s\n' "$*"
	out=$("$@")
	printf '%s\n' "$out"
	printf -v "$var" '%s' "$out"
}
scr="" fifo=""
shown scr mtty-reg "$DST" get scr
shown fifo mtty-reg "$DST" recv 5

echo
if [ "$scr" = 0x5a ] && [ "$fifo" = hello ]; then
	echo "PASS: the destination holds scratch 0x5a and FIFO 'hello'"
else
	echo "FAIL: the destination holds scratch '$scr' and FIFO '$fifo'"
	exit 1
fi
