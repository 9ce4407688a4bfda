#!/bin/sh
# Run the unit test binaries (each prints TAP) and sum them up.  A binary
# passes only if it exits 0 and reported every test its plan announced
# (a crash halfway through leaves the plan short).
pass=0 fail=0
for t in "$@"; do
	out=$("$t") ; rc=$?
	printf '# %s\n%s\n' "${t##*/}" "$out"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	plan=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | head -n 1)
	if [ -z "$plan" ]; then
		echo "# ${t##*/}: no TAP plan"
		f=$((f + 1))
	elif [ $((p + f)) -ne "$plan" ]; then
		echo "# ${t##*/}: planned $plan tests, reported $((p + f))"
		f=$((f + 1))
	fi
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1	# a crash counts as a failure
	pass=$((pass + p)) fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
