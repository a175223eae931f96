/* test_anon.c — unit tests for the Crypto-PAn anonymiser: the reference implementation's sample
 * outputs, prefix preservation (IPv4 and IPv6), cache consistency, in-place packet rewriting
 * with checksums recomputed from scratch (tunnels too: every IP header the parser walked, and
 * the outer UDP/GRE sums over the inner rewrites), and key parsing.
 *
 * The IPv4 vectors are the sample key and trace of the Crypto-PAn reference distribution
 * (sample_trace_raw.dat / sample_trace_sanitized.dat, as reproduced by the Go and Rust ports'
 * tests). The original is IPv4-only; the IPv6 vectors are those of the Go port
 * (Yawning/cryptopan), which extends the same construction to 128 bits as dp_anon.c does. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp_anon.h"
#include "dp_linktype.h"
#include "dp_parse.h"
#include "test_rng.h"

static const uint8_t sample_key[DP_ANON_KEY_LEN] = {21, 34, 23, 141, 51, 164, 207, 128, 19, 10,
	91, 22, 73, 144, 125, 16, 216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132,
	34, 2};

static const char *const v4_vectors[][2] = {
	{"128.11.68.132", "135.242.180.132"},
	{"129.118.74.4", "134.136.186.123"},
	{"130.132.252.244", "133.68.164.234"},
	{"141.223.7.43", "141.167.8.160"},
	{"141.233.145.108", "141.129.237.235"},
	{"152.163.225.39", "151.140.114.167"},
	{"156.29.3.236", "147.225.12.42"},
	{"165.247.96.84", "162.9.99.234"},
	{"166.107.77.190", "160.132.178.185"},
	{"192.102.249.13", "252.138.62.131"},
	{"192.215.32.125", "252.43.47.189"},
	{"192.233.80.103", "252.25.108.8"},
	{"192.41.57.43", "252.222.221.184"},
	{"193.150.244.223", "253.169.52.216"},
	{"195.205.63.100", "255.186.223.5"},
	{"198.200.171.101", "249.199.68.213"},
	{"198.26.132.101", "249.36.123.202"},
	{"198.36.213.5", "249.7.21.132"},
	{"198.51.77.238", "249.18.186.254"},
	{"199.217.79.101", "248.38.184.213"},
	{"202.49.198.20", "245.206.7.234"},
	{"203.12.160.252", "244.248.163.4"},
	{"204.184.162.189", "243.192.77.90"},
	{"204.202.136.230", "243.178.4.198"},
	{"204.29.20.4", "243.33.20.123"},
	{"205.178.38.67", "242.108.198.51"},
	{"205.188.147.153", "242.96.16.101"},
	{"205.188.248.25", "242.96.88.27"},
	{"205.245.121.43", "242.21.121.163"},
	{"207.105.49.5", "241.118.205.138"},
	{"207.135.65.238", "241.202.129.222"},
	{"207.155.9.214", "241.220.250.22"},
	{"207.188.7.45", "241.255.249.220"},
	{"207.25.71.27", "241.33.119.156"},
	{"207.33.151.131", "241.1.233.131"},
	{"208.147.89.59", "227.237.98.191"},
	{"208.234.120.210", "227.154.67.17"},
	{"208.28.185.184", "227.39.94.90"},
	{"208.52.56.122", "227.8.63.165"},
	{"209.12.231.7", "226.243.167.8"},
	{"209.238.72.3", "226.6.119.243"},
	{"209.246.74.109", "226.22.124.76"},
	{"209.68.60.238", "226.184.220.233"},
	{"209.85.249.6", "226.170.70.6"},
	{"212.120.124.31", "228.135.163.231"},
	{"212.146.8.236", "228.19.4.234"},
	{"212.186.227.154", "228.59.98.98"},
	{"212.204.172.118", "228.71.195.169"},
	{"212.206.130.201", "228.69.242.193"},
	{"216.148.237.145", "235.84.194.111"},
	{"216.157.30.252", "235.89.31.26"},
	{"216.184.159.48", "235.96.225.78"},
	{"216.227.10.221", "235.28.253.36"},
	{"216.254.18.172", "235.7.16.162"},
	{"216.32.132.250", "235.192.139.38"},
	{"216.35.217.178", "235.195.157.81"},
	{"24.0.250.221", "100.15.198.226"},
	{"24.13.62.231", "100.2.192.247"},
	{"24.14.213.138", "100.1.42.141"},
	{"24.5.0.80", "100.9.15.210"},
	{"24.7.198.88", "100.10.6.25"},
	{"24.94.26.44", "100.88.228.35"},
	{"38.15.67.68", "64.3.66.187"},
	{"4.3.88.225", "124.60.155.63"},
	{"63.14.55.111", "95.9.215.7"},
	{"63.195.241.44", "95.179.238.44"},
	{"63.97.7.140", "95.97.9.123"},
	{"64.14.118.196", "0.255.183.58"},
	{"64.34.154.117", "0.221.154.117"},
	{"64.39.15.238", "0.219.7.41"},
	{"10.185.25.118", "117.161.29.118"},
};

static const char *const v6_vectors[][2] = {
	{"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
	{"::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
	{"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
	{"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
	{"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
};

static int
setup(void **state)
{
	*state = dp_anon_create(sample_key);
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	dp_anon_free(*state);
	return 0;
}

static struct test_rng rng = {0x2545f4914f6cdd1dull};

static void
rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(test_rng_next(&rng) >> 56);
}

/* ---- reference vectors -------------------------------------------------------------------- */

