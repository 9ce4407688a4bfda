// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's moves on a device, for the rules and the engine: a stream kept in
 * memory, with a bound; a state reached from wherever the device is; a data
 * session read to its end; a whole STOP_COPY stream saved into memory and
 * put back, through the transfer engine.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* ---- a stream in memory, with a bound */

int check_membuf_add(struct membuf *b, const void *p, size_t n)
{
	size_t cap;
	void *data;

	if (n > b->max - b->len)
		return -EFBIG;
	if (b->len + n > b->cap) {
		for (cap = b->cap ? b->cap : CHUNK; cap < b->len + n; cap *= 2)
			;
		data = realloc(b->data, cap < b->max ? cap : b->max);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap < b->max ? cap : b->max;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void check_membuf_free(struct membuf *b)
{
	free(b->data);
	*b = (struct membuf){ .max = b->max };
}

/* The transfer engine's sink and source, on memory */
static int membuf_sink_write(void *ctx, enum migctl_phase phase, const void *buf, size_t len)
{
	(void)phase;
	return check_membuf_add(ctx, buf, len);
}

struct membuf_reader {
	const struct membuf *b;
	size_t pos;
};

static int membuf_source_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct membuf_reader *rd = ctx;
	size_t n = rd->b->len - rd->pos;

	if (n > len)
		n = len;
	memcpy(buf, rd->b->data + rd->pos, n);
	rd->pos += n;
	*got = n;
	return 0;
}

/* ---- moving the device */

void check_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

enum migctl_state check_get_state(struct check_dev *d)
{
	return migctl_read_state(d->dev);
}

bool check_offers(struct check_dev *d, enum migctl_state s)
{
	return migctl_state_supported(d->pb.mig_flags, s);
}

/* The device went into ERROR: the rule's last move, and its FAIL (migctl_check_run) */
static void __attribute__((format(printf, 2, 3))) broke(struct check_dev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->broke)
		return;
	d->broke = true;
	va_start(ap, fmt);
	vsnprintf(d->broke_why, sizeof(d->broke_why), fmt, ap);
	va_end(ap);
}

/*
 * SET @s; a data_fd it returns replaces *fd (closed at once when fd is
 * NULL).  Never from ERROR: -EBADFD, nothing asked, and the rule stops.
 */
int check_set_state(struct check_dev *d, enum migctl_state s, int *fd)
{
	enum migctl_state from;
	int new_fd, r;

	if (d->broke)
		return -EBADFD;
	from = check_get_state(d);
	if (!migctl_set_allowed_from(from)) {
		broke(d, "the device was in ERROR before SET %s", migctl_state_name(s));
		return -EBADFD;
	}
	r = migctl_set_state(d->dev, s, &new_fd);
	if (new_fd >= 0) {
		if (fd) {
			check_close_fd(fd);
			*fd = new_fd;
		} else {
			close(new_fd);
		}
	}
	if (r && check_get_state(d) == MIGCTL_STATE_ERROR)
		broke(d, "%s -> %s failed with %s and left the device in ERROR",
		      migctl_state_name(from), migctl_state_name(s), check_eno(r));
	return r;
}

/* Write the device's saved stream into the RESUMING session *fd */
int check_write_saved(struct check_dev *d, int fd)
{
	if (!d->saved.len || fd < 0)
		return -ENODATA;
	return write_all(fd, d->saved.data, d->saved.len, NULL);
}

/*
 * Move to @s from wherever the device is, keeping a data state's session
 * in *fd (NULL: none is kept).  RESUMING is left by loading the saved
 * stream through *fd where that works, else by reset, the uAPI's abort;
 * a state GET cannot tell is left by reset too.  ERROR is not left here:
 * the rule stops (-EBADFD), and check_go_found() resets the device.
 */
