/* cls_dns.c — DNS dissector (UDP, and TCP with its 2-byte length prefix); also tells mDNS and
 * LLMNR apart, which share the message format, by their multicast groups. Label = the first
 * question's name, lower-case and dotted.
 *
 * Why it is shaped this way: DNS has no magic number, so the header is held to what real
 * messages carry (opcode, bounded counts, a query has no answers and RCODE 0), the first
 * question must parse with a known class, and the remaining records are walked to see whether
 * the message ends exactly where its counts say (confidence 100) or not (90: snap length cut,
 * trailing bytes). Compression pointers must point strictly below every position the name has
 * visited, so a name walk always ends, and at most DNS_MAX_HOPS are followed anyway. No buffer:
 * a query fits one datagram or segment; a TCP length prefix sent alone is remembered (2 bytes).
 * Give-up bound: the first payload packet is not DNS, or DNS_MAX_PKTS packets without a whole
 * question. mDNS/LLMNR are recognised by 224.0.0.251/ff02::fb and 224.0.0.252/ff02::1:3 in the
 * session key; ports 5353/5355 only break the tie for unicast mDNS/LLMNR, never identify.
 *
 * NetBIOS name service (RFC 1002) shares the header and name format but is not DNS: its
 * question is one 32-letter label of 'A'-'P' ("first-level encoding" of a 16-byte NetBIOS
 * name), type NB or NBSTAT, and it uses opcodes DNS does not (release, WACK, refresh). Such a
 * message is NetBIOS, never DNS, whatever the port (confidence 100 on UDP 137, else 90; label =
 * the decoded name); anything else on UDP port 137 is refused rather than called DNS. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define DNS_MAX_HOPS 32     /* compression pointers followed per name */
#define DNS_MAX_PKTS 4      /* payload packets before giving up */
#define DNS_MAX_QD 4        /* questions in a unicast message (in practice always 1) */
#define DNS_MAX_QD_MCAST 64 /* mDNS queries ask for many services at once */

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Walk the name at `off`. *end = offset just past it in the message (pointers not followed).
 * If `text`, write it dotted and lower-case (labels' odd bytes and dots become '?').
 * Returns 1 ok; 0 the name runs past len; -1 malformed (bad label type, pointer not strictly
 * backwards, too many hops, longer than 255 bytes). */
static int
dns_name(const uint8_t *p, size_t len, size_t off, size_t *end, char *text, uint16_t *text_len)
{
	size_t pos = off, low = off, wire = 0, tl = 0;
	unsigned int hops = 0;
	bool jumped = false;

	for (;;) {
		if (pos >= len)
			return 0;
		uint8_t c = p[pos];

		if (c == 0) {
			if (!jumped)
				*end = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return 0;
			size_t target = (size_t)(c & 0x3f) << 8 | p[pos + 1];

			if (target < 12 || target >= low || ++hops > DNS_MAX_HOPS)
				return -1;
			if (!jumped)
				*end = pos + 2;
			jumped = true;
			low = pos = target;
			continue;
		}
		if (c & 0xc0) /* 0x40/0x80: extended label types, never deployed */
			return -1;
		wire += 1u + c;
		if (wire + 1 > 255)
			return -1;
		if (len - pos - 1 < c)
			return 0;
		if (text) {
			if (tl)
				text[tl++] = '.';
			for (unsigned int i = 0; i < c; i++) {
				uint8_t ch = p[pos + 1 + i];

				if (ch >= 'A' && ch <= 'Z')
					ch = (uint8_t)(ch + ('a' - 'A'));
				else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
						 ch == '-' || ch == '_'))
					ch = '?';
				text[tl++] = (char)ch;
			}
		}
		pos += 1u + c;
	}
	if (text) {
		if (tl == 0)
			text[tl++] = '.';
		text[tl] = '\0';
		*text_len = (uint16_t)tl;
	}
	return 1;
}

static bool
class_ok(uint16_t cl, unsigned int flags)
{
	if (flags & CLS_DNS_F_MULTICAST)
		cl &= 0x7fff; /* mDNS unicast-response / cache-flush bit */
	return cl == 1 || cl == 3 || cl == 4 || cl == 254 || cl == 255;
}

