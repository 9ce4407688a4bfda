// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Save and resume: the data sessions of the migration uAPI, and the
 * failure policy that leaves the device in a known state whatever happens.
 *
 * The device's data_fd is read and written with plain read()/write() in
 * buffer-sized pieces (some drivers' fds are streams: no pread), so memory
 * stays constant whatever the size of the state.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

struct xfer {
	struct migctl_dev *dev;
	const struct migctl_xfer_opts *opts;
	struct migctl_xfer_result *res;
	char *buf;
	size_t buf_size;
	int data_fd;
	bool touched; /* a state change was asked for: recovery is owed */
	double started;
	struct migctl_progress progress;
};

static bool cancelled(const struct xfer *x)
{
	return x->opts->cancel && *x->opts->cancel;
}

/* Record where it failed; returns @err so callers can `return note_failure(...)` */
static int note_failure(struct xfer *x, enum migctl_fail_at at, int err)
{
	if (x->res->fail_at == MIGCTL_FAIL_NONE) {
		/* A signal interrupting a blocked read or write is the cancel */
		x->res->fail_at = (err == -EINTR && cancelled(x)) ? MIGCTL_FAIL_CANCEL : at;
	}
	return err;
}

static void close_data_fd(struct xfer *x)
{
	if (x->data_fd >= 0)
		close(x->data_fd);
	x->data_fd = -1;
}

/*
 * Enter @state.  A new data session replaces the old one; an arc that
 * keeps the session (PRE_COPY -> STOP_COPY) returns no fd and the old one
 * carries on.
 */
static int enter(struct xfer *x, enum migctl_state state, enum migctl_fail_at at)
{
	int fd, r;

	x->touched = true;
	r = migctl_set_state(x->dev, state, &fd);
	if (r) {
		x->res->failed_state = state;
		return note_failure(x, at, r);
	}
	if (fd >= 0) {
		close_data_fd(x);
		x->data_fd = fd;
	}
	return 0;
}

/* Enter a state that must hand us a data session (PRE_COPY, STOP_COPY, RESUMING) */
static int enter_session(struct xfer *x, enum migctl_state state)
{
	int r = enter(x, state, MIGCTL_FAIL_TRANSITION);

	if (!r && x->data_fd < 0)
		r = note_failure(x, MIGCTL_FAIL_TRANSITION, -EPROTO);
	return r;
}

static void report_progress(struct xfer *x, enum migctl_phase phase)
{
	x->progress.phase = phase;
	x->progress.bytes = x->res->bytes;
	if (x->opts->progress)
		x->opts->progress(x->opts->progress_arg, &x->progress);
}

/* Check the device can do what is asked before anything is changed */
static int preflight(struct xfer *x, uint64_t *mig_flags, bool saving)
{
	struct migctl_xfer_result *res = x->res;
	enum migctl_state state;
	int r;

	r = migctl_get_state(x->dev, &state);
	if (r)
		return note_failure(x, MIGCTL_FAIL_CHECK, r);
	res->initial_state = res->final_state = state;
	if (state == MIGCTL_STATE_ERROR)
		return note_failure(x, MIGCTL_FAIL_CHECK, -EBADFD);
	/*
	 * A data session is open: someone else's, or one a dead process left.
	 * Not ours to take over, unless asked to end it first (below).
	 */
	if (migctl_state_is_data(state) && !x->opts->end_session)
		return note_failure(x, MIGCTL_FAIL_CHECK, -EBUSY);

	r = migctl_mig_flags(x->dev, mig_flags);
	if (r)
		return note_failure(x, MIGCTL_FAIL_CHECK, r);
	/* failed_state names what the device does not offer */
	res->failed_state = MIGCTL_STATE_STOP_COPY;
	if (!(*mig_flags & MIGCTL_FLAG_STOP_COPY))
		return note_failure(x, MIGCTL_FAIL_CHECK, -EOPNOTSUPP);
	res->failed_state = MIGCTL_STATE_PRE_COPY;
	if (saving && x->opts->precopy && !(*mig_flags & MIGCTL_FLAG_PRE_COPY))
		return note_failure(x, MIGCTL_FAIL_CHECK, -EOPNOTSUPP);
	res->failed_state = x->opts->then;
	if (!migctl_state_supported(*mig_flags, x->opts->then))
		return note_failure(x, MIGCTL_FAIL_CHECK, -EOPNOTSUPP);
	if (migctl_state_is_data(x->opts->then))
		return note_failure(x, MIGCTL_FAIL_CHECK, -EINVAL);
	res->failed_state = MIGCTL_NR_STATES;

	x->buf_size = x->opts->buffer_size ? x->opts->buffer_size : MIGCTL_DEFAULT_BUFFER;
	if (x->buf_size > MIGCTL_MAX_BUFFER)
		return note_failure(x, MIGCTL_FAIL_CHECK, -EINVAL);
	x->buf = malloc(x->buf_size);
	if (!x->buf)
		return note_failure(x, MIGCTL_FAIL_CHECK, -ENOMEM);

	/* Everything checked: end the session left open, and start from there */
	if (migctl_state_is_data(state)) {
		x->touched = true;
		r = migctl_leave_data_state(x->dev, &state);
		if (r) {
			res->failed_state = state;
			return note_failure(x, MIGCTL_FAIL_TRANSITION, r);
		}
		res->ended_session = res->initial_state;
		res->initial_state = state;
	}
	return 0;
}

static int finish(struct xfer *x, int r, bool resuming)
{
	close_data_fd(x);
	if (r && x->touched)
		recover_device(x->dev, x->opts->on_error, resuming, x->res);
	else if (!r && migctl_get_state(x->dev, &x->res->final_state))
		x->res->final_state = MIGCTL_NR_STATES;
	free(x->buf);
	x->res->seconds = monotonic_seconds() - x->started;
	return r;
}

static void xfer_init(struct xfer *x, struct migctl_dev *dev,
		      const struct migctl_xfer_opts *opts,
		      struct migctl_xfer_result *res)
{
	*x = (struct xfer){ .dev = dev, .opts = opts, .res = res, .data_fd = -1 };
	*res = (struct migctl_xfer_result){
		.final_state = MIGCTL_NR_STATES,
		.failed_state = MIGCTL_NR_STATES,
		.ended_session = MIGCTL_NR_STATES,
	};
	x->started = monotonic_seconds();
}

/* ---- save */

/*
 * PRE_COPY without waking the device (QEMU's rule): from RUNNING, PRE_COPY;
 * from RUNNING_P2P, PRE_COPY_P2P, which keeps it quiesced; from STOP
 * nothing runs, so there is nothing to pre-copy (and the kernel would reach
 * PRE_COPY only through RUNNING_P2P and RUNNING).
 */
static enum migctl_state precopy_state(enum migctl_state from)
{
	switch (from) {
	case MIGCTL_STATE_RUNNING:
		return MIGCTL_STATE_PRE_COPY;
	case MIGCTL_STATE_RUNNING_P2P:
		return MIGCTL_STATE_PRE_COPY_P2P;
	default:
		return MIGCTL_NR_STATES;
	}
}

/*
 * Drain the data_fd into @sink.  In PRE_COPY stop once the initial bytes
 * are out (dirty data would never end while the device runs); "nothing
 * pending" is ENOMSG by the uAPI, a 0 read on some drivers (mtty).
 */
static int drain(struct xfer *x, const struct migctl_sink *sink,
		 enum migctl_phase phase)
{
	uint64_t initial, dirty;
	ssize_t n;
	int r;

	for (;;) {
		if (cancelled(x))
			return note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR);
		if (phase == MIGCTL_PHASE_PRE_COPY) {
			r = migctl_precopy_info(x->data_fd, &initial, &dirty);
			if (r)
				return note_failure(x, MIGCTL_FAIL_DEVICE_IO, r);
			if (initial == 0)
				return 0;
		}
		n = read(x->data_fd, x->buf, x->buf_size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOMSG && phase == MIGCTL_PHASE_PRE_COPY)
			return 0;
		if (n < 0)
			return note_failure(x, MIGCTL_FAIL_DEVICE_IO, -errno);
		if (n == 0)
			return 0;
		r = sink->write(sink->ctx, phase, x->buf, (size_t)n);
		if (r)
			return note_failure(x, MIGCTL_FAIL_SINK, r);
		x->res->bytes += (uint64_t)n;
		if (phase == MIGCTL_PHASE_PRE_COPY)
			x->res->precopy_bytes += (uint64_t)n;
		report_progress(x, phase);
	}
}

