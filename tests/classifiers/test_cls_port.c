/* test_cls_port.c — unit tests for the port classifier (classifiers/dissectors/cls_port.c): wildcards, the
 * source-column form, pair precedence over single ports (and reversed pairs), ranges and
 * narrower-beats-wider, protocol-specific over "any", dport before sport with the dynamic-range
 * exception, `ip` protocol rules (ICMP, ICMPv6, SCTP fallback), host sessions, table errors named
 * by file:line, a failed reload keeping the old table, and the shipped config/ports.txt against
 * the well-known ports of config/tide_apps.txt.
 *
 * Synthetic tables are written to a mkdtemp directory with a small application table of their
 * own; the shipped files are found through TIDE_SOURCE_ROOT (set by meson test) or by walking up
 * from the working directory, and those tests are skipped when neither finds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cls_engine.h"
#include "cls_apps.h"
#include "cls_plugin.h"

extern const struct cls_plugin cls_plugin_port;
#define PLUG (&cls_plugin_port)

static char tmp_dir[64];

#define CLS_TESTLIB_CAPTURE
#include "cls_testlib.h"
static char src_root[PATH_MAX]; /* "" when the shipped config was not found */
static struct cls_apps *apps;   /* the small table below */

static const char apps_txt[] = "0 0 unknown unknown\n"
			       "1 0 DNS infrastructure\n"
			       "2 0 HTTP web\n"
			       "5 0 SSH remote-access\n"
			       "9 0 FTP file-transfer\n"
			       "9 1 FTP/data file-transfer\n"
			       "11 0 DHCP infrastructure\n"
			       "16 0 BitTorrent p2p\n"
			       "38 0 ICMP infrastructure\n"
			       "38 1 ICMPv6 infrastructure\n"
			       "41 0 SCTP transport\n"
			       "45 0 IRC chat\n";

/* ---- helpers ---- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}




/* Enables the plugin on a table given as text; returns load_signatures()' result. */
static int
load_table(void **ctx, const struct cls_apps *a, const char *text)
{
	char path[PATH_MAX];
	struct cls_config cfg = { .config_dir = NULL, .apps = a, .options = "", .log = cls_host_log };

	snprintf(path, sizeof(path), "%s/ports.txt", tmp_dir);
	write_file(path, text);
	assert_int_equal(PLUG->enable(ctx, &cfg), 0);
	return PLUG->load_signatures(*ctx, path);
}

static void *
table(const char *text)
{
	void *ctx = NULL;

	assert_int_equal(load_table(&ctx, apps, text), 0);
	return ctx;
}

static struct cls_result
classify(void *ctx, uint8_t type, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct cls_session s;
	struct cls_result r;

	memset(&s, 0, sizeof(s));
	memset(&r, 0xa5, sizeof(r));
	s.type = type;
	s.key.proto = proto;
	s.key.sport = sport;
	s.key.dport = dport;
	s.key.family = 4;
	s.pkts[0] = 1;
	assert_true(PLUG->is_session_classifiable(ctx, NULL, &s));
	PLUG->classify_session(ctx, NULL, &s, &r);
	assert_string_equal(r.label, "");
	return r;
}

/* "<name> <confidence>" of a biflow session, e.g. "HTTP 50", "unknown 0". */
static const char *
what(void *ctx, uint8_t proto, uint16_t sport, uint16_t dport)
{
	static char buf[96];
	struct cls_result r = classify(ctx, CLS_SESSION_BIFLOW, proto, sport, dport);

	snprintf(buf, sizeof(buf), "%s %u", cls_apps_name(apps, r.app_id, r.sub_id), r.confidence);
	if (r.app_id == 0)
		assert_int_equal(r.flags, CLS_RES_FINAL | CLS_RES_GAVE_UP);
	else
		assert_int_equal(r.flags, CLS_RES_FINAL);
	return buf;
}

/* ---- behaviour ---- */