static void
test_reference_ipv4(void **state)
{
	struct dp_anon *a = *state;

	for (size_t i = 0; i < sizeof(v4_vectors) / sizeof(v4_vectors[0]); i++) {
		uint8_t in[4], want[4];

		assert_int_equal(inet_pton(AF_INET, v4_vectors[i][0], in), 1);
		assert_int_equal(inet_pton(AF_INET, v4_vectors[i][1], want), 1);
		dp_anon_ip4(a, in);
		if (memcmp(in, want, 4) != 0) {
			char got[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, in, got, sizeof(got));
			fail_msg("%s -> %s, expected %s", v4_vectors[i][0], got, v4_vectors[i][1]);
		}
	}
}

static void
test_reference_ipv6(void **state)
{
	struct dp_anon *a = *state;

	for (size_t i = 0; i < sizeof(v6_vectors) / sizeof(v6_vectors[0]); i++) {
		uint8_t in[16], want[16];

		assert_int_equal(inet_pton(AF_INET6, v6_vectors[i][0], in), 1);
		assert_int_equal(inet_pton(AF_INET6, v6_vectors[i][1], want), 1);
		dp_anon_ip6(a, in);
		assert_memory_equal(in, want, 16);
	}
}

/* ---- prefix preservation ------------------------------------------------------------------ */

static unsigned int
common_prefix(const uint8_t *x, const uint8_t *y, unsigned int len)
{
	unsigned int bits = 0;

	for (unsigned int i = 0; i < len; i++) {
		uint8_t d = x[i] ^ y[i];

		if (d == 0) {
			bits += 8;
			continue;
		}
		return bits + (unsigned int)__builtin_clz(d) - 24;
	}
	return bits;
}

