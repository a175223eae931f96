/* cp_api.c — representations and input checks shared by the API handler files. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "cp_api.h"
#include "cp_auth.h"
#include "cp_db.h"
#include "cp_http.h"
#include "tide_log.h"

static const char sql_user[] =
	"SELECT id, username, source, disabled, created_at, updated_at, last_login_at"
	" FROM users WHERE id = ?1";
static const char sql_user_groups[] =
	"SELECT g.id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
	" WHERE ug.user_id = ?1 ORDER BY g.name";

json_t *
cp_api_time(int64_t ms)
{
	char buf[TIDE_TIME_LEN];
	return ms ? json_string(tide_time_format(ms, buf)) : json_null();
}

json_t *
cp_api_perms(uint64_t set)
{
	json_t *a = json_array();
	for (int p = CP_PERM_FIRST_NAMED; p < CP_PERM_END; p++)
		if (set & cp_perm_bit((enum cp_perm)p))
			json_array_append_new(a, json_string(cp_perm_name((enum cp_perm)p)));
	return a;
}

int
cp_api_parse_perms(struct cp_req *r, json_t *array, uint64_t *set)
{
	size_t i;
	json_t *v;
	*set = 0;
	json_array_foreach(array, i, v) {
		enum cp_perm p = CP_PERM_UNSET;
		if (json_is_string(v))
			p = cp_perm_lookup(json_string_value(v));
		if (p == CP_PERM_UNSET) {
			cp_fail(r, 400, "unknown_permission",
				"permissions[%zu] is unknown (see GET /api/v1/permissions)", i);
			return -1;
		}
		*set |= cp_perm_bit(p);
	}
	return 0;
}

static bool
valid_name(const char *s, size_t max, bool upper_and_at)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			(upper_and_at && c >= 'A' && c <= 'Z');
		if (i == 0 && !alnum)
			return false;
		if (!alnum && c != '.' && c != '_' && c != '-' && !(upper_and_at && c == '@'))
			return false;
	}
	return true;
}

bool
cp_api_valid_username(const char *name)
{
	return valid_name(name, CP_USERNAME_MAX, true);
}

bool
cp_api_valid_groupname(const char *name)
{
	return valid_name(name, CP_GROUPNAME_MAX, false);
}

int
cp_api_check_password(struct cp_req *r, const char *field, const char *password)
{
	size_t n = strlen(password);
	if (n < CP_PASSWORD_MIN || n > CP_PASSWORD_MAX) {
		cp_fail(r, 400, "weak_password", "'%s' must be %d to %d bytes long", field,
			CP_PASSWORD_MIN, CP_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

json_t *
cp_api_user(struct cp_db *db, int64_t id, int *err)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_user);
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
	json_t *u = json_pack("{s:I, s:s, s:s, s:b, s:o, s:o, s:o}",
		"id", (json_int_t)id,
		"username", (const char *)sqlite3_column_text(st, 1),
		"source", (const char *)sqlite3_column_text(st, 2),
		"disabled", sqlite3_column_int(st, 3),
		"created_at", cp_api_time(sqlite3_column_int64(st, 4)),
		"updated_at", cp_api_time(sqlite3_column_int64(st, 5)),
		"last_login_at", cp_api_time(sqlite3_column_int64(st, 6)));
	sqlite3_reset(st);

	json_t *groups = json_array();
	st = cp_db_stmt(db, sql_user_groups);
	rc = SQLITE_ERROR;
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(groups, json_pack("{s:I, s:s}",
				"id", (json_int_t)sqlite3_column_int64(st, 0),
				"name", (const char *)sqlite3_column_text(st, 1)));
		sqlite3_reset(st);
	}
	uint64_t perms = 0;
	int prc = cp_auth_perms(db, id, &perms);
	if (!u || rc != SQLITE_DONE || prc) {
		json_decref(u);
		json_decref(groups);
		*err = prc ? prc : rc != SQLITE_DONE ? cp_db_errno(rc) : -ENOMEM;
		return NULL;
	}
	json_object_set_new(u, "groups", groups);
	json_object_set_new(u, "permissions", cp_api_perms(perms));
	return u;
}

/* Names of the permissions in need that the actor lacks, for messages. */
static const char *
missing_perms(uint64_t need, uint64_t have, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int p = CP_PERM_FIRST_NAMED; p < CP_PERM_END; p++) {
		if (!(need & ~have & cp_perm_bit((enum cp_perm)p)))
			continue;
		int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
			cp_perm_name((enum cp_perm)p));
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

int
cp_api_check_grant(struct cp_req *r, uint64_t need, const char *what)
{
	char names[256];
	if ((need & ~r->who.perms) == 0)
		return 0;
	cp_fail(r, 403, "escalation", "%s needs permissions you do not hold: %s", what,
		missing_perms(need, r->who.perms, names, sizeof(names)));
	return -1;
}

int
cp_api_check_takeover(struct cp_req *r, int64_t user_id, const char *what)
{
	if (user_id == r->who.user_id)
		return 0;
	uint64_t perms;
	int rc = cp_auth_perms(r->db, user_id, &perms);
	if (rc) {
		cp_fail_errno(r, rc, "reading the user's permissions");
		return -1;
	}
	return cp_api_check_grant(r, perms, what);
}

/* Appends name to a ", "-separated list in buf (for messages). */
static void
list_append(char *buf, size_t size, const char *name)
{
	size_t n = strlen(buf);
	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", name);
}

int
cp_api_check_query(struct cp_req *r, const char *const names[])
{
	char allowed[256] = "";
	for (size_t i = 0; names[i]; i++)
		list_append(allowed, sizeof(allowed), names[i]);
	uint32_t seen = 0;
	for (const char *p = r->ri->query_string; p && *p;) {
		size_t seg = strcspn(p, "&"), len = strcspn(p, "=&"), i = 0;
		/* matched without case, as civetweb's mg_get_var finds them */
		while (seg && names[i] && (strlen(names[i]) != len || strncasecmp(names[i], p, len)))
			i++;
		if (seg && !names[i]) {
			cp_fail(r, 400, "invalid_parameter", "unknown query parameter '%.*s' (%s%s)",
				(int)(len < 40 ? len : 40), p, allowed[0] ? "this route takes " :
				"this route takes none", allowed);
			return -1;
		}
		if (seg && p[len] != '=') {
			cp_fail(r, 400, "invalid_parameter", "query parameter '%s' has no value",
				names[i]);
			return -1;
		}
		if (seg && (seen & (1u << i))) {
			cp_fail(r, 400, "invalid_parameter", "query parameter '%s' is given twice",
				names[i]);
			return -1;
		}
		if (seg)
			seen |= 1u << i;
		p += seg + (p[seg] == '&');
	}
	return 0;
}

int
cp_api_query_enum(struct cp_req *r, const char *name, const char *const values[], int *out)
{
	char buf[64], allowed[256] = "";
	*out = -1;
	int rc = cp_query(r, name, buf, sizeof(buf));
	if (rc == -ENOENT)
		return 0;
	for (int i = 0; rc == 0 && values[i]; i++) {
		if (strcmp(buf, values[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	for (int i = 0; values[i]; i++)
		list_append(allowed, sizeof(allowed), values[i]);
	cp_fail(r, 400, "invalid_parameter", "%s must be one of %s", name, allowed);
	return -1;
}
