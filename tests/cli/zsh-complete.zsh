#!/usr/bin/zsh -f
# zsh-complete.zsh DIR LINE: print the matches zsh's completion system
# offers for LINE followed by Tab, one per line, sorted, with the
# completion functions of DIR first in $fpath.  Runs an interactive zsh on
# a pseudo-terminal (zsh/zpty) and records every compadd call.
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
# What each final compadd adds goes out between \1 and \2; calls that only
# collect matches (-O, -A, -D) pass through.
zpty -w z 'compadd() { if [[ " $* " == *" -"[OAD]" "* ]]; then builtin compadd "$@"; return; fi; local -a m; builtin compadd -O m "$@"; local s; for s in $m; do print -rn -- $'"'"'\1'"'"'$s$'"'"'\2'"'"'; done; builtin compadd "$@"; }'
# The shell exits once the completion is done: the read below ends.
zpty -w z 'comppostfuncs=(exit)'
zpty -w z "$2"$'\t'
local out line
while zpty -r z line; do out+=$line; done
print -r -- $out | tr -d '\r' | grep -a -o $'\1[^\2]*\2' | tr -d $'\1\2' | sort -u