int migctl_save(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		const struct migctl_sink *sink, struct migctl_xfer_result *res)
{
	struct xfer x;
	uint64_t flags;
	double stopped;
	int r;

	xfer_init(&x, dev, opts, res);
	r = preflight(&x, &flags, true);
	if (r)
		return finish(&x, r, false);
	if (migctl_data_size(dev, &res->estimate))
		res->estimate = 0;
	x.progress.estimate = res->estimate;
	if (sink->begin && (r = sink->begin(sink->ctx, flags, res->estimate)))
		return finish(&x, note_failure(&x, MIGCTL_FAIL_SINK, r), false);

	if (opts->precopy && precopy_state(res->initial_state) == MIGCTL_NR_STATES)
		res->precopy_skipped = true;
	if (opts->precopy && !res->precopy_skipped) {
		r = enter_session(&x, precopy_state(res->initial_state));
		if (!r)
			r = drain(&x, sink, MIGCTL_PHASE_PRE_COPY);
		if (r)
			return finish(&x, r, false);
		x.progress.estimate += res->precopy_bytes;
	}

	stopped = monotonic_seconds();
	/* From PRE_COPY the session carries on: the old data_fd stays */
	r = enter_session(&x, MIGCTL_STATE_STOP_COPY);
	if (!r)
		r = drain(&x, sink, MIGCTL_PHASE_STOP_COPY);
	if (!r && sink->finish && (r = sink->finish(sink->ctx)))
		note_failure(&x, MIGCTL_FAIL_SINK, r);
	if (r)
		return finish(&x, r, false);
	res->stopped_seconds = monotonic_seconds() - stopped;

	close_data_fd(&x);
	r = enter(&x, opts->then, MIGCTL_FAIL_TRANSITION);
	return finish(&x, r, false);
}

