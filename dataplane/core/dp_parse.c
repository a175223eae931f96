/* dp_parse.c — the per-packet header parser behind dp_parse.h.
 *
 * Runs once per packet on the worker's hot path (budget: a few tens of ns at 15 Mpps per core),
 * so it is straight-line code over the caller's buffer: no allocation, no copies beyond the
 * addresses, one memset of the result. Every read is preceded by a bound check against caplen;
 * the fuzz target (tests/fuzz/fuzz_parse.c) holds it to that under ASan/UBSan.
 *
 * Status rules, in the order they are decided:
 *  - TRUNCATED: a header we need ends past caplen. What was learnt before the cut is kept.
 *  - MALFORMED: a field is impossible (IPv4 version/IHL, a total length shorter than the header,
 *    a TCP data offset < 5, a UDP length < 8, a header that ends past the IP datagram's end).
 *  - NON_IP / UNSUPPORTED: the frame is fine but not IP, or carries IP in something we do not
 *    decode (a 9th VLAN tag, more than 8 IPv6 extension headers, a 9th MPLS label, tunnels
 *    nested deeper than DP_TUNNEL_DEPTH_MAX, unknown link).
 * A payload cut short by the snap length is not an error: only headers count.
 *
 * Tunnels (IP-in-IP, GRE v0, ERSPAN I/II/III, VXLAN, GTP-U, MPLS, PPPoE session) are opened on
 * the rare path only: the untunnelled hot path pays one compare in the UDP branch (the tunnel
 * ports) and none for TCP. Opening one records the IP header outside it, clears what was learnt
 * about the outer packet and parses the inner one within the outer's bounds (caplen and the
 * outer datagram's own length: an inner header cut by the outer length is MALFORMED, by the
 * capture TRUNCATED). Each level recurses once, at most DP_TUNNEL_DEPTH_MAX levels. A packet
 * that is not what its port or protocol promises (a GTP echo, a VXLAN header without the I flag,
 * GRE v1 as PPTP uses it, a GRE payload type we do not open) is left described as the outer
 * packet, as before. Fragments are opened only at offset 0 (later ones carry no inner header). */
#include <stddef.h>
#include <string.h>

#include "dp_linktype.h"
#include "dp_parse.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Ethertypes and IP protocols we branch on (spelled out: this file has no system headers). */
#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define ET_QINQ_OLD 0x9100
#define ET_MPLS_UC 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE_SES 0x8864
#define ET_TEB 0x6558       /* transparent Ethernet bridging: Ethernet over GRE */
#define ET_ERSPAN_2 0x88be  /* ERSPAN type I (no GRE sequence) and II */
#define ET_ERSPAN_3 0x22eb

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GTPU 2152

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_IPIP 4
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_IPV6 41
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_GRE 47
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_NONE 59
#define PROTO_DSTOPTS 60
#define PROTO_SCTP 132
#define PROTO_MOBILITY 135

/* Walk bounds. Real traffic has at most 2 VLAN tags and 2–3 IPv6 extension headers; the bounds
 * only stop crafted packets from making the per-packet cost unbounded. Anything deeper is
 * reported UNSUPPORTED rather than guessed at. */
#define DP_VLAN_WALK_MAX 8
#define DP_IPV6_EXT_MAX 8
#define DP_MPLS_LABELS_MAX 8
#define DP_GTP_EXT_MAX 8

/* A datagram whose length field cannot be trusted (IPv6 payload length 0: a jumbogram, or a
 * segmentation-offloaded frame captured on the sending host) ends where the capture ends. */
#define IP_END_UNKNOWN UINT32_MAX

/* The hot struct stays within one cache line: it is written for every packet. */
_Static_assert(sizeof(struct dp_pkt_info) <= 64, "dp_pkt_info must fit one cache line");

const char *const dp_parse_status_names[DP_PARSE_STATUS_MAX] = {
#define _(sym, name) [DP_PARSE_##sym] = name,
	DP_PARSE_STATUS_LIST(_)
#undef _
};

const char *const dp_tunnel_names[DP_TUNNEL_MAX] = {
#define _(sym, name) [DP_TUNNEL_##sym] = name,
	DP_TUNNEL_LIST(_)
#undef _
};

static inline uint16_t
rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2); /* one unaligned load and a rotate, not two byte loads */
	return __builtin_bswap16(v);
}