/* Pairs sharing exactly k leading bits, k drawn uniformly, so every prefix length is tried. */
static void
prefix_pairs(struct dp_anon *a, unsigned int len)
{
	for (unsigned int i = 0; i < 4000; i++) {
		uint8_t x[16], y[16], ax[16], ay[16];
		unsigned int k = i % (len * 8 + 1);

		rnd_bytes(x, len);
		memcpy(y, x, len);
		if (k < len * 8) {
			/* flip bit k, randomise everything after it */
			uint8_t r[16];

			rnd_bytes(r, len);
			y[k / 8] ^= (uint8_t)(0x80 >> (k % 8));
			for (unsigned int b = k + 1; b < len * 8; b++)
				if (r[b / 8] & (0x80 >> (b % 8)))
					y[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		}
		assert_int_equal(common_prefix(x, y, len), k);
		memcpy(ax, x, len);
		memcpy(ay, y, len);
		if (len == 4) {
			dp_anon_ip4(a, ax);
			dp_anon_ip4(a, ay);
		} else {
			dp_anon_ip6(a, ax);
			dp_anon_ip6(a, ay);
		}
		assert_int_equal(common_prefix(ax, ay, len), k);
	}
}

static void
test_prefix_preservation(void **state)
{
	prefix_pairs(*state, 4);
	prefix_pairs(*state, 16);
}

/* The all-zero addresses sit pre-computed in every cache slot: check they are real images. */
static void
test_zero_address(void **state)
{
	struct dp_anon *a = *state;

	for (unsigned int i = 0; i < 500; i++) {
		uint8_t z[16] = {0}, x[16];
		unsigned int len = i & 1 ? 16 : 4;

		rnd_bytes(x, len);
		x[i % len] |= 1; /* nonzero */
		{
			unsigned int k = common_prefix(z, x, len);

			if (len == 4) {
				dp_anon_ip4(a, z);
				dp_anon_ip4(a, x);
			} else {
				dp_anon_ip6(a, z);
				dp_anon_ip6(a, x);
			}
			assert_int_equal(common_prefix(z, x, len), k);
		}
	}
}

/* Cold (fresh context), warm (second pass) and thrashed (many addresses per slot) lookups all
 * give the same image. */
static void
test_cache_consistency(void **state)
{
	enum { N = 20000 };
	static uint8_t in[N][16], out1[N][16], out2[N][16];
	struct dp_anon *warm = *state, *cold;

	for (unsigned int i = 0; i < N; i++)
		rnd_bytes(in[i], 16);
	for (unsigned int i = 0; i < N; i++) {
		memcpy(out1[i], in[i], 16);
		if (i & 1)
			dp_anon_ip6(warm, out1[i]);
		else
			dp_anon_ip4(warm, out1[i]);
	}
	/* Second pass on the same context: a mix of hits and misses (N > cache slots). */
	for (unsigned int i = N; i-- > 0;) {
		memcpy(out2[i], in[i], 16);
		if (i & 1)
			dp_anon_ip6(warm, out2[i]);
		else
			dp_anon_ip4(warm, out2[i]);
		assert_memory_equal(out1[i], out2[i], i & 1 ? 16 : 4);
	}
	/* A fresh context: every lookup a miss at first, then immediately a hit. */
	cold = dp_anon_create(sample_key);
	assert_non_null(cold);
	for (unsigned int i = 0; i < 2000; i++) {
		for (int rep = 0; rep < 2; rep++) {
			memcpy(out2[i], in[i], 16);
			if (i & 1)
				dp_anon_ip6(cold, out2[i]);
			else
				dp_anon_ip4(cold, out2[i]);
			assert_memory_equal(out1[i], out2[i], i & 1 ? 16 : 4);
		}
	}
	dp_anon_free(cold);
}

static void
test_other_key_differs(void **state)
{
	uint8_t key[DP_ANON_KEY_LEN], x[4] = {10, 1, 2, 3}, y[4] = {10, 1, 2, 3};
	struct dp_anon *b;

	memcpy(key, sample_key, sizeof(key));
	key[31] ^= 1; /* the pad half of the key matters too */
	b = dp_anon_create(key);
	assert_non_null(b);
	dp_anon_ip4(*state, x);
	dp_anon_ip4(b, y);
	assert_memory_not_equal(x, y, 4);
	dp_anon_free(b);
	dp_anon_free(NULL);
}

/* ---- packets and checksums ---------------------------------------------------------------- */

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* What a packet's layout is, for computing its sums from scratch. */
struct layout {
	uint32_t l3, l4, end; /* IP header, transport header, datagram end */
	int v6;
	uint8_t proto;
	uint32_t final_dst; /* offset of the pseudo-header's destination (IPv6 routing) or 0 */
};

static uint32_t
csum_field(const struct layout *L)
{
	switch (L->proto) {
	case 6:
		return L->l4 + 16;
	case 17:
		return L->l4 + 6;
	case 58:
		return L->l4 + 2;
	case 1:
		return L->l4 + 2;
	default:
		return 0;
	}
}

static uint16_t
ip4_sum(const uint8_t *b, const struct layout *L)
{
	uint8_t h[60];
	uint32_t ihl = (uint32_t)(b[L->l3] & 0x0f) * 4;

	memcpy(h, b + L->l3, ihl);
	h[10] = h[11] = 0;
	return fold(sum16(h, ihl, 0));
}

/* The transport checksum over bytes [l4, end) with the field zeroed, pseudo-header included
 * for TCP/UDP/ICMPv6. */
static uint16_t
l4_sum(const uint8_t *b, const struct layout *L)
{
	static uint8_t seg[4096];
	uint32_t len = L->end - L->l4, s = 0, f = csum_field(L) - L->l4;
	uint16_t c;

	memcpy(seg, b + L->l4, len);
	seg[f] = seg[f + 1] = 0;
	if (L->proto != 1) {
		if (L->v6) {
			s = sum16(b + L->l3 + 8, 16, s);
			s = sum16(b + (L->final_dst ? L->final_dst : L->l3 + 24), 16, s);
		} else {
			s = sum16(b + L->l3 + 12, 8, s);
		}
		s += len + L->proto;
	}
	c = fold(sum16(seg, len, s));
	return L->proto == 17 && c == 0 ? 0xffff : c;
}

static void
fix_sums(uint8_t *b, const struct layout *L)
{
	if (!L->v6)
		wr16(b + L->l3 + 10, ip4_sum(b, L));
	if (csum_field(L))
		wr16(b + csum_field(L), l4_sum(b, L));
}

/* Rewrite `b` in place and check: addresses are their images, the sums match a from-scratch
 * computation, and no other byte moved. */
static void
anon_and_check(struct dp_anon *a, uint8_t *b, uint32_t n, unsigned int lt, const struct layout *L)
{
	static uint8_t before[4096];
	struct dp_pkt_info pi;
	uint32_t src = L->l3 + (L->v6 ? 8 : 12), alen = L->v6 ? 16 : 4;
	uint8_t want[32];

	memcpy(before, b, n);
	assert_int_equal(dp_parse(b, n, lt, &pi), DP_PARSE_OK);
	/* The builder's sums are right to begin with. */
	if (!L->v6)
		assert_int_equal(rd16(b + L->l3 + 10), ip4_sum(b, L));
	if (csum_field(L) && !(L->proto == 17 && rd16(b + csum_field(L)) == 0))
		assert_int_equal(rd16(b + csum_field(L)), l4_sum(b, L));

	assert_int_equal(dp_anon_packet(a, b, n, &pi), 1);

	memcpy(want, before + src, 2 * alen);
	if (L->v6) {
		dp_anon_ip6(a, want);
		dp_anon_ip6(a, want + 16);
	} else {
		dp_anon_ip4(a, want);
		dp_anon_ip4(a, want + 4);
	}
	assert_memory_equal(b + src, want, 2 * alen);
	if (!L->v6)
		assert_int_equal(rd16(b + L->l3 + 10), ip4_sum(b, L));
	if (csum_field(L)) {
		if (L->proto == 17 && rd16(before + csum_field(L)) == 0)
			assert_int_equal(rd16(b + csum_field(L)), 0);
		else
			assert_int_equal(rd16(b + csum_field(L)), l4_sum(b, L));
	}
	for (uint32_t i = 0; i < n; i++) {
		if (i >= src && i < src + 2 * alen)
			continue;
		if (!L->v6 && (i == L->l3 + 10 || i == L->l3 + 11))
			continue;
		if (csum_field(L) && (i == csum_field(L) || i == csum_field(L) + 1))
			continue;
		assert_int_equal(b[i], before[i]);
	}
}

static uint32_t
put(uint8_t *b, uint32_t at, const void *src, uint32_t n)
{
	memcpy(b + at, src, n);
	return at + n;
}

/* IPv4 header at `at` (with `opt_words` option words) and `l4len` bytes of transport. */
static uint32_t
ip4(uint8_t *b, uint32_t at, uint8_t proto, unsigned int opt_words, uint32_t l4len, uint16_t frag)
{
	uint32_t ihl = 20 + 4 * opt_words;

	b[at] = (uint8_t)(0x40 | ihl / 4);
	b[at + 1] = 0;
	wr16(b + at + 2, (uint16_t)(ihl + l4len));
	wr16(b + at + 4, 0x4242);
	wr16(b + at + 6, frag);
	b[at + 8] = 64;
	b[at + 9] = proto;
	rnd_bytes(b + at + 12, 8);
	for (unsigned int i = 0; i < opt_words; i++)
		memcpy(b + at + 20 + 4 * i, "\x94\x04\x00\x00", 4); /* router alert */
	return at + ihl;
}

static uint32_t
ip6(uint8_t *b, uint32_t at, uint8_t nh, uint32_t plen)
{
	b[at] = 0x60;
	b[at + 1] = b[at + 2] = b[at + 3] = 0;
	wr16(b + at + 4, (uint16_t)plen);
	b[at + 6] = nh;
	b[at + 7] = 64;
	rnd_bytes(b + at + 8, 32);
	return at + 40;
}

/* A transport header of `hlen` bytes + `plen` random payload, ports filled for TCP/UDP. */
static uint32_t
l4(uint8_t *b, uint32_t at, uint8_t proto, uint32_t plen)
{
	uint32_t hlen = proto == 6 ? 20 : 8;

	memset(b + at, 0, hlen);
	wr16(b + at, 40000);
	wr16(b + at + 2, proto == 58 ? 0 : 443);
	if (proto == 58 || proto == 1)
		b[at] = proto == 58 ? 128 : 8;
	if (proto == 6)
		b[at + 12] = 0x50;
	if (proto == 17)
		wr16(b + at + 4, (uint16_t)(8 + plen));
	rnd_bytes(b + at + hlen, plen);
	return at + hlen + plen;
}

static void
test_packet_checksums(void **state)
{
	struct dp_anon *a = *state;
	static const uint8_t eth4[14] = {[12] = 0x08, [13] = 0x00};
	static const uint8_t eth6[14] = {[12] = 0x86, [13] = 0xdd};
	static const uint8_t protos[] = {6, 17, 1, 58};

	for (unsigned int rep = 0; rep < 200; rep++) {
		for (unsigned int k = 0; k < 4; k++) {
			uint8_t b[2048];
			uint32_t plen = rep % 37, n;
			struct layout L = {0};
			uint8_t proto = protos[k];

			if (proto != 58) {
				/* Ethernet, VLAN when rep is odd, IPv4 with options when rep%3. */
				uint32_t at = put(b, 0, eth4, 14);

				if (rep & 1) {
					b[12] = 0x81;
					b[13] = 0x00;
					at = put(b, at, "\x00\x64\x08\x00", 4);
				}
				L.l3 = at;
				L.l4 = ip4(b, at, proto, rep % 3, (proto == 6 ? 20 : 8) + plen, 0);
				n = L.end = l4(b, L.l4, proto, plen);
				L.proto = proto;
				fix_sums(b, &L);
				if (proto == 17 && rep % 5 == 0)
					wr16(b + L.l4 + 6, 0); /* "no checksum" */
				anon_and_check(a, b, n, DP_LINKTYPE_ETHERNET, &L);
			}
			if (proto != 1) {
				/* IPv6 on SLL2 or Ethernet; hop-by-hop + dest options every 4th. */
				uint32_t at, ext = rep % 4 == 0 ? 24 : 0;
				unsigned int lt =
					rep & 1 ? DP_LINKTYPE_LINUX_SLL2 : DP_LINKTYPE_ETHERNET;

				if (lt == DP_LINKTYPE_ETHERNET) {
					at = put(b, 0, eth6, 14);
				} else {
					memset(b, 0, 20);
					wr16(b, 0x86dd);
					at = 20;
				}
				L.l3 = at;
				L.v6 = 1;
				L.l4 = ip6(b, at, ext ? 0 : proto,
					ext + (proto == 6 ? 20 : 8) + plen);
				if (ext) {
					memset(b + L.l4, 0, ext);
					b[L.l4] = 60;       /* hop-by-hop, 8 bytes */
					b[L.l4 + 8] = proto; /* dest opts, 16 bytes */
					b[L.l4 + 9] = 1;
					L.l4 += ext;
				}
				n = L.end = l4(b, L.l4, proto, plen);
				L.proto = proto;
				fix_sums(b, &L);
				anon_and_check(a, b, n, lt, &L);
			}
		}
	}
}

/* A UDP sum that comes out as 0 after the rewrite is sent as 0xffff (0 means "none"). The
 * payload is tuned so that the anonymised packet's sum is exactly 0. */
static void
test_udp_sum_zero(void **state)
{
	struct dp_anon *a = *state;
	uint8_t b[128], c[128];
	struct layout L = {.l3 = 0, .l4 = 20, .proto = 17};
	struct dp_pkt_info pi;
	uint32_t w;

	L.end = l4(b, ip4(b, 0, 17, 0, 8 + 10, 0), 17, 10);
	fix_sums(b, &L);
	memcpy(c, b, L.end);
	assert_int_equal(dp_parse(c, L.end, DP_LINKTYPE_IPV4, &pi), DP_PARSE_OK);
	dp_anon_packet(a, c, L.end, &pi);
	wr16(c + 26, 0);
	/* Raising one payload word by the anonymised sum makes that sum 0. */
	w = rd16(b + 28) + (uint32_t)fold(sum16(c + 20, 18, sum16(c + 12, 8, 18 + 17)));
	wr16(b + 28, (uint16_t)((w & 0xffff) + (w >> 16)));
	fix_sums(b, &L);
	assert_int_equal(dp_parse(b, L.end, DP_LINKTYPE_IPV4, &pi), DP_PARSE_OK);
	assert_int_equal(dp_anon_packet(a, b, L.end, &pi), 1);
	assert_int_equal(rd16(b + 26), 0xffff);
	assert_int_equal(l4_sum(b, &L), 0xffff);
}

/* With segments left, the pseudo-header's destination is the routing header's last address,
 * which this module does not rewrite: only the source may move the transport sum. */
static void
test_ipv6_routing_header(void **state)
{
	uint8_t b[256];
	struct layout L = {.l3 = 0, .v6 = 1, .proto = 6};
	uint32_t at;

	at = ip6(b, 0, 43, 40 + 20 + 5);
	memset(b + at, 0, 40);
	b[at] = 6;      /* next header */
	b[at + 1] = 4;  /* 40 bytes: type 0, two addresses */
	b[at + 2] = 0;  /* type */
	b[at + 3] = 1;  /* segments left */
	rnd_bytes(b + at + 8, 32);
	L.final_dst = at + 24;
	L.l4 = at + 40;
	L.end = l4(b, L.l4, 6, 5);
	fix_sums(b, &L);
	anon_and_check(*state, b, L.end, DP_LINKTYPE_RAW, &L);

	/* Segments left 0: the destination field is the final one again. */
	at = ip6(b, 0, 43, 40 + 20 + 5);
	b[at + 3] = 0;
	L.final_dst = 0;
	fix_sums(b, &L);
	anon_and_check(*state, b, L.end, DP_LINKTYPE_RAW, &L);
}

/* A first fragment's UDP sum covers the whole datagram; later fragments have no transport. */
static void
test_fragments(void **state)
{
	struct dp_anon *a = *state;
	uint8_t whole[512], b[512];
	struct layout W = {.l3 = 0, .l4 = 20, .proto = 17};
	struct dp_pkt_info pi;
	uint16_t want;

	W.end = l4(whole, ip4(whole, 0, 17, 0, 8 + 300, 0), 17, 300);
	fix_sums(whole, &W);
	/* First fragment: IP header + first 104 bytes of the UDP datagram, MF set. */
	memcpy(b, whole, 20 + 104);
	wr16(b + 2, 20 + 104);
	wr16(b + 6, 0x2000);
	wr16(b + 10, 0);
	wr16(b + 10, ip4_sum(b, &W));
	assert_int_equal(dp_parse(b, 124, DP_LINKTYPE_IPV4, &pi), DP_PARSE_OK);
	assert_int_equal(pi.flags & DP_PKT_FIRST_FRAG, DP_PKT_FIRST_FRAG);
	assert_int_equal(dp_anon_packet(a, b, 124, &pi), 1);
	assert_int_equal(rd16(b + 10), ip4_sum(b, &W));
	/* The UDP sum must be that of the whole datagram with the new addresses. */
	memcpy(whole + 12, b + 12, 8);
	want = l4_sum(whole, &W);
	assert_int_equal(rd16(b + 26), want);

	/* A later fragment: addresses and the IP header sum change, nothing else. */
	memcpy(b, whole, 20);
	memcpy(b + 20, whole + 20 + 104, 80);
	memcpy(b + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	wr16(b + 2, 100);
	wr16(b + 6, 13); /* offset 104 */
	wr16(b + 10, 0);
	wr16(b + 10, ip4_sum(b, &W));
	{
		uint8_t before[100];

		memcpy(before, b, 100);
		assert_int_equal(dp_parse(b, 100, DP_LINKTYPE_IPV4, &pi), DP_PARSE_OK);
		assert_int_equal(pi.flags, DP_PKT_FRAGMENT);
		assert_int_equal(dp_anon_packet(a, b, 100, &pi), 1);
		assert_int_equal(rd16(b + 10), ip4_sum(b, &W));
		assert_memory_equal(b + 20, before + 20, 80);
		assert_memory_not_equal(b + 12, before + 12, 8);
	}
}

/* A snap length that cuts the payload: the sum is still right for the whole packet. A snap
 * length inside the addresses: what is there is anonymised (a prefix of the full image), and
 * the header sum, which would cover bytes never seen, is cleared. */
static void
test_snapped(void **state)
{
	struct dp_anon *a = *state;
	uint8_t full[256], b[256], img[8];
	struct layout L = {.l3 = 14, .l4 = 34, .proto = 6};
	struct dp_pkt_info pi;

	memset(full, 0, 14);
	full[12] = 0x08;
	L.end = l4(full, ip4(full, 14, 6, 0, 20 + 100, 0), 6, 100);
	fix_sums(full, &L);

	memcpy(b, full, L.end);
	assert_int_equal(dp_parse(b, 64, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(dp_anon_packet(a, b, 64, &pi), 1);
	memcpy(b + 64, full + 64, L.end - 64); /* the bytes the capture did not keep */
	assert_int_equal(rd16(b + 50), l4_sum(b, &L));
	assert_int_equal(rd16(b + 24), ip4_sum(b, &L));

	memcpy(img, full + 26, 8);
	dp_anon_ip4(a, img);
	dp_anon_ip4(a, img + 4);
	for (uint32_t cut = 14; cut < 34; cut++) {
		memcpy(b, full, L.end);
		dp_parse(b, cut, DP_LINKTYPE_ETHERNET, &pi);
		assert_int_equal(pi.l3, DP_L3_IPV4);
		assert_int_equal(dp_anon_packet(a, b, cut, &pi), cut > 26);
		if (cut > 26)
			assert_memory_equal(b + 26, img, cut - 26);
		if (cut >= 26 && cut < 34)
			assert_int_equal(rd16(b + 24), cut > 26 ? 0 : rd16(full + 24));
	}
}

static void
test_non_ip_untouched(void **state)
{
	uint8_t b[60] = {[12] = 0x08, [13] = 0x06}, before[60];
	struct dp_pkt_info pi;

	rnd_bytes(b + 14, 46);
	memcpy(before, b, sizeof(b));
	assert_int_equal(dp_parse(b, sizeof(b), DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_NON_IP);
	assert_int_equal(dp_anon_packet(*state, b, sizeof(b), &pi), 0);
	assert_memory_equal(b, before, sizeof(b));
}

/* ---- key parsing -------------------------------------------------------------------------- */

#define SAMPLE_HEX "1522178d" "33a4cf80" "130a5b16" "49907d10" \
		   "d8988f83" "79796527" "62574c2d" "2a842202"

static const char *
write_tmp(const void *data, size_t n)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_anon_key.%d", (int)getpid());
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
	return path;
}

static void
test_key_parse(void **state)
{
	uint8_t key[DP_ANON_KEY_LEN];
	char err[256], spec[80];
	const char *path;

	(void)state;
	assert_int_equal(dp_anon_key_parse(SAMPLE_HEX, key, err, sizeof(err)), 0);
	assert_memory_equal(key, sample_key, sizeof(key));
	{
		char upper[65];

		for (int i = 0; i < 64; i++)
			upper[i] = (char)(SAMPLE_HEX[i] >= 'a' ? SAMPLE_HEX[i] - 32
							       : SAMPLE_HEX[i]);
		upper[64] = '\0';
		assert_int_equal(dp_anon_key_parse(upper, key, err, sizeof(err)), 0);
		assert_memory_equal(key, sample_key, sizeof(key));
	}

	/* Files: raw bytes, hex with LF, hex with CRLF. */
	path = write_tmp(sample_key, 32);
	snprintf(spec, sizeof(spec), "@%s", path);
	memset(key, 0, sizeof(key));
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), 0);
	assert_memory_equal(key, sample_key, sizeof(key));
	write_tmp(SAMPLE_HEX "\n", 65);
	memset(key, 0, sizeof(key));
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), 0);
	assert_memory_equal(key, sample_key, sizeof(key));
	write_tmp(SAMPLE_HEX "\r\n", 66);
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), 0);
	assert_memory_equal(key, sample_key, sizeof(key));

	/* Bad keys: each fails with EINVAL and says why. */
	assert_int_equal(dp_anon_key_parse("abcd", key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "64 hex digits"));
	assert_non_null(strstr(err, "got 4"));
	assert_int_equal(dp_anon_key_parse("", key, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_anon_key_parse(SAMPLE_HEX "0", key, err, sizeof(err)), -EINVAL);
	{
		char bad[65];

		memcpy(bad, SAMPLE_HEX, 65);
		bad[9] = 'g';
		assert_int_equal(dp_anon_key_parse(bad, key, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "invalid hex digit at position 10"));
	}
	assert_int_equal(dp_anon_key_parse(NULL, key, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) > 0);

	write_tmp("0123", 4);
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "32 raw bytes"));
	write_tmp(SAMPLE_HEX SAMPLE_HEX, 128);
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	write_tmp(SAMPLE_HEX " \n", 66); /* not hex (a space), not 32 raw bytes */
	assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), -EINVAL);
	{
		char bad[64];

		memcpy(bad, SAMPLE_HEX, 64);
		bad[0] = 'z';
		write_tmp(bad, 64);
		assert_int_equal(dp_anon_key_parse(spec, key, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "position 1"));
	}
	unlink(path);

	assert_int_equal(dp_anon_key_parse("@/nonexistent/tide.key", key, err, sizeof(err)),
		-ENOENT);
	assert_non_null(strstr(err, "/nonexistent/tide.key"));
	/* No error buffer: still a clean error code. */
	assert_int_equal(dp_anon_key_parse("xyz", key, NULL, 0), -EINVAL);
}

