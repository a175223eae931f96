/* dp_ws.c — the drone's WebSocket client on libwebsockets (see dp_ws.h).
 *
 * Why libwebsockets: it is Debian's well-kept WebSocket library (libwebsockets-dev 4.1.6), the
 * Hive's drone listener already runs on it (control/hive/cp_drone_ws.c), and it does TLS with
 * OpenSSL. libcurl's WebSocket API was the other candidate, but Debian 12's libcurl 7.88 is
 * built without it: curl_ws_send/recv exist as symbols, yet "ws" and "wss" are missing from
 * curl_version_info()'s protocols, so they answer CURLE_NOT_BUILT_IN (the API was still
 * experimental in 7.88). Before this file the drone had a hand-written RFC 6455 client with no
 * TLS; the framing, masking and pings are now libwebsockets'.
 *
 * One lws context per connection, with no listener and one client connection, serviced only
 * from the drone's main loop. lws_service() sleeps until an event or a scheduled timer, so every
 * bounded wait here schedules a timer (lws_sul) that ends it: no wait is longer than asked.
 *
 * TLS: the SSL_CTX is ours (provided_client_ssl_ctx) so that the trust is exactly what dp_hive.h
 * says — Debian's libwebsockets would otherwise look for CA certificates in "../share"
 * (LWS_OPENSSL_CLIENT_CERTS): the system's store or --hive-ca (any certificate in it may be the
 * anchor, so the Hive's own self-signed or leaf certificate can be named), the name checked by
 * OpenSSL (X509_VERIFY_PARAM: host name or IP address), TLS 1.2 at least. Why a certificate
 * was refused (OpenSSL's verify error, which lws passes to the protocol callback) becomes the
 * connection's error. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dp_ws.h"
#include "tide_time.h"
#include "tide_log.h"

#define WS_OUT_MAX (16u << 20)   /* queued for the Hive before dp_ws_send refuses more */

struct ws_buf {
	struct ws_buf *next;
	size_t len;
	unsigned char data[];    /* outgoing: LWS_PRE bytes for lws' framing, then the text */
};

enum ws_state { WS_CONNECTING, WS_OPEN, WS_CLOSED };

struct dp_ws {
	struct lws_context *ctx;
	struct lws *wsi;
	SSL_CTX *ssl;              /* ours: freed after the context */
	enum ws_state state;
	bool closing;              /* dp_ws_close: send a close frame at the next writable */
	bool woke;                 /* the wait's timer fired */
	lws_sorted_usec_list_t timer;
	struct ws_buf *out, *out_tail;
	size_t out_bytes;
	struct ws_buf *in, *in_tail; /* complete messages not yet handed out */
	char *msg;                 /* the message being assembled */
	size_t msg_len, msg_cap;
	char err[320];             /* why the connection failed or ended */
	char cert_err[160];        /* OpenSSL's verdict on the Hive's certificate, when it failed */
};

static char tls_detail[160]; /* OpenSSL's reason for the last failed handshake (lws_log) */

/* ---- the service loop's bounded waits ------------------------------------------------------ */

static void
wake(lws_sorted_usec_list_t *sul)
{
	struct dp_ws *ws = lws_container_of(sul, struct dp_ws, timer);
	ws->woke = true;
}


/* Services until done(ws) or wait_ms have passed; a pass always runs, even for wait_ms 0
 * (lws_service with a negative timeout does not sleep). */
static void
service_until(struct dp_ws *ws, int wait_ms, bool (*done)(const struct dp_ws *ws))
{
	if (wait_ms <= 0) {
		lws_service(ws->ctx, -1);
		return;
	}
	int64_t deadline = tide_mono_ms() + wait_ms;
	ws->woke = false;
	lws_sul_schedule(ws->ctx, 0, &ws->timer, wake, (lws_usec_t)wait_ms * LWS_US_PER_MS);
	/* bounded: the timer ends it; the deadline check guards a timer lws could not run */
	while (!done(ws) && !ws->woke && tide_mono_ms() < deadline)
		if (lws_service(ws->ctx, 0) < 0)
			break;
	lws_sul_cancel(&ws->timer);
}

