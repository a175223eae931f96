/* test_cls_payload.c — unit tests for the Hyperscan payload classifier (classifiers/dissectors/cls_payload.c).
 *
 * Every signature of the shipped config/signatures.txt is run on a positive example and on a
 * near miss (the example broken in one place), and the per-signature hit counters printed by
 * dump_statistics() prove that no line went unexercised. Synthetic signature files then pin the
 * mechanics: a match split over packets (stream mode), the window bound (a match ending past N
 * bytes never counts, even split over packets), direction handling in biflow and flow sessions,
 * weak-then-strong upgrades, ties, every give-up bound, non-port protocols, file errors named by
 * file:line (with Hyperscan's own message for a bad regex), reload rules, and stream clean-up on
 * decided and undecided sessions (run under ASan/LSan, which fails on any stream left open).
 *
 * Payloads are written as C strings in which %HH is a byte, %{N} is N bytes of 'A', and %% is a
 * percent sign, so binary openings read in protocol order without C's greedy \x escapes. The
 * first character is the direction: '>' fwd, '<' bwd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cls_engine.h"
#include "cls_apps.h"
#include "cls_plugin.h"

extern const struct cls_plugin cls_plugin_payload;
#define PLUG (&cls_plugin_payload)

#define B CLS_SESSION_BIFLOW
#define F CLS_SESSION_FLOW
#define TCP 6
#define UDP 17

static char tmp_dir[64];

#define CLS_TESTLIB_CAPTURE
#include "cls_testlib.h"
static char src_root[PATH_MAX];
static struct cls_apps *apps;      /* small synthetic table */
static struct cls_apps *real_apps; /* config/tide_apps.txt, NULL when not found */

static const char apps_txt[] = "0 0 unknown unknown\n"
			       "1 0 Alpha x\n"
			       "2 0 Beta x\n"
			       "2 1 Beta/sub x\n"
			       "3 0 Gamma x\n";

/* ---- helpers ---- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}




static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a payload spec (see the top of the file); returns its length, *dir the direction. */
static uint32_t
decode(const char *spec, uint8_t *out, size_t cap, uint8_t *dir)
{
	size_t n = 0;

	assert_true(spec[0] == '>' || spec[0] == '<');
	*dir = spec[0] == '<' ? CLS_DIR_BWD : CLS_DIR_FWD;
	for (const char *p = spec + 1; *p; p++) {
		if (*p != '%') {
			assert_true(n < cap);
			out[n++] = (uint8_t)*p;
		} else if (p[1] == '%') {
			assert_true(n < cap);
			out[n++] = '%';
			p++;
		} else if (p[1] == '{') {
			char *end;
			unsigned long k = strtoul(p + 2, &end, 10);

			assert_true(*end == '}' && n + k <= cap);
			memset(out + n, 'A', k);
			n += k;
			p = end;
		} else {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				fail_msg("bad escape in '%s'", spec);
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | lo);
			p += 2;
		}
	}
	return (uint32_t)n;
}

/* One session driven by hand, the way the engine drives it. */
struct sess {
	struct cls_session s;
	void *state;
	uint32_t index;
};

static void
sess_open(struct sess *x, uint8_t type, uint8_t proto)
{
	memset(x, 0, sizeof(*x));
	x->s.type = type;
	x->s.key.proto = type == CLS_SESSION_HOST ? 0 : proto;
	x->s.key.family = 4;
	x->s.key.sport = 40000;
	x->s.key.dport = 9;
	x->state = calloc(1, PLUG->state_size); /* zeroed, as the engine does */
	assert_non_null(x->state);
}

static void
sess_packet(void *ctx, void *w, struct sess *x, uint8_t dir, const uint8_t *data, uint32_t len,
	uint8_t tcp_flags)
{
	struct cls_packet p = {
		.payload = len ? data : NULL,
		.payload_len = len,
		.wire_len = len + 54,
		.ts_ns = 1000000ull * x->index,
		.index = x->index++,
		.dir = dir,
		.tcp_flags = tcp_flags,
		.l4proto = x->s.key.proto,
	};

	x->s.pkts[dir]++;
	x->s.payload_bytes[dir] += len;
	PLUG->packet(ctx, w, x->state, &x->s, &p);
}

static void
sess_spec(void *ctx, void *w, struct sess *x, const char *spec)
{
	static uint8_t buf[4096];
	uint8_t dir;
	uint32_t len = decode(spec, buf, sizeof(buf), &dir);

	sess_packet(ctx, w, x, dir, buf, len, 0);
}

