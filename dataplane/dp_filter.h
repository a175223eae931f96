/* dp_filter.h — tcpdump filter expressions, compiled once and run by DPDK's BPF JIT.
 *
 * libpcap compiles the expression (so the semantics are exactly tcpdump's and a bad expression
 * gets libpcap's own message); dp_bpf_convert turns the classic BPF into eBPF (DPDK 22.11's
 * rte_bpf_convert output miscompiles, see dp_bpf.h) and rte_bpf_load JITs it to native code
 * that reads the mbuf. Each capture job owns one filter; the worker runs
 * every job's filter on every packet, so several concurrent jobs cost one JIT call each.
 *
 * Two steps because the first needs no EAL: dp_filter_compile() checks the expression before
 * anything starts; dp_filter_load() (after rte_eal_init) builds the JIT program. */
#ifndef DP_FILTER_H
#define DP_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>
#include <rte_mbuf.h>

struct rte_bpf;

struct dp_filter {
	char *expr;
	struct bpf_program cbpf;          /* classic BPF from libpcap (reference interpreter) */
	struct rte_bpf *bpf;              /* eBPF context (owns the JIT code) */
	uint64_t (*jit)(void *mbuf);      /* native code; NULL: libpcap's interpreter decides */
	unsigned int linktype;
	int match_all;                    /* empty expression: no program is run */
};

/* Compile `expr` for frames of pcap link type `linktype`. Returns NULL with libpcap's message in
 * err on a bad expression. No EAL needed. */
struct dp_filter *dp_filter_compile(const char *expr, unsigned int linktype, uint32_t snaplen,
	char *err, size_t errlen);

/* Convert and JIT (needs the EAL: rte_bpf allocates with rte_malloc). Returns 0 or -errno. */
int dp_filter_load(struct dp_filter *f, char *err, size_t errlen);

void dp_filter_free(struct dp_filter *f);

/* Run on a single-segment or chained mbuf whose pkt_len is the captured length. */
static inline int
dp_filter_match_mbuf(const struct dp_filter *f, struct rte_mbuf *m)
{
	if (f->match_all)
		return 1;
	if (likely(f->jit != NULL))
		return f->jit(m) != 0;
	/* programs the eBPF verifier refuses (libpcap's protochain loops backwards): the
	 * reference interpreter on the first segment */
	return bpf_filter(f->cbpf.bf_insns, rte_pktmbuf_mtod(m, const u_char *),
		       rte_pktmbuf_pkt_len(m), rte_pktmbuf_data_len(m)) != 0;
}

/* Reference path for a capture record whose wire length exceeds its captured length: BPF's
 * `len` is the wire length, which an mbuf cannot express, so libpcap's interpreter decides. */
static inline int
dp_filter_match_raw(const struct dp_filter *f, const uint8_t *data, uint32_t caplen,
	uint32_t wirelen)
{
	if (f->match_all)
		return 1;
	return bpf_filter(f->cbpf.bf_insns, data, wirelen, caplen) != 0;
}

#endif
