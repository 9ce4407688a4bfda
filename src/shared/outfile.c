// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "util.h"

/* A hidden name beside the final one: ".NAME.<suffix>" */
static int hidden_name(const struct outfile *of, char *buf, size_t size,
		       const char *suffix)
{
	char dir[PATH_MAX];

	str_copy(dir, sizeof(dir), of->path);
	return path_fmt(buf, size, "%s/.%s.%s", dirname(dir), path_base(of->path),
			suffix);
}

/*
 * Follow @path through symlinks, as open() would, into @out: for a name
 * that does not exist yet, or a link that points at nothing yet (a
 * shell's '>' creates its target).
 */
static int follow_links(const char *path, char *out, size_t size)
{
	char target[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	ssize_t n;
	int r;

	r = str_copy(out, size, path);
	for (int hops = 0; !r; hops++) {
		if (lstat(out, &st) < 0 || !S_ISLNK(st.st_mode))
			return 0;
		if (hops == 40)
			return -ELOOP;
		n = readlink(out, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		str_copy(dir, sizeof(dir), out);
		r = target[0] == '/' ? str_copy(out, size, target)
				     : path_fmt(out, size, "%s/%s", dirname(dir), target);
	}
	return r;
}

/* FIFOs and character devices are written in place, like stdout */
static int open_stream(struct outfile *of)
{
	of->kind = OUTFILE_STREAM;
	of->fd = open(of->path, O_WRONLY | O_CLOEXEC);
	return of->fd < 0 ? -errno : 0;
}

int outfile_open(struct outfile *of, const char *path, bool replace)
{
	char buf[PATH_MAX];
	struct stat st;
	const char *dir;
	int r;

	memset(of, 0, sizeof(*of));
	of->fd = of->dirfd = -1;
	of->replace = replace;
	if (stat(path, &st) == 0) {
		/* The kernel follows every link, /proc/self/fd/N's included */
		r = str_copy(of->path, sizeof(of->path), path);
		if (r)
			return r;
		if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
			return open_stream(of);
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		/* Fail early: the save would otherwise stop the device for nothing */
		if (!replace)
			return -EEXIST;
		/* Replaced beside the file itself, not beside a link to it */
		if (!realpath(path, of->path))
			return -errno;
	} else {
		/* New, or a dangling link: the file to create is where it points */
		r = follow_links(path, of->path, sizeof(of->path));
		if (r)
			return r;
	}

	str_copy(buf, sizeof(buf), of->path);
	dir = dirname(buf);
	of->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (of->dirfd < 0)
		return -errno;

	/* Unnamed until linked: a killed save (even SIGKILL) leaves nothing */
	of->kind = OUTFILE_TMPFILE;
	of->fd = openat(of->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (of->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR) {
		r = -errno;
		goto fail;
	}

	/* Filesystems without O_TMPFILE: a hidden name, renamed at commit */
	of->kind = OUTFILE_RENAME;
	r = hidden_name(of, buf, sizeof(buf), "XXXXXX");
	if (r)
		goto fail;
	of->fd = mkostemp(buf, O_CLOEXEC);
	if (of->fd < 0) {
		r = -errno;
		goto fail;
	}
	str_copy(of->tmp_path, sizeof(of->tmp_path), buf);
	return 0;
fail:
	outfile_abort(of);
	return r;
}

int outfile_commit(struct outfile *of)
{
	char fdpath[64], pid[16], name[PATH_MAX];
	int r = 0;

	if (of->kind == OUTFILE_STREAM)
		goto out;
	if (fsync(of->fd) < 0) {
		r = -errno;
		goto out;
	}
	if (of->kind == OUTFILE_TMPFILE) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", of->fd);
		if (!of->replace) {
			/* linkat() never replaces: a file that appeared meanwhile wins */
			if (linkat(AT_FDCWD, fdpath, AT_FDCWD, of->path, AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
			goto synced;
		}
		/* Replacing: give it a hidden name, then rename over the old file */
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		r = hidden_name(of, name, sizeof(name), pid);
		if (r)
			goto out;
		if (linkat(AT_FDCWD, fdpath, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0) {
			r = -errno;
			goto out;
		}
		str_copy(of->tmp_path, sizeof(of->tmp_path), name);
	} else if (!of->replace && path_exists(of->path)) {
		r = -EEXIST;
		goto out;
	}
	if (rename(of->tmp_path, of->path) < 0)
		r = -errno;
	else
		of->tmp_path[0] = '\0';
synced:
	/* The new name must survive a crash too */
	if (!r && fsync(of->dirfd) < 0)
		r = -errno;
out:
	outfile_abort(of);
	return r;
}

void outfile_abort(struct outfile *of)
{
	if (of->tmp_path[0])
		unlink(of->tmp_path);
	of->tmp_path[0] = '\0';
	if (of->fd >= 0)
		close(of->fd);
	if (of->dirfd >= 0)
		close(of->dirfd);
	of->fd = of->dirfd = -1;
}
