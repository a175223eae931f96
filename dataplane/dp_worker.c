/* dp_worker.c — the per-lcore packet path (see dp_worker.h).
 *
 * Hot-path rules: bursts of DP_BURST, counters kept in locals and added once per burst, one
 * JIT call per job per packet, ring hand-offs batched per job, no locks and no shared writes
 * (everything a worker writes lives in its own cache-aligned struct dp_worker). */
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>

#include "dp_flows.h"
#include "dp_hash.h"
#include "dp_options.h"
#include "dp_worker.h"

struct dp_capture *dp_worker_capture;

/* per-lcore staging of packets bound for each job's ring (flushed every burst) */
struct dp_stage {
	uint16_t n;
	uint16_t link;
	struct rte_mbuf *pkts[DP_BURST * 2];
	struct dp_sess_ref refs[DP_BURST * 2]; /* each packet's session, for a drop here */
};
static RTE_DEFINE_PER_LCORE(struct dp_stage, stage[DP_MAX_JOBS]);
/* the jobs this thread has packets staged for: the thread's, like the stage, so the control
 * thread ending a job's selection (dp_select_end) stages its packets without touching what a
 * worker still running stages */
static RTE_DEFINE_PER_LCORE(uint32_t, staged);

static uint64_t clock_base_ns, clock_base_tsc;
static double clock_ns_per_tsc;

void
dp_clock_init(void)
{
	clock_base_tsc = rte_rdtsc();
	clock_base_ns = dp_now_ns();
	clock_ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
}

uint64_t
dp_clock_ns(void)
{
	return clock_base_ns + (uint64_t)((double)(rte_rdtsc() - clock_base_tsc) * clock_ns_per_tsc);
}

static void
stage_flush(struct dp_capture *c, struct dp_worker *w, unsigned int j)
{
	struct dp_stage *s = &RTE_PER_LCORE(stage)[j];
	if (s->n == 0)
		return;
	struct rte_ring *r = c->jobs[j].ring[s->link];
	unsigned int done = rte_ring_mp_enqueue_burst(r, (void **)s->pkts, s->n, NULL);
	/* offline input can wait for the writer instead of dropping: nothing is lost */
	while ((c->lossless || w->replaying) && done < s->n && !atomic_load(&c->writers_quit)) {
		rte_pause();
		done += rte_ring_mp_enqueue_burst(r, (void **)&s->pkts[done], s->n - done, NULL);
	}
	w->job[j].enqueued += done;
	if (unlikely(done < s->n)) {
		w->job[j].ring_full += s->n - done;
		/* not in the dataset: the flow records say so */
		if (w->sess[j])
			for (unsigned int i = done; i < s->n; i++)
				dp_session_dropped(w->sess[j], &s->refs[i],
					rte_pktmbuf_pkt_len(s->pkts[i]));
		rte_pktmbuf_free_bulk(&s->pkts[done], s->n - done);
	}
	s->n = 0;
}

void
dp_worker_flush(struct dp_capture *c, struct dp_worker *w)
{
	DP_FOREACH_BIT(j, RTE_PER_LCORE(staged))
		stage_flush(c, w, j);
	RTE_PER_LCORE(staged) = 0;
}

static inline void
stage_push(struct dp_capture *c, struct dp_worker *w, unsigned int j, struct rte_mbuf *m,
	const struct dp_sess_ref *ref)
{
	struct dp_stage *s = &RTE_PER_LCORE(stage)[j];
	uint16_t link = dp_meta(m)->link;
	if (unlikely(s->n && (s->link != link || s->n == RTE_DIM(s->pkts))))
		stage_flush(c, w, j);
	s->link = link;
	if (ref)
		s->refs[s->n] = *ref;
	else
		s->refs[s->n].pos = -1;
	s->pkts[s->n++] = m;
	RTE_PER_LCORE(staged) |= 1u << j;
}

/* The mbuf is job j's alone: it carries its session there, so a packet its writer cannot
 * write is taken out of the right flow record even when its addresses were anonymised. */
static inline void
mark_owner(const struct dp_worker *w, struct rte_mbuf *m, unsigned int j,
	const struct dp_sess_ref *refs)
{
	struct dp_pkt_meta *meta = dp_meta(m);
	meta->worker = (uint8_t)w->index;
	meta->sess_job = refs ? (uint8_t)(j + 1) : 0;
	meta->sess_pos = refs ? refs[j].pos : -1;
	meta->sess_id = refs ? (uint32_t)refs[j].id : 0;
}

