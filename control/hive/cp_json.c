/* cp_json.c — bounded JSON parsing and table-driven body validation (see cp_json.h). */
#include <stdio.h>
#include <string.h>

#include "cp_json.h"

int
cp_json_depth(const char *s, size_t len)
{
	int depth = 0, max = 0;
	bool in_string = false;
	for (size_t i = 0; i < len && max <= CP_JSON_MAX_DEPTH; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

json_t *
cp_json_parse(const char *text, size_t len, json_error_t *err)
{
	if (cp_json_depth(text, len) > CP_JSON_MAX_DEPTH) {
		memset(err, 0, sizeof(*err));
		snprintf(err->text, sizeof(err->text), "JSON nested deeper than %d levels",
			CP_JSON_MAX_DEPTH);
		return NULL;
	}
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
}

static const char *const field_type_names[] = {
	[CP_FIELD_STRING] = "a string", [CP_FIELD_BOOL] = "a boolean",
	[CP_FIELD_INT] = "an integer", [CP_FIELD_ARRAY] = "an array",
};

#define FAIL(c, ...) (*code = (c), snprintf(msg, msg_size, __VA_ARGS__), -1)

int
cp_json_check(const json_t *body, const struct cp_field *fields, size_t n_fields,
	const char **code, char *msg, size_t msg_size)
{
	if (!body || !json_is_object(body))
		return FAIL("invalid_body", "the request body must be a JSON object");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v) {
		size_t i;
		for (i = 0; i < n_fields && strcmp(fields[i].name, key) != 0; i++)
			;
		if (i == n_fields)
			return FAIL("unknown_field", "unknown field '%.64s'", key);
	}
	for (size_t i = 0; i < n_fields; i++) {
		const struct cp_field *f = &fields[i];
		v = json_object_get(body, f->name);
		if (!v) {
			if (f->required)
				return FAIL("missing_field", "'%s' is required", f->name);
			continue;
		}
		int64_t size = 0;
		bool ok;
		switch (f->type) {
		case CP_FIELD_STRING:
			ok = json_is_string(v);
			size = ok ? (int64_t)json_string_length(v) : 0;
			break;
		case CP_FIELD_BOOL:
			ok = json_is_boolean(v);
			break;
		case CP_FIELD_INT:
			ok = json_is_integer(v);
			size = ok ? json_integer_value(v) : 0;
			break;
		case CP_FIELD_ARRAY:
			ok = json_is_array(v);
			size = ok ? (int64_t)json_array_size(v) : 0;
			break;
		default:
			ok = false;
		}
		if (!ok)
			return FAIL("invalid_field", "'%s' must be %s", f->name,
				field_type_names[f->type]);
		if (f->type == CP_FIELD_STRING && strlen(json_string_value(v)) != (size_t)size)
			return FAIL("invalid_field", "'%s' must not contain NUL", f->name);
		if (f->type != CP_FIELD_BOOL && (size < f->min || size > f->max))
			return FAIL("invalid_field", "'%s' must be %s %lld to %lld", f->name,
				f->type == CP_FIELD_INT ? "from" : "of length", (long long)f->min,
				(long long)f->max);
	}
	return 0;
}
