/* cp_drone_ws.c — the drone listener: drones' WebSocket connections on their own port and
 * thread, served by libwebsockets (see cp_drone_ws.h).
 *
 * Why not civetweb, which serves the API: civetweb gives every WebSocket a worker thread for
 * its whole life and buffers a whole frame, whatever size it announces, before the handler
 * sees it. Fifteen silent sockets starved the API of workers, and eight 256 MiB frames took
 * 2 GB. libwebsockets is event-driven: one thread holds every drone connection, frames arrive
 * in CP_DRONE_WS_RX_CHUNK pieces, and a timer can close any connection. So here:
 *   - before the upgrade: only CP_DRONES_WS_PATH, only GET with Upgrade; libwebsockets' own
 *     timeout (timeout_secs) closes a client that trickles its request headers;
 *   - at most CP_DRONES_UNAUTH_MAX connections may be waiting to say hello, and each has
 *     CP_DRONES_HELLO_S to do it (a timer, not a check made when a frame arrives);
 *   - a message is assembled up to CP_DRONES_HELLO_BYTES before the hello and
 *     CP_DRONES_MSG_BYTES after it; a larger one is refused (close 1009) as soon as the frame
 *     header announces it, before its payload is read; binary frames close with 1003;
 *   - an authenticated drone silent for CP_DRONES_SILENT_S (pings do not count; a drone sends
 *     status every second) is closed, and so goes offline;
 *   - what the Hive sends a drone is queued (from any thread) and written by this thread when
 *     the socket is writable; a drone that lets CP_DRONE_WS_OUT_MAX bytes pile up is closed.
 * Complete messages go to cp_drones.c, which knows nothing of sockets.
 *
 * TLS: with the API's certificate (--tls-cert/--tls-key) the listener serves wss:// only (TLS
 * 1.2 at least, HTTP/1.1 only: the bounds above are those of HTTP/1.1 upgrades; a TLS
 * handshake counts against the header timeout). Without one it serves plain ws://, and only on
 * a loopback address: a drone's token and files must not cross a network in clear, so a plain
 * listener elsewhere is refused at start. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "cp_db.h"
#include "cp_drone_ws.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "tide_log.h"
#include "cp_options.h"

#define CP_DRONE_WS_RX_CHUNK (64 * 1024)          /* bytes per receive callback */
#define CP_DRONE_WS_OUT_MAX (16 * 1024 * 1024)    /* queued for one drone before it is closed */
#define CP_DRONE_WS_HEADER_S 5                    /* to send the upgrade request's headers */

struct out_msg {
	struct out_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes for libwebsockets' framing, then the text */
};

/* One connection: libwebsockets' per-session data. The queue is shared with senders on other
 * threads (under q_mu); everything else belongs to the service thread. */
struct ws_conn {
	struct lws *wsi;
	struct cp_drone_conn *drone;
	struct out_msg *head, *tail;
	size_t queued;
	bool open;          /* cp_drones knows it; sends are accepted */
	bool closing;       /* close once the queue is written */
	bool counted;       /* in n_unauth */
	char *msg;          /* the message being assembled */
	size_t msg_len, msg_cap;
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lws_context *ctx;
static pthread_t thread;
static atomic_bool stopping;
static struct cp_db *db;    /* the service thread's */
static int n_unauth;        /* service thread only */
static int bound_port;

/* ---- sending (any thread) --------------------------------------------------------------------- */

static int
queue_text(void *transport, const char *text, size_t len)
{
	struct ws_conn *c = transport;
	struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	int rc = 0;
	pthread_mutex_lock(&q_mu);
	if (!c->open) {
		rc = -ENOTCONN;
	} else if (c->queued + len > CP_DRONE_WS_OUT_MAX) {
		c->closing = true; /* a drone that does not read: let it reconnect */
		rc = -ENOBUFS;
	} else {
		if (c->tail)
			c->tail->next = m;
		else
			c->head = m;
		c->tail = m;
		c->queued += len;
		m = NULL;
	}
	pthread_mutex_unlock(&q_mu);
	free(m);
	lws_cancel_service(ctx); /* the service thread asks for writable callbacks */
	return rc;
}

static void
drop_queue(struct ws_conn *c)
{
	pthread_mutex_lock(&q_mu);
	c->open = false;
	struct out_msg *m = c->head;
	c->head = c->tail = NULL;
	c->queued = 0;
	pthread_mutex_unlock(&q_mu);
	while (m) {
		struct out_msg *next = m->next;
		free(m);
		m = next;
	}
}

/* ---- the service thread's callbacks ----------------------------------------------------------- */

static int
close_with(struct lws *wsi, enum lws_close_status status, const char *why)
{
	lws_close_reason(wsi, status, (unsigned char *)why, strlen(why));
	return -1;
}

static void
peer(struct lws *wsi, char *out, size_t size)
{
	if (!lws_get_peer_simple(wsi, out, size))
		snprintf(out, size, "?");
}

static void
refused(const char *addr, const char *why)
{
	cp_drones_warn_stranger("refused a connection from %s: %s", addr, why);
}

/* Before the upgrade is answered: the right path, and room for one more newcomer. */
static int
filter(struct lws *wsi)
{
	char uri[64], addr[CP_ADDR_MAX];
	peer(wsi, addr, sizeof(addr));
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		strcmp(uri, CP_DRONES_WS_PATH) != 0) {
		refused(addr, "not " CP_DRONES_WS_PATH);
		return 1;
	}
	if (n_unauth >= CP_DRONES_UNAUTH_MAX) {
		refused(addr, "too many connections waiting to say hello");
		return 1;
	}
	return 0;
}

