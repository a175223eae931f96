/* dp_capture.h — the running capture: links (inputs), jobs (filter + privacy + writer), workers,
 * writers and their counters. Shared by the worker, writer, telemetry and manifest code.
 *
 * Ownership rules that keep the hot path lock-free: a worker writes only its own struct
 * dp_worker (cache-aligned, counters included); the writer thread writes only the outputs of
 * the jobs it drains; everyone else (telemetry, the main loop, the manifest) only reads
 * counters, which are naturally atomic 64-bit loads on the architectures DPDK supports.
 *
 * Jobs come and go while the links run (the always-on drone, dp_live.h). A job lives in a fixed
 * slot of c->jobs; workers see the set of active slots through c->tab, a small table replaced
 * whole (read-copy-update): the control thread fills a slot, publishes a new table, and on
 * removal publishes a table without the slot and waits, with DPDK's QSBR (rte_rcu_qsbr), until
 * every worker has passed a quiescent point — after which no worker touches the slot and its
 * rings can be drained, its files closed and the slot reused. No lock on the packet path. */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <time.h>

#include "dp_anon.h"
#include "dp_filter.h"
#include "dp_parse.h"
#include "dp_lookback.h"
#include "dp_pcapng.h"
#include "dp_select.h"
#include "dp_session.h"
#include "tide_counters.h"

#define DP_MAX_LINKS 16
#define DP_MAX_JOBS 32        /* job slots in one capture (bit masks are 32 bits) */
#define DP_LINK_JOB_SLOTS 8   /* concurrent jobs a link offers */
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
	uint8_t worker;               /* the worker that accounted it to sessions */
	uint8_t sess_job;             /* j + 1: the mbuf is job j's alone and sess_* is its session
	                               * there; 0: shared (found again by its addresses) */
	int32_t sess_pos;
	uint32_t sess_id;             /* low 32 bits of the session's id */
};
_Static_assert(sizeof(struct dp_pkt_meta) == 24, "the mbuf metadata fits DPDK's dynfield area");
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
	uint64_t rate_bps;    /* a replayed file's pace (0: as fast as the port gives) */
	_Atomic int held;     /* a replay-once file not started yet: its queues are not polled */
};

struct dp_flows;

/* A writer output: one job's packets from one link, into pcapng shards. */
struct dp_writer_out {
	struct dp_shard_writer *sw;   /* NULL: the job does not write this link */
	char dir[4096];
	uint64_t written;
	uint64_t bytes;              /* packet bytes (caplen) written */
	uint64_t dropped[DP_DROP_MAX];
	struct dp_shard_info *shards; /* after close */
	size_t n_shards;
	unsigned int first_seq;
};

/* What crash recovery did to a shard an interrupted run left, for the manifest. */
struct dp_recovered {
	char file[512];
	const char *action;
};
#define DP_RECOVERED_MAX 64

/* A job: what to keep and where to write it. Read-only to workers while its slot is in the
 * published table. */
struct dp_job {
	char name[64];
	struct dp_filter *filter;
	uint32_t snaplen;             /* 0: whole packets */
	bool anonymise;
	uint8_t anon_key[DP_ANON_KEY_LEN];
	uint32_t links;               /* bit mask of the links it takes packets from */
	uint64_t max_packets;         /* 0: unlimited; the writer ends the job at this many */
	struct rte_ring *ring[DP_MAX_LINKS];   /* worker → writer, one per link */
	struct rte_ring *returned;    /* writer → control: packets it could not write, taken out
	                               * of the flow records at the job's end (dp_worker_take_back) */
	uint64_t unattributed;        /* such packets the returned ring had no room for */
	struct dp_writer_out out[DP_MAX_LINKS]; /* by link */
	struct dp_flows *flows;       /* its flow records (NULL: no sessions) */
	const struct dp_select_spec *select; /* sessions kept by application (NULL: all) */
	uint64_t select_totals[DP_SELECT_COUNTER_MAX]; /* kept when the workers' are freed */
	char flows_path[4200];
	uint64_t sess_totals[DP_SESS_COUNTER_MAX]; /* kept when the session tables are freed */
	uint64_t written_total;       /* writer: packets written over every link */
	/* link and worker losses when the job started: its own are the growth since */
	uint64_t base_imissed[DP_MAX_LINKS], base_nombuf[DP_MAX_LINKS], base_sw_ring_full;
	struct dp_recovered recovered[DP_RECOVERED_MAX];
	unsigned int n_recovered;
	uint64_t started_ns, ended_ns;
	uint64_t gen;                 /* changes with every job put in the slot */
	uint64_t lookback_ns;         /* begin this far before started_ns (0: no look-back) */
	_Atomic uint64_t lookback_oldest_ns; /* oldest packet a worker replayed (UINT64_MAX: none) */
	_Atomic int stopped;          /* set by the writer when a limit or the disk ends it */
	_Atomic int stop_reason;      /* first enum dp_stop that ended it */
	_Atomic int draining;         /* control → writer: no worker delivers any more */
	_Atomic int drained;          /* writer → control: rings empty, outputs let go */
};

