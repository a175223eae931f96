/* dp_stats.c — counter totals and the DPDK telemetry commands (see dp_stats.h).
 *
 * Telemetry: `/tide/stats` (totals of job 0, state, stop reason), `/tide/links` (per port and
 * queue), `/tide/workers` (per worker lcore), `/tide/jobs` (per job). Readable with
 * dpdk-telemetry.py or any client of the v2 socket, and by tidectl. Callbacks run on the
 * telemetry thread and only read counters. */
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dp_stats.h"

const char *const dp_drop_names[DP_DROP_MAX] = {
#define _(sym, name) name,
	DP_DROP_LIST(_)
#undef _
};

const char *const dp_stop_names[DP_STOP_MAX] = {
#define _(sym, name) name,
	DP_STOP_LIST(_)
#undef _
};

uint64_t
dp_stats_link_received(const struct dp_capture *c, unsigned int link)
{
	if (c->links[link].port_id == UINT16_MAX)
		return c->offline_read;
	return c->link_rx[link] + c->link_imissed[link] + c->link_nombuf[link];
}

void
dp_stats_job(const struct dp_capture *c, unsigned int job, struct dp_totals *t)
{
	const struct dp_job *jb = &c->jobs[job];
	uint64_t offered = 0, sw_ring_full = 0;
	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < c->n_workers; i++) {
		const struct dp_worker *w = &c->workers[i];
		t->rx_bytes += w->rx_bytes;
		t->busy_cycles += w->busy_cycles;
		offered += w->job[job].matched + w->job[job].filtered;
		t->filtered += w->job[job].filtered + w->job[job].unselected;
		t->unselected += w->job[job].unselected;
		t->dropped[DP_DROP_RING_FULL] += w->job[job].ring_full;
		t->dropped[DP_DROP_MBUF_ALLOC] += w->job[job].mbuf_alloc;
		sw_ring_full += w->sw_ring_full;
		for (unsigned int s = 0; s < DP_PARSE_STATUS_MAX; s++)
			t->parse[s] += w->parse[s];
	}
	/* losses before any job saw the packet count against every job of the link, from the
	 * job's start on */
	uint64_t before = sw_ring_full - jb->base_sw_ring_full;
	t->dropped[DP_DROP_RING_FULL] += before;
	for (unsigned int l = 0; l < c->n_links; l++) {
		if (!(jb->links >> l & 1))
			continue;
		uint64_t imissed = c->link_imissed[l] - jb->base_imissed[l];
		uint64_t nombuf = c->link_nombuf[l] - jb->base_nombuf[l];
		t->dropped[DP_DROP_NIC_IMISSED] += imissed;
		t->dropped[DP_DROP_MBUF_ALLOC] += nombuf;
		before += imissed + nombuf;
		const struct dp_writer_out *out = &jb->out[l];
		t->written += out->written;
		t->bytes_written += out->bytes;
		for (unsigned int d = 0; d < DP_DROP_MAX; d++)
			t->dropped[d] += out->dropped[d];
	}
	t->received = offered + before;
	t->matched = t->received - t->filtered;
}

static struct dp_capture *tel_capture;

static void
add_totals(struct rte_tel_data *d, const struct dp_totals *t)
{
	rte_tel_data_add_dict_u64(d, "received", t->received);
	rte_tel_data_add_dict_u64(d, "rx_bytes", t->rx_bytes);
	rte_tel_data_add_dict_u64(d, "matched", t->matched);
	rte_tel_data_add_dict_u64(d, "filtered", t->filtered);
	rte_tel_data_add_dict_u64(d, "unselected", t->unselected);
	rte_tel_data_add_dict_u64(d, "written", t->written);
	rte_tel_data_add_dict_u64(d, "bytes_written", t->bytes_written);
	for (unsigned int i = 0; i < DP_DROP_MAX; i++) {
		char k[64];
		snprintf(k, sizeof(k), "dropped_%s", dp_drop_names[i]);
		rte_tel_data_add_dict_u64(d, k, t->dropped[i]);
	}
	for (unsigned int i = 0; i < DP_PARSE_STATUS_MAX; i++) {
		char k[64];
		snprintf(k, sizeof(k), "parse_%s", dp_parse_status_names[i]);
		rte_tel_data_add_dict_u64(d, k, t->parse[i]);
	}
}

static int
tel_stats(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	struct dp_capture *c = tel_capture;
	struct dp_totals t;
	dp_stats_job(c, 0, &t);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", TIDE_VERSION);
	rte_tel_data_add_dict_string(d, "state",
		dp_stop_names[atomic_load(&c->stop_reason)]);
	rte_tel_data_add_dict_u64(d, "uptime_ms", (dp_now_ns() - c->started_ns) / 1000000);
	rte_tel_data_add_dict_u64(d, "workers", c->n_workers);
	rte_tel_data_add_dict_u64(d, "links", c->n_links);
	rte_tel_data_add_dict_u64(d, "jobs", (uint64_t)__builtin_popcount(c->jobs_in_use));
	add_totals(d, &t);
	return 0;
}

