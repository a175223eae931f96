/* fuzz_quic.c — libFuzzer target for the QUIC dissector: the datagram walker (coalesced long
 * headers, header-protection removal, authentication — which random input never passes), the
 * Initial frame parser and CRYPTO reassembly on the input as if it were decrypted, the
 * ClientHello read from the reassembled stream, and the plugin on UDP datagrams.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cls_apps *apps;
	static void *ctx, *wctx;
	static struct cls_quic_crypto *cc;
	static uint8_t crypto[8192];
	struct cls_quic_conn conn;
	struct cls_tls_hello h;
	uint8_t *copy;
	int r;

	if (!apps) {
		struct cls_config cfg = {.config_dir = ".", .options = "reasm_bufs=2", .log = cls_host_log };

		apps = fuzz_apps();
		cfg.apps = apps;
		if (cls_plugin_quic.enable(&ctx, &cfg) != 0)
			abort();
		wctx = cls_plugin_quic.worker_init(ctx);
		cc = cls_quic_crypto_new();
		if (!wctx || !cc)
			abort();
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);

	memset(&conn, 0, sizeof(conn));
	r = cls_quic_parse_initial(cc, copy, size, &conn, crypto, sizeof(crypto));
	if (r < -1 || r > 1 || conn.n_ranges > CLS_QUIC_MAX_RANGES)
		abort();

	/* the input as decrypted Initial payload, split in two "packets" */
	memset(&conn, 0, sizeof(conn));
	size_t half = size / 2;

	cls_quic_parse_frames(copy + half, size - half, &conn, crypto, sizeof(crypto));
	cls_quic_parse_frames(copy, half, &conn, crypto, sizeof(crypto));
	for (unsigned int i = 0; i < conn.n_ranges; i++)
		if (conn.ranges[i].lo >= conn.ranges[i].hi || conn.ranges[i].hi > sizeof(crypto) ||
			(i && conn.ranges[i].lo <= conn.ranges[i - 1].hi))
			abort();
	r = cls_quic_client_hello(&conn, crypto, &h);
	if (r == 1 && h.sni && (h.sni < crypto || h.sni + h.sni_len > crypto + sizeof(crypto)))
		abort();
	free(copy);

	fuzz_plugin(&cls_plugin_quic, ctx, wctx, 17, NULL, data, size);
	return 0;
}
