/* test_cls_tls.c — unit tests for the TLS dissector (cls_tls.c): the ClientHello/ServerHello
 * parsers on real OpenSSL 3.0 handshakes (captured once on loopback, kept as arrays), every
 * truncation and single-byte corruption, malformed lengths, the record de-framer, the
 * reassembly pool, and the plugin path with the real config/tide_apps.txt: one-segment and
 * multi-segment/multi-record hellos (a post-quantum-sized key share), retransmissions,
 * ServerHello-only sessions, non-TLS and UDP sessions giving up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define CLS_TESTLIB_APPS
#define CLS_TESTLIB_PLUGIN cls_plugin_tls
#define CLS_TESTLIB_REASM_WCTX
#include "cls_testlib.h"

/* openssl s_client -servername www.Example.ORG -alpn h2,http/1.1: one record */
static const uint8_t client_hello_rec[] = {
	0x16, 0x03, 0x01, 0x01, 0x4e, 0x01, 0x00, 0x01, 0x4a, 0x03, 0x03, 0xaf,
	0x2e, 0xc8, 0x21, 0xea, 0xad, 0x14, 0xa1, 0xca, 0x48, 0xa5, 0x4a, 0x30,
	0x39, 0x75, 0xc1, 0x22, 0x93, 0xe6, 0xaa, 0x0a, 0xf4, 0x13, 0x20, 0x92,
	0xbd, 0xb7, 0xa8, 0x20, 0x17, 0xad, 0x8d, 0x20, 0x13, 0xa4, 0x24, 0x50,
	0x64, 0x34, 0x19, 0xc4, 0x1f, 0x63, 0xc3, 0xe0, 0x3b, 0xa8, 0x7d, 0x10,
	0x2a, 0xe0, 0x3a, 0x74, 0x6b, 0x81, 0x86, 0xb8, 0x92, 0xc0, 0x42, 0x03,
	0x70, 0xe0, 0xcf, 0xe5, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xc3,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x77, 0x77, 0x77,
	0x2e, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x4f, 0x52, 0x47,
	0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
	0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
	0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23,
	0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08,
	0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00,
	0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03,
	0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
	0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
	0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
	0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03,
	0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00,
	0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x8f, 0x83, 0xbf, 0x47, 0xe5,
	0xf7, 0xc2, 0x77, 0x6b, 0xf9, 0x64, 0xb7, 0xcd, 0xcd, 0xa4, 0x90, 0xda,
	0xe8, 0x48, 0xb1, 0x7f, 0x1b, 0xd6, 0xa5, 0xfc, 0x80, 0x85, 0xdf, 0xbb,
	0x67, 0x4b, 0x4d,
};

/* openssl s_server -alpn h2 -tls1_2 answering it: the ServerHello record (ALPN h2 in clear) */
static const uint8_t server_hello12_rec[] = {
	0x16, 0x03, 0x03, 0x00, 0x4a, 0x02, 0x00, 0x00, 0x46, 0x03, 0x03, 0xab,
	0xbb, 0x38, 0xed, 0xc1, 0xa5, 0xe9, 0x8b, 0xe6, 0x1b, 0xab, 0x44, 0xdd,
	0xce, 0xf2, 0xca, 0x8a, 0x29, 0x2f, 0xf4, 0xd0, 0xb2, 0x0e, 0x99, 0xa8,
	0xb0, 0xa8, 0xc6, 0xc0, 0xf6, 0xf0, 0xb6, 0x00, 0xc0, 0x2c, 0x00, 0x00,
	0x1e, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03,
	0x02, 0x68, 0x32, 0x00, 0x17, 0x00, 0x00,
};