int
cls_dns_parse_query(const uint8_t *p, size_t len, unsigned int flags, struct cls_dns_msg *out)
{
	bool mcast = flags & CLS_DNS_F_MULTICAST;
	size_t off = 12, end;
	int r;

	if (len < 12)
		return 0;
	out->id = rd16(p);
	out->flags = rd16(p + 2);
	out->qdcount = rd16(p + 4);
	out->ancount = rd16(p + 6);
	out->nscount = rd16(p + 8);
	out->arcount = rd16(p + 10);
	out->response = out->flags >> 15;
	out->opcode = (out->flags >> 11) & 0xf;
	out->rcode = out->flags & 0xf;
	out->complete = false;
	out->name[0] = '\0';
	out->name_len = 0;
	out->qtype = out->qclass = 0;

	if (out->opcode != 0 && out->opcode != 2 && out->opcode != 4 && out->opcode != 5)
		return -1;
	if (mcast) {
		if (out->qdcount > DNS_MAX_QD_MCAST ||
			(out->qdcount == 0 && (!out->response || out->ancount == 0)))
			return -1;
	} else {
		if (out->qdcount == 0 || out->qdcount > DNS_MAX_QD)
			return -1;
		/* a plain query asks: no answers or authority, at most OPT + TSIG, no error */
		if (!out->response && out->opcode == 0 &&
			(out->ancount || out->nscount || out->arcount > 2 || out->rcode))
			return -1;
	}

	/* the record that names the message: first question, or first answer (mDNS) */
	r = dns_name(p, len, off, &end, out->name, &out->name_len);
	if (r <= 0)
		return r;
	off = end;
	if (len - off < 4)
		return 0;
	out->qtype = rd16(p + off);
	out->qclass = rd16(p + off + 2);
	if (out->qtype == 0 || !class_ok(out->qclass, flags))
		return -1;
	off += 4;
	if (out->qdcount == 0) { /* an answer: TTL and RDATA follow */
		if (len - off < 6)
			return 1;
		uint16_t rdl = rd16(p + off + 4);

		if (len - off - 6 < rdl)
			return 1;
		off += 6u + rdl;
	}

	/* the rest, as far as the bytes go; each record takes >= 5 bytes, bounding the loop */
	uint32_t left_q = out->qdcount ? out->qdcount - 1u : 0;
	uint32_t left_rr = (uint32_t)out->ancount + out->nscount + out->arcount -
			   (out->qdcount ? 0u : 1u);

	while (left_q + left_rr > 0) {
		r = dns_name(p, len, off, &end, NULL, NULL);
		if (r < 0)
			return -1;
		if (r == 0)
			return 1;
		off = end;
		if (left_q) {
			if (len - off < 4)
				return 1;
			off += 4;
			left_q--;
			continue;
		}
		if (len - off < 10)
			return 1;
		uint16_t rdl = rd16(p + off + 8);

		if (len - off - 10 < rdl)
			return 1;
		off += 10u + rdl;
		left_rr--;
	}
	out->complete = off == len;
	return 1;
}

int
cls_dns_parse_tcp(const uint8_t *p, size_t len, unsigned int flags, struct cls_dns_msg *out)
{
	size_t mlen;
	int r;

	if (len < 2)
		return 0;
	mlen = rd16(p);
	if (mlen < 12)
		return -1;
	if (len - 2 >= mlen) {
		r = cls_dns_parse_query(p + 2, mlen, flags, out);
		return r == 0 ? -1 : r; /* the whole message is there: no "need more" */
	}
	r = cls_dns_parse_query(p + 2, len - 2, flags, out);
	if (r == 1)
		out->complete = false;
	return r;
}

