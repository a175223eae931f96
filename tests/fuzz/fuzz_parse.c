/* fuzz_parse.c — libFuzzer target for the per-packet path: dp_parse, dp_hash_sym and
 * dp_anon_packet, on the same frame, as a worker runs them.
 *
 * Input: byte 0 picks the link type (modulo the supported list), the rest is the frame. The
 * frame is copied to a buffer of exactly its size, so ASan flags any access past caplen. Beyond
 * "no crash", it checks what callers rely on: offsets inside the capture, the hash symmetric,
 * and anonymisation changing addresses and checksums only (re-parsing gives the same layout,
 * through tunnels too). Seeds in seeds/fuzz_parse/ include one frame per tunnel kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_anon.h"
#include "dp_hash.h"
#include "dp_linktype.h"
#include "dp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned int link_types[] = {
	DP_LINKTYPE_ETHERNET,
	DP_LINKTYPE_LINUX_SLL,
	DP_LINKTYPE_LINUX_SLL2,
	DP_LINKTYPE_RAW,
	DP_LINKTYPE_IPV4,
	DP_LINKTYPE_IPV6,
	DP_LINKTYPE_NULL,
	DP_LINKTYPE_LOOP,
};

#define N_LINK_TYPES (sizeof(link_types) / sizeof(link_types[0]))

static struct dp_anon *anon;

static void
check_info(const struct dp_pkt_info *pi, uint32_t caplen)
{
	if (pi->status >= DP_PARSE_STATUS_MAX || pi->n_vlans > 2)
		abort();
	if ((uint32_t)pi->payload_off + pi->payload_len > caplen)
		abort();
	if ((pi->flags & DP_PKT_HAS_L4) && pi->l4_off >= caplen)
		abort();
	if (pi->l3 != DP_L3_NONE && pi->l3 != DP_L3_IPV4 && pi->l3 != DP_L3_IPV6)
		abort();
	/* tunnels: bounded depth, and every outer IP header recorded lies inside the capture */
	if (pi->tunnel >= DP_TUNNEL_MAX || pi->tunnel_depth > DP_TUNNEL_DEPTH_MAX ||
		(pi->tunnel == DP_TUNNEL_NONE) != (pi->tunnel_depth == 0))
		abort();
	for (unsigned int i = 0; i < pi->tunnel_depth; i++)
		if (pi->outer_l3_off[i] != DP_OFF_NONE && (uint32_t)pi->outer_l3_off[i] + 20 > caplen)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt_info pi, rev, again;
	unsigned int lt;
	uint32_t caplen;
	uint8_t *frame;

	if (size < 1)
		return 0;
	if (anon == NULL) {
		static const uint8_t key[DP_ANON_KEY_LEN] = {21, 34, 23, 141, 51, 164, 207, 128,
			19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131, 121, 121, 101, 39, 98,
			87, 76, 45, 42, 132, 34, 2};

		anon = dp_anon_create(key);
		if (anon == NULL)
			abort();
	}
	lt = link_types[data[0] % N_LINK_TYPES];
	caplen = (uint32_t)(size - 1);
	frame = malloc(caplen ? caplen : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 1, caplen);

	dp_parse(frame, caplen, lt, &pi);
	check_info(&pi, caplen);

	rev = pi;
	memcpy(rev.src, pi.dst, 16);
	memcpy(rev.dst, pi.src, 16);
	rev.sport = pi.dport;
	rev.dport = pi.sport;
	if (dp_hash_sym(&pi, 7) != dp_hash_sym(&rev, 7))
		abort();

	if (dp_anon_packet(anon, frame, caplen, &pi)) {
		dp_parse(frame, caplen, lt, &again);
		/* Only addresses moved: the layout and status must be what they were. */
		memcpy(again.src, pi.src, 16);
		memcpy(again.dst, pi.dst, 16);
		if (memcmp(&again, &pi, sizeof(pi)) != 0)
			abort();
	} else if (memcmp(frame, data + 1, caplen) != 0) {
		abort(); /* "not rewritten" must mean untouched */
	}
	free(frame);
	return 0;
}
