/* cls_rtp.c — RTP, RTCP (RFC 3550) and DTLS (RFC 6347/9147) over UDP: the media and key
 * exchange of SIP and WebRTC calls, whose ports are negotiated and so never well known.
 *
 * Why it is shaped this way: RTP has no magic, only version 2 in the first two bits, so one
 * datagram proves nothing (a quarter of random bytes pass). What RTP does have is a stream: the
 * datagrams of one direction carry one SSRC and one payload type, and their sequence numbers go
 * up by one (a few lost allowed). RTP_RUN such datagrams in a row make it RTP; the state per
 * direction is the last SSRC, sequence number and payload type (8 bytes). Payload types 72-76
 * are where RTCP's 200-204 fall with the marker bit set, so they are left to RTCP: version 2,
 * packet type 200-204, and the length fields of a compound packet adding up exactly to the
 * datagram, first packet a sender or receiver report (RFC 3550 6.1). DTLS: a record header of
 * content type 20-23, version 0xfeff (1.0) or 0xfefd (1.2), epoch and sequence, and records
 * whose lengths end exactly at the datagram's end; a handshake record whose first message is a
 * ClientHello, HelloVerifyRequest or ServerHello with a consistent fragment header decides at
 * once, other records after two datagrams. No label: a DTLS ClientHello carries the SNI behind
 * a cookie, left for later. Give-up bound: RTP_MAX_PKTS payload datagrams (STUN checks often
 * come first in WebRTC), or at once on a datagram that is none of RTP, RTCP, DTLS or STUN
 * (SNMP, NTP, DNS answers...: a call's media never starts so, and saying so early lets the
 * combiner settle such sessions, dataplane/dp_select.h); other transports at once. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define RTP_RUN 3        /* datagrams of one SSRC in sequence before it is RTP */
#define RTP_SEQ_GAP 16   /* sequence numbers may jump this far (losses) */
#define RTP_MAX_PKTS 16  /* payload datagrams before giving up */
#define DTLS_RECORDS 2   /* datagrams of exact DTLS records before it is DTLS (no hello) */

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
cls_rtcp_parse(const uint8_t *p, size_t len)
{
	size_t o = 0;

	if (len < 8 || (p[1] != 200 && p[1] != 201)) /* a compound starts with SR or RR */
		return -1;
	while (o < len) { /* each packet >= 4 bytes: at most len / 4 rounds */
		if (len - o < 4 || (p[o] >> 6) != 2 || p[o + 1] < 200 || p[o + 1] > 204)
			return -1;
		size_t plen = ((size_t)rd16(p + o + 2) + 1) * 4;

		if (plen > len - o)
			return -1;
		o += plen;
	}
	return 1;
}

int
cls_rtp_parse(const uint8_t *p, size_t len, struct cls_rtp_hdr *out)
{
	size_t hl;

	if (len < 12 || (p[0] >> 6) != 2)
		return -1;
	hl = 12 + 4u * (p[0] & 0x0f);
	if (len < hl)
		return -1;
	out->pt = p[1] & 0x7f;
	if (out->pt >= 72 && out->pt <= 76) /* RTCP's 200-204 with the marker bit */
		return -1;
	out->seq = rd16(p + 2);
	out->ts = rd32(p + 4);
	out->ssrc = rd32(p + 8);
	return 1;
}

int
cls_dtls_parse(const uint8_t *p, size_t len, bool *hello)
{
	size_t o = 0;

	*hello = false;
	while (o < len) { /* each record >= 14 bytes */
		const uint8_t *r = p + o;

		if (len - o < 13 || r[0] < 20 || r[0] > 23 || r[1] != 0xfe ||
			(r[2] != 0xff && r[2] != 0xfd))
			return -1;
		size_t rl = rd16(r + 11);

		if (rl == 0 || rl > len - o - 13)
			return -1;
		/* the first record of a first flight: handshake epoch 0, a hello with a fragment
		 * header (type, length, message_seq, offset, fragment length) inside the record */
		if (o == 0 && r[0] == 22 && rd16(r + 3) == 0 && rl >= 12 &&
			(r[13] == 1 || r[13] == 2 || r[13] == 3)) {
			uint32_t mlen = rd24(r + 14), foff = rd24(r + 19), flen = rd24(r + 22);

			if (foff + flen <= mlen && flen <= rl - 12)
				*hello = true;
		}
		o += 13 + rl;
	}
	return 1;
}

/* ================================================================ plugin */

enum rtp_verdict { V_UNDECIDED = 0, V_RECOGNISED, V_GAVE_UP };

struct rtp_dir {
	uint32_t ssrc;
	uint16_t seq;
	uint8_t pt;
	uint8_t run;        /* datagrams in a row with this SSRC and PT, in sequence */
};