/* ---- tunnels: every IP header the parser walked, and every checksum over them ------------- */

/* One's-complement sum of n bytes (RFC 1071), from scratch. */
static uint32_t
tn_sum(const uint8_t *p, uint32_t n, uint32_t s)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void
tn_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A transport checksum over [l4, end) with the pseudo-header of the IP header at l3. */
static uint16_t
tn_l4_sum(const uint8_t *b, uint32_t l3, uint32_t l4, uint32_t end, uint8_t proto,
	uint32_t field)
{
	uint8_t seg[2048];
	uint32_t s, len = end - l4;
	int v6 = (b[l3] >> 4) == 6;

	memcpy(seg, b + l4, len);
	memset(seg + (field - l4), 0, 2);
	s = v6 ? tn_sum(b + l3 + 8, 32, 0) : tn_sum(b + l3 + 12, 8, 0);
	s += proto + len;
	s = tn_sum(seg, len, s);
	return (uint16_t)~s;
}

static uint16_t
tn_ip4_sum(const uint8_t *b, uint32_t l3)
{
	uint8_t h[20];

	memcpy(h, b + l3, 20);
	memset(h + 10, 0, 2);
	return (uint16_t)~tn_sum(h, 20, 0);
}

static uint16_t
tn_gre_sum(const uint8_t *b, uint32_t gre, uint32_t end)
{
	uint8_t seg[2048];

	memcpy(seg, b + gre, end - gre);
	memset(seg + 4, 0, 2);
	return (uint16_t)~tn_sum(seg, end - gre, 0);
}

