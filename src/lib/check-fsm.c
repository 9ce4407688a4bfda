// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * check's rules on the state machine: the migration flags (flags.*), GET
 * (state.*), and the arcs SET takes and refuses (fsm.*).
 *
 * Each rule is a struct check_rule beside its body, written from the uAPI's
 * own words; check.c runs them in the order of its table.
 */
#include <errno.h>

#include "check.h"

/* ---- migration flags and GET */

static void check_flags_stop_copy(struct rule_run *x)
{
	uint64_t f = x->d->pb.mig_flags;
	uint64_t undefined =
		f & ~(uint64_t)(MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P | MIGCTL_FLAG_PRE_COPY);
	char names[64];

	migctl_flags_format(f, names, sizeof(names));
	if (!(f & MIGCTL_FLAG_STOP_COPY))
		check_finding(x, MIGCTL_FAIL, "flags %s (0x%llx): no STOP_COPY", f ? names : "none",
			      (unsigned long long)f);
	if (undefined)
		check_finding(x, MIGCTL_WARN, "flags 0x%llx are not defined by the uAPI",
			      (unsigned long long)undefined);
	check_passed(x, "%s (0x%llx)", names, (unsigned long long)f);
}

const struct check_rule rule_flags_stop_copy = {
	.rule = {
		.id = "flags.stop-copy",
		.statement = "VFIO_DEVICE_FEATURE_MIGRATION sets VFIO_MIGRATION_STOP_COPY, and no "
			     "flag the uAPI does not define",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_MIGRATION: \"at least "
			  "VFIO_MIGRATION_STOP_COPY must be set\"; \"Other combinations of flags "
			  "have behavior to be defined in the future\"",
	},
	.run = check_flags_stop_copy,
};

static void check_state_get(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got;
	size_t n = check_tour(x->d, states), seen = 0;
	char unreached[128] = "";
	int fd = -1, r;

	for (size_t i = 0; i <= n; i++) {
		/* the state found first, then every offered one (not reached: fsm.arcs') */
		if (i > 0 && check_go(x->d, states[i - 1], &fd)) {
			str_list_add(unreached, sizeof(unreached),
				     migctl_state_name(states[i - 1]));
			continue;
		}
		r = migctl_get_state(x->d->dev, &got);
		if (r == -EPROTO)
			check_finding(x, MIGCTL_FAIL,
				      "%s%s: GET gave a value outside enum vfio_device_mig_state",
				      i ? "after SET " : "as found",
				      i ? migctl_state_name(states[i - 1]) : "");
		else if (r)
			check_finding(x, MIGCTL_FAIL, "GET fails with %s", check_eno(r));
		else if (!check_offers(x->d, got) && !(got == MIGCTL_STATE_RUNNING && !n))
			check_finding(x, MIGCTL_FAIL, "GET gave %s, which the flags do not offer",
				      migctl_state_name(got));
		else
			seen++;
	}
	check_close_fd(&fd);
	check_passed(x, "GET gave an offered state in each of the %zu states visited%s%s", seen,
		     unreached[0] ? "; not reached: " : "", unreached);
}

const struct check_rule rule_state_get = {
	.rule = {
		.id = "state.get",
		.statement = "MIG_DEVICE_STATE GET gives a state the migration flags offer, in "
			     "every state the device is moved to",
		.source = VFIO_H ", VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: \"Upon "
			  "VFIO_DEVICE_FEATURE_GET, get the current migration state\"; enum "
			  "vfio_device_mig_state",
	},
	.run = check_state_get,
};

/* ---- the state machine */

static void check_fsm_arcs(struct rule_run *x)
{
	enum migctl_state states[MIGCTL_NR_STATES], got, path[MIGCTL_ARCS_MAX];
	size_t n = check_tour(x->d, states), arcs = 0, len;
	bool no_resuming = false;
	int fd = -1, r;

	for (size_t i = 0; i < n; i++) {
		enum migctl_state a = states[i];

		for (size_t j = 0; j < n; j++) {
			enum migctl_state b = states[j];

			/*
			 * No path between offered states: STOP_COPY -> PRE_COPY*,
			 * refused by the uAPI (fsm.blocked-arcs)
			 */
			if (a == b || migctl_state_path(x->d->pb.mig_flags, a, b, path, &len))
				continue;
			/* RESUMING is left through STOP, which needs a stream to load */
			if (a == MIGCTL_STATE_RESUMING && !x->d->saved.len) {
				no_resuming = true;
				continue;
			}
			r = check_go(x->d, a, &fd);
			got = check_get_state(x->d);
			if (r || got != a) {
				check_finding(x, MIGCTL_FAIL,
					      "%s not reached to try %s -> %s: %s%s; GET says %s",
					      migctl_state_name(a), migctl_state_name(a),
					      migctl_state_name(b),
					      r ? "SET fails with " : "SET succeeded",
					      r ? check_eno(r) : "", migctl_state_name(got));
				continue;
			}
			if (a == MIGCTL_STATE_RESUMING && (r = check_write_saved(x->d, fd))) {
				check_finding(x, MIGCTL_FAIL,
					      "writing the saved stream in RESUMING fails with %s",
					      check_eno(r));
				continue;
			}
			r = check_set_state(x->d, b, &fd);
			got = check_get_state(x->d);
			if (r)
				check_finding(x, MIGCTL_FAIL, "%s -> %s fails with %s; GET says %s",
					      migctl_state_name(a), migctl_state_name(b),
					      check_eno(r), migctl_state_name(got));
			else if (got != b)
				check_finding(x, MIGCTL_FAIL, "%s -> %s succeeded, but GET says %s",
					      migctl_state_name(a), migctl_state_name(b),
					      migctl_state_name(got));
			else
				arcs++;
			if (!migctl_state_is_data(got))
				check_close_fd(&fd);
		}
	}
	check_close_fd(&fd);
	check_passed(x, "%zu arcs between %zu states%s", arcs, n,
		     no_resuming ? "; none from RESUMING (no saved stream to load)" : "");
}

