#!/usr/bin/env bats
# Shell completions: bash (COMP_WORDS/COMP_CWORD in, COMPREPLY out), zsh (a
# real interactive zsh on a pty, see zsh-complete.zsh) and fish
# (`complete -C`).  Device names come from the binary under test on the
# fixture root.

bats_require_minimum_version 1.5.0
load helpers

COMPDIR=$BATS_TEST_DIRNAME/../../completions
STATES="pre_copy pre_copy_p2p resuming running running_p2p stop stop_copy"
# what --then accepts (sorted as the completers sort)
THEN_STATES="running running_p2p stop"

setup_file() {
	make_root
}

setup() {
	make_root
	# zsh and fish run `vfio-migctl` from $PATH: make it the one under test
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -sf "$MIGCTL" "$BATS_TEST_TMPDIR/bin/vfio-migctl"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
	cd "$BATS_TEST_TMPDIR"
	# The commands are those the binary lists in --help (sorted), which
	# must include the contract's
	COMMANDS=$("$MIGCTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | sort)
	local c
	for c in list info state save resume reset; do
		grep -qx "$c" <<<"$COMMANDS" || fail "--help does not list $c"
	done
}

# bash_complete WORD...: what the bash completion offers when the words are
# on the line and the cursor is at the end of the last one, split the way
# bash splits them (":" and "=" are word breaks).  Sorted, one per line.
bash_complete() {
	# shellcheck source=../../completions/vfio-migctl.bash
	source "$COMPDIR/vfio-migctl.bash"
	COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_vfio_migctl "$MIGCTL" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	[ "${#COMPREPLY[@]}" -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort
}

zsh_complete() {
	timeout 30 zsh -f "$BATS_TEST_DIRNAME/zsh-complete.zsh" "$COMPDIR" "$1"
}

fish_complete() {
	fish --no-config -c "source $(printf '%q' "$COMPDIR/vfio-migctl.fish"); complete -C$(printf '%q' "$1")" |
		cut -f1 | sort
}

# help_options CMD: the long options CMD --help shows, sorted
help_options() {
	"$MIGCTL" "$1" --help | grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]+' | tr -d ' ,' | sort -u
}

# words LIST: LIST one word per line, sorted (to compare with the above)
words() {
	printf '%s\n' $1 | sort
}

@test "bash: the completion is registered for vfio-migctl" {
	source "$COMPDIR/vfio-migctl.bash"
	run -0 complete -p vfio-migctl
	[[ "$output" == *"-F _vfio_migctl"* ]]
}

@test "bash: commands, exactly those of --help" {
	run -0 bash_complete vfio-migctl ""
	diff -u <(echo "$COMMANDS") <(echo "$output")
	run -0 bash_complete vfio-migctl sa
	[ "$output" = save ]
	run -0 bash_complete vfio-migctl --json re
	[ "$output" = "$(words "reset resume")" ]
}

@test "bash: options of the command, and the global ones" {
	run -0 bash_complete vfio-migctl save --pre
	[ "$output" = "$(words "--precopy --precopy-timeout")" ]
	run -0 bash_complete vfio-migctl save 0000 : 3b : 00.1 --
	for opt in --output --force --precopy --downtime --precopy-timeout --then --on-error --buffer-size --raw \
		--json --quiet --verbose --sysroot --via --help; do
		grep -qx -- "$opt" <<<"$output" || fail "save: no $opt"
	done
	for opt in --input --dry-run --probe --names; do
		! grep -qx -- "$opt" <<<"$output" || fail "save: offers $opt"
	done
	run -0 bash_complete vfio-migctl list --
	[ "$output" = "$(words "--from-pid --help --json --names --probe --quiet --sysroot --usage --verbose --version --via")" ]
	run -0 bash_complete vfio-migctl state --d
	[ "$output" = --dry-run ]
	run -0 bash_complete vfio-migctl resume --i
	[ "$output" = --input ]
	run -0 bash_complete vfio-migctl --v
	[ "$output" = "$(words "--verbose --version --via")" ]
}

@test "bash: --then, --on-error, --via and --buffer-size values, with a space or '='" {
	# only the states a transfer may end in (not data states, not ERROR)
	run -0 bash_complete vfio-migctl save --then ""
	[ "$output" = "$(words "$THEN_STATES")" ]
	run -0 bash_complete vfio-migctl resume --then ru
	[ "$output" = "$(words "running running_p2p")" ]
	# "--then=ru" reaches the function as "--then" "=" "ru"
	run -0 bash_complete vfio-migctl save --then = ru
	[ "$output" = "$(words "running running_p2p")" ]
	run -0 bash_complete vfio-migctl save --then =
	[ "$output" = "$(words "$THEN_STATES")" ]
	run -0 bash_complete vfio-migctl save --on-error ""
	[ "$output" = "$(words "leave reset restore")" ]
	run -0 bash_complete vfio-migctl --via ""
	[ "$output" = "$(words "auto cdev group")" ]
	run -0 bash_complete vfio-migctl info --via = g
	[ "$output" = group ]
	run -0 bash_complete vfio-migctl save --buffer-size 6
	[ "$output" = "$(words "64K 64M")" ]
}

@test "bash: --from-pid takes process ids; state and reset take --force" {
	run -0 bash_complete vfio-migctl --from-pid ""
	grep -qx -- "$$" <<<"$output" || fail "--from-pid: no $$ among the pids"
	! grep -qv '^[1-9][0-9]*$' <<<"$output" || fail "--from-pid offers what is not a pid"
	run -0 bash_complete vfio-migctl info --from-pid = "$$"
	grep -qx -- "$$" <<<"$output" || fail "--from-pid=: no $$"
	run -0 bash_complete vfio-migctl state --fo
	[ "$output" = --force ]
	run -0 bash_complete vfio-migctl reset --f
	[ "$output" = "$(words "--force --from-pid")" ]
}

@test "bash: state names as the NEW argument of state" {
	run -0 bash_complete vfio-migctl state 0000 : 3b : 00.1 stop
	[ "$output" = "$(words "stop stop_copy")" ]
	run -0 bash_complete vfio-migctl state 0000 : 3b : 00.1 stop ""
	[ -z "$output" ]
}

@test "bash: device names from 'list --names' (VFIO_MIGCTL_SYSROOT) and /dev/vfio nodes" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl info ""
	for dev in "${LISTED[@]}" /dev/vfio/devices/vfio3 /dev/vfio/12 /dev/vfio/20; do
		grep -qx -- "$dev" <<<"$output" || fail "no $dev"
	done
	[[ "$output" != *"$NET_PCI"* ]] || fail "offers the e1000e device"
	[[ "$output" != *"$NODRV_PCI"* ]] || fail "offers the driverless device"
	[[ "$output" != */dev/vfio/vfio* ]] || fail "offers the container"
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl save 83
	[ "$output" = "$MTTY" ]
}

