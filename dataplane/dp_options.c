/* dp_options.c — parses tide-dataplane's own options (see dp_options.h and --help).
 *
 * Sizes and durations are in the one grammar of tide_units.h ("--max-size 10G", as in n2disk
 * and TCI's job form; "--max-duration 1h30m"), the same as the Hive's and tidectl's.
 *
 * Table-driven, as the Hive's cp_options.c: each option is one row (name, kind, member, bounds
 * or choices); the parser has one branch per kind, not per option. The help text groups them
 * for a reader and stays written by hand. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_options.h"
#include "tide_job.h"
#include "tide_layout.h"
#include "tide_units.h"
#include "tide_member.h"


/* How an option's value is read. */
enum kind {
	K_FLAG,     /* no value: sets a bool */
	K_STR,      /* a string kept as given */
	K_UINT,     /* an integer in [min, max] (stored as 16, 32 or 64 bits by the member) */
	K_POW2,     /* K_UINT that must be a power of two */
	K_SIZE,     /* tide_units.h size, at least min */
	K_DURATION, /* tide_units.h duration */
	K_CHOICE,   /* one of the names of `choices`, stored as its index */
	K_ANON_KEY, /* --anon-key: 64 hex digits or @FILE */
	K_NAME,     /* a link name (tide_layout_name_ok) */
	K_CPUS,     /* a CPU list: digits and commas */
	K_HELP,
};

struct opt {
	const char *name;
	enum kind kind;
	size_t off, size;         /* the member of struct dp_options */
	uint64_t min, max;
	const char *const *choices;
};

#define M(m) offsetof(struct dp_options, m), sizeof(((struct dp_options *)0)->m)
static const char *const formats[] = { "csv", "jsonl", NULL };
static const char *const session_types[] = { "flow", "biflow", "host", NULL };
static const char *const modes[] = { "offline", "realtime", "cyclic", NULL };
static const char *const policies[] = { "priority", "vote", NULL };
static const char *const undecided[] = { "drop", "keep", NULL };

