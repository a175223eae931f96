/* dp_writer.c — writer thread and shard-writer set-up (see dp_writer.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_pause.h>

#include "dp_writer.h"
#include "tide_layout.h"
#include "tide_log.h"

#define WRITER_BURST 256

/* list *.part files before recovery so the manifest can say what happened to each */
static void
note_parts(struct dp_job *job, const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && job->n_recovered < DP_RECOVERED_MAX) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".part") == 0) {
			struct dp_recovered *r = &job->recovered[job->n_recovered++];
			char base[300];
			snprintf(base, sizeof(base), "%.*s", (int)(l - 5), e->d_name);
			/* base ends in ".pcapng": the manifest names the shard without it */
			char *dot = strrchr(base, '.');
			if (dot && strcmp(dot, ".pcapng") == 0)
				*dot = '\0';
			snprintf(r->file, sizeof(r->file), "%.200s/%.250s", rel, base);
			r->action = "discarded";
		}
	}
	closedir(d);
}

static void
resolve_parts(struct dp_job *job, const char *dir, unsigned int from)
{
	for (unsigned int i = from; i < job->n_recovered; i++) {
		const char *base = strrchr(job->recovered[i].file, '/');
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s.pcapng", dir,
			base ? base + 1 : job->recovered[i].file);
		if (access(path, F_OK) == 0)
			job->recovered[i].action = "repaired";
	}
}

int
dp_writer_open_job(struct dp_capture *c, unsigned int j, const char *out_dir,
	const char *drone, uint64_t shard_size, uint64_t shard_time_ns, uint64_t max_size,
	char *err, size_t err_size)
{
	struct dp_job *job = &c->jobs[j];
	for (unsigned int l = 0; l < c->n_links; l++) {
		struct dp_writer_out *o = &job->out[l];
		memset(o, 0, sizeof(*o));
		if (!(job->links >> l & 1))
			continue;
		char rel[512];
		tide_layout_shard_dir(rel, sizeof(rel), drone, c->links[l].name);
		snprintf(o->dir, sizeof(o->dir), "%s/%s", out_dir, rel);

		unsigned int before = job->n_recovered, next_seq = 0, discarded = 0;
		note_parts(job, o->dir, rel);
		int rc = dp_shard_dir_recover(o->dir, &next_seq, &discarded);
		if (rc < 0 && rc != -ENOENT) {
			snprintf(err, err_size, "recovering %s: %s", o->dir, strerror(-rc));
			goto fail;
		}
		resolve_parts(job, o->dir, before);
		for (unsigned int i = before; i < job->n_recovered; i++)
			tide_warn("dataplane", "partial shard %s.pcapng from an interrupted "
					"run %s",
				job->recovered[i].file, job->recovered[i].action);
		o->first_seq = next_seq;

		struct dp_shard_params p = {
			.dir = o->dir,
			.linktype = c->links[l].linktype,
			.snaplen = job->snaplen ? job->snaplen : 262144,
			.shard_size = shard_size,
			.shard_time_ns = shard_time_ns,
			.max_total = max_size,
			.if_name = c->links[l].name,
			.if_descr = job->filter->expr,
			.app = "tide-dataplane " TIDE_VERSION,
			.first_seq = next_seq,
		};
		o->sw = dp_shard_writer_open(&p);
		if (!o->sw) {
			snprintf(err, err_size, "cannot open a shard writer in %s: %s", o->dir,
				strerror(errno));
			goto fail;
		}
	}
	atomic_fetch_or(&c->writer_mask, 1u << j);
	return 0;
fail:
	for (unsigned int l = 0; l < c->n_links; l++)
		if (job->out[l].sw) {
			dp_shard_writer_close(job->out[l].sw, &job->out[l].shards,
				&job->out[l].n_shards);
			job->out[l].sw = NULL;
		}
	return -1;
}

static enum dp_drop
drop_for(enum dp_writer_stop s)
{
	switch (s) {
	case DP_WRITER_STOP_MAX_SIZE: return DP_DROP_MAX_SIZE;
	case DP_WRITER_STOP_DISK_FULL: return DP_DROP_DISK_FULL;
	default: return DP_DROP_IO_ERROR;
	}
}

static enum dp_stop
stop_for(enum dp_writer_stop s)
{
	switch (s) {
	case DP_WRITER_STOP_MAX_SIZE: return DP_STOP_MAX_SIZE;
	case DP_WRITER_STOP_DISK_FULL: return DP_STOP_DISK_FULL;
	default: return DP_STOP_IO_ERROR;
	}
}

/* ISB counters: what the link received and lost before any job saw it, plus this output's own
 * losses. */
static void
update_isb_counters(struct dp_capture *c, unsigned int link, struct dp_writer_out *o)
{
	uint64_t recv, drop = c->link_imissed[link] + c->link_nombuf[link];
	if (c->links[link].port_id == UINT16_MAX)
		recv = c->offline_read;
	else
		recv = c->link_rx[link] + drop;
	for (unsigned int d = 0; d < DP_DROP_MAX; d++)
		drop += o->dropped[d];
	dp_shard_writer_set_counters(o->sw, recv, drop);
}

