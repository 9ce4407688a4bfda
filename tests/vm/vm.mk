# Real-kernel tiers (included by the top Makefile): Linux 6.12 and Debian
# 12's own Linux 6.1, each with VFIO and the mtty sample, booted under
# QEMU, run bats suites against real mtty (and migsim) devices.  Which
# suites run on which kernel is a directory rule (run-vm.sh enforces it):
#   tests/vm/*.bats            Linux 6.12 (cdev and group, PRE_COPY, data size)
#   tests/vm/linux-6.1/*.bats  Linux 6.1 (group only; no PRE_COPY, no data size)
#   tests/vm/cross-tier/*.bats Linux 6.12, after the 6.1 tier: streams it saved
# The kernels are built once into a cache outside the tree
# ($VFIO_MIGCTL_CACHE, default ~/.cache/vfio-migctl, a directory per series).
#
#   make kernel     build (or find) both cached bzImages, print their paths
#   make check-vm   boot each and run its suites (tests/vm/check-vm.sh: 6.12,
#                   6.1, then the cross-tier check on 6.12; VM_TIERS= picks
#                   stages); VM_TIMEOUT, CI=true turns skips into failures
#   make demo       boot 6.12 and narrate one save | resume between two mttys

VM := tests/vm
VM_SERIES := 6.12 6.1
VM_FRAGMENTS := $(VM)/kernel.config $(VM)/kernel-6.1.config

kernel:
	$(Q)for s in $(VM_SERIES); do $(VM)/build-kernel.sh $$s || exit 1; done

# Test helper: pokes mtty's UART registers through the device fd.
$(B)/mtty-reg: $(VM)/mtty-reg.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# The guest puts the directory of MIGCTL first on its PATH, which is where
# mtty-reg is too.
check-vm: $(B)/vfio-migctl $(B)/mtty-reg
	$(Q)MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/check-vm.sh

demo:
	$(Q)tests/deps.sh build test vm
	$(Q)$(MAKE) --no-print-directory $(B)/vfio-migctl $(B)/mtty-reg
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/run-vm.sh --demo

.PHONY: kernel check-vm demo
