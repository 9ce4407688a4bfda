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
/* JSON on one line per document (JSON Lines for event streams) */
void out_set_compact(bool compact);

void out_open_object(const char *key);
void out_close_object(void);
void out_open_array(const char *key);
void out_close_array(void);

void out_string(const char *key, const char *text_fmt, const char *value);
/* JSON null in place of a missing value; @text is printed as is */
void out_null(const char *key, const char *text);
/* out_string() of @value, or out_null() with @null_text when @value is NULL */
void out_string_or_null(const char *key, const char *text_fmt, const char *value,
			const char *null_text);
void out_uint(const char *key, const char *text_fmt, uint64_t value);
void out_int(const char *key, const char *text_fmt, int64_t value);
void out_double(const char *key, const char *text_fmt, double value);
void out_bool(const char *key, const char *text_fmt, bool value);
/* Text output only */
void out_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A table: in text, columns under @headers, as wide as their widest cell
 * (libsmartcols, as lsblk); in JSON, an array of objects under @key.  Each
 * row is an object; out_cell*() fill the next column and set a JSON key,
 * and the plain out_*() calls with a NULL text format add JSON-only keys.
 */
void out_table_open(const char *key, const char *const *headers, size_t n);
void out_row_open(void);
void out_row_close(void);
void out_cell(const char *key, const char *value);
/* JSON null; @text in the column */
void out_cell_null(const char *key, const char *text);
void out_cell_int(const char *key, int64_t value);
/* Text only: a column that has no JSON key of its own */
void out_cell_text(const char *text);
/* Print the text table; close the JSON array */
void out_table_close(void);

/* "1.5 MiB" */
void format_bytes(uint64_t bytes, char *buf, size_t size);

/* Emit the JSON document, flush, and report a failed write (> /dev/full) */
int out_finish(void);

#endif
