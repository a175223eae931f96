/* fuzz_dns.c — libFuzzer target for the DNS dissector: the message parser under unicast and
 * multicast rules, the TCP framing, and the plugin on UDP (unicast and 224.0.0.251) and TCP.
 * Beyond "no crash": the name is NUL-terminated, of the length reported, and label-safe.
 *
 * Build (see tests/fuzz/run.sh for the flags):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iclassifiers -Idataplane \
 *     tests/fuzz/fuzz_dns.c classifiers/cls_{tls,quic,dns,http,apps}.c -lcrypto */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An application table for enable(): written once to a temporary file (cls_apps has only a
 * file loader) and removed at once. */
static struct cls_apps *
fuzz_apps(void)
{
	static const char table[] = "1 0 DNS x\n1 1 DNS/DoT x\n2 0 HTTP x\n3 0 TLS x\n"
				    "3 1 TLS/HTTP2 x\n3 2 TLS/HTTP1.1 x\n4 0 QUIC x\n"
				    "4 1 QUIC/HTTP3 x\n31 0 mDNS x\n48 0 LLMNR x\n54 0 IMAPS x\n"
				    "55 0 POP3S x\n56 0 HTTP-Proxy x\n";
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
	void *state = calloc(1, pl->state_size);
	uint32_t index = 0;

	if (!state)
		abort();
	memset(&s, 0, sizeof(s));
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
		struct cls_config cfg = {.config_dir = ".", .options = ""};

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
	free(copy);

	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 17, uni, data, size);
	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 17, mdns, data, size);
	fuzz_plugin(&cls_plugin_dns, ctx, NULL, 6, uni, data, size);
	return 0;
}
