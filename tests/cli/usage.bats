#!/usr/bin/env bats
# --help, --version and usage errors: exit 2 and one line on stderr naming
# the problem, before any device is touched.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make_root
}

setup() {
	make_root
}

COMMANDS=(list info state save resume reset)

@test "--help: exit 0, usage on stdout naming every command, nothing on stderr" {
	run -0 --separate-stderr "$MIGCTL" --help
	[ -z "$stderr" ] || fail "stderr not empty"
	for cmd in "${COMMANDS[@]}"; do
		grep -qw -- "$cmd" <<<"$output" || fail "--help does not name '$cmd'"
	done
	for opt in --json --quiet --verbose --sysroot --via --version; do
		grep -q -- "$opt" <<<"$output" || fail "--help does not show $opt"
	done
}

@test "-h is --help" {
	run -0 --separate-stderr "$MIGCTL" --help
	local long=$output
	run -0 --separate-stderr "$MIGCTL" -h
	[ "$output" = "$long" ]
}

@test "--usage: exit 0, on stdout" {
	run -0 --separate-stderr "$MIGCTL" --usage
	[[ "$output" == *Usage* ]] || fail "no 'Usage' in stdout"
	[ -z "$stderr" ]
}

@test "--version and -V: exit 0, version 0.1.0 on stdout" {
	run -0 --separate-stderr "$MIGCTL" --version
	[[ "$output" == *0.1.0* ]] || fail "no 0.1.0 in --version"
	[ -z "$stderr" ]
	run -0 --separate-stderr "$MIGCTL" -V
	[[ "$output" == *0.1.0* ]]
}

@test "COMMAND --help shows the command's own options" {
	local -A want=(
		[list]="--probe --names"
		[info]=""
		[state]="--dry-run --force"
		[save]="-o --force --precopy --downtime --precopy-timeout --then --on-error --buffer-size --raw"
		[resume]="-i --force --then --on-error --buffer-size --raw"
		[reset]="--force"
	)
	for cmd in "${COMMANDS[@]}"; do
		run -0 --separate-stderr "$MIGCTL" "$cmd" --help
		[ -n "$output" ] || fail "$cmd --help printed nothing"
		[ -z "$stderr" ] || fail "$cmd --help wrote to stderr"
		for opt in ${want[$cmd]}; do
			grep -Eq -- "(^|[ ,])$opt([ =,[]|$)" <<<"$output" ||
				fail "$cmd --help does not show $opt"
		done
	done
}

@test "no command: usage error" {
	run -2 --separate-stderr "$MIGCTL"
	one_error_line vfio-migctl
}

@test "unknown command: exit 2, one line naming it" {
	run -2 --separate-stderr migctl frobnicate
	no_stdout
	one_error_line vfio-migctl
	stderr_has frobnicate
}

@test "unknown option, before and after the command: exit 2, one line naming it" {
	run -2 --separate-stderr migctl --frobnicate list
	no_stdout
	one_error_line vfio-migctl
	stderr_has frobnicate

	run -2 --separate-stderr migctl save --frobnicate "$CDEV_PCI"
	no_stdout
	one_error_line vfio-migctl
	stderr_has frobnicate

	run -2 --separate-stderr migctl list -Z
	one_error_line vfio-migctl
	stderr_has "'?-?Z'?|invalid option"
}

@test "an option of another command is refused" {
	run -2 --separate-stderr migctl list --precopy
	one_error_line vfio-migctl
	stderr_has precopy
	run -2 --separate-stderr migctl info --dry-run "$CDEV_PCI"
	one_error_line vfio-migctl
	stderr_has dry-run
}

@test "missing DEV: exit 2 for every command that needs one" {
	for cmd in info state save resume reset; do
		run -2 --separate-stderr migctl "$cmd" </dev/null
		no_stdout
		one_error_line vfio-migctl
		stderr_has "dev|argument"
	done
}

