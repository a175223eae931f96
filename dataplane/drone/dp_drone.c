/* dp_drone.c — the drone agent (see dp_drone.h): WebSocket link to the Hive, the always-on
 * dataplane (dp_live.h) that runs the Hive's jobs, live counters, uploads of finished captures.
 *
 * Threads: the main loop owns every capture and all state, ticking every 100 ms (connect with
 * back-off, handle the Hive's messages, start and stop jobs in the dataplane, collect the jobs
 * that ended, send status each second). The dataplane's workers and writer run on their own
 * lcores and thread. One upload thread sends finished captures' files (dp_upload.c), so a
 * large upload never delays the heartbeat (the Hive marks a drone offline after a few silent
 * seconds).
 *
 * Uploads and their answers (docs/DRONES.md): a stored file (2xx) is done; no answer (the Hive
 * unreachable, or the connection broke before it said anything), 5xx other than 507, 408, 425
 * and 429 mean "not now": the capture's upload is tried again after 1 s, doubling to 30 s; 404
 * means the job is gone (the spool copy is dropped); any other 4xx and 507 are final — no retry
 * can change them — so the capture ends "failed" at once with the Hive's reason ("disk full on
 * the Hive: ..." for 507 disk_full) and the files that were stored.
 *
 * Spool (dp_spool.c): SPOOL/<job>-<link>/ is a capture's dataset directory;
 * SPOOL/<job>-<link>.counters its last live counters (rewritten with each status);
 * SPOOL/tuning.json the tuning last received.
 * A capture directory left by an earlier drone process (killed) is uploaded at start as failed
 * "drone restarted": completed shards survive, .part files are not sent, and its counters are
 * those of its manifest when it had ended, else its last saved ones — never the zeros of a
 * capture this process did not run.
 *
 * Tuning (lcores, queues, descriptors, burst, mempool, writer CPUs, hugepages, busy polling)
 * shapes the dataplane, which starts once: a new tuning is applied when no capture is left,
 * by re-executing the drone (same pid, same arguments), which then says hello with it. */
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

#include "dp_anon.h"
#include "dp_agent.h"
#include "dp_drone.h"
#include "dp_hive.h"
#include "dp_live.h"
#include "dp_upload.h"
#include "dp_ws.h"
#include "tide_job.h"
#include "tide_time.h"
#include "tide_fs.h"
#include "tide_log.h"
#include "tide_tuning.h"

/* Spool paths are bounded by PATH_MAX and link names by LINK_NAME_MAX: a truncated snprintf
 * could only shorten a path, which then fails to open and is reported. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
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
	       "  --link NAME=SPEC     a link: demo[,rate=R] (the embedded demo, replayed in a loop\n"
	       "                       at R bits/s, default 200M), pcap:FILE[,rate=R][,once]\n"
	       "                       [,after=N] (a file replayed in a loop, or once when N jobs\n"
	       "                       run on it), vdev:ARGS (any DPDK vdev, e.g.\n"
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
		const struct dp_live_link *l = &a->links[i];
		json_t *o = json_pack("{s:s, s:s, s:i}", "name", l->name, "device", l->spec,
			"job_slots", l->up ? DP_LINK_JOB_SLOTS : 0);
		if (l->up && l->info) {
			json_object_set(o, "driver", json_object_get(l->info, "driver"));
			json_object_set(o, "max_rx_queues", json_object_get(l->info, "max_rx_queues"));
			json_object_set(o, "max_rx_desc", json_object_get(l->info, "max_rx_desc"));
			json_object_set(o, "numa_node", json_object_get(l->info, "numa_node"));
		} else {
			json_object_set_new(o, "max_rx_queues", json_integer(1));
			json_object_set_new(o, "numa_node", json_integer(-1));
			json_object_set_new(o, "probe_error", json_true());
			json_object_set_new(o, "error", json_string(l->up ? "" : l->error));
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
	json_object_set(a->host, "dataplane", a->dataplane);
	/* the tuning the dataplane runs with: a newer one waits for it to be idle */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:o, s:O}", "type", "hello",
		"token", a->token, "name", a->name, "version", TIDE_VERSION, "hostname", u.nodename,
		"host", a->host, "links", links, "captures", caps, "tuning", a->running);
}