static inline uint32_t
rd32_be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline enum dp_parse_status
done(struct dp_pkt_info *pi, enum dp_parse_status st)
{
	pi->status = (uint8_t)st;
	return st;
}

/* A header needing bytes up to `need_end` did not fit: past the datagram's own end it is
 * malformed (the IP length says it cannot be there), otherwise the snap length cut it. */
static inline enum dp_parse_status
short_header(struct dp_pkt_info *pi, uint32_t need_end, uint32_t ip_end)
{
	return done(pi, need_end > ip_end ? DP_PARSE_MALFORMED : DP_PARSE_TRUNCATED);
}

static inline void
set_payload(struct dp_pkt_info *pi, uint32_t off, uint32_t end)
{
	pi->payload_off = (uint16_t)off;
	pi->payload_len = (uint16_t)(end > off ? end - off : 0);
}

static enum dp_parse_status parse_ip4(const uint8_t *d, uint32_t cap, uint32_t off,
	struct dp_pkt_info *pi);
static enum dp_parse_status parse_ip6(const uint8_t *d, uint32_t cap, uint32_t off,
	struct dp_pkt_info *pi);
static int decap_ip_proto(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t ip_end,
	uint8_t proto, struct dp_pkt_info *pi);
static int decap_udp(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t udp_end,
	struct dp_pkt_info *pi);

/* The partner of each ICMP/ICMPv6 type that comes in request/reply pairs, plus one (0: none),
 * as two small tables: a load, not a switch, on the per-packet path. */
static const uint8_t icmp4_partner[256] = {
	[8] = 0 + 1, [0] = 8 + 1,   /* echo request / reply */
	[10] = 9 + 1, [9] = 10 + 1, /* router solicitation / advertisement */
	[13] = 14 + 1, [14] = 13 + 1, /* timestamp */
	[15] = 16 + 1, [16] = 15 + 1, /* information */
	[17] = 18 + 1, [18] = 17 + 1, /* address mask */
};
static const uint8_t icmp6_partner[256] = {
	[128] = 129 + 1, [129] = 128 + 1, /* echo request / reply */
	[133] = 134 + 1, [134] = 133 + 1, /* router solicitation / advertisement */
	[135] = 136 + 1, [136] = 135 + 1, /* neighbour solicitation / advertisement */
};

/* Transport header at `off`. `ip_end` is where the IP datagram ends by its length field (may be
 * past caplen, or IP_END_UNKNOWN); bytes are readable up to min(ip_end, cap). */
static inline enum dp_parse_status
parse_l4(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t ip_end, uint8_t proto,
	struct dp_pkt_info *pi)
{
	uint32_t end = ip_end < cap ? ip_end : cap;
	uint32_t hlen, l4_end = ip_end;
	enum dp_parse_status st = DP_PARSE_OK;

	pi->l4proto = proto;
	pi->l4_off = (uint16_t)off;

	/* TCP, UDP and SCTP start with the two ports. They are taken as soon as they are there:
	 * a snapped header still hashes with its flow. */
	if (likely(proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP)) {
		if (likely(off + 4 <= end)) {
			pi->sport = rd16(d + off);
			pi->dport = rd16(d + off + 2);
			pi->flags |= DP_PKT_HAS_L4;
		}
	}

