/* test_pcapng.c — unit tests for the shard writer, dp_pcapng_check and crash recovery.
 *
 * Everything written is read back through dp_pcapfile (the other half of the round trip) and,
 * where the tool is installed, through capinfos, so a shard is proven readable by an independent
 * implementation. Disk full is real: as root the test mounts a 256 KiB tmpfs and writes until
 * ENOSPC (skipped when mount is not allowed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dp_pcapfile.h"
#include "dp_pcapng.h"

#define ISB_LEN 76u
#define T0 1700000000000000000ull /* packet time base, ns */

static char tmp_dir[64]; /* "/tmp/test_pcapng.XXXXXX" */

static uint32_t
epb_len(uint32_t caplen)
{
	return 32 + ((caplen + 3) & ~3u);
}

static void
fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + (i >> 8));
}

static int
same_fill(const uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(i * 13 + seed * 7 + (i >> 8)))
			return 0;
	return 1;
}

/* A fresh, empty directory tmp_dir/name. */
static void
subdir(char *out, size_t outlen, const char *name)
{
	char cmd[PATH_MAX + 16];

	snprintf(out, outlen, "%s/%s", tmp_dir, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
	assert_int_equal(system(cmd), 0);
}

static void
path_in(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < outlen);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	*len = (size_t)st.st_size;
	p = malloc(*len + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, *len, fp), *len);
	fclose(fp);
	return p;
}

static void
spill(const char *path, const uint8_t *p, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	if (len > 0)
		assert_int_equal(fwrite(p, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void
sha256_file(const char *path, uint8_t out[32])
{
	size_t len;
	uint8_t *p = slurp(path, &len);
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(p, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	free(p);
}

/* Number of packets dp_pcapfile reads from a shard (and it must read to a clean EOF). */
static uint64_t
count_packets(const char *path)
{
	char err[512];
	struct dp_pcap_rec r;
	struct dp_pcapfile *f = dp_pcapfile_open(path, err, sizeof(err));
	uint64_t n = 0;
	int rc;

	if (f == NULL)
		fail_msg("%s", err);
	while ((rc = dp_pcapfile_next(f, &r, err, sizeof(err))) == 1)
		n++;
	if (rc != 0)
		fail_msg("%s", err);
	dp_pcapfile_close(f);
	return n;
}

static void
check_ok(const char *path)
{
	char err[512] = "";

	if (dp_pcapng_check(path, err, sizeof(err)) != 0)
		fail_msg("dp_pcapng_check: %s", err);
}

static int
have_capinfos(void)
{
	return system("command -v capinfos >/dev/null 2>&1") == 0;
}

/* capinfos (Wireshark's reader) must accept every given shard. */
static void
capinfos_ok(const char *dir, const struct dp_shard_info *si, size_t n)
{
	char cmd[PATH_MAX + 64];

	if (!have_capinfos())
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "capinfos '%s/%s' >/dev/null 2>&1", dir, si[i].name);
		if (system(cmd) != 0)
			fail_msg("capinfos rejected %s/%s", dir, si[i].name);
	}
}

/* Every listed shard exists with its size, hash and packet count, and passes the checker. */
static void
verify_shards(const char *dir, const struct dp_shard_info *si, size_t n)
{
	char path[PATH_MAX];
	uint8_t sha[32];

	for (size_t i = 0; i < n; i++) {
		path_in(path, sizeof(path), dir, si[i].name);
		check_ok(path);
		assert_int_equal(file_size(path), si[i].bytes);
		assert_int_equal(count_packets(path), si[i].packets);
		sha256_file(path, sha);
		assert_memory_equal(sha, si[i].sha256, 32);
	}
}

static size_t
count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static struct dp_shard_params
params(const char *dir)
{
	struct dp_shard_params p = {
		.dir = dir,
		.linktype = 1,
		.snaplen = 65535,
		.if_name = "eth0",
		.if_descr = "unit test link",
		.app = "tide test_pcapng",
	};
	return p;
}

/* Size of SHB + IDB for params(): measured from a one-packet shard. */
static uint64_t
header_len(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	uint8_t pkt[100] = { 0 };
	uint64_t n;

	subdir(dir, sizeof(dir), "hdrlen");
	p = params(dir);
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 100, 100), 0);
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), 0);
	path_in(path, sizeof(path), dir, "000000.pcapng");
	n = file_size(path) - epb_len(100) - ISB_LEN;
	assert_true(n > 28 + 20 && n % 4 == 0);
	return n;
}

