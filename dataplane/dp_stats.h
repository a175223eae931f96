/* dp_stats.h — one place that adds up the counters of workers, writers and ports, so the
 * telemetry, the periodic stats line and the manifest can never disagree.
 *
 * The accounting identity (checked by tests for pcap input):
 *   received = matched + filtered
 *   matched  = written + Σ dropped[reason]
 * where filtered holds what the filter left out and, for a job that keeps sessions by
 * application, the packets of the sessions it did not keep (unselected, also given alone);
 * and drops before the filter (NIC imissed, mbuf exhaustion, a full hand-over ring) count as
 * matched-and-dropped: tide cannot know whether the filter would have kept them. */
#ifndef DP_STATS_H
#define DP_STATS_H

#include "dp_capture.h"

struct dp_totals {
	uint64_t received;
	uint64_t rx_bytes;
	uint64_t matched;
	uint64_t filtered;
	uint64_t unselected;         /* of filtered: left out by the application selection */
	uint64_t written;
	uint64_t bytes_written;
	uint64_t dropped[DP_DROP_MAX];
	uint64_t parse[DP_PARSE_STATUS_MAX];
	uint64_t busy_cycles;
};

/* Totals for one job (job < c->n_jobs) across workers, writers and links. */
void dp_stats_job(const struct dp_capture *c, unsigned int job, struct dp_totals *t);

/* Per-link packets received (including those lost at the NIC). */
uint64_t dp_stats_link_received(const struct dp_capture *c, unsigned int link);

/* Telemetry commands under /tide/ (stats, links, workers, jobs). */
int dp_telemetry_register(struct dp_capture *c);

#endif
