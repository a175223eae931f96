/* cp_manifest.h — the manifests of a dataset: the job's manifest.json, which the Hive writes,
 * and its captures' own, which their drones upload (manifests/<drone>/<link>.json) and the Hive
 * reads back for counters a link ended without.
 *
 * The job's manifest is (re)written from the database at the job's true end: when its captures
 * have all ended (done, failed, cancelled, partial; state "processing" while a script will
 * run) and again when its post-processing script has ended, then listing the files the script
 * left in processed/ with their SHA-256. Why from the database: the job's state, reason,
 * counters, links and uploaded files (with the SHA-256 the Hive computed as they arrived) are
 * all rows, so the manifest says exactly what the API says, whoever ends the job. Written to a
 * temporary file, fsynced and renamed, so a reader never sees half of one.
 *
 * The scheduler (cp_scheduler.c) decides when; this file knows what a manifest holds. */
#ifndef CP_MANIFEST_H
#define CP_MANIFEST_H

#include <stdint.h>

#include <jansson.h>

struct cp_db;

#define CP_MANIFEST_FORMAT "tide-dataset/1"
#define CP_MANIFEST_LINK_MAX (1 << 20) /* bytes of a capture's manifest read back */

/* Writes DATA_DIR/jobs/<job>/manifest.json. 0 or -errno (logged). */
int cp_manifest_write(struct cp_db *db, const char *data_dir, int64_t job);

/* The counters of a link that ended without them — its drone was killed with the capture and
 * came back without them, or is older than this Hive — from the manifest its capture wrote
 * (a recorded upload, in tide-dataplane's names, given in the links' names with the reported
 * members it lacks, such as "files"), and recorded in the link's row. *counters, the link's as
 * reported (NULL or lacking "packets" when it ended without), is replaced when that manifest
 * has counters and kept otherwise (a killed capture wrote none). 0, or -errno when updating the
 * row failed (*counters replaced nonetheless; SQLite's message still on the connection). */
int cp_manifest_link_counters(struct cp_db *db, const char *data_dir, int64_t job,
	const char *drone, const char *link, json_t **counters);

#endif