/* the same with TLS 1.3: supported_versions 0x0304, no ALPN (it is encrypted) */
static const uint8_t server_hello13_rec[] = {
	0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03, 0x14,
	0x51, 0xba, 0x90, 0x23, 0x77, 0x3b, 0xdf, 0x81, 0xb5, 0x44, 0x18, 0xeb,
	0xe0, 0x81, 0xf9, 0x24, 0x86, 0x3e, 0xea, 0x56, 0xbc, 0xaa, 0x60, 0x5f,
	0x58, 0x4a, 0xaa, 0x6d, 0x6a, 0x79, 0xc6, 0x20, 0x12, 0xf3, 0xa8, 0xbf,
	0x9f, 0xb6, 0xc2, 0x8e, 0x90, 0x10, 0x14, 0x91, 0xc8, 0x8d, 0x23, 0x64,
	0xda, 0x58, 0x4e, 0xf4, 0x0c, 0x84, 0xa0, 0xfe, 0x84, 0x4a, 0xf8, 0xae,
	0x12, 0x97, 0xb7, 0xc1, 0x13, 0x02, 0x00, 0x00, 0x2e, 0x00, 0x2b, 0x00,
	0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x30,
	0x9f, 0xd0, 0x40, 0x70, 0x3f, 0xfc, 0xf9, 0x4c, 0xca, 0xf6, 0x5a, 0x94,
	0xe4, 0xf1, 0x03, 0x04, 0x23, 0xde, 0x1d, 0x04, 0xde, 0x14, 0x24, 0xf0,
	0x3e, 0x0d, 0xce, 0x5c, 0x61, 0x27, 0x7b,
};

/* ------------------------------------------------------------------ helpers */

static struct cls_apps *apps;


/* A heap copy of exactly n bytes, so ASan catches any read past what the parser was given. */

static size_t
put16(uint8_t *p, size_t o, unsigned int v)
{
	p[o] = (uint8_t)(v >> 8);
	p[o + 1] = (uint8_t)v;
	return o + 2;
}

/* A ClientHello handshake message (no record header) with SNI, one ALPN protocol and a
 * key_share of `share` bytes (1216 = X25519MLKEM768's client share). Returns its length. */
static size_t
build_hello(uint8_t *m, const char *sni, const char *alpn, size_t share)
{
	size_t o = 4, ext_len_at, e;

	o = put16(m, o, 0x0303);
	memset(m + o, 0x5a, 32);
	o += 32;
	m[o++] = 0; /* session id */
	o = put16(m, o, 4);
	o = put16(m, o, 0x1301);
	o = put16(m, o, 0x1302);
	m[o++] = 1;
	m[o++] = 0;
	ext_len_at = o;
	o += 2;
	e = o;
	if (sni) {
		size_t n = strlen(sni);

		o = put16(m, o, 0);
		o = put16(m, o, (unsigned int)(n + 5));
		o = put16(m, o, (unsigned int)(n + 3));
		m[o++] = 0;
		o = put16(m, o, (unsigned int)n);
		memcpy(m + o, sni, n);
		o += n;
	}
	if (alpn) {
		size_t n = strlen(alpn);

		o = put16(m, o, 16);
		o = put16(m, o, (unsigned int)(n + 3));
		o = put16(m, o, (unsigned int)(n + 1));
		m[o++] = (uint8_t)n;
		memcpy(m + o, alpn, n);
		o += n;
	}
	o = put16(m, o, 43); /* supported_versions: GREASE, 1.3, 1.2 */
	o = put16(m, o, 7);
	m[o++] = 6;
	o = put16(m, o, 0x3a3a);
	o = put16(m, o, 0x0304);
	o = put16(m, o, 0x0303);
	if (share) {
		o = put16(m, o, 51);
		o = put16(m, o, (unsigned int)(share + 6));
		o = put16(m, o, (unsigned int)(share + 4));
		o = put16(m, o, 0x11ec);
		o = put16(m, o, (unsigned int)share);
		/* varied bytes, as a real share: identical consecutive segments would be taken
		 * for retransmissions */
		for (size_t i = 0; i < share; i++)
			m[o + i] = (uint8_t)(i * 13 + (i >> 8) + 7);
		o += share;
	}
	put16(m, ext_len_at, (unsigned int)(o - e));
	m[0] = 1;
	m[1] = (uint8_t)((o - 4) >> 16);
	m[2] = (uint8_t)((o - 4) >> 8);
	m[3] = (uint8_t)(o - 4);
	return o;
}

