/* dp_capture.c — building a capture: metadata field, workers, pool, jobs, rings. Shared by
 * tide-dataplane (dp_main.c) and the pipeline benchmark (dp_bench.c), so the benchmark measures
 * exactly the code that captures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>

#include "dp_capture.h"
#include "dp_filter.h"

int dp_meta_offset = -1;

/* packets a job's writer could not write (its limit, the disk), kept until the job's end to
 * be taken out of its flow records: at most what its rings held when it stopped */
#define RETURNED_RING_SIZE 65536

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
	unsigned int n_mbufs, char *err, size_t err_size)
{
	static const struct rte_mbuf_dynfield meta_desc = {
		.name = "tide_pkt_meta",
		.size = sizeof(struct dp_pkt_meta),
		.align = __alignof__(struct dp_pkt_meta),
	};
	dp_meta_offset = rte_mbuf_dynfield_register(&meta_desc);
	if (dp_meta_offset < 0) {
		snprintf(err, err_size, "cannot register the mbuf metadata field: %s",
			rte_strerror(rte_errno));
		return -1;
	}
	c->n_workers = n_workers;
	pthread_mutex_init(&c->jobs_lock, NULL);
	atomic_store(&c->budget, INT64_MAX);
	c->workers = rte_zmalloc("tide_workers", sizeof(struct dp_worker) * n_workers,
		RTE_CACHE_LINE_SIZE);
	if (!c->workers) {
		snprintf(err, err_size, "cannot allocate %u workers", n_workers);
		return -1;
	}
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
		snprintf(err, err_size, "cannot create a pool of %u mbufs: %s", n_mbufs,
			rte_strerror(rte_errno));
		return -1;
	}
	/* sessions waiting for their application hold at most a quarter of the pool, shared by
	 * the workers: the NIC and the file reader always find mbufs (dp_select.h) */
	c->select_held_max = n_mbufs / 4 / n_workers;
	if (c->select_held_max > DP_SELECT_HELD_MAX)
		c->select_held_max = DP_SELECT_HELD_MAX;
	return 0;
}

int
dp_capture_add_job(struct dp_capture *c, const char *name, struct dp_filter *filter,
	uint32_t snaplen, const uint8_t *anon_key, uint32_t links, char *err, size_t err_size)
{
	unsigned int j = 0;
	while (j < DP_MAX_JOBS && (c->jobs_in_use >> j & 1))
		j++;
	if (j == DP_MAX_JOBS) {
		snprintf(err, err_size, "all %u job slots are in use", DP_MAX_JOBS);
		return -1;
	}
	struct dp_job *job = &c->jobs[j];
	struct rte_ring *rings[DP_MAX_LINKS], *returned = job->returned;
	memcpy(rings, job->ring, sizeof(rings)); /* made once per slot, reused */
	memset(job, 0, sizeof(*job));
	memcpy(job->ring, rings, sizeof(rings));
	job->returned = returned;
	atomic_fetch_and(&c->stopped_mask, ~(1u << j));
	static uint64_t generation; /* control thread only */
	job->gen = ++generation;
	atomic_store(&job->lookback_oldest_ns, UINT64_MAX);
	snprintf(job->name, sizeof(job->name), "%s", name);
	job->snaplen = snaplen;
	job->links = links;
	job->anonymise = anon_key != NULL;
	if (anon_key)
		memcpy(job->anon_key, anon_key, sizeof(job->anon_key));
	char ferr[256];
	if (dp_filter_load(filter, ferr, sizeof(ferr)) != 0) {
		snprintf(err, err_size, "cannot load filter '%s': %s", filter->expr, ferr);
		return -1;
	}
	for (unsigned int i = 0; i < c->n_workers; i++) {
		struct dp_worker *w = &c->workers[i];
		memset(&w->job[j], 0, sizeof(w->job[j]));
		w->anon[j] = NULL;
		w->sess[j] = NULL;
		w->sel[j] = NULL;
		if (anon_key && !(w->anon[j] = dp_anon_create(anon_key))) {
			for (unsigned int k = 0; k < i; k++) {
				dp_anon_free(c->workers[k].anon[j]);
				c->workers[k].anon[j] = NULL;
			}
			snprintf(err, err_size, "cannot set up anonymisation");
			return -1;
		}
	}
	for (unsigned int l = 0; l < c->n_links; l++) {
		job->base_imissed[l] = c->link_imissed[l];
		job->base_nombuf[l] = c->link_nombuf[l];
	}
	for (unsigned int i = 0; i < c->n_workers; i++)
		job->base_sw_ring_full += c->workers[i].sw_ring_full;
	job->filter = filter;
	pthread_mutex_lock(&c->jobs_lock);
	c->jobs_in_use |= 1u << j;
	pthread_mutex_unlock(&c->jobs_lock);
	if (j >= c->n_jobs)
		c->n_jobs = j + 1;
	return (int)j;
}

void
dp_job_stop(struct dp_capture *c, unsigned int j, enum dp_stop why)
{
	int cur = DP_STOP_NONE;
	atomic_compare_exchange_strong(&c->jobs[j].stop_reason, &cur, (int)why);
	atomic_store(&c->jobs[j].stopped, 1);
	atomic_fetch_or(&c->stopped_mask, 1u << j); /* workers offer it nothing more */
	if (!c->always_on)
		dp_capture_stop(c, why);
}

