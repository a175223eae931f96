/* dp_worker.h — the worker: RX burst → parse → every job's filter → privacy → writer rings.
 *
 * One worker per lcore, one or more RX queues per worker; when a port has fewer queues than
 * there are workers, the queue's owner spreads packets to the others by the symmetric 5-tuple
 * hash (so both directions of a conversation meet on one worker, which sessions will need). */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include "dp_capture.h"
#include "dp_pcapfile.h"

/* lcore entry for live capture; arg is the struct dp_worker. Returns when c->quit is set. On a
 * quiet link it naps (unless c->busy_poll) so an always-on drone does not burn its cores. */
int dp_worker_main(void *arg);

/* Global capture the lcore entry works on (set once before workers launch). */
extern struct dp_capture *dp_worker_capture;

/* Hand one packet that the jobs in `mask` selected to their writer rings, anonymising copies as
 * each job asks. Consumes the mbuf. refs[j] (refs may be NULL) is its session in job j's
 * table: a drop on the way to the writer is taken out of that session's dataset figures.
 * Packets are staged per job in the calling thread and flushed by dp_worker_flush() at the end
 * of each burst (any thread may deliver for w once w's worker no longer touches those jobs:
 * the stage is the thread's). */
void dp_worker_deliver(struct dp_capture *c, struct dp_worker *w, struct rte_mbuf *m,
	const struct dp_pkt_info *pi, uint32_t mask, const struct dp_sess_ref *refs);
void dp_worker_flush(struct dp_capture *c, struct dp_worker *w);

/* One packet's way through the jobs, the same live and offline: each candidate job's filter,
 * then, for each job that keeps it, its session (TIE: filter, then session builder). Live, the
 * packet is the mbuf `m` with its metadata (ts_ns, wirelen) and `rec` is NULL. Offline, `rec`
 * is the mapped record and `m` a stack mbuf over it, or NULL when no single segment can stand
 * for it (a record over 64 KiB, or one cut by a snaplen, whose BPF `len` is the wire length):
 * the filter then reads the record itself. Live callers pass a constant NULL rec, so the
 * offline branches compile away. Counts offered/matched per job; fills refs[j] for every kept
 * job (pos -1 when it has no sessions) and returns the mask of jobs keeping the packet. */
static inline uint32_t
dp_worker_select(struct dp_capture *c, struct dp_worker *w, uint32_t cand, struct rte_mbuf *m,
	const struct dp_pcap_rec *rec, const struct dp_pkt_info *pi, struct dp_sess_ref *refs,
	uint64_t *offered, uint64_t *matched)
{
	uint32_t mask = 0;

	DP_FOREACH_BIT(j, cand) {
		offered[j]++;
		if (m ? dp_filter_match_mbuf(c->jobs[j].filter, m) :
			dp_filter_match_raw(c->jobs[j].filter, rec->data, rec->caplen, rec->wirelen)) {
			mask |= 1u << j;
			matched[j]++;
			if (!w->sess[j])
				refs[j].pos = -1;
			else if (rec)
				dp_session_packet(w->sess[j], rec->data, pi, rec->ts_ns, rec->wirelen,
					rec->caplen, &refs[j]);
			else
				dp_session_packet(w->sess[j], rte_pktmbuf_mtod(m, const uint8_t *), pi,
					dp_meta(m)->ts_ns, dp_meta(m)->wirelen, rte_pktmbuf_pkt_len(m),
					&refs[j]);
		}
	}
	return mask;
}

/* The jobs of `sel` (kept the packet, and keep sessions by application: dp_select.h) judge
 * its session; those that hold or drop the packet leave the returned mask. m is NULL when no
 * shards are written (only the flow records are selected). */
static inline uint32_t
dp_worker_select_apps(struct dp_worker *w, uint32_t sel, uint32_t mask, struct rte_mbuf *m,
	const struct dp_sess_ref *refs, uint64_t ts_ns)
{
	DP_FOREACH_BIT(j, sel)
		if (!dp_select_packet(w->sel[j], m, &refs[j], ts_ns))
			mask &= ~(1u << j);
	return mask;
}

/* Parse, filter and deliver a burst of mbufs whose metadata is set, to the jobs of table t.
 * Consumes the mbufs. */
void dp_worker_process(struct dp_capture *c, struct dp_worker *w, const struct dp_jobtab *t,
	struct rte_mbuf **pkts, uint16_t n);

/* At job j's end, once no worker delivers to it and its writer has drained: the packets its
 * writer could not write (a limit, the disk) are taken out of its flow records, then freed.
 * Call before its sessions are flushed. */
void dp_worker_take_back(struct dp_capture *c, unsigned int j);

/* After every worker lcore has returned: process what is left in the hand-over rings. */
void dp_worker_drain(struct dp_capture *c);

/* Software timestamp for a burst: wall-clock nanoseconds derived from the TSC (one read per
 * burst, no system call). */
void dp_clock_init(void);
uint64_t dp_clock_ns(void);

#endif
