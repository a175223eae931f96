/* cp_drone_local.h — the appliance's own drone: runs capture jobs as tide-dataplane children.
 *
 * One thread owns every child. The API handlers never signal a process: they change a job's
 * state in the database (pending → cancelled, running → finishing or cancelled) and the runner,
 * which polls every CP_DRONE_POLL_MS, acts on it (SIGINT: the dataplane closes its shards and
 * writes manifest.json). So a state change is durable before it is acted on, and a control
 * plane killed at any point is reconciled at the next start: jobs left running are failed with
 * "control plane restarted" and their dataplane, if alive, is killed. Children also die with
 * the control plane (PR_SET_PDEATHSIG), so none outlives a kill -9.
 *
 * Layout under DATA_DIR/jobs/: <id>/ the dataset (the dataplane's --out), <id>.log the child's
 * stdout and stderr, <id>.key the per-job anonymisation key (0600, outside the dataset so it is
 * never served), <id>.sh the post-processing script (0600) and <id>.script.log its output.
 *
 * A job with a script goes to processing where it would have been done; a second thread runs the script
 * in the sandbox (cp_sandbox.h) and ends it done or failed, so the capture queue keeps moving.
 * Jobs left processing by an earlier process are failed "control plane restarted". */
#ifndef CP_DRONE_LOCAL_H
#define CP_DRONE_LOCAL_H

#include <stddef.h>
#include <stdint.h>

struct cp_options;
struct cp_drone_local;

#define CP_DRONE_LOCAL_NAME "local"
#define CP_DRONE_LOCAL_LINK "demo" /* the only local link for now: the embedded demo replay */
#define CP_DRONE_POLL_MS 200
#define CP_FILTER_CHECK_TIMEOUT_MS 5000

/* The tide-dataplane to run: the dataplane_path setting, else the one next to this
 * executable. 0 or -errno (-ENAMETOOLONG). */
int cp_drone_dataplane(const struct cp_options *o, char *out, size_t size);

/* Compiles filter with `tide-dataplane --check-filter`. 0 when valid; -EINVAL when not, with
 * libpcap's message in msg; -ETIMEDOUT, or another -errno when the check could not run. */
int cp_drone_check_filter(const char *dataplane, const char *filter, char *msg, size_t size);

/* DATA_DIR/jobs/<id>[suffix] into out. 0 or -ENAMETOOLONG. */
int cp_drone_job_path(const char *data_dir, int64_t id, const char *suffix, char *out,
	size_t size);

/* Reconciles jobs left running by an earlier process, then starts the runner thread.
 * NULL with errno set on failure. */
struct cp_drone_local *cp_drone_local_start(const struct cp_options *o, const char *db_path);
/* Stops the runner: a running job is stopped as by POST /jobs/{id}/stop (bounded wait). */
void cp_drone_local_stop(struct cp_drone_local *d);

#endif
