/* dp_live.c — the always-on capture of a drone (see dp_live.h).
 *
 * Threads: the caller's (the drone's main loop) owns every slot and is the only one that adds,
 * publishes, drains and frees jobs; worker lcores only read the published job table; the writer
 * thread drains the rings of the jobs in c->writer_mask. Ending a job is ordered so that
 * nothing is lost or touched after it is freed: unpublish and wait for the workers' grace
 * period (no worker delivers any more), ask the writer to drain (it lets the job go once its
 * rings are empty), flush the job's sessions, close its shards, write its manifest, free the
 * slot. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "cls_engine.h"
#include "dp_eal.h"
#include "dp_files.h"
#include "dp_flows.h"
#include "dp_live.h"
#include "dp_manifest.h"
#include "dp_options.h"
#include "dp_pcapfile.h"
#include "dp_port.h"
#include "dp_stats.h"
#include "dp_worker.h"
#include "dp_writer.h"
#include "tide_layout.h"
#include "tide_log.h"

#define RING_SIZE 8192
#define SW_RING_SIZE 4096
#define NB_RXD 1024
#define DEFAULT_MBUFS 65535
#define DEFAULT_SESSIONS 65536
#define DEFAULT_DEMO_RATE 200000000ull /* bits/s */
#define SHARD_SIZE (256ull << 20)
#define DRAIN_WAIT_MS 60000

enum link_kind { LINK_DEMO, LINK_PCAP, LINK_VDEV, LINK_PCI };

struct link_spec {
	enum link_kind kind;
	char file[PATH_MAX];
	char dev[4096];            /* vdev arguments or PCI address */
	uint64_t rate_bps;
	bool once;
	unsigned int after;
};

/* What the caller's thread keeps per slot besides struct dp_job. */
struct live_slot {
	unsigned int link;         /* the caller's link index */
	uint64_t deadline_ns;      /* max_duration (0: none) */
	int stop_why;              /* DP_STOP_NONE, or why it was asked to end */
	uint32_t lookback_s;       /* asked for */
	char out_dir[PATH_MAX];
	char drone[64];
	json_t *parameters;
	char export_url[320];      /* "" when the job does not export */
	struct dp_select_spec *select; /* the job's selection by application (NULL: none) */
};

static struct {
	struct dp_capture cap;
	struct dp_options opt;     /* the few options the shared code reads (burst, queues) */
	uint64_t lookback_bytes;   /* per link (0: no look-back) */
	struct dp_live_link *links;
	unsigned int n_links;
	int link_index[DP_MAX_LINKS];     /* caller's link → c->links index, -1 when down */
	uint64_t once_records[DP_MAX_LINKS]; /* a replay-once file's packets (by c->links index) */
	bool link_done[DP_MAX_LINKS];
	unsigned int after[DP_MAX_LINKS];
	uint64_t last_bytes[DP_MAX_LINKS], last_poll_ns, rate_bps[DP_MAX_LINKS];
	struct rte_mempool *jumbo_pool[DP_MAX_LINKS];
	struct live_slot slots[DP_MAX_JOBS];
	struct cls_engine *engine;
	char engine_error[256];
	uint32_t sessions;
	pthread_t writer;
	bool writer_running, eal, ports;
} L;

/* ---- link specifications ------------------------------------------------------------------- */

/* "200M" → 200000000: k, M, G are powers of 1000 (rates are bits per second). */
static int
parse_rate(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': v *= 1e3; end++; break;
	case 'M': v *= 1e6; end++; break;
	case 'G': v *= 1e9; end++; break;
	default: break;
	}
	if (*end || v > 4e11)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int
