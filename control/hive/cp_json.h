/* cp_json.h — JSON from untrusted peers, bounded before jansson sees it, and validated as data.
 *
 * Every JSON text the Hive receives (HTTP bodies in cp_http.c, drone messages in cp_drones.c)
 * goes through cp_json_parse: its nesting is measured first, because jansson's parser recurses
 * once per level and would overflow a 100 KiB civetweb or libwebsockets thread stack long
 * before its own 2048-level limit. Request bodies are then checked against a table of fields
 * (cp_json_check); the HTTP layer turns a failure into a 400 (cp_check_body in cp_http.h).
 * Both are pure functions of their input, so they have a libFuzzer target
 * (tests/fuzz/fuzz_cp_json.c). */
#ifndef CP_JSON_H
#define CP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Our bodies and messages are flat objects with small arrays; 32 levels is generous. */
#define CP_JSON_MAX_DEPTH 32

/* Deepest [ / { nesting in text, ignoring brackets inside strings; stops counting once over
 * CP_JSON_MAX_DEPTH (so it returns at most CP_JSON_MAX_DEPTH + 1). */
int cp_json_depth(const char *text, size_t len);

/* Parses text (len bytes, not NUL-terminated) with duplicate keys refused. NULL on failure with
 * err->text saying why ("nested deeper than 32 levels" or jansson's message and position). */
json_t *cp_json_parse(const char *text, size_t len, json_error_t *err);

/* Body validation, described as data: every member of the body must be listed, with its JSON
 * type and size bound; required members must be present. */
enum cp_field_type { CP_FIELD_STRING, CP_FIELD_BOOL, CP_FIELD_INT, CP_FIELD_ARRAY };
struct cp_field {
	const char *name;
	enum cp_field_type type;
	bool required;
	int64_t min, max; /* string bytes, integer value or array length */
};

/* 0 when body is an object matching fields. Otherwise -1 with *code set to a stable error
 * code ("invalid_body", "unknown_field", "missing_field", "invalid_field") and msg to a
 * sentence for the user. */
int cp_json_check(const json_t *body, const struct cp_field *fields, size_t n_fields,
	const char **code, char *msg, size_t msg_size);

#endif