void
dp_worker_deliver(struct dp_capture *c, struct dp_worker *w, struct rte_mbuf *m,
	const struct dp_pkt_info *pi, uint32_t mask, const struct dp_sess_ref *refs)
{
	unsigned int n_match = (unsigned int)__builtin_popcount(mask);

	/* a packet the look-back ring (or a replay) still holds is never rewritten in place */
	if (likely(n_match == 1) && !(c->jobs[__builtin_ctz(mask)].anonymise &&
		    rte_mbuf_refcnt_read(m) > 1)) {
		unsigned int j = (unsigned int)__builtin_ctz(mask);
		if (c->jobs[j].anonymise)
			dp_anon_packet(w->anon[j], rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
				pi);
		mark_owner(w, m, j, refs);
		stage_push(c, w, j, m, refs ? &refs[j] : NULL);
		return;
	}
	if (n_match == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	/* several jobs want it: jobs that keep it unchanged share the mbuf (refcount); jobs that
	 * anonymise get their own copy, since they rewrite headers */
	unsigned int sharers = 0;
	for (uint32_t mm = mask; mm; mm &= mm - 1)
		sharers += !c->jobs[__builtin_ctz(mm)].anonymise;
	if (sharers > 1) /* every segment: a writer frees the whole chain */
		dp_mbuf_ref_all(m, (int16_t)(sharers - 1));
	if (sharers) { /* shared: found again by its addresses (they are not anonymised) */
		dp_meta(m)->worker = (uint8_t)w->index;
		dp_meta(m)->sess_job = 0;
	}
	for (uint32_t mm = mask; mm; mm &= mm - 1) {
		unsigned int j = (unsigned int)__builtin_ctz(mm);
		if (!c->jobs[j].anonymise) {
			stage_push(c, w, j, m, refs ? &refs[j] : NULL);
			continue;
		}
		struct rte_mbuf *copy = rte_pktmbuf_copy(m, c->pool, 0, UINT32_MAX);
		if (unlikely(!copy)) {
			w->job[j].mbuf_alloc++;
			if (refs && w->sess[j])
				dp_session_dropped(w->sess[j], &refs[j], rte_pktmbuf_pkt_len(m));
			continue;
		}
		*dp_meta(copy) = *dp_meta(m);
		mark_owner(w, copy, j, refs);
		dp_anon_packet(w->anon[j], rte_pktmbuf_mtod(copy, uint8_t *),
			rte_pktmbuf_data_len(copy), pi);
		stage_push(c, w, j, copy, refs ? &refs[j] : NULL);
	}
	if (sharers == 0)
		rte_pktmbuf_free(m);
}

/* live: packets just received (kept in the look-back ring, parse statistics counted); else
 * packets replayed from that ring to one new job. */
static void
process(struct dp_capture *c, struct dp_worker *w, const struct dp_jobtab *t,
	struct rte_mbuf **pkts, uint16_t n, bool live)
{
	uint64_t parse_cnt[DP_PARSE_STATUS_MAX] = {0};
	uint64_t matched[DP_MAX_JOBS] = {0}, offered[DP_MAX_JOBS] = {0};
	struct dp_sess_ref refs[DP_MAX_JOBS];
	/* a job its writer ended (a limit, the disk) takes nothing more: what it would take
	 * could not be written, and its flow records describe its dataset */
	const uint32_t ended = atomic_load_explicit(&c->stopped_mask, memory_order_relaxed);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (likely(i + 3 < n))
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void *));
		struct dp_pkt_info pi;
		const uint16_t link = dp_meta(m)->link;
		const uint32_t cand = t->by_link[link] & ~ended;
		dp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			c->links[link].linktype, &pi);
		parse_cnt[pi.status]++;
		if (live && w->lookback.ring)
			dp_lookback_keep(&w->lookback, m);
		uint32_t mask = dp_worker_select(c, w, cand, m, NULL, &pi, refs, offered, matched);
		if (unlikely(mask & t->selecting))
			mask = dp_worker_select_apps(w, mask & t->selecting, mask,
				c->write_shards ? m : NULL, refs, dp_meta(m)->ts_ns);
		if (c->write_shards)
			dp_worker_deliver(c, w, m, &pi, mask, refs);
		else
			rte_pktmbuf_free(m);
	}
	dp_worker_flush(c, w);
	if (live)
		for (unsigned int s = 0; s < DP_PARSE_STATUS_MAX; s++)
			w->parse[s] += parse_cnt[s];
	DP_FOREACH_BIT(j, t->active) {
		w->job[j].matched += matched[j];
		w->job[j].filtered += offered[j] - matched[j];
		if (!live)
			w->job[j].lookback += offered[j];
	}
}

