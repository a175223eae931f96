/* dp_agent.h — the drone agent's state, shared by its main loop (dp_drone.c) and its spool
 * and upload thread (dp_spool.c). Private to dataplane/drone/. */
#ifndef DP_AGENT_H
#define DP_AGENT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dp_hive.h"
#include "dp_live.h"
#include "dp_upload.h"

#define MAX_LINKS 16
#define MAX_CAPTURES 64
#define TICK_MS 100
#define STATUS_MS 1000
#define BACKOFF_MAX_MS 5000
#define MAX_UPLOAD_FILES 4096
#define UPLOAD_RETRY_MS 1000     /* a Hive that cannot take files now: next round after this, */
#define UPLOAD_RETRY_MAX_MS 30000 /* doubling up to this */
#define LINK_NAME_MAX TIDE_NAME_MAX
#define WS_PATH "/api/v1/drones/connect"
#define UPLOAD_PREFIX "/api/v1/drones/upload/"

enum cap_state { CAP_FREE, CAP_RUNNING, CAP_STOPPING, CAP_UPLOADING, CAP_REPORTING };

struct capture {
	enum cap_state state;
	long long job;
	int link;
	int slot;              /* its job slot in the dataplane while running or finishing */
	bool cancelled, leftover;
	bool upload_refused;   /* the Hive refused a file for good: the capture failed (reason) */
	bool exit_ok;          /* the dataplane closed its dataset without an error */
	int64_t started_ms;
	char dir[PATH_MAX];
	char reason[256];
	json_t *sent;          /* shards uploaded while it ran [{path, size, sha256}] (uploader) */
	/* a shard the Hive refused for good while the capture ran: the final upload reports
	 * this answer instead of sending the file again (uploader) */
	char refused_dest[600];
	struct dp_upload_answer refused;
	json_t *counters;      /* live, from the dataplane; final, from the manifest */
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
	char **argv;           /* our own, to re-execute with a new tuning */
	struct dp_live_link links[MAX_LINKS];
	int n_links;
	struct capture caps[MAX_CAPTURES];
	json_t *tuning;        /* as last received; {} = defaults */
	json_t *running;       /* the tuning the dataplane started with */
	json_t *dataplane;     /* what it runs with: lcores, workers, … (for the hello) */
	bool dataplane_up;
	char dataplane_error[512];
	bool restart_pending;  /* a new tuning waits for the captures to end */
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

/* dp_drone.c */
int find_link(const struct agent *a, const char *name);
json_t *counters_from(json_t *t);   /* dataplane or manifest counters → the Hive's */

/* dp_spool.c: the spool (SPOOL/<job>-<link>/) and the upload thread */
void *dp_spool_uploader(void *arg);                 /* pthread entry; arg: the agent */
void dp_spool_release(struct agent *a, struct capture *c); /* spool copy gone, slot free */
void dp_spool_adopt_leftovers(struct agent *a);     /* captures an earlier process left */
int dp_spool_remove_tree(const char *path);

#endif
