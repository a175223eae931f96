/* cp_api_auth.c — signing in and out, the caller's own identity and password, and application
 * tokens.
 *
 * Login order matters: the throttle is checked before the password (a locked account or
 * address gets 429 even with the right password, so guessing gains nothing during a lock),
 * unknown and disabled users cost the same argon2id time as real ones and get the same 401,
 * and every outcome is audited. Lock-out state lives in the database (login_throttle), so a
 * restart does not reset it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include "cp_api.h"
#include "cp_audit.h"
#include "cp_auth.h"
#include "cp_db.h"
#include "cp_http.h"
#include "cp_log.h"
#include "cp_options.h"
#include "cp_routes.h"

#define CP_TOKEN_NAME_MAX 128
#define CP_TOKENS_PER_USER 100          /* live (unrevoked, unexpired) tokens */
#define CP_TOKEN_LIFETIME_MAX 315360000 /* ten years, in seconds */

static const char sql_login_user[] =
	"SELECT id, username, password_hash, disabled FROM users WHERE username = ?1";
static const char sql_login_done[] =
	"UPDATE users SET last_login_at = ?2, password_hash = coalesce(?3, password_hash)"
	" WHERE id = ?1";
static const char sql_password_of[] = "SELECT password_hash FROM users WHERE id = ?1";
static const char sql_password_set[] =
	"UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";
static const char sql_sessions_others[] =
	"DELETE FROM sessions WHERE user_id = ?1 AND id_hash IS NOT ?2";
static const char sql_tokens_of[] =
	"SELECT id, name, prefix, created_at, expires_at, last_used_at, revoked_at FROM tokens"
	" WHERE user_id = ?1 ORDER BY id DESC LIMIT 1000";
static const char sql_tokens_live[] =
	"SELECT count(*) FROM tokens WHERE user_id = ?1 AND revoked_at IS NULL"
	" AND (expires_at IS NULL OR expires_at > ?2)";
static const char sql_token_insert[] =
	"INSERT INTO tokens (user_id, name, hash, prefix, created_at, expires_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_token_owner[] =
	"SELECT t.user_id, t.revoked_at, t.name, u.username FROM tokens t"
	" JOIN users u ON u.id = t.user_id WHERE t.id = ?1";
static const char sql_token_revoke[] =
	"UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";

static void
session_cookie(struct cp_req *r, const char *value, int64_t max_age_s)
{
	cp_header(r, "Set-Cookie", "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
		CP_SESSION_COOKIE, value, (long long)max_age_s, r->ri->is_ssl ? "; Secure" : "");
}

/* 429 for a lock on the account or the address; audited. */
static int
refuse_locked(struct cp_req *r, const char *username, int64_t wait_ms, bool account)
{
	long long secs = (wait_ms + 999) / 1000;
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", username);
	int rc = cp_db_begin(r->db);
	if (rc == 0)
		rc = cp_audit_append(r->db, username, r->addr, CP_AUDIT_LOGIN, target,
			json_pack("{s:s, s:s}", "outcome", "locked", "scope",
				account ? "account" : "address"));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login"); /* still a refusal; the audit failure shows */
	cp_header(r, "Retry-After", "%lld", secs);
	return cp_fail(r, 429, "rate_limited",
		"too many failed logins for this %s; try again in %lld s",
		account ? "account" : "address", secs);
}

/* Counts a wrong password against the account and the address, audits it under action, and
 * answers 401. */
static int
fail_login(struct cp_req *r, const char *action, const char *username, const char *ukey,
	const char *akey, int64_t now, const char *reason)
{
	const struct cp_options *o = r->srv->opt;
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", username);
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	int lu = cp_throttle_fail(r->db, ukey, now, (int64_t)o->login_user_failures,
		(int64_t)o->login_lockout * 1000, (int64_t)o->login_lockout_max * 1000,
		(int64_t)o->login_window * 1000);
	int la = lu < 0 ? lu : cp_throttle_fail(r->db, akey, now, (int64_t)o->login_addr_failures,
		(int64_t)o->login_lockout * 1000, (int64_t)o->login_lockout_max * 1000,
		(int64_t)o->login_window * 1000);
	rc = la < 0 ? la : cp_audit_append(r->db, username, r->addr, action, target,
		json_pack("{s:s, s:s, s:b}", "outcome", "failure", "reason", reason, "locked",
			lu > 0 || la > 0));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	if (lu > 0 || la > 0)
		cp_warn("auth", "login locked: %s%s%s from %s", lu > 0 ? "account " : "",
			lu > 0 ? username : "", la > 0 ? " address" : "", r->addr);
	return cp_fail(r, 401, "invalid_credentials", "wrong user name or password");
}