int
cls_nbns_parse(const uint8_t *p, size_t len, struct cls_nbns_msg *out)
{
	size_t end;
	uint16_t flags, qd, an, ns, ar;
	int r;

	if (len < 12)
		return 0;
	flags = rd16(p + 2);
	qd = rd16(p + 4);
	an = rd16(p + 6);
	ns = rd16(p + 8);
	ar = rd16(p + 10);
	out->response = flags >> 15;
	out->opcode = (flags >> 11) & 0xf;
	/* opcodes: query, registration, release, WACK, refresh (8, and 9 as some send it); the two
	 * bits between RA and B are zero; one record per section at most */
	if ((out->opcode != 0 && (out->opcode < 5 || out->opcode > 9)) || (flags & 0x0060) ||
		qd > 1 || an > 1 || ns > 1 || ar > 1 || qd + an == 0)
		return -1;
	if (len < 13)
		return 0;
	if (p[12] != 32)
		return -1;
	for (size_t i = 13; i < 45; i++) {
		if (i >= len)
			return 0;
		if (p[i] < 'A' || p[i] > 'P')
			return -1;
	}
	r = dns_name(p, len, 12, &end, NULL, NULL); /* the scope (NetBIOS scope labels) */
	if (r <= 0)
		return r;
	if (len - end < 4)
		return 0;
	out->qtype = rd16(p + end);
	if ((out->qtype != 0x20 && out->qtype != 0x21) || rd16(p + end + 2) != 1)
		return -1;
	/* 16 bytes: 15 name characters padded with spaces (NULs for the '*' wildcard), a suffix */
	uint8_t raw[16];

	for (size_t i = 0; i < 16; i++)
		raw[i] = (uint8_t)((p[13 + 2 * i] - 'A') << 4 | (p[14 + 2 * i] - 'A'));
	out->suffix = raw[15];
	size_t n = 15;

	while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == 0))
		n--;
	memcpy(out->name, raw, n);
	out->name[n] = '\0';
	out->name_len = (uint8_t)n;
	return 1;
}

/* ================================================================ plugin */

enum dns_verdict { V_UNDECIDED = 0, V_RECOGNISED, V_GAVE_UP };

struct dns_state {
	uint8_t verdict;        /* enum dns_verdict */
	uint8_t pkts;
	uint8_t confidence;
	uint8_t pending[2];     /* TCP: a length prefix arrived alone in this direction */
	uint16_t pending_len[2];
	uint16_t app_id;
};
_Static_assert(sizeof(struct dns_state) <= 144, "DNS per-session state budget");

struct dns_ctx {
	uint16_t app_dns, app_mdns, app_llmnr, app_netbios;
};

static int
dns_enable(void **ctx, const struct cls_config *cfg)
{
	struct dns_ctx *c;

	if (!cfg || !cfg->apps)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app_dns = cls_apps_id(cfg->apps, "DNS");
	if (!c->app_dns) {
		free(c);
		return -ENOENT;
	}
	/* without their own entries they are reported as DNS */
	c->app_mdns = cls_apps_id(cfg->apps, "mDNS");
	c->app_llmnr = cls_apps_id(cfg->apps, "LLMNR");
	c->app_netbios = cls_apps_id(cfg->apps, "NetBIOS"); /* 0: NBNS is only refused */
	*ctx = c;
	return 0;
}

static void
dns_disable(void *ctx)
{
	free(ctx);
}

enum dns_kind { K_DNS, K_MDNS, K_LLMNR };

static enum dns_kind
dns_kind(const struct cls_key *k)
{
	static const uint8_t mdns4[4] = {224, 0, 0, 251}, llmnr4[4] = {224, 0, 0, 252};
	static const uint8_t mdns6[16] = {0xff, 0x02, [15] = 0xfb};
	static const uint8_t llmnr6[16] = {0xff, 0x02, [13] = 0x01, [15] = 0x03};
	size_t n = k->family == 6 ? 16 : 4;
	const uint8_t *m = k->family == 6 ? mdns6 : mdns4, *l = k->family == 6 ? llmnr6 : llmnr4;

	if (memcmp(k->dst, m, n) == 0 || memcmp(k->src, m, n) == 0)
		return K_MDNS;
	if (memcmp(k->dst, l, n) == 0 || memcmp(k->src, l, n) == 0)
		return K_LLMNR;
	if (k->sport == 5353 || k->dport == 5353)
		return K_MDNS;
	if (k->sport == 5355 || k->dport == 5355)
		return K_LLMNR;
	return K_DNS;
}

