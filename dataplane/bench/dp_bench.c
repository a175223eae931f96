/* dp_bench.c — tide-bench: measures the worker pipeline and makes large test captures.
 *
 *   tide-bench pipeline [EAL args --] [--size 64|imix] [--flows N] [--seconds S] [--filter EXPR]
 *                       [--classify [--config DIR] [--plugins FILE]] [--train K]
 *       Pre-built mbufs (N distinct flows) are fed from memory through a net_ring port to one
 *       worker lcore running the real dp_worker code: parse + filter (JIT) + hand-off to the
 *       writer ring. The main lcore generates (re-sending the same mbufs by reference count)
 *       and drains the writer ring. Reports per-worker-core Mpps and Gbps from the worker's
 *       busy TSC cycles (its capacity), and the wall-clock rate it actually achieved.
 *       --classify adds the session table (biflow, 1M sessions) and the classifiers of the
 *       enabled-plugins file to the worker, as tide-dataplane --classify does; flow records
 *       go to /dev/null. --train K sends each flow K packets in a row per visit (K=1: every
 *       packet of a flow is a packet's worth of 1M apart, the classifiers' worst case, as
 *       every packet falls in its session's undecided first packets).
 *   tide-bench make-pcap FILE [--bytes SIZE] [--flows N] [--seed S]
 *       Writes a capture of IMIX-sized Ethernet/IPv4 packets over N flows (TCP and UDP, some
 *       UDP/443 "QUIC" flows), for the offline benchmark against tcpdump.
 *
 * A benchmark, not a test: it prints figures and never fails on them. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dp_capture.h"
#include "dp_eal.h"
#include "dp_flows.h"
#include "dp_linktype.h"
#include "dp_pcapng.h"
#include "dp_port.h"
#include "dp_stats.h"
#include "dp_worker.h"

/* IMIX (simple, 7:4:1 of 64/570/1518-byte frames) — the usual L2 sizes without FCS */
static const uint16_t imix_sizes[12] = {60, 60, 60, 60, 60, 60, 60, 566, 566, 566, 566, 1514};