parse_spec(const char *spec, struct link_spec *s, char *err, size_t err_size)
{
	memset(s, 0, sizeof(*s));
	const char *opts = NULL;
	if (strncmp(spec, "demo", 4) == 0 && (spec[4] == '\0' || spec[4] == ',')) {
		s->kind = LINK_DEMO;
		s->rate_bps = DEFAULT_DEMO_RATE;
		const char *demo = dp_find_demo_pcap();
		if (!demo) {
			snprintf(err, err_size, "demo traffic not found (config/demo.pcap); run "
				"scripts/make-demo-pcap.py or set TIDE_DEMO_PCAP");
			return -1;
		}
		snprintf(s->file, sizeof(s->file), "%s", demo);
		opts = spec[4] ? spec + 5 : NULL;
	} else if (strncmp(spec, "pcap:", 5) == 0) {
		s->kind = LINK_PCAP;
		const char *comma = strchr(spec + 5, ',');
		size_t len = comma ? (size_t)(comma - spec - 5) : strlen(spec + 5);
		if (len == 0 || len >= sizeof(s->file)) {
			snprintf(err, err_size, "pcap: wants a file");
			return -1;
		}
		snprintf(s->file, sizeof(s->file), "%.*s", (int)len, spec + 5);
		opts = comma ? comma + 1 : NULL;
	} else if (strncmp(spec, "vdev:", 5) == 0 && spec[5]) {
		s->kind = LINK_VDEV;
		snprintf(s->dev, sizeof(s->dev), "%s", spec + 5);
		return 0;
	} else if (strncmp(spec, "pci:", 4) == 0 && spec[4]) {
		s->kind = LINK_PCI;
		snprintf(s->dev, sizeof(s->dev), "%s", spec + 4);
		return 0;
	} else {
		snprintf(err, err_size, "SPEC is demo, pcap:FILE, vdev:ARGS or pci:BDF");
		return -1;
	}
	while (opts && *opts) {
		const char *next = strchr(opts, ',');
		size_t len = next ? (size_t)(next - opts) : strlen(opts);
		char o[64];
		snprintf(o, sizeof(o), "%.*s", (int)(len < sizeof(o) ? len : sizeof(o) - 1), opts);
		if (strncmp(o, "rate=", 5) == 0 && parse_rate(o + 5, &s->rate_bps) == 0) {
		} else if (strcmp(o, "once") == 0 && s->kind == LINK_PCAP) {
			s->once = true;
		} else if (strncmp(o, "after=", 6) == 0 && s->kind == LINK_PCAP && o[6] &&
			strtoul(o + 6, NULL, 10) <= DP_LINK_JOB_SLOTS &&
			strspn(o + 6, "0123456789") == strlen(o + 6)) {
			s->after = (unsigned int)strtoul(o + 6, NULL, 10);
		} else {
			snprintf(err, err_size, "unknown option '%s' (rate=BITS/S with k/M/G, once, "
				"after=N)", o);
			return -1;
		}
		opts = next ? next + 1 : NULL;
	}
	return 0;
}

/* Records and largest frame of a capture file (to size the pool, and to know when a
 * replay-once link is done). */
static int
scan_file(const char *path, uint64_t *records, uint32_t *max_caplen, char *err, size_t err_size)
{
	struct dp_pcapfile *f = dp_pcapfile_open(path, err, err_size);
	if (!f)
		return -1;
	struct dp_pcap_rec rec;
	int rc;
	*records = 0;
	*max_caplen = 0;
	while ((rc = dp_pcapfile_next(f, &rec, err, err_size)) > 0) {
		(*records)++;
		if (rec.caplen > *max_caplen)
			*max_caplen = rec.caplen;
	}
	dp_pcapfile_close(f);
	return rc < 0 ? -1 : 0;
}

/* ---- start and stop ------------------------------------------------------------------------ */

static json_t *
port_info(uint16_t port)
{
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port, &info) != 0)
		return NULL;
	return json_pack("{s:s, s:i, s:i, s:i, s:b}", "driver",
		info.driver_name ? info.driver_name : "", "max_rx_queues", info.max_rx_queues,
		"max_rx_desc", info.rx_desc_lim.nb_max, "numa_node", rte_eth_dev_socket_id(port),
		"rss", info.flow_type_rss_offloads != 0);
}

