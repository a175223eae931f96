/* dp_ws.c — the drone's WebSocket client (see dp_ws.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "dp_ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct dp_ws {
	int fd;
	unsigned char *buf; /* received, not yet parsed */
	size_t len, cap;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
write_all(int fd, const void *data, size_t len, int timeout_ms)
{
	const unsigned char *p = data;
	int64_t deadline = mono_ms() + timeout_ms;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int64_t left = deadline - mono_ms();
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

struct dp_ws *
dp_ws_connect(const char *host, int port, const char *path, int timeout_ms, char *err,
	size_t err_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		snprintf(err, err_size, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	int fd = -1;
	int64_t deadline = mono_ms() + timeout_ms;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EINPROGRESS) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			int left = (int)(deadline - mono_ms());
			int soerr = ETIMEDOUT;
			socklen_t sl = sizeof(soerr);
			if (left > 0 && poll(&pf, 1, left) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr) {
				snprintf(err, err_size, "connect: %s", strerror(soerr));
				close(fd);
				fd = -1;
			}
		} else if (errno && errno != EINPROGRESS) {
			snprintf(err, err_size, "connect: %s", strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return NULL;

	unsigned char nonce[16];
	char key[32], expect[64], req[1024];
	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce)) {
		snprintf(err, err_size, "no randomness");
		close(fd);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	unsigned char sha[SHA_DIGEST_LENGTH];
	char both[128];
	snprintf(both, sizeof(both), "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)both, strlen(both), sha);
	EVP_EncodeBlock((unsigned char *)expect, sha, sizeof(sha));
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, host, port, key);
	if (write_all(fd, req, (size_t)n, (int)(deadline - mono_ms())) != 0) {
		snprintf(err, err_size, "sending the handshake failed");
		close(fd);
		return NULL;
	}
	/* the answer's headers, byte by byte up to the blank line (frames may follow at once) */
	char resp[4096];
	size_t rl = 0;
	while (rl < sizeof(resp) - 1 && !(rl >= 4 && !memcmp(resp + rl - 4, "\r\n\r\n", 4))) {
		int left = (int)(deadline - mono_ms());
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, left) != 1)
			break;
		ssize_t r = recv(fd, resp + rl, 1, 0);
		if (r <= 0)
			break;
		rl++;
	}
	resp[rl] = '\0';
	char accept_hdr[128];
	snprintf(accept_hdr, sizeof(accept_hdr), "Sec-WebSocket-Accept: %s", expect);
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0 || !strcasestr(resp, accept_hdr)) {
		char *eol = strstr(resp, "\r\n");
		if (eol)
			*eol = '\0';
		snprintf(err, err_size, "handshake refused: %s", rl ? resp : "no answer");
		close(fd);
		return NULL;
	}
	struct dp_ws *ws = calloc(1, sizeof(*ws));
	if (!ws) {
		close(fd);
		return NULL;
	}
	ws->fd = fd;
	return ws;
}

static int
send_frame(struct dp_ws *ws, int opcode, const void *data, size_t len, int timeout_ms)
{
	unsigned char hdr[14];
	size_t h = 0;
	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	unsigned char mask[4];
	if (getrandom(mask, 4, 0) != 4)
		return -EIO;
	memcpy(hdr + h, mask, 4);
	h += 4;
	unsigned char *frame = malloc(h + len);
	if (!frame)
		return -ENOMEM;
	memcpy(frame, hdr, h);
	const unsigned char *d = data;
	for (size_t i = 0; i < len; i++)
		frame[h + i] = d[i] ^ mask[i & 3];
	int rc = write_all(ws->fd, frame, h + len, timeout_ms);
	free(frame);
	return rc;
}

int
dp_ws_send(struct dp_ws *ws, const char *text, size_t len, int timeout_ms)
{
	return ws ? send_frame(ws, 0x1, text, len, timeout_ms) : -ENOTCONN;
}

int
dp_ws_poll(struct dp_ws *ws, int wait_ms, void (*on_message)(void *ctx, const char *text,
	size_t len), void *ctx)
{
	struct pollfd pf = { .fd = ws->fd, .events = POLLIN };
	if (poll(&pf, 1, wait_ms) < 0 && errno != EINTR)
		return -1;
	for (;;) {
		if (ws->cap - ws->len < 65536) {
			size_t cap = ws->cap ? ws->cap * 2 : 131072;
			if (cap > DP_WS_MAX_MESSAGE * 2 + 65536)
				return -1;
			unsigned char *b = realloc(ws->buf, cap);
			if (!b)
				return -1;
			ws->buf = b;
			ws->cap = cap;
		}
		ssize_t r = recv(ws->fd, ws->buf + ws->len, ws->cap - ws->len, MSG_DONTWAIT);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		ws->len += (size_t)r;
	}
	/* whole frames; the server does not fragment what the drone receives */
	size_t off = 0;
	while (ws->len - off >= 2) {
		unsigned char *f = ws->buf + off;
		int opcode = f[0] & 0x0f;
		uint64_t plen = f[1] & 0x7f;
		size_t h = 2;
		if (plen == 126) {
			if (ws->len - off < 4)
				break;
			plen = (uint64_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			if (ws->len - off < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | f[2 + i];
			h = 10;
		}
		bool masked = (f[1] & 0x80) != 0;
		if (masked)
			h += 4;
		if (plen > DP_WS_MAX_MESSAGE)
			return -1;
		if (ws->len - off < h + plen)
			break;
		unsigned char *payload = f + h;
		if (masked)
			for (uint64_t i = 0; i < plen; i++)
				payload[i] ^= f[h - 4 + (i & 3)];
		if (opcode == 0x8)
			return -1; /* close */
		if (opcode == 0x9)
			send_frame(ws, 0xA, payload, (size_t)plen, 1000); /* ping → pong */
		else if (opcode == 0x1 && on_message)
			on_message(ctx, (const char *)payload, (size_t)plen);
		off += h + (size_t)plen;
	}
	memmove(ws->buf, ws->buf + off, ws->len - off);
	ws->len -= off;
	return 0;
}

void
dp_ws_close(struct dp_ws *ws)
{
	if (!ws)
		return;
	unsigned char code[2] = { 0x03, 0xe8 }; /* 1000: normal closure */
	send_frame(ws, 0x8, code, 2, 200);
	close(ws->fd);
	free(ws->buf);
	free(ws);
}
