/* dp_pcapfile.c — the offline capture reader: classic pcap and pcapng over one mmap'd file.
 *
 * Why by hand: see dp_pcapfile.h. The file is mapped once (MAP_PRIVATE, MADV_SEQUENTIAL) and
 * records are handed out as pointers into the mapping, so a packet costs no syscall and no copy;
 * header fields are byte-swapped only when the file came from a foreign-endian host (one
 * well-predicted branch per field). Every check that fails names the byte offset of the record
 * or block that broke it, and the error is sticky: later calls repeat it. */
#include "dp_pcapfile.h"
#include "dp_linktype.h"
#include "dp_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define pf_unlikely(x) __builtin_expect(!!(x), 0)

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define DP_PCAPFILE_USE_MMAP 0
#else
#define DP_PCAPFILE_USE_MMAP 1
#endif

/* libpcap's MAXIMUM_SNAPLEN: tcpdump treats a longer record as a corrupt file, and so do we. */
#define PF_MAX_CAPLEN 262144u
/* IDBs per section; bounds what a hostile file can make us allocate (16 bytes each). */
#define PF_MAX_IFACES 65536u

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_HDR_LEN 24u
#define PCAP_REC_LEN 16u
/* Link type field of the pcap header: low 16 bits type, bits 16-25 reserved (zero), bit 26 says
 * bits 28-31 carry an FCS length. Same layout as libpcap's LT_* macros. */
#define PCAP_LT_RESERVED 0x03ff0000u
#define PCAP_LT_FCS_PRESENT 0x04000000u
#define PCAP_LT_FCS_LEN 0xf0000000u

#define NG_SHB 0x0a0d0d0au /* a palindrome: readable before the byte order is known */
#define NG_IDB 1u
#define NG_PB 2u /* obsolete Packet Block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1a2b3c4du
#define NG_OPT_END 0
#define NG_OPT_TSRESOL 9
#define NG_OPT_TSOFFSET 14

/* How an interface's raw timestamp becomes nanoseconds. */
enum pf_ts_conv {
	PF_TS_MUL,  /* 10^-e with e <= 9: ts * factor */
	PF_TS_DIV,  /* 10^-e with 9 < e <= 19: ts / factor */
	PF_TS_POW2, /* 2^-e: factor is e (<= 63) */
};

struct pf_iface {
	uint64_t ts_factor;
	uint64_t ts_offset_ns; /* if_tsoffset * 1e9, two's complement so it may be negative */
	uint32_t snaplen;      /* 0: no limit */
	uint32_t ts_conv;      /* enum pf_ts_conv */
};

struct dp_pcapfile {
	const uint8_t *base;
	uint64_t size;
	uint64_t pos; /* offset of the next record or block */
	enum dp_pcapfile_format format;
	int swap;   /* the current section was written on a foreign-endian host */
	int mapped; /* base is an mmap (else malloc'd) */
	int failed; /* errmsg holds the sticky error */
	int have_linktype;
	unsigned int linktype;
	uint32_t snaplen;
	uint32_t ts_mult; /* pcap: nanoseconds per unit of the fraction field (1000 or 1) */
	struct pf_iface *ifs;
	uint32_t n_ifs, cap_ifs; /* interfaces of the current pcapng section */
	char *path;
	char errmsg[256];
};

static inline uint64_t
ld64(int swap, const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap64(v) : v;
}

static void
vformat_err(char *dst, size_t len, const char *path, uint64_t off, const char *fmt, va_list ap)
{
	int n;

	if (dst == NULL || len == 0)
		return;
	n = snprintf(dst, len, "%s: offset %" PRIu64 ": ", path, off);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(dst + n, len - (size_t)n, fmt, ap);
}

static void __attribute__((format(printf, 5, 6)))
format_err(char *dst, size_t len, const char *path, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_err(dst, len, path, off, fmt, ap);
	va_end(ap);
}

/* Record the sticky error and copy it out; returns -1 so callers can `return fail(...)`. */
static int __attribute__((format(printf, 5, 6)))
fail(struct dp_pcapfile *f, char *err, size_t errlen, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_err(f->errmsg, sizeof(f->errmsg), f->path, off, fmt, ap);
	va_end(ap);
	f->failed = 1;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", f->errmsg);
	return -1;
}

