/* test_parse.c — unit tests for dp_parse(): every link type, VLAN/QinQ, IPv4 options and
 * fragments, IPv6 extension headers, each transport, non-IP, every truncation point and the
 * malformed cases. Tunnels and the ICMP request/reply pairing: test_tunnel.c.
 *
 * Frames are built by hand with a tiny builder (lengths fixed up at the end) so each test shows
 * exactly which bytes it feeds. Every parse runs on a heap copy of exactly caplen bytes, so an
 * ASan build catches any read past caplen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_linktype.h"
#include "dp_parse.h"

#include "pkt_build.h"

/* Ethernet + IPv4 + TCP(SYN|ACK) + `plen` payload bytes. Header ends at 54. */
static void
build_eth_tcp4(struct pkt *p, uint32_t plen)
{
	uint32_t ip;

	memset(p, 0, sizeof(*p));
	eth(p, 0x0800);
	ip = ip4(p, 6, 0, 0x4000);
	tcp(p, 40000, 443, 0x12, 0);
	payload(p, plen);
	ip4_end(p, ip);
}

/* IPv6 + UDP + `plen` payload bytes, with no link header. Header ends at 48. */
static void
build_udp6(struct pkt *p, uint32_t plen)
{
	uint32_t ip, u;

	memset(p, 0, sizeof(*p));
	ip = ip6(p, 17);
	u = udp(p, 5353, 53);
	payload(p, plen);
	udp_end(p, u);
	ip6_end(p, ip);
}

/* ---- link layers -------------------------------------------------------------------------- */

static void
test_eth_tcp4(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 10);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.l3, DP_L3_IPV4);
	assert_int_equal(pi.ethertype, 0x0800);
	assert_int_equal(pi.n_vlans, 0);
	assert_int_equal(pi.l3_off, 14);
	assert_int_equal(pi.l4_off, 34);
	assert_int_equal(pi.l4proto, 6);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 443);
	assert_int_equal(pi.tcp_flags, 0x12);
	assert_int_equal(pi.flags, DP_PKT_HAS_L4);
	assert_int_equal(pi.payload_off, 54);
	assert_int_equal(pi.payload_len, 10);
	assert_v4_addrs(&pi);
}

static void
test_eth_padding_not_payload(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 0);
	zeros(&p, 6); /* minimum frame 60 bytes: 6 bytes of Ethernet padding */
	assert_int_equal(p.n, 60);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_off, 54);
	assert_int_equal(pi.payload_len, 0);
}

static void
test_vlan(void **state)
{
	struct pkt p = {.n = 0};
	struct dp_pkt_info pi;
	uint32_t ip;

	(void)state;
	eth(&p, 0x8100);
	tag(&p, 100, 0x0800);
	ip = ip4(&p, 6, 0, 0);
	tcp(&p, 1, 2, 0x02, 0);
	ip4_end(&p, ip);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.n_vlans, 1);
	assert_int_equal(pi.vlan[0], 100);
	assert_int_equal(pi.ethertype, 0x0800);
	assert_int_equal(pi.l3_off, 18);
	assert_int_equal(pi.l4_off, 38);
	assert_int_equal(pi.tcp_flags, 0x02);
}

static void
test_qinq(void **state)
{
	static const uint16_t outer[] = {0x88a8, 0x9100, 0x8100};

	(void)state;
	for (unsigned int i = 0; i < 3; i++) {
		struct pkt p = {.n = 0};
		struct dp_pkt_info pi;
		uint32_t ip;

		eth(&p, outer[i]);
		tag(&p, 10, 0x8100);
		tag(&p, 4095, 0x86dd);
		ip = ip6(&p, 17);
		udp_end(&p, udp(&p, 1000, 2000));
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.n_vlans, 2);
		assert_int_equal(pi.vlan[0], 10);
		assert_int_equal(pi.vlan[1], 4095);
		assert_int_equal(pi.ethertype, 0x86dd);
		assert_int_equal(pi.l3, DP_L3_IPV6);
		assert_int_equal(pi.l3_off, 22);
		assert_int_equal(pi.l4_off, 62);
		assert_int_equal(pi.sport, 1000);
	}
}

