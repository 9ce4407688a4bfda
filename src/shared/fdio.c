// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"

static bool cancelled(volatile sig_atomic_t *cancel)
{
	return cancel && *cancel;
}

int write_all(int fd, const void *buf, size_t len, volatile sig_atomic_t *cancel)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !cancelled(cancel))
				continue;
			return -errno;
		}
		/* No progress and no error: retrying could spin forever */
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	/* All of it went out: a signal that came meanwhile changes nothing of that */
	return 0;
}

int read_full(int fd, void *buf, size_t len, size_t *got, volatile sig_atomic_t *cancel)
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
	return 0;
}

void pipe_grow(int fd, size_t size)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && size <= INT_MAX)
		fcntl(fd, F_SETPIPE_SZ, (int)size);
}
