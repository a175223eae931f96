/* dp_ws.h — a small WebSocket client (RFC 6455) for the drone's link to the Hive.
 *
 * Why not civetweb's client: Debian's civetweb 1.15 mg_connect_websocket_client() returns NULL
 * after a correct 101 handshake (seen with its own server), with no error text. The drone needs
 * only text messages, masked as a client must, pings answered, and a close noticed; this is
 * that, driven by the drone's main loop (no thread): dp_ws_poll() reads what arrived and hands
 * out whole messages. Messages larger than DP_WS_MAX_MESSAGE close the connection. */
#ifndef DP_WS_H
#define DP_WS_H

#include <stddef.h>

#define DP_WS_MAX_MESSAGE (1u << 20)

struct dp_ws;

/* Connects and completes the handshake within timeout_ms. NULL with a message in err. */
struct dp_ws *dp_ws_connect(const char *host, int port, const char *path, int timeout_ms,
	char *err, size_t err_size);
/* Sends one text message (blocking, at most timeout_ms). 0 or -errno. */
int dp_ws_send(struct dp_ws *ws, const char *text, size_t len, int timeout_ms);
/* Reads what is there (waits up to wait_ms for the first byte) and calls on_message for each
 * complete text message. 0 while open, -1 once the connection is closed or broken. */
int dp_ws_poll(struct dp_ws *ws, int wait_ms, void (*on_message)(void *ctx, const char *text,
	size_t len), void *ctx);
void dp_ws_close(struct dp_ws *ws);

#endif
