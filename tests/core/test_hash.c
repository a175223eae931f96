/* test_hash.c — unit tests for dp_hash_sym(): symmetry (IPv4, IPv6, fragments, ICMP), the
 * non-IP constant, sensitivity to every tuple field, and bucket balance over 2/4/8/16 workers.
 *
 * test_reference_values re-derives the hash from its definition (bitwise CRC32C over the
 * canonical endpoint order, murmur3 finaliser) so the hardware and table-driven paths are both
 * held to the same values: build this file once with dp_hash.c compiled -DDP_HASH_FORCE_SW to
 * check the fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp_hash.h"
#include "test_rng.h"

#define N_TUPLES 100000

/* deterministic (test_rng.h), so the distribution bounds below are reproducible */
static struct test_rng rng = {0x9e3779b97f4a7c15ull};

static void
rnd_tuple(struct dp_pkt_info *pi, int v6)
{
	static const uint8_t protos[] = {6, 17, 132, 6, 17, 47};
	uint64_t r;

	memset(pi, 0, sizeof(*pi));
	pi->l3 = v6 ? DP_L3_IPV6 : DP_L3_IPV4;
	for (unsigned int i = 0; i < (v6 ? 16u : 4u); i += 8) {
		uint64_t a = test_rng_next(&rng), b = test_rng_next(&rng);

		memcpy(pi->src + i, &a, v6 ? 8 : 4);
		memcpy(pi->dst + i, &b, v6 ? 8 : 4);
	}
	r = test_rng_next(&rng);
	pi->sport = (uint16_t)r;
	pi->dport = (uint16_t)(r >> 16);
	pi->l4proto = protos[(r >> 32) % sizeof(protos)];
	pi->flags = pi->l4proto == 47 ? 0 : DP_PKT_HAS_L4;
	if (pi->l4proto == 47)
		pi->sport = pi->dport = 0;
}

static void
reverse(const struct dp_pkt_info *pi, struct dp_pkt_info *r)
{
	*r = *pi;
	memcpy(r->src, pi->dst, 16);
	memcpy(r->dst, pi->src, 16);
	r->sport = pi->dport;
	r->dport = pi->sport;
}

static void
test_symmetry(void **state)
{
	static const uint32_t seeds[] = {0, 1, 0xdeadbeef};

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned int i = 0; i < N_TUPLES; i++) {
			struct dp_pkt_info a, b;
			uint32_t seed = seeds[i % 3];

			rnd_tuple(&a, v6);
			/* Every few tuples, same address both ways: order falls to the ports. */
			if (i % 7 == 0)
				memcpy(a.dst, a.src, 16);
			if (i % 11 == 0)
				a.dport = a.sport;
			reverse(&a, &b);
			assert_int_equal(dp_hash_sym(&a, seed), dp_hash_sym(&b, seed));
		}
	}
}

/* Non-first fragments carry no ports: addresses and protocol only, both directions agree. */
static void
test_fragments(void **state)
{
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned int i = 0; i < 1000; i++) {
			struct dp_pkt_info a, b;

			rnd_tuple(&a, v6);
			a.flags = DP_PKT_FRAGMENT; /* no HAS_L4 */
			a.sport = a.dport = 0;
			reverse(&a, &b);
			assert_int_equal(dp_hash_sym(&a, 3), dp_hash_sym(&b, 3));
			/* Whatever sits in the port fields is ignored without HAS_L4. */
			b.sport = 1234;
			b.dport = 4321;
			assert_int_equal(dp_hash_sym(&a, 3), dp_hash_sym(&b, 3));
		}
	}
}

/* An echo request (type 8) and its reply (type 0) land on the same worker. */
static void
test_icmp_echo_pairs(void **state)
{
	static const struct {
		int v6;
		uint8_t proto, req, rep;
	} c[] = {{0, 1, 8, 0}, {1, 58, 128, 129}};

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		struct dp_pkt_info a, b;

		rnd_tuple(&a, c[k].v6);
		a.l4proto = c[k].proto;
		a.flags = DP_PKT_HAS_L4;
		a.sport = c[k].req;
		a.dport = 0;
		reverse(&a, &b);
		b.sport = c[k].rep;
		b.dport = 0;
		assert_int_equal(dp_hash_sym(&a, 0), dp_hash_sym(&b, 0));
	}
}