static int
post_login(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "username", CP_FIELD_STRING, true, 1, CP_USERNAME_MAX },
		{ "password", CP_FIELD_STRING, true, 1, CP_PASSWORD_MAX },
	};
	if (cp_check_body(r, fields, 2))
		return r->status;
	const char *username = json_string_value(json_object_get(r->body, "username"));
	const char *password = json_string_value(json_object_get(r->body, "password"));
	int64_t now = cp_now_ms();
	char ukey[CP_THROTTLE_KEY_MAX], akey[CP_THROTTLE_KEY_MAX];
	cp_throttle_user_key(ukey, username);
	cp_throttle_addr_key(akey, r->addr);
	int64_t wu = cp_throttle_wait(r->db, ukey, now), wa = cp_throttle_wait(r->db, akey, now);
	if (wu < 0 || wa < 0)
		return cp_fail_errno(r, (int)(wu < 0 ? wu : wa), "login");
	if (wu > 0 || wa > 0)
		return refuse_locked(r, username, wu > wa ? wu : wa, wu >= wa);

	sqlite3_stmt *st = cp_db_stmt(r->db, sql_login_user);
	if (!st)
		return cp_fail_errno(r, -EIO, "login");
	sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
	int64_t id = 0;
	bool disabled = false;
	char hash[CP_PWHASH_MAX] = "";
	char canonical[CP_USERNAME_MAX + 1] = "";
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(canonical, sizeof(canonical), "%s", sqlite3_column_text(st, 1));
		const unsigned char *h = sqlite3_column_text(st, 2);
		snprintf(hash, sizeof(hash), "%s", h ? (const char *)h : "");
		disabled = sqlite3_column_int(st, 3) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cp_fail_errno(r, cp_db_errno(rc), "login");
	if (!id || disabled || !hash[0]) {
		cp_password_verify_dummy(password);
		const char *why = "no_local_password";
		if (!id)
			why = "unknown_user";
		else if (disabled)
			why = "disabled";
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, why);
	}
	if (cp_password_verify(hash, password) != 0)
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, "bad_password");

	char rehashed[CP_PWHASH_MAX] = "";
	if (cp_password_needs_rehash(hash) && cp_password_hash(password, rehashed) != 0)
		rehashed[0] = '\0';
	int64_t expires = now + (int64_t)r->srv->opt->session_ttl * 1000;
	char cookie[CP_SECRET_B64_LEN + 1], csrf[CP_SECRET_B64_LEN + 1];
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", canonical);
	rc = cp_db_begin(r->db);
	if (rc == 0)
		rc = cp_session_create(r->db, id, r->addr, expires, cookie, csrf);
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_login_done))) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		if (rehashed[0])
			sqlite3_bind_text(st, 3, rehashed, -1, SQLITE_TRANSIENT);
		rc = cp_db_errno(sqlite3_step(st));
	} else if (rc == 0) {
		rc = -EIO;
	}
	if (rc == 0)
		rc = cp_throttle_clear(r->db, ukey);
	if (rc == 0)
		rc = cp_audit_append(r->db, canonical, r->addr, CP_AUDIT_LOGIN, target,
			json_pack("{s:s, s:s}", "outcome", "success", "method", "password"));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login");

	r->who.kind = CP_AUTH_SESSION; /* for the access log line */
	snprintf(r->who.username, sizeof(r->who.username), "%s", canonical);
	json_t *user = cp_api_user(r->db, id, &rc);
	if (!user)
		return cp_fail_errno(r, rc, "login");
	session_cookie(r, cookie, (int64_t)r->srv->opt->session_ttl);
	return cp_reply(r, 200, json_pack("{s:o, s:s, s:o}", "user", user, "csrf_token", csrf,
		"expires_at", cp_api_time(expires)));
}

static int
post_logout(struct cp_req *r)
{
	if (r->who.kind != CP_AUTH_SESSION)
		return cp_fail(r, 400, "not_a_session", "logout ends a cookie session; revoke a "
						   "token with DELETE /api/v1/tokens/{id}");
	int rc = cp_db_begin(r->db);
	if (rc == 0)
		rc = cp_session_delete(r->db, r->who.session_hash);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_LOGOUT, "", NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "logout");
	session_cookie(r, "", 0);
	return cp_reply(r, 204, NULL);
}

static int
get_me(struct cp_req *r)
{
	int err;
	json_t *user = cp_api_user(r->db, r->who.user_id, &err);
	if (!user)
		return cp_fail_errno(r, err, "reading the user");
	json_t *me = json_pack("{s:o, s:s, s:o}", "user", user, "auth",
		r->who.kind == CP_AUTH_SESSION ? "session" : "token", "expires_at",
		cp_api_time(r->who.expires_at));
	/* the console reloads without its memory: it gets the CSRF token back from here */
	if (r->who.kind == CP_AUTH_SESSION)
		json_object_set_new(me, "csrf_token", json_string(r->who.csrf));
	else
		json_object_set_new(me, "token_id", json_integer(r->who.token_id));
	return cp_reply(r, 200, me);
}

