/* fuzz_media.c — libFuzzer target for the datagram dissectors of real-time media and time:
 * RTP/RTCP/DTLS (cls_rtp.c) and NTP (cls_ntp.c), each fed twice — in fuzz_plugin's segments
 * (a length byte before each), and as equal datagrams of the size the first byte gives, so
 * that whole 48-byte NTP messages and runs of same-sized RTP packets are reached — checking
 * the result contract each time.
 *
 * Built by tests/fuzz/meson.build in the -Dfuzz=true build that tests/fuzz/run.sh makes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_engine.h"
#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"
#include "fuzz_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Datagrams of n = data[0] + 1 bytes (the last one shorter), directions alternating by the
 * parity of each datagram's first byte. */
static void
fixed_datagrams(const struct cls_plugin *pl, void *ctx, const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	size_t n = (size_t)data[0] + 1;
	struct cls_session s;
	struct cls_result r;
	char label[CLS_LABEL_MAX];
	void *state = calloc(1, pl->state_size ? pl->state_size : 1);
	if (!state)
		abort();
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	label[0] = '\0';
	s.label = label;
	s.label_size = sizeof(label);
	s.key.proto = 17;
	s.key.family = 4;
	s.type = CLS_SESSION_BIFLOW;
	uint32_t index = 0;
	for (size_t off = 1; off < size && index < 64; off += n, index++) {
		size_t len = size - off < n ? size - off : n;
		uint8_t *seg = malloc(len);
		if (!seg)
			abort();
		memcpy(seg, data + off, len);
		struct cls_packet p = {.payload = seg, .payload_len = (uint32_t)len,
			.wire_len = (uint32_t)len + 42, .ts_ns = (uint64_t)index * 20000000,
			.index = index, .dir = seg[0] & 1, .l4proto = 17};
		s.pkts[p.dir]++;
		pl->packet(ctx, NULL, state, &s, &p);
		free(seg);
		if (pl->is_session_classifiable(ctx, state, &s))
			break;
	}
	pl->classify_session(ctx, state, &s, &r);
	if (r.confidence > 100 || (r.app_id == 0 && r.confidence != 0) ||
	    r.evidence >= CLS_EV_MAX || strnlen(label, sizeof(label)) == sizeof(label))
		abort();
	if (pl->session_free)
		pl->session_free(ctx, NULL, state);
	free(state);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cls_apps *apps;
	static void *rtp, *ntp;

	if (!apps) {
		struct cls_config cfg = {.config_dir = ".", .options = "", .log = cls_host_log };

		apps = fuzz_apps();
		cfg.apps = apps;
		if (cls_plugin_rtp.enable(&rtp, &cfg) != 0 || cls_plugin_ntp.enable(&ntp, &cfg) != 0)
			abort();
	}
	fuzz_plugin(&cls_plugin_rtp, rtp, NULL, 17, NULL, data, size);
	fuzz_plugin(&cls_plugin_ntp, ntp, NULL, 17, NULL, data, size);
	fixed_datagrams(&cls_plugin_rtp, rtp, data, size);
	fixed_datagrams(&cls_plugin_ntp, ntp, data, size);
	return 0;
}