/* Tags past the second are walked but not recorded; past the 8th the parser gives up. */
static void
test_vlan_deep(void **state)
{
	(void)state;
	for (unsigned int ntags = 3; ntags <= 9; ntags++) {
		struct pkt p = {.n = 0};
		struct dp_pkt_info pi;
		uint32_t ip;

		eth(&p, 0x88a8);
		for (unsigned int t = 0; t < ntags; t++)
			tag(&p, (uint16_t)(t + 1), t + 1 == ntags ? 0x0800 : 0x8100);
		ip = ip4(&p, 17, 0, 0);
		udp_end(&p, udp(&p, 7, 9));
		ip4_end(&p, ip);
		if (ntags <= 8) {
			assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
			assert_int_equal(pi.n_vlans, 2);
			assert_int_equal(pi.vlan[0], 1);
			assert_int_equal(pi.vlan[1], 2);
			assert_int_equal(pi.l3_off, 14 + 4 * ntags);
			assert_int_equal(pi.dport, 9);
		} else {
			assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi),
				DP_PARSE_UNSUPPORTED);
			assert_int_equal(pi.l3, DP_L3_NONE);
		}
	}
}

/* The same IPv4/UDP and IPv6/UDP datagrams behind every link header tide reads. */
static void
test_link_types(void **state)
{
	struct {
		unsigned int lt;
		uint8_t hdr[20];
		uint32_t hlen;
		int v6;
	} cases[] = {
		{DP_LINKTYPE_ETHERNET, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, 14, 0},
		{DP_LINKTYPE_ETHERNET, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd}, 14, 1},
		/* SLL: packet type, ARPHRD, addr len, 8 address bytes, protocol at 14. */
		{DP_LINKTYPE_LINUX_SLL, {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0}, 16, 0},
		{DP_LINKTYPE_LINUX_SLL, {0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd}, 16,
			1},
		/* SLL2: protocol at 0, reserved, ifindex, ARPHRD, type, addr len, 8 bytes. */
		{DP_LINKTYPE_LINUX_SLL2, {8, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6}, 20,
			0},
		{DP_LINKTYPE_LINUX_SLL2, {0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5},
			20, 1},
		{DP_LINKTYPE_RAW, {0}, 0, 0},
		{DP_LINKTYPE_RAW, {0}, 0, 1},
		{DP_LINKTYPE_IPV4, {0}, 0, 0},
		{DP_LINKTYPE_IPV6, {0}, 0, 1},
		/* BSD NULL: host order of the capturing machine, either byte order accepted. */
		{DP_LINKTYPE_NULL, {2, 0, 0, 0}, 4, 0},
		{DP_LINKTYPE_NULL, {0, 0, 0, 2}, 4, 0},
		{DP_LINKTYPE_NULL, {24, 0, 0, 0}, 4, 1},
		{DP_LINKTYPE_NULL, {28, 0, 0, 0}, 4, 1},
		{DP_LINKTYPE_NULL, {0, 0, 0, 30}, 4, 1},
		/* LOOP: network order. */
		{DP_LINKTYPE_LOOP, {0, 0, 0, 2}, 4, 0},
		{DP_LINKTYPE_LOOP, {0, 0, 0, 24}, 4, 1},
		{DP_LINKTYPE_LOOP, {0, 0, 0, 28}, 4, 1},
		{DP_LINKTYPE_LOOP, {0, 0, 0, 30}, 4, 1},
	};

	(void)state;
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt p = {.n = 0};
		struct dp_pkt_info pi;
		uint32_t ip, u;

		put(&p, cases[i].hdr, cases[i].hlen);
		ip = cases[i].v6 ? ip6(&p, 17) : ip4(&p, 17, 0, 0);
		u = udp(&p, 1234, 53);
		payload(&p, 5);
		udp_end(&p, u);
		if (cases[i].v6)
			ip6_end(&p, ip);
		else
			ip4_end(&p, ip);
		assert_int_equal(parse(&p, cases[i].lt, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l3, cases[i].v6 ? DP_L3_IPV6 : DP_L3_IPV4);
		assert_int_equal(pi.l3_off, cases[i].hlen);
		assert_int_equal(pi.l4_off, u);
		assert_int_equal(pi.l4proto, 17);
		assert_int_equal(pi.sport, 1234);
		assert_int_equal(pi.dport, 53);
		assert_int_equal(pi.payload_off, u + 8);
		assert_int_equal(pi.payload_len, 5);
		if (cases[i].lt == DP_LINKTYPE_ETHERNET || cases[i].lt == DP_LINKTYPE_LINUX_SLL ||
			cases[i].lt == DP_LINKTYPE_LINUX_SLL2)
			assert_int_equal(pi.ethertype, cases[i].v6 ? 0x86dd : 0x0800);
		else
			assert_int_equal(pi.ethertype, 0);
	}
}

