#!/usr/bin/env bats
# Operator and rig workflows against real mtty devices: hold, wait,
# monitor, state --step, and naming the process that holds a busy device.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	mtty_teardown
}

# ---- hold

@test "hold: commands inside share one open device; state set by one is seen by the next" {
	group=$(group_of "$SRC")
	# Inside: set STOP, read it back through another name of the same
	# device, save, and go back to RUNNING.  Outside, the group is busy.
	run -0 --separate-stderr vfio-migctl hold "$SRC" -- bash -c '
		set -e
		vfio-migctl state "$1" stop
		vfio-migctl state "$2"
		vfio-migctl save -q --raw "$3" >"$4"
		vfio-migctl state "$1" running
		env -u VFIO_MIGCTL_HOLD_FD vfio-migctl state "$1" && exit 9 || echo "busy=$?"
	' hold "$SRC" "$(cdev_of "$SRC")" "$group" "$T/held.bin"
	[ "${lines[0]}" = "RUNNING -> STOP" ] || fail "first command: ${lines[0]}"
	[ "${lines[1]}" = "STOP" ] || fail "second command saw '${lines[1]}'"
	[ "${lines[2]}" = "STOP -> RUNNING" ] || fail "after save: ${lines[2]}"
	[ "${lines[3]}" = "busy=3" ] || fail "an outside open: ${lines[3]}"
	[ "$(stat -c %s "$T/held.bin")" -eq "$MTTY_DATA_SIZE" ] || fail "held save size"
	[[ $stderr == *"hold: $SRC: released in RUNNING"* ]] || fail "report: $stderr"
	expect_state "$SRC" RUNNING
}

@test "hold: exits with the command's status and never leaves a data state" {
	run -7 --separate-stderr vfio-migctl hold "$SRC" -- sh -c 'exit 7'
	# STOP_COPY is left by its way out (STOP), RESUMING by reset
	run -0 --separate-stderr vfio-migctl hold "$SRC" -- vfio-migctl state "$SRC" stop_copy
	[[ $stderr == *"released in STOP"* ]] || fail "stop_copy: $stderr"
	expect_state "$SRC" STOP
	run -0 --separate-stderr vfio-migctl --json hold "$SRC" -- vfio-migctl state "$SRC" resuming
	jq -e '.state == "RUNNING" and .status == 0' <<<"$stderr" >/dev/null ||
		fail "json: $stderr"
	expect_state "$SRC" RUNNING
	run -127 --separate-stderr vfio-migctl hold "$SRC" -- /nonexistent/cmd
}

@test "hold: everything after DEV is the command, its own options included" {
	run -0 --separate-stderr vfio-migctl hold -q "$SRC" echo -n hi
	[ "$output" = hi ] || fail "output: '$output'"
}

# ---- busy devices

@test "busy: the error names the process holding the group" {
	group=$(group_of "$SRC")
	sleep 60 3<>"$group" &
	holder=$!
	bg_track "$holder"
	wait_until_open "$holder" "$group"
	run -3 --separate-stderr vfio-migctl info --via=group "$SRC"
	expect_error info "in use by sleep \(pid $holder\)"
	run -3 --separate-stderr vfio-migctl save --via=group -o "$T/x" "$SRC"
	[ ! -e "$T/x" ] || fail "a refused save left $T/x"
}

# ---- state --step