/* ---- resume */

static int next_chunk(struct xfer *x, const struct migctl_source *source, size_t *got)
{
	int r;

	if (cancelled(x))
		return note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR);
	r = source->read(source->ctx, x->buf, x->buf_size, got);
	return r ? note_failure(x, MIGCTL_FAIL_SOURCE, r) : 0;
}

int migctl_resume(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		  const struct migctl_source *source,
		  struct migctl_xfer_result *res)
{
	struct xfer x;
	uint64_t flags;
	size_t got;
	int r;

	xfer_init(&x, dev, opts, res);
	r = preflight(&x, &flags, false);
	if (r)
		return finish(&x, r, true);

	/*
	 * The first chunk before RESUMING: an empty or unreadable stream
	 * must not cost the device its state.
	 */
	r = next_chunk(&x, source, &got);
	if (!r && got == 0)
		r = note_failure(&x, MIGCTL_FAIL_SOURCE, -ENODATA);
	if (r)
		return finish(&x, r, true);

	r = enter_session(&x, MIGCTL_STATE_RESUMING);
	while (!r && got) {
		/* Any write error is fatal: a driver may still accept STOP after it */
		r = write_all(x.data_fd, x.buf, got, opts->cancel);
		if (r) {
			note_failure(&x, MIGCTL_FAIL_DEVICE_IO, r);
			break;
		}
		res->bytes += got;
		report_progress(&x, MIGCTL_PHASE_RESUMING);
		r = next_chunk(&x, source, &got);
	}
	if (r)
		return finish(&x, r, true);

	close_data_fd(&x);
	r = enter(&x, MIGCTL_STATE_STOP, MIGCTL_FAIL_LOAD);
	/* From here the device holds the new state: a failure keeps it */
	res->loaded = r == 0;
	if (!r && opts->then != MIGCTL_STATE_STOP)
		r = enter(&x, opts->then, MIGCTL_FAIL_TRANSITION);
	return finish(&x, r, true);
}