static const struct opt opts[] = {
	{ "pcap", K_STR, M(pcap_path), 0, 0, NULL },
	{ "demo", K_FLAG, M(demo), 0, 0, NULL },
	{ "out", K_STR, M(out_dir), 0, 0, NULL },
	{ "drone", K_STR, M(drone), 0, 0, NULL },
	{ "filter", K_STR, M(filter), 0, 0, NULL },
	{ "snaplen", K_UINT, M(snaplen), 14, 262144, NULL },
	{ "anon-key", K_ANON_KEY, M(anon_key), 0, 0, NULL },
	{ "shard-size", K_SIZE, M(shard_size), 4096, 0, NULL },
	{ "shard-time", K_DURATION, M(shard_time_s), 0, 0, NULL },
	{ "max-size", K_SIZE, M(max_size), 0, 0, NULL },
	{ "max-duration", K_DURATION, M(max_duration_s), 0, 0, NULL },
	{ "count", K_UINT, M(count), 0, UINT64_MAX, NULL },
	{ "workers", K_UINT, M(workers), 1, 128, NULL },
	{ "quiet", K_FLAG, M(quiet), 0, 0, NULL },
	{ "check-filter", K_FLAG, M(check_filter), 0, 0, NULL },
	{ "linktype", K_UINT, M(check_linktype), 0, 65535, NULL },
	{ "flows", K_STR, M(flows_path), 0, 0, NULL },
	{ "classify", K_FLAG, M(classify), 0, 0, NULL },
	{ "flows-format", K_CHOICE, M(flows_jsonl), 0, 0, formats },
	{ "export", K_STR, M(export_url), 0, 0, NULL },
	{ "session-type", K_CHOICE, M(session_type), 0, 0, session_types },
	{ "timeout", K_UINT, M(timeout_s), 1, UINT64_MAX, NULL },
	{ "sessions", K_UINT, M(sessions), 1024, 1u << 26, NULL },
	{ "mode", K_CHOICE, M(mode), 0, 0, modes },
	{ "interval", K_UINT, M(interval_s), 1, UINT64_MAX, NULL },
	{ "config", K_STR, M(config_dir), 0, 0, NULL },
	{ "plugins", K_STR, M(plugins_path), 0, 0, NULL },
	{ "plugin-dir", K_STR, M(plugin_dir), 0, 0, NULL },
	{ "model-dir", K_STR, M(model_dir), 0, 0, NULL },
	{ "policy", K_CHOICE, M(policy), 0, 0, policies },
	{ "min-confidence", K_UINT, M(min_confidence), 0, 100, NULL },
	{ "truth", K_STR, M(truth_path), 0, 0, NULL },
	{ "train", K_FLAG, M(train), 0, 0, NULL },
	{ "features", K_FLAG, M(features), 0, 0, NULL },
	{ "first-n", K_UINT, M(first_n), 1, 32, NULL },
	{ "first-bytes", K_UINT, M(first_bytes), 0, 256, NULL },
	{ "stream-bytes", K_UINT, M(stream_bytes), 0, 65536, NULL },
	{ "apps", K_STR, M(apps), 0, 0, NULL },
	{ "apps-undecided", K_CHOICE, M(apps_keep_undecided), 0, 0, undecided },
	{ "apps-packets", K_UINT, M(apps_packets), 1, TIDE_JOB_APPS_PACKETS_MAX, NULL },
	{ "apps-wait", K_DURATION, M(apps_wait_s), 0, 0, NULL },
	{ "help", K_HELP, 0, 0, 0, 0, NULL },
	{ "link-name", K_NAME, M(link_name), 0, 0, NULL },
	{ "rx-queues", K_UINT, M(rx_queues), 1, 128, NULL },
	{ "rx-desc", K_POW2, M(rx_desc), 64, 4096, NULL },
	{ "tx-desc", K_POW2, M(tx_desc), 64, 4096, NULL },
	{ "burst", K_UINT, M(burst), 1, 32, NULL },
	{ "mbufs", K_UINT, M(mbufs), 1023, 4194303, NULL },
	{ "writer-cpus", K_CPUS, M(writer_cpus), 0, 0, NULL },
	{ "probe", K_FLAG, M(probe), 0, 0, NULL },
};
#undef M
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

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
	       "  --export URL         also send each record as it ends to a collector:\n"
	       "                       ipfix://HOST:PORT (UDP), ipfix+tcp://HOST:PORT,\n"
	       "                       json+tcp://HOST:PORT, json+udp://HOST:PORT\n"
	       "  --session-type T     flow | biflow (default) | host\n"
	       "  --timeout SECS       session inactivity timeout (default 60)\n"
	       "  --sessions N         session table capacity per worker (default 1048576)\n"
	       "  --mode M             offline (default: a record when a session ends) |\n"
	       "                       realtime (as soon as it is classified) |\n"
	       "                       cyclic (a new timestamped file every --interval SECS)\n"
	       "  --config DIR         tide_apps.txt, enabled_plugins, ports.txt, signatures.txt\n"
	       "  --plugins FILE       enabled classifiers, in priority order\n"
	       "  --plugin-dir DIR     where plugin .so files are (default: next to the program,\n"
	       "                       ../classifiers/plugins or ../lib/tide/plugins)\n"
	       "  --policy P           combiner: priority (default) | vote\n"
	       "  --min-confidence N   below this a decision is 'unknown' (default 1)\n"
	       "  --truth FILE         ground truth (pre-classifier): adds truth columns\n"
	       "  --train              train classifiers on --truth; models go to --model-dir\n"
	       "  --features           add first-N packet sizes, directions and inter-arrival times\n"
	       "  --first-n N          packets in the features (default 8, max 32)\n"
	       "  --first-bytes N      keep the first N payload bytes per direction\n"
	       "  --stream-bytes N     keep the first N bytes of the session stream\n"
	       "selection by application (with --classify or --flows):\n"
	       "  --apps LIST          keep only the sessions of these applications or services\n"
	       "                       (QUIC,YouTube: names of tide_apps.txt and services.txt);\n"
	       "                       a session's first packets wait until it is identified\n"
	       "  --apps-undecided P   drop (default) | keep the sessions still undecided when\n"
	       "                       their wait ends\n"
	       "  --apps-packets N     a session waits at most N packets (default 32, max 255)\n"
	       "  --apps-wait TIME     ... and at most TIME (default 5s, max 300s)\n"
	       "tools:\n"
	       "  --check-filter       only compile --filter (for --linktype N, default 1), check\n"
	       "                       the names of --apps against --config's tables, and exit\n"
	       "  --probe              print the probed ports (driver, queues, NUMA node) as JSON\n"
	       "  --hive URL ...       drone mode: dial a Hive and run its jobs (--hive --help)\n"
	       "  --help               this text\n"
	       "\n"
	       "exit status: 0 done (also when a limit ended the capture), 1 runtime error,\n"
	       "2 usage error (bad option, bad filter, unreadable input).\n",
		prog);
}

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