@test "extra arguments: exit 2, one line" {
	run -2 --separate-stderr migctl list surplus
	one_error_line vfio-migctl
	run -2 --separate-stderr migctl info "$CDEV_PCI" surplus
	one_error_line vfio-migctl
	run -2 --separate-stderr migctl reset "$CDEV_PCI" surplus
	one_error_line vfio-migctl
	run -2 --separate-stderr migctl state "$CDEV_PCI" stop surplus
	one_error_line vfio-migctl
	run -2 --separate-stderr migctl save "$CDEV_PCI" surplus -o "$BATS_TEST_TMPDIR/out"
	one_error_line vfio-migctl
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
	run -2 --separate-stderr migctl resume "$CDEV_PCI" surplus </dev/null
	one_error_line vfio-migctl
}

@test "--via: a bad value is a usage error naming it" {
	run -2 --separate-stderr migctl --via=tunnel info "$CDEV_PCI"
	no_stdout
	one_error_line vfio-migctl
	stderr_has tunnel
	run -2 --separate-stderr migctl info --via tunnel "$CDEV_PCI"
	one_error_line vfio-migctl
	stderr_has tunnel
}

@test "--via: cdev, group and auto are accepted (the fixture device then fails to open: 3)" {
	for via in cdev group auto; do
		run -3 --separate-stderr migctl --via="$via" info "$CDEV_PCI"
		one_error_line "vfio-migctl: info:"
	done
}

@test "--then: an unknown state name is a usage error, for save and resume" {
	run -2 --separate-stderr migctl save "$CDEV_PCI" --then=sleepy -o "$BATS_TEST_TMPDIR/out"
	one_error_line vfio-migctl
	stderr_has sleepy
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
	run -2 --separate-stderr migctl resume "$CDEV_PCI" --then sleepy </dev/null
	one_error_line vfio-migctl
	stderr_has sleepy
}

@test "--then: state names are case-insensitive and '-' is '_' (gets as far as the device: 3)" {
	for s in stop running running_p2p STOP Running RUNNING-P2P; do
		run -3 --separate-stderr migctl save "$CDEV_PCI" --then="$s" -o "$BATS_TEST_TMPDIR/out"
		one_error_line "vfio-migctl: save:"
		run -3 --separate-stderr migctl resume --raw "$CDEV_PCI" --then "$s" </dev/null
		one_error_line "vfio-migctl: resume:"
	done
}

@test "--on-error: a bad value is a usage error naming it" {
	run -2 --separate-stderr migctl save "$CDEV_PCI" --on-error=explode -o "$BATS_TEST_TMPDIR/out"
	one_error_line vfio-migctl
	stderr_has explode
	run -2 --separate-stderr migctl resume "$CDEV_PCI" --on-error explode </dev/null
	one_error_line vfio-migctl
	stderr_has explode
}

@test "--on-error: restore, reset and leave are accepted" {
	for policy in restore reset leave; do
		run -3 --separate-stderr migctl save "$CDEV_PCI" --on-error="$policy" -o "$BATS_TEST_TMPDIR/out"
		run -3 --separate-stderr migctl resume --raw "$CDEV_PCI" --on-error="$policy" </dev/null
	done
}

@test "--buffer-size: bad sizes are usage errors" {
	for size in lots 12Q -1 1.5M 512M 1G ""; do
		run -2 --separate-stderr migctl save "$CDEV_PCI" --buffer-size="$size" -o "$BATS_TEST_TMPDIR/out"
		one_error_line vfio-migctl
		stderr_has "buffer|size|${size:-^\$}"
		run -2 --separate-stderr migctl resume "$CDEV_PCI" --buffer-size="$size" </dev/null
		one_error_line vfio-migctl
	done
}

@test "--buffer-size: bytes and K/M suffixes up to 256M are accepted" {
	for size in 4096 64K 1M 256M; do
		run -3 --separate-stderr migctl save "$CDEV_PCI" --buffer-size="$size" -o "$BATS_TEST_TMPDIR/out"
		run -3 --separate-stderr migctl resume --raw "$CDEV_PCI" --buffer-size "$size" </dev/null
	done
}

