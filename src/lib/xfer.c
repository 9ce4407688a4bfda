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
 * PRE_COPY -> STOP_COPY, through the switchover hook).  Every stage stops
 * at the first error anywhere; the caller's thread then recovers the
 * device, as before threads.
 *
 * The steps (engine.h) are what migctl_save() and migctl_resume() run in
 * order, and what a coordinator of several devices runs across them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "internal.h"
#include "precopy-policy.h"
#include "ring.h"

/* The I/O threads; the checksum stage is the caller's */
enum io_thread { IO_DEVICE, IO_STREAM, IO_THREADS };

struct io_state {
	pthread_t id;
	bool started, exited;
};

struct xfer {
	struct migctl_dev *dev; /* NULL: a bare data_fd, no state to change */
	const struct migctl_xfer_opts *opts;
	struct migctl_xfer_result *res;
	struct xfer_hooks hooks;
	struct ring ring;
	/* res->fail_at, res->bytes and the threads' exits, shared by the stages */
	pthread_mutex_t lock;
	pthread_cond_t exit;
	int err; /* the first failure */
	struct io_state io[IO_THREADS];
	size_t chunk_size;
	int data_fd;
	bool resuming;
	bool touched;		 /* a state change was asked for: recovery is owed */
	enum migctl_state state; /* where the engine put the device (or found it) */
	uint64_t mig_flags;
	double started, stopped_at;
	bool stopped;		   /* save: STOP_COPY was entered at stopped_at */
	enum migctl_state precopy; /* save: the PRE_COPY state to enter, or NR */
	struct migctl_progress progress;
	const struct migctl_sink *sink;
	const struct migctl_source *source;
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

	pthread_mutex_lock(&x->lock);
	if (res->fail_at == MIGCTL_FAIL_NONE) {
		/* A signal interrupting a blocked read or write is the cancel */
		res->fail_at = (err == -EINTR && cancelled(x)) ? MIGCTL_FAIL_CANCEL : at;
		x->err = err;
	}
	pthread_mutex_unlock(&x->lock);
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

	if (!x->dev)
		return 0;
	x->touched = true;
	r = migctl_set_state(x->dev, state, &fd);
	if (r) {
		x->res->failed_state = state;
		return note_failure(x, at, r);
	}
	x->state = state;
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
	pthread_mutex_lock(&x->lock);
	x->progress.phase = phase;
	x->progress.bytes = x->res->bytes;
	/* PRE_COPY data comes on top of the STOP_COPY estimate */
	x->progress.estimate = x->res->estimate ? x->res->estimate + x->res->precopy_bytes : 0;
	x->progress.precopy_rounds = x->res->precopy_rounds;
	x->progress.precopy_left = x->res->precopy_left;
	x->progress.downtime_estimate = x->res->downtime_estimate;
	x->progress.downtime_target = x->res->downtime_target;
	pthread_mutex_unlock(&x->lock);
	x->opts->progress(x->opts->progress_arg, &x->progress);
}

/* The ring, with chunks as big as the options and the sink allow */
static int setup_ring(struct xfer *x)
{
	size_t size = x->opts->buffer_size ? x->opts->buffer_size : MIGCTL_DEFAULT_BUFFER;
	int r;

	if (size > MIGCTL_MAX_BUFFER)
		return note_failure(x, MIGCTL_FAIL_CHECK, -EINVAL);
	/* A chunk is one record of the framed format at most */
	if (x->sink && x->sink->max_chunk && size > x->sink->max_chunk)
		size = x->sink->max_chunk;
	x->chunk_size = size;
	/* A source's fetch() may grow a chunk to hold a whole unit */
	r = ring_alloc(&x->ring, size, x->resuming && x->source->fetch);
	return r ? note_failure(x, MIGCTL_FAIL_CHECK, r) : 0;
}

