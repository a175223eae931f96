/* tidectl_telemetry.h — a client of DPDK's telemetry socket (v2: SOCK_SEQPACKET, one JSON
 * message per command), for `tidectl top` against a tide-dataplane without a control plane. */
#ifndef TIDECTL_TELEMETRY_H
#define TIDECTL_TELEMETRY_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct tc_tel;

/* Connects and reads the greeting. NULL with errno set. */
struct tc_tel *tc_tel_open(const char *path);
/* The answer to cmd ("/tide/stats"): the value under its key, a new reference, or NULL when the
 * connection failed (errno) or the answer is not JSON. */
json_t *tc_tel_cmd(struct tc_tel *t, const char *cmd);
void tc_tel_close(struct tc_tel *t);
/* The process on the other end (from the greeting), and the DPDK version. */
pid_t tc_tel_pid(const struct tc_tel *t);
const char *tc_tel_version(const struct tc_tel *t);

/* The socket path for a --telemetry argument: a path as is, else a DPDK file prefix
 * (tide-1234 -> /var/run/dpdk/tide-1234/dpdk_telemetry.v2). */
void tc_tel_path(const char *arg, char *out, size_t len);
/* The newest tide-* telemetry socket that accepts a connection, in /var/run/dpdk and
 * $XDG_RUNTIME_DIR/dpdk. 0, or -ENOENT when none is live. */
int tc_tel_discover(char *out, size_t len);

#endif