static void
test_link_errors(void **state)
{
	struct pkt p = {.n = 0};
	struct dp_pkt_info pi;
	uint8_t b[64] = {0};

	(void)state;
	/* Unknown link type. */
	build_eth_tcp4(&p, 0);
	assert_int_equal(parse(&p, 147, &pi), DP_PARSE_UNSUPPORTED);
	assert_int_equal(parse(&p, 9999, &pi), DP_PARSE_UNSUPPORTED);
	/* Raw IP with a version nibble that is neither 4 nor 6. */
	b[0] = 0x55;
	assert_int_equal(parse_n(b, 40, DP_LINKTYPE_RAW, &pi), DP_PARSE_MALFORMED);
	assert_int_equal(parse_n(b, 0, DP_LINKTYPE_RAW, &pi), DP_PARSE_TRUNCATED);
	/* An IPv6 packet under the IPv4 link type and vice versa. */
	b[0] = 0x60;
	assert_int_equal(parse_n(b, 40, DP_LINKTYPE_IPV4, &pi), DP_PARSE_MALFORMED);
	b[0] = 0x45;
	assert_int_equal(parse_n(b, 40, DP_LINKTYPE_IPV6, &pi), DP_PARSE_MALFORMED);
	/* NULL/LOOP families that are not IP, and short link headers. */
	memset(b, 0, sizeof(b));
	b[0] = 7;
	assert_int_equal(parse_n(b, 40, DP_LINKTYPE_NULL, &pi), DP_PARSE_NON_IP);
	assert_int_equal(parse_n(b, 40, DP_LINKTYPE_LOOP, &pi), DP_PARSE_NON_IP);
	for (uint32_t n = 0; n < 4; n++) {
		assert_int_equal(parse_n(b, n, DP_LINKTYPE_NULL, &pi), DP_PARSE_TRUNCATED);
		assert_int_equal(parse_n(b, n, DP_LINKTYPE_LOOP, &pi), DP_PARSE_TRUNCATED);
	}
	for (uint32_t n = 0; n < 20; n++) {
		if (n < 14)
			assert_int_equal(parse_n(b, n, DP_LINKTYPE_ETHERNET, &pi),
				DP_PARSE_TRUNCATED);
		if (n < 16)
			assert_int_equal(parse_n(b, n, DP_LINKTYPE_LINUX_SLL, &pi),
				DP_PARSE_TRUNCATED);
		assert_int_equal(parse_n(b, n, DP_LINKTYPE_LINUX_SLL2, &pi), DP_PARSE_TRUNCATED);
	}
}

/* ---- non-IP ------------------------------------------------------------------------------- */

static void
test_non_ip(void **state)
{
	struct dp_pkt_info pi;

	(void)state;
	{
		struct pkt p = {.n = 0};

		eth(&p, 0x0806); /* ARP request */
		put16(&p, 1);
		put16(&p, 0x0800);
		put8(&p, 6);
		put8(&p, 4);
		put16(&p, 1);
		zeros(&p, 20);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_int_equal(pi.ethertype, 0x0806);
		assert_int_equal(pi.l3, DP_L3_NONE);
	}
	{
		struct pkt p = {.n = 0};

		eth(&p, 0x8100); /* ARP in a VLAN */
		tag(&p, 7, 0x0806);
		zeros(&p, 28);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
		assert_int_equal(pi.n_vlans, 1);
		assert_int_equal(pi.vlan[0], 7);
	}
	{
		struct pkt p = {.n = 0};

		eth(&p, 46); /* 802.3 length field + LLC (STP) */
		zeros(&p, 46);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
	}
	{
		struct pkt p = {.n = 0};

		eth(&p, 0x88cc); /* LLDP */
		zeros(&p, 46);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
	}
	{
		struct pkt p = {.n = 0};

		eth(&p, 0x8847); /* MPLS with no bottom of stack in 8 labels (test_tunnel.c) */
		zeros(&p, 46);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_UNSUPPORTED);
	}
}

