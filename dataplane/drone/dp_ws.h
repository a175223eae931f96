/* dp_ws.h — the drone's WebSocket link to the Hive, ws:// or wss://, on libwebsockets.
 *
 * Driven by the drone's main loop (no thread of its own): dp_ws_poll() services the connection
 * for up to wait_ms and hands out whole text messages. Messages larger than DP_WS_MAX_MESSAGE
 * close the connection; pings are answered by libwebsockets.
 *
 * With TLS the Hive's certificate is verified (dp_hive.h: the system's CA store or --hive-ca,
 * the name dp_hive_verify_name()), TLS 1.2 at least; a certificate that does not verify fails
 * the connection with OpenSSL's reason in err ("self-signed certificate", "hostname
 * mismatch", ...). */
#ifndef DP_WS_H
#define DP_WS_H

#include <stddef.h>

#include "dp_hive.h"

#define DP_WS_MAX_MESSAGE (1u << 20)

struct dp_ws;

/* Connects to hive (ws:// or wss:// as hive->tls says) and completes the handshake within
 * timeout_ms. NULL with a sentence in err: the connection, the TLS handshake or the upgrade
 * failed, and why. */
struct dp_ws *dp_ws_connect(const struct dp_hive *hive, const char *path, int timeout_ms,
	char *err, size_t err_size);
/* Sends one text message: waits at most timeout_ms for it to be written. 0, -ENOTCONN (the
 * connection is gone), -ETIMEDOUT (still queued: it goes out with the next poll), -ENOMEM. */
int dp_ws_send(struct dp_ws *ws, const char *text, size_t len, int timeout_ms);
/* Services the connection, waiting up to wait_ms for something to happen, and calls
 * on_message for each complete text message received (also those that arrived during
 * dp_ws_send). 0 while open, -1 once the connection is closed or broken. */
int dp_ws_poll(struct dp_ws *ws, int wait_ms, void (*on_message)(void *ctx, const char *text,
	size_t len), void *ctx);
void dp_ws_close(struct dp_ws *ws);

#endif