static inline uint64_t
ts_to_ns(const struct pf_iface *ifc, uint64_t ts)
{
	uint64_t ns;

	switch (ifc->ts_conv) {
	case PF_TS_MUL:
		ns = ts * ifc->ts_factor;
		break;
	case PF_TS_DIV:
		ns = ts / ifc->ts_factor;
		break;
	default: {
		unsigned int e = (unsigned int)ifc->ts_factor;
		uint64_t frac = ts & ((UINT64_C(1) << e) - 1);

		ns = (ts >> e) * UINT64_C(1000000000) +
			(uint64_t)(((unsigned __int128)frac * 1000000000u) >> e);
		break;
	}
	}
	return ns + ifc->ts_offset_ns;
}

/* if_tsresol: high bit clear = 10^-v seconds, set = 2^-(v & 0x7f). Returns -1 when the unit is
 * finer than a 64-bit counter can express relative to nanoseconds (10^-20 and below). */
static int
ts_setup(struct pf_iface *ifc, uint8_t tsresol)
{
	unsigned int e = tsresol & 0x7f;
	uint64_t p10 = 1;

	if (tsresol & 0x80) {
		if (e > 63)
			return -1;
		ifc->ts_conv = PF_TS_POW2;
		ifc->ts_factor = e;
		return 0;
	}
	if (e > 19)
		return -1;
	for (unsigned int i = 0; i < (e <= 9 ? 9 - e : e - 9); i++)
		p10 *= 10;
	ifc->ts_conv = e <= 9 ? PF_TS_MUL : PF_TS_DIV;
	ifc->ts_factor = p10;
	return 0;
}

/* ---- classic pcap ---- */

static int
pcap_open_hdr(struct dp_pcapfile *f, char *err, size_t errlen)
{
	const uint8_t *p = f->base;
	uint32_t magic, ltfield, snaplen;
	uint16_t major, minor;

	memcpy(&magic, p, sizeof(magic));
	f->swap = magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS);
	magic = ld32(f->swap, p);
	f->ts_mult = magic == PCAP_MAGIC_NS ? 1 : 1000;
	if (f->size < PCAP_HDR_LEN)
		return fail(f, err, errlen, 0, "truncated file header (%" PRIu64 " of %u bytes)",
			f->size, PCAP_HDR_LEN);
	major = ld16(f->swap, p + 4);
	minor = ld16(f->swap, p + 6);
	if (major != 2 || minor > 4)
		return fail(f, err, errlen, 4, "unsupported pcap version %u.%u", major, minor);
	snaplen = ld32(f->swap, p + 16);
	ltfield = ld32(f->swap, p + 20);
	if ((ltfield & PCAP_LT_RESERVED) ||
		((ltfield & PCAP_LT_FCS_LEN) && !(ltfield & PCAP_LT_FCS_PRESENT)))
		return fail(f, err, errlen, 20, "bad link type field 0x%08x", ltfield);
	f->linktype = ltfield & 0xffff;
	if (!dp_linktype_supported(f->linktype))
		return fail(f, err, errlen, 20, "unsupported link type %u", f->linktype);
	f->have_linktype = 1;
	f->snaplen = snaplen == 0 || snaplen > PF_MAX_CAPLEN ? PF_MAX_CAPLEN : snaplen;
	f->format = DP_PCAPFILE_PCAP;
	f->pos = PCAP_HDR_LEN;
	return 0;
}

static int
pcap_next(struct dp_pcapfile *f, struct dp_pcap_rec *rec, char *err, size_t errlen)
{
	uint64_t off = f->pos;
	uint64_t left = f->size - off;
	const uint8_t *p = f->base + off;
	uint32_t caplen, wirelen;

	if (pf_unlikely(left < PCAP_REC_LEN)) {
		if (left == 0)
			return 0;
		return fail(f, err, errlen, off, "truncated record header (%" PRIu64 " of %u bytes)",
			left, PCAP_REC_LEN);
	}
	caplen = ld32(f->swap, p + 8);
	wirelen = ld32(f->swap, p + 12);
	if (pf_unlikely(caplen > PF_MAX_CAPLEN))
		return fail(f, err, errlen, off, "caplen %u exceeds %u", caplen, PF_MAX_CAPLEN);
	if (pf_unlikely(caplen > wirelen))
		return fail(f, err, errlen, off, "caplen %u exceeds wire length %u", caplen, wirelen);
	if (pf_unlikely(caplen > left - PCAP_REC_LEN))
		return fail(f, err, errlen, off,
			"truncated record (caplen %u, %" PRIu64 " bytes left)", caplen,
			left - PCAP_REC_LEN);
	rec->data = p + PCAP_REC_LEN;
	rec->ts_ns = (uint64_t)ld32(f->swap, p) * 1000000000u +
		(uint64_t)ld32(f->swap, p + 4) * f->ts_mult;
	rec->offset = off;
	rec->caplen = caplen;
	rec->wirelen = wirelen;
	rec->ifindex = 0;
	f->pos = off + PCAP_REC_LEN + caplen;
	return 1;
}