static void
try_connect(struct agent *a, int64_t *next_ms, int *backoff_ms, bool *said_down)
{
	char err[256] = "";
	struct dp_ws *c = dp_ws_connect(&a->hive, WS_PATH, 3000, err, sizeof(err));
	if (!c) {
		if (!*said_down)
			tide_warn("drone", "cannot reach the Hive at %s:%d: %s (retrying)", a->hive.host,
				a->hive.port, err);
		*said_down = true;
		*next_ms = tide_mono_ms() + *backoff_ms;
		*backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
		return;
	}
	a->ws = c;
	json_t *hello = hello_msg(a);
	send_msg(a, hello);
	json_decref(hello);
	*backoff_ms = 500;
	*said_down = false;
	tide_info("drone", "connected to the Hive at %s://%s:%d as %s", a->hive.tls ? "wss" : "ws",
		a->hive.host, a->hive.port, a->name);
	/* captures that ended while we were away are reported again */
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].state == CAP_REPORTING && a->caps[i].ended)
			send_msg(a, a->caps[i].ended);
}

/* ---- tuning -------------------------------------------------------------------------------- */

/* A tuning key's value, or the drone's default for it (tide_tuning.h); 0 for a key whose
 * default the drone leaves to the dataplane (TIDE_TUNING_AUTO: "0: defaults" in dp_live.h). */
static int64_t
tun(const struct agent *a, const char *key)
{
	int64_t v = tide_tuning_int(a->tuning, key);
	return v == TIDE_TUNING_AUTO ? 0 : v;
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

int
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
	tide_warn("drone", "job %lld on %s refused: %s", job, link, why);
}


static void
start_capture(struct agent *a, json_t *m)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0); /* how long until the filter is live */
	long long job = json_integer_value(json_object_get(m, "job"));
	const char *link = json_string_value(json_object_get(m, "link"));
	if (job <= 0 || !link)
		return;
	int li = find_link(a, link);
	if (li < 0)
		return refuse_start(a, job, link, "no such link on this drone");
	if (find_capture(a, job, li))
		return; /* a repeated start (after a reconnect): already running */
	if (!a->dataplane_up)
		return refuse_start(a, job, link, a->dataplane_error);
	struct capture *c = NULL;
	for (int i = 0; i < MAX_CAPTURES && !c; i++)
		if (a->caps[i].state == CAP_FREE)
			c = &a->caps[i];
	if (!c)
		return refuse_start(a, job, link, "too many captures on this drone");

	/* the job's parameters, read by the contract that the Hive checked them with: a bad
	 * one is refused naming the field, here as at the REST edge */
	struct tide_job tj;
	struct tide_job_error je;
	char err[512];
	if (tide_job_from_json(json_object_get(m, "params"), &tj, &je) != 0) {
		snprintf(err, sizeof(err), "bad job parameter%s%s%s: %s", je.field[0] ? " '" : "",
			je.field, je.field[0] ? "'" : "", je.why);
		return refuse_start(a, job, link, err);
	}
	const char *anon = json_string_value(json_object_get(m, "anon_key"));
	uint8_t key[DP_ANON_KEY_LEN];
	if (tj.anonymise && (!anon || dp_anon_key_parse(anon, key, err, sizeof(err)) != 0))
		return refuse_start(a, job, link, "bad anonymisation key");

	memset(c, 0, sizeof(*c));
	c->job = job;
	c->link = li;
	c->slot = -1;
	snprintf(c->dir, sizeof(c->dir), "%s/%lld-%s", a->spool, job, link);
	if (tide_mkdir_p(c->dir, 0755) != 0)
		return refuse_start(a, job, link, "cannot create the spool directory");
	json_t *params = tide_job_to_json(&tj);
	char name[64];
	snprintf(name, sizeof(name), "job-%lld-%s", job, link);
	struct dp_live_job lj = {
		.name = name,
		.link = (unsigned int)li,
		.filter = tj.filter,
		.snaplen = tj.snaplen,
		.anon_key = tj.anonymise ? key : NULL,
		.max_size = (uint64_t)tj.max_size,
		.max_duration_s = (uint64_t)tj.max_duration,
		.max_packets = (uint64_t)tj.max_packets,
		.shard_size = (uint64_t)tj.shard_size,
		.shard_time_s = (uint64_t)tj.shard_time,
		.lookback_s = tj.lookback_s,
		.classify = tj.classify,
		.session_type = (unsigned int)tj.session_type,
		.out_dir = c->dir,
		.drone = a->name,
		.parameters = params,
		.export_url = tj.export,
		/* the Hive's job id: a collector tells one job's records from another's by it
		 * (its low 32 bits; 0 means "no domain" in RFC 7011, so never 0) */
		.observation_domain = (uint32_t)job ? (uint32_t)job : 1,
		.apps = tj.apps,
		.apps_keep_undecided = tj.apps_keep_undecided,
		.apps_packets = tj.apps_packets,
		.apps_wait_s = tj.apps_wait,
	};
	int slot = dp_live_start(&lj, err, sizeof(err));
	json_decref(params);
	memset(key, 0, sizeof(key));
	if (slot < 0) {
		dp_spool_remove_tree(c->dir);
		memset(c, 0, sizeof(*c));
		return refuse_start(a, job, link, err);
	}
	pthread_mutex_lock(&a->mu);
	c->slot = slot;
	c->sent = json_array();
	c->counters = json_object();
	c->state = CAP_RUNNING;
	c->started_ms = tide_mono_ms();
	pthread_mutex_unlock(&a->mu);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tide_info("drone", "job %lld on %s: capture running (slot %d, filter \"%s\", live %.3f ms after "
		"the start message)", job, link, slot, tj.filter,
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
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
		dp_live_stop(c->slot, DP_STOP_SIGNAL);
		c->state = CAP_STOPPING;
	}
}

