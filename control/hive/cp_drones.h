/* cp_drones.h — the Hive's side of the drone link: drones dial in over WebSocket.
 *
 * A drone (tide-dataplane --hive, dataplane/drone/dp_drone.c) connects to the drone listener
 * (cp_drone_ws.c: its own port and thread, so no drone — and no one pretending to be one —
 * ever holds an HTTP worker) at CP_DRONES_WS_PATH and must send {"type":"hello","token":…}
 * within CP_DRONES_HELLO_S; the token's SHA-256 must match a registered drone
 * (POST /api/v1/drones) whose name the hello repeats. The Hive records what the drone reports
 * (version, host: cores/NUMA/hugepages, links with their queue limits, the tuning it applies),
 * answers {"type":"welcome","tuning":…,"upload_port":N}, and from then on keeps the drone's
 * live state in memory: every status message (once a second) carries each capture's counters.
 * A drone is online while its connection lives; one silent for CP_DRONES_SILENT_S is closed.
 *
 * This file handles complete messages and the registry; the listener owns sockets, frames,
 * size limits and timers. Messages that change jobs (status counters, ended captures) are
 * written to the database by the listener's thread; the scheduler (cp_scheduler.c) reads them
 * and sends start, stop, cancel and tune through cp_drones_send(). Only one connection per
 * drone: a second hello for a drone already online is refused. */
#ifndef CP_DRONES_H
#define CP_DRONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tide_layout.h"

struct cp_server;
struct cp_req;

#define CP_DRONES_WS_PATH "/api/v1/drones/connect"
#define CP_DRONES_HELLO_S 5        /* from the upgrade to a good hello */
#define CP_DRONES_SILENT_S 10      /* a drone sends status every second; 10 s is ten missed */
#define CP_DRONES_MAX 256          /* connections, authenticated or not */
#define CP_DRONES_UNAUTH_MAX 8     /* connections that have not said hello yet */
#define CP_DRONES_HELLO_BYTES (64 * 1024)      /* largest message before the hello */
#define CP_DRONES_MSG_BYTES (8 * 1024 * 1024)  /* largest message after it (an ended
					        * capture lists every file it wrote) */
#define CP_DRONE_NAME_MAX TIDE_NAME_MAX
#define CP_DRONE_TOKEN_PREFIX "tided_"
#define CP_DRONE_LOCAL "local"

/* Before the listener starts: offline times count from here, and the welcome tells drones
 * where the HTTP API takes their uploads (its port; the host is the one they dialled). */
void cp_drones_init(int http_port, bool https);

/* The transport's side (cp_drone_ws.c). A connection is opened once its WebSocket is up, fed
 * every complete text message, and closed once; send queues text for the drone (it must not
 * block and must not call back into this file). */
struct cp_db;
struct cp_drone_conn;
typedef int (*cp_drone_send_fn)(void *transport, const char *text, size_t len);
/* NULL with errno EBUSY when CP_DRONES_MAX connections are open. */
struct cp_drone_conn *cp_drones_conn_open(const char *address, struct cp_db *db,
	cp_drone_send_fn send, void *transport);
/* Handles one message: 1 keeps the connection, 0 closes it (after what was queued is sent). */
int cp_drones_conn_message(struct cp_drone_conn *c, const char *text, size_t len);
bool cp_drones_conn_authed(const struct cp_drone_conn *c);
void cp_drones_conn_close(struct cp_drone_conn *c);
/* A warning about a client that is not (yet) a drone: refused connections, bad hellos. At most
 * one line per 10 s, saying how many it stands for, so that a client retrying in a loop cannot
 * fill the log. */
void cp_drones_warn_stranger(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sends msg to the drone if it is online: 0, or -ENOTCONN. */
int cp_drones_send(const char *drone, json_t *msg);
/* Online, and since when (ms since the epoch) it has been offline when not (0 = never seen
 * by this process). */
bool cp_drones_online(const char *drone, int64_t *offline_since_ms);
/* Jobs a link of an online drone runs at once: the "job_slots" its hello gave the link
 * (1 when absent: drones before concurrent jobs run one), 0 when the drone did not report
 * the link, -1 when the drone is offline. */
#define CP_DRONE_JOB_SLOTS_MAX 64
int cp_drones_link_slots(const char *drone, const char *link);
/* The drone's live view: {"address","connected_at","captures":[{job,link,state,counters}]},
 * or NULL when offline. New reference. */
json_t *cp_drones_live(const char *drone);

/* For routes with CP_PERM_DRONE: the bearer token must be a drone's. 0 with r->drone set,
 * -EACCES for a bad token, -ENOENT for none, other -errno. */
int cp_drones_identify(struct cp_req *r);

#define CP_DRONE_TOKEN_MAX 80

/* A fresh drone token (tided_ + 43 base64url characters) into out and its SHA-256 (what is
 * stored) into hash. 0 or -errno. */
int cp_drones_new_token(char out[CP_DRONE_TOKEN_MAX], uint8_t hash[32]);

/* A drone name: 1-31 of a-z A-Z 0-9 . _ -, not starting with '.' or '-'. */
bool cp_drones_valid_name(const char *name);

#endif
