/* cp_drone_local.h — the appliance's own drone and the helpers that run tide-dataplane.
 *
 * The local drone is `tide-dataplane --hive ws[s]://127.0.0.1:PORT --drone local --link ...`
 * with PORT the drone listener's (cp_drone_ws.h; links from the local_links setting, the
 * embedded demo replay by default), started and kept running by the Hive once it listens; it dials in like any drone (cp_drones.h). Jobs are run
 * by the scheduler (cp_scheduler.h) on any drone's links.
 *
 * Layout under DATA_DIR/jobs/: <id>/ the dataset, <id>.key the per-job anonymisation key
 * (0600, outside the dataset so it is never served), <id>.sh the post-processing script (0600)
 * and <id>.script.log its output. DATA_DIR/spool/ is the local drone's spool and
 * DATA_DIR/drone-local.log its log. */
#ifndef CP_DRONE_LOCAL_H
#define CP_DRONE_LOCAL_H

#include <stddef.h>
#include <stdint.h>

struct cp_options;
struct cp_drone_local;

#define CP_DRONE_LOCAL_NAME "local"
#define CP_DRONE_LOCAL_LINK "demo" /* the default local link: the embedded demo replay */
#define CP_FILTER_CHECK_TIMEOUT_MS 5000

/* The tide-dataplane to run: the dataplane_path setting, else the one next to this
 * executable. 0 or -errno (-ENAMETOOLONG). */
int cp_drone_dataplane(const struct cp_options *o, char *out, size_t size);

/* Checks a job's filter and application list in one `tide-dataplane --check-filter [--filter
 * FILTER] [--apps APPS]` (either may be NULL or "" and is then not passed): the filter is
 * compiled by libpcap, every name of apps (a canonical list, tide_job_apps_parse) must be an
 * application or a service of the drone's classifier tables. 0 when both are good; -EINVAL
 * when not, with the dataplane's last line in msg (libpcap's message for the filter; one that
 * begins "--apps:" for an unknown name); -ETIMEDOUT, or another -errno when the check could
 * not run. */
int cp_drone_check_filter(const char *dataplane, const char *filter, const char *apps, char *msg,
	size_t size);

/* DATA_DIR/jobs/<id>[suffix] into out. 0 or -ENAMETOOLONG. */
int cp_drone_job_path(const char *data_dir, int64_t id, const char *suffix, char *out,
	size_t size);

/* Issues the local drone a fresh token and starts it against the Hive on 127.0.0.1:port.
 * NULL when local_links is empty, or with errno set on failure. */
struct cp_drone_local *cp_drone_local_start(const struct cp_options *o, const char *db_path,
	int port);
/* Stops the local drone (SIGTERM: it stops its captures; SIGKILL after a grace period). */
void cp_drone_local_stop(struct cp_drone_local *d);

#endif
