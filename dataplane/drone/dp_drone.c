/* dp_drone.c — the drone agent (see dp_drone.h): WebSocket link to the Hive, capture children,
 * live counters from their DPDK telemetry, uploads of finished captures.
 *
 * Threads: the main loop owns every capture and all state, ticking every 100 ms (connect with
 * back-off, handle the Hive's messages, reap and supervise children, send status each second).
 * One upload thread sends finished captures' files (dp_upload.c), so a large upload never
 * delays the heartbeat (the Hive marks a drone offline after a few silent seconds).
 *
 * Uploads and their answers (docs/DRONES.md): a stored file (2xx) is done; no answer (the Hive
 * unreachable, or the connection broke before it said anything), 5xx other than 507, 408, 425
 * and 429 mean "not now": the capture's upload is tried again after 1 s, doubling to 30 s; 404
 * means the job is gone (the spool copy is dropped); any other 4xx and 507 are final — no retry
 * can change them — so the capture ends "failed" at once with the Hive's reason ("disk full on
 * the Hive: ..." for 507 disk_full) and the files that were stored.
 *
 * Spool: SPOOL/<job>-<link>/ is a capture's --out; SPOOL/<job>-<link>.log its stdout/stderr;
 * SPOOL/<job>-<link>.key its anonymisation key (0600); SPOOL/<job>-<link>.counters its last
 * live counters (rewritten with each status); SPOOL/tuning.json the tuning last received. A
 * capture directory left by an earlier agent (killed with its children) is uploaded at start
 * as failed "drone restarted": completed shards survive, .part files are not sent, and its
 * counters are those of its manifest when it had ended, else its last saved ones — never the
 * zeros of a capture this agent did not run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <numa.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dp_drone.h"
#include "dp_hive.h"
#include "dp_upload.h"
#include "dp_ws.h"

/* Spool paths are bounded by PATH_MAX and link names by LINK_NAME_MAX: a truncated snprintf
 * could only shorten a path, which then fails to open and is reported. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAX_LINKS 16
#define MAX_CAPTURES 64
#define TICK_MS 100
#define STATUS_MS 1000
#define STOP_GRACE_MS 15000
#define EXIT_GRACE_MS 30000      /* a capture still alive this long after writing its manifest
                                  * (its last act) hangs in its teardown: it is killed */
#define BACKOFF_MAX_MS 5000
#define MAX_UPLOAD_FILES 4096
#define UPLOAD_RETRY_MS 1000     /* a Hive that cannot take files now: next round after this, */
#define UPLOAD_RETRY_MAX_MS 30000 /* doubling up to this */
#define LINK_NAME_MAX 31
#define WS_PATH "/api/v1/drones/connect"
#define UPLOAD_PREFIX "/api/v1/drones/upload/"

enum cap_state { CAP_FREE, CAP_RUNNING, CAP_STOPPING, CAP_UPLOADING, CAP_REPORTING };

struct link_cfg {
	char name[LINK_NAME_MAX + 1];
	char spec[PATH_MAX];   /* demo | pcap:FILE | vdev:ARGS | pci:BDF */
	json_t *probe;         /* --probe's answer for it, or NULL */
};

struct capture {
	enum cap_state state;
	long long job;
	int link;
	pid_t pid;
	bool cancelled, leftover;
	bool upload_refused;   /* the Hive refused a file for good: the capture failed (reason) */
	int64_t started_ms, stop_ms;
	int64_t manifest_ms;   /* when its manifest was first seen while it still ran; 0 = not */
	char dir[PATH_MAX];
	char reason[256];
	json_t *counters;      /* live, from telemetry; final, from the manifest */
	json_t *ended;         /* the "ended" message, kept until the Hive acknowledges */
};

struct agent {
	struct dp_hive hive;   /* the drone listener's (--hive, --hive-ca, --hive-name) */
	atomic_int upload_port; /* the HTTP API's, from the welcome; 0 until welcomed */
	atomic_bool upload_tls; /* ... over HTTPS (the welcome's upload_tls) */
	char name[64];
	char token[128];
	char spool[PATH_MAX];
	char self[PATH_MAX];
	struct link_cfg links[MAX_LINKS];
	int n_links;
	struct capture caps[MAX_CAPTURES];
	json_t *tuning;        /* as last received; {} = defaults */
	json_t *host;

	pthread_mutex_t mu;    /* guards the upload queue */
	pthread_cond_t upload_cv;
	json_t *inbox;         /* messages received in this tick */
	struct dp_ws *ws;      /* the link to the Hive, NULL while away */
	int upload_queue[MAX_CAPTURES];
	int n_upload;
	bool upload_done[MAX_CAPTURES];
	atomic_bool quit;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
logf_(const char *fmt, ...)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s tide-drone: ", when);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool
dp_drone_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--hive") == 0 || strncmp(argv[i], "--hive=", 7) == 0)
			return true;
	}
	return false;
}

/* ---- set-up ---------------------------------------------------------------------------- */

static void
usage(const char *prog)
{
	printf("usage: %s --hive wss://HOST:PORT --link NAME=SPEC [--link ...] [options]\n"
	       "\n"
	       "Drone mode: dial the Hive (tide-control), announce this host and its links, and run\n"
	       "the capture jobs the Hive schedules, uploading each finished dataset.\n"
	       "\n"
	       "  --hive URL           wss://HOST:PORT of the Hive's drone listener (its\n"
	       "                       drone_listen; by default the API's port + 1); plain\n"
	       "                       ws:// only when HOST is this host (127.0.0.1, ::1,\n"
	       "                       localhost). Uploads go over HTTPS when the Hive has TLS\n"
	       "  --hive-ca FILE       PEM certificate(s) to trust for the Hive: its CA, or its\n"
	       "                       own (self-signed) certificate (default: the system's CAs)\n"
	       "  --hive-name NAME     the name the Hive's certificate must carry, when it is not\n"
	       "                       the HOST dialled (default: HOST)\n"
	       "  --drone NAME         this drone's name (default: the host name)\n"
	       "  --token-file FILE    the drone token (or TIDE_DRONE_TOKEN); FILE must be 0600\n"
	       "  --link NAME=SPEC     a link: demo (the embedded demo replay), pcap:FILE (a file\n"
	       "                       replayed in a loop), vdev:ARGS (any DPDK vdev, e.g.\n"
	       "                       vdev:net_af_packet0,iface=eth1) or pci:BDF (a NIC)\n"
	       "  --spool DIR          captures in progress (default ./tide-spool)\n"
	       "  --help               this text\n", prog);
}

