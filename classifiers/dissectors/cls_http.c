/* cls_http.c — HTTP/1.x dissector: a request line (known method, request-target, "HTTP/1.0" or
 * "HTTP/1.1") and its Host header, label = host (lower-case, port stripped); a CONNECT or an
 * absolute-form ("GET http://…") request is a forward-proxy request → HTTP-Proxy when the
 * application table has it. A status line "HTTP/1.x NNN" alone is a weaker signal (80), for
 * sessions whose request we did not see.
 *
 * Why it is shaped this way: the request line and Host come first and nearly always fit the
 * first segment, parsed in place. When they do not (a long URL, Host after many headers) the
 * session borrows a HTTP_REASM_MAX buffer from the worker's pool and accumulates segments; if
 * that fills, or HTTP_MAX_PKTS segments pass, a well-formed "<METHOD> <target…" prefix is
 * still HTTP (confidence 90) without a label. Give-up bound: the first segment of a direction
 * is neither a request nor a response prefix, or the bounds above without one. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define HTTP_REASM_MAX 2048  /* request head bytes kept when the first segment is not enough */
#define HTTP_MAX_PKTS 6      /* payload segments per direction before deciding or giving up */
#define HTTP_POOL_BUFS 256   /* default buffers per worker (512 KiB); option reasm_bufs=N */
#define HTTP_METHOD_MAX 10   /* longest method in the table below */

static const char *const http_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	/* WebDAV / CalDAV, seen on file-sharing and calendar servers */
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
	"MKCALENDAR",
};
#define HTTP_N_METHODS (sizeof(http_methods) / sizeof(http_methods[0]))