static int
setup_link(unsigned int i, const struct link_spec *s, uint16_t nb_rxd)
{
	struct dp_live_link *lk = &L.links[i];
	struct dp_capture *c = &L.cap;
	char name[RTE_ETH_NAME_MAX_LEN], err[512];
	uint64_t records = 0;
	uint32_t max_caplen = 0;
	struct rte_mempool *pool = NULL;

	if (s->kind == LINK_DEMO || s->kind == LINK_PCAP) {
		snprintf(name, sizeof(name), "net_pcap_%s", lk->name);
		if (scan_file(s->file, &records, &max_caplen, err, sizeof(err)) != 0) {
			snprintf(lk->error, sizeof(lk->error), "%s", err);
			return -1;
		}
		/* frames larger than an mbuf: a pool of the link's own with room for the largest
		 * (net_pcap keeps a looped file in mbufs, one segment each) */
		if (max_caplen + RTE_PKTMBUF_HEADROOM > RTE_MBUF_DEFAULT_BUF_SIZE) {
			char pname[RTE_MEMPOOL_NAMESIZE];
			snprintf(pname, sizeof(pname), "tide_jumbo%u", i);
			uint32_t buf = RTE_MIN(max_caplen + RTE_PKTMBUF_HEADROOM, (uint32_t)UINT16_MAX);
			unsigned int n = (unsigned int)(records + 4u * nb_rxd + RING_SIZE +
				L.lookback_bytes / buf);
			pool = rte_pktmbuf_pool_create(pname, n, 256, 0,
				(uint16_t)RTE_MIN(max_caplen + RTE_PKTMBUF_HEADROOM, (uint32_t)UINT16_MAX),
				(int)rte_socket_id());
			if (!pool) {
				snprintf(lk->error, sizeof(lk->error), "cannot create a pool of %u "
					"mbufs for %u-byte frames: %s", n, max_caplen,
					rte_strerror(rte_errno));
				return -1;
			}
		}
	} else if (s->kind == LINK_VDEV) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(s->dev, ","), s->dev);
	} else {
		snprintf(name, sizeof(name), "%.*s", (int)sizeof(name) - 1, s->dev);
	}
	uint16_t port;
	if (rte_eth_dev_get_port_by_name(name, &port) != 0) {
		char full[RTE_ETH_NAME_MAX_LEN + 8];
		snprintf(full, sizeof(full), "0000:%s", name); /* a PCI address without domain */
		if (s->kind != LINK_PCI || rte_eth_dev_get_port_by_name(full, &port) != 0) {
			snprintf(lk->error, sizeof(lk->error), "no DPDK port %s after start-up", name);
			rte_mempool_free(pool);
			return -1;
		}
	}
	lk->info = port_info(port);
	int li = dp_port_setup_one(c, port, lk->name, nb_rxd, pool, err, sizeof(err));
	if (li < 0) {
		snprintf(lk->error, sizeof(lk->error), "%s", err);
		rte_mempool_free(pool);
		return -1;
	}
	L.jumbo_pool[li] = pool;
	c->links[li].rate_bps = s->rate_bps;
	if (s->once) {
		L.once_records[li] = records;
		L.after[li] = s->after ? s->after : 1;
		atomic_store(&c->links[li].held, 1);
	}
	L.link_index[i] = li;
	lk->up = true;
	return 0;
}

/* Each worker's look-back ring holds its share of every link it polls (a link polled on
 * several queues is shared out between them). */
static int
lookback_setup(struct dp_capture *c)
{
	if (!L.lookback_bytes)
		return 0;
	unsigned int queues[DP_MAX_LINKS] = {0};
	for (unsigned int i = 0; i < c->n_workers; i++)
		for (unsigned int q = 0; q < c->workers[i].n_rxq; q++)
			queues[c->workers[i].rxq[q].link]++;
	for (unsigned int i = 0; i < c->n_workers; i++) {
		struct dp_worker *w = &c->workers[i];
		uint64_t budget = 0;
		for (unsigned int q = 0; q < w->n_rxq; q++)
			budget += L.lookback_bytes / queues[w->rxq[q].link];
		if (dp_lookback_init(&w->lookback, budget, (int)rte_socket_id()) != 0)
			return -1;
	}
	return 0;
}