/* ---- IPv4 --------------------------------------------------------------------------------- */

static void
test_ipv4_options(void **state)
{
	(void)state;
	for (unsigned int words = 1; words <= 10; words++) {
		struct pkt p = {.n = 0};
		struct dp_pkt_info pi;
		uint32_t ip;

		eth(&p, 0x0800);
		ip = ip4(&p, 6, words, 0);
		tcp(&p, 80, 8080, 0x18, 3); /* TCP options too */
		payload(&p, 3);
		ip4_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_HAS_L4 | DP_PKT_IPV4_OPTS);
		assert_int_equal(pi.l4_off, 34 + 4 * words);
		assert_int_equal(pi.payload_off, 34 + 4 * words + 32);
		assert_int_equal(pi.payload_len, 3);
		assert_int_equal(pi.tcp_flags, 0x18);
		/* Options cut by the capture: truncated, addresses already known. */
		assert_int_equal(parse_n(p.b, 34 + 4 * words - 1, DP_LINKTYPE_ETHERNET, &pi),
			DP_PARSE_TRUNCATED);
		assert_v4_addrs(&pi);
	}
}

static void
test_ipv4_fragments(void **state)
{
	struct dp_pkt_info pi;

	(void)state;
	{
		/* First fragment: MF set, offset 0, the UDP header is there. */
		struct pkt p = {.n = 0};
		uint32_t ip, u;

		eth(&p, 0x0800);
		ip = ip4(&p, 17, 0, 0x2000);
		u = udp(&p, 500, 4500);
		set16(&p, u + 4, 3000); /* the whole datagram's UDP length */
		payload(&p, 100);
		ip4_end(&p, ip);
		/* The UDP length exceeds this fragment's IP length: normal for a first fragment. */
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_FRAGMENT | DP_PKT_FIRST_FRAG | DP_PKT_HAS_L4);
		assert_int_equal(pi.sport, 500);
		assert_int_equal(pi.dport, 4500);
		assert_int_equal(pi.payload_len, 100);
		/* Not a fragment: the same UDP length cannot fit the datagram. */
		set16(&p, ip + 6, 0);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	}
	{
		/* Middle fragment (MF, offset 185*8) and last fragment (offset only). */
		static const uint16_t frag[] = {0x2000 | 185, 370, 0x4000 | 0x2000 | 1};

		for (unsigned int i = 0; i < 3; i++) {
			struct pkt p = {.n = 0};
			uint32_t ip;

			eth(&p, 0x0800);
			ip = ip4(&p, 17, 0, frag[i]);
			payload(&p, 64);
			ip4_end(&p, ip);
			assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
			assert_int_equal(pi.flags, DP_PKT_FRAGMENT);
			assert_int_equal(pi.l4proto, 17);
			assert_int_equal(pi.sport, 0);
			assert_int_equal(pi.dport, 0);
			assert_int_equal(pi.payload_off, 34);
			assert_int_equal(pi.payload_len, 64);
			assert_v4_addrs(&pi);
		}
	}
	{
		/* DF alone is not a fragment. */
		struct pkt p;

		build_eth_tcp4(&p, 0);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags & (DP_PKT_FRAGMENT | DP_PKT_FIRST_FRAG), 0);
	}
}

