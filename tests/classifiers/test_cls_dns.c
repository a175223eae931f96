/* test_cls_dns.c — unit tests for the DNS dissector (cls_dns.c): queries and responses with
 * compression, every truncation and byte corruption, header-sanity and name-walk rejections
 * (pointer loops, forward pointers, extended labels, 256-byte names), the mDNS/LLMNR relaxed
 * rules, DNS over TCP with a length prefix sent alone, and the plugin path with the real
 * config/tide_apps.txt (DNS, mDNS by 224.0.0.251, LLMNR by ff02::1:3, giving up on non-DNS);
 * NetBIOS name service messages (RFC 1002), which share the format, as NetBIOS and never DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define CLS_TESTLIB_APPS
#define CLS_TESTLIB_PLUGIN cls_plugin_dns
#include "cls_testlib.h"

/* www.Example.COM A IN, RD, with an EDNS OPT record (udp 1232), as dig sends it */
static const uint8_t query[] = {
	0xab, 0xcd, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x03, 'w', 'w', 'w', 0x07, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'C', 'O', 'M', 0x00,
	0x00, 0x01, 0x00, 0x01,
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
#define QUESTION_END (12 + 17 + 4)

/* its answer: a CNAME and an A, names compressed against the question */
static const uint8_t response[] = {
	0xab, 0xcd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x06,
	0x03, 'c', 'd', 'n', 0xc0, 0x10,
	0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04,
	192, 0, 2, 1,
};

/* mDNS: an answer-only response (QDCOUNT 0) announcing printer._ipp._tcp.local, cache flush */
static const uint8_t mdns_announce[] = {
	0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x07, 'P', 'r', 'i', 'n', 't', 'e', 'r', 0x04, '_', 'i', 'p', 'p', 0x04, '_', 't', 'c', 'p',
	0x05, 'l', 'o', 'c', 'a', 'l', 0x00,
	0x00, 0x10, 0x80, 0x01, 0x00, 0x00, 0x11, 0x94, 0x00, 0x01, 0x00,
};

/* ------------------------------------------------------------------ helpers */

static struct cls_apps *apps;


static int
parse(const uint8_t *p, size_t n, unsigned int flags, struct cls_dns_msg *m)
{
	uint8_t *q = dup_exact(p, n);
	int r = cls_dns_parse_query(q, n, flags, m);

	free(q);
	return r;
}

/* ------------------------------------------------------------------ parser */

static void
test_query_and_response(void **unused)
{
	struct cls_dns_msg m;

	(void)unused;
	assert_int_equal(parse(query, sizeof(query), 0, &m), 1);
	assert_false(m.response);
	assert_true(m.complete);
	assert_int_equal(m.id, 0xabcd);
	assert_int_equal(m.qtype, 1);
	assert_int_equal(m.qclass, 1);
	assert_string_equal(m.name, "www.example.com");
	assert_int_equal(m.name_len, 15);

	assert_int_equal(parse(response, sizeof(response), 0, &m), 1);
	assert_true(m.response);
	assert_true(m.complete);
	assert_int_equal(m.ancount, 2);
	assert_string_equal(m.name, "www.example.com");

	/* trailing garbage: still DNS, not complete */
	uint8_t more[sizeof(query) + 3];

	memcpy(more, query, sizeof(query));
	memset(more + sizeof(query), 0xee, 3);
	assert_int_equal(parse(more, sizeof(more), 0, &m), 1);
	assert_false(m.complete);
}

static void
test_every_truncation(void **unused)
{
	struct cls_dns_msg m;

	(void)unused;
	for (size_t k = 0; k < sizeof(query); k++) {
		int r = parse(query, k, 0, &m);

		assert_int_equal(r, k < QUESTION_END ? 0 : 1);
		if (r == 1) {
			assert_false(m.complete);
			assert_string_equal(m.name, "www.example.com");
		}
	}
	for (size_t k = QUESTION_END; k < sizeof(response); k++) {
		assert_int_equal(parse(response, k, 0, &m), 1);
		assert_false(m.complete);
	}
}

static void
test_every_corruption(void **unused)
{
	struct cls_dns_msg m;
	uint8_t p[sizeof(response)];

	(void)unused;
	memcpy(p, response, sizeof(p));
	for (size_t i = 0; i < sizeof(p); i++) {
		static const uint8_t vals[] = {0x00, 0xff, 0xc0, 0x3f, 0x40};
		uint8_t keep = p[i];

		for (size_t v = 0; v < sizeof(vals); v++) {
			p[i] = vals[v];
			for (unsigned int f = 0; f < 2; f++) {
				int r = parse(p, sizeof(p), f, &m);

				assert_true(r >= -1 && r <= 1);
				if (r == 1)
					assert_true(strlen(m.name) == m.name_len && m.name_len < 256);
			}
		}
		p[i] = keep;
	}
}

static void
test_malformed(void **unused)
{
	struct cls_dns_msg m;
	uint8_t p[600];

	(void)unused;
	memcpy(p, query, sizeof(query));
	p[2] = 0x19; /* opcode 3: unassigned */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	memcpy(p, query, sizeof(query));
	p[5] = 0; /* no question */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	p[5] = 5; /* five questions */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	memcpy(p, query, sizeof(query));
	p[7] = 1; /* a query with an answer */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	memcpy(p, query, sizeof(query));
	p[3] = 0x22; /* a query with RCODE 2 */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	memcpy(p, query, sizeof(query));
	p[32] = 7; /* class 7 */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);
	memcpy(p, query, sizeof(query));
	p[30] = 0; /* qtype 0 */
	assert_int_equal(parse(p, sizeof(query), 0, &m), -1);

	/* a name that is a pointer to itself, a forward pointer, an extended label type */
	static const uint8_t self[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1};
	static const uint8_t fwd[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x10, 0, 1, 0, 1,
		1, 'a', 0};
	static const uint8_t ext[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 1, 0, 1};

	assert_int_equal(parse(self, sizeof(self), 0, &m), -1);
	assert_int_equal(parse(fwd, sizeof(fwd), 0, &m), -1);
	assert_int_equal(parse(ext, sizeof(ext), 0, &m), -1);

	/* a response whose answer name loops: c0 21 at 33 → 33 */
	uint8_t loop[sizeof(response)];

	memcpy(loop, response, sizeof(loop));
	loop[QUESTION_END] = 0xc0;
	loop[QUESTION_END + 1] = QUESTION_END;
	assert_int_equal(parse(loop, sizeof(loop), 0, &m), -1);

	/* 256-byte name: five 50-byte labels */
	size_t o = 12;

	memcpy(p, query, 12);
	p[11] = 0;
	for (int l = 0; l < 5; l++) {
		p[o++] = 50;
		memset(p + o, 'a', 50);
		o += 50;
	}
	p[o++] = 0;
	memcpy(p + o, "\x00\x01\x00\x01", 4);
	o += 4;
	assert_int_equal(parse(p, o, 0, &m), -1);
	/* 255 wire bytes is fine: 4x 61-byte labels + one of 5 */
	o = 12;
	for (int l = 0; l < 5; l++) {
		uint8_t n = l < 4 ? 61 : 5;

		p[o++] = n;
		memset(p + o, 'b', n);
		o += n;
	}
	p[o++] = 0;
	memcpy(p + o, "\x00\x01\x00\x01", 4);
	o += 4;
	assert_int_equal(parse(p, o, 0, &m), 1);
	assert_int_equal(m.name_len, 4 * 62 + 5);

	/* the root, and odd bytes in a label */
	static const uint8_t root[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1};
	static const uint8_t odd[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 0x07, 0, 0,
		1, 0, 1};

	assert_int_equal(parse(root, sizeof(root), 0, &m), 1);
	assert_string_equal(m.name, ".");
	assert_int_equal(parse(odd, sizeof(odd), 0, &m), 1);
	assert_string_equal(m.name, "a??");
}

