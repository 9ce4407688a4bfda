// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the framed format costs: the same bytes in the same 1 MiB chunks
 * through a plain write() loop and through the stream writer (records,
 * XXH3-64 per record, XXH3-128 over all data), side by side:
 *
 *   - into /dev/null: the writer's own CPU cost, nothing else;
 *   - through a pipe to a reader process: a plain read() loop against the
 *     verifying stream reader, the shape of `save | resume`.  Besides the
 *     wall time, the CPU time of each side: on a box with one free core
 *     the two sides take turns, and the sum is what the wall clock shows.
 *
 * Usage: bench-stream [MIB [ROUNDS]]   (default 1024 MiB, best of 3)
 * Prints figures only; nothing passes or fails on time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
/* The same hash functions stream.c uses: the library's runtime dispatch */
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif
#endif

#include "fdio.h"
#include "stream.h"

#define CHUNK (1u << 20)

static uint8_t *buf;
static size_t chunks;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-stream: %s: %s\n", what, strerror(err));
	exit(1);
}

static void header(struct migctl_stream_header *h)
{
	const struct migctl_device_desc t = {
		.name = "0000:3b:00.1", .bus = MIGCTL_BUS_PCI, .driver = "vfio-pci",
		.vendor = 0x15b3, .device = 0x101e,
	};
	int r = migctl_stream_header_from_desc(h, &t, MIGCTL_FLAG_STOP_COPY,
						 (uint64_t)chunks * CHUNK);

	if (r)
		die("header", -r);
}

static void send_plain(int fd)
{
	for (size_t i = 0; i < chunks; i++) {
		int r = write_all(fd, buf, CHUNK, NULL);

		if (r)
			die("write", -r);
	}
}

static void send_framed(int fd)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	int r;

	header(&h);
	r = migctl_stream_writer_init(&w, fd, &h, NULL);
	migctl_stream_writer_sink(&w, &sink);
	if (!r)
		r = sink.begin(sink.ctx, h.mig_flags, h.estimate);
	for (size_t i = 0; i < chunks && !r; i++)
		r = sink.write(sink.ctx, MIGCTL_PHASE_STOP_COPY, buf, CHUNK);
	if (!r)
		r = sink.finish(sink.ctx);
	migctl_stream_writer_close(&w);
	if (r)
		die("framed write", -r);
}

/* The reading end: exit status 0 only if every byte arrived (and verified) */
static int receive(int fd, bool framed)
{
	uint8_t *in = malloc(CHUNK);
	uint64_t total = 0;
	size_t got;
	int r;

	if (!in)
		return 1;
	if (!framed) {
		do {
			r = read_full(fd, in, CHUNK, &got, NULL);
			total += got;
		} while (!r && got);
	} else {
		struct migctl_stream_reader rd;
		struct migctl_source src;

		r = migctl_stream_reader_open(&rd, fd, NULL);
		migctl_stream_reader_source(&rd, &src);
		while (!r) {
			r = src.read(src.ctx, in, CHUNK, &got);
			if (!got)
				break;
			total += got;
		}
		if (r)
			fprintf(stderr, "bench-stream: reader: %s\n",
				r == -EBADMSG ? migctl_stream_reader_error(&rd) : strerror(-r));
		migctl_stream_reader_close(&rd);
	}
	free(in);
	return r || total != (uint64_t)chunks * CHUNK;
}

static double to_null(bool framed)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	double t;

	if (fd < 0)
		die("/dev/null", errno);
	t = now();
	if (framed)
		send_framed(fd);
	else
		send_plain(fd);
	t = now() - t;
	close(fd);
	return t;
}

static double cpu(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

struct run {
	double wall, writer, reader; /* seconds; CPU seconds of each side */
};

static struct run to_pipe(bool framed)
{
	struct rusage self0, self1, child;
	int fds[2], status;
	struct run run;
	double t;
	pid_t pid;

	if (pipe(fds))
		die("pipe", errno);
	getrusage(RUSAGE_SELF, &self0);
	t = now();
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		close(fds[1]);
		_exit(receive(fds[0], framed));
	}
	close(fds[0]);
	if (framed)
		send_framed(fds[1]);
	else
		send_plain(fds[1]);
	close(fds[1]);
	if (wait4(pid, &status, 0, &child) < 0)
		die("wait4", errno);
	run.wall = now() - t;
	getrusage(RUSAGE_SELF, &self1);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("the reader did not get the whole stream", EIO);
	run.writer = cpu(&self1) - cpu(&self0);
	run.reader = cpu(&child);
	return run;
}