	if (likely(proto == PROTO_TCP)) {
		if (unlikely(off + 20 > end))
			return short_header(pi, off + 20, ip_end);
		hlen = (uint32_t)(d[off + 12] >> 4) * 4;
		pi->tcp_flags = d[off + 13];
		if (unlikely(hlen < 20))
			return done(pi, DP_PARSE_MALFORMED);
		if (unlikely(off + hlen > end))
			return short_header(pi, off + hlen, ip_end);
	} else if (proto == PROTO_UDP) {
		uint32_t ulen;

		if (unlikely(off + 8 > end))
			return short_header(pi, off + 8, ip_end);
		hlen = 8;
		ulen = rd16(d + off + 4);
		if (unlikely(ulen < 8)) {
			/* 0 is legal only in an IPv6 jumbogram (RFC 2675): the IP length rules. */
			if (!(ulen == 0 && pi->l3 == DP_L3_IPV6))
				st = DP_PARSE_MALFORMED;
		} else if (unlikely(ip_end != IP_END_UNKNOWN && off + ulen > ip_end)) {
			/* A first fragment's UDP length covers the whole reassembled datagram. */
			if (!(pi->flags & DP_PKT_FRAGMENT))
				st = DP_PARSE_MALFORMED;
		} else {
			l4_end = off + ulen;
		}
		if (unlikely(pi->dport == UDP_PORT_VXLAN || pi->dport == UDP_PORT_GTPU ||
			     pi->sport == UDP_PORT_GTPU) && st == DP_PARSE_OK) {
			int r = decap_udp(d, cap, off, l4_end, pi);

			if (r >= 0)
				return (enum dp_parse_status)r;
		}
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		/* Every ICMP/ICMPv6 message has an 8-byte header (type, code, sum, 4 more). */
		if (likely(off + 2 <= end)) {
			uint8_t partner = (proto == PROTO_ICMPV6 ? icmp6_partner : icmp4_partner)[d[off]];

			/* sport = type; dport = the partner type of a request/reply pair (so a
			 * request a→b and its reply b→a have one symmetric key), else the code */
			pi->sport = d[off];
			pi->dport = partner ? (uint16_t)(partner - 1) : d[off + 1];
			pi->flags |= DP_PKT_HAS_L4;
		}
		if (unlikely(off + 8 > end))
			return short_header(pi, off + 8, ip_end);
		hlen = 8;
	} else if (proto == PROTO_SCTP) {
		if (unlikely(off + 12 > end))
			return short_header(pi, off + 12, ip_end);
		hlen = 12;
	} else {
		if (unlikely(proto == PROTO_IPIP || proto == PROTO_IPV6 || proto == PROTO_GRE)) {
			int r = decap_ip_proto(d, cap, off, ip_end, proto, pi);

			if (r >= 0)
				return (enum dp_parse_status)r;
		}
		/* ESP, OSPF, GRE we do not open, …: the whole IP payload is the payload. */
		hlen = 0;
	}
	set_payload(pi, off + hlen, l4_end < cap ? l4_end : cap);
	return done(pi, st);
}

/* The IPv4 header is not all there, or is not a plain 20-byte one: the rare cases, apart. */
__attribute__((noinline)) static enum dp_parse_status
parse_ip4_slow(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t *ihl,
	struct dp_pkt_info *pi)
{
	if (off + 1 > cap)
		return done(pi, DP_PARSE_TRUNCATED);
	if ((d[off] >> 4) != 4)
		return done(pi, DP_PARSE_MALFORMED);
	*ihl = (uint32_t)(d[off] & 0x0f) * 4;
	if (*ihl < 20)
		return done(pi, DP_PARSE_MALFORMED);
	if (off + 20 > cap)
		return done(pi, DP_PARSE_TRUNCATED);
	if (*ihl > 20)
		pi->flags |= DP_PKT_IPV4_OPTS;
	return DP_PARSE_OK;
}

static enum dp_parse_status
parse_ip4(const uint8_t *d, uint32_t cap, uint32_t off, struct dp_pkt_info *pi)
{
	uint32_t ihl = 20, tot, ip_end;
	uint16_t frag;
	uint8_t proto;

	/* l3 is set from what the link layer announced, before any check, so that the anonymiser
	 * can still scrub the address bytes of a cut or malformed header. */
	pi->l3 = DP_L3_IPV4;
	pi->l3_off = (uint16_t)off;
	if (unlikely(off + 20 > cap || d[off] != 0x45)) {
		enum dp_parse_status st = parse_ip4_slow(d, cap, off, &ihl, pi);

		if (st != DP_PARSE_OK)
			return st;
	}
	memcpy(pi->src, d + off + 12, 4);
	memcpy(pi->dst, d + off + 16, 4);
	tot = rd16(d + off + 2);
	if (unlikely(tot < ihl))
		return done(pi, DP_PARSE_MALFORMED);
	if (unlikely(off + ihl > cap))
		return done(pi, DP_PARSE_TRUNCATED); /* options cut */
	ip_end = off + tot;
	proto = d[off + 9];
	frag = rd16(d + off + 6);
	if (unlikely(frag & 0x3fff)) { /* MF or a fragment offset */
		pi->flags |= DP_PKT_FRAGMENT;
		if (frag & 0x1fff) {
			/* A later fragment: its bytes continue someone else's transport header. */
			pi->l4proto = proto;
			pi->l4_off = (uint16_t)(off + ihl);
			set_payload(pi, off + ihl, ip_end < cap ? ip_end : cap);
			return done(pi, DP_PARSE_OK);
		}
		pi->flags |= DP_PKT_FIRST_FRAG;
	}
	return parse_l4(d, cap, off + ihl, ip_end, proto, pi);
}

