/* dp_upload.c — the drone's uploads (see dp_upload.h): which files of a finished capture go
 * where, and the PUT of one file, early answers included. Blocking, on the upload thread; every
 * wait is bounded by the DP_UPLOAD_*_MS limits, so a Hive that stops answering costs at most
 * DP_UPLOAD_STALL_MS per attempt. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "dp_upload.h"

#define CONNECT_MS 10000
#define CLOSE_WAIT_MS 5000   /* after a failed write: the answer is there already, or soon */
#define HEAD_MAX 8192        /* status line and headers of one answer */
#define BODY_MAX 4096        /* of an answer's body: an error's code and message fit */
#define CHUNK (256 * 1024)

struct conn {
	int fd;
	size_t len;                      /* received, not yet consumed */
	char buf[HEAD_MAX + BODY_MAX + 1];
};

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
		if (strncmp(sub, "shards/", 7) == 0)
			snprintf(f->dest, sizeof(f->dest), "%s", sub);
		else if (strncmp(sub, "flows/", 6) == 0)
			snprintf(f->dest, sizeof(f->dest), "flows/%s/%s", drone, sub + 6);
		else if (strcmp(sub, "manifest.json") == 0)
			snprintf(f->dest, sizeof(f->dest), "manifests/%s/%s.json", drone, link);
		else
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

int
dp_upload_sha256(const char *path, char hex[65], long long *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	static __thread char buf[1 << 20];
	ssize_t r;
	long long total = 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		total += r;
	}
	close(fd);
	unsigned char md[32];
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	if (r < 0)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*size = total;
	return 0;
}