/* Frame a handshake message into records of at most rec_max payload bytes. */
static size_t
frame(uint8_t *out, const uint8_t *m, size_t n, size_t rec_max)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += rec_max) {
		size_t k = n - i < rec_max ? n - i : rec_max;

		out[o++] = 22;
		out[o++] = 3;
		out[o++] = 1;
		o = put16(out, o, (unsigned int)k);
		memcpy(out + o, m + i, k);
		o += k;
	}
	return o;
}

/* ------------------------------------------------------------------ plugin harness */

static uint16_t
app(const char *name)
{
	return cls_apps_id(apps, name);
}

static uint16_t
sub(const char *app_name, const char *sub_name)
{
	return cls_apps_sub_id(apps, cls_apps_id(apps, app_name), sub_name);
}

/* ------------------------------------------------------------------ parser tests */

static void
test_client_hello_real(void **unused)
{
	struct cls_tls_hello h;
	size_t n = sizeof(client_hello_rec) - 5;
	uint8_t *m = dup_exact(client_hello_rec + 5, n);

	(void)unused;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), 1);
	assert_int_equal(h.type, CLS_TLS_HS_CLIENT_HELLO);
	assert_int_equal(h.msg_len, n);
	assert_int_equal(h.legacy_version, 0x0303);
	assert_int_equal(h.version, 0x0304);
	assert_int_equal(h.sni_len, 15);
	assert_memory_equal(h.sni, "www.Example.ORG", 15);
	assert_int_equal(h.alpn_len, 2);
	assert_memory_equal(h.alpn, "h2", 2);
	assert_false(h.ech);
	assert_true(h.n_extensions >= 10);
	/* a ClientHello is not a ServerHello */
	assert_int_equal(cls_tls_parse_server_hello(m, n, &h), -1);
	free(m);
}

static void
test_client_hello_every_truncation(void **unused)
{
	struct cls_tls_hello h;
	size_t n = sizeof(client_hello_rec) - 5;

	(void)unused;
	for (size_t k = 0; k < n; k++) {
		uint8_t *m = dup_exact(client_hello_rec + 5, k);

		assert_int_equal(cls_tls_parse_client_hello(m, k, &h), 0);
		free(m);
	}
}

static void
test_client_hello_every_corruption(void **unused)
{
	struct cls_tls_hello h;
	size_t n = sizeof(client_hello_rec) - 5;
	uint8_t *m = dup_exact(client_hello_rec + 5, n);

	(void)unused;
	/* flip each byte to a few values: never a crash, always a defined answer, and the
	 * pointers (when set) stay inside the message */
	for (size_t i = 0; i < n; i++) {
		static const uint8_t vals[] = {0x00, 0xff, 0x80, 0x01};
		uint8_t keep = m[i];

		for (size_t v = 0; v < sizeof(vals); v++) {
			m[i] = (uint8_t)(keep ^ vals[v]);
			int r = cls_tls_parse_client_hello(m, n, &h);

			assert_true(r >= -1 && r <= 1);
			if (r == 1 && h.sni)
				assert_true(h.sni >= m && h.sni + h.sni_len <= m + n);
			if (r == 1 && h.alpn)
				assert_true(h.alpn >= m && h.alpn + h.alpn_len <= m + n);
		}
		m[i] = keep;
	}
	free(m);
}

