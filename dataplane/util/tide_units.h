/* tide_units.h — the one grammar of sizes and durations, for every program: the dataplane's
 * command line, the Hive's configuration and its job API (a size or duration field may be a
 * JSON string in this grammar), tidectl, and through the API the console and the Python client.
 *
 *   size      digits with an optional fraction (".5"), an optional binary unit K, M, G or T
 *             (any case) optionally followed by "i", and an optional "B" (any case); nothing
 *             else, no spaces: 512, 64K, 10G, 1.5GiB, 200MB, 300b. Units are powers of 1024; a
 *             fraction is rounded to the nearest byte.
 *   duration  one or more <integer><unit>, unit s, m, h, d or w (a bare number is seconds):
 *             90, 30s, 5m, 1h30m, 2d, 1w; at most TIDE_UNITS_DURATION_MAX seconds.
 *
 * tests/data/units.tsv holds the examples that pin the grammar down; the unit test checks this
 * code against it and the Python client's mirror (scripts/tideclient.py) is checked too.
 *
 * Returns 0, or -1 with errno EINVAL (not in the grammar) or ERANGE (too large). */
#ifndef TIDE_UNITS_H
#define TIDE_UNITS_H

#include <stdint.h>

/* The largest duration accepted, in seconds (about 31 years). */
#define TIDE_UNITS_DURATION_MAX 1000000000ull

int tide_parse_size(const char *s, uint64_t *bytes);
int tide_parse_duration(const char *s, uint64_t *seconds);

#endif