static void
test_wildcard_and_reply(void **state)
{
	void *ctx = table("# a comment\n\ntcp 0 80 HTTP   # trailing comment\n");

	(void)state;
	assert_int_equal(PLUG->state_size, 0);
	assert_string_equal(what(ctx, 6, 40000, 80), "HTTP 50");
	assert_string_equal(what(ctx, 6, 80, 40000), "HTTP 50"); /* reply direction */
	assert_string_equal(what(ctx, 6, 40000, 81), "unknown 0");
	assert_string_equal(what(ctx, 17, 40000, 80), "unknown 0"); /* tcp only */
	/* a flow session seen from the server side matches too */
	struct cls_result r = classify(ctx, CLS_SESSION_FLOW, 6, 80, 51515);
	assert_string_equal(cls_apps_name(apps, r.app_id, r.sub_id), "HTTP");
	PLUG->disable(ctx);
}

static void
test_src_column_and_sub(void **state)
{
	void *ctx = table("tcp 20 0 FTP/data 45\ntcp 0 21 FTP\n");

	(void)state;
	assert_string_equal(what(ctx, 6, 20, 40000), "FTP/data 45");
	assert_string_equal(what(ctx, 6, 40000, 20), "FTP/data 45");
	assert_string_equal(what(ctx, 6, 40000, 21), "FTP 50");
	struct cls_result r = classify(ctx, CLS_SESSION_BIFLOW, 6, 20, 40000);
	assert_int_equal(r.app_id, 9);
	assert_int_equal(r.sub_id, 1);
	PLUG->disable(ctx);
}

static void
test_pair_precedence(void **state)
{
	/* the pair is listed last and still wins over both single ports */
	void *ctx = table("udp 0 67 DHCP\nudp 0 68 DHCP 40\nudp 68 67 SSH 90\n");

	(void)state;
	assert_string_equal(what(ctx, 17, 68, 67), "SSH 90");
	assert_string_equal(what(ctx, 17, 67, 68), "SSH 90"); /* reversed pair: the reply */
	assert_string_equal(what(ctx, 17, 1000, 67), "DHCP 50");
	assert_string_equal(what(ctx, 17, 68, 1000), "DHCP 40");
	assert_string_equal(what(ctx, 6, 68, 67), "unknown 0"); /* udp pair, tcp session */
	PLUG->disable(ctx);

	/* a pair beats a single port even when the single port is on dport */
	ctx = table("tcp 0 80 HTTP\ntcp 5000 80 SSH 70\n");
	assert_string_equal(what(ctx, 6, 5000, 80), "SSH 70");
	assert_string_equal(what(ctx, 6, 5001, 80), "HTTP 50");
	PLUG->disable(ctx);
}

static void
test_pair_ranges(void **state)
{
	void *ctx = table("tcp 1000-1003 2000-2001 IRC\n");

	(void)state;
	for (uint16_t s = 1000; s <= 1003; s++)
		for (uint16_t d = 2000; d <= 2001; d++) {
			assert_string_equal(what(ctx, 6, s, d), "IRC 50");
			assert_string_equal(what(ctx, 6, d, s), "IRC 50");
		}
	assert_string_equal(what(ctx, 6, 1004, 2000), "unknown 0");
	assert_string_equal(what(ctx, 6, 1000, 2002), "unknown 0");
	PLUG->disable(ctx);
}

static void
test_ranges(void **state)
{
	void *ctx = table("any 0 6881-6889 BitTorrent 40\n");

	(void)state;
	assert_string_equal(what(ctx, 6, 40000, 6881), "BitTorrent 40");
	assert_string_equal(what(ctx, 17, 40000, 6885), "BitTorrent 40");
	assert_string_equal(what(ctx, 132, 6889, 40000), "BitTorrent 40");
	assert_string_equal(what(ctx, 6, 40000, 6880), "unknown 0");
	assert_string_equal(what(ctx, 6, 40000, 6890), "unknown 0");
	PLUG->disable(ctx);

	/* narrower beats wider, whichever comes first in the file */
	static const char *const orders[] = { "tcp 0 6660-6669 IRC 40\ntcp 0 6667 SSH\n",
		"tcp 0 6667 SSH\ntcp 0 6660-6669 IRC 40\n" };
	for (int i = 0; i < 2; i++) {
		ctx = table(orders[i]);
		assert_string_equal(what(ctx, 6, 40000, 6667), "SSH 50");
		assert_string_equal(what(ctx, 6, 40000, 6666), "IRC 40");
		assert_string_equal(what(ctx, 6, 40000, 6669), "IRC 40");
		PLUG->disable(ctx);
	}
}

