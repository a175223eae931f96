/* dp_lookback.h — a worker's look-back ring: the last packets it processed, kept in memory so
 * that a job started now can begin in the past (the anomaly scenario: the detector fires after
 * the anomaly began).
 *
 * The ring holds references to the received mbufs themselves (no copy): every segment of a
 * kept packet gets one more reference, so the writer freeing its own leaves the data in place;
 * the oldest packets are let go once the buffers held pass the budget. One ring per worker,
 * touched only by that worker: no lock, no atomic. Packets in the ring are never rewritten in
 * place (dp_worker_deliver copies before anonymising a packet someone else still holds).
 *
 * A new job with a look-back is replayed by each worker the first time it sees the job in its
 * table, before its next burst: every kept packet at or after (start - look-back) goes through
 * that job alone — filter, sessions, anonymisation, writer — exactly as if it had been there.
 * Packets the worker processed between the job's start and that moment are in the ring too,
 * so nothing falls between the replay and the live path. */
#ifndef DP_LOOKBACK_H
#define DP_LOOKBACK_H

#include <stdint.h>

struct rte_mbuf;

struct dp_lookback {
	struct rte_mbuf **ring;      /* capacity a power of two; NULL: look-back off */
	uint64_t mask;
	uint64_t head, tail;         /* packets ever kept / ever let go */
	uint64_t bytes, budget;      /* mbuf buffer bytes held / allowed */
};

/* A ring holding at most `budget` bytes of mbuf buffers (0: off, nothing allocated). 0, or -1
 * when the ring's memory cannot be had. */
int dp_lookback_init(struct dp_lookback *lb, uint64_t budget, int socket);

/* Keep a packet (one more reference on each segment), letting the oldest go past the budget. */
void dp_lookback_keep(struct dp_lookback *lb, struct rte_mbuf *m);

/* Every kept packet let go and the ring freed. */
void dp_lookback_free(struct dp_lookback *lb);

/* The i-th oldest packet held (i < dp_lookback_count), still owned by the ring. */
static inline uint64_t
dp_lookback_count(const struct dp_lookback *lb)
{
	return lb->head - lb->tail;
}
static inline struct rte_mbuf *
dp_lookback_at(const struct dp_lookback *lb, uint64_t i)
{
	return lb->ring[(lb->tail + i) & lb->mask];
}

/* One more (delta > 0) or one less reference on every segment of a packet. */
void dp_mbuf_ref_all(struct rte_mbuf *m, int16_t delta);

#endif
