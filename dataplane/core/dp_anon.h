/* dp_anon.h — prefix-preserving IP address anonymisation (Crypto-PAn, Xu et al. 2002), keyed.
 *
 * Two addresses that share a k-bit prefix map to anonymised addresses sharing exactly a k-bit
 * prefix, so subnets stay subnets in the dataset while no real address is ever written. The key
 * is 32 bytes: 16 for AES-128, 16 for the pad, as in the reference implementation. A small
 * per-context cache keeps the per-packet cost low (Crypto-PAn needs one AES block per bit). */
#ifndef DP_ANON_H
#define DP_ANON_H

#include <stddef.h>
#include <stdint.h>
#include "dp_parse.h"

struct dp_anon;

#define DP_ANON_KEY_LEN 32

/* Returns NULL with errno set (ENOMEM, or EINVAL if OpenSSL refuses the key). One context per
 * worker: not thread-safe. */
struct dp_anon *dp_anon_create(const uint8_t key[DP_ANON_KEY_LEN]);
void dp_anon_free(struct dp_anon *a);

/* Anonymise one address in place (network byte order). */
void dp_anon_ip4(struct dp_anon *a, uint8_t addr[4]);
void dp_anon_ip6(struct dp_anon *a, uint8_t addr[16]);

/* Anonymise the IP source and destination of a parsed frame in place and fix the IPv4 header
 * checksum and the TCP/UDP/ICMPv6 checksums (incrementally, RFC 1624) where the covered bytes
 * are present. Non-IP frames are left unchanged. Returns 1 if the frame was rewritten, else 0. */
int dp_anon_packet(struct dp_anon *a, uint8_t *data, uint32_t caplen, const struct dp_pkt_info *pi);

/* Parse a key given as 64 hex digits, or read 32 raw bytes / 64 hex digits from a file when
 * `spec` starts with '@'. Returns 0 or -errno (EINVAL for a bad key, with a message in err). */
int dp_anon_key_parse(const char *spec, uint8_t key[DP_ANON_KEY_LEN], char *err, size_t errlen);

#endif
