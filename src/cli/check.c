// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl check DEV [DEV2]: the migration uAPI's contract as rules.
 * The core runs them and puts the device back (src/lib/check.c); this
 * file picks the rules, prints a line per verdict and a summary, and
 * turns the outcome into a status.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "util.h"

struct check_args {
	const char *pos[2]; /* DEV, DEV2 */
	bool force;
	bool list;
	bool *picked; /* one per rule; all run when none is picked */
	bool any_picked;
};

enum { OPT_RULE = 0x200, OPT_LIST };

static const struct argp_option check_options[] = {
	{ "rule", OPT_RULE, "ID", 0,
	  "Run only rule ID, or a family of rules (fsm, data, ...); may be repeated", 0 },
	{ "force", OPT_FORCE, NULL, 0,
	  "Check a device whose state cannot be saved to be put back afterwards, "
	  "or one taken from a running process (--from-pid)",
	  0 },
	{ "list", OPT_LIST, NULL, 0, "List the rules: id, statement and source", 0 },
	{ 0 }
};

/* An id, or the family before its dot ("fsm" picks every "fsm.*") */
static void pick_rules(struct check_args *a, const char *name)
{
	size_t len = strlen(name), n = migctl_rule_count();
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		const char *id = migctl_rule(i)->id;

		if (strcmp(id, name) == 0 || (strncmp(id, name, len) == 0 && id[len] == '.')) {
			a->picked[i] = true;
			found = true;
		}
	}
	if (!found)
		cli_usage("no rule or family '%s' ('vfio-migctl check --list' shows them)", name);
	a->any_picked = true;
}

static error_t parse_check(int key, char *arg, struct argp_state *state)
{
	struct check_args *a = state->input;

	switch (key) {
	case OPT_RULE:
		pick_rules(a, arg);
		return 0;
	case OPT_FORCE:
		a->force = true;
		return 0;
	case OPT_LIST:
		a->list = true;
		return 0;
	case ARGP_KEY_END:
		/* covers DEV2 too: pos[] fills in order */
		if (a->list && a->pos[0])
			cli_usage("--list takes no DEV");
		break;
	}
	return cli_positionals(state, key, arg, a->pos, a->list ? 0 : 1, 2);
}

static const struct argp check_argp = {
	.options = check_options,
	.parser = parse_check,
	.args_doc = "DEV [DEV2]",
	.doc = "Check a device against the VFIO migration protocol v2: one line per rule "
	       "(PASS, FAIL, WARN or SKIP) and a summary.\v"
	       "DEV's state is saved into memory first and put back at the end, with the "
	       "migration state it was found in; DEV2, a device of the same kind, takes "
	       "DEV's stream for the round trip and is put back too.  FAIL is a \"must\" "
	       "of the uAPI broken, WARN a \"should\" departed from.  Status 8 when a rule "
	       "failed; man vfio-migctl lists the rules and their sources.",
	.children = cli_global_children,
};

static int list_rules(void)
{
	static const char *const headers[] = { "ID", "STATEMENT" };

	out_open_object(NULL);
	out_table_open("rules", headers, ARRAY_SIZE(headers));
	for (size_t i = 0; i < migctl_rule_count(); i++) {
		const struct migctl_rule *rule = migctl_rule(i);

		out_row_open();
		out_cell("id", rule->id);
		out_cell("statement", rule->statement);
		out_string("source", NULL, rule->source);
		out_row_close();
	}
	out_table_close();
	out_close_object();
	return cli_finish(0);
}

static void print_result(const struct migctl_rule *rule, const struct migctl_rule_result *res)
{
	const char *verdict = migctl_verdict_name(res->verdict);
	char upper[8];
	size_t i;

	for (i = 0; verdict[i] && i + 1 < sizeof(upper); i++)
		upper[i] = (char)toupper((unsigned char)verdict[i]);
	upper[i] = '\0';
	out_open_object(NULL);
	out_string("id", NULL, rule->id);
	out_string("verdict", NULL, verdict);
	out_string("statement", NULL, rule->statement);
	out_string("source", NULL, rule->source);
	out_string("detail", NULL, res->detail);
	/* -q: what needs looking at only */
	if (!cli.quiet || res->verdict == MIGCTL_FAIL || res->verdict == MIGCTL_WARN)
		out_text("%-4s  %-26s %s: %s\n", upper, rule->id, rule->statement, res->detail);
	out_close_object();
}

