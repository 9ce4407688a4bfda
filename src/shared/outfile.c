// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * -o FILE: found as a shell's '>' finds it, written as an installer writes.
 *
 * Finding it.  One open(O_PATH) of FILE, which the kernel resolves: it
 * follows the links with its own rules, so fs.protected_symlinks refuses
 * here what it refuses to '>' (EACCES), and nothing in this file reads a
 * link to resolve it.  Only ENOENT means "a new file"; any other error is
 * the answer.  What that open returned is what is judged (fstat of the
 * fd), never a name looked up earlier:
 *   - a FIFO or a character device is reopened for writing and must still
 *     be the same inode: it is written in place, never replaced;
 *   - a regular file is refused, or with OUTFILE_REPLACE replaced, in the
 *     directory that holds it (the link's target's, for a link) and only
 *     if, at commit, that name still holds the very file checked here;
 *   - anything else is refused.  So is a symlink to nothing: '>' would
 *     create its target, but only by resolving the link ourselves; like
 *     noclobber's O_EXCL we refuse it, with or without OUTFILE_REPLACE.
 *
 * Writing it.  The data goes to an unnamed file (O_TMPFILE) in the final
 * directory, or where a filesystem has none, to a fresh hidden name
 * (".NAME.XXXXXX", created O_EXCL: a leftover of a killed run is never
 * reused, nor in the way).  At commit a new file is put in place by
 * linkat() or renameat2(RENAME_NOREPLACE), which never replace: a file
 * that appeared meanwhile wins, and the save fails.  A replacement is
 * swapped with the old file (RENAME_EXCHANGE), which destroys nothing; the
 * entry that came out is removed only if it is the file checked at open,
 * else it is swapped back.  Only filesystems without RENAME_EXCHANGE
 * check then rename, a window of two system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outfile.h"
#include "util.h"

static bool same_file(const struct stat *st, dev_t dev, ino_t ino)
{
	return st->st_dev == dev && st->st_ino == ino;
}

/* Does @of->name in @of->dirfd name the file @dev/@ino (not a link to it)? */
static bool entry_is(const struct outfile *of, dev_t dev, ino_t ino)
{
	struct stat st;

	return fstatat(of->dirfd, of->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       same_file(&st, dev, ino);
}

/* Open the directory of @path (the kernel resolves it) and keep its last component */
static int open_dir(struct outfile *of, const char *path)
{
	const char *name = path_base(path);
	char dir[PATH_MAX];
	int r;

	if (!name[0])
		return -EISDIR; /* "NAME/": '>' says the same */
	r = str_copy(of->name, sizeof(of->name), name);
	if (r)
		return r;
	if (name == path)
		r = str_copy(dir, sizeof(dir), ".");
	else if (name == path + 1)
		r = str_copy(dir, sizeof(dir), "/");
	else
		r = path_fmt(dir, sizeof(dir), "%.*s", (int)(name - path - 1), path);
	if (r)
		return r;
	if (of->dirfd >= 0)
		close(of->dirfd);
	of->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return of->dirfd < 0 ? -errno : 0;
}

/*
 * The directory entry of the regular file @fd, opened through @path: its
 * own directory and last component, unless @path is (or ends in) a link;
 * then the name the kernel knows the open file by (/proc/self/fd, which
 * holds no link).  Either way the entry is checked to be @fd's file.
 */
static int locate(struct outfile *of, const char *path, int fd, const struct stat *st)
{
	char fdpath[32], real[PATH_MAX];
	ssize_t n;
	int r;

	r = open_dir(of, path);
	if (r || entry_is(of, st->st_dev, st->st_ino))
		return r;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	n = readlink(fdpath, real, sizeof(real) - 1);
	if (n < 0)
		return -errno;
	real[n] = '\0';
	if (real[0] != '/')
		return -ESTALE;
	r = open_dir(of, real);
	if (r)
		return r;
	/* " (deleted)", another mount namespace: no name to replace it by */
	return entry_is(of, st->st_dev, st->st_ino) ? 0 : -ESTALE;
}

/*
 * Give the temporary a fresh hidden name beside the final one with
 * @make: ".NAME.XXXXXX", tried until one is free (names are created
 * exclusively, so a leftover of an earlier run is skipped, never used).
 */
static int make_hidden(struct outfile *of, int (*make)(struct outfile *of))
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct timespec ts;
	unsigned int x;
	char suffix[7];
	int r = -EEXIST;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (unsigned int)ts.tv_nsec ^ (unsigned int)ts.tv_sec ^ ((unsigned int)getpid() << 12);
	for (int tries = 0; tries < 100 && r == -EEXIST; tries++) {
		for (int i = 0; i < 6; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
			suffix[i] = digits[x % 36];
		}
		suffix[6] = '\0';
		/* short enough for any NAME: the save must not fail at commit for it */
		snprintf(of->tmp_name, sizeof(of->tmp_name), ".%.200s.%s", of->name, suffix);
		r = make(of);
		if (r)
			of->tmp_name[0] = '\0';
	}
	return r;
}

