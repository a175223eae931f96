/* tidectl_http.c — tidectl's HTTP client (see tidectl_http.h), on libcurl's easy interface.
 *
 * libcurl does the wire: HTTP/1.1, chunked and close-delimited bodies, TLS with certificate and
 * host name checks. This file narrows it to what tidectl needs and nothing more: http and https
 * only, no redirects followed, no proxy taken from the environment, no content decoding (a
 * tar.gz stays the bytes the server sent), 2xx bodies passed to the caller's sink as they come,
 * other bodies buffered for the error message, and curl's errors sorted into the few kinds the
 * callers act on — above all "cut in the middle of the body", which a Range request can resume.
 * One easy handle per request: tidectl makes few. Bounds: buffered bodies 64 MiB; connecting
 * (TLS included) and any stall of the transfer longer than the timeout fail, while a long
 * download that keeps moving does not. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tidectl_http.h"

#define MAX_BUFFERED (64u * 1024 * 1024)

/* What one transfer has seen so far: the callbacks fill it, the error mapping reads it. */
struct xfer {
	CURL *h;
	const struct tc_http_req *rq;
	struct tc_http_resp *rs;
	size_t cap;       /* of rs->body */
	bool sent;        /* the connection is up (TLS included) and the request goes out */
	bool status_seen; /* a final (non-1xx) status line arrived */
	bool head_done;   /* ... and the blank line that ends its headers */
	bool started;     /* the body's first bytes came: sink or buffer is decided */
	bool to_sink;
	int refused;      /* TC_HTTP_ESINK or TC_HTTP_EPROTO when the write callback said no */
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

/* ---- the callbacks ----------------------------------------------------------------------- */

/* The value of header `name` in one raw header line, or NULL; *vlen without the CRLF. */
static const char *
header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

/* Called once per header line, the status line and the blank line included. */
static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct tc_http_resp *rs = x->rs;
	size_t len = size * n, vl;
	const char *v;
	char num[32];
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new answer (the final one after any 1xx): forget what came before */
		const char *sp = memchr(buf, ' ', len);
		int status = sp ? atoi(sp + 1) : 0;
		rs->content_length = -1;
		rs->chunked = false;
		rs->content_range[0] = rs->set_cookie[0] = '\0';
		x->status_seen = status >= 200;
		x->head_done = false;
	} else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		x->head_done = x->status_seen;
	} else if ((v = header_value(buf, len, "Content-Length", &vl))) {
		snprintf(num, sizeof(num), "%.*s", (int)(vl < sizeof(num) ? vl : 0), v);
		rs->content_length = num[0] ? strtoll(num, NULL, 10) : -1;
	} else if ((v = header_value(buf, len, "Transfer-Encoding", &vl))) {
		for (size_t i = 0; i + 7 <= vl && !rs->chunked; i++)
			rs->chunked = strncasecmp(v + i, "chunked", 7) == 0;
	} else if ((v = header_value(buf, len, "Content-Range", &vl))) {
		snprintf(rs->content_range, sizeof(rs->content_range), "%.*s", (int)vl, v);
	} else if ((v = header_value(buf, len, "Set-Cookie", &vl))) {
		snprintf(rs->set_cookie, sizeof(rs->set_cookie), "%.*s", (int)vl, v);
	}
	return len;
}

/* Body bytes: to the sink for a 2xx answer when the caller gave one, else into rs->body. */
static size_t
on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct tc_http_resp *rs = x->rs;
	size_t len = size * n;
	if (!x->started) {
		long code = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		rs->status = (int)code; /* the sink may look at it (a 200 answering a Range) */
		x->to_sink = x->rq->sink && code >= 200 && code < 300;
		x->started = true;
	}
	if (x->to_sink) {
		if (x->rq->sink(x->rq->sink_arg, buf, len) != 0) {
			x->refused = TC_HTTP_ESINK;
			return CURL_WRITEFUNC_ERROR;
		}
		return len;
	}
	if (rs->body_len + len > MAX_BUFFERED) {
		x->refused = TC_HTTP_EPROTO;
		return CURL_WRITEFUNC_ERROR;
	}
	if (rs->body_len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < rs->body_len + len + 1)
			cap *= 2;
		char *nb = realloc(rs->body, cap);
		if (!nb) {
			x->refused = TC_HTTP_EPROTO;
			return CURL_WRITEFUNC_ERROR;
		}
		rs->body = nb;
		x->cap = cap;
	}
	memcpy(rs->body + rs->body_len, buf, len);
	rs->body_len += len;
	rs->body[rs->body_len] = '\0';
	return len;
}

/* Connected, TLS done, the request is about to go: later failures are not "unreachable". */
static int
on_prereq(void *arg, char *remote_ip, char *local_ip, int remote_port, int local_port)
{
	(void)remote_ip;
	(void)local_ip;
	(void)remote_port;
	(void)local_port;
	((struct xfer *)arg)->sent = true;
	return CURL_PREREQFUNC_OK;
}