/* IP total length beyond caplen is a snap length, not an error, while the headers are whole. */
static void
test_ipv4_snapped_payload(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 1400);
	assert_int_equal(parse_n(p.b, 96, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_off, 54);
	assert_int_equal(pi.payload_len, 96 - 54);
	assert_int_equal(parse_n(p.b, 54, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_len, 0);
}

static void
test_ipv4_malformed(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 4);
	p.b[14] = 0x55; /* version 5 under the IPv4 ethertype */
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	assert_int_equal(pi.l3, DP_L3_IPV4); /* announced by the link layer */

	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		build_eth_tcp4(&p, 4);
		p.b[14] = (uint8_t)(0x40 | ihl);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	}

	build_eth_tcp4(&p, 4);
	set16(&p, 16, 19); /* total length < IHL */
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	set16(&p, 16, 0);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);

	build_eth_tcp4(&p, 4);
	p.b[14] = 0x46;
	set16(&p, 16, 22); /* total length between 20 and the 24-byte IHL */
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);

	build_eth_tcp4(&p, 4);
	set16(&p, 16, 30); /* ends inside the TCP header: the header cannot be there */
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	assert_int_equal(pi.sport, 40000); /* ports were inside the datagram */

	for (uint8_t doff = 0; doff < 5; doff++) {
		build_eth_tcp4(&p, 4);
		p.b[34 + 12] = (uint8_t)(doff << 4);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
	}

	build_eth_tcp4(&p, 4);
	p.b[34 + 12] = 0xf0; /* 60-byte TCP header that the datagram (44 bytes) cannot hold */
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_MALFORMED);
}

/* ---- IPv6 --------------------------------------------------------------------------------- */

static void
test_ipv6_ext_headers(void **state)
{
	struct dp_pkt_info pi;

	(void)state;
	{
		/* Hop-by-hop + routing + fragment (first, M set) + UDP. */
		struct pkt p = {.n = 0};
		uint32_t ip, u;

		eth(&p, 0x86dd);
		ip = ip6(&p, 0);
		ext6(&p, 43, 1);
		ext6(&p, 44, 3);
		frag6(&p, 17, 0, 1);
		u = udp(&p, 123, 456);
		payload(&p, 20);
		udp_end(&p, u);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_IPV6_EXT | DP_PKT_FRAGMENT | DP_PKT_FIRST_FRAG |
						   DP_PKT_HAS_L4);
		assert_int_equal(pi.l4_off, 14 + 40 + 8 + 24 + 8);
		assert_int_equal(u, pi.l4_off);
		assert_int_equal(pi.l4proto, 17);
		assert_int_equal(pi.sport, 123);
		assert_int_equal(pi.payload_len, 20);
		assert_memory_equal(pi.src, src6, 16);
		assert_memory_equal(pi.dst, dst6, 16);
		/* Every cut inside the extension headers is a truncation. */
		for (uint32_t n = 0; n < u + 8; n++)
			assert_int_equal(parse_n(p.b, n, DP_LINKTYPE_ETHERNET, &pi),
				DP_PARSE_TRUNCATED);
	}
	{
		/* A later fragment: no transport header, the fragment's next header is kept. */
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 0);
		ext6(&p, 44, 1);
		frag6(&p, 6, 100, 0);
		payload(&p, 30);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_IPV6_EXT | DP_PKT_FRAGMENT);
		assert_int_equal(pi.l4proto, 6);
		assert_int_equal(pi.payload_off, 56);
		assert_int_equal(pi.payload_len, 30);
	}
	{
		/* Atomic fragment (offset 0, M clear): a whole packet. */
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 44);
		frag6(&p, 6, 0, 0);
		tcp(&p, 22, 50000, 0x10, 0);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_IPV6_EXT | DP_PKT_HAS_L4);
		assert_int_equal(pi.tcp_flags, 0x10);
	}
	{
		/* Destination options + AH (length in 4-byte words) + TCP. */
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 60);
		ext6(&p, 51, 2);
		put8(&p, 6); /* AH: next header, payload len 4 → (4+2)*4 = 24 bytes */
		put8(&p, 4);
		zeros(&p, 22);
		tcp(&p, 179, 33333, 0x18, 0);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l4_off, 40 + 16 + 24);
		assert_int_equal(pi.sport, 179);
	}
	{
		/* ESP ends the walk; its payload is everything after the IPv6 chain. */
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 0);
		ext6(&p, 50, 1);
		payload(&p, 40);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l4proto, 50);
		assert_int_equal(pi.flags, DP_PKT_IPV6_EXT);
		assert_int_equal(pi.payload_off, 48);
		assert_int_equal(pi.payload_len, 40);
	}
	{
		/* Mobility header then no next header. */
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 135);
		ext6(&p, 59, 2);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l4proto, 0);
		assert_int_equal(pi.payload_len, 0);
		assert_int_equal(pi.flags, DP_PKT_IPV6_EXT);
	}
	{
		/* 8 extension headers are walked; a 9th is beyond the bound. */
		for (unsigned int n = 8; n <= 9; n++) {
			struct pkt p = {.n = 0};
			uint32_t ip;

			ip = ip6(&p, 60);
			for (unsigned int i = 0; i < n; i++)
				ext6(&p, i + 1 == n ? 17 : 60, 1);
			udp_end(&p, udp(&p, 1, 2));
			ip6_end(&p, ip);
			assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi),
				n == 8 ? DP_PARSE_OK : DP_PARSE_UNSUPPORTED);
		}
	}
}