/* ---- pcapng ---- */

static int
ng_shb(struct dp_pcapfile *f, uint64_t off, const uint8_t *p, uint32_t len, char *err,
	size_t errlen)
{
	uint16_t major, minor;

	if (len < 28)
		return fail(f, err, errlen, off, "section header block too short (%u bytes)", len);
	major = ld16(f->swap, p + 12);
	minor = ld16(f->swap, p + 14);
	if (major != 1 || minor > 2)
		return fail(f, err, errlen, off, "unsupported pcapng version %u.%u", major, minor);
	f->n_ifs = 0; /* interface ids are per section */
	return 0;
}

static int
ng_idb(struct dp_pcapfile *f, uint64_t off, const uint8_t *p, uint32_t len, char *err,
	size_t errlen)
{
	const uint8_t *o = p + 16, *end = p + len - 4;
	struct pf_iface ifc = { .ts_factor = 1000, .ts_conv = PF_TS_MUL }; /* default 10^-6 */
	unsigned int lt;

	if (len < 20)
		return fail(f, err, errlen, off, "interface description block too short (%u bytes)",
			len);
	lt = ld16(f->swap, p + 8);
	ifc.snaplen = ld32(f->swap, p + 12);
	while (end - o >= 4) {
		uint16_t code = ld16(f->swap, o), olen = ld16(f->swap, o + 2);
		uint32_t padded = ((uint32_t)olen + 3) & ~3u;

		if (code == NG_OPT_END)
			break;
		if (padded > (uint64_t)(end - o - 4))
			return fail(f, err, errlen, off, "IDB option %u overruns the block", code);
		if (code == NG_OPT_TSRESOL && olen >= 1) {
			if (ts_setup(&ifc, o[4]) < 0)
				return fail(f, err, errlen, off, "unsupported if_tsresol 0x%02x",
					o[4]);
		} else if (code == NG_OPT_TSOFFSET && olen >= 8) {
			ifc.ts_offset_ns = ld64(f->swap, o + 4) * UINT64_C(1000000000);
		}
		o += 4 + padded;
	}
	if (!f->have_linktype) {
		if (!dp_linktype_supported(lt))
			return fail(f, err, errlen, off, "unsupported link type %u", lt);
		f->linktype = lt;
		f->snaplen = ifc.snaplen == 0 || ifc.snaplen > PF_MAX_CAPLEN ? PF_MAX_CAPLEN
									      : ifc.snaplen;
		f->have_linktype = 1;
	} else if (lt != f->linktype) {
		return fail(f, err, errlen, off,
			"unsupported: interfaces with different link types (%u and %u)",
			f->linktype, lt);
	}
	if (f->n_ifs == f->cap_ifs) {
		uint32_t cap = f->cap_ifs ? f->cap_ifs * 2 : 4;
		struct pf_iface *n;

		if (f->n_ifs >= PF_MAX_IFACES)
			return fail(f, err, errlen, off, "more than %u interfaces in a section",
				PF_MAX_IFACES);
		n = realloc(f->ifs, cap * sizeof(*n));
		if (n == NULL)
			return fail(f, err, errlen, off, "out of memory");
		f->ifs = n;
		f->cap_ifs = cap;
	}
	f->ifs[f->n_ifs++] = ifc;
	return 0;
}

static int
ng_check_caplen(struct dp_pcapfile *f, uint64_t off, uint32_t caplen, uint32_t wirelen,
	uint32_t room, char *err, size_t errlen)
{
	if (caplen > PF_MAX_CAPLEN)
		return fail(f, err, errlen, off, "caplen %u exceeds %u", caplen, PF_MAX_CAPLEN);
	if (caplen > wirelen)
		return fail(f, err, errlen, off, "caplen %u exceeds wire length %u", caplen, wirelen);
	if (caplen > room)
		return fail(f, err, errlen, off, "caplen %u exceeds the block body (%u bytes)",
			caplen, room);
	return 0;
}

/* Read the block at f->pos: 1 = a packet in *rec, 2 = a block that is not a packet (consumed),
 * 0 = clean end of file, -1 = error. */
