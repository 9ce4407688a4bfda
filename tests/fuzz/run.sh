#!/bin/sh
# Build the stream parser's libFuzzer target (clang, ASan + UBSan) and run
# it for SECONDS (default 20) from a seed corpus of valid streams made by
# the writer.  Prints executions and findings; exits non-zero on any crash,
# leak, timeout or sanitizer report.
#
#   tests/fuzz/run.sh [SECONDS]       make check-fuzz (20 s), make fuzz (600 s)
#
# The corpus grows across runs in build/fuzz/corpus; findings are kept in
# build/fuzz/artifacts, and replay with: build/fuzz/fuzz-stream FILE
set -eu

secs=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
out=${FUZZ_BUILD:-build/fuzz}
cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
	for c in clang-14 clang; do
		command -v "$c" >/dev/null 2>&1 && { cc=$c; break; }
	done
fi
[ -n "$cc" ] || { echo "fuzz: clang not found (tests/deps.sh test)" >&2; exit 1; }
version=${MIGCTL_VERSION:-$(sed -n 's/^VERSION := //p' Makefile)}
pkgs=${PKGS:-$(sed -n 's/^PKGS := //p' Makefile)}

# Word splitting of these is wanted; the version goes in as one argument
# shellcheck disable=SC2086
cflags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2
	-Wmissing-prototypes -Wstrict-prototypes -Werror -g -O1
	-fno-omit-frame-pointer -Isrc/lib -Isrc/shared $(pkg-config --cflags $pkgs)"
vdef="-DMIGCTL_VERSION=\"$version\""
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# shellcheck disable=SC2086
libs=$(pkg-config --libs $pkgs)

# The whole library, instrumented; the linker takes what the target needs
mkdir -p "$out/obj" "$out/corpus" "$out/artifacts"
rm -f "$out/obj/"*.o "$out/libmigctl-fuzz.a"
for src in src/lib/*.c src/shared/*.c; do
	obj="$out/obj/$(basename "$src" .c).o"
	# shellcheck disable=SC2086
	$cc $cflags "$vdef" $san -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
done
ar rcs "$out/libmigctl-fuzz.a" "$out/obj/"*.o
# shellcheck disable=SC2086
$cc $cflags "$vdef" $san -fsanitize=fuzzer -o "$out/fuzz-stream" \
	tests/fuzz/fuzz-stream.c "$out/libmigctl-fuzz.a" $libs
# shellcheck disable=SC2086
$cc $cflags "$vdef" $san -fsanitize=fuzzer-no-link -o "$out/seed-stream" \
	tests/fuzz/seed-stream.c "$out/libmigctl-fuzz.a" $libs

"$out/seed-stream" "$out/corpus"
rm -f "$out/artifacts/"*
log="$out/fuzz.log"
rc=0
"$out/fuzz-stream" -max_total_time="$secs" -print_final_stats=1 \
	-max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$out/artifacts/" "$out/corpus" >"$log" 2>&1 || rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
findings=$(find "$out/artifacts" -type f | wc -l)
reports=$(grep -c -E '^SUMMARY: |runtime error:' "$log" || true)
echo "fuzz-stream: ${secs}s, ${execs:-0} executions (${speed:-0}/s)," \
	"coverage ${cov:-?} edges, corpus $(find "$out/corpus" -type f | wc -l) inputs," \
	"$findings findings, $reports sanitizer reports"
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ] || [ "$reports" -ne 0 ] ||
	[ -z "$execs" ]; then
	tail -n 40 "$log" >&2
	find "$out/artifacts" -type f >&2
	echo "fuzz-stream: FAILED (exit $rc); full log in $log" >&2
	exit 1
fi
