/* dp_options.c — parses tide-dataplane's own options (see dp_options.h and --help).
 *
 * Sizes and durations are in the one grammar of tide_units.h ("--max-size 10G", as in n2disk
 * and TCI's job form; "--max-duration 1h30m"), the same as the Hive's and tidectl's. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_options.h"
#include "tide_units.h"

enum {
	OPT_PCAP = 256, OPT_DEMO, OPT_OUT, OPT_DRONE, OPT_FILTER, OPT_SNAPLEN, OPT_ANON_KEY,
	OPT_SHARD_SIZE, OPT_SHARD_TIME, OPT_MAX_SIZE, OPT_MAX_DURATION, OPT_COUNT, OPT_WORKERS,
	OPT_QUIET, OPT_CHECK_FILTER, OPT_LINKTYPE, OPT_FLOWS, OPT_CLASSIFY, OPT_FLOWS_FORMAT,
	OPT_SESSION_TYPE, OPT_TIMEOUT, OPT_SESSIONS, OPT_MODE, OPT_INTERVAL, OPT_CONFIG, OPT_PLUGINS,
	OPT_PLUGIN_DIR, OPT_MODEL_DIR, OPT_POLICY, OPT_MIN_CONF, OPT_TRUTH, OPT_TRAIN, OPT_FEATURES,
	OPT_FIRST_N, OPT_FIRST_BYTES, OPT_STREAM_BYTES, OPT_HELP, OPT_LINK_NAME, OPT_RX_QUEUES,
	OPT_RX_DESC, OPT_TX_DESC, OPT_BURST, OPT_MBUFS, OPT_WRITER_CORE, OPT_PROBE,
};

static const struct option long_options[] = {
	{"pcap", required_argument, NULL, OPT_PCAP},
	{"demo", no_argument, NULL, OPT_DEMO},
	{"out", required_argument, NULL, OPT_OUT},
	{"drone", required_argument, NULL, OPT_DRONE},
	{"filter", required_argument, NULL, OPT_FILTER},
	{"snaplen", required_argument, NULL, OPT_SNAPLEN},
	{"anon-key", required_argument, NULL, OPT_ANON_KEY},
	{"shard-size", required_argument, NULL, OPT_SHARD_SIZE},
	{"shard-time", required_argument, NULL, OPT_SHARD_TIME},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"max-duration", required_argument, NULL, OPT_MAX_DURATION},
	{"count", required_argument, NULL, OPT_COUNT},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"check-filter", no_argument, NULL, OPT_CHECK_FILTER},
	{"linktype", required_argument, NULL, OPT_LINKTYPE},
	{"flows", required_argument, NULL, OPT_FLOWS},
	{"classify", no_argument, NULL, OPT_CLASSIFY},
	{"flows-format", required_argument, NULL, OPT_FLOWS_FORMAT},
	{"session-type", required_argument, NULL, OPT_SESSION_TYPE},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"sessions", required_argument, NULL, OPT_SESSIONS},
	{"mode", required_argument, NULL, OPT_MODE},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"plugins", required_argument, NULL, OPT_PLUGINS},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"model-dir", required_argument, NULL, OPT_MODEL_DIR},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"min-confidence", required_argument, NULL, OPT_MIN_CONF},
	{"truth", required_argument, NULL, OPT_TRUTH},
	{"train", no_argument, NULL, OPT_TRAIN},
	{"features", no_argument, NULL, OPT_FEATURES},
	{"first-n", required_argument, NULL, OPT_FIRST_N},
	{"first-bytes", required_argument, NULL, OPT_FIRST_BYTES},
	{"stream-bytes", required_argument, NULL, OPT_STREAM_BYTES},
	{"help", no_argument, NULL, OPT_HELP},
	{"link-name", required_argument, NULL, OPT_LINK_NAME},
	{"rx-queues", required_argument, NULL, OPT_RX_QUEUES},
	{"rx-desc", required_argument, NULL, OPT_RX_DESC},
	{"tx-desc", required_argument, NULL, OPT_TX_DESC},
	{"burst", required_argument, NULL, OPT_BURST},
	{"mbufs", required_argument, NULL, OPT_MBUFS},
	{"writer-cpus", required_argument, NULL, OPT_WRITER_CORE},
	{"probe", no_argument, NULL, OPT_PROBE},
	{NULL, 0, NULL, 0},
};

void
dp_options_usage(const char *prog)
{
	printf("usage: %s [EAL options --] [options]\n"
	       "\n"
	       "Captures traffic from DPDK ports (or a pcap/pcapng file) into a dataset of pcapng\n"
	       "shards with a manifest. With no EAL options, sane defaults are chosen: hugepages if\n"
	       "mounted (else --no-huge), no PCI probing unless -a/-b is given.\n"
	       "\n"
	       "input (one of):\n"
	       "  --pcap FILE          read a pcap or pcapng file once (offline mode)\n"
	       "  --demo               replay the embedded demo link in a loop (net_pcap)\n"
	       "  (neither)            every DPDK port the EAL probed (--vdev, -a PCI)\n"
	       "output:\n"
	       "  --out DIR            dataset directory (shards/<drone>/<link>/, manifest.json)\n"
	       "  --drone NAME         drone name in the dataset (default: host name)\n"
	       "capture:\n"
	       "  --filter EXPR        tcpdump filter expression\n"
	       "  --snaplen N          keep at most N bytes of each packet\n"
	       "  --anon-key KEY       prefix-preserving IP anonymisation (Crypto-PAn); KEY is 64 hex\n"
	       "                       digits or @FILE holding them (or 32 raw bytes)\n"
	       "  --shard-size SIZE    rotate shards at SIZE (512M, 1.5G: powers of 1024; default 256M)\n"
	       "  --shard-time TIME    rotate shards every TIME of packet time (90, 30s, 5m, 1h30m)\n"
	       "  --max-size SIZE      stop when the dataset reaches SIZE (default: unlimited)\n"
	       "  --max-duration TIME  stop after TIME (wall clock live, packet time offline)\n"
	       "  --count N            stop after N received packets\n"
	       "  --workers N          worker lcores (default: every lcore but the main one)\n"
	       "  --quiet              no periodic statistics line on stderr\n"
	       "tuning (the drone sets these from the Hive's per-drone tuning):\n"
	       "  --link-name NAME     the link's name in the dataset (default: the port's name)\n"
	       "  --rx-queues N        RX queues per port (default: one per worker, capped by the port)\n"
	       "  --rx-desc N          RX descriptors per queue (default 1024; power of two)\n"
	       "  --tx-desc N          TX descriptors (recorded; a capture sets up no TX queue)\n"
	       "  --burst N            packets per RX burst, 1-32 (default 32)\n"
	       "  --mbufs N            mbufs in the packet pool (default: sized from the rings)\n"
	       "  --writer-cpus LIST   run the writer thread on these CPUs (e.g. 2,3)\n"
	       "identification (TIE):\n"
	       "  --flows FILE         one record per session (CSV; JSON Lines with\n"
	       "                       --flows-format jsonl); alone, no packets are written\n"
	       "  --classify           with --out: records into OUT/flows/<drone>.csv\n"
	       "  --session-type T     flow | biflow (default) | host\n"
	       "  --timeout SECS       session inactivity timeout (default 60)\n"
	       "  --sessions N         session table capacity per worker (default 1048576)\n"
	       "  --mode M             offline (default: a record when a session ends) |\n"
	       "                       realtime (as soon as it is classified) |\n"
	       "                       cyclic (a new timestamped file every --interval SECS)\n"
	       "  --config DIR         tide_apps.txt, enabled_plugins, ports.txt, signatures.txt\n"
	       "  --plugins FILE       enabled classifiers, in priority order\n"
	       "  --plugin-dir DIR     where plugin .so files are\n"
	       "  --policy P           combiner: priority (default) | vote\n"
	       "  --min-confidence N   below this a decision is 'unknown' (default 1)\n"
	       "  --truth FILE         ground truth (pre-classifier): adds truth columns\n"
	       "  --train              train classifiers on --truth; models go to --model-dir\n"
	       "  --features           add first-N packet sizes, directions and inter-arrival times\n"
	       "  --first-n N          packets in the features (default 8, max 32)\n"
	       "  --first-bytes N      keep the first N payload bytes per direction\n"
	       "  --stream-bytes N     keep the first N bytes of the session stream\n"
	       "tools:\n"
	       "  --check-filter       only compile --filter (for --linktype N, default 1) and exit\n"
	       "  --probe              print the probed ports (driver, queues, NUMA node) as JSON\n"
	       "  --hive URL ...       drone mode: dial a Hive and run its jobs (--hive --help)\n"
	       "  --help               this text\n"
	       "\n"
	       "exit status: 0 done (also when a limit ended the capture), 1 runtime error,\n"
	       "2 usage error (bad option, bad filter, unreadable input).\n",
		prog);
}

/* "10G" → 10 << 30. Returns 0 or -1. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		return -1;
	*out = v;
	return 0;
}

int
dp_options_parse(struct dp_options *o, int argc, char **argv)
{
	const char *prog = argv[0];
	uint64_t v;
	char err[256];

	memset(o, 0, sizeof(*o));
	o->filter = "";
	o->shard_size = 256ull << 20;
	o->check_linktype = 1;
	o->session_type = 1; /* biflow */
	o->timeout_s = 60;
	o->interval_s = 60;
	o->min_confidence = 1;

	optind = 1;
	opterr = 0;
	for (;;) {
		int idx = -1;
		int c = getopt_long(argc, argv, ":", long_options, &idx);
		if (c == -1)
			break;
		switch (c) {
		case OPT_PCAP: o->pcap_path = optarg; break;
		case OPT_DEMO: o->demo = true; break;
		case OPT_OUT: o->out_dir = optarg; break;
		case OPT_DRONE: o->drone = optarg; break;
		case OPT_FILTER: o->filter = optarg; break;
		case OPT_QUIET: o->quiet = true; break;
		case OPT_CHECK_FILTER: o->check_filter = true; break;
		case OPT_HELP: dp_options_usage(prog); return 1;
		case OPT_ANON_KEY:
			if (dp_anon_key_parse(optarg, o->anon_key, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s: --anon-key: %s\n", prog, err);
				return -1;
			}
			o->anonymise = true;
			break;
		case OPT_SNAPLEN:
			if (parse_u64(optarg, &v) || v < 14 || v > 262144)
				goto bad;
			o->snaplen = (uint32_t)v;
			break;
		case OPT_SHARD_SIZE:
			if (tide_parse_size(optarg, &o->shard_size) || o->shard_size < 4096)
				goto bad;
			break;
		case OPT_MAX_SIZE:
			if (tide_parse_size(optarg, &o->max_size))
				goto bad;
			break;
		case OPT_SHARD_TIME:
			if (tide_parse_duration(optarg, &o->shard_time_s))
				goto bad;
			break;
		case OPT_MAX_DURATION:
			if (tide_parse_duration(optarg, &o->max_duration_s))
				goto bad;
			break;
		case OPT_COUNT:
			if (parse_u64(optarg, &o->count))
				goto bad;
			break;
		case OPT_WORKERS:
			if (parse_u64(optarg, &v) || v == 0 || v > 128)
				goto bad;
			o->workers = (unsigned int)v;
			break;
		case OPT_LINK_NAME:
			if (!optarg[0] || strlen(optarg) > 31 || strchr(optarg, '/') ||
				optarg[0] == '.')
				goto bad;
			o->link_name = optarg;
			break;
		case OPT_RX_QUEUES:
			if (parse_u64(optarg, &v) || v == 0 || v > 128)
				goto bad;
			o->rx_queues = (unsigned int)v;
			break;
		case OPT_RX_DESC:
		case OPT_TX_DESC:
			if (parse_u64(optarg, &v) || v < 64 || v > 4096 || (v & (v - 1)))
				goto bad;
			if (c == OPT_RX_DESC)
				o->rx_desc = (uint16_t)v;
			else
				o->tx_desc = (uint16_t)v;
			break;
		case OPT_BURST:
			if (parse_u64(optarg, &v) || v == 0 || v > 32)
				goto bad;
			o->burst = (unsigned int)v;
			break;
		case OPT_MBUFS:
			if (parse_u64(optarg, &v) || v < 1023 || v > 4194303)
				goto bad;
			o->mbufs = (unsigned int)v;
			break;
		case OPT_WRITER_CORE:
			if (!optarg[0] || strspn(optarg, "0123456789,") != strlen(optarg))
				goto bad;
			o->writer_cpus = optarg;
			break;
		case OPT_PROBE: o->probe = true; break;
		case OPT_FLOWS: o->flows_path = optarg; break;
		case OPT_CLASSIFY: o->classify = true; break;
		case OPT_TRAIN: o->train = true; break;
		case OPT_FEATURES: o->features = true; break;
		case OPT_CONFIG: o->config_dir = optarg; break;
		case OPT_PLUGINS: o->plugins_path = optarg; break;
		case OPT_PLUGIN_DIR: o->plugin_dir = optarg; break;
		case OPT_MODEL_DIR: o->model_dir = optarg; break;
		case OPT_TRUTH: o->truth_path = optarg; break;
		case OPT_FLOWS_FORMAT:
			if (strcmp(optarg, "csv") == 0)
				o->flows_jsonl = false;
			else if (strcmp(optarg, "jsonl") == 0)
				o->flows_jsonl = true;
			else
				goto bad;
			break;
		case OPT_SESSION_TYPE:
			if (strcmp(optarg, "flow") == 0)
				o->session_type = 0;
			else if (strcmp(optarg, "biflow") == 0)
				o->session_type = 1;
			else if (strcmp(optarg, "host") == 0)
				o->session_type = 2;
			else
				goto bad;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "offline") == 0)
				o->mode = DP_MODE_OFFLINE;
			else if (strcmp(optarg, "realtime") == 0)
				o->mode = DP_MODE_REALTIME;
			else if (strcmp(optarg, "cyclic") == 0)
				o->mode = DP_MODE_CYCLIC;
			else
				goto bad;
			break;
		case OPT_POLICY:
			if (strcmp(optarg, "priority") == 0)
				o->policy = 0;
			else if (strcmp(optarg, "vote") == 0)
				o->policy = 1;
			else
				goto bad;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &o->timeout_s) || o->timeout_s == 0)
				goto bad;
			break;
		case OPT_INTERVAL:
			if (parse_u64(optarg, &o->interval_s) || o->interval_s == 0)
				goto bad;
			break;
		case OPT_SESSIONS:
			if (parse_u64(optarg, &v) || v < 1024 || v > (1u << 26))
				goto bad;
			o->sessions = (uint32_t)v;
			break;
		case OPT_MIN_CONF:
			if (parse_u64(optarg, &v) || v > 100)
				goto bad;
			o->min_confidence = (unsigned int)v;
			break;
		case OPT_FIRST_N:
			if (parse_u64(optarg, &v) || v == 0 || v > 32)
				goto bad;
			o->first_n = (unsigned int)v;
			break;
		case OPT_FIRST_BYTES:
			if (parse_u64(optarg, &v) || v > 256)
				goto bad;
			o->first_bytes = (unsigned int)v;
			break;
		case OPT_STREAM_BYTES:
			if (parse_u64(optarg, &v) || v > 65536)
				goto bad;
			o->stream_bytes = (unsigned int)v;
			break;
		case OPT_LINKTYPE:
			if (parse_u64(optarg, &v) || v > 65535)
				goto bad;
			o->check_linktype = (unsigned int)v;
			break;
		default:
			if (c == ':' || (optopt >= OPT_PCAP && optopt < OPT_HELP))
				fprintf(stderr, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
			else
				fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog,
					argv[optind - 1]);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "%s: invalid value '%s' for --%s\n", prog, optarg,
			idx >= 0 ? long_options[idx].name : "?");
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[optind]);
		return -1;
	}
	if (o->train && !o->truth_path) {
		fprintf(stderr, "%s: --train needs --truth FILE (the pre-classified labels)\n", prog);
		return -1;
	}
	if (o->classify && !o->out_dir) {
		fprintf(stderr, "%s: --classify writes into the dataset: give --out DIR\n", prog);
		return -1;
	}
	if (o->pcap_path && o->demo) {
		fprintf(stderr, "%s: --pcap and --demo are exclusive\n", prog);
		return -1;
	}
	if (!o->drone) {
		if (gethostname(o->drone_buf, sizeof(o->drone_buf) - 1) != 0 || !o->drone_buf[0])
			strcpy(o->drone_buf, "local");
		o->drone = o->drone_buf;
	}
	/* the drone name becomes a directory: keep it to a safe alphabet */
	for (const char *p = o->drone; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '_' || *p == '.') || (p == o->drone && *p == '.')) {
			fprintf(stderr, "%s: --drone '%s': use letters, digits, '-', '_' and '.'\n", prog,
				o->drone);
			return -1;
		}
	}
	return 0;
}