/* ---- one PUT --------------------------------------------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connected non-blocking socket, or -errno with the reason in err. */
static int
dial(const char *host, int port, char *err, size_t err_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		snprintf(err, err_size, "%s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	int fd = -1, last = ECONNREFUSED;
	int64_t deadline = mono_ms() + CONNECT_MS;
	for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int e = connect(fd, p->ai_addr, p->ai_addrlen) == 0 ? 0 : errno;
		if (e == EINPROGRESS) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int64_t left = deadline - mono_ms();
			socklen_t sl = sizeof(e);
			e = ETIMEDOUT;
			if (left > 0 && poll(&pf, 1, (int)left) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
		}
		if (e) {
			last = e;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(err, err_size, "connect: %s", strerror(last));
	return fd < 0 ? -last : fd;
}

/* Reads what arrives within wait_ms into c->buf. 1 = read something, 0 = nothing in time,
 * -1 = the connection ended (errno 0 at EOF) or the buffer is full. */
static int
fill(struct conn *c, int wait_ms)
{
	if (c->len >= sizeof(c->buf) - 1) {
		errno = EMSGSIZE;
		return -1;
	}
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	int pr = poll(&pf, 1, wait_ms > 0 ? wait_ms : 0);
	if (pr <= 0)
		return pr < 0 && errno != EINTR ? -1 : 0;
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n > 0) {
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0)
		errno = 0;
	return -1;
}

/* The status of a complete answer head at the start of c->buf, its length and Content-Length
 * (-1 when absent); 0 while the head is incomplete, -1 when it is not HTTP. */
static int
parse_head(struct conn *c, size_t *head_len, long *content_length)
{
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return c->len >= HEAD_MAX ? -1 : 0;
	int status = 0;
	if (sscanf(c->buf, "HTTP/1.%*d %3d", &status) != 1 || status < 100 || status > 599)
		return -1;
	*head_len = (size_t)(end - c->buf) + 4;
	*content_length = -1;
	for (char *l = strstr(c->buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			*content_length = strtol(l + 17, NULL, 10);
	return status;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->buf[c->len] = '\0';
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

/* Reads answers until a final one (status >= 200) has arrived, skipping interim ones — or,
 * with until_continue, until a "100 Continue" too. wait_ms bounds the wait for its head; 0
 * only looks at what is already there. 1 = final answer in *a; 0 = none yet (*cont set when a
 * "100 Continue" was consumed); -1 = the connection ended or failed without one. */
static int
read_answer(struct conn *c, int wait_ms, struct dp_upload_answer *a, bool *cont,
	bool until_continue)
{
	int64_t deadline = mono_ms() + wait_ms;
	for (;;) {
		size_t head_len = 0;
		long cl = -1;
		int status = parse_head(c, &head_len, &cl);
		if (status < 0) {
			snprintf(a->message, sizeof(a->message), "the Hive's answer is not HTTP");
			return -1;
		}
		if (status >= 100 && status < 200) {
			consume(c, head_len);
			*cont |= status == 100;
			if (status == 100 && until_continue && !c->len)
				return 0;
			continue;
		}
		if (status >= 200) {
			size_t want = cl > 0 ? ((size_t)cl < BODY_MAX ? (size_t)cl : BODY_MAX) : 0;
			int64_t body_deadline = mono_ms() + CLOSE_WAIT_MS;
			while (c->len - head_len < want) {
				int64_t left = body_deadline - mono_ms();
				if (left <= 0 || fill(c, (int)left) <= 0)
					break; /* the status is what matters; the body only explains it */
			}
			a->status = status;
			size_t have = c->len - head_len;
			error_body(c->buf + head_len, have < want ? have : want, a);
			return 1;
		}
		int64_t left = deadline - mono_ms();
		int r = fill(c, left > 0 ? (int)left : 0);
		if (r < 0) {
			snprintf(a->message, sizeof(a->message), "the Hive closed the connection without "
				"an answer%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
			return -1;
		}
		if (r == 0 && mono_ms() >= deadline)
			return 0;
	}
}

/* Sends the body, watching for an answer that comes before its end. 1 = answered (early),
 * 0 = the whole body was sent, -errno = failed without an answer. */
static int
send_body(struct conn *c, int fd, long long size, struct dp_upload_answer *a, bool *cont)
{
	char *chunk = malloc(CHUNK);
	if (!chunk)
		return -ENOMEM;
	int rc = 0;
	int64_t progress_ms = mono_ms();
	for (long long off = 0; rc == 0 && off < size;) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pread(fd, chunk, want, off);
		if (n <= 0) {
			snprintf(a->message, sizeof(a->message), "reading the file: %s",
				n < 0 ? strerror(errno) : "it shrank");
			rc = -EIO;
			break;
		}
		for (size_t sent = 0; rc == 0 && sent < (size_t)n;) {
			int64_t left = DP_UPLOAD_STALL_MS - (mono_ms() - progress_ms);
			struct pollfd pf = { .fd = c->fd, .events = POLLIN | POLLOUT };
			if (left <= 0) {
				snprintf(a->message, sizeof(a->message), "the Hive took no data for %d s",
					DP_UPLOAD_STALL_MS / 1000);
				rc = -ETIMEDOUT;
			} else if (poll(&pf, 1, (int)left) > 0 && (pf.revents & ~POLLOUT)) {
				/* something came back before the end of the body: an answer, a late
				 * "100 Continue", or the end of the connection */
				int r = read_answer(c, (pf.revents & POLLIN) ? 0 : CLOSE_WAIT_MS, a, cont, false);
				if (r != 0)
					rc = r > 0 ? 1 : -ECONNRESET;
			} else if (pf.revents & POLLOUT) {
				ssize_t w = send(c->fd, chunk + sent, (size_t)n - sent,
					MSG_NOSIGNAL | MSG_DONTWAIT);
				if (w > 0) {
					sent += (size_t)w;
					progress_ms = mono_ms();
				} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
					/* the Hive may have answered and closed: what did it say? */
					int err = errno;
					int r = read_answer(c, CLOSE_WAIT_MS, a, cont, false);
					if (r > 0) {
						rc = 1;
					} else {
						snprintf(a->message, sizeof(a->message), "sending the file: %s",
							strerror(err));
						rc = -err;
					}
				}
			}
		}
		off += n;
	}
	free(chunk);
	return rc;
}

int
dp_upload_put(const char *host, int port, const char *target, const char *token, int fd,
	long long size, const char *sha256, struct dp_upload_answer *a)
{
	memset(a, 0, sizeof(*a));
	static __thread struct conn c;
	memset(&c, 0, sizeof(c));
	c.fd = dial(host, port, a->message, sizeof(a->message));
	if (c.fd < 0)
		return c.fd;
	char head[1024];
	int n = snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: %s:%d\r\n"
		"Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
		"Content-Length: %lld\r\nX-Tide-Sha256: %s\r\nExpect: 100-continue\r\n"
		"Connection: close\r\n\r\n", target, host, port, token, size, sha256);
	int rc = n > 0 && (size_t)n < sizeof(head) ? 0 : -ENAMETOOLONG;
	bool cont = false;
	for (int off = 0; rc == 0 && off < n;) {
		ssize_t w = send(c.fd, head + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (w > 0)
			off += (int)w;
		else if (!(w < 0 && errno == EINTR))
			rc = -errno;
	}
	/* "100 Continue" or the final answer before the body (an older Hive: neither) */
	if (rc == 0) {
		int r = read_answer(&c, DP_UPLOAD_EXPECT_MS, a, &cont, true);
		rc = r > 0 ? 1 : r < 0 ? -ECONNRESET : 0;
	}
	if (rc == 0 && (size == 0 || (rc = send_body(&c, fd, size, a, &cont)) == 0)) {
		int r = read_answer(&c, DP_UPLOAD_ANSWER_MS, a, &cont, false);
		rc = r > 0 ? 1 : -ETIMEDOUT;
		if (r == 0)
			snprintf(a->message, sizeof(a->message), "no answer %d s after the whole file",
				DP_UPLOAD_ANSWER_MS / 1000);
	}
	close(c.fd);
	if (rc == 1)
		return 0;
	a->status = 0;
	if (!a->message[0])
		snprintf(a->message, sizeof(a->message), "%s", strerror(-rc));
	return rc < 0 ? rc : -EIO;
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