/* Check the device can do what is asked before anything is changed */
static int preflight(struct xfer *x)
{
	struct migctl_xfer_result *res = x->res;
	uint64_t *mig_flags = &x->mig_flags;
	bool saving = !x->resuming;
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
	x->state = state;

	r = setup_ring(x);
	if (r)
		return r;

	/* Everything checked: end the session left open, and start from there */
	if (migctl_state_is_data(state)) {
		x->touched = true;
		r = migctl_leave_data_state(x->dev, &state);
		if (r) {
			res->failed_state = state;
			return note_failure(x, MIGCTL_FAIL_TRANSITION, r);
		}
		res->ended_session = res->initial_state;
		res->initial_state = x->state = state;
	}
	return 0;
}

static int start(struct xfer *x, enum io_thread which, void *(*fn)(void *))
{
	int r = pthread_create(&x->io[which].id, NULL, fn, x);

	if (r)
		return note_failure(x, MIGCTL_FAIL_CHECK, -r);
	x->io[which].started = true;
	return 0;
}

/* The last thing an I/O thread does: it touches nothing of @x after */
static void *io_exit(struct xfer *x, enum io_thread which)
{
	pthread_mutex_lock(&x->lock);
	x->io[which].exited = true;
	pthread_cond_broadcast(&x->exit);
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* Wait up to @timeout_ms for io_exit(@which): 0 or -ETIMEDOUT */
static int io_wait_exit(struct xfer *x, enum io_thread which, int timeout_ms)
{
	struct timespec until;
	int r = 0;

	monotonic_deadline(&until, timeout_ms);
	pthread_mutex_lock(&x->lock);
	while (!x->io[which].exited && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&x->exit, &x->lock, &until);
	r = x->io[which].exited ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&x->lock);
	return r;
}

/*
 * Wait for the I/O threads.  Once the ring has stopped, a thread blocked
 * in a read or write (a pipe nobody drains) is interrupted with
 * opts->wake_signal until it has seen the stop.
 */
static void join(struct xfer *x)
{
	for (enum io_thread i = 0; i < IO_THREADS; i++) {
		if (!x->io[i].started)
			continue;
		while (io_wait_exit(x, i, 50) == -ETIMEDOUT) {
			if (x->opts->wake_signal && ring_stopped(&x->ring))
				pthread_kill(x->io[i].id, x->opts->wake_signal);
			if (cancelled(x))
				note_failure(x, MIGCTL_FAIL_CANCEL, -EINTR);
		}
		pthread_join(x->io[i].id, NULL);
		x->io[i] = (struct io_state){ 0 };
	}
}

/* Wait for the I/O threads; the first failure of any stage, or a signal */
static int join_stages(struct xfer *x, int r)
{
	join(x);
	if (!r)
		r = x->err;
	return r ? r : cancel_point(x);
}

int xfer_done(struct xfer *x, int r)
{
	struct migctl_xfer_result *res = x->res;

	join(x);
	if (!r)
		r = x->err;
	/* Save's device thread produces the chunks, resume's consumes them */
	res->device_waited_seconds = x->ring.waited[x->resuming ? RING_CONSUME : RING_PRODUCE];
	res->stream_waited_seconds = x->ring.waited[x->resuming ? RING_PRODUCE : RING_CONSUME];
	close_data_fd(x);
	if (r && x->touched)
		recover_device(x->dev, x->opts->on_error, x->resuming, res);
	else if (x->dev)
		res->final_state = migctl_read_state(x->dev);
	/* A save that failed before its final state: stopped until put back */
	if (r && x->stopped && !res->stopped_seconds)
		res->stopped_seconds = monotonic_seconds() - x->stopped_at;
	ring_free(&x->ring);
	res->seconds = monotonic_seconds() - x->started;
	pthread_cond_destroy(&x->exit);
	pthread_mutex_destroy(&x->lock);
	free(x);
	return r;
}

int xfer_new(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
	     struct migctl_xfer_result *res, struct xfer **xp)
{
	struct xfer *x = calloc(1, sizeof(*x));

