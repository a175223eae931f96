/* test_tunnel.c — unit tests for dp_parse() through tunnels: IP-in-IP (4in4, 6in4, 4in6, 6in6),
 * GRE (C/K/S fields, IP and Ethernet payloads, v1 left alone), ERSPAN I/II/III, VXLAN, GTP-U
 * (optional fields, extension header chain, signalling left alone), MPLS, PPPoE; nesting, the
 * depth bound, every truncation point inside a tunnel, non-IP inner content; and the ICMP
 * request/reply port pairing that makes both halves one biflow.
 *
 * Split from test_parse.c (same builder, pkt_build.h) to keep each file readable. Every parse
 * runs on an exact-size heap copy, so ASan catches any read past caplen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkt_build.h"

#define ISRC4 0xac100001u /* 172.16.0.1: the inner addresses differ from the outer ones */
#define IDST4 0xac100002u

static const uint8_t isrc4[16] = {172, 16, 0, 1}, idst4[16] = {172, 16, 0, 2};

/* An inner IPv4 header with its own addresses. */
static uint32_t
inner_ip4(struct pkt *p, uint8_t proto)
{
	uint32_t off = ip4(p, proto, 0, 0);

	set16(p, off + 12, ISRC4 >> 16);
	set16(p, off + 14, ISRC4 & 0xffff);
	set16(p, off + 16, IDST4 >> 16);
	set16(p, off + 18, IDST4 & 0xffff);
	return off;
}

/* Inner IPv4 + TCP 40000→443 + 10 payload bytes, lengths fixed. Returns the IP offset. */
static uint32_t
inner_tcp4(struct pkt *p)
{
	uint32_t ip = inner_ip4(p, 6);

	tcp(p, 40000, 443, 0x18, 0);
	payload(p, 10);
	ip4_end(p, ip);
	return ip;
}

/* Inner IPv6 + UDP 5353→53 + 12 payload bytes. */
static uint32_t
inner_udp6(struct pkt *p)
{
	uint32_t ip = ip6(p, 17), u = udp(p, 5353, 53);

	payload(p, 12);
	udp_end(p, u);
	ip6_end(p, ip);
	return ip;
}

static void
assert_inner_tcp4(const struct dp_pkt_info *pi, uint32_t ip)
{
	assert_int_equal(pi->l3, DP_L3_IPV4);
	assert_memory_equal(pi->src, isrc4, 16);
	assert_memory_equal(pi->dst, idst4, 16);
	assert_int_equal(pi->l4proto, 6);
	assert_int_equal(pi->sport, 40000);
	assert_int_equal(pi->dport, 443);
	assert_int_equal(pi->l3_off, ip);
	assert_int_equal(pi->l4_off, ip + 20);
	assert_int_equal(pi->payload_off, ip + 40);
	assert_int_equal(pi->payload_len, 10);
	assert_int_equal(pi->tcp_flags, 0x18);
}

static void
assert_inner_udp6(const struct dp_pkt_info *pi, uint32_t ip)
{
	assert_int_equal(pi->l3, DP_L3_IPV6);
	assert_memory_equal(pi->src, src6, 16);
	assert_memory_equal(pi->dst, dst6, 16);
	assert_int_equal(pi->l4proto, 17);
	assert_int_equal(pi->sport, 5353);
	assert_int_equal(pi->dport, 53);
	assert_int_equal(pi->l3_off, ip);
	assert_int_equal(pi->payload_off, ip + 48);
	assert_int_equal(pi->payload_len, 12);
}

static void
assert_tunnel(const struct dp_pkt_info *pi, enum dp_tunnel kind, unsigned int depth,
	uint16_t outer0)
{
	assert_int_equal(pi->tunnel, kind);
	assert_int_equal(pi->tunnel_depth, depth);
	assert_int_equal(pi->outer_l3_off[0], outer0);
}

/* GRE header: flags word (C 0x8000, K 0x2000, S 0x1000, version in the low 3 bits), type,
 * and a 4-byte word for each of C, K, S. */
