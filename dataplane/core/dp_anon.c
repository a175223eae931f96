/* dp_anon.c — Crypto-PAn prefix-preserving anonymisation (Xu, Fan, Ammar, Moon, 2002) and the
 * in-place packet rewrite behind dp_anon.h.
 *
 * Algorithm (as the reference implementation, sample key and trace reproduced by test_anon.c):
 * pad = AES_K(key[16..31]) with K = key[0..15]. For bit position i of an n-bit address
 * (n = 32 or 128), the AES input is the address's first i bits followed by the pad's remaining
 * bits; the most significant bit of AES_K(input) is output bit i's flip. Bit i of the result
 * thus depends only on bits 0..i of the input, which is what preserves prefixes. IPv6 is the
 * same construction over 128 bits (the one other implementations use: the whole pad is the
 * filler, nothing else changes); IPv4 is exactly its 32-bit case.
 *
 * Cost: the n AES inputs do not depend on each other's outputs, so they are encrypted in one
 * EVP call (AES-NI pipelines them): 32 blocks per IPv4 miss, 128 per IPv6 miss. Direct-mapped
 * caches (4096 IPv4, 1024 IPv6 entries) make a repeated address one compare. Every slot starts
 * holding the all-zero address and its true image, so slots need no valid bit: a slot either
 * matches its key exactly or misses.
 *
 * Packet rewrite: the address bytes present in the capture are replaced, and the IPv4 header
 * and TCP/UDP/ICMPv6 checksums are adjusted incrementally (RFC 1624) when their field is
 * captured. An address cut by the snap length is still anonymised as far as it goes (by the
 * prefix property its first k output bytes depend only on its first k input bytes) and the
 * IPv4 header checksum, which covers bytes we never saw, is cleared rather than kept.
 *
 * Tunnels: the headers rewritten are the ones the parser walked (one walk, dp_parse's): the
 * innermost packet it describes, then every IP header outside it (pi->outer_l3_off), innermost
 * first, each layer's checksums (IPv4 header, the UDP of VXLAN/GTP-U, GRE's optional one)
 * adjusted by what changed in its addresses and inside it. Not rewritten (bounds of this
 * module): addresses inside ICMP error quotes, IPv6 routing headers, whatever lies past the
 * parser's tunnel depth bound, and inner content that is not IP or ARP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dp_anon.h"

#define DP_ANON_V4_SLOTS 4096 /* 32 KiB */
#define DP_ANON_V6_SLOTS 1024 /* 32 KiB: with the IPv4 one, the size of an L1d or two */

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_GRE 47
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_HOPOPTS 0
#define PROTO_DSTOPTS 60
#define PROTO_MOBILITY 135

/* Same bound as the parser's walk (dp_parse.c). */
#define DP_ANON_IPV6_EXT_MAX 8

struct dp_anon_slot4 {
	uint32_t in;
	uint32_t out;
};

struct dp_anon_slot6 {
	uint8_t in[16];
	uint8_t out[16];
};

struct dp_anon {
	EVP_CIPHER_CTX *ctx;
	uint8_t pad[16];
	struct dp_anon_slot4 c4[DP_ANON_V4_SLOTS];
	struct dp_anon_slot6 c6[DP_ANON_V6_SLOTS];
};

static inline uint64_t
rd64_be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void
wr64_be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Crypto-PAn over the n-bit big-endian value (hi, lo) (n = 32: hi holds the address in its top
 * 32 bits, lo = 0). Returns the one-time pad in the same layout; 0 on an OpenSSL failure, which
 * cannot happen for ECB without padding once the context is set up. */
