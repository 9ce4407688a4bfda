# fish completion for vfio-migctl: commands, every option, option values,
# files for -o/-i, and device names from `vfio-migctl list --names` (which
# opens nothing) plus the /dev/vfio nodes.

set -l __vfio_migctl_states stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p

# The words after the program name that are neither options nor option
# values: the command, then its arguments.
function __vfio_migctl_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -- # hold DEV -- CMD: the rest is CMD's
                return
            case --sysroot --via --from-pid -o --output -i --input --then --on-error --buffer-size --timeout --rule
                set skip 1
            case '-*'
            case '*'
                echo $t
        end
    end
end

# __vfio_migctl_is CMD [NARGS]: the command is CMD (and it has NARGS arguments)
function __vfio_migctl_is
    set -l args (__vfio_migctl_args)
    test (count $args) -ge 1; and test "$args[1]" = $argv[1]; or return 1
    test (count $argv) -lt 2; and return 0
    test (math (count $args) - 1) -eq $argv[2]
end

# hold DEV -- CMD...: the words after "--"
function __vfio_migctl_held_command
    set -l tokens (commandline -opc)
    __vfio_migctl_is hold 1; or return 1
    set -l i (contains -i -- -- $tokens); or return 1
    # (a range past the end would run backwards in fish)
    set -l held
    test $i -lt (count $tokens); and set held (string escape -- $tokens[(math $i + 1)..-1])
    complete -C (string join ' ' -- $held (commandline -ct))
end

function __vfio_migctl_needs_command
    test (count (__vfio_migctl_args)) -eq 0
end

