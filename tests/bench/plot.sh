#!/bin/sh
# Draw the benchmarks' figures as grouped bars, one panel per benchmark
# whose output is given:
#   - the migsim benchmark's THROUGHPUT lines (<case> <ref> <raw> <framed>
#     [<base>], MiB/s), each relative to the plain read()/write() loop of
#     its case (1.0), whose MiB/s is under the case's name: the gap, or its
#     absence, at a glance, whatever the scale;
#   - the native benchmark's NATIVE lines (<case> <bare> <framed>, GiB/s),
#     in GiB/s beside the memcpy of one core (MEMCPY_GIBPS), the physical
#     limit, with the framed/bare ratio over each pair, and the bound of a
#     pipeline that checksums on the other core where measured (BOUND
#     <case> <sleeping/bare> <spinning/bare>);
#   - the migsim benchmark's DOWNTIME lines (<case> <target_ms|onepass>
#     <achieved_ms>, section 8): the time the device was stopped per dirty
#     rate, one-pass precopy beside the 100 and 300 ms budgets.
#
#   tests/bench/plot.sh BENCH-OUTPUT... PNG
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BENCH-OUTPUT... PNG" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing (tests/deps.sh bench)" >&2; exit 1; }
eval "png=\${$#}"
inputs=
while [ $# -gt 1 ]; do
	inputs="$inputs $1"
	shift
done
vm=$(mktemp)
native=$(mktemp)
down=$(mktemp)
trap 'rm -f "$vm" "$native" "$down"' EXIT
# shellcheck disable=SC2086 # the inputs are words
{
	# columns: label ref raw framed base, relative to ref (base "-" when absent)
	sed -n 's/^THROUGHPUT //p' $inputs | awk '{
		printf "\"%s\\n(%.1f MiB/s)\" 1 %.3f %.3f %s\n", $1, $2, $3 / $2, $4 / $2,
			(NF > 4 ? sprintf("%.3f", $5 / $2) : "-")
	}' >"$vm"
	# columns: label bare framed ratio bound ("-" when not measured)
	grep -h -e '^NATIVE ' -e '^BOUND ' $inputs | awk '
		$1 == "BOUND" { bound[$2] = $3; next }
		{ line[++n] = $2; bare[$2] = $3; framed[$2] = $4 }
		END { for (i = 1; i <= n; i++) { c = line[i]
			printf "\"%s\" %.3f %.3f %.3f %s\n", c, bare[c], framed[c], framed[c] / bare[c],
				c in bound ? sprintf("%.3f", bare[c] * bound[c]) : "-" } }' >"$native"
	head=$(grep -h -m1 '^migsim benchmark:' $inputs | sed 's/"//g' || :)
	memcpy=$(sed -n 's/^MEMCPY_GIBPS //p' $inputs | tail -n 1)
	native_head=$(grep -h -m1 '^bench-native:' $inputs | sed 's/"//g; s/, files in.*//' || :)
	# columns: case, stopped ms of one-pass, of the 100 ms budget, of the 300 ms one
	sed -n 's/^DOWNTIME \(dirty[0-9]*\) /\1 /p' $inputs | awk '
		{ if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } ms[$1, $2] = $3 }
		END { for (i = 0; i < n; i++) { c = order[i]
			printf "\"%s%%\" %s %s %s\n", substr(c, 6), ms[c, "onepass"] == "" ? "-" : ms[c, "onepass"],
				ms[c, "100"] == "" ? "-" : ms[c, "100"], ms[c, "300"] == "" ? "-" : ms[c, "300"] } }' >"$down"
}
[ -s "$vm" ] || [ -s "$native" ] || { echo "plot: no THROUGHPUT or NATIVE lines in$inputs" >&2; exit 1; }
panels=0
for f in "$vm" "$native" "$down"; do
	[ ! -s "$f" ] || panels=$((panels + 1))
done
# from the lines themselves: a label holds a space
# shellcheck disable=SC2086
base=$(sed -n 's/^THROUGHPUT //p' $inputs | awk 'NF > 4 { n++ } END { print n + 0 }')
# room for the tallest bar (--raw may beat the loop by far), in steps of 0.1
# shellcheck disable=SC2086
top=$(sed -n 's/^THROUGHPUT //p' $inputs | awk '{ for (i = 3; i <= NF; i++) if ($i / $2 > m) m = $i / $2 }
	END { printf "%.1f", int(m * 10 + 2) / 10 }')
ntop=$(awk -v m="${memcpy:-0}" '{ if ($2 > m) m = $2; if ($3 > m) m = $3 }
	END { printf "%d", int(m * 1.15) + 1 }' "$native")

gnuplot <<EOT
set terminal pngcairo size 900,$((520 * panels)) font "sans,10" noenhanced
set output "$png"
set multiplot layout $panels,1
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside below horizontal
set grid ytics
set bmargin 6
set rmargin 12
set datafile missing "-"
$([ -s "$vm" ] && cat <<EOP
set title "$head"
set ylabel "throughput, relative to the plain loop (higher is better)"
set yrange [0:$top]
set ytics 0.1
# the goal: framing that costs nothing a user can see
set arrow 1 from graph 0, first 0.97 to graph 1, first 0.97 nohead dashtype 2
set label 1 "goal 0.97" at graph 1, first 0.97 offset 1,0 left
plot "$vm" using 2:xtic(1) title "plain read()/write() loop (migsim-ref)", \
     "" using 3 title "vfio-migctl --raw", \
     "" using 4 title "vfio-migctl (framed)"$([ "$base" -gt 0 ] && printf '%s' ', "" using 5 title "framed, before the pipelined engine"')
unset arrow 1
unset label 1
EOP
)
$([ -s "$native" ] && cat <<EOP
set title "$native_head; over each pair: engine / bare"
set ylabel "GiB/s, natively on the host (higher is better)"
set yrange [0:$ntop]
set ytics auto
set xtics rotate by -20
# room for the rotated case names above the key
set bmargin 9
$([ -n "$memcpy" ] && printf '%s\n%s\n' \
	"set arrow 2 from graph 0, first $memcpy to graph 1, first $memcpy nohead dashtype 2" \
	"set label 2 \"memcpy on one core, $memcpy GiB/s: the physical limit\" at graph 0.01, first $memcpy offset 0,0.7 left")
plot "$native" using 2:xtic(1) title "plain read()/write() loop", \
     "" using 3 title "the engine (framed)", \
     "" using 5 title "bound: read on one core, checksums on the other, sleeping between chunks", \
     "" using (\$0):(\$3 > \$2 ? \$3 : \$2):(sprintf("%.2f", \$4)) with labels offset 0,0.8 notitle
unset arrow 2
unset label 2
set bmargin 6
EOP
)
$([ -s "$down" ] && cat <<EOP
set title "save --precopy: time the device was stopped, by dirty rate (% of the device's read rate)"
set ylabel "ms stopped (log scale; lower is better)"
set logscale y
set yrange [5:*]
set ytics auto
set xtics norotate
set arrow 3 from graph 0, first 100 to graph 1, first 100 nohead dashtype 2
set label 3 "100 ms" at graph 1, first 100 offset 1,0 left
set arrow 4 from graph 0, first 300 to graph 1, first 300 nohead dashtype 3
set label 4 "300 ms" at graph 1, first 300 offset 1,0 left
plot "$down" using 2:xtic(1) title "one-pass precopy", \
     "" using 3 title "--downtime=100ms", \
     "" using 4 title "--downtime=300ms"
EOP
)
unset multiplot
EOT
echo "plot: $png"
