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
#include <stdarg.h>
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
#include "tide_export.h"
#include "tide_layout.h"
#include "tide_fs.h"
#include "tide_log.h"

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
		fprintf(stderr, "tide-dataplane: classification: %s\n", err); /* usage: exit 2 */
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

/* One command-line capture, from the options to the exit status. Each phase below returns
 * RUN_ON to go on or the exit status to leave with (0 done, 1 runtime failure, 2 usage error);
 * whatever a phase acquired is released in one place by main(), whichever phase it left by: an
 * early usage error must not leak (ASan's leak report would change the exit status, too). */
#define RUN_ON (-1)
static struct run {
	struct dp_options opt;
	char **targv;
	struct dp_pcapfile *pf;        /* offline input, NULL live */
	unsigned int linktype;
	struct dp_filter *filter;      /* until the job owns it */
	struct cls_engine *engine;     /* NULL without sessions */
	struct cls_truth_table *truth;
	bool eal;
	bool ports;
	char input[PATH_MAX + 16];     /* the manifest's "input" */
	char flows_path[sizeof(((struct dp_job *)0)->flows_path)];
	struct tide_export_target export_to; /* --export, parsed */
	struct dp_select_spec *select; /* --apps, resolved (NULL: every session) */
	pthread_t writer;
} run_state;

/* Usage errors: before anything starts, on stderr as the options' own are, exit 2. */
static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tide-dataplane: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/* tide's own options: everything after "--", or everything when there is no "--". */
static int
parse_options(struct run *r, int argc, char **argv)
{
	int split = dp_eal_split(argc, argv);
	int targc = split ? argc - split : argc;
	char **targv = r->targv = malloc(sizeof(char *) * (size_t)(targc + 1));

	if (!targv)
		return 1;
	targv[0] = argv[0];
	for (int i = 1; i < targc; i++)
		targv[i] = argv[split ? split + i : i];
	targv[targc] = NULL;
	int rc = dp_options_parse(&r->opt, targc, targv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	return RUN_ON;
}

/* What needs no EAL, checked in milliseconds: the input file, the filter, the output directory
 * and its lock, the classification engine and its ground truth. */
static int
check_inputs(struct run *r)
{
	struct dp_options *o = &r->opt;
	char err[512];

	r->linktype = o->check_filter ? o->check_linktype : DP_LINKTYPE_ETHERNET;
	if (o->pcap_path && !o->check_filter) {
		r->pf = dp_pcapfile_open(o->pcap_path, err, sizeof(err));
		if (!r->pf)
			return usage_error("%s", err);
		r->linktype = dp_pcapfile_linktype(r->pf);
	}
	r->filter = dp_filter_compile(o->filter, r->linktype,
		r->pf ? dp_pcapfile_snaplen(r->pf) : 262144, err, sizeof(err));
	if (!r->filter)
		return usage_error("bad filter '%s': %s", o->filter, err);
	if (o->check_filter) {
		/* the Hive asks before it accepts a job: the drone's tables know the names */
		if (o->apps && dp_select_check_names(o->apps, dp_find_config_dir(o->config_dir), err,
			    sizeof(err)) != 0)
			return usage_error("--apps: %s", err);
		printf("filter ok\n");
		return 0;
	}
	if (o->export_url) {
		if (tide_export_parse(o->export_url, &r->export_to, err, sizeof(err)) != 0)
			return usage_error("%s", err);
		if (!o->flows_path && !o->out_dir)
			o->flows_path = "/dev/null"; /* the collector is the only output */
	}
	if (o->train && !o->flows_path && !o->out_dir)
		o->flows_path = "/dev/null"; /* training alone: the models are the output */
	if (!o->out_dir && !o->flows_path && !o->probe)
		return usage_error("give --out DIR (a dataset) and/or --flows FILE (flow records "
			"only); see --help");
	if (o->out_dir && tide_mkdir_p(o->out_dir, 0755) != 0) {
		tide_error("dataplane", "cannot create %s: %s", o->out_dir, strerror(errno));
		return 1;
	}
	/* one writer per dataset: a second tide on the same --out would corrupt both */
	if (o->out_dir) {
		char lock[PATH_MAX + 16];
		snprintf(lock, sizeof(lock), "%s/.tide.lock", o->out_dir);
		int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0)
			return usage_error("%s is in use by another tide-dataplane%s%s", o->out_dir,
				lfd < 0 ? ": " : "", lfd < 0 ? strerror(errno) : "");
		/* held (fd left open) until exit */
	}
	if (dp_options_sessions(o) && setup_engine(o, &r->engine, &r->truth) != 0)
		return 2;
	if (o->apps) {
		r->select = malloc(sizeof(*r->select));
		if (!r->select)
			return 1;
		if (dp_select_spec_make(r->select, o->apps, o->apps_keep_undecided,
			    o->apps_packets, (uint32_t)o->apps_wait_s, cls_engine_apps(r->engine),
			    cls_engine_services(r->engine), err, sizeof(err)) != 0)
			return usage_error("--apps: %s", err);
	}
	return RUN_ON;
}

