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
 *    decode (MPLS, PPPoE, a 9th VLAN tag, more than 8 IPv6 extension headers, unknown link).
 * A payload cut short by the snap length is not an error: only headers count. */
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

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
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
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		/* Every ICMP/ICMPv6 message has an 8-byte header (type, code, sum, 4 more). */
		if (likely(off + 2 <= end)) {
			pi->sport = d[off];
			pi->dport = d[off + 1];
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
		/* GRE, ESP, OSPF, …: not decoded; the whole IP payload is the payload. */
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

static enum dp_parse_status
parse_other_ethertype(uint16_t et, uint32_t off, struct dp_pkt_info *pi)
{
	/* where the non-IP payload starts (ARP: the anonymiser rewrites its addresses) */
	pi->l3_off = (uint16_t)off;
	/* Counted apart from ARP & co: these carry IP that we do not look into. */
	if (et == ET_MPLS_UC || et == ET_MPLS_MC || et == ET_PPPOE_SES)
		return done(pi, DP_PARSE_UNSUPPORTED);
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
	return parse_other_ethertype(et, off, pi);
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