/* Where each header of a test frame is: IP headers (l3[]), and the checksums to verify. */
struct tn_frame {
	uint8_t b[512];
	uint32_t n;
	uint32_t ip[4];     /* IP headers, outermost first */
	unsigned int n_ip;
	uint32_t udp[2], n_udp, gre_c, tcp, tcp_l3;
};

static uint32_t
tn_put(struct tn_frame *f, const void *p, uint32_t n)
{
	uint32_t off = f->n;

	memcpy(f->b + f->n, p, n);
	f->n += n;
	return off;
}

static void
tn_eth(struct tn_frame *f, uint16_t et)
{
	uint8_t h[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

	tn_wr16(h + 12, et);
	tn_put(f, h, 14);
}

static void
tn_ip4(struct tn_frame *f, uint8_t proto, uint8_t host)
{
	uint8_t h[20] = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 1, host, 1, 10, 2, host, 2};

	f->ip[f->n_ip++] = tn_put(f, h, 20);
}

static void
tn_ip6(struct tn_frame *f, uint8_t nh, uint8_t host)
{
	uint8_t h[40] = {0x60, 0, 0, 0, 0, 0, nh, 64, 0x20, 0x01, 0x0d, 0xb8, host};

	h[23] = 1;
	memcpy(h + 24, h + 8, 16);
	h[39] = 2;
	f->ip[f->n_ip++] = tn_put(f, h, 40);
}

