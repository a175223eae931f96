/* test_cls_ndpi.c — the nDPI plugin (classifiers/plugins/ndpi, built only with libndpi) loaded
 * as a shared object through the engine, as tide-dataplane loads it, fed IP packets built here
 * by hand: a TLS ClientHello to a Google name (TLS, service Google from nDPI, no label), a DNS query,
 * a BitTorrent handshake on a non-standard port, an RTP stream, an IGMP report, a payload
 * nDPI cannot name on an unknown port (gives up after max_packets: unknown) and on a
 * well-known port (a port guess: low confidence, and any payload evidence beats it); and with
 * tide's own TLS dissector enabled after it, the dissector still decides (with the SNI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cls_engine.h"

static char config_dir[1024], plugin_dir[1024], tmpdir[256];

static struct cls_engine *
engine(const char *enabled)
{
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/enabled", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(enabled, f);
	fclose(f);
	struct cls_engine_params p = {
		.config_dir = config_dir,
		.enabled_path = path,
		.plugin_dir = plugin_dir,
		.model_dir = tmpdir,
		.policy = CLS_POLICY_PRIORITY,
		.min_confidence = 1,
	};
	struct cls_engine *e = cls_engine_create(&p, err, sizeof(err));
	if (!e)
		fail_msg("engine: %s", err);
	return e;
}

/* ---- packets ---- */

#define CLIENT 0x0a000001u /* 10.0.0.1 */
#define SERVER 0x0a000002u /* 10.0.0.2 */

struct pkt {
	uint8_t b[1600];
	uint32_t len, l4_off, payload_off;
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* IPv4 (with a correct header checksum) + TCP/UDP/raw + payload */
static void
build(struct pkt *k, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
	uint8_t tcp_flags, uint32_t seq, uint32_t ack, const void *payload, uint32_t plen)
{
	uint8_t *ip = k->b;
	uint32_t l4len = proto == 6 ? 20 : proto == 17 ? 8 : 0;
	memset(k, 0, sizeof(*k));
	k->l4_off = 20;
	k->payload_off = 20 + l4len;
	k->len = k->payload_off + plen;
	assert_true(k->len <= sizeof(k->b));
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)k->len);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	uint8_t *l4 = ip + 20;
	if (proto == 6) {
		put16(l4, sport);
		put16(l4 + 2, dport);
		put32(l4 + 4, seq);
		put32(l4 + 8, ack);
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
		put16(l4 + 14, 65535);
	} else if (proto == 17) {
		put16(l4, sport);
		put16(l4 + 2, dport);
		put16(l4 + 4, (uint16_t)(8 + plen));
	}
	if (plen)
		memcpy(ip + k->payload_off, payload, plen);
}

/* one session through one worker, packet by packet */
struct sess {
	struct cls_engine *e;
	struct cls_worker *w;
	void *state;
	struct cls_session s;
	uint32_t index;
	bool decided;
	struct cls_decision d;
	uint32_t c_seq, s_seq;
};

static void
s_open(struct sess *x, struct cls_engine *e, uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(x, 0, sizeof(*x));
	x->e = e;
	x->w = cls_worker_create(e);
	assert_non_null(x->w);
	x->state = malloc(cls_engine_state_size(e));
	assert_non_null(x->state);
	x->s.key.proto = proto;
	x->s.key.family = 4;
	put32(x->s.key.src, CLIENT);
	put32(x->s.key.dst, SERVER);
	x->s.key.sport = sport;
	x->s.key.dport = dport;
	x->s.type = CLS_SESSION_BIFLOW;
	x->s.label = cls_session_label_slot(e, x->state);
	x->s.label_size = cls_engine_label_size(e);
	x->c_seq = 1000;
	x->s_seq = 5000;
	cls_session_begin(x->w, x->state);
}

