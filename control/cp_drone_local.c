/* cp_drone_local.c — the local drone: a thread running pending capture jobs as tide-dataplane
 * children, one job per link at a time (later jobs wait as pending: the queue), and a second
 * thread running the post-processing scripts of captured jobs in the sandbox (cp_sandbox.h),
 * one at a time, so a script that runs for its whole timeout never holds up the next capture.
 *
 * Children are started with fork/execv and an argv built beforehand — never a shell, the
 * filter is one argv element. Between fork and exec the child only makes async-signal-safe
 * calls: it unblocks the signals the control plane blocks (SIGINT must reach the dataplane),
 * asks to be killed when its parent dies, and closes every descriptor but 0-2. See
 * cp_drone_local.h for the state machine and restart reconciliation. */
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cp_db.h"
#include "cp_drone_local.h"
#include "cp_log.h"
#include "cp_options.h"
#include "cp_sandbox.h"

#define MAX_ARGS 32
#define REASON_MAX 256
#define STOP_GRACE_MS 10000  /* SIGINT → SIGKILL when a stopped dataplane does not exit */
#define OVERRUN_MS 30000     /* beyond max_duration before the runner stops a job itself */
#define PROCESSOR_JOIN_MS 3000 /* at stop, the wait for a script run before leaving it behind */

static const char sql_recover[] =
	"SELECT id, pid FROM jobs WHERE state IN ('running', 'finishing', 'processing')";
static const char sql_fail_restarted[] =
	"UPDATE jobs SET state = 'failed', reason = 'control plane restarted', pid = 0,"
	" ended_at = ?2 WHERE id = ?1";
static const char sql_next[] =
	"SELECT id, filter, max_size, max_duration, snaplen, anonymise, classify, session_type,"
	" has_script FROM jobs WHERE state = 'pending' AND link = ?1 ORDER BY id LIMIT 1";
static const char sql_claim[] =
	"UPDATE jobs SET state = 'running', started_at = ?2 WHERE id = ?1 AND state = 'pending'";
static const char sql_set_pid[] = "UPDATE jobs SET pid = ?2 WHERE id = ?1";
static const char sql_state[] = "SELECT state FROM jobs WHERE id = ?1";
static const char sql_finish[] =
	"UPDATE jobs SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE ?2 END,"
	" reason = CASE WHEN state = 'cancelled' THEN reason ELSE ?3 END,"
	" counters = ?4, ended_at = ?5, pid = 0 WHERE id = ?1";
static const char sql_next_script[] =
	"SELECT id, script_timeout FROM jobs WHERE state = 'processing' ORDER BY id LIMIT 1";
static const char sql_script_end[] =
	"UPDATE jobs SET state = ?2, reason = CASE WHEN ?2 = 'done' THEN reason ELSE ?3 END,"
	" ended_at = ?4 WHERE id = ?1 AND state = 'processing'";

struct cp_drone_local {
	pthread_t thread;
	pthread_t processor;
	bool processor_started;
	atomic_bool stopping;
	atomic_bool processor_done;
	struct cp_db *db;
	struct cp_db *pdb;  /* the processing thread's own connection */
	char data_dir[PATH_MAX];
	char dataplane[PATH_MAX];
};

/* the job the runner is running */
struct running {
	int64_t id;
	pid_t pid;
	int64_t started_ms, max_duration_ms, signalled_ms;
	bool has_script;
};