int
dp_live_open(const char *prog, struct dp_live_link *links, unsigned int n_links,
	const struct dp_live_tuning *t, char *err, size_t err_size)
{
	struct dp_capture *c = &L.cap;
	struct link_spec specs[DP_MAX_LINKS];
	char vdevs[DP_MAX_LINKS][4400];
	char *argv[64];
	int argc = 0;

	if (n_links > DP_MAX_LINKS) {
		snprintf(err, err_size, "at most %d links", DP_MAX_LINKS);
		return -1;
	}
	L.links = links;
	L.n_links = n_links;
	argv[argc++] = (char *)prog;
	argv[argc++] = (char *)"--lcores";
	argv[argc++] = (char *)(t->lcores ? t->lcores : "0-1");
	char mem_mb[32];
	if (t->hugepages == 0 || (t->hugepages < 0 && !dp_eal_hugepages_usable())) {
		/* room for the pool, its look-back share (mbufs cost a little more than their
		 * buffers) and the jumbo pools */
		snprintf(mem_mb, sizeof(mem_mb), "%llu", 1024ull +
			(unsigned long long)((t->lookback_bytes * n_links * 5 / 4) >> 20));
		argv[argc++] = (char *)"--no-huge";
		argv[argc++] = (char *)"-m";
		argv[argc++] = mem_mb;
	}
	for (unsigned int i = 0; i < n_links; i++) {
		L.link_index[i] = -1;
		links[i].up = false;
		links[i].error[0] = '\0';
		if (parse_spec(links[i].spec, &specs[i], links[i].error, sizeof(links[i].error)))
			continue;
		switch (specs[i].kind) {
		case LINK_DEMO:
		case LINK_PCAP:
			snprintf(vdevs[i], sizeof(vdevs[i]), "--vdev=net_pcap_%s,rx_pcap=%s%s",
				links[i].name, specs[i].file, specs[i].once ? "" : ",infinite_rx=1");
			break;
		case LINK_VDEV:
			snprintf(vdevs[i], sizeof(vdevs[i]), "--vdev=%s", specs[i].dev);
			break;
		case LINK_PCI:
			snprintf(vdevs[i], sizeof(vdevs[i]), "--allow=%s", specs[i].dev);
			break;
		}
		argv[argc++] = vdevs[i];
	}
	argv[argc++] = (char *)"--";
	argv[argc] = NULL;
	int used_huge = 0;
	if (dp_eal_start(argc, argv, NULL, &used_huge, err, err_size) < 0)
		return -1;
	L.eal = true;

	unsigned int n_workers = rte_lcore_count() - 1;
	if (n_workers == 0) {
		snprintf(err, err_size, "the drone needs a worker lcore besides the main one");
		return -1;
	}
	L.opt.burst = t->burst;
	L.opt.rx_queues = t->rx_queues;
	c->opt = &L.opt;
	c->always_on = true;
	c->busy_poll = t->busy_poll;
	c->write_shards = true;
	uint16_t nb_rxd = t->rx_desc ? (uint16_t)t->rx_desc : NB_RXD;
	/* the look-back rings hold received mbufs: the pool grows by what they may hold */
	L.lookback_bytes = t->lookback_bytes;
	uint64_t held = t->lookback_bytes * n_links / RTE_MBUF_DEFAULT_BUF_SIZE;
	unsigned int mbufs = (t->mbufs ? t->mbufs : DEFAULT_MBUFS) + (unsigned int)RTE_MIN(held,
		(uint64_t)(1u << 24));
	char why[256];
	if (dp_capture_init(c, n_workers, false, mbufs, why, sizeof(why)) != 0 ||
		dp_capture_init_rcu(c, why, sizeof(why)) != 0) {
		snprintf(err, err_size, "cannot set up the capture (a pool of %u mbufs, %llu MiB "
			"of them for the look-back): %s", mbufs, (unsigned long long)(
			(uint64_t)RTE_MIN(held, (uint64_t)(1u << 24)) * RTE_MBUF_DEFAULT_BUF_SIZE >> 20),
			why);
		return -1;
	}
	L.ports = true;
	for (unsigned int i = 0; i < n_links; i++)
		if (!links[i].error[0])
			setup_link(i, &specs[i], nb_rxd);
	if (dp_port_assign_queues(c, err, err_size) != 0 ||
		dp_capture_make_rings(c, DP_MAX_JOBS, RING_SIZE, SW_RING_SIZE, err, err_size) != 0)
		return -1;
	if (lookback_setup(c) != 0) {
		snprintf(err, err_size, "cannot allocate the look-back rings");
		return -1;
	}
	L.sessions = t->sessions ? t->sessions : DEFAULT_SESSIONS;
	struct cls_engine_params ep = {
		.config_dir = dp_find_config_dir(NULL),
		.policy = CLS_POLICY_PRIORITY,
	};
	L.engine = cls_engine_create(&ep, L.engine_error, sizeof(L.engine_error));
	c->engine = L.engine;
	if (dp_telemetry_register(c) != 0)
		tide_warn("dataplane", "telemetry commands not registered");

	dp_clock_init();
	dp_worker_capture = c;
	c->started_ns = L.last_poll_ns = dp_now_ns();
	dp_capture_publish(c, 0, false); /* an empty table */
	if (pthread_create(&L.writer, NULL, dp_writer_thread, c) != 0) {
		snprintf(err, err_size, "cannot start the writer thread");
		return -1;
	}
	L.writer_running = true;
	if (t->writer_cpus && t->writer_cpus[0]) {
		cpu_set_t set;
		CPU_ZERO(&set);
		for (const char *p = t->writer_cpus; *p; p += strspn(p, ","))
			for (long cpu = strtol(p, (char **)&p, 10); cpu >= 0 && cpu < CPU_SETSIZE;
				cpu = -1)
				CPU_SET((int)cpu, &set);
		pthread_setaffinity_np(L.writer, sizeof(set), &set);
	}
	for (unsigned int i = 0; i < c->n_workers; i++)
		rte_eal_remote_launch(dp_worker_main, &c->workers[i], c->workers[i].lcore);
	if (!used_huge)
		tide_warn("dataplane", "no free hugepages: running with --no-huge "
				"(fine for files and demos; use hugepages for line rate)");
	return 0;
}

