/* dp_main.c — tide-dataplane: the drone's entry point.
 *
 * Order matters for the operator: options, the input file header and the filter are checked
 * before DPDK starts (a usage error costs milliseconds and names the problem); then the EAL,
 * ports, pools, rings, writers and telemetry; then the capture runs until the input ends, a
 * limit is reached, the disk fills or a signal arrives; then everything is drained, every shard
 * closed and the manifest written. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>

#include <jansson.h>

#include "cls_truth.h"
#include "dp_drone.h"
#include "dp_eal.h"
#include "dp_files.h"
#include "dp_flows.h"
#include "dp_linktype.h"
#include "dp_manifest.h"
#include "dp_offline.h"
#include "dp_options.h"
#include "dp_port.h"
#include "dp_stats.h"
#include "dp_worker.h"
#include "dp_writer.h"
#include "tide_layout.h"
#include "tide_fs.h"

#define RING_SIZE 8192     /* per (job, link) worker → writer ring */
#define SW_RING_SIZE 4096  /* per worker hand-over ring */
#define NB_RXD 1024

static struct dp_capture capture;

static void
on_signal(int sig)
{
	(void)sig;
	dp_capture_stop(&capture, DP_STOP_SIGNAL);
}

/* Classification engine and ground truth: loaded before the EAL so configuration errors are
 * usage errors (exit 2) reported at once. */