/* ---- tests ---- */

static void
test_roundtrip(void **state)
{
	enum { N = 3000 };
	char dir[PATH_MAX], path[PATH_MAX], err[512];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	struct dp_pcapfile *f;
	struct dp_pcap_rec r;
	uint8_t pkt[1600];
	size_t n;

	(void)state;
	subdir(dir, sizeof(dir), "rt");
	strcat(dir, "/deep/er/dir"); /* created with its parents */
	p = params(dir);
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	/* No file until the first packet. */
	assert_int_equal(count_suffix(dir, ".part"), 0);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t len = (i * 37) % 1601;

		fill(pkt, len, i);
		assert_int_equal(dp_shard_writer_write(w, T0 + i * 1000ull + i % 7, pkt, len,
					 len + (i % 3 ? 0 : 10)),
			0);
	}
	assert_int_equal(dp_shard_writer_stopped(w), DP_WRITER_STOP_NONE);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(si[0].name, "000000.pcapng");
	assert_int_equal(si[0].packets, N);
	assert_int_equal(si[0].first_ts_ns, T0);
	assert_int_equal(si[0].last_ts_ns, T0 + (N - 1) * 1000ull + (N - 1) % 7);
	assert_true(si[0].bytes > 2 * DP_PCAPNG_BUF_SIZE); /* several buffer flushes */
	verify_shards(dir, si, n);
	capinfos_ok(dir, si, n);
	assert_int_equal(count_suffix(dir, ".part"), 0);

	path_in(path, sizeof(path), dir, si[0].name);
	f = dp_pcapfile_open(path, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(dp_pcapfile_format(f), DP_PCAPFILE_PCAPNG);
	assert_int_equal(dp_pcapfile_linktype(f), 1);
	assert_int_equal(dp_pcapfile_snaplen(f), 65535);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t len = (i * 37) % 1601;

		assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), 1);
		assert_int_equal(r.ts_ns, T0 + i * 1000ull + i % 7);
		assert_int_equal(r.caplen, len);
		assert_int_equal(r.wirelen, len + (i % 3 ? 0 : 10));
		assert_int_equal(r.ifindex, 0);
		assert_true(same_fill(r.data, len, i));
	}
	assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), 0);
	dp_pcapfile_close(f);
	free(si);
}

static void
test_snaplen_and_bad_lengths(void **state)
{
	static uint8_t big[300000];
	char dir[PATH_MAX], path[PATH_MAX], err[512];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_pcapfile *f;
	struct dp_pcap_rec r;

	(void)state;
	subdir(dir, sizeof(dir), "snap");
	p = params(dir);
	p.snaplen = 100;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	fill(big, 200, 1);
	assert_int_equal(dp_shard_writer_write(w, T0, big, 200, 300), 0);
	/* caplen > wirelen is the caller's bug: refused, the writer goes on. */
	assert_int_equal(dp_shard_writer_write(w, T0, big, 20, 10), -EINVAL);
	assert_int_equal(dp_shard_writer_stopped(w), DP_WRITER_STOP_NONE);
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), 0);
	path_in(path, sizeof(path), dir, "000000.pcapng");
	f = dp_pcapfile_open(path, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(dp_pcapfile_snaplen(f), 100);
	assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), 1);
	assert_int_equal(r.caplen, 100);
	assert_int_equal(r.wirelen, 300);
	assert_true(same_fill(r.data, 100, 1));
	assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), 0);
	dp_pcapfile_close(f);

	/* snaplen 0 ("no limit") still never writes a record readers call corrupt. */
	subdir(dir, sizeof(dir), "snap0");
	p = params(dir);
	p.snaplen = 0;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	assert_int_equal(dp_shard_writer_write(w, T0, big, sizeof(big), sizeof(big)), 0);
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), 0);
	path_in(path, sizeof(path), dir, "000000.pcapng");
	f = dp_pcapfile_open(path, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(dp_pcapfile_next(f, &r, err, sizeof(err)), 1);
	assert_int_equal(r.caplen, 262144);
	assert_int_equal(r.wirelen, sizeof(big));
	dp_pcapfile_close(f);
}

