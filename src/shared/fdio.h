/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole reads and writes that survive EINTR and short counts. */
#ifndef MIGCTL_SHARED_FDIO_H
#define MIGCTL_SHARED_FDIO_H

#include <signal.h>
#include <stddef.h>

/*
 * Write all of @buf.  EINTR is retried unless *@cancel is set (-EINTR); a
 * write() that returns 0 (no progress, no error) is -EIO.  A transfer that
 * completed is 0, whatever *@cancel became meanwhile: the caller decides
 * what a signal means once the bytes are out.
 */
int write_all(int fd, const void *buf, size_t len, volatile sig_atomic_t *cancel);
/* Read until @len bytes or end of file; *got says how many.  EINTR as above. */
int read_full(int fd, void *buf, size_t len, size_t *got, volatile sig_atomic_t *cancel);

/*
 * If @fd is a pipe, ask for a buffer of @size bytes (best effort, capped by
 * /proc/sys/fs/pipe-max-size): with the default 64 KiB, each 1 MiB chunk
 * costs sixteen context switches between the two ends.
 */
void pipe_grow(int fd, size_t size);

#endif
