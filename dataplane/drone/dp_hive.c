/* dp_hive.c — the Hive's URL and the loopback rule for plain ws:// (see dp_hive.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_hive.h"

bool
dp_hive_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&v6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
	}
	return false;
}

int
dp_hive_parse(struct dp_hive *h, const char *url, char *err, size_t err_size)
{
	const char *p = url;
	bool tls;
	/* http:// and https:// as aliases: the drone listener is an HTTP server too */
	if (strncmp(p, "wss://", 6) == 0 || strncmp(p, "https://", 8) == 0) {
		tls = true;
		p += p[1] == 's' ? 6 : 8;
	} else if (strncmp(p, "ws://", 5) == 0 || strncmp(p, "http://", 7) == 0) {
		tls = false;
		p += p[1] == 's' ? 5 : 7;
	} else {
		snprintf(err, err_size, "--hive wants wss://HOST:PORT (or ws://HOST:PORT when the "
			"Hive is on this host), not '%s'", url);
		return -EINVAL;
	}
	/* HOST:PORT up to the first '/'; HOST is [v6] or has no ':' */
	size_t authority = strcspn(p, "/");
	const char *colon = NULL;
	for (size_t i = 0; i < authority; i++)
		if (p[i] == ':')
			colon = p + i;
	const char *host = p;
	size_t hlen = colon ? (size_t)(colon - p) : 0;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	} else if (memchr(host, '[', hlen) || memchr(host, ']', hlen) || memchr(host, ':', hlen)) {
		hlen = 0; /* a bare IPv6 address: the port would be ambiguous */
	}
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!hlen || hlen >= sizeof(h->host) || port <= 0 || port > 65535 || end == colon + 1 ||
		(end != p + authority)) {
		snprintf(err, err_size, "--hive wants %s://HOST:PORT ([ADDR]:PORT for IPv6), not '%s'",
			tls ? "wss" : "ws", url);
		return -EINVAL;
	}
	char name[DP_HIVE_HOST_MAX];
	memcpy(name, host, hlen);
	name[hlen] = '\0';
	if (!tls && !dp_hive_loopback(name)) {
		snprintf(err, err_size, "plain ws:// is for a Hive on this host only (127.0.0.1, ::1, "
			"localhost): the drone's token and files would cross the network in clear. Use "
			"--hive wss://%.*s (and --hive-ca FILE unless the system's CA store trusts the "
			"Hive's certificate)", (int)authority, p);
		return -EPERM;
	}
	memcpy(h->host, name, hlen + 1);
	h->port = (int)port;
	h->tls = tls;
	return 0;
}

const char *
dp_hive_verify_name(const struct dp_hive *h)
{
	return h->name[0] ? h->name : h->host;
}
