/* cp_api_users.c — users and groups (users.admin).
 *
 * Nobody can gain a permission they do not hold, through any path:
 *  - granting: permissions added to a group, and groups added to a user, must be a subset of
 *    the actor's own permissions;
 *  - taking over: a user or group may only be changed or deleted, and a user's tokens revoked
 *    (cp_api_auth.c), by someone who holds every permission it has (else a users.admin could
 *    reset an admin's password and become admin, or cut an admin off); one function,
 *    cp_api_check_takeover (cp_api.c), applies it everywhere;
 *  - self: a user cannot change their own groups, disable or delete themselves;
 *  - the last enabled member of the built-in admins group cannot be removed, disabled or
 *    deleted, and the admins group always holds every permission.
 * Checks and changes run in one BEGIN IMMEDIATE transaction so they cannot race. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cp_api.h"
#include "cp_audit.h"
#include "cp_auth.h"
#include "cp_db.h"
#include "cp_http.h"
#include "tide_log.h"
#include "cp_routes.h"

#define CP_GROUPS_PER_USER 64

static const char sql_users_page[] = "SELECT id FROM users ORDER BY id LIMIT ?1 OFFSET ?2";
static const char sql_user_row[] = "SELECT username, disabled FROM users WHERE id = ?1";
static const char sql_user_insert[] =
	"INSERT INTO users (username, password_hash, disabled, created_at, updated_at)"
	" VALUES (?1, ?2, ?3, ?4, ?4)";
static const char sql_user_update[] =
	"UPDATE users SET password_hash = coalesce(?2, password_hash),"
	" disabled = coalesce(?3, disabled), updated_at = ?4 WHERE id = ?1";
static const char sql_user_delete[] = "DELETE FROM users WHERE id = ?1";
static const char sql_user_group_ids[] = "SELECT group_id FROM user_groups WHERE user_id = ?1";
static const char sql_user_groups_clear[] = "DELETE FROM user_groups WHERE user_id = ?1";
static const char sql_user_group_add[] =
	"INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?1, ?2)";
static const char sql_user_sessions_end[] =
	"DELETE FROM sessions WHERE user_id = ?1 AND id_hash IS NOT ?2";
static const char sql_is_admin[] =
	"SELECT count(*) FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
	" WHERE ug.user_id = ?1 AND g.builtin = 1 AND g.name = 'admins'";
static const char sql_other_admins[] =
	"SELECT count(*) FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
	" JOIN users u ON u.id = ug.user_id"
	" WHERE g.builtin = 1 AND g.name = 'admins' AND u.disabled = 0 AND u.id <> ?1";
static const char sql_group_by_id[] =
	"SELECT id, name, description, builtin, created_at, quota_bytes, (SELECT"
	" COALESCE(SUM(CASE WHEN state IN ('pending', 'running', 'finishing') THEN max_size"
	" ELSE dataset_bytes END), 0) FROM jobs WHERE group_id = groups.id)"
	" FROM groups WHERE id = ?1";
static const char sql_group_quota[] = "UPDATE groups SET quota_bytes = ?2 WHERE id = ?1";
static const char sql_group_by_name[] =
	"SELECT id, name, description, builtin, created_at FROM groups WHERE name = ?1";
static const char sql_group_perms[] =
	"SELECT permission FROM group_permissions WHERE group_id = ?1";
static const char sql_group_members[] = "SELECT count(*) FROM user_groups WHERE group_id = ?1";
static const char sql_groups_page[] = "SELECT id FROM groups ORDER BY id LIMIT ?1 OFFSET ?2";
static const char sql_group_insert[] =
	"INSERT INTO groups (name, description, created_at) VALUES (?1, ?2, ?3)";
static const char sql_group_update[] =
	"UPDATE groups SET name = coalesce(?2, name), description = coalesce(?3, description)"
	" WHERE id = ?1";
static const char sql_group_delete[] = "DELETE FROM groups WHERE id = ?1";
static const char sql_group_perms_clear[] = "DELETE FROM group_permissions WHERE group_id = ?1";
static const char sql_group_perm_add[] =
	"INSERT OR IGNORE INTO group_permissions (group_id, permission) VALUES (?1, ?2)";

/* ---- small database helpers (0 or -errno) ---------------------------------------------- */

