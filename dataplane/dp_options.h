/* dp_options.h — tide-dataplane's command line (the part after the EAL arguments).
 *
 * Parsed before the EAL starts so a usage error or a bad filter is reported at once, without
 * paying for EAL start-up. */
#ifndef DP_OPTIONS_H
#define DP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include "dp_anon.h"

struct dp_options {
	const char *pcap_path;      /* --pcap: offline input */
	bool demo;                  /* --demo: replay the embedded demo link */
	const char *out_dir;        /* --out */
	const char *drone;          /* --drone (default: host name) */
	const char *filter;         /* --filter ("" = everything) */
	uint32_t snaplen;           /* --snaplen (0 = whole packets) */
	bool anonymise;             /* --anon-key given */
	uint8_t anon_key[DP_ANON_KEY_LEN];
	uint64_t shard_size;        /* --shard-size bytes */
	uint64_t shard_time_s;      /* --shard-time seconds (0 = never) */
	uint64_t max_size;          /* --max-size bytes (0 = unlimited) */
	uint64_t max_duration_s;    /* --max-duration seconds (0 = unlimited) */
	uint64_t count;             /* --count packets (0 = unlimited) */
	unsigned int workers;       /* --workers (0 = every lcore but the main one) */
	bool quiet;                 /* --quiet: no periodic stats line */
	bool check_filter;          /* --check-filter: compile the filter and exit */
	unsigned int check_linktype;/* --linktype for --check-filter (default Ethernet) */
	char drone_buf[64];
};

/* Parse argv (without the EAL part; argv[0] is the program). Returns 0, 1 when --help was
 * printed, or -1 after printing a usage error to stderr. */
int dp_options_parse(struct dp_options *o, int argc, char **argv);

void dp_options_usage(const char *prog);

#endif