int check_go(struct check_dev *d, enum migctl_state s, int *fd)
{
	enum migctl_state cur = check_get_state(d), path[MIGCTL_ARCS_MAX];
	size_t len;
	int none = -1, r;

	if (!fd)
		fd = &none;
	if (cur == MIGCTL_STATE_RESUMING && s != MIGCTL_STATE_RESUMING &&
	    check_write_saved(d, *fd) == 0 && check_set_state(d, MIGCTL_STATE_STOP, NULL) == 0)
		cur = MIGCTL_STATE_STOP;
	if (!d->broke && !migctl_set_allowed_from(cur))
		broke(d, "the device was in ERROR on the way to %s", migctl_state_name(s));
	if (d->broke) {
		r = -EBADFD;
		goto out;
	}
	if (cur == MIGCTL_NR_STATES ||
	    (cur == MIGCTL_STATE_RESUMING && s != MIGCTL_STATE_RESUMING)) {
		check_close_fd(fd);
		r = migctl_dev_reset(d->dev);
		if (r)
			goto out;
		cur = check_get_state(d);
	}
	/* the kernel has no path from STOP_COPY to PRE_COPY*: go round by STOP */
	if (cur != s && migctl_state_path(d->pb.mig_flags, cur, s, path, &len) &&
	    check_set_state(d, MIGCTL_STATE_STOP, fd) == 0) {
		check_close_fd(fd);
		cur = MIGCTL_STATE_STOP;
	}
	r = cur == s ? 0 : check_set_state(d, s, fd);
	if (!r && !migctl_state_is_data(s))
		check_close_fd(fd);
out:
	check_close_fd(&none);
	return r;
}

int check_go_found(struct check_dev *d)
{
	enum migctl_state now = check_get_state(d);
	int r;

	d->broke = false;
	/* nothing but a reset is asked of a device in ERROR */
	if (!migctl_set_allowed_from(now) && (r = migctl_dev_reset(d->dev)))
		return r;
	return check_go(d, d->pb.found, NULL);
}

bool check_cancelled(const struct migctl_check *c)
{
	return c->opts.cancel && *c->opts.cancel;
}

/*
 * Read @fd to its end into @out (NULL: count only); -EFBIG past the
 * bound, -EINTR on a cancel
 */
int check_read_to_end(struct migctl_check *c, int fd, struct membuf *out, size_t *total)
{
	size_t got;
	int r;

	*total = 0;
	for (;;) {
		/* Up to the bound, 64 MiB: a signal is not kept waiting for it */
		if (check_cancelled(c))
			return -EINTR;
		r = migctl_data_read(fd, c->buf, CHUNK, &got);
		if (r || got == 0)
			return r;
		if (got > c->max - *total)
			return -EFBIG;
		if (out && (r = check_membuf_add(out, c->buf, got)))
			return r;
		*total += got;
	}
}

/* The states a device offers, in the order the rules visit them */
size_t check_tour(struct check_dev *d, enum migctl_state states[MIGCTL_NR_STATES])
{
	static const enum migctl_state order[] = {
		MIGCTL_STATE_RUNNING,	MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_STOP,
		MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_PRE_COPY,	  MIGCTL_STATE_PRE_COPY_P2P,
		MIGCTL_STATE_RESUMING,
	};
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (check_offers(d, order[i]))
			states[n++] = order[i];
	return n;
}

/* ---- data sessions, for the rules */

/*
 * @from, then @to with the data_fd it returns in *fd (-1, or a session
 * that @from ends): false if either SET fails or @to returns no data_fd
 */
bool check_open_session(struct check_dev *d, enum migctl_state from, enum migctl_state to, int *fd)
{
	return !check_go(d, from, fd) && !check_set_state(d, to, fd) && *fd >= 0;
}

/* The FAIL of a session's arc that gave no data_fd */
void check_no_data_fd(struct rule_run *x, enum migctl_state from, enum migctl_state to)
{
	check_finding(x, MIGCTL_FAIL, "%s -> %s gave no data_fd", migctl_state_name(from),
		      migctl_state_name(to));
}

/* check_open_session(), a FAIL if it does not open */
bool check_enter_session(struct rule_run *x, enum migctl_state from, enum migctl_state to, int *fd)
{
	if (check_open_session(x->d, from, to, fd))
		return true;
	check_no_data_fd(x, from, to);
	return false;
}

/* ---- whole streams, through the transfer engine */

int check_save_into(struct check_dev *d, enum migctl_state then, struct membuf *out,
		    volatile sig_atomic_t *cancel)
{
	struct migctl_sink sink = { .write = membuf_sink_write, .ctx = out };
	struct migctl_xfer_opts opts = { .then = then, .cancel = cancel };
	struct migctl_xfer_result res;

	return migctl_save(d->dev, &opts, &sink, &res);
}

int check_resume_from(struct check_dev *d, enum migctl_state then, const struct membuf *in,
		      struct migctl_xfer_result *res, volatile sig_atomic_t *cancel)
{
	struct membuf_reader rd = { .b = in };
	struct migctl_source source = { .read = membuf_source_read, .ctx = &rd };
	struct migctl_xfer_opts opts = { .then = then, .end_session = true, .cancel = cancel };

	return migctl_resume(d->dev, &opts, &source, res);
}
