/* dp_linktype.h — the link-layer types tide reads and writes (pcap LINKTYPE_* values).
 *
 * Offline inputs may be Ethernet, Linux cooked v1/v2, raw IP or BSD loopback; DPDK ports are
 * always Ethernet. The value is written unchanged into pcapng IDBs and used to compile filters,
 * so tide's filter semantics match tcpdump's on the same file. */
#ifndef DP_LINKTYPE_H
#define DP_LINKTYPE_H

enum dp_linktype {
	DP_LINKTYPE_NULL = 0,        /* BSD loopback: 4-byte host-order AF_ value */
	DP_LINKTYPE_ETHERNET = 1,
	DP_LINKTYPE_RAW = 101,       /* raw IPv4 or IPv6, version nibble decides */
	DP_LINKTYPE_LOOP = 108,      /* OpenBSD loopback: 4-byte network-order AF_ value */
	DP_LINKTYPE_LINUX_SLL = 113,
	DP_LINKTYPE_IPV4 = 228,
	DP_LINKTYPE_IPV6 = 229,
	DP_LINKTYPE_LINUX_SLL2 = 276,
};

/* 1 if tide can parse frames of this pcap link type, else 0. */
static inline int
dp_linktype_supported(unsigned int lt)
{
	switch (lt) {
	case DP_LINKTYPE_NULL:
	case DP_LINKTYPE_ETHERNET:
	case DP_LINKTYPE_RAW:
	case DP_LINKTYPE_LOOP:
	case DP_LINKTYPE_LINUX_SLL:
	case DP_LINKTYPE_IPV4:
	case DP_LINKTYPE_IPV6:
	case DP_LINKTYPE_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

#endif
