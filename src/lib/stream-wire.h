/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the two halves of the stream codec share: little-endian fields
 * (encoded byte by byte, nothing is memcpy'd as a struct) and the HEADER
 * payload's encoder and decoder (stream-header.c), which the framing
 * (stream-frame.c) carries in its first record.
 */
#ifndef MIGCTL_STREAM_WIRE_H
#define MIGCTL_STREAM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static inline uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The longest HEADER payload version 1 encodes: fixed fields, four strings */
#define STREAM_HEADER_ENCODED_MAX (36 + 4 * (2 + MIGCTL_NAME_MAX - 1))

/* -EINVAL if a name is too long or not printable ASCII */
int stream_header_encode(const struct migctl_stream_header *h, uint8_t p[STREAM_HEADER_ENCODED_MAX],
			 size_t *len);
/* -EBADMSG for a payload that is not a valid header, with @why saying why */
int stream_header_decode(const uint8_t *p, size_t len, struct migctl_stream_header *h, char *why,
			 size_t why_size);

/* ---- shared by the one-device codec (stream-frame.c) and the set's (stream-set.c) */

struct XXH3_state_s;

/* The 16 bytes of a version 1.@minor preamble */
void stream_preamble(uint8_t pre[MIGCTL_STREAM_PREAMBLE_SIZE], uint16_t minor);
/* Feed @buf to the record checksum @rec and, if not NULL, to @digest (XXH3-128) */
void stream_hash_payload(struct XXH3_state_s *rec, struct XXH3_state_s *digest, const void *buf,
			 size_t len);
/* read_full() on r->fd, r->offset counting what came */
int stream_get(struct migctl_stream_reader *r, void *buf, size_t len, size_t *got,
	       volatile sig_atomic_t *stop);
/*
 * migctl_stream_reader_open() for any version this reader knows: for 1.0
 * the whole open (HEADER read); for a set (1.@minor = 1.1) it returns once
 * the preamble is checked, r->offset at the first record, the rest being
 * the set reader's.  On failure as migctl_stream_reader_open().
 */
int stream_reader_start(struct migctl_stream_reader *r, int fd, volatile sig_atomic_t *cancel,
			uint16_t *minor);
void stream_reader_release(struct migctl_stream_reader *r);

#endif