@test "state NEW: an unknown state name is a usage error naming it" {
	run -2 --separate-stderr migctl state "$CDEV_PCI" sleepy
	no_stdout
	one_error_line vfio-migctl
	stderr_has sleepy
	run -2 --separate-stderr migctl state "$CDEV_PCI" sleepy --dry-run
	one_error_line vfio-migctl
	stderr_has sleepy
}

@test "state NEW: every state name, any case, '-' or '_', parses (then the device fails: 3)" {
	for s in stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p \
		STOP_COPY Stop-Copy pre-copy-p2p; do
		run -3 --separate-stderr migctl state "$CDEV_PCI" "$s" --dry-run
		one_error_line "vfio-migctl: state:"
	done
}

@test "state --dry-run needs NEW" {
	run -2 --separate-stderr migctl state "$CDEV_PCI" --dry-run
	no_stdout
	one_error_line vfio-migctl
}

@test "global options are accepted after the command name" {
	run -0 --separate-stderr migctl --json list
	local before=$output
	run -0 --separate-stderr migctl list --json
	[ "$output" = "$before" ]
	run -0 --separate-stderr migctl list -j -q -v
	[ "$output" = "$before" ]
	run -0 --separate-stderr "$MIGCTL" list --sysroot="$ROOT" --names
	[ "${#lines[@]}" -eq "${#LISTED[@]}" ]
}

@test "bad options are worded by getopt, on one line: no value allowed, ambiguous, missing value" {
	run -2 --separate-stderr migctl list --quiet=1
	no_stdout
	one_error_line "vfio-migctl: list: "
	stderr_has "'--quiet' doesn't allow an argument"
	run -2 --separate-stderr migctl list --v
	one_error_line "vfio-migctl: list: "
	stderr_has "'--v' is ambiguous; possibilities: '--verbose' '--via'"
	run -2 --separate-stderr migctl info --via
	one_error_line "vfio-migctl: info: "
	stderr_has "'--via' requires an argument"
	run -2 --separate-stderr migctl --bogus list
	one_error_line "vfio-migctl: "
	stderr_has "unrecognized option '--bogus'"
}

@test "hold: everything after DEV is the command, its options included (no '--' needed)" {
	# Parsing gets past 'echo -n': the fixture device then fails to open (3)
	run -3 --separate-stderr migctl hold "$CDEV_PCI" echo -n hi
	one_error_line "vfio-migctl: hold: $CDEV_PCI: "
	[[ $stderr != *"'-n'"* ]] || fail "-n was taken for an option of hold: $stderr"
	run -3 --separate-stderr migctl hold -q "$CDEV_PCI" -- echo -n hi
}

@test "-? is --help, as the man page says" {
	run -0 --separate-stderr "$MIGCTL" --help
	local long=$output
	run -0 --separate-stderr "$MIGCTL" '-?'
	[ "$output" = "$long" ] || fail "-? is not --help"
	run -0 --separate-stderr "$MIGCTL" save '-?'
	[[ $output == *"Usage: vfio-migctl save"* ]] || fail "save -?: $output"
}

@test "an unknown state name lists the valid ones" {
	run -2 --separate-stderr migctl state "$CDEV_PCI" stpo
	one_error_line "vfio-migctl: state: unknown state 'stpo' (states: stop, running, stop_copy, resuming, running_p2p, pre_copy, pre_copy_p2p)"
}

@test "--sysroot without a sys/ directory is an error, not an empty machine" {
	run -2 --separate-stderr "$MIGCTL" --sysroot=/nonexistent list
	no_stdout
	one_error_line "vfio-migctl: --sysroot /nonexistent: no sys directory there"
	VFIO_MIGCTL_SYSROOT=/nonexistent run -2 --separate-stderr "$MIGCTL" list
}
