// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state path table, checked against an independent model: the arcs
 * the kernel documents drivers must implement (vfio_main.c), searched
 * breadth-first.  Every path must use only legal arcs for the flags, be
 * as short as the search says, and never open a data session midway: the
 * only data states allowed inside a path are PRE_COPY* on a path that
 * starts in PRE_COPY*, whose session carries on.
 */
#include <errno.h>

#include "migctl.h"
#include "unit.h"

#define ALL (MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P | MIGCTL_FLAG_PRE_COPY)

struct arc {
	enum migctl_state from, to;
	uint64_t needs;    /* all of these flags */
	uint64_t without;  /* none of these flags */
};

static const struct arc arcs[] = {
	{ MIGCTL_STATE_RESUMING, MIGCTL_STATE_STOP, MIGCTL_FLAG_STOP_COPY, 0 },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING, MIGCTL_FLAG_STOP_COPY, 0 },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY, MIGCTL_FLAG_STOP_COPY, 0 },
	{ MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_STOP, MIGCTL_FLAG_STOP_COPY, 0 },
	{ MIGCTL_STATE_RUNNING, MIGCTL_STATE_STOP, MIGCTL_FLAG_STOP_COPY, MIGCTL_FLAG_P2P },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_RUNNING, MIGCTL_FLAG_STOP_COPY, MIGCTL_FLAG_P2P },
	{ MIGCTL_STATE_RUNNING, MIGCTL_STATE_RUNNING_P2P, MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_RUNNING, MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_STOP, MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_STOP, MIGCTL_STATE_RUNNING_P2P, MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY, MIGCTL_FLAG_PRE_COPY, 0 },
	{ MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_RUNNING, MIGCTL_FLAG_PRE_COPY, 0 },
	{ MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_STOP_COPY, MIGCTL_FLAG_PRE_COPY, MIGCTL_FLAG_P2P },
	{ MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_FLAG_PRE_COPY | MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_STATE_PRE_COPY, MIGCTL_FLAG_PRE_COPY | MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_STATE_RUNNING_P2P, MIGCTL_FLAG_PRE_COPY | MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_STATE_STOP_COPY, MIGCTL_FLAG_PRE_COPY | MIGCTL_FLAG_P2P, 0 },
	{ MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_FLAG_PRE_COPY | MIGCTL_FLAG_P2P, 0 },
};

static bool legal(uint64_t flags, enum migctl_state from, enum migctl_state to)
{
	for (size_t i = 0; i < sizeof(arcs) / sizeof(arcs[0]); i++)
		if (arcs[i].from == from && arcs[i].to == to &&
		    (flags & MIGCTL_FLAG_STOP_COPY) &&
		    (arcs[i].needs & flags) == arcs[i].needs && !(arcs[i].without & flags))
			return true;
	return false;
}

static bool is_precopy(enum migctl_state s)
{
	return s == MIGCTL_STATE_PRE_COPY || s == MIGCTL_STATE_PRE_COPY_P2P;
}

static bool interior_ok(enum migctl_state from, enum migctl_state s)
{
	return !migctl_state_is_data(s) || (is_precopy(from) && is_precopy(s));
}

/* Documented as blocked: a finished pre-copy cannot be restarted */
static bool blocked(enum migctl_state from, enum migctl_state to)
{
	return from == MIGCTL_STATE_STOP_COPY && is_precopy(to);
}

/* Shortest number of legal arcs, with no data state in the middle; -1 if none */
static int distance(uint64_t flags, enum migctl_state from, enum migctl_state to)
{
	int dist[MIGCTL_NR_STATES], queue[MIGCTL_NR_STATES], head = 0, tail = 0;

	for (int s = 0; s < MIGCTL_NR_STATES; s++)
		dist[s] = -1;
	dist[from] = 0;
	queue[tail++] = from;
	while (head < tail) {
		int cur = queue[head++];

		if (cur == (int)to)
			return dist[cur];
		if (cur != (int)from && !interior_ok(from, cur))
			continue;
		for (int next = 0; next < MIGCTL_NR_STATES; next++) {
			if (dist[next] >= 0 || !legal(flags, cur, next))
				continue;
			dist[next] = dist[cur] + 1;
			queue[tail++] = next;
		}
	}
	return -1;
}

static void check_all_paths(uint64_t flags)
{
	for (int from = 0; from < MIGCTL_NR_STATES; from++) {
		for (int to = 0; to < MIGCTL_NR_STATES; to++) {
			enum migctl_state path[MIGCTL_ARCS_MAX];
			bool ok_ends = migctl_state_supported(flags, from) &&
				       migctl_state_supported(flags, to);
			int want = ok_ends && !blocked(from, to) ? distance(flags, from, to) : -1;
			size_t len;
			int r = migctl_state_path(flags, from, to, path, &len);
			bool arcs_ok = true;
			enum migctl_state cur = from;

			if (want < 0) {
				CHECK_EQ_INT(r, -EINVAL, "flags 0x%llx: %s -> %s refused",
					     (unsigned long long)flags, migctl_state_name(from),
					     migctl_state_name(to));
				continue;
			}
			for (size_t i = 0; r == 0 && i < len; i++) {
				arcs_ok &= legal(flags, cur, path[i]);
				arcs_ok &= i + 1 == len || interior_ok(from, path[i]);
				cur = path[i];
			}
			CHECK(r == 0 && (int)len == want && arcs_ok && cur == (enum migctl_state)to,
			      "flags 0x%llx: %s -> %s in %d legal arcs",
			      (unsigned long long)flags, migctl_state_name(from),
			      migctl_state_name(to), want);
		}
	}
}