static int
parse_hive(struct agent *a, const char *url)
{
	char err[400];
	if (dp_hive_parse(&a->hive, url, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "tide-drone: %s\n", err);
	return -1;
}

static bool
valid_link_name(const char *s, size_t len)
{
	if (len == 0 || len > LINK_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static int
read_token(struct agent *a, const char *file)
{
	const char *env = getenv("TIDE_DRONE_TOKEN");
	if (!file && env) {
		snprintf(a->token, sizeof(a->token), "%s", env);
		return a->token[0] ? 0 : -1;
	}
	if (!file) {
		fprintf(stderr, "tide-drone: give --token-file FILE or TIDE_DRONE_TOKEN\n");
		return -1;
	}
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "tide-drone: %s: %s\n", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "tide-drone: %s is readable by others: chmod 600 it\n", file);
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, a->token, sizeof(a->token) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	a->token[n] = '\0';
	a->token[strcspn(a->token, "\r\n")] = '\0';
	return a->token[0] ? 0 : -1;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static long
meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = 0;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static json_t *
host_info(void)
{
	cpu_set_t set;
	int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) :
		(int)sysconf(_SC_NPROCESSORS_ONLN);
	int nodes = numa_available() >= 0 ? numa_num_configured_nodes() : 1;
	return json_pack("{s:i, s:i, s:I, s:I, s:I}", "cores", cores, "numa_nodes",
		nodes > 0 ? nodes : 1, "hugepages_total", (json_int_t)meminfo("HugePages_Total"),
		"hugepages_free", (json_int_t)meminfo("HugePages_Free"), "hugepage_kb",
		(json_int_t)meminfo("Hugepagesize"));
}

/* ---- children ---------------------------------------------------------------------------- */

static pid_t
spawn(const char *path, char *const argv[], const char *log_path, int out_fd)
{
	pid_t parent = getpid();
	int log_fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) :
		-1;
	if (log_path && log_fd < 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		setpgid(0, 0); /* a terminal's ^C reaches the agent, which stops captures itself */
		int in = open("/dev/null", O_RDONLY);
		int o = out_fd >= 0 ? out_fd : log_fd;
		if (in < 0 || dup2(in, 0) < 0 || (o >= 0 && dup2(o, 1) < 0) ||
			(log_fd >= 0 && dup2(log_fd, 2) < 0))
			_exit(127);
		close_range(3, ~0u, 0);
		execv(path, argv);
		_exit(127);
	}
	int err = errno;
	if (log_fd >= 0)
		close(log_fd);
	return pid < 0 ? -err : pid;
}

/* Runs `tide-dataplane <eal> --probe` for a link; its first port's description. */
static json_t *
probe_link(struct agent *a, const struct link_cfg *l);

static int
input_args(const struct link_cfg *l, char *buf, size_t size, char **argv, int *n)
{
	if (strcmp(l->spec, "demo") == 0) {
		argv[(*n)++] = (char *)"--demo";
		return 1; /* an application option: after "--" */
	}
	if (strncmp(l->spec, "pcap:", 5) == 0)
		snprintf(buf, size, "--vdev=net_pcap_%s,rx_pcap=%s,infinite_rx=1", l->name,
			l->spec + 5);
	else if (strncmp(l->spec, "vdev:", 5) == 0)
		snprintf(buf, size, "--vdev=%s", l->spec + 5);
	else if (strncmp(l->spec, "pci:", 4) == 0)
		snprintf(buf, size, "--allow=%s", l->spec + 4);
	else
		return -1;
	argv[(*n)++] = buf;
	return 0;
}

static json_t *
probe_link(struct agent *a, const struct link_cfg *l)
{
	char inbuf[PATH_MAX + 64];
	char *argv[16];
	int n = 0;
	argv[n++] = a->self;
	int kind = input_args(l, inbuf, sizeof(inbuf), argv, &n);
	if (kind < 0)
		return NULL;
	if (kind == 1) { /* --demo is an application option */
		n = 1;
		argv[n++] = (char *)"--demo";
	} else {
		argv[n++] = (char *)"--";
	}
	argv[n++] = (char *)"--probe";
	argv[n] = NULL;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	pid_t pid = spawn(a->self, argv, NULL, fds[1]);
	close(fds[1]);
	char out[4096];
	size_t len = 0;
	int64_t deadline = mono_ms() + 20000;
	while (pid > 0 && len < sizeof(out) - 1) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int64_t left = deadline - mono_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t r = read(fds[0], out + len, sizeof(out) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	out[len] = '\0';
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	return json_loads(out, 0, NULL);
}

/* ---- the WebSocket link --------------------------------------------------------------- */

static void
on_message(void *ctx, const char *text, size_t len)
{
	struct agent *a = ctx;
	json_t *m = json_loadb(text, len, 0, NULL);
	if (m)
		json_array_append_new(a->inbox, m);
}

static int
send_msg(struct agent *a, json_t *m)
{
	int rc = -1;
	char *text = json_dumps(m, JSON_COMPACT);
	if (text && a->ws)
		rc = dp_ws_send(a->ws, text, strlen(text), 2000);
	free(text);
	return rc;
}

static const char *
cap_state_name(const struct capture *c)
{
	switch (c->state) {
	case CAP_RUNNING: return "running";
	case CAP_STOPPING: return "finishing";
	case CAP_UPLOADING: return "uploading";
	default: return "ended";
	}
}

static json_t *
hello_msg(struct agent *a)
{
	struct utsname u;
	uname(&u);
	json_t *links = json_array();
	for (int i = 0; i < a->n_links; i++) {
		const struct link_cfg *l = &a->links[i];
		json_t *o = json_pack("{s:s, s:s}", "name", l->name, "device", l->spec);
		if (l->probe) {
			json_object_set(o, "driver", json_object_get(l->probe, "driver"));
			json_object_set(o, "max_rx_queues", json_object_get(l->probe, "max_rx_queues"));
			json_object_set(o, "max_rx_desc", json_object_get(l->probe, "max_rx_desc"));
			json_object_set(o, "numa_node", json_object_get(l->probe, "numa_node"));
		} else {
			json_object_set_new(o, "max_rx_queues", json_integer(1));
			json_object_set_new(o, "numa_node", json_integer(-1));
			json_object_set_new(o, "probe_error", json_true());
		}
		json_array_append_new(links, o);
	}
	json_t *caps = json_array();
	for (int i = 0; i < MAX_CAPTURES; i++) {
		const struct capture *c = &a->caps[i];
		if (c->state != CAP_FREE)
			json_array_append_new(caps, json_pack("{s:I, s:s, s:s}", "job",
				(json_int_t)c->job, "link", a->links[c->link].name, "state",
				cap_state_name(c)));
	}
	json_decref(a->host);
	a->host = host_info();
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:o, s:O}", "type", "hello",
		"token", a->token, "name", a->name, "version", TIDE_VERSION, "hostname", u.nodename,
		"host", a->host, "links", links, "captures", caps, "tuning", a->tuning);
}

