/* test_cls_http.c — unit tests for the HTTP/1.x dissector (cls_http.c): request lines and the
 * Host header (port stripped, IPv6 literals), every truncation (always "need more", never "not
 * HTTP"), CONNECT and absolute-form proxy requests, status lines, things that look almost like
 * HTTP (RTSP, lower-case methods, HTTP/2.0, double spaces), and the plugin path with the real
 * config/tide_apps.txt: one segment, a request head over several segments (borrowed buffer),
 * a URL longer than the buffer, response-only sessions, and giving up on TLS or UDP. */
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
#define CLS_TESTLIB_PLUGIN cls_plugin_http
#define CLS_TESTLIB_REASM_WCTX
#include "cls_testlib.h"

static const char req[] = "GET /index.html?q=1 HTTP/1.1\r\n"
			  "User-Agent: curl/7.88.1\r\n"
			  "Accept: */*\r\n"
			  "host:  WWW.Example.com:8080 \r\n"
			  "\r\n";

/* ------------------------------------------------------------------ helpers */

static struct cls_apps *apps;


/* Parse a request from a heap copy of exactly n bytes; host copied out as text. */
static int
req_n(const char *s, size_t n, struct cls_http_msg *m, char *host)
{
	uint8_t *q = dup_exact(s, n);
	int r = cls_http_parse_request(q, n, m);

	host[0] = '\0';
	if (m->host) {
		memcpy(host, m->host, m->host_len);
		host[m->host_len] = '\0';
	}
	m->host = NULL;
	m->method = NULL;
	free(q);
	return r;
}

static int
req_s(const char *s, struct cls_http_msg *m, char *host)
{
	return req_n(s, strlen(s), m, host);
}

static int
resp_s(const char *s, size_t n, struct cls_http_msg *m)
{
	uint8_t *q = dup_exact(s, n);
	int r = cls_http_parse_response(q, n, m);

	free(q);
	return r;
}

/* ------------------------------------------------------------------ parser */

static void
test_request(void **unused)
{
	struct cls_http_msg m;
	char host[256];

	(void)unused;
	assert_int_equal(req_s(req, &m, host), 1);
	assert_true(m.line_complete);
	assert_false(m.connect);
	assert_false(m.absolute_form);
	assert_int_equal(m.version_minor, 1);
	assert_int_equal(m.method_len, 3);
	assert_string_equal(host, "WWW.Example.com:8080");
	assert_int_equal(cls_http_host_len((const uint8_t *)host, strlen(host)), 15);

	/* HTTP/1.0 without Host, bare LF line ends: complete at the empty line */
	assert_int_equal(req_s("POST /form HTTP/1.0\nContent-Length: 0\n\n", &m, host), 1);
	assert_true(m.headers_complete);
	assert_int_equal(m.version_minor, 0);
	assert_string_equal(host, "");

	/* CONNECT: the authority is the host when no Host header was seen yet */
	assert_int_equal(req_s("CONNECT example.org:443 HTTP/1.1\r\n\r\n", &m, host), 1);
	assert_true(m.connect);
	assert_string_equal(host, "example.org:443");
	/* absolute form, a forward-proxy request; Host header wins */
	assert_int_equal(req_s("GET http://Proxy.Example/a/b HTTP/1.1\r\nHost: other.example\r\n",
				 &m, host),
		1);
	assert_true(m.absolute_form);
	assert_string_equal(host, "other.example");
	assert_int_equal(req_s("GET http://Proxy.Example:3128?x HTTP/1.1\r\n\r\n", &m, host), 1);
	assert_string_equal(host, "Proxy.Example:3128");
	/* WebDAV */
	assert_int_equal(req_s("PROPFIND /dav/ HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n", &m,
				 host),
		1);
	assert_int_equal(cls_http_host_len((const uint8_t *)host, strlen(host)), 13);
}

static void
test_every_truncation(void **unused)
{
	struct cls_http_msg m;
	char host[256];
	size_t host_line_end = strstr(req, "8080 \r\n") - req + 7;

	(void)unused;
	for (size_t k = 0; k < sizeof(req) - 1; k++) {
		int r = req_n(req, k, &m, host);

		assert_int_equal(r, k < host_line_end ? 0 : 1);
		if (k >= 4)
			assert_int_equal(m.method_len, 3); /* "GET " seen: the caller can tell */
	}
	static const char resp[] = "HTTP/1.1 404 Not Found\r\n";

	for (size_t k = 0; k < 13; k++)
		assert_int_equal(resp_s(resp, k, &m), 0);
	assert_int_equal(resp_s(resp, 13, &m), 1);
	assert_int_equal(m.status, 404);
}