static unsigned int
drain_one(struct dp_capture *c, unsigned int j, unsigned int link, uint8_t *scratch)
{
	struct dp_job *job = &c->jobs[j];
	struct dp_writer_out *o = &job->out[link];
	struct rte_mbuf *pkts[WRITER_BURST];
	unsigned int n = rte_ring_sc_dequeue_burst(job->ring[link], (void **)pkts, WRITER_BURST,
		NULL);
	if (n == 0)
		return 0;
	update_isb_counters(c, link, o);
	/* packets not written go back to the job's end, out of its flow records, when it has
	 * them (the rest are freed at once) */
	struct rte_mbuf *back[WRITER_BURST];
	unsigned int n_back = 0;
	bool take_back = job->flows != NULL;
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		/* past --count / max_packets the job has ended: later packets are not its own */
		if (unlikely(job->max_packets && job->written_total >= job->max_packets)) {
			if (take_back) {
				back[n_back++] = m;
				pkts[i] = NULL;
			}
			continue;
		}
		enum dp_writer_stop st = dp_shard_writer_stopped(o->sw);
		if (unlikely(st != DP_WRITER_STOP_NONE)) {
			o->dropped[drop_for(st)]++;
			if (take_back) {
				back[n_back++] = m;
				pkts[i] = NULL;
			}
			continue;
		}
		uint32_t caplen = rte_pktmbuf_pkt_len(m);
		if (job->snaplen && caplen > job->snaplen)
			caplen = job->snaplen;
		const void *data = rte_pktmbuf_read(m, 0, caplen, scratch);
		const struct dp_pkt_meta *meta = dp_meta(m);
		uint32_t wirelen = meta->wirelen > caplen ? meta->wirelen : caplen;
		int rc = dp_shard_writer_write(o->sw, meta->ts_ns, data, caplen, wirelen);
		if (likely(rc == 0)) {
			o->written++;
			o->bytes += caplen;
			if (unlikely(++job->written_total == job->max_packets))
				dp_job_stop(c, j, DP_STOP_COUNT);
			continue;
		}
		st = dp_shard_writer_stopped(o->sw);
		if (st == DP_WRITER_STOP_NONE)
			st = DP_WRITER_STOP_IO_ERROR;
		o->dropped[drop_for(st)]++;
		if (take_back) {
			back[n_back++] = m;
			pkts[i] = NULL;
		}
		if (!atomic_load(&job->stopped))
			tide_info("dataplane", "job %s link %s: %s, stopping", job->name,
				c->links[link].name, dp_writer_stop_names[st]);
		dp_job_stop(c, j, stop_for(st));
	}
	rte_pktmbuf_free_bulk(pkts, n); /* NULLs (taken back) are skipped */
	if (n_back) {
		unsigned int kept = rte_ring_sp_enqueue_burst(job->returned, (void **)back, n_back,
			NULL);
		job->unattributed += n_back - kept;
		rte_pktmbuf_free_bulk(&back[kept], n_back - kept);
	}
	return n;
}

void *
dp_writer_thread(void *arg)
{
	struct dp_capture *c = arg;
	static uint8_t scratch[262144 + 64];
	unsigned int naps = 0;

	for (;;) {
		int quitting = atomic_load(&c->writers_quit);
		unsigned int got = 0;
		uint32_t mask = atomic_load(&c->writer_mask);
		DP_FOREACH_BIT(j, mask) {
			struct dp_job *job = &c->jobs[j];
			/* read before draining: once set, no worker adds to the rings, so an empty
			 * pass after it means empty for good */
			int draining = atomic_load(&job->draining);
			unsigned int job_got = 0;
			for (unsigned int l = 0; l < c->n_links; l++)
				if (job->out[l].sw)
					job_got += drain_one(c, j, l, scratch);
			got += job_got;
			if (draining && job_got == 0) {
				atomic_fetch_and(&c->writer_mask, ~(1u << j));
				atomic_store(&job->drained, 1);
			}
		}
		if (got == 0) {
			if (quitting)
				break;
			/* a quiet writer naps longer the longer it stays quiet (up to 1 ms): rings
			 * of 8k packets leave room for far more */
			usleep(naps < 64 ? 50 : 1000);
			naps++;
		} else {
			naps = 0;
		}
	}
	return NULL;
}

int
dp_writer_close_job(struct dp_capture *c, unsigned int j)
{
	struct dp_job *job = &c->jobs[j];
	int ret = 0;
	for (unsigned int l = 0; l < c->n_links; l++) {
		struct dp_writer_out *o = &job->out[l];
		if (!o->sw)
			continue;
		update_isb_counters(c, l, o);
		int rc = dp_shard_writer_close(o->sw, &o->shards, &o->n_shards);
		o->sw = NULL;
		if (rc < 0) {
			tide_error("dataplane", "closing shards in %s: %s", o->dir,
				strerror(-rc));
			ret = -1;
		}
	}
	return ret;
}