/* One option's value into its member: 0, -1 for a bad value, -2 after an error printed. */
static int
set_option(struct dp_options *o, const struct opt *d, const char *v, const char *prog)
{
	char *field = (char *)o + d->off, err[256];
	uint64_t n;

	switch (d->kind) {
	case K_FLAG:
		*(bool *)field = true;
		return 0;
	case K_STR:
		*(const char **)field = v;
		return 0;
	case K_UINT:
	case K_POW2:
		if (parse_u64(v, &n) || n < d->min || n > d->max ||
			(d->kind == K_POW2 && (n & (n - 1))))
			return -1;
		tide_member_set(o, d->off, d->size, n);
		return 0;
	case K_SIZE:
		if (tide_parse_size(v, &n) || n < d->min)
			return -1;
		tide_member_set(o, d->off, d->size, n);
		return 0;
	case K_DURATION:
		if (tide_parse_duration(v, &n))
			return -1;
		tide_member_set(o, d->off, d->size, n);
		return 0;
	case K_CHOICE:
		for (unsigned int i = 0; d->choices[i]; i++)
			if (strcmp(v, d->choices[i]) == 0) {
				if (d->size == sizeof(bool))
					*(bool *)field = i != 0;
				else
					tide_member_set(o, d->off, d->size, i);
				return 0;
			}
		return -1;
	case K_ANON_KEY:
		if (dp_anon_key_parse(v, o->anon_key, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: --anon-key: %s\n", prog, err);
			return -2;
		}
		o->anonymise = true;
		return 0;
	case K_NAME:
		if (!tide_layout_name_ok(v, strlen(v)))
			return -1;
		*(const char **)field = v;
		return 0;
	case K_CPUS:
		if (!v[0] || strspn(v, "0123456789,") != strlen(v))
			return -1;
		*(const char **)field = v;
		return 0;
	case K_HELP:
		break;
	}
	return -1;
}

int
dp_options_parse(struct dp_options *o, int argc, char **argv)
{
	const char *prog = argv[0];
	struct option long_options[N_OPTS + 1];

	memset(o, 0, sizeof(*o));
	o->filter = "";
	o->shard_size = 256ull << 20;
	o->check_linktype = 1;
	o->session_type = 1; /* biflow */
	o->timeout_s = 60;
	o->interval_s = 60;
	o->min_confidence = 1;

	for (size_t i = 0; i < N_OPTS; i++)
		long_options[i] = (struct option){ opts[i].name,
			opts[i].kind == K_FLAG || opts[i].kind == K_HELP ? no_argument
									 : required_argument,
			NULL, 256 + (int)i };
	long_options[N_OPTS] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":", long_options, NULL);
		if (c == -1)
			break;
		if (c < 256 || c >= 256 + (int)N_OPTS) {
			if (c == ':')
				fprintf(stderr, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
			else
				fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog,
					argv[optind - 1]);
			return -1;
		}
		const struct opt *d = &opts[c - 256];
		if (d->kind == K_HELP) {
			dp_options_usage(prog);
			return 1;
		}
		int r = set_option(o, d, optarg, prog);
		if (r == -2)
			return -1;
		if (r < 0) {
			fprintf(stderr, "%s: invalid value '%s' for --%s\n", prog, optarg, d->name);
			return -1;
		}
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
	if (o->apps && !o->check_filter) {
		if (!dp_options_sessions(o)) {
			fprintf(stderr, "%s: --apps selects sessions by the application they are "
				"identified as: give --classify (with --out) or --flows FILE\n", prog);
			return -1;
		}
		if (o->session_type == 2) {
			fprintf(stderr, "%s: --apps needs flow or biflow sessions (a host session holds "
				"every application of a host)\n", prog);
			return -1;
		}
		if (o->apps_wait_s > TIDE_JOB_APPS_WAIT_MAX) {
			fprintf(stderr, "%s: --apps-wait: at most %d seconds\n", prog,
				TIDE_JOB_APPS_WAIT_MAX);
			return -1;
		}
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