static enum dp_parse_status
parse_ip6(const uint8_t *d, uint32_t cap, uint32_t off, struct dp_pkt_info *pi)
{
	uint32_t plen, ip_end, end, cur, hl;
	unsigned int n_ext = 0;
	uint8_t nh;

	pi->l3 = DP_L3_IPV6;
	pi->l3_off = (uint16_t)off;
	if (unlikely(off + 1 > cap))
		return done(pi, DP_PARSE_TRUNCATED);
	if (unlikely((d[off] >> 4) != 6))
		return done(pi, DP_PARSE_MALFORMED);
	if (unlikely(off + 40 > cap))
		return done(pi, DP_PARSE_TRUNCATED);
	memcpy(pi->src, d + off + 8, 16);
	memcpy(pi->dst, d + off + 24, 16);
	plen = rd16(d + off + 4);
	ip_end = plen ? off + 40 + plen : IP_END_UNKNOWN;
	end = ip_end < cap ? ip_end : cap;
	nh = d[off + 6];
	cur = off + 40;

	/* At most DP_IPV6_EXT_MAX extension headers, each at most 2 KiB: the walk is bounded in
	 * both steps and bytes. */
	for (;;) {
		switch (nh) {
		case PROTO_HOPOPTS:
		case PROTO_ROUTING:
		case PROTO_DSTOPTS:
		case PROTO_MOBILITY:
		case PROTO_AH:
			if (unlikely(n_ext++ == DP_IPV6_EXT_MAX))
				return done(pi, DP_PARSE_UNSUPPORTED);
			pi->flags |= DP_PKT_IPV6_EXT;
			if (unlikely(cur + 2 > end))
				return short_header(pi, cur + 2, ip_end);
			/* AH: 4-byte words minus 2 (RFC 4302); the others: 8-byte units minus 1 */
			hl = nh == PROTO_AH ? ((uint32_t)d[cur + 1] + 2) * 4
					    : ((uint32_t)d[cur + 1] + 1) * 8;
			if (unlikely(cur + hl > end))
				return short_header(pi, cur + hl, ip_end);
			nh = d[cur];
			cur += hl;
			continue;
		case PROTO_FRAGMENT: {
			uint16_t fo;

			if (unlikely(n_ext++ == DP_IPV6_EXT_MAX))
				return done(pi, DP_PARSE_UNSUPPORTED);
			pi->flags |= DP_PKT_IPV6_EXT;
			if (unlikely(cur + 8 > end))
				return short_header(pi, cur + 8, ip_end);
			nh = d[cur];
			fo = rd16(d + cur + 2);
			cur += 8;
			if (fo & 0xfff8) {
				pi->flags |= DP_PKT_FRAGMENT;
				pi->l4proto = nh;
				pi->l4_off = (uint16_t)cur;
				set_payload(pi, cur, end);
				return done(pi, DP_PARSE_OK);
			}
			/* Offset 0 with M clear: an atomic fragment (RFC 6946), a whole packet. */
			if (fo & 1)
				pi->flags |= DP_PKT_FRAGMENT | DP_PKT_FIRST_FRAG;
			continue;
		}
		case PROTO_NONE:
			/* Nothing follows: no transport, no payload. */
			pi->l4_off = (uint16_t)cur;
			pi->payload_off = (uint16_t)cur;
			return done(pi, DP_PARSE_OK);
		default:
			/* ESP ends the walk here too: what follows is encrypted. */
			return parse_l4(d, cap, cur, ip_end, nh, pi);
		}
	}
}

static enum dp_parse_status decap_mpls(const uint8_t *d, uint32_t cap, uint32_t off,
	struct dp_pkt_info *pi);
static enum dp_parse_status decap_pppoe(const uint8_t *d, uint32_t cap, uint32_t off,
	struct dp_pkt_info *pi);