int
cp_drone_dataplane(const struct cp_options *o, char *out, size_t size)
{
	if (o->dataplane_path && o->dataplane_path[0]) {
		if ((size_t)snprintf(out, size, "%s", o->dataplane_path) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, size, "%s/tide-dataplane", self) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int
cp_drone_job_path(const char *data_dir, int64_t id, const char *suffix, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/jobs/%lld%s", data_dir, (long long)id, suffix);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* In the child, between fork and exec: async-signal-safe calls only. Never returns. */
static void
child_exec(pid_t parent, int out_fd, const char *path, char *const argv[])
{
	sigset_t none;
	sigemptyset(&none);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127); /* the control plane is already gone */
	setpgid(0, 0);
	int in = open("/dev/null", O_RDONLY);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	close_range(3, ~0u, 0);
	execv(path, argv);
	_exit(127);
}

static pid_t
spawn(int out_fd, const char *path, char *const argv[])
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child_exec(parent, out_fd, path, argv);
	return pid < 0 ? -errno : pid;
}

/* The last non-empty line of text (len bytes), without a "tide-dataplane: " prefix. */
static void
last_line(char *text, size_t len, char *out, size_t size)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	text[len] = '\0';
	char *line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	static const char prefix[] = "tide-dataplane: ";
	if (strncmp(line, prefix, sizeof(prefix) - 1) == 0)
		line += sizeof(prefix) - 1;
	snprintf(out, size, "%s", line);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cp_drone_check_filter(const char *dataplane, const char *filter, char *msg, size_t size)
{
	int fds[2];
	msg[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	char *argv[] = { (char *)dataplane, (char *)"--check-filter", (char *)"--filter",
		(char *)filter, NULL };
	pid_t pid = spawn(fds[1], dataplane, argv);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return (int)pid;
	}
	char buf[4096];
	size_t len = 0;
	int64_t deadline = mono_ms() + CP_FILTER_CHECK_TIMEOUT_MS;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - mono_ms();
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			timed_out = true;
			break;
		}
		ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			len = 0; /* only the end matters; a runaway child is cut by the deadline */
	}
	close(fds[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return -ETIMEDOUT;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	last_line(buf, len, msg, size);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return -EINVAL;
	cp_warn("drone", "%s --check-filter failed (status %d): %s", dataplane, status, msg);
	return -EIO;
}

/* ---- restart reconciliation ------------------------------------------------------------ */

/* Is pid a live (not zombie) process running the dataplane? Guards against pid reuse. */
static bool
is_dataplane(pid_t pid, const char *dataplane)
{
	char link[64], exe[PATH_MAX], want[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return false; /* gone, or a zombie */
	exe[n] = '\0';
	if (!realpath(dataplane, want))
		return false;
	return strcmp(exe, want) == 0;
}

static int
recover(struct cp_drone_local *d)
{
	int64_t ids[256];
	pid_t pids[256];
	int n = 0, rc;
	sqlite3_stmt *st = cp_db_stmt(d->db, sql_recover);
	if (!st)
		return -EIO;
	while (n < 256 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids[n] = sqlite3_column_int64(st, 0);
		pids[n++] = (pid_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0 && is_dataplane(pids[i], d->dataplane)) {
			cp_warn("drone", "job %lld: killing its dataplane (pid %d) left by an earlier "
				"control plane", (long long)ids[i], (int)pids[i]);
			kill(pids[i], SIGKILL);
			for (int t = 0; t < 100 && is_dataplane(pids[i], d->dataplane); t++)
				usleep(50000); /* at most 5 s: SIGKILL is not ignorable */
		}
		st = cp_db_stmt(d->db, sql_fail_restarted);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, cp_now_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return cp_db_errno(rc);
		cp_warn("drone", "job %lld failed: control plane restarted", (long long)ids[i]);
	}
	return 0;
}

/* ---- running jobs ---------------------------------------------------------------------- */

static int
write_key(const char *path)
{
	unsigned char key[32];
	char hex[65];
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, hex, 64) == 64 && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

static int
step_ids(struct cp_db *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

static void
finish(struct cp_drone_local *d, int64_t id, const char *state, const char *reason,
	json_t *counters)
{
	char *text = json_dumps(counters ? counters : json_object(), JSON_COMPACT);
	sqlite3_stmt *st = cp_db_stmt(d->db, sql_finish);
	int rc = SQLITE_ERROR;
	if (st && text) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, cp_now_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (rc != SQLITE_DONE)
		cp_error("drone", "job %lld: cannot record its end", (long long)id);
	else
		cp_info("drone", "job %lld ended: %s (%s)", (long long)id, state, reason);
	free(text);
	json_decref(counters);
}

/* Starts the oldest pending job of the link, if any. 1 when one runs, 0 when none, or -errno. */
static int
start_next(struct cp_drone_local *d, struct running *run)
{
	sqlite3_stmt *st = cp_db_stmt(d->db, sql_next);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, CP_DRONE_LOCAL_LINK, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	int64_t id = sqlite3_column_int64(st, 0);
	char filter[4096], session_type[16], max_size[32], max_dur[32], snaplen[32];
	snprintf(filter, sizeof(filter), "%s", sqlite3_column_text(st, 1));
	snprintf(max_size, sizeof(max_size), "%lld", (long long)sqlite3_column_int64(st, 2));
	int64_t dur = sqlite3_column_int64(st, 3);
	snprintf(max_dur, sizeof(max_dur), "%lld", (long long)dur);
	int64_t snap = sqlite3_column_int64(st, 4);
	snprintf(snaplen, sizeof(snaplen), "%lld", (long long)snap);
	bool anon = sqlite3_column_int(st, 5) != 0, classify = sqlite3_column_int(st, 6) != 0;
	snprintf(session_type, sizeof(session_type), "%s", sqlite3_column_text(st, 7));
	bool has_script = sqlite3_column_int(st, 8) != 0;
	sqlite3_reset(st);

	int rc = step_ids(d->db, sql_claim, id, cp_now_ms());
	if (rc || cp_db_changes(d->db) != 1)
		return rc; /* cancelled meanwhile: the next poll looks again */

	char out[PATH_MAX], log[PATH_MAX], key[PATH_MAX], key_arg[PATH_MAX + 1], jobs[PATH_MAX];
	if (snprintf(jobs, sizeof(jobs), "%s/jobs", d->data_dir) >= (int)sizeof(jobs) ||
		cp_drone_job_path(d->data_dir, id, "", out, sizeof(out)) ||
		cp_drone_job_path(d->data_dir, id, ".log", log, sizeof(log)) ||
		cp_drone_job_path(d->data_dir, id, ".key", key, sizeof(key))) {
		finish(d, id, "failed", "data directory path too long", NULL);
		return 0;
	}
	if (mkdir(jobs, 0700) != 0 && errno != EEXIST) {
		finish(d, id, "failed", "cannot create the jobs directory", NULL);
		return 0;
	}
	char *argv[MAX_ARGS];
	int n = 0;
	argv[n++] = d->dataplane;
	argv[n++] = (char *)"--demo";
	argv[n++] = (char *)"--out";
	argv[n++] = out;
	argv[n++] = (char *)"--drone";
	argv[n++] = (char *)CP_DRONE_LOCAL_NAME;
	if (filter[0]) {
		argv[n++] = (char *)"--filter";
		argv[n++] = filter;
	}
	argv[n++] = (char *)"--max-size";
	argv[n++] = max_size;
	argv[n++] = (char *)"--max-duration";
	argv[n++] = max_dur;
	if (snap > 0) {
		argv[n++] = (char *)"--snaplen";
		argv[n++] = snaplen;
	}
	if (anon) {
		if (write_key(key)) {
			finish(d, id, "failed", "cannot write the anonymisation key", NULL);
			return 0;
		}
		snprintf(key_arg, sizeof(key_arg), "@%s", key);
		argv[n++] = (char *)"--anon-key";
		argv[n++] = key_arg;
	}
	if (classify) {
		argv[n++] = (char *)"--classify";
		argv[n++] = (char *)"--session-type";
		argv[n++] = session_type;
	}
	argv[n++] = (char *)"--quiet";
	argv[n] = NULL;

	int log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log_fd < 0) {
		finish(d, id, "failed", "cannot create the job's log", NULL);
		return 0;
	}
	pid_t pid = spawn(log_fd, d->dataplane, argv);
	close(log_fd);
	if (pid < 0) {
		finish(d, id, "failed", "cannot start tide-dataplane", NULL);
		return 0;
	}
	rc = step_ids(d->db, sql_set_pid, id, pid);
	if (rc)
		cp_error("drone", "job %lld: cannot record pid %d", (long long)id, (int)pid);
	cp_info("drone", "job %lld running: pid %d", (long long)id, (int)pid);
	run->id = id;
	run->pid = pid;
	run->started_ms = mono_ms();
	run->max_duration_ms = dur * 1000;
	run->signalled_ms = 0;
	run->has_script = has_script;
	return 1;
}

/* The child has exited with status: record how the job ended. */
static void
reap(struct cp_drone_local *d, const struct running *run, int status)
{
	char path[PATH_MAX], reason[REASON_MAX] = "";
	json_t *counters = json_object();
	if (cp_drone_job_path(d->data_dir, run->id, "/manifest.json", path, sizeof(path)) == 0) {
		json_t *m = json_load_file(path, 0, NULL);
		json_t *c = json_object_get(m, "counters");
		if (json_is_object(c))
			json_object_update(counters, c);
		const char *why = json_string_value(json_object_get(m, "stop_reason"));
		if (why) {
			json_object_set_new(counters, "stop_reason", json_string(why));
			snprintf(reason, sizeof(reason), "%s", why);
		}
		json_decref(m);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* the processing thread takes it from here (a cancelled job stays cancelled) */
		finish(d, run->id, run->has_script ? "processing" : "done", reason, counters);
		return;
	}
	char text[8192];
	size_t len = 0;
	if (cp_drone_job_path(d->data_dir, run->id, ".log", path, sizeof(path)) == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			off_t end = lseek(fd, 0, SEEK_END);
			off_t from = end > (off_t)sizeof(text) - 1 ? end - (off_t)sizeof(text) + 1 : 0;
			ssize_t n = pread(fd, text, sizeof(text) - 1, from);
			len = n > 0 ? (size_t)n : 0;
			close(fd);
		}
	}
	last_line(text, len, reason, sizeof(reason));
	if (!reason[0] && WIFSIGNALED(status))
		snprintf(reason, sizeof(reason), "tide-dataplane killed by signal %d",
			WTERMSIG(status));
	else if (!reason[0])
		snprintf(reason, sizeof(reason), "tide-dataplane exited with status %d",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	finish(d, run->id, "failed", reason, counters);
}

/* A running job: stop it when asked (state finishing or cancelled), when it overruns its
 * duration by OVERRUN_MS, or when the control plane stops; SIGKILL after STOP_GRACE_MS. */
static void
supervise(struct cp_drone_local *d, struct running *run)
{
	int64_t now = mono_ms();
	bool stop = atomic_load(&d->stopping) ||
		now - run->started_ms > run->max_duration_ms + OVERRUN_MS;
	if (!stop && !run->signalled_ms) {
		sqlite3_stmt *st = cp_db_stmt(d->db, sql_state);
		if (st) {
			sqlite3_bind_int64(st, 1, run->id);
			if (sqlite3_step(st) == SQLITE_ROW) {
				const char *s = (const char *)sqlite3_column_text(st, 0);
				stop = strcmp(s, "running") != 0;
			}
			sqlite3_reset(st);
		}
	}
	if (stop && !run->signalled_ms) {
		kill(run->pid, SIGINT);
		run->signalled_ms = now;
	} else if (run->signalled_ms && now - run->signalled_ms > STOP_GRACE_MS) {
		kill(run->pid, SIGKILL);
	}
}

static void *
runner(void *arg)
{
	struct cp_drone_local *d = arg;
	struct running run = { 0 };
	for (;;) {
		if (run.pid > 0) {
			int status;
			pid_t w = waitpid(run.pid, &status, WNOHANG);
			if (w == run.pid) {
				reap(d, &run, status);
				memset(&run, 0, sizeof(run));
				continue;
			}
			supervise(d, &run);
		} else if (atomic_load(&d->stopping)) {
			break;
		} else if (start_next(d, &run) < 0) {
			cp_error("drone", "cannot read the job queue");
		}
		cp_db_reset_all(d->db);
		usleep(CP_DRONE_POLL_MS * 1000);
	}
	return NULL;
}

/* ---- post-processing ------------------------------------------------------------------- */

/* The sandbox uid reads the dataset: files 0644, directories 0755 (symlinks are left alone;
 * the data directory above stays 0700). */
static int
open_up(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_F)
		return chmod(path, 0644) == 0 ? 0 : -errno;
	if (type == FTW_D)
		return chmod(path, 0755) == 0 ? 0 : -errno;
	return 0;
}

static int
set_script_end(struct cp_drone_local *d, int64_t id, const char *state, const char *reason)
{
	sqlite3_stmt *st = cp_db_stmt(d->pdb, sql_script_end);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, cp_now_ms());
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return cp_db_errno(rc);
	cp_info("drone", "job %lld ended: %s (%s)", (long long)id, state, reason);
	return 0;
}

