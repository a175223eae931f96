/* cp_sandbox_cgroup.h — the sandbox's resource limits through cgroups (v2, else v1), used by
 * cp_sandbox.c for each run: a cgroup per run with memory and process limits, its counters at
 * the end (was memory or pids exceeded?), and its removal. Not for other callers. */
#ifndef CP_SANDBOX_CGROUP_H
#define CP_SANDBOX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cp_sandbox.h"

struct cp_cgroup {
	enum cp_sandbox_limiter kind;
	char dir[2][PATH_MAX]; /* v2: [0]; v1: [0] memory, [1] pids ("" when absent) */
	char procs[2][PATH_MAX + sizeof("/cgroup.procs")];
	bool pids; /* pids.max is set */
};

/* A v2 cgroup under parent (or tide-control's own) named after the run: 0 or -errno. */
int cp_cgroup_v2(struct cp_cgroup *cg, const char *parent, uint64_t mem, uint32_t procs,
	const char *name);
/* v1 memory and pids cgroups: 0 or -errno. */
int cp_cgroup_v1(struct cp_cgroup *cg, uint64_t mem, uint32_t procs, const char *name);
/* Removes what cp_cgroup_v2/v1 made (the processes must have ended). */
void cp_cgroup_remove(struct cp_cgroup *cg);
/* The value of `key` in a flat-keyed counter file of dir (0 when absent). */
uint64_t cp_cgroup_counter(const char *dir, const char *file, const char *key);
/* Writes value into dir/file: 0 or -errno. */
int cp_cgroup_write(const char *dir, const char *file, const char *value);

#endif
