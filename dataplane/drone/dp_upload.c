/* dp_upload.c — the drone's uploads (see dp_upload.h): which files of a finished capture go
 * where, and the PUT of one file, early answers included, over HTTP or HTTPS with libcurl.
 * Blocking, on the upload thread; every wait is bounded by the DP_UPLOAD_*_MS limits, so a Hive
 * that stops answering costs at most DP_UPLOAD_STALL_MS (DP_UPLOAD_ANSWER_MS once the whole
 * body is sent) per attempt. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "dp_upload.h"
#include "tide_layout.h"
#include "tide_time.h"

#define CONNECT_MS 10000     /* TCP and, with HTTPS, the TLS handshake */
#define BODY_MAX 4096        /* of an answer's body: an error's code and message fit */

/* ---- the files of a finished capture ------------------------------------------------------ */

static int
collect(const char *root, const char *rel, const char *drone, const char *link,
	struct dp_upload_file *out, int n, int max, int depth)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d || depth > 6) {
		if (d)
			closedir(d);
		return n;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		char sub[512];
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
			sizeof(sub))
			continue;
		if (e->d_type == DT_DIR) {
			n = collect(root, sub, drone, link, out, n, max, depth + 1);
			continue;
		}
		if (e->d_type != DT_REG)
			continue;
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".part") == 0)
			continue;
		struct dp_upload_file *f = &out[n];
		snprintf(f->rel, sizeof(f->rel), "%s", sub);
		if (tide_layout_upload_dest(f->dest, sizeof(f->dest), sub, drone, link) != 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

int
dp_upload_collect(const char *dir, const char *drone, const char *link,
	struct dp_upload_file *out, int max)
{
	return collect(dir, "", drone, link, out, 0, max, 0);
}

/* ---- one PUT --------------------------------------------------------------------------------- */

struct put {
	int fd;
	long long size, sent;
	char body[BODY_MAX + 1];     /* the start of the answer's body */
	size_t body_len;
	curl_off_t last_ul;          /* bytes sent at the last progress call */
	int64_t progress_ms;         /* when that changed (or something came back) */
	char why[96];                /* set when the progress callback ends the transfer */
	char read_err[160];
};


/* The body, read with pread so that a retry needs no rewinding. */
static size_t
read_body(char *buf, size_t size, size_t n, void *arg)
{
	struct put *p = arg;
	size_t want = size * n;
	if ((long long)want > p->size - p->sent)
		want = (size_t)(p->size - p->sent);
	if (!want)
		return 0;
	ssize_t r = pread(p->fd, buf, want, p->sent);
	if (r <= 0) {
		snprintf(p->read_err, sizeof(p->read_err), "reading the file: %s",
			r < 0 ? strerror(errno) : "it shrank");
		return CURL_READFUNC_ABORT;
	}
	p->sent += r;
	return (size_t)r;
}

static size_t
write_answer(char *data, size_t size, size_t n, void *arg)
{
	struct put *p = arg;
	size_t len = size * n, room = BODY_MAX - p->body_len;
	memcpy(p->body + p->body_len, data, len < room ? len : room);
	p->body_len += len < room ? len : room;
	p->body[p->body_len] = '\0';
	return len; /* the rest is dropped: the status is what matters, the body only explains it */
}

/* The stall bounds: DP_UPLOAD_STALL_MS without a byte going out while the body is sent (or
 * before the first one, which is where "100 Continue" is awaited), DP_UPLOAD_ANSWER_MS for
 * the answer once all of it has been sent. Called by libcurl about once a second. */
static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	struct put *p = arg;
	int64_t now = tide_mono_ms();
	if (ulnow != p->last_ul || dlnow > 0) {
		p->last_ul = ulnow;
		p->progress_ms = now;
		return 0;
	}
	bool all_sent = ulnow >= p->size;
	if (!all_sent && now - p->progress_ms > DP_UPLOAD_STALL_MS) {
		snprintf(p->why, sizeof(p->why), "the Hive took no data for %d s",
			DP_UPLOAD_STALL_MS / 1000);
		return 1;
	}
	if (all_sent && now - p->progress_ms > DP_UPLOAD_ANSWER_MS) {
		snprintf(p->why, sizeof(p->why), "no answer %d s after the whole file",
			DP_UPLOAD_ANSWER_MS / 1000);
		return 1;
	}
	return 0;
}

