/* fuzz_plugin.h — what the dissector fuzz targets share: a small application table for
 * enable(), and a driver that feeds a plugin segments the way the engine does and checks the
 * result contract (confidence range, unknown means 0, CSV-safe NUL-terminated labels). */
#ifndef FUZZ_PLUGIN_H
#define FUZZ_PLUGIN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_apps.h"
#include "cls_plugin.h"

/* An application table for enable(): written once to a temporary file (cls_apps has only a
 * file loader) and removed at once. */
static struct cls_apps *
fuzz_apps(void)
{
	static const char table[] = "1 0 DNS x\n1 1 DNS/DoT x\n2 0 HTTP x\n3 0 TLS x\n"
				    "3 1 TLS/HTTP2 x\n3 2 TLS/HTTP1.1 x\n4 0 QUIC x\n"
				    "4 1 QUIC/HTTP3 x\n31 0 mDNS x\n48 0 LLMNR x\n54 0 IMAPS x\n"
				    "55 0 POP3S x\n56 0 HTTP-Proxy x\n10 0 NTP x\n14 0 RTP x\n"
				    "14 1 RTP/RTCP x\n18 0 NetBIOS x\n68 0 DTLS x\n";
	char path[] = "/tmp/fuzz_cls_appsXXXXXX", err[256];
	int fd = mkstemp(path);
	struct cls_apps *a;

	if (fd < 0 || write(fd, table, sizeof(table) - 1) != (ssize_t)(sizeof(table) - 1))
		abort();
	close(fd);
	a = cls_apps_load(path, err, sizeof(err));
	unlink(path);
	if (!a)
		abort();
	return a;
}

/* Drive a plugin like the engine does: the input is cut into segments, each introduced by one
 * byte (top bit = direction, low 7 bits x 23 = length, 0 = the rest), each copied to a heap
 * buffer of exactly its size so ASan sees any over-read. Checks the result contract. */
static void
fuzz_plugin(const struct cls_plugin *pl, void *ctx, void *wctx, uint8_t proto,
	const uint8_t *dst4, const uint8_t *data, size_t size)
{
	struct cls_session s;
	struct cls_result r;
	char label[CLS_LABEL_MAX]; /* the engine's shared sub-label slot */
	void *state = calloc(1, pl->state_size);
	uint32_t index = 0;

	if (!state)
		abort();
	memset(&s, 0, sizeof(s));
	label[0] = '\0';
	s.label = label;
	s.label_size = sizeof(label);
	s.key.proto = proto;
	s.key.family = 4;
	s.type = CLS_SESSION_BIFLOW;
	if (dst4)
		memcpy(s.key.dst, dst4, 4);
	while (size > 0 && index < 64) {
		uint8_t c = data[0];
		size_t n = (size_t)(c & 0x7f) * 23;

		data++;
		size--;
		if (n == 0 || n > size)
			n = size;
		uint8_t *seg = malloc(n ? n : 1);

		if (!seg)
			abort();
		if (n)
			memcpy(seg, data, n);
		struct cls_packet p = {.payload = seg, .payload_len = (uint32_t)n,
			.wire_len = (uint32_t)n + 54, .ts_ns = (uint64_t)index * 1000000,
			.index = index, .dir = c >> 7, .l4proto = proto};

		index++;
		s.pkts[p.dir]++;
		pl->packet(ctx, wctx, state, &s, &p);
		free(seg);
		data += n;
		size -= n;
		if (pl->is_session_classifiable(ctx, state, &s))
			break;
	}
	pl->classify_session(ctx, state, &s, &r);
	if (r.confidence > 100 || (r.app_id == 0 && r.confidence != 0) ||
		memchr(r.label, '\0', sizeof(r.label)) == NULL)
		abort();
	for (const char *l = r.label; *l; l++) /* labels are CSV-safe */
		if (*l == ',' || *l == '"' || *l == '\n' || (unsigned char)*l < 0x20)
			abort();
	if (pl->session_free)
		pl->session_free(ctx, wctx, state);
	free(state);
}

#endif
