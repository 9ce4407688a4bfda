# bash completion for vfio-migctl                          -*- shell-script -*-
#
# Commands, every option, option values, files for -o/-i, and device names
# from `vfio-migctl list --names` (which opens nothing) plus the /dev/vfio
# nodes.  Needs only bash: the bash-completion package is not required.
#
# COMPREPLY=($(compgen ...)) is the idiom: the words never hold spaces.
# shellcheck disable=SC2207

_vfio_migctl_states='stop running stop_copy resuming running_p2p pre_copy pre_copy_p2p'

# Bash splits words at the characters of COMP_WORDBREAKS, so "0000:3b:00.1"
# and "--then=stop" reach us in pieces.  Glue them back into $words/$cword.
_vfio_migctl_words() {
	local i n=-1 glue=0 w
	words=()
	cword=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		if ((n >= 0)) && [[ $w =~ ^[:=]+$ ]]; then
			words[n]+=$w
			glue=1
		elif ((glue)) && [[ -n $w ]]; then
			words[n]+=$w
			glue=0
		else
			words[++n]=$w
			glue=0
		fi
		((i == COMP_CWORD)) && cword=$n
	done
	if ((COMP_CWORD >= ${#COMP_WORDS[@]})); then
		words[++n]=''
		cword=$n
	fi
}

# Bash replaces only the part of the word after its last break character:
# drop that much of $1 from every reply.
_vfio_migctl_ltrim() {
	local cur=$1 i c pre=''
	for ((i = ${#cur} - 1; i >= 0; i--)); do
		c=${cur:i:1}
		if [[ $c == [:=] && ${COMP_WORDBREAKS-:=} == *"$c"* ]]; then
			pre=${cur:0:i+1}
			break
		fi
	done
	[[ -n $pre ]] || return 0
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=${COMPREPLY[i]#"$pre"}
	done
}

# _vfio_migctl_devices PROG SYSROOT CUR
_vfio_migctl_devices() {
	local prog=$1 root=$2 cur=$3 node
	local -a cands
	if [[ $cur == /* ]]; then
		# a path: /dev/vfio/devices/vfioN, /dev/vfio/N, /sys/...
		compopt -o filenames 2>/dev/null || :
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	# the word as typed: a literal ~ is not expanded
	# shellcheck disable=SC2088
	[[ $prog == '~/'* ]] && prog=$HOME/${prog#'~/'}
	cands=($("$prog" ${root:+--sysroot="$root"} list --names 2>/dev/null))
	for node in "$root"/dev/vfio/devices/vfio[0-9]* "$root"/dev/vfio/[0-9]*; do
		[[ -e $node ]] && cands+=("${node#"$root"}")
	done
	# shellcheck disable=SC2016 # compgen expands it
	COMPREPLY=($(compgen -W '${cands[*]}' -- "$cur"))
}

_vfio_migctl() {
	# compgen fails when nothing matches: never let that end a caller
	# running under set -e
	local -
	set +e
	local words cword
	_vfio_migctl_words
	local cur=${words[cword]} prev=${words[cword - 1]}
	local prog=$1 root=${VFIO_MIGCTL_SYSROOT-}
	local commands='list info state save resume reset inspect hold wait monitor check'
	local global='-j --json -q --quiet -v --verbose --sysroot --via --from-pid
		-h --help --usage -V --version'
	local valued='--sysroot --via --from-pid -o --output -i --input --then --on-error --buffer-size --timeout --rule'
	local cmd='' w i npos=0 dashdash=0

	COMPREPLY=()

	# What is on the line before the cursor: the command, --sysroot,
	# and how many positional arguments the command has already.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		# hold DEV -- CMD...: the rest is CMD's
		if [[ $cmd == hold && $w == -- ]]; then
			dashdash=$i
			break
		fi
		case $w in
		--sysroot=*) root=${w#*=} ;;
		--sysroot) ((i + 1 < cword)) && root=${words[i + 1]} ;;
		esac
		if [[ " $valued " == *" $w "* ]]; then
			i=$((i + 1))
		elif [[ $w == -* ]]; then
			:
		elif [[ -z $cmd ]]; then
			cmd=$w
		else
			npos=$((npos + 1))
		fi
	done

	if ((dashdash)); then
		if ((cword == dashdash + 1)); then
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			compopt -o default 2>/dev/null || :
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi

	# The value of an option: "--then ru", "--then=ru"
	local opt='' val=$cur
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		val=${cur#*=}
	elif [[ " $valued " == *" $prev "* ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		case $opt in
		--via) COMPREPLY=($(compgen -W 'cdev group auto' -- "$val")) ;;
		# Only the states a transfer may end in
		--then) COMPREPLY=($(compgen -W 'stop running running_p2p' -- "$val")) ;;
		--on-error)
			if [[ $cmd == resume ]]; then
				COMPREPLY=($(compgen -W 'reset restore leave' -- "$val"))
			else
				COMPREPLY=($(compgen -W 'restore reset leave' -- "$val"))
			fi
			;;
		--buffer-size) COMPREPLY=($(compgen -W '64K 256K 1M 4M 16M 64M 256M' -- "$val")) ;;
		--timeout) ;; # seconds
		# process ids (the holder's: 'in use by' names it)
		--from-pid) COMPREPLY=($(compgen -W "$(cd /proc && printf '%s ' [1-9]*)" -- "$val")) ;;
		# the rule ids and their families, from the binary
		--rule)
			COMPREPLY=($(compgen -W "$("$prog" check --list 2>/dev/null | awk 'NR > 1 { print $1; sub(/\..*/, "", $1); print $1 }' | sort -u)" -- "$val"))
			;;
		--sysroot)
			compopt -o filenames 2>/dev/null || :
			COMPREPLY=($(compgen -d -- "$val"))
			;;
		-o | --output | -i | --input)
			compopt -o filenames 2>/dev/null || :
			COMPREPLY=($(compgen -f -- "$val"))
			;;
		esac
		if [[ $cur == --*=* ]]; then
			for i in "${!COMPREPLY[@]}"; do
				COMPREPLY[i]=$opt=${COMPREPLY[i]}
			done
		fi
		_vfio_migctl_ltrim "$cur"
		return 0
	fi

	if [[ $cur == -* ]]; then
		if [[ $cmd == hold ]] && ((npos == 1)); then
			COMPREPLY=(--)
			return 0
		fi
		local opts=$global
		case $cmd in
		list) opts+=' --probe --names' ;;
		state) opts+=' --dry-run --step --force --no-barrier' ;;
		reset) opts+=' --force' ;;
		save) opts+=' -o --output --force --precopy --downtime --precopy-timeout --then --on-error --end-session --buffer-size --raw --no-barrier' ;;
		resume) opts+=' -i --input --force --then --on-error --end-session --single-pass --buffer-size --raw --no-barrier' ;;
		wait | monitor) opts+=' --timeout' ;;
		check) opts+=' --rule --force --list' ;;
		esac
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return 0
	fi

	case $cmd in
	'') COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	info | reset | wait)
		((npos == 0)) && _vfio_migctl_devices "$prog" "$root" "$cur"
		;;
	# a set: DEV DEV...
	save | resume)
		_vfio_migctl_devices "$prog" "$root" "$cur"
		;;
	# DEV, and DEV2 for the round trip
	check)
		((npos < 2)) && _vfio_migctl_devices "$prog" "$root" "$cur"
		;;
	hold)
		if ((npos == 0)); then
			_vfio_migctl_devices "$prog" "$root" "$cur"
		elif ((npos == 1)); then
			COMPREPLY=(--)
		fi
		;;
	state)
		if ((npos == 0)); then
			_vfio_migctl_devices "$prog" "$root" "$cur"
		elif ((npos == 1)); then
			COMPREPLY=($(compgen -W "$_vfio_migctl_states" -- "$cur"))
		fi
		;;
	inspect)
		if ((npos == 0)); then
			compopt -o filenames 2>/dev/null || :
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	esac
	_vfio_migctl_ltrim "$cur"
	return 0
}

complete -F _vfio_migctl vfio-migctl
