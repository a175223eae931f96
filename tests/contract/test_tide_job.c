/* test_tide_job.c — unit tests for the job contract (dataplane/contract/): tide_job_from_json
 * accepts the minimal and the full job, refuses every bad member naming the field and the
 * reason (the words the REST edge and the drone both show), round-trips through
 * tide_job_to_json, an export destination is checked by the one grammar (tide_export.h) and
 * only with classification, and the counter registry's lists agree with their tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tide_counters.h"
#include "tide_job.h"

static int
parse(const char *text, struct tide_job *job, struct tide_job_error *err)
{
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	memset(err, 0, sizeof(*err));
	int rc = tide_job_from_json(o, job, err);
	json_decref(o);
	return rc;
}

static void
test_minimal_and_defaults(void **state)
{
	(void)state;
	struct tide_job j;
	struct tide_job_error e;
	assert_int_equal(parse("{\"max_size\": 1048576, \"max_duration\": 5}", &j, &e), 0);
	assert_string_equal(j.filter, "");
	assert_int_equal(j.snaplen, 0);
	assert_int_equal(j.max_packets, 0);
	assert_int_equal(j.lookback_s, 0);
	assert_int_equal(j.session_type, TIDE_SESSION_BIFLOW);
	assert_false(j.anonymise);
	assert_string_equal(j.export, "");
	assert_string_equal(j.apps, "");
	assert_false(j.apps_keep_undecided);
	assert_int_equal(j.apps_packets, TIDE_JOB_APPS_PACKETS_DEFAULT);
	assert_int_equal(j.apps_wait, TIDE_JOB_APPS_WAIT_DEFAULT);
}

static void
test_full_round_trip(void **state)
{
	(void)state;
	struct tide_job j, k;
	struct tide_job_error e;
	const char *text = "{\"filter\": \"udp port 443\", \"snaplen\": 262144, \"anonymise\": true,"
		" \"classify\": true, \"session_type\": \"flow\", \"max_size\": 4398046511104,"
		" \"max_duration\": 604800, \"max_packets\": 1000, \"lookback_s\": 3600,"
		" \"shard_size\": 68719476736, \"shard_time\": 86400,"
		" \"export\": \"ipfix+tcp://[::1]:4739\", \"apps\": [\"QUIC\", \"YouTube\"],"
		" \"apps_undecided\": \"keep\", \"apps_packets\": 255, \"apps_wait\": 300}";
	assert_int_equal(parse(text, &j, &e), 0);
	assert_string_equal(j.filter, "udp port 443");
	assert_int_equal(j.snaplen, 262144);
	assert_int_equal(j.session_type, TIDE_SESSION_FLOW);
	assert_int_equal(j.max_packets, 1000);
	assert_string_equal(j.apps, "QUIC,YouTube");
	assert_true(j.apps_keep_undecided);
	assert_int_equal(j.apps_packets, 255);
	assert_int_equal(j.apps_wait, 300);
	assert_int_equal(j.lookback_s, 3600);
	assert_int_equal(j.shard_size, 64ll << 30);
	assert_int_equal(j.shard_time, 86400);
	assert_string_equal(j.export, "ipfix+tcp://[::1]:4739");
	json_t *out = tide_job_to_json(&j);
	assert_non_null(out);
	assert_int_equal(tide_job_from_json(out, &k, &e), 0);
	assert_memory_equal(&j, &k, sizeof(j));
	json_t *in = json_loads(text, 0, NULL);
	assert_true(json_equal(in, out));
	json_decref(in);
	json_decref(out);
}

/* body, code, field, start of the reason */
static const struct {
	const char *body, *code, *field, *why;
} refusals[] = {
	{ "[]", "invalid_body", "", "the job must be a JSON object" },
	{ "{\"max_duration\": 5}", "missing_field", "max_size", "is required" },
	{ "{\"max_size\": 1048576}", "missing_field", "max_duration", "is required" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"name\": \"x\"}", "unknown_field", "name",
		"is not a job parameter" },
	{ "{\"max_size\": 1048575, \"max_duration\": 5}", "invalid_field", "max_size",
		"must be 1048576-4398046511104" },
	{ "{\"max_size\": 1048576, \"max_duration\": 0}", "invalid_field", "max_duration",
		"must be 1-604800" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"snaplen\": 10}", "invalid_field",
		"snaplen", "must be 0 (whole packets) or 64-262144" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"snaplen\": 262145}", "invalid_field",
		"snaplen", "must be 0 (whole packets) or 64-262144" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"lookback_s\": 3601}", "invalid_field",
		"lookback_s", "must be 0 (no look-back) or 1-3600" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"lookback_s\": -1}", "invalid_field",
		"lookback_s", "must be 0 (no look-back) or 1-3600" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"lookback_s\": 1.5}", "invalid_field",
		"lookback_s", "must be an integer" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"max_packets\": -3}", "invalid_field",
		"max_packets", "must be 0 (unlimited) or 1-" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"session_type\": \"flows\"}",
		"invalid_field", "session_type", "must be flow, biflow or host" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"anonymise\": 1}", "invalid_field",
		"anonymise", "must be true or false" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"filter\": \"tcp\\n\"}", "invalid_field",
		"filter", "holds control characters" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"filter\": 7}", "invalid_field",
		"filter", "must be a string" },
	/* export: tide_export_parse's own words, and only with classification */
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"export\":"
		" \"http://127.0.0.1:4739\"}", "invalid_field", "export",
		"export destination 'http://127.0.0.1:4739' wants ipfix://, ipfix+udp://" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"export\":"
		" \"json+tcp://127.0.0.1\"}", "invalid_field", "export",
		"export destination 'json+tcp://127.0.0.1' wants a port" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"export\":"
		" \"ipfix://127.0.0.1:65536\"}", "invalid_field", "export",
		"export destination 'ipfix://127.0.0.1:65536': port must be 1-65535" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"export\": \"ipfix://127.0.0.1\"}",
		"invalid_field", "export", "needs classify" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": false, \"export\":"
		" \"ipfix://127.0.0.1\"}", "invalid_field", "export", "needs classify" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"export\": 4739}",
		"invalid_field", "export", "must be a string" },
	/* apps: the list grammar's words, and only with classification of flows or biflows */
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"apps\": [\"QUIC\"]}",
		"invalid_field", "apps", "needs classify" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"session_type\":"
		" \"host\", \"apps\": [\"QUIC\"]}", "invalid_field", "apps", "needs flow or biflow" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\": \"QUIC\"}",
		"invalid_field", "apps", "must be an array of at most 16" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\": [1]}",
		"invalid_field", "apps", "must be an array of application or service names" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\": [\"a,b\"]}",
		"invalid_field", "apps", "must be an array of application or service names" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\": [\"\"]}",
		"invalid_field", "apps", "an empty name" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\":"
		" [\"Q UIC\"]}", "invalid_field", "apps", "'Q UIC' is not an application" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\":"
		" [\"QUIC\", \"quic\"]}", "invalid_field", "apps", "'quic' is named twice" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true, \"apps\":"
		" [\"QUIC\"], \"apps_undecided\": \"maybe\"}", "invalid_field", "apps_undecided",
		"must be keep or drop" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"apps_packets\": 0}",
		"invalid_field", "apps_packets", "must be 1-255" },
	{ "{\"max_size\": 1048576, \"max_duration\": 5, \"apps_wait\": \"6m\"}",
		"invalid_field", "apps_wait", "must be 1-300" },
};

