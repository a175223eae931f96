/* cp_routes.h — the REST API's route table: {method, pattern, permission, handler} as data.
 *
 * Each API file exports one table (CP_ROUTE_TABLE) and cp_routes.c lists the tables, so adding
 * an area (jobs, drones, datasets) is one new file plus one line there. A request that matches
 * no pattern is 404; a known path with another method is 405. cp_routes_check() runs before the
 * server starts and refuses a table whose row lacks a permission or a handler, has a bad
 * pattern or repeats a (method, pattern) — deny by default is enforced at start-up.
 * `tide-control --list-routes` prints the table; a test compares it with control/openapi.json. */
#ifndef CP_ROUTES_H
#define CP_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "cp_perm.h"

struct cp_req;

struct cp_route {
	const char *method;  /* GET, POST, PUT, PATCH or DELETE */
	const char *pattern; /* "/api/v1/users/{id}": a {name} segment matches one path segment,
	                      * a last {name...} the rest of the path (cp_routes.c) */
	enum cp_perm perm;   /* required: CP_PERM_PUBLIC, CP_PERM_AUTHENTICATED or a named one */
	int (*handler)(struct cp_req *r); /* returns the HTTP status it answered (cp_reply) */
};

struct cp_route_table {
	const struct cp_route *routes;
	size_t count;
};

#define CP_ROUTE_TABLE(name, ...)                                                               \
	static const struct cp_route name##_rows[] = { __VA_ARGS__ };                           \
	const struct cp_route_table name = { name##_rows,                                       \
		sizeof(name##_rows) / sizeof(name##_rows[0]) }

/* The tables, one per API file. */
extern const struct cp_route_table cp_api_system_routes; /* health, permissions, audit, logs */
extern const struct cp_route_table cp_api_auth_routes;   /* login, logout, me, tokens */
extern const struct cp_route_table cp_api_users_routes;  /* users, groups */
extern const struct cp_route_table cp_api_jobs_routes;   /* jobs and their links */
extern const struct cp_route_table cp_api_datasets_routes; /* a job's files, archive, apps */
extern const struct cp_route_table cp_api_drones_routes; /* drones, links, tuning */
extern const struct cp_route_table cp_api_uploads_routes; /* drones' file uploads */

/* 0, or -EINVAL after logging every bad row. */
int cp_routes_check(void);
/* Finds the route for method and path, filling r->params. NULL when none: then *allow holds
 * the methods the path accepts ("" when the path is unknown → 404, else 405). */
const struct cp_route *cp_routes_match(struct cp_req *r, char *allow, size_t allow_size);
/* "METHOD PATTERN PERMISSION" lines, sorted as declared. */
void cp_routes_list(FILE *out);

#endif