static void
test_client_hello_malformed(void **unused)
{
	uint8_t m[2048];
	struct cls_tls_hello h;
	size_t n;

	(void)unused;
	n = build_hello(m, "a.example", "h2", 32);
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), 1);
	assert_int_equal(h.version, 0x0304); /* GREASE ignored */

	m[0] = 2; /* not type 1 */
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	m[0] = 1;
	m[4] = 2; /* legacy version 2.x */
	assert_int_equal(cls_tls_parse_client_hello(m, 6, &h), -1);
	m[4] = 3;
	m[38] = 33; /* session id longer than 32 */
	assert_int_equal(cls_tls_parse_client_hello(m, 40, &h), -1);
	m[38] = 0;
	m[1] = 0x02; /* body longer than 64 KiB: noise */
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	m[1] = 0;
	m[3] = 20; /* body too short for a hello */
	m[2] = 0;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);

	/* extensions block length off by one */
	n = build_hello(m, "a.example", "h2", 0);
	m[4 + 2 + 32 + 1 + 2 + 4 + 2 + 1]++;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	/* server_name list length inconsistent with the extension */
	n = build_hello(m, "a.example", NULL, 0);
	m[4 + 2 + 32 + 1 + 2 + 4 + 2 + 2 + 4 + 1]++;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	/* ALPN with an empty protocol name */
	n = build_hello(m, NULL, "h2", 0);
	m[4 + 2 + 32 + 1 + 2 + 4 + 2 + 2 + 4 + 2] = 0;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	/* odd cipher-suite length */
	n = build_hello(m, NULL, NULL, 0);
	m[4 + 2 + 32 + 1 + 1] = 3;
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), -1);
	/* no SNI, no ALPN: still a hello */
	n = build_hello(m, NULL, NULL, 0);
	assert_int_equal(cls_tls_parse_client_hello(m, n, &h), 1);
	assert_null(h.sni);
	assert_null(h.alpn);
}

static void
test_server_hello(void **unused)
{
	struct cls_tls_hello h;
	size_t n12 = sizeof(server_hello12_rec) - 5, n13 = sizeof(server_hello13_rec) - 5;

	(void)unused;
	assert_int_equal(cls_tls_parse_server_hello(server_hello12_rec + 5, n12, &h), 1);
	assert_int_equal(h.type, CLS_TLS_HS_SERVER_HELLO);
	assert_int_equal(h.version, 0x0303);
	assert_int_equal(h.alpn_len, 2);
	assert_memory_equal(h.alpn, "h2", 2);
	assert_null(h.sni);
	assert_int_equal(cls_tls_parse_server_hello(server_hello13_rec + 5, n13, &h), 1);
	assert_int_equal(h.version, 0x0304);
	assert_int_equal(h.cipher_suite, 0x1302);
	assert_null(h.alpn);
	for (size_t k = 0; k < n13; k++) {
		uint8_t *m = dup_exact(server_hello13_rec + 5, k);

		assert_int_equal(cls_tls_parse_server_hello(m, k, &h), 0);
		free(m);
	}
	assert_int_equal(cls_tls_parse_client_hello(server_hello13_rec + 5, n13, &h), -1);

	/* the shortest bodies with a 32-byte session id: the id runs past the body (found by
	 * fuzz_tls: an unsigned underflow read past the message) */
	uint8_t *m = calloc(1, 4 + 41);

	m[0] = CLS_TLS_HS_SERVER_HELLO;
	m[3] = 38;
	m[4] = 3;
	m[5] = 3;
	m[38] = 32;
	assert_int_equal(cls_tls_parse_server_hello(m, 4 + 38, &h), -1);
	m[0] = CLS_TLS_HS_CLIENT_HELLO;
	m[3] = 41;
	assert_int_equal(cls_tls_parse_client_hello(m, 4 + 41, &h), -1);
	free(m);
}

static void
test_deframe(void **unused)
{
	static uint8_t m[4096], rec[4200], out[4096];
	struct cls_tls_deframer d;
	size_t n, rn, olen;

	(void)unused;
	n = build_hello(m, "split.example", "h2", 1216);
	rn = frame(rec, m, n, 500); /* 3 records */

	/* byte by byte */
	memset(&d, 0, sizeof(d));
	olen = 0;
	for (size_t i = 0; i < rn; i++)
		assert_int_equal(cls_tls_deframe(&d, rec + i, 1, out, sizeof(out), &olen), 1);
	assert_int_equal(olen, n);
	assert_memory_equal(out, m, n);
	assert_int_equal(d.records, 3);

	/* in one go, then a ChangeCipherSpec record: -1, payload so far kept */
	static const uint8_t ccs[] = {20, 3, 3, 0, 1, 1};

	memset(&d, 0, sizeof(d));
	olen = 0;
	assert_int_equal(cls_tls_deframe(&d, rec, rn, out, sizeof(out), &olen), 1);
	assert_int_equal(cls_tls_deframe(&d, ccs, sizeof(ccs), out, sizeof(out), &olen), -1);
	assert_int_equal(olen, n);

	/* output full */
	memset(&d, 0, sizeof(d));
	olen = 0;
	assert_int_equal(cls_tls_deframe(&d, rec, rn, out, 100, &olen), 0);
	assert_int_equal(olen, 100);

	/* bad headers: version 2.x, zero length, oversized */
	static const uint8_t bad1[] = {22, 2, 0, 0, 5}, bad2[] = {22, 3, 1, 0, 0},
			     bad3[] = {22, 3, 1, 0x48, 0x01};

	memset(&d, 0, sizeof(d));
	assert_int_equal(cls_tls_deframe(&d, bad1, 5, out, sizeof(out), &olen), -1);
	memset(&d, 0, sizeof(d));
	assert_int_equal(cls_tls_deframe(&d, bad2, 5, out, sizeof(out), &olen), -1);
	memset(&d, 0, sizeof(d));
	assert_int_equal(cls_tls_deframe(&d, bad3, 5, out, sizeof(out), &olen), -1);
}