@test "bash: device names after a ':' (a word break) complete the rest" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl reset 0000 : 5e
	[ "$output" = "$(words "5e:00.0 5e:00.1")" ]
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl state 0000 : 5e : 00.
	[ "$output" = "$(words "00.0 00.1")" ]
}

@test "bash: --sysroot on the command line reaches 'list --names'" {
	run -0 bash_complete vfio-migctl --sysroot "$ROOT" resume ""
	grep -qx -- "$CDEV_PCI" <<<"$output"
	run -0 bash_complete vfio-migctl --sysroot = "$ROOT" info 0000
	[ "$output" = "$(printf '%s\n' "${LISTED[@]:0:4}" | sort)" ]
	# and without it, the fixture's devices are not there
	run -0 bash_complete vfio-migctl info 83b8f4f2
	[ -z "$output" ]
}

@test "bash: files for -o, -i and inspect" {
	touch state.bin stale.txt
	run -0 bash_complete vfio-migctl save 0000 : 3b : 00.1 -o st
	[ "$output" = "$(words "stale.txt state.bin")" ]
	run -0 bash_complete vfio-migctl resume --input sta
	[ "$output" = "$(words "stale.txt state.bin")" ]
	run -0 bash_complete vfio-migctl save --output = state
	[ "$output" = state.bin ]
}

