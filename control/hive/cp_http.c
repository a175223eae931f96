/* cp_http.c — civetweb set-up and the request pipeline in front of every API handler.
 *
 * Pipeline (handle_api): route match (404/405) → declared body size (413, connection closed) →
 * credentials (401) → CSRF for cookie sessions on state-changing methods (403) → the route's
 * permission (403) → body read under the cap (413), media type (415), JSON parse (400) →
 * handler → response → access log line. Each civetweb worker thread keeps one SQLite
 * connection for its lifetime (opened on first use, closed by exit_thread); every cached
 * statement is reset when the request ends.
 *
 * civetweb's own file serving is not used (no document_root): static files go through
 * cp_static.c, which resolves paths itself, so there is one place to audit for traversal.
 *
 * Stack budget: Debian builds civetweb with 100 KiB worker stacks. Handlers keep large
 * buffers on the heap, and bodies are parsed by cp_json_parse (cp_json.h), which caps JSON
 * nesting before jansson's recursive parser sees it. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/ssl.h>

#include "cp_auth.h"
#include "cp_db.h"
#include "cp_drone_ws.h"
#include "cp_drones.h"
#include "cp_http.h"
#include "cp_json.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"

#ifndef CP_SSL_SHIM_DIR
#define CP_SSL_SHIM_DIR "/usr/local/lib/tide"
#endif
#define CP_SSL_SHIM_NAME "cp_ssl_shim.so"

static __thread struct cp_db *worker_db;
static void *ssl_shim;

/* ---- answers ---------------------------------------------------------------------------- */

int
cp_reply(struct cp_req *r, int status, json_t *body)
{
	json_decref(r->resp);
	r->resp = body;
	r->status = status;
	return status;
}