static void
test_pool(void **unused)
{
	struct cls_reasm_pool *pool = cls_reasm_pool_new(2, 64);
	struct cls_reasm_ticket a = {0}, b = {0}, c = {0};
	uint64_t t0 = 5ull * 1000000000ull;

	(void)unused;
	assert_non_null(pool);
	assert_int_equal(cls_reasm_pool_buf_size(pool), 64);
	uint8_t *pa = cls_reasm_get(pool, &a, t0), *pb = cls_reasm_get(pool, &b, t0);

	assert_non_null(pa);
	assert_non_null(pb);
	assert_ptr_not_equal(pa, pb);
	assert_ptr_equal(cls_reasm_get(pool, &a, t0 + 1), pa); /* same ticket, same buffer */
	assert_null(cls_reasm_get(pool, &c, t0 + 2));          /* exhausted, nothing stale */
	assert_int_equal(cls_reasm_pool_in_use(pool), 2);
	/* b idle past the stale bound: c takes it over, b's ticket is dead */
	cls_reasm_get(pool, &a, t0 + CLS_REASM_STALE_NS);
	assert_ptr_equal(cls_reasm_get(pool, &c, t0 + CLS_REASM_STALE_NS + 1), pb);
	assert_null(cls_reasm_get(pool, &b, t0 + CLS_REASM_STALE_NS + 2));
	cls_reasm_put(pool, &b); /* a stale put must not free c's buffer */
	assert_int_equal(cls_reasm_pool_in_use(pool), 2);
	cls_reasm_put(pool, &a);
	cls_reasm_put(pool, &c);
	cls_reasm_put(pool, &c);
	assert_int_equal(cls_reasm_pool_in_use(pool), 0);
	cls_reasm_put(NULL, &a);
	cls_reasm_pool_free(pool);
	assert_null(cls_reasm_pool_new(0, 64));
}

/* ------------------------------------------------------------------ plugin tests */

static void
test_plugin_one_segment(void **unused)
{
	struct harness h;
	struct cls_result r;

	(void)unused;
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, NULL, 0)); /* SYN: no payload, no decision */
	assert_true(h_pkt(&h, CLS_DIR_FWD, client_hello_rec, sizeof(client_hello_rec)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.sub_id, sub("TLS", "TLS/HTTP2"));
	assert_int_equal(r.confidence, 100);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	assert_string_equal(r.label, "www.example.org");
	assert_int_equal(cls_reasm_pool_in_use(h.wctx), 0); /* parsed in place */
	h_close(&h);
}

static void
test_plugin_multi_segment(void **unused)
{
	static uint8_t m[4096], rec[4200];
	struct harness h;
	struct cls_result r;
	size_t n, rn;

	(void)unused;
	n = build_hello(m, "PQ.Example.net", "http/1.1", 1216);
	rn = frame(rec, m, n, 1000); /* 2 records */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "reasm_bufs=4");
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec, 700));
	assert_int_equal(cls_reasm_pool_in_use(h.wctx), 1);
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec, 700));       /* retransmission: skipped */
	assert_false(h_pkt(&h, CLS_DIR_BWD, NULL, 0));        /* an ACK */
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec + 700, 3));    /* a tiny segment */
	assert_true(h_pkt(&h, CLS_DIR_FWD, rec + 703, rn - 703));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.sub_id, sub("TLS", "TLS/HTTP1.1"));
	assert_int_equal(r.confidence, 100);
	assert_string_equal(r.label, "pq.example.net");
	assert_int_equal(cls_reasm_pool_in_use(h.wctx), 0); /* returned at the decision */
	h_close(&h);
}

