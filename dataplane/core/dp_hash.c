/* dp_hash.c — the symmetric 5-tuple hash behind dp_hash.h.
 *
 * Symmetry comes from ordering, not from a symmetric mix: the two endpoints (address, port) are
 * put in a canonical order before hashing, so a→b and b→a feed identical words to the hash.
 * Ordering keeps all the tuple's entropy (xor-ing the endpoints would map every a→a flow and
 * many address pairs to one value). The words are hashed with CRC32C, one instruction per
 * 8 bytes on any x86-64 since Nehalem, then a murmur3 finaliser spreads CRC's linear output
 * over the low bits that worker selection uses.
 *
 * The build does not assume SSE4.2 (no -march=native), so the CRC32C path is compiled with a
 * target attribute and chosen at run time; the fallback is a table-driven CRC32C giving the
 * same values bit for bit, so a hash never depends on the machine it was computed on.
 * Cost: 2 CRC steps for IPv4, 5 for IPv6, plus the finaliser (a few ns). */
#include <string.h>

#include "dp_hash.h"

#define PROTO_ICMP 1
#define PROTO_ICMPV6 58

/* The value non-IP packets hash to before the seed is mixed in (any constant will do). */
#define DP_HASH_NON_IP 0x6e6f6970u

/* CRC32C (Castagnoli, reflected polynomial 0x82f63b78) of each nibble value: 64 bytes of table
 * instead of 1 KiB, since the fallback only runs where SSE4.2 is missing. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362,
	0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab,
	0xe330a81a, 0xf36e6f75,
};

/* One 64-bit word, least significant byte first: exactly what the crc32q instruction does. */
static inline uint32_t
crc32c_u64_sw(uint32_t crc, uint64_t v)
{
	for (int i = 0; i < 16; i++) {
		crc ^= (uint32_t)(v & 0x0f);
		crc = (crc >> 4) ^ crc32c_nibble[crc & 0x0f];
		v >>= 4;
	}
	return crc;
}

static inline uint32_t
fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The canonical words of an IP tuple: 2 for IPv4, 5 for IPv6 (returned). Inlined into both the
 * CRC-instruction and the table-driven variant, so each is one straight-line function. */
static inline __attribute__((always_inline)) unsigned int
tuple_words(const struct dp_pkt_info *pi, uint64_t w[5])
{
	uint32_t sp = 0, dp = 0;

	/* Ports only when the packet has them (not for non-first fragments, so every fragment
	 * after the first hashes on addresses and protocol, identically in both directions).
	 * ICMP type/code are left out: an echo request (8) and its reply (0) must meet. */
	if ((pi->flags & DP_PKT_HAS_L4) && pi->l4proto != PROTO_ICMP &&
		pi->l4proto != PROTO_ICMPV6) {
		sp = pi->sport;
		dp = pi->dport;
	}

	if (pi->l3 == DP_L3_IPV4) {
		uint32_t a, b;
		uint64_t ka, kb;

		/* Endpoint keys (address << 16 | port) compare in one step; any total order works,
		 * so the address is read in host order. */
		memcpy(&a, pi->src, 4);
		memcpy(&b, pi->dst, 4);
		ka = (uint64_t)a << 16 | sp;
		kb = (uint64_t)b << 16 | dp;
		w[0] = (ka < kb ? ka : kb) | (uint64_t)pi->l4proto << 48 |
		       (uint64_t)DP_L3_IPV4 << 56;
		w[1] = ka < kb ? kb : ka;
		return 2;
	} else {
		uint64_t a0, a1, b0, b1;
		int a_first;

		memcpy(&a0, pi->src, 8);
		memcpy(&a1, pi->src + 8, 8);
		memcpy(&b0, pi->dst, 8);
		memcpy(&b1, pi->dst + 8, 8);
		a_first = a0 != b0 ? a0 < b0 : a1 != b1 ? a1 < b1 : sp <= dp;
		w[0] = a_first ? a0 : b0;
		w[1] = a_first ? a1 : b1;
		w[2] = a_first ? b0 : a0;
		w[3] = a_first ? b1 : a1;
		w[4] = (uint64_t)(a_first ? sp : dp) << 16 | (a_first ? dp : sp) |
		       (uint64_t)pi->l4proto << 32 | (uint64_t)DP_L3_IPV6 << 40;
		return 5;
	}
}

static uint32_t
hash_sw(const struct dp_pkt_info *pi, uint32_t seed)
{
	uint64_t w[5];
	unsigned int n = tuple_words(pi, w);
	uint32_t crc = seed;

	for (unsigned int i = 0; i < n; i++)
		crc = crc32c_u64_sw(crc, w[i]);
	return fmix32(crc);
}

#if defined(__x86_64__) && !defined(DP_HASH_FORCE_SW)
#define DP_HASH_HW 1
__attribute__((target("sse4.2"))) static uint32_t
hash_hw(const struct dp_pkt_info *pi, uint32_t seed)
{
	uint64_t w[5], crc = seed;

	if (tuple_words(pi, w) == 2) {
		crc = __builtin_ia32_crc32di(crc, w[0]);
		return fmix32((uint32_t)__builtin_ia32_crc32di(crc, w[1]));
	}
	for (unsigned int i = 0; i < 5; i++)
		crc = __builtin_ia32_crc32di(crc, w[i]);
	return fmix32((uint32_t)crc);
}
#endif

uint32_t
dp_hash_sym(const struct dp_pkt_info *pi, uint32_t seed)
{
	if (pi->l3 != DP_L3_IPV4 && pi->l3 != DP_L3_IPV6)
		return fmix32(seed ^ DP_HASH_NON_IP);
#ifdef DP_HASH_HW
#ifndef __SSE4_2__
	/* A load and a test of libgcc's cpu model: predictable, far cheaper than the CRCs. */
	if (__builtin_cpu_supports("sse4.2"))
#endif
		return hash_hw(pi, seed);
#endif
	return hash_sw(pi, seed);
}