# The combination transitions vfio_main.c documents for a device with every
# optional state (mtty), less the five from RESUMING: a RESUMING left by a
# closed file is only ever left by reset (mtty oopses on RESUMING -> STOP
# then; see 20-state.bats).
kernel_paths=(
	"PRE_COPY PRE_COPY_P2P STOP_COPY"
	"PRE_COPY RUNNING RUNNING_P2P"
	"PRE_COPY RUNNING RUNNING_P2P STOP"
	"PRE_COPY RUNNING RUNNING_P2P STOP RESUMING"
	"PRE_COPY_P2P RUNNING_P2P RUNNING"
	"PRE_COPY_P2P RUNNING_P2P STOP"
	"PRE_COPY_P2P RUNNING_P2P STOP RESUMING"
	"RUNNING RUNNING_P2P PRE_COPY_P2P"
	"RUNNING RUNNING_P2P STOP"
	"RUNNING RUNNING_P2P STOP RESUMING"
	"RUNNING RUNNING_P2P STOP STOP_COPY"
	"RUNNING_P2P RUNNING PRE_COPY"
	"RUNNING_P2P STOP RESUMING"
	"RUNNING_P2P STOP STOP_COPY"
	"STOP RUNNING_P2P PRE_COPY_P2P"
	"STOP RUNNING_P2P RUNNING"
	"STOP RUNNING_P2P RUNNING PRE_COPY"
	"STOP_COPY STOP RESUMING"
	"STOP_COPY STOP RUNNING_P2P"
	"STOP_COPY STOP RUNNING_P2P RUNNING"
)

