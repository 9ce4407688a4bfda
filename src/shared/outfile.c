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

int outfile_open(struct outfile *of, const char *path, bool replace)
{
	char buf[PATH_MAX];
	const char *dir;
	int r;

	memset(of, 0, sizeof(*of));
	of->fd = of->dirfd = -1;
	of->replace = replace;
	r = path_fmt(of->path, sizeof(of->path), "%s", path);
	if (r)
		return r;
	/* Fail early: the save would otherwise stop the device for nothing */
	if (!replace && path_exists(path))
		return -EEXIST;

	str_copy(buf, sizeof(buf), path);
	dir = dirname(buf);
	of->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (of->dirfd < 0)
		return -errno;

	/* Unnamed until linked: a killed save (even SIGKILL) leaves nothing */
	of->fd = openat(of->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (of->fd >= 0) {
		of->tmpfile = true;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR) {
		r = -errno;
		goto fail;
	}

	/* Filesystems without O_TMPFILE: a hidden name, renamed at commit */
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

	if (fsync(of->fd) < 0) {
		r = -errno;
		goto out;
	}
	if (of->tmpfile) {
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