static void
test_rotate_size(void **state)
{
	enum { N = 200, LEN = 300, SHARD = 10000 };
	char dir[PATH_MAX], path[PATH_MAX], err[512], want[32];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint8_t pkt[LEN];
	uint32_t seq = 0;
	size_t n;

	(void)state;
	subdir(dir, sizeof(dir), "rotsize");
	p = params(dir);
	p.shard_size = SHARD;
	p.first_seq = 7;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	for (uint32_t i = 0; i < N; i++) {
		fill(pkt, LEN, i);
		assert_int_equal(dp_shard_writer_write(w, T0 + i, pkt, LEN, LEN), 0);
	}
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_true(n > 5);
	verify_shards(dir, si, n);
	capinfos_ok(dir, si, n);
	for (size_t i = 0; i < n; i++) {
		struct dp_pcapfile *f;
		struct dp_pcap_rec r;

		snprintf(want, sizeof(want), "%06zu.pcapng", 7 + i);
		assert_string_equal(si[i].name, want);
		assert_true(si[i].bytes <= SHARD);
		/* Full: one more packet would not have fitted. */
		if (i + 1 < n)
			assert_true(si[i].bytes + epb_len(LEN) > SHARD);
		path_in(path, sizeof(path), dir, si[i].name);
		f = dp_pcapfile_open(path, err, sizeof(err));
		assert_non_null(f);
		while (dp_pcapfile_next(f, &r, err, sizeof(err)) == 1) {
			assert_int_equal(r.ts_ns, T0 + seq);
			assert_true(same_fill(r.data, LEN, seq));
			seq++;
		}
		dp_pcapfile_close(f);
	}
	assert_int_equal(seq, N);
	free(si);

	/* A shard_size below one packet: every shard still gets its packet. */
	subdir(dir, sizeof(dir), "rotsize-tiny");
	p = params(dir);
	p.shard_size = 64;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(dp_shard_writer_write(w, T0 + i, pkt, LEN, LEN), 0);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(si[i].packets, 1);
	verify_shards(dir, si, n);
	free(si);
}

static void
test_rotate_time(void **state)
{
	char dir[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint8_t pkt[64] = { 0 };
	size_t n;

	(void)state;
	subdir(dir, sizeof(dir), "rottime");
	p = params(dir);
	p.shard_time_ns = 1000000000ull;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	/* Every 100 ms for 5 s: ten packets per one-second shard. */
	for (uint64_t i = 0; i < 50; i++)
		assert_int_equal(dp_shard_writer_write(w, T0 + i * 100000000ull, pkt, 64, 64), 0);
	/* Time going backwards does not rotate. */
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 64, 64), 0);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(si[i].packets, i == 4 ? 11 : 10);
		assert_int_equal(si[i].first_ts_ns, T0 + i * 1000000000ull);
	}
	assert_int_equal(si[4].last_ts_ns, T0);
	verify_shards(dir, si, n);
	free(si);
}

/* Write LEN-byte packets until refused; returns how many were taken. */
static uint32_t
fill_until_refused(struct dp_shard_writer *w, uint32_t len, int want_rc)
{
	uint8_t pkt[1600];
	uint32_t i;
	int rc = 0;

	for (i = 0; i < 1000000; i++) {
		fill(pkt, len, i);
		rc = dp_shard_writer_write(w, T0 + i, pkt, len, len);
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, want_rc);
	return i;
}

static void
check_max_total(uint64_t shard_size, uint64_t max_total, uint32_t want_pkts)
{
	char dir[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint8_t pkt[4] = { 0 };
	uint64_t sum = 0, pkts = 0;
	size_t n;

	subdir(dir, sizeof(dir), "maxtotal");
	p = params(dir);
	p.shard_size = shard_size;
	p.max_total = max_total;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	assert_int_equal(fill_until_refused(w, 100, -EFBIG), want_pkts);
	assert_int_equal(dp_shard_writer_stopped(w), DP_WRITER_STOP_MAX_SIZE);
	assert_string_equal(dp_writer_stop_names[dp_shard_writer_stopped(w)], "max size reached");
	/* Stopped for good, even for a packet that would fit. */
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 0, 0), -EFBIG);
	assert_true(dp_shard_writer_bytes_total(w) + ISB_LEN <= max_total);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	for (size_t i = 0; i < n; i++) {
		sum += si[i].bytes;
		pkts += si[i].packets;
	}
	assert_int_equal(pkts, want_pkts);
	assert_true(sum <= max_total);
	verify_shards(dir, si, n);
	free(si);
}