void
dp_worker_process(struct dp_capture *c, struct dp_worker *w, const struct dp_jobtab *t,
	struct rte_mbuf **pkts, uint16_t n)
{
	process(c, w, t, pkts, n, true);
}

/* A job this worker sees for the first time asked to begin in the past: feed it, alone, every
 * packet the ring holds from (start - look-back) on (dp_lookback.h). The writer is waited for
 * rather than dropped to: these packets are not arriving, they are already here. */
static void
replay(struct dp_capture *c, struct dp_worker *w, unsigned int j)
{
	struct dp_job *job = &c->jobs[j];
	struct dp_jobtab one = { .active = 1u << j };
	for (unsigned int l = 0; l < DP_MAX_LINKS; l++)
		one.by_link[l] = job->links >> l & 1 ? 1u << j : 0;
	uint64_t since = job->started_ns > job->lookback_ns ? job->started_ns - job->lookback_ns : 0;
	uint64_t oldest = UINT64_MAX, count = dp_lookback_count(&w->lookback);
	struct rte_mbuf *batch[DP_BURST];
	uint16_t n = 0;
	w->replaying = true;
	for (uint64_t i = 0; i < count; i++) {
		struct rte_mbuf *m = dp_lookback_at(&w->lookback, i);
		const struct dp_pkt_meta *meta = dp_meta(m);
		if (meta->ts_ns < since || !(job->links >> meta->link & 1))
			continue;
		if (meta->ts_ns < oldest)
			oldest = meta->ts_ns;
		dp_mbuf_ref_all(m, 1); /* the ring keeps its own */
		batch[n++] = m;
		if (n == DP_BURST) {
			process(c, w, &one, batch, n, false);
			n = 0;
		}
	}
	if (n)
		process(c, w, &one, batch, n, false);
	w->replaying = false;
	uint64_t cur = atomic_load(&job->lookback_oldest_ns);
	while (oldest < cur && !atomic_compare_exchange_weak(&job->lookback_oldest_ns, &cur, oldest))
		;
}

void
dp_worker_take_back(struct dp_capture *c, unsigned int j)
{
	struct dp_job *job = &c->jobs[j];
	struct rte_mbuf *m;
	while (job->returned && rte_ring_sc_dequeue(job->returned, (void **)&m) == 0) {
		const struct dp_pkt_meta *meta = dp_meta(m);
		struct dp_sessions *t = meta->worker < c->n_workers ?
			c->workers[meta->worker].sess[j] : NULL;
		if (t && meta->sess_job == j + 1) {
			struct dp_sess_ref ref = { .pos = meta->sess_pos, .id = meta->sess_id };
			dp_session_dropped(t, &ref, rte_pktmbuf_pkt_len(m));
		} else if (t) {
			struct dp_pkt_info pi;
			dp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
				c->links[meta->link].linktype, &pi);
			dp_session_dropped_packet(t, &pi, rte_pktmbuf_pkt_len(m));
		}
		rte_pktmbuf_free(m);
	}
}

/* New jobs in the table: those with a look-back are replayed before the next burst. */
static void
new_jobs(struct dp_capture *c, struct dp_worker *w, const struct dp_jobtab *t)
{
	DP_FOREACH_BIT(j, t->active) {
		if (likely(w->job_gen[j] == c->jobs[j].gen))
			continue;
		w->job_gen[j] = c->jobs[j].gen;
		if (c->jobs[j].lookback_ns && w->lookback.ring)
			replay(c, w, j);
	}
}

/* Session expiry and cyclic flow files for every job with sessions here. */
static void
sessions_tick(struct dp_capture *c, struct dp_worker *w, const struct dp_jobtab *t, uint64_t now,
	bool flows_too)
{
	DP_FOREACH_BIT(j, t->active) {
		if (!w->sess[j])
			continue;
		dp_session_gc(w->sess[j], now);
		if (w->sel[j])
			dp_select_tick(w->sel[j], now);
		if (flows_too)
			dp_flows_tick(c->jobs[j].flows, now);
	}
}