static void print_putback(const char *name, const struct migctl_putback *pb)
{
	const char *found = migctl_state_name(pb->found);
	bool ok = pb->attempted && !pb->restore_err;

	out_open_object(NULL);
	out_string("device", "put back: %s: ", name);
	out_string("found", NULL, found);
	if (pb->save_err)
		out_null("saved_bytes", NULL);
	else
		out_uint("saved_bytes", NULL, pb->saved_bytes);
	if (pb->final == MIGCTL_NR_STATES)
		out_null("final", NULL);
	else
		out_string("final", NULL, migctl_state_name(pb->final));
	out_bool("reset", NULL, pb->reset);
	out_bool("ok", NULL, ok);
	if (!ok)
		out_text("FAILED; found in %s, now %s\n", found, migctl_state_name(pb->final));
	else if (pb->save_err)
		out_text("state not saved (--force); %s, as found\n", found);
	else
		out_text("saved state (%" PRIu64 " bytes) resumed; %s, as found%s\n",
			 pb->saved_bytes, found, pb->reset ? " (after a reset)" : "");
	out_close_object();
}

/* DEV and DEV2 resolved, told apart, and opened (*dev2 NULL without DEV2) */
static int open_devices(const struct check_args *a, struct migctl_dev **dev,
			struct migctl_dev **dev2)
{
	struct migctl_device_desc desc, desc2;
	int status;

	*dev = *dev2 = NULL;
	if (a->pos[1] && (status = cli_resolve_device(a->pos[1], &desc2)))
		return status;
	if ((status = cli_resolve_device(a->pos[0], &desc)))
		return status;
	if (a->pos[1] && strcmp(desc.name, desc2.name) == 0)
		cli_usage("DEV2 is DEV (%s): give another device of the same kind", desc.name);
	if (a->pos[1]) {
		cli.device = a->pos[1];
		status = cli_open_desc(&desc2, dev2);
		cli.device = a->pos[0];
		if (status)
			return status;
	}
	status = cli_open_desc(&desc, dev);
	/* Through a live holder's file (--from-pid), only when forced */
	if (!status)
		status = cli_may_change(*dev, a->force,
					"a check (it takes the device through every state)");
	if (status) {
		migctl_dev_close(*dev);
		migctl_dev_close(*dev2);
		*dev = *dev2 = NULL;
	}
	return status;
}

/* Rules, one line each, until all are done or a signal asks to stop */
static void run_rules(struct migctl_check *chk, const struct check_args *a, size_t counts[],
		      char *failed, size_t size)
{
	struct migctl_rule_result res;

	out_open_array("rules");
	for (size_t i = 0; i < migctl_rule_count() && !cli_cancel; i++) {
		if (a->any_picked && !a->picked[i])
			continue;
		if (migctl_check_run(chk, i, &res))
			continue;
		print_result(migctl_rule(i), &res);
		counts[res.verdict]++;
		if (res.verdict == MIGCTL_FAIL)
			str_list_add(failed, size, migctl_rule(i)->id);
	}
	out_close_array();
}

/*
 * check could not save a device's state to put it back (putback->save_err),
 * or refused it (ERROR, a session open, no migration): nothing was changed.
 * @who: "" for DEV, "DEV2 NAME" for the second device.
 */
static int fail_check_save(const char *who, int err, uint64_t estimate, size_t bound)
{
	char cause[160], limit[32];

	switch (err) {
	case -EOPNOTSUPP:
		snprintf(cause, sizeof(cause), "its migration flags have no STOP_COPY");
		break;
	case -EFBIG:
		format_bytes(bound, limit, sizeof(limit));
		if (estimate > bound)
			snprintf(cause, sizeof(cause),
				 "MIG_DATA_SIZE says %llu bytes, above "
				 "check's bound of %s",
				 (unsigned long long)estimate, limit);
		else
			snprintf(cause, sizeof(cause), "it is above check's bound of %s", limit);
		break;
	default:
		/* a refused device is left as found: these are check's own limits */
		if (err == -EBADFD || err == -EBUSY || err == -ENOTTY)
			return cli_fail(STAGE_QUERY, err, "%s%s", who, who[0] ? ": " : "");
		snprintf(cause, sizeof(cause), "saving it failed: %s", cli_cause(STAGE_QUERY, err));
		break;
	}
	cli_error("%s%scannot save its state to put it back afterwards: %s; nothing was "
		  "changed (--force checks it anyway)",
		  who, who[0] ? ": " : "", cause);
	return EXIT_UNSUPPORTED;
}

/* check could not put a device back as found (@pb says why and where it is) */
static int fail_put_back(const char *who, const struct migctl_putback *pb)
{
	char cause[256];

	if (pb->restore_err == -EPROTO && pb->fail_at == MIGCTL_FAIL_NONE)
		snprintf(cause, sizeof(cause), "it did not return to %s",
			 migctl_state_name(pb->found));
	else if (pb->fail_at == MIGCTL_FAIL_LOAD)
		snprintf(cause, sizeof(cause), "RESUMING -> STOP refused its saved state: %s",
			 cli_cause(STAGE_TRANSITION, pb->restore_err));
	else
		snprintf(cause, sizeof(cause), "%s", cli_cause(STAGE_TRANSITION, pb->restore_err));
	cli_error("%s%scould not be put back: %s; found in %s, it is now %s%s%s%s", who,
		  who[0] ? ": " : "", cause, migctl_state_name(pb->found),
		  migctl_state_name(pb->final), pb->reset ? " (after a reset)" : "",
		  pb->final == MIGCTL_STATE_ERROR ? "; " : "",
		  pb->final == MIGCTL_STATE_ERROR ? cli_error_remedy() : "");
	return cli_status_for_state(EXIT_TRANSITION, pb->final);
}