static void
test_specific_proto_beats_any(void **state)
{
	static const char *const orders[] = { "any 0 53 DNS\ntcp 0 53 SSH 30\n",
		"tcp 0 53 SSH 30\nany 0 53 DNS\n" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		void *ctx = table(orders[i]);

		assert_string_equal(what(ctx, 6, 40000, 53), "SSH 30");
		assert_string_equal(what(ctx, 17, 40000, 53), "DNS 50");
		assert_string_equal(what(ctx, 132, 40000, 53), "DNS 50");
		PLUG->disable(ctx);
	}
}

static void
test_dst_before_src(void **state)
{
	void *ctx = table("tcp 0 80 HTTP\ntcp 0 22 SSH\ntcp 0 50000 IRC\n");

	(void)state;
	assert_string_equal(what(ctx, 6, 22, 80), "HTTP 50");
	assert_string_equal(what(ctx, 6, 80, 22), "SSH 50");
	/* a dport in the dynamic range is the client's ephemeral port when sport also hits */
	assert_string_equal(what(ctx, 6, 80, 50000), "HTTP 50");
	assert_string_equal(what(ctx, 6, 50000, 80), "HTTP 50");
	assert_string_equal(what(ctx, 6, 40000, 50000), "IRC 50");
	assert_string_equal(what(ctx, 6, 50000, 40000), "IRC 50");
	assert_string_equal(what(ctx, 6, 60000, 50000), "IRC 50"); /* both dynamic: dport */
	PLUG->disable(ctx);
}

static void
test_ip_rules(void **state)
{
	void *ctx = table("ip 1 ICMP\nip 58 ICMP/ICMPv6 100\nip 132 SCTP 60\n"
			  "sctp 0 5060 DNS 55\n");

	(void)state;
	assert_string_equal(what(ctx, 1, 0, 0), "ICMP 100");
	assert_string_equal(what(ctx, 1, 8, 0), "ICMP 100"); /* whatever the key holds */
	assert_string_equal(what(ctx, 58, 0, 0), "ICMPv6 100");
	struct cls_result r = classify(ctx, CLS_SESSION_FLOW, 58, 0, 0);
	assert_int_equal(r.app_id, 38);
	assert_int_equal(r.sub_id, 1);
	assert_string_equal(what(ctx, 132, 40000, 5060), "DNS 55"); /* the port rule first */
	assert_string_equal(what(ctx, 132, 40000, 2905), "SCTP 60"); /* then the protocol */
	assert_string_equal(what(ctx, 47, 0, 0), "unknown 0");
	assert_string_equal(what(ctx, 6, 40000, 2905), "unknown 0");
	PLUG->disable(ctx);
}

static void
test_host_session(void **state)
{
	void *ctx = table("tcp 0 80 HTTP\nip 1 ICMP\n");
	struct cls_result r;

	(void)state;
	r = classify(ctx, CLS_SESSION_HOST, 0, 0, 0);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.confidence, 0);
	assert_int_equal(r.flags, CLS_RES_FINAL | CLS_RES_GAVE_UP);
	r = classify(ctx, CLS_SESSION_HOST, 6, 0, 80); /* even if a key were filled in */
	assert_int_equal(r.app_id, 0);
	PLUG->disable(ctx);
}

static void
test_no_table(void **state)
{
	struct cls_config cfg = { .config_dir = NULL, .apps = apps, .options = "", .log = cls_host_log };
	void *ctx = NULL;
	struct cls_result r;

	(void)state;
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	r = classify(ctx, CLS_SESSION_BIFLOW, 6, 1, 80);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.flags, CLS_RES_FINAL | CLS_RES_GAVE_UP);
	assert_int_equal(PLUG->load_signatures(ctx, NULL), -EINVAL); /* no default file */
	PLUG->disable(ctx);
	cfg.apps = NULL;
	assert_int_equal(PLUG->enable(&ctx, &cfg), -EINVAL);
}

