/* cls_dissect.h — the pure parsers behind the protocol dissector plugins (TLS, QUIC, DNS, HTTP),
 * exported so unit tests and fuzzers can drive them without an engine.
 *
 * Every parser reads only [p, p + len), never allocates, and answers in the same three-way
 * convention so a plugin can feed it a growing stream prefix:
 *    1  parsed: `out` is filled;
 *    0  need more bytes: what is there is consistent with the protocol so far;
 *   -1  not this protocol (or malformed beyond doubt).
 * Pointers a parser puts in `out` point into `p` and live as long as the caller's buffer.
 *
 * Also here: the per-worker reassembly buffer pool the stream dissectors borrow from, so a
 * session's plugin state stays a few hundred bytes instead of carrying a 16 KiB buffer that
 * nearly every session (DNS, a ClientHello in one segment, non-TLS traffic) would never use. */
#ifndef CLS_DISSECT_H
#define CLS_DISSECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cls_session.h"

/* ---------------------------------------------------------------- labels */

struct cls_session;

/* Copy a name (SNI, DNS name, HTTP host) into a sub-label: ASCII lower-cased; anything but
 * letters, digits and ". - _ : [ ]" becomes '?', so a label can never break a CSV/JSON record
 * or a terminal. Truncates to cap - 1 characters; always NUL-terminates (cap >= 1). Returns the
 * label length. */
static inline size_t
cls_label_copy(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + ('a' - 'A'));
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
				 c == '_' || c == ':' || c == '[' || c == ']'))
			c = '?';
		dst[i] = (char)c;
	}
	dst[n] = '\0';
	return n;
}

/* Write a sub-label into the session's shared slot (cls_session.label), first writer wins: a
 * dissector keeps no copy of its own. */
static inline void
cls_label_set(const struct cls_session *s, const uint8_t *src, size_t len)
{
	if (s->label && s->label_size && !s->label[0])
		cls_label_copy(s->label, s->label_size, src, len);
}

/* The slot's label into a result (so the combiner sees whose label it is). */
static inline void
cls_label_get(const struct cls_session *s, char *out, size_t cap)
{
	if (s->label && s->label[0])
		snprintf(out, cap, "%s", s->label);
	else
		out[0] = '\0';
}

/* FNV-1a over a segment: the stream plugins remember the last segment's length and hash per
 * direction and skip an identical one (the common TCP retransmission), since cls_packet carries
 * no sequence number to order segments by. */