static bool
sess_ready(void *ctx, struct sess *x)
{
	return PLUG->is_session_classifiable(ctx, x->state, &x->s);
}

static struct cls_result
sess_result(void *ctx, struct sess *x)
{
	struct cls_result r;

	memset(&r, 0xa5, sizeof(r));
	PLUG->classify_session(ctx, x->state, &x->s, &r);
	assert_string_equal(r.label, "");
	return r;
}

static void
sess_close(void *ctx, void *w, struct sess *x)
{
	PLUG->session_free(ctx, w, x->state);
	free(x->state);
	x->state = NULL;
}

/* A plugin on a signature file given as text, with the synthetic application table. */
struct rig {
	void *ctx;
	void *w;
};

static int
rig_try(struct rig *g, const struct cls_apps *a, const char *text)
{
	char path[PATH_MAX];
	struct cls_config cfg = { .config_dir = NULL, .apps = a, .options = "", .log = cls_host_log };

	snprintf(path, sizeof(path), "%s/signatures.txt", tmp_dir);
	write_file(path, text);
	g->w = NULL;
	assert_int_equal(PLUG->enable(&g->ctx, &cfg), 0);
	return PLUG->load_signatures(g->ctx, path);
}

static void
rig_open(struct rig *g, const char *text)
{
	assert_int_equal(rig_try(g, apps, text), 0);
	g->w = PLUG->worker_init(g->ctx);
	assert_non_null(g->w);
}

static void
rig_close(struct rig *g)
{
	if (g->w)
		PLUG->worker_free(g->ctx, g->w);
	PLUG->disable(g->ctx);
}

/* ---- the shipped signatures: positives and near misses ---- */

#include "payload_cases.h"

static struct cls_result
run_case(void *ctx, void *w, uint8_t type, uint8_t proto, const char *const *pkts, bool *ready)
{
	struct sess x;
	struct cls_result r;

	sess_open(&x, type, proto);
	for (int i = 0; i < 4 && pkts[i]; i++)
		sess_spec(ctx, w, &x, pkts[i]);
	*ready = sess_ready(ctx, &x);
	r = sess_result(ctx, &x);
	sess_close(ctx, w, &x);
	return r;
}

static int
real_enable(void **ctx)
{
	char dir[PATH_MAX + 16];
	struct cls_config cfg = { .apps = real_apps, .options = "", .log = cls_host_log };

	snprintf(dir, sizeof(dir), "%s/config", src_root);
	cfg.config_dir = dir;
	assert_int_equal(PLUG->enable(ctx, &cfg), 0);
	return PLUG->load_signatures(*ctx, NULL);
}

/* Checks on the shipped set beyond one signature each (one compile of the set: it is slow
 * under the sanitizers). */
static void
shipped_extra(void *ctx, void *w)
{
	struct sess x;
	struct cls_result r;

	/* G.711 RTP in 16-byte datagrams (12-byte header + 4 bytes): the binary Memcached
	 * header shape used to match across two datagrams */
	sess_open(&x, B, UDP);
	sess_spec(ctx, w, &x, ">%80%00%00%01%00%00%00%a0%12%34%56%78%ff%ff%ff%ff");
	sess_spec(ctx, w, &x, ">%80%00%00%02%00%00%01%40%12%34%56%78%ff%ff%ff%ff");
	sess_spec(ctx, w, &x, ">%80%00%00%03%00%00%01%e0%12%34%56%78%ff%ff%ff%ff");
	r = sess_result(ctx, &x);
	if (r.app_id)
		fail_msg("RTP gave %s", cls_apps_name(real_apps, r.app_id, r.sub_id));
	sess_close(ctx, w, &x);

	/* WireGuard's type byte and length is a shape, SSH's banner a signature */
	sess_open(&x, B, UDP);
	sess_spec(ctx, w, &x, ">%01%00%00%00%{144}");
	r = sess_result(ctx, &x);
	assert_string_equal(cls_apps_name(real_apps, r.app_id, r.sub_id), "WireGuard");
	assert_int_equal(r.evidence, CLS_EV_SHAPE);
	sess_close(ctx, w, &x);
	sess_open(&x, B, TCP);
	sess_spec(ctx, w, &x, "<SSH-2.0-OpenSSH_9.2p1\r\n");
	r = sess_result(ctx, &x);
	assert_string_equal(cls_apps_name(real_apps, r.app_id, r.sub_id), "SSH");
	assert_int_equal(r.evidence, CLS_EV_DEFAULT);
	sess_close(ctx, w, &x);
}