static void
test_max_total(void **state)
{
	uint64_t hdr = header_len(), e = epb_len(100);
	uint64_t shard3 = hdr + 3 * e + ISB_LEN;

	(void)state;
	/* Exactly ten packets fit, the total then equals max_total to the byte. */
	check_max_total(0, hdr + 10 * e + ISB_LEN, 10);
	check_max_total(0, hdr + 10 * e + ISB_LEN - 1, 9);
	/* Too small for even one packet. */
	check_max_total(0, hdr + e + ISB_LEN - 1, 0);
	/* With rotation every shard pays its own SHB, IDB and ISB. */
	check_max_total(shard3, 3 * shard3, 9);
	check_max_total(shard3, 3 * shard3 + hdr + e + ISB_LEN - 1, 9);
	check_max_total(shard3, 3 * shard3 + hdr + e + ISB_LEN, 10);
}

static void
check_isb(const char *path, uint64_t start, uint64_t end, uint64_t recv, uint64_t drop)
{
	size_t len;
	uint8_t *b = slurp(path, &len);
	const uint8_t *q = b + len - ISB_LEN;
	uint32_t v32[5];
	uint64_t v64;

	assert_true(len > ISB_LEN);
	memcpy(v32, q, 20);
	assert_int_equal(v32[0], 5);
	assert_int_equal(v32[1], ISB_LEN);
	assert_int_equal(v32[2], 0);
	assert_int_equal((uint64_t)v32[3] << 32 | v32[4], end);
	q += 20;
	for (uint16_t code = 2; code <= 5; code++, q += 12) {
		uint16_t c, l;

		memcpy(&c, q, 2);
		memcpy(&l, q + 2, 2);
		assert_int_equal(c, code);
		assert_int_equal(l, 8);
		if (code <= 3) {
			memcpy(v32, q + 4, 8);
			v64 = (uint64_t)v32[0] << 32 | v32[1];
			assert_int_equal(v64, code == 2 ? start : end);
		} else {
			memcpy(&v64, q + 4, 8);
			assert_int_equal(v64, code == 4 ? recv : drop);
		}
	}
	memcpy(v32, q, 8);
	assert_int_equal(v32[0], 0); /* end of options */
	assert_int_equal(v32[1], ISB_LEN);
	free(b);
}

static void
test_isb_counters(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint8_t pkt[64] = { 0 };
	size_t n;

	(void)state;
	subdir(dir, sizeof(dir), "isb");
	p = params(dir);
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	dp_shard_writer_set_counters(w, 1, 2);
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(dp_shard_writer_write(w, T0 + i * 10, pkt, 64, 64), 0);
	/* Each shard's ISB carries the counters at the time it closes. */
	assert_int_equal(dp_shard_writer_rotate(w), 0);
	assert_int_equal(dp_shard_writer_rotate(w), 0); /* nothing open: no-op */
	dp_shard_writer_set_counters(w, 1000, 7);
	assert_int_equal(dp_shard_writer_write(w, T0 + 99, pkt, 64, 64), 0);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_int_equal(n, 2);
	path_in(path, sizeof(path), dir, si[0].name);
	check_isb(path, T0 + 10, T0 + 50, 1, 2);
	path_in(path, sizeof(path), dir, si[1].name);
	check_isb(path, T0 + 99, T0 + 99, 1000, 7);
	verify_shards(dir, si, n);
	capinfos_ok(dir, si, n);
	free(si);
}

