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

struct dp_recovered dp_recovered_list[64];
unsigned int dp_recovered_n;

#define WRITER_BURST 256

/* list *.part files before recovery so the manifest can say what happened to each */
static void
note_parts(const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && dp_recovered_n < RTE_DIM(dp_recovered_list)) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".part") == 0) {
			struct dp_recovered *r = &dp_recovered_list[dp_recovered_n++];
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
resolve_parts(const char *dir, unsigned int from)
{
	for (unsigned int i = from; i < dp_recovered_n; i++) {
		const char *base = strrchr(dp_recovered_list[i].file, '/');
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s.pcapng", dir,
			base ? base + 1 : dp_recovered_list[i].file);
		if (access(path, F_OK) == 0)
			dp_recovered_list[i].action = "repaired";
	}
}

int
dp_writer_open_all(struct dp_capture *c, const char *out_dir, const char *drone,
	uint64_t shard_size, uint64_t shard_time_ns, uint64_t max_size)
{
	c->n_outs = 0;
	for (unsigned int j = 0; j < c->n_jobs; j++) {
		for (unsigned int l = 0; l < c->n_links; l++) {
			struct dp_writer_out *o = &c->outs[c->n_outs];
			memset(o, 0, sizeof(*o));
			o->job = j;
			o->link = l;
			char rel[512];
			/* one job per run today: its shards live directly under shards/ as DESIGN.md
			 * lays out; a second job gets its own sub-tree */
			if (j == 0)
				snprintf(rel, sizeof(rel), "shards/%s/%s", drone, c->links[l].name);
			else
				snprintf(rel, sizeof(rel), "jobs/%s/shards/%s/%s", c->jobs[j].name, drone,
					c->links[l].name);
			snprintf(o->dir, sizeof(o->dir), "%s/%s", out_dir, rel);

			unsigned int before = dp_recovered_n, next_seq = 0, discarded = 0;
			note_parts(o->dir, rel);
			int rc = dp_shard_dir_recover(o->dir, &next_seq, &discarded);
			if (rc < 0 && rc != -ENOENT) {
				fprintf(stderr, "tide-dataplane: recovering %s: %s\n", o->dir,
					strerror(-rc));
				return -1;
			}
			resolve_parts(o->dir, before);
			for (unsigned int i = before; i < dp_recovered_n; i++)
				fprintf(stderr, "tide-dataplane: partial shard %s.pcapng from an "
						"interrupted run %s\n",
					dp_recovered_list[i].file, dp_recovered_list[i].action);
			o->first_seq = next_seq;

			struct dp_shard_params p = {
				.dir = o->dir,
				.linktype = c->links[l].linktype,
				.snaplen = c->jobs[j].snaplen ? c->jobs[j].snaplen : 262144,
				.shard_size = shard_size,
				.shard_time_ns = shard_time_ns,
				.max_total = max_size,
				.if_name = c->links[l].name,
				.if_descr = c->jobs[j].filter->expr,
				.app = "tide-dataplane " TIDE_VERSION,
				.first_seq = next_seq,
			};
			o->sw = dp_shard_writer_open(&p);
			if (!o->sw) {
				fprintf(stderr, "tide-dataplane: cannot open shard writer in %s: %s\n",
					o->dir, strerror(errno));
				return -1;
			}
			c->n_outs++;
		}
	}
	return 0;
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
update_isb_counters(struct dp_capture *c, struct dp_writer_out *o)
{
	uint64_t recv, drop = c->link_imissed[o->link] + c->link_nombuf[o->link];
	if (c->links[o->link].port_id == UINT16_MAX)
		recv = c->offline_read;
	else
		recv = c->link_rx[o->link] + drop;
	for (unsigned int d = 0; d < DP_DROP_MAX; d++)
		drop += o->dropped[d];
	dp_shard_writer_set_counters(o->sw, recv, drop);
}

static unsigned int
drain_one(struct dp_capture *c, struct dp_writer_out *o, uint8_t *scratch)
{
	struct dp_job *job = &c->jobs[o->job];
	struct rte_mbuf *pkts[WRITER_BURST];
	unsigned int n = rte_ring_sc_dequeue_burst(job->ring[o->link], (void **)pkts, WRITER_BURST,
		NULL);
	if (n == 0)
		return 0;
	update_isb_counters(c, o);
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum dp_writer_stop st = dp_shard_writer_stopped(o->sw);
		if (unlikely(st != DP_WRITER_STOP_NONE)) {
			o->dropped[drop_for(st)]++;
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
			continue;
		}
		st = dp_shard_writer_stopped(o->sw);
		if (st == DP_WRITER_STOP_NONE)
			st = DP_WRITER_STOP_IO_ERROR;
		o->dropped[drop_for(st)]++;
		atomic_store(&job->stopped, 1);
		fprintf(stderr, "tide-dataplane: job %s link %s: %s, stopping\n", job->name,
			c->links[o->link].name, dp_writer_stop_names[st]);
		dp_capture_stop(c, stop_for(st));
	}
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

void *
dp_writer_thread(void *arg)
{
	struct dp_capture *c = arg;
	static uint8_t scratch[262144 + 64];

	for (;;) {
		int quitting = atomic_load(&c->writers_quit);
		unsigned int got = 0;
		for (unsigned int i = 0; i < c->n_outs; i++)
			got += drain_one(c, &c->outs[i], scratch);
		if (got == 0) {
			if (quitting)
				break;
			usleep(50);
		}
	}
	return NULL;
}

int
dp_writer_close_all(struct dp_capture *c)
{
	int ret = 0;
	for (unsigned int i = 0; i < c->n_outs; i++) {
		struct dp_writer_out *o = &c->outs[i];
		update_isb_counters(c, o);
		int rc = dp_shard_writer_close(o->sw, &o->shards, &o->n_shards);
		o->sw = NULL;
		if (rc < 0) {
			fprintf(stderr, "tide-dataplane: closing shards in %s: %s\n", o->dir,
				strerror(-rc));
			ret = -1;
		}
	}
	return ret;
}