struct rtp_state {
	struct rtp_dir dir[2];
	uint8_t verdict;    /* enum rtp_verdict */
	uint8_t pkts;
	uint8_t dtls;       /* datagrams of exact DTLS records */
	uint8_t confidence;
	uint16_t app_id, sub_id;
};
_Static_assert(sizeof(struct rtp_state) <= 32, "RTP per-session state budget");

struct rtp_ctx {
	uint16_t app_rtp, sub_rtcp, app_dtls, sub_dtls;
};

static int
rtp_enable(void **ctx, const struct cls_config *cfg)
{
	struct rtp_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app_rtp = cls_apps_id(cfg->apps, "RTP");
	if (!c->app_rtp) {
		free(c);
		return -ENOENT;
	}
	c->sub_rtcp = cls_apps_sub_id(cfg->apps, c->app_rtp, "RTP/RTCP");
	/* DTLS: its own application if the table has one, else TLS/DTLS, else not reported */
	c->app_dtls = cls_apps_id(cfg->apps, "DTLS");
	if (!c->app_dtls) {
		uint16_t tls = cls_apps_id(cfg->apps, "TLS");

		c->sub_dtls = tls ? cls_apps_sub_id(cfg->apps, tls, "TLS/DTLS") : 0;
		c->app_dtls = c->sub_dtls ? tls : 0;
	}
	*ctx = c;
	return 0;
}

static void
rtp_disable(void *ctx)
{
	free(ctx);
}

/* A STUN message (RFC 5389, or RFC 3489 without the magic cookie): the connectivity checks that
 * precede WebRTC media on the same 5-tuple. */
static bool
stun_like(const uint8_t *p, uint32_t n)
{
	if (n < 20 || (p[0] & 0xc0) != 0)
		return false;
	uint32_t len = (uint32_t)p[2] << 8 | p[3];
	bool cookie = p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 && p[7] == 0x42;
	return cookie || len + 20 == n;
}

static void
rtp_decide(struct rtp_state *st, uint16_t app, uint16_t sub, uint8_t confidence)
{
	st->app_id = app;
	st->sub_id = sub;
	st->confidence = confidence;
	st->verdict = app ? V_RECOGNISED : V_GAVE_UP;
}

static void
rtp_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct rtp_ctx *c = ctx;
	struct rtp_state *st = state;
	struct rtp_dir *d = &st->dir[p->dir & 1];
	struct cls_rtp_hdr h;
	bool hello;

	(void)wctx;
	if (st->verdict)
		return;
	if (p->l4proto != IPPROTO_UDP || s->type == CLS_SESSION_HOST) {
		st->verdict = V_GAVE_UP;
		return;
	}
	if (p->payload_len == 0)
		return;
	st->pkts++;
	if (cls_dtls_parse(p->payload, p->payload_len, &hello) == 1) {
		if (hello || ++st->dtls >= DTLS_RECORDS)
			rtp_decide(st, c->app_dtls, c->sub_dtls, hello ? 100 : 90);
	} else if (cls_rtcp_parse(p->payload, p->payload_len) == 1) {
		rtp_decide(st, c->app_rtp, c->sub_rtcp, 90);
	} else if (cls_rtp_parse(p->payload, p->payload_len, &h) == 1) {
		uint16_t step = (uint16_t)(h.seq - d->seq);

		if (d->run && h.ssrc == d->ssrc && h.pt == d->pt && step >= 1 && step <= RTP_SEQ_GAP)
			d->run++;
		else
			d->run = 1;
		d->ssrc = h.ssrc;
		d->seq = h.seq;
		d->pt = h.pt;
		if (d->run >= RTP_RUN)
			rtp_decide(st, c->app_rtp, 0, 90);
	} else if (!stun_like(p->payload, p->payload_len)) {
		st->verdict = V_GAVE_UP;
	}
	if (!st->verdict && st->pkts >= RTP_MAX_PKTS)
		st->verdict = V_GAVE_UP;
}

static bool
rtp_is_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct rtp_state *st = state;

	(void)ctx;
	return st->verdict != V_UNDECIDED || s->key.proto != IPPROTO_UDP ||
	       s->type == CLS_SESSION_HOST;
}

static void
rtp_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct rtp_state *st = state;

	(void)ctx;
	(void)s;
	memset(out, 0, sizeof(*out));
	if (st->verdict != V_RECOGNISED) {
		out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
		return;
	}
	out->app_id = st->app_id;
	out->sub_id = st->sub_id;
	out->confidence = st->confidence;
	out->flags = CLS_RES_FINAL;
}

const struct cls_plugin cls_plugin_rtp = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "rtp",
	.version = "1.0",
	.state_size = sizeof(struct rtp_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = rtp_enable,
	.disable = rtp_disable,
	.packet = rtp_packet,
	.is_session_classifiable = rtp_is_classifiable,
	.classify_session = rtp_classify,
};