static bool
not_connecting(const struct dp_ws *ws)
{
	return ws->state != WS_CONNECTING;
}

static bool
sent_or_closed(const struct dp_ws *ws)
{
	return !ws->out || ws->state == WS_CLOSED;
}

static bool
received_or_closed(const struct dp_ws *ws)
{
	return ws->in || ws->state == WS_CLOSED;
}

static bool
closed(const struct dp_ws *ws)
{
	return ws->state == WS_CLOSED;
}

/* ---- libwebsockets' callbacks ------------------------------------------------------------- */

static void
free_list(struct ws_buf *b)
{
	while (b) {
		struct ws_buf *next = b->next;
		free(b);
		b = next;
	}
}

static int
on_receive(struct dp_ws *ws, struct lws *wsi, const void *in, size_t len)
{
	if (lws_frame_is_binary(wsi))
		return 0; /* the Hive sends text; anything else is not for us */
	if (ws->msg_len + len > DP_WS_MAX_MESSAGE) {
		snprintf(ws->err, sizeof(ws->err), "the Hive sent a message over %u bytes",
			DP_WS_MAX_MESSAGE);
		return -1;
	}
	if (ws->msg_len + len > ws->msg_cap) {
		size_t cap = ws->msg_cap ? ws->msg_cap : 4096;
		while (cap < ws->msg_len + len)
			cap *= 2;
		char *bigger = realloc(ws->msg, cap);
		if (!bigger)
			return -1;
		ws->msg = bigger;
		ws->msg_cap = cap;
	}
	memcpy(ws->msg + ws->msg_len, in, len);
	ws->msg_len += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	struct ws_buf *m = malloc(sizeof(*m) + ws->msg_len + 1);
	if (!m)
		return -1;
	m->next = NULL;
	m->len = ws->msg_len;
	memcpy(m->data, ws->msg, ws->msg_len);
	m->data[m->len] = '\0';
	if (ws->in_tail)
		ws->in_tail->next = m;
	else
		ws->in = m;
	ws->in_tail = m;
	ws->msg_len = 0;
	return 0;
}