static void
test_sha256_matches_file(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint8_t pkt[1500], sha[32];
	size_t n;

	(void)state;
	subdir(dir, sizeof(dir), "sha");
	p = params(dir);
	p.shard_size = 3 * DP_PCAPNG_BUF_SIZE + 12345; /* shards end mid-buffer */
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	for (uint32_t i = 0; i < 6000; i++) {
		uint32_t len = 1000 + i % 500;

		fill(pkt, len, i);
		assert_int_equal(dp_shard_writer_write(w, T0 + i, pkt, len, len), 0);
	}
	assert_int_equal(dp_shard_writer_close(w, &si, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		path_in(path, sizeof(path), dir, si[i].name);
		sha256_file(path, sha);
		assert_memory_equal(sha, si[i].sha256, 32);
	}
	free(si);
}

/* The drone's shape: one thread feeding several shard writers whose buffers queue up together
 * for the write and SHA-256 helper threads, some with O_DIRECT and some through the page cache:
 * every shard still reads back whole, in order, with its own digest. */
static void
test_interleaved_writers(void **state)
{
	enum { W = 4, N = 9000 };
	char dir[W][PATH_MAX], path[PATH_MAX];
	struct dp_shard_writer *w[W];
	struct dp_shard_info *si;
	uint8_t pkt[1500], sha[32];
	size_t n;

	(void)state;
	for (int k = 0; k < W; k++) {
		struct dp_shard_params p;
		char name[16];

		snprintf(name, sizeof(name), "inter%d", k);
		subdir(dir[k], sizeof(dir[k]), name);
		p = params(dir[k]);
		p.shard_size = 2 * DP_PCAPNG_BUF_SIZE + 1000u * (unsigned int)k;
		p.no_direct = k % 2;
		w[k] = dp_shard_writer_open(&p);
		assert_non_null(w[k]);
	}
	for (uint32_t i = 0; i < N; i++) {
		for (int k = 0; k < W; k++) {
			uint32_t len = 60 + (i * 7 + (uint32_t)k) % 1400;

			fill(pkt, len, i * W + (uint32_t)k);
			assert_int_equal(dp_shard_writer_write(w[k], T0 + i, pkt, len, len), 0);
		}
	}
	for (int k = 0; k < W; k++) {
		uint32_t i = 0;

		assert_int_equal(dp_shard_writer_close(w[k], &si, &n), 0);
		assert_true(n >= 2);
		verify_shards(dir[k], si, n);
		for (size_t s = 0; s < n; s++) { /* every packet, in order, byte for byte */
			char err[256];
			struct dp_pcapfile *f;
			struct dp_pcap_rec r;

			path_in(path, sizeof(path), dir[k], si[s].name);
			sha256_file(path, sha);
			assert_memory_equal(sha, si[s].sha256, 32);
			f = dp_pcapfile_open(path, err, sizeof(err));
			assert_non_null(f);
			while (dp_pcapfile_next(f, &r, err, sizeof(err)) == 1) {
				assert_int_equal(r.caplen, 60 + (i * 7 + (uint32_t)k) % 1400);
				assert_true(same_fill(r.data, r.caplen, i * W + (uint32_t)k));
				i++;
			}
			dp_pcapfile_close(f);
		}
		assert_int_equal(i, N);
		free(si);
	}
}

/* Build a .part from the first `cut` bytes of a good shard and recover it. */
static void
recover_cut(const uint8_t *good, size_t cut, uint64_t want_size, uint64_t want_pkts)
{
	char dir[PATH_MAX], path[PATH_MAX], other[PATH_MAX];
	unsigned int next = 99, disc = 99;
	int rc;

	subdir(dir, sizeof(dir), "recover");
	assert_int_equal(mkdir(dir, 0755), 0);
	path_in(other, sizeof(other), dir, "000001.pcapng");
	spill(other, good, 8); /* an older, finished shard: only its name matters */
	path_in(path, sizeof(path), dir, "000003.pcapng.part");
	spill(path, good, cut);
	rc = dp_shard_dir_recover(dir, &next, &disc);
	assert_false(exists(path));
	path_in(path, sizeof(path), dir, "000003.pcapng");
	if (want_pkts == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(disc, 1);
		assert_int_equal(next, 2);
		assert_false(exists(path));
		return;
	}
	assert_int_equal(rc, 1);
	assert_int_equal(disc, 0);
	assert_int_equal(next, 4);
	assert_int_equal(file_size(path), want_size);
	check_ok(path);
	assert_int_equal(count_packets(path), want_pkts);
}

static void
test_recover_every_cut(void **state)
{
	static const uint32_t lens[] = { 50, 61, 72, 83, 94 };
	char dir[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	uint8_t pkt[100], *good;
	size_t len, isb_at, last_at, first_end;
	unsigned int next, disc;

	(void)state;
	subdir(dir, sizeof(dir), "recover-src");
	p = params(dir);
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	for (size_t i = 0; i < 5; i++) {
		fill(pkt, lens[i], (uint32_t)i);
		assert_int_equal(dp_shard_writer_write(w, T0 + i, pkt, lens[i], lens[i]), 0);
	}
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), 0);
	path_in(path, sizeof(path), dir, "000000.pcapng");
	good = slurp(path, &len);
	isb_at = len - ISB_LEN;
	last_at = isb_at - epb_len(94);
	first_end = len - ISB_LEN;
	for (size_t i = 0; i < 5; i++)
		first_end -= epb_len(lens[i]);
	first_end += epb_len(lens[0]);

	/* Killed while writing the last packet: every cut inside it loses just that packet. */
	for (size_t cut = last_at; cut < isb_at; cut++)
		recover_cut(good, cut, last_at, 4);
	/* Killed while writing the ISB: all packets kept, the partial ISB dropped. */
	for (size_t cut = isb_at; cut < len; cut++)
		recover_cut(good, cut, isb_at, 5);
	recover_cut(good, len, len, 5);
	/* Killed before the first packet was whole: nothing worth keeping. */
	for (size_t cut = 0; cut < first_end; cut++)
		recover_cut(good, cut, 0, 0);
	recover_cut(good, first_end, first_end, 1);

	/* A stale .part whose final name already exists is dropped, the final kept. */
	subdir(dir, sizeof(dir), "recover-dup");
	assert_int_equal(mkdir(dir, 0755), 0);
	path_in(path, sizeof(path), dir, "000010.pcapng");
	spill(path, good, len);
	path_in(path, sizeof(path), dir, "000010.pcapng.part");
	spill(path, good, last_at);
	path_in(path, sizeof(path), dir, "junk.pcapng.part"); /* not a shard name: ignored */
	spill(path, good, 10);
	assert_int_equal(dp_shard_dir_recover(dir, &next, &disc), 0);
	assert_int_equal(next, 11);
	assert_int_equal(disc, 1);
	path_in(path, sizeof(path), dir, "000010.pcapng");
	assert_int_equal(file_size(path), len);
	path_in(path, sizeof(path), dir, "junk.pcapng.part");
	assert_true(exists(path));

	/* Empty and missing directories start at 0. */
	subdir(dir, sizeof(dir), "recover-empty");
	assert_int_equal(mkdir(dir, 0755), 0);
	next = disc = 99;
	assert_int_equal(dp_shard_dir_recover(dir, &next, &disc), 0);
	assert_int_equal(next, 0);
	assert_int_equal(disc, 0);
	strcat(dir, "/missing");
	next = 99;
	assert_int_equal(dp_shard_dir_recover(dir, &next, NULL), 0);
	assert_int_equal(next, 0);
	free(good);
}