static void
test_plugin_header_alone(void **unused)
{
	static uint8_t m[1024], rec[1100];
	struct harness h;
	struct cls_result r;
	size_t n, rn;

	(void)unused;
	n = build_hello(m, "dot.example", "dot", 0);
	rn = frame(rec, m, n, 4096);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_FLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec, 3)); /* record header split */
	assert_true(h_pkt(&h, CLS_DIR_FWD, rec + 3, rn - 3));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("DNS"));
	assert_int_equal(r.sub_id, sub("DNS", "DNS/DoT"));
	assert_string_equal(r.label, "dot.example");
	h_close(&h);
}

static void
test_plugin_server_side_only(void **unused)
{
	struct harness h;
	struct cls_result r;

	(void)unused;
	/* a flow session of the server's direction: its first payload is the ServerHello */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_FLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, server_hello12_rec, sizeof(server_hello12_rec)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.sub_id, sub("TLS", "TLS/HTTP2"));
	assert_int_equal(r.confidence, 80);
	assert_string_equal(r.label, "");
	h_close(&h);

	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_BWD, server_hello13_rec, 60)); /* cut, fixed part there */
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.sub_id, 0);
	assert_int_equal(r.confidence, 80);
	h_close(&h);
}

static void
test_plugin_gives_up(void **unused)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static uint8_t m[20000], rec[21000];

	assert_true(sizeof(rec) > 16384 + 4000);
	struct harness h;
	struct cls_result r;
	size_t n, rn;

	(void)unused;
	/* not TLS: decided on the first payload */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, (const uint8_t *)get, sizeof(get) - 1));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.confidence, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);

	/* UDP: ready before any packet */
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_true(cls_plugin_tls.is_session_classifiable(h.ctx, h.state, &h.s));
	assert_true(h_pkt(&h, CLS_DIR_FWD, client_hello_rec, sizeof(client_hello_rec)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);

	/* a hello larger than the reassembly bound */
	n = build_hello(m, "big.example", "h2", 17000);
	rn = frame(rec, m, n, 16384);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	bool ready = false;

	for (size_t o = 0; o < rn && !ready; o += 4000) /* LRO-sized segments: the buffer fills */
		ready = h_pkt(&h, CLS_DIR_FWD, rec + o, rn - o < 4000 ? rn - o : 4000);
	assert_true(ready);
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);

	/* a hello that never completes: bounded by the segment count; at session end the
	 * begun hello still says TLS, weakly */
	n = build_hello(m, "slow.example", "h2", 4000);
	rn = frame(rec, m, n, 16384);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec, 100));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.confidence, 60);
	for (int i = 1; i < 6; i++)
		assert_false(h_pkt(&h, CLS_DIR_FWD, rec + 100 * i, 100));
	assert_true(h_pkt(&h, CLS_DIR_FWD, rec + 600, 100));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);

	/* the client's second segment is not TLS record structure (a gap): gives up */
	n = build_hello(m, "gap.example", "h2", 4000);
	rn = frame(rec, m, n, 1000);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, rec, 1400));
	/* 1400 bytes lost: the next record header is read from mid-record bytes */
	assert_true(h_pkt(&h, CLS_DIR_FWD, rec + 2800, 1000));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);
}

/* n bytes of TLS 1.2/1.3 application_data record(s): header 17 03 03 <len>, then ciphertext. */
static size_t
app_data(uint8_t *out, size_t body, uint8_t type)
{
	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	for (size_t i = 0; i < body; i++)
		out[5 + i] = (uint8_t)(i * 131 + 7);
	return 5 + body;
}

