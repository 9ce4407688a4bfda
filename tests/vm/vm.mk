# Real-kernel tier: placeholder until the rig lands.
check-vm:
	@echo "check-vm: not yet" >&2; exit 1
.PHONY: check-vm