static int
established(struct lws *wsi, struct ws_conn *c)
{
	char addr[CP_ADDR_MAX];
	peer(wsi, addr, sizeof(addr));
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->open = true;
	c->drone = cp_drones_conn_open(addr, db, queue_text, c);
	if (!c->drone) {
		c->open = false;
		refused(addr, "every drone slot is taken");
		return close_with(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many drones");
	}
	c->counted = true;
	n_unauth++;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, CP_DRONES_HELLO_S);
	return 0;
}

static void
uncount(struct ws_conn *c)
{
	if (c->counted) {
		c->counted = false;
		n_unauth--;
	}
}

/* A complete message: to cp_drones.c, then the timers follow what it made of it. */
static int
message(struct lws *wsi, struct ws_conn *c)
{
	int keep = cp_drones_conn_message(c->drone, c->msg, c->msg_len);
	c->msg_len = 0;
	if (c->msg_cap > CP_DRONE_WS_RX_CHUNK) { /* a big ended message: do not keep its buffer */
		free(c->msg);
		c->msg = NULL;
		c->msg_cap = 0;
	}
	if (!keep) {
		/* the refusal is queued: write it, then close (or give up after a second) */
		c->closing = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 1);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (cp_drones_conn_authed(c->drone)) {
		uncount(c);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, CP_DRONES_SILENT_S);
	}
	return 0;
}

