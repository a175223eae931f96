/* tide_member.h — an integer stored into, or read from, a struct member named by its offset and
 * size, for the table-driven parsers (tide-dataplane's options, the job contract's fields, the
 * drone tuning keys): one definition of how a value meets a member of 1, 2, 4 or 8 bytes.
 * Header-only. The caller has checked the value's bounds against the member's. */
#ifndef TIDE_MEMBER_H
#define TIDE_MEMBER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void
tide_member_set(void *base, size_t off, size_t size, uint64_t v)
{
	char *p = (char *)base + off;

	switch (size) {
	case 1: { uint8_t u = (uint8_t)v; memcpy(p, &u, 1); break; }
	case 2: { uint16_t u = (uint16_t)v; memcpy(p, &u, 2); break; }
	case 4: { uint32_t u = (uint32_t)v; memcpy(p, &u, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

static inline uint64_t
tide_member_get(const void *base, size_t off, size_t size)
{
	const char *p = (const char *)base + off;

	switch (size) {
	case 1: { uint8_t u; memcpy(&u, p, 1); return u; }
	case 2: { uint16_t u; memcpy(&u, p, 2); return u; }
	case 4: { uint32_t u; memcpy(&u, p, 4); return u; }
	default: { uint64_t u; memcpy(&u, p, 8); return u; }
	}
}

#endif