static uint16_t
ip_csum(const uint8_t *h, unsigned int len)
{
	uint32_t s = 0;
	for (unsigned int i = 0; i < len; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Flow f → a deterministic 5-tuple; ~1/8 of flows are UDP/443, the rest TCP/UDP elsewhere. */
static unsigned int
build_frame(uint8_t *p, uint64_t flow, uint16_t len)
{
	static const uint8_t mac[12] = {0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa};
	uint32_t h = (uint32_t)(flow * 2654435761u);
	int udp = (flow % 8 == 0) || (h & 0x100);
	uint16_t dport = (flow % 8 == 0) ? 443 : (uint16_t)(h & 1 ? 80 : 1024 + (h >> 20));
	memcpy(p, mac, 12);
	p[12] = 0x08;
	p[13] = 0x00;
	uint8_t *ip = p + 14;
	uint16_t ip_len = (uint16_t)(len - 14);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = udp ? 17 : 6;
	ip[12] = 10;
	ip[13] = (uint8_t)(flow >> 16);
	ip[14] = (uint8_t)(flow >> 8);
	ip[15] = (uint8_t)flow;
	ip[16] = 172;
	ip[17] = 16;
	ip[18] = (uint8_t)(h >> 8);
	ip[19] = (uint8_t)(h >> 16);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint8_t *l4 = ip + 20;
	uint16_t sport = (uint16_t)(1024 + (flow % 60000));
	l4[0] = (uint8_t)(sport >> 8);
	l4[1] = (uint8_t)sport;
	l4[2] = (uint8_t)(dport >> 8);
	l4[3] = (uint8_t)dport;
	if (udp) {
		uint16_t ul = (uint16_t)(ip_len - 20);
		l4[4] = (uint8_t)(ul >> 8);
		l4[5] = (uint8_t)ul;
		l4[6] = l4[7] = 0;
		memset(l4 + 8, 0x5a, (size_t)(ip_len - 28));
	} else {
		memset(l4 + 4, 0, 16);
		l4[12] = 5 << 4;
		l4[13] = 0x18;
		memset(l4 + 20, 0x5a, (size_t)(ip_len - 40));
	}
	return len;
}

static int
make_pcap(int argc, char **argv)
{
	uint64_t bytes = 1ull << 30, flows = 1000000, seed = 1;
	static const struct option lo[] = {{"bytes", 1, NULL, 'b'}, {"flows", 1, NULL, 'f'},
		{"seed", 1, NULL, 's'}, {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'b':
			bytes = strtoull(optarg, &end, 10);
			if (*end == 'M')
				bytes <<= 20;
			else if (*end == 'G')
				bytes <<= 30;
			break;
		case 'f': flows = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind >= argc || flows == 0) {
		fprintf(stderr, "usage: tide-bench make-pcap FILE [--bytes SIZE] [--flows N]\n");
		return 2;
	}
	FILE *f = fopen(argv[optind], "wb");
	if (!f) {
		perror(argv[optind]);
		return 1;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	const uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, DP_LINKTYPE_ETHERNET};
	fwrite(gh, sizeof(gh), 1, f);
	uint64_t written = 24, n = 0, x = seed * 0x9e3779b97f4a7c15ull;
	uint8_t frame[1600];
	while (written < bytes) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t flow = x % flows;
		uint16_t len = imix_sizes[n % 12];
		build_frame(frame, flow, len);
		uint32_t rh[4] = {(uint32_t)(1700000000 + n / 1000000), (uint32_t)(n % 1000000), len,
			len};
		fwrite(rh, sizeof(rh), 1, f);
		fwrite(frame, len, 1, f);
		written += 16 + len;
		n++;
	}
	if (fclose(f) != 0) {
		perror("close");
		return 1;
	}
	printf("wrote %" PRIu64 " packets, %" PRIu64 " bytes over %" PRIu64 " flows\n", n, written,
		flows);
	return 0;
}

/* The shard writer alone: N packets of one size through dp_shard_writer (pcapng EPBs, 256 MiB
 * shards: each closed with its ISB, fsync and rename, its SHA-256 computed by the hashing thread
 * beside it), into DIR. Prints packets/s and MB/s over the whole run, closing included, and the
 * packets per CPU second of the writer's own thread (its core's cost) and of the whole process
 * (hashing included). --buffered writes through the page cache instead of O_DIRECT. */
static int
writer(int argc, char **argv)
{
	uint64_t packets = 20000000, size = 64;
	int buffered = 0;
	static const struct option lo[] = {{"packets", 1, NULL, 'n'}, {"size", 1, NULL, 'z'},
		{"buffered", 0, NULL, 'b'}, {NULL, 0, NULL, 0}};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': packets = strtoull(optarg, NULL, 10); break;
		case 'z': size = strtoull(optarg, NULL, 10); break;
		case 'b': buffered = 1; break;
		default: return 2;
		}
	}
	if (optind >= argc || size < 60 || size > 9000 || packets == 0) {
		fprintf(stderr, "usage: tide-bench writer DIR [--packets N] [--size 60..9000] [--buffered]\n");
		return 2;
	}
	uint8_t frame[9000];
	build_frame(frame, 1, (uint16_t)RTE_MIN(size, 1500u));
	struct dp_shard_params p = {
		.dir = argv[optind],
		.linktype = DP_LINKTYPE_ETHERNET,
		.snaplen = 262144,
		.shard_size = 256ull << 20,
		.app = "tide-bench",
		.no_direct = buffered,
	};
	struct dp_shard_writer *w = dp_shard_writer_open(&p);
	if (!w) {
		perror(argv[optind]);
		return 1;
	}
	struct timespec t0, t1, c0, c1, p0, p1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p0);
	uint64_t ts = 1700000000ull * 1000000000ull;
	for (uint64_t i = 0; i < packets; i++)
		if (dp_shard_writer_write(w, ts + i, frame, (uint32_t)size, (uint32_t)size) != 0) {
			fprintf(stderr, "tide-bench: writer stopped: %s\n",
				dp_writer_stop_names[dp_shard_writer_stopped(w)]);
			dp_shard_writer_close(w, NULL, NULL);
			return 1;
		}
	size_t n_shards = 0;
	struct dp_shard_info *shards = NULL;
	int rc = dp_shard_writer_close(w, &shards, &n_shards);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
	uint64_t bytes = 0;
	for (size_t i = 0; i < n_shards; i++)
		bytes += shards[i].bytes;
	free(shards);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	double proc = (double)(p1.tv_sec - p0.tv_sec) + (double)(p1.tv_nsec - p0.tv_nsec) / 1e9;
	printf("writer: %" PRIu64 " packets of %" PRIu64 " B into %zu shard(s), %.1f MB in %.2f s "
		"(%.2f s CPU on the writer thread, %.2f s in all, hashing included; %s)\n", packets,
		size, n_shards, (double)bytes / 1e6, wall, cpu, proc,
		buffered ? "page cache" : "O_DIRECT where the file system takes it");
	printf("RESULT size=%" PRIu64 " mpps=%.2f mpps_cpu=%.2f mpps_proc=%.2f mbps=%.1f\n", size,
		(double)packets / wall / 1e6, (double)packets / cpu / 1e6, (double)packets / proc / 1e6,
		(double)bytes / wall / 1e6);
	return rc == 0 ? 0 : 1;
}

