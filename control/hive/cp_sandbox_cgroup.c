/* cp_sandbox_cgroup.c — cgroups for the post-processing sandbox (see cp_sandbox_cgroup.h): one
 * per run, v2 when the host delegates it, else v1 memory + pids, else rlimits only (the caller
 * falls back). Split from cp_sandbox.c, which runs the script. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tide_log.h"
#include "cp_sandbox_cgroup.h"
#include "tide_fs.h"
#include "tide_time.h"

/* how long a removal waits for the last tasks of a run to leave its cgroup */
#define CGROUP_DRAIN_MS 1000

int
cp_cgroup_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = tide_write_all(fd, value, strlen(value)) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int
cg_read(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

/* The value of "key N" in a flat-keyed cgroup file (memory.events, pids.events, ...); 0 when
 * absent or unreadable, which for counters of limit hits is the safe reading. */
uint64_t
cp_cgroup_counter(const char *dir, const char *file, const char *key)
{
	char buf[2048];
	if (!dir[0] || cg_read(dir, file, buf, sizeof(buf)) < 0)
		return 0;
	size_t klen = strlen(key);
	for (char *line = buf; *line;) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return strtoull(line + klen + 1, NULL, 10);
		char *nl = strchr(line, '\n');
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static bool
has_word(const char *list, const char *word, char sep)
{
	size_t len = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += len)
		if ((p == list || p[-1] == sep || p[-1] == ' ') &&
			(p[len] == '\0' || p[len] == sep || p[len] == ' ' || p[len] == '\n'))
			return true;
	return false;
}

/* tide-control's own cgroup path for a v1 controller, or the v2 one when controller is NULL. */
static int
own_cgroup(const char *controller, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 128];
	int rc = -ENOENT;
	while (rc && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		bool match = controller ? has_word(c1 + 1, controller, ',') : (c1[1] == '\0');
		if (match && (size_t)snprintf(out, size, "%s", c2 + 1) < size)
			rc = 0;
	}
	fclose(f);
	return rc;
}

void
cp_cgroup_remove(struct cp_cgroup *cg)
{
	for (int i = 0; i < 2; i++) {
		if (!cg->dir[i][0])
			continue;
		/* the last tasks may still be exiting; bounded by CGROUP_DRAIN_MS */
		for (int64_t end = tide_mono_ms() + CGROUP_DRAIN_MS; rmdir(cg->dir[i]) < 0 && errno == EBUSY &&
			tide_mono_ms() < end;)
			usleep(10000);
		cg->dir[i][0] = '\0';
	}
}

int
cp_cgroup_v2(struct cp_cgroup *cg, const char *parent_in, uint64_t mem, uint32_t procs, const char *name)
{
	char parent[PATH_MAX], own[PATH_MAX], buf[512];
	if (parent_in) {
		if ((size_t)snprintf(parent, sizeof(parent), "%s", parent_in) >= sizeof(parent))
			return -ENAMETOOLONG;
	} else {
		if (access("/sys/fs/cgroup/cgroup.controllers", R_OK) < 0)
			return -ENOENT; /* not a unified hierarchy */
		int rc = own_cgroup(NULL, own, sizeof(own));
		if (rc < 0)
			return rc;
		if ((size_t)snprintf(parent, sizeof(parent), "/sys/fs/cgroup%s", own) >= sizeof(parent))
			return -ENAMETOOLONG;
	}
	if (cg_read(parent, "cgroup.controllers", buf, sizeof(buf)) < 0 || !has_word(buf, "memory", ' '))
		return -EOPNOTSUPP;
	if (cg_read(parent, "cgroup.subtree_control", buf, sizeof(buf)) < 0)
		return -EOPNOTSUPP;
	if (!has_word(buf, "memory", ' ')) {
		/* fails with EBUSY where tide-control itself lives in parent (no internal processes):
		 * give it a delegated cgroup_parent then */
		int rc = cp_cgroup_write(parent, "cgroup.subtree_control", "+memory");
		if (rc < 0)
			return rc;
	}
	if (!has_word(buf, "pids", ' '))
		cp_cgroup_write(parent, "cgroup.subtree_control", "+pids"); /* optional */
	if ((size_t)snprintf(cg->dir[0], PATH_MAX, "%s/%s", parent, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (mkdir(cg->dir[0], 0755) < 0) {
		cg->dir[0][0] = '\0';
		return -errno;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)mem);
	int rc = cp_cgroup_write(cg->dir[0], "memory.max", buf);
	if (rc == 0) {
		cp_cgroup_write(cg->dir[0], "memory.swap.max", "0"); /* absent without swap accounting */
		snprintf(buf, sizeof(buf), "%u", procs);
		cg->pids = cp_cgroup_write(cg->dir[0], "pids.max", buf) == 0;
		snprintf(cg->procs[0], sizeof(cg->procs[0]), "%s/cgroup.procs", cg->dir[0]);
		cg->kind = CP_SANDBOX_CGROUP_V2;
	}
	return rc;
}

int
cp_cgroup_v1(struct cp_cgroup *cg, uint64_t mem, uint32_t procs, const char *name)
{
	char own[PATH_MAX], buf[64];
	int rc = own_cgroup("memory", own, sizeof(own));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(cg->dir[0], PATH_MAX, "/sys/fs/cgroup/memory%s/%s", own, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (mkdir(cg->dir[0], 0755) < 0) {
		cg->dir[0][0] = '\0';
		return -errno;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)mem);
	rc = cp_cgroup_write(cg->dir[0], "memory.limit_in_bytes", buf);
	if (rc < 0)
		return rc;
	cp_cgroup_write(cg->dir[0], "memory.memsw.limit_in_bytes", buf); /* absent without swap accounting */
	snprintf(cg->procs[0], sizeof(cg->procs[0]), "%s/cgroup.procs", cg->dir[0]);
	cg->kind = CP_SANDBOX_CGROUP_V1;
	/* pids is optional: RLIMIT_NPROC still applies without it */
	if (own_cgroup("pids", own, sizeof(own)) < 0 ||
		(size_t)snprintf(cg->dir[1], PATH_MAX, "/sys/fs/cgroup/pids%s/%s", own, name) >= PATH_MAX ||
		mkdir(cg->dir[1], 0755) < 0) {
		cg->dir[1][0] = '\0';
		return 0;
	}
	snprintf(buf, sizeof(buf), "%u", procs);
	if (cp_cgroup_write(cg->dir[1], "pids.max", buf) < 0) {
		rmdir(cg->dir[1]);
		cg->dir[1][0] = '\0';
		return 0;
	}
	snprintf(cg->procs[1], sizeof(cg->procs[1]), "%s/cgroup.procs", cg->dir[1]);
	cg->pids = true;
	return 0;
}

