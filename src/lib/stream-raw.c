// SPDX-License-Identifier: GPL-2.0-or-later
/* The bare kernel stream: a plain fd as a transfer sink or source. */
#include "internal.h"

static int fd_sink_write(void *ctx, enum migctl_phase phase, const void *buf, size_t len)
{
	struct migctl_fd_endpoint *ep = ctx;

	(void)phase;
	return write_all(ep->fd, buf, len, ep->cancel);
}

/* On the engine's stream thread: its stop flag, not only the cancel */
static int fd_sink_emit(void *ctx, const struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct migctl_fd_endpoint *ep = ctx;

	return write_all(ep->fd, c->buf, c->len, stop);
}

void migctl_fd_sink(struct migctl_fd_endpoint *ep, struct migctl_sink *sink)
{
	*sink = (struct migctl_sink){ .write = fd_sink_write, .emit = fd_sink_emit, .ctx = ep };
}

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct migctl_fd_endpoint *ep = ctx;

	return read_full(ep->fd, buf, len, got, ep->cancel);
}

static int fd_source_fetch(void *ctx, struct migctl_chunk *c, volatile sig_atomic_t *stop)
{
	struct migctl_fd_endpoint *ep = ctx;

	return read_full(ep->fd, c->buf, c->cap, &c->len, stop);
}

void migctl_fd_source(struct migctl_fd_endpoint *ep, struct migctl_source *source)
{
	*source = (struct migctl_source){ .read = fd_source_read,
					  .fetch = fd_source_fetch,
					  .ctx = ep };
}