static void
test_multicast_rules(void **unused)
{
	struct cls_dns_msg m;
	uint8_t p[200];

	(void)unused;
	assert_int_equal(parse(mdns_announce, sizeof(mdns_announce), CLS_DNS_F_MULTICAST, &m), 1);
	assert_true(m.complete);
	assert_string_equal(m.name, "printer._ipp._tcp.local");
	assert_int_equal(m.qtype, 16);
	/* unicast DNS rules reject it: no question, class with the top bit */
	assert_int_equal(parse(mdns_announce, sizeof(mdns_announce), 0, &m), -1);

	/* an mDNS query for 6 services, QU bit, with a known answer */
	size_t o = 12;

	memset(p, 0, 12);
	p[5] = 6;
	p[7] = 1;
	for (int q = 0; q < 6; q++) {
		memcpy(p + o, "\x01s\x05local\x00\x00\x0c\x80\x01", 13);
		o += 13;
	}
	memcpy(p + o, "\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\x78\x00\x02\xc0\x0c", 14);
	o += 14;
	assert_int_equal(parse(p, o, CLS_DNS_F_MULTICAST, &m), 1);
	assert_true(m.complete);
	assert_string_equal(m.name, "s.local");
	assert_int_equal(parse(p, o, 0, &m), -1);
}

