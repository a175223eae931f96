/* cls_tftp.c — TFTP requests, and the transfers they start.
 *
 * A read or write request (opcode 1/2, "filename\0mode\0" with mode netascii, octet or mail)
 * goes to port 69; the server answers from a fresh port to the client's port, so the transfer
 * is a new session with nothing to recognise. The request is labelled TFTP and announces the
 * transfer as an expected session (cls_plugin.h): client address and port, from the server.
 * Bound: decided at the first payload packet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cls_apps.h"
#include "cls_plugin.h"

struct tftp_ctx {
	uint16_t app;
};

struct tftp_state {
	uint8_t seen;
	uint8_t is_tftp;
};

static int
tftp_enable(void **ctx, const struct cls_config *cfg)
{
	struct tftp_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->app = cls_apps_id(cfg->apps, "TFTP");
	if (!c->app) {
		free(c);
		return -ENOENT;
	}
	*ctx = c;
	return 0;
}

static void
tftp_disable(void *ctx)
{
	free(ctx);
}

/* opcode 1|2, a NUL-terminated printable filename, a known NUL-terminated mode */
static bool
is_request(const uint8_t *d, uint32_t n)
{
	if (n < 9 || d[0] != 0 || (d[1] != 1 && d[1] != 2))
		return false;
	uint32_t i = 2;
	while (i < n && d[i] && d[i] >= 0x20 && d[i] < 0x7f)
		i++;
	if (i == 2 || i >= n || d[i] != 0)
		return false;
	const char *mode = (const char *)d + i + 1;
	uint32_t left = n - i - 1;
	static const char *const modes[] = {"netascii", "octet", "mail"};
	for (size_t k = 0; k < 3; k++) {
		size_t l = strlen(modes[k]);
		if (left >= l + 1 && strncasecmp(mode, modes[k], l) == 0 && mode[l] == '\0')
			return true;
	}
	return false;
}

static void
tftp_packet(void *ctx, void *wctx, void *state, const struct cls_session *s,
	const struct cls_packet *p)
{
	const struct tftp_ctx *c = ctx;
	struct tftp_state *st = state;
	(void)wctx;
	if (st->seen || !p->payload_len || s->key.proto != 17)
		return;
	st->seen = 1;
	if (p->dir != CLS_DIR_FWD || !is_request(p->payload, p->payload_len))
		return;
	st->is_tftp = 1;
	struct cls_expectation e;
	memset(&e, 0, sizeof(e));
	memcpy(e.addr, s->key.src, 16);
	memcpy(e.peer, s->key.dst, 16);
	e.port = s->key.sport;
	e.proto = 17;
	e.family = s->key.family;
	e.app_id = c->app;
	e.confidence = 90;
	cls_expect_add(p->expect, &e, p->ts_ns);
}

static bool
tftp_ready(void *ctx, void *state, const struct cls_session *s)
{
	const struct tftp_state *st = state;
	(void)ctx;
	return st->seen || s->key.proto != 17 || s->type == CLS_SESSION_HOST;
}

static void
tftp_classify(void *ctx, void *state, const struct cls_session *s, struct cls_result *out)
{
	const struct tftp_ctx *c = ctx;
	const struct tftp_state *st = state;
	(void)s;
	if (st->is_tftp) {
		out->app_id = c->app;
		out->confidence = 95;
		out->flags = CLS_RES_FINAL;
	} else {
		out->flags = CLS_RES_GAVE_UP;
	}
}

const struct cls_plugin cls_plugin_tftp = {
	.abi_version = CLS_ABI_VERSION,
	.evidence = CLS_EV_DISSECTOR,
	.name = "tftp",
	.version = "1.0",
	.state_size = sizeof(struct tftp_state),
	.needs = CLS_NEED_PAYLOAD,
	.enable = tftp_enable,
	.disable = tftp_disable,
	.packet = tftp_packet,
	.is_session_classifiable = tftp_ready,
	.classify_session = tftp_classify,
};