static void
try_connect(struct agent *a, int64_t *next_ms, int *backoff_ms, bool *said_down)
{
	char err[256] = "";
	struct dp_ws *c = dp_ws_connect(&a->hive, WS_PATH, 3000, err, sizeof(err));
	if (!c) {
		if (!*said_down)
			logf_("cannot reach the Hive at %s:%d: %s (retrying)", a->hive.host,
				a->hive.port, err);
		*said_down = true;
		*next_ms = mono_ms() + *backoff_ms;
		*backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
		return;
	}
	a->ws = c;
	json_t *hello = hello_msg(a);
	send_msg(a, hello);
	json_decref(hello);
	*backoff_ms = 500;
	*said_down = false;
	logf_("connected to the Hive at %s://%s:%d as %s", a->hive.tls ? "wss" : "ws",
		a->hive.host, a->hive.port, a->name);
	/* captures that ended while we were away are reported again */
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].state == CAP_REPORTING && a->caps[i].ended)
			send_msg(a, a->caps[i].ended);
}

/* ---- tuning -------------------------------------------------------------------------------- */

static int64_t
tun(const struct agent *a, const char *key, int64_t def)
{
	json_t *v = json_object_get(a->tuning, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_boolean(v))
		return json_is_true(v);
	return def;
}

static void
save_tuning(struct agent *a)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/tuning.json", a->spool);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(a->tuning, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
}

/* The CPUs this process may use, NUMA node first when one is asked for (libnuma). */
static int
pick_cpus(int node, int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	if (node >= 0 && numa_available() >= 0) {
		struct bitmask *bm = numa_allocate_cpumask();
		if (bm && numa_node_to_cpus(node, bm) == 0)
			for (int c = 0; c < CPU_SETSIZE && n < max; c++)
				if (CPU_ISSET(c, &set) && numa_bitmask_isbitset(bm, (unsigned)c))
					cpus[n++] = c;
		if (bm)
			numa_free_cpumask(bm);
	}
	for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		bool have = false;
		for (int k = 0; k < n; k++)
			have |= cpus[k] == c;
		if (!have)
			cpus[n++] = c;
	}
	return n;
}

/* ---- captures ------------------------------------------------------------------------------ */

static int
find_link(const struct agent *a, const char *name)
{
	for (int i = 0; i < a->n_links; i++)
		if (strcmp(a->links[i].name, name) == 0)
			return i;
	return -1;
}

static struct capture *
find_capture(struct agent *a, long long job, int link)
{
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].state != CAP_FREE && a->caps[i].job == job && a->caps[i].link == link)
			return &a->caps[i];
	return NULL;
}

static void
report_ended(struct agent *a, struct capture *c, const char *state, json_t *files)
{
	json_decref(c->ended);
	c->ended = json_pack("{s:s, s:I, s:s, s:s, s:s, s:O, s:o}", "type", "ended", "job",
		(json_int_t)c->job, "link", a->links[c->link].name, "state", state, "reason",
		c->reason, "counters", c->counters ? c->counters : json_object(), "files",
		files ? files : json_array());
	c->state = CAP_REPORTING;
	if (a->ws)
		send_msg(a, c->ended);
}

static void
refuse_start(struct agent *a, long long job, const char *link, const char *why)
{
	json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:s, s:{}, s:[]}", "type", "ended", "job",
		(json_int_t)job, "link", link, "state", "failed", "reason", why, "counters",
		"files");
	send_msg(a, m);
	json_decref(m);
	logf_("job %lld on %s refused: %s", job, link, why);
}

