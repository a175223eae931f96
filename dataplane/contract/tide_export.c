/* tide_export.c — parses a flow-export destination (see tide_export.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide_export.h"

static const struct {
	const char *scheme;
	enum tide_export_format format;
	bool tcp;
} schemes[] = {
	{ "ipfix://", TIDE_EXPORT_IPFIX, false },
	{ "ipfix+udp://", TIDE_EXPORT_IPFIX, false },
	{ "ipfix+tcp://", TIDE_EXPORT_IPFIX, true },
	{ "json+tcp://", TIDE_EXPORT_JSON, true },
	{ "json+udp://", TIDE_EXPORT_JSON, false },
};

static bool
host_char_ok(char c, bool bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '-' || c == '.')
		return true;
	return bracketed && c == ':';
}

int
tide_export_parse(const char *url, struct tide_export_target *t, char *err, size_t err_size)
{
	memset(t, 0, sizeof(*t));
	const char *rest = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);
		if (url && strncmp(url, schemes[i].scheme, n) == 0) {
			t->format = schemes[i].format;
			t->tcp = schemes[i].tcp;
			rest = url + n;
			break;
		}
	}
	if (!rest) {
		snprintf(err, err_size, "export destination '%s' wants ipfix://, ipfix+udp://, "
			"ipfix+tcp://, json+tcp:// or json+udp:// HOST:PORT", url ? url : "");
		return -EINVAL;
	}
	bool bracketed = rest[0] == '[';
	const char *h = rest + bracketed;
	const char *end = bracketed ? strchr(h, ']') : h + strcspn(h, ":");
	if (!end || end == h || (size_t)(end - h) >= sizeof(t->host)) {
		snprintf(err, err_size, "export destination '%s': no host", url);
		return -EINVAL;
	}
	for (const char *c = h; c < end; c++)
		if (!host_char_ok(*c, bracketed)) {
			snprintf(err, err_size, "export destination '%s': bad character in the host",
				url);
			return -EINVAL;
		}
	memcpy(t->host, h, (size_t)(end - h));
	const char *p = end + bracketed;
	if (*p == '\0') {
		if (t->format != TIDE_EXPORT_IPFIX) {
			snprintf(err, err_size, "export destination '%s' wants a port", url);
			return -EINVAL;
		}
		snprintf(t->port, sizeof(t->port), "%s", TIDE_EXPORT_IPFIX_PORT);
		return 0;
	}
	char *num_end;
	if (*p != ':' || p[1] < '0' || p[1] > '9') {
		snprintf(err, err_size, "export destination '%s': expected ':PORT' after the host",
			url);
		return -EINVAL;
	}
	unsigned long port = strtoul(p + 1, &num_end, 10);
	if (*num_end != '\0' || port == 0 || port > 65535 || num_end - (p + 1) > 5) {
		snprintf(err, err_size, "export destination '%s': port must be 1-65535 and nothing "
			"may follow it", url);
		return -EINVAL;
	}
	snprintf(t->port, sizeof(t->port), "%lu", port);
	return 0;
}
