/* fuzz_tls.c — libFuzzer target for the TLS dissector: the ClientHello and ServerHello parsers
 * on the raw input, the record de-framer fed in pieces into a 16 KiB buffer then parsed, and
 * the plugin (TCP, both directions, borrowed reassembly buffers) as the engine drives it.
 * Beyond "no crash": SNI/ALPN pointers stay inside the input, every pool buffer is returned.
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

static void
check_hello(const uint8_t *p, size_t n, const struct cls_tls_hello *h)
{
	if (h->sni && (h->sni < p || h->sni + h->sni_len > p + n || h->sni_len == 0))
		abort();
	if (h->alpn && (h->alpn < p || h->alpn + h->alpn_len > p + n || h->alpn_len == 0))
		abort();
	if (h->msg_len > n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cls_apps *apps;
	static void *ctx, *wctx;
	static uint8_t buf[16384];
	struct cls_tls_hello h;
	struct cls_tls_deframer d;
	uint8_t *copy;
	size_t n = 0;
	int r;

	if (!apps) {
		struct cls_config cfg = {.config_dir = ".", .options = "reasm_bufs=2", .log = cls_host_log };

		apps = fuzz_apps();
		cfg.apps = apps;
		if (cls_plugin_tls.enable(&ctx, &cfg) != 0)
			abort();
		wctx = cls_plugin_tls.worker_init(ctx);
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	r = cls_tls_parse_client_hello(copy, size, &h);
	if (r < -1 || r > 1)
		abort();
	if (r == 1)
		check_hello(copy, size, &h);
	r = cls_tls_parse_server_hello(copy, size, &h);
	if (r == 1)
		check_hello(copy, size, &h);

	/* de-frame in pieces of 1 + (byte % 64), as TCP would cut it */
	memset(&d, 0, sizeof(d));
	for (size_t o = 0; o < size;) {
		size_t k = 1 + copy[o] % 64;

		if (k > size - o)
			k = size - o;
		r = cls_tls_deframe(&d, copy + o, k, buf, sizeof(buf), &n);
		if (r < 1 || n > sizeof(buf))
			break;
		o += k;
	}
	if (cls_tls_parse_client_hello(buf, n, &h) == 1)
		check_hello(buf, n, &h);
	free(copy);

	fuzz_plugin(&cls_plugin_tls, ctx, wctx, 6, NULL, data, size);
	if (cls_reasm_pool_in_use(wctx) != 0)
		abort();
	return 0;
}