unsigned int
dp_live_jobs_on(unsigned int link)
{
	unsigned int n = 0;
	DP_FOREACH_BIT(j, L.cap.jobs_in_use)
		n += L.slots[j].link == link;
	return n;
}

static void
slot_release(unsigned int j)
{
	json_decref(L.slots[j].parameters);
	L.cap.jobs[j].select = NULL; /* no worker reads it: the job left the table */
	free(L.slots[j].select);
	memset(&L.slots[j], 0, sizeof(L.slots[j]));
}

int
dp_live_start(const struct dp_live_job *p, char *err, size_t err_size)
{
	struct dp_capture *c = &L.cap;
	if (p->link >= L.n_links) {
		snprintf(err, err_size, "no such link");
		return -1;
	}
	int li = L.link_index[p->link];
	if (li < 0) {
		snprintf(err, err_size, "link %s is down: %s", L.links[p->link].name,
			L.links[p->link].error);
		return -1;
	}
	if (L.link_done[li]) {
		snprintf(err, err_size, "link %s has replayed its file (a replay-once link)",
			L.links[p->link].name);
		return -1;
	}
	if (dp_live_jobs_on(p->link) >= DP_LINK_JOB_SLOTS) {
		snprintf(err, err_size, "link %s runs %d jobs already", L.links[p->link].name,
			DP_LINK_JOB_SLOTS);
		return -1;
	}
	if (p->classify && !L.engine) {
		snprintf(err, err_size, "classification is unavailable: %s", L.engine_error);
		return -1;
	}
	struct dp_select_spec *spec = NULL;
	if (p->apps && p->apps[0]) {
		char why[384];
		if (!p->classify) {
			snprintf(err, err_size, "apps needs classify");
			return -1;
		}
		spec = malloc(sizeof(*spec));
		if (!spec || dp_select_spec_make(spec, p->apps, p->apps_keep_undecided,
			    p->apps_packets, p->apps_wait_s, cls_engine_apps(L.engine),
			    cls_engine_services(L.engine), why, sizeof(why)) != 0) {
			snprintf(err, err_size, "apps: %s", spec ? why : "out of memory");
			free(spec);
			return -1;
		}
	}
	char ferr[256];
	struct dp_filter *f = dp_filter_compile(p->filter ? p->filter : "", c->links[li].linktype,
		262144, ferr, sizeof(ferr));
	if (!f) {
		snprintf(err, err_size, "bad filter '%s': %s", p->filter, ferr);
		free(spec);
		return -1;
	}
	int j = dp_capture_add_job(c, p->name, f, p->snaplen, p->anon_key, 1u << li, err,
		err_size);
	if (j < 0) {
		dp_filter_free(f);
		free(spec);
		return -1;
	}
	struct dp_job *job = &c->jobs[j];
	struct live_slot *s = &L.slots[j];
	memset(s, 0, sizeof(*s));
	s->link = p->link;
	snprintf(s->out_dir, sizeof(s->out_dir), "%s", p->out_dir);
	snprintf(s->drone, sizeof(s->drone), "%s", p->drone);
	s->parameters = json_incref(p->parameters);
	s->select = spec;
	job->select = spec;
	job->max_packets = p->max_packets;
	if (dp_writer_open_job(c, (unsigned int)j, p->out_dir, p->drone,
		    p->shard_size ? p->shard_size : SHARD_SIZE, p->shard_time_s * 1000000000ull,
		    p->max_size, err, err_size) != 0)
		goto fail;
	if (p->classify) {
		char dir[PATH_MAX + 8], rel[128];
		snprintf(dir, sizeof(dir), "%s/" TIDE_LAYOUT_FLOWS, p->out_dir);
		mkdir(dir, 0755);
		tide_layout_capture_flows(rel, sizeof(rel), L.links[p->link].name);
		snprintf(job->flows_path, sizeof(job->flows_path), "%s/%s", p->out_dir, rel);
		struct tide_export_target xt;
		bool exporting = p->export_url && p->export_url[0];
		if (exporting && tide_export_parse(p->export_url, &xt, err, err_size) != 0)
			goto fail;
		if (exporting)
			snprintf(s->export_url, sizeof(s->export_url), "%s", p->export_url);
		struct dp_flows_params fp = { .path = job->flows_path, .engine = L.engine,
			.quiet = true, .anon_key = p->anon_key, .dataset = true,
			.export = exporting ? &xt : NULL,
			.observation_domain = p->observation_domain };
		job->flows = dp_flows_open(&fp);
		if (!job->flows) {
			snprintf(err, err_size, "cannot open %s: %s", job->flows_path, strerror(errno));
			goto fail;
		}
		for (unsigned int i = 0; i < c->n_workers; i++) {
			if (spec && !(c->workers[i].sel[j] = dp_select_create(c, i, (unsigned int)j,
				    spec, c->select_held_max))) {
				snprintf(err, err_size, "cannot hold packets for the selection by "
					"application");
				goto fail;
			}
			struct dp_session_params sp = {
				.type = (enum cls_session_type)p->session_type,
				.capacity = L.sessions,
				.timeout_ns = 60ull * 1000000000ull,
				.engine = L.engine,
				.emit = dp_flows_emit,
				.emit_arg = job->flows,
				.worker = i,
				.dataset = true,
				.snaplen = p->snaplen,
				.ending = spec ? dp_select_ending : NULL,
				.ending_arg = c->workers[i].sel[j],
			};
			c->workers[i].sess[j] = dp_sessions_create(&sp);
			if (!c->workers[i].sess[j]) {
				snprintf(err, err_size, "cannot create a session table of %u sessions: "
					"%s", L.sessions, strerror(errno));
				goto fail;
			}
		}
	}
	job->lookback_ns = L.lookback_bytes ? (uint64_t)p->lookback_s * 1000000000ull : 0;
	s->lookback_s = p->lookback_s;
	job->started_ns = dp_now_ns();
	s->deadline_ns = p->max_duration_s ? job->started_ns + p->max_duration_s * 1000000000ull :
		0;
	dp_capture_publish(c, (unsigned int)j, true);
	/* a replay-once link starts when its N-th job does */
	if (L.once_records[li] && dp_live_jobs_on(p->link) >= L.after[li])
		atomic_store(&c->links[li].held, 0);
	return j;
fail:
	atomic_fetch_and(&c->writer_mask, ~(1u << j));
	dp_writer_close_job(c, (unsigned int)j);
	for (unsigned int i = 0; i < c->n_workers; i++) {
		if (c->workers[i].sess[j]) {
			dp_sessions_destroy(c->workers[i].sess[j]);
			c->workers[i].sess[j] = NULL;
		}
		dp_select_destroy(c->workers[i].sel[j]);
		c->workers[i].sel[j] = NULL;
	}
	dp_flows_close(job->flows);
	job->flows = NULL;
	job->select = NULL;
	free(s->select);
	s->select = NULL;
	dp_capture_free_job(c, (unsigned int)j);
	slot_release((unsigned int)j);
	return -1;
}

