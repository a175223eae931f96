/* cls_session.h — what a classifier sees of a session and of each packet.
 *
 * Plain C with no DPDK dependency: the dataplane fills these views from its session table; unit
 * tests and fuzzers fill them by hand. Plugins read them and never keep pointers past the call
 * (payload pointers point into packet buffers that are gone after the call). */
#ifndef CLS_SESSION_H
#define CLS_SESSION_H

#include <stdbool.h>
#include <stdint.h>

/* Session types (TIE): flow = one direction of a 5-tuple; biflow = both directions, src = the
 * side that sent the first packet; host = all traffic of one IP address. */
enum cls_session_type { CLS_SESSION_FLOW = 0, CLS_SESSION_BIFLOW = 1, CLS_SESSION_HOST = 2 };

enum cls_dir { CLS_DIR_FWD = 0, CLS_DIR_BWD = 1 }; /* fwd: from the session's src */

/* Addresses in network byte order; IPv4 uses the first 4 bytes (rest zero). */
struct cls_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport, dport;
	uint8_t proto;  /* IPPROTO_* (0 for host sessions) */
	uint8_t family; /* 4 or 6 */
};

/* On-demand features (TIE's -I -p -S options). Arrays are NULL when the feature is off. */
#define CLS_FIRST_N_MAX 32
#define CLS_FIRST_BYTES_MAX 256
struct cls_features {
	uint16_t n_pkts;                 /* how many of the first packets are recorded */
	const uint16_t *sizes;           /* payload size of packet i */
	const uint8_t *dirs;             /* enum cls_dir of packet i */
	const uint32_t *iat_us;          /* µs since the previous packet (0 for the first) */
	const uint8_t *first_bytes[2];   /* first payload bytes in each direction */
	uint16_t first_len[2];
	const uint8_t *stream;           /* the session's first stream bytes (both directions) */
	uint32_t stream_len;
};

struct cls_session {
	struct cls_key key;
	uint8_t type;                    /* enum cls_session_type */
	uint64_t first_ts_ns, last_ts_ns;
	uint32_t pkts[2];                /* packets per direction */
	uint64_t bytes[2];               /* wire bytes per direction */
	uint64_t payload_bytes[2];       /* transport payload bytes per direction */
	struct cls_features feat;
	/* The session's sub-label (SNI, DNS name, HTTP host), one slot shared by all classifiers
	 * so none has to keep its own copy: a classifier that recognises the session writes it,
	 * NUL-terminated, if it is still empty. NULL when the caller keeps none. */
	char *label;
	uint32_t label_size;
};

struct cls_packet {
	const uint8_t *payload;          /* transport payload present in the capture */
	uint32_t payload_len;
	const uint8_t *l3;               /* the IP header (for DPI engines that parse it); NULL: none */
	uint32_t l3_len;                 /* IP header to the end of the payload present */
	uint32_t wire_len;
	uint64_t ts_ns;
	uint32_t index;                  /* 0-based packet number within the session */
	uint8_t dir;                     /* enum cls_dir */
	uint8_t tcp_flags;
	uint8_t l4proto;
	struct cls_expect *expect;       /* where to announce expected sessions (cls_plugin.h) */
};

#endif
