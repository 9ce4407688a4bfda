# The torture suite (included by the top Makefile): tests/vm/torture/
# torture.sh in the 6.12 test VM, seeded random vfio-migctl commands on
# migsim devices with faults and signals, the man page's promises checked
# after every step (the script's header lists them).
#
#   make torture                      random seeds for DURATION seconds
#                                     (default 600); the base seed is printed
#   make torture SEED=N [STEPS=40]    replay one seed (STEPS: how far)
#   make torture DURATION=1800        run as long as asked
#   make check-torture                the fixed seeds below, about a minute under TCG
#
# Other knobs: CANCEL_S (the signal-to-exit bound, default 5 s), BASE_SEED,
# KEEP_GOING (0: stop at the first violation).  One VM, VM_MEM as usual.

TORTURE := tests/vm/torture/torture.sh

# Seeds chosen (torture.sh --plan) so that the short set has a signal
# while data flows through each kind of transfer, a failing --then arc
# behind a file and behind a pipe, and SIGKILL's recovery.
TORTURE_CHECK_SEEDS ?= 45 623 194 180
TORTURE_CHECK_STEPS ?= 12

TORTURE_VARS = $(foreach v,SEED SEEDS STEPS DURATION BASE_SEED CANCEL_S STEP_TIMEOUT KEEP_GOING,\
	$(if $($(v)),VM_TEST_TORTURE_$(v)=$($(v))))

# The VM's own timeout: the run plus boot and a slow last step
torture_timeout = $$(( $(or $(DURATION),$(if $(SEED)$(SEEDS),0,600)) + 900 ))

torture: $(B)/vfio-migctl $(B)/migsim/6.12/migsim.ko
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl \
	VM_TIMEOUT=$${VM_TIMEOUT:-$(torture_timeout)} $(TORTURE_VARS) \
		$(VM)/run-vm.sh --exec $(TORTURE)

check-torture: $(B)/vfio-migctl $(B)/migsim/6.12/migsim.ko
	$(Q)kernel=$$($(VM)/build-kernel.sh 6.12) && \
	KERNEL=$$kernel MIGCTL=$(CURDIR)/$(B)/vfio-migctl \
	VM_TEST_TORTURE_SEEDS="$(TORTURE_CHECK_SEEDS)" \
	VM_TEST_TORTURE_STEPS=$(TORTURE_CHECK_STEPS) VM_TEST_TORTURE_KEEP_GOING=2 \
		$(VM)/run-vm.sh --exec $(TORTURE)

.PHONY: torture check-torture