static void
test_ipv6_malformed(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;
	uint32_t ip;

	(void)state;
	build_udp6(&p, 8);
	p.b[0] = 0x40; /* version 4 under the IPv6 link type */
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_MALFORMED);

	/* An extension header longer than the payload length allows. */
	memset(&p, 0, sizeof(p));
	ip = ip6(&p, 0);
	ext6(&p, 17, 1);
	udp_end(&p, udp(&p, 1, 2));
	ip6_end(&p, ip);
	p.b[41] = 5; /* hop-by-hop of 48 bytes in a 16-byte payload */
	zeros(&p, 64);
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_MALFORMED);

	/* Payload length 0 (jumbogram / offload): the capture bounds the datagram. */
	build_udp6(&p, 8);
	set16(&p, 4, 0);
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_len, 8);
}

/* ---- transports --------------------------------------------------------------------------- */

static void
test_tcp_flags(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 0);
	for (unsigned int f = 0; f < 256; f++) {
		p.b[34 + 13] = (uint8_t)f;
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.tcp_flags, f);
	}
}

static void
test_udp_lengths(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	/* UDP length shorter than the IP payload: the UDP length bounds the payload. */
	build_udp6(&p, 20);
	set16(&p, 44, 8 + 12);
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_off, 48);
	assert_int_equal(pi.payload_len, 12);
	/* Shorter than its own header, or longer than the datagram. */
	for (uint16_t l = 1; l < 8; l++) {
		set16(&p, 44, l);
		assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_MALFORMED);
	}
	set16(&p, 44, 29);
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_MALFORMED);
	/* 0 over IPv6 is the jumbogram convention: the IP length rules. */
	set16(&p, 44, 0);
	assert_int_equal(parse(&p, DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_len, 20);
	{
		/* 0 over IPv4 is not. */
		struct pkt q = {.n = 0};
		uint32_t ip;

		ip = ip4(&q, 17, 0, 0);
		udp(&q, 1, 2);
		payload(&q, 4);
		ip4_end(&q, ip);
		assert_int_equal(parse(&q, DP_LINKTYPE_IPV4, &pi), DP_PARSE_MALFORMED);
		assert_int_equal(pi.sport, 1);
	}
}

static void
test_icmp(void **state)
{
	struct dp_pkt_info pi;

	(void)state;
	{
		struct pkt p = {.n = 0};
		uint32_t ip;

		eth(&p, 0x0800);
		ip = ip4(&p, 1, 0, 0);
		put8(&p, 8); /* echo request */
		put8(&p, 0);
		put16(&p, 0);
		put32(&p, 0x00010002);
		payload(&p, 56);
		ip4_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l4proto, 1);
		assert_int_equal(pi.sport, 8);
		assert_int_equal(pi.dport, 0);
		assert_int_equal(pi.flags, DP_PKT_HAS_L4);
		assert_int_equal(pi.payload_off, 42);
		assert_int_equal(pi.payload_len, 56);
		/* Type and code are known before the 8-byte header is complete. */
		assert_int_equal(parse_n(p.b, 37, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_TRUNCATED);
		assert_int_equal(pi.sport, 8);
		assert_int_equal(pi.flags, DP_PKT_HAS_L4);
	}
	{
		struct pkt p = {.n = 0};
		uint32_t ip;

		ip = ip6(&p, 58);
		put8(&p, 1); /* destination unreachable, code 4 (port) */
		put8(&p, 4);
		put16(&p, 0);
		put32(&p, 0);
		payload(&p, 48);
		ip6_end(&p, ip);
		assert_int_equal(parse(&p, DP_LINKTYPE_RAW, &pi), DP_PARSE_OK);
		assert_int_equal(pi.l4proto, 58);
		assert_int_equal(pi.sport, 1);
		assert_int_equal(pi.dport, 4);
		assert_int_equal(pi.payload_len, 48);
	}
}