/* The EAL (with the demo link's vdev when asked), then the capture's links: the file, or every
 * DPDK port with one queue per worker lcore. */
static int
start_capture(struct run *r, struct dp_capture *c, int argc, char **argv)
{
	struct dp_options *o = &r->opt;
	char demo_vdev[PATH_MAX + 256];
	const char *extra[2] = {NULL, NULL};

	if (o->demo) {
		const char *demo = dp_find_demo_pcap();
		if (!demo)
			return usage_error("demo traffic not found (config/demo.pcap); run "
				"scripts/make-demo-pcap.py or set TIDE_DEMO_PCAP");
		snprintf(demo_vdev, sizeof(demo_vdev), "--vdev=net_pcap_demo0,rx_pcap=%s,infinite_rx=1",
			demo);
		extra[0] = demo_vdev;
	}
	int used_huge = 0;
	char err[512];
	if (dp_eal_start(argc, argv, extra, &used_huge, err, sizeof(err)) < 0) {
		tide_error("dataplane", "%s", err);
		return 1;
	}
	r->eal = true;
	if (o->probe)
		return probe_ports();
	if (!used_huge)
		tide_warn("dataplane", "no free hugepages: running with --no-huge (fine for files "
			"and demos; use hugepages for line rate)");

	memset(c, 0, sizeof(*c));
	c->opt = o;
	bool offline = r->pf != NULL;
	c->lossless = offline;
	unsigned int n_workers = 1; /* offline: the main lcore reads and filters (dp_offline.h) */
	if (!offline) {
		unsigned int worker_lcores = rte_lcore_count() - 1;
		if (worker_lcores == 0)
			return usage_error("live capture needs a worker lcore besides the main one "
				"(e.g. -l 0-1)");
		n_workers = o->workers ? o->workers : worker_lcores;
		if (n_workers > worker_lcores || n_workers > DP_MAX_WORKERS)
			return usage_error("--workers %u but only %u worker lcores", n_workers,
				worker_lcores);
	}
	unsigned int n_ports = rte_eth_dev_count_avail();
	uint16_t nb_rxd = o->rx_desc ? o->rx_desc : NB_RXD;
	unsigned int n_mbufs = RING_SIZE * 2 + (n_ports ? n_ports : 1) * (nb_rxd + SW_RING_SIZE) *
		n_workers + 4096;
	if (o->mbufs)
		n_mbufs = o->mbufs;
	if (dp_capture_init(c, n_workers, offline, n_mbufs, err, sizeof(err)) != 0) {
		tide_error("dataplane", "%s", err);
		return 1;
	}

	if (offline) {
		c->n_links = 1;
		snprintf(c->links[0].name, sizeof(c->links[0].name), "pcap");
		c->links[0].port_id = UINT16_MAX;
		c->links[0].linktype = r->linktype;
		snprintf(r->input, sizeof(r->input), "pcap:%s", o->pcap_path);
	} else {
		r->ports = true; /* set up or half set up: stopped at exit either way */
		if (dp_port_setup_all(c, nb_rxd, err, sizeof(err)) != 0) {
			tide_error("dataplane", "%s", err);
			return 1;
		}
		size_t off = 0;
		for (unsigned int l = 0; l < c->n_links; l++)
			off += (size_t)snprintf(r->input + off, sizeof(r->input) - off, "%sport:%s",
				l ? "," : "", c->links[l].name);
	}
	return RUN_ON;
}