/* ---- errors ---- */

struct bad_table {
	const char *text;
	unsigned int line;
	const char *why;
};

static const struct bad_table bad_tables[] = {
	{ "tcp 0 80 HTTP\nicmp 0 80 HTTP\n", 2, "unknown protocol 'icmp'" },
	{ "tcp 0 70000 HTTP\n", 1, "port must be" },
	{ "tcp 0 8x HTTP\n", 1, "port must be" },
	{ "tcp 0 -80 HTTP\n", 1, "range must be" },
	{ "tcp 0 90-80 HTTP\n", 1, "range must be" },
	{ "tcp 0 0-80 HTTP\n", 1, "range must be" },
	{ "tcp 0 0 HTTP\n", 1, "both ports are wildcards" },
	{ "\n\ntcp 0 80 Gopher\n", 3, "unknown application 'Gopher'" },
	{ "tcp 0 20 FTP/passive\n", 1, "unknown sub-application 'FTP/passive'" },
	{ "tcp 0 80 HTTP 0\n", 1, "confidence must be 1-100" },
	{ "tcp 0 80 HTTP 101\n", 1, "confidence must be 1-100" },
	{ "tcp 0 80 HTTP high\n", 1, "confidence must be 1-100" },
	{ "tcp 0 80\n", 1, "expected '<tcp|udp|sctp|any>" },
	{ "tcp 0 80 HTTP 50 extra\n", 1, "expected '<tcp|udp|sctp|any>" },
	{ "tcp 0 80 HTTP 50 extra more\n", 1, "too many fields" },
	{ "tcp 0 80 HTTP\n# x\ntcp 80 0 SSH\n", 3, "tcp port 80 conflicts with line 1" },
	{ "any 0 53 DNS\nany 0 50-60 HTTP\nany 0 53 SSH\n", 3, "conflicts with line 1" },
	{ "udp 68 67 DHCP\nudp 68 67 SSH\n", 2, "pair conflicts with line 1" },
	{ "udp 68 67 DHCP\nudp 67 68 DHCP\nudp 68 67 SSH\n", 3, "pair conflicts with line 1" },
	{ "tcp 1-100 1-100 HTTP\n", 1, "more than 4096 pairs" },
	{ "ip 1 ICMP\nip 1 SSH\n", 2, "IP protocol 1 already has a rule at line 1" },
	{ "ip 256 ICMP\n", 1, "IP protocol must be 1-255" },
	{ "ip 1\n", 1, "expected 'ip <protocol>" },
	{ "ip 1 Nothing\n", 1, "unknown application 'Nothing'" },
	{ "ip 1 ICMP 200\n", 1, "confidence must be 1-100" },
};

static void
test_table_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_tables) / sizeof(bad_tables[0]); i++) {
		const struct bad_table *b = &bad_tables[i];
		void *ctx = NULL;
		char want[PATH_MAX + 32];
		const char *err;
		int rc;

		capture_begin();
		rc = load_table(&ctx, apps, b->text);
		err = capture_end();
		snprintf(want, sizeof(want), "%s/ports.txt:%u: ", tmp_dir, b->line);
		if (rc != -EINVAL || !strstr(err, want) || !strstr(err, b->why))
			fail_msg("table %zu: rc %d, stderr '%s', want '%s' and '%s'", i, rc, err,
				want, b->why);
		PLUG->disable(ctx);
	}
}

static void
test_long_line(void **state)
{
	char text[1024];
	void *ctx = NULL;
	const char *err;

	(void)state;
	memset(text, ' ', sizeof(text));
	memcpy(text, "tcp 0 80 HTTP", 13);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	capture_begin();
	assert_int_equal(load_table(&ctx, apps, text), -EINVAL);
	err = capture_end();
	assert_non_null(strstr(err, "ports.txt:1: line longer than"));
	PLUG->disable(ctx);
}