@test "state --step: every multi-arc path the kernel documents, one arc at a time" {
	local path from to after
	for path in "${kernel_paths[@]}"; do
		read -r from _ <<<"$path"
		to=${path##* }
		[ "$from" = RUNNING ] || vfio-migctl state "$SRC" "$from" >/dev/null
		run -0 --separate-stderr vfio-migctl --json state --step "$SRC" "$to"
		got="$from $(jq -r '[.arcs[].to] | join(" ")' <<<"$output")"
		[ "$got" = "$path" ] || fail "stepped '$got', the kernel documents '$path'"
		# reset both reads the state the steps left and starts the next path
		after=$(vfio-migctl reset "$SRC")
		[ "$after" = "$to -> RUNNING" ] || fail "$path: left the device '$after'"
	done
}

@test "state --step: text shows each arc with its time" {
	run -0 --separate-stderr vfio-migctl state --step "$SRC" stop_copy
	[[ ${lines[0]} =~ ^RUNNING\ -\>\ RUNNING_P2P\ +[0-9.]+\ ms$ ]] || fail "${lines[0]}"
	[[ ${lines[1]} =~ ^RUNNING_P2P\ -\>\ STOP\ +[0-9.]+\ ms$ ]] || fail "${lines[1]}"
	[[ ${lines[2]} =~ ^STOP\ -\>\ STOP_COPY\ +[0-9.]+\ ms$ ]] || fail "${lines[2]}"
	vfio-migctl reset "$SRC" >/dev/null
}

# ---- wait and monitor

@test "wait: returns when a device created after it started appears" {
	uuid=$(cat /proc/sys/kernel/random/uuid)
	vfio-migctl wait --timeout 60 "$uuid" >"$T/wait.out" 2>"$T/wait.err" &
	waiter=$!
	bg_track "$waiter"
	wait_polling "$waiter"
	mtty_create "$MTTY_TYPE" "$uuid" >/dev/null
	rc=0
	wait "$waiter" || rc=$?
	[ "$rc" -eq 0 ] || fail "wait exited $rc: $(cat "$T/wait.err")"
	grep -q "^$uuid ready at /dev/vfio/" "$T/wait.out" || fail "$(cat "$T/wait.out")"
}

@test "wait: a device that never appears times out with status 3, saying why" {
	run -3 --separate-stderr vfio-migctl wait --timeout 1 "$(cat /proc/sys/kernel/random/uuid)"
	expect_error wait "not ready after 1 s: no such device$"
}

@test "wait: SIGINT ends it with status 130" {
	vfio-migctl wait --timeout 60 "$(cat /proc/sys/kernel/random/uuid)" 2>"$T/wait.err" &
	waiter=$!
	bg_track "$waiter"
	wait_polling "$waiter"
	kill -INT "$waiter"
	rc=0
	wait "$waiter" || rc=$?
	[ "$rc" -eq 130 ] || fail "wait exited $rc: $(cat "$T/wait.err")"
	grep -q "interrupted; not ready: no such device" "$T/wait.err" || fail "$(cat "$T/wait.err")"
}

@test "wait: events lost to a socket overrun make it look again, not fail" {
	rmem_shrink
	uuid=$(cat /proc/sys/kernel/random/uuid)
	vfio-migctl wait --timeout 60 "$uuid" >"$T/wait.out" 2>"$T/wait.err" &
	waiter=$!
	bg_track "$waiter"
	wait_polling "$waiter"
	# While it cannot read, a burst overruns its socket, and the device it
	# waits for appears: its events are among the lost ones.
	kill -STOP "$waiter"
	uevent_burst 3
	mtty_create "$MTTY_TYPE" "$uuid" >/dev/null
	kill -CONT "$waiter"
	rc=0
	wait "$waiter" || rc=$?
	[ "$rc" -eq 0 ] || fail "wait exited $rc: $(cat "$T/wait.err")"
	grep -q "^$uuid ready at /dev/vfio/" "$T/wait.out" || fail "$(cat "$T/wait.out")"
}

@test "monitor: a socket overrun is said in the stream, and monitoring goes on" {
	rmem_shrink
	vfio-migctl --json monitor --timeout 120 >"$T/events" 2>"$T/monitor.err" &
	mon=$!
	bg_track "$mon"
	wait_polling "$mon"
	kill -STOP "$mon"
	uevent_burst 3
	kill -CONT "$mon"
	for _ in $(seq 50); do
		grep -q '"action":"overrun"' "$T/events" && break
		sleep 0.1
	done
	# After the hole, events are shown again
	uuid=$(mtty_create)
	for _ in $(seq 50); do
		grep -q "\"action\":\"add\".*$uuid" "$T/events" && break
		sleep 0.1
	done
	kill -TERM "$mon"
	wait "$mon" || :
	[ "$(cat "$T/monitor.err")" = "vfio-migctl: monitor: interrupted" ] ||
		fail "stderr: $(cat "$T/monitor.err")"
	jq -e -s --arg u "$uuid" '
		(map(.action) | index("overrun")) as $o |
		$o != null and (to_entries | any(.key > $o and .value.action == "add" and
			(.value.devpath | contains($u))))' "$T/events" >/dev/null ||
		fail "events:" "$(cat "$T/events")"
}

@test "monitor --json: shows an mdev's add and remove as JSON lines" {
	vfio-migctl --json monitor --timeout 60 >"$T/events" &
	mon=$!
	bg_track "$mon"
	wait_polling "$mon"
	uuid=$(mtty_create)
	mtty_remove "$uuid"
	# the remove event may trail the sysfs write a little
	for _ in $(seq 50); do
		grep -q '"action":"remove"' "$T/events" && break
		sleep 0.1
	done
	kill -INT "$mon"
	rc=0
	wait "$mon" || rc=$?
	# interrupted is 130, for monitor as for every command
	[ "$rc" -eq 130 ] || fail "monitor exited $rc on SIGINT"
	# the type is read from sysfs: there by the bind at the latest
	jq -e -s --arg u "$uuid" --arg t "$MTTY_TYPE" '
		any(.[]; .action == "add" and .subsystem == "mdev" and (.devpath | endswith($u))) and
		any(.[]; .subsystem == "mdev" and (.devpath | endswith($u)) and .mdev_type == $t) and
		all(.[]; has("mdev_type")) and
		any(.[]; .action == "remove" and (.devpath | contains($u))) and
		any(.[]; .subsystem == "vfio-dev" and (.devname | startswith("vfio/devices/vfio")))' \
		"$T/events" >/dev/null || fail "events:" "$(cat "$T/events")"
}

@test "state: a RESUMING from an earlier open is only left by reset" {
	run -0 --separate-stderr vfio-migctl state "$SRC" resuming
	# STOP would make mtty load a session that is gone (a kernel oops)
	run -5 --separate-stderr vfio-migctl state "$SRC" running
	expect_error state "device is RESUMING; .*abort with 'vfio-migctl reset $SRC'"
	expect_state "$SRC" RESUMING
	run -0 --separate-stderr vfio-migctl reset "$SRC"
	[ "$output" = "RESUMING -> RUNNING" ] || fail "reset: $output"
}
