/* bench_pcapfile.c — micro-benchmark of the offline reader and the shard writer (a meson
 * benchmark, not a test: timings depend on the machine).
 *
 * Generates a pcap of about SIZE_MB megabytes (frames of LEN bytes; 0, the default, mixes
 * 60..1514) in DIR, reads
 * it with dp_pcapfile from the page cache (best of 3, touching the first byte of every frame as
 * the parser would), then writes the same packets through dp_shard_writer into DIR (SHA-256,
 * 1 GiB shards, fsync and rename included) and deletes everything it made.
 *
 * A meson benchmark, not a test: in a release build, `meson test -C build --benchmark
 * bench_pcapfile` (DIR = its build directory, 500 MB), or run it as `bench_pcapfile DIR SIZE_MB
 * [LEN]`. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_pcapfile.h"
#include "dp_pcapng.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
make_pcap(const char *path, uint64_t target, uint32_t fixed)
{
	static uint8_t chunk[1 << 22];
	uint32_t hdr[6] = { 0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1 };
	size_t fill = 0;
	uint64_t n = 0, size = sizeof(hdr);
	FILE *fp = fopen(path, "wb");

	if (fp == NULL || fwrite(hdr, sizeof(hdr), 1, fp) != 1) {
		perror(path);
		exit(1);
	}
	while (size < target) {
		uint32_t len = fixed ? fixed : 60 + (uint32_t)((n * 97) % 1455);
		uint32_t rec[4] = { (uint32_t)(1700000000 + n / 1000000), (uint32_t)(n % 1000000), len,
			len };

		if (fill + 16 + len > sizeof(chunk)) {
			if (fwrite(chunk, 1, fill, fp) != fill)
				exit(1);
			fill = 0;
		}
		memcpy(chunk + fill, rec, 16);
		memset(chunk + fill + 16, (int)(n & 0xff), len);
		fill += 16 + len;
		size += 16 + len;
		n++;
	}
	if (fwrite(chunk, 1, fill, fp) != fill || fclose(fp) != 0)
		exit(1);
	return n;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint64_t mb = argc > 2 ? strtoull(argv[2], NULL, 10) : 500;
	uint32_t fixed = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
	char path[PATH_MAX], wdir[PATH_MAX], cmd[PATH_MAX + 16], err[512];
	struct dp_pcap_rec r;
	struct dp_shard_info *si;
	size_t n_si;
	uint64_t pkts, size = 0, sum, wbytes = 0;
	unsigned int acc = 0;
	double best = 1e9, t;

	snprintf(path, sizeof(path), "%s/bench_pcapfile.%d.pcap", dir, (int)getpid());
	snprintf(wdir, sizeof(wdir), "%s/bench_pcapfile.%d.shards", dir, (int)getpid());
	if (fixed > 65535) {
		fprintf(stderr, "LEN must be at most 65535\n");
		return 2;
	}
	pkts = make_pcap(path, mb << 20, fixed);

	for (int round = 0; round < 3; round++) {
		struct dp_pcapfile *f;
		uint64_t n = 0;

		t = now();
		f = dp_pcapfile_open(path, err, sizeof(err));
		if (f == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		sum = 0;
		while (dp_pcapfile_next(f, &r, err, sizeof(err)) == 1) {
			sum += r.caplen;
			acc += r.data[0];
			n++;
		}
		size = dp_pcapfile_size(f);
		dp_pcapfile_close(f);
		t = now() - t;
		if (n != pkts) {
			fprintf(stderr, "read %" PRIu64 " of %" PRIu64 " packets\n", n, pkts);
			return 1;
		}
		best = t < best ? t : best;
	}
	printf("read:  %.1f MB, %" PRIu64 " packets (%" PRIu64 " payload bytes), %.3f s: "
	       "%.2f GB/s, %.1f Mpps (checksum %u)\n",
		(double)size / 1e6, pkts, sum, best, (double)size / best / 1e9,
		(double)pkts / best / 1e6, acc);

	{
		struct dp_shard_params p = {
			.dir = wdir,
			.linktype = 1,
			.snaplen = 65535,
			.shard_size = 1ull << 30,
			.if_name = "bench",
		};
		struct dp_shard_writer *w;
		struct dp_pcapfile *f = dp_pcapfile_open(path, err, sizeof(err));

		if (f == NULL)
			return 1;
		t = now();
		w = dp_shard_writer_open(&p);
		if (w == NULL) {
			perror("dp_shard_writer_open");
			return 1;
		}
		while (dp_pcapfile_next(f, &r, err, sizeof(err)) == 1)
			if (dp_shard_writer_write(w, r.ts_ns, r.data, r.caplen, r.wirelen) != 0) {
				fprintf(stderr, "write failed\n");
				return 1;
			}
		if (dp_shard_writer_close(w, &si, &n_si) != 0) {
			fprintf(stderr, "close failed\n");
			return 1;
		}
		t = now() - t;
		dp_pcapfile_close(f);
		for (size_t i = 0; i < n_si; i++)
			wbytes += si[i].bytes;
		free(si);
		printf("write: %.1f MB in %zu shard(s), %.3f s: %.2f GB/s, %.1f Mpps "
		       "(read + SHA-256 + write + fsync)\n",
			(double)wbytes / 1e6, n_si, t, (double)wbytes / t / 1e9, (double)pkts / t / 1e6);
	}

	unlink(path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", wdir);
	return system(cmd) == 0 ? 0 : 1;
}
