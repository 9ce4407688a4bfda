// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The migration state machine as the kernel walks it, and the names of
 * states and of the API's other enums.
 *
 * migctl_state_path() reproduces vfio_mig_get_next_state() so that --dry-run
 * and --step show the arcs the kernel will really take for a device's flags,
 * including the skipping of states the device does not offer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *const state_names[MIGCTL_NR_STATES] = {
	[MIGCTL_STATE_ERROR] = "ERROR",	      [MIGCTL_STATE_STOP] = "STOP",
	[MIGCTL_STATE_RUNNING] = "RUNNING",   [MIGCTL_STATE_STOP_COPY] = "STOP_COPY",
	[MIGCTL_STATE_RESUMING] = "RESUMING", [MIGCTL_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[MIGCTL_STATE_PRE_COPY] = "PRE_COPY", [MIGCTL_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

/* The migration flags a state needs; ERROR needs every bit, so never "supported" */
static const uint64_t state_needs[MIGCTL_NR_STATES] = {
	[MIGCTL_STATE_ERROR] = ~0ull,
	[MIGCTL_STATE_STOP] = MIGCTL_FLAG_STOP_COPY,
	[MIGCTL_STATE_RUNNING] = MIGCTL_FLAG_STOP_COPY,
	[MIGCTL_STATE_STOP_COPY] = MIGCTL_FLAG_STOP_COPY,
	[MIGCTL_STATE_RESUMING] = MIGCTL_FLAG_STOP_COPY,
	[MIGCTL_STATE_RUNNING_P2P] = MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P,
	[MIGCTL_STATE_PRE_COPY] = MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_PRE_COPY,
	[MIGCTL_STATE_PRE_COPY_P2P] =
		MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P | MIGCTL_FLAG_PRE_COPY,
};

/*
 * Next state from [cur] toward [target] with every optional state offered:
 * the shortest path through the arcs drivers implement (vfio_main.c).
 */
#define S MIGCTL_STATE_STOP
#define R MIGCTL_STATE_RUNNING
#define SC MIGCTL_STATE_STOP_COPY
#define RS MIGCTL_STATE_RESUMING
#define RP MIGCTL_STATE_RUNNING_P2P
#define PC MIGCTL_STATE_PRE_COPY
#define PP MIGCTL_STATE_PRE_COPY_P2P
#define E MIGCTL_STATE_ERROR
static const enum migctl_state next_step[MIGCTL_NR_STATES][MIGCTL_NR_STATES] = {
	/*               ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P */
	[MIGCTL_STATE_STOP] = { E, S, RP, SC, RS, RP, RP, RP },
	[MIGCTL_STATE_RUNNING] = { E, RP, R, RP, RP, RP, PC, RP },
	[MIGCTL_STATE_STOP_COPY] = { E, S, S, SC, S, S, E, E },
	[MIGCTL_STATE_RESUMING] = { E, S, S, S, RS, S, S, S },
	[MIGCTL_STATE_RUNNING_P2P] = { E, S, R, S, S, RP, R, PP },
	[MIGCTL_STATE_PRE_COPY] = { E, R, R, PP, R, R, PC, PP },
	[MIGCTL_STATE_PRE_COPY_P2P] = { E, RP, RP, SC, RP, RP, PC, PP },
	[MIGCTL_STATE_ERROR] = { E, E, E, E, E, E, E, E },
};
#undef S
#undef R
#undef SC
#undef RS
#undef RP
#undef PC
#undef PP
#undef E

const char *migctl_state_name(enum migctl_state state)
{
	if ((unsigned int)state >= MIGCTL_NR_STATES)
		return "UNKNOWN";
	return state_names[state];
}

int migctl_state_parse(const char *name, enum migctl_state *state)
{
	char norm[16];
	size_t i;

	for (i = 0; name[i]; i++) {
		if (i + 1 >= sizeof(norm))
			return -EINVAL;
		norm[i] = name[i] == '-' ? '_' : name[i];
	}
	norm[i] = '\0';

	for (i = 0; i < MIGCTL_NR_STATES; i++) {
		if (strcasecmp(norm, state_names[i]) == 0) {
			*state = (enum migctl_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool migctl_state_supported(uint64_t mig_flags, enum migctl_state state)
{
	if ((unsigned int)state >= MIGCTL_NR_STATES)
		return false;
	return (state_needs[state] & mig_flags) == state_needs[state];
}

bool migctl_state_is_data(enum migctl_state state)
{
	return state == MIGCTL_STATE_STOP_COPY || state == MIGCTL_STATE_RESUMING ||
	       state == MIGCTL_STATE_PRE_COPY || state == MIGCTL_STATE_PRE_COPY_P2P;
}

int migctl_state_path(uint64_t mig_flags, enum migctl_state from, enum migctl_state to,
		      enum migctl_state path[MIGCTL_ARCS_MAX], size_t *len)
{
	enum migctl_state cur = from;

	*len = 0;
	if (!migctl_state_supported(mig_flags, from) || !migctl_state_supported(mig_flags, to))
		return -EINVAL;

	while (cur != to) {
		enum migctl_state next = next_step[cur][to];

		/* Skip over states this device does not offer, as the kernel does */
		while (next != MIGCTL_STATE_ERROR && !migctl_state_supported(mig_flags, next))
			next = next_step[next][to];
		if (next == MIGCTL_STATE_ERROR || *len == MIGCTL_ARCS_MAX)
			return -EINVAL;
		path[(*len)++] = next;
		cur = next;
	}
	return 0;
}

void migctl_flags_format(uint64_t mig_flags, char *buf, size_t size)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ MIGCTL_FLAG_STOP_COPY, "STOP_COPY" },
		{ MIGCTL_FLAG_P2P, "P2P" },
		{ MIGCTL_FLAG_PRE_COPY, "PRE_COPY" },
	};
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(mig_flags & names[i].bit))
			continue;
		used += snprintf(buf + used, used < size ? size - used : 0, "%s%s", used ? "|" : "",
				 names[i].name);
		mig_flags &= ~names[i].bit;
	}
	if (mig_flags)
		snprintf(buf + used, used < size ? size - used : 0, "%s0x%llx", used ? "|" : "",
			 (unsigned long long)mig_flags);
}

/* ---- the names of the other enums of the API, beside the states' */

const char *migctl_via_name(enum migctl_via via)
{
	static const char *const names[] = {
		[MIGCTL_VIA_AUTO] = "auto",
		[MIGCTL_VIA_CDEV] = "cdev",
		[MIGCTL_VIA_GROUP] = "group",
	};

	return name_in(names, ARRAY_SIZE(names), via, "unknown");
}

int migctl_via_parse(const char *name, enum migctl_via *via)
{
	for (enum migctl_via v = MIGCTL_VIA_AUTO; v <= MIGCTL_VIA_GROUP; v++) {
		if (strcmp(name, migctl_via_name(v)) == 0) {
			*via = v;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const on_error_names[] = {
	[MIGCTL_ON_ERROR_RESTORE] = "restore",
	[MIGCTL_ON_ERROR_RESET] = "reset",
	[MIGCTL_ON_ERROR_LEAVE] = "leave",
};

const char *migctl_on_error_name(enum migctl_on_error policy)
{
	return name_in(on_error_names, ARRAY_SIZE(on_error_names), policy, "default");
}

int migctl_on_error_parse(const char *name, enum migctl_on_error *policy)
{
	for (size_t i = 0; i < ARRAY_SIZE(on_error_names); i++) {
		if (on_error_names[i] && strcmp(name, on_error_names[i]) == 0) {
			*policy = (enum migctl_on_error)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *migctl_recovery_name(enum migctl_recovery recovery)
{
	static const char *const names[] = {
		[MIGCTL_RECOVERY_NONE] = "none",     [MIGCTL_RECOVERY_RESTORED] = "restored",
		[MIGCTL_RECOVERY_RESET] = "reset",   [MIGCTL_RECOVERY_LEFT] = "left",
		[MIGCTL_RECOVERY_FAILED] = "failed", [MIGCTL_RECOVERY_KEPT] = "kept",
	};

	return name_in(names, ARRAY_SIZE(names), recovery, "unknown");
}

const char *migctl_fail_at_name(enum migctl_fail_at at)
{
	static const char *const names[] = {
		[MIGCTL_FAIL_CHECK] = "check",	       [MIGCTL_FAIL_TRANSITION] = "transition",
		[MIGCTL_FAIL_DEVICE_IO] = "device-io", [MIGCTL_FAIL_LOAD] = "load",
		[MIGCTL_FAIL_SINK] = "sink",	       [MIGCTL_FAIL_SOURCE] = "source",
		[MIGCTL_FAIL_CANCEL] = "cancel",       [MIGCTL_FAIL_PEER] = "peer",
	};

	return name_in(names, ARRAY_SIZE(names), at, NULL);
}

const char *migctl_phase_name(enum migctl_phase phase)
{
	static const char *const names[] = {
		[MIGCTL_PHASE_PRE_COPY] = "pre-copy",
		[MIGCTL_PHASE_STOP_COPY] = "stop-copy",
		[MIGCTL_PHASE_RESUMING] = "resuming",
	};

	return name_in(names, ARRAY_SIZE(names), phase, "unknown");
}