/* check: @failed rules failed (@ids, comma-separated): status 8 */
static int fail_rules(size_t failed, const char *ids)
{
	cli_error("%zu rule%s failed: %s", failed, failed == 1 ? "" : "s", ids);
	return EXIT_RULE_FAILED;
}

/* "DEV2 NAME: " in front of what is said of DEV2; nothing for DEV */
static void who_of(int which, struct migctl_dev *dev2, char *who, size_t size)
{
	if (which)
		snprintf(who, size, "DEV2 %s", migctl_dev_desc(dev2)->name);
	else
		who[0] = '\0';
}

static int put_back(struct migctl_check *chk, struct migctl_dev *dev, struct migctl_dev *dev2)
{
	int status = 0;

	migctl_check_restore(chk);
	out_open_array("put_back");
	for (int i = 0; i < 2; i++) {
		const struct migctl_putback *pb = migctl_check_putback(chk, i);

		if (!pb || !pb->attempted)
			continue;
		print_putback(migctl_dev_desc(i ? dev2 : dev)->name, pb);
		if (pb->restore_err && !status) {
			char who[MIGCTL_NAME_MAX + 8];

			who_of(i, dev2, who, sizeof(who));
			status = fail_put_back(who, pb);
		}
	}
	out_close_array();
	return status;
}

static int run_check(int argc, char **argv)
{
	struct check_args a = { .pos = { NULL, NULL } };
	struct migctl_check_opts opts = { .cancel = &cli_cancel };
	struct migctl_check *chk = NULL;
	struct migctl_dev *dev = NULL, *dev2 = NULL;
	size_t counts[MIGCTL_NR_VERDICTS] = { 0 };
	char failed[1024] = "";
	int status, which, r;

	a.picked = calloc(migctl_rule_count(), sizeof(*a.picked));
	if (!a.picked)
		return cli_fail(STAGE_RUN, -ENOMEM, "%s", "");
	cli_parse(&check_argp, 0, argc, argv, &a);
	out_init(cli.json, stdout);
	if (a.list) {
		free(a.picked);
		return list_rules();
	}
	status = open_devices(&a, &dev, &dev2);
	if (status)
		goto out;
	cli_catch_signals();

	opts.force = a.force;
	r = migctl_check_new(dev, dev2, &opts, &chk);
	if (r) {
		status = cli_fail(STAGE_RUN, r, "%s", "");
		goto out;
	}
	r = migctl_check_save(chk, &which);
	if (r == -EINTR) {
		/* a signal during the save: the engine put the device back */
		status = cli_fail(STAGE_RUN, r, "%s", "");
		goto out;
	}
	if (r) {
		const struct migctl_putback *pb = migctl_check_putback(chk, which);
		char who[MIGCTL_NAME_MAX + 8];

		who_of(which, dev2, who, sizeof(who));
		status = fail_check_save(who, r, pb->estimate, MIGCTL_CHECK_STATE_MAX);
		goto out;
	}

	out_open_object(NULL);
	out_string("device", "check %s", migctl_dev_desc(dev)->name);
	if (dev2)
		out_string("device2", " with %s", migctl_dev_desc(dev2)->name);
	else
		out_null("device2", NULL);
	out_text("\n");
	run_rules(chk, &a, counts, failed, sizeof(failed));
	status = put_back(chk, dev, dev2);

	out_open_object("summary");
	out_uint("pass", "summary: %" PRIu64 " pass", counts[MIGCTL_PASS]);
	out_uint("warn", ", %" PRIu64 " warn", counts[MIGCTL_WARN]);
	out_uint("fail", ", %" PRIu64 " fail", counts[MIGCTL_FAIL]);
	out_uint("skip", ", %" PRIu64 " skip\n", counts[MIGCTL_SKIP]);
	out_close_object();
	out_close_object();

	/* The device not as found outweighs a rule; an interruption, both */
	if (!status && cli_cancel)
		status = cli_fail(STAGE_RUN, -EINTR, "%s", "");
	else if (!status && counts[MIGCTL_FAIL])
		status = fail_rules(counts[MIGCTL_FAIL], failed);
out:
	migctl_check_free(chk);
	migctl_dev_close(dev);
	migctl_dev_close(dev2);
	free(a.picked);
	return cli_finish(status);
}

const struct cli_command cmd_check = {
	.name = "check",
	.run = run_check,
	.summary = "check a device against the migration uAPI's rules",
	.no_from_pid = false,
};