/* ---- the request ------------------------------------------------------------------------- */

static CURLcode global_rc = CURLE_FAILED_INIT;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Appends "name: value"; "name:" alone, for an empty value, takes out curl's own header. */
static int
add_header(struct curl_slist **l, const char *name, const char *pre, const char *value)
{
	size_t n = strlen(name) + strlen(pre) + strlen(value) + 3;
	char *s = malloc(n);
	if (!s)
		return -1;
	snprintf(s, n, "%s:%s%s%s", name, *value ? " " : "", pre, value);
	struct curl_slist *nl = curl_slist_append(*l, s);
	free(s);
	if (!nl)
		return -1;
	*l = nl;
	return 0;
}

static struct curl_slist *
build_headers(const struct tc_http_req *rq, bool posts)
{
	struct curl_slist *l = NULL;
	/* "Expect:" stops curl from waiting for a 100 Continue before larger bodies; an empty
	 * Content-Type stops it from calling an empty POST a form */
	if (add_header(&l, "Expect", "", "") < 0 ||
		(rq->token && add_header(&l, "Authorization", "Bearer ", rq->token) < 0) ||
		(rq->cookie && add_header(&l, "Cookie", "", rq->cookie) < 0) ||
		(rq->csrf && add_header(&l, "X-CSRF-Token", "", rq->csrf) < 0) ||
		(rq->range && add_header(&l, "Range", "", rq->range) < 0) ||
		(posts && add_header(&l, "Content-Type", "", rq->body ? "application/json" : "") < 0)) {
		curl_slist_free_all(l);
		return NULL;
	}
	return l;
}

/* The URL of the request: the target's scheme, host, port and prefix, then the path as is.
 * A '%' in an IPv6 host (a zone, fe80::1%eth0) is written %25 as URLs want. */
static char *
build_url(const struct tc_http_target *t, const char *path)
{
	char host[3 * sizeof(t->host)];
	size_t n = 0;
	for (const char *s = t->host; *s; s++) {
		if (*s == '%') {
			memcpy(host + n, "%25", 3);
			n += 3;
		} else {
			host[n++] = *s;
		}
	}
	host[n] = '\0';
	bool v6 = strchr(t->host, ':') != NULL;
	size_t len = strlen(host) + strlen(t->prefix) + strlen(path) + 32;
	char *url = malloc(len);
	if (url)
		snprintf(url, len, "%s://%s%s%s:%s%s%s", t->tls ? "https" : "http", v6 ? "[" : "",
			host, v6 ? "]" : "", t->port, t->prefix, path);
	return url;
}

/* curl's text without a leading "prefix", or what curl says of the code when it gave none. */
static const char *
reason(const char *ebuf, CURLcode cc, const char *prefix)
{
	if (!ebuf[0])
		return curl_easy_strerror(cc);
	size_t n = strlen(prefix);
	return n && strncmp(ebuf, prefix, n) == 0 ? ebuf + n : ebuf;
}

/* OpenSSL's reason alone: "OpenSSL/3.0.x: error:0A00010B:SSL routines::wrong version number"
 * gives "wrong version number". */
static const char *
tls_reason(const char *ebuf, CURLcode cc)
{
	const char *r = reason(ebuf, cc, ""), *p = strstr(r, "::");
	return strncmp(r, "OpenSSL/", 8) == 0 && p && p[2] ? p + 2 : r;
}

/* Sorts a failed transfer into a TC_HTTP_E* with a message for people; the texts are the ones
 * tidectl printed before libcurl, system reasons now coming from curl. */
