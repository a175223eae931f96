/* cp_manifest.h — a dataset's manifest.json, (re)written by the Hive from its database at the
 * job's true end: when its captures have all ended (done, failed, cancelled, partial; state
 * "processing" while a script will run) and again when its post-processing script has ended,
 * then listing the files the script left in processed/ with their SHA-256.
 *
 * Why from the database: the job's state, reason, counters, links and uploaded files (with
 * the SHA-256 the Hive computed as they arrived) are all rows, so the manifest says exactly
 * what the API says, whoever ends the job. Written to a temporary file, fsynced and renamed,
 * so a reader never sees half of one. */
#ifndef CP_MANIFEST_H
#define CP_MANIFEST_H

#include <stdint.h>

struct cp_db;

#define CP_MANIFEST_FORMAT "tide-dataset/1"

/* Writes DATA_DIR/jobs/<job>/manifest.json. 0 or -errno (logged). */
int cp_manifest_write(struct cp_db *db, const char *data_dir, int64_t job);

#endif
