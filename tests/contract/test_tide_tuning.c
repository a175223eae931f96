/* test_tide_tuning.c — unit tests for the drone's tuning keys (dataplane/contract/tide_tuning.h):
 * the table is sound (names unique, bounds ordered, defaults within them, limits named), keys
 * are found by name, their range and default are put in words, tide_tuning_check refuses a
 * value of the wrong type, out of bounds or not a power of two with the words the Hive
 * answers, tide_tuning_int falls back to the defaults, and the JSON the Hive serves
 * (GET /api/v1/meta/tuning) says the same as the table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tide_tuning.h"

static void
test_table_is_sound(void **state)
{
	(void)state;
	assert_true(tide_tuning_count >= 11);
	for (size_t i = 0; i < tide_tuning_count; i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		assert_non_null(k->name);
		assert_true(k->help && k->help[0] && !strchr(k->help, '\n'));
		for (size_t j = 0; j < i; j++)
			if (strcmp(tide_tuning_keys[j].name, k->name) == 0)
				fail_msg("tuning key %s listed twice", k->name);
		assert_true(k->min <= k->max);
		if (k->kind == TIDE_TUNING_BOOL)
			assert_true(k->min == 0 && k->max == 1);
		if (k->def != TIDE_TUNING_AUTO && (k->def < k->min || k->def > k->max))
			fail_msg("%s: default %lld outside %lld..%lld", k->name, (long long)k->def,
				(long long)k->min, (long long)k->max);
		if (k->kind == TIDE_TUNING_POW2)
			assert_true(k->min > 0 && (k->min & (k->min - 1)) == 0 &&
				(k->max & (k->max - 1)) == 0);
		assert_true(k->limit_less >= 0 && (k->limit || k->limit_less == 0));
		if (k->def == TIDE_TUNING_AUTO)
			assert_true(k->auto_text && k->auto_text[0]);
	}
}

static void
test_words(void **state)
{
	(void)state;
	static const struct {
		const char *key, *range, *def;
	} words[] = {
		{ "workers", "1..cores-1", "1" },
		{ "writer_cores", "0..cores", "0" },
		{ "numa_node", "-1..numa_nodes-1", "-1" },
		{ "rx_desc", "64..4096, a power of two", "1024" },
		{ "burst", "1..32", "32" },
		{ "hugepages", "true/false", "when the host has free ones" },
		{ "busy_poll", "true/false", "false" },
		{ "lookback_mib", "0..65536", "64" },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char range[64], def[64];
		tide_tuning_range_text(tide_tuning_find(words[i].key), range, sizeof(range));
		tide_tuning_default_text(tide_tuning_find(words[i].key), def, sizeof(def));
		assert_string_equal(range, words[i].range);
		assert_string_equal(def, words[i].def);
	}
}

static void
test_lookup_and_defaults(void **state)
{
	(void)state;
	const struct tide_tuning_key *k = tide_tuning_find("lookback_mib");
	assert_non_null(k);
	assert_string_equal(k->name, "lookback_mib");
	assert_int_equal(k->kind, TIDE_TUNING_INT);
	assert_int_equal(k->def, 64);
	assert_int_equal(tide_tuning_find("busy_poll")->kind, TIDE_TUNING_BOOL);
	assert_int_equal(tide_tuning_find("rx_desc")->kind, TIDE_TUNING_POW2);
	assert_string_equal(tide_tuning_find("workers")->limit, "cores");
	assert_null(tide_tuning_find("cores"));
	assert_null(tide_tuning_find("Workers"));
	assert_null(tide_tuning_find(""));
	assert_null(tide_tuning_find(NULL));

	json_t *t = json_pack("{s:i, s:b, s:s}", "workers", 3, "busy_poll", 1, "burst", "16");
	assert_int_equal(tide_tuning_int(t, "workers"), 3);
	assert_int_equal(tide_tuning_int(t, "busy_poll"), 1);
	assert_int_equal(tide_tuning_int(t, "lookback_mib"), 64);  /* absent */
	assert_int_equal(tide_tuning_int(t, "numa_node"), -1);
	assert_int_equal(tide_tuning_int(t, "burst"), TIDE_TUNING_AUTO); /* not an integer */
	assert_int_equal(tide_tuning_int(NULL, "writer_cores"), 0);
	assert_int_equal(tide_tuning_int(t, "no_such_key"), TIDE_TUNING_AUTO);
	json_decref(t);
}