void
dp_live_stop(int slot, enum dp_stop why)
{
	if (slot < 0 || slot >= DP_MAX_JOBS || !(L.cap.jobs_in_use >> slot & 1))
		return;
	if (L.slots[slot].stop_why == DP_STOP_NONE)
		L.slots[slot].stop_why = (int)why;
}

/* ---- ending jobs --------------------------------------------------------------------------- */

static void
finish(unsigned int j, struct dp_live_ended *e)
{
	struct dp_capture *c = &L.cap;
	struct dp_job *job = &c->jobs[j];
	struct live_slot *s = &L.slots[j];
	memset(e, 0, sizeof(*e));
	e->slot = (int)j;
	/* the first reason wins: a limit the writer met before the stop request, say */
	int cur = DP_STOP_NONE;
	atomic_compare_exchange_strong(&job->stop_reason, &cur, s->stop_why);

	dp_capture_publish(c, j, false); /* returns after the workers' grace period */
	/* sessions still waiting for their application are judged now, while the writer runs */
	for (unsigned int i = 0; i < c->n_workers; i++)
		if (c->workers[i].sel[j])
			dp_select_end(c->workers[i].sel[j]);
	atomic_store(&job->draining, 1);
	for (int waited = 0; !atomic_load(&job->drained) && waited < DRAIN_WAIT_MS; waited++)
		usleep(1000);
	if (!atomic_load(&job->drained)) {
		/* never seen; better a clear error than a slot freed under the writer */
		snprintf(e->error, sizeof(e->error), "the writer did not drain the job");
		tide_error("dataplane", "job %s: %s", job->name, e->error);
	}
	int rc = 0;
	dp_worker_take_back(c, j); /* what the writer could not write leaves the flow records */
	for (unsigned int i = 0; i < c->n_workers; i++)
		if (c->workers[i].sess[j])
			dp_session_flush(c->workers[i].sess[j]);
	for (unsigned int i = 0; i < c->n_workers; i++)
		dp_session_stats_keep(c, i, j);
	struct dp_export_stats xs = { 0 };
	if (job->flows && dp_flows_close_export(job->flows, &xs) != 0)
		rc = -1;
	job->flows = NULL;
	if (atomic_load(&job->drained) && dp_writer_close_job(c, j) != 0)
		rc = -1;
	dp_port_update_stats(c);
	job->ended_ns = dp_now_ns();
	char input[128];
	snprintf(input, sizeof(input), "port:%s", L.links[s->link].name);
	struct dp_manifest_info mi = {
		.out_dir = s->out_dir,
		.drone = s->drone,
		.input = input,
		.parameters = s->parameters,
		.lookback_requested_s = s->lookback_s,
		.export_url = s->export_url,
		.export_stats = &xs,
	};
	char why[512];
	if (dp_manifest_write(c, j, &mi, why, sizeof(why)) != 0) {
		/* the job's own stop reason (a full disk, say) stays its reason: this follows */
		rc = -1;
		tide_error("dataplane", "job %s: %s", job->name, why);
	}
	struct dp_totals t;
	dp_stats_job(c, j, &t);
	e->counters = dp_manifest_counters_json(&t);
	if (s->lookback_s)
		json_object_set_new(e->counters, "lookback", dp_manifest_lookback_json(c, j,
			s->lookback_s));
	/* the Hive keeps these with the link's counters: the job's page shows them */
	if (s->export_url[0])
		json_object_set_new(e->counters, "export", dp_manifest_export_json(s->export_url,
			&xs));
	json_t *sel = dp_manifest_selection_json(c, j);
	if (sel)
		json_object_set_new(e->counters, "selection", sel);
	e->why = (enum dp_stop)atomic_load(&job->stop_reason);
	e->ok = rc == 0 && !e->error[0] && e->why != DP_STOP_IO_ERROR &&
		e->why != DP_STOP_DISK_FULL && e->why != DP_STOP_INPUT_ERROR;
	/* a reason the writer met (disk full, I/O error) explains a failed close: it comes first */
	bool why_is_error = e->why == DP_STOP_IO_ERROR || e->why == DP_STOP_DISK_FULL ||
		e->why == DP_STOP_INPUT_ERROR;
	if (!e->ok && !e->error[0] && why_is_error)
		snprintf(e->error, sizeof(e->error), "%s", dp_stop_names[e->why]);
	else if (!e->ok && !e->error[0])
		snprintf(e->error, sizeof(e->error), "closing the dataset failed (see the log)");
	if (atomic_load(&job->drained))
		dp_capture_free_job(c, j);
	slot_release(j);
}

