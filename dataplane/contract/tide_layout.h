/* tide_layout.h — the dataset layout: every path a job's dataset has, defined once for the
 * dataplane (which writes it), the drone (which uploads it) and the Hive (which stores, checks,
 * lists and describes it).
 *
 * On the Hive, a job's dataset (DATA/jobs/<id>/) is:
 *   manifest.json                       the job's manifest, written at its true end
 *   shards/<drone>/<link>/NNNNNN.pcapng the packets
 *   flows/<drone>/<link>.csv[.summary.csv]  flow records (with classification)
 *   manifests/<drone>/<link>.json       each capture's own manifest
 *   processed/                          what the post-processing script wrote
 * A drone's capture directory holds its part under the same names, except that its flow
 * records are flows/<link>.csv and its manifest is manifest.json: tide_layout_upload_dest()
 * maps one to the other. */
#ifndef TIDE_LAYOUT_H
#define TIDE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#define TIDE_LAYOUT_MANIFEST "manifest.json"
#define TIDE_LAYOUT_SHARDS "shards"
#define TIDE_LAYOUT_FLOWS "flows"
#define TIDE_LAYOUT_MANIFESTS "manifests"
#define TIDE_LAYOUT_PROCESSED "processed"

/* Drone and link names become directories of every dataset (shards/<drone>/<link>/): at most
 * TIDE_NAME_MAX bytes of letters, digits, '_', '-' and '.', not starting with '.' or '-'. Any
 * other segment of a dataset path (a file a drone uploads, a processed/ file) follows the same
 * alphabet with at most TIDE_SEGMENT_MAX bytes and no leading '.'. */
#define TIDE_NAME_MAX 31
#define TIDE_SEGMENT_MAX 128
bool tide_layout_name_ok(const char *s, size_t len);
bool tide_layout_segment_ok(const char *s, size_t len);

/* The areas a drone uploads into, each followed by /<drone>/. */
enum tide_layout_area { TIDE_AREA_NONE, TIDE_AREA_SHARDS, TIDE_AREA_FLOWS, TIDE_AREA_MANIFESTS };

/* Each writes the path into buf and returns 0, or -1 when it does not fit. */
int tide_layout_shard_dir(char *buf, size_t size, const char *drone, const char *link);
int tide_layout_link_manifest(char *buf, size_t size, const char *drone, const char *link);
/* A capture's flow records in its own directory (the drone's) and offline (one file per run,
 * named after the drone) */
int tide_layout_capture_flows(char *buf, size_t size, const char *link);
int tide_layout_offline_flows(char *buf, size_t size, const char *drone, const char *ext);

/* Where a file of a drone's capture directory (rel, relative to it) goes in the Hive's
 * dataset: 0 and the path in buf; -1 for a file that is not uploaded. */
int tide_layout_upload_dest(char *buf, size_t size, const char *rel, const char *drone,
	const char *link);

/* The area a dataset path lies in when it is under AREA/<drone>/ (else TIDE_AREA_NONE); *rest
 * (may be NULL) is what follows AREA/<drone>/. */
enum tide_layout_area tide_layout_area_of(const char *path, const char *drone, const char **rest);

#endif
