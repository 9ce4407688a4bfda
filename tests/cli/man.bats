#!/usr/bin/env bats
# man/vfio-migctl.1: it formats cleanly, and it keeps up with the binary:
# every command and option the binary has, every exit status, the version.

bats_require_minimum_version 1.5.0
load helpers

MAN=$BATS_TEST_DIRNAME/../../man/vfio-migctl.1

# The page's source as plain text: no escapes for '-', no font changes
man_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c$//' "$MAN"
}

# section NAME: the source lines of one .SH section
section() {
	awk -v name="$1" '/^\.SH / { on = ($0 == ".SH " name || $0 == ".SH \"" name "\"") ; next } on' "$MAN"
}

@test "man: groff formats it without a warning" {
	run -0 --separate-stderr groff -man -Tutf8 -ww -z "$MAN"
	[ -z "$stderr" ]
}

@test "man: mandoc -T lint finds nothing" {
	run -0 --separate-stderr mandoc -T lint -W warning "$MAN"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "man: the NAME line is one whatis(1) can read" {
	run -0 lexgrog "$MAN"
	[[ "$output" == *'"vfio-migctl - '* ]]
}

@test "man: every section the page promises is there" {
	for sec in NAME SYNOPSIS DESCRIPTION "DEVICE NAMES" COMMANDS "GLOBAL OPTIONS" \
		OUTPUT "FAILURE POLICY" "EXIT STATUS" ENVIRONMENT FILES NOTES EXAMPLES "SEE ALSO"; do
		grep -qxE "\.SH \"?$sec\"?" "$MAN" || fail "no section $sec"
	done
}

@test "man: every command of --help has its own subsection" {
	local cmds
	cmds=$("$MIGCTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	[ -n "$cmds" ]
	for cmd in $cmds; do
		grep -qE "^\.SS $cmd( |$)" "$MAN" || fail "no .SS $cmd"
	done
}

@test "man: every long option of every command's --help is documented" {
	local text cmds opt
	text=$(man_text)
	cmds=$("$MIGCTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	for cmd in "" $cmds; do
		# shellcheck disable=SC2086 # "" is the program's own --help
		for opt in $("$MIGCTL" $cmd --help | grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]+' | tr -d ' ,' | sort -u); do
			grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" <<<"$text" || fail "${cmd:-global}: $opt is not in the man page"
		done
	done
}

@test "man: EXIT STATUS lists 0-8 and 130, and nothing else" {
	local codes
	codes=$(section "EXIT STATUS" | sed -n 's/^\.B \([0-9][0-9]*\)$/\1/p' | tr '\n' ' ')
	[ "$codes" = "0 1 2 3 4 5 6 7 8 130 " ] || fail "EXIT STATUS has: $codes"
}

@test "man: RULES has every rule of 'check --list', with its statement, in the order they run" {
	local rules ids
	rules=$(section RULES | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g')
	ids=$(awk '/^\.TP$/ { getline; if ($1 == ".B") print $2 }' <<<"$rules" | tr '\n' ' ')
	[ "$ids" = "$("$MIGCTL" --json check --list | jq -r '[.rules[].id] | join(" ")') " ] ||
		fail "RULES has: $ids"
	while IFS=$'\t' read -r id statement; do
		grep -qxF -- "$statement." <<<"$rules" || fail "$id: the statement is not in RULES: $statement"
	done < <("$MIGCTL" --json check --list | jq -r '.rules[] | [.id, .statement] | @tsv')
}

@test "man: FILES and ENVIRONMENT name what the tool reads" {
	local files env
	files=$(section FILES | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g')
	for f in /dev/vfio/devices/vfio /dev/vfio/ /dev/vfio/vfio /dev/iommu /sys/bus/pci/devices \
		/sys/bus/mdev/devices /sys/class/vfio-dev /sys/kernel/iommu_groups; do
		grep -qF -- "$f" <<<"$files" || fail "FILES lacks $f"
	done
	env=$(section ENVIRONMENT)
	grep -q VFIO_MIGCTL_SYSROOT <<<"$env"
}

@test "man: the state names are the ones the binary takes" {
	local text
	text=$(man_text)
	for s in stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p; do
		grep -qw -- "$s" <<<"$text" || fail "no state $s"
		# and the binary does take it (the fixture device then fails: 3)
		run -3 --separate-stderr "$MIGCTL" --sysroot="$ROOT" state "$CDEV_PCI" "$s" --dry-run
	done
}

@test "man: the version in .TH is the binary's" {
	run -0 "$MIGCTL" --version
	local version=${output##* }
	grep -qE "^\.TH .*\"vfio-migctl $version\"" "$MAN" || fail "no $version in .TH"
}

@test "man: NOTES say what the kernel stream does not carry" {
	local notes
	notes=$(section NOTES | tr '\n' ' ')
	[[ "$notes" == *"configuration space"* ]]
	[[ "$notes" == *interrupt* ]]
}

setup_file() {
	make_root
}

setup() {
	make_root
}
