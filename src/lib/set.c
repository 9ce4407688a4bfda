// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A set of devices saved, resumed or moved as one unit: the engine's steps
 * (engine.h) run for every member, each member's data on threads of its
 * own, with the v2 protocol's barrier between them.  RUNNING_P2P is a
 * state where a device still answers peer-to-peer DMA but starts none, so
 * every member reaches it (PRE_COPY_P2P while pre-copying) before any
 * stops, and on the way back every member reaches it before any runs.
 * A failure of one member stops the others and puts all of them back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "engine.h"
#include "internal.h"

struct set {
	struct migctl_set_member *m;
	size_t n;
	const struct migctl_xfer_opts *opts;
	/* each member's: opts but the commit (the set's), with its progress_arg */
	struct migctl_xfer_opts *member_opts;
	struct xfer **x;
	pthread_mutex_t lock;
	pthread_cond_t arrived_cond;
	size_t arrived; /* members at the barrier, quiesced */
	bool broken;	/* a member failed: nobody waits at the barrier */
	int err;	/* the first failure of any member */
	size_t failed;	/* which (n: the set's own commit) */
};

static bool set_cancelled(const struct set *s)
{
	return s->opts->cancel && *s->opts->cancel;
}

/*
 * A member failed: the others stop wherever they are, told why before the
 * barrier lets them go; the first error wins.  Returns @err.
 */
static int set_fail(struct set *s, size_t failed, int err)
{
	pthread_mutex_lock(&s->lock);
	if (!s->err) {
		s->err = err;
		s->failed = failed;
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		if (i != failed && s->x[i])
			xfer_abort(s->x[i]);
	pthread_mutex_lock(&s->lock);
	s->broken = true;
	pthread_cond_broadcast(&s->arrived_cond);
	pthread_mutex_unlock(&s->lock);
	return err;
}

/*
 * The switchover hook of every member (its device thread): quiesce, wait
 * until every member has, then STOP_COPY.  The wait gives up when another
 * member fails or a signal comes.
 */
static int barrier_switchover(void *arg, struct xfer *x)
{
	struct set *s = arg;
	struct timespec until;
	int r = xfer_quiesce(x);

	pthread_mutex_lock(&s->lock);
	if (!r)
		s->arrived++;
	else
		s->broken = true;
	pthread_cond_broadcast(&s->arrived_cond);
	while (!s->broken && s->arrived < s->n && !set_cancelled(s)) {
		monotonic_deadline(&until, 50);
		pthread_cond_timedwait(&s->arrived_cond, &s->lock, &until);
	}
	if (!r && (s->broken || s->arrived < s->n))
		r = set_cancelled(s) ? -EINTR : -ECANCELED;
	pthread_mutex_unlock(&s->lock);
	/* Broken by another member: this one is stopped for its sake */
	if (r == -ECANCELED)
		xfer_abort(x);
	return r ? r : xfer_enter_stop_copy(x);
}

static int set_init(struct set *s, struct migctl_set_member *m, size_t n,
		    const struct migctl_xfer_opts *opts)
{
	*s = (struct set){ .m = m, .n = n, .opts = opts };
	pthread_mutex_init(&s->lock, NULL);
	monotonic_cond_init(&s->arrived_cond);
	s->x = calloc(n, sizeof(*s->x));
	s->member_opts = calloc(n, sizeof(*s->member_opts));
	if (!s->x || !s->member_opts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r;

		s->member_opts[i] = *opts;
		s->member_opts[i].commit = NULL;
		if (m[i].progress_arg)
			s->member_opts[i].progress_arg = m[i].progress_arg;
		r = xfer_new(m[i].dev, &s->member_opts[i], &m[i].result, &s->x[i]);
		if (r)
			return set_fail(s, i, r);
	}
	return 0;
}

/*
 * The last step for every member: with the set's error, each one is put
 * back (one that did not fail itself is told why: MIGCTL_FAIL_PEER).
 */
static int set_done(struct set *s, int err, size_t *which)
{
	*which = s->failed;
	for (size_t i = 0; s->x && i < s->n; i++)
		if (s->x[i] && err)
			xfer_abort(s->x[i]);
	/* Back through the barrier too: every member quiesced before any runs */
	for (size_t i = 0; s->x && err && s->n > 1 && !s->opts->no_barrier && i < s->n; i++)
		if (s->x[i])
			xfer_recover_quiesced(s->x[i]);
	for (size_t i = 0; s->x && i < s->n; i++)
		if (s->x[i])
			xfer_done(s->x[i], err);
	pthread_cond_destroy(&s->arrived_cond);
	pthread_mutex_destroy(&s->lock);
	free(s->member_opts);
	free(s->x);
	return err;
}

/* Every member refused before anything changed unless it offers P2P */
static int check_p2p(struct set *s)
{
	uint64_t flags;
	int r;

	if (s->opts->no_barrier || s->n < 2)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		r = migctl_mig_flags(s->m[i].dev, &flags);
		if (!r && !(flags & MIGCTL_FLAG_P2P))
			r = -EOPNOTSUPP;
		if (r) {
			s->m[i].result.fail_at = MIGCTL_FAIL_CHECK;
			s->m[i].result.failed_state = MIGCTL_STATE_RUNNING_P2P;
			return set_fail(s, i, r);
		}
	}
	return 0;
}

