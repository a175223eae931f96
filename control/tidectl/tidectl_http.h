/* tidectl_http.h — tidectl's blocking HTTP/1.1 client, on libcurl: one request at a time,
 * http or https only (certificate and host name verified unless insecure), no redirects, no
 * proxy, 2xx bodies streamed to a sink so downloads never sit in memory, and errors sorted into
 * the few kinds tidectl acts on (unreachable, cut mid-body so resumable, refused by the sink). */
#ifndef TIDECTL_HTTP_H
#define TIDECTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct tc_http_target {
	bool tls;
	char host[256];
	char port[8];
	char prefix[256];    /* path before /api/v1, without the trailing slash ("" usually) */
	const char *cacert;  /* PEM file of trusted CAs, NULL = the system's */
	bool insecure;       /* https without verification (tests, first contact) */
	int timeout_ms;      /* connect (TLS included), and the longest stall of a transfer */
};

/* Returns 0 or non-zero (0 = continue). */
typedef int (*tc_http_sink)(void *arg, const char *buf, size_t n);

struct tc_http_req {
	const char *method;
	const char *path;          /* absolute path with query, the target's prefix is prepended */
	const char *token;         /* Authorization: Bearer, or NULL */
	const char *cookie;        /* Cookie, or NULL (login) */
	const char *csrf;          /* X-CSRF-Token, or NULL */
	const char *range;         /* Range header value, or NULL */
	const char *body;          /* JSON body or NULL */
	size_t body_len;
	tc_http_sink sink;         /* 2xx bodies go here when set (else buffered) */
	void *sink_arg;
};

struct tc_http_resp {
	int status;
	char *body;                /* buffered body (error answers, or all without a sink), NUL-ended */
	size_t body_len;
	long long content_length;  /* -1 when not given */
	bool chunked;
	bool complete;             /* the whole body arrived (terminal chunk / all declared bytes);
				    * false whenever tc_http_do fails */
	char content_range[128];
	char set_cookie[512];
};

enum {
	TC_HTTP_OK = 0,
	TC_HTTP_EURL = -1,         /* bad URL */
	TC_HTTP_ECONNECT = -2,     /* resolve, connect, TLS handshake or timeout */
	TC_HTTP_EPROTO = -3,       /* not HTTP, or a buffered body over 64 MiB */
	TC_HTTP_ESINK = -4,        /* the sink refused (disk full, ...) */
	TC_HTTP_EBROKEN = -5,      /* the connection ended in the middle of the body */
};

/* http[s]://host[:port][/prefix]; IPv6 as [addr]. 0 or TC_HTTP_EURL. */
int tc_http_parse_url(const char *url, struct tc_http_target *t);
/* One request. Returns TC_HTTP_OK with rs filled (any status), or a negative TC_HTTP_E* with
 * a reason in err; rs->body is always freeable with tc_http_resp_free. */
int tc_http_do(const struct tc_http_target *t, const struct tc_http_req *rq,
	struct tc_http_resp *rs, char *err, size_t errlen);
void tc_http_resp_free(struct tc_http_resp *rs);

#endif