/* dataplane or manifest counters → {packets, bytes, received, drops, drops_by_reason} */
json_t *
counters_from(json_t *t)
{
	json_t *by = json_object();
	json_int_t drops = 0;
	const char *k;
	json_t *v;
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
	/* the dataplane's own names (written, bytes_written, dropped) stay beside them */
	if (!json_is_object(out))
		out = json_object();
	json_object_update(out, norm);
	json_decref(norm);
	return out;
}

/* The capture's live counters beside its spool directory, for a drone process that finds it
 * after a crash (adopt_leftovers). Replaced whole (rename), never fsynced: what matters is
 * surviving the process's death, not the host's. */
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
		if (c->state <= CAP_STOPPING) {
			json_t *t = dp_live_counters(c->slot);
			json_decref(c->counters);
			c->counters = counters_from(t);
			json_object_set_new(c->counters, "state", json_string("running"));
			json_decref(t);
			save_counters(c);
		}
		json_array_append_new(caps, json_pack("{s:I, s:s, s:s, s:O}", "job",
			(json_int_t)c->job, "link", a->links[c->link].name, "state",
			cap_state_name(c), "counters", c->counters));
	}
	/* every link's own counters, job or no job */
	json_t *links = json_array();
	for (int i = 0; i < a->n_links; i++) {
		json_t *lc = a->dataplane_up ? dp_live_link_counters((unsigned int)i) : json_object();
		json_object_set_new(lc, "name", json_string(a->links[i].name));
		json_object_set_new(lc, "up", json_boolean(a->links[i].up));
		json_array_append_new(links, lc);
	}
	json_t *m = json_pack("{s:s, s:o, s:o}", "type", "status", "captures", caps, "links",
		links);
	send_msg(a, m);
	json_decref(m);
}

/* ---- ended captures ------------------------------------------------------------------------ */

/* The dataplane has ended a capture: its dataset is closed and its manifest written. */
static void
capture_ended(struct agent *a, struct capture *c, const struct dp_live_ended *e)
{
	/* the dataplane's own final counters: the manifest may be unwritten (disk full) */
	if (json_is_object(e->counters)) {
		json_decref(c->counters);
		c->counters = counters_from(e->counters);
	}
	c->exit_ok = e->ok;
	snprintf(c->reason, sizeof(c->reason), "%s", e->ok ? dp_stop_names[e->why] : e->error);
	json_object_set_new(c->counters, "exit_ok", json_boolean(e->ok));
	tide_info("drone", "job %lld on %s: capture ended (%s)", c->job, a->links[c->link].name,
		c->reason[0] ? c->reason : "ok");
	c->slot = -1;
	c->state = CAP_UPLOADING;
	pthread_mutex_lock(&a->mu);
	int idx = (int)(c - a->caps);
	a->upload_done[idx] = false;
	a->upload_queue[a->n_upload++] = idx;
	pthread_cond_signal(&a->upload_cv);
	pthread_mutex_unlock(&a->mu);
}

