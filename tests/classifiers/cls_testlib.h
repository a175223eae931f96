/* cls_testlib.h — what the classifier unit tests share: the real application table, exact-size
 * heap copies (so ASan sees any over-read), capturing a plugin's log lines (stderr), and a
 * harness that drives one plugin through one session as the engine does. Static functions,
 * chosen by the defines before the include (cmocka.h first); capture_* need the test's
 * tmp_dir; the harness needs CLS_TESTLIB_PLUGIN (the plugin under test) and fills `apps`,
 * and with CLS_TESTLIB_REASM_WCTX checks that a session gave back its reassembly buffers. */
#ifndef CLS_TESTLIB_H
#define CLS_TESTLIB_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_apps.h"

#ifdef CLS_TESTLIB_APPS
static struct cls_apps *apps; /* the test's table, from load_apps() (a tentative definition) */

static struct cls_apps *
load_apps(void)
{
	static const char *const paths[] = {"config/tide_apps.txt", "../config/tide_apps.txt",
		"../../config/tide_apps.txt", "../../../config/tide_apps.txt",
		"../../../../config/tide_apps.txt"};
	char err[256], path[4096];
	const char *env = getenv("TIDE_APPS"), *root = getenv("TIDE_SOURCE_ROOT");

	if (env)
		return cls_apps_load(env, err, sizeof(err));
	if (root) { /* set by meson: the build directory may be anywhere */
		snprintf(path, sizeof(path), "%s/config/tide_apps.txt", root);
		return cls_apps_load(path, err, sizeof(err));
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct cls_apps *a = cls_apps_load(paths[i], err, sizeof(err));

		if (a)
			return a;
	}
	return NULL;
}

static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}
#endif

#ifdef CLS_TESTLIB_CAPTURE
static char stderr_buf[8192];
static int saved_stderr = -1;

static void
capture_begin(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.txt", tmp_dir);
	fflush(stderr);
	saved_stderr = dup(2);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0 && saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
}

static const char *
capture_end(void)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	snprintf(path, sizeof(path), "%s/stderr.txt", tmp_dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(stderr_buf, 1, sizeof(stderr_buf) - 1, f);
	stderr_buf[n] = '\0';
	fclose(f);
	return stderr_buf;
}
#endif

#ifdef CLS_TESTLIB_PLUGIN
#include "cls_engine.h"
#include "cls_plugin.h"
#ifdef CLS_TESTLIB_REASM_WCTX
#include "cls_dissect.h"
#endif

/* One session of the plugin under test, as the engine would hold it. */
struct harness {
	void *ctx, *wctx, *state;
	struct cls_session s;
	uint32_t index;
	char label[CLS_LABEL_MAX]; /* the engine's shared label slot */
};

/* Enables the plugin with options, starts one worker and one session of type over IPv4 proto
 * (tests set other key fields after). */
static void
h_open(struct harness *h, uint8_t proto, uint8_t type, const char *options)
{
	const struct cls_plugin *pl = &CLS_TESTLIB_PLUGIN;
	struct cls_config cfg = {.config_dir = ".", .apps = apps, .options = options,
		.log = cls_host_log};

	memset(h, 0, sizeof(*h));
	h->s.label = h->label;
	h->s.label_size = sizeof(h->label);
	assert_int_equal(pl->abi_version, CLS_ABI_VERSION);
	assert_int_equal(pl->enable(&h->ctx, &cfg), 0);
	if (pl->worker_init) {
		h->wctx = pl->worker_init(h->ctx);
		assert_non_null(h->wctx);
	}
	h->state = calloc(1, pl->state_size ? pl->state_size : 1);
	assert_non_null(h->state);
	h->s.key.proto = proto;
	h->s.key.family = 4;
	h->s.type = type;
}

static void
h_close(struct harness *h)
{
	const struct cls_plugin *pl = &CLS_TESTLIB_PLUGIN;

	if (pl->session_free)
		pl->session_free(h->ctx, h->wctx, h->state);
#ifdef CLS_TESTLIB_REASM_WCTX
	assert_int_equal(cls_reasm_pool_in_use(h->wctx), 0);
#endif
	if (pl->worker_free)
		pl->worker_free(h->ctx, h->wctx);
	pl->disable(h->ctx);
	free(h->state);
}

/* Feeds one payload (an exact-size heap copy) in direction dir; returns
 * is_session_classifiable after it. */
static bool
h_pkt(struct harness *h, uint8_t dir, const void *p, size_t n)
{
	const struct cls_plugin *pl = &CLS_TESTLIB_PLUGIN;
	uint8_t *q = dup_exact(p, n);
	struct cls_packet pk = {.payload = q, .payload_len = (uint32_t)n,
		.wire_len = (uint32_t)n + 54, .ts_ns = 1000000000ull + h->index * 1000u,
		.index = h->index++, .dir = dir, .l4proto = h->s.key.proto};

	h->s.pkts[dir]++;
	pl->packet(h->ctx, h->wctx, h->state, &h->s, &pk);
	free(q);
	return pl->is_session_classifiable(h->ctx, h->state, &h->s);
}

static void __attribute__((unused))
h_result(struct harness *h, struct cls_result *r)
{
	CLS_TESTLIB_PLUGIN.classify_session(h->ctx, h->state, &h->s, r);
}
#endif

#endif