static int
group_perms(struct cp_db *db, int64_t gid, uint64_t *set)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_group_perms);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, gid);
	int rc;
	*set = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*set |= cp_perm_bit(cp_perm_lookup((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

struct group_row {
	int64_t id;
	char name[CP_GROUPNAME_MAX + 1];
	bool builtin;
	uint64_t perms;
};

/* Loads a group by id (name NULL) or by name. 0, -ENOENT or -errno. */
static int
group_load(struct cp_db *db, int64_t id, const char *name, struct group_row *g)
{
	sqlite3_stmt *st = cp_db_stmt(db, name ? sql_group_by_name : sql_group_by_id);
	if (!st)
		return -EIO;
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g->id = sqlite3_column_int64(st, 0);
		snprintf(g->name, sizeof(g->name), "%s", sqlite3_column_text(st, 1));
		g->builtin = sqlite3_column_int(st, 3) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : cp_db_errno(rc);
	return group_perms(db, g->id, &g->perms);
}

static bool
is_admins(const struct group_row *g)
{
	return g->builtin && strcmp(g->name, "admins") == 0;
}

static json_t *
group_json(struct cp_db *db, int64_t id, int *err)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_group_by_id);
	if (!st) {
		*err = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		*err = rc == SQLITE_DONE ? -ENOENT : cp_db_errno(rc);
		return NULL;
	}
	json_t *g = json_pack("{s:I, s:s, s:s, s:b, s:o}", "id", (json_int_t)id,
		"name", (const char *)sqlite3_column_text(st, 1),
		"description", (const char *)sqlite3_column_text(st, 2),
		"builtin", sqlite3_column_int(st, 3),
		"created_at", cp_api_time(sqlite3_column_int64(st, 4)));
	if (g) {
		json_object_set_new(g, "quota_bytes", json_integer(sqlite3_column_int64(st, 5)));
		json_object_set_new(g, "used_bytes", json_integer(sqlite3_column_int64(st, 6)));
	}
	sqlite3_reset(st);
	uint64_t perms;
	int64_t members;
	*err = group_perms(db, id, &perms);
	if (*err == 0)
		*err = cp_db_int(db, sql_group_members, id, &members);
	if (*err || !g) {
		json_decref(g);
		*err = *err ? *err : -ENOMEM;
		return NULL;
	}
	json_object_set_new(g, "permissions", cp_api_perms(perms));
	json_object_set_new(g, "members", json_integer(members));
	return g;
}

/* Resolves a JSON array of group ids or names. 0, or answers (400/5xx) and returns -1. */
static int
resolve_groups(struct cp_req *r, json_t *array, struct group_row *out, size_t *n)
{
	size_t i;
	json_t *v;
	*n = 0;
	json_array_foreach(array, i, v) {
		struct group_row g;
		int rc;
		if (json_is_integer(v))
			rc = group_load(r->db, json_integer_value(v), NULL, &g);
		else if (json_is_string(v) && json_string_length(v) <= CP_GROUPNAME_MAX)
			rc = group_load(r->db, 0, json_string_value(v), &g);
		else
			rc = -ENOENT;
		if (rc == -ENOENT) {
			cp_fail(r, 400, "unknown_group", "groups[%zu] is no group id or name", i);
			return -1;
		}
		if (rc) {
			cp_fail_errno(r, rc, "reading groups");
			return -1;
		}
		bool dup = false;
		for (size_t j = 0; j < *n; j++)
			dup |= out[j].id == g.id;
		if (!dup)
			out[(*n)++] = g;
	}
	return 0;
}

static json_t *
group_names(const struct group_row *g, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(g[i].name));
	return a;
}

/* Answers with a failure inside a transaction: roll back first. */
static int
abort_tx(struct cp_req *r)
{
	cp_db_rollback(r->db);
	return r->status;
}

static int
finish_tx(struct cp_req *r, int rc, const char *what)
{
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	return rc ? cp_fail_errno(r, rc, what) : 0;
}

/* The last enabled admin must stay one. 0, or answers 409/5xx and returns -1. */
static int
keep_an_admin(struct cp_req *r, int64_t uid, bool removing)
{
	int64_t admin, others;
	if (!removing)
		return 0;
	int rc = cp_db_int(r->db, sql_is_admin, uid, &admin);
	if (rc == 0 && admin)
		rc = cp_db_int(r->db, sql_other_admins, uid, &others);
	if (rc) {
		cp_fail_errno(r, rc, "checking admins");
		return -1;
	}
	if (admin && others == 0) {
		cp_fail(r, 409, "last_admin", "this is the last enabled member of admins");
		return -1;
	}
	return 0;
}