static void check_kernel_examples(void)
{
	/* Combination transitions spelled out in vfio_main.c, all flags on */
	static const struct {
		enum migctl_state path[MIGCTL_ARCS_MAX + 1];
		size_t len;
	} examples[] = {
		{ { MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_STATE_STOP_COPY }, 3 },
		{ { MIGCTL_STATE_PRE_COPY, MIGCTL_STATE_RUNNING, MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING }, 5 },
		{ { MIGCTL_STATE_RESUMING, MIGCTL_STATE_STOP, MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY }, 5 },
		{ { MIGCTL_STATE_RUNNING, MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_STOP, MIGCTL_STATE_STOP_COPY }, 4 },
		{ { MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_STOP, MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_RUNNING }, 4 },
		{ { MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_RUNNING, MIGCTL_STATE_PRE_COPY }, 3 },
		{ { MIGCTL_STATE_PRE_COPY_P2P, MIGCTL_STATE_RUNNING_P2P, MIGCTL_STATE_STOP, MIGCTL_STATE_RESUMING }, 4 },
	};

	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		enum migctl_state path[MIGCTL_ARCS_MAX];
		size_t len, n = examples[i].len;
		int r = migctl_state_path(ALL, examples[i].path[0], examples[i].path[n - 1],
				       path, &len);
		bool same = r == 0 && len == n - 1;

		for (size_t j = 0; same && j < len; j++)
			same = path[j] == examples[i].path[j + 1];
		CHECK(same, "kernel example %s -> %s", migctl_state_name(examples[i].path[0]),
		      migctl_state_name(examples[i].path[n - 1]));
	}
}

static void check_without_p2p(void)
{
	enum migctl_state path[MIGCTL_ARCS_MAX];
	size_t len;

	/* Unsupported intermediate states are skipped, as the kernel does */
	CHECK(migctl_state_path(MIGCTL_FLAG_STOP_COPY, MIGCTL_STATE_RUNNING, MIGCTL_STATE_STOP, path, &len) == 0 &&
		      len == 1 && path[0] == MIGCTL_STATE_STOP,
	      "RUNNING -> STOP is direct without P2P");
	CHECK(migctl_state_path(MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_PRE_COPY, MIGCTL_STATE_PRE_COPY,
			     MIGCTL_STATE_STOP_COPY, path, &len) == 0 &&
		      len == 1 && path[0] == MIGCTL_STATE_STOP_COPY,
	      "PRE_COPY -> STOP_COPY is direct without P2P");
	CHECK_EQ_INT(migctl_state_path(ALL, MIGCTL_STATE_STOP_COPY, MIGCTL_STATE_PRE_COPY, path, &len), -EINVAL,
		     "STOP_COPY -> PRE_COPY is blocked");
	CHECK_EQ_INT(migctl_state_path(ALL, MIGCTL_STATE_RUNNING, MIGCTL_STATE_ERROR, path, &len), -EINVAL,
		     "ERROR cannot be requested");
	CHECK(migctl_state_path(ALL, MIGCTL_STATE_STOP, MIGCTL_STATE_STOP, path, &len) == 0 && len == 0,
	      "a state to itself is no arcs");
}

static void check_names(void)
{
	static const struct {
		const char *name;
		int want;
	} cases[] = {
		{ "stop", MIGCTL_STATE_STOP },
		{ "RUNNING", MIGCTL_STATE_RUNNING },
		{ "stop_copy", MIGCTL_STATE_STOP_COPY },
		{ "stop-copy", MIGCTL_STATE_STOP_COPY },
		{ "Stop-Copy", MIGCTL_STATE_STOP_COPY },
		{ "pre_copy_p2p", MIGCTL_STATE_PRE_COPY_P2P },
		{ "running-p2p", MIGCTL_STATE_RUNNING_P2P },
		{ "resuming", MIGCTL_STATE_RESUMING },
		{ "error", MIGCTL_STATE_ERROR },
		{ "", -1 },
		{ "stopcopy", -1 },
		{ "stop copy", -1 },
		{ "running_p2p_and_more", -1 },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum migctl_state s = MIGCTL_NR_STATES;
		int r = migctl_state_parse(cases[i].name, &s);

		if (cases[i].want < 0)
			CHECK_EQ_INT(r, -EINVAL, "'%s' is not a state", cases[i].name);
		else
			CHECK(r == 0 && (int)s == cases[i].want, "'%s' parses",
			      cases[i].name);
	}
	for (int s = 0; s < MIGCTL_NR_STATES; s++) {
		enum migctl_state back;

		CHECK(migctl_state_parse(migctl_state_name(s), &back) == 0 && (int)back == s,
		      "%s round-trips", migctl_state_name(s));
	}
	migctl_flags_format(ALL, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "STOP_COPY|P2P|PRE_COPY", "flags 0x7 by name");
	migctl_flags_format(MIGCTL_FLAG_STOP_COPY | 0x100, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "STOP_COPY|0x100", "unknown flag bits shown in hex");
	migctl_flags_format(0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "", "no flags");
}

int main(void)
{
	static const uint64_t combos[] = {
		0,
		MIGCTL_FLAG_STOP_COPY,
		MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_P2P,
		MIGCTL_FLAG_STOP_COPY | MIGCTL_FLAG_PRE_COPY,
		ALL,
		MIGCTL_FLAG_P2P | MIGCTL_FLAG_PRE_COPY, /* no STOP_COPY: nothing works */
	};

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		check_all_paths(combos[i]);
	check_kernel_examples();
	check_without_p2p();
	check_names();
	return unit_done();
}