/* key, value (JSON), result, start of the reason */
static const struct {
	const char *key, *value;
	int rc;
	const char *why;
} checks[] = {
	{ "workers", "1", 0, NULL },
	{ "workers", "128", 0, NULL },
	{ "workers", "0", -EINVAL, "must be from 1 to 128" },
	{ "workers", "129", -EINVAL, "must be from 1 to 128" },
	{ "workers", "\"2\"", -EINVAL, "must be an integer" },
	{ "workers", "2.0", -EINVAL, "must be an integer" },
	{ "workers", "true", -EINVAL, "must be an integer" },
	{ "burst", "100000", -EINVAL, "must be from 1 to 32" },
	{ "numa_node", "-1", 0, NULL },
	{ "numa_node", "-2", -EINVAL, "must be from -1 to 64" },
	{ "rx_desc", "512", 0, NULL },
	{ "rx_desc", "1000", -EDOM, "is not a power of two" },
	{ "rx_desc", "8192", -EINVAL, "must be from 64 to 4096" },
	{ "tx_desc", "96", -EDOM, "is not a power of two" },
	{ "hugepages", "false", 0, NULL },
	{ "hugepages", "1", -EINVAL, "must be a boolean" },
	{ "busy_poll", "null", -EINVAL, "must be a boolean" },
	{ "lookback_mib", "0", 0, NULL },
	{ "lookback_mib", "65537", -EINVAL, "must be from 0 to 65536" },
};

static void
test_bad_values_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct tide_tuning_key *k = tide_tuning_find(checks[i].key);
		assert_non_null(k);
		json_t *v = json_loads(checks[i].value, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		char why[96] = "";
		int rc = tide_tuning_check(k, v, why, sizeof(why));
		json_decref(v);
		if (rc != checks[i].rc)
			fail_msg("%s=%s: %d (%s), wanted %d", checks[i].key, checks[i].value, rc, why,
				checks[i].rc);
		if (checks[i].why && strcmp(why, checks[i].why) != 0)
			fail_msg("%s=%s: '%s', wanted '%s'", checks[i].key, checks[i].value, why,
				checks[i].why);
	}
	/* why may be left out */
	json_t *v = json_integer(0);
	assert_int_equal(tide_tuning_check(tide_tuning_find("burst"), v, NULL, 0), -EINVAL);
	json_decref(v);
}

static void
test_json_says_the_same(void **state)
{
	(void)state;
	json_t *r = tide_tuning_to_json();
	assert_non_null(r);
	json_t *keys = json_object_get(r, "keys");
	assert_int_equal(json_array_size(keys), tide_tuning_count);
	for (size_t i = 0; i < tide_tuning_count; i++) {
		const struct tide_tuning_key *k = &tide_tuning_keys[i];
		json_t *o = json_array_get(keys, i);
		assert_string_equal(json_string_value(json_object_get(o, "name")), k->name);
		assert_string_equal(json_string_value(json_object_get(o, "help")), k->help);
		json_t *def = json_object_get(o, "default");
		char text[64];
		tide_tuning_default_text(k, text, sizeof(text));
		assert_string_equal(json_string_value(json_object_get(o, "default_text")), text);
		if (k->def == TIDE_TUNING_AUTO)
			assert_true(json_is_null(def));
		if (k->kind == TIDE_TUNING_BOOL) {
			assert_string_equal(json_string_value(json_object_get(o, "type")), "boolean");
			assert_null(json_object_get(o, "min"));
			if (k->def != TIDE_TUNING_AUTO)
				assert_true(json_is_boolean(def) && json_is_true(def) == (k->def != 0));
		} else {
			assert_string_equal(json_string_value(json_object_get(o, "type")), "integer");
			assert_int_equal(json_integer_value(json_object_get(o, "min")), k->min);
			assert_int_equal(json_integer_value(json_object_get(o, "max")), k->max);
			assert_true(json_is_true(json_object_get(o, "power_of_two")) ==
				(k->kind == TIDE_TUNING_POW2));
			if (k->def != TIDE_TUNING_AUTO)
				assert_int_equal(json_integer_value(def), k->def);
		}
		json_t *lim = json_object_get(o, "limit");
		if (k->limit)
			assert_string_equal(json_string_value(lim), k->limit);
		else
			assert_true(json_is_null(lim));
		assert_int_equal(json_integer_value(json_object_get(o, "limit_less")), k->limit_less);
	}
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_is_sound),
		cmocka_unit_test(test_lookup_and_defaults),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_bad_values_refused),
		cmocka_unit_test(test_json_says_the_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
