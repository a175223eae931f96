/* test_hive_url.c — unit tests for the drone's --hive URL (dataplane/drone/dp_hive.c): which
 * URLs parse to which host, port and scheme, and the loopback rule for plain ws:// — a table of
 * URL → expected result, as libpcap tests its filters. A plain ws:// URL to anything but this
 * host must be refused (-EPERM) by its text alone, before any connection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dp_hive.h"

struct url_case {
	const char *url;
	int rc;              /* 0, -EINVAL, -EPERM */
	const char *host;    /* when rc == 0 */
	int port;
	bool tls;
};

static const struct url_case cases[] = {
	{ "wss://hive.example.org:8444", 0, "hive.example.org", 8444, true },
	{ "wss://192.0.2.7:8444/", 0, "192.0.2.7", 8444, true },
	{ "wss://[2001:db8::7]:8444", 0, "2001:db8::7", 8444, true },
	{ "https://hive.example.org:8444", 0, "hive.example.org", 8444, true },
	{ "ws://127.0.0.1:8081", 0, "127.0.0.1", 8081, false },
	{ "ws://127.255.0.9:8081/api/v1/drones/connect", 0, "127.255.0.9", 8081, false },
	{ "ws://localhost:8081", 0, "localhost", 8081, false },
	{ "ws://LocalHost:8081", 0, "LocalHost", 8081, false },
	{ "ws://[::1]:8081", 0, "::1", 8081, false },
	{ "ws://[::ffff:127.0.0.1]:8081", 0, "::ffff:127.0.0.1", 8081, false },
	{ "http://127.0.0.1:8081", 0, "127.0.0.1", 8081, false },
	/* plain, off loopback: refused by the text alone */
	{ "ws://192.0.2.1:9", -EPERM, NULL, 0, false },
	{ "ws://128.0.0.1:9", -EPERM, NULL, 0, false },
	{ "ws://hive.example.org:8081", -EPERM, NULL, 0, false },
	{ "ws://localhost.example.org:8081", -EPERM, NULL, 0, false },
	{ "ws://[2001:db8::1]:8081", -EPERM, NULL, 0, false },
	{ "ws://[::ffff:10.0.0.1]:8081", -EPERM, NULL, 0, false },
	{ "ws://0.0.0.0:8081", -EPERM, NULL, 0, false },
	{ "http://192.0.2.1:8081", -EPERM, NULL, 0, false },
	/* not such a URL */
	{ "hive.example.org:8444", -EINVAL, NULL, 0, false },
	{ "wss://hive.example.org", -EINVAL, NULL, 0, false },
	{ "wss://hive.example.org:", -EINVAL, NULL, 0, false },
	{ "wss://hive.example.org:0", -EINVAL, NULL, 0, false },
	{ "wss://hive.example.org:65536", -EINVAL, NULL, 0, false },
	{ "wss://hive.example.org:84x4", -EINVAL, NULL, 0, false },
	{ "wss://:8444", -EINVAL, NULL, 0, false },
	{ "wss://2001:db8::7:8444", -EINVAL, NULL, 0, false },
	{ "wss://[2001:db8::7:8444", -EINVAL, NULL, 0, false },
	{ "wss://[]:8444", -EINVAL, NULL, 0, false },
	{ "ftp://hive.example.org:21", -EINVAL, NULL, 0, false },
};

static void
test_url_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct url_case *c = &cases[i];
		struct dp_hive h;
		char err[400] = "";
		memset(&h, 0, sizeof(h));
		int rc = dp_hive_parse(&h, c->url, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("%s: %d, expected %d (%s)", c->url, rc, c->rc, err);
		if (rc == 0) {
			assert_string_equal(h.host, c->host);
			assert_int_equal(h.port, c->port);
			assert_int_equal(h.tls, c->tls);
		} else {
			assert_true(err[0]); /* every refusal says why */
			assert_int_equal(h.host[0], 0);
		}
	}
}

/* The refusal of plain ws:// names the fix, with the host and port given. */
static void
test_refusal_names_the_fix(void **state)
{
	(void)state;
	struct dp_hive h;
	char err[400];
	memset(&h, 0, sizeof(h));
	assert_int_equal(dp_hive_parse(&h, "ws://192.0.2.1:9/x", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "wss://192.0.2.1:9"));
	assert_non_null(strstr(err, "--hive-ca"));
}

static void
test_verify_name(void **state)
{
	(void)state;
	struct dp_hive h;
	char err[400];
	memset(&h, 0, sizeof(h));
	assert_int_equal(dp_hive_parse(&h, "wss://127.0.0.1:8444", err, sizeof(err)), 0);
	assert_string_equal(dp_hive_verify_name(&h), "127.0.0.1");
	snprintf(h.name, sizeof(h.name), "hive.test");
	assert_string_equal(dp_hive_verify_name(&h), "hive.test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_table),
		cmocka_unit_test(test_refusal_names_the_fix),
		cmocka_unit_test(test_verify_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