static int
on_writeable(struct dp_ws *ws, struct lws *wsi)
{
	struct ws_buf *m = ws->out;
	if (m) {
		ws->out = m->next;
		if (!ws->out)
			ws->out_tail = NULL;
		ws->out_bytes -= m->len;
		int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
		bool ok = n >= (int)m->len;
		free(m);
		if (!ok) {
			snprintf(ws->err, sizeof(ws->err), "writing to the Hive failed");
			return -1;
		}
		if (ws->out)
			lws_callback_on_writable(wsi);
	}
	if (!ws->out && ws->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

static void
cert_error(struct dp_ws *ws, int e)
{
	if (!ws->cert_err[0] && e != X509_V_OK)
		snprintf(ws->cert_err, sizeof(ws->cert_err), "%s (OpenSSL verify error %d)",
			X509_verify_cert_error_string(e), e);
}

static void
connection_error(struct dp_ws *ws, struct lws *wsi, const char *why)
{
	SSL *ssl = wsi ? lws_get_ssl(wsi) : NULL;
	if (ssl)
		cert_error(ws, (int)SSL_get_verify_result(ssl));
	if (ws->cert_err[0])
		snprintf(ws->err, sizeof(ws->err), "the Hive's certificate was refused: %s",
			ws->cert_err);
	else if (tls_detail[0])
		/* lws' own text for a failed handshake is an undecoded error number */
		snprintf(ws->err, sizeof(ws->err), "TLS handshake failed: %s%s", tls_detail,
			strstr(tls_detail, "wrong version number") ?
			" (is the Hive's drone listener plain ws://?)" : "");
	else
		snprintf(ws->err, sizeof(ws->err), "%s", why && *why ? why : "connection failed");
	/* lws ends its messages with a newline */
	size_t n = strlen(ws->err);
	while (n && (ws->err[n - 1] == '\n' || ws->err[n - 1] == '\r'))
		ws->err[--n] = '\0';
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user;
	struct lws_context *c = lws_get_context(wsi);
	struct dp_ws *ws = c ? lws_context_user(c) : NULL;
	if (!ws)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* OpenSSL's verdict stands (0 = add nothing to it); only its reason is kept */
		if (!len)
			cert_error(ws, X509_STORE_CTX_get_error(user));
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		connection_error(ws, wsi, in);
		ws->state = WS_CLOSED;
		ws->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws->state = WS_OPEN;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(ws, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(ws, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (!ws->err[0])
			snprintf(ws->err, sizeof(ws->err), "the Hive closed the connection");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (ws->wsi == wsi || !ws->wsi) {
			ws->state = WS_CLOSED;
			ws->wsi = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "tide-drone", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* libwebsockets' own complaints, on the drone's stderr like its other lines; a line that
 * repeats the last one is not printed again (a refused Hive is dialled every few seconds, and
 * dp_ws_connect's error says why already). Its info lines are not printed, but the one that
 * decodes OpenSSL's error after a failed handshake is kept: lws empties OpenSSL's error queue
 * and gives the connection only an undecoded number. */
static void
lws_log(int level, const char *line)
{
	static char last[256];
	const char *ossl = strstr(line, "openssl error: ");
	if (level & LLL_INFO) {
		if (ossl && !tls_detail[0]) {
			/* "error:0A00010B:SSL routines::wrong version number": the reason, last */
			const char *reason = strrchr(ossl, ':');
			snprintf(tls_detail, sizeof(tls_detail), "%s", reason ? reason + 1 : ossl + 15);
			tls_detail[strcspn(tls_detail, "\r\n")] = '\0';
		}
		return;
	}
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	/* lws starts its lines with a time stamp: compare from the level letter on */
	const char *body = strstr(line, "] ");
	body = body ? body + 2 : line;
	if (strncmp(last, body, sizeof(last) - 1) == 0)
		return;
	snprintf(last, sizeof(last), "%s", body);
	tide_warn("drone", "libwebsockets: %.*s", (int)n, line);
}

/* ---- TLS: our SSL_CTX ---------------------------------------------------------------------- */

static const char *
ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	return e ? ERR_reason_error_string(e) ?: "unknown" : "unknown";
}

static SSL_CTX *
tls_context(const struct dp_hive *h, char *err, size_t err_size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, err_size, "TLS: cannot create a context: %s", ssl_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	const char *name = dp_hive_verify_name(h);
	int ok;
	if (h->ca_file[0]) {
		ok = SSL_CTX_load_verify_locations(ctx, h->ca_file, NULL);
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
		if (!ok)
			snprintf(err, err_size, "--hive-ca %s: %s", h->ca_file, ssl_reason());
	} else {
		ok = SSL_CTX_set_default_verify_paths(ctx);
		if (!ok)
			snprintf(err, err_size, "TLS: the system's CA store: %s", ssl_reason());
	}
	if (ok) {
		unsigned char addr[16];
		bool literal = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(param, name) :
			X509_VERIFY_PARAM_set1_host(param, name, 0);
		if (!ok)
			snprintf(err, err_size, "TLS: cannot check the name '%s': %s", name, ssl_reason());
	}
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- the API --------------------------------------------------------------------------------- */

static void
destroy(struct dp_ws *ws)
{
	if (ws->ctx)
		lws_context_destroy(ws->ctx);
	SSL_CTX_free(ws->ssl);
	free_list(ws->out);
	free_list(ws->in);
	free(ws->msg);
	free(ws);
}

struct dp_ws *
dp_ws_connect(const struct dp_hive *hive, const char *path, int timeout_ms, char *err,
	size_t err_size)
{
	static bool log_set;
	if (!log_set) {
		lws_set_log_level(LLL_ERR | LLL_INFO, lws_log);
		log_set = true;
	}
	tls_detail[0] = '\0';
	struct dp_ws *ws = calloc(1, sizeof(*ws));
	if (!ws) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (hive->tls && !(ws->ssl = tls_context(hive, err, err_size))) {
		destroy(ws);
		return NULL;
	}
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = ws;
	info.provided_client_ssl_ctx = ws->ssl;
	info.options = hive->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	/* the handshake's own bounds; ours (timeout_ms) is shorter in practice */
	info.timeout_secs = (unsigned)(timeout_ms / 1000 + 1);
	info.connect_timeout_secs = info.timeout_secs;
	ws->ctx = lws_create_context(&info);
	if (!ws->ctx) {
		snprintf(err, err_size, "cannot create a libwebsockets context");
		destroy(ws);
		return NULL;
	}
	const char *name = dp_hive_verify_name(hive);
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = ws->ctx;
	ci.address = hive->host;
	ci.port = hive->port;
	ci.ssl_connection = hive->tls ? LCCSCF_USE_SSL : 0;
	ci.path = path;
	ci.host = name;       /* the Host header, SNI and lws' own name check: the checked name */
	ci.origin = name;
	ci.alpn = "http/1.1";
	ci.local_protocol_name = protocols[0].name;
	ci.pwsi = &ws->wsi;
	if (!lws_client_connect_via_info(&ci) && ws->state != WS_CLOSED) {
		snprintf(err, err_size, "cannot start a connection to %s port %d", hive->host,
			hive->port);
		destroy(ws);
		return NULL;
	}
	service_until(ws, timeout_ms, not_connecting);
	if (ws->state != WS_OPEN) {
		if (ws->state == WS_CONNECTING)
			snprintf(err, err_size, "no %s handshake within %d ms", hive->tls ? "TLS and "
				"WebSocket" : "WebSocket", timeout_ms);
		else
			snprintf(err, err_size, "%s", ws->err[0] ? ws->err : "connection failed");
		destroy(ws);
		return NULL;
	}
	return ws;
}

int
dp_ws_send(struct dp_ws *ws, const char *text, size_t len, int timeout_ms)
{
	if (!ws || ws->state != WS_OPEN || !ws->wsi)
		return -ENOTCONN;
	if (ws->out_bytes + len > WS_OUT_MAX)
		return -ENOBUFS;
	struct ws_buf *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->data + LWS_PRE, text, len);
	if (ws->out_tail)
		ws->out_tail->next = m;
	else
		ws->out = m;
	ws->out_tail = m;
	ws->out_bytes += len;
	lws_callback_on_writable(ws->wsi);
	service_until(ws, timeout_ms, sent_or_closed);
	if (ws->state == WS_CLOSED)
		return -ENOTCONN;
	return ws->out ? -ETIMEDOUT : 0;
}

int
dp_ws_poll(struct dp_ws *ws, int wait_ms, void (*on_message)(void *ctx, const char *text,
	size_t len), void *ctx)
{
	if (ws->state == WS_OPEN)
		service_until(ws, wait_ms, received_or_closed);
	/* then whatever else is ready, without waiting: a burst of messages in one call */
	if (ws->state == WS_OPEN)
		lws_service(ws->ctx, -1);
	while (ws->in) {
		struct ws_buf *m = ws->in;
		ws->in = m->next;
		if (!ws->in)
			ws->in_tail = NULL;
		if (on_message)
			on_message(ctx, (const char *)m->data, m->len);
		free(m);
	}
	return ws->state == WS_OPEN ? 0 : -1;
}

void
dp_ws_close(struct dp_ws *ws)
{
	if (!ws)
		return;
	if (ws->state == WS_OPEN && ws->wsi) {
		ws->closing = true; /* a close frame after what is queued, 200 ms at most */
		lws_callback_on_writable(ws->wsi);
		service_until(ws, 200, closed);
	}
	destroy(ws);
}
