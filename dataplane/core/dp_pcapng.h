/* dp_pcapng.h — the shard writer: pcapng files rotated by size and time under job limits,
 * crash-safe, hashed as they are written.
 *
 * Each shard starts with an SHB and one IDB (nanosecond resolution, if_tsresol = 9), holds EPBs,
 * and ends with an ISB carrying the received/dropped counters when it closes. A shard is written
 * as NNNNNN.pcapng.part, then fsync'd, renamed to NNNNNN.pcapng and the directory fsync'd, so a
 * file with the final name is always complete. Writes go through large user-space buffers (one
 * write(2) per DP_PCAPNG_BUF_SIZE bytes, O_DIRECT where the file system takes it); the SHA-256 of
 * each shard is computed on the way out by a hashing thread beside the writer (dp_hasher.h), so
 * the data is never read back. No DPDK dependency (unit-tested and used by tools). Not
 * thread-safe: one writer per thread. */
#ifndef DP_PCAPNG_H
#define DP_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#define DP_PCAPNG_BUF_SIZE (1u << 20)

struct dp_shard_writer;

struct dp_shard_params {
	const char *dir;          /* directory for the shards, created (with parents) if missing */
	unsigned int linktype;    /* IDB link type */
	uint32_t snaplen;         /* IDB snaplen */
	uint64_t shard_size;      /* rotate when a shard reaches this many bytes (0: never) */
	uint64_t shard_time_ns;   /* rotate when a shard spans this long in packet time (0: never) */
	uint64_t max_total;       /* stop when all shards together would exceed this (0: no limit) */
	const char *if_name;      /* IDB if_name option (may be NULL) */
	const char *if_descr;     /* IDB if_description option (may be NULL) */
	const char *app;          /* SHB shb_userappl (may be NULL) */
	unsigned int first_seq;   /* number of the first shard (see dp_shard_dir_recover) */
	int no_direct;            /* 1: write through the page cache even where O_DIRECT works */
};

/* Why the writer refuses further packets. */
#define DP_WRITER_STOP_LIST(_)                                   \
	_(NONE, "none")                                          \
	_(MAX_SIZE, "max size reached")                          \
	_(DISK_FULL, "disk full")                                \
	_(IO_ERROR, "i/o error")

enum dp_writer_stop {
#define _(sym, name) DP_WRITER_STOP_##sym,
	DP_WRITER_STOP_LIST(_)
#undef _
	DP_WRITER_STOP_MAX
};
extern const char *const dp_writer_stop_names[DP_WRITER_STOP_MAX];

/* A completed shard, as the manifest lists it. `name` is relative to params.dir. */
struct dp_shard_info {
	char name[32];
	uint64_t bytes;
	uint64_t packets;
	uint64_t first_ts_ns, last_ts_ns;
	uint8_t sha256[32];
};

/* Returns NULL with errno set. Does not create a file until the first packet. */
struct dp_shard_writer *dp_shard_writer_open(const struct dp_shard_params *p);

/* Append one packet (EPB, interface 0). Returns 0, or a negative errno once the writer has
 * stopped: -EFBIG when max_total is reached, -ENOSPC on disk full, -EIO on another error; the
 * stop reason is then dp_shard_writer_stopped(). A packet that would push the total past
 * max_total is not written. */
int dp_shard_writer_write(struct dp_shard_writer *w, uint64_t ts_ns, const void *data,
	uint32_t caplen, uint32_t wirelen);

/* Counters written in the ISB when the current shard closes (interface received / dropped, as
 * counted by the caller since the start). */
void dp_shard_writer_set_counters(struct dp_shard_writer *w, uint64_t if_recv, uint64_t if_drop);

/* Close the current shard (if any) now: the next write starts a new one. */
int dp_shard_writer_rotate(struct dp_shard_writer *w);

enum dp_writer_stop dp_shard_writer_stopped(const struct dp_shard_writer *w);
uint64_t dp_shard_writer_bytes_total(const struct dp_shard_writer *w);

/* Completed shards so far (array owned by the writer, valid until the next call). */
const struct dp_shard_info *dp_shard_writer_shards(const struct dp_shard_writer *w, size_t *n);

/* Close the current shard (ISB, fsync, rename) and free. Returns 0 or -errno (the last error). A
 * NULL writer is fine. Completed shard infos are copied to *out (malloc'd, caller frees) if out
 * is not NULL. */
int dp_shard_writer_close(struct dp_shard_writer *w, struct dp_shard_info **out, size_t *n_out);

/* Crash recovery for a shard directory: every NNNNNN.pcapng.part left by a killed writer is
 * truncated to its last whole block and renamed to NNNNNN.pcapng if it still holds an SHB, an IDB
 * and at least one packet, else deleted. Also returns the next free shard number via *next_seq.
 * Returns the number of files repaired (>= 0) or -errno. */
int dp_shard_dir_recover(const char *dir, unsigned int *next_seq, unsigned int *n_discarded);

/* Validate a complete pcapng file's block structure; 0 if sound, else -1 with a message. Used by
 * recovery and tests. */
int dp_pcapng_check(const char *path, char *err, size_t errlen);

#endif