int
dp_live_poll(struct dp_live_ended *out, int max)
{
	struct dp_capture *c = &L.cap;
	uint64_t now = dp_now_ns();
	dp_port_update_stats(c);
	if (now - L.last_poll_ns >= 1000000000ull) {
		for (unsigned int l = 0; l < c->n_links; l++) {
			L.rate_bps[l] = (c->link_bytes[l] - L.last_bytes[l]) * 8 * 1000000000ull /
				(now - L.last_poll_ns);
			L.last_bytes[l] = c->link_bytes[l];
		}
		L.last_poll_ns = now;
	}
	/* a replay-once link is done once every record of its file has been received */
	for (unsigned int l = 0; l < c->n_links; l++)
		if (L.once_records[l] && !L.link_done[l] && c->link_rx[l] +
			c->link_imissed[l] + c->link_nombuf[l] >= L.once_records[l])
			L.link_done[l] = true;
	int n = 0;
	DP_FOREACH_BIT(j, c->jobs_in_use) {
		if (n == max)
			break;
		struct live_slot *s = &L.slots[j];
		struct dp_job *job = &c->jobs[j];
		if (s->stop_why == DP_STOP_NONE) {
			if (atomic_load(&job->stopped))
				s->stop_why = atomic_load(&job->stop_reason);
			else if (s->deadline_ns && now >= s->deadline_ns)
				s->stop_why = DP_STOP_MAX_DURATION;
			else if (L.link_done[L.link_index[s->link]])
				s->stop_why = DP_STOP_END_OF_INPUT;
		}
		if (s->stop_why != DP_STOP_NONE)
			finish(j, &out[n++]);
	}
	return n;
}