static enum dp_parse_status
parse_other_ethertype(const uint8_t *d, uint32_t cap, uint16_t et, uint32_t off,
	struct dp_pkt_info *pi)
{
	/* where the non-IP payload starts (ARP: the anonymiser rewrites its addresses) */
	pi->l3_off = (uint16_t)off;
	if (et == ET_MPLS_UC || et == ET_MPLS_MC)
		return decap_mpls(d, cap, off, pi);
	if (et == ET_PPPOE_SES)
		return decap_pppoe(d, cap, off, pi);
	return done(pi, DP_PARSE_NON_IP);
}

/* Ethertype-dispatched payload at `off` (Ethernet, SLL, SLL2), VLAN/QinQ tags first. */
static inline enum dp_parse_status
parse_ethertype(const uint8_t *d, uint32_t cap, uint32_t off, uint16_t et, struct dp_pkt_info *pi)
{
	unsigned int tags = 0;

	if (likely(et == ET_IPV4)) {
		pi->ethertype = et;
		return parse_ip4(d, cap, off, pi);
	}
	while (unlikely(et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD)) {
		if (tags++ == DP_VLAN_WALK_MAX) {
			pi->ethertype = et;
			return done(pi, DP_PARSE_UNSUPPORTED);
		}
		if (off + 4 > cap) {
			pi->ethertype = et;
			return done(pi, DP_PARSE_TRUNCATED);
		}
		/* Only the outer two are kept; n_vlans never exceeds the array. */
		if (pi->n_vlans < 2)
			pi->vlan[pi->n_vlans++] = rd16(d + off) & 0x0fff;
		et = rd16(d + off + 2);
		off += 4;
	}
	pi->ethertype = et;
	if (likely(et == ET_IPV4))
		return parse_ip4(d, cap, off, pi);
	if (et == ET_IPV6)
		return parse_ip6(d, cap, off, pi);
	return parse_other_ethertype(d, cap, et, off, pi);
}

/* ---- tunnels: the rare path, out of line --------------------------------------------------- */

/* Open one encapsulation level whose outer IP header is at `outer_l3` (DP_OFF_NONE for MPLS and
 * PPPoE, which sit below IP). Forgets what was learnt about the outer packet, so that nothing
 * of it can be mistaken for the inner one's. Returns -1 when the depth bound is reached. */
static int
enter_tunnel(struct dp_pkt_info *pi, enum dp_tunnel kind, uint32_t outer_l3)
{
	if (pi->tunnel_depth == DP_TUNNEL_DEPTH_MAX)
		return -1;
	if (pi->tunnel_depth == 0) {
		pi->tunnel = (uint8_t)kind;
		for (unsigned int i = 0; i < DP_TUNNEL_DEPTH_MAX; i++)
			pi->outer_l3_off[i] = DP_OFF_NONE;
	}
	pi->outer_l3_off[pi->tunnel_depth++] = (uint16_t)outer_l3;
	memset(pi->src, 0, sizeof(pi->src));
	memset(pi->dst, 0, sizeof(pi->dst));
	pi->sport = pi->dport = 0;
	pi->l4_off = pi->payload_off = pi->payload_len = 0;
	pi->l3 = DP_L3_NONE;
	pi->l4proto = pi->tcp_flags = pi->flags = 0;
	return 0;
}

/* The bound was reached: the packet stays described as the last level opened. */
static enum dp_parse_status
too_deep(struct dp_pkt_info *pi, uint32_t off, uint32_t end)
{
	set_payload(pi, off, end);
	return done(pi, DP_PARSE_UNSUPPORTED);
}

/* An inner parse reported TRUNCATED, but the capture went on past `bound` (the outer datagram's
 * own end): the outer length field cut the inner packet, which is malformed, not snapped. */
static inline enum dp_parse_status
inner_status(struct dp_pkt_info *pi, enum dp_parse_status st, uint32_t bound, uint32_t cap)
{
	if (st == DP_PARSE_TRUNCATED && bound < cap)
		return done(pi, DP_PARSE_MALFORMED);
	return st;
}

/* IP whose version is only known from its first nibble (MPLS, GTP-U). */
static enum dp_parse_status
parse_ip_guess(const uint8_t *d, uint32_t end, uint32_t off, struct dp_pkt_info *pi)
{
	pi->l3_off = (uint16_t)off;
	if (off + 1 > end)
		return done(pi, DP_PARSE_TRUNCATED);
	if ((d[off] >> 4) == 4)
		return parse_ip4(d, end, off, pi);
	if ((d[off] >> 4) == 6)
		return parse_ip6(d, end, off, pi);
	return done(pi, DP_PARSE_NON_IP); /* an Ethernet pseudowire, a control word, … */
}

