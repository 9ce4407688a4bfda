# migsim (included by the top Makefile): the simulated VFIO migration
# device of tests/vm/migsim, an out-of-tree module built against each
# cached test kernel, and migsim-ref, the plain read()/write() client the
# suites and the benchmark compare vfio-migctl with.  The guest loads the
# module of its series from build/migsim/SERIES/migsim.ko (the host's / is
# its root).
#
#   make migsim   build build/migsim/{6.12,6.1}/migsim.ko and build/migsim-ref
#   make bench-migsim (and make bench)  boot the 6.12 test VM and run
#                 tests/vm/migsim/bench.sh, which prints figures
#                 (BENCHMARKS.md says how to read them)

MIGSIM := tests/vm/migsim
MIGSIM_KOS := $(VM_SERIES:%=$(B)/migsim/%/migsim.ko)

# Kbuild writes next to the sources: build a copy under $(B)/migsim/SERIES.
# The kernel's make gets none of our command-line variables (CC=, CFLAGS=,
# W=...).  Either fragment changing rebuilds both: cheap, and never stale.
$(B)/migsim/%/migsim.ko: $(MIGSIM)/migsim.c $(MIGSIM)/Kbuild $(VM_FRAGMENTS)
	$(quiet) KMOD $@
	@mkdir -p $(@D)
	$(Q)cp $(MIGSIM)/migsim.c $(MIGSIM)/Kbuild $(@D)/
	$(Q)kernel=$$($(VM)/build-kernel.sh $*) && \
	MAKEFLAGS= MFLAGS= $(MAKE) -C "$${kernel%/arch/x86/boot/bzImage}" \
		M=$(CURDIR)/$(@D) modules >$(@D)/build.log 2>&1 || \
		{ cat $(@D)/build.log >&2; exit 1; }

$(B)/migsim-ref: $(MIGSIM)/migsim-ref.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

migsim: $(MIGSIM_KOS) $(B)/migsim-ref

# The suites that use migsim need both.  Their knob (passed into the guest
# by run-vm.sh, like every VM_TEST_* variable):
#   VM_TEST_MIGSIM_SCALE_MB  the scale suite's big state in MiB (default
#                            1024, less if the 64 MiB run shows that 1 GiB
#                            would take over 30 s, as TCG on a busy host can)
check-vm: $(MIGSIM_KOS) $(B)/migsim-ref

# Knobs: VM_TEST_BENCH_MB (state size, default 512), VM_TEST_BENCH_ROUNDS
# (runs per figure, the best is kept and the median shown; default 9),
# BENCH_BASELINE (a git revision whose vfio-migctl is measured in the same
# rounds, "base").  The output, between the host's load before and after,
# is kept in build/bench/migsim.txt and drawn as BENCHMARKS.png.
# The guest gets 3 GiB (VM_MEM): it holds two devices' states and two
# files of it in tmpfs at once.
BENCH_BASELINE ?=
BENCH_BASE_BIN := $(if $(BENCH_BASELINE),$(B)/baseline/build/vfio-migctl)

# The baseline's source, exported from git, built as it was
$(B)/baseline/build/vfio-migctl:
	$(quiet) BUILD $(BENCH_BASELINE)
	$(Q)rm -rf $(B)/baseline && mkdir -p $(B)/baseline
	$(Q)git archive $(BENCH_BASELINE) | tar -x -C $(B)/baseline
	$(Q)$(MAKE) --no-print-directory -C $(B)/baseline build/vfio-migctl >/dev/null

bench-migsim: $(B)/vfio-migctl $(B)/migsim/6.12/migsim.ko $(B)/migsim-ref $(BENCH_BASE_BIN)
	$(Q)tests/deps.sh bench
	@mkdir -p $(B)/bench
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	tests/bench/host-load.sh start $(B)/bench/host.state | tee $(B)/bench/migsim.txt && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl VM_TIMEOUT=$${VM_TIMEOUT:-3600} \
	VM_MEM=$${VM_MEM:-3G} \
	VM_TEST_BENCH_BASELINE=$(if $(BENCH_BASE_BIN),$(CURDIR)/$(BENCH_BASE_BIN)) \
		$(VM)/run-vm.sh --exec $(MIGSIM)/bench.sh | tee -a $(B)/bench/migsim.txt
	$(Q)tests/bench/host-load.sh end $(B)/bench/host.state | tee -a $(B)/bench/migsim.txt
	$(Q)tests/bench/plot.sh $(B)/bench/migsim.txt $(wildcard $(B)/bench/native.txt) BENCHMARKS.png

# Prerequisites only, so other benchmarks can join `make bench`.
bench: bench-migsim

.PHONY: migsim bench bench-migsim
