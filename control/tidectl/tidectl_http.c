/* tidectl_http.c — tidectl's HTTP/1.1 client (see tidectl_http.h).
 *
 * Written over a socket rather than civetweb's client: tidectl needs chunked bodies (the
 * dataset archive), Range, a sink for large bodies and host-name-verified TLS, and Debian's
 * civetweb 1.15 cannot start TLS against OpenSSL 3 without the control plane's shim. One request
 * per connection (Connection: close) keeps it simple; tidectl makes few requests. Bounds: headers
 * 64 KiB, buffered bodies 64 MiB, every read and write times out. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tidectl_http.h"

#define MAX_HEADER (64 * 1024)
#define MAX_BUFFERED (64u * 1024 * 1024)

struct conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t off, len;
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
tc_http_parse_url(const char *url, struct tc_http_target *t)
{
	const char *p;
	memset(t, 0, sizeof(*t));
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		t->tls = true;
	} else {
		return TC_HTTP_EURL;
	}
	const char *end = p + strcspn(p, "/?#");
	const char *hend, *colon = NULL;
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (!hend)
			return TC_HTTP_EURL;
		p++;
		if (hend[1] == ':')
			colon = hend + 1;
		else if (hend + 1 != end)
			return TC_HTTP_EURL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hend = colon ? colon : end;
	}
	size_t hl = (size_t)(hend - p);
	if (hl == 0 || hl >= sizeof(t->host))
		return TC_HTTP_EURL;
	memcpy(t->host, p, hl);
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		if (pl == 0 || pl >= sizeof(t->port) || strspn(colon + 1, "0123456789") < pl)
			return TC_HTTP_EURL;
		memcpy(t->port, colon + 1, pl);
	} else {
		strcpy(t->port, t->tls ? "443" : "80");
	}
	if (*end == '/') {
		size_t ql = strcspn(end, "?#");
		while (ql > 0 && end[ql - 1] == '/')
			ql--;
		if (ql >= sizeof(t->prefix))
			return TC_HTTP_EURL;
		memcpy(t->prefix, end, ql);
	} else if (*end) {
		return TC_HTTP_EURL;
	}
	return 0;
}

/* ---- the connection ---------------------------------------------------------------------- */

static SSL_CTX *
ssl_ctx(const struct tc_http_target *t, char *err, size_t errlen)
{
	static SSL_CTX *ctx;
	if (ctx)
		return ctx;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		seterr(err, errlen, "TLS: cannot create a context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (t->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		int ok = t->cacert ? SSL_CTX_load_verify_locations(ctx, t->cacert, NULL)
				   : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			seterr(err, errlen, "TLS: cannot load CA certificates%s%s",
				t->cacert ? " from " : "", t->cacert ? t->cacert : "");
			SSL_CTX_free(ctx);
			ctx = NULL;
			return NULL;
		}
	}
	return ctx;
}