static int
post_password(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "current_password", CP_FIELD_STRING, true, 1, CP_PASSWORD_MAX },
		{ "new_password", CP_FIELD_STRING, true, 1, CP_PASSWORD_MAX },
	};
	if (cp_check_body(r, fields, 2))
		return r->status;
	const char *cur = json_string_value(json_object_get(r->body, "current_password"));
	const char *new = json_string_value(json_object_get(r->body, "new_password"));
	if (cp_api_check_password(r, "new_password", new))
		return r->status;
	int64_t now = cp_now_ms();
	char ukey[CP_THROTTLE_KEY_MAX], akey[CP_THROTTLE_KEY_MAX];
	cp_throttle_user_key(ukey, r->who.username);
	cp_throttle_addr_key(akey, r->addr);
	int64_t wait = cp_throttle_wait(r->db, ukey, now);
	if (wait < 0)
		return cp_fail_errno(r, (int)wait, "changing the password");
	if (wait > 0)
		return refuse_locked(r, r->who.username, wait, true);

	sqlite3_stmt *st = cp_db_stmt(r->db, sql_password_of);
	if (!st)
		return cp_fail_errno(r, -EIO, "changing the password");
	sqlite3_bind_int64(st, 1, r->who.user_id);
	char hash[CP_PWHASH_MAX] = "";
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(hash, sizeof(hash), "%s", sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (!hash[0])
		return cp_fail(r, 409, "no_local_password", "this account has no local password");
	if (cp_password_verify(hash, cur) != 0) {
		/* a stolen session must not become a password oracle: same throttle as login */
		if (fail_login(r, CP_AUDIT_PASSWORD, r->who.username, ukey, akey, now,
			    "bad_current_password") != 401)
			return r->status;
		return cp_fail(r, 403, "invalid_credentials", "the current password is wrong");
	}
	char fresh[CP_PWHASH_MAX];
	int rc = cp_password_hash(new, fresh);
	if (rc)
		return cp_fail_errno(r, rc, "hashing the password");
	rc = cp_db_begin(r->db);
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_password_set))) {
		sqlite3_bind_int64(st, 1, r->who.user_id);
		sqlite3_bind_text(st, 2, fresh, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, now);
		rc = cp_db_errno(sqlite3_step(st));
	}
	/* other sign-ins of this user end; the one making the change stays */
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_sessions_others))) {
		sqlite3_bind_int64(st, 1, r->who.user_id);
		if (r->who.kind == CP_AUTH_SESSION)
			sqlite3_bind_blob(st, 2, r->who.session_hash, 32, SQLITE_TRANSIENT);
		rc = cp_db_errno(sqlite3_step(st));
	}
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_PASSWORD, "", NULL);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "changing the password");
	return cp_reply(r, 204, NULL);
}

static json_t *
token_json(sqlite3_stmt *st)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o}",
		"id", (json_int_t)sqlite3_column_int64(st, 0),
		"name", (const char *)sqlite3_column_text(st, 1),
		"prefix", (const char *)sqlite3_column_text(st, 2),
		"created_at", cp_api_time(sqlite3_column_int64(st, 3)),
		"expires_at", cp_api_time(sqlite3_column_int64(st, 4)),
		"last_used_at", cp_api_time(sqlite3_column_int64(st, 5)),
		"revoked_at", cp_api_time(sqlite3_column_int64(st, 6)));
}

static int
get_tokens(struct cp_req *r)
{
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_tokens_of);
	if (!st)
		return cp_fail_errno(r, -EIO, "listing tokens");
	sqlite3_bind_int64(st, 1, r->who.user_id);
	json_t *items = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(items, token_json(st));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		return cp_fail_errno(r, cp_db_errno(rc), "listing tokens");
	}
	return cp_reply(r, 200, json_pack("{s:o}", "items", items));
}