static int
receive(struct lws *wsi, struct ws_conn *c, const void *in, size_t len)
{
	if (c->closing)
		return 0; /* what a refused client still sends is ignored */
	if (lws_frame_is_binary(wsi))
		return close_with(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			"drone messages are JSON text");
	size_t cap = cp_drones_conn_authed(c->drone) ? CP_DRONES_MSG_BYTES : CP_DRONES_HELLO_BYTES;
	size_t remaining = lws_remaining_packet_payload(wsi);
	if (c->msg_len + len + remaining > cap) {
		char addr[CP_ADDR_MAX];
		peer(wsi, addr, sizeof(addr));
		refused(addr, cap == CP_DRONES_MSG_BYTES ? "a message over the size limit" :
			"a message before the hello over its size limit");
		return close_with(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
	}
	if (c->msg_len + len > c->msg_cap) {
		size_t want = c->msg_len + len + remaining;
		size_t cap2 = c->msg_cap ? c->msg_cap : 4096;
		while (cap2 < want)
			cap2 *= 2;
		char *bigger = realloc(c->msg, cap2 < cap ? cap2 : cap);
		if (!bigger)
			return close_with(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		c->msg = bigger;
		c->msg_cap = cap2 < cap ? cap2 : cap;
	}
	memcpy(c->msg + c->msg_len, in, len);
	c->msg_len += len;
	if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
		return message(wsi, c);
	return 0;
}

static int
writeable(struct lws *wsi, struct ws_conn *c)
{
	pthread_mutex_lock(&q_mu);
	struct out_msg *m = c->head;
	if (m) {
		c->head = m->next;
		if (!c->head)
			c->tail = NULL;
		c->queued -= m->len;
	}
	bool more = c->head != NULL;
	bool closing = c->closing;
	pthread_mutex_unlock(&q_mu);
	if (m) {
		int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		bool ok = n >= (int)m->len;
		free(m);
		if (!ok)
			return -1;
	}
	if (more)
		lws_callback_on_writable(wsi);
	else if (closing)
		return close_with(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "refused");
	return 0;
}

static void
closed(struct ws_conn *c)
{
	if (!c->wsi)
		return; /* never established */
	uncount(c);
	if (c->drone)
		cp_drones_conn_close(c->drone); /* after this, nothing queues on c */
	c->drone = NULL;
	drop_queue(c);
	free(c->msg);
	c->msg = NULL;
	c->wsi = NULL;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return established(wsi, c);
	case LWS_CALLBACK_RECEIVE:
		return c->drone ? receive(wsi, c, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->drone ? writeable(wsi, c) : 0;
	case LWS_CALLBACK_CLOSED:
		closed(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* something was queued, or we are stopping: every drone gets a writable turn */
		lws_callback_on_writable_all_protocol(lws_get_context(wsi), lws_get_protocol(wsi));
		return 0;
	case LWS_CALLBACK_HTTP:
		/* a plain HTTP request on the drone port: nothing here but the WebSocket */
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return -1;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	/* first, so that a client naming no subprotocol (ours names none) gets it */
	{ "tide-drone", callback, sizeof(struct ws_conn), CP_DRONE_WS_RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
lws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		tide_error("lws", "%.*s", (int)n, line);
	else
		tide_warn("lws", "%.*s", (int)n, line);
}

static void *
service(void *arg)
{
	(void)arg;
	while (!atomic_load(&stopping))
		if (lws_service(ctx, 0) < 0)
			break;
	return NULL;
}

/* "ADDR:PORT" / "[V6]:PORT" into an address literal and a port; "" derives it from the API's
 * listen address: the same address, the next port (or 0, when the API's port is 0). */
static int
drone_address(const struct cp_options *o, char *addr, size_t size, int *port)
{
	const char *spec = o->drone_listen[0] ? o->drone_listen : o->listen;
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec)
		return -EINVAL;
	const char *host = spec;
	size_t hlen = (size_t)(colon - spec);
	if (host[0] == '[') {
		if (hlen < 3 || host[hlen - 1] != ']')
			return -EINVAL;
		host++;
		hlen -= 2;
	} else if (memchr(host, ':', hlen)) {
		return -EINVAL; /* a bare IPv6 address: the port would be ambiguous */
	}
	if (hlen >= size)
		return -EINVAL;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	if (!o->drone_listen[0] && p > 0)
		p = p == 65535 ? 0 : p + 1;
	*port = (int)p;
	return 0;
}

/* A loopback address by its text: 127.0.0.0/8, ::1, localhost. */
static bool
loopback(const char *addr)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (strcmp(addr, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, addr, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

int
cp_drone_ws_start(const struct cp_server *srv)
{
	char addr[64];
	int port;
	const char *spec = srv->opt->drone_listen[0] ? srv->opt->drone_listen : srv->opt->listen;
	if (drone_address(srv->opt, addr, sizeof(addr), &port)) {
		tide_error("drones", "bad drone_listen address '%s' (ADDR:PORT or [ADDR]:PORT)", spec);
		return -EINVAL;
	}
	bool tls = srv->tls;
	if (!tls && !loopback(addr)) {
		tide_error("drones", "refusing to serve drones on %s without TLS: their tokens and files "
			"would cross the network in clear. Give the Hive --tls-cert and --tls-key (drones "
			"then dial wss://), or set drone_listen to a loopback address (127.0.0.1:PORT) "
			"and reach it through a tunnel", spec);
		return -EPERM;
	}
	db = cp_db_open(srv->db_path);
	if (!db)
		return -EIO;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.iface = strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0 ? NULL : addr;
	info.port = port;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.timeout_secs = CP_DRONE_WS_HEADER_S;
	info.timeout_secs_ah_idle = CP_DRONE_WS_HEADER_S;
	info.max_http_header_data = 4096;    /* an upgrade request is a few hundred bytes */
	info.max_http_header_pool = CP_DRONES_UNAUTH_MAX * 4;
	info.server_string = "tide-control";
	info.options = strchr(addr, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
	if (tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = srv->opt->tls_cert;
		info.ssl_private_key_filepath = srv->opt->tls_key;
		info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
		info.alpn = "http/1.1";
	}
	atomic_store(&stopping, false);
	ctx = lws_create_context(&info);
	if (!ctx) {
		tide_error("drones", "cannot serve drones on %s port %d%s", addr, port,
			tls ? " (or load the TLS certificate and key: libwebsockets says why above)" : "");
		cp_db_close(db);
		db = NULL;
		return -EADDRINUSE;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	bound_port = vh ? lws_get_vhost_listen_port(vh) : port;
	int rc = pthread_create(&thread, NULL, service, NULL);
	if (rc) {
		lws_context_destroy(ctx);
		ctx = NULL;
		cp_db_close(db);
		db = NULL;
		return -rc;
	}
	tide_info("drones", "drones dial %s://%s%s%s:%d%s", tls ? "wss" : "ws",
		strchr(addr, ':') ? "[" : "", addr,
		strchr(addr, ':') ? "]" : "", bound_port, CP_DRONES_WS_PATH);
	return 0;
}

int
cp_drone_ws_port(void)
{
	return ctx ? bound_port : -ENOENT;
}

void
cp_drone_ws_stop(void)
{
	if (!ctx)
		return;
	atomic_store(&stopping, true);
	lws_cancel_service(ctx);
	pthread_join(thread, NULL);
	lws_context_destroy(ctx); /* closes every connection: CLOSED callbacks run here */
	ctx = NULL;
	cp_db_close(db);
	db = NULL;
}