int
cp_fail(struct cp_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->error_code = code;
	return cp_reply(r, status,
		json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

int
cp_fail_errno(struct cp_req *r, int err, const char *what)
{
	switch (err) {
	case -EEXIST:
		return cp_fail(r, 409, "conflict", "%s: conflicts with an existing record", what);
	case -EBUSY:
		cp_header(r, "Retry-After", "1");
		return cp_fail(r, 503, "busy", "%s: the database is busy, try again", what);
	case -ENOSPC:
		return cp_fail(r, 507, "disk_full", "%s: no space left for the database", what);
	default:
		tide_error("http", "%s %s: %s failed: %s", r->method, r->path, what, strerror(-err));
		return cp_fail(r, 500, "internal", "%s failed", what);
	}
}

void
cp_header(struct cp_req *r, const char *name, const char *fmt, ...)
{
	char value[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	int n = snprintf(r->headers + r->headers_len, sizeof(r->headers) - r->headers_len,
		"%s: %s\r\n", name, value);
	if (n > 0 && (size_t)n < sizeof(r->headers) - r->headers_len)
		r->headers_len += (size_t)n;
	else
		r->headers[r->headers_len] = '\0'; /* bounded by the few headers we set */
}

void
cp_http_head(struct cp_req *r, const char *content_type, int64_t len)
{
	struct mg_connection *c = r->conn;
	char num[32];
	mg_response_header_start(c, r->status);
	if (len >= 0 && r->status != 204) {
		mg_response_header_add(c, "Content-Type", content_type, -1);
		snprintf(num, sizeof(num), "%lld", (long long)len);
		mg_response_header_add(c, "Content-Length", num, -1);
	}
	mg_response_header_add(c, "Cache-Control", "no-store", -1);
	mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
	if (r->srv->tls)
		mg_response_header_add(c, "Strict-Transport-Security", "max-age=31536000", -1);
	if (r->headers_len)
		mg_response_header_add_lines(c, r->headers);
	mg_response_header_send(c);
	r->sent = true;
}

void
cp_http_send(struct cp_req *r, const char *content_type, const char *body, size_t len)
{
	cp_http_head(r, content_type, body ? (int64_t)len : -1);
	if (body && len && r->status != 204 && strcmp(r->method, "HEAD") != 0)
		mg_write(r->conn, body, len);
}

static void
send_json(struct cp_req *r)
{
	char *text = NULL;
	if (r->resp) {
		text = json_dumps(r->resp, JSON_COMPACT);
		if (!text) {
			r->status = 500;
			r->error_code = "internal";
		}
	}
	cp_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	cp_http_send(r, "application/json", text, text ? strlen(text) : 0);
	free(text);
}

/* ---- request parameters ------------------------------------------------------------------ */

int64_t
cp_param_id(struct cp_req *r, int i)
{
	const char *s = i < r->n_params ? r->params[i] : "";
	int64_t v = 0;
	if (!*s || *s == '0' || strlen(s) > 16)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		v = v * 10 + (*s - '0');
	}
	if (v <= (1ll << 53))
		return v;
bad:
	cp_fail(r, 404, "not_found", "no such resource");
	return -1;
}

int
cp_query(struct cp_req *r, const char *name, char *buf, size_t size)
{
	const char *qs = r->ri->query_string;
	if (!qs)
		return -ENOENT;
	int n = mg_get_var(qs, strlen(qs), name, buf, size);
	return n >= 0 ? 0 : n == -1 ? -ENOENT : -E2BIG;
}

int
cp_query_int(struct cp_req *r, const char *name, int64_t min, int64_t max, int64_t def,
	int64_t *out)
{
	char buf[24], *end;
	int rc = cp_query(r, name, buf, sizeof(buf));
	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	errno = 0;
	long long v = rc ? 0 : strtoll(buf, &end, 10);
	if (rc || errno || end == buf || *end || v < min || v > max) {
		cp_fail(r, 400, "invalid_parameter", "%s must be an integer from %lld to %lld",
			name, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cp_check_body(struct cp_req *r, const struct cp_field *fields, size_t n_fields)
{
	const char *code = "invalid_body";
	char msg[256];
	if (cp_json_check(r->body, fields, n_fields, &code, msg, sizeof(msg)) == 0)
		return 0;
	cp_fail(r, 400, code, "%s", msg);
	return -1;
}

/* ---- the pipeline ------------------------------------------------------------------------- */

static bool
changes_state(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static bool
json_media_type(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ';
}

/* Reads and parses the body; 0, or an answered status. */
static int
read_body(struct cp_req *r)
{
	const char *te = mg_get_header(r->conn, "Transfer-Encoding");
	long long declared = r->ri->content_length;
	if (declared <= 0 && !te)
		return 0;
	size_t cap = (size_t)r->srv->opt->max_body;
	size_t size = declared > 0 ? (size_t)declared : 64 * 1024, len = 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return cp_fail(r, 503, "busy", "out of memory");
	for (;;) {
		if (len == size) {
			if (declared > 0 || size > cap)
				break;
			size = size * 2 > cap + 1 ? cap + 1 : size * 2;
			char *bigger = realloc(buf, size + 1);
			if (!bigger) {
				free(buf);
				return cp_fail(r, 503, "busy", "out of memory");
			}
			buf = bigger;
		}
		int n = mg_read(r->conn, buf + len, size - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	int status = 0;
	if (len > cap) {
		mg_disable_connection_keep_alive(r->conn);
		cp_header(r, "Connection", "close");
		status = cp_fail(r, 413, "body_too_large",
			"request bodies are limited to %zu bytes", cap);
	} else if (declared > 0 && len != (size_t)declared) {
		status = cp_fail(r, 400, "invalid_body", "the body ended early");
	} else if (len > 0 && !json_media_type(mg_get_header(r->conn, "Content-Type"))) {
		status = cp_fail(r, 415, "unsupported_media_type",
			"send JSON with Content-Type: application/json");
	} else if (len > 0) {
		json_error_t err;
		r->body = cp_json_parse(buf, len, &err);
		if (!r->body && err.line > 0)
			status = cp_fail(r, 400, "bad_json",
				"invalid JSON at line %d column %d: %s", err.line, err.column,
				err.text);
		else if (!r->body)
			status = cp_fail(r, 400, "bad_json", "%s", err.text);
	}
	free(buf);
	return status;
}

static int
handle_api(struct cp_req *r)
{
	char allow[64];
	r->route = cp_routes_match(r, allow, sizeof(allow));
	if (!r->route) {
		if (!allow[0])
			return cp_fail(r, 404, "not_found", "no such resource");
		cp_header(r, "Allow", "%s", allow);
		return cp_fail(r, 405, "method_not_allowed", "%s is not allowed here", r->method);
	}
	if (r->route->perm == CP_PERM_DRONE) {
		/* drone uploads: a drone token, and the handler streams the body itself */
		if (!worker_db && !(worker_db = cp_db_open(r->srv->db_path)))
			return cp_fail(r, 503, "busy", "the database cannot be opened");
		r->db = worker_db;
		int rc = cp_drones_identify(r);
		if (rc == -ENOENT || rc == -EACCES) {
			cp_header(r, "WWW-Authenticate", "Bearer realm=\"tide-drones\"");
			return cp_fail(r, 401, rc == -ENOENT ? "unauthenticated" : "invalid_token",
				"this route needs a drone token");
		}
		if (rc)
			return cp_fail_errno(r, rc, "authentication");
		snprintf(r->who.username, sizeof(r->who.username), "drone:%s", r->drone);
		return r->route->handler(r);
	}
	if (r->ri->content_length > (long long)r->srv->opt->max_body) {
		/* refused unread: close rather than let civetweb drain a huge body */
		mg_disable_connection_keep_alive(r->conn);
		cp_header(r, "Connection", "close");
		return cp_fail(r, 413, "body_too_large", "request bodies are limited to %llu bytes",
			(unsigned long long)r->srv->opt->max_body);
	}
	if (!worker_db) {
		worker_db = cp_db_open(r->srv->db_path);
		if (!worker_db)
			return cp_fail(r, 503, "busy", "the database cannot be opened");
	}
	r->db = worker_db;

	enum cp_perm perm = r->route->perm;
	if (perm != CP_PERM_PUBLIC) {
		int rc = cp_auth_identify(r);
		if (rc == -EACCES) {
			cp_header(r, "WWW-Authenticate",
				"Bearer realm=\"tide\", error=\"invalid_token\"");
			return cp_fail(r, 401, "invalid_token",
				"the token is unknown, revoked or expired");
		}
		if (rc)
			return cp_fail_errno(r, rc, "authentication");
		if (r->who.kind == CP_AUTH_NONE) {
			cp_header(r, "WWW-Authenticate", "Bearer realm=\"tide\"");
			return cp_fail(r, 401, "unauthenticated",
				"sign in (POST /api/v1/auth/login) or send a bearer token");
		}
		if (r->who.kind == CP_AUTH_SESSION && changes_state(r->method)) {
			const char *csrf = mg_get_header(r->conn, "X-CSRF-Token");
			if (!csrf || !cp_secret_equal(csrf, r->who.csrf))
				return cp_fail(r, 403, "csrf",
					"X-CSRF-Token is missing or does not match the session");
		}
		if (perm >= CP_PERM_FIRST_NAMED && !(r->who.perms & cp_perm_bit(perm)))
			return cp_fail(r, 403, "forbidden", "this needs the %s permission",
				cp_perm_name(perm));
	}
	int rc = read_body(r);
	if (rc)
		return rc;
	return r->route->handler(r);
}

/* civetweb is told not to decode URLs (decode_url = no) so that this is the one place that
 * does: "%00" is refused (it would cut the C string and alias another path), and the decoded
 * path is what routing and file look-up see. 0, or an answered 400/414. */
static int
decode_path(struct cp_req *r, const char *raw)
{
	if (!raw || raw[0] != '/')
		return cp_fail(r, 400, "bad_path", "the request target must be an absolute path");
	size_t len = strlen(raw);
	if (len >= sizeof(r->path_buf))
		return cp_fail(r, 414, "uri_too_long", "paths are limited to %zu bytes",
			sizeof(r->path_buf) - 1);
	for (const char *p = raw; (p = strchr(p, '%')); p++)
		if (p[1] == '0' && p[2] == '0')
			return cp_fail(r, 400, "bad_path", "NUL in path");
	if (mg_url_decode(raw, (int)len, r->path_buf, (int)sizeof(r->path_buf), 0) < 0)
		return cp_fail(r, 400, "bad_path", "the path cannot be decoded");
	r->path = r->path_buf;
	return 0;
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int
begin_request(struct mg_connection *conn)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct cp_req *r = calloc(1, sizeof(*r));
	if (!r) {
		mg_send_http_error(conn, 503, "out of memory");
		return 503;
	}
	r->conn = conn;
	r->ri = ri;
	r->srv = ri->user_data;
	r->method = ri->request_method;
	r->path = "";
	snprintf(r->addr, sizeof(r->addr), "%s", ri->remote_addr);

	const char *upgrade = mg_get_header(conn, "Upgrade");
	if (upgrade && strcasecmp(upgrade, "websocket") == 0) {
		/* no WebSocket here; a drone that dials this port is told where to go. Written
		 * by hand: civetweb's response-header functions refuse a WebSocket request. */
		cp_fail(r, 400, "wrong_port", "drones connect to %s://HOST:%d%s (drone_listen), "
			"not to the API's port", r->srv->tls ? "wss" : "ws", cp_drone_ws_port(),
			CP_DRONES_WS_PATH);
		char *text = json_dumps(r->resp, JSON_COMPACT);
		mg_printf(conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
			"Content-Length: %zu\r\nConnection: close\r\n\r\n%s", text ? strlen(text) : 0,
			text ? text : "");
		free(text);
		r->sent = true;
	} else if (decode_path(r, ri->local_uri_raw) == 0) {
		if (strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/api") == 0)
			handle_api(r);
		else
			cp_static_serve(r);
	}
	if (!r->sent)
		send_json(r);

	if (r->srv->opt->access_log)
		tide_info("http", "%s %s %d %.1fms user=%s addr=%s%s%s", r->method, r->path,
			r->status, elapsed_ms(&t0), r->who.kind ? r->who.username : "-", r->addr,
			r->error_code ? " error=" : "", r->error_code ? r->error_code : "");
	if (r->db)
		cp_db_reset_all(r->db);
	json_decref(r->body);
	json_decref(r->resp);
	int status = r->status;
	free(r);
	return status;
}

/* ---- civetweb ------------------------------------------------------------------------------ */

static int
log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	tide_warn("civetweb", "%s", message);
	return 1;
}

static void
exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
	(void)ctx;
	(void)thread_type;
	(void)thread_pointer;
	cp_db_close(worker_db);
	worker_db = NULL;
}

/* Certificate and key from two files (civetweb's ssl_certificate wants both in one), and a
 * TLS 1.2 floor. Returning 1 tells civetweb the context is complete. */
static int
init_ssl(void *ssl_ctx, void *user_data)
{
	const struct cp_server *srv = user_data;
	SSL_CTX *ctx = ssl_ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
		SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, srv->opt->tls_cert) != 1) {
		tide_error("http", "cannot load TLS certificate %s", srv->opt->tls_cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, srv->opt->tls_key, SSL_FILETYPE_PEM) != 1 ||
		SSL_CTX_check_private_key(ctx) != 1) {
		tide_error("http", "cannot load TLS key %s (or it does not match the certificate)",
			srv->opt->tls_key);
		return -1;
	}
	return 1;
}

/* Debian's civetweb 1.15 dlopens "libssl.so" and looks up SSL_get_peer_certificate, which
 * OpenSSL 3 only has as a macro; without it civetweb's TLS never starts. cp_ssl_shim.so has
 * the SONAME "libssl.so", needs the real libssl.so.3 and defines that one function. Loaded
 * here first, it is what civetweb's dlopen("libssl.so") returns (glibc matches loaded objects
 * by SONAME), and dlsym on it finds the shim's function and, through its dependency, every
 * real one. (Exporting the function from tide-control does not work: dlsym on a handle only
 * searches that library and its dependencies.) */
static int
load_ssl_shim(const struct cp_server *srv)
{
	char path[PATH_MAX + sizeof(CP_SSL_SHIM_NAME) + 1];
	const char *tried[4];
	int n = 0;
	if (srv->opt->tls_shim[0]) {
		tried[n++] = srv->opt->tls_shim;
	} else {
		char exe[PATH_MAX];
		ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (len > 0) {
			exe[len] = '\0';
			char *slash = strrchr(exe, '/');
			if (slash) {
				*slash = '\0';
				snprintf(path, sizeof(path), "%s/%s", exe, CP_SSL_SHIM_NAME);
				tried[n++] = path;
			}
		}
		tried[n++] = CP_SSL_SHIM_DIR "/" CP_SSL_SHIM_NAME;
#ifdef CP_BUILD_SSL_SHIM
		tried[n++] = CP_BUILD_SSL_SHIM; /* where this build tree made it */
#endif
	}
	for (int i = 0; i < n; i++) {
		if (access(tried[i], R_OK) != 0)
			continue;
		ssl_shim = dlopen(tried[i], RTLD_NOW | RTLD_GLOBAL);
		if (ssl_shim && dlsym(ssl_shim, "SSL_get_peer_certificate"))
			return 0;
		tide_error("http", "%s: %s", tried[i], ssl_shim ? "not the TLS shim" : dlerror());
		return -ENOENT;
	}
	tide_error("http", "HTTPS needs %s (looked in %s%s%s%s%s); set tls_shim", CP_SSL_SHIM_NAME,
		tried[0], n > 1 ? ", " : "", n > 1 ? tried[1] : "", n > 2 ? ", " : "",
		n > 2 ? tried[n - 1] : "");
	return -ENOENT;
}

/* "ADDR:PORT" / "[V6]:PORT" → civetweb's listening_ports syntax ("s" suffix for TLS). */
static int
listen_spec(const char *listen, bool tls, char *out, size_t size)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || !colon[1] || strlen(colon + 1) > 5)
		return -EINVAL;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (listen[0] != '[' && memchr(listen, ':', (size_t)(colon - listen)))
		return -EINVAL; /* a bare IPv6 address: the port would be ambiguous */
	int n = snprintf(out, size, "%s%s", listen, tls ? "s" : "");
	return n > 0 && (size_t)n < size ? 0 : -EINVAL;
}

int
cp_http_start(struct cp_server *srv)
{
	const struct cp_options *o = srv->opt;
	char ports[128], threads[16];
	srv->tls = o->tls_cert[0] || o->tls_key[0];
	if (srv->tls && (!o->tls_cert[0] || !o->tls_key[0])) {
		tide_error("http", "HTTPS needs both tls_cert and tls_key");
		return -EINVAL;
	}
	if (listen_spec(o->listen, srv->tls, ports, sizeof(ports))) {
		tide_error("http", "bad listen address '%s' (ADDR:PORT or [ADDR]:PORT)", o->listen);
		return -EINVAL;
	}
	if (srv->tls && load_ssl_shim(srv))
		return -ENOENT;
	unsigned features = srv->tls ? MG_FEATURES_TLS : 0;
	if ((mg_init_library(features) & features) != features) {
		tide_error("http", "civetweb could not initialise TLS");
		return -EIO;
	}
	snprintf(threads, sizeof(threads), "%llu", (unsigned long long)o->threads);
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", "5000",
		"request_timeout_ms", "10000",  /* idle time while a request or its body arrives */
		"tcp_nodelay", "1",
		"listen_backlog", "1024",
		"max_request_size", "16384",    /* request line + headers */
		"access_control_allow_origin", "", /* same-origin console; no CORS */
		"static_file_cache_control", "no-cache", /* console files: revalidate by ETag */
		"decode_url", "no",             /* decode_path() does it, refusing %00 */
		NULL,
	};
	struct mg_callbacks cb;
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = begin_request;
	cb.log_message = log_message;
	cb.exit_thread = exit_thread;
	if (srv->tls)
		cb.init_ssl = init_ssl;
	srv->mg = mg_start(&cb, srv, options);
	if (!srv->mg) {
		tide_error("http", "cannot serve on %s", o->listen);
		mg_exit_library();
		return -EADDRINUSE;
	}
	return 0;
}

int
cp_http_port(const struct cp_server *srv)
{
	struct mg_server_port p[4];
	int n = mg_get_server_ports(srv->mg, 4, p);
	return n > 0 ? p[0].port : -ENOENT;
}

void
cp_http_stop(struct cp_server *srv)
{
	if (!srv->mg)
		return; /* never started, or already stopped */
	mg_stop(srv->mg);
	srv->mg = NULL;
	mg_exit_library();
	if (ssl_shim)
		dlclose(ssl_shim);
	ssl_shim = NULL;
}
