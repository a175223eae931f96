/* dp_parse.h — the packet parser: link layer → VLAN/QinQ → IPv4/IPv6 (+ext headers, fragments)
 * → TCP/UDP/ICMP/ICMPv6/SCTP, on a plain byte buffer.
 *
 * No DPDK dependency, so it is unit-tested and fuzzed on its own. It never reads past `caplen`
 * and never fails hard: a packet it cannot fully parse is still described as far as it got, with
 * a status saying why (a capture appliance keeps what it cannot parse; it only counts it). */
#ifndef DP_PARSE_H
#define DP_PARSE_H

#include <stdint.h>

/* Parse outcomes, as an X-macro so the enum and the counter names cannot drift. */
#define DP_PARSE_STATUS_LIST(_)                                                  \
	_(OK, "ok")                                                              \
	_(TRUNCATED, "truncated")       /* a header ends past caplen */           \
	_(MALFORMED, "malformed")       /* a header field is impossible */        \
	_(NON_IP, "non_ip")             /* ARP, LLDP, …: fine, just not IP */      \
	_(UNSUPPORTED, "unsupported")   /* a link/L3 type tide does not decode */

enum dp_parse_status {
#define _(sym, name) DP_PARSE_##sym,
	DP_PARSE_STATUS_LIST(_)
#undef _
	DP_PARSE_STATUS_MAX
};

extern const char *const dp_parse_status_names[DP_PARSE_STATUS_MAX];

enum dp_l3 { DP_L3_NONE = 0, DP_L3_IPV4 = 4, DP_L3_IPV6 = 6 };

/* flags */
#define DP_PKT_FRAGMENT 0x01   /* IPv4/IPv6 fragment (any) */
#define DP_PKT_FIRST_FRAG 0x02 /* the fragment at offset 0: L4 header present */
#define DP_PKT_HAS_L4 0x04     /* sport/dport (or ICMP type/code) are valid */
#define DP_PKT_IPV4_OPTS 0x08  /* IPv4 header carries options */
#define DP_PKT_IPV6_EXT 0x10   /* IPv6 extension headers were walked */

/* What the parser learnt. Addresses are kept in network byte order; an IPv4 address is stored
 * in the first 4 bytes of the 16-byte field (rest zero) so hashing treats both families alike.
 * Ports are host order. For ICMP/ICMPv6, sport = type, dport = code (as flow tools do). */
struct dp_pkt_info {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint16_t l3_off;      /* offset of the IP header from the frame start */
	uint16_t l4_off;      /* offset of the transport header (valid with DP_PKT_HAS_L4) */
	uint16_t payload_off; /* offset of the transport payload */
	uint16_t payload_len; /* payload bytes present in the capture (<= caplen) */
	uint16_t vlan[2];     /* outer, inner VLAN ids (12 bits) */
	uint16_t ethertype;   /* after VLAN tags, host order; 0 when the link has none */
	uint8_t n_vlans;
	uint8_t l3;           /* enum dp_l3 */
	uint8_t l4proto;      /* IPPROTO_* of the final transport header, 0 if none */
	uint8_t tcp_flags;
	uint8_t flags;        /* DP_PKT_* */
	uint8_t status;       /* enum dp_parse_status */
};

/* Parse a frame of pcap link type `linktype` (enum dp_linktype). Always fills `out` (zeroed
 * first) and returns out->status. */
enum dp_parse_status dp_parse(const uint8_t *data, uint32_t caplen, unsigned int linktype,
	struct dp_pkt_info *out);

#endif
