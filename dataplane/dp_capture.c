/* dp_capture.c — building a capture: metadata field, workers, pool, jobs, rings. Shared by
 * tide-dataplane (dp_main.c) and the pipeline benchmark (dp_bench.c), so the benchmark measures
 * exactly the code that captures. */
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>

#include "dp_capture.h"

int dp_meta_offset = -1;

/* A writer's limit or failure explains more than "end of input": offline, the reader can reach
 * the end of the file before the writer has drained its ring and met the limit. */
static bool
writer_reason(int why)
{
	return why == DP_STOP_MAX_SIZE || why == DP_STOP_DISK_FULL || why == DP_STOP_IO_ERROR;
}

void
dp_capture_stop(struct dp_capture *c, enum dp_stop why)
{
	int cur = DP_STOP_NONE;
	if (!atomic_compare_exchange_strong(&c->stop_reason, &cur, (int)why) &&
		cur == DP_STOP_END_OF_INPUT && writer_reason((int)why))
		atomic_compare_exchange_strong(&c->stop_reason, &cur, (int)why);
	atomic_store(&c->quit, 1);
}

int
dp_capture_init(struct dp_capture *c, unsigned int n_workers, bool on_main_lcore,
	unsigned int n_mbufs)
{
	static const struct rte_mbuf_dynfield meta_desc = {
		.name = "tide_pkt_meta",
		.size = sizeof(struct dp_pkt_meta),
		.align = __alignof__(struct dp_pkt_meta),
	};
	dp_meta_offset = rte_mbuf_dynfield_register(&meta_desc);
	if (dp_meta_offset < 0) {
		fprintf(stderr, "tide-dataplane: cannot register the mbuf metadata field\n");
		return -1;
	}
	c->n_workers = n_workers;
	atomic_store(&c->budget, INT64_MAX);
	c->workers = rte_zmalloc("tide_workers", sizeof(struct dp_worker) * n_workers,
		RTE_CACHE_LINE_SIZE);
	if (!c->workers)
		return -1;
	unsigned int lcore = rte_get_main_lcore();
	for (unsigned int i = 0; i < n_workers; i++) {
		c->workers[i].index = i;
		if (!on_main_lcore)
			lcore = rte_get_next_lcore(lcore, 1, 0);
		c->workers[i].lcore = lcore;
	}
	c->pool = rte_pktmbuf_pool_create("tide_pool", n_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		(int)rte_socket_id());
	if (!c->pool) {
		fprintf(stderr, "tide-dataplane: cannot create a pool of %u mbufs: %s\n", n_mbufs,
			rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

int
dp_capture_add_job(struct dp_capture *c, const char *name, struct dp_filter *filter,
	uint32_t snaplen, const uint8_t *anon_key)
{
	char err[256];
	if (c->n_jobs == DP_MAX_JOBS)
		return -1;
	unsigned int j = c->n_jobs;
	struct dp_job *job = &c->jobs[j];
	snprintf(job->name, sizeof(job->name), "%s", name);
	job->filter = filter;
	job->snaplen = snaplen;
	job->anonymise = anon_key != NULL;
	if (anon_key)
		memcpy(job->anon_key, anon_key, sizeof(job->anon_key));
	if (dp_filter_load(filter, err, sizeof(err)) != 0) {
		fprintf(stderr, "tide-dataplane: cannot load filter '%s': %s\n", filter->expr, err);
		return -1;
	}
	for (unsigned int i = 0; i < c->n_workers && anon_key; i++) {
		c->workers[i].anon[j] = dp_anon_create(anon_key);
		if (!c->workers[i].anon[j]) {
			fprintf(stderr, "tide-dataplane: cannot set up anonymisation\n");
			return -1;
		}
	}
	c->n_jobs++;
	return 0;
}

int
dp_capture_make_rings(struct dp_capture *c, unsigned int ring_size, unsigned int sw_ring_size)
{
	bool need_sw = false;
	for (unsigned int l = 0; l < c->n_links; l++)
		need_sw |= c->links[l].sw_distribute;
	for (unsigned int j = 0; j < c->n_jobs; j++)
		for (unsigned int l = 0; l < c->n_links; l++) {
			char name[RTE_RING_NAMESIZE];
			snprintf(name, sizeof(name), "tide_w%u_%u", j, l);
			c->jobs[j].ring[l] = rte_ring_create(name, ring_size, (int)rte_socket_id(),
				RING_F_SC_DEQ);
			if (!c->jobs[j].ring[l])
				goto fail;
		}
	for (unsigned int i = 0; need_sw && i < c->n_workers; i++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "tide_sw%u", i);
		c->workers[i].sw_in = rte_ring_create(name, sw_ring_size, (int)rte_socket_id(),
			RING_F_SC_DEQ);
		if (!c->workers[i].sw_in)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "tide-dataplane: cannot create rings: %s\n", rte_strerror(rte_errno));
	return -1;
}

void
dp_capture_free(struct dp_capture *c)
{
	for (unsigned int j = 0; j < c->n_jobs; j++) {
		for (unsigned int i = 0; i < c->n_workers; i++)
			dp_anon_free(c->workers[i].anon[j]);
		for (unsigned int l = 0; l < c->n_links; l++)
			rte_ring_free(c->jobs[j].ring[l]);
	}
	for (unsigned int i = 0; i < c->n_workers; i++)
		rte_ring_free(c->workers[i].sw_in);
	rte_free(c->workers);
	rte_mempool_free(c->pool);
}

void
dp_session_stats_keep(struct dp_capture *c, unsigned int i)
{
	struct dp_worker *w = &c->workers[i];
	if (!w->sess)
		return;
	for (unsigned int k = 0; k < DP_SESS_COUNTER_MAX; k++)
		c->sess_totals[k] += dp_session_counter(w->sess, (enum dp_sess_counter)k);
	dp_sessions_destroy(w->sess);
	w->sess = NULL;
}