static void
test_not_http(void **unused)
{
	static const char *const bad[] = {
		"get / HTTP/1.1\r\n",            /* methods are case-sensitive */
		"GETX / HTTP/1.1\r\n",           /* unknown method */
		"GET  / HTTP/1.1\r\n",           /* empty target */
		"GET / HTTP/2.0\r\n",            /* not 1.x */
		"GET / HTTP/1.2\r\n",
		"DESCRIBE rtsp://cam/ RTSP/1.0\r\n",
		"OPTIONS rtsp://cam/ RTSP/1.0\r\n",
		"GET /\x01 HTTP/1.1\r\n",        /* control byte in the target */
		"GET / HTTP/1.1\rX",             /* CR not followed by LF */
		"SSH-2.0-OpenSSH_9.2\r\n",
		"\x16\x03\x01\x02\x00\x01",
		"HTTP/1.1 200 OK\r\n",           /* a response is not a request */
		"VERYLONGMETHODNAME / HTTP/1.1\r\n",
	};
	struct cls_http_msg m;
	char host[256];

	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(req_s(bad[i], &m, host), -1);
	assert_int_equal(req_s("MKCA", &m, host), 0); /* a prefix of MKCALENDAR */
	assert_int_equal(req_s("GETS", &m, host), -1);
	assert_int_equal(resp_s("HTTP/1.1 2x0 OK", 15, &m), -1);
	assert_int_equal(resp_s("HTTP/1.1 200OK", 14, &m), -1);
	assert_int_equal(resp_s("HTTP/1.1 099 X", 14, &m), -1);
	assert_int_equal(resp_s("RTSP/1.0 200 OK", 15, &m), -1);
	assert_int_equal(resp_s("HTTP/1.0 302\r\n", 14, &m), 1);
}

/* ------------------------------------------------------------------ plugin */

static void
test_plugin(void **unused)
{
	struct harness h;
	struct cls_result r;
	uint16_t http = cls_apps_id(apps, "HTTP"), proxy = cls_apps_id(apps, "HTTP-Proxy");
	static char longreq[4096];

	(void)unused;
	assert_true(http && proxy);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, req, sizeof(req) - 1));
	h_result(&h, &r);
	assert_int_equal(r.app_id, http);
	assert_int_equal(r.confidence, 100);
	assert_int_equal(r.flags, CLS_RES_FINAL);
	assert_string_equal(r.label, "www.example.com");
	h_close(&h);

	/* the head over three segments, one retransmitted: the pool buffer carries it */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "reasm_bufs=1");
	assert_false(h_pkt(&h, CLS_DIR_FWD, req, 10));
	assert_int_equal(cls_reasm_pool_in_use(h.wctx), 1);
	assert_false(h_pkt(&h, CLS_DIR_FWD, req, 10));
	assert_false(h_pkt(&h, CLS_DIR_BWD, NULL, 0));
	assert_false(h_pkt(&h, CLS_DIR_FWD, req + 10, 50));
	assert_true(h_pkt(&h, CLS_DIR_FWD, req + 60, sizeof(req) - 61));
	h_result(&h, &r);
	assert_string_equal(r.label, "www.example.com");
	assert_int_equal(cls_reasm_pool_in_use(h.wctx), 0);
	h_close(&h);

	/* CONNECT → HTTP-Proxy */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, "CONNECT Example.org:443 HTTP/1.1\r\n\r\n", 36));
	h_result(&h, &r);
	assert_int_equal(r.app_id, proxy);
	assert_string_equal(r.label, "example.org");
	h_close(&h);

	/* a URL longer than the buffer: HTTP by its prefix, no label */
	memcpy(longreq, "GET /", 5);
	memset(longreq + 5, 'a', sizeof(longreq) - 5);
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, longreq, 1400));
	assert_true(h_pkt(&h, CLS_DIR_FWD, longreq + 1400, 1400));
	h_result(&h, &r);
	assert_int_equal(r.app_id, http);
	assert_int_equal(r.confidence, 90);
	assert_string_equal(r.label, "");
	h_close(&h);

	/* response only (a flow session of the server's side) */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 30));
	h_result(&h, &r);
	assert_int_equal(r.app_id, http);
	assert_int_equal(r.confidence, 80);
	h_close(&h);

	/* a request still incomplete at session end says HTTP, weakly */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_false(h_pkt(&h, CLS_DIR_FWD, "GET /x HTTP/1.1\r\nAccept: *", 26));
	h_result(&h, &r);
	assert_int_equal(r.app_id, http);
	assert_int_equal(r.confidence, 90);
	h_close(&h);

	/* TLS: not HTTP, decided on the first payload */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	assert_true(r.flags & CLS_RES_GAVE_UP);
	h_close(&h);

	/* a server that speaks first (SMTP banner): gives up */
	h_open(&h, IPPROTO_TCP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_BWD, "220 mail.example ESMTP\r\n", 24));
	h_close(&h);

	/* UDP (SSDP's M-SEARCH is someone else's) */
	h_open(&h, IPPROTO_UDP, CLS_SESSION_BIFLOW, "");
	assert_true(h_pkt(&h, CLS_DIR_FWD, "M-SEARCH * HTTP/1.1\r\n\r\n", 23));
	h_result(&h, &r);
	assert_int_equal(r.app_id, 0);
	h_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_plugin),
	};
	int r;

	apps = load_apps();
	if (!apps) {
		fprintf(stderr, "test_cls_http: cannot find config/tide_apps.txt (set TIDE_APPS)\n");
		return 1;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	cls_apps_free(apps);
	return r;
}