static void
expect_check_error(const char *path, const char *what)
{
	char err[512] = "";

	assert_int_equal(dp_pcapng_check(path, err, sizeof(err)), -1);
	if (strstr(err, path) != err || strstr(err, what) == NULL)
		fail_msg("check error '%s' lacks '%s'", err, what);
}

static void
test_check_rejects(void **state)
{
	char dir[PATH_MAX], src[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	uint8_t pkt[40] = { 0 }, *good;
	size_t len;
	uint32_t v;

	(void)state;
	subdir(dir, sizeof(dir), "check");
	p = params(dir);
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 40, 40), 0);
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), 0);
	path_in(src, sizeof(src), dir, "000000.pcapng");
	good = slurp(src, &len);
	check_ok(src);

	path_in(path, sizeof(path), dir, "bad");
	spill(path, good, 0);
	expect_check_error(path, "offset 0: empty file");
	spill(path, good, len - 1);
	expect_check_error(path, "truncated block");
	good[len - 1] ^= 0x40; /* ISB trailer */
	spill(path, good, len);
	expect_check_error(path, "trailing block length");
	good[len - 1] ^= 0x40;
	v = 0xa1b2c3d4;
	memcpy(good, &v, 4);
	spill(path, good, len);
	expect_check_error(path, "offset 0: not a pcapng file");
	path_in(path, sizeof(path), dir, "missing");
	expect_check_error(path, "offset 0: open");
	expect_check_error(dir, "not a regular file");
	free(good);
}