static int create_hidden(struct outfile *of)
{
	of->fd = openat(of->dirfd, of->tmp_name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return of->fd < 0 ? -errno : 0;
}

/* Link the unnamed file in as @name of the directory; never replaces */
static int link_tmpfile(const struct outfile *of, const char *name)
{
	char fdpath[32];

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", of->fd);
	if (linkat(AT_FDCWD, fdpath, of->dirfd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

static int link_hidden(struct outfile *of)
{
	return link_tmpfile(of, of->tmp_name);
}

/* The file's data goes to an unnamed file, else to a hidden one, in dirfd */
static int open_temporary(struct outfile *of)
{
	if (!(of->flags & OUTFILE_FALLBACKS)) {
		of->kind = OUTFILE_TMPFILE;
		/* Unnamed until linked: a killed save (even SIGKILL) leaves nothing */
		of->fd = openat(of->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (of->fd >= 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EISDIR)
			return -errno;
	}
	of->kind = OUTFILE_RENAME;
	return make_hidden(of, create_hidden);
}

/* FILE does not exist: it will be created, and nothing replaced */
static int open_new(struct outfile *of, const char *path)
{
	struct stat st;
	int r;

	r = open_dir(of, path);
	if (r)
		return r;
	/* Fail early (the save would stop the device for nothing); commit checks again */
	if (fstatat(of->dirfd, of->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		of->symlink = S_ISLNK(st.st_mode);
		/* A link to nothing; else it appeared since the lookup */
		return of->symlink ? -ENOLINK : -EAGAIN;
	}
	if (errno != ENOENT)
		return -errno;
	return open_temporary(of);
}

/* A FIFO or character device is written in place, like stdout */
static int open_stream(struct outfile *of, const char *path, const struct stat *st)
{
	struct stat now;

	of->kind = OUTFILE_STREAM;
	/*
	 * By its name again, as '>' opens it: O_CREAT (no O_EXCL, no O_TRUNC:
	 * it neither truncates nor, for what exists, creates) lets the kernel
	 * apply fs.protected_fifos.  It must still be the node just judged
	 * (should it vanish in between, O_CREAT leaves an empty file there:
	 * that creates, never clobbers, and the open fails).
	 */
	of->fd = open(path, O_WRONLY | O_CREAT | O_NOCTTY | O_CLOEXEC, 0600);
	if (of->fd < 0)
		return -errno;
	if (fstat(of->fd, &now) < 0)
		return -errno;
	if (!same_file(&now, st->st_dev, st->st_ino))
		return -ESTALE;
	return 0;
}

/* A regular file, to be replaced at commit if it is still this one */
static int open_replacement(struct outfile *of, const char *path, int fd, const struct stat *st)
{
	int r = locate(of, path, fd, st);

	if (r)
		return r;
	of->replacing = true;
	of->old_dev = st->st_dev;
	of->old_ino = st->st_ino;
	return open_temporary(of);
}

static int open_once(struct outfile *of, const char *path)
{
	struct stat st;
	int fd, r;

	/* The kernel follows the links, by its rules (fs.protected_symlinks) */
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return open_new(of, path);
		/* For the words of the error only: nothing is decided on it */
		of->symlink = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
		return r;
	}
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
		r = open_stream(of, path, &st);
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (!(of->flags & OUTFILE_REPLACE))
		r = -EEXIST; /* fail early: the save would stop the device for nothing */
	else
		r = open_replacement(of, path, fd, &st);
	close(fd);
	return r;
}

int outfile_open(struct outfile *of, const char *path, unsigned int flags)
{
	int r;

	memset(of, 0, sizeof(*of));
	of->fd = of->dirfd = -1;
	of->flags = flags;
	if (!path[0])
		return -ENOENT;
	/* A name that appears between the lookup and the check: look again */
	for (int tries = 0; tries < 3; tries++) {
		r = open_once(of, path);
		if (r != -EAGAIN)
			break;
		r = -EEXIST;
	}
	if (r)
		outfile_abort(of);
	return r;
}

/* Put a new file in place; never replaces what appeared meanwhile */
static int commit_new(struct outfile *of)
{
	if (of->kind == OUTFILE_TMPFILE)
		return link_tmpfile(of, of->name);
	if (renameat2(of->dirfd, of->tmp_name, of->dirfd, of->name, RENAME_NOREPLACE) == 0) {
		of->tmp_name[0] = '\0';
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* Without RENAME_NOREPLACE: a link never replaces; abort drops the temporary */
	return linkat(of->dirfd, of->tmp_name, of->dirfd, of->name, 0) < 0 ? -errno : 0;
}

/* Without RENAME_EXCHANGE: check, then rename (a window of two system calls) */
static int commit_checked_rename(struct outfile *of)
{
	struct stat st;

	if (fstatat(of->dirfd, of->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? commit_new(of) : -errno;
	if (!same_file(&st, of->old_dev, of->old_ino))
		return -ESTALE;
	if (renameat(of->dirfd, of->tmp_name, of->dirfd, of->name) < 0)
		return -errno;
	of->tmp_name[0] = '\0';
	return 0;
}

/*
 * Put the new file in the place of the one checked at open, and of that
 * one only: swap the two entries, then look at what came out.  If it is
 * not that file (it was replaced meanwhile: by a FIFO, a device node,
 * another file), swap back and fail; nothing was destroyed.  If it is,
 * remove it (before the directory's fsync, which then covers both).  If
 * the old file is gone, the new one is put in place as a new file.
 */
static int commit_replace(struct outfile *of)
{
	struct stat st;
	int r;

	if (of->kind == OUTFILE_TMPFILE) {
		r = make_hidden(of, link_hidden);
		if (r)
			return r;
	}
	if (of->flags & OUTFILE_FALLBACKS)
		return commit_checked_rename(of);
	if (renameat2(of->dirfd, of->tmp_name, of->dirfd, of->name, RENAME_EXCHANGE) < 0) {
		if (errno == EINVAL || errno == ENOSYS)
			return commit_checked_rename(of);
		return errno == ENOENT ? commit_new(of) : -errno;
	}
	if (fstatat(of->dirfd, of->tmp_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    same_file(&st, of->old_dev, of->old_ino)) {
		if (unlinkat(of->dirfd, of->tmp_name, 0) == 0)
			of->tmp_name[0] = '\0';
		return 0;
	}
	if (renameat2(of->dirfd, of->tmp_name, of->dirfd, of->name, RENAME_EXCHANGE) < 0)
		of->tmp_name[0] = '\0'; /* never remove what is not ours */
	return -ESTALE;
}

int outfile_commit(struct outfile *of)
{
	int r = 0;

	if (of->kind == OUTFILE_STREAM)
		goto out;
	if (fsync(of->fd) < 0) {
		r = -errno;
		goto out;
	}
	r = of->replacing ? commit_replace(of) : commit_new(of);
	/* The new name must survive a crash too */
	if (!r && fsync(of->dirfd) < 0)
		r = -errno;
out:
	outfile_abort(of);
	return r;
}

void outfile_abort(struct outfile *of)
{
	if (of->tmp_name[0])
		unlinkat(of->dirfd, of->tmp_name, 0);
	of->tmp_name[0] = '\0';
	if (of->fd >= 0)
		close(of->fd);
	if (of->dirfd >= 0)
		close(of->dirfd);
	of->fd = of->dirfd = -1;
}
