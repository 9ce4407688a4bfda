// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
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

bool out_json(void)
{
	return out.json;
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

#define OUT_VALUE(key, text_fmt, value, new_json)                  \
	do {                                                       \
		if (out.json)                                      \
			attach(key, new_json);                     \
		else if (text_fmt)                                 \
			fprintf(out.stream, text_fmt, value);      \
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

void out_uint(const char *key, const char *text_fmt, uint64_t value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_uint64(value));
}

void out_int(const char *key, const char *text_fmt, int64_t value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_int64(value));
}

void out_double(const char *key, const char *text_fmt, double value)
{
	OUT_VALUE(key, text_fmt, value, json_object_new_double(value));
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