static void
test_shipped_signatures(void **state)
{
	void *ctx = NULL, *w;
	size_t n_cases = sizeof(sig_cases) / sizeof(sig_cases[0]);

	(void)state;
	if (!real_apps)
		skip();
	assert_int_equal(real_enable(&ctx), 0);
	w = PLUG->worker_init(ctx);
	assert_non_null(w);
	for (size_t i = 0; i < n_cases; i++) {
		const struct sig_case *k = &sig_cases[i];
		bool ready;
		struct cls_result r = run_case(ctx, w, k->type, k->proto, k->pos, &ready);
		const char *name = cls_apps_name(real_apps, r.app_id, r.sub_id);

		if (strcmp(name, k->app) || r.confidence != k->conf || !ready)
			fail_msg("case %zu (%s %u): positive gave %s %u%s", i, k->app, k->conf, name,
				r.confidence, ready ? "" : " (not ready)");
		/* sure matches are final at once; weak ones stay open to a better match */
		if (!!(r.flags & CLS_RES_FINAL) != (k->conf >= 80))
			fail_msg("case %zu (%s %u): flags %#x", i, k->app, k->conf, r.flags);
		r = run_case(ctx, w, k->type, k->proto, k->neg, &ready);
		name = cls_apps_name(real_apps, r.app_id, r.sub_id);
		if (strcmp(name, k->app) == 0 && r.confidence == k->conf)
			fail_msg("case %zu (%s %u): near miss matched", i, k->app, k->conf);
	}
	shipped_extra(ctx, w);
	PLUG->worker_free(ctx, w);

	/* every signature line matched at least one positive */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(PLUG->dump_statistics(ctx, f), 0);
	fclose(f);
	unsigned int sigs = 0, unhit = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strstr(line, "payload: signature "))
			continue;
		sigs++;
		if (strstr(line, " hits 0")) {
			print_message("not exercised: %s\n", line);
			unhit++;
		}
	}
	free(buf);
	assert_true(sigs >= 80);
	assert_int_equal(unhit, 0);
	PLUG->disable(ctx);

	/* every shipped signature is anchored: one floating pattern makes the set ~5x slower */
	char path[PATH_MAX + 32], line[4096];
	snprintf(path, sizeof(path), "%s/config/signatures.txt", src_root);
	f = fopen(path, "r");
	assert_non_null(f);
	for (unsigned int n = 1; fgets(line, sizeof(line), f); n++) {
		char *re = line;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (int tok = 0; tok < 4; tok++) { /* app, direction, window, confidence */
			re += strspn(re, " \t");
			re += strcspn(re, " \t");
		}
		re += strspn(re, " \t");
		while (strncmp(re, "evidence=", 9) == 0) { /* attributes */
			re += strcspn(re, " \t");
			re += strspn(re, " \t");
		}
		if (re[0] != '/' || re[1] != '^')
			fail_msg("signatures.txt:%u: not anchored with ^", n);
	}
	fclose(f);
}

/* ---- mechanics, on synthetic signature files ---- */

static void
test_split_across_packets(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha fwd 1024 85 /^(GET|POST) [^ \\r\\n]+ HTTP\\/1\\.[01]\\r?\\n/\n"
		     "Beta any 20 95 /^\\x13BitTorrent protocol/\n");

	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">GET /index.html HT");
	assert_false(sess_ready(g.ctx, &x));
	sess_spec(g.ctx, g.w, &x, ">TP/1.");
	assert_false(sess_ready(g.ctx, &x));
	sess_spec(g.ctx, g.w, &x, ">1\r\nHost: example.com\r\n\r\n");
	assert_true(sess_ready(g.ctx, &x));
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 1);
	assert_int_equal(r.confidence, 85);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	sess_close(g.ctx, g.w, &x);

	/* a binary opening split inside its magic, interleaved with the other direction */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">%13BitTor");
	sess_spec(g.ctx, g.w, &x, "<%00%00");
	sess_spec(g.ctx, g.w, &x, ">rent proto");
	assert_false(sess_ready(g.ctx, &x));
	sess_spec(g.ctx, g.w, &x, ">col%00%00");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);

	rig_close(&g);
}

