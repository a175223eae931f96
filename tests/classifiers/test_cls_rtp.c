/* test_cls_rtp.c — unit tests for the RTP/RTCP/DTLS dissector (cls_rtp.c): an RTP stream is
 * recognised only after three datagrams of one SSRC in sequence (never on one datagram, nor on
 * a changing SSRC), a compound RTCP SR+SDES by its exact lengths, a DTLS 1.2 ClientHello at
 * once, and giving up on other UDP within the bound — at once on a datagram that is none of
 * RTP, RTCP, DTLS or STUN (SNMP), never on the STUN checks that precede WebRTC media. Payloads as RFC 3550 and RFC 6347 lay
 * them out (cross-checked with tshark's rtp/rtcp/dtls dissectors). */
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
#define CLS_TESTLIB_PLUGIN cls_plugin_rtp
#include "cls_testlib.h"

/* RTP, PCMU (PT 0), SSRC 0x1234abcd, 160-byte payload */
static size_t
rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, uint8_t pt)
{
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	memcpy(b + 4, "\x00\x00\x03\x20", 4); /* timestamp */
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	memset(b + 12, 0xff, 160);
	return 172;
}

/* RTCP compound: SR (no report blocks, 28 bytes) + SDES with one CNAME chunk (16 bytes) */
static const uint8_t rtcp_sr_sdes[] = {
	0x80, 200, 0x00, 0x06, 0x12, 0x34, 0xab, 0xcd, 0xe8, 0x9f, 0x3a, 0x11, 0x80, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x03, 0x20, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x03, 0x20,
	0x81, 202, 0x00, 0x03, 0x12, 0x34, 0xab, 0xcd, 0x01, 0x05, 'a', '@', 'b', '.', 'c', 0x00,
};

/* DTLS 1.2 record (epoch 0, seq 0) with the start of a ClientHello: handshake type 1, length
 * 0x76, message_seq 0, fragment offset 0, fragment length 0x76 — the whole record */
static size_t
dtls_hello(uint8_t *b)
{
	static const uint8_t h[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x82,
		1, 0x00, 0x00, 0x76, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x76, 0xfe, 0xfd};
	memset(b, 0x5a, 13 + 0x82);
	memcpy(b, h, sizeof(h));
	return 13 + 0x82;
}

static void
test_rtp_stream(void **unused)
{
	static uint8_t b[256];
	struct harness h;
	struct cls_result r;

	(void)unused;
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 1000, 0x1234abcd, 0)));
	assert_false(h_pkt(&h, CLS_DIR_BWD, b, rtp(b, 7, 0x55aa55aa, 8))); /* other direction */
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 1001, 0x1234abcd, 0)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 1003, 0x1234abcd, 0))); /* one lost */
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "RTP"));
	assert_int_equal(r.sub_id, 0);
	assert_int_equal(r.confidence, 90);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	h_close(&h);

	/* version-2 lookalikes whose SSRC changes every datagram never make a stream */
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	for (uint32_t i = 0; i < 15; i++)
		assert_false(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, (uint16_t)(1000 + i), 0x1000 + i, 0)));
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 2000, 0x9999, 0))); /* the bound */
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	h_close(&h);

	/* TCP: not ours */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(cls_plugin_rtp.is_session_classifiable(h.ctx, h.state, &h.s));
	h_close(&h);
}

static void
test_rtcp_and_dtls(void **unused)
{
	static uint8_t b[512];
	struct harness h;
	struct cls_result r;
	uint16_t rtp_id = cls_apps_id(apps, "RTP");

	(void)unused;
	assert_int_equal(cls_rtcp_parse(rtcp_sr_sdes, sizeof(rtcp_sr_sdes)), 1);
	assert_int_equal(cls_rtcp_parse(rtcp_sr_sdes, sizeof(rtcp_sr_sdes) - 4), -1);
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, rtcp_sr_sdes, sizeof(rtcp_sr_sdes)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, rtp_id);
	assert_int_equal(r.sub_id, cls_apps_sub_id(apps, rtp_id, "RTP/RTCP"));
	assert_true(r.sub_id != 0);
	h_close(&h);

	bool hello;
	size_t n = dtls_hello(b);

	assert_int_equal(cls_dtls_parse(b, n, &hello), 1);
	assert_true(hello);
	assert_int_equal(cls_dtls_parse(b, n - 1, &hello), -1); /* the length must end the datagram */
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, n));
	h_result(&h, &r);
	assert_true(r.app_id != 0);
	assert_string_equal(cls_apps_name(apps, r.app_id, r.sub_id), "DTLS");
	assert_int_equal(r.confidence, 100);
	h_close(&h);

	/* application data records (epoch 1): two datagrams */
	memset(b, 0x33, 60);
	memcpy(b, "\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x07\x00\x2f", 13);
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, 60));
	assert_true(h_pkt(&h, CLS_DIR_BWD, b, 60));
	h_result(&h, &r);
	assert_int_equal(r.confidence, 90);
	h_close(&h);
}

/* An SNMP request is none of RTP, RTCP, DTLS or STUN: ready at once, gave up. STUN binding
 * requests (with the RFC 5389 cookie, or RFC 3489's exact length) keep it reading, and the
 * RTP that follows them is found. */
static void
test_gives_up_early(void **unused)
{
	static const uint8_t snmp[] = {0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l',
		'i', 'c', 0xa0, 0x19, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00};
	static uint8_t b[256];
	struct harness h;
	struct cls_result r;

	(void)unused;
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, snmp, sizeof(snmp)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_int_equal(r.flags, CLS_RES_GAVE_UP | CLS_RES_FINAL);
	h_close(&h);

	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	memset(b, 0, 28);
	memcpy(b, "\x00\x01\x00\x08\x21\x12\xa4\x42", 8); /* binding request, cookie */
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, 28));
	memcpy(b, "\x01\x01\x00\x08\x00\x00\x00\x00", 8); /* RFC 3489: no cookie, exact length */
	assert_false(h_pkt(&h, CLS_DIR_BWD, b, 28));
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 1, 0x42, 0)));
	assert_false(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 2, 0x42, 0)));
	assert_true(h_pkt(&h, CLS_DIR_FWD, b, rtp(b, 3, 0x42, 0)));
	h_result(&h, &r);
	assert_int_equal(r.app_id, cls_apps_id(apps, "RTP"));
	h_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtp_stream),
		cmocka_unit_test(test_rtcp_and_dtls),
		cmocka_unit_test(test_gives_up_early),
	};
	int rc;

	apps = load_apps();
	if (!apps)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cls_apps_free(apps);
	return rc;
}