static void
start_capture(struct agent *a, json_t *m)
{
	long long job = json_integer_value(json_object_get(m, "job"));
	const char *link = json_string_value(json_object_get(m, "link"));
	if (job <= 0 || !link)
		return;
	int li = find_link(a, link);
	if (li < 0)
		return refuse_start(a, job, link, "no such link on this drone");
	if (find_capture(a, job, li))
		return; /* a repeated start (after a reconnect): already running */
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].state != CAP_FREE && a->caps[i].link == li &&
			a->caps[i].state <= CAP_STOPPING)
			return refuse_start(a, job, link, "the link is busy");
	struct capture *c = NULL;
	for (int i = 0; i < MAX_CAPTURES && !c; i++)
		if (a->caps[i].state == CAP_FREE)
			c = &a->caps[i];
	if (!c)
		return refuse_start(a, job, link, "too many captures on this drone");

	memset(c, 0, sizeof(*c));
	c->job = job;
	c->link = li;
	snprintf(c->dir, sizeof(c->dir), "%s/%lld-%s", a->spool, job, link);
	char log[PATH_MAX + 8], key[PATH_MAX + 8], key_arg[PATH_MAX + 9], flows[PATH_MAX + 64];
	char flows_dir[PATH_MAX + 8];
	snprintf(log, sizeof(log), "%s.log", c->dir);
	snprintf(key, sizeof(key), "%s.key", c->dir);
	snprintf(flows_dir, sizeof(flows_dir), "%s/flows", c->dir);
	snprintf(flows, sizeof(flows), "%s/flows/%s.csv", c->dir, link);

	/* tuning → EAL and capture options */
	int64_t workers = tun(a, "workers", 1), writers = tun(a, "writer_cores", 0);
	int64_t node = tun(a, "numa_node", -1);
	if (node < 0 && a->links[li].probe)
		node = json_integer_value(json_object_get(a->links[li].probe, "numa_node"));
	int cpus[256];
	int n_cpus = pick_cpus((int)node, cpus, 256);
	if (workers < 1 || workers + 1 > n_cpus) {
		char why[128];
		snprintf(why, sizeof(why), "tuning asks for %lld workers; this host has %d CPUs",
			(long long)workers, n_cpus);
		return refuse_start(a, job, link, why);
	}
	char lcores[512] = "", writer_cpus[512] = "";
	size_t off = 0;
	for (int i = 0; i <= workers; i++)
		off += (size_t)snprintf(lcores + off, sizeof(lcores) - off, "%s%d", i ? "," : "",
			cpus[i]);
	off = 0;
	for (int i = 0; i < writers && workers + 1 + i < n_cpus; i++)
		off += (size_t)snprintf(writer_cpus + off, sizeof(writer_cpus) - off, "%s%d",
			i ? "," : "", cpus[workers + 1 + i]);
	if (writers > 0 && !writer_cpus[0]) /* not enough CPUs left: share the main lcore's */
		snprintf(writer_cpus, sizeof(writer_cpus), "%d", cpus[0]);

	char s_max_size[32], s_max_dur[32], s_snap[32], s_workers[16], s_rxq[16], s_rxd[16],
		s_txd[16], s_burst[16], s_mbufs[16], inbuf[PATH_MAX + 64];
	char *argv[64];
	int n = 0;
	argv[n++] = a->self;
	argv[n++] = (char *)"-l";
	argv[n++] = lcores;
	if (!tun(a, "hugepages", 1)) {
		argv[n++] = (char *)"--no-huge";
		argv[n++] = (char *)"-m";
		argv[n++] = (char *)"1024";
	}
	bool demo = false;
	int kind = input_args(&a->links[li], inbuf, sizeof(inbuf), argv, &n);
	if (kind < 0)
		return refuse_start(a, job, link, "bad link specification");
	if (kind == 1) {
		n--; /* --demo goes after "--" */
		demo = true;
	}
	argv[n++] = (char *)"--";
	if (demo)
		argv[n++] = (char *)"--demo";
	argv[n++] = (char *)"--out";
	argv[n++] = c->dir;
	argv[n++] = (char *)"--drone";
	argv[n++] = a->name;
	argv[n++] = (char *)"--link-name";
	argv[n++] = (char *)link;
	argv[n++] = (char *)"--quiet";
	const char *filter = json_string_value(json_object_get(m, "filter"));
	if (filter && filter[0]) {
		argv[n++] = (char *)"--filter";
		argv[n++] = (char *)filter;
	}
	snprintf(s_max_size, sizeof(s_max_size), "%lld",
		(long long)json_integer_value(json_object_get(m, "max_size")));
	snprintf(s_max_dur, sizeof(s_max_dur), "%lld",
		(long long)json_integer_value(json_object_get(m, "max_duration")));
	argv[n++] = (char *)"--max-size";
	argv[n++] = s_max_size;
	argv[n++] = (char *)"--max-duration";
	argv[n++] = s_max_dur;
	json_int_t snap = json_integer_value(json_object_get(m, "snaplen"));
	if (snap > 0) {
		snprintf(s_snap, sizeof(s_snap), "%lld", (long long)snap);
		argv[n++] = (char *)"--snaplen";
		argv[n++] = s_snap;
	}
	if (mkdir_p(flows_dir, 0755) != 0)
		return refuse_start(a, job, link, "cannot create the spool directory");
	const char *anon = json_string_value(json_object_get(m, "anon_key"));
	if (anon && anon[0]) {
		int fd = open(key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		size_t kl = strlen(anon);
		bool ok = fd >= 0 && write(fd, anon, kl) == (ssize_t)kl;
		if (fd >= 0)
			close(fd);
		if (!ok)
			return refuse_start(a, job, link, "cannot write the anonymisation key");
		snprintf(key_arg, sizeof(key_arg), "@%s", key);
		argv[n++] = (char *)"--anon-key";
		argv[n++] = key_arg;
	}
	if (json_is_true(json_object_get(m, "classify"))) {
		const char *st = json_string_value(json_object_get(m, "session_type"));
		argv[n++] = (char *)"--classify";
		argv[n++] = (char *)"--flows";
		argv[n++] = flows;
		if (st) {
			argv[n++] = (char *)"--session-type";
			argv[n++] = (char *)st;
		}
	}
	snprintf(s_workers, sizeof(s_workers), "%lld", (long long)workers);
	argv[n++] = (char *)"--workers";
	argv[n++] = s_workers;
#define TUNE_ARG(key, flag, buf)                                                                \
	do {                                                                                    \
		int64_t v_ = tun(a, key, 0);                                                     \
		if (v_ > 0) {                                                                    \
			snprintf(buf, sizeof(buf), "%lld", (long long)v_);                       \
			argv[n++] = (char *)flag;                                                \
			argv[n++] = buf;                                                         \
		}                                                                                \
	} while (0)
	TUNE_ARG("rx_queues", "--rx-queues", s_rxq);
	TUNE_ARG("rx_desc", "--rx-desc", s_rxd);
	TUNE_ARG("tx_desc", "--tx-desc", s_txd);
	TUNE_ARG("burst", "--burst", s_burst);
	TUNE_ARG("mempool_size", "--mbufs", s_mbufs);
#undef TUNE_ARG
	if (writer_cpus[0]) {
		argv[n++] = (char *)"--writer-cpus";
		argv[n++] = writer_cpus;
	}
	argv[n] = NULL;

	pid_t pid = spawn(a->self, argv, log, -1);
	if (pid < 0)
		return refuse_start(a, job, link, "cannot start tide-dataplane");
	c->pid = pid;
	c->state = CAP_RUNNING;
	c->started_ms = mono_ms();
	c->counters = json_object();
	logf_("job %lld on %s: capture running (pid %d, lcores %s)", job, link, (int)pid, lcores);
}

static void
stop_capture(struct agent *a, json_t *m, bool cancel)
{
	long long job = json_integer_value(json_object_get(m, "job"));
	const char *link = json_string_value(json_object_get(m, "link"));
	int li = link ? find_link(a, link) : -1;
	struct capture *c = li >= 0 ? find_capture(a, job, li) : NULL;
	if (!c)
		return;
	if (cancel)
		c->cancelled = true;
	if (c->state == CAP_RUNNING) {
		kill(c->pid, SIGINT);
		c->state = CAP_STOPPING;
		c->stop_ms = mono_ms();
	}
}

/* ---- live counters: the child's DPDK telemetry socket ------------------------------------ */

