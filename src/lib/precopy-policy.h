/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The switchover decision of an iterative PRE_COPY: when the device may be
 * stopped.  One pure function of what was measured, so that recorded
 * sequences of VFIO_MIG_GET_PRECOPY_INFO answers can test it (tests/unit).
 * Internal to libmigctl; xfer.c's precopy() asks it after every sample.
 */
#ifndef MIGCTL_PRECOPY_POLICY_H
#define MIGCTL_PRECOPY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "migctl.h"

/* What does not change during one save */
struct precopy_policy {
	double downtime; /* seconds the device may be stopped (--downtime) */
	double timeout;	 /* seconds PRE_COPY may last (--precopy-timeout) */
	bool opted_in;	 /* feature 12 SET: flags carry REINIT; else they are ignored */
};

/* What the samples so far established; all zero before the first */
struct precopy_track {
	bool initial_done; /* initial_bytes reached 0 (since the last REINIT) */
	unsigned int reinits;
};

/* One look at the device, and at the transfer so far */
struct precopy_now {
	struct migctl_precopy_info info; /* this sample */
	uint64_t data_size;		 /* MIG_DATA_SIZE now; 0: unknown */
	double rate;			 /* bytes a second measured in this save; 0: unknown */
	double elapsed;			 /* seconds since PRE_COPY was entered */
};

enum precopy_decision {
	PRECOPY_CONTINUE,
	PRECOPY_SWITCH_CONVERGED, /* initial data out, the rest fits the downtime */
	PRECOPY_SWITCH_TIMEOUT,	  /* --precopy-timeout ran out first: stop anyway */
};

struct precopy_outcome {
	enum precopy_decision decision;
	struct precopy_track track; /* to pass in with the next sample */
	bool reinit;		    /* this sample re-initialised (opted in only) */
	uint64_t left;		    /* bytes estimated to move once stopped */
	double estimate;	    /* seconds to move them; -1: rate unknown */
};

/*
 * Decide from @now, after the samples summed up in @before.  No I/O, no
 * clock: the same inputs give the same outcome.
 */
struct precopy_outcome precopy_decide(const struct precopy_policy *policy,
				      const struct precopy_track *before,
				      const struct precopy_now *now);

#endif
