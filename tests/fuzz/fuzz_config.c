/* fuzz_config.c — libFuzzer target for tide's configuration parsers: the application table,
 * the ground-truth CSV, the port table and the payload signature file. The first byte picks
 * the parser; the rest is the file. Each must refuse bad input with a message, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_engine.h"
#include "cls_apps.h"
#include "cls_plugin.h"
#include "cls_truth.h"

extern const struct cls_plugin cls_plugin_port;
extern const struct cls_plugin cls_plugin_payload;

static const char apps_text[] = "0 0 unknown unknown\n1 0 DNS infra\n2 0 HTTP web\n"
				"3 0 TLS web\n3 1 TLS/HTTP2 web\n5 0 SSH remote\n38 0 ICMP infra\n";
static char dir[64];
static struct cls_apps *apps;

static void
put(const char *name, const uint8_t *d, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(d, 1, n, f);
	fclose(f);
}

static void
plugin(const struct cls_plugin *p, const char *file, const uint8_t *d, size_t n)
{
	void *ctx = NULL;
	struct cls_config cfg = {.config_dir = dir, .apps = apps, .options = "", .first_n = 8,
		.model_dir = dir, .log = cls_host_log };
	put(file, d, n);
	if (p->enable(&ctx, &cfg) != 0)
		return;
	if (p->load_signatures)
		p->load_signatures(ctx, NULL);
	p->disable(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], path[128];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/tide-fuzz-config-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		put("tide_apps.txt", (const uint8_t *)apps_text, sizeof(apps_text) - 1);
		snprintf(path, sizeof(path), "%s/tide_apps.txt", dir);
		apps = cls_apps_load(path, err, sizeof(err));
		if (!apps)
			abort();
	}
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 4;
	data++;
	size--;
	switch (which) {
	case 0: {
		put("apps.txt", data, size);
		snprintf(path, sizeof(path), "%s/apps.txt", dir);
		struct cls_apps *a = cls_apps_load(path, err, sizeof(err));
		if (a) {
			cls_apps_id(a, "DNS");
			cls_apps_name(a, 1, 0);
		}
		cls_apps_free(a);
		break;
	}
	case 1: {
		put("truth.csv", data, size);
		snprintf(path, sizeof(path), "%s/truth.csv", dir);
		struct cls_truth_table *t = cls_truth_load(path, apps, err, sizeof(err));
		if (t) {
			struct cls_key k;
			struct cls_truth tr;
			memset(&k, 0, sizeof(k));
			k.proto = 6;
			cls_truth_lookup(t, &k, 0, &tr);
		}
		cls_truth_free(t);
		break;
	}
	case 2:
		plugin(&cls_plugin_port, "ports.txt", data, size);
		break;
	default:
		/* Hyperscan compiles what parses: keep inputs small so runs stay fast */
		if (size <= 4096)
			plugin(&cls_plugin_payload, "signatures.txt", data, size);
		break;
	}
	return 0;
}