static void
gre(struct pkt *p, uint16_t flags, uint16_t type)
{
	put16(p, flags);
	put16(p, type);
	if (flags & 0x8000)
		put32(p, 0);
	if (flags & 0x2000)
		put32(p, 0x0000abcd);
	if (flags & 0x1000)
		put32(p, 7);
}

/* The VXLAN frame used by the nesting and truncation tests: Ethernet, IPv4, UDP to 4789,
 * VXLAN (I flag, VNI 42), inner Ethernet, inner IPv4 + TCP. */
static void
build_vxlan(struct pkt *p, uint32_t *outer_ip, uint32_t *inner_ip)
{
	uint32_t u;

	memset(p, 0, sizeof(*p));
	eth(p, 0x0800);
	*outer_ip = ip4(p, 17, 0, 0);
	u = udp(p, 51000, 4789);
	put32(p, 0x08000000);
	put32(p, 42 << 8);
	eth(p, 0x0800);
	*inner_ip = inner_tcp4(p);
	udp_end(p, u);
	ip4_end(p, *outer_ip);
}

/* ---- IP in IP ----------------------------------------------------------------------------- */

static void
test_ipip(void **state)
{
	struct dp_pkt_info pi;
	uint32_t o, i;

	(void)state;
	{ /* 4in4 */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 4, 0, 0);
		i = inner_tcp4(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_IPIP, 1, 14);
		assert_int_equal(pi.outer_l3_off[1], DP_OFF_NONE);
		assert_int_equal(pi.flags, DP_PKT_HAS_L4);
	}
	{ /* 6in4 */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 41, 0, 0);
		i = inner_udp6(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_IPIP, 1, 14);
	}
	{ /* 4in6, on a raw IP link (the outer header at offset 0) */
		struct pkt p = {.n = 0};

		o = ip6(&p, 4);
		i = inner_tcp4(&p);
		ip6_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_RAW, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_IPIP, 1, 0);
	}
	{ /* 6in6, behind a destination options header */
		struct pkt p = {.n = 0};

		o = ip6(&p, 60);
		ext6(&p, 41, 1);
		i = inner_udp6(&p);
		ip6_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_RAW, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_IPIP, 1, 0);
	}
	{ /* the outer length cuts the inner header: malformed, not snapped */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 4, 0, 0);
		inner_tcp4(&p);
		set16(&p, o + 2, 20 + 30); /* outer says: 30 bytes of inner */
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
		assert_int_equal(pi.tunnel, DP_TUNNEL_IPIP);
	}
	{ /* a later fragment of a tunnelled datagram is not opened */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 4, 0, 100);
		payload(&p, 40);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
		assert_int_equal(pi.l4proto, 4);
		assert_true(pi.flags & DP_PKT_FRAGMENT);
	}
}

/* ---- GRE and ERSPAN ----------------------------------------------------------------------- */

static void
test_gre(void **state)
{
	static const uint16_t flag_sets[] = {0, 0x8000, 0x2000, 0x1000, 0xb000};
	struct dp_pkt_info pi;
	uint32_t o, i;

	(void)state;
	for (unsigned int f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, flag_sets[f], 0x0800);
		i = inner_tcp4(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_GRE, 1, 14);
	}
	{ /* IPv6 over GRE over IPv6 */
		struct pkt p = {.n = 0};

		o = ip6(&p, 47);
		gre(&p, 0x2000, 0x86dd);
		i = inner_udp6(&p);
		ip6_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_RAW, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_GRE, 1, 0);
	}
	{ /* Ethernet over GRE (0x6558) with a VLAN tag inside */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0x2000, 0x6558);
		eth(&p, 0x8100);
		tag(&p, 300, 0x0800);
		i = inner_tcp4(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_GRE, 1, 14);
		assert_int_equal(pi.n_vlans, 1);
		assert_int_equal(pi.vlan[0], 300);
	}
	{ /* PPTP's enhanced GRE (version 1) stays the outer packet */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0x3001, 0x880b);
		put32(&p, 1);
		payload(&p, 20);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
		assert_int_equal(pi.l4proto, 47);
		assert_int_equal(pi.l3_off, 14);
		assert_int_equal(pi.payload_off, 34);
		assert_v4_addrs(&pi);
	}
	{ /* a GRE payload type we do not open (here 0x0806) stays the outer packet too */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0, 0x0806);
		payload(&p, 28);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
	}
	{ /* GRE carrying ARP over Ethernet: the tunnel is opened, the inner is not IP */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0, 0x6558);
		eth(&p, 0x0806);
		zeros(&p, 28);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_tunnel(&pi, DP_TUNNEL_GRE, 1, 14);
		assert_int_equal(pi.ethertype, 0x0806);
		assert_int_equal(pi.l3_off, 14 + 20 + 4 + 14);
		assert_int_equal(pi.l3, DP_L3_NONE);
	}
}