/* ---- listing -------------------------------------------------------------------------- */

/* One row's JSON by id; NULL with *err (-ENOENT when the row is gone). */
typedef json_t *(*item_json_fn)(struct cp_db *db, int64_t id, int *err);

/* GET of a page of ids (sql takes limit, offset) as {"items": [...]}: users and groups alike. */
static int
list_page(struct cp_req *r, const char *sql, item_json_fn item, const char *what)
{
	static const char *const params[] = { "limit", "offset", NULL };
	int64_t limit, offset, ids[CP_LIST_MAX];
	if (cp_api_check_query(r, params) ||
		cp_query_int(r, "limit", 1, CP_LIST_MAX, 100, &limit) ||
		cp_query_int(r, "offset", 0, INT32_MAX, 0, &offset))
		return r->status;
	sqlite3_stmt *st = cp_db_stmt(r->db, sql);
	if (!st)
		return cp_fail_errno(r, -EIO, what);
	sqlite3_bind_int64(st, 1, limit);
	sqlite3_bind_int64(st, 2, offset);
	int n = 0, rc = SQLITE_DONE;
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cp_fail_errno(r, cp_db_errno(rc), what);
	json_t *items = json_array();
	for (int i = 0; i < n; i++) {
		int err;
		json_t *it = item(r->db, ids[i], &err);
		if (!it && err == -ENOENT)
			continue; /* deleted since the id was listed */
		if (!it) {
			json_decref(items);
			return cp_fail_errno(r, err, what);
		}
		json_array_append_new(items, it);
	}
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* GET of one row by the id in the path. */
static int
get_one(struct cp_req *r, item_json_fn item, const char *not_found, const char *what)
{
	int64_t id = cp_param_id(r, 0);
	if (id < 0)
		return r->status;
	int err;
	json_t *it = item(r->db, id, &err);
	if (!it)
		return err == -ENOENT ? cp_fail(r, 404, "not_found", not_found)
				      : cp_fail_errno(r, err, what);
	return cp_reply(r, 200, it);
}

/* ---- users ------------------------------------------------------------------------------ */

static int
get_users(struct cp_req *r)
{
	return list_page(r, sql_users_page, cp_api_user, "listing users");
}

static int
get_user(struct cp_req *r)
{
	return get_one(r, cp_api_user, "no such user", "reading the user");
}

static int
post_user(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "username", CP_FIELD_STRING, true, 1, CP_USERNAME_MAX },
		{ "password", CP_FIELD_STRING, true, 1, CP_PASSWORD_MAX },
		{ "groups", CP_FIELD_ARRAY, false, 0, CP_GROUPS_PER_USER },
		{ "disabled", CP_FIELD_BOOL, false, 0, 0 },
	};
	if (cp_check_body(r, fields, 4))
		return r->status;
	const char *name = json_string_value(json_object_get(r->body, "username"));
	const char *password = json_string_value(json_object_get(r->body, "password"));
	json_t *groups = json_object_get(r->body, "groups");
	bool disabled = json_is_true(json_object_get(r->body, "disabled"));
	if (!cp_api_valid_username(name))
		return cp_fail(r, 400, "invalid_field",
			"'username' must be 1-%d of A-Z a-z 0-9 . _ @ - starting with a letter "
			"or digit", CP_USERNAME_MAX);
	if (cp_api_check_password(r, "password", password))
		return r->status;
	char hash[CP_PWHASH_MAX];
	int rc = cp_password_hash(password, hash);
	if (rc)
		return cp_fail_errno(r, rc, "hashing the password");

	json_t *def = NULL;
	if (!groups)
		groups = def = json_pack("[s]", "users");
	struct group_row g[CP_GROUPS_PER_USER];
	size_t n;
	rc = cp_db_begin(r->db);
	if (rc) {
		json_decref(def);
		return cp_fail_errno(r, rc, "creating the user");
	}
	rc = resolve_groups(r, groups, g, &n);
	json_decref(def);
	if (rc)
		return abort_tx(r);
	uint64_t need = 0;
	for (size_t i = 0; i < n; i++)
		need |= g[i].perms;
	if (cp_api_check_grant(r, need, "these groups"))
		return abort_tx(r);

	int64_t now = tide_wall_ms();
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_user_insert);
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, disabled);
		sqlite3_bind_int64(st, 4, now);
	}
	rc = cp_db_done(st);
	if (rc == -EEXIST) {
		cp_fail(r, 409, "exists", "a user named '%s' exists", name);
		return abort_tx(r);
	}
	int64_t id = cp_db_last_id(r->db);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((st = cp_db_stmt(r->db, sql_user_group_add))) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, g[i].id);
		}
		rc = cp_db_done(st);
	}
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_USER_CREATE, target, json_pack("{s:I, s:o, s:b}", "id",
			(json_int_t)id, "groups", group_names(g, n), "disabled", disabled));
	if (finish_tx(r, rc, "creating the user"))
		return r->status;
	json_t *u = cp_api_user(r->db, id, &rc);
	if (!u)
		return cp_fail_errno(r, rc, "reading the user");
	cp_header(r, "Location", "/api/v1/users/%lld", (long long)id);
	return cp_reply(r, 201, u);
}