static int
ng_block(struct dp_pcapfile *f, struct dp_pcap_rec *rec, char *err, size_t errlen)
{
	uint64_t off = f->pos;
	uint64_t left = f->size - off;
	const uint8_t *p = f->base + off;
	uint32_t type, len, ifid, caplen, wirelen;
	const struct pf_iface *ifc;

	if (left == 0)
		return 0;
	if (pf_unlikely(left < 12))
		return fail(f, err, errlen, off, "truncated block (%" PRIu64 " bytes left)", left);
	type = ld32(f->swap, p);
	if (pf_unlikely(type == NG_SHB)) {
		uint32_t bom;

		memcpy(&bom, p + 8, sizeof(bom));
		if (bom == NG_BOM)
			f->swap = 0;
		else if (bom == __builtin_bswap32(NG_BOM))
			f->swap = 1;
		else
			return fail(f, err, errlen, off, "bad byte-order magic 0x%08x", bom);
	}
	len = ld32(f->swap, p + 4);
	if (pf_unlikely(len % 4 != 0 || len < 12))
		return fail(f, err, errlen, off, "bad block length %u", len);
	if (pf_unlikely(len > left))
		return fail(f, err, errlen, off,
			"truncated block (length %u, %" PRIu64 " bytes left)", len, left);
	if (pf_unlikely(ld32(f->swap, p + len - 4) != len))
		return fail(f, err, errlen, off, "trailing block length %u differs from %u",
			ld32(f->swap, p + len - 4), len);

	switch (type) {
	case NG_EPB:
		if (pf_unlikely(len < 32))
			return fail(f, err, errlen, off, "enhanced packet block too short (%u bytes)",
				len);
		ifid = ld32(f->swap, p + 8);
		caplen = ld32(f->swap, p + 20);
		wirelen = ld32(f->swap, p + 24);
		if (pf_unlikely(ifid >= f->n_ifs))
			return fail(f, err, errlen, off, "interface %u not defined", ifid);
		if (pf_unlikely(ng_check_caplen(f, off, caplen, wirelen, len - 32, err, errlen)))
			return -1;
		ifc = &f->ifs[ifid];
		rec->ts_ns = ts_to_ns(ifc,
			(uint64_t)ld32(f->swap, p + 12) << 32 | ld32(f->swap, p + 16));
		rec->data = p + 28;
		break;
	case NG_SPB:
		if (pf_unlikely(len < 16))
			return fail(f, err, errlen, off, "simple packet block too short (%u bytes)",
				len);
		if (pf_unlikely(f->n_ifs == 0))
			return fail(f, err, errlen, off, "interface 0 not defined");
		ifid = 0;
		wirelen = ld32(f->swap, p + 8);
		caplen = wirelen < len - 16 ? wirelen : len - 16;
		if (f->ifs[0].snaplen != 0 && caplen > f->ifs[0].snaplen)
			caplen = f->ifs[0].snaplen;
		if (pf_unlikely(ng_check_caplen(f, off, caplen, wirelen, len - 16, err, errlen)))
			return -1;
		rec->ts_ns = 0;
		rec->data = p + 12;
		break;
	case NG_PB:
		if (pf_unlikely(len < 32))
			return fail(f, err, errlen, off, "packet block too short (%u bytes)", len);
		ifid = ld16(f->swap, p + 8);
		caplen = ld32(f->swap, p + 20);
		wirelen = ld32(f->swap, p + 24);
		if (pf_unlikely(ifid >= f->n_ifs))
			return fail(f, err, errlen, off, "interface %u not defined", ifid);
		if (pf_unlikely(ng_check_caplen(f, off, caplen, wirelen, len - 32, err, errlen)))
			return -1;
		ifc = &f->ifs[ifid];
		rec->ts_ns = ts_to_ns(ifc,
			(uint64_t)ld32(f->swap, p + 12) << 32 | ld32(f->swap, p + 16));
		rec->data = p + 28;
		break;
	case NG_SHB:
		if (ng_shb(f, off, p, len, err, errlen) < 0)
			return -1;
		f->pos = off + len;
		return 2;
	case NG_IDB:
		if (ng_idb(f, off, p, len, err, errlen) < 0)
			return -1;
		f->pos = off + len;
		return 2;
	default: /* NRB, ISB, DSB, custom and unknown blocks carry no packets */
		f->pos = off + len;
		return 2;
	}
	rec->offset = off;
	rec->caplen = caplen;
	rec->wirelen = wirelen;
	rec->ifindex = ifid;
	f->pos = off + len;
	return 1;
}

static int
ng_open(struct dp_pcapfile *f, char *err, size_t errlen)
{
	struct dp_pcap_rec rec;
	int r;

	f->format = DP_PCAPFILE_PCAPNG;
	if (f->size < 28)
		return fail(f, err, errlen, 0, "truncated section header block (%" PRIu64 " bytes)",
			f->size);
	/* Read up to and including the first IDB, so the link type is known at open. A packet
	 * block before it fails as "interface not defined". */
	while (!f->have_linktype) {
		r = ng_block(f, &rec, err, errlen);
		if (r < 0)
			return -1;
		if (r == 0)
			return fail(f, err, errlen, f->pos, "no interface description block");
	}
	return 0;
}

