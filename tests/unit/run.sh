#!/bin/sh
# Run the unit test binaries (each prints TAP) and sum them up.
pass=0 fail=0
for t in "$@"; do
	out=$("$t") ; rc=$?
	printf '# %s\n%s\n' "${t##*/}" "$out"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1	# a crash counts as a failure
	pass=$((pass + p)) fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
