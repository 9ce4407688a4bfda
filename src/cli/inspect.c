// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vfio-migctl inspect FILE|-: what a saved stream holds and whether it is
 * intact.  Exit 0 only for an intact stream, 7 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
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
	       "per phase) and verify every record and the final digest.  Exits 0 for an "
	       "intact stream, 7 for one that is not, 1 if FILE cannot be read.",
	.children = cli_global_children,
};

static void print_header(const struct migctl_stream_header *h)
{
	char when[32], flags[64], id[16];
	time_t t = (time_t)h->created;
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	migctl_flags_format(h->mig_flags, flags, sizeof(flags));

	out_string("tool_version", "written by:  vfio-migctl %s\n", h->tool_version);
	out_string("created", "created:     %s\n", when);
	out_open_object("source");
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
	out_text("migration:   %s (0x%llx)\n", flags, (unsigned long long)h->mig_flags);
	if (h->estimate)
		out_uint("estimate", "estimate:    %" PRIu64 " bytes\n", h->estimate);
	else
		out_null("estimate", "estimate:    unknown\n");
}

/* "pre-copy:    1 record, 24 bytes"; {"records", "bytes"} */
static void print_phase(const char *key, const char *label, uint64_t records, uint64_t bytes)
{
	out_open_object(key);
	out_text("%-13s", label);
	out_uint("records", "%" PRIu64, records);
	out_text(" record%s", records == 1 ? "" : "s");
	out_uint("bytes", ", %" PRIu64, bytes);
	out_text(" byte%s\n", bytes == 1 ? "" : "s");
	out_close_object();
}

static void print_stats(const struct migctl_stream_stats *st)
{
	print_phase("pre_copy", "pre-copy:", st->precopy_records, st->precopy_bytes);
	print_phase("stop_copy", "stop-copy:", st->stopcopy_records, st->stopcopy_bytes);
	out_uint("skipped_records",
		 st->skipped_records ? "skipped:     %" PRIu64 " optional records\n" : NULL,
		 st->skipped_records);
	out_uint("records", NULL, st->records);
	out_uint("stream_bytes", "stream:      %" PRIu64 " bytes\n", st->stream_bytes);
}

static int run_inspect(int argc, char **argv)
{
	const char *args[1] = { NULL };
	struct migctl_stream_reader reader = { .fd = -1 };
	struct migctl_stream_stats st = { 0 };
	int fd = STDIN_FILENO, status = 0, r;

	cli_parse(&inspect_argp, 0, argc, argv, args);
	cli.device = args[0];
	if (strcmp(args[0], "-") != 0) {
		fd = open(args[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_fail(STAGE_INPUT, -errno, "%s", "");
	}
	out_init(cli.json, stdout);

	r = migctl_stream_reader_open(&reader, fd, NULL);
	if (r == 0) {
		out_open_object(NULL);
		print_header(migctl_stream_reader_header(&reader));
		r = migctl_stream_scan(&reader, &st);
		print_stats(&st);
		out_bool("intact", "intact:      %s\n", r == 0);
		if (r == -EBADMSG)
			out_string("error", NULL, migctl_stream_reader_error(&reader));
		out_close_object();
	} else if (r == -EBADMSG) {
		/* Not even a header: JSON still says so, text has the error line */
		out_open_object(NULL);
		out_bool("intact", NULL, false);
		out_string("error", NULL, migctl_stream_reader_error(&reader));
		out_close_object();
	}
	if (r)
		status = cli_fail_stream(r, migctl_stream_reader_error(&reader),
					 reader.error.fault == MIGCTL_STREAM_NOT_FRAMED, false);
	migctl_stream_reader_close(&reader);
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
