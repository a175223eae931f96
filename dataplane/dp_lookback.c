/* dp_lookback.c — a worker's look-back ring of received packets (see dp_lookback.h). */
#include "dp_lookback.h"

#include <rte_malloc.h>
#include <rte_mbuf.h>

/* every packet costs at least one default-sized buffer: that bounds how many can be held */
#define MIN_BUF_COST RTE_MBUF_DEFAULT_BUF_SIZE

void
dp_mbuf_ref_all(struct rte_mbuf *m, int16_t delta)
{
	for (struct rte_mbuf *s = m; s; s = s->next)
		rte_mbuf_refcnt_update(s, delta);
}

int
dp_lookback_init(struct dp_lookback *lb, uint64_t budget, int socket)
{
	memset(lb, 0, sizeof(*lb));
	if (budget == 0)
		return 0;
	uint64_t cap = rte_align64pow2(budget / MIN_BUF_COST + 1);
	if (cap < 64)
		cap = 64;
	lb->ring = rte_zmalloc_socket("tide_lookback", cap * sizeof(*lb->ring),
		RTE_CACHE_LINE_SIZE, socket);
	if (!lb->ring)
		return -1;
	lb->mask = cap - 1;
	lb->budget = budget;
	return 0;
}

static uint64_t
cost(const struct rte_mbuf *m)
{
	uint64_t b = 0;
	for (const struct rte_mbuf *s = m; s; s = s->next)
		b += s->buf_len;
	return b;
}

static void
let_go_oldest(struct dp_lookback *lb)
{
	struct rte_mbuf *m = lb->ring[lb->tail & lb->mask];
	lb->ring[lb->tail++ & lb->mask] = NULL;
	lb->bytes -= cost(m);
	rte_pktmbuf_free(m);
}

void
dp_lookback_keep(struct dp_lookback *lb, struct rte_mbuf *m)
{
	uint64_t c = cost(m);
	while (lb->head != lb->tail && (lb->bytes + c > lb->budget || lb->head - lb->tail > lb->mask))
		let_go_oldest(lb);
	dp_mbuf_ref_all(m, 1);
	lb->ring[lb->head++ & lb->mask] = m;
	lb->bytes += c;
}

void
dp_lookback_free(struct dp_lookback *lb)
{
	if (!lb->ring)
		return;
	while (lb->head != lb->tail)
		let_go_oldest(lb);
	rte_free(lb->ring);
	memset(lb, 0, sizeof(*lb));
}
