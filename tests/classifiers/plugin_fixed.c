/* plugin_fixed.c — a test classifier that always answers what its options say
 * (`app=NAME conf=N label=TEXT service=NAME ready=0|1 ev=port|stats|shape|signature|dpi|dissector`), built
 * twice (fixed_a.so, fixed_b.so) so the combiner's policies and its evidence ranking can be
 * tested with answers chosen by the test. Without ev= the result leaves evidence to the
 * plugin's declared one (signature). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cls_apps.h"
#include "cls_plugin.h"
#include "cls_services.h"

struct fixed {
	uint16_t app;
	uint16_t service;
	uint8_t conf;
	uint8_t ev;
	int ready;
	char label[64];
};

static const char *
opt(const char *opts, const char *key, char *buf, size_t len)
{
	char k[32];
	snprintf(k, sizeof(k), "%s=", key);
	const char *p = opts ? strstr(opts, k) : NULL;
	if (!p)
		return NULL;
	p += strlen(k);
	snprintf(buf, len, "%.*s", (int)strcspn(p, ","), p);
	return buf;
}

static int
enable(void **ctx, const struct cls_config *cfg)
{
	struct fixed *f = calloc(1, sizeof(*f));
	char v[64];
	if (!f)
		return -ENOMEM;
	f->ready = 1;
	if (opt(cfg->options, "app", v, sizeof(v)))
		f->app = cls_apps_id(cfg->apps, v);
	if (opt(cfg->options, "conf", v, sizeof(v)))
		f->conf = (uint8_t)atoi(v);
	if (opt(cfg->options, "ready", v, sizeof(v)))
		f->ready = atoi(v);
	if (opt(cfg->options, "ev", v, sizeof(v))) {
		static const char *const names[CLS_EV_MAX] = {"", "port", "stats", "shape",
			"signature", "dpi", "dissector", "expected"};
		for (int i = 1; i < CLS_EV_MAX; i++)
			if (strcmp(v, names[i]) == 0)
				f->ev = (uint8_t)i;
		if (!f->ev) {
			free(f);
			return -EINVAL;
		}
	}
	if (opt(cfg->options, "label", v, sizeof(v)))
		snprintf(f->label, sizeof(f->label), "%s", v);
	if (opt(cfg->options, "service", v, sizeof(v))) {
		f->service = cls_services_id(cfg->services, v);
		if (!f->service) {
			free(f);
			return -EINVAL;
		}
	}
	*ctx = f;
	return 0;
}

static void
disable(void *ctx)
{
	free(ctx);
}

static bool
ready(void *ctx, void *state, const struct cls_session *s)
{
	(void)state;
	(void)s;
	return ((struct fixed *)ctx)->ready;
}

static void
classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct fixed *f = ctx;
	(void)state;
	(void)s;
	out->app_id = f->app;
	out->confidence = f->conf;
	out->evidence = f->ev;
	out->service_id = f->service;
	snprintf(out->label, sizeof(out->label), "%s", f->label);
}

static const struct cls_plugin fixed_plugin = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_SIGNATURE,
	.name = "fixed",
	.version = "1",
	.state_size = 8,
	.enable = enable,
	.disable = disable,
	.is_session_classifiable = ready,
	.classify_session = classify,
};

const struct cls_plugin *tide_classifier(void);
const struct cls_plugin *
tide_classifier(void)
{
	return &fixed_plugin;
}
