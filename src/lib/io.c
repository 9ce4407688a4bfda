// SPDX-License-Identifier: GPL-2.0-or-later
/* The bare kernel stream: a plain fd as a transfer sink or source. */
#include "internal.h"

static int fd_sink_write(void *ctx, enum migctl_phase phase, const void *buf,
			 size_t len)
{
	struct migctl_fd_endpoint *ep = ctx;

	(void)phase;
	return write_all(ep->fd, buf, len, ep->cancel);
}

void migctl_fd_sink(struct migctl_fd_endpoint *ep, struct migctl_sink *sink)
{
	*sink = (struct migctl_sink){ .write = fd_sink_write, .ctx = ep };
}

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct migctl_fd_endpoint *ep = ctx;

	return read_full(ep->fd, buf, len, got, ep->cancel);
}

void migctl_fd_source(struct migctl_fd_endpoint *ep, struct migctl_source *source)
{
	*source = (struct migctl_source){ .read = fd_source_read, .ctx = ep };
}
