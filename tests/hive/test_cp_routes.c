/* test_cp_routes.c — the route table's start-up check refuses what deny-by-default forbids.
 *
 * Links the real cp_routes.c against tables defined here instead of the API files: rows
 * without a permission, without a handler, with a bad pattern or method, and a duplicate must
 * each be named and make cp_routes_check() fail (tide-control then refuses to start); the
 * matcher fills parameters and never lets "." or ".." be a parameter. Plain C, no framework:
 * exit 0 when every check holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cp_http.h"
#include "tide_log.h"
#include "cp_routes.h"

static int
ok_handler(struct cp_req *r)
{
	(void)r;
	return 200;
}

CP_ROUTE_TABLE(cp_api_system_routes,
	{ "GET", "/api/v1/health", CP_PERM_PUBLIC, ok_handler },
	{ "GET", "/api/v1/things/{id}/parts/{part}", CP_PERM_JOBS_READ, ok_handler },
);
CP_ROUTE_TABLE(cp_api_auth_routes,
	{ "GET", "/api/v1/forgot-permission", .handler = ok_handler },
	{ "POST", "/api/v1/no-handler", CP_PERM_AUTHENTICATED, NULL },
	{ "BREW", "/api/v1/coffee", CP_PERM_PUBLIC, ok_handler },
	{ "GET", "/outside/api", CP_PERM_PUBLIC, ok_handler },
	{ "GET", "/api/v1/trailing/", CP_PERM_PUBLIC, ok_handler },
);
CP_ROUTE_TABLE(cp_api_users_routes,
	{ "GET", "/api/v1/health", CP_PERM_PUBLIC, ok_handler },
	{ "DELETE", "/api/v1/things/{id}/parts/{part}", CP_PERM_JOBS_WRITE, ok_handler },
);
CP_ROUTE_TABLE(cp_api_jobs_routes,
	{ "GET", "/api/v1/boxes/{id}/files/{path...}", CP_PERM_JOBS_READ, ok_handler },
	{ "GET", "/api/v1/boxes/{rest...}/x", CP_PERM_JOBS_READ, ok_handler },
);
CP_ROUTE_TABLE(cp_api_drones_routes,
	{ "PUT", "/api/v1/crates/{id}", CP_PERM_DRONE, ok_handler },
);
CP_ROUTE_TABLE(cp_api_uploads_routes,
	{ "PUT", "/api/v1/crates/{id}/lid", CP_PERM_DRONE, ok_handler },
);

static int failures;

#define CHECK(cond)                                                                             \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                             \
		}                                                                               \
	} while (0)

static const struct cp_route *
match(struct cp_req *r, const char *method, const char *path, char *allow, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->path = path;
	return cp_routes_match(r, allow, size);
}

int
main(void)
{
	char log_path[] = "/tmp/test_cp_routes.XXXXXX";
	int fd = mkstemp(log_path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(tide_log_open(log_path, TIDE_LOG_DEBUG) == 0);
	CHECK(cp_routes_check() == -EINVAL);
	tide_log_close();

	char text[8192] = "";
	FILE *f = fopen(log_path, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	unlink(log_path);
	CHECK(strstr(text, "GET /api/v1/forgot-permission: no permission declared") != NULL);
	CHECK(strstr(text, "POST /api/v1/no-handler: no handler") != NULL);
	CHECK(strstr(text, "BREW /api/v1/coffee: unknown method") != NULL);
	CHECK(strstr(text, "GET /outside/api: bad pattern") != NULL);
	CHECK(strstr(text, "GET /api/v1/trailing/: bad pattern") != NULL);
	CHECK(strstr(text, "GET /api/v1/health: duplicate") != NULL);
	CHECK(strstr(text, "things/{id}/parts/{part}: ") == NULL); /* the good rows pass */
	CHECK(strstr(text, "GET /api/v1/boxes/{rest...}/x: bad pattern") != NULL);
	CHECK(strstr(text, "files/{path...}: ") == NULL);

	struct cp_req *r = calloc(1, sizeof(*r));
	char allow[64];
	const struct cp_route *rt = match(r, "GET", "/api/v1/things/42/parts/wheel-1.2", allow,
		sizeof(allow));
	CHECK(rt && rt->perm == CP_PERM_JOBS_READ);
	CHECK(r->n_params == 2 && strcmp(r->params[0], "42") == 0 &&
		strcmp(r->params[1], "wheel-1.2") == 0);
	CHECK(match(r, "PUT", "/api/v1/things/42/parts/x", allow, sizeof(allow)) == NULL);
	CHECK(strcmp(allow, "GET, DELETE") == 0);
	const char *never[] = { "/api/v1/things/../parts/x", "/api/v1/things/./parts/x",
		"/api/v1/things/42/parts/.hidden", "/api/v1/things//parts/x", "/api/v1/things/42",
		"/api/v1/things/42/parts/x/", "/api/v1/health/", "/api/v1/HEALTH", "" };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		CHECK(match(r, "GET", never[i], allow, sizeof(allow)) == NULL);
		CHECK(allow[0] == '\0');
	}
	/* a rest-of-path parameter: segments as safe as single ones */
	rt = match(r, "GET", "/api/v1/boxes/7/files/shards/a/000001.pcapng", allow, sizeof(allow));
	CHECK(rt && r->n_params == 2 && strcmp(r->params[1], "shards/a/000001.pcapng") == 0);
	const char *never_tail[] = { "/api/v1/boxes/7/files/../../tide.db",
		"/api/v1/boxes/7/files/a/../b", "/api/v1/boxes/7/files//etc/passwd",
		"/api/v1/boxes/7/files/a/", "/api/v1/boxes/7/files/", "/api/v1/boxes/7/files/./a",
		"/api/v1/boxes/7/files/a//b", "/api/v1/boxes/7/files/.tide.lock" };
	for (size_t i = 0; i < sizeof(never_tail) / sizeof(never_tail[0]); i++)
		CHECK(match(r, "GET", never_tail[i], allow, sizeof(allow)) == NULL);
	free(r);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("route table checks: ok\n");
	return failures ? 1 : 0;
}