static void
test_window_bound(void **state)
{
	struct rig g;
	struct sess x;
	static const struct {
		const char *pkts[3];
		bool match;
	} cases[] = {
		{ { ">0123456789aMAGIC" }, true },          /* ends at byte 16 */
		{ { ">0123456789abMAGIC" }, false },        /* ends at byte 17 */
		{ { ">0123456789", ">aMAGIC" }, true },     /* split, ends at 16 */
		{ { ">0123456789", ">abMAG", ">IC" }, false }, /* split, ends at 17 */
		{ { ">0123456789abcdef", ">MAGIC" }, false }, /* past the window: not even scanned */
	};

	(void)state;
	rig_open(&g, "Alpha fwd 16 90 /MAGIC/\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sess_open(&x, B, TCP);
		for (int j = 0; j < 3 && cases[i].pkts[j]; j++)
			sess_spec(g.ctx, g.w, &x, cases[i].pkts[j]);
		struct cls_result r = sess_result(g.ctx, &x);
		if ((r.app_id == 1) != cases[i].match)
			fail_msg("window case %zu: app %u", i, r.app_id);
		sess_close(g.ctx, g.w, &x);
	}
	rig_close(&g);
}

static void
test_directions(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha fwd 64 90 /^hello/\nBeta bwd 64 90 /^world/\nGamma any 64 90 /^both/\n");

	/* biflow: a bwd signature does not read the fwd stream, nor the reverse */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">world");
	sess_spec(g.ctx, g.w, &x, "<hello");
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 0);
	assert_false(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">xx");
	sess_spec(g.ctx, g.w, &x, "<world");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, UDP);
	sess_spec(g.ctx, g.w, &x, ">xx");
	sess_spec(g.ctx, g.w, &x, "<both");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 3);
	sess_close(g.ctx, g.w, &x);

	/* each direction has its own stream: "hel" + "<..." + "lo" still reads "hello" fwd */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">hel");
	sess_spec(g.ctx, g.w, &x, "<zzz");
	sess_spec(g.ctx, g.w, &x, ">lo");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);

	/* a flow session may be the server's side: every signature reads it */
	sess_open(&x, F, TCP);
	sess_spec(g.ctx, g.w, &x, ">world");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_weak_then_strong(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha fwd 64 40 /^weak/\nBeta/sub fwd 64 90 /^weak and strong/\n"
		     "Gamma bwd 64 60 /^reply/\n");

	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">weak ");
	assert_true(sess_ready(g.ctx, &x)); /* ready, so the combiner never waits ... */
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 1);
	assert_int_equal(r.confidence, 40);
	assert_int_equal(r.flags, 0); /* ... but not final */
	sess_spec(g.ctx, g.w, &x, ">and strong");
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 2);
	assert_int_equal(r.sub_id, 1);
	assert_int_equal(r.confidence, 90);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	sess_close(g.ctx, g.w, &x);

	/* a weaker later match does not replace a stronger one */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, "<reply");
	sess_spec(g.ctx, g.w, &x, ">weak");
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 3);
	assert_int_equal(r.confidence, 60);
	sess_close(g.ctx, g.w, &x);

	/* both in one packet: the stronger wins, even though it ends later */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">weak and strong");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_ties_go_to_the_earlier_line(void **state)
{
	struct rig g;
	struct sess x;

	(void)state;
	rig_open(&g, "Beta fwd 64 85 /^ab/\nAlpha fwd 64 85 /^a/\n");
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">abc");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_give_up_payload_packets(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha any 4096 90 /^never/\n");
	sess_open(&x, B, TCP);
	for (int i = 0; i < 7; i++) {
		sess_spec(g.ctx, g.w, &x, i & 1 ? "<0123456789" : ">0123456789");
		assert_false(sess_ready(g.ctx, &x));
		sess_packet(g.ctx, g.w, &x, CLS_DIR_FWD, NULL, 0, 0x10); /* bare ACKs don't count */
	}
	sess_spec(g.ctx, g.w, &x, ">0123456789");
	assert_true(sess_ready(g.ctx, &x));
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.confidence, 0);
	assert_int_equal(r.flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	/* later packets are ignored, and the result stays */
	sess_spec(g.ctx, g.w, &x, ">never");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 0);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_give_up_windows(void **state)
{
	struct rig g;
	struct sess x;

	(void)state;
	rig_open(&g, "Alpha fwd 8 90 /^abc/\nBeta bwd 12 90 /^def/\n");
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">0123456789");
	assert_false(sess_ready(g.ctx, &x)); /* fwd is past its window, bwd not yet seen */
	sess_spec(g.ctx, g.w, &x, "<0123456");
	assert_false(sess_ready(g.ctx, &x));
	sess_spec(g.ctx, g.w, &x, "<789abc");
	assert_true(sess_ready(g.ctx, &x));
	assert_int_equal(sess_result(g.ctx, &x).flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	sess_close(g.ctx, g.w, &x);

	/* a flow session has one direction: its window alone is the bound */
	sess_open(&x, F, TCP);
	sess_spec(g.ctx, g.w, &x, ">0123456789ab");
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

/* UDP: every datagram is scanned alone, ^ at its start and \z at its end; a match never spans
 * two datagrams (it did in stream mode: RTP came out as Memcached and as WireGuard). */
static void
test_datagrams_scanned_alone(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha any 32 90 /^abcdef/\nBeta any 16 90 /^xy.{2}\\z/\n"
		     "Gamma any 64 90 /^long.{60}/\n");

	/* split over two datagrams: no match over UDP, a match over TCP */
	sess_open(&x, B, UDP);
	sess_spec(g.ctx, g.w, &x, ">abc");
	sess_spec(g.ctx, g.w, &x, ">def");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 0);
	/* ... and ^ holds at every datagram's start, not only the first one's */
	sess_spec(g.ctx, g.w, &x, ">abcdef");
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 1);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	sess_close(g.ctx, g.w, &x);
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">abc");
	sess_spec(g.ctx, g.w, &x, ">def");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);

	/* \z: the datagram's exact length; a longer datagram, even far past every window, never */
	static const struct {
		const char *spec;
		uint16_t app;
	} z[] = { { ">xyzw", 2 }, { ">xyzwv", 0 }, { ">xyz", 0 }, { ">xyzw%{100}", 0 },
		  { "<xyzw", 2 } };
	for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
		sess_open(&x, B, UDP);
		sess_spec(g.ctx, g.w, &x, z[i].spec);
		if (sess_result(g.ctx, &x).app_id != z[i].app)
			fail_msg("\\z case %zu", i);
		sess_close(g.ctx, g.w, &x);
	}

	/* a datagram longer than the window: the match is within it, the rest not scanned */
	sess_open(&x, B, UDP);
	sess_spec(g.ctx, g.w, &x, ">long%{1400}");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 3);
	sess_close(g.ctx, g.w, &x);

	/* UDP never runs out of window: only the payload-packet bound ends it */
	sess_open(&x, B, UDP);
	for (int i = 0; i < 7; i++) {
		sess_spec(g.ctx, g.w, &x, ">0123456789012345678901234567890123456789%{100}");
		assert_false(sess_ready(g.ctx, &x));
	}
	sess_spec(g.ctx, g.w, &x, ">abcdef");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);

}