static json_t *
telemetry(pid_t pid, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *base = getuid() == 0 ? "/var/run/dpdk" : getenv("XDG_RUNTIME_DIR");
	char dir[256];
	if (getuid() == 0 || !base)
		snprintf(dir, sizeof(dir), "%s", getuid() == 0 ? "/var/run/dpdk" : "/tmp/dpdk");
	else
		snprintf(dir, sizeof(dir), "%s/dpdk", base);
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tide-%d/dpdk_telemetry.v2",
		    dir, (int)pid) >= sizeof(sa.sun_path))
		return NULL;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	char buf[16384];
	json_t *out = NULL;
	/* 200 ms for each step, connect included: a capture that does not answer (hung, stopped)
	 * fills its listen backlog, and a connect without a timeout would then block the main
	 * loop, its heartbeat with it, until the Hive took the whole drone for lost */
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		read(fd, buf, sizeof(buf)) > 0 && /* the greeting */
		write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd)) {
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		if (r > 0) {
			json_t *all = json_loadb(buf, (size_t)r, 0, NULL);
			out = json_incref(json_object_get(all, cmd));
			json_decref(all);
		}
	}
	close(fd);
	return out;
}

/* telemetry or manifest counters → {packets, bytes, received, drops, drops_by_reason} */
static json_t *
counters_from(json_t *t)
{
	json_t *by = json_object();
	json_int_t drops = 0;
	const char *k;
	json_t *v;
	json_object_foreach(t, k, v) {
		if (strncmp(k, "dropped_", 8) == 0 && json_is_integer(v)) {
			json_object_set(by, k + 8, v);
			drops += json_integer_value(v);
		}
	}
	json_t *d = json_object_get(t, "dropped");
	if (json_is_object(d)) {
		json_object_foreach(d, k, v) {
			json_object_set(by, k, v);
			drops += json_integer_value(v);
		}
	}
	json_t *out = json_deep_copy(t);
	json_t *norm = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "packets",
		json_integer_value(json_object_get(t, "written")), "bytes",
		json_integer_value(json_object_get(t, "bytes_written")), "received",
		json_integer_value(json_object_get(t, "received")), "rx_bytes",
		json_integer_value(json_object_get(t, "rx_bytes")), "drops", drops,
		"drops_by_reason", by);
	/* the dataplane's own names (written, bytes_written, dropped_*) stay beside them */
	if (!json_is_object(out))
		out = json_object();
	json_object_update(out, norm);
	json_decref(norm);
	return out;
}

/* The capture's live counters beside its spool directory, for an agent that finds it after a
 * crash (adopt_leftovers). Replaced whole (rename), never fsynced: what matters is surviving the
 * agent's death, not the host's. */
static void
save_counters(const struct capture *c)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s.counters", c->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(c->counters, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
}

static void
send_status(struct agent *a)
{
	json_t *caps = json_array();
	for (int i = 0; i < MAX_CAPTURES; i++) {
		struct capture *c = &a->caps[i];
		if (c->state == CAP_FREE)
			continue;
		json_t *t = c->state <= CAP_STOPPING ? telemetry(c->pid, "/tide/stats") : NULL;
		if (t) {
			json_decref(c->counters);
			c->counters = counters_from(t);
			json_object_set(c->counters, "state", json_object_get(t, "state"));
			json_decref(t);
			save_counters(c);
		}
		json_array_append_new(caps, json_pack("{s:I, s:s, s:s, s:O}", "job",
			(json_int_t)c->job, "link", a->links[c->link].name, "state",
			cap_state_name(c), "counters", c->counters));
	}
	json_t *m = json_pack("{s:s, s:o}", "type", "status", "captures", caps);
	send_msg(a, m);
	json_decref(m);
}

/* ---- ended captures ------------------------------------------------------------------------ */

static void
last_log_line(const char *path, char *out, size_t size)
{
	char text[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	out[0] = '\0';
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(text) - 1 ? end - (off_t)sizeof(text) + 1 : 0;
	ssize_t n = pread(fd, text, sizeof(text) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	/* Its "stopped: WHY" line when there is one ("disk full", "i/o error"); else the last line
	 * tide-dataplane wrote itself — but not the closing summary (counters, "dataset: DIR",
	 * "flows: FILE"), which names paths, not causes. DPDK's own lines (EAL:, ...) are noise. */
	static const char *const summary[] = { "dataset: ", "flows: ", "received " };
	char *line = NULL, *stopped = NULL;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(p, "tide-dataplane: stopped: ", 25) == 0) {
			stopped = p + 25;
		} else if (strncmp(p, "tide-dataplane: ", 16) == 0) {
			bool sum = false;
			for (size_t i = 0; i < sizeof(summary) / sizeof(summary[0]); i++)
				sum |= strncmp(p + 16, summary[i], strlen(summary[i])) == 0;
			if (!sum)
				line = p + 16;
		} else if (*p && !strchr(p, ':')) {
			line = p;
		}
		p = nl ? nl + 1 : NULL;
	}
	snprintf(out, size, "%s", stopped ? stopped : line ? line : "");
}

/* A capture writes its manifest last, once every shard is closed; one that has not exited
 * EXIT_GRACE_MS after that hangs in its DPDK teardown (seen on loaded hosts) and would hold
 * its link until the Hive's backstop: it is killed, and reaped() reports it as its manifest
 * says. One stat() per running capture per tick. */
static void
watch_exit(struct agent *a, struct capture *c, int64_t now)
{
	char path[PATH_MAX + 32];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/manifest.json", c->dir);
	if (!c->manifest_ms && stat(path, &sb) == 0)
		c->manifest_ms = now;
	if (c->manifest_ms > 0 && now - c->manifest_ms > EXIT_GRACE_MS) {
		logf_("job %lld on %s: still running %d s after its manifest; killed", c->job,
			a->links[c->link].name, EXIT_GRACE_MS / 1000);
		kill(c->pid, SIGKILL);
		c->manifest_ms = -1; /* once */
	}
}

