/* dp_pcapng.c — the shard writer (pcapng shards rotated by size and packet time, crash-safe,
 * hashed on the way out), plus the block walker that the checker and crash recovery share.
 *
 * Layout of a shard: SHB, IDB (if_tsresol = 9, so EPB timestamps are nanoseconds), EPBs, ISB.
 * Blocks are assembled in DP_PCAPNG_BUF_SIZE buffers and leave in exactly buffer-sized
 * write(2)s (the last one of a shard excepted), with O_DIRECT where the file system takes it
 * (the page cache is not the dataset's way to the disk: n2disk's choice too). Each full
 * buffer goes to the write and hash threads (dp_writeback.h) while the writer fills the next
 * one, so the disk always has a write in flight, SHA-256 costs the writer's core nothing and
 * nothing is read back on the normal path. A shard lives as NNNNNN.pcapng.part
 * until it is complete and fsync'd; only then is it renamed, so a file with the final name is
 * always a whole, valid pcapng. On a write error the partial shard is cut back to its last whole
 * block (the only path that reads data back). Files are written in host byte order. */
#include "dp_pcapng.h"
#include "dp_load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dp_writeback.h"
#include "tide_fs.h"

#define pw_unlikely(x) __builtin_expect(!!(x), 0)

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define PW_USE_MMAP 0
#else
#define PW_USE_MMAP 1
#endif

#define NG_SHB 0x0a0d0d0au
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_ISB 5u
#define NG_EPB 6u
#define NG_BOM 0x1a2b3c4du

#define OPT_END 0
#define OPT_SHB_OS 3
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_DESCR 3
#define OPT_IF_TSRESOL 9
#define OPT_ISB_STARTTIME 2
#define OPT_ISB_ENDTIME 3
#define OPT_ISB_IFRECV 4
#define OPT_ISB_IFDROP 5

/* Same bound as the reader (libpcap's MAXIMUM_SNAPLEN): longer records would be refused. */
#define PW_MAX_CAPLEN 262144u
/* String options are cut to this, which keeps SHB + IDB well under a page. */
#define PW_OPT_STR_MAX 1024u
#define EPB_OVERHEAD 32u
/* ISB: header 8, if_id 4, timestamp 8, four 12-byte options, end-of-options 4, trailer 4. */
#define ISB_LEN 76u
/* Buffers per shard writer: one being filled, the others on their way to the disk. */
#define DP_PCAPNG_NBUF 3u

const char *const dp_writer_stop_names[DP_WRITER_STOP_MAX] = {
#define _(sym, name) [DP_WRITER_STOP_##sym] = name,
	DP_WRITER_STOP_LIST(_)
#undef _
};

struct dp_shard_writer {
	struct dp_shard_params p; /* string members point at the copies below */
	char *dir, *if_name, *if_descr, *app;
	int dirfd;
	int fd;            /* the open .part, or -1 between shards */
	unsigned int seq;  /* number of the open shard, or of the next one */
	uint8_t *buf;      /* the buffer being filled: one of bufs[] */
	size_t buf_len;
	uint8_t *bufs[DP_PCAPNG_NBUF]; /* DP_PCAPNG_BUF_SIZE bytes each, 4 KiB aligned */
	atomic_int pending[DP_PCAPNG_NBUF]; /* helpers still holding bufs[i] (dp_writeback.h) */
	struct dp_writeback_status wst;     /* their errors for the open shard */
	unsigned int cur;              /* buf == bufs[cur] */
	bool direct;       /* the open .part has O_DIRECT */
	uint8_t *hdr;      /* SHB + IDB, built once at open */
	size_t hdr_len;
	EVP_MD_CTX *md;
	uint64_t shard_bytes; /* of the open shard, buffered bytes included, ISB not */
	uint64_t on_disk;     /* of the open shard: bytes handed to write(2) */
	uint64_t wb_started;  /* of the open shard: bytes whose writeback was started */
	uint64_t shard_packets, first_ts, last_ts;
	uint64_t closed_bytes; /* of the completed shards */
	uint64_t if_recv, if_drop;
	enum dp_writer_stop stop;
	int last_err; /* last I/O error, as -errno */
	struct dp_shard_info *shards;
	size_t n_shards, cap_shards;
	char part[32];
};

static inline uint32_t
pad4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

static inline void
st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void
st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void
st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* ---- the block walker: structure only, stops at the first block that is not whole ---- */

struct ng_walk {
	uint64_t good_end; /* end of the last whole, well-formed block */
	uint64_t n_shb, n_idb, n_pkt;
	uint64_t first_ts, last_ts; /* raw EPB timestamps (nanoseconds in tide's own shards) */
	uint64_t bad_off;
	char why[96];
};

