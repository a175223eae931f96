/* dp_live.h — the always-on capture of a drone: one DPDK process that owns its links from start
 * to stop, with capture jobs added and removed while the links run.
 *
 * dp_live_open() starts the EAL, configures and starts every link's port once, launches the
 * workers (which receive all the time, napping on a quiet link) and the writer thread. Jobs
 * come and go with dp_live_start() / dp_live_stop(): each gets a slot of the capture (its own
 * filter, JIT-compiled; snaplen; anonymisation key; limits; session table and flow records when
 * it classifies; its own shard writer), made visible to the workers through the RCU-published
 * job table (dp_capture.h), so adding or removing one never stops RX nor touches another job.
 * dp_live_poll(), called by the drone's main loop, ends the jobs that reached a limit, were
 * asked to stop, or whose replay-once link ran out, and writes their manifests.
 *
 * Link specifications (the drone's --link NAME=SPEC):
 *   demo[,rate=R]                 the embedded demo capture, replayed in a loop, paced at R
 *                                 bits/s (default 200M; 0 = as fast as it goes)
 *   pcap:FILE[,rate=R][,once][,after=N]
 *                                 a capture file replayed in a loop (or once: the jobs on the
 *                                 link then end with "end of input"), unpaced unless rate=R;
 *                                 after=N holds the replay until N jobs run on the link
 *   vdev:ARGS                     any DPDK virtual device (net_af_packet, net_memif, …)
 *   pci:BDF                       a NIC
 * R takes k, M, G (powers of 1000). Frames larger than an mbuf (jumbo frames in a capture
 * file) get a pool of their own with room for the largest frame. */
#ifndef DP_LIVE_H
#define DP_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dp_capture.h"
#include "tide_layout.h"

#define DP_LIVE_LINK_NAME_MAX TIDE_NAME_MAX

struct dp_live_link {
	char name[DP_LIVE_LINK_NAME_MAX + 1];
	char spec[4096];
	/* filled by dp_live_open */
	bool up;                  /* its port runs */
	char error[512];          /* why not */
	json_t *info;             /* {driver, max_rx_queues, max_rx_desc, numa_node} or NULL */
};

struct dp_live_tuning {
	const char *lcores;       /* EAL -l list: main lcore first, then one per worker */
	const char *writer_cpus;  /* CPU list for the writer thread (NULL: not pinned) */
	int hugepages;            /* 1 use, 0 never, -1 when free */
	unsigned int rx_queues, rx_desc, burst, mbufs;  /* 0: defaults */
	bool busy_poll;           /* never nap on a quiet link (dedicated cores) */
	uint32_t sessions;        /* session table capacity per job and worker (0: 65536) */
	uint64_t lookback_bytes;  /* per link: packets kept for jobs that begin in the past
	                           * (bytes of packet buffers; 0: none) */
};

/* Start the dataplane on these links (kept by reference until dp_live_close). A link whose
 * port cannot start is reported down with DPDK's cause and the others run. 0, or -1 with the
 * cause in err when the dataplane itself cannot start. */
int dp_live_open(const char *prog, struct dp_live_link *links, unsigned int n_links,
	const struct dp_live_tuning *t, char *err, size_t err_size);

struct dp_live_job {
	const char *name;          /* for logs and telemetry */
	unsigned int link;         /* index into the links given to dp_live_open */
	const char *filter;        /* "" = everything */
	uint32_t snaplen;          /* 0 = whole packets */
	const uint8_t *anon_key;   /* NULL: no anonymisation */
	uint64_t max_size;         /* bytes, 0 = unlimited */
	uint64_t max_duration_s;   /* 0 = unlimited */
	uint64_t max_packets;      /* 0 = unlimited */
	uint64_t shard_size;       /* bytes per shard (0: 256 MiB) */
	uint64_t shard_time_s;     /* seconds per shard (0: no time limit) */
	uint32_t lookback_s;       /* begin up to this far back, from the look-back ring */
	bool classify;
	unsigned int session_type; /* enum cls_session_type */
	const char *out_dir;       /* the job's dataset directory */
	const char *drone;
	json_t *parameters;        /* stated in the manifest (borrowed) */
	const char *export_url;    /* with classify: flow records also go there as they end
	                            * (tide_export.h; NULL or "": none) */
	uint32_t observation_domain; /* that export's IPFIX observation domain */
	const char *apps;          /* with classify: keep only these applications' sessions
	                            * (tide_job.h's canonical list; NULL or "": every session) */
	bool apps_keep_undecided;
	uint32_t apps_packets;     /* bounds of a session's wait (0: the contract's defaults) */
	uint32_t apps_wait_s;
};

/* Add a job; its filter is live when this returns. The slot, or -1 with the cause in err. */
int dp_live_start(const struct dp_live_job *p, char *err, size_t err_size);

/* Ask a job to end (its manifest says why: `why`). Ended by the next dp_live_poll. */
void dp_live_stop(int slot, enum dp_stop why);

struct dp_live_ended {
	int slot;
	enum dp_stop why;
	bool ok;                  /* dataset complete: not ended by an error */
	char error[256];          /* what went wrong when !ok */
	json_t *counters;         /* final counters (new reference: the caller owns it), also
	                           * when the manifest could not be written (disk full) */
};

/* Refresh link counters, end the jobs that are due; fills out[] with those that ended (their
 * shards closed, flow records and manifest written, slot free) and returns how many. */
int dp_live_poll(struct dp_live_ended *out, int max);

/* A running job's counters in the manifest's vocabulary (received, matched, filtered, written,
 * bytes_written, dropped{reason}). New reference. */
json_t *dp_live_counters(int slot);

/* Per-link counters: packets, bytes, imissed, nombuf, rate (bits/s over the last poll). */
json_t *dp_live_link_counters(unsigned int link);

/* Jobs running on a link. */
unsigned int dp_live_jobs_on(unsigned int link);

/* Stop the workers and the writer, close the ports, release DPDK. Jobs still running are ended
 * first (as dp_live_poll would). */
void dp_live_close(void);

#endif
