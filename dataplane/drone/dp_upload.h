/* dp_upload.h — the drone's uploads: the files of a finished capture, the upload of one of them
 * to the Hive, and what the Hive's answer means.
 *
 * Files: completed shards (shards/<drone>/<link>/, never a .part), the flow records (sent to
 * flows/<drone>/) and the capture's manifest (sent as manifests/<drone>/<link>.json); never
 * logs or dot-files.
 *
 * One HTTP/1.1 PUT per file on a connection of its own, with Content-Length, the file's SHA-256
 * (X-Tide-Sha256) and "Expect: 100-continue": the Hive checks everything it can before the body
 * (the job's state, the file already stored, max_size, the group's quota, free disk) and either
 * says "100 Continue" or refuses at once, so a refused file of gigabytes is never sent. A Hive
 * that says nothing within DP_UPLOAD_EXPECT_MS gets the body anyway (RFC 9110 10.1.1).
 *
 * A Hive may also answer while the body is still being sent, and close. libcurl reads the
 * socket while it sends and stops sending at a final answer; whatever happened to the write,
 * an HTTP answer is an answer. Only a connection that could not be made (or verified), or that
 * broke without any answer, means "unreachable".
 *
 * HTTPS when the Hive's welcome says upload_tls, verified as the WebSocket is (dp_hive.h: the
 * system's CA store or --hive-ca, the name checked). Plain HTTP only to a Hive on this host:
 * elsewhere the drone's token would cross the network in clear, so the file is not sent (no
 * answer: the upload is tried again later, and the drone's log says why).
 *
 * Why libcurl: Debian's well-kept HTTP client (libcurl4-openssl-dev) waits for "100 Continue"
 * (CURLOPT_EXPECT_100_TIMEOUT_MS), reads early answers, and does TLS with OpenSSL. Before it,
 * this was ~300 hand-written lines over a plain socket; civetweb's client could neither wait
 * for an interim "100 Continue" and then read the final answer, nor read an answer after a
 * failed write. */
#ifndef DP_UPLOAD_H
#define DP_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "dp_hive.h"

#define DP_UPLOAD_EXPECT_MS 3000     /* wait for "100 Continue" before sending the body anyway */
#define DP_UPLOAD_STALL_MS 60000     /* a connection that takes or gives nothing this long is dead */
#define DP_UPLOAD_ANSWER_MS 300000   /* after the body: the Hive hashes, fsyncs and records it */

struct dp_upload_file {
	char rel[512];       /* in the capture's spool directory */
	char dest[600];      /* in the job's dataset */
};

/* The files of the capture directory dir to upload, at most max. Their count. */
int dp_upload_collect(const char *dir, const char *drone, const char *link,
	struct dp_upload_file *out, int max);

struct dp_upload_answer {
	int status;          /* HTTP status of the final answer; 0 = none (see message) */
	char code[48];       /* "error.code" of the Hive's JSON error body, "" when none */
	char message[256];   /* "error.message", or what went wrong on the connection */
};

/* What the drone does about an answer. */
enum dp_upload_verdict {
	DP_UPLOAD_STORED,    /* 2xx: stored (200: it already was, identical) */
	DP_UPLOAD_RETRY,     /* no answer (Hive unreachable), 5xx but 507, 408, 425, 429: later */
	DP_UPLOAD_GONE,      /* 404: the job, or its link on this drone, no longer exists */
	DP_UPLOAD_REFUSED,   /* any other 4xx, or 507: final; retrying cannot change it */
};

/* PUTs size bytes read from fd to the Hive's HTTP API, on port (the welcome's upload_port) of
 * the host the drone dialled, over HTTPS when tls, at target. Returns 0 with *a filled when the
 * Hive answered (whatever the status), -errno when it could not be reached, verified or gave
 * no answer (a->status 0, a->message says why: -EPERM for plain HTTP to another host). */
int dp_upload_put(const struct dp_hive *hive, int port, bool tls, const char *target,
	const char *token, int fd, long long size, const char *sha256, struct dp_upload_answer *a);

enum dp_upload_verdict dp_upload_verdict(const struct dp_upload_answer *a);

#endif