static int
cryptopan(struct dp_anon *a, uint64_t hi, uint64_t lo, unsigned int n, uint64_t *ohi,
	uint64_t *olo)
{
	uint8_t buf[128 * 16];
	uint64_t phi = rd64_be(a->pad), plo = rd64_be(a->pad + 8);
	uint64_t rhi = 0, rlo = 0;
	int outl;

	for (unsigned int i = 0; i < n; i++) {
		/* Keep the address's first i bits, fill the rest from the pad. */
		uint64_t mhi = i >= 64 ? ~0ull : i ? ~0ull << (64 - i) : 0;
		uint64_t mlo = i <= 64 ? 0 : ~0ull << (128 - i);

		wr64_be(buf + i * 16, (hi & mhi) | (phi & ~mhi));
		wr64_be(buf + i * 16 + 8, (lo & mlo) | (plo & ~mlo));
	}
	if (EVP_EncryptUpdate(a->ctx, buf, &outl, buf, (int)(n * 16)) != 1 || outl != (int)(n * 16))
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t bit = buf[i * 16] >> 7;

		if (i < 64)
			rhi |= bit << (63 - i);
		else
			rlo |= bit << (127 - i);
	}
	*ohi = rhi;
	*olo = rlo;
	return 1;
}

static void
anon4_compute(struct dp_anon *a, const uint8_t in[4], uint8_t out[4])
{
	uint64_t hi = (uint64_t)in[0] << 56 | (uint64_t)in[1] << 48 | (uint64_t)in[2] << 40 |
		      (uint64_t)in[3] << 32;
	uint64_t phi = 0, plo = 0;

	/* Unreachable; should it ever happen, write a constant, nothing derived from the input. */
	if (!cryptopan(a, hi, 0, 32, &phi, &plo)) {
		memset(out, 0, 4);
		return;
	}
	for (int i = 0; i < 4; i++)
		out[i] = in[i] ^ (uint8_t)(phi >> (56 - 8 * i));
}

static void
anon6_compute(struct dp_anon *a, const uint8_t in[16], uint8_t out[16])
{
	uint64_t phi = 0, plo = 0;

	if (!cryptopan(a, rd64_be(in), rd64_be(in + 8), 128, &phi, &plo)) {
		memset(out, 0, 16); /* as in anon4_compute */
		return;
	}
	wr64_be(out, rd64_be(in) ^ phi);
	wr64_be(out + 8, rd64_be(in + 8) ^ plo);
}

static inline unsigned int
slot4(uint32_t v)
{
	return (v * 0x9e3779b1u) >> 20; /* top 12 bits: 4096 slots */
}

static inline unsigned int
slot6(const uint8_t *p)
{
	uint32_t w[4];

	memcpy(w, p, 16);
	return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9e3779b1u) >> 22; /* 1024 slots */
}

_Static_assert(DP_ANON_V4_SLOTS == 1 << 12 && DP_ANON_V6_SLOTS == 1 << 10,
	"slot4()/slot6() shifts assume these sizes");

/* Misses are rare after warm-up and cost ~0.3 µs (IPv4) / ~1.1 µs (IPv6) of AES: keep them out
 * of line so the hit path inlines into dp_anon_packet. */
__attribute__((noinline)) static void
miss4(struct dp_anon *a, struct dp_anon_slot4 *s, uint32_t v)
{
	uint8_t in[4], out[4];

	memcpy(in, &v, 4);
	anon4_compute(a, in, out);
	s->in = v;
	memcpy(&s->out, out, 4);
}

__attribute__((noinline)) static void
miss6(struct dp_anon *a, struct dp_anon_slot6 *s, const uint8_t *addr)
{
	memcpy(s->in, addr, 16);
	anon6_compute(a, s->in, s->out);
}

static inline void
lookup4(struct dp_anon *a, uint8_t *addr)
{
	uint32_t v;
	struct dp_anon_slot4 *s;

	memcpy(&v, addr, 4);
	s = &a->c4[slot4(v)];
	if (__builtin_expect(s->in != v, 0))
		miss4(a, s, v);
	memcpy(addr, &s->out, 4);
}

static inline void
lookup6(struct dp_anon *a, uint8_t *addr)
{
	struct dp_anon_slot6 *s = &a->c6[slot6(addr)];
	uint64_t x0, x1, k0, k1;

	memcpy(&x0, addr, 8);
	memcpy(&x1, addr + 8, 8);
	memcpy(&k0, s->in, 8);
	memcpy(&k1, s->in + 8, 8);
	if (__builtin_expect((x0 ^ k0) | (x1 ^ k1), 0))
		miss6(a, s, addr);
	memcpy(addr, s->out, 16);
}

void
dp_anon_ip4(struct dp_anon *a, uint8_t addr[4])
{
	lookup4(a, addr);
}