/* Spread a burst from a queue that several workers share by the symmetric hash; keep our own
 * share in `keep` and return how many. */
static uint16_t
distribute(struct dp_capture *c, struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n,
	struct rte_mbuf **keep)
{
	struct rte_mbuf *out[DP_MAX_WORKERS][DP_BURST];
	uint16_t n_out[DP_MAX_WORKERS];
	uint16_t n_keep = 0;
	const unsigned int nw = c->n_workers;

	memset(n_out, 0, sizeof(n_out[0]) * nw);
	for (uint16_t i = 0; i < n; i++) {
		struct dp_pkt_info pi;
		struct rte_mbuf *m = pkts[i];
		dp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			c->links[dp_meta(m)->link].linktype, &pi);
		unsigned int t = (unsigned int)(((uint64_t)dp_hash_sym(&pi, 0) * nw) >> 32);
		if (t == w->index)
			keep[n_keep++] = m;
		else
			out[t][n_out[t]++] = m;
	}
	for (unsigned int t = 0; t < nw; t++) {
		if (!n_out[t])
			continue;
		unsigned int done = rte_ring_mp_enqueue_burst(c->workers[t].sw_in, (void **)out[t],
			n_out[t], NULL);
		w->sw_out_pkts += done;
		if (unlikely(done < n_out[t])) {
			w->sw_ring_full += n_out[t] - done;
			rte_pktmbuf_free_bulk(&out[t][done], n_out[t] - done);
		}
	}
	return n_keep;
}

/* A quiet link: after IDLE_SPIN empty polls the worker naps, from IDLE_NAP_MIN_US doubling to
 * IDLE_NAP_MAX_US, so an always-on drone leaves its cores to others (the Hive, the console, a
 * test suite) instead of spinning; the first packets after a quiet spell wait at most one nap
 * in the NIC's descriptors. c->busy_poll (the drone's tuning) turns this off for dedicated
 * cores. */
#define IDLE_SPIN 256
#define IDLE_NAP_MIN_US 16
#define IDLE_NAP_MAX_US 1000

/* A replayed file is held until its jobs are ready, and paced when a rate is set: a token
 * bucket of bits, refilled from the TSC, at most 10 ms worth banked. */
static bool
may_poll(struct dp_rxq *rq, const struct dp_link *lk)
{
	if (atomic_load_explicit(&lk->held, memory_order_acquire))
		return false;
	if (!lk->rate_bps)
		return true;
	uint64_t now = rte_rdtsc();
	double hz = (double)rte_get_tsc_hz();
	if (rq->last_tsc)
		rq->tokens += (double)(now - rq->last_tsc) * (double)lk->rate_bps / hz;
	rq->last_tsc = now;
	double cap = (double)lk->rate_bps / 100;
	if (rq->tokens > cap)
		rq->tokens = cap;
	return rq->tokens > 0;
}

static void
idle_nap(struct dp_capture *c, struct dp_worker *w, unsigned int *nap_us)
{
	if (c->qs)
		rte_rcu_qsbr_thread_offline(c->qs, w->index);
	rte_delay_us_sleep(*nap_us);
	if (c->qs)
		rte_rcu_qsbr_thread_online(c->qs, w->index);
	w->idle_sleeps++;
	if (*nap_us < IDLE_NAP_MAX_US)
		*nap_us = *nap_us * 2 > IDLE_NAP_MAX_US ? IDLE_NAP_MAX_US : *nap_us * 2;
}

