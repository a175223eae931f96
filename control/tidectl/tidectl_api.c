/* tidectl_api.c — REST calls for tidectl's commands: JSON in and out, the server's error
 * answer ({"error":{"code","message"}}) printed for people, and the HTTP status mapped to
 * tidectl's exit codes (tidectl.h), so every command fails the same way. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidectl.h"

void
tc_err(const char *fmt, ...)
{
	va_list ap;
	fputs("tidectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
tc_exit_for_status(int status)
{
	switch (status) {
	case 401: case 403: return TC_AUTH;
	case 404: return TC_NOTFOUND;
	case 409: return TC_CONFLICT;
	case 400: case 413: case 415: case 416: case 422: return TC_INVALID;
	case 0: return TC_UNREACHABLE;
	default: return status >= 200 && status < 300 ? TC_OK : TC_ERR;
	}
}

char *
tc_escape(const char *s, bool keep_slash, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s && n + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			strchr("-._~", ch) || (keep_slash && ch == '/')) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
	return out;
}

long long
tc_id(const char *s)
{
	char *end;
	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15)
		return 0;
	long long v = strtoll(s, &end, 10);
	return v > 0 ? v : 0;
}

static void
print_error(int status, const char *body, size_t len)
{
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (code)
		tc_err("%s (HTTP %d %s)", msg ? msg : code, status, code);
	else
		tc_err("HTTP %d from the server", status);
	if (status == 401)
		fputs("tidectl: check the token (--token, TIDE_TOKEN or the config file)\n", stderr);
	json_decref(j);
}

static int
call(struct tc_ctx *c, const char *method, const char *path, json_t *body, json_t **out,
	int *status, bool loud)
{
	if (out)
		*out = NULL;
	if (status)
		*status = 0;
	int rc = tc_ctx_ready(c, true);
	if (rc)
		return rc;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct tc_http_req rq = {
		.method = method, .path = path, .token = c->token,
		.body = text, .body_len = text ? strlen(text) : 0,
	};
	struct tc_http_resp rs;
	char err[512];
	rc = tc_http_do(&c->target, &rq, &rs, err, sizeof(err));
	free(text);
	if (rc) {
		if (loud)
			tc_err("%s", err);
		tc_http_resp_free(&rs);
		return rc == TC_HTTP_ECONNECT ? TC_UNREACHABLE : TC_ERR;
	}
	if (status)
		*status = rs.status;
	if (rs.status < 200 || rs.status >= 300) {
		if (loud)
			print_error(rs.status, rs.body, rs.body_len);
		tc_http_resp_free(&rs);
		return tc_exit_for_status(rs.status);
	}
	if (out && rs.body_len) {
		json_error_t je;
		*out = json_loadb(rs.body, rs.body_len, 0, &je);
		if (!*out) {
			if (loud)
				tc_err("the server's answer is not JSON: %s", je.text);
			tc_http_resp_free(&rs);
			return TC_ERR;
		}
	}
	tc_http_resp_free(&rs);
	return TC_OK;
}

int
tc_api(struct tc_ctx *c, const char *method, const char *path, json_t *body, json_t **out)
{
	return call(c, method, path, body, out, NULL, true);
}

int
tc_api_quiet(struct tc_ctx *c, const char *method, const char *path, json_t *body,
	json_t **out, int *status)
{
	return call(c, method, path, body, out, status, false);
}

int
tc_api_stream(struct tc_ctx *c, const char *path, const char *range, tc_http_sink sink,
	void *arg, struct tc_http_resp *rs)
{
	int rc = tc_ctx_ready(c, true);
	if (rc) {
		memset(rs, 0, sizeof(*rs));
		return rc;
	}
	struct tc_http_req rq = {
		.method = "GET", .path = path, .token = c->token, .range = range,
		.sink = sink, .sink_arg = arg,
	};
	char err[512];
	rc = tc_http_do(&c->target, &rq, rs, err, sizeof(err));
	if (rc == TC_HTTP_ECONNECT) {
		tc_err("%s", err);
		return TC_UNREACHABLE;
	}
	if (rs->status && (rs->status < 200 || rs->status >= 300)) {
		print_error(rs->status, rs->body, rs->body_len);
		return tc_exit_for_status(rs->status);
	}
	if (rc) {
		tc_err("%s", err);
		return rc == TC_HTTP_EBROKEN ? TC_VERIFY : TC_ERR;
	}
	return TC_OK;
}
