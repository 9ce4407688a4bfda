/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output files that never look complete unless they are, and that never
 * become a way to write where the caller should not.  FILE is found the
 * way a shell's '>' finds it: the kernel follows the links, with its own
 * rules (fs.protected_symlinks), and only what it opened is judged.  A FIFO
 * or a character device (/dev/null, a pipe) is written as it is, as stdout
 * would be.  A regular file (new, or replaced when asked) is written
 * unnamed and put in place only at commit, and only where nothing else
 * has appeared meanwhile.  Nothing else is ever replaced: a directory, a
 * socket, a block device or a dangling symlink is refused before anything
 * is written.
 */
#ifndef MIGCTL_SHARED_OUTFILE_H
#define MIGCTL_SHARED_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

enum outfile_kind {
	OUTFILE_TMPFILE, /* O_TMPFILE, linked in at commit */
	OUTFILE_RENAME,	 /* a hidden temporary name, renamed at commit */
	OUTFILE_STREAM,	 /* a FIFO or character device, written in place */
};

enum outfile_flags {
	OUTFILE_REPLACE = 1 << 0, /* an existing regular file may be replaced */
	/* Take the paths of filesystems without O_TMPFILE or RENAME_EXCHANGE (tests) */
	OUTFILE_FALLBACKS = 1 << 1,
};

struct outfile {
	int fd;
	int dirfd; /* the directory that holds, or will hold, the file */
	enum outfile_kind kind;
	unsigned int flags;
	bool replacing; /* a regular file is to be replaced: old_dev/old_ino */
	bool symlink;	/* FILE itself is a symlink (for the words of an error) */
	dev_t old_dev;
	ino_t old_ino;
	char name[NAME_MAX + 1];     /* the final name, in dirfd */
	char tmp_name[NAME_MAX + 1]; /* a hidden entry of ours in dirfd, or "" */
};

/*
 * Open @path for writing, mode 0600 if created.  Errors, before anything
 * is written: -EEXIST for a regular file without OUTFILE_REPLACE; -EISDIR
 * for a directory; -EINVAL for anything else that is not a regular file,
 * FIFO or character device; -ENOLINK for a symlink to nothing; and
 * whatever the kernel's lookup said (-EACCES, among others, when
 * fs.protected_symlinks refuses to follow a link; -ELOOP).
 */
int outfile_open(struct outfile *of, const char *path, unsigned int flags);
/*
 * fsync the file, put it in place, fsync the directory (nothing to do for
 * a stream).  -EEXIST: a file appeared at the name of a new one; -ESTALE:
 * the file to replace is no longer the one that was checked.  Either way
 * nothing was replaced.
 */
int outfile_commit(struct outfile *of);
/* Drop it: nothing appears at the final name */
void outfile_abort(struct outfile *of);

#endif