static inline uint32_t
cls_seg_hash(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Value of "key=N" in a plugin's "k=v,k=v" option string, clamped to [lo, hi]; def if absent or
 * not a number. */
static inline uint32_t
cls_opt_u32(const char *options, const char *key, uint32_t def, uint32_t lo, uint32_t hi)
{
	size_t klen = 0;

	while (key[klen])
		klen++;
	for (const char *o = options; o && *o;) {
		const char *v = o;
		size_t i = 0;

		while (i < klen && v[i] == key[i])
			i++;
		if (i == klen && v[i] == '=') {
			uint64_t n = 0;
			const char *d = v + i + 1;

			if (*d < '0' || *d > '9')
				return def;
			while (*d >= '0' && *d <= '9' && n <= hi)
				n = n * 10 + (uint64_t)(*d++ - '0');
			return n < lo ? lo : n > hi ? hi : (uint32_t)n;
		}
		while (*o && *o != ',')
			o++;
		if (*o == ',')
			o++;
	}
	return def;
}

/* ---------------------------------------------------------------- reassembly pool
 * (implemented in cls_tls.c, used by the TLS, QUIC and HTTP plugins)
 *
 * A worker owns one pool per plugin: n buffers of one size, allocated once at worker_init. A
 * session borrows a buffer only when its handshake does not fit in one packet, and returns it
 * when it decides (or at session_free). The session keeps a ticket; a slot idle for longer than
 * CLS_REASM_STALE_NS may be taken over by another session when the pool is exhausted (so a
 * session whose end was never reported cannot leak a slot) — the old owner then sees a stale
 * ticket and gives up. */
#define CLS_REASM_STALE_NS (10ull * 1000000000ull)

struct cls_reasm_pool;

struct cls_reasm_ticket {
	uint32_t slot; /* index + 1; 0 = no buffer */
	uint32_t gen;  /* the slot's generation when borrowed */
};

/* NULL (errno ENOMEM/EINVAL) on failure. n >= 1, buf_size >= 1. */
struct cls_reasm_pool *cls_reasm_pool_new(uint32_t n, uint32_t buf_size);
void cls_reasm_pool_free(struct cls_reasm_pool *pool);
uint32_t cls_reasm_pool_buf_size(const struct cls_reasm_pool *pool);
/* The ticket's buffer: borrows one when the ticket is empty (its content is then undefined).
 * NULL when the pool is exhausted or the ticket went stale; `now_ns` is packet time. */
uint8_t *cls_reasm_get(struct cls_reasm_pool *pool, struct cls_reasm_ticket *t, uint64_t now_ns);
/* Return the ticket's buffer (if still its own) and empty the ticket. NULL pool is a no-op. */
void cls_reasm_put(struct cls_reasm_pool *pool, struct cls_reasm_ticket *t);
/* Buffers currently lent out (for tests). */
uint32_t cls_reasm_pool_in_use(const struct cls_reasm_pool *pool);

/* ---------------------------------------------------------------- TLS (cls_tls.c) */

#define CLS_TLS_HS_CLIENT_HELLO 1
#define CLS_TLS_HS_SERVER_HELLO 2
#define CLS_TLS_REC_HANDSHAKE 22
#define CLS_TLS_REC_MAX 18432 /* 2^14 + 2048: the largest record any TLS version allows */

/* A parsed ClientHello or ServerHello. */
struct cls_tls_hello {
	uint8_t type;             /* CLS_TLS_HS_CLIENT_HELLO or CLS_TLS_HS_SERVER_HELLO */
	bool ech;                 /* encrypted_client_hello: the SNI is only the public name */
	uint16_t legacy_version;  /* 0x0301..0x0303 (0x0300 SSL 3) */
	uint16_t version;         /* highest supported_versions entry, else legacy_version */
	uint16_t cipher_suite;    /* ServerHello: the chosen suite; ClientHello: 0 */
	uint16_t n_extensions;
	uint32_t msg_len;         /* bytes of the whole handshake message (4 + body) */
	const uint8_t *sni;       /* server_name host_name, NULL if absent */
	uint16_t sni_len;
	const uint8_t *alpn;      /* first ALPN protocol, NULL if absent */
	uint8_t alpn_len;
};

/* Parse a ClientHello handshake message (type 1, uint24 length, body) — as found in a TLS
 * handshake record's payload or in the QUIC CRYPTO stream.
 * Returns 1 parsed; 0 need more (the bytes present are a consistent prefix: type 1, a sane
 * length, version 3.x); -1 not a ClientHello (another type, a length or field inconsistent). */
int cls_tls_parse_client_hello(const uint8_t *p, size_t len, struct cls_tls_hello *out);

/* Same for a ServerHello (type 2): version, cipher suite, ALPN (TLS <= 1.2 only: 1.3 sends it
 * encrypted), supported_versions. Returns 1 / 0 / -1 as above. */
int cls_tls_parse_server_hello(const uint8_t *p, size_t len, struct cls_tls_hello *out);

/* Incremental record-layer de-framer: strips 5-byte record headers from a TCP stream and
 * appends the handshake records' payloads to a buffer. Zero it to start. */
struct cls_tls_deframer {
	uint8_t hdr[5];
	uint8_t hdr_have;   /* header bytes of the next record seen so far */
	uint8_t records;    /* records started (saturates at 255) */
	uint16_t rec_left;  /* payload bytes left in the current record */
};

/* Feed `len` stream bytes. Handshake payload goes to out[*out_len..cap) and *out_len grows.
 * Returns 1 all bytes consumed; 0 `out` is full (the rest was not consumed); -1 the stream is
 * not (or no longer) TLS handshake records: a bad header, a zero or oversized length, or a
 * record of another content type (ChangeCipherSpec, alert, data). Payload appended before the
 * offending record stays valid in every case. */
int cls_tls_deframe(struct cls_tls_deframer *d, const uint8_t *p, size_t len, uint8_t *out,
	size_t cap, size_t *out_len);

/* ---------------------------------------------------------------- QUIC (cls_quic.c) */

#define CLS_QUIC_V1 0x00000001u       /* RFC 9000 */
#define CLS_QUIC_V2 0x6b3343cfu       /* RFC 9369 */
#define CLS_QUIC_DRAFT29 0xff00001du  /* drafts 29-32 share the draft-29 salt */
#define CLS_QUIC_CID_MAX 20
#define CLS_QUIC_MAX_RANGES 16        /* CRYPTO holes tolerated; Chrome shuffles its frames */

/* Initial packet protection keys (AES-128-GCM, AES-128-ECB header protection). */
struct cls_quic_keys {
	uint8_t key[16];
	uint8_t iv[12];
	uint8_t hp[16];
};

/* Derive the client (server = false) or server Initial keys of `version` from the client's
 * first Destination Connection ID (RFC 9001 5.2; RFC 9369 3.3 salts and "quicv2" labels).
 * Returns 0; -EPROTONOSUPPORT for a version without known Initial salt; -EINVAL for a CID
 * longer than 20 bytes; -EIO when OpenSSL fails. Allocates inside OpenSSL: call once per
 * connection, not per packet. */
int cls_quic_derive_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, bool server,
	struct cls_quic_keys *out);