/* Feed one packet of the session in direction dir (TCP: flags, sequence numbers kept here). */
static void
s_send(struct sess *x, uint8_t dir, uint8_t flags, const void *payload, uint32_t plen)
{
	struct pkt *k = malloc(sizeof(*k));
	assert_non_null(k);
	uint32_t src = dir == CLS_DIR_FWD ? CLIENT : SERVER, dst = dir == CLS_DIR_FWD ? SERVER : CLIENT;
	uint16_t sp = dir == CLS_DIR_FWD ? x->s.key.sport : x->s.key.dport;
	uint16_t dp = dir == CLS_DIR_FWD ? x->s.key.dport : x->s.key.sport;
	uint32_t *seq = dir == CLS_DIR_FWD ? &x->c_seq : &x->s_seq;
	uint32_t *ack = dir == CLS_DIR_FWD ? &x->s_seq : &x->c_seq;
	build(k, x->s.key.proto, src, dst, sp, dp, flags, *seq, (flags & 0x10) ? *ack : 0, payload,
		plen);
	*seq += plen + ((flags & 0x03) ? 1 : 0); /* SYN and FIN count one */
	/* exact-size copy, so ASan sees any read past the packet */
	uint8_t *l3 = malloc(k->len);
	assert_non_null(l3);
	memcpy(l3, k->b, k->len);
	struct cls_packet p = {
		.payload = l3 + k->payload_off,
		.payload_len = plen,
		.l3 = l3,
		.l3_len = k->len,
		.wire_len = k->len + 14,
		.ts_ns = 1700000000000000000ull + x->index * 1000000ull,
		.index = x->index++,
		.dir = dir,
		.tcp_flags = flags,
		.l4proto = x->s.key.proto,
	};
	x->s.pkts[dir]++;
	x->s.payload_bytes[dir] += plen;
	struct cls_decision d;
	if (cls_session_packet(x->w, x->state, &x->s, &p, &d)) {
		x->decided = true;
		x->d = d;
	}
	free(l3);
	free(k);
}

static void
s_handshake(struct sess *x)
{
	s_send(x, CLS_DIR_FWD, 0x02, NULL, 0);
	s_send(x, CLS_DIR_BWD, 0x12, NULL, 0);
	s_send(x, CLS_DIR_FWD, 0x10, NULL, 0);
}

/* the session's decision (finishing it if still undecided), its classifier and label */
static struct cls_decision
s_close(struct sess *x, char *label, size_t ll)
{
	struct cls_decision d;
	cls_session_finish(x->w, x->state, &x->s, &d);
	if (label)
		snprintf(label, ll, "%s", cls_session_label(x->e, x->state));
	cls_session_end(x->w, x->state);
	free(x->state);
	cls_worker_destroy(x->w);
	return d;
}

static const char *
name_of(struct cls_engine *e, const struct cls_decision *d)
{
	return cls_apps_name(cls_engine_apps(e), d->app_id, d->sub_id);
}

/* ---- payloads ---- */

static size_t
client_hello(uint8_t *b, const char *sni)
{
	size_t n = strlen(sni), o = 0;
	uint8_t *rec = b;
	rec[o++] = 0x16, rec[o++] = 0x03, rec[o++] = 0x01, o += 2; /* record, length later */
	size_t hs = o;
	rec[o++] = 0x01, o += 3;                                    /* ClientHello, length later */
	rec[o++] = 0x03, rec[o++] = 0x03;
	for (int i = 0; i < 32; i++)
		rec[o++] = (uint8_t)(i * 7 + 1);                    /* random */
	rec[o++] = 0;                                               /* session id */
	put16(rec + o, 6), o += 2;                                  /* cipher suites */
	put16(rec + o, 0x1301), o += 2;
	put16(rec + o, 0x1302), o += 2;
	put16(rec + o, 0xc02f), o += 2;
	rec[o++] = 1, rec[o++] = 0;                                 /* compression: null */
	size_t ext = o;
	o += 2;
	put16(rec + o, 0x0000), o += 2;                             /* server_name */
	put16(rec + o, (uint16_t)(n + 5)), o += 2;
	put16(rec + o, (uint16_t)(n + 3)), o += 2;
	rec[o++] = 0;
	put16(rec + o, (uint16_t)n), o += 2;
	memcpy(rec + o, sni, n), o += n;
	put16(rec + o, 0x000a), o += 2;                             /* supported_groups */
	put16(rec + o, 4), o += 2;
	put16(rec + o, 2), o += 2;
	put16(rec + o, 0x001d), o += 2;
	put16(rec + o, 0x002b), o += 2;                             /* supported_versions */
	put16(rec + o, 3), o += 2;
	rec[o++] = 2;
	put16(rec + o, 0x0304), o += 2;
	put16(rec + ext, (uint16_t)(o - ext - 2));
	size_t hl = o - hs - 4;
	rec[hs + 1] = (uint8_t)(hl >> 16), rec[hs + 2] = (uint8_t)(hl >> 8), rec[hs + 3] = (uint8_t)hl;
	put16(rec + 3, (uint16_t)(o - 5));
	return o;
}