/* Where the records go: --flows FILE, or the dataset's flows/ under the first free name of
 * <drone>.csv, <drone>-1.csv, … (a re-run into the same dataset keeps the earlier records). */
static int
choose_flows_path(struct run *r)
{
	struct dp_options *o = &r->opt;
	char dir[PATH_MAX + 16];
	char rel[128];
	const char *ext = o->flows_jsonl ? "jsonl" : "csv";

	if (o->flows_path) {
		snprintf(r->flows_path, sizeof(r->flows_path), "%s", o->flows_path);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/" TIDE_LAYOUT_FLOWS, o->out_dir);
	if (tide_mkdir_p(dir, 0755) != 0) {
		tide_error("dataplane", "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	tide_layout_offline_flows(rel, sizeof(rel), o->drone, ext);
	snprintf(r->flows_path, sizeof(r->flows_path), "%s/%s", o->out_dir, rel);
	for (unsigned int k = 1; k < 1000 && access(r->flows_path, F_OK) == 0; k++)
		snprintf(r->flows_path, sizeof(r->flows_path), "%s/%s-%u.%s", dir, o->drone, k, ext);
	return 0;
}

/* The flow-record writer and one session table per worker, all feeding job 0's records. */
static int
open_sessions(struct run *r, struct dp_capture *c)
{
	struct dp_options *o = &r->opt;

	if (choose_flows_path(r) != 0)
		return 1;
	c->engine = r->engine;
	snprintf(c->jobs[0].flows_path, sizeof(c->jobs[0].flows_path), "%s", r->flows_path);
	struct dp_flows_params fp = {
		.path = r->flows_path,
		.jsonl = o->flows_jsonl,
		.cyclic = o->mode == DP_MODE_CYCLIC,
		.interval_ns = o->interval_s * 1000000000ull,
		.engine = r->engine,
		.truth = r->truth != NULL,
		.features = o->features,
		.quiet = o->quiet,
		.anon_key = o->anonymise ? o->anon_key : NULL,
		.dataset = c->write_shards,
		.export = o->export_url ? &r->export_to : NULL,
		.observation_domain = 1,
	};
	c->jobs[0].flows = dp_flows_open(&fp);
	if (!c->jobs[0].flows)
		return 1;
	c->jobs[0].select = r->select;
	for (unsigned int i = 0; i < c->n_workers; i++) {
		if (r->select && !(c->workers[i].sel[0] = dp_select_create(c, i, 0, r->select,
			    c->select_held_max))) {
			tide_error("dataplane", "cannot hold packets for the selection by application");
			return 1;
		}
		struct dp_session_params sp = {
			.type = (enum cls_session_type)o->session_type,
			.capacity = o->sessions,
			.timeout_ns = o->timeout_s * 1000000000ull,
			.realtime = o->mode == DP_MODE_REALTIME,
			.engine = r->engine,
			.truth = r->truth,
			.training = o->train,
			.first_bytes = o->first_bytes,
			.stream_bytes = o->stream_bytes,
			.features = o->features,
			.emit = dp_flows_emit,
			.emit_arg = c->jobs[0].flows,
			.worker = i,
			.dataset = c->write_shards,
			.snaplen = o->snaplen,
			.ending = r->select ? dp_select_ending : NULL,
			.ending_arg = c->workers[i].sel[0],
		};
		c->workers[i].sess[0] = dp_sessions_create(&sp);
		if (!c->workers[i].sess[0]) {
			tide_error("dataplane", "cannot create a session table of %u sessions: %s",
				o->sessions ? o->sessions : 1u << 20, strerror(errno));
			return 1;
		}
	}
	return RUN_ON;
}

/* The command line's one job, on every link (a drone runs many: dp_live.h): its rings, its
 * shard writer when there is a dataset, its sessions when it classifies. */
static int
open_job(struct run *r, struct dp_capture *c)
{
	struct dp_options *o = &r->opt;
	char err[512];

	if (dp_capture_add_job(c, "capture", r->filter, o->snaplen,
		    o->anonymise ? o->anon_key : NULL, (1u << c->n_links) - 1, err,
		    sizeof(err)) != 0) {
		tide_error("dataplane", "%s", err);
		return 1;
	}
	r->filter = NULL; /* the job has it */
	if (dp_capture_make_rings(c, 1, RING_SIZE, SW_RING_SIZE, err, sizeof(err)) != 0) {
		tide_error("dataplane", "%s", err);
		return 1;
	}
	c->write_shards = o->out_dir != NULL;
	if (c->write_shards && dp_writer_open_job(c, 0, o->out_dir, o->drone, o->shard_size,
				       o->shard_time_s * 1000000000ull, o->max_size, err,
				       sizeof(err)) != 0) {
		tide_error("dataplane", "%s", err);
		return 1;
	}
	if (r->engine)
		return open_sessions(r, c);
	return RUN_ON;
}

/* --writer-cpus: a list of CPU numbers the writer thread may run on. */
static void
pin_writer(pthread_t writer, const char *cpus)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (const char *p = cpus; *p; p += strspn(p, ","))
		for (long cpu = strtol(p, (char **)&p, 10); cpu >= 0 && cpu < CPU_SETSIZE; cpu = -1)
			CPU_SET((int)cpu, &set);
	int aff = pthread_setaffinity_np(writer, sizeof(set), &set);
	if (aff)
		tide_warn("dataplane", "--writer-cpus %s: %s (writer not pinned)", cpus,
			strerror(aff));
}

/* The capture itself: the writer thread, then the file read on this lcore or the workers
 * launched on theirs, until the input ends, a limit is reached or a signal arrives. */
static int
run_capture(struct run *r, struct dp_capture *c)
{
	struct dp_options *o = &r->opt;

	if (dp_telemetry_register(c) != 0)
		tide_warn("dataplane", "telemetry commands not registered");
	if (o->count && !r->pf)
		atomic_store(&c->budget, (int64_t)o->count);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	dp_clock_init();
	dp_worker_capture = c;
	c->started_ns = c->jobs[0].started_ns = dp_now_ns();
	dp_capture_publish(c, 0, true);

	if (pthread_create(&r->writer, NULL, dp_writer_thread, c) != 0) {
		tide_error("dataplane", "cannot start the writer thread");
		return 1;
	}
	if (o->writer_cpus)
		pin_writer(r->writer, o->writer_cpus);
	if (r->pf) {
		dp_offline_run(c, r->pf, o);
	} else {
		for (unsigned int i = 0; i < c->n_workers; i++)
			rte_eal_remote_launch(dp_worker_main, &c->workers[i], c->workers[i].lcore);
		monitor(c, o);
		rte_eal_mp_wait_lcore();
		dp_worker_drain(c);
		dp_port_update_stats(c);
	}
	/* sessions still waiting for their application are judged while the writer runs */
	for (unsigned int i = 0; i < c->n_workers; i++)
		if (c->workers[i].sel[0])
			dp_select_end(c->workers[i].sel[0]);
	atomic_store(&c->writers_quit, 1);
	pthread_join(r->writer, NULL);
	return RUN_ON;
}

/* After the capture: every shard closed, open sessions dumped (TIE's final dump) and the
 * engine's statistics, training, the manifest, and the summary on stdout. */
static int
finish(struct run *r, struct dp_capture *c)
{
	struct dp_options *o = &r->opt;
	char err[512];
	int close_rc = c->write_shards ? dp_writer_close_job(c, 0) : 0;
	int train_rc = 0;
	struct dp_export_stats xs = { 0 };

	if (r->engine) {
		dp_worker_take_back(c, 0); /* what the writer could not write leaves the records */
		for (unsigned int i = 0; i < c->n_workers; i++)
			dp_session_flush(c->workers[i].sess[0]);
		for (unsigned int i = 0; i < c->n_workers; i++)
			dp_session_stats_keep(c, i, 0);
		if (dp_flows_close_export(c->jobs[0].flows, &xs) != 0)
			close_rc = -1;
		c->jobs[0].flows = NULL;
		if (o->train && cls_engine_train(r->engine, err, sizeof(err)) != 0) {
			tide_error("dataplane", "%s", err);
			train_rc = -1;
		}
		if (!o->quiet)
			cls_engine_dump_statistics(r->engine, stderr);
	}
	c->ended_ns = c->jobs[0].ended_ns = dp_now_ns();

	enum dp_stop why = (enum dp_stop)atomic_load(&c->stop_reason);
	int mrc = 0;
	if (o->out_dir) {
		json_t *params = json_pack("{s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:I}",
			"filter", o->filter, "snaplen", (int)o->snaplen, "anonymised", o->anonymise,
			"shard_size", (json_int_t)o->shard_size, "shard_time",
			(json_int_t)o->shard_time_s, "max_size", (json_int_t)o->max_size,
			"max_duration", (json_int_t)o->max_duration_s, "count", (json_int_t)o->count);
		struct dp_manifest_info mi = {
			.out_dir = o->out_dir,
			.drone = o->drone,
			.input = r->input,
			.parameters = params,
			.stop_reason = dp_stop_names[why],
			.input_error = c->input_error,
			.export_url = o->export_url,
			.export_stats = &xs,
		};
		mrc = dp_manifest_write(c, 0, &mi, err, sizeof(err));
		if (mrc != 0)
			tide_error("dataplane", "%s", err);
		json_decref(params);
	}
	print_line(c, stdout, "tide-dataplane: ");
	printf("tide-dataplane: stopped: %s\n", dp_stop_names[why]);
	if (o->out_dir)
		printf("tide-dataplane: dataset: %s (manifest.json)\n", o->out_dir);
	if (r->engine)
		printf("tide-dataplane: flows: %s (%" PRIu64 " sessions)\n", r->flows_path,
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

static int
run(int argc, char **argv)
{
	struct run *r = &run_state;
	struct dp_capture *c = &capture;
	int rc;

	if ((rc = parse_options(r, argc, argv)) != RUN_ON ||
	    (rc = check_inputs(r)) != RUN_ON ||
	    (rc = start_capture(r, c, argc, argv)) != RUN_ON ||
	    (rc = open_job(r, c)) != RUN_ON ||
	    (rc = run_capture(r, c)) != RUN_ON)
		return rc;
	return finish(r, c);
}

int
main(int argc, char **argv)
{
	struct run *r = &run_state;
	struct dp_capture *c = &capture;

	if (dp_drone_wanted(argc, argv))
		return dp_drone_main(argc, argv);
	int status = run(argc, argv);

	if (r->eal) {
		for (unsigned int i = 0; c->workers && i < c->n_workers; i++) {
			if (c->workers[i].sess[0])
				dp_sessions_destroy(c->workers[i].sess[0]);
			dp_select_destroy(c->workers[i].sel[0]);
		}
		dp_flows_close(c->jobs[0].flows);
		if (r->ports)
			dp_port_stop_all(c);
		dp_capture_free(c);
	}
	dp_pcapfile_close(r->pf);
	dp_filter_free(r->filter);
	cls_truth_free(r->truth);
	cls_engine_destroy(r->engine);
	free(r->select);
	if (r->eal)
		dp_eal_stop();
	free(r->targv);
	return status;
}