/* evidence=shape marks a loose signature; the others leave the plugin's CLS_EV_SIGNATURE */
static void
test_evidence(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Alpha any 16 90 evidence=shape /^abc/\nBeta any 16 90 /^def/\n"
		     "Gamma any 16 90 evidence=signature /^ghi/\n");
	for (int i = 0; i < 3; i++) {
		sess_open(&x, B, i == 1 ? TCP : UDP);
		sess_spec(g.ctx, g.w, &x, i == 0 ? ">abc" : i == 1 ? ">def" : ">ghi");
		r = sess_result(g.ctx, &x);
		assert_int_equal(r.app_id, i + 1);
		assert_int_equal(r.evidence, i == 0 ? CLS_EV_SHAPE : CLS_EV_DEFAULT);
		sess_close(g.ctx, g.w, &x);
	}
	/* no match: no evidence either */
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">xyz");
	assert_int_equal(sess_result(g.ctx, &x).evidence, CLS_EV_DEFAULT);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
	assert_int_equal(PLUG->evidence, CLS_EV_SIGNATURE);
}

static void
test_give_up_tcp_end_and_packet_count(void **state)
{
	struct rig g;
	struct sess x;

	(void)state;
	rig_open(&g, "Alpha any 64 90 /^never/\n");

	sess_open(&x, B, TCP); /* SYN, SYN-ACK, RST: no payload at all */
	sess_packet(g.ctx, g.w, &x, CLS_DIR_FWD, NULL, 0, 0x02);
	sess_packet(g.ctx, g.w, &x, CLS_DIR_BWD, NULL, 0, 0x12);
	assert_false(sess_ready(g.ctx, &x));
	sess_packet(g.ctx, g.w, &x, CLS_DIR_FWD, NULL, 0, 0x04);
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP); /* a FIN from each side */
	sess_spec(g.ctx, g.w, &x, ">abc");
	sess_packet(g.ctx, g.w, &x, CLS_DIR_FWD, (const uint8_t *)"de", 2, 0x11);
	assert_false(sess_ready(g.ctx, &x));
	sess_packet(g.ctx, g.w, &x, CLS_DIR_BWD, NULL, 0, 0x11);
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, UDP); /* 32 packets in all, whatever they carry */
	for (int i = 0; i < 31; i++) {
		sess_packet(g.ctx, g.w, &x, (uint8_t)(i & 1), NULL, 0, 0);
		assert_false(sess_ready(g.ctx, &x));
	}
	sess_packet(g.ctx, g.w, &x, CLS_DIR_FWD, NULL, 0, 0);
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_unscannable_sessions(void **state)
{
	struct rig g;
	struct sess x;
	static const struct {
		uint8_t type, proto;
	} kinds[] = { { B, 1 }, { B, 58 }, { F, 47 }, { B, 50 }, { CLS_SESSION_HOST, 0 } };

	(void)state;
	rig_open(&g, "Alpha any 64 90 /^ping/\n");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		sess_open(&x, kinds[i].type, kinds[i].proto);
		assert_true(sess_ready(g.ctx, &x)); /* before any packet */
		sess_spec(g.ctx, g.w, &x, ">ping");
		struct cls_result r = sess_result(g.ctx, &x);
		assert_int_equal(r.app_id, 0);
		assert_int_equal(r.flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
		sess_close(g.ctx, g.w, &x);
	}
	sess_open(&x, B, 132); /* SCTP carries applications: scanned */
	sess_spec(g.ctx, g.w, &x, ">ping");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_flags_and_sub(void **state)
{
	struct rig g;
	struct sess x;
	struct cls_result r;

	(void)state;
	rig_open(&g, "Beta/sub any 64 90 /^hello world$/m\nAlpha fwd 64 90 /^CaSe/i\n"
		     "# a comment\n   # an indented comment\n\n"
		     "Gamma fwd 64 90 /^a.b/s\n");
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">hello world\nmore");
	r = sess_result(g.ctx, &x);
	assert_int_equal(r.app_id, 2);
	assert_int_equal(r.sub_id, 1);
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">case");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP); /* '.' matches any byte, newline included */
	sess_spec(g.ctx, g.w, &x, ">a\nb");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 3);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