static size_t
dns_query(uint8_t *b, const char *name)
{
	size_t o = 0;
	put16(b, 0x4d2c), put16(b + 2, 0x0100), put16(b + 4, 1), put16(b + 6, 0), put16(b + 8, 0),
		put16(b + 10, 0);
	o = 12;
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, ".");
		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	b[o++] = 0;
	put16(b + o, 1), o += 2;
	put16(b + o, 1), o += 2;
	return o;
}

static size_t
bittorrent_handshake(uint8_t *b)
{
	static const char proto[] = "BitTorrent protocol";
	size_t o = 0;
	b[o++] = 19;
	memcpy(b + o, proto, 19), o += 19;
	memset(b + o, 0, 8), o += 8;                                /* reserved */
	for (int i = 0; i < 20; i++)
		b[o++] = (uint8_t)(0xa0 + i);                       /* info hash */
	memcpy(b + o, "-TR2940-abcdefghijkl", 20), o += 20;         /* peer id */
	return o;
}

static size_t
rtp_packet(uint8_t *b, uint16_t seq, uint32_t ts)
{
	b[0] = 0x80;                                                /* v2 */
	b[1] = 0x00;                                                /* PT 0: PCMU */
	put16(b + 2, seq);
	put32(b + 4, ts);
	put32(b + 8, 0x11223344);
	for (int i = 0; i < 160; i++)
		b[12 + i] = (uint8_t)(0xff - (i & 0x0f));
	return 172;
}

/* ---- tests ---- */

static void
test_tls_google(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\n");
	struct sess x;
	uint8_t ch[512];
	char label[128];
	s_open(&x, e, 6, 51000, 443);
	s_handshake(&x);
	s_send(&x, CLS_DIR_FWD, 0x18, ch, (uint32_t)client_hello(ch, "www.google.com"));
	assert_true(x.decided); /* a DPI verdict at the ClientHello: ready, decided */
	struct cls_decision d = s_close(&x, label, sizeof(label));
	assert_string_equal(name_of(e, &d), "TLS");
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "ndpi");
	assert_int_equal(d.confidence, 90);
	/* the service is nDPI's, not written into the label (nDPI reads no sub-label) */
	assert_int_equal(d.service_id, cls_services_id(cls_engine_services(e), "Google"));
	assert_int_not_equal(d.service_id, 0);
	assert_string_equal(label, "");
	cls_engine_destroy(e);
}

/* tide's TLS dissector (CLS_EV_DISSECTOR) beats nDPI (CLS_EV_DPI) though nDPI comes first in
 * priority order, and its SNI is the label */
static void
test_dissector_keeps_its_win(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\ntls\n");
	struct sess x;
	uint8_t ch[512];
	char label[128];
	s_open(&x, e, 6, 51001, 443);
	s_handshake(&x);
	s_send(&x, CLS_DIR_FWD, 0x18, ch, (uint32_t)client_hello(ch, "www.google.com"));
	struct cls_decision d = s_close(&x, label, sizeof(label));
	assert_string_equal(name_of(e, &d), "TLS");
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "tls");
	assert_non_null(strstr(label, "www.google.com"));
	assert_int_equal(d.service_id, cls_services_id(cls_engine_services(e), "Google"));
	cls_engine_destroy(e);
}

static void
test_dns(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\n");
	struct sess x;
	uint8_t q[256];
	s_open(&x, e, 17, 40053, 53);
	s_send(&x, CLS_DIR_FWD, 0, q, (uint32_t)dns_query(q, "www.example.org"));
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_string_equal(name_of(e, &d), "DNS");
	assert_int_equal(d.confidence, 90);
	cls_engine_destroy(e);
}

static void
test_bittorrent_off_port(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\n");
	struct sess x;
	uint8_t h[128];
	s_open(&x, e, 6, 52000, 40123);
	s_handshake(&x);
	s_send(&x, CLS_DIR_FWD, 0x18, h, (uint32_t)bittorrent_handshake(h));
	s_send(&x, CLS_DIR_BWD, 0x18, h, (uint32_t)bittorrent_handshake(h));
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_string_equal(name_of(e, &d), "BitTorrent");
	assert_true(d.confidence >= 80); /* DPI (90), or DPI_CACHE (80): nDPI's BitTorrent
					  * dissector also caches the peer */
	cls_engine_destroy(e);
}

static void
test_rtp_stream(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\n");
	struct sess x;
	uint8_t r[256];
	s_open(&x, e, 17, 30000, 30002);
	for (int i = 0; i < 8; i++) {
		s_send(&x, CLS_DIR_FWD, 0, r, (uint32_t)rtp_packet(r, (uint16_t)(100 + i),
			(uint32_t)(8000 + 160 * i)));
		s_send(&x, CLS_DIR_BWD, 0, r, (uint32_t)rtp_packet(r, (uint16_t)(900 + i),
			(uint32_t)(64000 + 160 * i)));
	}
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_int_equal(d.app_id, cls_apps_id(cls_engine_apps(e), "RTP"));
	cls_engine_destroy(e);
}