static inline char
lower(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* 1 if p[0..n) equals lit (case-insensitively when ci), 0 if it is a proper prefix of it
 * (n < strlen(lit)), -1 otherwise. */
static int
prefix_cmp(const uint8_t *p, size_t n, const char *lit, bool ci)
{
	size_t i;

	for (i = 0; lit[i] && i < n; i++)
		if ((ci ? lower(p[i]) : (char)p[i]) != lit[i])
			return -1;
	return lit[i] ? 0 : 1;
}

/* "HTTP/1.0" / "HTTP/1.1" at p: 1 (minor in *minor), 0 prefix, -1 no. */
static int
http_version(const uint8_t *p, size_t n, uint8_t *minor)
{
	int r = prefix_cmp(p, n < 7 ? n : 7, "HTTP/1.", false);

	if (r <= 0)
		return n < 7 && r == 0 ? 0 : -1;
	if (n < 8)
		return 0;
	if (p[7] != '0' && p[7] != '1')
		return -1;
	*minor = (uint8_t)(p[7] - '0');
	return 1;
}

size_t
cls_http_host_len(const uint8_t *host, size_t len)
{
	size_t i;

	if (len && host[0] == '[') { /* IPv6 literal */
		for (i = 1; i < len && host[i] != ']'; i++)
			;
		return i < len ? i + 1 : len;
	}
	for (i = 0; i < len && host[i] != ':'; i++)
		;
	return i;
}

int
cls_http_parse_request(const uint8_t *p, size_t len, struct cls_http_msg *out)
{
	size_t i, t0, t1, o;
	int r;

	memset(out, 0, sizeof(*out));
	/* method */
	for (i = 0; i < len && i <= HTTP_METHOD_MAX && p[i] >= 'A' && p[i] <= 'Z'; i++)
		;
	if (i == len) { /* all letters so far: is it the start of a method? */
		for (size_t m = 0; m < HTTP_N_METHODS; m++)
			if (len <= strlen(http_methods[m]) &&
				prefix_cmp(p, len, http_methods[m], false) >= 0)
				return 0;
		return -1;
	}
	if (p[i] != ' ')
		return -1;
	for (size_t m = 0;; m++) {
		if (m == HTTP_N_METHODS)
			return -1;
		if (strlen(http_methods[m]) == i && memcmp(p, http_methods[m], i) == 0)
			break;
	}
	out->method = p;
	out->method_len = (uint8_t)i;
	out->connect = i == 7 && memcmp(p, "CONNECT", 7) == 0;

	/* request-target: visible ASCII up to SP */
	t0 = i + 1;
	for (t1 = t0; t1 < len && p[t1] > 0x20 && p[t1] < 0x7f; t1++)
		;
	if (t1 == len)
		return 0;
	if (p[t1] != ' ' || t1 == t0)
		return -1;
	const uint8_t *auth = NULL;
	size_t auth_len = 0;

	if (out->connect) {
		auth = p + t0;
		auth_len = t1 - t0;
	} else if (t1 - t0 > 7 && prefix_cmp(p + t0, 7, "http://", true) == 1) {
		out->absolute_form = true;
		auth = p + t0 + 7;
		for (auth_len = 0; t0 + 7 + auth_len < t1 && auth[auth_len] != '/' &&
				   auth[auth_len] != '?' && auth[auth_len] != '#';
			auth_len++)
			;
	}

	/* version, then CRLF or LF */
	o = t1 + 1;
	r = http_version(p + o, len - o, &out->version_minor);
	if (r <= 0)
		return r;
	o += 8;
	if (o < len && p[o] == '\r')
		o++;
	if (o == len)
		return 0;
	if (p[o] != '\n')
		return -1;
	o++;
	out->line_complete = true;
	if (auth && auth_len) {
		out->host = auth;
		out->host_len = (uint16_t)(auth_len < UINT16_MAX ? auth_len : UINT16_MAX);
	}

	/* header lines until Host or the empty line */
	while (o < len) {
		const uint8_t *lf = memchr(p + o, '\n', len - o);
		size_t e, ve;

		if (!lf)
			return 0;
		e = (size_t)(lf - p);
		ve = e > o && p[e - 1] == '\r' ? e - 1 : e;
		if (ve == o) {
			out->headers_complete = true;
			return 1;
		}
		if (ve - o >= 5 && prefix_cmp(p + o, 5, "host:", true) == 1) {
			size_t v0 = o + 5;

			while (v0 < ve && (p[v0] == ' ' || p[v0] == '\t'))
				v0++;
			while (ve > v0 && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
				ve--;
			if (ve > v0) {
				out->host = p + v0;
				out->host_len = (uint16_t)(ve - v0 < UINT16_MAX ? ve - v0 : UINT16_MAX);
			}
			return 1;
		}
		o = e + 1;
	}
	return 0;
}

int
cls_http_parse_response(const uint8_t *p, size_t len, struct cls_http_msg *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = http_version(p, len, &out->version_minor);
	if (r <= 0)
		return r;
	/* "HTTP/1.x" SP 3DIGIT (SP | CR | LF) */
	for (size_t i = 8; i < 13; i++) {
		if (i == len)
			return 0;
		bool ok = i == 8 ? p[i] == ' '
			  : i < 12 ? p[i] >= '0' && p[i] <= '9'
				   : p[i] == ' ' || p[i] == '\r' || p[i] == '\n';

		if (!ok)
			return -1;
	}
	out->response = true;
	out->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	if (out->status < 100 || out->status > 599)
		return -1;
	return 1;
}

/* ================================================================ plugin */

enum http_role { ROLE_UNKNOWN = 0, ROLE_CLIENT, ROLE_NOT };
enum http_verdict { V_UNDECIDED = 0, V_RECOGNISED, V_GAVE_UP };

struct http_dir {
	uint8_t role;         /* enum http_role */
	uint8_t pkts;
	uint16_t len;         /* bytes in the borrowed buffer */
	uint16_t last_len;
	uint32_t last_hash;
};

struct http_state {
	struct http_dir dir[2];
	struct cls_reasm_ticket ticket;
	uint8_t verdict;      /* enum http_verdict */
	uint8_t confidence;
	uint8_t method_seen;  /* the client's prefix began "<METHOD> " */
	uint16_t app_id;
};
_Static_assert(sizeof(struct http_state) <= 176, "HTTP per-session state budget");

struct http_ctx {
	uint16_t app_http, app_proxy;
	uint32_t pool_bufs;
};

static int
http_enable(void **ctx, const struct cls_config *cfg)
{
	struct http_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app_http = cls_apps_id(cfg->apps, "HTTP");
	if (!c->app_http) {
		free(c);
		return -ENOENT;
	}
	c->app_proxy = cls_apps_id(cfg->apps, "HTTP-Proxy");
	if (!c->app_proxy)
		c->app_proxy = c->app_http;
	c->pool_bufs = cls_opt_u32(cfg->options, "reasm_bufs", HTTP_POOL_BUFS, 1, 65536);
	*ctx = c;
	return 0;
}

static void
http_disable(void *ctx)
{
	free(ctx);
}

static void *
http_worker_init(void *ctx)
{
	const struct http_ctx *c = ctx;

	return cls_reasm_pool_new(c->pool_bufs, HTTP_REASM_MAX);
}

static void
http_worker_free(void *ctx, void *wctx)
{
	(void)ctx;
	cls_reasm_pool_free(wctx);
}

static void
http_done(struct http_state *st, void *wctx, uint8_t verdict, uint8_t confidence)
{
	st->verdict = verdict;
	st->confidence = confidence;
	cls_reasm_put(wctx, &st->ticket);
}

static void
http_from_request(const struct http_ctx *c, struct http_state *st, const struct cls_session *s,
	void *wctx, const struct cls_http_msg *m, uint8_t confidence)
{
	st->app_id = m->connect || m->absolute_form ? c->app_proxy : c->app_http;
	if (m->host)
		cls_label_set(s, m->host, cls_http_host_len(m->host, m->host_len));
	http_done(st, wctx, V_RECOGNISED, confidence);
}

static void
http_not(struct http_state *st, void *wctx, unsigned int d)
{
	st->dir[d].role = ROLE_NOT;
	if (st->dir[d ^ 1].role != ROLE_CLIENT)
		http_done(st, wctx, V_GAVE_UP, 0);
}

/* A request head that cannot complete within our bounds: HTTP if it began like one. */
static void
http_bounded(const struct http_ctx *c, struct http_state *st, const struct cls_session *s,
	void *wctx, const struct cls_http_msg *m)
{
	if (m->line_complete)
		http_from_request(c, st, s, wctx, m, 95);
	else if (st->method_seen)
		http_from_request(c, st, s, wctx, m, 90);
	else
		http_done(st, wctx, V_GAVE_UP, 0);
}

static void
http_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct http_ctx *c = ctx;
	struct http_state *st = state;
	unsigned int d = p->dir & 1;
	struct http_dir *hd = &st->dir[d];
	struct cls_http_msg m;
	uint8_t *buf;
	int r;

	if (st->verdict)
		return;
	if (p->l4proto != IPPROTO_TCP || s->type == CLS_SESSION_HOST) {
		http_done(st, wctx, V_GAVE_UP, 0);
		return;
	}
	if (p->payload_len == 0 || hd->role == ROLE_NOT)
		return;
	uint32_t hash = cls_seg_hash(p->payload, p->payload_len);

	if (hd->pkts && hd->last_len == (uint16_t)p->payload_len && hd->last_hash == hash)
		return; /* retransmission of the previous segment */
	hd->last_len = (uint16_t)p->payload_len;
	hd->last_hash = hash;
	hd->pkts++;

	if (hd->pkts == 1) {
		r = cls_http_parse_request(p->payload, p->payload_len, &m);
		if (r == 1) {
			http_from_request(c, st, s, wctx, &m, m.host ? 100 : 95);
			return;
		}
		if (r < 0) {
			r = cls_http_parse_response(p->payload, p->payload_len, &m);
			if (r == 1) {
				st->app_id = c->app_http;
				http_done(st, wctx, V_RECOGNISED, 80);
			} else {
				http_not(st, wctx, d);
			}
			return;
		}
		hd->role = ROLE_CLIENT;
		st->method_seen = m.method != NULL;
	}
	/* the request head continues: accumulate it in a borrowed buffer */
	buf = cls_reasm_get(wctx, &st->ticket, p->ts_ns);
	if (!buf) {
		/* no buffer: judge the first segment alone */
		if (hd->pkts == 1)
			cls_http_parse_request(p->payload, p->payload_len, &m);
		else
			memset(&m, 0, sizeof(m));
		http_bounded(c, st, s, wctx, &m);
		return;
	}
	size_t take = p->payload_len;
	bool full = false;

	if (take > (size_t)HTTP_REASM_MAX - hd->len) {
		take = (size_t)HTTP_REASM_MAX - hd->len;
		full = true;
	}
	memcpy(buf + hd->len, p->payload, take);
	hd->len = (uint16_t)(hd->len + take);
	r = cls_http_parse_request(buf, hd->len, &m);
	if (r == 1)
		http_from_request(c, st, s, wctx, &m, m.host ? 100 : 95);
	else if (r < 0)
		http_not(st, wctx, d);
	else if (full || hd->pkts >= HTTP_MAX_PKTS)
		http_bounded(c, st, s, wctx, &m);
}

static bool
http_is_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct http_state *st = state;

	(void)ctx;
	return st->verdict != V_UNDECIDED || s->key.proto != IPPROTO_TCP ||
	       s->type == CLS_SESSION_HOST;
}

static void
http_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct http_ctx *c = ctx;
	const struct http_state *st = state;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (st->verdict == V_RECOGNISED) {
		out->app_id = st->app_id;
		out->confidence = st->confidence;
		out->flags = CLS_RES_FINAL;
		cls_label_get(s, out->label, sizeof(out->label));
		return;
	}
	if (st->verdict == V_UNDECIDED && st->method_seen) {
		/* asked at session end while the request head was still incomplete */
		out->app_id = c->app_http;
		out->confidence = 90;
		return;
	}
	out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
}

static void
http_session_free(void *ctx, void *wctx, void *state)
{
	struct http_state *st = state;

	(void)ctx;
	cls_reasm_put(wctx, &st->ticket);
}

const struct cls_plugin cls_plugin_http = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "http",
	.version = "1.0",
	.state_size = sizeof(struct http_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = http_enable,
	.disable = http_disable,
	.worker_init = http_worker_init,
	.worker_free = http_worker_free,
	.packet = http_packet,
	.is_session_classifiable = http_is_classifiable,
	.classify_session = http_classify,
	.session_free = http_session_free,
};