static int
setup_engine(const struct dp_options *o, struct cls_engine **engine, struct cls_truth_table **truth)
{
	char err[1024];
	struct cls_engine_params ep = {
		.config_dir = dp_find_config_dir(o->config_dir),
		.enabled_path = o->plugins_path,
		.plugin_dir = o->plugin_dir,
		.model_dir = o->model_dir,
		.policy = o->policy ? CLS_POLICY_VOTE : CLS_POLICY_PRIORITY,
		.min_confidence = (uint8_t)o->min_confidence,
		.first_n = o->first_n,
		.training = o->train,
	};
	*engine = cls_engine_create(&ep, err, sizeof(err));
	if (!*engine) {
		fprintf(stderr, "tide-dataplane: classification: %s\n", err);
		return -1;
	}
	*truth = NULL;
	if (o->truth_path) {
		*truth = cls_truth_load(o->truth_path, cls_engine_apps(*engine), err, sizeof(err));
		if (!*truth) {
			fprintf(stderr, "tide-dataplane: ground truth: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static void
print_line(struct dp_capture *c, FILE *out, const char *prefix)
{
	struct dp_totals t;
	dp_stats_job(c, 0, &t);
	uint64_t drops = 0;
	for (unsigned int d = 0; d < DP_DROP_MAX; d++)
		drops += t.dropped[d];
	fprintf(out, "%sreceived %" PRIu64 " filtered %" PRIu64 " written %" PRIu64
		" (%" PRIu64 " bytes) dropped %" PRIu64 "\n",
		prefix, t.received, t.filtered, t.written, t.bytes_written, drops);
}

/* Live capture: watch limits and print a stats line each second until something stops us. */
static void
monitor(struct dp_capture *c, const struct dp_options *o)
{
	uint64_t deadline = o->max_duration_s ? c->started_ns + o->max_duration_s * 1000000000ull : 0;
	uint64_t next_line = c->started_ns + 1000000000ull;
	while (!atomic_load(&c->quit)) {
		usleep(20000);
		dp_port_update_stats(c);
		uint64_t now = dp_now_ns();
		if (deadline && now >= deadline)
			dp_capture_stop(c, DP_STOP_MAX_DURATION);
		if (!o->quiet && now >= next_line) {
			print_line(c, stderr, "tide-dataplane: ");
			next_line += 1000000000ull;
		}
	}
}

/* What run() acquired, released in one place by main() whatever path run() left by: an early
 * usage error must not leak (ASan's leak report would change the exit status, too). */
static struct {
	char **targv;
	struct dp_pcapfile *pf;
	struct dp_filter *filter;
	struct cls_engine *engine;
	struct cls_truth_table *truth;
	bool eal;
	bool ports;
} res;

/* --probe: what a drone reports to the Hive about each port, one JSON object per line. */
static int
probe_ports(void)
{
	uint16_t port;
	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;
		char name[RTE_ETH_NAME_MAX_LEN];
		if (rte_eth_dev_info_get(port, &info) != 0)
			continue;
		rte_eth_dev_get_name_by_port(port, name);
		printf("{\"port\":%u,\"name\":\"%s\",\"driver\":\"%s\",\"max_rx_queues\":%u,"
		       "\"max_rx_desc\":%u,\"numa_node\":%d,\"rss\":%s}\n",
			port, name, info.driver_name ? info.driver_name : "", info.max_rx_queues,
			info.rx_desc_lim.nb_max, rte_eth_dev_socket_id(port),
			info.flow_type_rss_offloads ? "true" : "false");
	}
	fflush(stdout);
	return 0;
}

static int
run(int argc, char **argv)
{
	struct dp_capture *c = &capture;
	struct dp_options opt;
	char err[512];
	int split = dp_eal_split(argc, argv);

	/* tide's own options: everything after "--", or everything when there is no "--" */
	int targc = split ? argc - split : argc;
	char **targv = res.targv = malloc(sizeof(char *) * (size_t)(targc + 1));
	if (!targv)
		return 1;
	targv[0] = argv[0];
	for (int i = 1; i < targc; i++)
		targv[i] = argv[split ? split + i : i];
	targv[targc] = NULL;
	int rc = dp_options_parse(&opt, targc, targv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	/* checks that need no EAL: the input file and the filter */
	struct dp_pcapfile *pf = NULL;
	unsigned int linktype = opt.check_filter ? opt.check_linktype : DP_LINKTYPE_ETHERNET;
	if (opt.pcap_path && !opt.check_filter) {
		pf = res.pf = dp_pcapfile_open(opt.pcap_path, err, sizeof(err));
		if (!pf) {
			fprintf(stderr, "tide-dataplane: %s\n", err);
			return 2;
		}
		linktype = dp_pcapfile_linktype(pf);
	}
	struct dp_filter *filter = res.filter = dp_filter_compile(opt.filter, linktype,
		pf ? dp_pcapfile_snaplen(pf) : 262144, err, sizeof(err));
	if (!filter) {
		fprintf(stderr, "tide-dataplane: bad filter '%s': %s\n", opt.filter, err);
		return 2;
	}
	if (opt.check_filter) {
		printf("filter ok\n");
		return 0;
	}
	if (opt.train && !opt.flows_path && !opt.out_dir)
		opt.flows_path = "/dev/null"; /* training alone: the models are the output */
	if (!opt.out_dir && !opt.flows_path && !opt.probe) {
		fprintf(stderr, "tide-dataplane: give --out DIR (a dataset) and/or --flows FILE "
				"(flow records only); see --help\n");
		return 2;
	}
	if (opt.out_dir && tide_mkdir_p(opt.out_dir, 0755) != 0) {
		fprintf(stderr, "tide-dataplane: cannot create %s: %s\n", opt.out_dir, strerror(errno));
		return 1;
	}
	/* one writer per dataset: a second tide on the same --out would corrupt both */
	if (opt.out_dir) {
		char lock[PATH_MAX + 16];
		snprintf(lock, sizeof(lock), "%s/.tide.lock", opt.out_dir);
		int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
			fprintf(stderr, "tide-dataplane: %s is in use by another tide-dataplane%s%s\n",
				opt.out_dir, lfd < 0 ? ": " : "", lfd < 0 ? strerror(errno) : "");
			return 2;
		}
		/* held (fd left open) until exit */
	}
	struct cls_engine *engine = NULL;
	struct cls_truth_table *truth = NULL;
	if (dp_options_sessions(&opt)) {
		int erc = setup_engine(&opt, &engine, &truth);
		res.engine = engine;
		res.truth = truth;
		if (erc != 0)
			return 2;
	}

	char demo_vdev[PATH_MAX + 256];
	const char *extra[2] = {NULL, NULL};
	if (opt.demo) {
		const char *demo = dp_find_demo_pcap();
		if (!demo) {
			fprintf(stderr, "tide-dataplane: demo traffic not found (config/demo.pcap); "
					"run scripts/make-demo-pcap.py or set TIDE_DEMO_PCAP\n");
			return 2;
		}
		snprintf(demo_vdev, sizeof(demo_vdev), "--vdev=net_pcap_demo0,rx_pcap=%s,infinite_rx=1",
			demo);
		extra[0] = demo_vdev;
	}
	int used_huge = 0;
	if (dp_eal_start(argc, argv, extra, &used_huge) < 0)
		return 1;
	res.eal = true;
	if (opt.probe)
		return probe_ports();
	if (!used_huge)
		fprintf(stderr, "tide-dataplane: no free hugepages: running with --no-huge "
				"(fine for files and demos; use hugepages for line rate)\n");

	memset(c, 0, sizeof(*c));
	c->opt = &opt;
	bool offline = pf != NULL;
	c->lossless = offline;
	unsigned int n_workers = 1; /* offline: the main lcore reads and filters (dp_offline.h) */
	if (!offline) {
		unsigned int worker_lcores = rte_lcore_count() - 1;
		if (worker_lcores == 0) {
			fprintf(stderr, "tide-dataplane: live capture needs a worker lcore besides the "
					"main one (e.g. -l 0-1)\n");
			return 2;
		}
		n_workers = opt.workers ? opt.workers : worker_lcores;
		if (n_workers > worker_lcores || n_workers > DP_MAX_WORKERS) {
			fprintf(stderr, "tide-dataplane: --workers %u but only %u worker lcores\n",
				n_workers, worker_lcores);
			return 2;
		}
	}
	unsigned int n_ports = rte_eth_dev_count_avail();
	uint16_t nb_rxd = opt.rx_desc ? opt.rx_desc : NB_RXD;
	unsigned int n_mbufs = RING_SIZE * 2 + (n_ports ? n_ports : 1) * (nb_rxd + SW_RING_SIZE) *
		n_workers + 4096;
	if (opt.mbufs)
		n_mbufs = opt.mbufs;
	if (dp_capture_init(c, n_workers, offline, n_mbufs) != 0)
		return 1;

	char input[PATH_MAX + 16];
	if (offline) {
		c->n_links = 1;
		snprintf(c->links[0].name, sizeof(c->links[0].name), "pcap");
		c->links[0].port_id = UINT16_MAX;
		c->links[0].linktype = linktype;
		snprintf(input, sizeof(input), "pcap:%s", opt.pcap_path);
	} else {
		res.ports = true; /* set up or half set up: stopped at exit either way */
		if (dp_port_setup_all(c, nb_rxd) != 0)
			return 1;
		size_t off = 0;
		for (unsigned int l = 0; l < c->n_links; l++) {
			off += (size_t)snprintf(input + off, sizeof(input) - off, "%sport:%s",
				l ? "," : "", c->links[l].name);
		}
	}
	/* one job from the command line, on every link (a drone runs many: dp_live.h) */
	if (dp_capture_add_job(c, "capture", filter, opt.snaplen,
		    opt.anonymise ? opt.anon_key : NULL, (1u << c->n_links) - 1, err,
		    sizeof(err)) != 0) {
		fprintf(stderr, "tide-dataplane: %s\n", err);
		return 1;
	}
	res.filter = NULL; /* the job has it */
	if (dp_capture_make_rings(c, 1, RING_SIZE, SW_RING_SIZE) != 0)
		return 1;
	c->write_shards = opt.out_dir != NULL;
	if (c->write_shards && dp_writer_open_job(c, 0, opt.out_dir, opt.drone, opt.shard_size,
				       opt.shard_time_s * 1000000000ull, opt.max_size, err,
				       sizeof(err)) != 0) {
		fprintf(stderr, "tide-dataplane: %s\n", err);
		return 1;
	}

	char flows_path[PATH_MAX + 128] = "";
	if (engine) {
		if (opt.flows_path) {
			snprintf(flows_path, sizeof(flows_path), "%s", opt.flows_path);
		} else {
			char dir[PATH_MAX + 16];
			snprintf(dir, sizeof(dir), "%s/" TIDE_LAYOUT_FLOWS, opt.out_dir);
			if (tide_mkdir_p(dir, 0755) != 0) {
				fprintf(stderr, "tide-dataplane: cannot create %s: %s\n", dir,
					strerror(errno));
				return 1;
			}
			/* a re-run into the same dataset (after a crash, say) keeps the earlier
			 * run's records: the first free name of <drone>.csv, <drone>-1.csv, … */
			const char *ext = opt.flows_jsonl ? "jsonl" : "csv";
			char rel[128];
			tide_layout_offline_flows(rel, sizeof(rel), opt.drone, ext);
			snprintf(flows_path, sizeof(flows_path), "%s/%s", opt.out_dir, rel);
			for (unsigned int k = 1; k < 1000 && access(flows_path, F_OK) == 0; k++)
				snprintf(flows_path, sizeof(flows_path), "%s/%s-%u.%s", dir, opt.drone,
					k, ext);
		}
		c->engine = engine;
		snprintf(c->jobs[0].flows_path, sizeof(c->jobs[0].flows_path), "%s", flows_path);
		struct dp_flows_params fp = {
			.path = flows_path,
			.jsonl = opt.flows_jsonl,
			.cyclic = opt.mode == DP_MODE_CYCLIC,
			.interval_ns = opt.interval_s * 1000000000ull,
			.engine = engine,
			.truth = truth != NULL,
			.features = opt.features,
			.quiet = opt.quiet,
			.anon_key = opt.anonymise ? opt.anon_key : NULL,
			.dataset = c->write_shards,
		};
		c->jobs[0].flows = dp_flows_open(&fp);
		if (!c->jobs[0].flows)
			return 1;
		for (unsigned int i = 0; i < c->n_workers; i++) {
			struct dp_session_params sp = {
				.type = (enum cls_session_type)opt.session_type,
				.capacity = opt.sessions,
				.timeout_ns = opt.timeout_s * 1000000000ull,
				.realtime = opt.mode == DP_MODE_REALTIME,
				.engine = engine,
				.truth = truth,
				.training = opt.train,
				.first_bytes = opt.first_bytes,
				.stream_bytes = opt.stream_bytes,
				.features = opt.features,
				.emit = dp_flows_emit,
				.emit_arg = c->jobs[0].flows,
				.worker = i,
				.dataset = c->write_shards,
				.snaplen = opt.snaplen,
			};
			c->workers[i].sess[0] = dp_sessions_create(&sp);
			if (!c->workers[i].sess[0]) {
				fprintf(stderr, "tide-dataplane: cannot create a session table of %u "
						"sessions: %s\n",
					opt.sessions ? opt.sessions : 1u << 20, strerror(errno));
				return 1;
			}
		}
	}
	if (dp_telemetry_register(c) != 0)
		fprintf(stderr, "tide-dataplane: telemetry commands not registered\n");

	if (opt.count && !offline)
		atomic_store(&c->budget, (int64_t)opt.count);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	dp_clock_init();
	dp_worker_capture = c;
	c->started_ns = c->jobs[0].started_ns = dp_now_ns();
	dp_capture_publish(c, 0, true);

	pthread_t writer;
	if (pthread_create(&writer, NULL, dp_writer_thread, c) != 0) {
		fprintf(stderr, "tide-dataplane: cannot start the writer thread\n");
		return 1;
	}
	if (opt.writer_cpus) {
		cpu_set_t set;
		CPU_ZERO(&set);
		for (const char *p = opt.writer_cpus; *p; p += strspn(p, ","))
			for (long cpu = strtol(p, (char **)&p, 10); cpu >= 0 && cpu < CPU_SETSIZE;
				cpu = -1)
				CPU_SET((int)cpu, &set);
		int aff = pthread_setaffinity_np(writer, sizeof(set), &set);
		if (aff)
			fprintf(stderr, "tide-dataplane: --writer-cpus %s: %s (writer not pinned)\n",
				opt.writer_cpus, strerror(aff));
	}
	if (offline) {
		dp_offline_run(c, pf, &opt);
	} else {
		for (unsigned int i = 0; i < c->n_workers; i++)
			rte_eal_remote_launch(dp_worker_main, &c->workers[i], c->workers[i].lcore);
		monitor(c, &opt);
		rte_eal_mp_wait_lcore();
		dp_worker_drain(c);
		dp_port_update_stats(c);
	}
	atomic_store(&c->writers_quit, 1);
	pthread_join(writer, NULL);
	int close_rc = c->write_shards ? dp_writer_close_job(c, 0) : 0;

	/* sessions still open are dumped (TIE's final dump), then the engine's statistics */
	int train_rc = 0;
	if (engine) {
		dp_worker_take_back(c, 0); /* what the writer could not write leaves the records */
		for (unsigned int i = 0; i < c->n_workers; i++)
			dp_session_flush(c->workers[i].sess[0]);
		for (unsigned int i = 0; i < c->n_workers; i++)
			dp_session_stats_keep(c, i, 0);
		if (dp_flows_close(c->jobs[0].flows) != 0)
			close_rc = -1;
		c->jobs[0].flows = NULL;
		if (opt.train && cls_engine_train(engine, err, sizeof(err)) != 0) {
			fprintf(stderr, "tide-dataplane: %s\n", err);
			train_rc = -1;
		}
		if (!opt.quiet)
			cls_engine_dump_statistics(engine, stderr);
	}
	c->ended_ns = c->jobs[0].ended_ns = dp_now_ns();

	enum dp_stop why = (enum dp_stop)atomic_load(&c->stop_reason);
	int mrc = 0;
	if (opt.out_dir) {
		json_t *params = json_pack("{s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:I}",
			"filter", opt.filter, "snaplen", (int)opt.snaplen, "anonymised", opt.anonymise,
			"shard_size", (json_int_t)opt.shard_size, "shard_time",
			(json_int_t)opt.shard_time_s, "max_size", (json_int_t)opt.max_size,
			"max_duration", (json_int_t)opt.max_duration_s, "count", (json_int_t)opt.count);
		struct dp_manifest_info mi = {
			.out_dir = opt.out_dir,
			.drone = opt.drone,
			.input = input,
			.parameters = params,
			.stop_reason = dp_stop_names[why],
			.input_error = c->input_error,
		};
		mrc = dp_manifest_write(c, 0, &mi);
		json_decref(params);
	}
	print_line(c, stdout, "tide-dataplane: ");
	printf("tide-dataplane: stopped: %s\n", dp_stop_names[why]);
	if (opt.out_dir)
		printf("tide-dataplane: dataset: %s (manifest.json)\n", opt.out_dir);
	if (engine)
		printf("tide-dataplane: flows: %s (%" PRIu64 " sessions)\n", flows_path,
			c->jobs[0].sess_totals[DP_SESS_CREATED]);

	if (mrc != 0 || close_rc != 0 || train_rc != 0)
		return 1;
	switch (why) {
	case DP_STOP_INPUT_ERROR:
	case DP_STOP_IO_ERROR:
	case DP_STOP_DISK_FULL:
		return 1;
	default:
		return 0;
	}
}

int
main(int argc, char **argv)
{
	struct dp_capture *c = &capture;
	if (dp_drone_wanted(argc, argv))
		return dp_drone_main(argc, argv);
	int status = run(argc, argv);

	if (res.eal) {
		for (unsigned int i = 0; c->workers && i < c->n_workers; i++)
			if (c->workers[i].sess[0])
				dp_sessions_destroy(c->workers[i].sess[0]);
		dp_flows_close(c->jobs[0].flows);
		if (res.ports)
			dp_port_stop_all(c);
		dp_capture_free(c);
	}
	dp_pcapfile_close(res.pf);
	dp_filter_free(res.filter);
	cls_truth_free(res.truth);
	cls_engine_destroy(res.engine);
	if (res.eal)
		dp_eal_stop();
	free(res.targv);
	return status;
}
