/* dp_offline.c — offline capture file processing (see dp_offline.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_pause.h>
#include <rte_prefetch.h>

#include "dp_flows.h"
#include "dp_offline.h"
#include "dp_worker.h"
#include "tide_log.h"

/* Copy a record into an mbuf (chained when larger than one data room). Waits for the writer
 * to free mbufs rather than failing: offline input must lose nothing. NULL only if the writer
 * has gone. */
static struct rte_mbuf *
mbuf_from_record(struct dp_capture *c, struct dp_worker *w, const struct dp_pcap_rec *r)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t off = 0;
	do {
		struct rte_mbuf *seg;
		while ((seg = rte_pktmbuf_alloc(c->pool)) == NULL) {
			if (atomic_load(&c->writers_quit)) {
				rte_pktmbuf_free(head);
				return NULL;
			}
			dp_worker_flush(c, w); /* what we staged is what the writer needs to free */
			rte_pause();
		}
		uint32_t room = rte_pktmbuf_tailroom(seg);
		uint32_t len = RTE_MIN(room, (uint32_t)(r->caplen - off));
		memcpy(rte_pktmbuf_mtod(seg, uint8_t *), r->data + off, len);
		seg->data_len = (uint16_t)len;
		seg->pkt_len = len;
		off += len;
		if (!head) {
			head = tail = seg;
		} else {
			tail->next = seg;
			tail = seg;
			head->nb_segs++;
			head->pkt_len += len;
		}
	} while (off < r->caplen);
	return head;
}

void
dp_offline_run(struct dp_capture *c, struct dp_pcapfile *f, const struct dp_options *o)
{
	struct dp_worker *w = &c->workers[0];
	const uint32_t jobs = atomic_load(&c->tab)->active;
	const uint32_t selecting = atomic_load(&c->tab)->selecting;
	const unsigned int linktype = c->links[0].linktype;
	const uint64_t max_dur_ns = o->max_duration_s * 1000000000ull;
	uint64_t parse_cnt[DP_PARSE_STATUS_MAX] = {0};
	uint64_t matched[DP_MAX_JOBS] = {0}, offered[DP_MAX_JOBS] = {0};
	uint64_t read = 0, bytes = 0, first_ts = 0;
	struct dp_pcap_rec rec;
	enum dp_stop why = DP_STOP_END_OF_INPUT;
	char err[512];

	/* a stack mbuf that points at the mapped record: enough for the JIT's loads (buf_addr,
	 * data_off, data_len, pkt_len; one segment) without copying the packet */
	struct rte_mbuf view;
	memset(&view, 0, sizeof(view));
	view.nb_segs = 1;
	rte_mbuf_refcnt_set(&view, 1);

	for (;;) {
		if (o->count && read >= o->count) {
			why = DP_STOP_COUNT;
			break;
		}
		int rc = dp_pcapfile_next(f, &rec, err, sizeof(err));
		if (rc <= 0) {
			if (rc < 0) {
				why = DP_STOP_INPUT_ERROR;
				snprintf(c->input_error, sizeof(c->input_error), "%s", err);
				tide_error("dataplane", "%s", err);
			}
			break;
		}
		if (read == 0)
			first_ts = rec.ts_ns;
		if (max_dur_ns && rec.ts_ns > first_ts && rec.ts_ns - first_ts >= max_dur_ns) {
			why = DP_STOP_MAX_DURATION;
			break;
		}
		read++;
		bytes += rec.wirelen;

		struct dp_pkt_info pi;
		/* the file is read once, sequentially: fetch a few records ahead of the parser */
		rte_prefetch0(rec.data + 1024);
		rte_prefetch0(rec.data + 1088);
		dp_parse(rec.data, rec.caplen, linktype, &pi);
		parse_cnt[pi.status]++;

		/* a stack mbuf over the record when one segment holds it whole; else the raw
		 * record, whose `len` is the wire length */
		struct rte_mbuf *fm = NULL;
		if (rec.caplen == rec.wirelen && rec.caplen <= UINT16_MAX) {
			view.buf_addr = (void *)(uintptr_t)rec.data;
			view.data_len = (uint16_t)rec.caplen;
			view.pkt_len = rec.caplen;
			fm = &view;
		}
		struct dp_sess_ref refs[DP_MAX_JOBS];
		uint32_t mask = dp_worker_select(c, w, jobs, fm, &rec, &pi, refs, offered, matched);
		/* the sessions a job has left out need no copy of their packets */
		DP_FOREACH_BIT(j, mask & selecting)
			if (dp_select_left_out(w->sel[j], &refs[j]))
				mask &= ~(1u << j);
		if (mask & selecting && !c->write_shards)
			dp_worker_select_apps(w, mask & selecting, mask, NULL, refs, rec.ts_ns);
		if (mask && c->write_shards) {
			struct rte_mbuf *m = mbuf_from_record(c, w, &rec);
			if (!m) {
				/* the writer has stopped: its reason stands, and this packet is not in
				 * the dataset */
				DP_FOREACH_BIT(j, mask)
					if (w->sess[j])
						dp_session_dropped(w->sess[j], &refs[j], rec.caplen);
				break;
			}
			struct dp_pkt_meta *meta = dp_meta(m);
			meta->ts_ns = rec.ts_ns;
			meta->wirelen = rec.wirelen;
			meta->link = 0;
			/* a job that keeps sessions by application may hold the packet or leave it */
			if (mask & selecting)
				mask = dp_worker_select_apps(w, mask & selecting, mask, m, refs,
					rec.ts_ns);
			dp_worker_deliver(c, w, m, &pi, mask, refs);
		}
		if ((read & 63) == 0) {
			DP_FOREACH_BIT(j, jobs)
				if (w->sess[j]) {
					dp_session_gc(w->sess[j], rec.ts_ns);
					if (w->sel[j])
						dp_select_tick(w->sel[j], rec.ts_ns);
					dp_flows_tick(c->jobs[j].flows, rec.ts_ns);
				}
			dp_worker_flush(c, w);
			c->offline_read = read;
			w->rx_pkts = read; /* published for telemetry while the file is read */
			if (atomic_load_explicit(&c->quit, memory_order_relaxed))
				break;
		}
	}
	dp_worker_flush(c, w);
	c->offline_read = read;
	w->rx_pkts = read;
	w->rx_bytes = bytes;
	for (unsigned int s = 0; s < DP_PARSE_STATUS_MAX; s++)
		w->parse[s] = parse_cnt[s];
	DP_FOREACH_BIT(j, jobs) {
		w->job[j].matched = matched[j];
		w->job[j].filtered = offered[j] - matched[j];
	}
	dp_capture_stop(c, why);
}
