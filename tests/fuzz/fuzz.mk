# The stream parser's fuzz target (libFuzzer, clang-14, ASan + UBSan).
#
#   make check-fuzz   the short run `make check` does (FUZZ_SHORT_SECONDS, 20)
#   make fuzz         the long run, before a release or after touching
#                     src/lib/stream.c (FUZZ_SECONDS, 600; e.g. FUZZ_SECONDS=3600)
#
# Both build into build/fuzz, keep the corpus there across runs, print the
# executions and findings, and fail on any crash or sanitizer report.

FUZZ_SHORT_SECONDS ?= 20
FUZZ_SECONDS ?= 600

check-fuzz:
	$(Q)PKGS="$(PKGS)" MIGCTL_VERSION="$(VERSION)" FUZZ_BUILD="$(B)/fuzz" \
		tests/fuzz/run.sh $(FUZZ_SHORT_SECONDS)

fuzz:
	$(Q)PKGS="$(PKGS)" MIGCTL_VERSION="$(VERSION)" FUZZ_BUILD="$(B)/fuzz" \
		tests/fuzz/run.sh $(FUZZ_SECONDS)

.PHONY: check-fuzz fuzz