/* Runs the script of job id over its dataset; blocks for the run (at most its timeout plus the
 * sandbox's grace and copy-out). Records done or failed with the reason. */
static void
process_job(struct cp_drone_local *d, int64_t id, uint32_t timeout_s)
{
	char script[PATH_MAX], dataset[PATH_MAX], processed[PATH_MAX], log[PATH_MAX];
	char reason[REASON_MAX];
	int rc = 0;
	if (cp_drone_job_path(d->data_dir, id, ".sh", script, sizeof(script)) ||
		cp_drone_job_path(d->data_dir, id, "", dataset, sizeof(dataset)) ||
		cp_drone_job_path(d->data_dir, id, "/processed", processed, sizeof(processed)) ||
		cp_drone_job_path(d->data_dir, id, ".script.log", log, sizeof(log)))
		rc = -ENAMETOOLONG;
	if (rc == 0 && mkdir(processed, 0755) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0)
		rc = nftw(dataset, open_up, 16, FTW_PHYS);
	if (rc > 0)
		rc = -EIO; /* nftw's own failure */
	struct cp_sandbox_params p = {
		.script_path = script,
		.dataset_dir = dataset,
		.processed_dir = processed,
		.log_path = log,
		.timeout_s = timeout_s,
	};
	struct cp_sandbox_result res;
	memset(&res, 0, sizeof(res));
	if (rc == 0) {
		cp_info("drone", "job %lld processing: %s", (long long)id, script);
		rc = cp_sandbox_run(&p, &res);
	}
	const char *state = "failed";
	if (rc < 0)
		snprintf(reason, sizeof(reason), "script could not run: %s", strerror(-rc));
	else if (res.timed_out)
		snprintf(reason, sizeof(reason), "script timed out");
	else if (res.exit_status < 0)
		snprintf(reason, sizeof(reason), "script was stopped");
	else if (res.exit_status != 0)
		snprintf(reason, sizeof(reason), "script exited %d", res.exit_status);
	else
		state = "done", reason[0] = '\0';
	if ((rc = set_script_end(d, id, state, reason)))
		cp_error("drone", "job %lld: cannot record the script's end: %s", (long long)id,
			strerror(-rc));
}