static int __attribute__((format(printf, 2, 3)))
walk_fail(struct ng_walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* An option list runs from o to end: whole options, ended by opt_endofopt or by the body. */
static int
opts_ok(int swap, const uint8_t *o, const uint8_t *end)
{
	while (end - o >= 4) {
		uint16_t code = ld16(swap, o);
		uint32_t padded = pad4(ld16(swap, o + 2));

		if (padded > (size_t)(end - o - 4))
			return -1;
		o += 4 + padded;
		if (code == OPT_END)
			return 0;
	}
	return o == end ? 0 : -1;
}

static int
ng_walk(const uint8_t *base, uint64_t size, struct ng_walk *w)
{
	uint64_t pos = 0;
	uint32_t n_if = 0; /* interfaces of the current section */
	int swap = 0;

	memset(w, 0, sizeof(*w));
	while (pos < size) {
		const uint8_t *p = base + pos;
		uint64_t left = size - pos;
		uint32_t type, len, caplen;

		w->bad_off = pos;
		if (left < 12)
			return walk_fail(w, "truncated block (%" PRIu64 " bytes left)", left);
		memcpy(&type, p, sizeof(type));
		if (pos == 0 && type != NG_SHB)
			return walk_fail(w, "not a pcapng file (no section header block)");
		if (type == NG_SHB) {
			uint32_t bom;

			memcpy(&bom, p + 8, sizeof(bom));
			if (bom != NG_BOM && bom != __builtin_bswap32(NG_BOM))
				return walk_fail(w, "bad byte-order magic");
			swap = bom != NG_BOM;
		} else {
			type = ld32(swap, p);
		}
		len = ld32(swap, p + 4);
		if (len % 4 != 0 || len < 12)
			return walk_fail(w, "bad block length %u", len);
		if (len > left)
			return walk_fail(w, "truncated block (length %u, %" PRIu64 " bytes left)", len,
				left);
		if (ld32(swap, p + len - 4) != len)
			return walk_fail(w, "trailing block length differs from %u", len);

		switch (type) {
		case NG_SHB:
			if (len < 28)
				return walk_fail(w, "section header block too short");
			if (ld16(swap, p + 12) != 1)
				return walk_fail(w, "unsupported pcapng major version %u",
					ld16(swap, p + 12));
			if (opts_ok(swap, p + 24, p + len - 4) < 0)
				return walk_fail(w, "bad options in section header block");
			n_if = 0;
			w->n_shb++;
			break;
		case NG_IDB:
			if (len < 20)
				return walk_fail(w, "interface description block too short");
			if (opts_ok(swap, p + 16, p + len - 4) < 0)
				return walk_fail(w, "bad options in interface description block");
			n_if++;
			w->n_idb++;
			break;
		case NG_EPB:
			if (len < 32)
				return walk_fail(w, "enhanced packet block too short");
			if (ld32(swap, p + 8) >= n_if)
				return walk_fail(w, "interface %u not defined", ld32(swap, p + 8));
			caplen = ld32(swap, p + 20);
			if (caplen > len - 32)
				return walk_fail(w, "caplen %u exceeds the block body", caplen);
			if (opts_ok(swap, p + 28 + pad4(caplen), p + len - 4) < 0)
				return walk_fail(w, "bad options in enhanced packet block");
			w->last_ts = (uint64_t)ld32(swap, p + 12) << 32 | ld32(swap, p + 16);
			if (w->n_pkt++ == 0)
				w->first_ts = w->last_ts;
			break;
		case NG_PB:
			if (len < 32)
				return walk_fail(w, "packet block too short");
			if (ld16(swap, p + 8) >= n_if)
				return walk_fail(w, "interface %u not defined", ld16(swap, p + 8));
			if (ld32(swap, p + 20) > len - 32)
				return walk_fail(w, "caplen %u exceeds the block body",
					ld32(swap, p + 20));
			w->n_pkt++;
			break;
		case NG_SPB:
			if (len < 16)
				return walk_fail(w, "simple packet block too short");
			if (n_if == 0)
				return walk_fail(w, "interface 0 not defined");
			w->n_pkt++;
			break;
		case NG_ISB:
			if (len < 24)
				return walk_fail(w, "interface statistics block too short");
			if (ld32(swap, p + 8) >= n_if)
				return walk_fail(w, "interface %u not defined", ld32(swap, p + 8));
			if (opts_ok(swap, p + 20, p + len - 4) < 0)
				return walk_fail(w, "bad options in interface statistics block");
			break;
		default: /* NRB, DSB, custom, unknown: structure checked above */
			break;
		}
		pos += len;
		w->good_end = pos;
	}
	return 0;
}

/* Walk an open file: mapped when possible, else read whole (recovery and checks only). */
static int
walk_fd(int fd, struct ng_walk *w)
{
	struct stat st;
	uint64_t size, got = 0;
	void *m;
	uint8_t *buf;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	size = (uint64_t)st.st_size;
	if (size == 0 || size > SIZE_MAX) {
		memset(w, 0, sizeof(*w));
		if (size == 0)
			return walk_fail(w, "empty file"), 1;
		return -EFBIG;
	}
	/* Fuzz builds walk a malloc'd copy, so AddressSanitizer sees any read past the end. */
	m = PW_USE_MMAP ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (m != MAP_FAILED) {
		r = ng_walk(m, size, w) < 0;
		munmap(m, (size_t)size);
		return r;
	}
	buf = malloc((size_t)size);
	if (buf == NULL)
		return -ENOMEM;
	while (got < size) {
		ssize_t n = pread(fd, buf + got, (size_t)(size - got), (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		got += (uint64_t)n;
	}
	r = ng_walk(buf, size, w) < 0;
	free(buf);
	return r;
}

int
dp_pcapng_check(const char *path, char *err, size_t errlen)
{
	struct ng_walk w;
	struct stat st;
	int fd, r;

	if (err == NULL)
		errlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: offset 0: open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: offset 0: not a regular file", path);
		close(fd);
		return -1;
	}
	r = walk_fd(fd, &w);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: offset 0: read: %s", path, strerror(-r));
		return -1;
	}
	if (r > 0) {
		snprintf(err, errlen, "%s: offset %" PRIu64 ": %s", path, w.bad_off, w.why);
		return -1;
	}
	return 0;
}

/* ---- shard names, directories ---- */

/* NNNNNN.pcapng or NNNNNN.pcapng.part (6 to 10 digits, as "%06u" prints). */
static int
parse_shard_name(const char *name, unsigned int *seq, int *is_part)
{
	unsigned long long v = 0;
	size_t nd = 0;

	while (name[nd] >= '0' && name[nd] <= '9') {
		v = v * 10 + (unsigned int)(name[nd] - '0');
		if (++nd > 10)
			return 0;
	}
	if (nd < 6 || v > UINT_MAX)
		return 0;
	if (strcmp(name + nd, ".pcapng") == 0)
		*is_part = 0;
	else if (strcmp(name + nd, ".pcapng.part") == 0)
		*is_part = 1;
	else
		return 0;
	*seq = (unsigned int)v;
	return 1;
}

/* Rename without replacing: a shard with the final name is never overwritten. */
static int
rename_noreplace(int dirfd, const char *from, const char *to)
{
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* File systems without RENAME_NOREPLACE: link refuses an existing name too. */
	if (linkat(dirfd, from, dirfd, to, 0) < 0)
		return -errno;
	return unlinkat(dirfd, from, 0) < 0 ? -errno : 0;
}

/* ---- crash recovery ---- */

/* 1: repaired and renamed, 0: discarded, < 0: -errno. */
static int
recover_one(int dfd, unsigned int seq)
{
	char part[32], final[32];
	struct ng_walk w;
	int fd, r;

	snprintf(part, sizeof(part), "%06u.pcapng.part", seq);
	snprintf(final, sizeof(final), "%06u.pcapng", seq);
	fd = openat(dfd, part, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = walk_fd(fd, &w);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (w.n_shb == 0 || w.n_idb == 0 || w.n_pkt == 0 ||
		faccessat(dfd, final, F_OK, 0) == 0) {
		/* Nothing worth keeping, or a complete shard already holds the name. */
		close(fd);
		return unlinkat(dfd, part, 0) < 0 ? -errno : 0;
	}
	if (ftruncate(fd, (off_t)w.good_end) < 0 || fsync(fd) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	r = rename_noreplace(dfd, part, final);
	return r < 0 ? r : 1;
}

int
dp_shard_dir_recover(const char *dir, unsigned int *next_seq, unsigned int *n_discarded)
{
	unsigned int *parts = NULL, max_seq = 0, discarded = 0, seq;
	size_t n_parts = 0, cap_parts = 0;
	int dfd, dfd2, is_part, have = 0, repaired = 0, err = 0, r;
	struct dirent *de;
	DIR *d;

	if (next_seq != NULL)
		*next_seq = 0;
	if (n_discarded != NULL)
		*n_discarded = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno; /* the writer will create it */
	dfd2 = dup(dfd);
	d = dfd2 < 0 ? NULL : fdopendir(dfd2);
	if (d == NULL) {
		err = -errno;
		if (dfd2 >= 0)
			close(dfd2);
		close(dfd);
		return err;
	}
	/* Collect first, repair after: the directory is not changed while it is being read. */
	while ((de = readdir(d)) != NULL) {
		if (!parse_shard_name(de->d_name, &seq, &is_part))
			continue;
		if (!is_part) {
			max_seq = !have || seq > max_seq ? seq : max_seq;
			have = 1;
			continue;
		}
		if (n_parts == cap_parts) {
			size_t cap = cap_parts ? cap_parts * 2 : 16;
			unsigned int *n = realloc(parts, cap * sizeof(*n));

			if (n == NULL) {
				err = -ENOMEM;
				break;
			}
			parts = n;
			cap_parts = cap;
		}
		parts[n_parts++] = seq;
	}
	closedir(d);
	for (size_t i = 0; i < n_parts && err == 0; i++) {
		r = recover_one(dfd, parts[i]);
		if (r < 0) {
			err = r;
		} else if (r == 0) {
			discarded++;
		} else {
			repaired++;
			max_seq = !have || parts[i] > max_seq ? parts[i] : max_seq;
			have = 1;
		}
	}
	if (err == 0 && n_parts > 0 && fsync(dfd) < 0)
		err = -errno;
	close(dfd);
	free(parts);
	if (next_seq != NULL)
		*next_seq = have ? max_seq + 1 : 0;
	if (n_discarded != NULL)
		*n_discarded = discarded;
	return err < 0 ? err : repaired;
}

/* ---- the writer ---- */

static size_t
opt_put(uint8_t *p, uint16_t code, const void *val, uint16_t len)
{
	st16(p, code);
	st16(p + 2, len);
	if (len > 0)
		memcpy(p + 4, val, len);
	memset(p + 4 + len, 0, pad4(len) - len);
	return 4 + pad4(len);
}

static size_t
opt_str_len(const char *s)
{
	return s == NULL ? 0 : strnlen(s, PW_OPT_STR_MAX);
}

static size_t
opt_str_size(size_t len)
{
	return len == 0 ? 0 : 4 + pad4((uint32_t)len);
}

static int
build_hdr(struct dp_shard_writer *w)
{
	struct utsname u;
	char os[sizeof(u.sysname) + sizeof(u.release) + sizeof(u.machine) + 3] = "";
	size_t os_len, app_len, name_len, descr_len, shb_len, idb_len;
	uint8_t *p, *q;
	uint8_t tsresol = 9; /* nanoseconds */

	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s %s", u.sysname, u.release, u.machine);
	os_len = strlen(os);
	app_len = opt_str_len(w->app);
	name_len = opt_str_len(w->if_name);
	descr_len = opt_str_len(w->if_descr);
	shb_len = 28 + opt_str_size(os_len) + opt_str_size(app_len) + 4;
	idb_len = 20 + opt_str_size(name_len) + opt_str_size(descr_len) + 8 + 4;
	p = malloc(shb_len + idb_len);
	if (p == NULL)
		return -1;

	q = p;
	st32(q, NG_SHB);
	st32(q + 4, (uint32_t)shb_len);
	st32(q + 8, NG_BOM);
	st16(q + 12, 1);
	st16(q + 14, 0);
	st64(q + 16, UINT64_MAX); /* section length unknown */
	q += 24;
	if (app_len > 0)
		q += opt_put(q, OPT_SHB_USERAPPL, w->app, (uint16_t)app_len);
	if (os_len > 0)
		q += opt_put(q, OPT_SHB_OS, os, (uint16_t)os_len);
	q += opt_put(q, OPT_END, NULL, 0);
	st32(q, (uint32_t)shb_len);
	q += 4;

	st32(q, NG_IDB);
	st32(q + 4, (uint32_t)idb_len);
	st16(q + 8, (uint16_t)w->p.linktype);
	st16(q + 10, 0);
	st32(q + 12, w->p.snaplen);
	q += 16;
	if (name_len > 0)
		q += opt_put(q, OPT_IF_NAME, w->if_name, (uint16_t)name_len);
	if (descr_len > 0)
		q += opt_put(q, OPT_IF_DESCR, w->if_descr, (uint16_t)descr_len);
	q += opt_put(q, OPT_IF_TSRESOL, &tsresol, 1);
	q += opt_put(q, OPT_END, NULL, 0);
	st32(q, (uint32_t)idb_len);

	w->hdr = p;
	w->hdr_len = shb_len + idb_len;
	return 0;
}

static void
build_isb(const struct dp_shard_writer *w, uint8_t *p, uint64_t start, uint64_t end)
{
	uint8_t *q;

	st32(p, NG_ISB);
	st32(p + 4, ISB_LEN);
	st32(p + 8, 0); /* interface id */
	st32(p + 12, (uint32_t)(end >> 32));
	st32(p + 16, (uint32_t)end);
	q = p + 20;
	st16(q, OPT_ISB_STARTTIME);
	st16(q + 2, 8);
	st32(q + 4, (uint32_t)(start >> 32));
	st32(q + 8, (uint32_t)start);
	q += 12;
	st16(q, OPT_ISB_ENDTIME);
	st16(q + 2, 8);
	st32(q + 4, (uint32_t)(end >> 32));
	st32(q + 8, (uint32_t)end);
	q += 12;
	st16(q, OPT_ISB_IFRECV);
	st16(q + 2, 8);
	st64(q + 4, w->if_recv);
	q += 12;
	st16(q, OPT_ISB_IFDROP);
	st16(q + 2, 8);
	st64(q + 4, w->if_drop);
	q += 12;
	st32(q, 0); /* opt_endofopt */
	st32(q + 4, ISB_LEN);
}

static int
pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Wait until the helpers have let go of every buffer: before the file is synced, cut or read
 * and before the digest is read or reset or the buffers freed. Returns the first write error,
 * else a digest error, else 0. */
static int
settle(struct dp_shard_writer *w)
{
	int r;

	for (unsigned int i = 0; i < DP_PCAPNG_NBUF; i++)
		dp_writeback_wait(&w->pending[i]);
	r = atomic_load_explicit(&w->wst.werr, memory_order_relaxed);
	return r != 0 ? r : atomic_load_explicit(&w->wst.herr, memory_order_relaxed);
}

/* A write that is not a whole aligned buffer (a shard's tail, a salvage) goes through the page
 * cache: O_DIRECT wants aligned lengths and offsets. */
static void
direct_off(struct dp_shard_writer *w)
{
	int fl;

	if (!w->direct)
		return;
	fl = fcntl(w->fd, F_GETFL);
	if (fl >= 0)
		fcntl(w->fd, F_SETFL, fl & ~O_DIRECT);
	w->direct = false;
}

/* Hand the buffer to the helpers and take the next one back. Returns a write error the helpers
 * met on this shard (possibly on an earlier buffer), else 0. */
static int
buf_flush(struct dp_shard_writer *w)
{
	if (w->buf_len == 0)
		return 0;
	if (w->buf_len % 4096u != 0)
		direct_off(w);
	dp_writeback_submit(w->fd, w->on_disk, w->md, w->buf, w->buf_len, &w->pending[w->cur],
		&w->wst);
	w->on_disk += w->buf_len;
	/* through the page cache: start writeback of every 4 MiB already written, so the fsync at
	 * shard close waits for the tail only and the disk works while we capture */
	if (!w->direct && w->on_disk - w->wb_started >= (8u << 20)) {
		sync_file_range(w->fd, (off64_t)w->wb_started, (off64_t)(4u << 20),
			SYNC_FILE_RANGE_WRITE);
		w->wb_started += 4u << 20;
	}
	w->cur = (w->cur + 1) % DP_PCAPNG_NBUF;
	w->buf = w->bufs[w->cur];
	w->buf_len = 0;
	dp_writeback_wait(&w->pending[w->cur]);
	return atomic_load_explicit(&w->wst.werr, memory_order_relaxed);
}

static int
buf_append(struct dp_shard_writer *w, const void *src, size_t n)
{
	const uint8_t *s = src;

	while (n > 0) {
		size_t c = DP_PCAPNG_BUF_SIZE - w->buf_len;
		int r;

		c = c < n ? c : n;
		memcpy(w->buf + w->buf_len, s, c);
		w->buf_len += c;
		s += c;
		n -= c;
		if (w->buf_len == DP_PCAPNG_BUF_SIZE && (r = buf_flush(w)) < 0)
			return r;
	}
	return 0;
}

static int
stop_errno(enum dp_writer_stop s)
{
	switch (s) {
	case DP_WRITER_STOP_MAX_SIZE:
		return -EFBIG;
	case DP_WRITER_STOP_DISK_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

static void
set_error(struct dp_shard_writer *w, int err)
{
	w->last_err = err;
	if (w->stop == DP_WRITER_STOP_NONE || w->stop == DP_WRITER_STOP_MAX_SIZE)
		w->stop = err == -ENOSPC || err == -EDQUOT ? DP_WRITER_STOP_DISK_FULL
							   : DP_WRITER_STOP_IO_ERROR;
}

/* Hash a file from the start (only after a salvage cut it: the running hash no longer fits). */
static int
hash_fd(struct dp_shard_writer *w, uint64_t len, uint8_t sha[32])
{
	uint64_t off = 0;

	settle(w);
	direct_off(w);
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	while (off < len) {
		size_t want = len - off < DP_PCAPNG_BUF_SIZE ? (size_t)(len - off) : DP_PCAPNG_BUF_SIZE;
		ssize_t n = pread(w->fd, w->buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		EVP_DigestUpdate(w->md, w->buf, (size_t)n);
		off += (uint64_t)n;
	}
	return EVP_DigestFinal_ex(w->md, sha, NULL) == 1 ? 0 : -ENOMEM;
}

/* The .part is complete and fsync'd: close it, give it its final name, make the name durable,
 * and list it. On failure the .part stays (valid, for dp_shard_dir_recover). */
static int
shard_publish(struct dp_shard_writer *w, uint64_t bytes, uint64_t packets, uint64_t first_ts,
	uint64_t last_ts, const uint8_t sha[32])
{
	struct dp_shard_info *si = NULL;
	int r = 0;

	if (close(w->fd) < 0)
		r = -errno;
	w->fd = -1;
	w->shard_bytes = 0;
	w->buf_len = 0;
	if (r == 0 && w->n_shards == w->cap_shards) {
		size_t cap = w->cap_shards ? w->cap_shards * 2 : 16;
		struct dp_shard_info *n = realloc(w->shards, cap * sizeof(*n));

		if (n == NULL)
			r = -ENOMEM;
		else
			w->shards = n, w->cap_shards = cap;
	}
	if (r == 0) {
		si = &w->shards[w->n_shards];
		memset(si, 0, sizeof(*si));
		snprintf(si->name, sizeof(si->name), "%06u.pcapng", w->seq);
		r = rename_noreplace(w->dirfd, w->part, si->name);
	}
	w->seq++;
	if (r < 0 || si == NULL)
		return r < 0 ? r : -ENOMEM;
	si->bytes = bytes;
	si->packets = packets;
	si->first_ts_ns = first_ts;
	si->last_ts_ns = last_ts;
	memcpy(si->sha256, sha, 32);
	w->n_shards++;
	w->closed_bytes += bytes;
	/* The shard is complete under its name; a failed directory sync is still reported. */
	return fsync(w->dirfd) < 0 ? -errno : 0;
}

/* After a write error: cut the .part back to its last whole block, try to end it with an ISB,
 * sync it and give it its final name; if it holds no packet, delete it. When the data may not
 * be on disk (fsync failed, so the kernel's page state is unknown) the .part is left for
 * dp_shard_dir_recover instead: a file with the final name is always whole. */
static void
shard_salvage(struct dp_shard_writer *w, int err, int synced_failed)
{
	uint8_t isb[ISB_LEN], sha[32];
	struct ng_walk wk;
	uint64_t end;

	set_error(w, err);
	w->buf_len = 0;
	if (w->fd < 0)
		return;
	settle(w);
	direct_off(w);
	if (synced_failed || walk_fd(w->fd, &wk) < 0)
		goto leave_part;
	if (wk.n_shb == 0 || wk.n_idb == 0 || wk.n_pkt == 0) {
		close(w->fd);
		w->fd = -1;
		unlinkat(w->dirfd, w->part, 0);
		w->shard_bytes = 0;
		w->seq++;
		return;
	}
	end = wk.good_end;
	if (ftruncate(w->fd, (off_t)end) < 0)
		goto leave_part;
	build_isb(w, isb, wk.first_ts, wk.last_ts);
	if (pwrite_all(w->fd, isb, ISB_LEN, end) == 0)
		end += ISB_LEN;
	else if (ftruncate(w->fd, (off_t)end) < 0)
		goto leave_part;
	if (fsync(w->fd) < 0 || hash_fd(w, end, sha) < 0)
		goto leave_part;
	if (shard_publish(w, end, wk.n_pkt, wk.first_ts, wk.last_ts, sha) < 0)
		w->last_err = err; /* keep the first cause */
	return;
leave_part:
	close(w->fd);
	w->fd = -1;
	w->shard_bytes = 0;
	w->seq++;
}

/* O_DIRECT when the file system takes it (fcntl fails with EINVAL where it does not). */
static bool
direct_on(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
}

static int
shard_open(struct dp_shard_writer *w)
{
	char final[32];
	int fd;

	snprintf(w->part, sizeof(w->part), "%06u.pcapng.part", w->seq);
	snprintf(final, sizeof(final), "%06u.pcapng", w->seq);
	if (faccessat(w->dirfd, final, F_OK, 0) == 0)
		return -EEXIST;
	/* O_RDWR: a salvage after a write error maps the file to find its last whole block. */
	fd = openat(w->dirfd, w->part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	w->fd = fd;
	w->direct = w->p.no_direct == 0 && direct_on(fd);
	w->on_disk = w->wb_started = 0;
	settle(w);
	atomic_store_explicit(&w->wst.werr, 0, memory_order_relaxed);
	atomic_store_explicit(&w->wst.herr, 0, memory_order_relaxed);
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	w->buf_len = 0;
	w->shard_bytes = w->hdr_len;
	w->shard_packets = 0;
	return buf_append(w, w->hdr, w->hdr_len);
}

static int
shard_close(struct dp_shard_writer *w)
{
	uint8_t isb[ISB_LEN], sha[32];
	int r;

	if (w->fd < 0)
		return 0;
	build_isb(w, isb, w->first_ts, w->last_ts);
	r = buf_append(w, isb, ISB_LEN);
	if (r == 0)
		r = buf_flush(w);
	if (r == 0)
		r = settle(w);
	if (r < 0) {
		shard_salvage(w, r, 0);
		return r;
	}
	w->shard_bytes += ISB_LEN;
	if (fsync(w->fd) < 0) {
		r = -errno;
		shard_salvage(w, r, 1);
		return r;
	}
	if (EVP_DigestFinal_ex(w->md, sha, NULL) != 1) {
		shard_salvage(w, -ENOMEM, 0);
		return -ENOMEM;
	}
	r = shard_publish(w, w->shard_bytes, w->shard_packets, w->first_ts, w->last_ts, sha);
	if (r < 0)
		set_error(w, r);
	return r;
}

int
dp_shard_writer_write(struct dp_shard_writer *w, uint64_t ts_ns, const void *data,
	uint32_t caplen, uint32_t wirelen)
{
	uint32_t limit = w->p.snaplen != 0 && w->p.snaplen < PW_MAX_CAPLEN ? w->p.snaplen
									   : PW_MAX_CAPLEN;
	uint32_t epb_len, pad;
	int open, rot, r;
	uint8_t *e;

	if (pw_unlikely(w->stop != DP_WRITER_STOP_NONE))
		return stop_errno(w->stop);
	if (pw_unlikely(caplen > wirelen))
		return -EINVAL;
	if (pw_unlikely(caplen > limit))
		caplen = limit; /* what snaplen means; never a record readers call corrupt */
	pad = pad4(caplen) - caplen;
	epb_len = EPB_OVERHEAD + caplen + pad;
	open = w->fd >= 0;
	rot = open && ((w->p.shard_time_ns != 0 && ts_ns >= w->first_ts &&
			       ts_ns - w->first_ts >= w->p.shard_time_ns) ||
			      (w->p.shard_size != 0 &&
				      w->shard_bytes + epb_len + ISB_LEN > w->p.shard_size));
	if (w->p.max_total != 0) {
		/* Room for this EPB, a new shard's SHB + IDB if one starts, and the ISBs that
		 * will close the current and the new shard. */
		uint64_t total = w->closed_bytes + w->shard_bytes + (rot ? ISB_LEN : 0);
		uint64_t need = (!open || rot ? w->hdr_len : 0) + epb_len + ISB_LEN;

		if (total + need > w->p.max_total) {
			w->stop = DP_WRITER_STOP_MAX_SIZE;
			return -EFBIG;
		}
	}
	if (rot && shard_close(w) < 0)
		return stop_errno(w->stop);
	if (w->fd < 0 && (r = shard_open(w)) < 0) {
		shard_salvage(w, r, 0);
		return stop_errno(w->stop);
	}

	e = w->buf + w->buf_len;
	if (DP_PCAPNG_BUF_SIZE - w->buf_len >= epb_len) {
		/* Common case: build the block in place, one copy of the packet. */
		st32(e, NG_EPB);
		st32(e + 4, epb_len);
		st32(e + 8, 0);
		st32(e + 12, (uint32_t)(ts_ns >> 32));
		st32(e + 16, (uint32_t)ts_ns);
		st32(e + 20, caplen);
		st32(e + 24, wirelen);
		memcpy(e + 28, data, caplen);
		st32(e + 28 + caplen, 0); /* the 0-3 pad bytes; the trailer overwrites the rest */
		st32(e + 28 + caplen + pad, epb_len);
		w->buf_len += epb_len;
		r = w->buf_len == DP_PCAPNG_BUF_SIZE ? buf_flush(w) : 0;
	} else {
		/* The block straddles the buffer end: every write(2) stays buffer-sized. */
		uint8_t h[28], t[4 + 3] = { 0 };

		st32(h, NG_EPB);
		st32(h + 4, epb_len);
		st32(h + 8, 0);
		st32(h + 12, (uint32_t)(ts_ns >> 32));
		st32(h + 16, (uint32_t)ts_ns);
		st32(h + 20, caplen);
		st32(h + 24, wirelen);
		st32(t + pad, epb_len);
		r = buf_append(w, h, sizeof(h));
		if (r == 0)
			r = buf_append(w, data, caplen);
		if (r == 0)
			r = buf_append(w, t, pad + 4);
	}
	if (pw_unlikely(r < 0)) {
		shard_salvage(w, r, 0);
		return stop_errno(w->stop);
	}
	w->shard_bytes += epb_len;
	if (w->shard_packets++ == 0)
		w->first_ts = ts_ns;
	w->last_ts = ts_ns;
	return 0;
}

void
dp_shard_writer_set_counters(struct dp_shard_writer *w, uint64_t if_recv, uint64_t if_drop)
{
	w->if_recv = if_recv;
	w->if_drop = if_drop;
}

int
dp_shard_writer_rotate(struct dp_shard_writer *w)
{
	return shard_close(w);
}

enum dp_writer_stop
dp_shard_writer_stopped(const struct dp_shard_writer *w)
{
	return w->stop;
}

uint64_t
dp_shard_writer_bytes_total(const struct dp_shard_writer *w)
{
	return w->closed_bytes + w->shard_bytes;
}

const struct dp_shard_info *
dp_shard_writer_shards(const struct dp_shard_writer *w, size_t *n)
{
	*n = w->n_shards;
	return w->shards;
}

static void
writer_free(struct dp_shard_writer *w)
{
	settle(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	EVP_MD_CTX_free(w->md);
	for (unsigned int i = 0; i < DP_PCAPNG_NBUF; i++)
		free(w->bufs[i]);
	free(w->hdr);
	free(w->shards);
	free(w->dir);
	free(w->if_name);
	free(w->if_descr);
	free(w->app);
	free(w);
}

static int
dup_str(char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst == NULL ? -1 : 0;
}

struct dp_shard_writer *
dp_shard_writer_open(const struct dp_shard_params *p)
{
	struct dp_shard_writer *w;
	int e;

	if (p == NULL || p->dir == NULL || p->dir[0] == '\0' || p->linktype > 0xffff) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->fd = -1;
	w->dirfd = -1;
	w->p = *p;
	w->seq = p->first_seq;
	if (dup_str(&w->dir, p->dir) < 0 || dup_str(&w->if_name, p->if_name) < 0 ||
		dup_str(&w->if_descr, p->if_descr) < 0 || dup_str(&w->app, p->app) < 0)
		goto fail;
	w->p.dir = w->dir;
	w->p.if_name = w->if_name;
	w->p.if_descr = w->if_descr;
	w->p.app = w->app;
	if (tide_mkdir_p(w->dir, 0755) < 0)
		goto fail;
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		goto fail;
	for (unsigned int i = 0; i < DP_PCAPNG_NBUF; i++) {
		w->bufs[i] = aligned_alloc(4096, DP_PCAPNG_BUF_SIZE);
		if (w->bufs[i] == NULL)
			break;
	}
	w->buf = w->bufs[0];
	w->md = EVP_MD_CTX_new();
	if (w->bufs[DP_PCAPNG_NBUF - 1] == NULL || w->md == NULL || build_hdr(w) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	return w;
fail:
	e = errno;
	writer_free(w);
	errno = e;
	return NULL;
}

int
dp_shard_writer_close(struct dp_shard_writer *w, struct dp_shard_info **out, size_t *n_out)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (w == NULL)
		return 0;
	shard_close(w);
	r = w->last_err;
	if (out != NULL && w->n_shards > 0) {
		*out = malloc(w->n_shards * sizeof(**out));
		if (*out == NULL) {
			r = r < 0 ? r : -ENOMEM;
		} else {
			memcpy(*out, w->shards, w->n_shards * sizeof(**out));
			if (n_out != NULL)
				*n_out = w->n_shards;
		}
	}
	writer_free(w);
	return r;
}
