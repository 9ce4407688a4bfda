/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output files that never look complete unless they are.  FILE is followed
 * through symlinks, as a shell's '>' does.  A regular file (new, or
 * replaced when asked) is written unnamed and linked in only at commit; a
 * FIFO or a character device (/dev/null, a pipe) is written as it is, as
 * stdout would be.  Nothing else is ever replaced: a directory, a socket
 * or a block device is refused before anything is written.
 */
#ifndef MIGCTL_SHARED_OUTFILE_H
#define MIGCTL_SHARED_OUTFILE_H

#include <limits.h>
#include <stdbool.h>

enum outfile_kind {
	OUTFILE_TMPFILE, /* O_TMPFILE, linked in at commit */
	OUTFILE_RENAME,  /* a hidden temporary name, renamed at commit */
	OUTFILE_STREAM,  /* a FIFO or character device, written in place */
};

struct outfile {
	int fd;
	int dirfd;
	enum outfile_kind kind;
	char path[PATH_MAX];     /* final name, symlinks followed */
	char tmp_path[PATH_MAX]; /* OUTFILE_RENAME's temporary name */
	bool replace;
};

/*
 * Open @path for writing, mode 0600 if created.  -EEXIST if it is a
 * regular file and !@replace; -EISDIR for a directory; -EINVAL for
 * anything else that is not a regular file, FIFO or character device;
 * -ELOOP for too many symlinks.
 */
int outfile_open(struct outfile *of, const char *path, bool replace);
/* fsync, then link/rename into place (nothing to do for a stream) */
int outfile_commit(struct outfile *of);
/* Drop it: nothing appears at the final name */
void outfile_abort(struct outfile *of);

#endif