static struct dp_capture bench_capture;

static int
pipeline(int argc, char **argv)
{
	struct dp_capture *c = &bench_capture;
	int imix = 0;
	uint64_t flows = 1000000, seconds = 5;
	const char *expr = "udp port 443";
	const char *config_dir = "config", *plugins = NULL;
	bool classify = false;
	uint64_t train = 1; /* consecutive packets of one flow per visit */
	unsigned int n_jobs = 1; /* concurrent jobs on the link, each with the filter */
	char err[512];
	int used_huge;

	int split = dp_eal_start(argc, argv, NULL, &used_huge, err, sizeof(err));
	if (split < 0) {
		fprintf(stderr, "tide-bench: %s\n", err);
		return 1;
	}
	argc -= split;
	argv += split;
	static const struct option lo[] = {{"size", 1, NULL, 'z'}, {"flows", 1, NULL, 'f'},
		{"seconds", 1, NULL, 's'}, {"filter", 1, NULL, 'F'}, {"classify", 0, NULL, 'c'},
		{"config", 1, NULL, 'C'}, {"plugins", 1, NULL, 'P'}, {"train", 1, NULL, 't'},
		{"jobs", 1, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'z': imix = strcmp(optarg, "imix") == 0; break;
		case 'f': flows = strtoull(optarg, NULL, 10); break;
		case 's': seconds = strtoull(optarg, NULL, 10); break;
		case 'F': expr = optarg; break;
		case 'c': classify = true; break;
		case 'C': config_dir = optarg; break;
		case 'P': plugins = optarg; break;
		case 't': train = strtoull(optarg, NULL, 10); if (!train) train = 1; break;
		case 'j':
			n_jobs = (unsigned int)strtoul(optarg, NULL, 10);
			if (n_jobs < 1 || n_jobs > DP_LINK_JOB_SLOTS) {
				fprintf(stderr, "tide-bench: --jobs 1..%d\n", DP_LINK_JOB_SLOTS);
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (rte_lcore_count() < 2) {
		fprintf(stderr, "tide-bench: needs two lcores (-l 0-1)\n");
		return 2;
	}
	/* pre-built packets: flows spread over the array; when there are fewer packets than
	 * flows, the generator rewrites a source address byte per pass, cycling through
	 * flows / packets variants: about `flows` distinct 5-tuples, each recurring (long-lived
	 * sessions whose packets mostly hit the table, as on a real link) */
	unsigned int n_pkts = (unsigned int)RTE_MIN(flows, (uint64_t)(imix ? 196608 : 1048576));
	struct rte_mempool *src = rte_pktmbuf_pool_create("bench_src", n_pkts, 0, 0,
		imix ? 1664 : 192, (int)rte_socket_id());
	if (!src) {
		fprintf(stderr, "tide-bench: cannot allocate packets (hugepages?)\n");
		return 1;
	}
	if (dp_capture_init(c, 1, false, 32768, err, sizeof(err)) != 0) {
		fprintf(stderr, "tide-bench: %s\n", err);
		return 1;
	}
	struct rte_mbuf **pkts = malloc(sizeof(*pkts) * n_pkts);
	uint64_t total_len = 0;
	for (unsigned int i = 0; i < n_pkts; i++) {
		pkts[i] = rte_pktmbuf_alloc(src);
		uint16_t len = imix ? imix_sizes[i % 12] : 60;
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(pkts[i], len);
		/* trains of `train` packets per flow; flows spread over the address space */
		uint64_t spread = flows / n_pkts ? flows / n_pkts : 1;
		build_frame(d, (uint64_t)(i / train) * (train == 1 ? spread : 1), len);
		total_len += len;
	}
	struct rte_ring *rx = rte_ring_create("bench_rx", 8192, (int)rte_socket_id(),
		RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!rx || rte_eth_from_ring(rx) < 0) {
		fprintf(stderr, "tide-bench: cannot create the net_ring port\n");
		return 1;
	}
	if (dp_port_setup_all(c, 1024, err, sizeof(err)) != 0) {
		fprintf(stderr, "tide-bench: %s\n", err);
		return 1;
	}
	/* every job its own compiled filter (the same expression): each costs one JIT call per
	 * packet, and packets several jobs keep are shared by reference, as on a drone */
	if (dp_capture_make_rings(c, n_jobs, 8192, 4096, err, sizeof(err)) != 0) {
		fprintf(stderr, "tide-bench: %s\n", err);
		return 1;
	}
	for (unsigned int j = 0; j < n_jobs; j++) {
		struct dp_filter *f = dp_filter_compile(expr, DP_LINKTYPE_ETHERNET, 65535, err,
			sizeof(err));
		if (!f) {
			fprintf(stderr, "tide-bench: bad filter: %s\n", err);
			return 2;
		}
		char name[32];
		snprintf(name, sizeof(name), "bench%u", j);
		if (dp_capture_add_job(c, name, f, 0, NULL, 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "tide-bench: %s\n", err);
			return 1;
		}
	}
	struct cls_engine *engine = NULL;
	if (classify) {
		struct cls_engine_params ep = {.config_dir = config_dir, .enabled_path = plugins};
		engine = cls_engine_create(&ep, err, sizeof(err));
		if (!engine) {
			fprintf(stderr, "tide-bench: %s\n", err);
			return 2;
		}
		struct dp_flows_params fp = {.path = "/dev/null", .engine = engine, .quiet = true};
		c->jobs[0].flows = dp_flows_open(&fp);
		struct dp_session_params sp = {
			.type = CLS_SESSION_BIFLOW,
			.capacity = 1u << 20,
			.engine = engine,
			.emit = dp_flows_emit,
			.emit_arg = c->jobs[0].flows,
		};
		c->engine = engine;
		c->workers[0].sess[0] = dp_sessions_create(&sp);
		if (!c->jobs[0].flows || !c->workers[0].sess[0]) {
			fprintf(stderr, "tide-bench: cannot create the session table\n");
			return 1;
		}
	}
	c->write_shards = true; /* hand-off to the writer ring is part of what is measured */
	dp_clock_init();
	dp_worker_capture = c;
	c->started_ns = dp_now_ns();
	for (unsigned int j = 0; j < n_jobs; j++)
		dp_capture_publish(c, j, true);
	rte_eal_remote_launch(dp_worker_main, &c->workers[0], c->workers[0].lcore);

	/* a warm-up (2 s with sessions: the table fills and its memory is touched) is excluded
	 * from the figures, which are steady-state capacity */
	uint64_t hz = rte_get_tsc_hz(), warm = classify ? 2 : 0, sent = 0;
	uint64_t t_measure = rte_rdtsc() + warm * hz, end = t_measure + seconds * hz;
	uint64_t base_pkts = 0, base_bytes = 0, base_busy = 0;
	bool measuring = warm == 0;
	unsigned int pos = 0, pass = 0;
	uint64_t per_pass = train == 1 ? n_pkts : n_pkts / train; /* distinct flows per pass */
	unsigned int rounds = (unsigned int)(flows / per_pass ? flows / per_pass : 1);
	if (rounds > 256)
		rounds = 256;
	struct rte_mbuf *burst[DP_BURST], *out[256];
	while (rte_rdtsc() < end) {
		if (!measuring && rte_rdtsc() >= t_measure) {
			const struct dp_worker *w0 = &c->workers[0];
			base_pkts = w0->rx_pkts;
			base_bytes = w0->rx_bytes;
			base_busy = w0->busy_cycles;
			measuring = true;
		}
		for (unsigned int i = 0; i < DP_BURST; i++) {
			burst[i] = pkts[pos];
			rte_mbuf_refcnt_update(burst[i], 1);
			if (++pos == n_pkts) {
				pos = 0;
				pass++;
				for (unsigned int k = 0; k < n_pkts; k++)
					rte_pktmbuf_mtod(pkts[k], uint8_t *)[27] =
						(uint8_t)(pass % rounds);
			}
		}
		unsigned int done = rte_ring_sp_enqueue_burst(rx, (void **)burst, DP_BURST, NULL);
		for (unsigned int i = done; i < DP_BURST; i++)
			rte_mbuf_refcnt_update(burst[i], -1);
		pos = (pos + n_pkts - (DP_BURST - done)) % n_pkts;
		sent += done;
		for (unsigned int j = 0; j < n_jobs; j++) {
			unsigned int n = rte_ring_sc_dequeue_burst(c->jobs[j].ring[0], (void **)out,
				256, NULL);
			rte_pktmbuf_free_bulk(out, n);
		}
	}
	dp_capture_stop(c, DP_STOP_MAX_DURATION);
	rte_eal_mp_wait_lcore();
	for (unsigned int j = 0; j < n_jobs; j++) {
		unsigned int n;
		while ((n = rte_ring_sc_dequeue_burst(c->jobs[j].ring[0], (void **)out, 256,
			     NULL)) > 0)
			rte_pktmbuf_free_bulk(out, n);
	}

	const struct dp_worker *w = &c->workers[0];
	uint64_t n_meas = w->rx_pkts - base_pkts, bytes = w->rx_bytes - base_bytes;
	uint64_t busy = w->busy_cycles - base_busy;
	double busy_s = (double)busy / (double)hz;
	double mpps = (double)n_meas / busy_s / 1e6;
	double avg = (double)total_len / n_pkts;
	double gbps_l2 = (double)bytes * 8 / busy_s / 1e9;
	double gbps_l1 = (double)(bytes + 24 * n_meas) * 8 / busy_s / 1e9;
	printf("pipeline: size=%s avg_frame=%.0fB flows~%" PRIu64 " train=%" PRIu64
	       " filter='%s' jobs=%u hugepages=%s%s\n",
		imix ? "imix" : "64", avg + 4, (uint64_t)rounds * per_pass, train, expr, n_jobs,
		used_huge ? "yes" : "no", classify ? " +sessions+classifiers" : "");
	if (classify) {
		printf("  classifiers:");
		for (unsigned int i = 0; i < cls_engine_n_plugins(engine); i++)
			printf(" %s", cls_engine_plugin_name(engine, (int)i));
		printf("; sessions created %" PRIu64 ", evicted %" PRIu64 ", %u bytes/session\n",
			dp_session_counter(w->sess[0], DP_SESS_CREATED),
			dp_session_counter(w->sess[0], DP_SESS_EVICTED), dp_session_footprint(w->sess[0]));
	}
	printf("  worker packets %" PRIu64 " matched %" PRIu64 " enqueued %" PRIu64
		" ring_full %" PRIu64 "\n",
		w->rx_pkts, w->job[0].matched, w->job[0].enqueued, w->job[0].ring_full);
	printf("  cycles/packet %.1f (measured over %" PRIu64 " s after %" PRIu64 " s warm-up)\n",
		(double)busy / (double)n_meas, seconds, warm);
	printf("  per worker core: %.2f Mpps, %.2f Gbps L2, %.2f Gbps L1 (incl. FCS+preamble+IFG)\n",
		mpps, gbps_l2, gbps_l1);
	printf("  achieved (wall clock, generator-bound): %.2f Mpps\n",
		(double)n_meas / (double)seconds / 1e6);
	printf("RESULT size=%s jobs=%u mpps=%.2f gbps_l1=%.2f cycles_per_pkt=%.1f\n",
		imix ? "imix" : "64", n_jobs, mpps, gbps_l1, (double)busy / (double)n_meas);
	if (classify) {
		dp_sessions_destroy(c->workers[0].sess[0]);
		dp_flows_close(c->jobs[0].flows);
		cls_engine_destroy(engine);
	}
	(void)sent;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "make-pcap") == 0)
		return make_pcap(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "writer") == 0)
		return writer(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "pipeline") == 0) {
		argv[1] = argv[0];
		return pipeline(argc - 1, argv + 1);
	}
	fprintf(stderr, "usage: tide-bench pipeline [EAL args --] [--size 64|imix] [--flows N] "
			"[--seconds S] [--filter EXPR] [--jobs N]\n"
			"       tide-bench make-pcap FILE [--bytes SIZE] [--flows N] [--seed S]\n"
			"       tide-bench writer DIR [--packets N] [--size BYTES]\n");
	return 2;
}