/* Loads the target user inside the transaction and applies the take-over rule. 0, or answers
 * (404/403/5xx) and returns -1. */
static int
load_target_user(struct cp_req *r, int64_t id, char name[CP_USERNAME_MAX + 1], bool *disabled)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_user_row);
	if (!st) {
		cp_fail_errno(r, -EIO, "reading the user");
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(name, CP_USERNAME_MAX + 1, "%s", sqlite3_column_text(st, 0));
		*disabled = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			cp_fail(r, 404, "not_found", "no such user");
		else
			cp_fail_errno(r, cp_db_errno(rc), "reading the user");
		return -1;
	}
	return cp_api_check_takeover(r, id, "managing this user");
}

static int
patch_user(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "password", CP_FIELD_STRING, false, 1, CP_PASSWORD_MAX },
		{ "groups", CP_FIELD_ARRAY, false, 0, CP_GROUPS_PER_USER },
		{ "disabled", CP_FIELD_BOOL, false, 0, 0 },
	};
	int64_t id = cp_param_id(r, 0);
	if (id < 0 || cp_check_body(r, fields, 3))
		return r->status;
	json_t *jpw = json_object_get(r->body, "password");
	json_t *groups = json_object_get(r->body, "groups");
	json_t *jdis = json_object_get(r->body, "disabled");
	if (!jpw && !groups && !jdis)
		return cp_fail(r, 400, "missing_field", "nothing to change");
	bool self = id == r->who.user_id;
	if (self && groups)
		return cp_fail(r, 403, "escalation", "you cannot change your own groups");
	if (self && json_is_true(jdis))
		return cp_fail(r, 409, "self_lockout", "you cannot disable yourself");
	char hash[CP_PWHASH_MAX] = "";
	if (jpw) {
		if (cp_api_check_password(r, "password", json_string_value(jpw)))
			return r->status;
		int rc = cp_password_hash(json_string_value(jpw), hash);
		if (rc)
			return cp_fail_errno(r, rc, "hashing the password");
	}

	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "changing the user");
	char name[CP_USERNAME_MAX + 1];
	bool was_disabled;
	if (load_target_user(r, id, name, &was_disabled))
		return abort_tx(r);
	struct group_row g[CP_GROUPS_PER_USER];
	size_t n = 0;
	bool leaves_admins = false;
	if (groups) {
		if (resolve_groups(r, groups, g, &n))
			return abort_tx(r);
		/* only groups the user does not have yet count as a grant */
		uint64_t need = 0;
		sqlite3_stmt *st = cp_db_stmt(r->db, sql_user_group_ids);
		int64_t old[CP_GROUPS_PER_USER * 4];
		size_t n_old = 0;
		if (st) {
			sqlite3_bind_int64(st, 1, id);
			size_t cap = sizeof(old) / sizeof(old[0]);
			while (n_old < cap && sqlite3_step(st) == SQLITE_ROW)
				old[n_old++] = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
		leaves_admins = true;
		for (size_t i = 0; i < n; i++) {
			bool had = false;
			for (size_t j = 0; j < n_old; j++)
				had |= old[j] == g[i].id;
			if (!had)
				need |= g[i].perms;
			if (is_admins(&g[i]))
				leaves_admins = false;
		}
		if (cp_api_check_grant(r, need, "these groups"))
			return abort_tx(r);
	}
	if (keep_an_admin(r, id, leaves_admins || json_is_true(jdis)))
		return abort_tx(r);

	sqlite3_stmt *st = cp_db_stmt(r->db, sql_user_update);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (hash[0])
			sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
		if (jdis)
			sqlite3_bind_int(st, 3, json_is_true(jdis));
		sqlite3_bind_int64(st, 4, tide_wall_ms());
	}
	rc = cp_db_done(st);
	if (rc == 0 && groups) {
		if ((st = cp_db_stmt(r->db, sql_user_groups_clear)))
			sqlite3_bind_int64(st, 1, id);
		rc = cp_db_done(st);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if ((st = cp_db_stmt(r->db, sql_user_group_add))) {
				sqlite3_bind_int64(st, 1, id);
				sqlite3_bind_int64(st, 2, g[i].id);
			}
			rc = cp_db_done(st);
		}
	}
	/* a new password or a disabled account ends the user's other sign-ins */
	if (rc == 0 && (hash[0] || json_is_true(jdis))) {
		if ((st = cp_db_stmt(r->db, sql_user_sessions_end))) {
			sqlite3_bind_int64(st, 1, id);
			if (self && r->who.kind == CP_AUTH_SESSION)
				sqlite3_bind_blob(st, 2, r->who.session_hash, 32, SQLITE_TRANSIENT);
		}
		rc = cp_db_done(st);
	}
	json_t *detail = json_pack("{s:I, s:[]}", "id", (json_int_t)id, "changed");
	json_t *changed = json_object_get(detail, "changed");
	if (hash[0])
		json_array_append_new(changed, json_string("password"));
	if (jdis) {
		json_array_append_new(changed, json_string("disabled"));
		json_object_set(detail, "disabled", jdis);
	}
	if (groups) {
		json_array_append_new(changed, json_string("groups"));
		json_object_set_new(detail, "groups", group_names(g, n));
	}
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_USER_UPDATE, target, detail);
	else
		json_decref(detail);
	if (finish_tx(r, rc, "changing the user"))
		return r->status;
	json_t *u = cp_api_user(r->db, id, &rc);
	return u ? cp_reply(r, 200, u) : cp_fail_errno(r, rc, "reading the user");
}