struct member_run {
	struct set *set;
	size_t index;
	int (*run)(struct xfer *x);
	pthread_t thread;
};

static void *member_thread(void *arg)
{
	struct member_run *mr = arg;
	struct set *s = mr->set;
	int r = mr->run(s->x[mr->index]);

	if (r)
		set_fail(s, mr->index, r);
	return NULL;
}

/* @run on every member at once, each on a thread: the set's first error */
static int run_all(struct set *s, int (*run)(struct xfer *x))
{
	struct member_run *mr = calloc(s->n, sizeof(*mr));
	size_t started = 0;
	int r = 0;

	if (!mr)
		return -ENOMEM;
	for (; started < s->n; started++) {
		mr[started] = (struct member_run){ .set = s, .index = started, .run = run };
		r = -pthread_create(&mr[started].thread, NULL, member_thread, &mr[started]);
		if (r) {
			set_fail(s, started, r);
			break;
		}
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(mr[i].thread, NULL);
	free(mr);
	return r ? r : s->err;
}

/* @step on every member in turn; the first failure stops there */
static int each(struct set *s, int (*step)(struct xfer *x))
{
	int r = 0;

	for (size_t i = 0; !r && i < s->n; i++)
		if ((r = step(s->x[i])))
			set_fail(s, i, r);
	return r;
}

static int enter_each(struct set *s, enum migctl_state state)
{
	int r = 0;

	for (size_t i = 0; !r && i < s->n; i++)
		if ((r = xfer_enter(s->x[i], state)))
			set_fail(s, i, r);
	return r;
}

/* The final state; towards RUNNING every member passes RUNNING_P2P first */
static int enter_final(struct set *s, enum migctl_state state)
{
	int r = 0;

	if (state == MIGCTL_STATE_RUNNING && !s->opts->no_barrier && s->n > 1)
		r = enter_each(s, MIGCTL_STATE_RUNNING_P2P);
	return r ? r : enter_each(s, state);
}

int migctl_set_save(struct migctl_set_member *m, size_t n, const struct migctl_xfer_opts *opts,
		    size_t *which)
{
	struct xfer_hooks hooks;
	struct set s;
	int r;

	r = set_init(&s, m, n, opts);
	if (!r)
		r = check_p2p(&s);
	for (size_t i = 0; !r && i < n; i++)
		if ((r = xfer_save_prepare(s.x[i], m[i].sink)))
			set_fail(&s, i, r);
	if (r)
		return set_done(&s, r, which);
	if (n > 1 && !opts->no_barrier) {
		hooks = (struct xfer_hooks){ .switchover = barrier_switchover, .arg = &s };
		for (size_t i = 0; i < n; i++)
			xfer_set_hooks(s.x[i], &hooks);
	}
	r = run_all(&s, xfer_save_run);
	if (!r)
		r = enter_final(&s, opts->then);
	if (!r)
		r = each(&s, xfer_save_commit);
	/* The set's stream is whole only once every member's is */
	if (!r && opts->commit && (r = opts->commit(opts->commit_arg)))
		set_fail(&s, n, r);
	return set_done(&s, r, which);
}

int migctl_set_resume(struct migctl_set_member *m, size_t n, const struct migctl_xfer_opts *opts,
		      size_t *which)
{
	struct set s;
	int r;

	r = set_init(&s, m, n, opts);
	if (!r && opts->then == MIGCTL_STATE_RUNNING)
		r = check_p2p(&s);
	for (size_t i = 0; !r && i < n; i++)
		if ((r = xfer_resume_prepare(s.x[i], m[i].source)))
			set_fail(&s, i, r);
	if (r)
		return set_done(&s, r, which);
	r = run_all(&s, xfer_resume_run);
	if (!r)
		r = each(&s, xfer_resume_load);
	if (!r && opts->then != MIGCTL_STATE_STOP)
		r = enter_final(&s, opts->then);
	return set_done(&s, r, which);
}

/*
 * One SET on the way to @state.  On the way back after a failure, out of
 * ERROR by reset only, and out of a data state as the policy says.
 */
static int step(struct migctl_set_move *m, enum migctl_state state, bool back)
{
	enum migctl_state now;
	int r;

	if (!back) {
		r = migctl_request_state(m->dev, state);
		m->moved = m->moved || !r;
		return r;
	}
	now = migctl_read_state(m->dev);
	if (!migctl_set_allowed_from(now) || now == MIGCTL_NR_STATES) {
		r = migctl_dev_reset(m->dev);
		if (r)
			return r;
		m->reset = true;
		now = migctl_read_state(m->dev);
	}
	return now == state ? 0 : migctl_return_to(m->dev, now, state);
}

/* A device that goes into or out of RUNNING: through RUNNING_P2P, behind the barrier */
static bool crosses_running(enum migctl_state from, enum migctl_state to)
{
	return (from == MIGCTL_STATE_RUNNING) != (to == MIGCTL_STATE_RUNNING) &&
	       from != MIGCTL_STATE_RUNNING_P2P && to != MIGCTL_STATE_RUNNING_P2P;
}

/*
 * Every member to its goal (@target, or back: where it was found), those
 * that cross RUNNING all reaching RUNNING_P2P before any goes on.  Forward
 * the first failure stops it; back, every member is tried.
 */
static int move_all(struct migctl_set_move *m, size_t n, enum migctl_state target, bool barrier,
		    bool back, size_t *which)
{
	int first = 0;

	for (int pass = barrier ? 0 : 1; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			enum migctl_state goal = back ? m[i].found : target;
			enum migctl_state now = migctl_read_state(m[i].dev);
			int r;

			if (back && !m[i].moved)
				continue;
			if (pass == 0 && !crosses_running(now, goal))
				continue;
			if (now == goal && now != MIGCTL_NR_STATES)
				continue;
			r = step(&m[i], pass == 0 ? MIGCTL_STATE_RUNNING_P2P : goal, back);
			if (back)
				m[i].put_back_err = r ? r : m[i].put_back_err;
			if (r && !first) {
				first = r;
				*which = i;
			}
			if (r && !back)
				return r;
		}
	}
	return first;
}

int migctl_set_move(struct migctl_set_move *m, size_t n, enum migctl_state target, bool no_barrier,
		    size_t *which)
{
	bool barrier = !no_barrier && n > 1;
	size_t ignored;
	uint64_t flags;
	int r = 0;

	*which = 0;
	if (migctl_state_is_data(target) || target == MIGCTL_STATE_ERROR)
		return -EINVAL;
	for (size_t i = 0; !r && i < n; i++) {
		*which = i;
		m[i].moved = m[i].reset = false;
		m[i].put_back_err = 0;
		r = migctl_get_state(m[i].dev, &m[i].found);
		if (!r && !migctl_set_allowed_from(m[i].found))
			r = -EBADFD;
		else if (!r && migctl_state_is_data(m[i].found))
			r = -EBUSY;
		if (!r)
			r = migctl_mig_flags(m[i].dev, &flags);
		if (!r && (!migctl_state_supported(flags, target) ||
			   (barrier && !(flags & MIGCTL_FLAG_P2P))))
			r = -EOPNOTSUPP;
	}
	if (!r)
		r = move_all(m, n, target, barrier, false, which);
	/* One unit: every member that moved goes back where it was found */
	if (r)
		move_all(m, n, target, barrier, true, &ignored);
	return r;
}