/* Per-worker crypto scratch: cipher contexts and a datagram-sized plaintext buffer. */
struct cls_quic_crypto;
struct cls_quic_crypto *cls_quic_crypto_new(void); /* NULL on failure */
void cls_quic_crypto_free(struct cls_quic_crypto *cc);

/* What a connection's client Initials have shown so far. Zero it to start. */
struct cls_quic_conn {
	uint32_t version;           /* version the cached keys are for */
	uint8_t dcid_len;
	uint8_t have_keys;          /* keys hold the client keys of (version, dcid) */
	uint8_t n_ranges;
	uint8_t crypto_overflow;    /* CRYPTO data lay beyond the buffer, or too many holes */
	uint8_t derives;            /* key derivations done: bounded, they cost an HKDF each */
	uint8_t dcid[CLS_QUIC_CID_MAX];
	struct cls_quic_keys keys;
	int64_t largest_pn;         /* for packet-number recovery; valid once initials > 0 */
	uint32_t initials;          /* Initial packets authenticated */
	uint32_t long_headers;      /* well-formed long headers of a known version (any type) */
	struct {
		uint16_t lo, hi;    /* [lo, hi) of the CRYPTO stream received, sorted, disjoint */
	} ranges[CLS_QUIC_MAX_RANGES];
};

/* Parse one UDP datagram: every coalesced long-header packet in it; each client Initial of a
 * known version is unprotected (keys derived once per DCID), authenticated, and its CRYPTO
 * frames are copied into crypto[0..crypto_cap) at their stream offsets (crypto may be NULL:
 * then only authentication is done). cc is the worker's scratch.
 * Returns 1 at least one Initial authenticated; 0 QUIC-shaped (a long header of a known
 * version, or a version negotiation) but nothing authenticated — a server Initial, 0-RTT,
 * Handshake, a truncated capture; -1 not QUIC. */
int cls_quic_parse_initial(struct cls_quic_crypto *cc, const uint8_t *p, size_t len,
	struct cls_quic_conn *conn, uint8_t *crypto, size_t crypto_cap);

/* Walk decrypted Initial frames (PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE) and reassemble
 * CRYPTO data as above. Returns 1 frames well-formed; -1 a malformed or non-Initial frame
 * (CRYPTO data before it is kept). Exposed for the fuzzer. */
int cls_quic_parse_frames(const uint8_t *p, size_t len, struct cls_quic_conn *conn,
	uint8_t *crypto, size_t crypto_cap);

/* The ClientHello at the start of the reassembled CRYPTO stream, if complete:
 * cls_tls_parse_client_hello() on the contiguous prefix. Returns 1 / 0 / -1 as that does. */
int cls_quic_client_hello(const struct cls_quic_conn *conn, const uint8_t *crypto,
	struct cls_tls_hello *out);

/* ---------------------------------------------------------------- DNS (cls_dns.c) */

#define CLS_DNS_NAME_MAX 256       /* a 255-byte wire name prints as at most 254 chars */
#define CLS_DNS_F_MULTICAST 0x01   /* mDNS/LLMNR rules: up to 64 questions, answer-only
				    * responses, the class top bit is the unicast-response bit */

struct cls_dns_msg {
	uint16_t id;
	uint16_t flags;             /* header bits after the ID, as sent */
	uint16_t qdcount, ancount, nscount, arcount;
	bool response;              /* QR */
	bool complete;              /* every counted record parsed, exactly to the end */
	uint8_t opcode, rcode;
	uint16_t qtype, qclass;     /* of the first question (type/class of the first answer for
				     * an answer-only mDNS response) */
	uint16_t name_len;
	char name[CLS_DNS_NAME_MAX]; /* that record's name: dotted, lower-case, cls_label_copy
				      * rules, "." for the root */
};

/* Parse a DNS message (UDP payload): header sanity (opcode QUERY/STATUS/NOTIFY/UPDATE, counts
 * bounded: 1..4 questions unless CLS_DNS_F_MULTICAST, a query carries no answers and RCODE 0),
 * the first question's name (compression pointers must point backwards; at most 32 hops), a
 * known class, then the remaining records as far as the bytes go.
 * Returns 1 a DNS message (out->complete tells whether all records fit exactly); 0 need more:
 * shorter than the header plus first question; -1 not DNS. */