/* Fill in every length and checksum, innermost first (an outer sum covers the inner ones). */
static void
tn_finish(struct tn_frame *f)
{
	for (int i = (int)f->n_ip - 1; i >= 0; i--) {
		uint32_t l3 = f->ip[i];

		if ((f->b[l3] >> 4) == 4)
			tn_wr16(f->b + l3 + 2, (uint16_t)(f->n - l3));
		else
			tn_wr16(f->b + l3 + 4, (uint16_t)(f->n - l3 - 40));
	}
	for (int i = (int)f->n_ip - 1; i >= 0; i--) {
		uint32_t l3 = f->ip[i];

		if (f->tcp && f->tcp_l3 == l3)
			tn_wr16(f->b + f->tcp + 16, tn_l4_sum(f->b, l3, f->tcp, f->n, 6, f->tcp + 16));
		for (unsigned int u = 0; u < f->n_udp; u++) {
			if (f->udp[u] == l3 + ((f->b[l3] >> 4) == 4 ? 20 : 40)) {
				tn_wr16(f->b + f->udp[u] + 4, (uint16_t)(f->n - f->udp[u]));
				tn_wr16(f->b + f->udp[u] + 6,
					tn_l4_sum(f->b, l3, f->udp[u], f->n, 17, f->udp[u] + 6));
			}
		}
		if (f->gre_c && f->gre_c == l3 + ((f->b[l3] >> 4) == 4 ? 20 : 40))
			tn_wr16(f->b + f->gre_c + 4, tn_gre_sum(f->b, f->gre_c, f->n));
		if ((f->b[l3] >> 4) == 4)
			tn_wr16(f->b + l3 + 10, tn_ip4_sum(f->b, l3));
	}
}

