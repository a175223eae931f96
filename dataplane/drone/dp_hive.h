/* dp_hive.h — where the drone finds the Hive and how it trusts it: `--hive`, `--hive-ca`,
 * `--hive-name`, shared by the WebSocket link (dp_ws.c) and the uploads (dp_upload.c).
 *
 * Why a rule on plain ws://: the drone's token and every file it uploads travel on these
 * connections. Without TLS anyone on the path reads the token and can then pose as the drone,
 * so plain ws:// (and plain HTTP uploads) are accepted only when the Hive is on this host
 * (127.0.0.0/8, ::1, localhost); anything else is wss://, with the Hive's certificate verified
 * against the system's CA store or `--hive-ca FILE`, and its name checked. The check is on the
 * text of the URL, before any connection: a refused URL never reaches the network.
 *
 * `--hive-name NAME` is the name the certificate must carry when it differs from the host the
 * drone dials (the Hive's local drone dials 127.0.0.1 but checks the name in the Hive's own
 * certificate). */
#ifndef DP_HIVE_H
#define DP_HIVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define DP_HIVE_HOST_MAX 256

struct dp_hive {
	char host[DP_HIVE_HOST_MAX];   /* as dialled: a name or an address literal, no brackets */
	int port;                      /* the drone listener's */
	bool tls;                      /* wss://, and HTTPS uploads */
	char ca_file[PATH_MAX];        /* PEM certificates to trust; "" = the system's store */
	char name[DP_HIVE_HOST_MAX];   /* the name the certificate must carry; "" = host */
};

/* Parses ws://HOST:PORT[/...] or wss://HOST:PORT[/...] (HOST may be [v6]) into h->host,
 * h->port and h->tls, leaving ca_file and name alone. Errors, with a sentence in err:
 *   -EINVAL  not such a URL
 *   -EPERM   plain ws:// to a host that is not loopback */
int dp_hive_parse(struct dp_hive *h, const char *url, char *err, size_t err_size);

/* Is host loopback by its text alone: 127.0.0.0/8, ::1 (also ::ffff:127.x.y.z), localhost. */
bool dp_hive_loopback(const char *host);

/* The name the Hive's certificate is checked against: h->name, else h->host. */
const char *dp_hive_verify_name(const struct dp_hive *h);

#endif