static void
dns_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct dns_ctx *c = ctx;
	struct dns_state *st = state;
	unsigned int d = p->dir & 1;
	struct cls_dns_msg m;
	enum dns_kind kind;
	unsigned int flags;
	int r;

	(void)wctx;
	if (st->verdict)
		return;
	if ((p->l4proto != IPPROTO_UDP && p->l4proto != IPPROTO_TCP) ||
		s->type == CLS_SESSION_HOST) {
		st->verdict = V_GAVE_UP;
		return;
	}
	if (p->payload_len == 0)
		return;
	st->pkts++;
	kind = dns_kind(&s->key);
	flags = kind == K_DNS ? 0 : CLS_DNS_F_MULTICAST;
	if (p->l4proto == IPPROTO_UDP) {
		struct cls_nbns_msg nb;
		bool port137 = s->key.sport == 137 || s->key.dport == 137;
		int rn = cls_nbns_parse(p->payload, p->payload_len, &nb);

		if (rn == 1 && c->app_netbios) {
			st->app_id = c->app_netbios;
			st->confidence = port137 ? 100 : 90;
			cls_label_set(s, (const uint8_t *)nb.name, nb.name_len);
			st->verdict = V_RECOGNISED;
			return;
		}
		if (rn == 1 || port137) { /* NetBIOS-NS, or whatever else uses its port: not DNS */
			st->verdict = V_GAVE_UP;
			return;
		}
		r = cls_dns_parse_query(p->payload, p->payload_len, flags, &m);
	} else if (st->pending[d]) {
		size_t n = p->payload_len < st->pending_len[d] ? p->payload_len : st->pending_len[d];

		st->pending[d] = 0;
		r = cls_dns_parse_query(p->payload, n, flags, &m);
		if (r == 1 && n < st->pending_len[d])
			m.complete = false;
	} else if (p->payload_len == 2) {
		st->pending[d] = 1;
		st->pending_len[d] = rd16(p->payload);
		r = st->pending_len[d] < 12 ? -1 : 0;
	} else {
		r = cls_dns_parse_tcp(p->payload, p->payload_len, flags, &m);
	}
	if (r == 1) {
		st->app_id = kind == K_MDNS && c->app_mdns ? c->app_mdns
			     : kind == K_LLMNR && c->app_llmnr ? c->app_llmnr
							       : c->app_dns;
		st->confidence = m.complete ? 100 : 90;
		/* m.name is already dotted, lower-case and sanitised */
		cls_label_set(s, (const uint8_t *)m.name, m.name_len);
		st->verdict = V_RECOGNISED;
	} else if ((r < 0 && st->pkts == 1) || st->pkts >= DNS_MAX_PKTS) {
		st->verdict = V_GAVE_UP;
	}
}

static bool
dns_is_classifiable(void *ctx, void *state, const struct cls_session *s)
{
	const struct dns_state *st = state;

	(void)ctx;
	return st->verdict != V_UNDECIDED ||
	       (s->key.proto != IPPROTO_UDP && s->key.proto != IPPROTO_TCP) ||
	       s->type == CLS_SESSION_HOST;
}

static void
dns_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct dns_state *st = state;

	(void)ctx;
	(void)s;
	memset(out, 0, sizeof(*out));
	if (st->verdict != V_RECOGNISED) {
		out->flags = CLS_RES_GAVE_UP | CLS_RES_FINAL;
		return;
	}
	out->app_id = st->app_id;
	out->confidence = st->confidence;
	out->flags = CLS_RES_FINAL;
	cls_label_get(s, out->label, sizeof(out->label));
}

const struct cls_plugin cls_plugin_dns = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "dns",
	.version = "1.0",
	.state_size = sizeof(struct dns_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = dns_enable,
	.disable = dns_disable,
	.packet = dns_packet,
	.is_session_classifiable = dns_is_classifiable,
	.classify_session = dns_classify,
};
