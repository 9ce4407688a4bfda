/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The least a pipeline that checksums every byte on a second core can
 * cost on this machine: the bound the engine is measured against, beside
 * the plain loop (tests/bench/bench-native.c).
 */
#ifndef BENCH_PIPELINE_BOUND_H
#define BENCH_PIPELINE_BOUND_H

#include <stdbool.h>
#include <stdint.h>

enum handover {
	HANDOVER_SLEEP, /* the stage waiting for a chunk sleeps, as the engine's do */
	HANDOVER_SPIN,	/* it spins: no wake to pay, a core burnt while it waits */
};

/*
 * Copy @in to @out through two threads and four 1 MiB buffers: a reader
 * thread read()s into them in turn, the calling thread checksums each as
 * the stream format does (stream_hash_payload(): XXH3-64 and XXH3-128,
 * 128 KiB at a time) and write()s it.  The bytes copied; exits on error.
 */
uint64_t bound_copy(int in, int out, enum handover how);

/*
 * Microseconds from pthread_cond_signal() to the sleeping thread running
 * on the other CPU (the median of many): what a sleeping stage adds to a
 * chunk's way through a pipeline.
 */
double wake_latency_us(void);

/*
 * Seconds per GiB the format's checksums take over 1 MiB that this core
 * holds in its cache (@other_core false) or that the other core has just
 * written (true): the cost of moving the data between cores.
 */
double checksum_seconds_per_gib(bool other_core);

#endif
