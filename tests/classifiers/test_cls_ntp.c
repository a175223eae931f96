/* test_cls_ntp.c — unit tests for the NTP dissector (cls_ntp.c): a client request and the
 * server reply that echoes its transmit timestamp are NTP at confidence 100 with dissector
 * evidence on any port; a "reply" whose origin timestamp echoes nothing is not paired; two
 * plausible server replies alone are NTP with signature evidence; NTP-shaped random datagrams,
 * mode 6/7, bad lengths and TCP are not NTP. Packets as RFC 5905 lays them out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "cls_apps.h"
#include "cls_dissect.h"
#include "cls_plugin.h"

#define CLS_TESTLIB_APPS
#define CLS_TESTLIB_PLUGIN cls_plugin_ntp
#include "cls_testlib.h"

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* NTPv4 client request: LI 0, VN 4, mode 3, stratum 0, poll 6, precision -20; transmit ts */
static size_t
request(uint8_t *b, uint64_t xmit)
{
	memset(b, 0, 48);
	b[0] = 0x23;
	b[2] = 6;
	b[3] = 0xec;
	put64(b + 40, xmit);
	return 48;
}

/* Server reply: mode 4, stratum 2, origin = the request's transmit, receive/transmit now */
static size_t
reply(uint8_t *b, uint64_t origin, uint64_t now)
{
	memset(b, 0, 48);
	b[0] = 0x24;
	b[1] = 2;
	b[2] = 6;
	b[3] = 0xe9;
	memcpy(b + 12, "\xc0\x00\x02\x01", 4);   /* reference id */
	put64(b + 16, now - (64ull << 32));
	put64(b + 24, origin);
	put64(b + 32, now);
	put64(b + 40, now + 0x1000);
	return 48;
}

#define NOW (0xe9a1b2c3ull << 32 | 0x12345678)

static void
test_request_reply_paired(void **unused)
{
	uint8_t b[64];
	struct harness h;
	struct cls_result r = { 0 };

	(void)unused;
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	h.s.key.dport = 1123;     /* not NTP's port: the pairing is what counts */
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, request(b, 0x0123456789abcdefull)));
	assert_true(h_pkt(&h, CLS_DIR_BWD, b, reply(b, 0x0123456789abcdefull, NOW)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "NTP"));
	assert_int_equal(r.confidence, 100);
	assert_int_equal(r.evidence, CLS_EV_DISSECTOR);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	h_close(&h);

	/* the reply echoes another timestamp: not paired, and alone it is one reply only */
	memset(&r, 0, sizeof(r));
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, request(b, 0x0123456789abcdefull)));
	assert_false(h_pkt(&h, CLS_DIR_BWD, b, reply(b, 0x0123456789abcde0ull, NOW)));
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, request(b, 0x1111111111111111ull)));
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, request(b, 0x2222222222222222ull)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);
}

static void
test_replies_alone(void **unused)
{
	uint8_t b[64];
	struct harness h;
	struct cls_result r = { 0 };

	(void)unused;
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, reply(b, 0x42, NOW)));
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, reply(b, 0x43, NOW + (64ull << 32))));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "NTP"));
	assert_int_equal(r.confidence, 80);
	assert_int_equal(r.evidence, CLS_EV_SIGNATURE);
	h_close(&h);
}

static void
test_not_ntp(void **unused)
{
	uint8_t b[256];
	struct harness h;
	struct cls_result r = { 0 };

	(void)unused;
	/* NTP-shaped first byte but random timestamps, replies with stratum 0 */
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	for (int i = 0; i < 4; i++) {
		reply(b, 0x42, NOW);
		b[1] = 0;   /* stratum 0: a kiss-o'-death or noise, not a served time */
		h_pkt(&h, CLS_DIR_BWD, b, 48);
	}
	assert_true(CLS_TESTLIB_PLUGIN.is_session_classifiable(h.ctx, h.state, &h.s));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);

	/* mode 6 (control), a 50-byte datagram, an RTP packet: not NTP at the first one */
	static const size_t lens[] = { 48, 50, 172 };
	static const uint8_t first[] = { 0x26, 0x23, 0x80 };
	for (size_t k = 0; k < 3; k++) {
		memset(&r, 0, sizeof(r));
		h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
		memset(b, 0, sizeof(b));
		b[0] = first[k];
		assert_true(h_pkt(&h, CLS_DIR_FWD, b, lens[k]));
		h_result(&h, &r);
		assert_int_equal(r.app_id, 0);
		h_close(&h);
	}

	/* TCP is never NTP */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(CLS_TESTLIB_PLUGIN.is_session_classifiable(h.ctx, h.state, &h.s));
	h_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_reply_paired),
		cmocka_unit_test(test_replies_alone),
		cmocka_unit_test(test_not_ntp),
	};
	int rc;

	apps = load_apps();
	if (!apps)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cls_apps_free(apps);
	return rc;
}