int cls_dns_parse_query(const uint8_t *p, size_t len, unsigned int flags,
	struct cls_dns_msg *out);

/* DNS over TCP: a 2-byte length (12..65535) then the message. Returns as cls_dns_parse_query
 * on min(len - 2, length) bytes; 0 also when only (part of) the length is present. */
int cls_dns_parse_tcp(const uint8_t *p, size_t len, unsigned int flags, struct cls_dns_msg *out);

/* NetBIOS name service (RFC 1002 4.2), which reuses DNS's header and names: */
struct cls_nbns_msg {
	bool response;
	uint8_t opcode;             /* 0 query, 5 registration, 6 release, 7 WACK, 8/9 refresh */
	uint8_t suffix;             /* the name's 16th byte: 0x00 workstation, 0x20 server, ... */
	uint8_t name_len;
	uint16_t qtype;             /* 0x20 NB, 0x21 NBSTAT */
	char name[16];              /* decoded, trailing spaces dropped, NUL-terminated (raw
				     * bytes: label it with cls_label_copy) */
};

/* Parse an NBNS message: header (NBNS opcodes, at most one record per section), the first
 * record's name as one 32-letter 'A'-'P' label (plus scope labels), type NB or NBSTAT, class
 * IN. Returns 1 NBNS; 0 need more; -1 not NBNS (a DNS message gives -1). */
int cls_nbns_parse(const uint8_t *p, size_t len, struct cls_nbns_msg *out);

/* ---------------------------------------------------------------- RTP, RTCP, DTLS (cls_rtp.c) */

struct cls_rtp_hdr {
	uint8_t pt;                 /* payload type (72-76 refused: RTCP with the marker bit) */
	uint16_t seq;
	uint32_t ts, ssrc;
};

/* An RTP header (version 2, CSRC list inside the datagram). 1 / -1. */
int cls_rtp_parse(const uint8_t *p, size_t len, struct cls_rtp_hdr *out);
/* A compound RTCP datagram: version 2, types 200-204, lengths ending exactly at len, the first
 * a sender or receiver report. 1 / -1. */
int cls_rtcp_parse(const uint8_t *p, size_t len);
/* DTLS 1.0/1.2 records filling the datagram exactly; *hello when the first is a handshake
 * record of epoch 0 opening with a ClientHello, ServerHello or HelloVerifyRequest whose
 * fragment header is consistent. 1 / -1. */
int cls_dtls_parse(const uint8_t *p, size_t len, bool *hello);

/* ---------------------------------------------------------------- HTTP (cls_http.c) */

struct cls_http_msg {
	bool response;
	bool line_complete;         /* the request/status line ended (CRLF or LF) */
	bool headers_complete;      /* the empty line ending the header block was seen */
	bool connect;               /* CONNECT method */
	bool absolute_form;         /* request-target "http://…": a forward-proxy request */
	uint8_t version_minor;      /* HTTP/1.x: x (0 or 1) */
	uint8_t method_len;
	uint16_t status;            /* response status code */
	const uint8_t *method;      /* request method token */
	const uint8_t *host;        /* Host header value (or CONNECT/absolute-form authority when no
				     * Host header), trimmed, port included; NULL if not seen */
	uint16_t host_len;
};

/* Parse an HTTP/1.x request head prefix: a known method, SP, a request-target of visible
 * characters, SP, "HTTP/1.0" or "HTTP/1.1", then header lines up to the Host header.
 * Returns 1 the request line is complete and either the Host header or the end of the headers
 * was reached; 0 need more (out->method is set when the prefix starts "<known method> ", so a
 * caller that must stop early can still tell HTTP from noise); -1 not an HTTP/1.x request. */
int cls_http_parse_request(const uint8_t *p, size_t len, struct cls_http_msg *out);

/* Parse an HTTP/1.x status line prefix "HTTP/1.x NNN ". Returns 1 / 0 / -1. */
int cls_http_parse_response(const uint8_t *p, size_t len, struct cls_http_msg *out);

/* Strip the port from an authority/Host value ("a.b:8080" → "a.b", "[::1]:80" → "[::1]").
 * Returns the length without the port. */
size_t cls_http_host_len(const uint8_t *host, size_t len);

/* ---------------------------------------------------------------- the plugins */

struct cls_plugin;
extern const struct cls_plugin cls_plugin_tls;
extern const struct cls_plugin cls_plugin_quic;
extern const struct cls_plugin cls_plugin_dns;
extern const struct cls_plugin cls_plugin_http;
extern const struct cls_plugin cls_plugin_rtp;
extern const struct cls_plugin cls_plugin_ntp;

#endif
