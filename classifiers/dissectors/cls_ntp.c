/* cls_ntp.c — NTP (RFC 5905) recognised by what only NTP does: a server's reply carries, as its
 * origin timestamp, the transmit timestamp of the request it answers.
 *
 * A 48-byte header (plus a MAC or NTPv4 extension fields, a multiple of 4 bytes) whose first
 * byte is a version 1-4 and a mode 1-5 is merely NTP-shaped — two fixed bits that random
 * datagrams meet one time in sixteen, which is why the payload signature for it is only a
 * shape. A request (mode 3, or symmetric 1/2) in one direction and a reply (mode 4, or 2/1) in
 * the other that echoes the request's 64-bit transmit timestamp is NTP beyond doubt, on any
 * port: that is what lets the ports the labelled traffic moves NTP to (1123) be identified.
 * A capture that holds only replies gets a weaker answer: a server reply (mode 4, stratum
 * 1-15) whose receive and transmit timestamps are set and within a second of each other,
 * twice.
 * Bound: four datagrams per session; 16 bytes of state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_plugin.h"

#define NTP_HDR 48
#define NTP_MAX_LEN (NTP_HDR + 1024)
#define NTP_MAX_PKTS 4
#define NTP_PAIR_CONFIDENCE 100
#define NTP_REPLY_CONFIDENCE 80

struct ntp_ctx {
	uint16_t app;
};

struct ntp_state {
	uint64_t request_xmit;        /* transmit timestamp of the last request seen */
	uint8_t request_dir;          /* its direction + 1 (0: none yet) */
	uint8_t pkts;
	uint8_t verdict;              /* 0 undecided, 1 paired, 2 lone replies, 3 not NTP */
	uint8_t replies;              /* plausible server replies seen with no request */
	uint8_t pad[4];
};
_Static_assert(sizeof(struct ntp_state) == 16, "NTP per-session state budget");

static int
ntp_enable(void **ctx, const struct cls_config *cfg)
{
	struct ntp_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app = cls_apps_id(cfg->apps, "NTP");
	if (!c->app) {
		free(c);
		return -ENOENT;
	}
	*ctx = c;
	return 0;
}

static void
ntp_disable(void *ctx)
{
	free(ctx);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The mode of an NTP-shaped datagram, or 0. */
static unsigned int
ntp_mode(const uint8_t *d, uint32_t n)
{
	if (n < NTP_HDR || n > NTP_MAX_LEN || (n - NTP_HDR) % 4)
		return 0;
	unsigned int vn = (d[0] >> 3) & 7, mode = d[0] & 7;
	if (vn < 1 || vn > 4 || mode < 1 || mode > 5)
		return 0;
	return mode;
}

static bool
plausible_reply(const uint8_t *d)
{
	uint64_t rx = rd64(d + 32), tx = rd64(d + 40);
	uint32_t rx_s = (uint32_t)(rx >> 32), tx_s = (uint32_t)(tx >> 32);
	return d[1] >= 1 && d[1] <= 15 && rx && tx && tx_s >= rx_s && tx_s - rx_s <= 1;
}

static void
ntp_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	struct ntp_state *st = state;
	(void)ctx;
	(void)wctx;
	if (st->verdict || s->key.proto != 17 || !p->payload_len)
		return;
	unsigned int mode = ntp_mode(p->payload, p->payload_len);
	if (!mode) {
		st->verdict = 3;
		return;
	}
	const uint8_t *d = p->payload;
	bool answers = mode == 4 || mode == 2 || mode == 1;
	if (answers && st->request_dir && st->request_dir != p->dir + 1 &&
		rd64(d + 24) == st->request_xmit && st->request_xmit) {
		st->verdict = 1;
		return;
	}
	if (mode == 3 || mode == 1 || mode == 2) {
		st->request_xmit = rd64(d + 40);
		st->request_dir = (uint8_t)(p->dir + 1);
	}
	if (mode == 4 && !st->request_dir && plausible_reply(d) && ++st->replies >= 2)
		st->verdict = 2;   /* a capture of replies only: two plausible ones */
	else if (++st->pkts >= NTP_MAX_PKTS)
		st->verdict = 3;
}

static bool
ntp_ready(void *ctx, void *state, const struct cls_session *s)
{
	const struct ntp_state *st = state;
	(void)ctx;
	return st->verdict || s->key.proto != 17 || s->type == CLS_SESSION_HOST;
}

static void
ntp_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct ntp_ctx *c = ctx;
	const struct ntp_state *st = state;
	(void)s;
	if (st->verdict == 1 || st->verdict == 2) {
		out->app_id = c->app;
		out->confidence = st->verdict == 1 ? NTP_PAIR_CONFIDENCE : NTP_REPLY_CONFIDENCE;
		out->evidence = st->verdict == 1 ? CLS_EV_DISSECTOR : CLS_EV_SIGNATURE;
		out->flags = CLS_RES_FINAL;
	} else {
		out->flags = CLS_RES_GAVE_UP;
	}
}

const struct cls_plugin cls_plugin_ntp = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "ntp",
	.version = "1.0",
	.state_size = sizeof(struct ntp_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = ntp_enable,
	.disable = ntp_disable,
	.packet = ntp_packet,
	.is_session_classifiable = ntp_ready,
	.classify_session = ntp_classify,
};
