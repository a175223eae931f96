/* dp_flows.h — flow records out: flows.csv (or JSON Lines), one row per session, and the
 * per-application (TIE's output block) and per-service summaries.
 *
 * Work modes (TIE): offline — a record when a session expires or at the end; realtime — a
 * record as soon as a session is classified; cyclic — one timestamped file per interval, with
 * the summary counters reset each interval. Workers emit concurrently: one mutex around the
 * buffered file (records are per session, orders of magnitude rarer than packets).
 *
 * Columns (docs/ARCHITECTURE.md, "Flow record columns"): the fixed ones, then the optional
 * truth, feature and dataset groups, then `tunnel` (dp_tunnel_names; "" when none) and last
 * `service` (config/services.txt, the engine's decision; "" when none). New columns go at the
 * end, so readers by column name keep working.
 *
 * Summaries, written when a file is closed (cyclic mode: per file): <flows>.summary.csv (app,
 * group, sessions, packets, bytes) and <flows>.services.csv (service, sessions, packets,
 * bytes; the row "unknown" counts sessions without a service); with shards, both add
 * dataset_packets and dataset_bytes. */
#ifndef DP_FLOWS_H
#define DP_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "cls_engine.h"
#include "dp_export.h"
#include "dp_session.h"
#include "tide_export.h"

struct dp_flows_params {
	const char *path;            /* flows file; cyclic: <path minus .csv>-<UTC time>.csv */
	bool jsonl;
	bool cyclic;
	uint64_t interval_ns;        /* cyclic interval */
	const struct cls_engine *engine; /* names of apps and classifiers (NULL: no classification) */
	bool truth;                  /* add truth_app / truth_sub_app columns */
	bool features;               /* add the first-N packet feature columns */
	bool quiet;                  /* no summary table on stderr */
	const uint8_t *anon_key;     /* the job anonymises: addresses in its records are mapped
	                              * with the same key as its packets (NULL: as captured) */
	bool dataset;                /* the job writes shards: records and summary say what they
	                              * hold (dataset_pkts, dataset_bytes, dropped_pkts) */
	const struct tide_export_target *export; /* also send each record to a collector as it
	                              * is written (dp_export.h; NULL: none) */
	uint32_t observation_domain; /* IPFIX observation domain of that export */
};

struct dp_flows;

/* NULL with errno on failure (message on stderr). */
struct dp_flows *dp_flows_open(const struct dp_flows_params *p);
/* dp_flow_emit_fn: arg is the struct dp_flows. Thread-safe. */
void dp_flows_emit(void *arg, const struct dp_flow_rec *rec);
/* Cyclic mode: start a new file when `now_ns` has crossed the interval boundary. */
void dp_flows_tick(struct dp_flows *f, uint64_t now_ns);
/* Flush, write the summary, close. 0 or -errno. */
int dp_flows_close(struct dp_flows *f);
/* dp_flows_close, and the export's final counts into *xs (zeros without an export): every
 * record handed to the exporter is in sent, queue_full or send_failed — what the collector
 * has not taken when the 5 s drain ends is counted send_failed. For a manifest. */
int dp_flows_close_export(struct dp_flows *f, struct dp_export_stats *xs);
uint64_t dp_flows_records(const struct dp_flows *f);

#endif