static void
test_failed_reload_keeps_table(void **state)
{
	void *ctx = table("tcp 0 80 HTTP\n");
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.txt", tmp_dir);
	write_file(path, "tcp 0 22 SSH\ntcp 0 22 DNS\n");
	capture_begin();
	assert_int_equal(PLUG->load_signatures(ctx, path), -EINVAL);
	assert_non_null(strstr(capture_end(), "bad.txt:2:"));
	assert_string_equal(what(ctx, 6, 40000, 80), "HTTP 50");
	assert_string_equal(what(ctx, 6, 40000, 22), "unknown 0");

	snprintf(path, sizeof(path), "%s/missing.txt", tmp_dir);
	capture_begin();
	assert_int_equal(PLUG->load_signatures(ctx, path), -ENOENT);
	assert_non_null(strstr(capture_end(), "missing.txt"));

	snprintf(path, sizeof(path), "%s/good.txt", tmp_dir);
	write_file(path, "tcp 0 22 SSH\n");
	assert_int_equal(PLUG->load_signatures(ctx, path), 0);
	assert_string_equal(what(ctx, 6, 40000, 22), "SSH 50");
	assert_string_equal(what(ctx, 6, 40000, 80), "unknown 0");
	PLUG->disable(ctx);
}

static void
test_enable_paths_and_options(void **state)
{
	char dir[256], path[PATH_MAX], opt[PATH_MAX + 8];
	struct cls_config cfg = { .apps = apps, .options = "", .log = cls_host_log };
	void *ctx = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/conf", tmp_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	cfg.config_dir = dir;
	/* enable() only remembers where the table is; load_signatures(NULL) reads it */
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	assert_string_equal(what(ctx, 6, 1, 22), "unknown 0");
	capture_begin();
	assert_int_equal(PLUG->load_signatures(ctx, NULL), -ENOENT); /* conf/ports.txt missing */
	assert_non_null(strstr(capture_end(), "conf/ports.txt"));
	snprintf(path, sizeof(path), "%s/ports.txt", dir);
	write_file(path, "tcp 0 22 SSH\n");
	assert_int_equal(PLUG->load_signatures(ctx, NULL), 0);
	assert_string_equal(what(ctx, 6, 1, 22), "SSH 50");
	PLUG->disable(ctx);

	/* the "file" option (the engine also hands its value to load_signatures()) */
	snprintf(path, sizeof(path), "%s/other.txt", tmp_dir);
	write_file(path, "tcp 0 80 HTTP\n");
	snprintf(opt, sizeof(opt), "file=%s", path);
	cfg.options = opt;
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	assert_int_equal(PLUG->load_signatures(ctx, NULL), 0);
	assert_string_equal(what(ctx, 6, 1, 80), "HTTP 50");
	assert_int_equal(PLUG->load_signatures(ctx, path), 0);
	assert_string_equal(what(ctx, 6, 1, 80), "HTTP 50");
	assert_string_equal(what(ctx, 6, 1, 22), "unknown 0");
	PLUG->disable(ctx);

	cfg.options = "colour=blue";
	capture_begin();
	assert_int_equal(PLUG->enable(&ctx, &cfg), -EINVAL);
	assert_non_null(strstr(capture_end(), "unknown option 'colour=blue'"));
}

static void
test_dump_statistics(void **state)
{
	void *ctx = table("tcp 0 80 HTTP\nudp 68 67 DHCP\nany 0 53 DNS\nip 1 ICMP\n");
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(PLUG->dump_statistics(ctx, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "4 rules (2 single-port, 1 pair, 1 ip)"));
	PLUG->disable(ctx);
}

/* ---- the shipped table ---- */

struct known_port {
	uint8_t proto;
	uint16_t port;
	const char *app; /* as cls_apps_name() prints it */
};

/* The well-known ports IANA and the protocols' RFCs give for every application of tide_apps.txt that has
 * one (RTP, DoH and the TLS/QUIC sub-applications have none of their own). */