static int
delete_user(struct cp_req *r)
{
	int64_t id = cp_param_id(r, 0);
	if (id < 0)
		return r->status;
	if (id == r->who.user_id)
		return cp_fail(r, 409, "self_lockout", "you cannot delete yourself");
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "deleting the user");
	char name[CP_USERNAME_MAX + 1];
	bool disabled;
	if (load_target_user(r, id, name, &disabled) || keep_an_admin(r, id, true))
		return abort_tx(r);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_user_delete);
	if (st)
		sqlite3_bind_int64(st, 1, id);
	rc = cp_db_done(st);
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_USER_DELETE, target,
			json_pack("{s:I}", "id", (json_int_t)id));
	if (finish_tx(r, rc, "deleting the user"))
		return r->status;
	return cp_reply(r, 204, NULL);
}

/* ---- groups ------------------------------------------------------------------------------ */

static int
get_groups(struct cp_req *r)
{
	return list_page(r, sql_groups_page, group_json, "listing groups");
}

static int
get_group(struct cp_req *r)
{
	return get_one(r, group_json, "no such group", "reading the group");
}

static int
set_group_perms(struct cp_db *db, int64_t gid, uint64_t set)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_group_perms_clear);
	if (st)
		sqlite3_bind_int64(st, 1, gid);
	int rc = cp_db_done(st);
	for (int p = CP_PERM_FIRST_NAMED; rc == 0 && p < CP_PERM_END; p++) {
		if (!(set & cp_perm_bit((enum cp_perm)p)))
			continue;
		if ((st = cp_db_stmt(db, sql_group_perm_add))) {
			sqlite3_bind_int64(st, 1, gid);
			sqlite3_bind_text(st, 2, cp_perm_name((enum cp_perm)p), -1, SQLITE_STATIC);
		}
		rc = cp_db_done(st);
	}
	return rc;
}

