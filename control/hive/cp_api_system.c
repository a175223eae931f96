/* cp_api_system.c — health, the catalogues (permissions; counters, drop reasons with their
 * hints, stop reasons and states from the job contract's registry; the drones' tuning keys),
 * the audit log and the log download.
 *
 * GET /health is one of the two routes needing no credentials (login is the other): it answers
 * ok and the version, and touches the database so a broken disk shows. The audit log is read
 * here and only read: there is no route that changes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include "cp_api.h"
#include "cp_db.h"
#include "cp_http.h"
#include "tide_log.h"
#include "cp_routes.h"
#include "tide_counters.h"
#include "tide_tuning.h"

#ifndef TIDE_VERSION
#define TIDE_VERSION "unknown"
#endif

static const char sql_schema_version[] = "PRAGMA user_version";
static const char sql_audit_page[] =
	"SELECT id, time, actor, address, action, target, detail FROM audit"
	" WHERE (?1 = 0 OR id < ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR actor = ?3)"
	" ORDER BY id DESC LIMIT ?4";

static int
get_health(struct cp_req *r)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_schema_version);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (rc != SQLITE_ROW)
		return cp_fail(r, 503, "unhealthy", "the database does not answer");
	return cp_reply(r, 200, json_pack("{s:s, s:s, s:i}", "status", "ok", "version",
		TIDE_VERSION, "schema", sqlite3_column_int(st, 0)));
}

static int
get_permissions(struct cp_req *r)
{
	json_t *items = json_array();
	for (int p = CP_PERM_FIRST_NAMED; p < CP_PERM_END; p++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "name",
			cp_perm_name((enum cp_perm)p), "description",
			cp_perm_description((enum cp_perm)p)));
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

static int
get_audit(struct cp_req *r)
{
	static const char *const params[] = { "limit", "before", "action", "actor", NULL };
	int64_t limit, before;
	char action[64], actor[CP_USERNAME_MAX + 1];
	if (cp_api_check_query(r, params) ||
		cp_query_int(r, "limit", 1, CP_LIST_MAX, 100, &limit) ||
		cp_query_int(r, "before", 0, INT64_MAX, 0, &before))
		return r->status;
	int has_action = cp_query(r, "action", action, sizeof(action));
	int has_actor = cp_query(r, "actor", actor, sizeof(actor));
	if (has_action == -E2BIG || has_actor == -E2BIG)
		return cp_fail(r, 400, "invalid_parameter", "action or actor is too long");

	sqlite3_stmt *st = cp_db_stmt(r->db, sql_audit_page);
	if (!st)
		return cp_fail_errno(r, -EIO, "reading the audit log");
	sqlite3_bind_int64(st, 1, before);
	if (has_action == 0)
		sqlite3_bind_text(st, 2, action, -1, SQLITE_TRANSIENT);
	if (has_actor == 0)
		sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, limit);
	json_t *items = json_array();
	int64_t last = 0, n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(st, 6);
		json_t *d = json_loads(detail ? detail : "{}", 0, NULL);
		last = sqlite3_column_int64(st, 0);
		n++;
		json_array_append_new(items, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:o}",
			"id", (json_int_t)last, "time", cp_api_time(sqlite3_column_int64(st, 1)),
			"actor", (const char *)sqlite3_column_text(st, 2),
			"address", (const char *)sqlite3_column_text(st, 3),
			"action", (const char *)sqlite3_column_text(st, 4),
			"target", (const char *)sqlite3_column_text(st, 5),
			"detail", d ? d : json_object()));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		return cp_fail_errno(r, cp_db_errno(rc), "reading the audit log");
	}
	/* keyset paging: the next page is everything older than the last row shown */
	return cp_reply(r, 200, json_pack("{s:o, s:o}", "items", items, "next_before",
		n == limit ? json_integer(last) : json_null()));
}

/* Streams the log file as it is when the request arrives (its size then): the file grows while
 * it is sent, and this request's own access line must not make the length wrong. */
static int
get_logs(struct cp_req *r)
{
	const char *path = tide_log_path();
	if (!path)
		return cp_fail(r, 404, "no_log_file",
			"tide-control logs to stderr only (log_file = -); see the system journal");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		return cp_fail_errno(r, err, "reading the log");
	}
	size_t size = 64 * 1024; /* on the heap: worker stacks are small (cp_http.c) */
	char *buf = malloc(size);
	if (!buf) {
		close(fd);
		return cp_fail_errno(r, -ENOMEM, "reading the log");
	}
	r->status = 200;
	cp_header(r, "Content-Disposition", "attachment; filename=\"tide-control.log\"");
	cp_http_head(r, "text/plain; charset=utf-8", st.st_size);
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = read(fd, buf, left < (off_t)size ? (size_t)left : size);
		if (n <= 0 || mg_write(r->conn, buf, (size_t)n) <= 0)
			break; /* the client sees a short body; nothing else can be said now */
		left -= n;
	}
	free(buf);
	close(fd);
	return r->status;
}

/* The registry (dataplane/contract/tide_counters.h) as it is compiled in: clients show hints
 * and state descriptions from here instead of copying them. */
static int
get_meta_counters(struct cp_req *r)
{
	json_t *m = tide_counters_to_json();
	return m ? cp_reply(r, 200, m) : cp_fail_errno(r, -ENOMEM, "describing the counters");
}

/* The drone's tuning keys (dataplane/contract/tide_tuning.h) with their kinds, bounds, defaults
 * and help: the console builds its tuning form from here. */
static int
get_meta_tuning(struct cp_req *r)
{
	json_t *m = tide_tuning_to_json();
	return m ? cp_reply(r, 200, m) : cp_fail_errno(r, -ENOMEM, "describing the tuning");
}

CP_ROUTE_TABLE(cp_api_system_routes,
	{ "GET", "/api/v1/health", CP_PERM_PUBLIC, get_health },
	{ "GET", "/api/v1/permissions", CP_PERM_AUTHENTICATED, get_permissions },
	{ "GET", "/api/v1/meta/counters", CP_PERM_AUTHENTICATED, get_meta_counters },
	{ "GET", "/api/v1/meta/tuning", CP_PERM_AUTHENTICATED, get_meta_tuning },
	{ "GET", "/api/v1/audit", CP_PERM_AUDIT_READ, get_audit },
	{ "GET", "/api/v1/logs", CP_PERM_LOGS_READ, get_logs },
);
