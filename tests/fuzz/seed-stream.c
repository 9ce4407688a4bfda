// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Seeds for fuzz-stream: valid streams made by the writer, each stored
 * twice, behind the mode byte that makes the harness repair checksums
 * (0x00) and behind the one that feeds bytes as they are (0x01).
 * Usage: seed-stream DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "stream.h"

struct piece {
	enum migctl_phase phase;
	size_t len;
};

static int seed(const char *dir, const char *name,
		const struct migctl_device_desc *t, const struct piece *p, size_t n)
{
	struct migctl_stream_header h;
	struct migctl_stream_writer w;
	struct migctl_sink sink;
	uint8_t data[512];
	char path[4096];
	int fd, ret;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (int mode = 0; mode < 2; mode++) {
		snprintf(path, sizeof(path), "%s/seed-%s-%d", dir, name, mode);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		ret = write_all(fd, mode ? "\x01" : "\x00", 1, NULL);
		if (!ret)
			ret = migctl_stream_header_from_desc(&h, t, MIGCTL_FLAG_STOP_COPY, 64);
		if (!ret)
			ret = migctl_stream_writer_init(&w, fd, &h, NULL);
		migctl_stream_writer_sink(&w, &sink);
		if (!ret)
			ret = sink.begin(sink.ctx, h.mig_flags, h.estimate);
		for (size_t i = 0; i < n && !ret; i++)
			ret = sink.write(sink.ctx, p[i].phase, data, p[i].len);
		if (!ret)
			ret = sink.finish(sink.ctx);
		migctl_stream_writer_close(&w);
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* A set of @n (format 1.1), the members' records interleaved round robin */
static int seed_set(const char *dir, const char *name, const struct migctl_device_desc *t,
		    unsigned n, const struct piece *p, size_t np)
{
	struct migctl_stream_header h[4];
	struct migctl_stream_set_writer *w;
	struct migctl_sink sink[4];
	uint8_t data[512];
	char path[4096];
	int fd, ret;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 11 + 3);
	for (int mode = 0; mode < 2; mode++) {
		snprintf(path, sizeof(path), "%s/seed-%s-%d", dir, name, mode);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		ret = write_all(fd, mode ? "\x01" : "\x00", 1, NULL);
		for (unsigned k = 0; k < n && !ret; k++)
			ret = migctl_stream_header_from_desc(&h[k], &t[k], MIGCTL_FLAG_STOP_COPY, 64);
		if (!ret)
			ret = migctl_stream_set_writer_new(fd, n, h, NULL, &w);
		for (unsigned k = 0; k < n && !ret; k++) {
			migctl_stream_set_writer_sink(w, k, &sink[k]);
			ret = sink[k].begin(sink[k].ctx, h[k].mig_flags, h[k].estimate);
		}
		for (size_t i = 0; i < np && !ret; i++)
			for (unsigned k = 0; k < n && !ret; k++)
				ret = sink[k].write(sink[k].ctx, p[i].phase, data, p[i].len / (k + 1));
		for (unsigned k = 0; k < n && !ret; k++)
			ret = sink[k].finish(sink[k].ctx);
		if (n)
			migctl_stream_set_writer_free(w);
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct migctl_device_desc mdev = {
		.name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
		.bus = MIGCTL_BUS_MDEV, .driver = "mtty", .mdev_type = "mtty-2",
	};
	const struct migctl_device_desc pci = {
		.name = "0000:3b:00.1", .bus = MIGCTL_BUS_PCI, .driver = "vfio-pci",
		.vendor = 0x15b3, .device = 0x101e, .subsystem_vendor = 0x15b3,
		.subsystem_device = 0x0047, .revision = 1,
	};
	const struct piece empty[] = { { MIGCTL_PHASE_STOP_COPY, 0 } };
	const struct piece both[] = { { MIGCTL_PHASE_PRE_COPY, 5 },
				      { MIGCTL_PHASE_PRE_COPY, 17 },
				      { MIGCTL_PHASE_STOP_COPY, 40 },
				      { MIGCTL_PHASE_STOP_COPY, 1 } };
	const struct piece one[] = { { MIGCTL_PHASE_STOP_COPY, 512 } };
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-stream DIR\n");
		return 2;
	}
	ret = seed(argv[1], "mdev-empty", &mdev, empty, 1);
	if (!ret)
		ret = seed(argv[1], "mdev-pre-stop", &mdev, both, 4);
	if (!ret)
		ret = seed(argv[1], "pci-one", &pci, one, 1);
	if (!ret) {
		const struct migctl_device_desc set[3] = { mdev, pci, mdev };

		ret = seed_set(argv[1], "set-2", set, 2, both, 4);
		if (!ret)
			ret = seed_set(argv[1], "set-3", set, 3, both, 4);
	}
	if (ret) {
		fprintf(stderr, "seed-stream: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	return 0;
}