static void
test_erspan(void **state)
{
	struct dp_pkt_info pi;
	uint32_t o, i;

	(void)state;
	{ /* type II: GRE with a sequence number, 8-byte ERSPAN header, Ethernet */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0x4000);
		gre(&p, 0x1000, 0x88be);
		put32(&p, 0x10010064); /* version 1, VLAN 1, session 100 */
		put32(&p, 0);
		eth(&p, 0x0800);
		i = inner_tcp4(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_int_equal(i, 14 + 20 + 8 + 8 + 14);
		assert_tunnel(&pi, DP_TUNNEL_ERSPAN, 1, 14);
	}
	{ /* type I: no sequence number, no ERSPAN header */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0, 0x88be);
		eth(&p, 0x0800);
		i = inner_tcp4(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_ERSPAN, 1, 14);
	}
	for (int o_bit = 0; o_bit <= 1; o_bit++) { /* type III, with and without the subheader */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 47, 0, 0);
		gre(&p, 0x1000, 0x22eb);
		put32(&p, 0x20010064);
		put32(&p, 0x12345678);                 /* timestamp */
		put32(&p, (uint32_t)o_bit);            /* SGT, P, FT, HW id, D, Gra, O */
		if (o_bit)
			zeros(&p, 8);                  /* platform subheader */
		eth(&p, 0x86dd);
		i = inner_udp6(&p);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_ERSPAN, 1, 14);
		/* cut inside the ERSPAN III header: the tunnel is known, the inner is truncated */
		assert_int_equal(parse_n(p.b, 14 + 20 + 8 + 6, DP_LINKTYPE_ETHERNET, &pi),
			DP_PARSE_TRUNCATED);
		assert_int_equal(pi.tunnel, DP_TUNNEL_ERSPAN);
	}
}

/* ---- UDP tunnels -------------------------------------------------------------------------- */

static void
test_vxlan(void **state)
{
	struct dp_pkt_info pi;
	uint32_t o, i, u;

	(void)state;
	{
		struct pkt p;

		build_vxlan(&p, &o, &i);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_VXLAN, 1, 14);
		assert_int_equal(pi.ethertype, 0x0800);
	}
	{ /* ARP inside VXLAN: non-IP, tunnel still recorded */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 17, 0, 0);
		u = udp(&p, 51000, 4789);
		put32(&p, 0x08000000);
		put32(&p, 42 << 8);
		eth(&p, 0x0806);
		put16(&p, 1);
		put16(&p, 0x0800);
		put8(&p, 6);
		put8(&p, 4);
		put16(&p, 1);
		zeros(&p, 20);
		udp_end(&p, u);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_tunnel(&pi, DP_TUNNEL_VXLAN, 1, 14);
		assert_int_equal(pi.ethertype, 0x0806);
		assert_int_equal(pi.l3_off, 14 + 20 + 8 + 8 + 14);
	}
	{ /* no I flag: not VXLAN as RFC 7348 has it; stays a UDP packet to 4789 */
		struct pkt p;

		build_vxlan(&p, &o, &i);
		p.b[14 + 20 + 8] = 0;
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
		assert_int_equal(pi.dport, 4789);
		assert_v4_addrs(&pi);
	}
}

/* GTP-U header: flags (version 1, PT, E/S/PN), type, length (fixed later), TEID. */
static uint32_t
gtpu(struct pkt *p, uint8_t flags, uint8_t type)
{
	uint32_t off = p->n;

	put8(p, (uint8_t)(0x30 | flags));
	put8(p, type);
	put16(p, 0);
	put32(p, 0x11223344);
	return off;
}