	*res = (struct migctl_xfer_result){
		.initial_state = MIGCTL_NR_STATES,
		.final_state = MIGCTL_NR_STATES,
		.failed_state = MIGCTL_NR_STATES,
		.ended_session = MIGCTL_NR_STATES,
	};
	if (!x)
		return -ENOMEM;
	*x = (struct xfer){ .dev = dev,
			    .opts = opts,
			    .res = res,
			    .data_fd = -1,
			    .state = MIGCTL_NR_STATES,
			    .precopy = MIGCTL_NR_STATES };
	pthread_mutex_init(&x->lock, NULL);
	monotonic_cond_init(&x->exit);
	ring_init(&x->ring);
	x->started = monotonic_seconds();
	*xp = x;
	return 0;
}

void xfer_set_hooks(struct xfer *x, const struct xfer_hooks *hooks)
{
	x->hooks = *hooks;
}

void xfer_recover_quiesced(struct xfer *x)
{
	join(x);
	close_data_fd(x);
	if (x->touched)
		recover_quiesced(x->dev, x->opts->on_error, x->resuming, x->res);
}

void xfer_abort(struct xfer *x)
{
	note_failure(x, MIGCTL_FAIL_PEER, -ECANCELED);
}

int xfer_enter(struct xfer *x, enum migctl_state state)
{
	bool session_over = !migctl_state_is_data(state);
	int r;

	/* Out of a data state the session has ended: its fd goes first */
	if (session_over)
		close_data_fd(x);
	r = enter(x, state, MIGCTL_FAIL_TRANSITION);
	/* A saved device is stopped until it reaches its final state (the last entered) */
	if (!r && session_over && x->stopped)
		x->res->stopped_seconds = monotonic_seconds() - x->stopped_at;
	return r;
}

