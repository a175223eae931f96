/* dp_capture.h — the running capture: links (inputs), jobs (filter + privacy + writer), workers,
 * writers and their counters. Shared by the worker, writer, telemetry and manifest code.
 *
 * Ownership rules that keep the hot path lock-free: a worker writes only its own struct
 * dp_worker (cache-aligned, counters included); a writer writes only its own struct
 * dp_writer_ctx; everyone else (telemetry, the main loop, the manifest) only reads counters,
 * which are naturally atomic 64-bit loads on the architectures DPDK supports. */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <time.h>

#include "dp_anon.h"
#include "dp_filter.h"
#include "dp_parse.h"
#include "dp_pcapng.h"
#include "dp_session.h"
#include "tide_counters.h"

#define DP_MAX_LINKS 16
#define DP_MAX_JOBS 8
#define DP_MAX_WORKERS 64
#define DP_MAX_RXQ_PER_WORKER 16
#define DP_BURST 32

/* Drop and stop reasons come from the job contract's one registry (dataplane/contract/
 * tide_counters.h, with a hint per drop reason); these are its two-column views. */
#define DP_DROP_LIST(_) TIDE_DROP_NAMES(_)
#define DP_STOP_LIST(_) TIDE_STOP_NAMES(_)

enum dp_drop {
#define _(sym, name) DP_DROP_##sym,
	DP_DROP_LIST(_)
#undef _
	DP_DROP_MAX
};
extern const char *const dp_drop_names[DP_DROP_MAX];

enum dp_stop {
#define _(sym, name) DP_STOP_##sym,
	DP_STOP_LIST(_)
#undef _
	DP_STOP_MAX
};
extern const char *const dp_stop_names[DP_STOP_MAX];

/* Per-packet metadata kept in an mbuf dynamic field: set at RX (or by the file reader). */
struct dp_pkt_meta {
	uint64_t ts_ns;
	uint32_t wirelen;
	uint16_t link;
	uint16_t pad;
};
extern int dp_meta_offset;
static inline struct dp_pkt_meta *
dp_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, dp_meta_offset, struct dp_pkt_meta *);
}

/* An input: a DPDK port, or the offline file. */
struct dp_link {
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t port_id;     /* UINT16_MAX for the offline file */
	uint16_t n_rxq;       /* hardware queues configured */
	bool sw_distribute;   /* fewer queues than workers: spread by the symmetric hash */
	unsigned int linktype;
};

/* A job: what to keep and where to write it. Read-only to workers once started. */
struct dp_job {
	char name[64];
	struct dp_filter *filter;
	uint32_t snaplen;             /* 0: whole packets */
	bool anonymise;
	uint8_t anon_key[DP_ANON_KEY_LEN];
	struct rte_ring *ring[DP_MAX_LINKS];   /* worker → writer, one per link */
	_Atomic int stopped;          /* set by the writer when a limit or the disk ends it */
};

/* Counters a worker keeps per job. */
struct dp_job_counters {
	uint64_t matched;
	uint64_t filtered;
	uint64_t ring_full;
	uint64_t mbuf_alloc;          /* copies for a second job that failed */
	uint64_t enqueued;
};

struct dp_rxq {
	uint16_t link;
	uint16_t port_id;
	uint16_t queue;
	bool distribute;
};

struct dp_worker {
	unsigned int index;
	unsigned int lcore;
	unsigned int n_rxq;
	struct dp_rxq rxq[DP_MAX_RXQ_PER_WORKER];
	struct rte_ring *sw_in;       /* packets other workers distributed to us (MP/SC) */
	struct dp_anon *anon[DP_MAX_JOBS];
	struct dp_sessions *sess;     /* this worker's session table (NULL: no sessions) */

	/* counters: written by this worker only */
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t sw_in_pkts;          /* received from other workers */
	uint64_t sw_out_pkts;         /* handed to other workers */
	uint64_t sw_ring_full;        /* could not hand over: dropped (ring_full) */
	uint64_t busy_cycles;         /* TSC cycles spent on non-empty bursts */
	uint64_t parse[DP_PARSE_STATUS_MAX];
	struct dp_job_counters job[DP_MAX_JOBS];
} __rte_cache_aligned;

/* A writer thread drains every (job, link) ring assigned to it into shard writers. */
struct dp_writer_out {
	unsigned int job, link;
	struct dp_shard_writer *sw;
	char dir[4096];
	uint64_t written;
	uint64_t bytes;              /* packet bytes (caplen) written */
	uint64_t dropped[DP_DROP_MAX];
	struct dp_shard_info *shards; /* after close */
	size_t n_shards;
	unsigned int first_seq;
};

struct dp_capture {
	/* configuration */
	const struct dp_options *opt;
	unsigned int n_links;
	struct dp_link links[DP_MAX_LINKS];
	unsigned int n_jobs;
	struct dp_job jobs[DP_MAX_JOBS];
	unsigned int n_workers;
	struct dp_worker *workers;    /* rte_zmalloc'd, cache aligned */
	struct rte_mempool *pool;
	bool lossless;                /* offline input: wait for the writer rather than drop */
	bool write_shards;            /* --out given: packets go to pcapng shards */
	struct cls_engine *engine;    /* classification (NULL: off) */
	struct dp_flows *flows;       /* flow records (NULL: no sessions) */
	uint64_t sess_totals[DP_SESS_COUNTER_MAX]; /* kept when the session tables are freed */
	char flows_path[4200];        /* the flow records file ("" when none) */
	unsigned int n_outs;
	struct dp_writer_out outs[DP_MAX_JOBS * DP_MAX_LINKS];

	/* run state */
	_Atomic int quit;             /* workers and readers stop */
	_Atomic int writers_quit;     /* writer drains and stops */
	_Atomic int stop_reason;      /* first enum dp_stop that ended the capture */
	_Atomic int64_t budget;       /* live --count: packets still to take (INT64_MAX: no limit) */
	uint64_t started_ns, ended_ns;
	uint64_t link_rx[DP_MAX_LINKS];      /* port ipackets (refreshed by the main lcore) */
	uint64_t link_imissed[DP_MAX_LINKS];
	uint64_t link_nombuf[DP_MAX_LINKS];
	uint64_t offline_read;        /* offline: records read from the file */
	char input_error[512];
};

/* Record the first reason the capture stops for, and tell everyone to stop. */
void dp_capture_stop(struct dp_capture *c, enum dp_stop why);

/* Register the metadata field, allocate n_workers workers (on the main lcore when
 * on_main_lcore, else one per worker lcore in order) and a pool of n_mbufs. 0 or -1. */
int dp_capture_init(struct dp_capture *c, unsigned int n_workers, bool on_main_lcore,
	unsigned int n_mbufs);

/* Add a job: load (JIT) its filter and create per-worker anonymisers when anon_key is given.
 * The capture takes the filter. 0 or -1 with a message. */
int dp_capture_add_job(struct dp_capture *c, const char *name, struct dp_filter *filter,
	uint32_t snaplen, const uint8_t *anon_key);

/* Rings: one per (job, link) to the writer, and hand-over rings when a link distributes. */
int dp_capture_make_rings(struct dp_capture *c, unsigned int ring_size, unsigned int sw_ring_size);

void dp_capture_free(struct dp_capture *c);

/* Add worker i's session counters to c->sess_totals and free its table (engine statistics
 * are merged as it goes). */
void dp_session_stats_keep(struct dp_capture *c, unsigned int i);

static inline uint64_t
dp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
