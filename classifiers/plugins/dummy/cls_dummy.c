/* cls_dummy.c — the template classifier plugin (TIE's "dummy"): copy this folder to start a new
 * one. It implements every hook of struct cls_plugin with the smallest sensible behaviour, and
 * recognises one thing so it can be tested: a session whose first payload byte, in either
 * direction, equals the `byte=N` option (default 0x7e) is labelled with the `app=` option
 * (default "unknown", i.e. it only demonstrates the flow).
 *
 * Build: meson builds it as build/classifiers/plugins/dummy.so. Enable it with a line
 * `dummy app=Telnet byte=255` in config/enabled_plugins and `--plugin-dir` pointing at the
 * folder that holds dummy.so. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_plugin.h"

/* global, read-only after enable(): shared by every worker */
struct dummy_ctx {
	uint16_t app_id;
	uint8_t byte;
	uint32_t give_up;            /* payload packets to look at before giving up */
	uint64_t matched;
};

/* per session: lives in the opaque slot the engine reserves (state_size bytes, zeroed) */
struct dummy_state {
	uint8_t seen;                /* payload packets looked at */
	uint8_t hit;
};

static const char *
opt(const char *opts, const char *key, char *buf, size_t len)
{
	const char *p = opts ? strstr(opts, key) : NULL;
	if (!p || p[strlen(key)] != '=')
		return NULL;
	p += strlen(key) + 1;
	snprintf(buf, len, "%.*s", (int)strcspn(p, ","), p);
	return buf;
}

static int
dummy_enable(void **ctx, const struct cls_config *cfg)
{
	struct dummy_ctx *c = calloc(1, sizeof(*c));
	char v[64];
	if (!c)
		return -ENOMEM;
	c->byte = 0x7e;
	c->give_up = 4;
	if (opt(cfg->options, "byte", v, sizeof(v)))
		c->byte = (uint8_t)strtoul(v, NULL, 0);
	if (opt(cfg->options, "app", v, sizeof(v))) {
		c->app_id = cls_apps_id(cfg->apps, v);
		if (!c->app_id) {
			cfg->log(CLS_LOG_ERROR, "dummy", "app '%s' is not in the application table", v);
			free(c);
			return -EINVAL;
		}
	}
	*ctx = c;
	return 0;
}

static void
dummy_disable(void *ctx)
{
	free(ctx);
}

static void
dummy_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	struct dummy_ctx *c = ctx;
	struct dummy_state *st = state;
	(void)wctx;
	(void)s;
	if (!p->payload_len || st->hit || st->seen >= c->give_up)
		return;
	st->seen++;
	if (p->payload[0] == c->byte)
		st->hit = 1;
}

static bool
dummy_ready(void *ctx, void *state, const struct cls_session *s)
{
	const struct dummy_ctx *c = ctx;
	const struct dummy_state *st = state;
	(void)s;
	return st->hit || st->seen >= c->give_up;
}

static void
dummy_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	struct dummy_ctx *c = ctx;
	const struct dummy_state *st = state;
	(void)s;
	if (st->hit && c->app_id) {
		out->app_id = c->app_id;
		out->confidence = 70;
		out->flags = CLS_RES_FINAL;
		snprintf(out->label, sizeof(out->label), "dummy byte 0x%02x", c->byte);
		__atomic_fetch_add(&c->matched, 1, __ATOMIC_RELAXED);
	} else {
		out->flags = CLS_RES_GAVE_UP;
	}
}

static int
dummy_dump(void *ctx, FILE *out)
{
	const struct dummy_ctx *c = ctx;
	fprintf(out, "# dummy: matched %llu sessions\n", (unsigned long long)c->matched);
	return 0;
}

static const struct cls_plugin dummy_plugin = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_SIGNATURE,
	.name = "dummy",
	.version = "1.0",
	.state_size = sizeof(struct dummy_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = dummy_enable,
	.disable = dummy_disable,
	.packet = dummy_packet,
	.is_session_classifiable = dummy_ready,
	.classify_session = dummy_classify,
	.dump_statistics = dummy_dump,
};

/* the one symbol a plugin exports */
const struct cls_plugin *tide_classifier(void);
const struct cls_plugin *
tide_classifier(void)
{
	return &dummy_plugin;
}
