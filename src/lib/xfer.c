// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Save and resume: the data sessions of the migration uAPI, and the
 * failure policy that leaves the device in a known state whatever happens.
 *
 * Three stages run at once, handing a few buffers round a ring (ring.c):
 * the device's I/O on a thread of its own, the checksums of the framed
 * format on the caller's thread, and the stream's I/O on a third, so that
 * the device never waits for the hash and the hash never waits for the
 * pipe.  Memory stays at a few buffers whatever the size of the state.
 * The data_fd is read and written with plain read()/write() (some
 * drivers' fds are streams: no pread).
 *
 * Device state changes happen on one thread at a time: the caller's
 * before and after the data moves, the device thread's in between (save's
 * PRE_COPY -> STOP_COPY).  Every stage stops at the first error anywhere;
 * the caller's thread then recovers the device, as before threads.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "ring.h"

struct xfer {
	struct migctl_dev *dev;
	const struct migctl_xfer_opts *opts;
	struct migctl_xfer_result *res;
	struct ring ring;
	size_t chunk_size;
	int data_fd;
	bool touched; /* a state change was asked for: recovery is owed */
	double started, stopped_at;
	bool stopped;		   /* save: STOP_COPY was entered at stopped_at */
	enum migctl_state precopy; /* save: the PRE_COPY state to enter, or NR */
	struct migctl_progress progress;
	const struct migctl_sink *sink;
	const struct migctl_source *source;
	/* the two I/O threads */
	pthread_t device_thread, stream_thread;
	bool device_started, stream_started;
	/* resume: a chunk with nothing for the device, before its thread runs */
	bool consumed_here;
};

static bool cancelled(const struct xfer *x)
{
	return x->opts->cancel && *x->opts->cancel;
}

/*
 * Record where it failed (the first failure wins, from any thread) and stop
 * every stage; returns @err so callers can `return note_failure(...)`.
 */
static int note_failure(struct xfer *x, enum migctl_fail_at at, int err)
{
	struct migctl_xfer_result *res = x->res;

	pthread_mutex_lock(&x->ring.lock);
	if (res->fail_at == MIGCTL_FAIL_NONE) {
		/* A signal interrupting a blocked read or write is the cancel */
		res->fail_at = (err == -EINTR && cancelled(x)) ? MIGCTL_FAIL_CANCEL : at;
		x->ring.err = err;
	}
	pthread_mutex_unlock(&x->ring.lock);
	ring_stop(&x->ring);
	return err;
}

/*
 * Every stage asks before each chunk and around each blocking step, so a
 * signal is acted on within a chunk whichever stage is busy: the first to
 * see the flag records the cancel and stops the ring for all.  True once
 * the ring has stopped, for whatever reason (the failure is recorded).
 */
static bool stopping(struct xfer *x)
{
	if (cancelled(x) && !ring_stopped(&x->ring))
		note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR);
	return ring_stopped(&x->ring);
}

/* The caller's thread, between steps: -EINTR (recorded) if a signal came */
static int cancel_point(struct xfer *x)
{
	return cancelled(x) ? note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR) : 0;
}