int
dp_capture_init_rcu(struct dp_capture *c, char *err, size_t err_size)
{
	size_t sz = rte_rcu_qsbr_get_memsize(c->n_workers);
	c->qs = rte_zmalloc("tide_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (!c->qs || rte_rcu_qsbr_init(c->qs, c->n_workers) != 0) {
		snprintf(err, err_size, "cannot set up QSBR: %s", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

void
dp_capture_publish(struct dp_capture *c, unsigned int j, bool on)
{
	struct dp_jobtab *cur = atomic_load(&c->tab);
	struct dp_jobtab *next = cur == &c->tabs[0] ? &c->tabs[1] : &c->tabs[0];
	*next = cur ? *cur : (struct dp_jobtab){0};
	if (on) {
		next->active |= 1u << j;
		if (c->jobs[j].select)
			next->selecting |= 1u << j;
		for (unsigned int l = 0; l < c->n_links; l++)
			if (c->jobs[j].links >> l & 1)
				next->by_link[l] |= 1u << j;
	} else {
		next->active &= ~(1u << j);
		next->selecting &= ~(1u << j);
		for (unsigned int l = 0; l < DP_MAX_LINKS; l++)
			next->by_link[l] &= ~(1u << j);
	}
	atomic_store_explicit(&c->tab, next, memory_order_release);
	/* the old table is reused by the next publish: wait until no worker reads it (and, when
	 * removing, until none delivers to the job) */
	if (c->qs)
		rte_rcu_qsbr_synchronize(c->qs, RTE_QSBR_THRID_INVALID);
}

void
dp_capture_free_job(struct dp_capture *c, unsigned int j)
{
	struct dp_job *job = &c->jobs[j];
	pthread_mutex_lock(&c->jobs_lock);
	c->jobs_in_use &= ~(1u << j);
	pthread_mutex_unlock(&c->jobs_lock);
	for (unsigned int i = 0; i < c->n_workers; i++) {
		dp_anon_free(c->workers[i].anon[j]);
		c->workers[i].anon[j] = NULL;
	}
	dp_filter_free(job->filter);
	job->filter = NULL;
	for (unsigned int l = 0; l < DP_MAX_LINKS; l++) {
		free(job->out[l].shards);
		job->out[l].shards = NULL;
		job->out[l].n_shards = 0;
	}
}

int
dp_capture_make_rings(struct dp_capture *c, unsigned int n_slots, unsigned int ring_size,
	unsigned int sw_ring_size, char *err, size_t err_size)
{
	bool need_sw = false;
	for (unsigned int l = 0; l < c->n_links; l++)
		need_sw |= c->links[l].sw_distribute;
	for (unsigned int j = 0; j < n_slots; j++)
		for (unsigned int l = 0; l < c->n_links; l++) {
			char name[RTE_RING_NAMESIZE];
			snprintf(name, sizeof(name), "tide_w%u_%u", j, l);
			c->jobs[j].ring[l] = rte_ring_create(name, ring_size, (int)rte_socket_id(),
				RING_F_SC_DEQ);
			if (!c->jobs[j].ring[l])
				goto fail;
		}
	for (unsigned int j = 0; j < n_slots; j++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "tide_back%u", j);
		c->jobs[j].returned = rte_ring_create(name, RETURNED_RING_SIZE, (int)rte_socket_id(),
			RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!c->jobs[j].returned)
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
	snprintf(err, err_size, "cannot create rings: %s", rte_strerror(rte_errno));
	return -1;
}

void
dp_capture_free(struct dp_capture *c)
{
	for (unsigned int j = 0; j < DP_MAX_JOBS; j++) {
		if (c->jobs_in_use >> j & 1)
			dp_capture_free_job(c, j);
		for (unsigned int l = 0; l < DP_MAX_LINKS; l++)
			rte_ring_free(c->jobs[j].ring[l]);
		rte_ring_free(c->jobs[j].returned);
	}
	rte_free(c->qs);
	for (unsigned int i = 0; i < c->n_workers; i++) {
		rte_ring_free(c->workers[i].sw_in);
		dp_lookback_free(&c->workers[i].lookback);
	}
	rte_free(c->workers);
	rte_mempool_free(c->pool);
}

void
dp_session_stats_keep(struct dp_capture *c, unsigned int i, unsigned int j)
{
	struct dp_worker *w = &c->workers[i];
	if (!w->sess[j])
		return;
	for (unsigned int k = 0; k < DP_SESS_COUNTER_MAX; k++)
		c->jobs[j].sess_totals[k] += dp_session_counter(w->sess[j], (enum dp_sess_counter)k);
	dp_sessions_destroy(w->sess[j]);
	w->sess[j] = NULL;
	/* after the sessions: their ending judged what the selection still held */
	dp_select_add_counters(w->sel[j], c->jobs[j].select_totals);
	dp_select_destroy(w->sel[j]);
	w->sel[j] = NULL;
}
