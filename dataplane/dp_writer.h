/* dp_writer.h — the writer thread: drains every (job, link) ring into pcapng shards.
 *
 * Disk I/O never happens on a worker lcore. One writer thread serves every output; it applies
 * the job's snaplen (the bytes past it never reach the disk) and turns the shard writer's stop
 * reasons (max size, disk full, I/O error) into drop counters and the capture's stop reason. */
#ifndef DP_WRITER_H
#define DP_WRITER_H

#include "dp_capture.h"

/* Open job j's shard writers, one per link it takes, under out_dir/shards/<drone>/<link>/,
 * recovering any partial shard a killed run left (job->recovered says what became of each).
 * The writer drains the job from then on. Returns 0 or -1 with a message in err. */
int dp_writer_open_job(struct dp_capture *c, unsigned int j, const char *out_dir,
	const char *drone, uint64_t shard_size, uint64_t shard_time_ns, uint64_t max_size,
	char *err, size_t err_size);

/* pthread entry; arg is the struct dp_capture. Returns when c->writers_quit is set and every
 * ring is empty. A job whose `draining` is set (no worker delivers to it any more) is drained
 * to empty, then marked `drained` and let go. */
void *dp_writer_thread(void *arg);

/* After the writer has let job j go (drained) or stopped: close its shard writers (ISB, fsync,
 * rename) and keep the shard lists for the manifest. 0 or -1 with a message on stderr. */
int dp_writer_close_job(struct dp_capture *c, unsigned int j);

#endif
