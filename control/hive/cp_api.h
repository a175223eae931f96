/* cp_api.h — helpers shared by the API handler files (cp_api_*.c).
 *
 * Representations are built in one place so a user looks the same in /auth/me, /users and
 * /users/{id}: times as ISO 8601 UTC strings (null when unset), permissions as sorted names. */
#ifndef CP_API_H
#define CP_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct cp_db;
struct cp_req;

#define CP_GROUPNAME_MAX 64
#define CP_DESCRIPTION_MAX 1024
#define CP_PASSWORD_MIN 8
#define CP_LIST_MAX 1000 /* rows in one page of any list */

/* ISO 8601 string for ms since the epoch, JSON null for 0. */
json_t *cp_api_time(int64_t ms);
/* The permission names in set, as a JSON array in declaration order. */
json_t *cp_api_perms(uint64_t set);
/* Parses a JSON array of permission names; 0, or answers 400 and returns -1. */
int cp_api_parse_perms(struct cp_req *r, json_t *array, uint64_t *set);

/* User names: 1-64 of [A-Za-z0-9._@-], starting with a letter or digit (they appear in
 * audit rows, logs and, later, LDAP filters and dataset paths). */
bool cp_api_valid_username(const char *name);
/* Group names: 1-64 of [a-z0-9._-], starting with a letter or digit. */
bool cp_api_valid_groupname(const char *name);
/* 0, or answers 400 and returns -1: length CP_PASSWORD_MIN..CP_PASSWORD_MAX bytes. */
int cp_api_check_password(struct cp_req *r, const char *field, const char *password);

/* {"id", "username", "source", "disabled", "groups": [{"id","name"}], "permissions": [...],
 * "created_at", "updated_at", "last_login_at"}; NULL with *err = -ENOENT or another -errno. */
json_t *cp_api_user(struct cp_db *db, int64_t id, int *err);

/* The one rule against escalation (see cp_api_users.c): nobody grants, or acts on the
 * belongings of, someone holding a permission they lack. 0 when the actor holds every
 * permission in need; else answers 403 escalation naming the missing ones and returns -1. */
int cp_api_check_grant(struct cp_req *r, uint64_t need, const char *what);
/* The same applied to user_id's current permissions (anyone may act on themselves), for
 * changing, deleting or revoking the tokens of another user. 0, or answers 403/5xx and
 * returns -1. Inside the caller's transaction, so the permissions cannot change meanwhile. */
int cp_api_check_takeover(struct cp_req *r, int64_t user_id, const char *what);

/* List routes refuse query parameters they do not take, and repeated ones: a typo
 * (?stat=done) or a second value must not silently widen or change the answer. names is
 * NULL-terminated (at most 32). 0, or answers 400 invalid_parameter and returns -1. */
int cp_api_check_query(struct cp_req *r, const char *const names[]);
/* Query parameter name as one of values (NULL-terminated): *out is its index, or -1 when the
 * parameter is absent. 0, or answers 400 invalid_parameter listing the values and returns -1
 * (an unknown, empty or over-long value never falls back to "no filter"). */
int cp_api_query_enum(struct cp_req *r, const char *name, const char *const values[],
	int *out);

#endif