static void *
processor(void *arg)
{
	struct cp_drone_local *d = arg;
	while (!atomic_load(&d->stopping)) {
		sqlite3_stmt *st = cp_db_stmt(d->pdb, sql_next_script);
		int64_t id = 0, timeout = 0;
		if (st && sqlite3_step(st) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			timeout = sqlite3_column_int64(st, 1);
		}
		if (st)
			sqlite3_reset(st);
		if (id > 0)
			process_job(d, id, timeout > 0 && timeout <= UINT32_MAX ? (uint32_t)timeout : 0);
		cp_db_reset_all(d->pdb);
		if (id <= 0)
			usleep(CP_DRONE_POLL_MS * 1000);
	}
	atomic_store(&d->processor_done, true);
	return NULL;
}

struct cp_drone_local *
cp_drone_local_start(const struct cp_options *o, const char *db_path)
{
	struct cp_drone_local *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	int rc = cp_drone_dataplane(o, d->dataplane, sizeof(d->dataplane));
	if (rc == 0 && (size_t)snprintf(d->data_dir, sizeof(d->data_dir), "%s", o->data_dir) >=
		sizeof(d->data_dir))
		rc = -ENAMETOOLONG;
	if (rc == 0 && !(d->db = cp_db_open(db_path)))
		rc = -errno;
	if (rc == 0 && !(d->pdb = cp_db_open(db_path)))
		rc = -errno;
	if (rc == 0)
		rc = recover(d);
	if (rc == 0)
		rc = -pthread_create(&d->processor, NULL, processor, d);
	d->processor_started = rc == 0;
	if (rc == 0)
		rc = -pthread_create(&d->thread, NULL, runner, d);
	if (rc) {
		cp_error("drone", "cannot start the local drone: %s", strerror(-rc));
		atomic_store(&d->stopping, true);
		if (d->processor_started)
			pthread_join(d->processor, NULL);
		cp_db_close(d->pdb);
		cp_db_close(d->db);
		free(d);
		errno = -rc;
		return NULL;
	}
	if (access(d->dataplane, X_OK) != 0)
		cp_warn("drone", "%s is not executable: jobs will fail", d->dataplane);
	return d;
}

void
cp_drone_local_stop(struct cp_drone_local *d)
{
	if (!d)
		return;
	atomic_store(&d->stopping, true);
	pthread_join(d->thread, NULL);
	/* a script run is not interrupted: wait a little, then leave it to die with the process
	 * (the sandbox dies with its parent); the next start fails the job as restarted */
	for (int t = 0; t < PROCESSOR_JOIN_MS / 50 && !atomic_load(&d->processor_done); t++)
		usleep(50000);
	if (!atomic_load(&d->processor_done)) {
		cp_warn("drone", "a post-processing script is still running: left behind");
		cp_db_close(d->db);
		return; /* d and pdb stay with the running thread */
	}
	pthread_join(d->processor, NULL);
	cp_db_close(d->pdb);
	cp_db_close(d->db);
	free(d);
}