static void
test_tcp(void **unused)
{
	struct cls_dns_msg m;
	uint8_t p[2 + sizeof(query)];

	(void)unused;
	p[0] = 0;
	p[1] = sizeof(query);
	memcpy(p + 2, query, sizeof(query));
	assert_int_equal(cls_dns_parse_tcp(p, sizeof(p), 0, &m), 1);
	assert_true(m.complete);
	assert_string_equal(m.name, "www.example.com");
	assert_int_equal(cls_dns_parse_tcp(p, 1, 0, &m), 0);
	assert_int_equal(cls_dns_parse_tcp(p, 20, 0, &m), 0);
	assert_int_equal(cls_dns_parse_tcp(p, QUESTION_END + 2, 0, &m), 1);
	assert_false(m.complete);
	p[1] = 20; /* the length ends inside the question */
	assert_int_equal(cls_dns_parse_tcp(p, sizeof(p), 0, &m), -1);
	p[1] = 5; /* shorter than a header */
	assert_int_equal(cls_dns_parse_tcp(p, sizeof(p), 0, &m), -1);
}

/* ------------------------------------------------------------------ NetBIOS name service */

/* RFC 1002 messages for "FRED<20>" from 192.168.1.7 (tshark: NBNS name query, registration,
 * release, node-status query for "*", positive query response) */
static const uint8_t nb_query[] = {
	0x8a, 0x1b, 0x01, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x45, 0x47, 0x46, 0x43, 0x45, 0x46, 0x45, 0x45, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x00, 0x00, 0x20,
	0x00, 0x01,
};
static const uint8_t nb_register[] = {
	0x8a, 0x1c, 0x29, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x45, 0x47, 0x46, 0x43, 0x45, 0x46, 0x45, 0x45, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x00, 0x00, 0x20,
	0x00, 0x01, 0xc0, 0x0c, 0x00, 0x20, 0x00, 0x01, 0x00, 0x04, 0x93, 0xe0,
	0x00, 0x06, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x07,
};
static const uint8_t nb_release[] = {
	0x8a, 0x1d, 0x30, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x45, 0x47, 0x46, 0x43, 0x45, 0x46, 0x45, 0x45, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x00, 0x00, 0x20,
	0x00, 0x01, 0xc0, 0x0c, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x06, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x07,
};
static const uint8_t nb_nbstat[] = {
	0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x43, 0x4b, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
	0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
	0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x00, 0x00, 0x21,
	0x00, 0x01,
};
static const uint8_t nb_response[] = {
	0x8a, 0x1b, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x45, 0x47, 0x46, 0x43, 0x45, 0x46, 0x45, 0x45, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43,
	0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x43, 0x41, 0x00, 0x00, 0x20,
	0x00, 0x01, 0x00, 0x04, 0x93, 0xe0, 0x00, 0x06, 0x00, 0x00, 0xc0, 0xa8,
	0x01, 0x07,
};