static const struct known_port known_ports[] = {
	{ 17, 53, "DNS" }, { 6, 53, "DNS" }, { 6, 853, "DNS/DoT" }, { 6, 80, "HTTP" },
	{ 6, 8080, "HTTP" }, { 6, 443, "TLS" }, { 6, 8443, "TLS" }, { 17, 443, "QUIC" },
	{ 6, 22, "SSH" }, { 6, 25, "SMTP" }, { 6, 587, "Submission" }, { 6, 465, "Submission" },
	{ 6, 143, "IMAP" }, { 6, 993, "IMAPS" }, { 6, 110, "POP3" }, { 6, 995, "POP3S" },
	{ 6, 21, "FTP" }, { 6, 20, "FTP/data" }, { 17, 123, "NTP" }, { 17, 67, "DHCP" },
	{ 17, 68, "DHCP" }, { 17, 546, "DHCPv6" }, { 17, 547, "DHCPv6" },
	{ 17, 161, "SNMP" }, { 17, 162, "SNMP" }, { 17, 5060, "SIP" }, { 6, 5060, "SIP" },
	{ 6, 5061, "SIP" }, { 6, 554, "RTSP" }, { 6, 6881, "BitTorrent" },
	{ 17, 6889, "BitTorrent" }, { 6, 445, "SMB" }, { 17, 137, "NetBIOS" },
	{ 17, 138, "NetBIOS" }, { 6, 139, "NetBIOS" }, { 17, 88, "Kerberos" },
	{ 6, 88, "Kerberos" }, { 6, 389, "LDAP" }, { 6, 636, "LDAP" }, { 6, 3389, "RDP" },
	{ 6, 1883, "MQTT" }, { 6, 8883, "MQTT" }, { 17, 5683, "CoAP" }, { 6, 502, "Modbus" },
	{ 6, 20000, "DNP3" }, { 17, 47808, "BACnet" }, { 17, 3478, "STUN" },
	{ 17, 51820, "WireGuard" }, { 17, 1194, "OpenVPN" }, { 6, 1194, "OpenVPN" },
	{ 17, 514, "Syslog" }, { 17, 5353, "mDNS" }, { 17, 1900, "SSDP" }, { 17, 69, "TFTP" },
	{ 6, 3306, "MySQL" }, { 6, 5432, "PostgreSQL" }, { 6, 1433, "MS-SQL" },
	{ 6, 23, "Telnet" }, { 6, 6379, "Redis" }, { 17, 11211, "Memcached" },
	{ 6, 11211, "Memcached" }, { 6, 5900, "VNC" }, { 6, 6667, "IRC" }, { 6, 5222, "XMPP" },
	{ 6, 2049, "NFS" }, { 17, 2049, "NFS" }, { 17, 5355, "LLMNR" }, { 17, 2055, "NetFlow" },
	{ 17, 1812, "RADIUS" }, { 17, 1813, "RADIUS" }, { 6, 9418, "Git" }, { 6, 873, "RSYNC" },
	{ 6, 27017, "MongoDB" }, { 6, 5672, "AMQP" }, { 6, 9200, "Elasticsearch" },
	{ 6, 3128, "HTTP-Proxy" }, { 17, 500, "IPsec" }, { 17, 4500, "IPsec" },
};

