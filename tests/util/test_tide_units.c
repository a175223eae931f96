/* test_tide_units.c — the size and duration grammar (dataplane/util/tide_units.h) against every
 * example of tests/data/units.tsv, the table the Python client's mirror is held to as well. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tide_units.h"

static void
test_table(void **state)
{
	const char *root = getenv("TIDE_SOURCE_ROOT");
	char path[4096], line[512];
	unsigned int rows = 0, sizes = 0, durations = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/data/units.tsv", root ? root : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *kind, *input, *want, *nl;
		uint64_t got = 0;
		int r;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		kind = line;
		input = strchr(kind, '\t');
		assert_non_null(input);
		*input++ = '\0';
		want = strchr(input, '\t');
		assert_non_null(want);
		*want++ = '\0';
		errno = 0;
		if (strcmp(kind, "size") == 0) {
			r = tide_parse_size(input, &got);
			sizes++;
		} else {
			assert_string_equal(kind, "duration");
			r = tide_parse_duration(input, &got);
			durations++;
		}
		if (strcmp(want, "error") == 0) {
			if (r != -1 || (errno != EINVAL && errno != ERANGE))
				fail_msg("%s '%s': accepted as %" PRIu64 ", the table says error", kind,
					input, got);
		} else {
			if (r != 0)
				fail_msg("%s '%s': refused (errno %d), the table says %s", kind, input,
					errno, want);
			if (got != strtoull(want, NULL, 10))
				fail_msg("%s '%s': %" PRIu64 ", the table says %s", kind, input, got, want);
		}
		rows++;
	}
	fclose(f);
	assert_true(sizes >= 20 && durations >= 10);
	assert_int_equal(rows, sizes + durations);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
