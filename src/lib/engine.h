/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transfer engine's steps, for whatever coordinates transfers: one
 * device (migctl_save/migctl_resume are these steps in order), a set of
 * devices behind a barrier, a benchmark of the engine alone.  Internal to
 * libmigctl; tests and benchmarks may use it.
 *
 * A save is prepare, run, enter(then), commit; a resume is prepare, run,
 * load, enter(then).  Each step returns 0 or the first failure (-errno,
 * recorded in the result with where it happened); the caller then ends
 * with xfer_done(x, err), which puts the device back per opts->on_error.
 * A coordinator of several devices may end every member with the set's
 * error, so that a failure of one rolls all of them back.
 */
#ifndef MIGCTL_ENGINE_H
#define MIGCTL_ENGINE_H

#include "migctl.h"

struct xfer;

int xfer_new(struct migctl_dev *dev, const struct migctl_xfer_opts *opts,
	     struct migctl_xfer_result *res, struct xfer **x);
/*
 * The last step, always: @err != 0 recovers the device per opts->on_error
 * if anything was changed, 0 reads its final state.  Frees @x; returns @err.
 */
int xfer_done(struct xfer *x, int err);

/* ---- save */

/* The device's checks and the sink's begin(); nothing changed but an ended session */
int xfer_save_prepare(struct xfer *x, const struct migctl_sink *sink);
/*
 * PRE_COPY (opts->precopy, from RUNNING or RUNNING_P2P), the switchover,
 * then every STOP_COPY byte into the sink.  Returns with the device in
 * STOP_COPY and the stream not yet ended.
 */
int xfer_save_run(struct xfer *x);
/* The commit point, once the device is in its final state: finish() (END), opts->commit */
int xfer_save_commit(struct xfer *x);

/* ---- resume */

int xfer_resume_prepare(struct xfer *x, const struct migctl_source *source);
/* RESUMING with the first verified byte, then every verified byte into the device */
int xfer_resume_run(struct xfer *x);
/* RESUMING -> STOP: the driver checks what it was given (result->loaded) */
int xfer_resume_load(struct xfer *x);

/* ---- both */

/*
 * Enter @state: a state that is not a data state ends the data session;
 * PRE_COPY -> PRE_COPY_P2P keeps it.  From the device thread only inside
 * the switchover hook, otherwise between steps.
 */
int xfer_enter(struct xfer *x, enum migctl_state state);

/*
 * Quiesce a running device for a set's barrier: RUNNING -> RUNNING_P2P,
 * PRE_COPY -> PRE_COPY_P2P (the data session carries on); a device that
 * starts no DMA already (a P2P state, STOP) is left as it is.
 */
int xfer_quiesce(struct xfer *x);

/*
 * The switchover, from a running device (RUNNING, RUNNING_P2P, PRE_COPY
 * or PRE_COPY_P2P) to STOP_COPY, on the device thread once the precopy
 * policy let it (at once without precopy).  Without a hook the engine
 * calls xfer_enter_stop_copy(); a set's hook brings every member to
 * RUNNING_P2P (PRE_COPY_P2P) and waits for all before it does.  A hook
 * returns 0 with the device in STOP_COPY, or -errno.
 */
struct xfer_hooks {
	int (*switchover)(void *arg, struct xfer *x);
	void *arg;
};

void xfer_set_hooks(struct xfer *x, const struct xfer_hooks *hooks);
int xfer_enter_stop_copy(struct xfer *x);
/*
 * Stop a transfer from outside (another member of its set failed): every
 * stage gives up, the failure is recorded as MIGCTL_FAIL_PEER unless one
 * came first.  Safe from any thread, at any step.
 */
void xfer_abort(struct xfer *x);

/*
 * After a failure, before xfer_done() of any member of a set: a member to
 * be put back in RUNNING goes to RUNNING_P2P first (recover_quiesced()).
 */
void xfer_recover_quiesced(struct xfer *x);

/*
 * The engine's data path alone over @data_fd, which is not a device's
 * (the native benchmark): the same threads, ring, sinks and sources,
 * without a state change, precopy or recovery.
 */
int xfer_save_fd(int data_fd, const struct migctl_xfer_opts *opts, const struct migctl_sink *sink,
		 struct migctl_xfer_result *res);
int xfer_resume_fd(int data_fd, const struct migctl_xfer_opts *opts,
		   const struct migctl_source *source, struct migctl_xfer_result *res);

#endif /* MIGCTL_ENGINE_H */