void
dp_anon_ip6(struct dp_anon *a, uint8_t addr[16])
{
	lookup6(a, addr);
}

struct dp_anon *
dp_anon_create(const uint8_t key[DP_ANON_KEY_LEN])
{
	struct dp_anon *a;
	uint8_t zero[16] = {0}, z4[4], z6[16];
	int outl;

	/* Cache-aligned: one per worker, never shared. */
	a = aligned_alloc(64, (sizeof(*a) + 63) & ~(size_t)63);
	if (a == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	a->ctx = EVP_CIPHER_CTX_new();
	if (a->ctx == NULL) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	if (EVP_EncryptInit_ex(a->ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(a->ctx, 0) != 1 ||
		EVP_EncryptUpdate(a->ctx, a->pad, &outl, key + 16, 16) != 1 || outl != 16) {
		dp_anon_free(a);
		errno = EINVAL;
		return NULL;
	}
	/* Prime every slot with 0.0.0.0 / :: and their images (see the file comment). */
	anon4_compute(a, zero, z4);
	anon6_compute(a, zero, z6);
	for (unsigned int i = 0; i < DP_ANON_V4_SLOTS; i++) {
		a->c4[i].in = 0;
		memcpy(&a->c4[i].out, z4, 4);
	}
	for (unsigned int i = 0; i < DP_ANON_V6_SLOTS; i++) {
		memset(a->c6[i].in, 0, 16);
		memcpy(a->c6[i].out, z6, 16);
	}
	return a;
}

void
dp_anon_free(struct dp_anon *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->ctx);
	/* The caches map real addresses to their images: do not leave them in freed memory. */
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

/* One's-complement sums are byte-order independent (RFC 1071 §2(B)): the deltas below are
 * taken over native 32-bit loads and applied to the field read in native order, no swaps. */
static inline uint32_t
fold16(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Sum of (~m + m') over n bytes (n a multiple of 4) that changed from `old` to `cur`. */
static inline uint32_t
csum_delta(const uint8_t *old, const uint8_t *cur, unsigned int n)
{
	uint64_t s = 0;

	for (unsigned int i = 0; i < n; i += 4) {
		uint32_t o, w;

		memcpy(&o, old + i, 4);
		memcpy(&w, cur + i, 4);
		s += (uint32_t)~o;
		s += w;
	}
	return fold16(s);
}

/* HC' = ~(~HC + delta) (RFC 1624 eqn. 3). Both this and a from-scratch sum land in
 * 0x0000..0xfffe, so for a packet whose checksum was right the two agree exactly. */
static inline uint32_t
csum_apply(uint8_t *field, uint32_t delta, int udp)
{
	uint16_t hc, was;

	memcpy(&hc, field, 2);
	was = hc;
	hc = (uint16_t)~fold16((uint64_t)(uint16_t)~hc + delta);
	if (udp && hc == 0)
		hc = 0xffff; /* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum" */
	memcpy(field, &hc, 2);
	/* the field's own change, for a checksum of an outer layer that covers it */
	return fold16((uint64_t)(uint16_t)~was + hc);
}

/* A checksum over bytes we never saw (a tunnel's inner header cut by the snap length) would
 * keep 16 bits about the original addresses: clear it, as for the IPv4 header sum below. */
static inline void
csum_clear(uint8_t *field)
{
	memset(field, 0, 2);
}

/* Does an IPv6 routing header with segments left put the final destination (and so the
 * pseudo-header's) somewhere other than the destination field? */
static int
ip6_dst_in_routing_header(const uint8_t *d, uint32_t caplen, uint32_t off)
{
	uint32_t cur = off + 40;
	uint8_t nh;

	if (cur > caplen)
		return 0;
	nh = d[off + 6];
	for (int i = 0; i < DP_ANON_IPV6_EXT_MAX; i++) {
		uint32_t hl;

		if (nh != PROTO_HOPOPTS && nh != PROTO_ROUTING && nh != PROTO_DSTOPTS &&
			nh != PROTO_MOBILITY && nh != PROTO_AH && nh != PROTO_FRAGMENT)
			return 0;
		if (cur + 4 > caplen)
			return 0;
		if (nh == PROTO_ROUTING && d[cur + 3] != 0)
			return 1;
		hl = nh == PROTO_FRAGMENT ? 8
		     : nh == PROTO_AH     ? ((uint32_t)d[cur + 1] + 2) * 4
					  : ((uint32_t)d[cur + 1] + 1) * 8;
		nh = d[cur];
		cur += hl;
	}
	return 0;
}

/* Where the transport header of the IPv6 header at `off` starts, past its extension headers
 * (the walk of dp_parse.c, same bound); its protocol in *proto (0 when the walk gave up). */
static uint32_t
ip6_transport(const uint8_t *d, uint32_t caplen, uint32_t off, uint8_t *proto)
{
	uint32_t cur = off + 40;
	uint8_t nh = d[off + 6];

	for (int i = 0; i < DP_ANON_IPV6_EXT_MAX; i++) {
		if (nh != PROTO_HOPOPTS && nh != PROTO_ROUTING && nh != PROTO_DSTOPTS &&
			nh != PROTO_MOBILITY && nh != PROTO_AH && nh != PROTO_FRAGMENT)
			break;
		if (cur + 2 > caplen) {
			*proto = 0;
			return cur;
		}
		uint32_t hl = nh == PROTO_FRAGMENT ? 8
			      : nh == PROTO_AH     ? ((uint32_t)d[cur + 1] + 2) * 4
						   : ((uint32_t)d[cur + 1] + 1) * 8;
		nh = d[cur];
		cur += hl;
	}
	*proto = nh;
	return cur;
}

/* The snap length cut the addresses: anonymise what is there (zero-filled, the prefix property
 * makes the kept bytes right) and clear the IPv4 header sum, which would otherwise still cover
 * original bytes we never saw (16 bits about them). No transport header can be present. */
__attribute__((noinline)) static int
anon_cut_addresses(struct dp_anon *a, uint8_t *data, uint32_t caplen, uint32_t off,
	uint32_t src_off, int is4)
{
	uint32_t have = caplen - src_off;
	uint8_t buf[32] = {0};

	memcpy(buf, data + src_off, have);
	if (is4) {
		lookup4(a, buf);
		lookup4(a, buf + 4);
		if (off + 12 <= caplen)
			memset(data + off + 10, 0, 2);
	} else {
		lookup6(a, buf);
		lookup6(a, buf + 16);
	}
	memcpy(data + src_off, buf, have);
	return 1;
}

/* The innermost (or only) header the parser described. *net receives the one's-complement
 * change of every byte rewritten, for the checksums of the layers outside it; *cut says that
 * the addresses were cut by the snap length (those checksums cannot be adjusted then). Both
 * may be NULL (no tunnel): always inlined, so that copy does none of that bookkeeping. */
static inline __attribute__((always_inline)) int
anon_innermost(struct dp_anon *a, uint8_t *data, uint32_t caplen, const struct dp_pkt_info *pi,
	uint32_t *net, int *cut)
{
	uint32_t off = pi->l3_off, l4sum, n;
	uint8_t old[32];
	uint8_t *addr;
	int is4;

	if (pi->l3 == DP_L3_IPV4) {
		is4 = 1;
		if (__builtin_expect(off + 20 > caplen, 0)) {
			if (off + 12 >= caplen)
				return 0;
			if (cut)
				*cut = 1;
			return anon_cut_addresses(a, data, caplen, off, off + 12, 1);
		}
		addr = data + off + 12;
		memcpy(old, addr, 8);
		lookup4(a, addr);
		lookup4(a, addr + 4);
		l4sum = csum_delta(old, addr, 8);
		n = l4sum + csum_apply(data + off + 10, l4sum, 0);
	} else if (pi->l3 == DP_L3_IPV6) {
		is4 = 0;
		if (__builtin_expect(off + 40 > caplen, 0)) {
			if (off + 8 >= caplen)
				return 0;
			if (cut)
				*cut = 1;
			return anon_cut_addresses(a, data, caplen, off, off + 8, 0);
		}
		addr = data + off + 8;
		memcpy(old, addr, 32);
		lookup6(a, addr);
		lookup6(a, addr + 16);
		l4sum = csum_delta(old, addr, 16);
		n = l4sum + csum_delta(old + 16, addr + 16, 16);
		if (!(pi->flags & DP_PKT_IPV6_EXT) || !ip6_dst_in_routing_header(data, caplen, off))
			l4sum += csum_delta(old + 16, addr + 16, 16);
	} else if (pi->ethertype == 0x0806) {
		/* ARP for IPv4 over Ethernet: sender and target protocol addresses */
		const uint8_t *h = data + off;
		if (off + 28 > caplen || h[0] != 0 || h[1] != 1 || h[2] != 0x08 || h[3] != 0 ||
			h[4] != 6 || h[5] != 4)
			return 0;
		memcpy(old, data + off + 14, 4);
		memcpy(old + 4, data + off + 24, 4);
		lookup4(a, data + off + 14);
		lookup4(a, data + off + 24);
		if (net)
			*net = csum_delta(old, data + off + 14, 4) +
			       csum_delta(old + 4, data + off + 24, 4);
		return 1;
	} else {
		return 0;
	}

	/* Neighbour discovery names an address in the ICMPv6 body (NS/NA target; redirect
	 * target and destination): rewrite them too, or the dataset leaks what the header hid. */
	if (!is4 && pi->l4proto == PROTO_ICMPV6 && (pi->flags & DP_PKT_HAS_L4)) {
		uint32_t l4 = pi->l4_off;
		uint8_t type = l4 < caplen ? data[l4] : 0;
		unsigned int n_targets = type == 135 || type == 136 ? 1 : type == 137 ? 2 : 0;
		for (unsigned int i = 0; i < n_targets; i++) {
			uint8_t *t = data + l4 + 8 + 16 * i;
			if (l4 + 8 + 16 * (i + 1) > caplen)
				break;
			uint8_t before[16];
			memcpy(before, t, 16);
			lookup6(a, t);
			l4sum += csum_delta(before, t, 16);
			n += csum_delta(before, t, 16);
		}
	}
	if (net)
		*net = n;

	if (pi->flags & DP_PKT_HAS_L4) {
		uint32_t l4 = pi->l4_off, coff;
		int udp = 0;

		switch (pi->l4proto) {
		case PROTO_TCP:
			coff = 16;
			break;
		case PROTO_UDP:
			coff = 6;
			udp = 1;
			break;
		case PROTO_ICMPV6:
			coff = 2;
			if (is4)
				return 1; /* ICMPv6 in IPv4 is nonsense; its sum is not ours */
			break;
		default:
			return 1; /* ICMP and SCTP sums do not cover the addresses */
		}
		if (l4 + coff + 2 <= caplen) {
			uint8_t *f = data + l4 + coff;

			/* Over IPv4 a zero UDP checksum means "none" and stays so. Over IPv6 it is
			 * invalid; rewriting it would only forge a plausible-looking sum. */
			if (!(udp && f[0] == 0 && f[1] == 0)) {
				uint32_t field_change = csum_apply(f, l4sum, udp);

				if (net)
					*net += field_change;
			}
		}
	}
	return 1;
}

/* One IP header outside the innermost (a tunnel's), its addresses and the checksums over them:
 * the IPv4 header sum, and the UDP (VXLAN, GTP-U) or GRE checksum, which also cover the inner
 * bytes rewritten before (`*net`, their one's-complement change; every field of a supported
 * encapsulation sits at an even offset from the outer checksum's start, so the change adds as
 * is). *net becomes this layer's total change, for the next layer out. */
static void
anon_outer(struct dp_anon *a, uint8_t *data, uint32_t caplen, uint32_t off, uint32_t *net,
	int cut)
{
	uint32_t inner = *net, n = *net, addr_d, pseudo_d, l4;
	uint8_t old[32], proto;

	if ((data[off] >> 4) == 4) {
		if (off + 20 > caplen)
			return; /* not reached: the parser opened no tunnel behind a cut header */
		memcpy(old, data + off + 12, 8);
		lookup4(a, data + off + 12);
		lookup4(a, data + off + 16);
		addr_d = csum_delta(old, data + off + 12, 8);
		n += addr_d + csum_apply(data + off + 10, addr_d, 0);
		pseudo_d = addr_d;
		proto = data[off + 9];
		l4 = off + (uint32_t)(data[off] & 0x0f) * 4;
	} else {
		if (off + 40 > caplen)
			return;
		memcpy(old, data + off + 8, 32);
		lookup6(a, data + off + 8);
		lookup6(a, data + off + 24);
		addr_d = csum_delta(old, data + off + 8, 32);
		n += addr_d;
		pseudo_d = ip6_dst_in_routing_header(data, caplen, off)
				   ? csum_delta(old, data + off + 8, 16) : addr_d;
		l4 = ip6_transport(data, caplen, off, &proto);
	}
	if (proto == PROTO_UDP && l4 + 8 <= caplen) {
		uint8_t *f = data + l4 + 6;

		if (f[0] || f[1]) { /* 0: no checksum (IPv4; tolerated for tunnels over IPv6) */
			if (cut)
				csum_clear(f);
			else
				n += csum_apply(f, pseudo_d + inner, 1);
		}
	} else if (proto == PROTO_GRE && l4 + 6 <= caplen && (data[l4] & 0x80)) {
		if (cut)
			csum_clear(data + l4 + 4);
		else
			n += csum_apply(data + l4 + 4, inner, 0); /* no pseudo-header in GRE's */
	}
	*net = n;
}

int
dp_anon_packet(struct dp_anon *a, uint8_t *data, uint32_t caplen, const struct dp_pkt_info *pi)
{
	uint32_t net = 0;
	int cut = 0, done;

	if (__builtin_expect(pi->tunnel == 0, 1))
		return anon_innermost(a, data, caplen, pi, NULL, NULL);
	done = anon_innermost(a, data, caplen, pi, &net, &cut);
	/* then each enclosing IP header, innermost first, so each checksum sees the changes made
	 * inside it */
	for (int i = pi->tunnel_depth - 1; i >= 0; i--) {
		if (pi->outer_l3_off[i] == DP_OFF_NONE)
			continue;
		anon_outer(a, data, caplen, pi->outer_l3_off[i], &net, cut);
		done = 1;
	}
	return done;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
parse_hex(const char *s, size_t n, uint8_t key[DP_ANON_KEY_LEN], const char *what, char *err,
	size_t errlen)
{
	if (n != 2 * DP_ANON_KEY_LEN) {
		snprintf(err, errlen, "%s: expected %d hex digits, got %zu characters", what,
			2 * DP_ANON_KEY_LEN, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0) {
			size_t bad = hi < 0 ? i : i + 1;

			snprintf(err, errlen, "%s: invalid hex digit at position %zu", what,
				bad + 1);
			return -EINVAL;
		}
		key[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
dp_anon_key_parse(const char *spec, uint8_t key[DP_ANON_KEY_LEN], char *err, size_t errlen)
{
	/* Room for 64 hex digits plus a CRLF and one byte to detect anything longer. */
	char buf[2 * DP_ANON_KEY_LEN + 3];
	char dummy[1];
	size_t n;
	FILE *f;
	int rc;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (spec == NULL) {
		snprintf(err, errlen, "anonymisation key: none given");
		return -EINVAL;
	}
	if (spec[0] != '@')
		return parse_hex(spec, strlen(spec), key, "anonymisation key", err, errlen);

	f = fopen(spec + 1, "rb");
	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "anonymisation key file '%s': %s", spec + 1, strerror(errno));
		return rc;
	}
	/* Unbuffered, so no copy of the key is left behind in a stdio buffer. */
	setvbuf(f, NULL, _IONBF, 0);
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "anonymisation key file '%s': read error", spec + 1);
	} else if (n == DP_ANON_KEY_LEN) {
		memcpy(key, buf, DP_ANON_KEY_LEN);
		rc = 0;
	} else {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		if (n != 2 * DP_ANON_KEY_LEN) {
			snprintf(err, errlen,
				"anonymisation key file '%s': %s "
				"(want %d raw bytes or %d hex digits)",
				spec + 1, n > 2 * DP_ANON_KEY_LEN ? "too long" : "wrong size",
				DP_ANON_KEY_LEN, 2 * DP_ANON_KEY_LEN);
			rc = -EINVAL;
		} else {
			rc = parse_hex(buf, n, key, "anonymisation key file", err, errlen);
		}
	}
	fclose(f);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}