static const struct cp_field group_fields_create[] = {
	{ "name", CP_FIELD_STRING, true, 1, CP_GROUPNAME_MAX },
	{ "description", CP_FIELD_STRING, false, 0, CP_DESCRIPTION_MAX },
	{ "permissions", CP_FIELD_ARRAY, false, 0, CP_PERM_NAMED_COUNT },
	{ "quota_bytes", CP_FIELD_INT, false, 0, 1ll << 50 },
};

static int
check_group_text(struct cp_req *r, const char *name, const char *desc)
{
	if (name && !cp_api_valid_groupname(name)) {
		cp_fail(r, 400, "invalid_field", "'name' must be 1-%d of a-z 0-9 . _ - starting "
						 "with a letter or digit", CP_GROUPNAME_MAX);
		return -1;
	}
	for (const char *c = desc; c && *c; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') {
			cp_fail(r, 400, "invalid_field", "'description' holds control characters");
			return -1;
		}
	}
	return 0;
}

static int
post_group(struct cp_req *r)
{
	if (cp_check_body(r, group_fields_create, 4))
		return r->status;
	const char *name = json_string_value(json_object_get(r->body, "name"));
	const char *desc = json_string_value(json_object_get(r->body, "description"));
	json_t *jperms = json_object_get(r->body, "permissions");
	uint64_t perms = 0;
	if (check_group_text(r, name, desc) || (jperms && cp_api_parse_perms(r, jperms, &perms)) ||
		cp_api_check_grant(r, perms, "this group"))
		return r->status;
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "creating the group");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_group_insert);
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, desc ? desc : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, tide_wall_ms());
	}
	rc = cp_db_done(st);
	if (rc == -EEXIST) {
		cp_fail(r, 409, "exists", "a group named '%s' exists", name);
		return abort_tx(r);
	}
	int64_t id = cp_db_last_id(r->db);
	if (rc == 0)
		rc = set_group_perms(r->db, id, perms);
	json_t *quota = json_object_get(r->body, "quota_bytes");
	if (rc == 0 && quota) {
		sqlite3_stmt *q = cp_db_stmt(r->db, sql_group_quota);
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			sqlite3_bind_int64(q, 2, json_integer_value(quota));
		}
		rc = cp_db_done(q);
	}
	char target[CP_GROUPNAME_MAX + 8];
	snprintf(target, sizeof(target), "group:%s", name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_GROUP_CREATE, target, json_pack("{s:I, s:o}", "id",
			(json_int_t)id, "permissions", cp_api_perms(perms)));
	if (finish_tx(r, rc, "creating the group"))
		return r->status;
	json_t *g = group_json(r->db, id, &rc);
	if (!g)
		return cp_fail_errno(r, rc, "reading the group");
	cp_header(r, "Location", "/api/v1/groups/%lld", (long long)id);
	return cp_reply(r, 201, g);
}

