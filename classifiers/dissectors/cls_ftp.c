/* cls_ftp.c — FTP control sessions, and the data sessions they open.
 *
 * Recognises the control channel (a 220 greeting from the server, then a client command), and
 * keeps reading it — it stays "not ready" while it is FTP, so the engine keeps feeding it — to
 * catch the replies and commands that name a data endpoint: 227 (PASV) and 229 (EPSV) from the
 * server, PORT and EPRT from the client. Each becomes an expected session (cls_plugin.h): the
 * data connection, which carries no signature of its own, is labelled FTP/data at its first
 * packet. Bounds: gives up at the first payload that is not the server's 220 greeting, or after
 * 6 payload packets without a client command; an FTP control session is read for at most 512
 * payload packets. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "cls_apps.h"
#include "cls_plugin.h"

#define FTP_GIVE_UP 6
#define FTP_READ_MAX 512

struct ftp_ctx {
	uint16_t app, data_sub;
};

struct ftp_state {
	uint16_t pkts;
	uint8_t greeting;
	uint8_t is_ftp;
	uint8_t gave_up;
	uint8_t pad[3];
};
_Static_assert(sizeof(struct ftp_state) <= 8, "FTP per-session state budget");

static int
ftp_enable(void **ctx, const struct cls_config *cfg)
{
	struct ftp_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app = cls_apps_id(cfg->apps, "FTP");
	c->data_sub = cls_apps_sub_id(cfg->apps, c->app, "data");
	if (!c->app) {
		free(c);
		return -ENOENT;
	}
	*ctx = c;
	return 0;
}

static void
ftp_disable(void *ctx)
{
	free(ctx);
}

static bool
starts(const uint8_t *p, uint32_t n, const char *s)
{
	size_t l = strlen(s);
	if (n < l)
		return false;
	for (size_t i = 0; i < l; i++)
		if (toupper(p[i]) != s[i])
			return false;
	return true;
}

/* up to `max` comma-separated numbers from p (bounded by n); returns how many */
static int
numbers(const uint8_t *p, uint32_t n, unsigned int *v, int max)
{
	int k = 0;
	uint32_t i = 0;
	while (i < n && !isdigit(p[i]) && p[i] != '\r' && p[i] != '\n')
		i++;
	while (k < max && i < n && isdigit(p[i])) {
		unsigned int x = 0;
		int digits = 0;
		while (i < n && isdigit(p[i]) && digits < 6) {
			x = x * 10 + (unsigned int)(p[i++] - '0');
			digits++;
		}
		v[k++] = x;
		if (i < n && p[i] == ',')
			i++;
		else
			break;
	}
	return k;
}

static void
expect(const struct ftp_ctx *c, const struct cls_packet *p, const struct cls_session *s,
	const uint8_t *addr, uint8_t family, unsigned int port, const uint8_t *peer)
{
	struct cls_expectation e;
	if (port == 0 || port > 65535)
		return;
	memset(&e, 0, sizeof(e));
	memcpy(e.addr, addr, family == 4 ? 4 : 16);
	memcpy(e.peer, peer, 16);
	e.port = (uint16_t)port;
	e.proto = 6;
	e.family = family;
	e.app_id = c->app;
	e.sub_id = c->data_sub;
	e.confidence = 90;
	(void)s;
	cls_expect_add(p->expect, &e, p->ts_ns);
}

/* the two ends of the control session: the session key is oriented by who opened it (the
 * client), whichever direction the packet at hand travels */
static void
endpoints(const struct cls_session *s, const struct cls_packet *p, const uint8_t **server,
	const uint8_t **client)
{
	(void)p;
	*client = s->key.src;
	*server = s->key.dst;
}