static void
reaped(struct agent *a, struct capture *c, int status)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/manifest.json", c->dir);
	json_t *man = json_load_file(path, 0, NULL);
	json_t *mc = json_object_get(man, "counters");
	if (json_is_object(mc)) {
		json_decref(c->counters);
		c->counters = counters_from(mc);
	}
	const char *why = json_string_value(json_object_get(man, "stop_reason"));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(c->reason, sizeof(c->reason), "%s", why ? why : "");
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT && c->state == CAP_STOPPING) {
		/* stopped before it had set up its handler: a stop, not a failure */
		snprintf(c->reason, sizeof(c->reason), "stopped before the capture started");
		status = 0;
	} else if (WIFSIGNALED(status) && why && why[0]) {
		/* its manifest is its last act, written once every shard is closed: it was killed
		 * while exiting (a DPDK teardown that hung, seen on a loaded host) and its dataset
		 * is complete — a stop, as the manifest says, not a failure */
		logf_("job %lld on %s: killed by signal %d while exiting, after its manifest",
			c->job, a->links[c->link].name, WTERMSIG(status));
		snprintf(c->reason, sizeof(c->reason), "%s", why);
		status = 0;
	} else if (WIFSIGNALED(status)) {
		snprintf(c->reason, sizeof(c->reason), "tide-dataplane killed by signal %d",
			WTERMSIG(status));
	} else if (why && why[0]) {
		snprintf(c->reason, sizeof(c->reason), "%s", why); /* e.g. "disk full" (exit 1) */
	} else {
		snprintf(path, sizeof(path), "%s.log", c->dir);
		last_log_line(path, c->reason, sizeof(c->reason));
		if (!c->reason[0] && WIFSIGNALED(status))
			snprintf(c->reason, sizeof(c->reason), "tide-dataplane killed by signal %d",
				WTERMSIG(status));
		else if (!c->reason[0])
			snprintf(c->reason, sizeof(c->reason), "tide-dataplane exited with status %d",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	json_object_set_new(c->counters, "exit_ok",
		json_boolean(WIFEXITED(status) && WEXITSTATUS(status) == 0));
	json_decref(man);
	logf_("job %lld on %s: capture ended (%s)", c->job, a->links[c->link].name,
		c->reason[0] ? c->reason : "ok");
	c->pid = 0;
	c->state = CAP_UPLOADING;
	pthread_mutex_lock(&a->mu);
	int idx = (int)(c - a->caps);
	a->upload_done[idx] = false;
	a->upload_queue[a->n_upload++] = idx;
	pthread_cond_signal(&a->upload_cv);
	pthread_mutex_unlock(&a->mu);
}

/* ---- uploads ------------------------------------------------------------------------------ */

/* PUTs one file to the Hive's HTTP port (named in its welcome); the Hive's answer in *ans
 * (status 0: it gave none, or has not said yet where uploads go — "not now"). */
static void
put_file(struct agent *a, long long job, const char *path, const char *dest, const char *sha,
	long long size, struct dp_upload_answer *ans)
{
	char target[PATH_MAX];
	snprintf(target, sizeof(target), UPLOAD_PREFIX "%lld/%s", job, dest);
	int port = atomic_load(&a->upload_port);
	int fd = port ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		memset(ans, 0, sizeof(*ans));
		snprintf(ans->message, sizeof(ans->message), "%s", port ? strerror(errno) :
			"not welcomed yet: the Hive has not said where uploads go");
		return;
	}
	dp_upload_put(&a->hive, port, atomic_load(&a->upload_tls), target, a->token, fd, size,
		sha, ans);
	close(fd);
}

enum upload_outcome {
	UPLOADED,        /* every file stored */
	UPLOAD_LATER,    /* the Hive cannot take them now: the whole capture again, later */
	UPLOAD_REFUSED,  /* a file was refused for good: c->reason says why */
	UPLOAD_GONE,     /* the job no longer exists on the Hive */
};

/* The reason a refused upload gives the capture (and so the job): the Hive's own words. */
static void
refusal(struct capture *c, const struct dp_upload_answer *ans)
{
	if (ans->status == 507 && strcmp(ans->code, "disk_full") == 0)
		snprintf(c->reason, sizeof(c->reason), "disk full on the Hive: %s", ans->message);
	else
		snprintf(c->reason, sizeof(c->reason), "upload refused by the Hive (HTTP %d %s): %s",
			ans->status, ans->code[0] ? ans->code : "error", ans->message);
}

/* Uploads one capture's files; *list receives those stored (UPLOADED or UPLOAD_REFUSED). */
static enum upload_outcome
upload_capture(struct agent *a, struct capture *c, json_t **list)
{
	static struct dp_upload_file files[MAX_UPLOAD_FILES];
	int n = dp_upload_collect(c->dir, a->name, a->links[c->link].name, files,
		MAX_UPLOAD_FILES);
	*list = json_array();
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 600], sha[65];
		long long size = 0;
		snprintf(path, sizeof(path), "%s/%s", c->dir, files[i].rel);
		if (dp_upload_sha256(path, sha, &size) != 0)
			continue;
		struct dp_upload_answer ans;
		for (int attempt = 0;; attempt++) {
			put_file(a, c->job, path, files[i].dest, sha, size, &ans);
			/* a body damaged on the way is sent again, twice at most */
			if (ans.status != 422 || strcmp(ans.code, "checksum_mismatch") || attempt == 2)
				break;
		}
		switch (dp_upload_verdict(&ans)) {
		case DP_UPLOAD_STORED:
			json_array_append_new(*list, json_pack("{s:s, s:I, s:s}", "path",
				files[i].dest, "size", (json_int_t)size, "sha256", sha));
			break;
		case DP_UPLOAD_RETRY:
			logf_("job %lld: %s: the Hive cannot take it now (%s%s%s); trying again later",
				c->job, files[i].dest, ans.status ? "HTTP " : "",
				ans.status ? ans.code : "", ans.message);
			json_decref(*list);
			*list = NULL;
			return UPLOAD_LATER;
		case DP_UPLOAD_GONE:
			logf_("job %lld: %s: the Hive no longer has this job (HTTP 404)", c->job,
				files[i].dest);
			json_decref(*list);
			*list = NULL;
			return UPLOAD_GONE;
		case DP_UPLOAD_REFUSED:
			refusal(c, &ans);
			logf_("job %lld: %s refused (HTTP %d %s: %s); the capture fails, not retried",
				c->job, files[i].dest, ans.status, ans.code, ans.message);
			return UPLOAD_REFUSED;
		}
	}
	return UPLOADED;
}

