/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Output files that never look complete unless they are. */
#ifndef MIGCTL_SHARED_OUTFILE_H
#define MIGCTL_SHARED_OUTFILE_H

#include <limits.h>
#include <stdbool.h>

struct outfile {
	int fd;
	int dirfd;
	bool tmpfile;            /* O_TMPFILE: linked in at commit */
	char path[PATH_MAX];     /* final name */
	char tmp_path[PATH_MAX]; /* temporary name when O_TMPFILE is unavailable */
	bool replace;
};

/*
 * Open an unnamed (O_TMPFILE) or temporary file, mode 0600, beside @path.
 * -EEXIST if @path exists and !@replace.
 */
int outfile_open(struct outfile *of, const char *path, bool replace);
/* fsync, then link/rename into place */
int outfile_commit(struct outfile *of);
/* Drop it: nothing appears at the final name */
void outfile_abort(struct outfile *of);

#endif
