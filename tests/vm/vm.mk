# Real-kernel tier (included by the top Makefile): a Linux 6.12 with VFIO
# and the mtty sample, booted under QEMU, runs tests/vm/*.bats against real
# mtty devices.  The kernels are built once into a cache outside the tree
# ($VFIO_MIGCTL_CACHE, default ~/.cache/vfio-migctl, a directory per
# series): 6.12, and Debian 12's own 6.1.
#
#   make kernel     build (or find) both cached bzImages, print their paths
#   make check-vm   boot 6.12 and run the e2e suites (VM_TIMEOUT=300, CI=true
#                   turns skips into failures)
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
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/run-vm.sh $(VM)/*.bats

demo:
	$(Q)tests/deps.sh build test vm
	$(Q)$(MAKE) --no-print-directory $(B)/vfio-migctl $(B)/mtty-reg
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/run-vm.sh --demo

.PHONY: kernel check-vm demo