int
dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_capture *c = dp_worker_capture;
	struct rte_mbuf *pkts[DP_BURST], *keep[DP_BURST];
	unsigned int idle = 0, empty = 0, nap_us = IDLE_NAP_MIN_US;
	const uint16_t burst = (uint16_t)(c->opt && c->opt->burst && c->opt->burst <= DP_BURST ?
		c->opt->burst : DP_BURST);

	if (c->qs) {
		rte_rcu_qsbr_thread_register(c->qs, w->index);
		rte_rcu_qsbr_thread_online(c->qs, w->index);
	}
	while (likely(!atomic_load_explicit(&c->quit, memory_order_relaxed))) {
		/* the job table for this round: the control thread replaces it, never changes it
		 * (dp_capture.h) */
		const struct dp_jobtab *t = atomic_load_explicit(&c->tab, memory_order_acquire);
		bool got = false;
		new_jobs(c, w, t);
		/* session expiry runs on packet arrival below, and every ~1k empty polls so an idle
		 * worker still ends its sessions on time */
		if (++idle >= 1024) {
			idle = 0;
			sessions_tick(c, w, t, dp_clock_ns(), true);
		}
		for (unsigned int q = 0; q < w->n_rxq; q++) {
			struct dp_rxq *rq = &w->rxq[q];
			const struct dp_link *lk = &c->links[rq->link];
			if (unlikely(lk->rate_bps || atomic_load_explicit(&lk->held,
				     memory_order_relaxed)) && !may_poll(rq, lk))
				continue;
			uint16_t n = rte_eth_rx_burst(rq->port_id, rq->queue, pkts, burst);
			if (unlikely(n == 0))
				continue;
			got = true;
			/* --count N is exact: packets past the budget are not taken (freed uncounted,
			 * as tcpdump -c leaves them to the kernel) */
			int64_t left = atomic_fetch_sub_explicit(&c->budget, n, memory_order_relaxed);
			if (unlikely(left <= n)) {
				uint16_t take = left > 0 ? (uint16_t)left : 0; /* this burst ends it */
				rte_pktmbuf_free_bulk(&pkts[take], n - take);
				n = take;
				dp_capture_stop(c, DP_STOP_COUNT);
				if (n == 0)
					continue;
			}
			uint64_t t0 = rte_rdtsc();
			uint64_t ts = dp_clock_ns();
			uint64_t bytes = 0;
			for (uint16_t i = 0; i < n; i++) {
				struct dp_pkt_meta *meta = dp_meta(pkts[i]);
				meta->ts_ns = ts;
				meta->wirelen = rte_pktmbuf_pkt_len(pkts[i]);
				meta->link = rq->link;
				bytes += meta->wirelen;
			}
			w->rx_pkts += n;
			w->rx_bytes += bytes;
			if (unlikely(lk->rate_bps))
				rq->tokens -= (double)bytes * 8;
			struct rte_mbuf **todo = pkts;
			if (rq->distribute) {
				n = distribute(c, w, pkts, n, keep);
				todo = keep;
			}
			if (n)
				dp_worker_process(c, w, t, todo, n);
			sessions_tick(c, w, t, ts, false);
			w->busy_cycles += rte_rdtsc() - t0;
		}
		if (w->sw_in) {
			unsigned int n = rte_ring_sc_dequeue_burst(w->sw_in, (void **)pkts, DP_BURST, NULL);
			if (n) {
				uint64_t t0 = rte_rdtsc();
				got = true;
				w->sw_in_pkts += n;
				dp_worker_process(c, w, t, pkts, (uint16_t)n);
				w->busy_cycles += rte_rdtsc() - t0;
			}
		}
		/* everything staged is flushed: this worker holds no reference to the table */
		if (c->qs)
			rte_rcu_qsbr_quiescent(c->qs, w->index);
		if (got) {
			empty = 0;
			nap_us = IDLE_NAP_MIN_US;
		} else if (!c->busy_poll && ++empty >= IDLE_SPIN) {
			idle_nap(c, w, &nap_us);
		}
	}
	if (c->qs) {
		rte_rcu_qsbr_thread_offline(c->qs, w->index);
		rte_rcu_qsbr_thread_unregister(c->qs, w->index);
	}
	/* packets a peer hands over after we stop are drained by the main lcore after the join
	 * (dp_worker_drain), so nothing is left in a ring */
	return 0;
}

void
dp_worker_drain(struct dp_capture *c)
{
	struct rte_mbuf *pkts[DP_BURST];
	for (unsigned int i = 0; i < c->n_workers; i++) {
		struct dp_worker *w = &c->workers[i];
		unsigned int n;
		while (w->sw_in &&
			(n = rte_ring_sc_dequeue_burst(w->sw_in, (void **)pkts, DP_BURST, NULL)) > 0) {
			w->sw_in_pkts += n;
			dp_worker_process(c, w, atomic_load(&c->tab), pkts, (uint16_t)n);
		}
	}
}