static int
post_token(struct cp_req *r)
{
	static const struct cp_field fields[] = {
		{ "name", CP_FIELD_STRING, true, 1, CP_TOKEN_NAME_MAX },
		{ "expires_in", CP_FIELD_INT, false, 1, CP_TOKEN_LIFETIME_MAX },
	};
	if (cp_check_body(r, fields, 2))
		return r->status;
	const char *name = json_string_value(json_object_get(r->body, "name"));
	json_t *exp = json_object_get(r->body, "expires_in");
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return cp_fail(r, 400, "invalid_field", "'name' holds control characters");
	int64_t now = cp_now_ms();
	int64_t expires = exp ? now + json_integer_value(exp) * 1000 : 0;
	/* a token cannot mint one that outlives it */
	if (r->who.kind == CP_AUTH_TOKEN && r->who.expires_at &&
		(!expires || expires > r->who.expires_at))
		expires = r->who.expires_at;

	char token[CP_TOKEN_LEN + 1];
	memcpy(token, CP_TOKEN_PREFIX, sizeof(CP_TOKEN_PREFIX) - 1);
	int rc = cp_random_b64(token + sizeof(CP_TOKEN_PREFIX) - 1,
		sizeof(token) - (sizeof(CP_TOKEN_PREFIX) - 1), CP_SECRET_BYTES);
	if (rc)
		return cp_fail_errno(r, rc, "making a token");
	uint8_t hash[32];
	cp_sha256(token, CP_TOKEN_LEN, hash);
	char prefix[CP_TOKEN_SHOWN + 1];
	snprintf(prefix, sizeof(prefix), "%s", token);

	rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "making a token");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_tokens_live);
	int64_t live = 0;
	if (st) {
		sqlite3_bind_int64(st, 1, r->who.user_id);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) == SQLITE_ROW)
			live = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (live >= CP_TOKENS_PER_USER) {
		cp_db_rollback(r->db);
		return cp_fail(r, 409, "too_many_tokens", "at most %d live tokens per user; revoke "
							  "one first", CP_TOKENS_PER_USER);
	}
	rc = -EIO;
	if ((st = cp_db_stmt(r->db, sql_token_insert))) {
		sqlite3_bind_int64(st, 1, r->who.user_id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, hash, sizeof(hash), SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, prefix, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, now);
		if (expires)
			sqlite3_bind_int64(st, 6, expires);
		rc = cp_db_errno(sqlite3_step(st));
	}
	int64_t id = cp_db_last_id(r->db);
	char target[32];
	snprintf(target, sizeof(target), "token:%lld", (long long)id);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_TOKEN_CREATE, target, json_pack("{s:s, s:s, s:o}", "name",
			name, "prefix", prefix, "expires_at", cp_api_time(expires)));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "making a token");
	/* the only time the token is shown: only its hash is kept */
	return cp_reply(r, 201, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:n, s:n}",
		"id", (json_int_t)id, "name", name, "token", token, "prefix", prefix,
		"created_at", cp_api_time(now), "expires_at", cp_api_time(expires),
		"last_used_at", "revoked_at"));
}

static int
delete_token(struct cp_req *r)
{
	int64_t id = cp_param_id(r, 0);
	if (id < 0)
		return r->status;
	int rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "revoking the token");
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_token_owner);
	int64_t owner = 0;
	bool revoked = false;
	char name[CP_TOKEN_NAME_MAX + 1] = "", user[CP_USERNAME_MAX + 1] = "";
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			owner = sqlite3_column_int64(st, 0);
			revoked = sqlite3_column_type(st, 1) != SQLITE_NULL;
			snprintf(name, sizeof(name), "%s", sqlite3_column_text(st, 2));
			snprintf(user, sizeof(user), "%s", sqlite3_column_text(st, 3));
		}
		sqlite3_reset(st);
	}
	/* someone else's token is invisible unless you manage users */
	bool manager = r->who.perms & cp_perm_bit(CP_PERM_USERS_ADMIN);
	if (!owner || (owner != r->who.user_id && !manager)) {
		cp_db_rollback(r->db);
		return cp_fail(r, 404, "not_found", "no such token");
	}
	if (revoked) {
		cp_db_rollback(r->db);
		return cp_reply(r, 204, NULL);
	}
	rc = -EIO;
	if ((st = cp_db_stmt(r->db, sql_token_revoke))) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, cp_now_ms());
		rc = cp_db_errno(sqlite3_step(st));
	}
	char target[32];
	snprintf(target, sizeof(target), "token:%lld", (long long)id);
	if (rc == 0)
		rc = cp_audit(r, CP_AUDIT_TOKEN_REVOKE, target,
			json_pack("{s:s, s:s}", "name", name, "owner", user));
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "revoking the token");
	return cp_reply(r, 204, NULL);
}

CP_ROUTE_TABLE(cp_api_auth_routes,
	{ "POST", "/api/v1/auth/login", CP_PERM_PUBLIC, post_login },
	{ "POST", "/api/v1/auth/logout", CP_PERM_AUTHENTICATED, post_logout },
	{ "GET", "/api/v1/auth/me", CP_PERM_AUTHENTICATED, get_me },
	{ "POST", "/api/v1/auth/password", CP_PERM_AUTHENTICATED, post_password },
	{ "GET", "/api/v1/tokens", CP_PERM_AUTHENTICATED, get_tokens },
	{ "POST", "/api/v1/tokens", CP_PERM_AUTHENTICATED, post_token },
	{ "DELETE", "/api/v1/tokens/{id}", CP_PERM_AUTHENTICATED, delete_token },
);