static void
test_nbns_parse(void **unused)
{
	static const struct {
		const uint8_t *p;
		size_t n;
		uint8_t opcode, resp;
		uint16_t qtype;
		const char *name;
	} ok[] = {
		{nb_query, sizeof(nb_query), 0, 0, 0x20, "FRED"},
		{nb_register, sizeof(nb_register), 5, 0, 0x20, "FRED"},
		{nb_release, sizeof(nb_release), 6, 0, 0x20, "FRED"},
		{nb_nbstat, sizeof(nb_nbstat), 0, 0, 0x21, "*"},
		{nb_response, sizeof(nb_response), 0, 1, 0x20, "FRED"},
	};
	struct cls_nbns_msg nb;
	struct cls_dns_msg m;

	(void)unused;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint8_t *q = dup_exact(ok[i].p, ok[i].n);

		assert_int_equal(cls_nbns_parse(q, ok[i].n, &nb), 1);
		assert_int_equal(nb.opcode, ok[i].opcode);
		assert_int_equal(nb.response, ok[i].resp);
		assert_int_equal(nb.qtype, ok[i].qtype);
		assert_string_equal(nb.name, ok[i].name);
		/* every prefix is "need more", never a wrong answer */
		for (size_t n = 0; n < 50; n++)
			assert_int_equal(cls_nbns_parse(q, n, &nb), 0);
		free(q);
	}
	/* DNS messages are not NBNS */
	assert_int_equal(cls_nbns_parse(query, sizeof(query), &nb), -1);
	assert_int_equal(cls_nbns_parse(response, sizeof(response), &nb), -1);
	/* a letter past 'P', a type that is neither NB nor NBSTAT, an opcode NBNS does not use */
	uint8_t b[sizeof(nb_query)];

	memcpy(b, nb_query, sizeof(b));
	b[20] = 'Q';
	assert_int_equal(cls_nbns_parse(b, sizeof(b), &nb), -1);
	memcpy(b, nb_query, sizeof(b));
	b[47] = 0x01;
	assert_int_equal(cls_nbns_parse(b, sizeof(b), &nb), -1);
	memcpy(b, nb_query, sizeof(b));
	b[2] = 0x11; /* opcode 2 */
	assert_int_equal(cls_nbns_parse(b, sizeof(b), &nb), -1);
	/* the DNS parser itself still reads the query (the plugin decides which it is) */
	assert_int_equal(cls_dns_parse_query(nb_query, sizeof(nb_query), 0, &m), 1);
}

/* ------------------------------------------------------------------ plugin */

/* A session to a DNS server: the harness's session, port 40000 → 53, to dst. */
static void
dns_open(struct harness *h, uint8_t proto, int family, const char *dst)
{
	h_open(h, proto, CLS_SESSION_BIFLOW, "");
	h->s.key.family = (uint8_t)family;
	h->s.key.sport = 40000;
	h->s.key.dport = 53;
	assert_int_equal(inet_pton(family == 6 ? AF_INET6 : AF_INET, dst, h->s.key.dst), 1);
}

/* NBNS on UDP 137 was DNS at 100; it is NetBIOS (label: the decoded name), and anything else on
 * port 137 is not DNS either */
