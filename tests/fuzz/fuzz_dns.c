/* fuzz_dns.c — libFuzzer target for the DNS dissector: the message parser under unicast and
 * multicast rules, the TCP framing, the NetBIOS name-service parser, and the plugin on UDP
 * (unicast and 224.0.0.251) and TCP.
 * Beyond "no crash": the name is NUL-terminated, of the length reported, and label-safe.
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
check_msg(int r, const struct cls_dns_msg *m)
{
	if (r < -1 || r > 1)
		abort();
	if (r == 1 && (m->name_len >= CLS_DNS_NAME_MAX || strlen(m->name) != m->name_len ||
			      m->name_len == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mdns[4] = {224, 0, 0, 251}, uni[4] = {192, 0, 2, 53};
	static struct cls_apps *apps;
	static void *ctx;
	struct cls_dns_msg m;
	uint8_t *copy;

	if (!apps) {
		struct cls_config cfg = {.config_dir = ".", .options = "", .log = cls_host_log };

		apps = fuzz_apps();
		cfg.apps = apps;
		if (cls_plugin_dns.enable(&ctx, &cfg) != 0)
			abort();
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	check_msg(cls_dns_parse_query(copy, size, 0, &m), &m);
	check_msg(cls_dns_parse_query(copy, size, CLS_DNS_F_MULTICAST, &m), &m);
	check_msg(cls_dns_parse_tcp(copy, size, 0, &m), &m);
	struct cls_nbns_msg nb;
	int r = cls_nbns_parse(copy, size, &nb);
	if (r < -1 || r > 1)
		abort();
	free(copy);

	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 17, uni, data, size);
	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 17, mdns, data, size);
	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 6, uni, data, size);
	return 0;
}