static void
test_non_ip(void **state)
{
	struct dp_pkt_info a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	b.l3 = DP_L3_NONE;
	/* Fields of a non-IP packet do not matter; the seed does. */
	assert_int_equal(dp_hash_sym(&a, 0), dp_hash_sym(&b, 0));
	assert_int_equal(dp_hash_sym(&a, 77), dp_hash_sym(&b, 77));
	assert_int_not_equal(dp_hash_sym(&a, 0), dp_hash_sym(&a, 1));
}

/* Changing any one field (address byte, port, protocol, family) changes the hash. */
static void
test_sensitivity(void **state)
{
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned int i = 0; i < 200; i++) {
			struct dp_pkt_info a, b;
			uint32_t h;

			rnd_tuple(&a, v6);
			a.l4proto = 6;
			a.flags = DP_PKT_HAS_L4;
			h = dp_hash_sym(&a, 9);
			for (unsigned int byte = 0; byte < (v6 ? 16u : 4u); byte++) {
				b = a;
				b.src[byte] ^= (uint8_t)(1u << (i % 8));
				assert_int_not_equal(dp_hash_sym(&b, 9), h);
				b = a;
				b.dst[byte] ^= 0x80;
				assert_int_not_equal(dp_hash_sym(&b, 9), h);
			}
			b = a;
			b.sport ^= 1;
			assert_int_not_equal(dp_hash_sym(&b, 9), h);
			b = a;
			b.dport ^= 0x8000;
			assert_int_not_equal(dp_hash_sym(&b, 9), h);
			b = a;
			b.l4proto = 17;
			assert_int_not_equal(dp_hash_sym(&b, 9), h);
			assert_int_not_equal(dp_hash_sym(&a, 10), h);
		}
	}
	{
		/* 10.0.0.1 → 10.0.0.2 as IPv4, and the same bytes as an IPv6 address. */
		struct dp_pkt_info a = {.l3 = DP_L3_IPV4, .l4proto = 17, .flags = DP_PKT_HAS_L4};
		struct dp_pkt_info b;

		a.src[0] = a.dst[0] = 10;
		a.src[3] = 1;
		a.dst[3] = 2;
		b = a;
		b.l3 = DP_L3_IPV6;
		assert_int_not_equal(dp_hash_sym(&a, 0), dp_hash_sym(&b, 0));
	}
}

/* Each of n buckets gets N/n tuples within 5 %: random tuples and a sequential address sweep
 * (10.0.x.y → 192.168.0.1:443, the shape of a scan or of many clients to one server). */
static void
check_balance(const uint32_t *h, unsigned int count)
{
	static const unsigned int buckets[] = {2, 4, 8, 16};

	for (unsigned int b = 0; b < 4; b++) {
		unsigned int hist[16] = {0}, n = buckets[b];
		double expect = (double)count / n;

		for (unsigned int i = 0; i < count; i++)
			hist[h[i] % n]++;
		for (unsigned int k = 0; k < n; k++) {
			double dev = (hist[k] - expect) / expect;

			if (dev > 0.05 || dev < -0.05)
				fail_msg("bucket %u of %u holds %u (expected %.0f)", k, n, hist[k],
					expect);
		}
	}
}

