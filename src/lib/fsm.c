// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The migration state machine as the kernel walks it.
 *
 * mig_state_path() reproduces vfio_mig_get_next_state() so that --dry-run
 * and --step show the arcs the kernel will really take for a device's flags,
 * including the skipping of states the device does not offer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "migctl.h"

static const char *const state_names[MIG_NR_STATES] = {
	[MIG_ERROR] = "ERROR",
	[MIG_STOP] = "STOP",
	[MIG_RUNNING] = "RUNNING",
	[MIG_STOP_COPY] = "STOP_COPY",
	[MIG_RESUMING] = "RESUMING",
	[MIG_RUNNING_P2P] = "RUNNING_P2P",
	[MIG_PRE_COPY] = "PRE_COPY",
	[MIG_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

/* The migration flags a state needs; ERROR needs every bit, so never "supported" */
static const uint64_t state_needs[MIG_NR_STATES] = {
	[MIG_ERROR] = ~0ull,
	[MIG_STOP] = MIG_FLAG_STOP_COPY,
	[MIG_RUNNING] = MIG_FLAG_STOP_COPY,
	[MIG_STOP_COPY] = MIG_FLAG_STOP_COPY,
	[MIG_RESUMING] = MIG_FLAG_STOP_COPY,
	[MIG_RUNNING_P2P] = MIG_FLAG_STOP_COPY | MIG_FLAG_P2P,
	[MIG_PRE_COPY] = MIG_FLAG_STOP_COPY | MIG_FLAG_PRE_COPY,
	[MIG_PRE_COPY_P2P] = MIG_FLAG_STOP_COPY | MIG_FLAG_P2P | MIG_FLAG_PRE_COPY,
};

/*
 * Next state from [cur] toward [target] with every optional state offered:
 * the shortest path through the arcs drivers implement (vfio_main.c).
 */
#define S MIG_STOP
#define R MIG_RUNNING
#define SC MIG_STOP_COPY
#define RS MIG_RESUMING
#define RP MIG_RUNNING_P2P
#define PC MIG_PRE_COPY
#define PP MIG_PRE_COPY_P2P
#define E MIG_ERROR
static const enum mig_state next_step[MIG_NR_STATES][MIG_NR_STATES] = {
	/*               ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P */
	[MIG_STOP]         = { E, S,  RP, SC, RS, RP, RP, RP },
	[MIG_RUNNING]      = { E, RP, R,  RP, RP, RP, PC, RP },
	[MIG_STOP_COPY]    = { E, S,  S,  SC, S,  S,  E,  E  },
	[MIG_RESUMING]     = { E, S,  S,  S,  RS, S,  S,  S  },
	[MIG_RUNNING_P2P]  = { E, S,  R,  S,  S,  RP, R,  PP },
	[MIG_PRE_COPY]     = { E, R,  R,  PP, R,  R,  PC, PP },
	[MIG_PRE_COPY_P2P] = { E, RP, RP, SC, RP, RP, PC, PP },
	[MIG_ERROR]        = { E, E,  E,  E,  E,  E,  E,  E  },
};
#undef S
#undef R
#undef SC
#undef RS
#undef RP
#undef PC
#undef PP
#undef E

const char *mig_state_name(enum mig_state state)
{
	if ((unsigned int)state >= MIG_NR_STATES)
		return "UNKNOWN";
	return state_names[state];
}

int mig_state_parse(const char *name, enum mig_state *state)
{
	char norm[16];
	size_t i;

	for (i = 0; name[i]; i++) {
		if (i + 1 >= sizeof(norm))
			return -EINVAL;
		norm[i] = name[i] == '-' ? '_' : name[i];
	}
	norm[i] = '\0';

	for (i = 0; i < MIG_NR_STATES; i++) {
		if (strcasecmp(norm, state_names[i]) == 0) {
			*state = (enum mig_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool mig_state_supported(uint64_t mig_flags, enum mig_state state)
{
	if ((unsigned int)state >= MIG_NR_STATES)
		return false;
	return (state_needs[state] & mig_flags) == state_needs[state];
}

bool mig_state_is_data(enum mig_state state)
{
	return state == MIG_STOP_COPY || state == MIG_RESUMING ||
	       state == MIG_PRE_COPY || state == MIG_PRE_COPY_P2P;
}

int mig_state_path(uint64_t mig_flags, enum mig_state from, enum mig_state to,
		   enum mig_state path[MIG_PATH_MAX], size_t *len)
{
	enum mig_state cur = from;

	*len = 0;
	if (!mig_state_supported(mig_flags, from) ||
	    !mig_state_supported(mig_flags, to))
		return -EINVAL;

	while (cur != to) {
		enum mig_state next = next_step[cur][to];

		/* Skip over states this device does not offer, as the kernel does */
		while (next != MIG_ERROR && !mig_state_supported(mig_flags, next))
			next = next_step[next][to];
		if (next == MIG_ERROR || *len == MIG_PATH_MAX)
			return -EINVAL;
		path[(*len)++] = next;
		cur = next;
	}
	return 0;
}

void mig_flags_format(uint64_t mig_flags, char *buf, size_t size)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ MIG_FLAG_STOP_COPY, "STOP_COPY" },
		{ MIG_FLAG_P2P, "P2P" },
		{ MIG_FLAG_PRE_COPY, "PRE_COPY" },
	};
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(mig_flags & names[i].bit))
			continue;
		used += snprintf(buf + used, used < size ? size - used : 0,
				 "%s%s", used ? "|" : "", names[i].name);
		mig_flags &= ~names[i].bit;
	}
	if (mig_flags)
		snprintf(buf + used, used < size ? size - used : 0,
			 "%s0x%llx", used ? "|" : "", (unsigned long long)mig_flags);
}