/* What workers read to know where packets go: replaced whole, never changed in place. */
struct dp_jobtab {
	uint32_t active;                 /* slots workers deliver to */
	uint32_t selecting;              /* of those, slots that keep sessions by application */
	uint32_t by_link[DP_MAX_LINKS];  /* active slots that take each link's packets */
};

/* Counters a worker keeps per job. */
struct dp_job_counters {
	uint64_t matched;
	uint64_t filtered;
	uint64_t ring_full;
	uint64_t mbuf_alloc;          /* copies for a second job that failed */
	uint64_t enqueued;
	uint64_t lookback;            /* packets offered from the look-back ring */
	uint64_t unselected;          /* packets of sessions the application selection left out */
};

struct dp_rxq {
	uint16_t link;
	uint16_t port_id;
	uint16_t queue;
	bool distribute;
	double tokens;        /* a paced link: bits it may still take (token bucket) */
	uint64_t last_tsc;
};

struct dp_worker {
	unsigned int index;
	unsigned int lcore;
	unsigned int n_rxq;
	struct dp_rxq rxq[DP_MAX_RXQ_PER_WORKER];
	struct rte_ring *sw_in;       /* packets other workers distributed to us (MP/SC) */
	struct dp_anon *anon[DP_MAX_JOBS];
	struct dp_sessions *sess[DP_MAX_JOBS]; /* each job's session table here (NULL: none) */
	struct dp_select *sel[DP_MAX_JOBS]; /* each job's selection by application (NULL: none) */
	_Atomic uint32_t select_held; /* packets its selections hold, all jobs together (atomic:
	                               * the control thread releases an ending job's) */
	struct dp_lookback lookback;  /* its last packets (dp_lookback.h) */
	uint64_t job_gen[DP_MAX_JOBS]; /* the job generation it last saw in each slot */
	bool replaying;               /* feeding a job from the look-back: wait for the writer */

	/* counters: written by this worker only */
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t sw_in_pkts;          /* received from other workers */
	uint64_t sw_out_pkts;         /* handed to other workers */
	uint64_t sw_ring_full;        /* could not hand over: dropped (ring_full) */
	uint64_t busy_cycles;         /* TSC cycles spent on non-empty bursts */
	uint64_t parse[DP_PARSE_STATUS_MAX];
	uint64_t idle_sleeps;         /* back-off naps taken on a quiet link */
	struct dp_job_counters job[DP_MAX_JOBS];
} __rte_cache_aligned;

