// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Byte plumbing: whole reads and writes that survive EINTR and short
 * counts, the bare-stream endpoints, and output files that appear only
 * when complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static bool cancelled(volatile sig_atomic_t *cancel)
{
	return cancel && *cancel;
}

int migctl_write_all(int fd, const void *buf, size_t len,
		     volatile sig_atomic_t *cancel)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !cancelled(cancel))
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return cancelled(cancel) ? -EINTR : 0;
}

int migctl_read_full(int fd, void *buf, size_t len, size_t *got,
		     volatile sig_atomic_t *cancel)
{
	char *p = buf;

	*got = 0;
	while (*got < len) {
		ssize_t n = read(fd, p + *got, len - *got);

		if (n < 0) {
			if (errno == EINTR && !cancelled(cancel))
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return cancelled(cancel) ? -EINTR : 0;
}

static int fd_sink_write(void *ctx, enum migctl_phase phase, const void *buf,
			 size_t len)
{
	struct migctl_fd_endpoint *ep = ctx;

	(void)phase;
	return migctl_write_all(ep->fd, buf, len, ep->cancel);
}

void migctl_fd_sink(struct migctl_fd_endpoint *ep, struct migctl_sink *sink)
{
	*sink = (struct migctl_sink){ .write = fd_sink_write, .ctx = ep };
}

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got)
{
	struct migctl_fd_endpoint *ep = ctx;

	return migctl_read_full(ep->fd, buf, len, got, ep->cancel);
}

void migctl_fd_source(struct migctl_fd_endpoint *ep, struct migctl_source *source)
{
	*source = (struct migctl_source){ .read = fd_source_read, .ctx = ep };
}

void migctl_pipe_grow(int fd, size_t size)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && size <= INT_MAX)
		fcntl(fd, F_SETPIPE_SZ, (int)size);
}

/* ---- output files */

/* A hidden name beside the final one: ".NAME.<suffix>" */
static int hidden_name(const struct migctl_outfile *of, char *buf, size_t size,
		       const char *suffix)
{
	char dir[PATH_MAX];

	str_copy(dir, sizeof(dir), of->path);
	return path_fmt(buf, size, "%s/.%s.%s", dirname(dir), path_base(of->path),
			suffix);
}

int migctl_outfile_open(struct migctl_outfile *of, const char *path, bool force)
{
	char buf[PATH_MAX];
	const char *dir;
	int r;

	memset(of, 0, sizeof(*of));
	of->fd = of->dirfd = -1;
	of->force = force;
	r = path_fmt(of->path, sizeof(of->path), "%s", path);
	if (r)
		return r;
	/* Fail early: the save would otherwise stop the device for nothing */
	if (!force && path_exists(path))
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
	migctl_outfile_abort(of);
	return r;
}

int migctl_outfile_commit(struct migctl_outfile *of)
{
	char fdpath[64], pid[16], name[PATH_MAX];
	int r = 0;

	if (fsync(of->fd) < 0) {
		r = -errno;
		goto out;
	}
	if (of->tmpfile) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", of->fd);
		if (!of->force) {
			/* linkat() never replaces: a file that appeared meanwhile wins */
			if (linkat(AT_FDCWD, fdpath, AT_FDCWD, of->path, AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
			goto synced;
		}
		/* --force: give it a hidden name, then rename over the old file */
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		r = hidden_name(of, name, sizeof(name), pid);
		if (r)
			goto out;
		if (linkat(AT_FDCWD, fdpath, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0) {
			r = -errno;
			goto out;
		}
		str_copy(of->tmp_path, sizeof(of->tmp_path), name);
	} else if (!of->force && path_exists(of->path)) {
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
	migctl_outfile_abort(of);
	return r;
}

void migctl_outfile_abort(struct migctl_outfile *of)
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
