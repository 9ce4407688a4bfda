# Real-kernel tier (included by the top Makefile): a Linux 6.12 with VFIO
# and the mtty sample, booted under QEMU, runs tests/vm/*.bats against real
# mtty devices.  The kernel is built once into a cache outside the tree
# ($VFIO_MIGCTL_CACHE, default ~/.cache/vfio-migctl).
#
#   make kernel     build (or find) the cached bzImage, print its path
#   make check-vm   boot it and run the e2e suites (VM_TIMEOUT=300, CI=true
#                   turns skips into failures)
#   make demo       boot it and narrate one save | resume between two mttys

VM := tests/vm

kernel:
	$(Q)$(VM)/build-kernel.sh

# Test helper: pokes mtty's UART registers through the device fd.
$(B)/mtty-reg: $(VM)/mtty-reg.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# The guest puts the directory of MIGCTL first on its PATH, which is where
# mtty-reg is too.
check-vm: $(B)/vfio-migctl $(B)/mtty-reg
	$(Q)kernel=$$($(VM)/build-kernel.sh) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/run-vm.sh $(VM)/*.bats

demo:
	$(Q)tests/deps.sh build test vm
	$(Q)$(MAKE) --no-print-directory $(B)/vfio-migctl $(B)/mtty-reg
	$(Q)kernel=$$($(VM)/build-kernel.sh) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl $(VM)/run-vm.sh --demo

.PHONY: kernel check-vm demo