static void
test_plugin_nbns(void **unused)
{
	struct harness h;
	struct cls_result r;
	static const struct {
		const uint8_t *p;
		size_t n;
		const char *label;
	} msgs[] = {
		{nb_query, sizeof(nb_query), "fred"},
		{nb_register, sizeof(nb_register), "fred"},
		{nb_release, sizeof(nb_release), "fred"},
		{nb_nbstat, sizeof(nb_nbstat), "?"},
		{nb_response, sizeof(nb_response), "fred"},
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		dns_open(&h, IPPROTO_UDP, 4, "192.168.1.255");
		h.s.key.sport = h.s.key.dport = 137;
		assert_true(h_pkt(&h, CLS_DIR_FWD, msgs[i].p, msgs[i].n));
		h_result(&h, &r);
		if (r.app_id != cls_apps_id(apps, "NetBIOS") || r.confidence != 100)
			fail_msg("NBNS message %zu: %s %u", i, cls_apps_name(apps, r.app_id, 0),
				r.confidence);
		assert_int_equal(r.flags, CLS_RES_FINAL);
		assert_string_equal(r.label, msgs[i].label);
		h_close(&h);
	}
	/* the encoded name is enough off port 137 (a NAT), at 90 */
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.7");
	h.s.key.dport = 5137;
	assert_true(h_pkt(&h, CLS_DIR_FWD, nb_query, sizeof(nb_query)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "NetBIOS"));
	assert_int_equal(r.confidence, 90);
	h_close(&h);
	/* a DNS-shaped message on port 137 is refused, not called DNS */
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.7");
	h.s.key.dport = 137;
	assert_true(h_pkt(&h, CLS_DIR_FWD, query, sizeof(query)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	h_close(&h);
}

static void
test_plugin(void **unused)
{
	struct harness h;
	struct cls_result r;
	static const char not_dns[] = "\x16\x03\x01\x00\x05hello, this is not DNS";
	uint8_t tcp[2 + sizeof(query)];

	(void)unused;
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.53");
	assert_true(h_pkt(&h, CLS_DIR_FWD, query, sizeof(query)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "DNS"));
	assert_int_equal(r.confidence, 100);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	assert_string_equal(r.label, "www.example.com");
	h_close(&h);

	/* the response side alone (a flow session), cut by the snap length: 90 */
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.10");
	assert_true(h_pkt(&h, CLS_DIR_FWD, response, sizeof(response) - 3));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "DNS"));
	assert_int_equal(r.confidence, 90);
	h_close(&h);

	dns_open(&h, IPPROTO_UDP, 4, "224.0.0.251");
	h.s.key.sport = h.s.key.dport = 5353;
	assert_true(h_pkt(&h, CLS_DIR_FWD, mdns_announce, sizeof(mdns_announce)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "mDNS"));
	assert_string_equal(r.label, "printer._ipp._tcp.local");
	h_close(&h);

	dns_open(&h, IPPROTO_UDP, 6, "ff02::1:3");
	h.s.key.dport = 5355;
	assert_true(h_pkt(&h, CLS_DIR_FWD, query, sizeof(query)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "LLMNR"));
	h_close(&h);

	/* TCP, the length prefix in a segment of its own */
	tcp[0] = 0;
	tcp[1] = sizeof(query);
	memcpy(tcp + 2, query, sizeof(query));
	dns_open(&h, IPPROTO_TCP, 4, "192.0.2.53");
	assert_false(h_pkt(&h, CLS_DIR_FWD, NULL, 0));
	assert_false(h_pkt(&h, CLS_DIR_FWD, tcp, 2));
	assert_true(h_pkt(&h, CLS_DIR_FWD, tcp + 2, sizeof(query)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "DNS"));
	assert_string_equal(r.label, "www.example.com");
	h_close(&h);

	/* TCP in one segment */
	dns_open(&h, IPPROTO_TCP, 4, "192.0.2.53");
	assert_true(h_pkt(&h, CLS_DIR_FWD, tcp, sizeof(tcp)));
	h_result(&h, &r);
	assert_int_equal(r.confidence, 100);
	h_close(&h);

	/* not DNS: decided on the first payload */
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.53");
	assert_true(h_pkt(&h, CLS_DIR_FWD, (const uint8_t *)not_dns, sizeof(not_dns) - 1));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);

	/* SCTP / host sessions: not ours */
	dns_open(&h, 132, 4, "192.0.2.53");
	assert_true(cls_plugin_dns.is_session_classifiable(h.ctx, h.state, &h.s));
	h_close(&h);

	/* a long name is truncated to the label size */
	uint8_t big[300];
	size_t o = 12;

	memcpy(big, query, 12);
	big[11] = 0;
	for (int l = 0; l < 4; l++) {
		big[o++] = 60;
		memset(big + o, 'x', 60);
		o += 60;
	}
	big[o++] = 0;
	memcpy(big + o, "\x00\x01\x00\x01", 4);
	o += 4;
	dns_open(&h, IPPROTO_UDP, 4, "192.0.2.53");
	assert_true(h_pkt(&h, CLS_DIR_FWD, big, o));
	h_result(&h, &r);
	assert_int_equal(strlen(r.label), CLS_LABEL_MAX - 1);
	h_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_and_response),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_corruption),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_multicast_rules),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_nbns_parse),
		cmocka_unit_test(test_plugin_nbns),
		cmocka_unit_test(test_plugin),
	};
	int r;

	apps = load_apps();
	if (!apps) {
		fprintf(stderr, "test_cls_dns: cannot find config/tide_apps.txt (set TIDE_APPS)\n");
		return 1;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	cls_apps_free(apps);
	return r;
}
