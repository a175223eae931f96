/* cp_drones.h — the Hive's side of the drone link: drones dial in over WebSocket.
 *
 * A drone (tide-dataplane --hive, dataplane/dp_drone.c) connects to CP_DRONES_WS_PATH and must
 * send {"type":"hello","token":…} within CP_DRONES_HELLO_MS; the token's SHA-256 must match a
 * registered drone (POST /api/v1/drones) whose name the hello repeats. The Hive records what the
 * drone reports (version, host: cores/NUMA/hugepages, links with their queue limits, the tuning
 * it applies), answers {"type":"welcome","tuning":…}, and from then on keeps the drone's live
 * state in memory: every status message (once a second) carries each capture's counters. A
 * drone is online while its connection lives; civetweb closes a connection silent for
 * websocket_timeout_ms, so a drone that vanishes without closing is offline within seconds.
 *
 * Messages that change jobs (status counters, ended captures) are written to the database by
 * the connection's own thread; the scheduler (cp_scheduler.c) reads them and sends start, stop,
 * cancel and tune through cp_drones_send(). Only one connection per drone: a second hello for
 * a drone already online is refused. */
#ifndef CP_DRONES_H
#define CP_DRONES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct cp_server;
struct cp_req;

#define CP_DRONES_WS_PATH "/api/v1/drones/connect"
#define CP_DRONES_HELLO_MS 5000
#define CP_DRONES_MAX 256
#define CP_DRONE_NAME_MAX 31
#define CP_DRONE_TOKEN_PREFIX "tided_"
#define CP_DRONE_LOCAL "local"

/* Installs the WebSocket handler on the running civetweb. 0 or -errno. */
int cp_drones_start(struct cp_server *srv);
/* Closes every drone connection (at shutdown, after civetweb stopped). */
void cp_drones_stop(void);

/* Sends msg to the drone if it is online: 0, or -ENOTCONN. */
int cp_drones_send(const char *drone, json_t *msg);
/* Online, and since when (ms since the epoch) it has been offline when not (0 = never seen
 * by this process). */
bool cp_drones_online(const char *drone, int64_t *offline_since_ms);
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
