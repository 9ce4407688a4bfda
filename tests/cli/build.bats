#!/usr/bin/env bats
# The Makefile: distribution flags reach the compiler and the linker, and a
# machine without the build dependencies is told which ones, in one line.

bats_require_minimum_version 1.5.0
load helpers

@test "make honours CPPFLAGS and LDFLAGS (distribution hardening)" {
	run -0 make -C "$REPO" -B -n build/vfio-migctl \
		CPPFLAGS=-DMIGCTL_TEST_CPPFLAGS LDFLAGS=-Wl,-z,migctltestldflags
	grep -E -- '-DMIGCTL_TEST_CPPFLAGS.* -c -o build/src/cli/main.o src/cli/main.c' <<<"$output" ||
		fail "CPPFLAGS are not on the compile line"
	grep -E -- '-Wl,-z,migctltestldflags.* -o build/vfio-migctl ' <<<"$output" ||
		fail "LDFLAGS are not on the link line"
}

@test "make without the -dev packages: one line naming them and the command that installs them" {
	# A pkg-config that finds nothing stands for a machine without the packages
	run -2 --separate-stderr make -C "$REPO" -n build/vfio-migctl PKG_CONFIG=false
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "expected one line: $stderr"
	[[ $stderr == *"missing build dependencies: libjson-c-dev libxxhash-dev libnl-3-dev libsmartcols-dev; install them with: tests/deps.sh build"* ]] ||
		fail "stderr: $stderr"
	run -2 --separate-stderr make -C "$REPO" -n build/vfio-migctl PKG_CONFIG=/nonexistent/pkg-config
	[[ $stderr == *"missing build dependencies: pkg-config;"* ]] || fail "stderr: $stderr"
}
