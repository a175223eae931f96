/* bench_cls_payload.c — nanoseconds per packet for the payload classifier with every shipped
 * signature loaded: packet() then is_session_classifiable(), and classify_session() once the
 * session is ready, the way the engine drives it; session_free() at the end of each session.
 *
 * A meson benchmark, not a test (timings are meaningless under sanitizers): in a release build,
 * `meson test -C build --benchmark bench_cls_payload` (or run it with [source root]; default
 * $TIDE_SOURCE_ROOT, else ".").
 *
 * Sessions are biflows of 8 packets of 512 payload bytes, alternating fwd/bwd. Three mixes:
 *   "mix"      half the sessions open with a protocol some signature knows (decided early), half
 *              carry random bytes or plain text (scanned until a bound);
 *   "unknown"  random bytes only: the worst case, every session scanned to its bounds;
 *   "engine"   the mix, but every packet is handed to packet() even after this plugin is ready,
 *              as happens while another classifier is still undecided. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cls_engine.h"
#include "cls_apps.h"
#include "cls_plugin.h"
#include "test_rng.h"

extern const struct cls_plugin cls_plugin_payload;
#define PLUG (&cls_plugin_payload)

#define PAYLOAD_LEN 512
#define PKTS_PER_SESSION 8
#define N_SESSIONS 200000

/* Openings, padded to PAYLOAD_LEN with header-ish text; 'fwd' then 'bwd' side. */
struct opening {
	const char *fwd;
	size_t fwd_len;
	const char *bwd;
	size_t bwd_len;
};

#define S(x) x, sizeof(x) - 1
static const struct opening openings[] = {
	{ S("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n") },
	{ S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		S("\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03") },
	{ S("SSH-2.0-OpenSSH_9.2p1\r\n"), S("SSH-2.0-OpenSSH_8.4\r\n") },
	{ S("\x00\x00\x00\x85\xffSMBr\x00\x00\x00\x00"), S("\x00\x00\x00\x55\xffSMBr") },
	{ S("EHLO client.example.org\r\n"), S("220 mx.example.com ESMTP Postfix\r\n") },
	{ S("*1\r\n$4\r\nPING\r\n"), S("+PONG\r\n") },
	{ S("\x13" "BitTorrent protocol"), S("\x13" "BitTorrent protocol") },
	{ S("\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07" "example\x03" "com\x00\x00\x01"
	    "\x00\x01"),
		S("\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07" "example\x03" "com\x00"
		  "\x00\x01\x00\x01") },
};

static struct test_rng rng = {0x243f6a8885a308d3ull};

static void
fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = test_rng_next(&rng);

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static void
fill_opening(uint8_t *p, const char *o, size_t len)
{
	static const char pad[] = "X-Pad: abcdefghijklmnopqrstuvwxyz0123456789\r\n";

	memcpy(p, o, len);
	for (size_t i = len; i < PAYLOAD_LEN; i++)
		p[i] = (uint8_t)pad[(i - len) % (sizeof(pad) - 1)];
}

static double
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* 64 distinct sessions' payloads, reused round-robin so the data stays cache-resident and the
 * figure is the classifier's, not the memory system's. */
#define N_TEMPLATES 64
static uint8_t payloads[N_TEMPLATES][PKTS_PER_SESSION][PAYLOAD_LEN];

static void
make_templates(bool known_half)
{
	for (int t = 0; t < N_TEMPLATES; t++)
		for (int k = 0; k < PKTS_PER_SESSION; k++) {
			uint8_t *p = payloads[t][k];

			if (known_half && (t & 1) == 0) {
				const struct opening *o = &openings[(t / 2) % (sizeof(openings) /
									     sizeof(openings[0]))];

				if (k == 0)
					fill_opening(p, o->fwd, o->fwd_len);
				else if (k == 1)
					fill_opening(p, o->bwd, o->bwd_len);
				else
					fill_random(p, PAYLOAD_LEN);
			} else if (known_half && (t & 3) == 1) {
				fill_opening(p, "", 0); /* plain text no signature knows */
			} else {
				fill_random(p, PAYLOAD_LEN);
			}
		}
}

static void
run(void *ctx, void *w, const char *name, bool all_packets)
{
	struct cls_session s;
	struct cls_result r;
	void *state = calloc(1, PLUG->state_size);
	uint64_t pkts = 0, decided = 0;
	double t0, t1;

	memset(&s, 0, sizeof(s));
	s.type = CLS_SESSION_BIFLOW;
	s.key.proto = 6;
	s.key.family = 4;
	t0 = now_ns();
	for (int n = 0; n < N_SESSIONS; n++) {
		const int t = n % N_TEMPLATES;

		memset(state, 0, PLUG->state_size);
		for (uint32_t k = 0; k < PKTS_PER_SESSION; k++) {
			struct cls_packet p = {
				.payload = payloads[t][k],
				.payload_len = PAYLOAD_LEN,
				.wire_len = PAYLOAD_LEN + 54,
				.index = k,
				.dir = (uint8_t)(k & 1),
				.tcp_flags = 0x18,
				.l4proto = 6,
			};

			PLUG->packet(ctx, w, state, &s, &p);
			pkts++;
			if (PLUG->is_session_classifiable(ctx, state, &s)) {
				PLUG->classify_session(ctx, state, &s, &r);
				if (!all_packets) {
					decided += r.app_id != 0;
					break;
				}
			}
		}
		if (all_packets) {
			PLUG->classify_session(ctx, state, &s, &r);
			decided += r.app_id != 0;
		}
		PLUG->session_free(ctx, w, state);
	}
	t1 = now_ns();
	printf("%-8s %7.1f ns/packet  %7.1f ns/session  %5.2f packets/session  %4.1f%% "
	       "identified\n",
		name, (t1 - t0) / (double)pkts, (t1 - t0) / N_SESSIONS,
		(double)pkts / N_SESSIONS, 100.0 * (double)decided / N_SESSIONS);
	free(state);
}

int
main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : getenv("TIDE_SOURCE_ROOT");
	char cfg_dir[4096], apps_path[4200], err[256];
	struct cls_apps *apps;
	struct cls_config cfg = { .options = "", .log = cls_host_log };
	void *ctx, *w;

	if (!root)
		root = ".";
	snprintf(cfg_dir, sizeof(cfg_dir), "%s/config", root);
	snprintf(apps_path, sizeof(apps_path), "%s/tide_apps.txt", cfg_dir);
	apps = cls_apps_load(apps_path, err, sizeof(err));
	if (!apps) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	cfg.config_dir = cfg_dir;
	cfg.apps = apps;
	if (PLUG->enable(&ctx, &cfg) != 0 || PLUG->load_signatures(ctx, NULL) != 0)
		return 1;
	w = PLUG->worker_init(ctx);
	if (!w)
		return 1;

	printf("%d sessions x up to %d packets of %d bytes\n", N_SESSIONS, PKTS_PER_SESSION,
		PAYLOAD_LEN);
	make_templates(true);
	run(ctx, w, "mix", false);
	run(ctx, w, "engine", true);
	make_templates(false);
	run(ctx, w, "unknown", false);

	PLUG->worker_free(ctx, w);
	PLUG->dump_statistics(ctx, stdout);
	PLUG->disable(ctx);
	cls_apps_free(apps);
	return 0;
}