/* Ethernet inside a tunnel (VXLAN, GRE 0x6558, ERSPAN), within `end`. */
static enum dp_parse_status
parse_inner_ethernet(const uint8_t *d, uint32_t end, uint32_t off, struct dp_pkt_info *pi)
{
	pi->l3_off = (uint16_t)off;
	if (off + 14 > end)
		return done(pi, DP_PARSE_TRUNCATED);
	return parse_ethertype(d, end, off + 14, rd16(d + off + 12), pi);
}

/* GRE version 0 (RFC 2784/2890) at `off`: C, K and S add 4 bytes each. Returns a status, or -1
 * to leave the packet described as the outer one (v1, source routing, a type we do not open). */
static int
decap_gre(const uint8_t *d, uint32_t end, uint32_t off, struct dp_pkt_info *pi,
	uint32_t outer_l3)
{
	uint16_t fl, type;
	uint32_t hlen, p;
	enum dp_tunnel kind;

	if (off + 4 > end)
		return -1;
	fl = rd16(d + off);
	type = rd16(d + off + 2);
	if (fl & 0x4007) /* routing present (RFC 1701), or a version other than 0 */
		return -1;
	if (type == ET_IPV4 || type == ET_IPV6 || type == ET_TEB)
		kind = DP_TUNNEL_GRE;
	else if (type == ET_ERSPAN_2 || type == ET_ERSPAN_3)
		kind = DP_TUNNEL_ERSPAN;
	else
		return -1;
	if (enter_tunnel(pi, kind, outer_l3) < 0)
		return too_deep(pi, off, end);
	hlen = 4 + (fl & 0x8000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
	p = off + hlen;
	pi->l3_off = (uint16_t)p;
	if (p > end)
		return done(pi, DP_PARSE_TRUNCATED);
	switch (type) {
	case ET_IPV4:
		return parse_ip4(d, end, p, pi);
	case ET_IPV6:
		return parse_ip6(d, end, p, pi);
	case ET_TEB:
		return parse_inner_ethernet(d, end, p, pi);
	case ET_ERSPAN_2:
		/* type II has an 8-byte header and a GRE sequence number; type I has neither */
		return parse_inner_ethernet(d, end, p + (fl & 0x1000 ? 8 : 0), pi);
	default:
		/* type III: 12 bytes, then an 8-byte platform subheader when O (the last bit of
		 * the third word) is set */
		if (p + 12 > end)
			return done(pi, DP_PARSE_TRUNCATED);
		return parse_inner_ethernet(d, end, p + 12 + (d[p + 11] & 1 ? 8 : 0), pi);
	}
}

/* IP protocols 4 (IPv4), 41 (IPv6) and 47 (GRE) at `off`, the payload of the IP header at
 * pi->l3_off that ends at ip_end. */
__attribute__((noinline)) static int
decap_ip_proto(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t ip_end, uint8_t proto,
	struct dp_pkt_info *pi)
{
	uint32_t end = ip_end < cap ? ip_end : cap, outer_l3 = pi->l3_off;
	enum dp_parse_status st;
	int r;

	if ((pi->flags & DP_PKT_FRAGMENT) && !(pi->flags & DP_PKT_FIRST_FRAG))
		return -1;
	if (proto == PROTO_GRE) {
		r = decap_gre(d, end, off, pi, outer_l3);
		return r < 0 ? r : (int)inner_status(pi, (enum dp_parse_status)r, end, cap);
	}
	if (enter_tunnel(pi, DP_TUNNEL_IPIP, outer_l3) < 0)
		return too_deep(pi, off, end);
	st = proto == PROTO_IPIP ? parse_ip4(d, end, off, pi) : parse_ip6(d, end, off, pi);
	return (int)inner_status(pi, st, end, cap);
}

/* GTPv1-U (3GPP TS 29.281) at `p`: 8 bytes; E, S or PN add 4 (sequence, N-PDU, next extension
 * type); extension headers are 4n bytes, n in their first byte, the next type in their last. */
static int
decap_gtpu(const uint8_t *d, uint32_t end, uint32_t p, struct dp_pkt_info *pi, uint32_t outer_l3)
{
	uint32_t hl = 8, gend, outer_end = end;
	uint8_t next;

	/* version 1, protocol type GTP (not GTP'), message G-PDU; anything else is signalling */
	if (p + 2 > end || (d[p] & 0xf0) != 0x30 || d[p + 1] != 0xff)
		return -1;
	if (enter_tunnel(pi, DP_TUNNEL_GTPU, outer_l3) < 0)
		return too_deep(pi, p, end);
	pi->l3_off = (uint16_t)p;
	if (p + 8 > end)
		return done(pi, DP_PARSE_TRUNCATED);
	gend = p + 8 + rd16(d + p + 2); /* the length counts what follows the first 8 bytes */
	if (gend < end)
		end = gend;
	if (d[p] & 0x07) {
		if (p + 12 > end)
			return done(pi, DP_PARSE_TRUNCATED);
		hl = 12;
		next = d[p + 11];
		for (unsigned int n = 0; next != 0; n++) {
			uint32_t len;

			if (n == DP_GTP_EXT_MAX)
				return done(pi, DP_PARSE_UNSUPPORTED);
			if (p + hl + 1 > end)
				return done(pi, DP_PARSE_TRUNCATED);
			len = (uint32_t)d[p + hl] * 4;
			if (len == 0)
				return done(pi, DP_PARSE_MALFORMED);
			if (p + hl + len > end)
				return done(pi, DP_PARSE_TRUNCATED);
			next = d[p + hl + len - 1];
			hl += len;
		}
	}
	return (int)inner_status(pi, parse_ip_guess(d, end, p + hl, pi), gend, outer_end);
}

/* UDP to the VXLAN or GTP-U port, header at `off`, datagram ending at udp_end. */
__attribute__((noinline)) static int
decap_udp(const uint8_t *d, uint32_t cap, uint32_t off, uint32_t udp_end, struct dp_pkt_info *pi)
{
	uint32_t end = udp_end < cap ? udp_end : cap, p = off + 8, outer_l3 = pi->l3_off;
	int r;

	if ((pi->flags & DP_PKT_FRAGMENT) && !(pi->flags & DP_PKT_FIRST_FRAG))
		return -1;
	if (pi->dport == UDP_PORT_VXLAN) {
		/* RFC 7348: flags (I = 0x08: the VNI is valid), 3 reserved, VNI, 1 reserved */
		if (p + 1 > end || !(d[p] & 0x08))
			return -1;
		if (enter_tunnel(pi, DP_TUNNEL_VXLAN, outer_l3) < 0)
			return too_deep(pi, p, end);
		pi->l3_off = (uint16_t)p;
		if (p + 8 > end)
			return (int)inner_status(pi, done(pi, DP_PARSE_TRUNCATED), end, cap);
		r = parse_inner_ethernet(d, end, p + 8, pi);
	} else {
		r = decap_gtpu(d, end, p, pi, outer_l3);
		if (r < 0)
			return r;
	}
	return (int)inner_status(pi, (enum dp_parse_status)r, end, cap);
}

/* MPLS label stack at `off` (4 bytes a label, S = bottom of stack), then IP by its nibble. */
__attribute__((noinline)) static enum dp_parse_status
decap_mpls(const uint8_t *d, uint32_t cap, uint32_t off, struct dp_pkt_info *pi)
{
	if (enter_tunnel(pi, DP_TUNNEL_MPLS, DP_OFF_NONE) < 0)
		return done(pi, DP_PARSE_UNSUPPORTED);
	for (unsigned int n = 0;; n++) {
		if (n == DP_MPLS_LABELS_MAX)
			return done(pi, DP_PARSE_UNSUPPORTED);
		if (off + 4 > cap)
			return done(pi, DP_PARSE_TRUNCATED);
		off += 4;
		if (d[off - 2] & 1)
			break;
	}
	return parse_ip_guess(d, cap, off, pi);
}

/* PPPoE session stage (RFC 2516): ver/type 0x11, code 0, session id, length, then PPP. */
__attribute__((noinline)) static enum dp_parse_status
decap_pppoe(const uint8_t *d, uint32_t cap, uint32_t off, struct dp_pkt_info *pi)
{
	uint32_t end;
	uint16_t ppp;

	if (enter_tunnel(pi, DP_TUNNEL_PPPOE, DP_OFF_NONE) < 0)
		return done(pi, DP_PARSE_UNSUPPORTED);
	pi->l3_off = (uint16_t)off;
	if (off + 8 > cap)
		return done(pi, DP_PARSE_TRUNCATED);
	if (d[off] != 0x11 || d[off + 1] != 0 || rd16(d + off + 4) < 2)
		return done(pi, DP_PARSE_MALFORMED);
	end = off + 6 + rd16(d + off + 4);
	if (end > cap)
		end = cap;
	ppp = rd16(d + off + 6);
	off += 8;
	pi->l3_off = (uint16_t)off;
	if (ppp == PPP_IPV4)
		return inner_status(pi, parse_ip4(d, end, off, pi), end, cap);
	if (ppp == PPP_IPV6)
		return inner_status(pi, parse_ip6(d, end, off, pi), end, cap);
	return done(pi, DP_PARSE_NON_IP); /* LCP, IPCP, … */
}

/* BSD loopback address family: 2 is AF_INET everywhere; AF_INET6 is 24 (NetBSD, OpenBSD),
 * 28 (FreeBSD, DragonFly) or 30 (Darwin) depending on the capturing OS. */
static enum dp_parse_status
parse_af(const uint8_t *d, uint32_t cap, uint32_t af, struct dp_pkt_info *pi)
{
	switch (af) {
	case 2:
		return parse_ip4(d, cap, 4, pi);
	case 24:
	case 28:
	case 30:
		return parse_ip6(d, cap, 4, pi);
	default:
		return done(pi, DP_PARSE_NON_IP);
	}
}

enum dp_parse_status
dp_parse(const uint8_t *data, uint32_t caplen, unsigned int linktype, struct dp_pkt_info *out)
{
	memset(out, 0, sizeof(*out));
	/* Offsets are 16-bit; bytes past 64 KiB (GRO'd giants) are simply not looked at. */
	if (unlikely(caplen > UINT16_MAX))
		caplen = UINT16_MAX;

	/* DPDK ports are always Ethernet: test it before the (sparse, so compare-tree) switch. */
	if (likely(linktype == DP_LINKTYPE_ETHERNET)) {
		if (unlikely(caplen < 14))
			return done(out, DP_PARSE_TRUNCATED);
		return parse_ethertype(data, caplen, 14, rd16(data + 12), out);
	}
	switch (linktype) {
	case DP_LINKTYPE_LINUX_SLL:
		if (unlikely(caplen < 16))
			return done(out, DP_PARSE_TRUNCATED);
		return parse_ethertype(data, caplen, 16, rd16(data + 14), out);
	case DP_LINKTYPE_LINUX_SLL2:
		if (unlikely(caplen < 20))
			return done(out, DP_PARSE_TRUNCATED);
		return parse_ethertype(data, caplen, 20, rd16(data), out);
	case DP_LINKTYPE_RAW:
		if (unlikely(caplen < 1))
			return done(out, DP_PARSE_TRUNCATED);
		if ((data[0] >> 4) == 4)
			return parse_ip4(data, caplen, 0, out);
		if ((data[0] >> 4) == 6)
			return parse_ip6(data, caplen, 0, out);
		return done(out, DP_PARSE_MALFORMED);
	case DP_LINKTYPE_IPV4:
		return parse_ip4(data, caplen, 0, out);
	case DP_LINKTYPE_IPV6:
		return parse_ip6(data, caplen, 0, out);
	case DP_LINKTYPE_NULL: {
		uint32_t af;

		if (unlikely(caplen < 4))
			return done(out, DP_PARSE_TRUNCATED);
		/* Host order of the capturing machine, which may not be ours: families are small,
		 * so a value with high bits set was written in the other byte order (as tcpdump
		 * reads it). */
		memcpy(&af, data, 4);
		if (af & 0xffff0000u)
			af = __builtin_bswap32(af);
		return parse_af(data, caplen, af, out);
	}
	case DP_LINKTYPE_LOOP:
		if (unlikely(caplen < 4))
			return done(out, DP_PARSE_TRUNCATED);
		return parse_af(data, caplen, rd32_be(data), out);
	default:
		return done(out, DP_PARSE_UNSUPPORTED);
	}
}
