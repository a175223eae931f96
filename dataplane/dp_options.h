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

	/* tuning (0 / -1 = the default) */
	const char *link_name;      /* --link-name: the (single) port's name in the dataset */
	unsigned int rx_queues;     /* --rx-queues */
	uint16_t rx_desc, tx_desc;  /* --rx-desc, --tx-desc */
	unsigned int burst;         /* --burst (1..DP_BURST) */
	unsigned int mbufs;         /* --mbufs */
	const char *writer_cpus;    /* --writer-cpus LIST (NULL = not pinned) */
	bool probe;                 /* --probe: describe the ports and exit */

	/* sessions and classification (TIE) */
	const char *flows_path;     /* --flows FILE (implies classification) */
	bool classify;              /* --classify: flows into OUT/flows/<drone>.csv */
	bool flows_jsonl;           /* --flows-format jsonl */
	const char *export_url;     /* --export URL (tide_export.h), implies classification */
	unsigned int session_type;  /* --session-type flow|biflow|host (enum cls_session_type) */
	uint64_t timeout_s;         /* --timeout (default 60) */
	uint32_t sessions;          /* --sessions: capacity per worker */
	unsigned int mode;          /* --mode offline|realtime|cyclic (enum dp_work_mode) */
	uint64_t interval_s;        /* --interval for cyclic (default 60) */
	const char *config_dir;     /* --config DIR */
	const char *plugins_path;   /* --plugins FILE (enabled list) */
	const char *plugin_dir;     /* --plugin-dir DIR */
	const char *model_dir;      /* --model-dir DIR */
	unsigned int policy;        /* --policy priority|vote */
	unsigned int min_confidence;/* --min-confidence N */
	const char *truth_path;     /* --truth FILE (pre-classifier) */
	bool train;                 /* --train */
	bool features;              /* --features: first-N feature columns */
	unsigned int first_n;       /* --first-n N */
	unsigned int first_bytes;   /* --first-bytes N */
	unsigned int stream_bytes;  /* --stream-bytes N */

	/* selection by application (dp_select.h) */
	const char *apps;           /* --apps LIST (tide_job.h's grammar; NULL: every session) */
	bool apps_keep_undecided;   /* --apps-undecided keep|drop (default drop) */
	uint32_t apps_packets;      /* --apps-packets N (0: the contract's default) */
	uint64_t apps_wait_s;       /* --apps-wait TIME (0: the contract's default) */
};

enum dp_work_mode { DP_MODE_OFFLINE = 0, DP_MODE_REALTIME = 1, DP_MODE_CYCLIC = 2 };

static inline bool
dp_options_sessions(const struct dp_options *o)
{
	return o->flows_path || o->classify || o->train || o->export_url;
}

/* Parse argv (without the EAL part; argv[0] is the program). Returns 0, 1 when --help was
 * printed, or -1 after printing a usage error to stderr. */
int dp_options_parse(struct dp_options *o, int argc, char **argv);

void dp_options_usage(const char *prog);

#endif
