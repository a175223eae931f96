/* cp_drone_ws.h — the drone listener: the port and thread on which drones keep their
 * WebSocket to the Hive (libwebsockets; cp_drone_ws.c says why not civetweb and what it
 * bounds). Its address is the `drone_listen` setting; by default the API's address and the
 * next port (8081 beside 8080). Drones still upload files to the HTTP API (cp_api_uploads.c);
 * the welcome message tells them its port. */
#ifndef CP_DRONE_WS_H
#define CP_DRONE_WS_H

struct cp_server;

/* Binds, then serves on a thread of its own. 0, or -errno after logging why. */
int cp_drone_ws_start(const struct cp_server *srv);
/* The port actually bound (with port 0 the kernel picks one), or -ENOENT. */
int cp_drone_ws_port(void);
/* Closes every drone connection and joins the thread. Safe when never started. */
void cp_drone_ws_stop(void);

#endif