static int
tel_jobs(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	struct dp_capture *c = tel_capture;
	int rc = 0;
	rte_tel_data_start_dict(d);
	/* the drone adds and frees jobs while this thread reads them */
	pthread_mutex_lock(&c->jobs_lock);
	DP_FOREACH_BIT(j, c->jobs_in_use) {
		struct rte_tel_data *jd = rte_tel_data_alloc();
		struct dp_totals t;
		if (!jd) {
			rc = -ENOMEM;
			break;
		}
		dp_stats_job(c, j, &t);
		rte_tel_data_start_dict(jd);
		rte_tel_data_add_dict_string(jd, "filter", c->jobs[j].filter->expr);
		add_totals(jd, &t);
		rte_tel_data_add_dict_container(d, c->jobs[j].name, jd, 0);
	}
	pthread_mutex_unlock(&c->jobs_lock);
	return rc;
}

static int
tel_links(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	struct dp_capture *c = tel_capture;
	rte_tel_data_start_dict(d);
	for (unsigned int l = 0; l < c->n_links; l++) {
		const struct dp_link *lk = &c->links[l];
		struct rte_tel_data *ld = rte_tel_data_alloc();
		if (!ld)
			return -ENOMEM;
		rte_tel_data_start_dict(ld);
		rte_tel_data_add_dict_u64(ld, "port_id", lk->port_id);
		rte_tel_data_add_dict_u64(ld, "rx_queues", lk->n_rxq);
		rte_tel_data_add_dict_u64(ld, "sw_distribute", lk->sw_distribute);
		rte_tel_data_add_dict_u64(ld, "received", dp_stats_link_received(c, l));
		rte_tel_data_add_dict_u64(ld, "dropped_nic_imissed", c->link_imissed[l]);
		rte_tel_data_add_dict_u64(ld, "dropped_mbuf_alloc", c->link_nombuf[l]);
		struct rte_eth_stats st;
		if (lk->port_id != UINT16_MAX && rte_eth_stats_get(lk->port_id, &st) == 0) {
			rte_tel_data_add_dict_u64(ld, "rx_bytes", st.ibytes);
			for (uint16_t q = 0; q < lk->n_rxq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++) {
				char k[32];
				snprintf(k, sizeof(k), "q%u_packets", q);
				rte_tel_data_add_dict_u64(ld, k, st.q_ipackets[q]);
			}
		}
		rte_tel_data_add_dict_container(d, lk->name, ld, 0);
	}
	return 0;
}

static int
tel_workers(const char *cmd __rte_unused, const char *params __rte_unused,
	struct rte_tel_data *d)
{
	struct dp_capture *c = tel_capture;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t up_cycles = (dp_now_ns() - c->started_ns) * (hz / 1000000) / 1000;
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < c->n_workers; i++) {
		const struct dp_worker *w = &c->workers[i];
		struct rte_tel_data *wd = rte_tel_data_alloc();
		char k[32];
		if (!wd)
			return -ENOMEM;
		rte_tel_data_start_dict(wd);
		rte_tel_data_add_dict_u64(wd, "lcore", w->lcore);
		rte_tel_data_add_dict_u64(wd, "rx_queues", w->n_rxq);
		rte_tel_data_add_dict_u64(wd, "rx_packets", w->rx_pkts);
		rte_tel_data_add_dict_u64(wd, "rx_bytes", w->rx_bytes);
		rte_tel_data_add_dict_u64(wd, "handed_in", w->sw_in_pkts);
		rte_tel_data_add_dict_u64(wd, "handed_out", w->sw_out_pkts);
		rte_tel_data_add_dict_u64(wd, "dropped_ring_full", w->sw_ring_full);
		rte_tel_data_add_dict_u64(wd, "busy_cycles", w->busy_cycles);
		rte_tel_data_add_dict_u64(wd, "busy_permille",
			up_cycles ? w->busy_cycles * 1000 / up_cycles : 0);
		if (w->sw_in)
			rte_tel_data_add_dict_u64(wd, "ring_used", rte_ring_count(w->sw_in));
		/* sessions of the command line's only job (a drone's come and go: not read here) */
		const struct dp_sessions *ws = NULL;
		for (unsigned int j = 0; j < c->n_jobs && !ws && !c->always_on; j++)
			ws = w->sess[j];
		if (ws) {
			rte_tel_data_add_dict_u64(wd, "sessions_active", dp_session_active(ws));
			for (unsigned int sc = 0; sc < DP_SESS_COUNTER_MAX; sc++) {
				char name[48];
				snprintf(name, sizeof(name), "sessions_%s", dp_sess_counter_names[sc]);
				rte_tel_data_add_dict_u64(wd, name,
					dp_session_counter(ws, (enum dp_sess_counter)sc));
			}
		}
		rte_tel_data_add_dict_u64(wd, "idle_sleeps", w->idle_sleeps);
		for (unsigned int s = 0; s < DP_PARSE_STATUS_MAX; s++) {
			snprintf(k, sizeof(k), "parse_%s", dp_parse_status_names[s]);
			rte_tel_data_add_dict_u64(wd, k, w->parse[s]);
		}
		snprintf(k, sizeof(k), "%u", i);
		rte_tel_data_add_dict_container(d, k, wd, 0);
	}
	return 0;
}

int
dp_telemetry_register(struct dp_capture *c)
{
	tel_capture = c;
	int rc = rte_telemetry_register_cmd("/tide/stats", tel_stats,
		"tide totals: received, filtered, written, drops by reason. No parameters");
	rc |= rte_telemetry_register_cmd("/tide/links", tel_links,
		"tide per-link (port) and per-queue counters. No parameters");
	rc |= rte_telemetry_register_cmd("/tide/workers", tel_workers,
		"tide per-worker-lcore counters. No parameters");
	rc |= rte_telemetry_register_cmd("/tide/jobs", tel_jobs,
		"tide per-job counters. No parameters");
	return rc;
}
