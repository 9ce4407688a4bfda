#!/bin/sh
# The host's share of a benchmark's noise, printed beside its figures:
# its load average, and the CPU time its own hypervisor took from it
# (steal, /proc/stat) while the benchmark ran.
#
#   tests/bench/host-load.sh start STATE   before the run (STATE: a scratch file)
#   tests/bench/host-load.sh end STATE     after it
set -eu
usage() { echo "usage: $0 start|end STATE" >&2; exit 2; }
[ $# -eq 2 ] || usage
# seconds since boot and the host's steal, in USER_HZ ticks, summed over CPUs
now() { echo "$(cut -d' ' -f1 /proc/uptime) $(awk '$1 == "cpu" { print $9 }' /proc/stat)"; }
load="load average $(cut -d' ' -f1-3 /proc/loadavg)"
case $1 in
start)
	now >"$2"
	echo "host: $(nproc) CPUs, $load before the run"
	;;
end)
	read -r t0 steal0 <"$2"
	read -r t1 steal1 <<-EOF
	$(now)
	EOF
	printf 'host: %s after the run; %.1f s of CPU time stolen by its hypervisor in %.0f s\n' \
		"$load" "$(echo "($steal1 - $steal0) / $(getconf CLK_TCK)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
	;;
*)
	usage
	;;
esac
