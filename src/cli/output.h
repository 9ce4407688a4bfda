/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One print layer for text and JSON, in the way of iproute2's print_*():
 * each call names the JSON key and the text format of one value, so the
 * two outputs are produced by the same code and cannot drift.  A NULL
 * text format leaves the value out of the text output; a NULL key leaves
 * it out of the JSON.
 */
#ifndef MIGCTL_OUTPUT_H
#define MIGCTL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Reports go to @stream: stdout, or stderr when stdout carries a stream */
void out_init(bool json, FILE *stream);
bool out_json(void);
/* JSON on one line per document (JSON Lines for event streams) */
void out_set_compact(bool compact);

void out_open_object(const char *key);
void out_close_object(void);
void out_open_array(const char *key);
void out_close_array(void);

void out_string(const char *key, const char *text_fmt, const char *value);
/* JSON null in place of a missing value; @text is printed as is */
void out_null(const char *key, const char *text);
void out_uint(const char *key, const char *text_fmt, uint64_t value);
void out_int(const char *key, const char *text_fmt, int64_t value);
void out_double(const char *key, const char *text_fmt, double value);
void out_bool(const char *key, const char *text_fmt, bool value);
/* Text output only */
void out_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Emit the JSON document, flush, and report a failed write (> /dev/full) */
int out_finish(void);

#endif