static int
connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int rc = connect(fd, sa, len);
	if (rc < 0 && errno != EINPROGRESS)
		return -errno;
	if (rc < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return -errno;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		if (soerr)
			return -soerr;
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

static int
conn_open(struct conn *k, const struct tc_http_target *t, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL;
	k->fd = -1;
	k->ssl = NULL;
	k->off = k->len = 0;
	int rc = getaddrinfo(t->host, t->port, &hints, &res);
	if (rc != 0) {
		seterr(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
		return TC_HTTP_ECONNECT;
	}
	int last = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		last = connect_timed(fd, ai->ai_addr, ai->ai_addrlen, t->timeout_ms);
		if (last == 0) {
			k->fd = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (k->fd < 0) {
		seterr(err, errlen, "cannot connect to %s port %s: %s", t->host, t->port,
			strerror(-last));
		return TC_HTTP_ECONNECT;
	}
	if (!t->tls)
		return 0;
	SSL_CTX *ctx = ssl_ctx(t, err, errlen);
	if (!ctx || !(k->ssl = SSL_new(ctx)))
		goto tls_fail;
	SSL_set_fd(k->ssl, k->fd);
	struct in6_addr a6;
	bool is_ip = inet_pton(AF_INET, t->host, &a6) == 1 || inet_pton(AF_INET6, t->host, &a6) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(k->ssl, t->host);
	if (!t->insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(k->ssl);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1
			  : SSL_set1_host(k->ssl, t->host) != 1)
			goto tls_fail;
	}
	if (SSL_connect(k->ssl) != 1) {
		long vr = SSL_get_verify_result(k->ssl);
		if (vr != X509_V_OK)
			seterr(err, errlen, "TLS: certificate of %s not trusted: %s", t->host,
				X509_verify_cert_error_string(vr));
		else
			seterr(err, errlen, "TLS handshake with %s failed: %s", t->host,
				ERR_reason_error_string(ERR_get_error()) ?: "connection closed");
		goto fail;
	}
	return 0;
tls_fail:
	if (!err[0])
		seterr(err, errlen, "TLS: cannot set up the connection");
fail:
	if (k->ssl)
		SSL_free(k->ssl);
	k->ssl = NULL;
	close(k->fd);
	k->fd = -1;
	return TC_HTTP_ECONNECT;
}

static void
conn_close(struct conn *k)
{
	if (k->ssl) {
		SSL_shutdown(k->ssl);
		SSL_free(k->ssl);
	}
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->ssl = NULL;
}

/* >0 bytes, 0 at end of stream, <0 on error or timeout. */
static ssize_t
conn_raw_read(struct conn *k, void *p, size_t n)
{
	if (k->ssl) {
		int r = SSL_read(k->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(k->ssl, r);
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	for (;;) {
		ssize_t r = recv(k->fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static int
conn_write_all(struct conn *k, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w;
		if (k->ssl) {
			int r = SSL_write(k->ssl, c, (int)(n > 1 << 30 ? 1 << 30 : n));
			w = r > 0 ? r : -1;
		} else {
			w = send(k->fd, c, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Refills the buffer when empty. >0, 0 at end, <0 on error. */
static ssize_t
conn_fill(struct conn *k)
{
	if (k->off < k->len)
		return (ssize_t)(k->len - k->off);
	k->off = k->len = 0;
	ssize_t r = conn_raw_read(k, k->buf, sizeof(k->buf));
	if (r > 0)
		k->len = (size_t)r;
	return r;
}

/* One CRLF-ended line without the CRLF (chunk sizes, trailers); 0 or -1. */
static int
conn_line(struct conn *k, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		if (conn_fill(k) <= 0)
			return -1;
		char ch = k->buf[k->off++];
		if (ch == '\n')
			break;
		if (n + 1 >= cap)
			return -1;
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* ---- the exchange ------------------------------------------------------------------------ */

struct body_out {
	const struct tc_http_req *rq;
	struct tc_http_resp *rs;
	bool to_sink;
};

static int
deliver(struct body_out *o, const char *p, size_t n)
{
	if (o->to_sink)
		return o->rq->sink(o->rq->sink_arg, p, n) == 0 ? 0 : TC_HTTP_ESINK;
	struct tc_http_resp *rs = o->rs;
	if (rs->body_len + n > MAX_BUFFERED)
		return TC_HTTP_EPROTO;
	char *nb = realloc(rs->body, rs->body_len + n + 1);
	if (!nb)
		return TC_HTTP_EPROTO;
	memcpy(nb + rs->body_len, p, n);
	rs->body = nb;
	rs->body_len += n;
	rs->body[rs->body_len] = '\0';
	return 0;
}

/* Passes up to want bytes (or to the end when want < 0) to o. 0, or a TC_HTTP_E*. */
static int
copy_body(struct conn *k, struct body_out *o, long long want)
{
	while (want != 0) {
		ssize_t r = conn_fill(k);
		if (r == 0 && want < 0)
			return 0;
		if (r <= 0)
			return TC_HTTP_EBROKEN;
		size_t n = (size_t)r;
		if (want > 0 && (long long)n > want)
			n = (size_t)want;
		int rc = deliver(o, k->buf + k->off, n);
		if (rc)
			return rc;
		k->off += n;
		if (want > 0)
			want -= (long long)n;
	}
	return 0;
}

static int
copy_chunked(struct conn *k, struct body_out *o)
{
	char line[256];
	for (;;) {
		if (conn_line(k, line, sizeof(line)) < 0)
			return TC_HTTP_EBROKEN;
		char *end;
		errno = 0;
		unsigned long long size = strtoull(line, &end, 16);
		if (end == line || errno || (*end && *end != ';' && *end != ' '))
			return TC_HTTP_EPROTO;
		if (size == 0) {
			do {
				if (conn_line(k, line, sizeof(line)) < 0)
					return TC_HTTP_EBROKEN;
			} while (line[0]);
			return 0;
		}
		int rc = copy_body(k, o, (long long)size);
		if (rc)
			return rc;
		if (conn_line(k, line, sizeof(line)) < 0)
			return TC_HTTP_EBROKEN;
		if (line[0])
			return TC_HTTP_EPROTO;
	}
}

static const char *
header_value(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

static int
read_head(struct conn *k, struct tc_http_resp *rs, char *err, size_t errlen)
{
	char *head = malloc(MAX_HEADER + 1);
	size_t n = 0;
	if (!head)
		return TC_HTTP_EPROTO;
	for (;;) {
		if (conn_fill(k) <= 0) {
			seterr(err, errlen, n ? "connection closed in the answer's headers"
					      : "the server closed the connection without answering");
			free(head);
			return n ? TC_HTTP_EPROTO : TC_HTTP_EBROKEN;
		}
		if (n >= MAX_HEADER) {
			seterr(err, errlen, "answer headers over %d bytes", MAX_HEADER);
			free(head);
			return TC_HTTP_EPROTO;
		}
		head[n++] = k->buf[k->off++];
		if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[n] = '\0';
	int minor = 0;
	if (sscanf(head, "HTTP/1.%d %d", &minor, &rs->status) != 2 || rs->status < 100) {
		seterr(err, errlen, "not an HTTP answer");
		free(head);
		return TC_HTTP_EPROTO;
	}
	char *save = NULL;
	for (char *line = strtok_r(head, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		const char *v;
		if ((v = header_value(line, "Content-Length")))
			rs->content_length = strtoll(v, NULL, 10);
		else if ((v = header_value(line, "Transfer-Encoding")))
			rs->chunked = strcasestr(v, "chunked") != NULL;
		else if ((v = header_value(line, "Content-Range")))
			snprintf(rs->content_range, sizeof(rs->content_range), "%s", v);
		else if ((v = header_value(line, "Set-Cookie")))
			snprintf(rs->set_cookie, sizeof(rs->set_cookie), "%s", v);
	}
	free(head);
	return 0;
}

int
tc_http_do(const struct tc_http_target *t, const struct tc_http_req *rq,
	struct tc_http_resp *rs, char *err, size_t errlen)
{
	struct conn k;
	memset(rs, 0, sizeof(*rs));
	rs->content_length = -1;
	err[0] = '\0';
	int rc = conn_open(&k, t, err, errlen);
	if (rc)
		return rc;

	char *req = NULL;
	size_t reqlen = 0;
	FILE *f = open_memstream(&req, &reqlen);
	if (!f) {
		conn_close(&k);
		return TC_HTTP_EPROTO;
	}
	bool v6 = strchr(t->host, ':') != NULL;
	fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: tidectl/%s\r\n"
		"Connection: close\r\nAccept: */*\r\n", rq->method, t->prefix, rq->path,
		v6 ? "[" : "", t->host, v6 ? "]" : "", t->port, TIDE_VERSION);
	if (rq->token)
		fprintf(f, "Authorization: Bearer %s\r\n", rq->token);
	if (rq->cookie)
		fprintf(f, "Cookie: %s\r\n", rq->cookie);
	if (rq->csrf)
		fprintf(f, "X-CSRF-Token: %s\r\n", rq->csrf);
	if (rq->range)
		fprintf(f, "Range: %s\r\n", rq->range);
	if (rq->body)
		fprintf(f, "Content-Type: application/json\r\nContent-Length: %zu\r\n", rq->body_len);
	else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0)
		fputs("Content-Length: 0\r\n", f);
	fputs("\r\n", f);
	fclose(f);
	rc = conn_write_all(&k, req, reqlen);
	free(req);
	if (rc == 0 && rq->body)
		rc = conn_write_all(&k, rq->body, rq->body_len);
	if (rc) {
		seterr(err, errlen, "cannot send the request to %s: %s", t->host, strerror(errno));
		conn_close(&k);
		return TC_HTTP_ECONNECT;
	}

	rc = read_head(&k, rs, err, errlen);
	if (rc) {
		conn_close(&k);
		return rc == TC_HTTP_EBROKEN ? TC_HTTP_ECONNECT : rc;
	}
	struct body_out o = { rq, rs, rq->sink && rs->status >= 200 && rs->status < 300 };
	bool no_body = strcmp(rq->method, "HEAD") == 0 || rs->status == 204 || rs->status == 304;
	if (no_body)
		rc = 0;
	else if (rs->chunked)
		rc = copy_chunked(&k, &o);
	else if (rs->content_length >= 0)
		rc = copy_body(&k, &o, rs->content_length);
	else
		rc = copy_body(&k, &o, -1);
	conn_close(&k);
	if (rc == 0)
		rs->complete = true;
	else if (rc == TC_HTTP_EBROKEN)
		seterr(err, errlen, "the connection ended in the middle of the answer");
	else if (rc == TC_HTTP_EPROTO)
		seterr(err, errlen, "malformed or oversized answer body");
	else if (rc == TC_HTTP_ESINK)
		seterr(err, errlen, "could not store the answer");
	return rc;
}

void
tc_http_resp_free(struct tc_http_resp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
}