static void
parse_endpoints(const struct ftp_ctx *c, const struct cls_session *s, const struct cls_packet *p)
{
	const uint8_t *d = p->payload, *server, *client;
	uint32_t n = p->payload_len;
	unsigned int v[6];
	endpoints(s, p, &server, &client);
	if (p->dir == CLS_DIR_BWD && starts(d, n, "227")) {
		/* 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2): the server listens there */
		const uint8_t *q = memchr(d + 3, '(', n - 3);
		uint32_t off = q ? (uint32_t)(q - d) : 3;
		if (numbers(d + off, n - off, v, 6) == 6 && v[0] < 256 && v[1] < 256 && v[2] < 256 &&
			v[3] < 256 && v[4] < 256 && v[5] < 256) {
			uint8_t a[16] = {(uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint8_t)v[3]};
			expect(c, p, s, a, 4, v[4] * 256 + v[5], client);
			/* behind NAT the announced address is not the one the client connects to */
			if (memcmp(a, server, 4) != 0 && s->key.family == 4)
				expect(c, p, s, server, 4, v[4] * 256 + v[5], client);
		}
	} else if (p->dir == CLS_DIR_BWD && starts(d, n, "229")) {
		/* 229 Entering Extended Passive Mode (|||port|): the server's address */
		const uint8_t *q = memchr(d + 3, '|', n - 3);
		if (q) {
			uint32_t off = (uint32_t)(q - d);
			if (numbers(d + off, n - off, v, 1) == 1)
				expect(c, p, s, server, s->key.family, v[0], client);
		}
	} else if (p->dir == CLS_DIR_FWD && starts(d, n, "PORT ")) {
		/* active mode: the server will connect to the client's h1.h2.h3.h4:port */
		if (numbers(d + 5, n - 5, v, 6) == 6 && v[0] < 256 && v[1] < 256 && v[2] < 256 &&
			v[3] < 256 && v[4] < 256 && v[5] < 256) {
			uint8_t a[16] = {(uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint8_t)v[3]};
			expect(c, p, s, a, 4, v[4] * 256 + v[5], server);
		}
	} else if (p->dir == CLS_DIR_FWD && starts(d, n, "EPRT ")) {
		/* EPRT |1|h.h.h.h|port| or |2|v6|port| */
		char buf[96];
		uint32_t l = n - 5 < sizeof(buf) - 1 ? n - 5 : (uint32_t)sizeof(buf) - 1;
		memcpy(buf, d + 5, l);
		buf[l] = '\0';
		char delim = buf[0], *f[4] = {0};
		int k = 0;
		for (char *t = buf + 1; k < 4 && t && *t; k++) {
			f[k] = t;
			t = strchr(t, delim);
			if (t)
				*t++ = '\0';
		}
		if (k >= 3 && f[0] && f[1] && f[2]) {
			uint8_t a[16] = {0};
			int fam = f[0][0] == '1' ? 4 : f[0][0] == '2' ? 6 : 0;
			if (fam && inet_pton(fam == 4 ? AF_INET : AF_INET6, f[1], a) == 1)
				expect(c, p, s, a, (uint8_t)fam, (unsigned int)atoi(f[2]), server);
		}
	}
}

static void
ftp_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct ftp_ctx *c = ctx;
	struct ftp_state *st = state;
	(void)wctx;
	if (!p->payload_len || st->gave_up || s->key.proto != 6 || st->pkts >= FTP_READ_MAX)
		return;
	st->pkts++;
	const uint8_t *d = p->payload;
	uint32_t n = p->payload_len;
	if (!st->is_ftp) {
		/* an FTP server speaks first: any other first payload is not an FTP control
		 * session (or one whose start we missed, which only a port table can guess) */
		if (st->pkts == 1) {
			if (p->dir == CLS_DIR_BWD && n >= 4 && starts(d, n, "220") &&
				(d[3] == ' ' || d[3] == '-'))
				st->greeting = 1;
			else
				st->gave_up = 1;
		} else if (st->greeting && p->dir == CLS_DIR_FWD &&
			(starts(d, n, "USER ") || starts(d, n, "AUTH ") || starts(d, n, "FEAT") ||
				starts(d, n, "SYST") || starts(d, n, "OPTS ")))
			st->is_ftp = 1;
		else if (st->pkts >= FTP_GIVE_UP)
			st->gave_up = 1;
		return;
	}
	parse_endpoints(c, s, p);
}

static bool
ftp_ready(void *ctx, void *state, const struct cls_session *s)
{
	const struct ftp_state *st = state;
	(void)ctx;
	if (s->key.proto != 6 || s->type == CLS_SESSION_HOST)
		return true;
	/* an FTP control session is read to the end (or the bound): its data sessions follow */
	return st->gave_up || st->pkts >= FTP_READ_MAX;
}

static void
ftp_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct ftp_ctx *c = ctx;
	const struct ftp_state *st = state;
	(void)s;
	if (st->is_ftp) {
		out->app_id = c->app;
		out->confidence = 95;
		out->flags = CLS_RES_FINAL;
	} else {
		out->flags = CLS_RES_GAVE_UP;
	}
}

/* A control session is FTP from its greeting and first command on, though it is read on */
static bool
ftp_answer_early(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct ftp_state *st = state;
	if (!st->is_ftp)
		return false;
	ftp_classify(ctx, state, s, out);
	return true;
}

const struct cls_plugin cls_plugin_ftp = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "ftp",
	.version = "1.0",
	.state_size = sizeof(struct ftp_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = ftp_enable,
	.disable = ftp_disable,
	.packet = ftp_packet,
	.is_session_classifiable = ftp_ready,
	.answer_early = ftp_answer_early,
	.classify_session = ftp_classify,
};
