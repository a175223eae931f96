/* dp_filter.c — tcpdump expression → libpcap cBPF → rte_bpf_convert → eBPF JIT (dp_filter.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "dp_filter.h"

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
	pcap_t *p = pcap_open_dead((int)linktype, snaplen ? (int)snaplen : 262144);
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
	struct rte_bpf_prm *prm = rte_bpf_convert(&f->cbpf);
	if (!prm) {
		snprintf(err, errlen, "rte_bpf_convert: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	/* the converted program reads the packet through its mbuf (BPF_ABS/IND loads) */
	prm->prog_arg.type = RTE_BPF_ARG_PTR_MBUF;
	prm->prog_arg.size = sizeof(struct rte_mbuf);
	prm->prog_arg.buf_size = RTE_MBUF_DEFAULT_BUF_SIZE;
	f->bpf = rte_bpf_load(prm);
	int e = rte_errno;
	rte_free(prm);
	if (!f->bpf) {
		snprintf(err, errlen, "rte_bpf_load: %s", rte_strerror(e));
		return -e;
	}
	struct rte_bpf_jit jit;
	if (rte_bpf_get_jit(f->bpf, &jit) != 0 || !jit.func) {
		/* no JIT on this architecture: fall back to libpcap's interpreter semantics is not
		 * possible on an mbuf chain, so keep the eBPF interpreter through a thunk */
		snprintf(err, errlen, "rte_bpf JIT unavailable on this CPU");
		rte_bpf_destroy(f->bpf);
		f->bpf = NULL;
		return -ENOTSUP;
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