int xfer_quiesce(struct xfer *x)
{
	switch (x->state) {
	case MIGCTL_STATE_RUNNING:
		return xfer_enter(x, MIGCTL_STATE_RUNNING_P2P);
	case MIGCTL_STATE_PRE_COPY:
		return xfer_enter(x, MIGCTL_STATE_PRE_COPY_P2P);
	default:
		return 0;
	}
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

/* The device thread: one chunk of @n bytes read in @phase, counted and passed on */
static void produced(struct xfer *x, struct migctl_chunk *c, ssize_t n, enum migctl_phase phase)
{
	*c = (struct migctl_chunk){
		.buf = c->buf, .cap = c->cap, .len = (size_t)n, .phase = phase
	};
	pthread_mutex_lock(&x->lock);
	x->res->bytes += (uint64_t)n;
	if (phase == MIGCTL_PHASE_PRE_COPY)
		x->res->precopy_bytes += (uint64_t)n;
	pthread_mutex_unlock(&x->lock);
	ring_give(&x->ring, RING_PRODUCE);
}

/*
 * The device thread: read the data_fd into the ring to its end.  -EINTR
 * once the transfer stops (the failure is recorded); "nothing pending" in
 * PRE_COPY is ENOMSG by the uAPI, a 0 read on some drivers (mtty): 0.
 */
static int produce(struct xfer *x, enum migctl_phase phase)
{
	struct migctl_chunk *c;
	ssize_t n;

	for (;;) {
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
		produced(x, c, n, phase);
	}
}

/* How long precopy() waits for the device to dirty something: well within a cancel's 100 ms */
#define PRECOPY_IDLE_NS (20 * 1000 * 1000)

/* One round's start: what the device reported when it began */
static void precopy_round(struct xfer *x, const struct migctl_precopy_info *info)
{
	struct migctl_xfer_result *res = x->res;

	pthread_mutex_lock(&x->lock);
	if (res->precopy_rounds < MIGCTL_PRECOPY_ROUNDS_MAX)
		res->round[res->precopy_rounds] = (struct migctl_precopy_round){
			.initial_bytes = info->initial_bytes,
			.dirty_bytes = info->dirty_bytes,
		};
	res->precopy_rounds++;
	pthread_mutex_unlock(&x->lock);
}

/* The last look's outcome, for the progress bar, and at the end for the report */
static void precopy_note(struct xfer *x, const struct precopy_outcome *out)
{
	struct migctl_xfer_result *res = x->res;

	pthread_mutex_lock(&x->lock);
	res->precopy_reinits = out->track.reinits;
	res->precopy_left = out->left;
	res->downtime_estimate = out->estimate;
	if (out->decision == PRECOPY_SWITCH_CONVERGED)
		res->precopy_end = MIGCTL_PRECOPY_CONVERGED;
	else if (out->decision == PRECOPY_SWITCH_TIMEOUT)
		res->precopy_end = MIGCTL_PRECOPY_TIMEOUT;
	pthread_mutex_unlock(&x->lock);
}

/*
 * The device thread, while the device runs: PRE_COPY, and its data in
 * rounds (the initial bytes, then what the device dirtied meanwhile) until
 * precopy_decide() says switch: after every read it looks again
 * (PRECOPY_INFO, MIG_DATA_SIZE) and asks.  The rate it gives the policy is
 * the PRE_COPY bytes over the time spent moving them (reads, and waits for
 * the stream's side to take them), not the time the device had nothing.
 * "Nothing pending" is ENOMSG by the uAPI, a 0 read on some drivers (mtty):
 * it waits PRECOPY_IDLE_NS and looks again.  -EINTR once the transfer
 * stops (the failure is recorded): a running device is never stopped for
 * a transfer that failed.
 */
static int precopy(struct xfer *x)
{
	const struct migctl_xfer_opts *opts = x->opts;
	struct migctl_xfer_result *res = x->res;
	struct precopy_policy policy = {
		.downtime = opts->downtime > 0 ? opts->downtime : MIGCTL_DEFAULT_DOWNTIME,
		.timeout = opts->precopy_timeout > 0 ? opts->precopy_timeout :
						       MIGCTL_DEFAULT_PRECOPY_TIMEOUT,
	};
	const struct timespec idle = { .tv_nsec = PRECOPY_IDLE_NS };
	struct precopy_track track = { 0 };
	struct precopy_outcome out;
	struct precopy_now now;
	uint64_t moved = 0, round_left = 0;
	double began, busy = 0, t;
	struct migctl_chunk *c;
	ssize_t n;
	int r;

	/*
	 * Before PRE_COPY, so that its flags mean something (REINIT) from the
	 * first PRECOPY_INFO on; a device that does not offer it (a kernel
	 * before 7.1) echoes flags, and the policy ignores them
	 */
	policy.opted_in = migctl_precopy_reinit_enable(x->dev) == 0;
	res->precopy_reinit = policy.opted_in;
	res->downtime_target = policy.downtime;
	res->downtime_estimate = -1;

	r = enter_session(x, x->precopy);
	if (r)
		return r;
	began = monotonic_seconds();
	for (;;) {
		if (stopping(x))
			return -EINTR;
		r = migctl_precopy_info_get(x->data_fd, 0, &now.info);
		if (r)
			return note_failure(x, MIGCTL_FAIL_DEVICE_IO, r);
		if (migctl_data_size(x->dev, &now.data_size))
			now.data_size = 0;
		now.rate = busy > 0 ? (double)moved / busy : 0;
		now.elapsed = monotonic_seconds() - began;
		out = precopy_decide(&policy, &track, &now);
		track = out.track;
		precopy_note(x, &out);
		if (out.decision != PRECOPY_CONTINUE)
			return 0;

		/* A round re-sends what was pending when it began; REINIT starts one */
		if (now.info.initial_bytes + now.info.dirty_bytes == 0) {
			round_left = 0;
			nanosleep(&idle, NULL);
			continue;
		}
		if (round_left == 0 || out.reinit) {
			precopy_round(x, &now.info);
			round_left = now.info.initial_bytes + now.info.dirty_bytes;
		}

		t = monotonic_seconds();
		if (take(x, RING_PRODUCE, -1, &c))
			return -EINTR;
		n = read(x->data_fd, c->buf, x->chunk_size);
		if (n < 0 && errno == EINTR && !cancelled(x) && !ring_stopped(&x->ring))
			continue;
		if ((n < 0 && errno == ENOMSG) || n == 0) {
			round_left = 0;
			nanosleep(&idle, NULL);
			continue;
		}
		if (n < 0)
			return note_failure(x, MIGCTL_FAIL_DEVICE_IO, -errno);
		produced(x, c, n, MIGCTL_PHASE_PRE_COPY);
		busy += monotonic_seconds() - t;
		moved += (uint64_t)n;
		round_left = (uint64_t)n < round_left ? round_left - (uint64_t)n : 0;
		pthread_mutex_lock(&x->lock);
		if (res->precopy_rounds <= MIGCTL_PRECOPY_ROUNDS_MAX)
			res->round[res->precopy_rounds - 1].bytes += (uint64_t)n;
		pthread_mutex_unlock(&x->lock);
	}
}

int xfer_enter_stop_copy(struct xfer *x)
{
	int r;

	x->stopped_at = monotonic_seconds();
	/* From PRE_COPY the session carries on: the old data_fd stays */
	r = enter_session(x, MIGCTL_STATE_STOP_COPY);
	x->stopped = !r;
	return r;
}

static int switchover(struct xfer *x)
{
	int r;

	if (!x->dev)
		return 0;
	if (!x->hooks.switchover)
		return xfer_enter_stop_copy(x);
	r = x->hooks.switchover(x->hooks.arg, x);
	/* A hook's own failure (a set's barrier broken) stops the stages too */
	return r ? note_failure(x, MIGCTL_FAIL_TRANSITION, r) : 0;
}

static void *save_device_thread(void *arg)
{
	struct xfer *x = arg;
	struct migctl_chunk *c;
	int r = stopping(x) ? -ECANCELED : 0;

	if (!r && x->precopy != MIGCTL_NR_STATES)
		r = precopy(x);
	/*
	 * PRE_COPY ends without an error however the other stages fared (no
	 * initial bytes left, ENOMSG): a running device is not stopped for a
	 * transfer that has already failed or been cancelled.
	 */
	if (!r && stopping(x))
		r = -ECANCELED;
	if (!r)
		r = switchover(x);
	if (!r)
		r = produce(x, MIGCTL_PHASE_STOP_COPY);
	/* The end of the stream travels the ring like the data */
	if (!r && !take(x, RING_PRODUCE, -1, &c)) {
		*c = (struct migctl_chunk){
			.buf = c->buf, .cap = c->cap, .last = true, .phase = MIGCTL_PHASE_STOP_COPY
		};
		ring_give(&x->ring, RING_PRODUCE);
	}
	return io_exit(x, IO_DEVICE);
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
	return io_exit(x, IO_STREAM);
}

int xfer_save_prepare(struct xfer *x, const struct migctl_sink *sink)
{
	struct migctl_xfer_result *res = x->res;
	int r;

	x->sink = sink;
	r = preflight(x);
	if (r)
		return r;
	if (migctl_data_size(x->dev, &res->estimate))
		res->estimate = 0;
	if (sink->begin && (r = sink->begin(sink->ctx, x->mig_flags, res->estimate)))
		return note_failure(x, MIGCTL_FAIL_SINK, r);
	if (x->opts->precopy) {
		x->precopy = precopy_state(res->initial_state);
		res->precopy_skipped = x->precopy == MIGCTL_NR_STATES;
	}
	return 0;
}

int xfer_save_run(struct xfer *x)
{
	int r;

	r = start(x, IO_STREAM, save_stream_thread);
	if (!r)
		r = start(x, IO_DEVICE, save_device_thread);
	/*
	 * The ring's fresh pages, faulted in while the device thread moves
	 * the device and this stage has nothing to verify yet: zeroing them
	 * is off the device's time (under an emulator it costs half as much
	 * as the device's copy into them).  No more than the state will fill.
	 */
	if (!r)
		ring_prefault(&x->ring, x->opts->precopy ? 0 : x->res->estimate);
	if (!r)
		r = middle_stage(x, MIGCTL_PHASE_STOP_COPY, frame);
	return join_stages(x, r);
}

/*
 * The commit point is the source's final state: END, and the file's link,
 * only once the device is there.  A failure before them (the transition,
 * a signal) leaves no stream a destination would take; a failure of
 * either puts the device back all the same.
 */
int xfer_save_commit(struct xfer *x)
{
	const struct migctl_sink *sink = x->sink;
	int r = cancel_point(x);

	if (!r && sink->finish && (r = sink->finish(sink->ctx)))
		return note_failure(x, MIGCTL_FAIL_SINK, r);
	if (!r && x->opts->commit)
		r = cancel_point(x);
	if (!r && x->opts->commit && (r = x->opts->commit(x->opts->commit_arg)))
		return note_failure(x, MIGCTL_FAIL_SINK, r);
	return r;
}

int migctl_save(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		const struct migctl_sink *sink, struct migctl_xfer_result *res)
{
	struct xfer *x;
	int r;

	r = xfer_new(dev, opts, res, &x);
	if (r)
		return r;
	r = xfer_save_prepare(x, sink);
	if (!r)
		r = xfer_save_run(x);
	if (!r)
		r = xfer_enter(x, opts->then);
	if (!r)
		r = xfer_save_commit(x);
	return xfer_done(x, r);
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
	return io_exit(x, IO_STREAM);
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
		pthread_mutex_lock(&x->lock);
		x->res->bytes += c->data_len;
		pthread_mutex_unlock(&x->lock);
		ring_give(&x->ring, RING_CONSUME);
	}
	return io_exit(x, IO_DEVICE);
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
	if (x->io[IO_DEVICE].started)
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
		r = start(x, IO_DEVICE, resume_device_thread);
	return r;
}