/* ring_take(), unless the transfer is stopping: -ECANCELED */
static int take(struct xfer *x, enum ring_stage stage, int timeout_ms, struct migctl_chunk **c)
{
	if (stopping(x))
		return -ECANCELED;
	return ring_take(&x->ring, stage, timeout_ms, c);
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

/* The caller's thread: progress, with the bytes the device thread counted */
static void report_progress(struct xfer *x, enum migctl_phase phase)
{
	if (!x->opts->progress)
		return;
	pthread_mutex_lock(&x->ring.lock);
	x->progress.phase = phase;
	x->progress.bytes = x->res->bytes;
	/* PRE_COPY data comes on top of the STOP_COPY estimate */
	x->progress.estimate = x->res->estimate ? x->res->estimate + x->res->precopy_bytes : 0;
	pthread_mutex_unlock(&x->ring.lock);
	x->opts->progress(x->opts->progress_arg, &x->progress);
}

/* Check the device can do what is asked before anything is changed */
static int preflight(struct xfer *x, uint64_t *mig_flags, bool saving)
{
	struct migctl_xfer_result *res = x->res;
	enum migctl_state state;
	size_t size;
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

	size = x->opts->buffer_size ? x->opts->buffer_size : MIGCTL_DEFAULT_BUFFER;
	if (size > MIGCTL_MAX_BUFFER)
		return note_failure(x, MIGCTL_FAIL_CHECK, -EINVAL);
	/* A chunk is one record of the framed format at most */
	if (x->sink && x->sink->max_chunk && size > x->sink->max_chunk)
		size = x->sink->max_chunk;
	x->chunk_size = size;
	/* A source's fetch() may grow a chunk to hold a whole unit */
	r = ring_alloc(&x->ring, size, !saving && x->source->fetch);
	if (r)
		return note_failure(x, MIGCTL_FAIL_CHECK, r);

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

static int start(struct xfer *x, pthread_t *thread, bool *started, void *(*fn)(void *))
{
	int r = pthread_create(thread, NULL, fn, x);

	if (r)
		return note_failure(x, MIGCTL_FAIL_CHECK, -r);
	*started = true;
	return 0;
}

/*
 * Wait for the I/O threads.  Once the ring has stopped, a thread blocked
 * in a read or write (a pipe nobody drains) is interrupted with
 * opts->wake_signal until it has seen the stop.
 */
static void join(struct xfer *x)
{
	pthread_t *threads[] = { &x->device_thread, &x->stream_thread };
	bool *started[] = { &x->device_started, &x->stream_started };

	for (size_t i = 0; i < ARRAY_SIZE(threads); i++) {
		if (!*started[i])
			continue;
		while (ring_wait_exit(&x->ring, i, 50) == -ETIMEDOUT) {
			if (x->opts->wake_signal && ring_stopped(&x->ring))
				pthread_kill(*threads[i], x->opts->wake_signal);
			if (cancelled(x))
				note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR);
		}
		pthread_join(*threads[i], NULL);
		*started[i] = false;
	}
}

static int finish(struct xfer *x, int r, bool resuming)
{
	join(x);
	if (!r)
		r = x->ring.err;
	/* Save's device thread produces the chunks, resume's consumes them */
	x->res->device_waited_seconds = x->ring.waited[resuming ? RING_CONSUME : RING_PRODUCE];
	x->res->stream_waited_seconds = x->ring.waited[resuming ? RING_PRODUCE : RING_CONSUME];
	close_data_fd(x);
	if (r && x->touched)
		recover_device(x->dev, x->opts->on_error, resuming, x->res);
	else if (!r)
		x->res->final_state = migctl_read_state(x->dev);
	/* A save that failed before opts->then: stopped until put back */
	if (r && x->stopped && !x->res->stopped_seconds)
		x->res->stopped_seconds = monotonic_seconds() - x->stopped_at;
	ring_free(&x->ring);
	x->res->seconds = monotonic_seconds() - x->started;
	return r;
}

static void xfer_init(struct xfer *x, struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		      struct migctl_xfer_result *res)
{
	*x = (struct xfer){
		.dev = dev, .opts = opts, .res = res, .data_fd = -1, .precopy = MIGCTL_NR_STATES
	};
	*res = (struct migctl_xfer_result){
		.final_state = MIGCTL_NR_STATES,
		.failed_state = MIGCTL_NR_STATES,
		.ended_session = MIGCTL_NR_STATES,
	};
	ring_init(&x->ring);
	x->started = monotonic_seconds();
}

/*
 * The caller's thread: the middle stage, in order, until the last chunk.
 * It watches the cancel flag, after each chunk and every 100 ms it waits
 * (the I/O threads may be blocked where only a stop wakes them), and
 * draws the progress.
 */
static int middle_stage(struct xfer *x, enum migctl_phase progress_phase,
			int (*work)(struct xfer *x, struct migctl_chunk *c))
{
	enum migctl_phase phase;
	struct migctl_chunk *c;
	bool last;
	int r;

	for (;;) {
		/* Looked at after every chunk too: they may never stop coming */
		r = take(x, RING_VERIFY, 100, &c);
		if (r == -ETIMEDOUT)
			continue;
		if (r)
			return 0; /* stopped: the failure is recorded */
		r = work(x, c);
		if (r)
			return r;
		/* Read before it is passed on: the chunk is another stage's then */
		last = c->last;
		phase = last ? progress_phase : c->phase;
		ring_give(&x->ring, RING_VERIFY);
		if (x->consumed_here) {
			ring_give(&x->ring, RING_CONSUME);
			x->consumed_here = false;
		}
		report_progress(x, phase);
		if (last)
			return 0;
	}
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
 * The device thread: read the data_fd into the ring.  In PRE_COPY stop
 * once the initial bytes are out (dirty data would never end while the
 * device runs); "nothing pending" is ENOMSG by the uAPI, a 0 read on some
 * drivers (mtty).
 */
static int produce(struct xfer *x, enum migctl_phase phase)
{
	struct migctl_chunk *c;
	uint64_t initial, dirty;
	ssize_t n;
	int r;

	for (;;) {
		if (phase == MIGCTL_PHASE_PRE_COPY) {
			r = migctl_precopy_info(x->data_fd, &initial, &dirty);
			if (r)
				return note_failure(x, MIGCTL_FAIL_DEVICE_IO, r);
			if (initial == 0)
				return 0;
		}
		if (take(x, RING_PRODUCE, -1, &c))
			return -EINTR;
		n = read(x->data_fd, c->buf, x->chunk_size);
		if (n < 0 && errno == EINTR && !cancelled(x) && !ring_stopped(&x->ring))
			continue;
		if (n < 0 && errno == ENOMSG && phase == MIGCTL_PHASE_PRE_COPY)
			return 0;
		if (n < 0)
			return note_failure(x, MIGCTL_FAIL_DEVICE_IO, -errno);
		if (n == 0)
			return 0;
		*c = (struct migctl_chunk){
			.buf = c->buf, .cap = c->cap, .len = (size_t)n, .phase = phase
		};
		pthread_mutex_lock(&x->ring.lock);
		x->res->bytes += (uint64_t)n;
		if (phase == MIGCTL_PHASE_PRE_COPY)
			x->res->precopy_bytes += (uint64_t)n;
		pthread_mutex_unlock(&x->ring.lock);
		ring_give(&x->ring, RING_PRODUCE);
	}
}

static void *save_device_thread(void *arg)
{
	struct xfer *x = arg;
	struct migctl_chunk *c;
	int r = stopping(x) ? -ECANCELED : 0;

	if (!r && x->precopy != MIGCTL_NR_STATES) {
		r = enter_session(x, x->precopy);
		if (!r)
			r = produce(x, MIGCTL_PHASE_PRE_COPY);
	}
	/*
	 * PRE_COPY ends without an error however the other stages fared (no
	 * initial bytes left, ENOMSG): a running device is not stopped for a
	 * transfer that has already failed or been cancelled.
	 */
	if (!r && stopping(x))
		r = -ECANCELED;
	if (!r) {
		x->stopped_at = monotonic_seconds();
		/* From PRE_COPY the session carries on: the old data_fd stays */
		r = enter_session(x, MIGCTL_STATE_STOP_COPY);
		x->stopped = !r;
	}
	if (!r)
		r = produce(x, MIGCTL_PHASE_STOP_COPY);
	/* The end of the stream travels the ring like the data */
	if (!r && !take(x, RING_PRODUCE, -1, &c)) {
		*c = (struct migctl_chunk){
			.buf = c->buf, .cap = c->cap, .last = true, .phase = MIGCTL_PHASE_STOP_COPY
		};
		ring_give(&x->ring, RING_PRODUCE);
	}
	ring_exit(&x->ring, 0);
	return NULL;
}

static int frame(struct xfer *x, struct migctl_chunk *c)
{
	int r;

	if (c->last || !x->sink->frame)
		return 0;
	r = x->sink->frame(x->sink->ctx, c);
	return r ? note_failure(x, MIGCTL_FAIL_SINK, r) : 0;
}

/* The stream thread: write each framed chunk out */
static void *save_stream_thread(void *arg)
{
	struct xfer *x = arg;
	const struct migctl_sink *sink = x->sink;
	struct migctl_chunk *c;
	int r;

	while (!take(x, RING_CONSUME, -1, &c) && !c->last) {
		if (sink->emit)
			r = sink->emit(sink->ctx, c, &x->ring.stop);
		else
			r = sink->write(sink->ctx, c->phase, c->buf, c->len);
		if (r) {
			note_failure(x, MIGCTL_FAIL_SINK, r);
			break;
		}
		ring_give(&x->ring, RING_CONSUME);
	}
	ring_exit(&x->ring, 1);
	return NULL;
}

int migctl_save(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		const struct migctl_sink *sink, struct migctl_xfer_result *res)
{
	struct xfer x;
	uint64_t flags;
	int r;

	xfer_init(&x, dev, opts, res);
	x.sink = sink;
	r = preflight(&x, &flags, true);
	if (r)
		return finish(&x, r, false);
	if (migctl_data_size(dev, &res->estimate))
		res->estimate = 0;
	if (sink->begin && (r = sink->begin(sink->ctx, flags, res->estimate)))
		return finish(&x, note_failure(&x, MIGCTL_FAIL_SINK, r), false);
	if (opts->precopy) {
		x.precopy = precopy_state(res->initial_state);
		res->precopy_skipped = x.precopy == MIGCTL_NR_STATES;
	}

	r = start(&x, &x.stream_thread, &x.stream_started, save_stream_thread);
	if (!r)
		r = start(&x, &x.device_thread, &x.device_started, save_device_thread);
	/*
	 * The ring's fresh pages, faulted in while the device thread moves
	 * the device and this stage has nothing to verify yet: zeroing them
	 * is off the device's time (under an emulator it costs half as much
	 * as the device's copy into them).  No more than the state will fill.
	 */
	if (!r)
		ring_prefault(&x.ring, opts->precopy ? 0 : res->estimate);
	if (!r)
		r = middle_stage(&x, MIGCTL_PHASE_STOP_COPY, frame);
	join(&x);
	r = r ? r : x.ring.err;
	if (!r)
		r = cancel_point(&x);
	if (r)
		return finish(&x, r, false);

	/*
	 * The commit point is the source's final state: END, and the file's
	 * link, only once the device is in opts->then.  A failure before them
	 * (the transition, a signal) leaves no stream a destination would
	 * take; a failure of either puts the device back all the same.
	 */
	close_data_fd(&x);
	r = enter(&x, opts->then, MIGCTL_FAIL_TRANSITION);
	if (!r)
		res->stopped_seconds = monotonic_seconds() - x.stopped_at;
	if (!r)
		r = cancel_point(&x);
	if (!r && sink->finish && (r = sink->finish(sink->ctx)))
		note_failure(&x, MIGCTL_FAIL_SINK, r);
	if (!r && opts->commit)
		r = cancel_point(&x);
	if (!r && opts->commit && (r = opts->commit(opts->commit_arg)))
		note_failure(&x, MIGCTL_FAIL_SINK, r);
	return finish(&x, r, false);
}

/* ---- resume */

/* The stream thread: fetch units of the stream into the ring */
static void *resume_stream_thread(void *arg)
{
	struct xfer *x = arg;
	const struct migctl_source *source = x->source;
	struct migctl_chunk *c;
	size_t got;
	bool last = false;

	while (!last && !take(x, RING_PRODUCE, -1, &c)) {
		*c = (struct migctl_chunk){ .buf = c->buf,
					    .cap = c->cap,
					    .phase = MIGCTL_PHASE_RESUMING };
		if (source->fetch) {
			c->err = source->fetch(source->ctx, c, &x->ring.stop);
		} else {
			c->err = source->read(source->ctx, c->buf, c->cap, &got);
			c->len = got;
		}
		/* A plain stream ends at its end of file; a framed one at END */
		if (!source->verify && !c->err && c->len == 0)
			c->last = true;
		/* An error is met in order, by the verify stage */
		last = c->last || c->err;
		ring_give(&x->ring, RING_PRODUCE);
	}
	ring_exit(&x->ring, 1);
	return NULL;
}

/* The device thread: write the verified part of each chunk into the device */
static void *resume_device_thread(void *arg)
{
	struct xfer *x = arg;
	struct migctl_chunk *c;
	int r;

	while (!take(x, RING_CONSUME, -1, &c) && !c->last) {
		/* Any write error is fatal: a driver may still accept STOP after it */
		r = write_all(x->data_fd, c->buf, c->data_len, &x->ring.stop);
		if (r) {
			note_failure(x, MIGCTL_FAIL_DEVICE_IO, r);
			break;
		}
		pthread_mutex_lock(&x->ring.lock);
		x->res->bytes += c->data_len;
		pthread_mutex_unlock(&x->ring.lock);
		ring_give(&x->ring, RING_CONSUME);
	}
	ring_exit(&x->ring, 0);
	return NULL;
}

/*
 * The verify stage of resume.  The device enters RESUMING only with the
 * first verified data in hand: an empty or unreadable stream must not cost
 * it its state.
 */
static int verify(struct xfer *x, struct migctl_chunk *c)
{
	const struct migctl_source *source = x->source;
	int r;

	/* A source that verifies meets fetch()'s errors in their place, too */
	if (source->verify) {
		r = source->verify(source->ctx, c);
	} else {
		r = c->err;
		c->data_len = c->len;
	}
	if (r)
		return note_failure(x, MIGCTL_FAIL_SOURCE, r);
	if (x->device_started)
		return 0;
	/* Nothing for the device yet (optional records): passed on from here */
	if (c->data_len == 0 && !c->last) {
		x->consumed_here = true;
		return 0;
	}
	if (c->data_len == 0)
		return note_failure(x, MIGCTL_FAIL_SOURCE, -ENODATA);
	r = enter_session(x, MIGCTL_STATE_RESUMING);
	if (!r)
		r = start(x, &x->device_thread, &x->device_started, resume_device_thread);
	return r;
}

int migctl_resume(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		  const struct migctl_source *source, struct migctl_xfer_result *res)
{
	struct xfer x;
	uint64_t flags;
	int r;

	xfer_init(&x, dev, opts, res);
	x.source = source;
	r = preflight(&x, &flags, false);
	if (r)
		return finish(&x, r, true);

	r = start(&x, &x.stream_thread, &x.stream_started, resume_stream_thread);
	if (!r)
		r = middle_stage(&x, MIGCTL_PHASE_RESUMING, verify);
	join(&x);
	r = r ? r : x.ring.err;
	/* The last moment a signal can still abort: STOP loads the stream */
	if (!r)
		r = cancel_point(&x);
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
