// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl inspect FILE|-: what a saved stream holds and whether it is
 * intact.  Exit 0 only for an intact stream, 7 otherwise.  A set's stream
 * (format 1.1) lists its members, each with the lines of a one-device
 * stream indented under "device K:", and in JSON a "devices" array of the
 * one-device objects; a one-device stream's output is as it always was.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "stream.h"

static error_t parse_inspect(int key, char *arg, struct argp_state *state)
{
	if (key == ARGP_KEY_END && !((const char **)state->input)[0])
		cli_usage("missing FILE (or - for stdin)");
	return cli_positionals(state, key, arg, state->input, 0, 1);
}

static const struct argp inspect_argp = {
	.parser = parse_inspect,
	.args_doc = "FILE|-",
	.doc = "Show what a saved stream holds (source device, flags, records and bytes "
	       "per phase; for a set, each device's, and whether it is intact) and verify "
	       "every record and the final digests.  Exits 0 for an intact stream, 7 for one "
	       "that is not, 1 if FILE cannot be read.",
	.children = cli_global_children,
};

/* A set's members are printed under "device K:", @in the indent of their lines */
static void print_header(const struct migctl_stream_header *h, const char *in)
{
	char when[32], flags[64], id[16];
	time_t t = (time_t)h->created;
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	migctl_flags_format(h->mig_flags, flags, sizeof(flags));

	out_text("%s", in);
	out_string("tool_version", "written by:  vfio-migctl %s\n", h->tool_version);
	out_text("%s", in);
	out_string("created", "created:     %s\n", when);
	out_open_object("source");
	out_text("%s", in);
	out_string("device", "source:      %s", h->name);
	out_string("bus", " (%s", migctl_bus_name(h->bus));
	out_string("driver", ", driver %s", h->driver);
	if (h->bus == MIGCTL_BUS_MDEV) {
		out_string("mdev_type", ", type %s", h->mdev_type);
	} else if (h->bus == MIGCTL_BUS_PCI) {
		snprintf(id, sizeof(id), "%04x:%04x", h->vendor, h->device);
		out_string("id", ", %s", id);
		snprintf(id, sizeof(id), "%04x:%04x", h->subsystem_vendor, h->subsystem_device);
		out_string("subsystem_id", " subsystem %s", id);
		out_uint("revision", " rev %02" PRIx64, h->revision);
	}
	out_text(")\n");
	out_close_object();
	out_uint("migration_flags", NULL, h->mig_flags);
	out_text("%smigration:   %s (0x%llx)\n", in, flags, (unsigned long long)h->mig_flags);
	out_text("%s", in);
	if (h->estimate)
		out_uint("estimate", "estimate:    %" PRIu64 " bytes\n", h->estimate);
	else
		out_null("estimate", "estimate:    unknown\n");
}

/* "pre-copy:    1 record, 24 bytes"; {"records", "bytes"} */
static void print_phase(const char *key, const char *label, uint64_t records, uint64_t bytes,
			const char *in)
{
	out_open_object(key);
	out_text("%s%-13s", in, label);
	out_uint("records", "%" PRIu64, records);
	out_text(" record%s", records == 1 ? "" : "s");
	out_uint("bytes", ", %" PRIu64, bytes);
	out_text(" byte%s\n", bytes == 1 ? "" : "s");
	out_close_object();
}

static void print_counts(const struct migctl_stream_stats *st, const char *in)
{
	print_phase("pre_copy", "pre-copy:", st->precopy_records, st->precopy_bytes, in);
	print_phase("stop_copy", "stop-copy:", st->stopcopy_records, st->stopcopy_bytes, in);
	if (st->skipped_records)
		out_text("%s", in);
	out_uint("skipped_records",
		 st->skipped_records ? "skipped:     %" PRIu64 " optional records\n" : NULL,
		 st->skipped_records);
	out_uint("records", NULL, st->records);
}

static void print_stats(const struct migctl_stream_stats *st)
{
	print_counts(st, "");
	out_uint("stream_bytes", "stream:      %" PRIu64 " bytes\n", st->stream_bytes);
}

/* A set: each member as a one-device stream would be, with its verdict */
static void print_members(struct migctl_stream_set_reader *reader,
			  const struct migctl_stream_stats *st)
{
	unsigned n = migctl_stream_set_reader_members(reader);

	out_uint(NULL, "devices:     %" PRIu64 "\n", n);
	out_open_array("devices");
	for (unsigned k = 0; k < n; k++) {
		const char *why = migctl_stream_set_reader_error(reader, k);

		out_open_object(NULL);
		out_uint("index", "device %" PRIu64 ":\n", k);
		print_header(migctl_stream_set_reader_header(reader, k), "  ");
		print_counts(&st[k], "  ");
		out_text("  ");
		out_bool("intact", "intact:      %s\n", st[k].intact);
		if (why[0]) {
			out_text("  ");
			out_string("error", "error:       %s\n", why);
		}
		out_close_object();
	}
	out_close_array();
}

static int run_inspect(int argc, char **argv)
{
	const char *args[1] = { NULL };
	struct migctl_stream_set_reader *reader;
	struct migctl_stream_stats st = { 0 }, *members = NULL;
	int fd = STDIN_FILENO, status = 0, r;

	cli_parse(&inspect_argp, 0, argc, argv, args);
	cli.device = args[0];
	if (strcmp(args[0], "-") != 0) {
		fd = open(args[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_fail(STAGE_INPUT, -errno, "%s", "");
	}
	out_init(cli.json, stdout);

	reader = migctl_stream_set_reader_new(fd, NULL);
	r = reader ? migctl_stream_set_reader_open(reader) : -ENOMEM;
	if (r == 0) {
		members = calloc(migctl_stream_set_reader_members(reader), sizeof(*members));
		if (!members)
			r = -ENOMEM;
	}
	if (r == 0) {
		out_open_object(NULL);
		r = migctl_stream_set_scan(reader, &st, members);
		if (migctl_stream_set_reader_is_set(reader)) {
			print_members(reader, members);
			out_uint("records", NULL, st.records);
			out_uint("stream_bytes", "stream:      %" PRIu64 " bytes\n",
				 st.stream_bytes);
		} else {
			print_header(migctl_stream_set_reader_header(reader, 0), "");
			print_stats(&st);
		}
		out_bool("intact", "intact:      %s\n", r == 0);
		if (r == -EBADMSG)
			out_string("error", NULL,
				   migctl_stream_set_reader_error(reader, MIGCTL_STREAM_SET_WHOLE));
		out_close_object();
	} else if (r == -EBADMSG) {
		/* Not even a header: JSON still says so, text has the error line */
		out_open_object(NULL);
		out_bool("intact", NULL, false);
		out_string("error", NULL,
			   migctl_stream_set_reader_error(reader, MIGCTL_STREAM_SET_WHOLE));
		out_close_object();
	}
	if (r)
		status = cli_fail_stream(
			r,
			reader ? migctl_stream_set_reader_error(reader, MIGCTL_STREAM_SET_WHOLE) :
				 "",
			reader &&
				migctl_stream_set_reader_fault(reader) == MIGCTL_STREAM_NOT_FRAMED,
			false);
	free(members);
	migctl_stream_set_reader_free(reader);
	if (fd != STDIN_FILENO)
		close(fd);
	return cli_finish(status);
}

const struct cli_command cmd_inspect = {
	.name = "inspect",
	.run = run_inspect,
	.summary = "show what a saved stream holds, and verify it",
	.no_from_pid = true,
};