static void
collect_ended(struct agent *a)
{
	struct dp_live_ended ended[DP_MAX_JOBS];
	int n = a->dataplane_up ? dp_live_poll(ended, DP_MAX_JOBS) : 0;
	for (int k = 0; k < n; k++)
		for (int i = 0; i < MAX_CAPTURES; i++) {
			struct capture *c = &a->caps[i];
			if ((c->state == CAP_RUNNING || c->state == CAP_STOPPING) &&
				c->slot == ended[k].slot) {
				capture_ended(a, c, &ended[k]);
				break;
			}
		}
	for (int k = 0; k < n; k++)
		json_decref(ended[k].counters);
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
			tide_warn("drone", "the Hive's welcome names no upload port; files stay in the spool");
	}
	if (strcmp(type, "welcome") == 0 || strcmp(type, "tune") == 0) {
		json_t *t = json_object_get(m, "tuning");
		if (json_is_object(t)) {
			json_decref(a->tuning);
			a->tuning = json_deep_copy(t);
			save_tuning(a);
		}
		/* the dataplane runs with the tuning it started with: a new one is applied by
		 * restarting it once no capture is left (the main loop) */
		a->restart_pending = !json_equal(a->tuning, a->running);
		if (strcmp(type, "tune") == 0) {
			json_t *r = json_pack("{s:s, s:O, s:s}", "type", "tuned", "tuning", a->running,
				"applied", a->restart_pending ? "when no capture runs: the drone "
				"restarts its dataplane" : "already");
			send_msg(a, r);
			json_decref(r);
		}
		if (a->restart_pending)
			tide_info("drone", "new tuning: applied when no capture runs (the dataplane restarts)");
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
			dp_spool_release(a, c);
	} else if (strcmp(type, "error") == 0) {
		tide_warn("drone", "the Hive refused us: %s",
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
			if (!tide_layout_name_ok(optarg, strlen(optarg))) {
				fprintf(stderr, "tide-drone: bad --drone name '%s'\n", optarg);
				return 2;
			}
			snprintf(a->name, sizeof(a->name), "%s", optarg);
			break;
		case 't': token_file = optarg; break;
		case 'l': {
			const char *eq = strchr(optarg, '=');
			if (!eq || !tide_layout_name_ok(optarg, (size_t)(eq - optarg)) || !eq[1] ||
				a->n_links == MAX_LINKS) {
				fprintf(stderr, "tide-drone: --link wants NAME=SPEC (NAME: letters, "
						"digits, . _ -; at most %d links)\n", MAX_LINKS);
				return 2;
			}
			struct dp_live_link *l = &a->links[a->n_links++];
			snprintf(l->name, sizeof(l->name), "%.*s", (int)(eq - optarg), optarg);
			snprintf(l->spec, sizeof(l->spec), "%s", eq + 1);
			if (strcmp(l->spec, "demo") && strncmp(l->spec, "demo,", 5) &&
				strncmp(l->spec, "pcap:", 5) && strncmp(l->spec, "vdev:", 5) &&
				strncmp(l->spec, "pci:", 4)) {
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

/* Start the dataplane with the tuning last received (or the defaults): lcores on the links'
 * NUMA node when the tuning names one, workers, queues, descriptors, burst, mempool, writer
 * CPUs, hugepages, busy polling. A dataplane that cannot start leaves the drone connected,
 * saying why for every job it is given. */
static void
open_dataplane(struct agent *a)
{
	json_decref(a->running);
	a->running = json_deep_copy(a->tuning);
	int64_t workers = tun(a, "workers"), writers = tun(a, "writer_cores");
	int cpus[256];
	int n_cpus = pick_cpus((int)tun(a, "numa_node"), cpus, 256);
	if (workers < 1 || workers + 1 > n_cpus) {
		tide_warn("drone", "tuning asks for %lld workers; this host has %d CPUs: using 1",
			(long long)workers, n_cpus);
		workers = 1;
	}
	static char lcores[512], writer_cpus[512];
	size_t off = 0;
	lcores[0] = writer_cpus[0] = '\0';
	/* a one-CPU host: the main lcore and the worker share it */
	for (int i = 0; i <= workers; i++)
		off += (size_t)snprintf(lcores + off, sizeof(lcores) - off, "%s%d@%d", i ? "," : "",
			i, cpus[n_cpus > 1 ? i : 0]);
	off = 0;
	for (int i = 0; i < writers && workers + 1 + i < n_cpus; i++)
		off += (size_t)snprintf(writer_cpus + off, sizeof(writer_cpus) - off, "%s%d",
			i ? "," : "", cpus[workers + 1 + i]);
	if (writers > 0 && !writer_cpus[0]) /* not enough CPUs left: share the main lcore's */
		snprintf(writer_cpus, sizeof(writer_cpus), "%d", cpus[0]);
	json_t *huge = json_object_get(a->tuning, "hugepages");
	struct dp_live_tuning t = {
		.lcores = lcores,
		.writer_cpus = writer_cpus,
		.hugepages = json_is_boolean(huge) ? json_is_true(huge) : -1, /* -1: when free */
		.rx_queues = (unsigned int)tun(a, "rx_queues"),
		.rx_desc = (unsigned int)tun(a, "rx_desc"),
		.burst = (unsigned int)tun(a, "burst"),
		.mbufs = (unsigned int)tun(a, "mempool_size"),
		.busy_poll = tun(a, "busy_poll") != 0,
		/* not a tuning key the Hive accepts: only a SPOOL/tuning.json written by hand
		 * sets it */
		.sessions = (uint32_t)tun(a, "sessions"),
		.lookback_bytes = (uint64_t)tun(a, "lookback_mib") << 20,
	};
	char err[512] = "";
	a->dataplane_up = dp_live_open(a->self, a->links, (unsigned int)a->n_links, &t, err,
		sizeof(err)) == 0;
	if (!a->dataplane_up) {
		snprintf(a->dataplane_error, sizeof(a->dataplane_error), "the dataplane did not "
			"start: %s", err);
		tide_warn("drone", "%s", a->dataplane_error);
		for (int i = 0; i < a->n_links; i++)
			if (!a->links[i].error[0])
				snprintf(a->links[i].error, sizeof(a->links[i].error), "%s", err);
	}
	for (int i = 0; i < a->n_links; i++)
		if (!a->links[i].up)
			tide_warn("drone", "link %s (%s) is down: %s", a->links[i].name, a->links[i].spec,
				a->links[i].error);
	json_decref(a->dataplane);
	a->dataplane = json_pack("{s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:b, s:i}", "lcores",
		lcores, "workers", (json_int_t)workers, "writer_cpus", writer_cpus, "hugepages",
		t.hugepages != 0, "rx_queues", (json_int_t)t.rx_queues, "rx_desc",
		(json_int_t)t.rx_desc, "burst", (json_int_t)t.burst, "mempool_size",
		(json_int_t)t.mbufs, "busy_poll", t.busy_poll, "job_slots", DP_LINK_JOB_SLOTS);
	json_object_set_new(a->dataplane, "lookback_mib", json_integer((json_int_t)(
		t.lookback_bytes >> 20)));
	json_object_set_new(a->dataplane, "up", json_boolean(a->dataplane_up));
}

static bool
any_capture(const struct agent *a)
{
	for (int i = 0; i < MAX_CAPTURES; i++)
		if (a->caps[i].state != CAP_FREE)
			return true;
	return false;
}

int
dp_drone_main(int argc, char **argv)
{
	static struct agent agent;
	struct agent *a = &agent;
	int rc = parse_args(a, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	a->argv = argv;
	ssize_t sl = readlink("/proc/self/exe", a->self, sizeof(a->self) - 1);
	if (sl <= 0)
		return 1;
	a->self[sl] = '\0';
	if (tide_mkdir_p(a->spool, 0700) != 0) {
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
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->upload_cv, NULL);
	a->inbox = json_array();
	dp_spool_adopt_leftovers(a);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	open_dataplane(a);
	pthread_t up;
	if (pthread_create(&up, NULL, dp_spool_uploader, a) != 0)
		return 1;

	int64_t next_connect = 0, last_status = 0, stopping_since = 0;
	int backoff = 500;
	bool said_down = false, restart = false;
	for (;;) {
		int64_t now = tide_mono_ms();
		if (stop_signal && !stopping_since) {
			tide_info("drone", "stopping: captures are stopped and uploaded first");
			stopping_since = now;
			for (int i = 0; i < MAX_CAPTURES; i++)
				if (a->caps[i].state == CAP_RUNNING) {
					dp_live_stop(a->caps[i].slot, DP_STOP_SIGNAL);
					a->caps[i].state = CAP_STOPPING;
				}
		}
		/* the link */
		if (a->ws && dp_ws_poll(a->ws, 0, on_message, a) < 0) {
			dp_ws_close(a->ws);
			a->ws = NULL;
			tide_warn("drone", "lost the Hive; reconnecting (captures keep running)");
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

		/* the dataplane's jobs */
		collect_ended(a);
		bool busy = false;
		for (int i = 0; i < MAX_CAPTURES; i++) {
			struct capture *c = &a->caps[i];
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
					dp_spool_release(a, c);
					continue;
				}
				const char *st = c->cancelled ? "cancelled" :
					!c->leftover && !c->upload_refused && c->exit_ok ? "done" :
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
		if (a->restart_pending && !stopping_since && !any_capture(a)) {
			restart = true;
			break;
		}
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
	dp_live_close();
	if (restart) {
		tide_info("drone", "restarting with the new tuning");
		execv(a->self, a->argv);
		tide_warn("drone", "cannot restart: %s", strerror(errno));
		return 1;
	}
	tide_info("drone", "stopped");
	return 0;
}
