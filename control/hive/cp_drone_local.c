/* cp_drone_local.c — the appliance's own drone, and the helpers that run tide-dataplane.
 *
 * The local drone is a real drone: `tide-dataplane --hive ws[s]://127.0.0.1:PORT --drone local
 * --link ...` started by the Hive as a child once HTTP is up, dialling in over the same
 * WebSocket as any remote drone (cp_drones.c) with a token made afresh at every start (only
 * its hash is stored; the child gets it in its environment). A supervisor thread restarts the
 * drone if it exits. The child dies with the Hive (PR_SET_PDEATHSIG), and its captures with
 * it; the next drone process uploads what they completed (dp_drone.c).
 *
 * With TLS (--tls-cert/--tls-key) the drone listener serves only wss://, so the local drone
 * dials wss://127.0.0.1:PORT and trusts exactly the Hive's own certificate (--hive-ca), checking
 * the name that certificate carries (--hive-name: its first DNS or IP subjectAltName, else its
 * common name), as a remote drone checks the name it dials: the certificate need not name
 * 127.0.0.1.
 *
 * Children are started with fork/execv and an argv built beforehand — never a shell. Between
 * fork and exec the child only makes async-signal-safe calls. */
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

#include <arpa/inet.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "cp_db.h"
#include "cp_child.h"
#include "cp_drone_local.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_crypto.h"
#include "cp_drones.h"
#include "tide_time.h"

#define MAX_ARGS 64
#define STOP_GRACE_MS 8000   /* SIGTERM → SIGKILL when the local drone does not exit */
#define RESTART_MS 1000      /* pause before restarting a local drone that exited */

static const char sql_local_token[] =
	"UPDATE drones SET token_hash = ?1 WHERE name = '" CP_DRONE_LOCAL "'";

struct cp_drone_local {
	pthread_t thread;
	atomic_bool stopping;
	char dataplane[PATH_MAX];
	char hive[64];
	char hive_ca[PATH_MAX];     /* with TLS: the Hive's certificate, "" without */
	char hive_name[256];        /* ... and the name it carries */
	char spool[PATH_MAX];
	char log[PATH_MAX];
	char token[CP_DRONE_TOKEN_MAX];
	char links[4096];
	pid_t pid;
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
	/* installed: beside tide-control; in a build tree: where meson made it */
	if ((size_t)snprintf(out, size, "%s/tide-dataplane", self) >= size)
		return -ENAMETOOLONG;
#ifdef CP_BUILD_DATAPLANE
	if (access(out, X_OK) != 0 && access(CP_BUILD_DATAPLANE, X_OK) == 0 &&
		(size_t)snprintf(out, size, "%s", CP_BUILD_DATAPLANE) >= size)
		return -ENAMETOOLONG;
#endif
	return 0;
}

int
cp_drone_job_path(const char *data_dir, int64_t id, const char *suffix, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/jobs/%lld%s", data_dir, (long long)id, suffix);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* In the child, between fork and exec (cp_child.h). Never returns. */
static void
child_exec(pid_t parent, int out_fd, const char *path, char *const argv[])
{
	if (cp_child_reset_signals() != 0)
		_exit(127);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127); /* the control plane is already gone */
	setpgid(0, 0);
	int in = open("/dev/null", O_RDONLY);
	if (in < 0 || cp_child_stdio(in, out_fd) != 0 || cp_child_close_fds(NULL, 0) != 0)
		_exit(127);
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


int
cp_drone_check_filter(const char *dataplane, const char *filter, const char *apps, char *msg,
	size_t size)
{
	int fds[2];
	msg[0] = '\0';
	/* each one argv element, never a shell word */
	char *argv[7];
	int argc = 0;
	argv[argc++] = (char *)dataplane;
	argv[argc++] = (char *)"--check-filter";
	if (filter && filter[0]) {
		argv[argc++] = (char *)"--filter";
		argv[argc++] = (char *)filter;
	}
	if (apps && apps[0]) {
		argv[argc++] = (char *)"--apps";
		argv[argc++] = (char *)apps;
	}
	argv[argc] = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	pid_t pid = spawn(fds[1], dataplane, argv);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return (int)pid;
	}
	char buf[4096];
	size_t len = 0;
	int64_t deadline = tide_mono_ms() + CP_FILTER_CHECK_TIMEOUT_MS;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - tide_mono_ms();
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
	tide_warn("drone", "%s --check-filter failed (status %d): %s", dataplane, status, msg);
	return -EIO;
}

/* ---- the local drone ------------------------------------------------------------------- */

static pid_t
start_drone(struct cp_drone_local *d)
{
	char *argv[MAX_ARGS], links[sizeof(d->links)];
	int n = 0;
	argv[n++] = d->dataplane;
	argv[n++] = (char *)"--hive";
	argv[n++] = d->hive;
	argv[n++] = (char *)"--drone";
	argv[n++] = (char *)CP_DRONE_LOCAL;
	argv[n++] = (char *)"--spool";
	argv[n++] = d->spool;
	if (d->hive_ca[0]) {
		argv[n++] = (char *)"--hive-ca";
		argv[n++] = d->hive_ca;
		argv[n++] = (char *)"--hive-name";
		argv[n++] = d->hive_name;
	}
	snprintf(links, sizeof(links), "%s", d->links);
	char *save = NULL;
	for (char *l = strtok_r(links, ";", &save); l && n < MAX_ARGS - 3;
		l = strtok_r(NULL, ";", &save)) {
		while (*l == ' ')
			l++;
		if (!*l)
			continue;
		argv[n++] = (char *)"--link";
		argv[n++] = l;
	}
	argv[n] = NULL;
	int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	/* the token reaches the child in its environment, never on its command line */
	setenv("TIDE_DRONE_TOKEN", d->token, 1);
	pid_t pid = spawn(fd, d->dataplane, argv);
	unsetenv("TIDE_DRONE_TOKEN");
	close(fd);
	return pid;
}

