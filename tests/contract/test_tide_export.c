/* test_tide_export.c — unit tests for the flow-export destination grammar
 * (dataplane/contract/tide_export.h): every scheme maps to its format and transport, IPFIX
 * defaults to port 4739 and JSON does not, bracketed IPv6 hosts lose their brackets, and
 * everything else (no scheme, no host, a path, a bad port, stray characters) is refused with
 * a reason that names the destination. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tide_export.h"

static void
test_accepts(void **state)
{
	(void)state;
	struct tide_export_target t;
	char err[256];
	static const struct {
		const char *url;
		enum tide_export_format format;
		bool tcp;
		const char *host, *port;
	} ok[] = {
		{ "ipfix://127.0.0.1:4740", TIDE_EXPORT_IPFIX, false, "127.0.0.1", "4740" },
		{ "ipfix://collector.example", TIDE_EXPORT_IPFIX, false, "collector.example", "4739" },
		{ "ipfix+udp://[::1]:9995", TIDE_EXPORT_IPFIX, false, "::1", "9995" },
		{ "ipfix+tcp://localhost:4739", TIDE_EXPORT_IPFIX, true, "localhost", "4739" },
		{ "json+tcp://127.0.0.1:7000", TIDE_EXPORT_JSON, true, "127.0.0.1", "7000" },
		{ "json+udp://[fe80::1]:65535", TIDE_EXPORT_JSON, false, "fe80::1", "65535" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err[0] = '\0';
		if (tide_export_parse(ok[i].url, &t, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", ok[i].url, err);
		assert_int_equal(t.format, ok[i].format);
		assert_int_equal(t.tcp, ok[i].tcp);
		assert_string_equal(t.host, ok[i].host);
		assert_string_equal(t.port, ok[i].port);
	}
}

static void
test_refuses(void **state)
{
	(void)state;
	struct tide_export_target t;
	char err[256];
	static const char *const bad[] = {
		"", "127.0.0.1:4739", "udp://127.0.0.1:4739", "ipfix://", "ipfix://:4739",
		"ipfix://127.0.0.1:0", "ipfix://127.0.0.1:65536", "ipfix://127.0.0.1:47a",
		"ipfix://127.0.0.1:4739/path", "ipfix://user@host:4739", "json+tcp://127.0.0.1",
		"ipfix://[::1:4739", "ipfix://host name:1", "ipfix://127.0.0.1:-1",
		"ipfix://127.0.0.1:000004739",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (tide_export_parse(bad[i], &t, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		if (!strstr(err, "export destination"))
			fail_msg("'%s': reason '%s' does not say what it refused", bad[i], err);
	}
	assert_int_equal(tide_export_parse(NULL, &t, err, sizeof(err)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
