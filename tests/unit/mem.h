/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the stream codec's unit tests share: a growable byte buffer, fds
 * holding one, little-endian fields, deterministic data.
 */
#ifndef MIGCTL_UNIT_MEM_H
#define MIGCTL_UNIT_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdio.h"

struct mem {
	uint8_t *p;
	size_t len, cap;
};

static inline void mem_add(struct mem *m, const void *p, size_t len)
{
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			abort();
	}
	if (len)
		memcpy(m->p + m->len, p, len);
	m->len += len;
}

static inline void mem_free(struct mem *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

static inline void le_put(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t le_get(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* An fd holding @len bytes, positioned at 0 */
static inline int mem_fd(const void *p, size_t len)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, p, len, NULL) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

static inline void fd_to_mem(int fd, struct mem *m)
{
	uint8_t buf[65536];
	size_t got;

	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	do {
		if (read_full(fd, buf, sizeof(buf), &got, NULL))
			abort();
		mem_add(m, buf, got);
	} while (got);
}

/* Deterministic, non-repeating data */
static inline void pattern(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

#endif