static void *
uploader(void *arg)
{
	struct agent *a = arg;
	int pause_ms = UPLOAD_RETRY_MS;
	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->quit)) {
		if (a->n_upload == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&a->upload_cv, &a->mu, &ts);
			continue;
		}
		int idx = a->upload_queue[0];
		memmove(a->upload_queue, a->upload_queue + 1, sizeof(int) * (size_t)--a->n_upload);
		pthread_mutex_unlock(&a->mu);
		struct capture *c = &a->caps[idx];
		json_t *files = NULL;
		enum upload_outcome o = c->cancelled ? UPLOADED : upload_capture(a, c, &files);
		pthread_mutex_lock(&a->mu);
		if (o == UPLOAD_LATER) {
			/* again after a pause (a capture that ends meanwhile wakes us early) */
			a->upload_queue[a->n_upload++] = idx;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += pause_ms / 1000;
			ts.tv_nsec += (long)(pause_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (!atomic_load(&a->quit))
				pthread_cond_timedwait(&a->upload_cv, &a->mu, &ts);
			pause_ms = pause_ms * 2 > UPLOAD_RETRY_MAX_MS ? UPLOAD_RETRY_MAX_MS : pause_ms * 2;
			continue;
		}
		pause_ms = UPLOAD_RETRY_MS;
		json_decref(c->ended);
		c->ended = files ? files : json_array(); /* picked up by the main loop */
		if (o == UPLOAD_GONE)
			json_object_set_new(c->counters, "job_gone", json_true());
		c->upload_refused = o == UPLOAD_REFUSED;
		a->upload_done[idx] = true;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static int
remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	return rmdir(path) == 0 ? 0 : -errno;
}

static void
release(struct agent *a, struct capture *c)
{
	char p[PATH_MAX + 8];
	remove_tree(c->dir);
	snprintf(p, sizeof(p), "%s.log", c->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s.key", c->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s.counters", c->dir);
	unlink(p);
	json_decref(c->counters);
	json_decref(c->ended);
	memset(c, 0, sizeof(*c));
	(void)a;
}

/* What a capture left by an earlier agent counted: its manifest's counters when it had ended,
 * else those of its last status. */
static json_t *
leftover_counters(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	json_t *man = json_load_file(path, 0, NULL);
	json_t *mc = json_object_get(man, "counters");
	json_t *out = json_is_object(mc) ? counters_from(mc) : NULL;
	json_decref(man);
	if (!out) {
		snprintf(path, sizeof(path), "%s.counters", dir);
		out = json_load_file(path, 0, NULL);
	}
	if (!json_is_object(out)) {
		json_decref(out);
		out = json_object();
	}
	return out;
}

/* Spool directories of an earlier agent: their captures died with it. */
static void
adopt_leftovers(struct agent *a)
{
	DIR *d = opendir(a->spool);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		long long job;
		char link[64];
		if (e->d_type != DT_DIR || sscanf(e->d_name, "%lld-%63s", &job, link) != 2 || job <= 0)
			continue;
		int li = find_link(a, link);
		struct capture *c = NULL;
		for (int i = 0; i < MAX_CAPTURES && !c; i++)
			if (a->caps[i].state == CAP_FREE)
				c = &a->caps[i];
		if (li < 0 || !c)
			continue;
		memset(c, 0, sizeof(*c));
		c->job = job;
		c->link = li;
		c->leftover = true;
		snprintf(c->dir, sizeof(c->dir), "%s/%s", a->spool, e->d_name);
		c->counters = leftover_counters(c->dir);
		snprintf(c->reason, sizeof(c->reason), "drone restarted during the capture");
		logf_("job %lld on %s: left by an earlier drone process; sending its completed files",
			job, link);
		c->state = CAP_UPLOADING;
		int idx = (int)(c - a->caps);
		a->upload_queue[a->n_upload++] = idx;
	}
	if (d)
		closedir(d);
}

/* ---- messages from the Hive ----------------------------------------------------------------- */

static void
handle(struct agent *a, json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	if (!type)
		return;
	if (strcmp(type, "welcome") == 0) {
		json_int_t port = json_integer_value(json_object_get(m, "upload_port"));
		atomic_store(&a->upload_tls, json_is_true(json_object_get(m, "upload_tls")));
		if (port > 0 && port <= 65535)
			atomic_store(&a->upload_port, (int)port);
		else
			logf_("the Hive's welcome names no upload port; files stay in the spool");
	}
	if (strcmp(type, "welcome") == 0 || strcmp(type, "tune") == 0) {
		json_t *t = json_object_get(m, "tuning");
		if (json_is_object(t)) {
			json_decref(a->tuning);
			a->tuning = json_deep_copy(t);
			save_tuning(a);
		}
		if (strcmp(type, "tune") == 0) {
			json_t *r = json_pack("{s:s, s:O, s:s}", "type", "tuned", "tuning", a->tuning,
				"applied", "at the next capture on each link");
			send_msg(a, r);
			json_decref(r);
			logf_("tuning changed: applied at the next capture");
		}
	} else if (strcmp(type, "start") == 0) {
		start_capture(a, m);
	} else if (strcmp(type, "stop") == 0) {
		stop_capture(a, m, false);
	} else if (strcmp(type, "cancel") == 0) {
		stop_capture(a, m, true);
	} else if (strcmp(type, "ack") == 0) {
		long long job = json_integer_value(json_object_get(m, "job"));
		const char *link = json_string_value(json_object_get(m, "link"));
		int li = link ? find_link(a, link) : -1;
		struct capture *c = li >= 0 ? find_capture(a, job, li) : NULL;
		if (c && c->state == CAP_REPORTING)
			release(a, c);
	} else if (strcmp(type, "error") == 0) {
		logf_("the Hive refused us: %s",
			json_string_value(json_object_get(m, "message")) ?: "(no reason)");
	}
}

/* ---- main loop ------------------------------------------------------------------------------ */