static void
test_distribution(void **state)
{
	static uint32_t h[N_TUPLES];

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned int i = 0; i < N_TUPLES; i++) {
			struct dp_pkt_info a;

			rnd_tuple(&a, v6);
			h[i] = dp_hash_sym(&a, 0);
		}
		check_balance(h, N_TUPLES);
	}
	for (unsigned int i = 0; i < N_TUPLES; i++) {
		struct dp_pkt_info a = {.l3 = DP_L3_IPV4, .l4proto = 6, .flags = DP_PKT_HAS_L4};

		a.src[0] = 10;
		a.src[2] = (uint8_t)(i >> 8);
		a.src[3] = (uint8_t)i;
		a.dst[0] = 192;
		a.dst[1] = 168;
		a.dst[3] = 1;
		a.sport = (uint16_t)(32768 + (i >> 16));
		a.dport = 443;
		h[i] = dp_hash_sym(&a, 0);
	}
	check_balance(h, N_TUPLES);
	for (unsigned int i = 0; i < N_TUPLES; i++) {
		/* One client pair, many source ports. */
		struct dp_pkt_info a = {.l3 = DP_L3_IPV4, .l4proto = 17, .flags = DP_PKT_HAS_L4};

		a.src[0] = 172;
		a.src[3] = 5;
		a.dst[0] = 8;
		a.dst[3] = 8;
		a.sport = (uint16_t)(i % 65536);
		a.dport = (uint16_t)(53 + i / 65536);
		h[i] = dp_hash_sym(&a, 0);
	}
	check_balance(h, N_TUPLES);
}

/* ---- the definition, written out independently ------------------------------------------ */

static uint32_t
ref_crc32c(uint32_t crc, uint64_t v)
{
	for (int i = 0; i < 64; i++) {
		crc ^= (uint32_t)(v & 1);
		v >>= 1;
		crc = (crc >> 1) ^ (crc & 1 ? 0x82f63b78u : 0);
	}
	return crc;
}

static uint32_t
ref_fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

static uint32_t
ref_hash(const struct dp_pkt_info *pi, uint32_t seed)
{
	uint32_t sp = pi->sport, dp = pi->dport, crc = seed;
	uint64_t w[5];
	unsigned int n;

	if (pi->l3 == DP_L3_IPV4) {
		uint32_t a, b;
		uint64_t ka, kb;

		memcpy(&a, pi->src, 4);
		memcpy(&b, pi->dst, 4);
		ka = (uint64_t)a << 16 | sp;
		kb = (uint64_t)b << 16 | dp;
		w[0] = (ka < kb ? ka : kb) | (uint64_t)pi->l4proto << 48 | 4ull << 56;
		w[1] = ka < kb ? kb : ka;
		n = 2;
	} else {
		const uint8_t *lo = pi->src, *hi = pi->dst;
		uint64_t x[4];
		int c;

		memcpy(&x[0], pi->src, 8);
		memcpy(&x[1], pi->src + 8, 8);
		memcpy(&x[2], pi->dst, 8);
		memcpy(&x[3], pi->dst + 8, 8);
		c = x[0] != x[2]   ? (x[0] < x[2] ? -1 : 1)
		    : x[1] != x[3] ? (x[1] < x[3] ? -1 : 1)
				   : 0;
		if (c > 0 || (c == 0 && sp > dp)) {
			uint32_t t = sp;

			lo = pi->dst;
			hi = pi->src;
			sp = dp;
			dp = t;
		}
		memcpy(&w[0], lo, 8);
		memcpy(&w[1], lo + 8, 8);
		memcpy(&w[2], hi, 8);
		memcpy(&w[3], hi + 8, 8);
		w[4] = (uint64_t)sp << 16 | dp | (uint64_t)pi->l4proto << 32 | 6ull << 40;
		n = 5;
	}
	for (unsigned int i = 0; i < n; i++)
		crc = ref_crc32c(crc, w[i]);
	return ref_fmix(crc);
}

static void
test_reference_values(void **state)
{
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		for (unsigned int i = 0; i < 2000; i++) {
			struct dp_pkt_info a;

			rnd_tuple(&a, v6);
			a.flags = DP_PKT_HAS_L4;
			if (i % 5 == 0)
				memcpy(a.dst, a.src, 16);
			assert_int_equal(dp_hash_sym(&a, (uint32_t)i), ref_hash(&a, (uint32_t)i));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symmetry),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp_echo_pairs),
		cmocka_unit_test(test_non_ip),
		cmocka_unit_test(test_sensitivity),
		cmocka_unit_test(test_distribution),
		cmocka_unit_test(test_reference_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