/* A capture begun after the handshake (XMPP on 5222 after STARTTLS, nDPI's
 * xmpp_tls_mid_session-like cases): record headers in line across segments say TLS, at a lower
 * confidence and with signature evidence */
static void
test_plugin_mid_session(void **unused)
{
	static uint8_t seg[4096];
	struct harness h;
	struct cls_result r;
	size_t n;

	(void)unused;
	/* client: a 60-byte record; server: a record header split 2 + 3 bytes over two segments,
	 * then a second record cut by the segment's end */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	h.s.key.dport = 5222;
	n = app_data(seg, 60, 23);
	assert_false(h_pkt(&h, CLS_DIR_FWD, seg, n));
	n = app_data(seg, 200, 23);
	n += app_data(seg + n, 1000, 23);
	assert_false(h_pkt(&h, CLS_DIR_BWD, seg, 2));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0); /* asked now: not yet (one whole header) */
	assert_true(h_pkt(&h, CLS_DIR_BWD, seg + 2, n - 600));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.confidence, 70);
	assert_int_equal(r.evidence, CLS_EV_SIGNATURE);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	h_close(&h);

	/* one direction only (a flow session): three one-record segments, an alert among them */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_FLOW, "");
	n = app_data(seg, 40, 23);
	assert_false(h_pkt(&h, CLS_DIR_FWD, seg, n));
	n = app_data(seg, 26, 21);
	assert_false(h_pkt(&h, CLS_DIR_FWD, seg, n));
	n = app_data(seg, 300, 23);
	assert_true(h_pkt(&h, CLS_DIR_FWD, seg, n));
	h_result(&h, &r);
	assert_int_equal(r.app_id, app("TLS"));
	assert_int_equal(r.evidence, CLS_EV_SIGNATURE);
	h_close(&h);

	/* a length that does not line up: the next "header" is ciphertext */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_FLOW, "");
	n = app_data(seg, 100, 23);
	assert_false(h_pkt(&h, CLS_DIR_FWD, seg, n - 10)); /* 10 bytes lost */
	n = app_data(seg, 100, 23);
	assert_true(h_pkt(&h, CLS_DIR_FWD, seg, n));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);

	/* a first byte of 0x17 that is not a record (version 0x0a0b): gives up */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_FLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, "\x17\x0a\x0b\x00\x10hello, world....", 21));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);

	/* a normal handshake is still read as before: the ClientHello decides at 100 */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, client_hello_rec, sizeof(client_hello_rec)));
	h_result(&h, &r);
	assert_int_equal(r.confidence, 100);
	assert_int_equal(r.evidence, CLS_EV_DEFAULT);
	h_close(&h);
}

static void
test_plugin_no_pool(void **unused)
{
	static uint8_t m[4096], rec[4200];
	struct harness h;
	struct cls_result r;
	struct cls_reasm_ticket t = {0};
	size_t n, rn;

	(void)unused;
	n = build_hello(m, "busy.example", "h2", 2000);
	rn = frame(rec, m, n, 16384);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "reasm_bufs=1");
	assert_non_null(cls_reasm_get(h.wctx, &t, 1000000000ull)); /* someone else holds it */
	assert_true(h_pkt(&h, CLS_DIR_FWD, rec, 1400));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	cls_reasm_put(h.wctx, &t);
	h_close(&h);
	(void)rn;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_hello_real),
		cmocka_unit_test(test_client_hello_every_truncation),
		cmocka_unit_test(test_client_hello_every_corruption),
		cmocka_unit_test(test_client_hello_malformed),
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_plugin_mid_session),
		cmocka_unit_test(test_deframe),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_plugin_one_segment),
		cmocka_unit_test(test_plugin_multi_segment),
		cmocka_unit_test(test_plugin_header_alone),
		cmocka_unit_test(test_plugin_server_side_only),
		cmocka_unit_test(test_plugin_gives_up),
		cmocka_unit_test(test_plugin_no_pool),
	};
	int r;

	apps = load_apps();
	if (!apps) {
		fprintf(stderr, "test_cls_tls: cannot find config/tide_apps.txt (set TIDE_APPS)\n");
		return 1;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	cls_apps_free(apps);
	return r;
}