static int
patch_group(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "name", CP_FIELD_STRING, false, 1, CP_GROUPNAME_MAX },
		{ "description", CP_FIELD_STRING, false, 0, CP_DESCRIPTION_MAX },
		{ "permissions", CP_FIELD_ARRAY, false, 0, CP_PERM_NAMED_COUNT },
		{ "quota_bytes", CP_FIELD_INT, false, 0, 1ll << 50 },
	};
	int64_t id = cp_param_id(r, 0);
	if (id < 0 || cp_check_body(r, fields, 4))
		return r->status;
	const char *name = json_string_value(json_object_get(r->body, "name"));
	const char *desc = json_string_value(json_object_get(r->body, "description"));
	json_t *jperms = json_object_get(r->body, "permissions");
	json_t *quota = json_object_get(r->body, "quota_bytes");
	uint64_t perms = 0;
	if (!name && !desc && !jperms && !quota)
		return cp_fail(r, 400, "missing_field", "nothing to change");
	if (check_group_text(r, name, desc) || (jperms && cp_api_parse_perms(r, jperms, &perms)))
		return r->status;

	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "changing the group");
	struct group_row g;
	rc = group_load(r->db, id, NULL, &g);
	if (rc) {
		if (rc == -ENOENT)
			cp_fail(r, 404, "not_found", "no such group");
		else
			cp_fail_errno(r, rc, "reading the group");
		return abort_tx(r);
	}
	if (g.builtin && name && strcmp(name, g.name) != 0) {
		cp_fail(r, 409, "builtin", "built-in groups keep their names");
		return abort_tx(r);
	}
	if (is_admins(&g) && jperms && perms != CP_PERM_ALL) {
		cp_fail(r, 409, "builtin", "the admins group holds every permission");
		return abort_tx(r);
	}
	if (cp_api_check_grant(r, g.perms | perms, "changing this group"))
		return abort_tx(r);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_group_update);
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (name)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		if (desc)
			sqlite3_bind_text(st, 3, desc, -1, SQLITE_TRANSIENT);
	}
	rc = cp_db_done(st);
	if (rc == -EEXIST) {
		cp_fail(r, 409, "exists", "a group named '%s' exists", name);
		return abort_tx(r);
	}
	if (rc == 0 && jperms)
		rc = set_group_perms(r->db, id, perms);
	if (rc == 0 && quota) {
		sqlite3_stmt *q = cp_db_stmt(r->db, sql_group_quota);
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			sqlite3_bind_int64(q, 2, json_integer_value(quota));
		}
		rc = cp_db_done(q);
	}
	json_t *detail = json_pack("{s:I, s:[]}", "id", (json_int_t)id, "changed");
	json_t *changed = json_object_get(detail, "changed");
	if (name) {
		json_array_append_new(changed, json_string("name"));
		json_object_set_new(detail, "name", json_string(name));
	}
	if (desc)
		json_array_append_new(changed, json_string("description"));
	if (quota) {
		json_array_append_new(changed, json_string("quota_bytes"));
		json_object_set(detail, "quota_bytes", quota);
	}
	if (jperms) {
		json_array_append_new(changed, json_string("permissions"));
		json_object_set_new(detail, "permissions", cp_api_perms(perms));
	}
	char target[CP_GROUPNAME_MAX + 8];
	snprintf(target, sizeof(target), "group:%s", g.name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_GROUP_UPDATE, target, detail);
	else
		json_decref(detail);
	if (finish_tx(r, rc, "changing the group"))
		return r->status;
	json_t *out = group_json(r->db, id, &rc);
	return out ? cp_reply(r, 200, out) : cp_fail_errno(r, rc, "reading the group");
}

static int
delete_group(struct cp_req *r)
{
	int64_t id = cp_param_id(r, 0);
	if (id < 0)
		return r->status;
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "deleting the group");
	struct group_row g;
	rc = group_load(r->db, id, NULL, &g);
	if (rc) {
		if (rc == -ENOENT)
			cp_fail(r, 404, "not_found", "no such group");
		else
			cp_fail_errno(r, rc, "reading the group");
		return abort_tx(r);
	}
	if (g.builtin) {
		cp_fail(r, 409, "builtin", "built-in groups cannot be deleted");
		return abort_tx(r);
	}
	if (cp_api_check_grant(r, g.perms, "deleting this group"))
		return abort_tx(r);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_group_delete);
	if (st)
		sqlite3_bind_int64(st, 1, id);
	rc = cp_db_done(st);
	char target[CP_GROUPNAME_MAX + 8];
	snprintf(target, sizeof(target), "group:%s", g.name);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_GROUP_DELETE, target, json_pack("{s:I, s:o}", "id",
			(json_int_t)id, "permissions", cp_api_perms(g.perms)));
	if (finish_tx(r, rc, "deleting the group"))
		return r->status;
	return cp_reply(r, 204, NULL);
}

CP_ROUTE_TABLE(cp_api_users_routes,
	{ "GET", "/api/v1/users", CP_PERM_USERS_ADMIN, get_users },
	{ "POST", "/api/v1/users", CP_PERM_USERS_ADMIN, post_user },
	{ "GET", "/api/v1/users/{id}", CP_PERM_USERS_ADMIN, get_user },
	{ "PATCH", "/api/v1/users/{id}", CP_PERM_USERS_ADMIN, patch_user },
	{ "DELETE", "/api/v1/users/{id}", CP_PERM_USERS_ADMIN, delete_user },
	{ "GET", "/api/v1/groups", CP_PERM_USERS_ADMIN, get_groups },
	{ "POST", "/api/v1/groups", CP_PERM_USERS_ADMIN, post_group },
	{ "GET", "/api/v1/groups/{id}", CP_PERM_USERS_ADMIN, get_group },
	{ "PATCH", "/api/v1/groups/{id}", CP_PERM_USERS_ADMIN, patch_group },
	{ "DELETE", "/api/v1/groups/{id}", CP_PERM_USERS_ADMIN, delete_group },
);
