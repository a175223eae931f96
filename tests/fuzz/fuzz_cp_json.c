/* fuzz_cp_json.c — libFuzzer target for the Hive's JSON decoding path (control/hive/cp_json.c):
 * the nesting bound measured before jansson parses (an unbounded recursion used to overflow a
 * worker's stack), the parse itself, and the table-driven body check every API handler runs.
 * Beyond "no crash": text deeper than CP_JSON_MAX_DEPTH is always refused, a parsed body
 * re-serialises and parses back equal, and the check's verdict names a known error code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* POST /api/v1/jobs's shape: every field type and bound the check knows */
static const struct cp_field fields[] = {
	{ "name", CP_FIELD_STRING, true, 1, 128 },
	{ "filter", CP_FIELD_STRING, false, 0, 4096 },
	{ "max_size", CP_FIELD_INT, false, 0, 1ll << 50 },
	{ "classify", CP_FIELD_BOOL, false, 0, 0 },
	{ "links", CP_FIELD_ARRAY, false, 1, 64 },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	const char *text = (const char *)data;
	json_t *j = cp_json_parse(text, size, &err);
	if (cp_json_depth(text, size) > CP_JSON_MAX_DEPTH && j)
		abort(); /* the bound must hold whatever jansson would accept */
	if (!j)
		return 0;
	char *again = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (again) {
		json_t *k = json_loads(again, JSON_DECODE_ANY, NULL);
		if (!k || !json_equal(j, k))
			abort();
		json_decref(k);
		free(again);
	}
	const char *code = NULL;
	char msg[256];
	int rc = cp_json_check(j, fields, sizeof(fields) / sizeof(fields[0]), &code, msg,
		sizeof(msg));
	if (rc != 0 && (!code || (strcmp(code, "invalid_body") && strcmp(code, "unknown_field") &&
		strcmp(code, "missing_field") && strcmp(code, "invalid_field"))))
		abort();
	json_decref(j);
	return 0;
}