static void *
supervisor(void *arg)
{
	struct cp_drone_local *d = arg;
	int64_t next_start = 0;
	while (!atomic_load(&d->stopping)) {
		if (d->pid > 0) {
			int status;
			if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
				tide_warn("drone", "the local drone (pid %d) exited (status %d); restarting it",
					(int)d->pid, status);
				d->pid = 0;
				next_start = tide_mono_ms() + RESTART_MS;
			}
		} else if (tide_mono_ms() >= next_start) {
			d->pid = start_drone(d);
			if (d->pid < 0) {
				tide_error("drone", "cannot start the local drone: %s", strerror(-d->pid));
				d->pid = 0;
				next_start = tide_mono_ms() + 5000;
			} else {
				tide_info("drone", "local drone started (pid %d, links %s)", (int)d->pid,
					d->links);
			}
		}
		usleep(100000);
	}
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int64_t deadline = tide_mono_ms() + STOP_GRACE_MS;
		int status;
		while (waitpid(d->pid, &status, WNOHANG) == 0 && tide_mono_ms() < deadline)
			usleep(50000);
		if (waitpid(d->pid, &status, WNOHANG) == 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
	}
	return NULL;
}

/* The name in the Hive's certificate that the local drone checks: the first DNS (a wildcard's
 * "*" made a label) or IP subjectAltName, else the common name. 0 or -errno after logging. */
static int
hive_trust(const char *cert_path, struct cp_drone_local *d)
{
	if (!realpath(cert_path, d->hive_ca)) {
		tide_error("drone", "the local drone cannot read %s: %s", cert_path, strerror(errno));
		return -errno;
	}
	FILE *f = fopen(d->hive_ca, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	GENERAL_NAMES *names = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
	d->hive_name[0] = '\0';
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !d->hive_name[0]; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS) {
			const char *dns = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			snprintf(d->hive_name, sizeof(d->hive_name), "%s%s",
				strncmp(dns, "*.", 2) == 0 ? "hive" : "", dns + (dns[0] == '*'));
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			inet_ntop(len == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(g->d.iPAddress),
				d->hive_name, sizeof(d->hive_name));
		}
	}
	GENERAL_NAMES_free(names);
	if (x && !d->hive_name[0])
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, d->hive_name,
			sizeof(d->hive_name));
	X509_free(x);
	if (!d->hive_name[0]) {
		tide_error("drone", "the local drone cannot find a name in %s (no subjectAltName or "
			"common name) to check the Hive's certificate against", d->hive_ca);
		return -EINVAL;
	}
	return 0;
}

struct cp_drone_local *
cp_drone_local_start(const struct cp_options *o, const char *db_path, int port)
{
	if (!o->local_links || !o->local_links[0])
		return NULL; /* no local drone */
	struct cp_drone_local *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	int rc = cp_drone_dataplane(o, d->dataplane, sizeof(d->dataplane));
	snprintf(d->hive, sizeof(d->hive), "%s://127.0.0.1:%d", o->tls_cert[0] ? "wss" : "ws", port);
	if (rc == 0 && o->tls_cert[0])
		rc = hive_trust(o->tls_cert, d);
	snprintf(d->links, sizeof(d->links), "%s", o->local_links);
	if (rc == 0 && ((size_t)snprintf(d->spool, sizeof(d->spool), "%s/spool", o->data_dir) >=
		sizeof(d->spool) || (size_t)snprintf(d->log, sizeof(d->log), "%s/drone-local.log",
		o->data_dir) >= sizeof(d->log)))
		rc = -ENAMETOOLONG;
	/* a fresh token at every start; only its hash is stored */
	uint8_t hash[32];
	if (rc == 0 && cp_drones_new_token(d->token, hash) == 0) {
		struct cp_db *db = cp_db_open(db_path);
		sqlite3_stmt *st = db ? cp_db_stmt(db, sql_local_token) : NULL;
		if (st) {
			sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_reset(st);
		} else {
			rc = -EIO;
		}
		cp_db_close(db);
	} else if (rc == 0) {
		rc = -EIO;
	}
	if (rc == 0)
		rc = -pthread_create(&d->thread, NULL, supervisor, d);
	if (rc) {
		tide_error("drone", "cannot start the local drone: %s", strerror(-rc));
		sodium_memzero(d->token, sizeof(d->token));
		free(d);
		errno = -rc;
		return NULL;
	}
	if (access(d->dataplane, X_OK) != 0)
		tide_warn("drone", "%s is not executable: the local drone cannot start", d->dataplane);
	return d;
}

void
cp_drone_local_stop(struct cp_drone_local *d)
{
	if (!d)
		return;
	atomic_store(&d->stopping, true);
	pthread_join(d->thread, NULL);
	sodium_memzero(d->token, sizeof(d->token));
	free(d);
}
