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

struct sig_case {
	const char *app; /* cls_apps_name() of the expected result */
	uint8_t conf;    /* the target signature's confidence */
	uint8_t proto;
	uint8_t type;
	const char *pos[4];
	const char *neg[4]; /* must not give (app, conf) */
};

static const struct sig_case sig_cases[] = {
	/* web */
	{ "HTTP-Proxy", 90, TCP, B, { ">CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n" },
		{ ">CONNECT example.com HTTP/1.1\r\n\r\n" } },
	{ "HTTP-Proxy", 90, TCP, B, { ">GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n" },
		{ ">GET /http://example.com/a HTTP/1.1\r\n" } },
	{ "BitTorrent", 90, TCP, B, { ">GET /announce?info_hash=%%12%%34&peer_id=x HTTP/1.1\r\n" },
		{ ">GET /announce?peer_id=x HTTP/1.1\r\n" } },
	{ "Elasticsearch", 90, TCP, B, { ">GET /logs-2024/_search?q=x HTTP/1.1\r\n" },
		{ ">GET /logs-2024/search?q=x HTTP/1.1\r\n" } },
	{ "Elasticsearch", 95, TCP, F,
		{ ">HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nX-elastic-product: "
		  "Elasticsearch\r\n\r\n" },
		{ ">HTTP/1.1 200 OK\r\nX-elastic-product: Elastic\r\n\r\n" } },
	{ "SSDP", 95, UDP, B, { ">M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n" },
		{ ">M-SEARCH / HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n" } },
	{ "SSDP", 90, UDP, F,
		{ ">HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: upnp:rootdevice\r\n"
		  "USN: uuid:2f402f80::upnp:rootdevice\r\n\r\n" },
		{ ">HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" } },
	{ "HTTP", 85, TCP, B, { ">GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n" },
		{ ">GET /index.html HTTP/2\r\nHost: example.com\r\n\r\n" } },
	{ "HTTP", 95, TCP, B, { ">PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n%00%00%12%04" },
		{ ">PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" } },
	{ "HTTP", 80, TCP, B, { "<HTTP/1.1 404 Not Found\r\n" }, { "<HTTP/1.1 600 Nope\r\n" } },
	{ "TLS", 95, TCP, B, { ">%16%03%01%02%00%01%00%01%fc%03%03%11%22" },
		{ ">%16%03%01%02%00%02%00%01%fc%03%03%11%22" } }, /* a ServerHello sent fwd */
	{ "TLS", 95, TCP, B, { "<%16%03%03%00%5a%02%00%00%56%03%03%aa" },
		{ "<%16%03%03%00%5a%02%00%00%56%02%00%aa" } },
	{ "QUIC", 85, UDP, B, { ">%c3%00%00%00%01%08%01%02%03%04%05%06%07%08%00" },
		{ ">%c3%00%00%00%02%08%01%02%03%04%05%06%07%08%00" } },
	{ "QUIC", 85, UDP, B, { ">%09%01%02%03%04%05%06%07%08Q043%01" },
		{ ">%09%01%02%03%04%05%06%07%08Q099%01" } },
	/* remote access */
	{ "SSH", 95, TCP, B, { "<SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" }, { "<SSH-3.0-OpenSSH_9.2\r\n" } },
	{ "SSH", 95, TCP, B, { ">SSH-1.99-Cisco-1.25\r\n" }, { ">SSH 1.99 Cisco\r\n" } },
	{ "RDP", 95, TCP, B,
		{ ">%03%00%00%2b%26%e0%00%00%00%00%00Cookie: mstshash=admin\r\n"
		  "%01%00%08%00%03%00%00%00" },
		{ ">%03%00%00%2b%26%e0%00%00%00%00%00Cookie: mstshasx=admin\r\n" } },
	{ "RDP", 90, TCP, B, { ">%03%00%00%13%0e%e0%00%00%00%00%00%01%00%08%00%03%00%00%00" },
		/* ISO-TSAP (S7) connection request: same TPKT/COTP, TSAP parameters */
		{ ">%03%00%00%16%11%e0%00%00%00%01%00%c1%02%01%00%c2%02%01%02%c0%01%0a" } },
	{ "RDP", 85, TCP, B, { "<%03%00%00%13%0e%d0%00%00%12%34%00%02%00%08%00%01%00%00%00" },
		{ "<%03%00%00%16%11%d0%00%00%12%34%00%c1%02%01%00%c2%02%01%02" } },
	{ "VNC", 95, TCP, B, { "<RFB 003.008\n" }, { "<RFB 3.8\n" } },
	{ "Telnet", 80, TCP, B, { "<%ff%fd%18%ff%fd%20%ff%fd%23" }, { "<%ff%fd%18%fe%fd%20" } },
	{ "Telnet", 55, TCP, B, { "<%ff%fb%01" }, { "<%ff%f0%01" } },
	/* mail */
	{ "SMTP", 90, TCP, B, { "<220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n" },
		{ "<220 mx.example.com Service ready\r\n" } },
	{ "SMTP", 85, TCP, F, { ">220 mail.example.org ready\r\n", ">250-mail.example.org\r\n250 SIZE\r\n" },
		{ ">220 mail.example.org ready\r\n", ">331 Password required\r\n" } },
	{ "SMTP", 90, TCP, B, { ">ehlo client.example.org\r\n" }, { ">EHLO\r\n" } },
	{ "IMAP", 85, TCP, B, { "<* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n" },
		{ "<+OK Dovecot ready.\r\n" } },
	{ "IMAP", 70, TCP, B, { ">a001 CAPABILITY\r\n" }, { ">a001CAPABILITY\r\n" } },
	{ "POP3", 85, TCP, B, { "<+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n" },
		{ "<+OK\r\n" } },
	{ "POP3", 60, TCP, B, { "<+OK hello\r\n" }, { "<+OKhello\r\n" } },
	{ "POP3", 80, TCP, B, { ">USER bob\r\n", ">PASS secret\r\n", ">UIDL\r\n" },
		{ ">USER bob\r\n", ">PASS secret\r\n", ">SYST\r\n" } },
	/* file transfer and sharing */
	{ "FTP", 85, TCP, B, { "<220 (vsFTPd 3.0.5)\r\n" }, { "<220 Welcome\r\n" } },
	{ "FTP", 85, TCP, F, { ">220 Welcome\r\n", ">331 Please specify the password.\r\n" },
		{ ">220 Welcome\r\n", ">250 OK\r\n" } },
	{ "FTP", 80, TCP, B, { ">USER anonymous\r\n", ">PASS guest@\r\n", ">SYST\r\n" },
		{ ">USER anonymous\r\n", ">PASS guest@\r\n", ">STAT\r\n" } },
	{ "TFTP", 95, UDP, B, { ">%00%01pxelinux.0%00octet%00" }, { ">%00%01pxelinux.0%00binary%00" } },
	{ "SMB", 95, TCP, B, { ">%00%00%00%85%ffSMBr%00%00%00%00" },
		{ ">%00%00%00%85%ffSMCr%00%00%00%00" } },
	{ "SMB", 95, TCP, B, { ">%00%00%00%b0%feSMB%40%00" }, { ">%00%00%00%b0%feSMX%40%00" } },
	{ "NetBIOS", 90, TCP, B, { ">%81%00%00%44%20%{32}%00%20%{32}%00" },
		{ ">%81%00%00%44%20%{31}%00%20%{32}%00" } },
	{ "NetBIOS", 85, UDP, B, { ">%12%34%01%10%00%01%00%00%00%00%00%00%20%{32}%00%00%20%00%01" },
		{ ">%12%34%01%10%00%01%00%00%00%00%00%00%20ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ%00%00%20%00%01" } },
	{ "NetBIOS", 90, UDP, B, { ">%11%02%12%34%c0%a8%01%02%00%8a%00%bb%00%00%20%{32}%00%20%{32}%00" },
		{ ">%13%02%12%34%c0%a8%01%02%00%8a%00%bb%00%00%20%{32}%00%20%{32}%00" } },
	{ "NFS", 95, TCP, B,
		{ ">%80%00%00%28%12%34%56%78%00%00%00%00%00%00%00%02%00%01%86%a3%00%00%00%03%00%00%00%01" },
		{ ">%80%00%00%28%12%34%56%78%00%00%00%00%00%00%00%02%00%01%86%a0%00%00%00%03%00%00%00%01" } },
	{ "NFS", 95, UDP, B, { ">%12%34%56%78%00%00%00%00%00%00%00%02%00%01%86%a5%00%00%00%03" },
		{ ">%12%34%56%78%00%00%00%01%00%00%00%02%00%01%86%a5%00%00%00%03" } },
	{ "Git", 95, TCP, B, { ">0032git-upload-pack /project.git%00host=example.com%00" },
		{ ">0032git-fetch-pack /project.git%00host=example.com%00" } },
	{ "RSYNC", 95, TCP, B, { "<@RSYNCD: 31.0\n" }, { "<@RSYNC: 31.0\n" } },
	{ "BitTorrent", 95, TCP, B, { ">%13BitTorrent protocol%00%00%00%00%00%10%00%05" },
		{ ">%13BitTorrent protocoL%00%00%00%00%00%10%00%05" } },
	{ "BitTorrent", 85, UDP, B, { ">d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe" },
		{ ">d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe" } },
	/* voice, video, streaming */
	{ "RTSP", 95, TCP, B, { ">OPTIONS rtsp://example.com/media.mp4 RTSP/1.0\r\nCSeq: 1\r\n\r\n" },
		{ ">OPTIONS rtsp://example.com/media.mp4 RTSP/2.0\r\nCSeq: 1\r\n\r\n" } },
	{ "RTSP", 95, TCP, B, { "<RTSP/1.0 200 OK\r\nCSeq: 1\r\n" }, { "<RTSP/1.0 OK\r\n" } },
	{ "SIP", 95, UDP, B, { ">INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n" },
		{ ">INVITE bob@biloxi.example.com SIP/2.0\r\n" } },
	{ "SIP", 95, UDP, B, { "<SIP/2.0 180 Ringing\r\n" }, { "<SIP/2.0 800 Nope\r\n" } },
	{ "STUN", 90, UDP, B, { ">%00%01%00%00%21%12%a4%42%b7%e7%a7%01%bc%34%d6%86%fa%87%df%ae" },
		{ ">%00%01%00%00%21%12%a4%43%b7%e7%a7%01%bc%34%d6%86%fa%87%df%ae" } },
	/* infrastructure */
	{ "DHCP", 95, UDP, B, { ">%01%01%06%00%{232}%63%82%53%63%35%01%01%ff" },
		{ ">%01%01%06%00%{233}%63%82%53%63%35%01%01%ff" } },
	{ "mDNS", 75, UDP, B,
		{ ">%00%00%00%00%00%01%00%00%00%00%00%00%05_http%04_tcp%05local%00%00%0c%00%01" },
		{ ">%00%00%00%00%00%01%00%00%00%00%00%00%05_http%04_tcp%05locak%00%00%0c%00%01" } },
	{ "DNS", 50, UDP, B, { ">%ab%cd%01%00%00%01%00%00%00%00%00%00%07example%03com%00%00%01%00%01" },
		{ ">%ab%cd%01%00%00%01%00%01%00%00%00%00%07example%03com%00%00%01%00%01" } },
	{ "DNS", 50, TCP, B,
		{ ">%00%1d%ab%cd%01%20%00%01%00%00%00%00%00%01%07example%03com%00%00%1c%00%01" },
		{ ">%00%1d%ab%cd%01%20%00%02%00%00%00%00%00%01%07example%03com%00%00%1c%00%01" } },
	{ "DNS", 50, UDP, B,
		{ "<%ab%cd%81%80%00%01%00%01%00%00%00%00%07example%03com%00%00%01%00%01%c0%0c" },
		{ "<%ab%cd%81%80%00%02%00%01%00%00%00%00%07example%03com%00%00%01%00%01%c0%0c" } },
	{ "NTP", 35, UDP, B, { ">%e3%00%06%ec%{44}" }, { ">%e3%00%06%ec%{43}" } },
	{ "NTP", 35, UDP, B, { "<%24%02%03%e9%{44}" }, { "<%25%02%03%e9%{44}" } },
	{ "Syslog", 85, UDP, B, { "><34>Oct 11 22:14:15 mymachine su: 'su root' failed\n" },
		{ "><34>Oct 11 22:14 mymachine su: failed\n" } },
	{ "Syslog", 85, UDP, B, { "><165>1 2003-10-11T22:14:15.003Z host app - - - hello" },
		{ "><165>2 2003-10-11T22:14:15.003Z host app - - - hello" } },
	{ "Syslog", 45, UDP, B, { "><13>hello" }, { "><192>hello" } },
	{ "NetFlow", 40, UDP, B, { ">%00%05%00%02%{20}" }, { ">%00%05%00%00%{20}" } },
	{ "NetFlow", 40, UDP, B, { ">%00%09%00%03%{16}%00%00%00%1c" }, { ">%00%09%00%03%{16}%00%05" } },
	{ "NetFlow", 40, UDP, B, { ">%00%0a%00%64%{12}%00%02%00%14" }, { ">%00%0a%00%64%{12}%00%04" } },
	/* auth and management */
	{ "Kerberos", 95, UDP, B, { ">%6a%81%b0%30%81%ad%a1%03%02%01%05%a2%03%02%01%0a%a3" },
		{ ">%6a%81%b0%30%81%ad%a1%03%02%01%04%a2%03%02%01%0a%a3" } },
	{ "Kerberos", 95, TCP, B, { ">%00%00%00%b3%6c%81%b0%30%81%ad%a1%03%02%01%05%a2%03%02%01%0c" },
		{ ">%00%00%00%b3%6c%81%b0%30%81%ad%a1%03%02%01%05%a2%03%02%01%0b" } },
	{ "Kerberos", 95, UDP, B, { "<%6b%82%05%00%30%82%04%fc%a0%03%02%01%05%a1%03%02%01%0b" },
		{ "<%6b%82%05%00%30%82%04%fc%a0%03%02%01%05%a1%03%02%01%0c" } },
	{ "LDAP", 85, TCP, B, { ">%30%0c%02%01%01%60%07%02%01%03%04%00%80%00" },
		{ ">%30%0c%02%01%01%60%07%02%01%04%04%00%80%00" } },
	{ "LDAP", 85, TCP, B, { "<%30%0c%02%01%01%61%07%0a%01%00%04%00%04%00" },
		{ "<%30%0c%02%01%01%61%07%02%01%00%04%00%04%00" } },
	{ "SNMP", 90, UDP, B, { ">%30%26%02%01%01%04%06public%a0%19%02%04%12%34%56%78" },
		{ ">%30%26%02%01%02%04%06public%a0%19%02%04%12%34%56%78" } },
	{ "IPsec", 85, UDP, B,
		{ ">%11%22%33%44%55%66%77%88%00%00%00%00%00%00%00%00%21%20%22%08%00%00%00%00" },
		{ ">%11%22%33%44%55%66%77%88%00%00%00%00%00%00%00%01%21%20%22%08%00%00%00%00" } },
	{ "IPsec", 85, UDP, B,
		{ ">%00%00%00%00%11%22%33%44%55%66%77%88%00%00%00%00%00%00%00%00%01%10%02%00" },
		{ ">%00%00%00%00%11%22%33%44%55%66%77%88%00%00%00%00%00%00%00%00%01%10%05%00" } },
	/* VPN */
	{ "WireGuard", 80, UDP, B, { ">%01%00%00%00%{144}", ">%04%00%00%00%{28}" },
		{ ">%01%00%00%00%{143}", ">%04%00%00%00%{28}" } },
	{ "WireGuard", 80, UDP, B, { "<%02%00%00%00%{88}", "<%04%00%00%00%{28}" },
		{ "<%02%00%00%00%{87}", "<%04%00%00%00%{28}" } },
	{ "WireGuard", 50, UDP, B, { ">%01%00%00%00%{144}" }, { ">%01%00%00%01%{144}" } },
	{ "OpenVPN", 65, TCP, B, { ">%00%0e%38%{8}%00%00%00%00%00" }, { ">%00%0e%39%{8}%00%00%00%00%00" } },
	{ "OpenVPN", 60, UDP, B, { ">%38%{8}%00%00%00%00%00" }, { ">%38%{8}%00%00%00%00%01" } },
	{ "OpenVPN", 60, UDP, B, { ">%38%{8}%{28}%00%00%00%00%00" }, { ">%38%{8}%{27}%01%00%00%00%01" } },
	/* IoT and industrial */
	{ "MQTT", 95, TCP, B, { ">%10%1a%00%04MQTT%04%02%00%3c%00%0eclient" },
		{ ">%10%1a%00%04MQTS%04%02%00%3c%00%0eclient" } },
	{ "MQTT", 95, TCP, B, { ">%10%80%01%00%06MQIsdp%03%02" }, { ">%10%80%01%00%06MQIsdp%04%02" } },
	{ "AMQP", 95, TCP, B, { ">AMQP%00%00%09%01" }, { ">AMQP%00%00%09%02" } },
	{ "BACnet", 75, UDP, B, { ">%81%0a%00%11%01%04%00%05%01%0c%0c%02%00%00%01%19%55" },
		{ ">%81%0a%00%11%02%04%00%05%01%0c%0c%02%00%00%01%19%55" } },
	{ "DNP3", 70, TCP, B, { ">%05%64%0b%c4%01%00%02%00%aa%bb" }, { ">%05%64%04%c4%01%00%02%00" } },
	{ "Modbus", 40, TCP, B, { ">%00%01%00%00%00%06%01%03%00%00%00%0a" },
		{ ">%00%01%00%01%00%06%01%03%00%00%00%0a" } },
	/* databases */
	{ "MySQL", 90, TCP, B, { "<%4a%00%00%00%0a8.0.36%00%08%00%00%00" },
		{ "<%4a%00%00%00%098.0.36%00%08%00%00%00" } },
	{ "MySQL", 90, TCP, B, { "<%45%00%00%00%ff%6a%04Host '10.0.0.1' is not allowed" },
		{ "<%45%00%00%00%ff%6b%04Host '10.0.0.1' is not allowed" } },
	{ "PostgreSQL", 95, TCP, B, { ">%00%00%00%08%04%d2%16%2f" }, { ">%00%00%00%08%04%d2%16%31" } },
	{ "PostgreSQL", 90, TCP, B, { ">%00%00%00%54%00%03%00%00user%00postgres%00database%00db%00%00" },
		{ ">%00%00%00%54%00%02%00%00user%00postgres%00database%00db%00%00" } },
	{ "PostgreSQL", 70, TCP, B, { "<R%00%00%00%0c%00%00%00%05%01%02%03%04" },
		{ "<R%00%00%00%0c%00%00%00%06%01%02%03%04" } },
	{ "MS-SQL", 90, TCP, B, { ">%12%01%00%2f%00%00%01%00%00%00%1a%00%06%01%00%20%00%01" },
		{ ">%12%01%00%2f%00%00%01%00%00%00%1a%00%07%01%00%20%00%01" } },
	{ "MS-SQL", 85, TCP, B, { "<%04%01%00%25%00%00%01%00%00%00%15%00%06%01%00%1b%00%01" },
		{ "<%04%01%00%25%00%00%00%00%00%00%15%00%06%01%00%1b%00%01" } },
	{ "Redis", 90, TCP, B, { ">*1\r\n$4\r\nPING\r\n" }, { ">*1\r\n$4\r\nPONG\r\n" } },
	{ "Redis", 80, TCP, B, { "<+PONG\r\n" }, { "<+PING\r\n" } },
	{ "Memcached", 85, UDP, B, { ">%00%01%00%00%00%01%00%00stats\r\n" },
		{ ">%00%01%00%00%00%02%00%00stats\r\n" } },
	{ "Memcached", 85, TCP, B, { ">set foo 0 0 3\r\nbar\r\n" }, { ">set foo 0 0\r\nbar\r\n" } },
	{ "Memcached", 70, TCP, B, { ">stats\r\n" }, { ">statistics\r\n" } },
	{ "Memcached", 60, TCP, B, { ">get foo bar\r\n" }, { ">get\r\n" } },
	{ "Memcached", 70, TCP, B, { "<VALUE foo 0 3\r\nbar\r\nEND\r\n" }, { "<VALUE foo\r\n" } },
	{ "Memcached", 50, TCP, B, { ">%80%00%00%03%00%00%00%00%00%00%00%03%{12}foo" },
		{ ">%82%00%00%03%00%00%00%00%00%00%00%03%{12}foo" } },
	{ "MongoDB", 80, TCP, B, { ">%3f%00%00%00%01%00%00%00%00%00%00%00%dd%07%00%00%00" },
		{ ">%3f%00%00%00%01%00%00%00%01%00%00%00%dd%07%00%00%00" } },
	/* chat */
	{ "IRC", 90, TCP, B, { ">NICK alice\r\n", ">USER alice 0 * :Alice\r\n" },
		{ ">NICK alice\r\n", ">JOIN #tide\r\n" } },
	{ "IRC", 85, TCP, B, { "<:irc.example.net NOTICE * :*** Looking up your hostname...\r\n" },
		{ "<irc.example.net NOTICE * :*** Looking up your hostname...\r\n" } },
	{ "XMPP", 95, TCP, B,
		{ "><?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' "
		  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" },
		{ "><?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:iq' "
		  "version='1.0'>" } },
};

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
	sess_open(&x, B, UDP);
	sess_spec(g.ctx, g.w, &x, ">0123456789");
	assert_false(sess_ready(g.ctx, &x)); /* fwd is past its window, bwd not yet seen */
	sess_spec(g.ctx, g.w, &x, "<0123456");
	assert_false(sess_ready(g.ctx, &x));
	sess_spec(g.ctx, g.w, &x, "<789abc");
	assert_true(sess_ready(g.ctx, &x));
	assert_int_equal(sess_result(g.ctx, &x).flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	sess_close(g.ctx, g.w, &x);

	/* a flow session has one direction: its window alone is the bound */
	sess_open(&x, F, UDP);
	sess_spec(g.ctx, g.w, &x, ">0123456789ab");
	assert_true(sess_ready(g.ctx, &x));
	sess_close(g.ctx, g.w, &x);
	rig_close(&g);
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