/* The Hive's {"error": {"code", "message"}}, when the body is one. */
static void
error_body(const char *body, size_t len, struct dp_upload_answer *a)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *e = json_object_get(j, "error");
	snprintf(a->code, sizeof(a->code), "%s", json_string_value(json_object_get(e, "code")) ?: "");
	snprintf(a->message, sizeof(a->message), "%s",
		json_string_value(json_object_get(e, "message")) ?: "");
	json_decref(j);
}

static int
curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT: case CURLE_ABORTED_BY_CALLBACK: return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE: return -EPROTO;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	case CURLE_READ_ERROR: return -EIO;
	default: return -ECONNRESET;
	}
}

int
dp_upload_put(const struct dp_hive *hive, int port, bool tls, const char *target,
	const char *token, int fd, long long size, const char *sha256, struct dp_upload_answer *a)
{
	memset(a, 0, sizeof(*a));
	if (!tls && !dp_hive_loopback(hive->host)) {
		/* the token would cross the network in clear: not sent (dp_hive.h) */
		snprintf(a->message, sizeof(a->message), "not sent: the Hive takes uploads over plain "
			"HTTP and %.64s is not this host (give the Hive --tls-cert/--tls-key)",
			hive->host);
		return -EPERM;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(a->message, sizeof(a->message), "cannot start libcurl");
		return -ENOMEM;
	}
	/* the URL names the host the certificate is checked against; CONNECT_TO dials
	 * hive->host when that is another name (--hive-name) */
	const char *name = tls ? dp_hive_verify_name(hive) : hive->host;
	bool v6 = strchr(name, ':') != NULL;
	char url[PATH_MAX + 600], connect_to[2 * DP_HIVE_HOST_MAX + 40], auth[200], sha_h[100],
		errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "%s://%s%s%s:%d%s", tls ? "https" : "http", v6 ? "[" : "", name,
		v6 ? "]" : "", port, target);
	snprintf(connect_to, sizeof(connect_to), "%s%s%s:%d:%s%s%s:%d", v6 ? "[" : "", name,
		v6 ? "]" : "", port, strchr(hive->host, ':') ? "[" : "", hive->host,
		strchr(hive->host, ':') ? "]" : "", port);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(sha_h, sizeof(sha_h), "X-Tide-Sha256: %s", sha256);
	struct curl_slist *headers = NULL, *to = NULL;
	const char *hs[] = { auth, "Content-Type: application/octet-stream", sha_h,
		"Expect: 100-continue", "Connection: close" };
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		headers = curl_slist_append(headers, hs[i]);
	to = curl_slist_append(NULL, connect_to);
	static __thread struct put p;
	memset(&p, 0, sizeof(p));
	p.fd = fd;
	p.size = size;
	p.last_ul = -1;
	p.progress_ms = tide_mono_ms();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, to);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(c, CURLOPT_READDATA, &p);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, (long)DP_UPLOAD_EXPECT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &p);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (tls) {
		/* verified as the WebSocket is (dp_ws.c): the system's store or --hive-ca, the name;
		 * libcurl lets any certificate of the CA file be the anchor (partial chains) */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (hive->ca_file[0])
			curl_easy_setopt(c, CURLOPT_CAINFO, hive->ca_file);
	}
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	int ret = 0;
	if (status >= 200) {
		/* an answer is an answer, whatever happened to the rest of the body (an early
		 * refusal while it was being sent ends the transfer with an error) */
		a->status = (int)status;
		error_body(p.body, p.body_len, a);
	} else {
		ret = curl_errno(rc);
		if (rc == CURLE_ABORTED_BY_CALLBACK && p.why[0])
			snprintf(a->message, sizeof(a->message), "%s", p.why);
		else if (rc == CURLE_READ_ERROR && p.read_err[0])
			snprintf(a->message, sizeof(a->message), "%s", p.read_err);
		else if (rc == CURLE_OK)
			snprintf(a->message, sizeof(a->message), "the Hive's answer is not HTTP");
		else
			snprintf(a->message, sizeof(a->message), "%s", errbuf[0] ? errbuf :
				curl_easy_strerror(rc));
		if (rc == CURLE_OK)
			ret = -EIO;
	}
	curl_slist_free_all(headers);
	curl_slist_free_all(to);
	curl_easy_cleanup(c);
	return ret;
}

enum dp_upload_verdict
dp_upload_verdict(const struct dp_upload_answer *a)
{
	int s = a->status;
	if (s >= 200 && s < 300)
		return DP_UPLOAD_STORED;
	if (s == 404)
		return DP_UPLOAD_GONE;
	if (s == 0 || s == 408 || s == 425 || s == 429 || (s >= 500 && s != 507))
		return DP_UPLOAD_RETRY;
	return DP_UPLOAD_REFUSED;
}