static void
gtpu_end(struct pkt *p, uint32_t off)
{
	set16(p, off + 2, (uint16_t)(p->n - off - 8));
}

static void
test_gtpu(void **state)
{
	struct dp_pkt_info pi;
	uint32_t o, i, u, g;

	(void)state;
	{ /* plain G-PDU carrying IPv4 */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 17, 0, 0);
		u = udp(&p, 2152, 2152);
		g = gtpu(&p, 0, 0xff);
		i = inner_tcp4(&p);
		gtpu_end(&p, g);
		udp_end(&p, u);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_GTPU, 1, 14);
	}
	{ /* S and E set: sequence, N-PDU, then two extension headers (PDU session, 4 + 8 bytes) */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 17, 0, 0);
		u = udp(&p, 2152, 2152);
		g = gtpu(&p, 0x06, 0xff);
		put16(&p, 9);
		put8(&p, 0);
		put8(&p, 0x85); /* next: PDU session container */
		put8(&p, 1);
		put16(&p, 0x0009);
		put8(&p, 0x40); /* next: some other extension */
		put8(&p, 2);
		zeros(&p, 6);
		put8(&p, 0); /* no more */
		i = inner_udp6(&p);
		gtpu_end(&p, g);
		udp_end(&p, u);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_int_equal(i, 14 + 20 + 8 + 12 + 4 + 8);
		assert_tunnel(&pi, DP_TUNNEL_GTPU, 1, 14);
		/* a zero-length extension header is impossible */
		p.b[14 + 20 + 8 + 12] = 0;
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	}
	{ /* echo request (signalling): the outer UDP packet */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 17, 0, 0);
		u = udp(&p, 40000, 2152);
		g = gtpu(&p, 0x02, 1);
		put32(&p, 0);
		gtpu_end(&p, g);
		udp_end(&p, u);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
		assert_int_equal(pi.dport, 2152);
	}
	{ /* the GTP length ends before the inner header does: malformed */
		struct pkt p = {.n = 0};

		eth(&p, 0x0800);
		o = ip4(&p, 17, 0, 0);
		u = udp(&p, 2152, 2152);
		g = gtpu(&p, 0, 0xff);
		inner_tcp4(&p);
		set16(&p, g + 2, 16);
		udp_end(&p, u);
		ip4_end(&p, o);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
		assert_int_equal(pi.tunnel, DP_TUNNEL_GTPU);
	}
}

/* ---- below IP: MPLS and PPPoE ------------------------------------------------------------- */

static void
test_mpls(void **state)
{
	struct dp_pkt_info pi;
	uint32_t i;

	(void)state;
	{ /* two labels, bottom of stack on the second, then IPv4 */
		struct pkt p = {.n = 0};

		eth(&p, 0x8847);
		put32(&p, 100 << 12 | 64);
		put32(&p, 200 << 12 | 0x100 | 64);
		i = inner_tcp4(&p);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_MPLS, 1, DP_OFF_NONE);
		assert_int_equal(pi.ethertype, 0x8847);
		/* cut inside the label stack */
		assert_int_equal(parse_n(p.b, 20, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_TRUNCATED);
		assert_int_equal(pi.tunnel, DP_TUNNEL_MPLS);
	}
	{ /* multicast MPLS, IPv6 */
		struct pkt p = {.n = 0};

		eth(&p, 0x8848);
		put32(&p, 300 << 12 | 0x100 | 64);
		i = inner_udp6(&p);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
	}
	{ /* a pseudowire control word (first nibble 0): not IP */
		struct pkt p = {.n = 0};

		eth(&p, 0x8847);
		put32(&p, 300 << 12 | 0x100 | 64);
		zeros(&p, 46);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_int_equal(pi.tunnel, DP_TUNNEL_MPLS);
	}
	{ /* no bottom of stack within 8 labels */
		struct pkt p = {.n = 0};

		eth(&p, 0x8847);
		for (int n = 0; n < 12; n++)
			put32(&p, 16u << 12 | 64);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_UNSUPPORTED);
	}
}