static int
map_error(const struct xfer *x, const struct tc_http_target *t, const char *url, CURLcode cc,
	const char *ebuf, char *err, size_t errlen)
{
	if (x->refused == TC_HTTP_ESINK) {
		seterr(err, errlen, "could not store the answer");
		return TC_HTTP_ESINK;
	}
	if (x->refused == TC_HTTP_EPROTO || cc == CURLE_OUT_OF_MEMORY) {
		seterr(err, errlen, "malformed or oversized answer body");
		return TC_HTTP_EPROTO;
	}
	if (x->head_done) {
		/* whatever broke it (reset, timeout, short of Content-Length, no last chunk), the
		 * body is cut: a Range request can take it up from here */
		if (cc == CURLE_BAD_CONTENT_ENCODING || cc == CURLE_WEIRD_SERVER_REPLY) {
			seterr(err, errlen, "malformed or oversized answer body");
			return TC_HTTP_EPROTO;
		}
		seterr(err, errlen, "the connection ended in the middle of the answer");
		return TC_HTTP_EBROKEN;
	}
	if (x->status_seen) {
		seterr(err, errlen, "connection closed in the answer's headers");
		return TC_HTTP_EPROTO;
	}
	if (x->sent) {
		switch (cc) {
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_UNSUPPORTED_PROTOCOL: /* HTTP/0.9 and such */
			seterr(err, errlen, "not an HTTP answer");
			return TC_HTTP_EPROTO;
		case CURLE_SEND_ERROR:
			seterr(err, errlen, "cannot send the request to %s: %s", t->host,
				reason(ebuf, cc, ""));
			return TC_HTTP_ECONNECT;
		case CURLE_OPERATION_TIMEDOUT:
			seterr(err, errlen, "no answer from %s in %d s", t->host,
				(t->timeout_ms + 999) / 1000);
			return TC_HTTP_ECONNECT;
		default:
			seterr(err, errlen, "the server closed the connection without answering");
			return TC_HTTP_ECONNECT;
		}
	}
	long oserr = 0;
	const char *why;
	switch (cc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		seterr(err, errlen, "bad URL %s: %s", url, reason(ebuf, cc, ""));
		return TC_HTTP_EURL;
	case CURLE_COULDNT_RESOLVE_HOST:
		/* curl's text only names the host again */
		seterr(err, errlen, "cannot resolve %s: %s", t->host, curl_easy_strerror(cc));
		return TC_HTTP_ECONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
		why = reason(ebuf, cc, "SSL certificate problem: ");
		seterr(err, errlen, "TLS: certificate of %s not trusted: %s", t->host,
			why == ebuf ? reason(ebuf, cc, "SSL: ") : why);
		return TC_HTTP_ECONNECT;
	case CURLE_SSL_CACERT_BADFILE:
		seterr(err, errlen, "TLS: cannot load CA certificates%s%s", t->cacert ? " from " : "",
			t->cacert ? t->cacert : "");
		return TC_HTTP_ECONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		seterr(err, errlen, "TLS handshake with %s failed: %s", t->host, tls_reason(ebuf, cc));
		return TC_HTTP_ECONNECT;
	default:
		/* refused, unreachable or out of time; the connect timeout covers the TLS handshake
		 * too, and only curl's text ("SSL connection timeout") tells which part ran out */
		curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &oserr);
		why = cc == CURLE_OPERATION_TIMEDOUT ? strerror(ETIMEDOUT)
			: oserr ? strerror((int)oserr) : reason(ebuf, cc, "");
		if (t->tls && cc == CURLE_OPERATION_TIMEDOUT && strstr(ebuf, "SSL"))
			seterr(err, errlen, "TLS handshake with %s failed: %s", t->host, why);
		else
			seterr(err, errlen, "cannot connect to %s port %s: %s", t->host, t->port, why);
		return TC_HTTP_ECONNECT;
	}
}

int
tc_http_do(const struct tc_http_target *t, const struct tc_http_req *rq,
	struct tc_http_resp *rs, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	rs->content_length = -1;
	err[0] = '\0';
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		seterr(err, errlen, "cannot start libcurl: %s", curl_easy_strerror(global_rc));
		return TC_HTTP_ECONNECT;
	}
	bool head = strcmp(rq->method, "HEAD") == 0;
	bool posts = rq->body || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0;
	/* a value with a line break would forge headers */
	const char *values[] = { rq->token, rq->cookie, rq->csrf, rq->range };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (values[i] && strpbrk(values[i], "\r\n")) {
			seterr(err, errlen, "a header value holds a line break; refused");
			return TC_HTTP_EPROTO;
		}
	}
	char *url = build_url(t, rq->path);
	struct curl_slist *hl = build_headers(rq, posts);
	struct xfer x = { .h = curl_easy_init(), .rq = rq, .rs = rs };
	if (!url || !hl || !x.h) {
		seterr(err, errlen, "cannot set up the request (out of memory)");
		free(url);
		curl_slist_free_all(hl);
		if (x.h)
			curl_easy_cleanup(x.h);
		return TC_HTTP_EPROTO;
	}
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *h = x.h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tidectl/" TIDE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (head) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (posts) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)(rq->body ? rq->body_len : 0));
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		}
	}
	if (t->timeout_ms > 0) {
		/* not a total timeout: a download may take hours, but never stalls that long */
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->timeout_ms);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((t->timeout_ms + 999) / 1000));
	}
	if (t->tls) {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (t->insecure) {
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		} else if (t->cacert) {
			/* only the given CAs, not the system's directory besides */
			curl_easy_setopt(h, CURLOPT_CAINFO, t->cacert);
			curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		}
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, &x);

	CURLcode cc = curl_easy_perform(h);
	if (x.status_seen) {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		rs->status = (int)code;
	}
	int rc = cc == CURLE_OK && !x.refused ? TC_HTTP_OK
					       : map_error(&x, t, url, cc, ebuf, err, errlen);
	rs->complete = rc == TC_HTTP_OK;
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	free(url);
	return rc;
}

void
tc_http_resp_free(struct tc_http_resp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
}