/* ---- errors ---- */

struct bad_file {
	const char *text;
	unsigned int line;
	const char *why;
};

static const struct bad_file bad_files[] = {
	{ "Alpha fwd 64 90 /^ok/\n\nBeta fwd 64 90 /foo(bar/\n", 3, "parenthesis" },
	{ "Alpha fwd 64 90 /a{2,1}/\n", 1, "bad regex /a{2,1}/" },
	{ "Alpha fwd 3 90 /^ABCDEF/\n", 1, "bad regex /^ABCDEF/" }, /* cannot fit the window */
	{ "Alpha fwd 64 90 /x/\nDelta fwd 64 90 /x/\n", 2, "unknown application 'Delta'" },
	{ "Beta/other fwd 64 90 /x/\n", 1, "unknown sub-application 'Beta/other'" },
	{ "Alpha up 64 90 /x/\n", 1, "direction must be fwd, bwd or any" },
	{ "Alpha fwd 64 90 /x/\nAlpha fwd 64 90 evidence=weak /x/\n", 2,
		"unknown attribute 'evidence=weak'" },
	{ "Alpha fwd 0 90 /x/\n", 1, "window must be 1-65536" },
	{ "Alpha fwd 65537 90 /x/\n", 1, "window must be 1-65536" },
	{ "Alpha fwd -1 90 /x/\n", 1, "window must be" },
	{ "Alpha fwd 64 0 /x/\n", 1, "confidence must be 1-100" },
	{ "Alpha fwd 64 101 /x/\n", 1, "confidence must be 1-100" },
	{ "Alpha fwd 64 90 x\n", 1, "expected /<regex>/<flags>" },
	{ "Alpha fwd 64 90 /x\n", 1, "expected /<regex>/<flags>" },
	{ "Alpha fwd 64 90 //\n", 1, "empty regex" },
	{ "Alpha fwd 64 90 /x/g\n", 1, "unknown regex flag 'g'" },
	{ "Alpha fwd 64 90 /x/i z\n", 1, "unknown regex flag ' '" },
	{ "Alpha fwd 64\n", 1, "expected '<app>[/<sub>]" },
};

static void
test_file_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		const struct bad_file *b = &bad_files[i];
		struct rig g;
		char want[PATH_MAX + 32];
		const char *err;
		int rc;

		capture_begin();
		rc = rig_try(&g, apps, b->text);
		err = capture_end();
		snprintf(want, sizeof(want), "%s/signatures.txt:%u: ", tmp_dir, b->line);
		if (rc != -EINVAL || !strstr(err, want) || !strstr(err, b->why))
			fail_msg("file %zu: rc %d, stderr '%s', want '%s' and '%s'", i, rc, err, want,
				b->why);
		PLUG->disable(g.ctx);
	}
}

