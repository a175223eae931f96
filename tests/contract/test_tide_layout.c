/* test_tide_layout.c — unit tests for the dataset layout (dataplane/contract/tide_layout.h): the
 * paths every program builds, the drone-to-Hive mapping of a capture's files (and what is never
 * uploaded), the areas a drone may upload into, and refusals when a path does not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tide_layout.h"

static void
test_paths(void **state)
{
	(void)state;
	char b[128];
	assert_int_equal(tide_layout_shard_dir(b, sizeof(b), "probe1", "eth1"), 0);
	assert_string_equal(b, "shards/probe1/eth1");
	assert_int_equal(tide_layout_link_manifest(b, sizeof(b), "probe1", "eth1"), 0);
	assert_string_equal(b, "manifests/probe1/eth1.json");
	assert_int_equal(tide_layout_capture_flows(b, sizeof(b), "eth1"), 0);
	assert_string_equal(b, "flows/eth1.csv");
	assert_int_equal(tide_layout_offline_flows(b, sizeof(b), "vm", "jsonl"), 0);
	assert_string_equal(b, "flows/vm.jsonl");
	char tiny[8];
	assert_int_equal(tide_layout_shard_dir(tiny, sizeof(tiny), "probe1", "eth1"), -1);
}

static void
test_upload_dest(void **state)
{
	(void)state;
	char b[128];
	assert_int_equal(tide_layout_upload_dest(b, sizeof(b), "shards/p1/eth1/000001.pcapng",
		"p1", "eth1"), 0);
	assert_string_equal(b, "shards/p1/eth1/000001.pcapng");
	assert_int_equal(tide_layout_upload_dest(b, sizeof(b), "flows/eth1.csv.summary.csv", "p1",
		"eth1"), 0);
	assert_string_equal(b, "flows/p1/eth1.csv.summary.csv");
	assert_int_equal(tide_layout_upload_dest(b, sizeof(b), "manifest.json", "p1", "eth1"), 0);
	assert_string_equal(b, "manifests/p1/eth1.json");
	assert_int_equal(tide_layout_upload_dest(b, sizeof(b), "job.log", "p1", "eth1"), -1);
	assert_int_equal(tide_layout_upload_dest(b, sizeof(b), "processed/x", "p1", "eth1"), -1);
}

static void
test_areas(void **state)
{
	(void)state;
	const char *rest = NULL;
	assert_int_equal(tide_layout_area_of("shards/p1/eth1/000000.pcapng", "p1", &rest),
		TIDE_AREA_SHARDS);
	assert_string_equal(rest, "eth1/000000.pcapng");
	assert_int_equal(tide_layout_area_of("flows/p1/eth1.csv", "p1", &rest), TIDE_AREA_FLOWS);
	assert_string_equal(rest, "eth1.csv");
	assert_int_equal(tide_layout_area_of("manifests/p1/eth1.json", "p1", NULL),
		TIDE_AREA_MANIFESTS);
	/* another drone's part, a prefix of the name, no area, nothing after the drone */
	assert_int_equal(tide_layout_area_of("shards/p2/eth1/x", "p1", NULL), TIDE_AREA_NONE);
	assert_int_equal(tide_layout_area_of("shards/p10/eth1/x", "p1", NULL), TIDE_AREA_NONE);
	assert_int_equal(tide_layout_area_of("processed/p1/x", "p1", NULL), TIDE_AREA_NONE);
	assert_int_equal(tide_layout_area_of("shards/p1", "p1", NULL), TIDE_AREA_NONE);
	assert_int_equal(tide_layout_area_of("shardsx/p1/y", "p1", NULL), TIDE_AREA_NONE);
}

/* Drone and link names (directories of every dataset) and the other path segments. */
static void
test_names(void **state)
{
	static const char *const good[] = { "probe1", "eth0", "p1.a_b-c", "A", "x-", "0" };
	static const char *const bad[] = { "", ".hidden", "-x", "a/b", "a b", "caf\xc3\xa9", "..",
		"a\n", "0123456789012345678901234567890123" /* 34 bytes */ };
	char seg[TIDE_SEGMENT_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(tide_layout_name_ok(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(tide_layout_name_ok(bad[i], strlen(bad[i])));
	/* the length is what counts, not a NUL: a name is often a slice of a longer string */
	assert_true(tide_layout_name_ok("p1/rest", 2));
	assert_true(tide_layout_name_ok("0123456789012345678901234567890", TIDE_NAME_MAX));
	/* segments: '-' may lead, up to TIDE_SEGMENT_MAX bytes */
	assert_true(tide_layout_segment_ok("-x", 2));
	assert_false(tide_layout_segment_ok(".x", 2));
	memset(seg, 'a', sizeof(seg));
	assert_true(tide_layout_segment_ok(seg, TIDE_SEGMENT_MAX));
	assert_false(tide_layout_segment_ok(seg, TIDE_SEGMENT_MAX + 1));
	assert_false(tide_layout_segment_ok(NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_upload_dest),
		cmocka_unit_test(test_areas),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