/* ---- open / close ---- */

static int
map_file(struct dp_pcapfile *f, int fd, char *err, size_t errlen)
{
	void *m;
	uint8_t *buf;
	uint64_t got = 0;

	/* Fuzz builds read into malloc'd memory so AddressSanitizer catches a read past the end
	 * (past a mapping's end the rest of the page reads as zeros, unnoticed). */
	m = DP_PCAPFILE_USE_MMAP ? mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0)
				 : MAP_FAILED;
	if (m != MAP_FAILED) {
		/* Sequential hint doubles kernel readahead and drops pages behind us. */
		(void)madvise(m, (size_t)f->size, MADV_SEQUENTIAL);
		f->base = m;
		f->mapped = 1;
		return 0;
	}
	/* Some file systems cannot mmap; read the whole file once instead. */
	buf = malloc((size_t)f->size);
	if (buf == NULL)
		return fail(f, err, errlen, 0, "cannot map or allocate %" PRIu64 " bytes", f->size);
	while (got < f->size) {
		ssize_t n = read(fd, buf + got, (size_t)(f->size - got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return fail(f, err, errlen, got, "read: %s",
				n < 0 ? strerror(errno) : "unexpected end of file");
		}
		got += (uint64_t)n;
	}
	f->base = buf;
	return 0;
}

struct dp_pcapfile *
dp_pcapfile_open(const char *path, char *err, size_t errlen)
{
	struct dp_pcapfile *f;
	struct stat st;
	uint32_t magic;
	int fd, r;

	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		format_err(err, errlen, path, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		fail(f, err, errlen, 0, "open: %s", strerror(r));
		goto out_free;
	}
	if (fstat(fd, &st) < 0) {
		r = errno;
		fail(f, err, errlen, 0, "stat: %s", strerror(r));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = EINVAL;
		fail(f, err, errlen, 0, "not a regular file");
		goto out_close;
	}
	f->size = (uint64_t)st.st_size;
	r = EINVAL;
	if (f->size == 0) {
		fail(f, err, errlen, 0, "empty file");
		goto out_close;
	}
	if (f->size > SIZE_MAX) {
		fail(f, err, errlen, 0, "file too large for this address space");
		goto out_close;
	}
	if (map_file(f, fd, err, errlen) < 0)
		goto out_close;
	close(fd);
	fd = -1;

	if (f->size < 4) {
		fail(f, err, errlen, 0, "truncated file header (%" PRIu64 " bytes)", f->size);
		goto out_close;
	}
	memcpy(&magic, f->base, sizeof(magic));
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS ||
		magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS))
		r = pcap_open_hdr(f, err, errlen);
	else if (magic == NG_SHB)
		r = ng_open(f, err, errlen);
	else
		r = fail(f, err, errlen, 0, "not a pcap or pcapng file (magic %02x%02x%02x%02x)",
			f->base[0], f->base[1], f->base[2], f->base[3]);
	if (r == 0)
		return f;
	r = EINVAL;
out_close:
	if (fd >= 0)
		close(fd);
out_free:
	dp_pcapfile_close(f);
	errno = r;
	return NULL;
}

int
dp_pcapfile_next(struct dp_pcapfile *f, struct dp_pcap_rec *rec, char *err, size_t errlen)
{
	int r;

	if (pf_unlikely(f->failed)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", f->errmsg);
		return -1;
	}
	if (f->format == DP_PCAPFILE_PCAP)
		return pcap_next(f, rec, err, errlen);
	do
		r = ng_block(f, rec, err, errlen);
	while (r == 2);
	return r;
}

unsigned int
dp_pcapfile_linktype(const struct dp_pcapfile *f)
{
	return f->linktype;
}

uint32_t
dp_pcapfile_snaplen(const struct dp_pcapfile *f)
{
	return f->snaplen;
}

enum dp_pcapfile_format
dp_pcapfile_format(const struct dp_pcapfile *f)
{
	return f->format;
}

uint64_t
dp_pcapfile_size(const struct dp_pcapfile *f)
{
	return f->size;
}

void
dp_pcapfile_close(struct dp_pcapfile *f)
{
	if (f == NULL)
		return;
	if (f->base != NULL) {
		if (f->mapped)
			munmap((void *)(uintptr_t)f->base, (size_t)f->size);
		else
			free((void *)(uintptr_t)f->base);
	}
	free(f->ifs);
	free(f->path);
	free(f);
}
