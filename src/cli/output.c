// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libsmartcols.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "output.h"

#define DEPTH_MAX 8

static struct {
	bool json;
	bool compact;
	FILE *stream;
	json_object *stack[DEPTH_MAX];
	int depth; /* stack[depth - 1] is the open container */
	json_object *root;
	/* the text table being filled */
	struct libscols_table *table;
	struct libscols_line *line;
	size_t column;
} out;

void out_init(bool json, FILE *stream)
{
	out.json = json;
	out.stream = stream;
}

void out_set_compact(bool compact)
{
	out.compact = compact;
}

/* Attach @obj under @key in the open object, or append it to the open array */
static void attach(const char *key, json_object *obj)
{
	json_object *parent;

	if (out.depth == 0) {
		/* The first value opened is the document */
		if (!out.root)
			out.root = obj;
		else
			json_object_put(obj);
		return;
	}
	parent = out.stack[out.depth - 1];
	if (json_object_is_type(parent, json_type_array))
		json_object_array_add(parent, obj);
	else if (key)
		json_object_object_add(parent, key, obj);
	else
		json_object_put(obj);
}

static void open_container(const char *key, json_object *obj)
{
	if (!out.json)
		return;
	if (out.depth == DEPTH_MAX) {
		json_object_put(obj);
		return;
	}
	attach(key, obj);
	json_object_get(obj);
	out.stack[out.depth++] = obj;
}

static void close_container(void)
{
	if (out.json && out.depth > 0)
		json_object_put(out.stack[--out.depth]);
}

void out_open_object(const char *key)
{
	if (out.json)
		open_container(key, json_object_new_object());
}

void out_close_object(void)
{
	close_container();
}

void out_open_array(const char *key)
{
	if (out.json)
		open_container(key, json_object_new_array());
}

void out_close_array(void)
{
	close_container();
}

#define OUT_VALUE(key, text_fmt, value, new_json)             \
	do {                                                  \
		if (out.json)                                 \
			attach(key, new_json);                \
		else if (text_fmt)                            \
			fprintf(out.stream, text_fmt, value); \
	} while (0)

/* Text formats come from this program, never from data */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void out_string(const char *key, const char *text_fmt, const char *value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_string(value));
}

void out_null(const char *key, const char *text)
{
	if (out.json)
		attach(key, NULL);
	else if (text)
		fputs(text, out.stream);
}

void out_string_or_null(const char *key, const char *text_fmt, const char *value,
			const char *null_text)
{
	if (value)
		out_string(key, text_fmt, value);
	else
		out_null(key, null_text);
}

void out_uint(const char *key, const char *text_fmt, uint64_t value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_uint64(value));
}

void out_int(const char *key, const char *text_fmt, int64_t value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_int64(value));
}

/* Six decimals (a microsecond of a second): "0.012345", not 0.012345000000000001 */
static json_object *json_seconds(double value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.6f", value);
	return json_object_new_double_s(value, buf);
}

void out_double(const char *key, const char *text_fmt, double value)
{
	OUT_VALUE(key, text_fmt, value, json_seconds(value));
}

void out_bool(const char *key, const char *text_fmt, bool value)
{
	OUT_VALUE(key, text_fmt, value ? "yes" : "no", json_object_new_boolean(value));
}

void out_text(const char *fmt, ...)
{
	va_list ap;

	if (out.json)
		return;
	va_start(ap, fmt);
	vfprintf(out.stream, fmt, ap);
	va_end(ap);
}

int out_finish(void)
{
	int r = 0;

	if (out.json && out.root) {
		int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
			    (out.compact ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY);

		fputs(json_object_to_json_string_ext(out.root, flags), out.stream);
		fputc('\n', out.stream);
		json_object_put(out.root);
		out.root = NULL;
	}
	while (out.depth > 0)
		json_object_put(out.stack[--out.depth]);
	if (fflush(out.stream) == EOF || ferror(out.stream))
		r = errno ? -errno : -EIO;
	return r;
}

/* ---- tables */

void out_table_open(const char *key, const char *const *headers, size_t n)
{
	if (out.json) {
		out_open_array(key);
		return;
	}
	out.table = scols_new_table();
	if (!out.table)
		return;
	for (size_t i = 0; i < n; i++)
		scols_table_new_column(out.table, headers[i], 0, 0);
}

void out_row_open(void)
{
	if (out.json) {
		out_open_object(NULL);
		return;
	}
	out.line = out.table ? scols_table_new_line(out.table, NULL) : NULL;
	out.column = 0;
}

void out_row_close(void)
{
	if (out.json)
		out_close_object();
	out.line = NULL;
}

void out_cell_text(const char *text)
{
	if (!out.json && out.line)
		scols_line_set_data(out.line, out.column, text);
	out.column++;
}

void out_cell(const char *key, const char *value)
{
	out_string(key, NULL, value);
	out_cell_text(value);
}

void out_cell_null(const char *key, const char *text)
{
	out_null(key, NULL);
	out_cell_text(text);
}

void out_cell_int(const char *key, int64_t value)
{
	char buf[24];

	out_int(key, NULL, value);
	snprintf(buf, sizeof(buf), "%" PRId64, value);
	out_cell_text(buf);
}

/* A column only some rows can have (an error) shows only when one has it */
static void hide_empty_last_column(struct libscols_table *tb)
{
	size_t n = scols_table_get_ncols(tb);
	struct libscols_column *col = n ? scols_table_get_column(tb, n - 1) : NULL;
	struct libscols_line *ln;
	struct libscols_iter *itr;
	bool empty = true;

	if (!col || !(itr = scols_new_iter(SCOLS_ITER_FORWARD)))
		return;
	while (empty && scols_table_next_line(tb, itr, &ln) == 0)
		empty = !scols_cell_get_data(scols_line_get_cell(ln, n - 1));
	scols_free_iter(itr);
	if (empty)
		scols_column_set_flags(col, scols_column_get_flags(col) | SCOLS_FL_HIDDEN);
}

void out_table_close(void)
{
	if (out.json) {
		out_close_array();
		return;
	}
	if (!out.table)
		return;
	hide_empty_last_column(out.table);
	scols_table_set_stream(out.table, out.stream);
	scols_print_table(out.table);
	scols_unref_table(out.table);
	out.table = NULL;
}

void format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}
