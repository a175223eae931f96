/* tidectl_telemetry.c — DPDK telemetry client (see tidectl_telemetry.h).
 *
 * The protocol (DPDK's lib/telemetry, socket dpdk_telemetry.v2): connect a SOCK_SEQPACKET
 * socket, read one greeting {"version","pid","max_output_len"}, then send a command and read
 * one message {"<command>": value}. Directories of dead processes stay behind in
 * /var/run/dpdk, so discovery connects to each candidate: a refused connection means dead. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tidectl_telemetry.h"

#define TIMEOUT_MS 2000

struct tc_tel {
	int fd;
	pid_t pid;
	size_t max_len;
	char version[64];
	char *buf;
};

static ssize_t
recv_timed(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, TIMEOUT_MS);
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r < 0)
		return -1;
	return recv(fd, buf, len, 0);
}

struct tc_tel *
tc_tel_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	char hello[1024];
	ssize_t n = recv_timed(fd, hello, sizeof(hello) - 1);
	if (n <= 0) {
		close(fd);
		errno = n == 0 ? ECONNRESET : errno;
		return NULL;
	}
	hello[n] = '\0';
	json_t *j = json_loads(hello, 0, NULL);
	struct tc_tel *t = calloc(1, sizeof(*t));
	if (!t || !j) {
		json_decref(j);
		free(t);
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	t->fd = fd;
	t->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	json_int_t ml = json_integer_value(json_object_get(j, "max_output_len"));
	t->max_len = ml > 0 && ml < (1 << 24) ? (size_t)ml : 16384;
	snprintf(t->version, sizeof(t->version), "%s",
		json_string_value(json_object_get(j, "version")) ?: "?");
	json_decref(j);
	/* answers are at most max_output_len; a little more for the command's key */
	t->max_len += 4096;
	t->buf = malloc(t->max_len + 1);
	if (!t->buf) {
		tc_tel_close(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

json_t *
tc_tel_cmd(struct tc_tel *t, const char *cmd)
{
	if (send(t->fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0)
		return NULL;
	ssize_t n = recv_timed(t->fd, t->buf, t->max_len);
	if (n <= 0) {
		if (n == 0)
			errno = ECONNRESET;
		return NULL;
	}
	t->buf[n] = '\0';
	json_t *j = json_loadb(t->buf, (size_t)n, 0, NULL);
	json_t *v = json_incref(json_object_get(j, cmd));
	json_decref(j);
	if (!v)
		errno = EPROTO;
	return v;
}

void
tc_tel_close(struct tc_tel *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t->buf);
	free(t);
}

pid_t
tc_tel_pid(const struct tc_tel *t)
{
	return t->pid;
}

const char *
tc_tel_version(const struct tc_tel *t)
{
	return t->version;
}

void
tc_tel_path(const char *arg, char *out, size_t len)
{
	if (strchr(arg, '/'))
		snprintf(out, len, "%s", arg);
	else
		snprintf(out, len, "/var/run/dpdk/%s/dpdk_telemetry.v2", arg);
}

static void
scan(const char *base, char *best, size_t len, double *best_mtime)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	/* bounded by the directory's entries; each probe is one connect */
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "tide", 4) != 0)
			continue;
		char path[512];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s/dpdk_telemetry.v2", base, e->d_name);
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		double mt = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
		if (mt <= *best_mtime)
			continue;
		struct tc_tel *t = tc_tel_open(path);
		if (!t)
			continue;
		tc_tel_close(t);
		*best_mtime = mt;
		snprintf(best, len, "%s", path);
	}
	closedir(d);
}

int
tc_tel_discover(char *out, size_t len)
{
	double best = 0;
	out[0] = '\0';
	scan("/var/run/dpdk", out, len, &best);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg) {
		char base[512];
		snprintf(base, sizeof(base), "%s/dpdk", xdg);
		scan(base, out, len, &best);
	}
	return out[0] ? 0 : -ENOENT;
}
