/* fuzz_http.c — libFuzzer target for the HTTP/1.x dissector: the request and status-line
 * parsers, the Host port stripping, and the plugin on TCP (request heads spread over segments
 * into a borrowed buffer). Beyond "no crash": the host points inside the input, its port-less
 * length is no longer than it, and every pool buffer is returned.
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
	struct cls_http_msg m;
	uint8_t *copy;
	int r;

	if (!apps) {
		struct cls_config cfg = {.config_dir = ".", .options = "reasm_bufs=2", .log = cls_host_log };

		apps = fuzz_apps();
		cfg.apps = apps;
		if (cls_plugin_http.enable(&ctx, &cfg) != 0)
			abort();
		wctx = cls_plugin_http.worker_init(ctx);
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	r = cls_http_parse_request(copy, size, &m);
	if (r < -1 || r > 1)
		abort();
	if (m.host) {
		if (m.host < copy || m.host + m.host_len > copy + size)
			abort();
		if (cls_http_host_len(m.host, m.host_len) > m.host_len)
			abort();
	}
	if (m.method && (m.method != copy || m.method_len == 0))
		abort();
	r = cls_http_parse_response(copy, size, &m);
	if (r == 1 && (m.status < 100 || m.status > 599))
		abort();
	free(copy);

	fuzz_plugin(&cls_plugin_http, ctx, wctx, 6, NULL, data, size);
	if (cls_reasm_pool_in_use(wctx) != 0)
		abort();
	return 0;
}