static void
test_refusals_name_the_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct tide_job j;
		struct tide_job_error e;
		json_t *o = json_loads(refusals[i].body, JSON_DECODE_ANY, NULL);
		assert_non_null(o);
		assert_int_equal(tide_job_from_json(o, &j, &e), -EINVAL);
		json_decref(o);
		assert_string_equal(e.code, refusals[i].code);
		assert_string_equal(e.field, refusals[i].field);
		if (strncmp(e.why, refusals[i].why, strlen(refusals[i].why)) != 0)
			fail_msg("%s: '%s', wanted '%s'", refusals[i].body, e.why, refusals[i].why);
	}
}

static void
test_filter_bound(void **state)
{
	(void)state;
	char filter[TIDE_JOB_FILTER_MAX + 2];
	memset(filter, 'a', sizeof(filter) - 1);
	filter[sizeof(filter) - 1] = '\0';
	json_t *o = json_pack("{s:s, s:I, s:i}", "filter", filter, "max_size",
		(json_int_t)TIDE_JOB_MAX_SIZE_MIN, "max_duration", 5);
	struct tide_job j;
	struct tide_job_error e;
	assert_int_equal(tide_job_from_json(o, &j, &e), -EINVAL);
	assert_string_equal(e.field, "filter");
	filter[TIDE_JOB_FILTER_MAX] = '\0'; /* exactly the limit */
	json_object_set_new(o, "filter", json_string(filter));
	assert_int_equal(tide_job_from_json(o, &j, &e), 0);
	assert_int_equal(strlen(j.filter), TIDE_JOB_FILTER_MAX);
	json_decref(o);
}

/* "" is no export (classification or not); a destination longer than the bound is refused
 * before it is parsed, and one at the bound with a 255-byte host in brackets fits */