static void
test_pppoe(void **state)
{
	struct dp_pkt_info pi;
	uint32_t i, s;

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		struct pkt p = {.n = 0};

		eth(&p, 0x8100);
		tag(&p, 10, 0x8864);
		s = p.n;
		put16(&p, 0x1100);
		put16(&p, 0x0001); /* session id */
		put16(&p, 0);      /* length: below */
		put16(&p, v6 ? 0x0057 : 0x0021);
		i = v6 ? inner_udp6(&p) : inner_tcp4(&p);
		set16(&p, s + 4, (uint16_t)(p.n - s - 6));
		zeros(&p, 4); /* trailing padding, not payload */
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		if (v6)
			assert_inner_udp6(&pi, i);
		else
			assert_inner_tcp4(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_PPPOE, 1, DP_OFF_NONE);
		assert_int_equal(pi.n_vlans, 1);
		/* cut in the PPPoE header */
		assert_int_equal(parse_n(p.b, s + 5, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_TRUNCATED);
	}
	{ /* LCP: not IP */
		struct pkt p = {.n = 0};

		eth(&p, 0x8864);
		put16(&p, 0x1100);
		put16(&p, 1);
		put16(&p, 6);
		put16(&p, 0xc021);
		zeros(&p, 4);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_int_equal(pi.tunnel, DP_TUNNEL_PPPOE);
	}
	{ /* discovery stage: plain non-IP, no tunnel */
		struct pkt p = {.n = 0};

		eth(&p, 0x8863);
		put16(&p, 0x1109); /* PADI */
		zeros(&p, 40);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
	}
}

/* ---- nesting, depth, truncation ----------------------------------------------------------- */

static void
test_nesting(void **state)
{
	struct dp_pkt_info pi;

	(void)state;
	{ /* MPLS → IPv4 → GRE/Ethernet → IPv4 → UDP/VXLAN → Ethernet → IPv6/UDP: depth 3 */
		struct pkt p = {.n = 0};
		uint32_t o1, o2, u, i;

		eth(&p, 0x8847);
		put32(&p, 100 << 12 | 0x100 | 64);
		o1 = ip4(&p, 47, 0, 0);
		gre(&p, 0, 0x6558);
		eth(&p, 0x0800);
		o2 = ip4(&p, 17, 0, 0);
		u = udp(&p, 51000, 4789);
		put32(&p, 0x08000000);
		put32(&p, 7 << 8);
		eth(&p, 0x86dd);
		i = inner_udp6(&p);
		udp_end(&p, u);
		ip4_end(&p, o2);
		ip4_end(&p, o1);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_inner_udp6(&pi, i);
		assert_tunnel(&pi, DP_TUNNEL_MPLS, 3, DP_OFF_NONE);
		assert_int_equal(pi.outer_l3_off[1], o1);
		assert_int_equal(pi.outer_l3_off[2], o2);
	}
	{ /* IPv4 in IPv4, five deep: stops at the bound, described as the third inner header */
		struct pkt p = {.n = 0};
		uint32_t ips[5];

		eth(&p, 0x0800);
		for (int n = 0; n < 5; n++)
			ips[n] = ip4(&p, n < 4 ? 4 : 6, 0, 0);
		tcp(&p, 1, 2, 0x02, 0);
		for (int n = 4; n >= 0; n--)
			ip4_end(&p, ips[n]);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_UNSUPPORTED);
		assert_int_equal(pi.tunnel_depth, DP_TUNNEL_DEPTH_MAX);
		assert_int_equal(pi.l3_off, ips[3]);
		assert_int_equal(pi.l4proto, 4);
		assert_int_equal(pi.payload_off, ips[4]);
		for (int n = 0; n < DP_TUNNEL_DEPTH_MAX; n++)
			assert_int_equal(pi.outer_l3_off[n], ips[n]);
	}
}

/* Every cut of a VXLAN frame: a status that says where it stopped, never a read past caplen
 * (the heap copy is exactly caplen), and the tunnel known once its header's first byte is in. */
