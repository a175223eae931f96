/* dp_load.h — unaligned loads of a capture file's integers in the file's byte order (pcap and
 * pcapng sections may be either endianness): one definition for the file reader
 * (dp_pcapfile.c) and the shard recovery walk (dp_pcapng.c). Header-only. */
#ifndef DP_LOAD_H
#define DP_LOAD_H

#include <stdint.h>
#include <string.h>

static inline uint16_t
ld16(int swap, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap16(v) : v;
}

static inline uint32_t
ld32(int swap, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap32(v) : v;
}

#endif