static void
test_export(void **state)
{
	(void)state;
	struct tide_job j;
	struct tide_job_error e;
	assert_int_equal(parse("{\"max_size\": 1048576, \"max_duration\": 5, \"export\": \"\"}",
		&j, &e), 0);
	assert_string_equal(j.export, "");
	assert_int_equal(parse("{\"max_size\": 1048576, \"max_duration\": 5, \"classify\": true,"
		" \"export\": \"json+udp://collector.example:9995\"}", &j, &e), 0);
	assert_string_equal(j.export, "json+udp://collector.example:9995");
	char url[TIDE_JOB_EXPORT_MAX + 2], host[256];
	memset(host, 'h', 255);
	host[255] = '\0';
	snprintf(url, sizeof(url), "ipfix+tcp://[%s]:65535", host);
	assert_true(strlen(url) <= TIDE_JOB_EXPORT_MAX);
	json_t *o = json_pack("{s:I, s:i, s:b, s:s}", "max_size", (json_int_t)TIDE_JOB_MAX_SIZE_MIN,
		"max_duration", 5, "classify", 1, "export", url);
	assert_int_equal(tide_job_from_json(o, &j, &e), 0);
	assert_string_equal(j.export, url);
	memset(url, 'a', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	json_object_set_new(o, "export", json_string(url));
	assert_int_equal(tide_job_from_json(o, &j, &e), -EINVAL);
	assert_string_equal(e.field, "export");
	assert_string_equal(e.why, "must be at most 300 bytes");
	json_decref(o);
}

/* The list grammar every command line shares: blanks trimmed, canonical commas, at most 16
 * names of at most 31 bytes; tide_job_apps_next walks the canonical form. */
static void
test_apps_list(void **state)
{
	(void)state;
	char out[TIDE_JOB_APPS_MAX + 1], why[256], name[TIDE_JOB_APP_NAME_MAX + 1];
	assert_int_equal(tide_job_apps_parse(" QUIC , TLS/HTTP2,YouTube ", out, sizeof(out), why,
		sizeof(why)), 0);
	assert_string_equal(out, "QUIC,TLS/HTTP2,YouTube");
	const char *p = out;
	assert_non_null(p = tide_job_apps_next(p, name, sizeof(name)));
	assert_string_equal(name, "QUIC");
	assert_non_null(p = tide_job_apps_next(p, name, sizeof(name)));
	assert_string_equal(name, "TLS/HTTP2");
	assert_non_null(p = tide_job_apps_next(p, name, sizeof(name)));
	assert_string_equal(name, "YouTube");
	assert_null(tide_job_apps_next(p, name, sizeof(name)));
	assert_int_equal(tide_job_apps_parse("", out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "");
	assert_int_equal(tide_job_apps_parse("QUIC,", out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_int_equal(tide_job_apps_parse("QUIC,,DNS", out, sizeof(out), why, sizeof(why)),
		-EINVAL);
	char many[1024] = "";
	for (int i = 0; i < TIDE_JOB_APPS_NAMES_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sA%031d", i ? "," : "", i);
	many[strlen(many)] = '\0';
	/* 16 names of 32 bytes are one byte too long each */
	assert_int_equal(tide_job_apps_parse(many, out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "longer than 31"));
	many[0] = '\0';
	for (int i = 0; i < TIDE_JOB_APPS_NAMES_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sA%030d", i ? "," : "", i);
	assert_int_equal(tide_job_apps_parse(many, out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, many);
	strcat(many, ",DNS");
	assert_int_equal(tide_job_apps_parse(many, out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "at most 16 names");
}

static void
test_registry(void **state)
{
	(void)state;
	assert_string_equal(tide_drop_names[TIDE_DROP_RING_FULL], "ring_full");
	assert_non_null(strstr(tide_drop_hint("ring_full"), "writer could not keep up"));
	assert_null(tide_drop_hint("no_such_reason"));
	assert_string_equal(tide_stop_names[TIDE_STOP_MAX_SIZE], "max size reached");
	assert_int_equal(tide_name_index(tide_job_state_names, -1, "cancelled"),
		TIDE_JOB_STATE_CANCELLED);
	assert_int_equal(tide_name_index(tide_link_state_names, -1, "nope"), -1);
	json_t *r = tide_counters_to_json();
	assert_non_null(r);
	assert_int_equal(json_array_size(json_object_get(r, "drop_reasons")), TIDE_DROP_MAX);
	json_t *d = json_array_get(json_object_get(r, "drop_reasons"), TIDE_DROP_RING_FULL);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "ring_full");
	assert_string_equal(json_string_value(json_object_get(d, "hint")),
		tide_drop_hints[TIDE_DROP_RING_FULL]);
	assert_int_equal(json_array_size(json_object_get(r, "counters")), TIDE_COUNTER_MAX);
	json_decref(r);
	/* the two-column view generates the same order as the three-column list */
	static const char *const two[] = {
#define _(sym, name) name,
		TIDE_DROP_NAMES(_)
#undef _
	};
	for (int i = 0; i < TIDE_DROP_MAX; i++)
		assert_string_equal(two[i], tide_drop_names[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_refusals_name_the_field),
		cmocka_unit_test(test_filter_bound),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_apps_list),
		cmocka_unit_test(test_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
