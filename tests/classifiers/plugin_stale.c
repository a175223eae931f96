/* plugin_stale.c — a classifier plugin built for an older ABI, so the engine's version check
 * has something real to refuse (test_cls_engine). */
#include "cls_plugin.h"

static bool
ready(void *ctx, void *state, const struct cls_session *s)
{
	(void)ctx;
	(void)state;
	(void)s;
	return true;
}

static void
classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	(void)ctx;
	(void)state;
	(void)s;
	(void)out;
}

static int
enable(void **ctx, const struct cls_config *cfg)
{
	(void)cfg;
	*ctx = NULL;
	return 0;
}

static const struct cls_plugin stale = {
	.abi_version = CLS_ABI_VERSION - 1,
	.name = "stale",
	.version = "0.9",
	.enable = enable,
	.is_session_classifiable = ready,
	.classify_session = classify,
};

const struct cls_plugin *tide_classifier(void);
const struct cls_plugin *
tide_classifier(void)
{
	return &stale;
}
