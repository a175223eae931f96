/* dp_pcapfile.h — reader for offline captures: classic pcap (µs and ns, both byte orders) and
 * pcapng (SHB/IDB/EPB/SPB/obsolete PB, several sections, per-interface timestamp resolution).
 *
 * Written by hand rather than through libpcap so that a corrupt file gives an error naming the
 * file and the byte offset of the bad record, and so the file can be mmap'd and read without a
 * copy per packet (offline mode must beat tcpdump, which reads through libpcap). No DPDK
 * dependency: unit-tested and fuzzed on its own. */
#ifndef DP_PCAPFILE_H
#define DP_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

struct dp_pcapfile;

/* One packet record. `data` points into the mapped file and stays valid until the file is
 * closed. */
struct dp_pcap_rec {
	const uint8_t *data;
	uint64_t ts_ns;     /* nanoseconds since the epoch */
	uint64_t offset;    /* byte offset of the record's header in the file */
	uint32_t caplen;
	uint32_t wirelen;   /* original length on the wire (>= caplen) */
	uint32_t ifindex;   /* pcapng interface id within its section; 0 for pcap */
};

enum dp_pcapfile_format { DP_PCAPFILE_PCAP = 1, DP_PCAPFILE_PCAPNG = 2 };

/* Open and validate the file header (and, for pcapng, read up to the first IDB so the link type
 * is known). Returns NULL on error with a one-line message in err: "FILE: offset N: reason".
 * Unsupported link types are an error here (see dp_linktype_supported). */
struct dp_pcapfile *dp_pcapfile_open(const char *path, char *err, size_t errlen);

/* pcap LINKTYPE_* of the packets (for pcapng: of the first interface; a later interface with a
 * different link type is reported as an error by dp_pcapfile_next). */
unsigned int dp_pcapfile_linktype(const struct dp_pcapfile *f);
/* snaplen from the file header / first IDB (0 in pcapng means "no limit": reported as 262144) */
uint32_t dp_pcapfile_snaplen(const struct dp_pcapfile *f);
enum dp_pcapfile_format dp_pcapfile_format(const struct dp_pcapfile *f);
uint64_t dp_pcapfile_size(const struct dp_pcapfile *f);

/* Next packet. Returns 1 with *rec filled, 0 at a clean end of file, -1 on a corrupt or
 * truncated record (message "FILE: offset N: reason" in err; the records before it were fine).
 * Non-packet pcapng blocks (NRB, ISB, DSB, custom, unknown) are skipped. */
int dp_pcapfile_next(struct dp_pcapfile *f, struct dp_pcap_rec *rec, char *err, size_t errlen);

void dp_pcapfile_close(struct dp_pcapfile *f);

#endif