static void
test_shipped_table(void **state)
{
	char apps_path[PATH_MAX + 32], err[256];
	struct cls_apps *real;
	struct cls_config cfg = { .options = "", .log = cls_host_log };
	char cfg_dir[PATH_MAX + 16];
	void *ctx = NULL;

	(void)state;
	if (!src_root[0])
		skip();
	snprintf(cfg_dir, sizeof(cfg_dir), "%s/config", src_root);
	snprintf(apps_path, sizeof(apps_path), "%s/tide_apps.txt", cfg_dir);
	real = cls_apps_load(apps_path, err, sizeof(err));
	assert_non_null(real);
	cfg.apps = real;
	cfg.config_dir = cfg_dir;
	assert_int_equal(PLUG->enable(&ctx, &cfg), 0);
	assert_int_equal(PLUG->load_signatures(ctx, NULL), 0);

	for (size_t i = 0; i < sizeof(known_ports) / sizeof(known_ports[0]); i++) {
		const struct known_port *k = &known_ports[i];
		/* client side ephemeral, then the reply direction */
		struct cls_result a = classify(ctx, CLS_SESSION_BIFLOW, k->proto, 40000, k->port);
		struct cls_result b = classify(ctx, CLS_SESSION_FLOW, k->proto, k->port, 55555);
		const char *na = cls_apps_name(real, a.app_id, a.sub_id);
		const char *nb = cls_apps_name(real, b.app_id, b.sub_id);

		if (strcmp(na, k->app) || strcmp(nb, k->app) || a.confidence < 30 ||
			a.confidence > 70)
			fail_msg("proto %u port %u: got %s/%s (%u), want %s", k->proto, k->port, na,
				nb, a.confidence, k->app);
	}
	/* protocol numbers */
	static const struct {
		uint8_t proto;
		const char *app;
		uint8_t conf;
	} by_ip[] = { { 1, "ICMP", 100 }, { 58, "ICMPv6", 100 }, { 47, "GRE", 100 },
		{ 50, "IPsec", 100 }, { 51, "IPsec", 100 }, { 132, "SCTP", 60 } };
	for (size_t i = 0; i < sizeof(by_ip) / sizeof(by_ip[0]); i++) {
		struct cls_result r = classify(ctx, CLS_SESSION_BIFLOW, by_ip[i].proto, 0, 0);

		assert_string_equal(cls_apps_name(real, r.app_id, r.sub_id), by_ip[i].app);
		assert_int_equal(r.confidence, by_ip[i].conf);
	}
	/* the pair beats the single ports; SCTP with a port rule uses the port */
	struct cls_result r = classify(ctx, CLS_SESSION_BIFLOW, 17, 68, 67);
	assert_int_equal(r.confidence, 70);
	r = classify(ctx, CLS_SESSION_BIFLOW, 132, 40000, 5060);
	assert_string_equal(cls_apps_name(real, r.app_id, r.sub_id), "SIP");
	/* tcp 514 is rsh, not syslog */
	r = classify(ctx, CLS_SESSION_BIFLOW, 6, 40000, 514);
	assert_int_equal(r.app_id, 0);
	PLUG->disable(ctx);
	cls_apps_free(real);
}

/* ---- set-up ---- */

static int
find_src_root(void)
{
	char dir[PATH_MAX], probe[PATH_MAX + 64];
	const char *env = getenv("TIDE_SOURCE_ROOT"); /* set by meson test */

	if (env && strlen(env) < sizeof(src_root)) {
		snprintf(probe, sizeof(probe), "%s/config/ports.txt", env);
		if (access(probe, R_OK) == 0) {
			snprintf(src_root, sizeof(src_root), "%s", env);
			return 1;
		}
	}
	/* else the build directory is usually inside the source tree: walk up a few levels */
	if (!getcwd(dir, sizeof(dir)))
		return 0;
	for (int up = 0; up < 6; up++) {
		snprintf(probe, sizeof(probe), "%s/config/ports.txt", dir);
		if (access(probe, R_OK) == 0) {
			snprintf(probe, sizeof(probe), "%s/classifiers/engine/cls_plugin.h", dir);
			if (access(probe, R_OK) == 0) {
				snprintf(src_root, sizeof(src_root), "%s", dir);
				return 1;
			}
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	return 0;
}

static int
setup(void **state)
{
	char path[PATH_MAX], err[256];

	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_cls_port.XXXXXX");
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
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	cls_apps_free(apps);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard_and_reply),
		cmocka_unit_test(test_src_column_and_sub),
		cmocka_unit_test(test_pair_precedence),
		cmocka_unit_test(test_pair_ranges),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_specific_proto_beats_any),
		cmocka_unit_test(test_dst_before_src),
		cmocka_unit_test(test_ip_rules),
		cmocka_unit_test(test_host_session),
		cmocka_unit_test(test_no_table),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_failed_reload_keeps_table),
		cmocka_unit_test(test_enable_paths_and_options),
		cmocka_unit_test(test_dump_statistics),
		cmocka_unit_test(test_shipped_table),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
