# What the framed stream costs against a plain write() loop: figures only,
# no pass or fail on time (see tests/bench/bench-stream.c).
#
#   make bench-stream                              1 GiB, best of 3 rounds
#   make bench-stream BENCH_MIB=4096 BENCH_ROUNDS=5
#
# The whole engine natively, on the host (tests/bench/bench-native.c),
# part of make bench; BENCHMARKS.md says how to read it:
#
#   make bench-native                              1 GiB 15 rounds, 8 GiB 3 rounds
#   make bench-native NATIVE_SIZES="2:7"           GIB:ROUNDS ...

BENCH_MIB ?= 1024
BENCH_ROUNDS ?= 3
NATIVE_SIZES ?= 1:15 8:3

$(B)/bench/bench-stream: tests/bench/bench-stream.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-stream: $(B)/bench/bench-stream
	$(Q)$< $(BENCH_MIB) $(BENCH_ROUNDS)

# Every thread it starts, the engine's too, is counted by a wrapper
$(B)/bench/bench-native: tests/bench/bench-native.c tests/bench/pipeline-bound.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--wrap=pthread_create -o $@ $^ $(LDLIBS)

# The output, between the host's load before and after, is kept in
# build/bench/native.txt and drawn with the VM's figures as BENCHMARKS.png.
# Under make bench it runs after the VM benchmark, never beside it.
bench-native: $(B)/bench/bench-native | $(if $(filter bench,$(MAKECMDGOALS)),bench-migsim)
	@mkdir -p $(B)/bench
	$(Q)tests/bench/host-load.sh start $(B)/bench/native.state | tee $(B)/bench/native.txt
	$(Q)$< $(NATIVE_SIZES) | tee -a $(B)/bench/native.txt
	$(Q)tests/bench/host-load.sh end $(B)/bench/native.state | tee -a $(B)/bench/native.txt
	$(Q)tests/bench/plot.sh $(wildcard $(B)/bench/migsim.txt) $(B)/bench/native.txt BENCHMARKS.png

bench: bench-native

.PHONY: bench-stream bench-native