/* Every sum in the frame is right. */
static void
tn_check_sums(const struct tn_frame *f)
{
	for (unsigned int i = 0; i < f->n_ip; i++) {
		uint32_t l3 = f->ip[i];
		uint32_t l4 = l3 + ((f->b[l3] >> 4) == 4 ? 20 : 40);

		if ((f->b[l3] >> 4) == 4)
			assert_int_equal((f->b[l3 + 10] << 8 | f->b[l3 + 11]), tn_ip4_sum(f->b, l3));
		if (f->tcp && f->tcp_l3 == l3)
			assert_int_equal((f->b[f->tcp + 16] << 8 | f->b[f->tcp + 17]),
				tn_l4_sum(f->b, l3, f->tcp, f->n, 6, f->tcp + 16));
		for (unsigned int u = 0; u < f->n_udp; u++)
			if (f->udp[u] == l4)
				assert_int_equal((f->b[l4 + 6] << 8 | f->b[l4 + 7]),
					tn_l4_sum(f->b, l3, l4, f->n, 17, l4 + 6));
		if (f->gre_c == l4)
			assert_int_equal((f->b[l4 + 4] << 8 | f->b[l4 + 5]),
				tn_gre_sum(f->b, l4, f->n));
	}
}

/* Parse, anonymise, and check: every IP header's addresses are their images, every sum is
 * right, and nothing else moved. */
