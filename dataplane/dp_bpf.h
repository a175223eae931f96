/* dp_bpf.h — classic BPF (libpcap's output) → eBPF for DPDK's rte_bpf, written for tide.
 *
 * Why not rte_bpf_convert: in DPDK 22.11 its output meets an x86 JIT that mis-encodes JSET
 * with an immediate (a 1-byte immediate where the CPU decodes 4, swallowing the next jump), so
 * `ether multicast` or `tcp[tcpflags] & tcp-syn != 0` crash or match wrongly; and it refuses
 * some valid programs (`ip6 protochain 17`). This converter emits only the plainest eBPF
 * forms — every constant that is compared or tested goes through a register, 32-bit ALU keeps
 * A and X zero-extended as cBPF's unsigned semantics need — and supports every cBPF
 * instruction libpcap generates. Tests compare the result with tcpdump over a table of
 * expressions and captures.
 *
 * Register map: A = R0 (LD_ABS/LD_IND results land there), X = R7, temporary = R8, the mbuf =
 * R6 (the implicit context of LD_ABS/LD_IND), scratch memory M[k] on the stack below R10. */
#ifndef DP_BPF_H
#define DP_BPF_H

#include <stddef.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>

/* A malloc'd rte_bpf_prm (instructions follow it in the same block; free() it) that takes an
 * mbuf argument, or NULL with a message in err. No EAL needed. */
struct rte_bpf_prm *dp_bpf_convert(const struct bpf_program *prog, char *err, size_t errlen);

#endif
