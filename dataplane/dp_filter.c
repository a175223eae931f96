/* dp_filter.c — tcpdump expression → libpcap cBPF → eBPF (dp_bpf.c) → DPDK JIT (dp_filter.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>

#include "dp_bpf.h"
#include "dp_filter.h"

/* libpcap compiles for DLT_* values, files carry LINKTYPE_* values; they differ for raw IP
 * (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux) and OpenBSD loopback */
static int
dlt_of(unsigned int linktype)
{
	switch (linktype) {
	case 101: return DLT_RAW;
	case 108: return DLT_LOOP;
	default: return (int)linktype;
	}
}

struct dp_filter *
dp_filter_compile(const char *expr, unsigned int linktype, uint32_t snaplen, char *err,
	size_t errlen)
{
	struct dp_filter *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->expr = strdup(expr ? expr : "");
	f->linktype = linktype;
	pcap_t *p = pcap_open_dead(dlt_of(linktype), snaplen ? (int)snaplen : 262144);
	if (!f->expr || !p) {
		snprintf(err, errlen, "cannot open a libpcap handle for link type %u", linktype);
		goto fail;
	}
	if (pcap_compile(p, &f->cbpf, f->expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "%s", pcap_geterr(p));
		goto fail;
	}
	pcap_close(p);
	/* only whitespace: libpcap accepts it and returns "accept everything" */
	f->match_all = f->expr[strspn(f->expr, " \t\r\n")] == '\0';
	return f;
fail:
	if (p)
		pcap_close(p);
	free(f->expr);
	free(f);
	return NULL;
}

int
dp_filter_load(struct dp_filter *f, char *err, size_t errlen)
{
	if (f->match_all)
		return 0;
	/* our own conversion, not rte_bpf_convert: see dp_bpf.h for why */
	struct rte_bpf_prm *prm = dp_bpf_convert(&f->cbpf, err, errlen);
	if (!prm)
		return -EINVAL;
	f->bpf = rte_bpf_load(prm);
	free(prm);
	struct rte_bpf_jit jit;
	if (!f->bpf || rte_bpf_get_jit(f->bpf, &jit) != 0 || !jit.func) {
		/* the verifier refuses loops (libpcap's protochain jumps backwards), and some CPUs
		 * have no JIT: libpcap's own interpreter runs those programs (slower, exact) */
		if (f->bpf)
			rte_bpf_destroy(f->bpf);
		f->bpf = NULL;
		f->jit = NULL;
		return 0;
	}
	f->jit = jit.func;
	return 0;
}

void
dp_filter_free(struct dp_filter *f)
{
	if (!f)
		return;
	if (f->bpf)
		rte_bpf_destroy(f->bpf);
	pcap_freecode(&f->cbpf);
	free(f->expr);
	free(f);
}
