/* dp_writer.h — the writer thread: drains every (job, link) ring into pcapng shards.
 *
 * Disk I/O never happens on a worker lcore. One writer thread serves every output; it applies
 * the job's snaplen (the bytes past it never reach the disk) and turns the shard writer's stop
 * reasons (max size, disk full, I/O error) into drop counters and the capture's stop reason. */
#ifndef DP_WRITER_H
#define DP_WRITER_H

#include "dp_capture.h"

/* Open one shard writer per (job, link) under out_dir/shards/<drone>/<link>/, recovering any
 * partial shard a killed run left. Returns 0 or -1 with a message on stderr. */
int dp_writer_open_all(struct dp_capture *c, const char *out_dir, const char *drone,
	uint64_t shard_size, uint64_t shard_time_ns, uint64_t max_size);

/* pthread entry; arg is the struct dp_capture. Returns when c->writers_quit is set and every
 * ring is empty. */
void *dp_writer_thread(void *arg);

/* Close every shard writer (ISB, fsync, rename) and keep the shard lists for the manifest. */
int dp_writer_close_all(struct dp_capture *c);

/* Recovery results, for the manifest. */
struct dp_recovered {
	char file[512];
	const char *action;
};
extern struct dp_recovered dp_recovered_list[64];
extern unsigned int dp_recovered_n;

#endif
