// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * save and resume over a set of devices (DEV DEV...): one stream, one
 * unit, the RUNNING_P2P barrier between the members (libmigctl's set.c).
 * One device never comes here: it keeps its own path, output and format.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

struct set_cli {
	size_t n;
	struct migctl_device_desc desc[CLI_SET_MAX];
	struct migctl_dev *dev[CLI_SET_MAX];
	struct migctl_set_member members[CLI_SET_MAX];
	struct cli_member report[CLI_SET_MAX];
	/* the progress bar of the whole: every member's bytes, summed */
	pthread_mutex_t lock;
	struct migctl_progress progress[CLI_SET_MAX];
	struct set_progress_slot {
		struct set_cli *set;
		size_t index;
	} slot[CLI_SET_MAX];
};

/* A member's progress (its own thread): the bar shows the set's sum */
static void set_progress(void *arg, const struct migctl_progress *p)
{
	struct set_progress_slot *slot = arg;
	struct set_cli *s = slot->set;
	struct migctl_progress sum = { .phase = p->phase };

	pthread_mutex_lock(&s->lock);
	s->progress[slot->index] = *p;
	for (size_t i = 0; i < s->n; i++) {
		sum.bytes += s->progress[i].bytes;
		sum.estimate += s->progress[i].estimate;
	}
	cli_progress(NULL, &sum);
	pthread_mutex_unlock(&s->lock);
}

static void set_init(struct set_cli *s, struct transfer_args *a)
{
	*s = (struct set_cli){ 0 };
	while (s->n < CLI_SET_MAX && a->pos[s->n])
		s->n++;
	pthread_mutex_init(&s->lock, NULL);
	for (size_t i = 0; i < s->n; i++)
		s->slot[i] = (struct set_progress_slot){ .set = s, .index = i };
	a->opts.progress = set_progress;
}

/* Every DEV resolved and named once, before any stream or device is touched */
static int resolve_all(struct set_cli *s, struct transfer_args *a)
{
	if (a->raw)
		return cli_refuse(STAGE_USAGE, -EINVAL,
				  "--raw carries one device's kernel stream; "
				  "a set needs the framed format");
	return cli_resolve_devices(a->pos, s->n, s->desc);
}

static int close_all(struct set_cli *s, int status)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i])
			status = cli_close_device(s->dev[i], status);
	pthread_mutex_destroy(&s->lock);
	return status;
}

static int report(struct set_cli *s, struct transfer_args *a, bool resuming, int r, size_t which,
		  const char *detail, const char *note)
{
	for (size_t i = 0; i < s->n; i++)
		s->report[i] =
			(struct cli_member){ .arg = a->pos[i],
					     .desc = &s->desc[i],
					     .res = s->members[i].result,
					     .precopy_bytes = s->members[i].result.precopy_bytes };
	return cli_report_set(&(struct transfer_report){ .resuming = resuming,
							 .err = r,
							 .to_stderr = !resuming && !a->file,
							 .detail = detail,
							 .note = note },
			      s->report, s->n, which < s->n ? which : 0);
}

int cli_save_set(struct transfer_args *a, int fd, struct output_commit *commit)
{
	struct migctl_stream_header headers[CLI_SET_MAX];
	struct migctl_stream_set_writer *writer = NULL;
	struct migctl_sink sinks[CLI_SET_MAX];
	char detail[PATH_MAX + 128];
	struct set_cli s;
	size_t which = 0;
	int status, r = 0;

	set_init(&s, a);
	status = resolve_all(&s, a);
	if (!status)
		status = cli_open_descs(a->pos, s.n, s.desc, a->force,
					"a save (it stops the device)", s.dev);
	if (status)
		return close_all(&s, status);

	for (size_t i = 0; !r && i < s.n; i++)
		r = migctl_stream_header_from_desc(&headers[i], &s.desc[i], 0, 0);
	if (!r)
		r = migctl_stream_set_writer_new(fd, (unsigned)s.n, headers, &cli_cancel, &writer);
	if (r)
		return close_all(&s, cli_fail(STAGE_QUERY, r, "describing the devices"));
	for (size_t i = 0; i < s.n; i++) {
		migctl_stream_set_writer_sink(writer, (unsigned)i, &sinks[i]);
		s.members[i] = (struct migctl_set_member){ .dev = s.dev[i],
							   .sink = &sinks[i],
							   .progress_arg = &s.slot[i] };
	}
	r = migctl_set_save(s.members, s.n, &a->opts, &which);
	migctl_stream_set_writer_free(writer);
	if (r && commit && commit->err)
		snprintf(detail, sizeof(detail), "committing %s: %s", a->file,
			 cli_output_cause(commit->err, commit->file));
	status = report(&s, a, false, r, which, r && commit && commit->err ? detail : NULL, NULL);
	return close_all(&s, status);
}

