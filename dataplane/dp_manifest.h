/* dp_manifest.h — writes a dataset's manifest.json: parameters, counters, every shard with its
 * size and sha256, what crash recovery did. Written atomically (temporary file, fsync, rename)
 * so a reader never sees half a manifest. */
#ifndef DP_MANIFEST_H
#define DP_MANIFEST_H

#include "dp_capture.h"
#include "dp_options.h"

int dp_manifest_write(const struct dp_capture *c, const struct dp_options *o, const char *input);

#endif