int xfer_resume_prepare(struct xfer *x, const struct migctl_source *source)
{
	x->source = source;
	x->resuming = true;
	return preflight(x);
}

int xfer_resume_run(struct xfer *x)
{
	int r = start(x, IO_STREAM, resume_stream_thread);

	if (!r)
		r = middle_stage(x, MIGCTL_PHASE_RESUMING, verify);
	/* The last moment a signal can still abort: STOP loads the stream */
	return join_stages(x, r);
}

int xfer_resume_load(struct xfer *x)
{
	int r;

	close_data_fd(x);
	r = enter(x, MIGCTL_STATE_STOP, MIGCTL_FAIL_LOAD);
	/* From here the device holds the new state: a failure keeps it */
	x->res->loaded = r == 0;
	return r;
}

int migctl_resume(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
		  const struct migctl_source *source, struct migctl_xfer_result *res)
{
	struct xfer *x;
	int r;

	r = xfer_new(dev, opts, res, &x);
	if (r)
		return r;
	r = xfer_resume_prepare(x, source);
	if (!r)
		r = xfer_resume_run(x);
	if (!r)
		r = xfer_resume_load(x);
	if (!r && opts->then != MIGCTL_STATE_STOP)
		r = xfer_enter(x, opts->then);
	return xfer_done(x, r);
}

/* ---- the data path alone */

int xfer_save_fd(int data_fd, const struct migctl_xfer_opts *opts, const struct migctl_sink *sink,
		 struct migctl_xfer_result *res)
{
	struct xfer *x;
	int r;

	r = xfer_new(NULL, opts, res, &x);
	if (r)
		return r;
	x->sink = sink;
	x->data_fd = data_fd;
	r = setup_ring(x);
	if (!r && sink->begin && (r = sink->begin(sink->ctx, 0, 0)))
		note_failure(x, MIGCTL_FAIL_SINK, r);
	if (!r)
		r = xfer_save_run(x);
	if (!r)
		r = xfer_save_commit(x);
	x->data_fd = -1; /* the caller's */
	return xfer_done(x, r);
}

int xfer_resume_fd(int data_fd, const struct migctl_xfer_opts *opts,
		   const struct migctl_source *source, struct migctl_xfer_result *res)
{
	struct xfer *x;
	int r;

	r = xfer_new(NULL, opts, res, &x);
	if (r)
		return r;
	x->source = source;
	x->resuming = true;
	x->data_fd = data_fd;
	r = setup_ring(x);
	if (!r)
		r = xfer_resume_run(x);
	x->data_fd = -1;
	return xfer_done(x, r);
}