struct dp_capture {
	/* configuration */
	const struct dp_options *opt;
	unsigned int n_links;
	struct dp_link links[DP_MAX_LINKS];
	unsigned int n_jobs;          /* slots ever used: loops over jobs stop here */
	uint32_t jobs_in_use;         /* control side: slots holding a job (active or ending) */
	pthread_mutex_t jobs_lock;    /* held to change jobs_in_use or free a job, and by the
				       * telemetry thread while it reads jobs */
	struct dp_job jobs[DP_MAX_JOBS];
	struct dp_jobtab tabs[2];     /* the published table and the next one */
	struct dp_jobtab *_Atomic tab;
	_Atomic uint32_t writer_mask; /* jobs the writer drains */
	_Atomic uint32_t stopped_mask; /* jobs a limit or the disk ended: offered no packets */
	struct rte_rcu_qsbr *qs;      /* workers' quiescent states */
	bool always_on;               /* a job's end does not end the capture (dp_live) */
	bool busy_poll;               /* never back off on a quiet link */
	unsigned int n_workers;
	struct dp_worker *workers;    /* rte_zmalloc'd, cache aligned */
	struct rte_mempool *pool;
	bool lossless;                /* offline input: wait for the writer rather than drop */
	bool write_shards;            /* --out given: packets go to pcapng shards */
	struct cls_engine *engine;    /* classification (NULL: off) */
	uint32_t select_held_max;     /* packets a worker's selections may hold (dp_select.h) */

	/* run state */
	_Atomic int quit;             /* workers and readers stop */
	_Atomic int writers_quit;     /* writer drains and stops */
	_Atomic int stop_reason;      /* first enum dp_stop that ended the capture */
	_Atomic int64_t budget;       /* live --count: packets still to take (INT64_MAX: no limit) */
	uint64_t started_ns, ended_ns;
	uint64_t link_rx[DP_MAX_LINKS];      /* port ipackets (refreshed by the main lcore) */
	uint64_t link_bytes[DP_MAX_LINKS];   /* port ibytes */
	uint64_t link_imissed[DP_MAX_LINKS];
	uint64_t link_nombuf[DP_MAX_LINKS];
	uint64_t offline_read;        /* offline: records read from the file */
	char input_error[512];
};

/* Record the first reason the capture stops for, and tell everyone to stop. */
void dp_capture_stop(struct dp_capture *c, enum dp_stop why);

/* Register the metadata field, allocate n_workers workers (on the main lcore when
 * on_main_lcore, else one per worker lcore in order) and a pool of n_mbufs. 0, or -1 with the
 * cause in err. */
int dp_capture_init(struct dp_capture *c, unsigned int n_workers, bool on_main_lcore,
	unsigned int n_mbufs, char *err, size_t err_size);

/* Fill a free job slot: load (JIT) its filter, create per-worker anonymisers when anon_key is
 * given, zero its counters. The job takes the filter only on success. Not yet visible to
 * workers (dp_capture_publish). The slot, or -1 with a message in err. */
int dp_capture_add_job(struct dp_capture *c, const char *name, struct dp_filter *filter,
	uint32_t snaplen, const uint8_t *anon_key, uint32_t links, char *err, size_t err_size);

/* Make the workers deliver to job j (on) or stop delivering to it (off). Off returns once every
 * worker has passed a quiescent point: no worker touches the slot any more. */
void dp_capture_publish(struct dp_capture *c, unsigned int j, bool on);

/* Free a job slot whose job is unpublished and whose outputs are closed. */
void dp_capture_free_job(struct dp_capture *c, unsigned int j);

/* Rings: one per (job slot, link) to the writer for the first n_slots slots, and hand-over
 * rings when a link distributes. 0, or -1 with the cause in err. */
int dp_capture_make_rings(struct dp_capture *c, unsigned int n_slots, unsigned int ring_size,
	unsigned int sw_ring_size, char *err, size_t err_size);

/* Set up the QSBR variable the workers report to (live capture). 0, or -1 with the cause in
 * err. */
int dp_capture_init_rcu(struct dp_capture *c, char *err, size_t err_size);

/* Record the first reason job j stops for; when the capture is not always on, the capture
 * stops with it. */
void dp_job_stop(struct dp_capture *c, unsigned int j, enum dp_stop why);

void dp_capture_free(struct dp_capture *c);

/* Add worker i's session counters for job j to the job's sess_totals and free its table (engine
 * statistics are merged as it goes). */
void dp_session_stats_keep(struct dp_capture *c, unsigned int i, unsigned int j);

#define DP_FOREACH_BIT(j, mask) \
	for (uint32_t m_##j = (mask), j; m_##j && ((j = (uint32_t)__builtin_ctz(m_##j)), 1); \
		m_##j &= m_##j - 1)

static inline uint64_t
dp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