static int
parse_args(struct agent *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"hive", required_argument, NULL, 'H'}, {"drone", required_argument, NULL, 'd'},
		{"hive-ca", required_argument, NULL, 'C'}, {"hive-name", required_argument, NULL, 'N'},
		{"token-file", required_argument, NULL, 't'}, {"link", required_argument, NULL, 'l'},
		{"spool", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *token_file = NULL;
	snprintf(a->spool, sizeof(a->spool), "./tide-spool");
	gethostname(a->name, sizeof(a->name) - 1);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (parse_hive(a, optarg))
				return 2;
			break;
		case 'C':
			if (access(optarg, R_OK) != 0) {
				fprintf(stderr, "tide-drone: --hive-ca %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			snprintf(a->hive.ca_file, sizeof(a->hive.ca_file), "%s", optarg);
			break;
		case 'N': snprintf(a->hive.name, sizeof(a->hive.name), "%s", optarg); break;
		case 'd':
			if (!valid_link_name(optarg, strlen(optarg))) {
				fprintf(stderr, "tide-drone: bad --drone name '%s'\n", optarg);
				return 2;
			}
			snprintf(a->name, sizeof(a->name), "%s", optarg);
			break;
		case 't': token_file = optarg; break;
		case 'l': {
			const char *eq = strchr(optarg, '=');
			if (!eq || !valid_link_name(optarg, (size_t)(eq - optarg)) || !eq[1] ||
				a->n_links == MAX_LINKS) {
				fprintf(stderr, "tide-drone: --link wants NAME=SPEC (NAME: letters, "
						"digits, . _ -; at most %d links)\n", MAX_LINKS);
				return 2;
			}
			struct link_cfg *l = &a->links[a->n_links++];
			snprintf(l->name, sizeof(l->name), "%.*s", (int)(eq - optarg), optarg);
			snprintf(l->spec, sizeof(l->spec), "%s", eq + 1);
			if (strcmp(l->spec, "demo") && strncmp(l->spec, "pcap:", 5) &&
				strncmp(l->spec, "vdev:", 5) && strncmp(l->spec, "pci:", 4)) {
				fprintf(stderr, "tide-drone: link %s: SPEC is demo, pcap:FILE, vdev:ARGS "
						"or pci:BDF\n", l->name);
				return 2;
			}
			break;
		}
		case 's': snprintf(a->spool, sizeof(a->spool), "%s", optarg); break;
		case 'h': usage(argv[0]); return 1;
		default: usage(argv[0]); return 2;
		}
	}
	if (!a->hive.host[0] || a->n_links == 0) {
		fprintf(stderr, "tide-drone: give --hive wss://HOST:PORT and at least one --link\n");
		return 2;
	}
	for (int i = 0; i < a->n_links; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(a->links[i].name, a->links[j].name) == 0) {
				fprintf(stderr, "tide-drone: link %s given twice\n", a->links[i].name);
				return 2;
			}
	return read_token(a, token_file) ? 2 : 0;
}

int
dp_drone_main(int argc, char **argv)
{
	static struct agent agent;
	struct agent *a = &agent;
	int rc = parse_args(a, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	ssize_t sl = readlink("/proc/self/exe", a->self, sizeof(a->self) - 1);
	if (sl <= 0)
		return 1;
	a->self[sl] = '\0';
	if (mkdir_p(a->spool, 0700) != 0) {
		fprintf(stderr, "tide-drone: cannot create %s: %s\n", a->spool, strerror(errno));
		return 1;
	}
	char tpath[PATH_MAX + 16];
	snprintf(tpath, sizeof(tpath), "%s/tuning.json", a->spool);
	a->tuning = json_load_file(tpath, 0, NULL);
	if (!json_is_object(a->tuning)) {
		json_decref(a->tuning);
		a->tuning = json_object();
	}
	for (int i = 0; i < a->n_links; i++) {
		a->links[i].probe = probe_link(a, &a->links[i]);
		if (!a->links[i].probe)
			logf_("link %s (%s): the port could not be probed; captures on it will fail "
			      "until it can", a->links[i].name, a->links[i].spec);
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->upload_cv, NULL);
	a->inbox = json_array();
	adopt_leftovers(a);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_t up;
	if (pthread_create(&up, NULL, uploader, a) != 0)
		return 1;

	int64_t next_connect = 0, last_status = 0, stopping_since = 0;
	int backoff = 500;
	bool said_down = false;
	for (;;) {
		int64_t now = mono_ms();
		if (stop_signal && !stopping_since) {
			logf_("stopping: captures are stopped and uploaded first");
			stopping_since = now;
			for (int i = 0; i < MAX_CAPTURES; i++)
				if (a->caps[i].state == CAP_RUNNING) {
					kill(a->caps[i].pid, SIGINT);
					a->caps[i].state = CAP_STOPPING;
					a->caps[i].stop_ms = now;
				}
		}
		/* the link */
		if (a->ws && dp_ws_poll(a->ws, 0, on_message, a) < 0) {
			dp_ws_close(a->ws);
			a->ws = NULL;
			logf_("lost the Hive; reconnecting (captures keep running)");
			next_connect = now + 500;
		}
		if (!a->ws && now >= next_connect)
			try_connect(a, &next_connect, &backoff, &said_down);
		json_t *inbox = a->inbox;
		a->inbox = json_array();
		size_t i_m;
		json_t *m;
		json_array_foreach(inbox, i_m, m)
			handle(a, m);
		json_decref(inbox);

		/* children */
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (int i = 0; i < MAX_CAPTURES; i++)
				if (a->caps[i].pid == pid &&
					(a->caps[i].state == CAP_RUNNING || a->caps[i].state == CAP_STOPPING))
					reaped(a, &a->caps[i], status);
		bool busy = false;
		for (int i = 0; i < MAX_CAPTURES; i++) {
			struct capture *c = &a->caps[i];
			if (c->state == CAP_STOPPING && now - c->stop_ms > STOP_GRACE_MS)
				kill(c->pid, SIGKILL);
			if ((c->state == CAP_RUNNING || c->state == CAP_STOPPING) && c->pid > 0)
				watch_exit(a, c, now);
			pthread_mutex_lock(&a->mu);
			bool uploaded = c->state == CAP_UPLOADING && a->upload_done[i];
			if (uploaded)
				a->upload_done[i] = false;
			pthread_mutex_unlock(&a->mu);
			if (uploaded) {
				json_t *files = c->ended;
				c->ended = NULL;
				bool gone = json_is_true(json_object_get(c->counters, "job_gone"));
				if (gone) {
					json_decref(files);
					release(a, c);
					continue;
				}
				const char *st = c->cancelled ? "cancelled" :
					!c->leftover && !c->upload_refused &&
					json_is_true(json_object_get(c->counters, "exit_ok")) ? "done" :
					"failed";
				report_ended(a, c, st, files);
			}
			if (c->state != CAP_FREE && !(c->state == CAP_REPORTING && !a->ws))
				busy = true;
		}
		if (a->ws && now - last_status >= STATUS_MS) {
			send_status(a);
			last_status = now;
		}
		if (stopping_since && (!busy || now - stopping_since > 60000))
			break;
		if (a->ws)
			dp_ws_poll(a->ws, TICK_MS, on_message, a); /* waits for the Hive or the tick */
		else
			usleep(TICK_MS * 1000);
	}
	atomic_store(&a->quit, true);
	pthread_cond_signal(&a->upload_cv);
	pthread_join(up, NULL);
	if (a->ws)
		dp_ws_close(a->ws);
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].pid > 0)
			kill(a->caps[i].pid, SIGKILL);
	logf_("stopped");
	return 0;
}
