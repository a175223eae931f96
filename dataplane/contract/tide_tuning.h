/* tide_tuning.h — the one table of a drone's tuning keys (workers, queues, descriptors, burst,
 * mempool, writer CPUs, NUMA node, hugepages, look-back buffer, busy polling): each key's name,
 * kind, bounds, default and one-line help.
 *
 * Why one table: the keys used to be written four times — the Hive's validation
 * (control/hive/cp_api_drones.c), tidectl's help and parser, the drone's defaults and the
 * console's form — and drifted (tidectl's completion and the API's schema missed the newest
 * keys). Now the Hive checks a PUT /drones/{id}/tuning body with tide_tuning_check(), tidectl
 * parses and describes KEY=VALUE from the table, the drone takes its defaults from it
 * (tide_tuning_int), and the Hive serves tide_tuning_to_json() at GET /api/v1/meta/tuning, from
 * which the console builds its form.
 *
 * What is not here: the limits of one host (its cores, NUMA nodes, the queues its ports allow,
 * its hugepages) are known only to the Hive, from what the drone reported; a key names the
 * limit it must also respect (limit, limit_less) and the Hive checks it. */
#ifndef TIDE_TUNING_H
#define TIDE_TUNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A default the drone does not fix: it leaves the choice to the dataplane (its own default,
 * which the key's help names) or to the host (hugepages when free ones exist). */
#define TIDE_TUNING_AUTO INT64_MIN

enum tide_tuning_kind {
	TIDE_TUNING_INT,
	TIDE_TUNING_POW2,   /* an integer that is a power of two (descriptor rings) */
	TIDE_TUNING_BOOL,
};

struct tide_tuning_key {
	const char *name;
	enum tide_tuning_kind kind;
	int64_t min, max;   /* on any host; booleans 0 and 1 */
	int64_t def;        /* the drone's value when the tuning lacks the key, or
	                     * TIDE_TUNING_AUTO */
	const char *limit;  /* the member of a drone's limits (GET /drones/{id}/tuning) the value
	                     * must stay within on that host: at most limit - limit_less (a boolean:
	                     * true needs limit > 0); NULL: none beyond max */
	int limit_less;
	const char *auto_text; /* what TIDE_TUNING_AUTO gives ("one per worker", "1024") */
	const char *help;   /* one line, without the range or the default (shown beside it) */
};

extern const struct tide_tuning_key tide_tuning_keys[];
extern const size_t tide_tuning_count;

/* The key of this name, NULL for none. */
const struct tide_tuning_key *tide_tuning_find(const char *name);

/* Is v a value of k: of its kind, within [min, max] and, for TIDE_TUNING_POW2, a power of two?
 * The host's limits are not checked here. 0; -EINVAL for the wrong type or out of bounds and
 * -EDOM for an integer in bounds that is not a power of two, why then saying so as words that
 * follow the key's name ("must be an integer", "must be from 1 to 32", "is not a power of
 * two"). why may be NULL. */
int tide_tuning_check(const struct tide_tuning_key *k, const json_t *v, char *why,
	size_t why_size);

/* The value of name in tuning (a JSON object as the Hive stores it: integers and booleans,
 * true being 1), or the key's default when tuning lacks it or holds something else. An unknown
 * name gives TIDE_TUNING_AUTO. */
int64_t tide_tuning_int(const json_t *tuning, const char *name);

/* The default in words: auto_text, or the value ("64", "-1", "false"). */
void tide_tuning_default_text(const struct tide_tuning_key *k, char *buf, size_t size);

/* The range in words: "1..cores-1", "64..4096, a power of two", "true/false". */
void tide_tuning_range_text(const struct tide_tuning_key *k, char *buf, size_t size);

/* The table: {"keys": [{"name", "type": "integer"|"boolean", "power_of_two" (integers),
 * "min", "max" (integers), "default" (null: TIDE_TUNING_AUTO), "default_text" (words, always),
 * "limit" (null or the limits' member), "limit_less", "help"}]} in the table's order. New
 * reference, NULL without memory. */
json_t *tide_tuning_to_json(void);

#endif
