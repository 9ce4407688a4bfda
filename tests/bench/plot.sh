#!/bin/sh
# Draw the migsim benchmark's throughput lines (THROUGHPUT <case> <ref>
# <raw> <framed> [<base>], MiB/s) as grouped bars, each relative to the
# plain read()/write() loop of its case (1.0), whose MiB/s is under the
# case's name: the gap, or its absence, at a glance, whatever the scale.
# With DOWNTIME lines (DOWNTIME <case> <target_ms|onepass> <achieved_ms>,
# section 8), a second panel: the time the device was stopped per dirty
# rate, one-pass precopy beside the 100 and 300 ms budgets.
#
#   tests/bench/plot.sh BENCH-OUTPUT PNG
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BENCH-OUTPUT PNG" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing (tests/deps.sh bench)" >&2; exit 1; }
data=$(mktemp)
down=$(mktemp)
trap 'rm -f "$data" "$down"' EXIT
# columns: label ref raw framed base, relative to ref (base "-" when absent)
sed -n 's/^THROUGHPUT //p' "$1" | awk '{
	printf "\"%s\\n(%.1f MiB/s)\" 1 %.3f %.3f %s\n", $1, $2, $3 / $2, $4 / $2,
		(NF > 4 ? sprintf("%.3f", $5 / $2) : "-")
}' >"$data"
[ -s "$data" ] || { echo "plot: no THROUGHPUT lines in $1" >&2; exit 1; }
base=$(awk '$5 != "-" { n++ } END { print n + 0 }' "$data")
head=$(grep -m1 '^migsim benchmark:' "$1" | sed 's/"//g' || :)
# room for the tallest bar (--raw may beat the loop by far), in steps of 0.1
top=$(sed -n 's/^THROUGHPUT //p' "$1" | awk '{ for (i = 3; i <= NF; i++) if ($i / $2 > m) m = $i / $2 }
	END { printf "%.1f", int(m * 10 + 2) / 10 }')

# columns: case, stopped ms of one-pass, of the 100 ms budget, of the 300 ms one
sed -n 's/^DOWNTIME \(dirty[0-9]*\) /\1 /p' "$1" | awk '
	{ if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } ms[$1, $2] = $3 }
	END { for (i = 0; i < n; i++) { c = order[i]
		printf "\"%s%%\" %s %s %s\n", substr(c, 6), ms[c, "onepass"] == "" ? "-" : ms[c, "onepass"],
			ms[c, "100"] == "" ? "-" : ms[c, "100"], ms[c, "300"] == "" ? "-" : ms[c, "300"] } }' >"$down"
height=520
[ ! -s "$down" ] || height=1000

gnuplot <<EOT
set terminal pngcairo size 900,$height font "sans,10" noenhanced
set output "$2"
$([ ! -s "$down" ] || echo 'set multiplot layout 2,1')
set title "$head"
set ylabel "throughput, relative to the plain loop (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside below horizontal
set grid ytics
set yrange [0:$top]
set ytics 0.1
set bmargin 6
# the goal: framing that costs nothing a user can see
set arrow from graph 0, first 0.97 to graph 1, first 0.97 nohead dashtype 2
set label "goal 0.97" at graph 1, first 0.97 offset 1,0 left
set rmargin 12
set datafile missing "-"
plot "$data" using 2:xtic(1) title "plain read()/write() loop (migsim-ref)", \
     "" using 3 title "vfio-migctl --raw", \
     "" using 4 title "vfio-migctl (framed)"$([ "$base" -gt 0 ] && printf '%s' ', "" using 5 title "framed, before the pipelined engine"')
$([ ! -s "$down" ] || cat <<EOD
unset arrow
unset label
set title "save --precopy: time the device was stopped, by dirty rate (% of the device's read rate)"
set ylabel "ms stopped (log scale; lower is better)"
set logscale y
set yrange [5:*]
set ytics auto
set arrow from graph 0, first 100 to graph 1, first 100 nohead dashtype 2
set label "100 ms" at graph 1, first 100 offset 1,0 left
set arrow from graph 0, first 300 to graph 1, first 300 nohead dashtype 3
set label "300 ms" at graph 1, first 300 offset 1,0 left
plot "$down" using 2:xtic(1) title "one-pass precopy", \\
     "" using 3 title "--downtime=100ms", \\
     "" using 4 title "--downtime=300ms"
unset multiplot
EOD
)
EOT
echo "plot: $2"