static void
test_errors_and_names(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dp_shard_params p = { 0 };
	struct dp_shard_writer *w;
	uint8_t pkt[40] = { 0 };
	size_t len;
	uint8_t *b;

	(void)state;
	assert_string_equal(dp_writer_stop_names[DP_WRITER_STOP_NONE], "none");
	assert_string_equal(dp_writer_stop_names[DP_WRITER_STOP_MAX_SIZE], "max size reached");
	assert_string_equal(dp_writer_stop_names[DP_WRITER_STOP_DISK_FULL], "disk full");
	assert_string_equal(dp_writer_stop_names[DP_WRITER_STOP_IO_ERROR], "i/o error");
	assert_int_equal(dp_shard_writer_close(NULL, NULL, NULL), 0);

	errno = 0;
	assert_null(dp_shard_writer_open(&p));
	assert_int_equal(errno, EINVAL);
	assert_null(dp_shard_writer_open(NULL));

	/* The directory is a regular file. */
	subdir(dir, sizeof(dir), "notdir");
	spill(dir, pkt, 4);
	p = params(dir);
	errno = 0;
	assert_null(dp_shard_writer_open(&p));
	assert_int_equal(errno, ENOTDIR);

	/* A finished shard with the next name is never overwritten. */
	subdir(dir, sizeof(dir), "exists");
	assert_int_equal(mkdir(dir, 0755), 0);
	path_in(path, sizeof(path), dir, "000004.pcapng");
	spill(path, (const uint8_t *)"keep", 4);
	p = params(dir);
	p.first_seq = 4;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 40, 40), -EIO);
	assert_int_equal(dp_shard_writer_stopped(w), DP_WRITER_STOP_IO_ERROR);
	assert_int_equal(dp_shard_writer_write(w, T0, pkt, 40, 40), -EIO);
	assert_int_equal(dp_shard_writer_close(w, NULL, NULL), -EEXIST);
	b = slurp(path, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(b, "keep", 4);
	free(b);
}

/* Write into a 256 KiB tmpfs until the disk is full. */
static void
disk_full_run(const char *mnt, const char *name, uint64_t shard_size)
{
	char dir[PATH_MAX], cmd[PATH_MAX + 32];
	struct dp_shard_params p;
	struct dp_shard_writer *w;
	struct dp_shard_info *si;
	uint64_t pkts = 0;
	uint32_t taken;
	size_t n;

	path_in(dir, sizeof(dir), mnt, name);
	p = params(dir);
	p.shard_size = shard_size;
	w = dp_shard_writer_open(&p);
	assert_non_null(w);
	taken = fill_until_refused(w, 1400, -ENOSPC);
	assert_true(taken > 0);
	assert_int_equal(dp_shard_writer_stopped(w), DP_WRITER_STOP_DISK_FULL);
	assert_string_equal(dp_writer_stop_names[DP_WRITER_STOP_DISK_FULL], "disk full");
	assert_int_equal(dp_shard_writer_write(w, T0, NULL, 0, 0), -ENOSPC);
	assert_int_equal(dp_shard_writer_close(w, &si, &n), -ENOSPC);
	/* The cut-back last shard is kept under its final name; nothing is left as .part. */
	assert_true(n >= 1);
	assert_int_equal(count_suffix(dir, ".pcapng"), n);
	assert_int_equal(count_suffix(dir, ".part"), 0);
	verify_shards(dir, si, n);
	capinfos_ok(dir, si, n);
	for (size_t i = 0; i < n; i++)
		pkts += si[i].packets;
	assert_true(pkts > 0 && pkts <= taken);
	free(si);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_disk_full(void **state)
{
	char mnt[PATH_MAX];

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: disk-full test skipped\n");
		skip();
	}
	subdir(mnt, sizeof(mnt), "tmpfs");
	assert_int_equal(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
		print_message("mount tmpfs: %s: disk-full test skipped\n", strerror(errno));
		skip();
	}
	disk_full_run(mnt, "one", 0);          /* ENOSPC on the first buffer flush */
	disk_full_run(mnt, "rot", 60000);      /* ENOSPC while closing a later shard */
	disk_full_run(mnt, "small", 7000);     /* many small shards, then ENOSPC */
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_pcapng.XXXXXX");
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 32];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/tmpfs", tmp_dir);
	umount2(cmd, MNT_DETACH); /* if a failed test left it mounted */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_snaplen_and_bad_lengths),
		cmocka_unit_test(test_rotate_size),
		cmocka_unit_test(test_rotate_time),
		cmocka_unit_test(test_max_total),
		cmocka_unit_test(test_isb_counters),
		cmocka_unit_test(test_sha256_matches_file),
		cmocka_unit_test(test_interleaved_writers),
		cmocka_unit_test(test_recover_every_cut),
		cmocka_unit_test(test_check_rejects),
		cmocka_unit_test(test_errors_and_names),
		cmocka_unit_test(test_disk_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
