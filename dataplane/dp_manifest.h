/* dp_manifest.h — writes a dataset's manifest.json: parameters, counters, every shard with its
 * size and sha256, what crash recovery did. Written atomically (temporary file, fsync, rename)
 * so a reader never sees half a manifest. A job that exports its flow records says where and
 * what became of them: "export": {destination, sent, lost_queue_full, lost_collector}; one
 * that keeps sessions by application says what it kept and why ("selection", dp_select.h).
 * One job's dataset per manifest: the command line's capture, or one of a drone's jobs. */
#ifndef DP_MANIFEST_H
#define DP_MANIFEST_H

#include <jansson.h>

#include "dp_capture.h"
#include "dp_export.h"
#include "dp_stats.h"

struct dp_manifest_info {
	const char *out_dir;        /* the dataset's directory */
	const char *drone;
	const char *input;          /* "pcap:FILE" or "port:NAME,…" */
	json_t *parameters;         /* the job's parameters as the caller states them (borrowed) */
	const char *stop_reason;    /* NULL: the job's own */
	const char *input_error;    /* NULL or "" when none */
	uint32_t lookback_requested_s; /* 0: the job asked for no look-back */
	const char *export_url;     /* NULL or "": the job's flow records went to no collector */
	const struct dp_export_stats *export_stats; /* with export_url: what became of them */
};

/* Manifest of job j into mi->out_dir/manifest.json (written whole, fsynced, renamed). 0, or -1
 * with the cause in err. */
int dp_manifest_write(const struct dp_capture *c, unsigned int j, const struct dp_manifest_info *mi,
	char *err, size_t err_size);

/* Counters in the manifest's vocabulary (received, matched, filtered, written, bytes_written,
 * dropped{reason}, parse{status}). New reference. */
json_t *dp_manifest_counters_json(const struct dp_totals *t);

/* What a job's look-back reached: {requested_s, reached_s, packets}. New reference. */
json_t *dp_manifest_lookback_json(const struct dp_capture *c, unsigned int j,
	uint32_t requested_s);

/* What became of a job's exported flow records: {destination, sent, lost_queue_full,
 * lost_collector}. New reference. */
json_t *dp_manifest_export_json(const char *url, const struct dp_export_stats *xs);

/* What a job's selection by application did (dp_select_counters_json), its workers' counters
 * and those already kept; NULL when the job keeps every session. New reference. */
json_t *dp_manifest_selection_json(const struct dp_capture *c, unsigned int j);

#endif