@test "bash: the long options offered for each command are exactly those of its --help" {
	for cmd in $COMMANDS; do
		run -0 bash_complete vfio-migctl "$cmd" --
		diff -u <(help_options "$cmd") <(echo "$output") ||
			fail "$cmd: --help (-) and the completion (+) differ"
	done
}

@test "bash: hold DEV -- CMD: the separator, then a command line" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl hold ""
	grep -qx -- "$CDEV_PCI" <<<"$output"
	run -0 bash_complete vfio-migctl hold 0000 : 3b : 00.1 ""
	[ "$output" = -- ]
	run -0 bash_complete vfio-migctl hold 0000 : 3b : 00.1 -- bas
	grep -qx bash <<<"$output"
	run -0 bash_complete vfio-migctl hold 0000 : 3b : 00.1 -- ""
	grep -qx bash <<<"$output"
	[[ "$output" != *--* ]]
	touch held.txt
	run -0 bash_complete vfio-migctl hold 0000 : 3b : 00.1 -- cat hel
	[ "$output" = held.txt ]
}

@test "bash: check: rule ids and families from 'check --list' for --rule, and DEV then DEV2" {
	run -0 bash_complete vfio-migctl check --rule fsm
	[ "$output" = "$(words "fsm fsm.arcs fsm.blocked-arcs fsm.error-refused fsm.unsupported-einval")" ]
	run -0 bash_complete vfio-migctl check --rule = reset.
	[ "$output" = "$(words "reset.every-state reset.flag")" ]
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl check 83
	[ "$output" = "$MTTY" ]
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl check "$MTTY" 83
	[ "$output" = "$MTTY" ]
	run -0 bash_complete vfio-migctl check "$MTTY" "$MTTY" ""
	[ -z "$output" ]
}

@test "bash: wait completes device names" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 bash_complete vfio-migctl wait 83
	[ "$output" = "$MTTY" ]
}

@test "zsh: the completion parses (zsh -n)" {
	run -0 zsh -n "$COMPDIR/_vfio-migctl"
}

@test "zsh: commands, options and values" {
	run -0 zsh_complete "vfio-migctl "
	diff -u <(echo "$COMMANDS") <(echo "$output")
	run -0 zsh_complete "vfio-migctl sa"
	[ "$output" = save ]
	run -0 zsh_complete "vfio-migctl save --pre"
	[ "$output" = "$(words "--precopy --precopy-timeout")" ]
	run -0 zsh_complete "vfio-migctl save --downtime="
	[ "$output" = "$(words "100ms 1s 300ms")" ]
	run -0 zsh_complete "vfio-migctl save --then="
	[ "$output" = "$(words "$THEN_STATES")" ]
	run -0 zsh_complete "vfio-migctl resume --on-error="
	[ "$output" = "$(words "leave reset restore")" ]
	run -0 zsh_complete "vfio-migctl --via "
	[ "$output" = "$(words "auto cdev group")" ]
	run -0 zsh_complete "vfio-migctl state 0000:3b:00.1 st"
	[ "$output" = "$(words "stop stop_copy")" ]
	# process ids (zsh's _pids: those of its terminal)
	run -0 zsh_complete "vfio-migctl --from-pid "
	[ -n "$output" ] && ! grep -qv '^[1-9][0-9]*$' <<<"$output" || fail "--from-pid: $output"
}

@test "zsh: check --rule completes rule ids" {
	run -0 zsh_complete "vfio-migctl check --rule=reset."
	[ "$output" = "$(words "reset.every-state reset.flag")" ]
}

@test "zsh: the long options offered for each command are exactly those of its --help" {
	for cmd in $COMMANDS; do
		run -0 zsh_complete "vfio-migctl $cmd --"
		diff -u <(help_options "$cmd") <(echo "$output") ||
			fail "$cmd: --help (-) and the completion (+) differ"
	done
}