static void
test_sctp(void **state)
{
	struct pkt p = {.n = 0};
	struct dp_pkt_info pi;
	uint32_t ip;

	(void)state;
	eth(&p, 0x0800);
	ip = ip4(&p, 132, 0, 0);
	put16(&p, 2905);
	put16(&p, 3868);
	put32(&p, 0x11223344); /* verification tag */
	put32(&p, 0);          /* CRC32c */
	payload(&p, 16);
	ip4_end(&p, ip);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.l4proto, 132);
	assert_int_equal(pi.sport, 2905);
	assert_int_equal(pi.dport, 3868);
	assert_int_equal(pi.payload_off, 46);
	assert_int_equal(pi.payload_len, 16);
	assert_int_equal(parse_n(p.b, 45, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_TRUNCATED);
}

static void
test_other_ip_proto(void **state)
{
	struct pkt p = {.n = 0};
	struct dp_pkt_info pi;
	uint32_t ip;

	(void)state;
	eth(&p, 0x0800);
	ip = ip4(&p, 47, 0, 0); /* GRE: not decoded, the IP payload is the payload */
	payload(&p, 24);
	ip4_end(&p, ip);
	assert_int_equal(parse(&p, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.l4proto, 47);
	assert_int_equal(pi.flags, 0);
	assert_int_equal(pi.payload_off, 34);
	assert_int_equal(pi.payload_len, 24);
}

/* ---- truncation at every byte ------------------------------------------------------------- */

static void
test_truncation_tcp4(void **state)
{
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_eth_tcp4(&p, 16);
	for (uint32_t n = 0; n <= p.n; n++) {
		enum dp_parse_status st = parse_n(p.b, n, DP_LINKTYPE_ETHERNET, &pi);

		assert_int_equal(st, n < 54 ? DP_PARSE_TRUNCATED : DP_PARSE_OK);
		/* What was learnt before the cut is kept. */
		if (n >= 14)
			assert_int_equal(pi.l3, DP_L3_IPV4);
		if (n >= 34)
			assert_v4_addrs(&pi);
		if (n >= 38) {
			assert_int_equal(pi.flags & DP_PKT_HAS_L4, DP_PKT_HAS_L4);
			assert_int_equal(pi.sport, 40000);
		} else {
			assert_int_equal(pi.flags & DP_PKT_HAS_L4, 0);
		}
		if (n >= 54) {
			assert_int_equal(pi.tcp_flags, 0x12);
			assert_int_equal(pi.payload_len, n - 54);
		}
	}
}

/* The same UDP/IPv6 datagram behind each link header that can carry IPv6. */
static void
test_truncation_udp6(void **state)
{
	static const struct {
		unsigned int lt;
		uint8_t hdr[20];
		uint32_t hlen;
	} links[] = {
		{DP_LINKTYPE_ETHERNET, {[12] = 0x86, [13] = 0xdd}, 14},
		{DP_LINKTYPE_LINUX_SLL, {[14] = 0x86, [15] = 0xdd}, 16},
		{DP_LINKTYPE_LINUX_SLL2, {0x86, 0xdd}, 20},
		{DP_LINKTYPE_RAW, {0}, 0},
		{DP_LINKTYPE_IPV6, {0}, 0},
		{DP_LINKTYPE_NULL, {30}, 4},
		{DP_LINKTYPE_LOOP, {[3] = 24}, 4},
	};
	struct pkt u6, p;
	struct dp_pkt_info pi;

	(void)state;
	build_udp6(&u6, 12);
	for (unsigned int l = 0; l < sizeof(links) / sizeof(links[0]); l++) {
		uint32_t hdr_end = links[l].hlen + 48;

		memset(&p, 0, sizeof(p));
		put(&p, links[l].hdr, links[l].hlen);
		put(&p, u6.b, u6.n);
		for (uint32_t n = 0; n <= p.n; n++) {
			enum dp_parse_status st = parse_n(p.b, n, links[l].lt, &pi);

			assert_int_equal(st, n < hdr_end ? DP_PARSE_TRUNCATED : DP_PARSE_OK);
			if (n >= links[l].hlen + 40)
				assert_memory_equal(pi.src, src6, 16);
			if (n >= links[l].hlen + 44)
				assert_int_equal(pi.dport, 53);
			if (n >= hdr_end)
				assert_int_equal(pi.payload_len, n - hdr_end);
		}
	}
}

/* ---- robustness --------------------------------------------------------------------------- */

static void
test_huge_caplen(void **state)
{
	static uint8_t b[70000];
	struct pkt p;
	struct dp_pkt_info pi;

	(void)state;
	build_udp6(&p, 0);
	memcpy(b, p.b, p.n);
	b[4] = b[5] = 0;   /* IPv6 payload length 0 and ... */
	b[44] = b[45] = 0; /* ... UDP length 0: a jumbogram, bounded by the capture only */
	assert_int_equal(parse_n(b, sizeof(b), DP_LINKTYPE_IPV6, &pi), DP_PARSE_OK);
	assert_int_equal(pi.payload_off, 48);
	/* Offsets are 16-bit: the parser looks at the first 64 KiB only. */
	assert_int_equal(pi.payload_len, UINT16_MAX - 48);
}

/* Random bytes behind every link type: no crash, invariants hold (checked in parse_n). */
static void
test_random_frames(void **state)
{
	static const unsigned int lts[] = {DP_LINKTYPE_NULL, DP_LINKTYPE_ETHERNET, DP_LINKTYPE_RAW,
		DP_LINKTYPE_LOOP, DP_LINKTYPE_LINUX_SLL, DP_LINKTYPE_IPV4, DP_LINKTYPE_IPV6,
		DP_LINKTYPE_LINUX_SLL2};
	uint8_t b[160];
	uint32_t x = 12345;
	unsigned int seen[DP_PARSE_STATUS_MAX] = {0};
	struct dp_pkt_info pi;

	(void)state;
	for (unsigned int it = 0; it < 50000; it++) {
		uint32_t n;

		for (unsigned int i = 0; i < sizeof(b); i++) {
			x = x * 1103515245u + 12345u;
			b[i] = (uint8_t)(x >> 16);
		}
		/* Bias toward plausible frames so deep paths are reached. */
		if (it & 1) {
			b[12] = (it & 2) ? 0x08 : 0x86;
			b[13] = (it & 2) ? 0x00 : 0xdd;
			b[14] = (it & 2) ? 0x45 : 0x60;
			b[0] = b[14];
		}
		n = x % sizeof(b);
		seen[parse_n(b, n, lts[it % 8], &pi)]++;
	}
	assert_true(seen[DP_PARSE_OK] > 0);
	assert_true(seen[DP_PARSE_TRUNCATED] > 0);
	assert_true(seen[DP_PARSE_MALFORMED] > 0);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(dp_parse_status_names[DP_PARSE_OK], "ok");
	assert_string_equal(dp_parse_status_names[DP_PARSE_TRUNCATED], "truncated");
	assert_string_equal(dp_parse_status_names[DP_PARSE_MALFORMED], "malformed");
	assert_string_equal(dp_parse_status_names[DP_PARSE_NON_IP], "non_ip");
	assert_string_equal(dp_parse_status_names[DP_PARSE_UNSUPPORTED], "unsupported");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_tcp4),
		cmocka_unit_test(test_eth_padding_not_payload),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_qinq),
		cmocka_unit_test(test_vlan_deep),
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_link_errors),
		cmocka_unit_test(test_non_ip),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_snapped_payload),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_ipv6_malformed),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_udp_lengths),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_sctp),
		cmocka_unit_test(test_other_ip_proto),
		cmocka_unit_test(test_truncation_tcp4),
		cmocka_unit_test(test_truncation_udp6),
		cmocka_unit_test(test_huge_caplen),
		cmocka_unit_test(test_random_frames),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