/* A regular file is verified whole, every member, before any device is touched */
static int verify_set(struct migctl_stream_set_reader **reader, int fd)
{
	struct migctl_stream_stats whole, members[MIGCTL_STREAM_SET_MAX];
	struct stat st;
	int r;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0;
	r = migctl_stream_set_scan(*reader, &whole, members);
	if (r)
		return cli_fail_stream(
			r, migctl_stream_set_reader_error(*reader, MIGCTL_STREAM_SET_WHOLE), false,
			true);
	migctl_stream_set_reader_free(*reader);
	*reader = NULL;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cli_fail(STAGE_INPUT, -errno, "reading the stream");
	*reader = migctl_stream_set_reader_new(fd, &cli_cancel);
	if (!*reader)
		return cli_fail(STAGE_INPUT, -ENOMEM, "reading the stream");
	r = migctl_stream_set_reader_open(*reader);
	return r ? cli_fail_stream(r,
				   migctl_stream_set_reader_error(*reader, MIGCTL_STREAM_SET_WHOLE),
				   false, true) :
		   0;
}

/* Member k of the stream into the k-th DEV: as many, each one compatible */
static int check_members(struct set_cli *s, struct migctl_stream_set_reader *reader, bool force,
			 char *note, size_t size)
{
	unsigned count = migctl_stream_set_reader_members(reader);
	char why[512];

	if (count != s->n)
		return cli_refuse(STAGE_STREAM, -EBADMSG,
				  "the stream holds %u device%s, %zu named; devices unchanged",
				  count, count == 1 ? "" : "s", s->n);
	for (size_t i = 0; i < s->n; i++) {
		if (!migctl_stream_identity_check(
			    migctl_stream_set_reader_header(reader, (unsigned)i), &s->desc[i], why,
			    sizeof(why)))
			continue;
		cli.device = s->report[i].arg;
		if (!force)
			return cli_refuse(STAGE_STREAM, -EBADMSG,
					  "incompatible with member %zu of the stream: %s "
					  "(--force to try anyway); devices unchanged",
					  i, why);
		snprintf(note, size, "accepted with --force: %s", why);
	}
	cli.device = NULL;
	return 0;
}

int cli_resume_set(struct transfer_args *a, int fd)
{
	struct migctl_stream_set_reader *reader = NULL;
	struct migctl_source sources[CLI_SET_MAX];
	char note[640] = "";
	const char *detail = NULL;
	struct set_cli s;
	size_t which = 0;
	int status, r;

	set_init(&s, a);
	for (size_t i = 0; i < s.n; i++)
		s.report[i].arg = a->pos[i];
	status = resolve_all(&s, a);
	if (status)
		return close_all(&s, status);
	reader = migctl_stream_set_reader_new(fd, &cli_cancel);
	if (!reader)
		return close_all(&s, cli_fail(STAGE_INPUT, -ENOMEM, "reading the stream"));
	r = migctl_stream_set_reader_open(reader);
	if (r)
		status = cli_fail_stream(
			r, migctl_stream_set_reader_error(reader, MIGCTL_STREAM_SET_WHOLE),
			migctl_stream_set_reader_fault(reader) == MIGCTL_STREAM_NOT_FRAMED, true);
	if (!status)
		status = check_members(&s, reader, a->force, note, sizeof(note));
	if (!status && !a->single_pass)
		status = verify_set(&reader, fd);
	if (!status)
		status = cli_open_descs(a->pos, s.n, s.desc, a->force,
					"a resume (it replaces the device's state)", s.dev);
	if (status)
		goto out;

	for (size_t i = 0; i < s.n; i++) {
		migctl_stream_set_reader_source(reader, (unsigned)i, &sources[i]);
		s.members[i] = (struct migctl_set_member){ .dev = s.dev[i],
							   .source = &sources[i],
							   .progress_arg = &s.slot[i] };
	}
	r = migctl_set_resume(s.members, s.n, &a->opts, &which);
	if (r == -EBADMSG)
		detail = migctl_stream_set_reader_error(reader, MIGCTL_STREAM_SET_WHOLE);
	status = report(&s, a, true, r, which, detail, note[0] ? note : NULL);
out:
	if (reader)
		migctl_stream_set_reader_free(reader);
	return close_all(&s, status);
}