static double hash_alone(bool wide)
{
	XXH3_state_t *st = XXH3_createState();
	double t = now();

	if (!st)
		die("XXH3_createState", ENOMEM);
	if (wide)
		XXH3_128bits_reset(st);
	else
		XXH3_64bits_reset(st);
	for (size_t i = 0; i < chunks; i++) {
		if (wide)
			XXH3_128bits_update(st, buf, CHUNK);
		else
			XXH3_64bits_update(st, buf, CHUNK);
	}
	/* Use the result, so nothing is optimised away */
	if (!wide && XXH3_64bits_digest(st) == 42)
		putchar(' ');
	if (wide && XXH3_128bits_digest(st).low64 == 42)
		putchar(' ');
	t = now() - t;
	XXH3_freeState(st);
	return t;
}

static void row(const char *what, double plain, double framed)
{
	double mib = (double)chunks;

	printf("  %-18s %11.0f MiB/s %11.0f MiB/s   %+7.3f s/GiB  %+9.1f%%  ratio %.3f\n",
	       what, mib / plain, mib / framed, (framed - plain) * 1024 / mib,
	       (framed / plain - 1) * 100, framed / plain);
}

static void cpu_row(const char *what, double plain, double framed)
{
	double per_gib = 1024 / (double)chunks;

	printf("  %-18s %11.3f s/GiB %11.3f s/GiB   %+7.3f s/GiB  %+9.1f%%\n",
	       what, plain * per_gib, framed * per_gib, (framed - plain) * per_gib,
	       (framed / plain - 1) * 100);
}

int main(int argc, char **argv)
{
	double null_plain = 1e9, null_framed = 1e9, h64 = 1e9, h128 = 1e9;
	struct run pipe_plain = { 1e9, 0, 0 }, pipe_framed = { 1e9, 0, 0 };
	int rounds = argc > 2 ? atoi(argv[2]) : 3;

	chunks = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1024;
	if (!chunks || rounds < 1) {
		fprintf(stderr, "usage: bench-stream [MIB [ROUNDS]]\n");
		return 2;
	}
	buf = malloc(CHUNK);
	if (!buf)
		die("malloc", ENOMEM);
	for (size_t i = 0; i < CHUNK; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);

	/* Interleaved, so drift in machine load hits both sides alike */
	for (int r = 0; r < rounds; r++) {
		struct run p;
		double t;

		if ((t = to_null(false)) < null_plain)
			null_plain = t;
		if ((t = to_null(true)) < null_framed)
			null_framed = t;
		if ((p = to_pipe(false)).wall < pipe_plain.wall)
			pipe_plain = p;
		if ((p = to_pipe(true)).wall < pipe_framed.wall)
			pipe_framed = p;
		if ((t = hash_alone(false)) < h64)
			h64 = t;
		if ((t = hash_alone(true)) < h128)
			h128 = t;
	}

	printf("bench-stream: %zu MiB in 1 MiB chunks, best of %d rounds\n", chunks,
	       rounds);
	printf("  %-18s %17s %17s   %13s  %10s\n", "", "plain write()",
	       "framed writer", "framing cost", "overhead");
	row("into /dev/null", null_plain, null_framed);
	row("pipe to a reader", pipe_plain.wall, pipe_framed.wall);
	cpu_row("  writer CPU", pipe_plain.writer, pipe_framed.writer);
	cpu_row("  reader CPU", pipe_plain.reader, pipe_framed.reader);
	printf("  checksums alone: XXH3-64 %.0f MiB/s, XXH3-128 %.0f MiB/s"
	       " (%.3f s/GiB for both)\n",
	       (double)chunks / h64, (double)chunks / h128,
	       (h64 + h128) * 1024 / (double)chunks);
	free(buf);
	return 0;
}
