/* cp_routes.c — the list of route tables, their start-up check and the matcher.
 *
 * Matching is a linear scan comparing segment by segment: tens of routes, a few hundred
 * nanoseconds, and no allocation. A {param} segment accepts [A-Za-z0-9_-][A-Za-z0-9._-]* up to
 * CP_PARAM_MAX bytes, so "." and ".." (however they were encoded) never match a parameter. A
 * last segment {name...} takes the rest of the path (a dataset file's relative path): one or
 * more such segments joined by '/', CP_PARAM_MAX bytes in all, so it never holds "..", ".",
 * an empty segment or a leading '/' either. */
#include <errno.h>
#include <string.h>

#include "cp_http.h"
#include "tide_log.h"
#include "cp_routes.h"

/* One line per API area; jobs, drones and datasets slot in here. */
static const struct cp_route_table *const tables[] = {
	&cp_api_system_routes,
	&cp_api_auth_routes,
	&cp_api_users_routes,
	&cp_api_jobs_routes,
	&cp_api_datasets_routes,
	&cp_api_drones_routes,
	&cp_api_uploads_routes,
};

#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

static bool
param_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '-' || (!first && c == '.');
}

static int
check_pattern(const char *p)
{
	static const char prefix[] = "/api/v1/";
	int n_params = 0;
	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	for (const char *s = p + 1; *s;) {
		const char *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len == 0)
			return -EINVAL;
		if (s[0] == '{') {
			if (len < 3 || s[len - 1] != '}' || ++n_params > CP_MAX_PARAMS)
				return -EINVAL;
			if (len > 5 && memcmp(s + len - 4, "...}", 4) == 0 && end)
				return -EINVAL; /* a rest-of-path parameter is the last segment */
		} else {
			for (size_t i = 0; i < len; i++)
				if (!param_char(s[i], i == 0) || s[i] == '{' || s[i] == '}')
					return -EINVAL;
		}
		s += len + (end ? 1 : 0);
		if (end && !*s)
			return -EINVAL; /* trailing slash */
	}
	return 0;
}

static bool
known_method(const char *m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i]) == 0)
			return true;
	return false;
}

int
cp_routes_check(void)
{
	int bad = 0;
	for (size_t t = 0; t < N_TABLES; t++) {
		for (size_t i = 0; i < tables[t]->count; i++) {
			const struct cp_route *r = &tables[t]->routes[i];
			const char *why = NULL;
			if (!r->method || !known_method(r->method))
				why = "unknown method";
			else if (!r->pattern || check_pattern(r->pattern))
				why = "bad pattern";
			else if (r->perm <= CP_PERM_UNSET || r->perm >= CP_PERM_END)
				why = "no permission declared";
			else if (!r->handler)
				why = "no handler";
			for (size_t u = 0; !why && u <= t; u++) {
				size_t end = u == t ? i : tables[u]->count;
				for (size_t j = 0; j < end; j++) {
					const struct cp_route *o = &tables[u]->routes[j];
					if (strcmp(o->method, r->method) == 0 &&
						strcmp(o->pattern, r->pattern) == 0)
						why = "duplicate";
				}
			}
			if (why) {
				tide_error("routes", "route %s %s: %s", r->method ? r->method : "?",
					r->pattern ? r->pattern : "?", why);
				bad++;
			}
		}
	}
	return bad ? -EINVAL : 0;
}

/* Does the rest of a path s (after a '/') match a {name...} segment? */
static bool
match_tail(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > CP_PARAM_MAX)
		return false;
	bool first = true;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/') {
			if (first)
				return false; /* empty segment */
			first = true;
			continue;
		}
		if (!param_char(s[i], first))
			return false;
		first = false;
	}
	return !first; /* no trailing slash */
}

/* Does path match pattern? Fills params when it does. */
static bool
match_path(const char *pattern, const char *path, struct cp_req *r)
{
	int n = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		const char *pe = strchr(p, '/'), *se = strchr(s, '/');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		size_t sl = se ? (size_t)(se - s) : strlen(s);
		if (p[0] == '{' && pl > 5 && memcmp(p + pl - 4, "...}", 4) == 0) {
			if (!match_tail(s))
				return false;
			snprintf(r->params[n++], sizeof(r->params[0]), "%s", s);
			r->n_params = n;
			return true;
		} else if (p[0] == '{') {
			if (sl == 0 || sl > CP_PARAM_MAX)
				return false;
			for (size_t i = 0; i < sl; i++)
				if (!param_char(s[i], i == 0))
					return false;
			memcpy(r->params[n], s, sl);
			r->params[n][sl] = '\0';
			n++;
		} else if (pl != sl || memcmp(p, s, pl) != 0) {
			return false;
		}
		p += pl;
		s += sl;
	}
	if (*p || *s)
		return false;
	r->n_params = n;
	return true;
}

const struct cp_route *
cp_routes_match(struct cp_req *r, char *allow, size_t allow_size)
{
	size_t used = 0;
	allow[0] = '\0';
	for (size_t t = 0; t < N_TABLES; t++) {
		for (size_t i = 0; i < tables[t]->count; i++) {
			const struct cp_route *rt = &tables[t]->routes[i];
			if (!match_path(rt->pattern, r->path, r))
				continue;
			if (strcmp(rt->method, r->method) == 0)
				return rt;
			int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
				rt->method);
			if (w > 0 && (size_t)w < allow_size - used)
				used += (size_t)w;
		}
	}
	return NULL;
}

void
cp_routes_list(FILE *out)
{
	for (size_t t = 0; t < N_TABLES; t++)
		for (size_t i = 0; i < tables[t]->count; i++) {
			const struct cp_route *r = &tables[t]->routes[i];
			fprintf(out, "%s %s %s\n", r->method, r->pattern, cp_perm_name(r->perm));
		}
}