static void
test_tunnel_truncation(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;
	uint32_t o, i;

	(void)state;
	build_vxlan(&p, &o, &i);
	for (uint32_t cut = 14 + 20 + 8; cut < p.n; cut++) {
		enum dp_parse_status st = parse_n(p.b, cut, DP_LINKTYPE_ETHERNET, &pi);

		if (cut == 14 + 20 + 8) {
			/* no VXLAN byte at all: nothing to open, a UDP packet with no payload */
			assert_int_equal(st, DP_PARSE_OK);
			assert_int_equal(pi.tunnel, DP_TUNNEL_NONE);
			continue;
		}
		assert_int_equal(pi.tunnel, DP_TUNNEL_VXLAN);
		assert_int_equal(st, cut < i + 40 ? DP_PARSE_TRUNCATED : DP_PARSE_OK);
		if (cut >= i + 20)
			assert_memory_equal(pi.src, isrc4, 16);
	}
}

/* ---- ICMP request/reply pairing ----------------------------------------------------------- */

static void
icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport, uint16_t *dport)
{
	struct pkt p = {.n = 0};
	struct dp_pkt_info pi;
	uint32_t ip;

	ip = proto == 1 ? ip4(&p, 1, 0, 0) : ip6(&p, 58);
	put8(&p, type);
	put8(&p, code);
	put16(&p, 0);
	put32(&p, 0x12340001);
	payload(&p, 16);
	if (proto == 1)
		ip4_end(&p, ip);
	else
		ip6_end(&p, ip);
	assert_int_equal(parse(&p, DP_LINKTYPE_RAW, &pi), DP_PARSE_OK);
	assert_true(pi.flags & DP_PKT_HAS_L4);
	*sport = pi.sport;
	*dport = pi.dport;
}

static void
test_icmp_pairing(void **state)
{
	static const struct {
		uint8_t proto, request, reply;
	} pairs[] = {
		{1, 8, 0}, {1, 13, 14}, {1, 15, 16}, {1, 17, 18}, {1, 10, 9},
		{58, 128, 129}, {58, 133, 134}, {58, 135, 136},
	};
	uint16_t sp, dp;

	(void)state;
	for (unsigned int n = 0; n < sizeof(pairs) / sizeof(pairs[0]); n++) {
		/* request: sport = request type, dport = reply type; the reply mirrors it */
		icmp_ports(pairs[n].proto, pairs[n].request, 0, &sp, &dp);
		assert_int_equal(sp, pairs[n].request);
		assert_int_equal(dp, pairs[n].reply);
		icmp_ports(pairs[n].proto, pairs[n].reply, 0, &sp, &dp);
		assert_int_equal(sp, pairs[n].reply);
		assert_int_equal(dp, pairs[n].request);
	}
	/* everything else keeps type/code */
	icmp_ports(1, 3, 3, &sp, &dp);
	assert_int_equal(sp, 3);
	assert_int_equal(dp, 3);
	icmp_ports(1, 11, 1, &sp, &dp);
	assert_int_equal(sp, 11);
	assert_int_equal(dp, 1);
	icmp_ports(58, 1, 4, &sp, &dp);
	assert_int_equal(sp, 1);
	assert_int_equal(dp, 4);
	/* v6 numbers mean nothing in ICMPv4 and the reverse: 128 over v4 is not an echo */
	icmp_ports(1, 128, 0, &sp, &dp);
	assert_int_equal(dp, 0);
	icmp_ports(58, 8, 0, &sp, &dp);
	assert_int_equal(dp, 0);
}

static void
test_tunnel_names(void **state)
{
	(void)state;
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_NONE], "");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_IPIP], "ipip");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_GRE], "gre");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_ERSPAN], "erspan");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_VXLAN], "vxlan");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_GTPU], "gtpu");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_MPLS], "mpls");
	assert_string_equal(dp_tunnel_names[DP_TUNNEL_PPPOE], "pppoe");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipip),
		cmocka_unit_test(test_gre),
		cmocka_unit_test(test_erspan),
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_gtpu),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_pppoe),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_tunnel_truncation),
		cmocka_unit_test(test_icmp_pairing),
		cmocka_unit_test(test_tunnel_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
