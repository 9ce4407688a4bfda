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

# Knobs: VM_TEST_BENCH_MB (state size, default 128), VM_TEST_BENCH_ROUNDS
# (runs per figure, the best is kept; default 3).
bench-migsim: $(B)/vfio-migctl $(B)/migsim/6.12/migsim.ko $(B)/migsim-ref
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl VM_TIMEOUT=$${VM_TIMEOUT:-1200} \
		$(VM)/run-vm.sh --exec $(MIGSIM)/bench.sh

# Prerequisites only, so other benchmarks can join `make bench`.
bench: bench-migsim

.PHONY: migsim bench bench-migsim