static void
test_igmp(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi\n");
	struct sess x;
	/* IGMPv2 membership report for 239.1.2.3 */
	static const uint8_t igmp[8] = {0x16, 0x00, 0xf9, 0xf9, 239, 1, 2, 3};
	s_open(&x, e, 2, 0, 0);
	s_send(&x, CLS_DIR_FWD, 0, igmp, sizeof(igmp));
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_string_equal(name_of(e, &d), "IGMP");
	cls_engine_destroy(e);
}

/* Nothing nDPI knows, on ports nobody owns: ready after max_packets (decided before the
 * session's end), an unknown answer. */
static void
test_gives_up(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi max_packets=4\n");
	struct sess x;
	uint8_t junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	s_open(&x, e, 17, 41234, 42345);
	for (int i = 0; i < 3; i++)
		s_send(&x, (uint8_t)(i & 1), 0, junk, sizeof(junk));
	assert_false(x.decided);
	s_send(&x, CLS_DIR_BWD, 0, junk, sizeof(junk));
	assert_true(x.decided);
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_int_equal(d.app_id, 0);
	assert_int_equal(d.classifier, -1);
	cls_engine_destroy(e);
}

/* Unrecognisable bytes on PostgreSQL's port: nDPI's give-up guess by port is a port-class
 * answer with a low confidence — and a payload signature from another plugin, later in the
 * priority order and less sure in number, beats it. */
static void
test_port_guess_is_port_evidence(void **st)
{
	(void)st;
	struct cls_engine *e = engine("ndpi max_packets=3\n");
	struct sess x;
	uint8_t junk[40];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 53 + 7);
	s_open(&x, e, 6, 53000, 5432);
	s_handshake(&x);
	struct cls_decision d = s_close(&x, NULL, 0);
	assert_string_equal(name_of(e, &d), "PostgreSQL");
	assert_int_equal(d.confidence, 30);
	cls_engine_destroy(e);

	/* fixed_a (tests/classifiers) next to ndpi.so: one plugin directory of links */
	char link[1100], target[1100];
	snprintf(link, sizeof(link), "%s/ndpi.so", tmpdir);
	snprintf(target, sizeof(target), "%s/ndpi.so", plugin_dir);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/fixed_a.so", tmpdir);
	snprintf(target, sizeof(target), "%s/fixed_a.so", getenv("TIDE_PLUGIN_DIR"));
	assert_int_equal(symlink(target, link), 0);
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", plugin_dir);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s", tmpdir);
	e = engine("ndpi max_packets=3\nfixed_a app=MySQL conf=20\n");
	s_open(&x, e, 6, 53001, 5432);
	s_handshake(&x);
	s_send(&x, CLS_DIR_FWD, 0x18, junk, sizeof(junk));
	d = s_close(&x, NULL, 0);
	assert_string_equal(name_of(e, &d), "MySQL");
	assert_string_equal(cls_engine_plugin_name(e, d.classifier), "fixed_a");
	cls_engine_destroy(e);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s", saved);
}

static void
test_bad_option_refused(void **st)
{
	(void)st;
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/enabled", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("ndpi max_packets=0\n", f);
	fclose(f);
	struct cls_engine_params p = {.config_dir = config_dir, .enabled_path = path,
		.plugin_dir = plugin_dir, .model_dir = tmpdir};
	assert_null(cls_engine_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "ndpi"));
}

int
main(void)
{
	const char *src = getenv("TIDE_SOURCE_ROOT");
	const char *br = getenv("TIDE_BUILD_ROOT");
	if (!src || !br || !getenv("TIDE_PLUGIN_DIR")) {
		fprintf(stderr, "run through meson test (needs TIDE_SOURCE_ROOT etc.)\n");
		return 1;
	}
	snprintf(config_dir, sizeof(config_dir), "%s/config", src);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s/classifiers/plugins", br);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tide-ndpi-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_google),
		cmocka_unit_test(test_dissector_keeps_its_win),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_bittorrent_off_port),
		cmocka_unit_test(test_rtp_stream),
		cmocka_unit_test(test_igmp),
		cmocka_unit_test(test_gives_up),
		cmocka_unit_test(test_port_guess_is_port_evidence),
		cmocka_unit_test(test_bad_option_refused),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return rc;
}
