/* tide_export.h — the one grammar of a flow-export destination, shared by tide-dataplane
 * (--export), the drone and the Hive's job validation, so a destination one program accepts is
 * never refused by the next.
 *
 *   ipfix://HOST:PORT       IPFIX over UDP (RFC 7011; 4739 when PORT is omitted)
 *   ipfix+udp://HOST:PORT   the same
 *   ipfix+tcp://HOST:PORT   IPFIX over TCP
 *   json+tcp://HOST:PORT    JSON Lines, one flow record per line, over TCP
 *   json+udp://HOST:PORT    JSON Lines, one record per datagram
 *
 * HOST is a name, a dotted IPv4 address or a bracketed IPv6 address ("[::1]"). Nothing else is
 * accepted: no path, no user, no query. */
#ifndef TIDE_EXPORT_H
#define TIDE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

enum tide_export_format { TIDE_EXPORT_IPFIX = 1, TIDE_EXPORT_JSON };

struct tide_export_target {
	enum tide_export_format format;
	bool tcp;                    /* false: UDP */
	char host[256];              /* without brackets */
	char port[8];                /* decimal */
};

#define TIDE_EXPORT_IPFIX_PORT "4739"

/* 0, or -EINVAL with a one-line reason in err. */
int tide_export_parse(const char *url, struct tide_export_target *t, char *err, size_t err_size);

#endif
