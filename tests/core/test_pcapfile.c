/* test_pcapfile.c — unit tests for the offline reader (dp_pcapfile).
 *
 * Every input is built here, byte by byte, in a mkdtemp directory: classic pcap in both
 * timestamp units and byte orders, pcapng with several sections, interfaces and timestamp
 * resolutions, the rarer packet blocks (SPB, obsolete PB), and the corrupt shapes the reader
 * must refuse with the right byte offset. Building the bytes by hand (not with libpcap) is the
 * point: it pins the exact layout each check is about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_linktype.h"
#include "dp_pcapfile.h"

static char tmp_dir[64]; /* "/tmp/test_pcapfile.XXXXXX" */

/* ---- a byte builder that writes either byte order ---- */

struct bb {
	uint8_t *p;
	size_t len, cap;
	int be; /* write big-endian fields */
};

static void
bb_put(struct bb *b, const void *v, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void
bb_u8(struct bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static void
bb_u16(struct bb *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	if (b->be)
		x[0] = (uint8_t)(v >> 8), x[1] = (uint8_t)v;
	bb_put(b, x, 2);
}

static void
bb_u32(struct bb *b, uint32_t v)
{
	uint8_t x[4];

	for (int i = 0; i < 4; i++)
		x[b->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	bb_put(b, x, 4);
}

static void
bb_u64(struct bb *b, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[b->be ? 7 - i : i] = (uint8_t)(v >> (8 * i));
	bb_put(b, x, 8);
}

static void
bb_pad4(struct bb *b)
{
	while (b->len % 4)
		bb_u8(b, 0);
}

static void
bb_patch32(struct bb *b, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->p[at + (size_t)(b->be ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}

static void
bb_free(struct bb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Deterministic packet bytes, so every read can be compared with what was written. */
static void
bb_payload(struct bb *b, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		bb_u8(b, (uint8_t)(i * 7 + seed));
}

static int
payload_ok(const uint8_t *d, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		if (d[i] != (uint8_t)(i * 7 + seed))
			return 0;
	return 1;
}

/* ---- classic pcap ---- */

static void
pcap_hdr(struct bb *b, uint32_t magic, uint32_t snaplen, uint32_t ltfield)
{
	bb_u32(b, magic);
	bb_u16(b, 2);
	bb_u16(b, 4);
	bb_u32(b, 0);
	bb_u32(b, 0);
	bb_u32(b, snaplen);
	bb_u32(b, ltfield);
}

static void
pcap_rec(struct bb *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
	uint32_t seed)
{
	bb_u32(b, sec);
	bb_u32(b, frac);
	bb_u32(b, caplen);
	bb_u32(b, wirelen);
	bb_payload(b, caplen, seed);
}

/* ---- pcapng ---- */

static size_t
ng_begin(struct bb *b, uint32_t type)
{
	size_t at = b->len;

	bb_u32(b, type);
	bb_u32(b, 0);
	return at;
}

static void
ng_end(struct bb *b, size_t at)
{
	uint32_t len;

	bb_pad4(b);
	len = (uint32_t)(b->len - at + 4);
	bb_u32(b, len);
	bb_patch32(b, at + 4, len);
}

static void
ng_opt(struct bb *b, uint16_t code, const void *v, uint16_t len)
{
	bb_u16(b, code);
	bb_u16(b, len);
	bb_put(b, v, len);
	bb_pad4(b);
}

static void
ng_shb(struct bb *b)
{
	size_t at = ng_begin(b, 0x0a0d0d0a);

	bb_u32(b, 0x1a2b3c4d);
	bb_u16(b, 1);
	bb_u16(b, 0);
	bb_u64(b, UINT64_MAX);
	ng_end(b, at);
}

/* tsresol < 0: no if_tsresol option (the default, microseconds). */
static void
ng_idb(struct bb *b, uint16_t lt, uint32_t snaplen, int tsresol, int64_t tsoffset)
{
	size_t at = ng_begin(b, 1);

	bb_u16(b, lt);
	bb_u16(b, 0);
	bb_u32(b, snaplen);
	ng_opt(b, 2, "eth0", 4);
	if (tsresol >= 0) {
		uint8_t r = (uint8_t)tsresol;

		ng_opt(b, 9, &r, 1);
	}
	if (tsoffset != 0) {
		struct bb o = { .be = b->be };

		bb_u64(&o, (uint64_t)tsoffset);
		ng_opt(b, 14, o.p, 8);
		bb_free(&o);
	}
	ng_opt(b, 0, NULL, 0);
	ng_end(b, at);
}

static size_t
ng_epb(struct bb *b, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t wirelen, uint32_t seed)
{
	size_t at = ng_begin(b, 6);

	bb_u32(b, ifid);
	bb_u32(b, (uint32_t)(ts >> 32));
	bb_u32(b, (uint32_t)ts);
	bb_u32(b, caplen);
	bb_u32(b, wirelen);
	bb_payload(b, caplen, seed);
	ng_end(b, at);
	return at;
}

static void
ng_other(struct bb *b, uint32_t type, uint32_t body)
{
	size_t at = ng_begin(b, type);

	for (uint32_t i = 0; i < body; i++)
		bb_u8(b, 0xee);
	ng_end(b, at);
}

/* ---- files and reading ---- */

static void
write_file(char *path, size_t pathlen, const char *name, const struct bb *b)
{
	FILE *fp;

	snprintf(path, pathlen, "%s/%s", tmp_dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	if (b->len > 0)
		assert_int_equal(fwrite(b->p, 1, b->len, fp), b->len);
	assert_int_equal(fclose(fp), 0);
}

static struct dp_pcapfile *
open_ok(const char *path)
{
	char err[512] = "";
	struct dp_pcapfile *f = dp_pcapfile_open(path, err, sizeof(err));

	if (f == NULL)
		fail_msg("open failed: %s", err);
	return f;
}

/* Expect dp_pcapfile_open to fail with a message holding "offset N: " and `what`. */
static void
open_fails(const char *path, uint64_t off, const char *what)
{
	char err[512] = "", want[64];
	struct dp_pcapfile *f = dp_pcapfile_open(path, err, sizeof(err));

	if (f != NULL) {
		dp_pcapfile_close(f);
		fail_msg("open of %s succeeded, wanted '%s'", path, what);
	}
	snprintf(want, sizeof(want), ": offset %llu: ", (unsigned long long)off);
	if (strncmp(err, path, strlen(path)) != 0 || strstr(err, want) == NULL ||
		strstr(err, what) == NULL)
		fail_msg("error '%s' lacks '%s' / '%s'", err, want, what);
}

/* Read everything; returns the final dp_pcapfile_next result, records in recs. */
static int
read_all(struct dp_pcapfile *f, struct dp_pcap_rec *recs, size_t max, size_t *n, char *err,
	size_t errlen)
{
	struct dp_pcap_rec r;
	int rc;

	*n = 0;
	while ((rc = dp_pcapfile_next(f, &r, err, errlen)) == 1) {
		assert_true(*n < max);
		recs[(*n)++] = r;
	}
	return rc;
}

static void
expect_next_error(struct dp_pcapfile *f, uint64_t off, const char *what)
{
	struct dp_pcap_rec r;
	char err[512] = "", want[64];

	assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), ": offset %llu: ", (unsigned long long)off);
	if (strstr(err, tmp_dir) != err || strstr(err, want) == NULL || strstr(err, what) == NULL)
		fail_msg("error '%s' lacks '%s' / '%s'", err, want, what);
}

/* ---- classic pcap tests ---- */

static void
check_pcap_variant(int be, int ns)
{
	struct bb b = { .be = be };
	struct dp_pcap_rec recs[8];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n;
	uint64_t mult = ns ? 1 : 1000;

	pcap_hdr(&b, ns ? 0xa1b23c4d : 0xa1b2c3d4, 65535, DP_LINKTYPE_ETHERNET);
	pcap_rec(&b, 1, 1, 60, 60, 1);
	pcap_rec(&b, 2, 500000, 40, 100, 2);
	pcap_rec(&b, 0xfffffff0u, 999999, 0, 0, 3);
	pcap_rec(&b, 3, 7, 1514, 1514, 4);
	write_file(path, sizeof(path), "v.pcap", &b);

	f = open_ok(path);
	assert_int_equal(dp_pcapfile_format(f), DP_PCAPFILE_PCAP);
	assert_int_equal(dp_pcapfile_linktype(f), DP_LINKTYPE_ETHERNET);
	assert_int_equal(dp_pcapfile_snaplen(f), 65535);
	assert_int_equal(dp_pcapfile_size(f), b.len);
	assert_int_equal(read_all(f, recs, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(recs[0].offset, 24);
	assert_int_equal(recs[0].ts_ns, 1000000000ull + 1 * mult);
	assert_int_equal(recs[0].caplen, 60);
	assert_true(payload_ok(recs[0].data, 60, 1));
	assert_int_equal(recs[1].offset, 24 + 16 + 60);
	assert_int_equal(recs[1].ts_ns, 2000000000ull + 500000 * mult);
	assert_int_equal(recs[1].caplen, 40);
	assert_int_equal(recs[1].wirelen, 100);
	assert_true(payload_ok(recs[1].data, 40, 2));
	assert_int_equal(recs[2].ts_ns, 0xfffffff0ull * 1000000000ull + 999999 * mult);
	assert_int_equal(recs[2].caplen, 0);
	assert_int_equal(recs[3].caplen, 1514);
	assert_int_equal(recs[3].ifindex, 0);
	assert_true(payload_ok(recs[3].data, 1514, 4));
	/* End of file stays end of file. */
	assert_int_equal(dp_pcapfile_next(f, &recs[0], err, sizeof(err)), 0);
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_pcap_us_le(void **state)
{
	(void)state;
	check_pcap_variant(0, 0);
}

static void
test_pcap_ns_le(void **state)
{
	(void)state;
	check_pcap_variant(0, 1);
}

static void
test_pcap_us_be(void **state)
{
	(void)state;
	check_pcap_variant(1, 0);
}

static void
test_pcap_ns_be(void **state)
{
	(void)state;
	check_pcap_variant(1, 1);
}

static void
test_pcap_snaplen_zero(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];
	struct dp_pcapfile *f;

	(void)state;
	pcap_hdr(&b, 0xa1b2c3d4, 0, DP_LINKTYPE_RAW);
	write_file(path, sizeof(path), "snap0.pcap", &b);
	f = open_ok(path);
	assert_int_equal(dp_pcapfile_snaplen(f), 262144);
	assert_int_equal(dp_pcapfile_linktype(f), DP_LINKTYPE_RAW);
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_pcap_truncated_last(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[4];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, third;

	(void)state;
	pcap_hdr(&b, 0xa1b2c3d4, 65535, 1);
	pcap_rec(&b, 1, 0, 100, 100, 1);
	pcap_rec(&b, 2, 0, 100, 100, 2);
	third = b.len;
	pcap_rec(&b, 3, 0, 100, 100, 3);
	b.len -= 50; /* the last record loses half its data */
	write_file(path, sizeof(path), "trunc.pcap", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 2);
	assert_true(payload_ok(recs[1].data, 100, 2));
	assert_non_null(strstr(err, "truncated record"));
	expect_next_error(f, third, "truncated record"); /* the error is sticky */
	dp_pcapfile_close(f);

	/* Cut inside the record header. */
	b.len = third + 10;
	write_file(path, sizeof(path), "trunc2.pcap", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 2);
	expect_next_error(f, third, "truncated record header");
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_pcap_bad_magic(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];

	(void)state;
	pcap_hdr(&b, 0xdeadbeef, 65535, 1);
	write_file(path, sizeof(path), "magic.pcap", &b);
	open_fails(path, 0, "not a pcap or pcapng file");
	bb_free(&b);
}

static void
test_pcap_bad_version(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];

	(void)state;
	pcap_hdr(&b, 0xa1b2c3d4, 65535, 1);
	b.p[4] = 3;
	write_file(path, sizeof(path), "version.pcap", &b);
	open_fails(path, 4, "unsupported pcap version 3.4");
	bb_free(&b);
}

static void
test_pcap_caplen_limits(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[4];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, bad;

	(void)state;
	/* caplen above 256 KiB: corrupt even if the bytes are there. */
	pcap_hdr(&b, 0xa1b2c3d4, 0, 1);
	pcap_rec(&b, 1, 0, 64, 64, 1);
	bad = b.len;
	pcap_rec(&b, 1, 0, 262145, 262145, 1);
	write_file(path, sizeof(path), "big.pcap", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 1);
	expect_next_error(f, bad, "caplen 262145 exceeds 262144");
	dp_pcapfile_close(f);
	bb_free(&b);

	/* caplen above the wire length. */
	pcap_hdr(&b, 0xa1b2c3d4, 0, 1);
	pcap_rec(&b, 1, 0, 80, 60, 1);
	write_file(path, sizeof(path), "wire.pcap", &b);
	f = open_ok(path);
	expect_next_error(f, 24, "caplen 80 exceeds wire length 60");
	dp_pcapfile_close(f);
	bb_free(&b);

	/* Exactly 256 KiB is fine. */
	pcap_hdr(&b, 0xa1b2c3d4, 0, 1);
	pcap_rec(&b, 1, 0, 262144, 300000, 9);
	write_file(path, sizeof(path), "max.pcap", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_true(payload_ok(recs[0].data, 262144, 9));
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_pcap_linktype_field(void **state)
{
	static const struct {
		uint32_t field;
		int ok;
	} cases[] = {
		{ 1, 1 },
		{ 0x14000001u, 1 },  /* FCS length 1 (16-bit words), flagged present */
		{ 0x10000001u, 0 },  /* FCS length without the present flag */
		{ 0x00010001u, 0 },  /* reserved bits */
		{ 0x04000071u, 1 },  /* SLL with a zero FCS length flagged */
		{ 105, 0 },          /* 802.11: unsupported */
	};
	char path[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bb b = { 0 };

		pcap_hdr(&b, 0xa1b2c3d4, 65535, cases[i].field);
		write_file(path, sizeof(path), "lt.pcap", &b);
		if (cases[i].ok) {
			struct dp_pcapfile *f = open_ok(path);

			assert_int_equal(dp_pcapfile_linktype(f), cases[i].field & 0xffff);
			dp_pcapfile_close(f);
		} else if (cases[i].field == 105) {
			open_fails(path, 20, "unsupported link type 105");
		} else {
			open_fails(path, 20, "bad link type field");
		}
		bb_free(&b);
	}
}

static void
test_empty_and_header_only(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec rec;
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;

	(void)state;
	write_file(path, sizeof(path), "empty.pcap", &b);
	open_fails(path, 0, "empty file");

	pcap_hdr(&b, 0xa1b2c3d4, 65535, 1);
	write_file(path, sizeof(path), "hdronly.pcap", &b);
	f = open_ok(path);
	assert_int_equal(dp_pcapfile_next(f, &rec, err, sizeof(err)), 0);
	dp_pcapfile_close(f);

	b.len = 10;
	write_file(path, sizeof(path), "short.pcap", &b);
	open_fails(path, 0, "truncated file header");
	b.len = 3;
	write_file(path, sizeof(path), "tiny.pcap", &b);
	open_fails(path, 0, "truncated file header");
	bb_free(&b);
}

static void
test_not_a_file(void **state)
{
	char path[PATH_MAX], err[512];

	(void)state;
	open_fails(tmp_dir, 0, "not a regular file");
	snprintf(path, sizeof(path), "%s/does-not-exist", tmp_dir);
	assert_null(dp_pcapfile_open(path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	/* A NULL error buffer is allowed. */
	assert_null(dp_pcapfile_open(path, NULL, 0));
}

/* ---- pcapng tests ---- */

static void
test_ng_two_sections(void **state)
{
	struct bb b = { 0 }, s2 = { .be = 1 };
	struct dp_pcap_rec recs[8];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, e0, e1, e2, e3;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, DP_LINKTYPE_ETHERNET, 0, -1, 0); /* microseconds by default */
	ng_idb(&b, DP_LINKTYPE_ETHERNET, 128, 9, 0);
	ng_other(&b, 4, 12);                         /* NRB: skipped */
	e0 = ng_epb(&b, 0, 1500000, 60, 60, 1);
	e1 = ng_epb(&b, 1, 123456789, 61, 70, 2);
	ng_other(&b, 5, 16);                         /* ISB: skipped */
	ng_other(&b, 0x40000bad, 4);                 /* custom: skipped */
	/* Second section, big-endian: interface ids start over. */
	ng_shb(&s2);
	ng_idb(&s2, DP_LINKTYPE_ETHERNET, 65535, 9, 0);
	e2 = b.len + ng_epb(&s2, 0, 5000000000ull, 3, 3, 3);
	e3 = b.len + ng_epb(&s2, 0, 6000000000ull, 0, 10, 4);
	bb_put(&b, s2.p, s2.len);
	write_file(path, sizeof(path), "two.pcapng", &b);

	f = open_ok(path);
	assert_int_equal(dp_pcapfile_format(f), DP_PCAPFILE_PCAPNG);
	assert_int_equal(dp_pcapfile_linktype(f), DP_LINKTYPE_ETHERNET);
	assert_int_equal(dp_pcapfile_snaplen(f), 262144);
	assert_int_equal(read_all(f, recs, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(recs[0].offset, e0);
	assert_int_equal(recs[0].ts_ns, 1500000000ull);
	assert_int_equal(recs[0].ifindex, 0);
	assert_true(payload_ok(recs[0].data, 60, 1));
	assert_int_equal(recs[1].offset, e1);
	assert_int_equal(recs[1].ts_ns, 123456789ull);
	assert_int_equal(recs[1].ifindex, 1);
	assert_int_equal(recs[1].caplen, 61);
	assert_int_equal(recs[1].wirelen, 70);
	assert_true(payload_ok(recs[1].data, 61, 2));
	assert_int_equal(recs[2].offset, e2);
	assert_int_equal(recs[2].ts_ns, 5000000000ull);
	assert_true(payload_ok(recs[2].data, 3, 3));
	assert_int_equal(recs[3].offset, e3);
	assert_int_equal(recs[3].caplen, 0);
	assert_int_equal(recs[3].wirelen, 10);
	dp_pcapfile_close(f);

	/* In the second section only interface 0 exists. */
	ng_epb(&b, 1, 0, 4, 4, 0);
	write_file(path, sizeof(path), "two-bad.pcapng", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 8, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 4);
	dp_pcapfile_close(f);
	bb_free(&b);
	bb_free(&s2);
}

static void
test_ng_tsresol(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[8];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 0, 6, 0);             /* 0: µs */
	ng_idb(&b, 1, 0, 9, 0);             /* 1: ns */
	ng_idb(&b, 1, 0, 0x80 | 20, 0);     /* 2: 2^-20 s */
	ng_idb(&b, 1, 0, 3, 100);           /* 3: ms, +100 s */
	ng_idb(&b, 1, 0, 12, -1);           /* 4: ps, -1 s */
	ng_idb(&b, 1, 0, 0x80 | 0, 0);      /* 5: whole seconds, base 2 */
	ng_idb(&b, 1, 0, 0, 0);             /* 6: whole seconds, base 10 */
	ng_epb(&b, 0, 1234567, 1, 1, 0);
	ng_epb(&b, 1, 1234567, 1, 1, 0);
	ng_epb(&b, 2, (5ull << 20) | (1ull << 19), 1, 1, 0);
	ng_epb(&b, 3, 1234, 1, 1, 0);
	ng_epb(&b, 4, 2000000000123456ull, 1, 1, 0);
	ng_epb(&b, 5, 7, 1, 1, 0);
	ng_epb(&b, 6, 8, 1, 1, 0);
	write_file(path, sizeof(path), "tsresol.pcapng", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 7);
	assert_int_equal(recs[0].ts_ns, 1234567000ull);
	assert_int_equal(recs[1].ts_ns, 1234567ull);
	assert_int_equal(recs[2].ts_ns, 5500000000ull);
	assert_int_equal(recs[3].ts_ns, 101234000000ull);
	assert_int_equal(recs[4].ts_ns, 2000000000123ull - 1000000000ull);
	assert_int_equal(recs[5].ts_ns, 7000000000ull);
	assert_int_equal(recs[6].ts_ns, 8000000000ull);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(recs[i].ifindex, i);
	dp_pcapfile_close(f);
	bb_free(&b);

	/* 10^-20 s cannot be expressed: refused with the IDB's offset. */
	ng_shb(&b);
	ng_idb(&b, 1, 0, 20, 0);
	write_file(path, sizeof(path), "tsresol-bad.pcapng", &b);
	open_fails(path, 28, "unsupported if_tsresol 0x14");
	bb_free(&b);
}

static void
test_ng_spb_pb(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[8];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, at;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 64, 9, 0);
	/* SPB, snaplen-limited: wire 100, 100 bytes stored, caplen = snaplen 64. */
	at = ng_begin(&b, 3);
	bb_u32(&b, 100);
	bb_payload(&b, 100, 5);
	ng_end(&b, at);
	/* SPB whose body is padding beyond the wire length: caplen = wirelen. */
	at = ng_begin(&b, 3);
	bb_u32(&b, 10);
	bb_payload(&b, 10, 6);
	ng_end(&b, at);
	/* Obsolete PB: 16-bit interface id, drops count. */
	at = ng_begin(&b, 2);
	bb_u16(&b, 0);
	bb_u16(&b, 3);
	bb_u32(&b, 0);
	bb_u32(&b, 77);
	bb_u32(&b, 20);
	bb_u32(&b, 30);
	bb_payload(&b, 20, 7);
	ng_end(&b, at);
	write_file(path, sizeof(path), "spb.pcapng", &b);
	f = open_ok(path);
	assert_int_equal(dp_pcapfile_snaplen(f), 64);
	assert_int_equal(read_all(f, recs, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(recs[0].ts_ns, 0);
	assert_int_equal(recs[0].caplen, 64);
	assert_int_equal(recs[0].wirelen, 100);
	assert_true(payload_ok(recs[0].data, 64, 5));
	assert_int_equal(recs[1].caplen, 10);
	assert_int_equal(recs[1].wirelen, 10);
	assert_true(payload_ok(recs[1].data, 10, 6));
	assert_int_equal(recs[2].offset, at);
	assert_int_equal(recs[2].ts_ns, 77);
	assert_int_equal(recs[2].caplen, 20);
	assert_int_equal(recs[2].wirelen, 30);
	assert_true(payload_ok(recs[2].data, 20, 7));
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_ng_truncated_last(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[4];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, last, full;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 0, 9, 0);
	ng_epb(&b, 0, 1, 100, 100, 1);
	last = ng_epb(&b, 0, 2, 100, 100, 2);
	full = b.len;
	/* Every cut inside the last block is an error naming that block, never a clean EOF. */
	for (size_t cut = last + 1; cut < full; cut++) {
		b.len = cut;
		write_file(path, sizeof(path), "trunc.pcapng", &b);
		f = open_ok(path);
		assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), -1);
		assert_int_equal(n, 1);
		assert_true(payload_ok(recs[0].data, 100, 1));
		expect_next_error(f, last, "truncated block");
		dp_pcapfile_close(f);
	}
	bb_free(&b);
}

static void
test_ng_bad_block_length(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];
	struct dp_pcapfile *f;
	size_t at;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 0, 9, 0);
	at = ng_epb(&b, 0, 1, 8, 8, 1);
	bb_patch32(&b, at + 4, 42); /* not a multiple of 4 */
	write_file(path, sizeof(path), "len4.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "bad block length 42");
	dp_pcapfile_close(f);

	bb_patch32(&b, at + 4, 8); /* shorter than any block */
	write_file(path, sizeof(path), "len8.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "bad block length 8");
	dp_pcapfile_close(f);

	bb_patch32(&b, at + 4, 0x7ffffff0); /* past the end of the file */
	write_file(path, sizeof(path), "lenbig.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "truncated block");
	dp_pcapfile_close(f);

	bb_patch32(&b, at + 4, (uint32_t)(b.len - at));
	bb_patch32(&b, b.len - 4, 44); /* trailer disagrees */
	write_file(path, sizeof(path), "trailer.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "trailing block length");
	dp_pcapfile_close(f);

	/* The SHB's own length is checked at open. */
	bb_patch32(&b, 4, 30);
	write_file(path, sizeof(path), "shblen.pcapng", &b);
	open_fails(path, 0, "bad block length 30");
	bb_free(&b);
}

static void
test_ng_bad_header(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 0, 9, 0);
	b.p[8] = 0x99; /* byte-order magic */
	write_file(path, sizeof(path), "bom.pcapng", &b);
	open_fails(path, 0, "bad byte-order magic");
	b.p[8] = 0x4d;
	b.p[12] = 2; /* version 2.0 */
	write_file(path, sizeof(path), "ver.pcapng", &b);
	open_fails(path, 0, "unsupported pcapng version 2.0");
	b.p[12] = 1;
	b.len = 20;
	write_file(path, sizeof(path), "shbshort.pcapng", &b);
	open_fails(path, 0, "truncated section header block");
	bb_free(&b);
}

static void
test_ng_caplen_limits(void **state)
{
	struct bb b = { 0 };
	char path[PATH_MAX];
	struct dp_pcapfile *f;
	size_t at;

	(void)state;
	ng_shb(&b);
	ng_idb(&b, 1, 0, 9, 0);
	at = ng_epb(&b, 0, 1, 40, 20, 1);
	write_file(path, sizeof(path), "wire.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "caplen 40 exceeds wire length 20");
	dp_pcapfile_close(f);

	bb_patch32(&b, at + 20, 48); /* beyond the block's body (40 bytes) */
	bb_patch32(&b, at + 24, 100);
	write_file(path, sizeof(path), "body.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "caplen 48 exceeds the block body");
	dp_pcapfile_close(f);

	bb_patch32(&b, at + 20, 262148);
	bb_patch32(&b, at + 24, 262148);
	write_file(path, sizeof(path), "huge.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "caplen 262148 exceeds 262144");
	dp_pcapfile_close(f);
	bb_free(&b);
}

static void
test_ng_interfaces(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec recs[4];
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;
	size_t n, at;

	(void)state;
	/* A packet before any IDB. */
	ng_shb(&b);
	at = ng_epb(&b, 0, 1, 4, 4, 1);
	write_file(path, sizeof(path), "noidb.pcapng", &b);
	open_fails(path, at, "interface 0 not defined");
	bb_free(&b);

	/* An undefined interface id. */
	ng_shb(&b);
	ng_idb(&b, 1, 0, 9, 0);
	at = ng_epb(&b, 1, 1, 4, 4, 1);
	write_file(path, sizeof(path), "if1.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, at, "interface 1 not defined");
	dp_pcapfile_close(f);
	bb_free(&b);

	/* Mixed link types: packets before the second IDB are read, then an error. */
	ng_shb(&b);
	ng_idb(&b, DP_LINKTYPE_ETHERNET, 0, 9, 0);
	ng_epb(&b, 0, 1, 4, 4, 1);
	at = b.len;
	ng_idb(&b, DP_LINKTYPE_RAW, 0, 9, 0);
	ng_epb(&b, 1, 1, 4, 4, 1);
	write_file(path, sizeof(path), "mixed.pcapng", &b);
	f = open_ok(path);
	assert_int_equal(read_all(f, recs, 4, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 1);
	expect_next_error(f, at, "unsupported: interfaces with different link types");
	dp_pcapfile_close(f);
	bb_free(&b);

	/* Unsupported link type on the first IDB: refused at open, naming the number. */
	ng_shb(&b);
	ng_other(&b, 4, 8);
	at = b.len;
	ng_idb(&b, 105, 0, 9, 0);
	write_file(path, sizeof(path), "lt105.pcapng", &b);
	open_fails(path, at, "unsupported link type 105");
	bb_free(&b);

	/* An IDB option that runs past the block. */
	ng_shb(&b);
	at = ng_begin(&b, 1);
	bb_u16(&b, 1);
	bb_u16(&b, 0);
	bb_u32(&b, 0);
	bb_u16(&b, 2);
	bb_u16(&b, 200);
	bb_u32(&b, 0);
	ng_end(&b, at);
	write_file(path, sizeof(path), "idbopt.pcapng", &b);
	open_fails(path, at, "IDB option 2 overruns the block");
	bb_free(&b);
}

static void
test_ng_header_only(void **state)
{
	struct bb b = { 0 };
	struct dp_pcap_rec rec;
	char path[PATH_MAX], err[256];
	struct dp_pcapfile *f;

	(void)state;
	ng_shb(&b);
	write_file(path, sizeof(path), "shbonly.pcapng", &b);
	open_fails(path, 28, "no interface description block");
	ng_idb(&b, DP_LINKTYPE_LINUX_SLL2, 1000, 9, 0);
	write_file(path, sizeof(path), "hdronly.pcapng", &b);
	f = open_ok(path);
	assert_int_equal(dp_pcapfile_linktype(f), DP_LINKTYPE_LINUX_SLL2);
	assert_int_equal(dp_pcapfile_snaplen(f), 1000);
	assert_int_equal(dp_pcapfile_next(f, &rec, err, sizeof(err)), 0);
	dp_pcapfile_close(f);
	/* Trailing garbage shorter than a block header. */
	bb_u32(&b, 6);
	write_file(path, sizeof(path), "tail.pcapng", &b);
	f = open_ok(path);
	expect_next_error(f, b.len - 4, "truncated block");
	dp_pcapfile_close(f);
	bb_free(&b);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_pcapfile.XXXXXX");
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[sizeof(tmp_dir) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_us_le),
		cmocka_unit_test(test_pcap_ns_le),
		cmocka_unit_test(test_pcap_us_be),
		cmocka_unit_test(test_pcap_ns_be),
		cmocka_unit_test(test_pcap_snaplen_zero),
		cmocka_unit_test(test_pcap_truncated_last),
		cmocka_unit_test(test_pcap_bad_magic),
		cmocka_unit_test(test_pcap_bad_version),
		cmocka_unit_test(test_pcap_caplen_limits),
		cmocka_unit_test(test_pcap_linktype_field),
		cmocka_unit_test(test_empty_and_header_only),
		cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_ng_two_sections),
		cmocka_unit_test(test_ng_tsresol),
		cmocka_unit_test(test_ng_spb_pb),
		cmocka_unit_test(test_ng_truncated_last),
		cmocka_unit_test(test_ng_bad_block_length),
		cmocka_unit_test(test_ng_bad_header),
		cmocka_unit_test(test_ng_caplen_limits),
		cmocka_unit_test(test_ng_interfaces),
		cmocka_unit_test(test_ng_header_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
