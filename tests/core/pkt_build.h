/* pkt_build.h — the hand-written frame builder shared by the parser's unit tests (test_parse.c,
 * test_tunnel.c): put/put16/… append big-endian fields, lengths are fixed up at the end, and
 * every parse runs on a heap copy of exactly caplen bytes so ASan catches a read past it.
 * Include after cmocka.h. */
#ifndef TESTS_CORE_PKT_BUILD_H
#define TESTS_CORE_PKT_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_linktype.h"
#include "dp_parse.h"

/* ---- frame builder ---------------------------------------------------------------------- */

struct pkt {
	uint8_t b[4096];
	uint32_t n;
};

static inline void
put(struct pkt *p, const void *src, uint32_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, src, n);
	p->n += n;
}

static inline void
put8(struct pkt *p, uint8_t v)
{
	put(p, &v, 1);
}

static inline void
put16(struct pkt *p, uint16_t v)
{
	put8(p, (uint8_t)(v >> 8));
	put8(p, (uint8_t)v);
}

static inline void
put32(struct pkt *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

static inline void
zeros(struct pkt *p, uint32_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memset(p->b + p->n, 0, n);
	p->n += n;
}

static inline void
set16(struct pkt *p, uint32_t off, uint16_t v)
{
	p->b[off] = (uint8_t)(v >> 8);
	p->b[off + 1] = (uint8_t)v;
}

static inline void
eth(struct pkt *p, uint16_t et)
{
	static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};

	put(p, macs, 12);
	put16(p, et);
}

/* A VLAN-type tag: TCI then the next ethertype (the tag's TPID was the previous ethertype). */
static inline void
tag(struct pkt *p, uint16_t vid, uint16_t next_et)
{
	put16(p, (uint16_t)(0x2000 | vid)); /* PCP 1: must be masked off */
	put16(p, next_et);
}

#define SRC4 0x0a000001u /* 10.0.0.1 */
#define DST4 0xc0a80102u /* 192.168.1.2 */

/* IPv4 header with `opt_words` 4-byte option words; returns its offset. Length fixed later. */
static inline uint32_t
ip4(struct pkt *p, uint8_t proto, unsigned int opt_words, uint16_t frag)
{
	uint32_t off = p->n;

	put8(p, (uint8_t)(0x40 | (5 + opt_words)));
	put8(p, 0);
	put16(p, 0); /* total length: ip4_end() */
	put16(p, 0x1234);
	put16(p, frag);
	put8(p, 64);
	put8(p, proto);
	put16(p, 0);
	put32(p, SRC4);
	put32(p, DST4);
	for (unsigned int i = 0; i < opt_words; i++)
		put32(p, 0x01010101); /* NOPs */
	return off;
}

static inline void
ip4_end(struct pkt *p, uint32_t off)
{
	set16(p, off + 2, (uint16_t)(p->n - off));
}

static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static inline uint32_t
ip6(struct pkt *p, uint8_t nh)
{
	uint32_t off = p->n;

	put32(p, 0x60000000);
	put16(p, 0); /* payload length: ip6_end() */
	put8(p, nh);
	put8(p, 64);
	put(p, src6, 16);
	put(p, dst6, 16);
	return off;
}

static inline void
ip6_end(struct pkt *p, uint32_t off)
{
	set16(p, off + 4, (uint16_t)(p->n - off - 40));
}

/* A generic extension header of `units` 8-byte units (hop-by-hop, routing, dest opts, …). */
static inline void
ext6(struct pkt *p, uint8_t nh, uint8_t units)
{
	put8(p, nh);
	put8(p, (uint8_t)(units - 1));
	zeros(p, (uint32_t)units * 8 - 2);
}

static inline void
frag6(struct pkt *p, uint8_t nh, uint16_t offset8, int more)
{
	put8(p, nh);
	put8(p, 0);
	put16(p, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	put32(p, 0xdeadbeef);
}

static inline void
tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, unsigned int opt_words)
{
	put16(p, sport);
	put16(p, dport);
	put32(p, 1000);
	put32(p, 2000);
	put8(p, (uint8_t)((5 + opt_words) << 4));
	put8(p, flags);
	put16(p, 65535);
	put16(p, 0);
	put16(p, 0);
	for (unsigned int i = 0; i < opt_words; i++)
		put32(p, 0x01010101);
}

/* UDP header; the length is fixed up by udp_end() unless the test sets its own. */
static inline uint32_t
udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint32_t off = p->n;

	put16(p, sport);
	put16(p, dport);
	put16(p, 0);
	put16(p, 0);
	return off;
}

static inline void
udp_end(struct pkt *p, uint32_t off)
{
	set16(p, off + 4, (uint16_t)(p->n - off));
}

static inline void
payload(struct pkt *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(p, (uint8_t)(0xa0 + i));
}

/* ---- parse on an exact-size heap copy ----------------------------------------------------- */

static inline enum dp_parse_status
parse_n(const uint8_t *data, uint32_t caplen, unsigned int lt, struct dp_pkt_info *pi)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	enum dp_parse_status st;

	assert_non_null(copy);
	if (caplen)
		memcpy(copy, data, caplen);
	st = dp_parse(copy, caplen, lt, pi);
	free(copy);
	assert_int_equal(st, pi->status);
	/* Invariants that hold for any input. */
	assert_true(pi->status < DP_PARSE_STATUS_MAX);
	assert_true(pi->n_vlans <= 2);
	assert_true((uint32_t)pi->payload_off + pi->payload_len <= caplen);
	assert_true(pi->tunnel < DP_TUNNEL_MAX && pi->tunnel_depth <= DP_TUNNEL_DEPTH_MAX);
	assert_true((pi->tunnel == DP_TUNNEL_NONE) == (pi->tunnel_depth == 0));
	return st;
}

static inline enum dp_parse_status
parse(const struct pkt *p, unsigned int lt, struct dp_pkt_info *pi)
{
	return parse_n(p->b, p->n, lt, pi);
}

static inline void
assert_v4_addrs(const struct dp_pkt_info *pi)
{
	static const uint8_t s[16] = {10, 0, 0, 1}, d[16] = {192, 168, 1, 2};

	assert_memory_equal(pi->src, s, 16);
	assert_memory_equal(pi->dst, d, 16);
}

#endif
