/* fuzz_tide_job.c — libFuzzer target for the job contract's parser (dataplane/contract/
 * tide_job.c), which reads jobs from REST bodies at the Hive and from start messages at the
 * drone. Beyond "no crash": a refusal always names a known code, and an accepted job written
 * back with tide_job_to_json reads back to the very same struct (nothing is lost or invented
 * between the Hive and a drone). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tide_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
		NULL);
	if (!j)
		return 0;
	struct tide_job job, again;
	struct tide_job_error err;
	memset(&err, 0, sizeof(err));
	if (tide_job_from_json(j, &job, &err) != 0) {
		if (!err.code || (strcmp(err.code, "invalid_body") && strcmp(err.code,
			"unknown_field") && strcmp(err.code, "missing_field") && strcmp(err.code,
			"invalid_field")))
			abort();
	} else {
		json_t *out = tide_job_to_json(&job);
		if (!out || tide_job_from_json(out, &again, &err) != 0 ||
			memcmp(&job, &again, sizeof(job)) != 0)
			abort();
		json_decref(out);
	}
	json_decref(j);
	return 0;
}
