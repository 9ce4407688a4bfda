# What the framed stream costs against a plain write() loop: figures only,
# no pass or fail on time (see tests/bench/bench-stream.c).
#
#   make bench-stream                              1 GiB, best of 3 rounds
#   make bench-stream BENCH_MIB=4096 BENCH_ROUNDS=5

BENCH_MIB ?= 1024
BENCH_ROUNDS ?= 3

$(B)/bench/bench-stream: tests/bench/bench-stream.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-stream: $(B)/bench/bench-stream
	$(Q)$< $(BENCH_MIB) $(BENCH_ROUNDS)

.PHONY: bench-stream