function __vfio_migctl_devices
    set -l tokens (commandline -opc)
    set -l root $VFIO_MIGCTL_SYSROOT
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case '--sysroot=*'
                set root (string replace -- --sysroot= '' $tokens[$i])
            case --sysroot
                set -q tokens[(math $i + 1)]; and set root $tokens[(math $i + 1)]
        end
    end
    set -l opt
    test -n "$root"; and set opt --sysroot=$root
    command $tokens[1] $opt list --names 2>/dev/null | string replace -r '$' '\tVFIO device'
    # fish globs have no [0-9]: filter the names instead
    for node in $root/dev/vfio/devices/vfio* $root/dev/vfio/*
        string match -qr '/(devices/vfio)?[0-9]+$' -- $node; and string replace -- "$root" '' $node
    end
end

complete -c vfio-migctl -f

# global options, before or after the command
complete -c vfio-migctl -s j -l json -d 'JSON output with stable keys'
complete -c vfio-migctl -s q -l quiet -d 'No progress bar, no save/resume summary'
complete -c vfio-migctl -s v -l verbose -d 'Print each state arc as it is taken'
complete -c vfio-migctl -l sysroot -x -a '(__fish_complete_directories)' -d 'Read sysfs and /dev under DIR'
complete -c vfio-migctl -l via -x -a 'cdev group auto' -d 'How to open the device'
complete -c vfio-migctl -l from-pid -x -a '(__fish_complete_pids)' -d 'Act through the file process PID has open for the device'
complete -c vfio-migctl -s h -l help -d 'Show help'
complete -c vfio-migctl -l usage -d 'Show a short usage message'
complete -c vfio-migctl -s V -l version -d 'Show the version'

# commands
set -l nc __vfio_migctl_needs_command
complete -c vfio-migctl -n $nc -a list -d 'List VFIO-bound devices (opens nothing)'
complete -c vfio-migctl -n $nc -a info -d 'Show a device, its migration flags and state'
complete -c vfio-migctl -n $nc -a state -d 'Print or set the migration state'
complete -c vfio-migctl -n $nc -a save -d 'Stream the device state to stdout or a file'
complete -c vfio-migctl -n $nc -a resume -d 'Load a saved stream into a device'
complete -c vfio-migctl -n $nc -a reset -d 'Reset a device (the way out of ERROR)'
complete -c vfio-migctl -n $nc -a inspect -d 'Show what a saved stream holds, and verify it'
complete -c vfio-migctl -n $nc -a hold -d 'Keep the device open while a command runs'
complete -c vfio-migctl -n $nc -a wait -d 'Wait until a device is there and bound to VFIO'
complete -c vfio-migctl -n $nc -a monitor -d 'Print VFIO-related kernel uevents'
complete -c vfio-migctl -n $nc -a check -d 'Check a device against the migration uAPI rules'

# list
complete -c vfio-migctl -n '__vfio_migctl_is list' -l probe -d 'Open each device: add migration flags and state'
complete -c vfio-migctl -n '__vfio_migctl_is list' -l names -d 'One device name per line'

# the device argument
for cmd in info state save resume reset hold wait check
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd 0" -a '(__vfio_migctl_devices)'
end
# check's DEV2, for the round trip
complete -c vfio-migctl -n '__vfio_migctl_is check 1' -a '(__vfio_migctl_devices)'

# state
complete -c vfio-migctl -n '__vfio_migctl_is state 1' -a "$__vfio_migctl_states" -d 'Migration state'
complete -c vfio-migctl -n '__vfio_migctl_is state' -l dry-run -d 'Print the arc path without changing anything'
complete -c vfio-migctl -n '__vfio_migctl_is state' -l step -d 'Take the arcs one at a time, timing each'
complete -c vfio-migctl -n '__vfio_migctl_is state' -l force -d 'Change the state of a device reached through --from-pid'

# reset
complete -c vfio-migctl -n '__vfio_migctl_is reset' -l force -d 'Reset a device reached through --from-pid that is not in ERROR'

# save and resume
for cmd in save resume
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd" -l then -x -a 'stop running running_p2p' -d 'State to leave the device in afterwards'
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd" -l end-session -d 'First end a migration session left open on the device'
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd" -l buffer-size -x -a '64K 256K 1M 4M 16M 64M 256M' -d 'Bytes per read or write (max 256M)'
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd" -l raw -d 'The bare kernel stream, not the framed format'
end
complete -c vfio-migctl -n '__vfio_migctl_is save' -s o -l output -r -F -d 'Write to FILE (created 0600, atomically)'
complete -c vfio-migctl -n '__vfio_migctl_is save' -l force -d 'Replace an existing regular FILE'
complete -c vfio-migctl -n '__vfio_migctl_is save' -l precopy -d 'PRE_COPY first (skipped for a stopped device), then STOP_COPY'
complete -c vfio-migctl -n '__vfio_migctl_is save' -l downtime -x -a '100ms 300ms 1s' -d 'With --precopy: switch over once the rest moves within DURATION'
complete -c vfio-migctl -n '__vfio_migctl_is save' -l precopy-timeout -x -a '10s 60s 300s' -d 'With --precopy: switch over after DURATION whatever is left'
complete -c vfio-migctl -n '__vfio_migctl_is save' -l on-error -x -a 'restore reset leave' -d 'What to do with the device on failure'
complete -c vfio-migctl -n '__vfio_migctl_is resume' -s i -l input -r -F -d 'Read from FILE'
complete -c vfio-migctl -n '__vfio_migctl_is resume' -l force -d 'Accept a stream from a device of another identity'
complete -c vfio-migctl -n '__vfio_migctl_is resume' -l single-pass -d 'Do not verify a regular file whole first'
complete -c vfio-migctl -n '__vfio_migctl_is resume' -l on-error -x -a 'reset restore leave' -d 'What to do with the device on failure'

# inspect
complete -c vfio-migctl -n '__vfio_migctl_is inspect 0' -F

# hold DEV -- CMD [ARGS...]
complete -c vfio-migctl -n '__vfio_migctl_is hold 1; and not contains -- -- (commandline -opc)' -a -- -d 'Then the command to run'
complete -c vfio-migctl -n '__vfio_migctl_held_command >/dev/null' -a '(__vfio_migctl_held_command)'

# check: the rule ids and their families, from the binary
function __vfio_migctl_rules
    set -l tokens (commandline -opc)
    command $tokens[1] check --list 2>/dev/null | awk 'NR > 1 { print $1; sub(/\..*/, "", $1); print $1 }' | sort -u
end
complete -c vfio-migctl -n '__vfio_migctl_is check' -l rule -x -a '(__vfio_migctl_rules)' -d 'Run only this rule, or a family of rules'
complete -c vfio-migctl -n '__vfio_migctl_is check' -l force -d 'Check a device whose state cannot be saved to be put back'
complete -c vfio-migctl -n '__vfio_migctl_is check' -l list -d 'List the rules'

# wait and monitor
complete -c vfio-migctl -n '__vfio_migctl_is wait' -l timeout -x -d 'Give up after SECONDS (default 30)'
complete -c vfio-migctl -n '__vfio_migctl_is monitor' -l timeout -x -d 'Stop after SECONDS'
for cmd in state save resume
    complete -c vfio-migctl -n "__vfio_migctl_is $cmd" -l no-barrier -d 'A set: no RUNNING_P2P barrier (unsafe)'
end
