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
	if (ret) {
		fprintf(stderr, "seed-stream: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	return 0;
}
