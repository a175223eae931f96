/* cp_audit.c — appends audit rows; the reading side is GET /api/v1/audit (cp_api_system.c). */
#include <errno.h>
#include <stdlib.h>

#include "cp_audit.h"
#include "cp_db.h"
#include "cp_http.h"
#include "cp_log.h"

static const char sql_audit_insert[] =
	"INSERT INTO audit (time, actor, address, action, target, detail)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int
cp_audit_append(struct cp_db *db, const char *actor, const char *addr, const char *action,
	const char *target, json_t *detail)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	sqlite3_stmt *st = cp_db_stmt(db, sql_audit_insert);
	if (!st) {
		free(text);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, cp_now_ms());
	sqlite3_bind_text(st, 2, actor && *actor ? actor : "-", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, addr ? addr : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, target ? target : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, text ? text : "{}", -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(text);
	if (rc != SQLITE_DONE) {
		cp_error("audit", "cannot append %s: %s", action, sqlite3_errstr(rc));
		return cp_db_errno(rc);
	}
	return 0;
}

int
cp_audit(struct cp_req *r, const char *action, const char *target, json_t *detail)
{
	return cp_audit_append(r->db, r->who.kind ? r->who.username : NULL, r->addr, action, target,
		detail);
}
