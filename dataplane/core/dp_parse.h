/* dp_parse.h — the packet parser: link layer → VLAN/QinQ → IPv4/IPv6 (+ext headers, fragments)
 * → TCP/UDP/ICMP/ICMPv6/SCTP, on a plain byte buffer, through tunnels (IP-in-IP, GRE, ERSPAN,
 * VXLAN, GTP-U, MPLS, PPPoE) to the innermost packet.
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

/* Encapsulations the parser looks through, as an X-macro (names are those of flow records).
 * Sessions are keyed on the innermost packet; the kind kept is the outermost one. */
#define DP_TUNNEL_LIST(_)                                                        \
	_(NONE, "")                                                              \
	_(IPIP, "ipip")     /* IPv4/IPv6 in IPv4/IPv6 (IP protocols 4, 41) */     \
	_(GRE, "gre")       /* GRE v0 carrying IP or Ethernet (0x6558) */         \
	_(ERSPAN, "erspan") /* GRE 0x88be (type I/II) and 0x22eb (type III) */    \
	_(VXLAN, "vxlan")   /* UDP 4789 */                                        \
	_(GTPU, "gtpu")     /* UDP 2152, GTPv1-U G-PDU */                         \
	_(MPLS, "mpls")     /* ethertypes 0x8847/0x8848 */                        \
	_(PPPOE, "pppoe")   /* PPPoE session, ethertype 0x8864 */

enum dp_tunnel {
#define _(sym, name) DP_TUNNEL_##sym,
	DP_TUNNEL_LIST(_)
#undef _
	DP_TUNNEL_MAX
};

extern const char *const dp_tunnel_names[DP_TUNNEL_MAX];

/* At most this many nested encapsulations are opened (real traffic has one or two); a deeper
 * one is reported UNSUPPORTED, described as far as the bound. Each level has at most one IP
 * header outside it, so outer_l3_off[] has one slot per level. */
#define DP_TUNNEL_DEPTH_MAX 3
#define DP_OFF_NONE 0xffff /* an unused outer_l3_off slot: no IP header can start there */

enum dp_l3 { DP_L3_NONE = 0, DP_L3_IPV4 = 4, DP_L3_IPV6 = 6 };

/* flags */
#define DP_PKT_FRAGMENT 0x01   /* IPv4/IPv6 fragment (any) */
#define DP_PKT_FIRST_FRAG 0x02 /* the fragment at offset 0: L4 header present */
#define DP_PKT_HAS_L4 0x04     /* sport/dport (or ICMP type/code) are valid */
#define DP_PKT_IPV4_OPTS 0x08  /* IPv4 header carries options */
#define DP_PKT_IPV6_EXT 0x10   /* IPv6 extension headers were walked */

/* What the parser learnt. Addresses are kept in network byte order; an IPv4 address is stored
 * in the first 4 bytes of the 16-byte field (rest zero) so hashing treats both families alike.
 * Ports are host order. For ICMP/ICMPv6, sport = type; dport = the partner type for messages
 * that come in request/reply pairs (echo, timestamp, information, address mask, router and
 * neighbour solicitation/advertisement), so that both halves share one symmetric key as in
 * Zeek (an echo request is 8→0, its reply 0→8), and dport = code for the others.
 *
 * Through a tunnel, the addresses, ports, offsets, flags, l3/l4proto and status describe the
 * innermost packet; ethertype is the last one met (an inner Ethernet's, else the outer link's:
 * 0x8847 for IP over MPLS); vlan[] keeps the first two tags met, outer ones first. */
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
	uint8_t tunnel;       /* enum dp_tunnel: the outermost encapsulation, 0 if none */
	uint8_t tunnel_depth; /* encapsulations opened (<= DP_TUNNEL_DEPTH_MAX) */
	/* the IP headers outside the innermost, outermost first (DP_OFF_NONE: unused); valid only
	 * when tunnel != 0 — the anonymiser rewrites them too */
	uint16_t outer_l3_off[DP_TUNNEL_DEPTH_MAX];
};

/* Parse a frame of pcap link type `linktype` (enum dp_linktype). Always fills `out` (zeroed
 * first) and returns out->status. */
enum dp_parse_status dp_parse(const uint8_t *data, uint32_t caplen, unsigned int linktype,
	struct dp_pkt_info *out);

#endif
