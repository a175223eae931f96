/* dp_hash.h — the symmetric 5-tuple hash: both directions of a conversation give the same value.
 *
 * Used for software distribution of packets to workers when a port has no symmetric RSS, and
 * (later) as the session table key hash, so a biflow always lands on one worker. */
#ifndef DP_HASH_H
#define DP_HASH_H

#include <stdint.h>
#include "dp_parse.h"

/* Symmetric hash of (addresses, ports, protocol): hash(a→b) == hash(b→a). Packets that are not
 * IP hash on nothing (0) so they all go to one worker; non-first fragments hash on addresses
 * and protocol only (they carry no ports), so they share a worker with their first fragment's
 * address pair at least. `seed` lets tests check distribution for several keys. */
uint32_t dp_hash_sym(const struct dp_pkt_info *pi, uint32_t seed);

#endif
