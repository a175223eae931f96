/* cp_static.c — serves the web console's files (webui/) for every path outside /api.
 *
 * Traversal is impossible by construction, three times over: a path with a ".." anywhere, a
 * backslash or a segment starting with '.' is refused outright (civetweb has already decoded
 * %2e%2e to ".."); the file is then resolved with realpath(3), symlinks included, and must lie
 * inside the resolved console directory; and it must be a regular file. When the directory (or
 * its index.html) is missing, a built-in placeholder page stands in for "/". */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <civetweb.h>

#include "cp_http.h"

static const char placeholder[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>tide</title></head>\n<body><h1>tide-control</h1>\n"
	"<p>The web console is not installed here. The REST API is served under "
	"<code>/api/v1</code> (see docs/API.md); <code>GET /api/v1/health</code> answers "
	"without signing in.</p></body></html>\n";

static const char file_headers[] =
	"X-Content-Type-Options: nosniff\r\n"
	"X-Frame-Options: DENY\r\n"
	"Referrer-Policy: no-referrer\r\n"
	"Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n";

static bool
safe_path(const char *p)
{
	if (p[0] != '/' || strstr(p, "..") || strchr(p, '\\') || strlen(p) > 1024)
		return false;
	for (const char *s = p; (s = strchr(s, '/')); s++)
		if (s[1] == '.' || s[1] == '/')
			return false; /* hidden files, "//" */
	return true;
}

/* Resolves rel inside the console directory; 0 with a regular file's real path in out. */
static int
resolve(const struct cp_server *srv, const char *rel, char out[PATH_MAX])
{
	char joined[PATH_MAX * 2];
	struct stat st;
	size_t dl = strlen(srv->webui_dir);
	snprintf(joined, sizeof(joined), "%s%s", srv->webui_dir, rel);
	if (!realpath(joined, out))
		return -errno;
	if (strncmp(out, srv->webui_dir, dl) != 0 || out[dl] != '/')
		return -EACCES;
	if (stat(out, &st) != 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	return 0;
}

int
cp_static_serve(struct cp_req *r)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		cp_header(r, "Allow", "GET, HEAD");
		return cp_fail(r, 405, "method_not_allowed", "%s is not allowed here", r->method);
	}
	if (!safe_path(r->path))
		return cp_fail(r, 404, "not_found", "no such file");

	char real[PATH_MAX];
	const char *rel = strcmp(r->path, "/") == 0 ? "/index.html" : r->path;
	int rc = r->srv->webui_dir[0] ? resolve(r->srv, rel, real) : -ENOENT;
	if (rc == 0) {
		r->status = 200; /* or 206/304: civetweb decides from Range and If-* headers */
		mg_send_mime_file2(r->conn, real, NULL, file_headers);
		r->sent = true;
		return r->status;
	}
	if (strcmp(rel, "/index.html") == 0) {
		r->status = 200;
		cp_header(r, "Content-Security-Policy",
			"default-src 'none'; frame-ancestors 'none'");
		cp_http_send(r, "text/html; charset=utf-8", placeholder, sizeof(placeholder) - 1);
		return r->status;
	}
	return cp_fail(r, 404, "not_found", "no such file");
}
