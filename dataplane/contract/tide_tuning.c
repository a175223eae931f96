/* tide_tuning.c — the drone's tuning keys and their checks (see tide_tuning.h). The table is
 * the only place a key's name, kind, bounds and default are written. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tide_tuning.h"

/* Bounds are what DPDK and the dataplane accept on any host (bursts of at most DP_BURST, a
 * mempool of at most 2^22 - 1 mbufs, descriptor rings a PMD takes); the auto_text of an AUTO
 * key says what tide-dataplane picks itself (dataplane/dp_live.c, dp_port.c, dp_capture.h). */
const struct tide_tuning_key tide_tuning_keys[] = {
	{ "workers", TIDE_TUNING_INT, 1, 128, 1, "cores", 1, NULL,
		"worker lcores (the main lcore is one more)" },
	{ "rx_queues", TIDE_TUNING_INT, 1, 128, TIDE_TUNING_AUTO, "max_rx_queues", 0,
		"one per worker", "RX queues per port" },
	{ "rx_desc", TIDE_TUNING_POW2, 64, 4096, TIDE_TUNING_AUTO, NULL, 0, "1024",
		"RX descriptors per queue" },
	{ "tx_desc", TIDE_TUNING_POW2, 64, 4096, TIDE_TUNING_AUTO, NULL, 0, "the driver's",
		"TX descriptors per queue" },
	{ "burst", TIDE_TUNING_INT, 1, 32, TIDE_TUNING_AUTO, NULL, 0, "32",
		"packets per RX burst" },
	{ "mempool_size", TIDE_TUNING_INT, 1023, 4194303, TIDE_TUNING_AUTO, NULL, 0, "65535",
		"mbufs in the packet pool" },
	{ "writer_cores", TIDE_TUNING_INT, 0, 128, 0, "cores", 0, NULL,
		"CPUs reserved for the writer thread (0: not pinned)" },
	{ "numa_node", TIDE_TUNING_INT, -1, 64, -1, "numa_nodes", 1, NULL,
		"NUMA node of the lcores and memory (-1: the NIC's)" },
	{ "hugepages", TIDE_TUNING_BOOL, 0, 1, TIDE_TUNING_AUTO, "hugepages_total", 0,
		"when the host has free ones", "use hugepages" },
	{ "lookback_mib", TIDE_TUNING_INT, 0, 65536, 64, NULL, 0, NULL,
		"look-back buffer per link in MiB, how far back a job may begin (0: none)" },
	{ "busy_poll", TIDE_TUNING_BOOL, 0, 1, 0, NULL, 0, NULL,
		"workers never nap on a quiet link (for dedicated cores)" },
};
const size_t tide_tuning_count = sizeof(tide_tuning_keys) / sizeof(tide_tuning_keys[0]);

const struct tide_tuning_key *
tide_tuning_find(const char *name)
{
	for (size_t i = 0; name && i < tide_tuning_count; i++)
		if (strcmp(tide_tuning_keys[i].name, name) == 0)
			return &tide_tuning_keys[i];
	return NULL;
}

int
tide_tuning_check(const struct tide_tuning_key *k, const json_t *v, char *why, size_t why_size)
{
	char scratch[64];
	if (!why) {
		why = scratch;
		why_size = sizeof(scratch);
	}
	if (k->kind == TIDE_TUNING_BOOL) {
		if (json_is_boolean(v))
			return 0;
		snprintf(why, why_size, "must be a boolean");
		return -EINVAL;
	}
	if (!json_is_integer(v)) {
		snprintf(why, why_size, "must be an integer");
		return -EINVAL;
	}
	int64_t n = json_integer_value(v);
	if (n < k->min || n > k->max) {
		snprintf(why, why_size, "must be from %" PRId64 " to %" PRId64, k->min, k->max);
		return -EINVAL;
	}
	if (k->kind == TIDE_TUNING_POW2 && (n <= 0 || (n & (n - 1)) != 0)) {
		snprintf(why, why_size, "is not a power of two");
		return -EDOM;
	}
	return 0;
}

int64_t
tide_tuning_int(const json_t *tuning, const char *name)
{
	const struct tide_tuning_key *k = tide_tuning_find(name);
	json_t *v = json_object_get(tuning, name);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_boolean(v))
		return json_is_true(v);
	return k ? k->def : TIDE_TUNING_AUTO;
}

void
tide_tuning_default_text(const struct tide_tuning_key *k, char *buf, size_t size)
{
	if (k->def == TIDE_TUNING_AUTO)
		snprintf(buf, size, "%s", k->auto_text ? k->auto_text : "the dataplane's");
	else if (k->kind == TIDE_TUNING_BOOL)
		snprintf(buf, size, "%s", k->def ? "true" : "false");
	else
		snprintf(buf, size, "%" PRId64, k->def);
}

void
tide_tuning_range_text(const struct tide_tuning_key *k, char *buf, size_t size)
{
	if (k->kind == TIDE_TUNING_BOOL)
		snprintf(buf, size, "true/false");
	else if (k->limit && k->limit_less)
		snprintf(buf, size, "%" PRId64 "..%s-%d", k->min, k->limit, k->limit_less);
	else if (k->limit)
		snprintf(buf, size, "%" PRId64 "..%s", k->min, k->limit);
	else
		snprintf(buf, size, "%" PRId64 "..%" PRId64 "%s", k->min, k->max,
			k->kind == TIDE_TUNING_POW2 ? ", a power of two" : "");
}

static json_t *
key_json(const struct tide_tuning_key *k)
{
	bool b = k->kind == TIDE_TUNING_BOOL;
	char def[64];
	tide_tuning_default_text(k, def, sizeof(def));
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s?, s:i, s:s}", "name", k->name, "type",
		b ? "boolean" : "integer", "default", k->def == TIDE_TUNING_AUTO ? json_null() : b ?
		json_boolean(k->def) : json_integer(k->def), "default_text", def, "limit", k->limit,
		"limit_less", k->limit_less, "help", k->help);
	if (o && !b && json_object_update_new(o, json_pack("{s:b, s:I, s:I}", "power_of_two",
		k->kind == TIDE_TUNING_POW2, "min", (json_int_t)k->min, "max",
		(json_int_t)k->max)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
tide_tuning_to_json(void)
{
	json_t *keys = json_array();
	for (size_t i = 0; keys && i < tide_tuning_count; i++)
		if (json_array_append_new(keys, key_json(&tide_tuning_keys[i]))) {
			json_decref(keys);
			return NULL;
		}
	return json_pack("{s:o}", "keys", keys);
}