const struct check_rule rule_fsm_arcs = {
	.rule = {
		.id = "fsm.arcs",
		.statement = "From every offered state, a SET to every other offered state "
			     "succeeds and GET then gives that state",
		.source = VFIO_H ": \"The kernel migration driver must fully transition the device "
			  "to the new state value before the operation returns to the user\"; "
			  "drivers/vfio/vfio_main.c, vfio_mig_get_next_state()",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_arcs,
};

/*
 * SET @t (called @name), which must fail with EINVAL and leave the device
 * in the state found: false if it moved
 */
static bool set_refused(struct rule_run *x, enum migctl_state t, const char *name)
{
	enum migctl_state found = x->d->pb.found, got;
	int r = check_set_state(x->d, t, NULL);

	got = check_get_state(x->d);
	if (r == 0)
		check_finding(x, MIGCTL_FAIL, "SET %s succeeded; GET says %s", name,
			      migctl_state_name(got));
	else if (r != -EINVAL)
		check_finding(x, MIGCTL_WARN, "SET %s fails with %s, not EINVAL", name,
			      check_eno(r));
	if (got == found)
		return true;
	check_finding(x, MIGCTL_FAIL, "after SET %s the device is in %s, not %s", name,
		      migctl_state_name(got), migctl_state_name(found));
	return false;
}

static void check_fsm_unsupported_einval(struct rule_run *x)
{
	enum migctl_state found = x->d->pb.found;
	char names[128] = "";

	/* every state not offered, and the first value past the enum */
	for (unsigned int s = MIGCTL_STATE_STOP; s <= MIGCTL_NR_STATES; s++) {
		enum migctl_state t = (enum migctl_state)s;
		const char *name =
			s == MIGCTL_NR_STATES ? "8 (past the enum)" : migctl_state_name(t);

		if (s < MIGCTL_NR_STATES && check_offers(x->d, t))
			continue;
		if (!set_refused(x, t, name))
			check_go(x->d, found, NULL);
		str_list_add(names, sizeof(names), name);
	}
	check_passed(x, "refused with EINVAL in %s, which stayed: %s", migctl_state_name(found),
		     names);
}

const struct check_rule rule_fsm_unsupported_einval = {
	.rule = {
		.id = "fsm.unsupported-einval",
		.statement = "A SET to a state the flags do not offer, or past the enum, fails "
			     "with EINVAL and leaves the state as it was",
		.source = VFIO_H ": \"The optional states cannot be used with SET_STATE if the "
			  "device does not support them\"; drivers/vfio/vfio_main.c, "
			  "vfio_mig_get_next_state() returns -EINVAL",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_unsupported_einval,
};

/* a device the SET moved is brought back by the put back between rules (settle) */
static void check_fsm_error_refused(struct rule_run *x)
{
	set_refused(x, MIGCTL_STATE_ERROR, migctl_state_name(MIGCTL_STATE_ERROR));
	check_passed(x, "refused with EINVAL in %s, which stayed",
		     migctl_state_name(x->d->pb.found));
}

const struct check_rule rule_fsm_error_refused = {
	.rule = {
		.id = "fsm.error-refused",
		.statement = "A SET to ERROR fails with EINVAL and leaves the state as it was",
		.source = VFIO_H ", any -> ERROR: \"ERROR cannot be specified as a device state\"",
	},
	.needs = NEED_STOP_COPY,
	.run = check_fsm_error_refused,
};

static void check_fsm_blocked_arcs(struct rule_run *x)
{
	static const enum migctl_state targets[] = { MIGCTL_STATE_PRE_COPY,
						     MIGCTL_STATE_PRE_COPY_P2P };
	enum migctl_state got;
	int fd = -1, r, err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		if (!check_offers(x->d, targets[i]))
			continue;
		r = check_go(x->d, MIGCTL_STATE_STOP_COPY, &fd);
		if (r || check_get_state(x->d) != MIGCTL_STATE_STOP_COPY) {
			check_finding(x, MIGCTL_FAIL, "STOP_COPY not reached (%s)",
				      r ? check_eno(r) : "GET disagrees");
			break;
		}
		r = check_set_state(x->d, targets[i], &fd);
		got = check_get_state(x->d);
		if (r == 0)
			check_finding(x, MIGCTL_FAIL, "STOP_COPY -> %s succeeded; GET says %s",
				      migctl_state_name(targets[i]), migctl_state_name(got));
		else if (got != MIGCTL_STATE_STOP_COPY)
			check_finding(x, MIGCTL_FAIL,
				      "after the refused STOP_COPY -> %s the device is in %s",
				      migctl_state_name(targets[i]), migctl_state_name(got));
		err = r;
	}
	check_close_fd(&fd);
	check_passed(x, "refused with %s; the device stayed in STOP_COPY", check_eno(err));
}

const struct check_rule rule_fsm_blocked_arcs = {
	.rule = {
		.id = "fsm.blocked-arcs",
		.statement = "STOP_COPY -> PRE_COPY and STOP_COPY -> PRE_COPY_P2P fail, and the "
			     "device stays in STOP_COPY",
		.source = VFIO_H ", STOP_COPY -> PRE_COPY: \"These arcs are not permitted and "
			  "return error if requested\"",
	},
	.needs = NEED_STOP_COPY | NEED_PRE_COPY,
	.run = check_fsm_blocked_arcs,
};