static void
tn_anon_and_check(struct dp_anon *a, struct tn_frame *f, enum dp_tunnel kind)
{
	struct tn_frame before = *f;
	struct dp_pkt_info pi;

	tn_check_sums(f);
	assert_int_equal(dp_parse(f->b, f->n, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_OK);
	assert_int_equal(pi.tunnel, kind);
	assert_int_equal(dp_anon_packet(a, f->b, f->n, &pi), 1);
	tn_check_sums(f);
	for (unsigned int i = 0; i < f->n_ip; i++) {
		uint32_t l3 = f->ip[i];
		int v6 = (f->b[l3] >> 4) == 6;
		uint32_t at = l3 + (v6 ? 8 : 12), len = v6 ? 16 : 4;
		uint8_t want[32];

		memcpy(want, before.b + at, 2 * len);
		if (v6) {
			dp_anon_ip6(a, want);
			dp_anon_ip6(a, want + 16);
		} else {
			dp_anon_ip4(a, want);
			dp_anon_ip4(a, want + 4);
		}
		assert_memory_equal(f->b + at, want, 2 * len);
		assert_memory_not_equal(f->b + at, before.b + at, 2 * len);
		/* mark the bytes allowed to change */
		memcpy(before.b + at, want, 2 * len);
	}
	/* only the addresses and the checksum fields moved */
	for (unsigned int i = 0; i < f->n_ip; i++) {
		uint32_t l3 = f->ip[i];

		if ((f->b[l3] >> 4) == 4)
			memcpy(before.b + l3 + 10, f->b + l3 + 10, 2);
	}
	for (unsigned int u = 0; u < f->n_udp; u++)
		memcpy(before.b + f->udp[u] + 6, f->b + f->udp[u] + 6, 2);
	if (f->gre_c)
		memcpy(before.b + f->gre_c + 4, f->b + f->gre_c + 4, 2);
	if (f->tcp)
		memcpy(before.b + f->tcp + 16, f->b + f->tcp + 16, 2);
	assert_memory_equal(f->b, before.b, f->n);
}

static void
test_tunnel_packets(void **state)
{
	static const uint8_t vxlan[8] = {0x08, 0, 0, 0, 0, 0, 42, 0};
	static const uint8_t tcp_hdr[20] = {0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50,
		0x18, 0xff, 0xff};
	static const uint8_t data[10] = "0123456789";
	struct dp_anon *a = *state;

	{ /* IPv4 → GRE with checksum → IPv4 → UDP/VXLAN with checksum → Ethernet → IPv6/TCP:
	   * three address pairs and four sums, each outer one over the inner rewrites */
		struct tn_frame f = {.n = 0};
		uint8_t gre[8] = {0x80, 0, 0x08, 0x00}, udp[8] = {0xc3, 0x50, 0x12, 0xb5};

		tn_eth(&f, 0x0800);
		tn_ip4(&f, 47, 1);
		f.gre_c = tn_put(&f, gre, 8);
		tn_ip4(&f, 17, 2);
		f.udp[f.n_udp++] = tn_put(&f, udp, 8);
		tn_put(&f, vxlan, 8);
		tn_eth(&f, 0x86dd);
		tn_ip6(&f, 6, 3);
		f.tcp_l3 = f.ip[2];
		f.tcp = tn_put(&f, tcp_hdr, 20);
		tn_put(&f, data, 10);
		tn_finish(&f);
		tn_anon_and_check(a, &f, DP_TUNNEL_GRE);
	}
	{ /* IPv6 → GTP-U over UDP with checksum → IPv4/TCP */
		struct tn_frame f = {.n = 0};
		uint8_t udp[8] = {0x08, 0x68, 0x08, 0x68}, gtp[8] = {0x30, 0xff, 0, 40, 0, 0, 0, 1};

		tn_eth(&f, 0x86dd);
		tn_ip6(&f, 17, 4);
		f.udp[f.n_udp++] = tn_put(&f, udp, 8);
		tn_put(&f, gtp, 8);
		tn_ip4(&f, 6, 5);
		f.tcp_l3 = f.ip[1];
		f.tcp = tn_put(&f, tcp_hdr, 20);
		tn_finish(&f);
		tn_anon_and_check(a, &f, DP_TUNNEL_GTPU);
	}
	{ /* IPv4 in IPv4 with a zero UDP checksum inside: "none" stays none */
		struct tn_frame f = {.n = 0};
		uint8_t udp[8] = {0x30, 0x39, 0x00, 0x35};

		tn_eth(&f, 0x0800);
		tn_ip4(&f, 4, 6);
		tn_ip4(&f, 17, 7);
		tn_put(&f, udp, 8);
		tn_put(&f, data, 10);
		tn_finish(&f);
		f.b[f.ip[1] + 20 + 4] = 0;
		f.b[f.ip[1] + 20 + 5] = 18;
		tn_anon_and_check(a, &f, DP_TUNNEL_IPIP);
		assert_int_equal(f.b[f.ip[1] + 20 + 6] | f.b[f.ip[1] + 20 + 7], 0);
	}
	{ /* VXLAN whose inner header is cut by the snap length: the outer UDP sum covers bytes
	   * we never saw and is cleared; the outer addresses are still rewritten */
		struct tn_frame f = {.n = 0};
		uint8_t udp[8] = {0xc3, 0x50, 0x12, 0xb5};
		struct dp_pkt_info pi;
		uint8_t out4[8];

		tn_eth(&f, 0x0800);
		tn_ip4(&f, 17, 8);
		f.udp[f.n_udp++] = tn_put(&f, udp, 8);
		tn_put(&f, vxlan, 8);
		tn_eth(&f, 0x0800);
		tn_ip4(&f, 6, 9);
		tn_put(&f, tcp_hdr, 20);
		tn_finish(&f);
		memcpy(out4, f.b + 14 + 12, 8);
		dp_anon_ip4(a, out4);
		dp_anon_ip4(a, out4 + 4);
		f.n = f.ip[1] + 14; /* cut inside the inner source address */
		assert_int_equal(dp_parse(f.b, f.n, DP_LINKTYPE_ETHERNET, &pi), DP_PARSE_TRUNCATED);
		assert_int_equal(dp_anon_packet(a, f.b, f.n, &pi), 1);
		assert_memory_equal(f.b + 14 + 12, out4, 8);
		assert_int_equal(f.b[f.udp[0] + 6] | f.b[f.udp[0] + 7], 0);
		assert_int_equal((f.b[14 + 10] << 8 | f.b[14 + 11]), tn_ip4_sum(f.b, 14));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reference_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_preservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_consistency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packet_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tunnel_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_sum_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_routing_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_ip_untouched, setup, teardown),
		cmocka_unit_test(test_key_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