static void
test_reload_rules(void **state)
{
	struct rig g;
	struct sess x;
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(rig_try(&g, apps, "Alpha fwd 64 90 /^one/\n"), 0);

	/* a failed load keeps the loaded set */
	snprintf(path, sizeof(path), "%s/bad.txt", tmp_dir);
	write_file(path, "Beta fwd 64 90 /(/\n");
	capture_begin();
	assert_int_equal(PLUG->load_signatures(g.ctx, path), -EINVAL);
	assert_non_null(strstr(capture_end(), "bad.txt:1: bad regex"));
	snprintf(path, sizeof(path), "%s/missing.txt", tmp_dir);
	capture_begin();
	assert_int_equal(PLUG->load_signatures(g.ctx, path), -ENOENT);
	capture_end();

	g.w = PLUG->worker_init(g.ctx);
	assert_non_null(g.w);
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">one");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 1);
	sess_close(g.ctx, g.w, &x);

	/* not while a worker holds scratch for the current set */
	snprintf(path, sizeof(path), "%s/two.txt", tmp_dir);
	write_file(path, "Beta fwd 64 90 /^two/\n");
	assert_int_equal(PLUG->load_signatures(g.ctx, path), -EBUSY);
	PLUG->worker_free(g.ctx, g.w);
	assert_int_equal(PLUG->load_signatures(g.ctx, path), 0);
	g.w = PLUG->worker_init(g.ctx);
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">two");
	assert_int_equal(sess_result(g.ctx, &x).app_id, 2);
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_enable_paths_and_options(void **state)
{
	char dir[256], path[PATH_MAX], opt[PATH_MAX + 8];
	struct cls_config cfg = { .apps = apps, .options = "", .log = cls_host_log };
	void *ctx = NULL, *w;
	struct sess x;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/conf", tmp_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	cfg.config_dir = dir;
	/* enable() only remembers where the signatures are; load_signatures(NULL) compiles them */
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	capture_begin();
	assert_int_equal(PLUG->load_signatures(ctx, NULL), -ENOENT);
	assert_non_null(strstr(capture_end(), "conf/signatures.txt"));
	snprintf(path, sizeof(path), "%s/signatures.txt", dir);
	write_file(path, "Gamma any 16 90 /^g/\n");
	assert_int_equal(PLUG->load_signatures(ctx, NULL), 0);
	w = PLUG->worker_init(ctx);
	sess_open(&x, B, TCP);
	sess_spec(ctx, w, &x, ">g");
	assert_int_equal(sess_result(ctx, &x).app_id, 3);
	sess_close(ctx, w, &x);
	PLUG->worker_free(ctx, w);
	PLUG->disable(ctx);

	/* the "file" option; an empty file is valid */
	snprintf(path, sizeof(path), "%s/empty.txt", tmp_dir);
	write_file(path, "# nothing yet\n");
	snprintf(opt, sizeof(opt), "file=%s", path);
	cfg.options = opt;
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	assert_int_equal(PLUG->load_signatures(ctx, NULL), 0);
	w = PLUG->worker_init(ctx); /* no signatures: every session gives up at once */
	assert_non_null(w);
	sess_open(&x, B, TCP);
	sess_spec(ctx, w, &x, ">g");
	assert_true(sess_ready(ctx, &x));
	assert_int_equal(sess_result(ctx, &x).flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	sess_close(ctx, w, &x);
	PLUG->worker_free(ctx, w);
	PLUG->disable(ctx);

	cfg.config_dir = NULL;
	cfg.options = "";
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0); /* nothing to load until told */
	assert_int_equal(PLUG->load_signatures(ctx, NULL), -EINVAL);
	w = PLUG->worker_init(ctx);
	sess_open(&x, B, TCP);
	assert_true(sess_ready(ctx, &x));
	sess_close(ctx, w, &x);
	PLUG->worker_free(ctx, w);
	PLUG->disable(ctx);

	cfg.options = "depth=9";
	capture_begin();
	assert_int_equal(PLUG->enable(&ctx, &cfg), -EINVAL);
	assert_non_null(strstr(capture_end(), "unknown option 'depth=9'"));
	cfg.apps = NULL;
	cfg.options = "";
	assert_int_equal(PLUG->enable(&ctx, &cfg), -EINVAL);
}

/* ---- clean-up: LSan fails the run if a stream outlives its session ---- */

