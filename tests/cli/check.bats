#!/usr/bin/env bats
# vfio-migctl check on the host: the rule table, its documentation and its
# migsim switches, and what is refused before any device is opened.  The
# rules themselves run in tests/vm/65-check.bats.

bats_require_minimum_version 1.5.0
load helpers

MIGSIM=$BATS_TEST_DIRNAME/../vm/migsim/migsim.c

setup_file() {
	make_root
}

setup() {
	make_root
}

@test "check --list: every rule, id and statement; --json adds the source; ids are unique and stable in form" {
	run -0 --separate-stderr "$MIGCTL" check --list
	[ "${lines[0]}" = "$(printf '%-26s%s' ID STATEMENT)" ] || [[ ${lines[0]} == "ID "*STATEMENT ]] ||
		fail "header: ${lines[0]}"
	local n=$((${#lines[@]} - 1))
	[ "$n" -ge 20 ] || fail "only $n rules"
	run -0 --separate-stderr "$MIGCTL" --json check --list
	jq -e --argjson n "$n" '.rules | length == $n and
		all(.[]; (.id | test("^[a-z-]+\\.[a-z-]+$")) and (.statement | length > 20) and
			(.source | test("vfio"))) and
		([.[].id] | unique | length) == $n' <<<"$output" >/dev/null || fail "json: $output"
}

@test "check: every rule has a migsim switch that breaks it, under its id" {
	local id
	for id in $("$MIGCTL" --json check --list | jq -r '.rules[].id'); do
		grep -qF "\"$id\"" "$MIGSIM" || fail "migsim.c has no break switch named $id"
		grep -qE "^ \*     $id( |$)" "$MIGSIM" || fail "migsim.c's header does not document break $id"
	done
}

@test "check: usage errors are status 2, before any device is opened" {
	run -2 --separate-stderr "$MIGCTL" check
	one_error_line "vfio-migctl: check: missing DEV"
	run -2 --separate-stderr "$MIGCTL" check --rule no.such "$CDEV_PCI"
	one_error_line "vfio-migctl: check: no rule or family 'no.such'"
	run -2 --separate-stderr "$MIGCTL" check --list "$CDEV_PCI"
	one_error_line "vfio-migctl: check: --list takes no DEV"
	run -2 --separate-stderr "$MIGCTL" check "$CDEV_PCI" "$CDEV_PCI" "$CDEV_PCI"
	one_error_line "vfio-migctl: check: unexpected argument"
	# the same device twice, however it is named
	run -2 --separate-stderr migctl check "$CDEV_PCI" /dev/vfio/devices/vfio3
	one_error_line "vfio-migctl: check: DEV2 is DEV ($CDEV_PCI)"
}

@test "check: a family picks its rules; a device that cannot be opened is status 3" {
	# the fixture root's nodes are not devices: nothing is run
	run -3 --separate-stderr migctl check --rule fsm --rule reset.flag "$CDEV_PCI"
	[ -z "$output" ] || fail "stdout: $output"
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "stderr: $stderr"
}