@test "zsh: device names" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 zsh_complete "vfio-migctl info "
	for dev in "${LISTED[@]}" /dev/vfio/devices/vfio3 /dev/vfio/12; do
		grep -qx -- "$dev" <<<"$output" || fail "no $dev"
	done
	[[ "$output" != *"$NET_PCI"* ]]
	run -0 zsh_complete "vfio-migctl --sysroot=$ROOT save 0000:5e"
	[ "$output" = "$(words "$SHARED_A $SHARED_B")" ]
}

@test "zsh: hold DEV -- CMD" {
	run -0 zsh_complete "vfio-migctl hold $CDEV_PCI "
	[ "$output" = -- ]
	run -0 zsh_complete "vfio-migctl hold $CDEV_PCI -- bas"
	grep -qx bash <<<"$output"
	touch held.txt
	run -0 zsh_complete "vfio-migctl hold $CDEV_PCI -- cat hel"
	[ "$output" = held.txt ]
}

@test "fish: the completion parses (fish -n)" {
	run -0 fish -n "$COMPDIR/vfio-migctl.fish"
}

@test "fish: commands, options and values" {
	run -0 fish_complete "vfio-migctl "
	diff -u <(echo "$COMMANDS") <(echo "$output")
	run -0 fish_complete "vfio-migctl sa"
	[ "$output" = save ]
	run -0 fish_complete "vfio-migctl save --pre"
	[ "$output" = "$(words "--precopy --precopy-timeout")" ]
	run -0 fish_complete "vfio-migctl save --downtime "
	[ "$output" = "$(words "100ms 300ms 1s")" ]
	run -0 fish_complete "vfio-migctl save --then "
	[ "$output" = "$(words "$THEN_STATES")" ]
	run -0 fish_complete "vfio-migctl resume x --on-error "
	[ "$output" = "$(words "leave reset restore")" ]
	run -0 fish_complete "vfio-migctl --via "
	[ "$output" = "$(words "auto cdev group")" ]
	run -0 fish_complete "vfio-migctl state 0000:3b:00.1 st"
	[ "$output" = "$(words "stop stop_copy")" ]
	run -0 fish_complete "vfio-migctl --from-pid "
	grep -qx -- "$$" <<<"$output" || fail "--from-pid: no $$ among the pids"
}

@test "fish: check --rule completes rule ids" {
	run -0 fish_complete "vfio-migctl check --rule reset."
	[ "$output" = "$(words "reset.every-state reset.flag")" ]
}

@test "fish: the long options offered for each command are exactly those of its --help" {
	for cmd in $COMMANDS; do
		run -0 fish_complete "vfio-migctl $cmd --"
		diff -u <(help_options "$cmd") <(echo "$output") ||
			fail "$cmd: --help (-) and the completion (+) differ"
	done
}

@test "fish: device names" {
	VFIO_MIGCTL_SYSROOT=$ROOT run -0 fish_complete "vfio-migctl info "
	for dev in "${LISTED[@]}" /dev/vfio/devices/vfio3 /dev/vfio/12; do
		grep -qx -- "$dev" <<<"$output" || fail "no $dev"
	done
	[[ "$output" != *"$NET_PCI"* ]]
	run -0 fish_complete "vfio-migctl --sysroot $ROOT save 0000:5e"
	[ "$output" = "$(words "$SHARED_A $SHARED_B")" ]
}

@test "fish: hold DEV -- CMD" {
	run -0 fish_complete "vfio-migctl hold $CDEV_PCI "
	[ "$output" = -- ]
	run -0 fish_complete "vfio-migctl hold $CDEV_PCI -- bas"
	grep -qx bash <<<"$output"
	run -0 fish_complete "vfio-migctl hold $CDEV_PCI -- "
	grep -qx bash <<<"$output"
	touch held.txt
	run -0 fish_complete "vfio-migctl hold $CDEV_PCI -- cat hel"
	[ "$output" = held.txt ]
}