static void
test_streams_freed(void **state)
{
	struct rig g;
	struct sess x;

	(void)state;
	rig_open(&g, "Alpha fwd 64 90 /^done/\nBeta any 4096 40 /^weak/\n");

	sess_open(&x, B, TCP); /* undecided, both streams open */
	sess_spec(g.ctx, g.w, &x, ">abc");
	sess_spec(g.ctx, g.w, &x, "<def");
	assert_false(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP); /* weak match: ready but still scanning, streams open */
	sess_spec(g.ctx, g.w, &x, ">weak");
	sess_spec(g.ctx, g.w, &x, "<weak");
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP); /* decided: streams already closed; freeing again is harmless */
	sess_spec(g.ctx, g.w, &x, "<zzz");
	sess_spec(g.ctx, g.w, &x, ">done");
	assert_true(sess_ready(g.ctx, &x));
	PLUG->session_free(g.ctx, g.w, x.state);
	sess_close(g.ctx, g.w, &x);

	sess_open(&x, B, TCP); /* never saw a packet */
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
}

static void
test_statistics(void **state)
{
	struct rig g;
	struct sess x;
	char buf[4096] = "";
	FILE *f;

	(void)state;
	rig_open(&g, "Alpha fwd 8 90 /^abc/\n");
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">abcdefghijkl"); /* 8 bytes scanned, 4 past the window */
	sess_close(g.ctx, g.w, &x);
	sess_open(&x, B, TCP);
	sess_spec(g.ctx, g.w, &x, ">xyz");
	sess_close(g.ctx, g.w, &x);
	PLUG->worker_free(g.ctx, g.w);
	g.w = NULL;
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	assert_int_equal(PLUG->dump_statistics(g.ctx, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "payload: 1 signatures from"));
	assert_non_null(strstr(buf, "payload: 2            payload packets scanned"));
	assert_non_null(strstr(buf, "payload: 11           payload bytes scanned"));
	assert_non_null(strstr(buf, "payload: 4            payload bytes not scanned"));
	assert_non_null(strstr(buf, "payload: 2            streams opened"));
	assert_non_null(strstr(buf, "payload: 1            sessions decided"));
	assert_non_null(strstr(buf, "signatures.txt:1 Alpha hits 1"));
	rig_close(&g);
}

/* ---- set-up ---- */

static void
find_src_root(void)
{
	char dir[PATH_MAX], probe[PATH_MAX + 64];
	const char *env = getenv("TIDE_SOURCE_ROOT"); /* set by meson test */

	if (env && strlen(env) < sizeof(src_root)) {
		snprintf(probe, sizeof(probe), "%s/config/signatures.txt", env);
		if (access(probe, R_OK) == 0) {
			snprintf(src_root, sizeof(src_root), "%s", env);
			return;
		}
	}
	/* else the build directory is usually inside the source tree: walk up a few levels */
	if (!getcwd(dir, sizeof(dir)))
		return;
	for (int up = 0; up < 6; up++) {
		snprintf(probe, sizeof(probe), "%s/config/signatures.txt", dir);
		if (access(probe, R_OK) == 0) {
			snprintf(probe, sizeof(probe), "%s/classifiers/engine/cls_plugin.h", dir);
			if (access(probe, R_OK) == 0) {
				snprintf(src_root, sizeof(src_root), "%s", dir);
				return;
			}
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return;
		*slash = '\0';
	}
}

static int
setup(void **state)
{
	char path[PATH_MAX + 32], err[256];

	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_cls_payload.XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(path, sizeof(path), "%s/apps.txt", tmp_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(apps_txt, f);
	fclose(f);
	apps = cls_apps_load(path, err, sizeof(err));
	if (!apps)
		return -1;
	find_src_root();
	if (src_root[0]) {
		snprintf(path, sizeof(path), "%s/config/tide_apps.txt", src_root);
		real_apps = cls_apps_load(path, err, sizeof(err));
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	cls_apps_free(apps);
	cls_apps_free(real_apps);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_signatures),
		cmocka_unit_test(test_split_across_packets),
		cmocka_unit_test(test_window_bound),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_weak_then_strong),
		cmocka_unit_test(test_ties_go_to_the_earlier_line),
		cmocka_unit_test(test_give_up_payload_packets),
		cmocka_unit_test(test_give_up_windows),
		cmocka_unit_test(test_datagrams_scanned_alone),
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_give_up_tcp_end_and_packet_count),
		cmocka_unit_test(test_unscannable_sessions),
		cmocka_unit_test(test_flags_and_sub),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_reload_rules),
		cmocka_unit_test(test_enable_paths_and_options),
		cmocka_unit_test(test_streams_freed),
		cmocka_unit_test(test_statistics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