json_t *
dp_live_counters(int slot)
{
	if (slot < 0 || slot >= DP_MAX_JOBS || !(L.cap.jobs_in_use >> slot & 1))
		return json_object();
	struct dp_totals t;
	dp_stats_job(&L.cap, (unsigned int)slot, &t);
	json_t *j = dp_manifest_counters_json(&t);
	/* how long it has run: the Hive's max_duration backstop counts from this */
	json_object_set_new(j, "uptime_ms",
		json_integer((json_int_t)((dp_now_ns() - L.cap.jobs[slot].started_ns) / 1000000)));
	json_t *sel = dp_manifest_selection_json(&L.cap, (unsigned int)slot);
	if (sel)
		json_object_set_new(j, "selection", sel);
	return j;
}

json_t *
dp_live_link_counters(unsigned int link)
{
	int li = link < L.n_links ? L.link_index[link] : -1;
	if (li < 0)
		return json_object();
	const struct dp_capture *c = &L.cap;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:i}", "packets",
		(json_int_t)c->link_rx[li], "bytes", (json_int_t)c->link_bytes[li], "imissed",
		(json_int_t)c->link_imissed[li], "nombuf", (json_int_t)c->link_nombuf[li],
		"rate_bps", (json_int_t)L.rate_bps[li], "jobs", (int)dp_live_jobs_on(link));
}

void
dp_live_close(void)
{
	struct dp_capture *c = &L.cap;
	struct dp_live_ended e;
	if (L.writer_running) {
		DP_FOREACH_BIT(j, c->jobs_in_use) {
			dp_live_stop((int)j, DP_STOP_SIGNAL);
			finish(j, &e);
			json_decref(e.counters);
		}
	}
	if (L.eal) {
		atomic_store(&c->quit, 1);
		rte_eal_mp_wait_lcore();
	}
	if (L.writer_running) {
		atomic_store(&c->writers_quit, 1);
		pthread_join(L.writer, NULL);
	}
	if (L.ports)
		dp_port_stop_all(c);
	if (L.eal) {
		dp_capture_free(c);
		for (unsigned int l = 0; l < DP_MAX_LINKS; l++)
			rte_mempool_free(L.jumbo_pool[l]);
	}
	cls_engine_destroy(L.engine);
	for (unsigned int i = 0; i < L.n_links; i++) {
		json_decref(L.links[i].info);
		L.links[i].info = NULL;
	}
	if (L.eal)
		dp_eal_stop();
	memset(&L, 0, sizeof(L));
}
