/* cp_api_auth.c — signing in and out, the caller's own identity and password, and application
 * tokens.
 *
 * Login order matters: the attempt takes its place in the throttle before the password is
 * looked at (a locked account or address gets 429 even with the right password, so guessing
 * gains nothing during a lock; and the place is reserved atomically, so parallel guesses
 * cannot all pass a check none of them has been counted against yet — cp_auth.h),
 * unknown and disabled users cost the same argon2id time as real ones and get the same 401,
 * and every outcome is audited (refusals a client can repeat at will — locked, LDAP down —
 * tallied per account or address and minute, cp_audit.h). Lock-out state lives in the
 * database (login_throttle), so a restart does not reset it.
 *
 * With ldap_uri set, a name no local account holds, or an account made from LDAP, is checked
 * against the directory (cp_ldap.c) under the same throttle; the account is created at its
 * first login and its groups are made to follow its LDAP groups at every login, in the
 * transaction that opens the session. A local account always shadows a directory entry of the
 * same name, so the directory can never take over `admin`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include "cp_api.h"
#include "cp_audit.h"
#include "cp_auth.h"
#include "cp_db.h"
#include "cp_http.h"
#include "cp_ldap.h"
#include "tide_log.h"
#include "cp_options.h"
#include "cp_routes.h"

#define CP_TOKEN_NAME_MAX 128
#define CP_TOKENS_PER_USER 100          /* live (unrevoked, unexpired) tokens */
#define CP_TOKEN_LIFETIME_MAX 315360000 /* ten years, in seconds */
#define CP_LDAP_RETRY_AFTER 10          /* seconds suggested to a client when LDAP is down */

static const char sql_login_user[] =
	"SELECT id, username, password_hash, disabled, source FROM users WHERE username = ?1";
static const char sql_ldap_user_insert[] =
	"INSERT INTO users (username, source, created_at, updated_at) VALUES (?1, 'ldap', ?2, ?2)";
static const char sql_group_named[] = "SELECT id, name FROM groups WHERE name = ?1";
/* ?2: the JSON array of the group ids the account keeps */
static const char sql_member_stale[] =
	"SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id"
	" WHERE ug.user_id = ?1 AND ug.group_id NOT IN (SELECT value FROM json_each(?2))"
	" ORDER BY g.name";
static const char sql_member_unstale[] =
	"DELETE FROM user_groups WHERE user_id = ?1"
	" AND group_id NOT IN (SELECT value FROM json_each(?2))";
static const char sql_member_add[] =
	"INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?1, ?2)";
static const char sql_user_touched[] = "UPDATE users SET updated_at = ?2 WHERE id = ?1";
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

/* 429 for a lock on the account or the address (key: the throttle key that refused). A
 * client can repeat this at will, so it is tallied (cp_audit.h): the first refusal of the
 * account or address is audited at once, the rest counted into one row per window. */
static int
refuse_locked(struct cp_req *r, const char *username, const char *key, int64_t wait_ms,
	bool account)
{
	long long secs = (wait_ms + 999) / 1000;
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", username);
	struct cp_audit_refusal ref = {
		.subject = key, .reason = "locked", .action = CP_AUDIT_LOGIN,
		.what = account ? "login refused, account locked" : "login refused, address locked",
		.actor = username, .addr = r->addr, .target = target,
		.detail = json_pack("{s:s, s:s}", "outcome", "locked", "scope",
			account ? "account" : "address"),
	};
	int rc = cp_audit_refusal(r->db, &ref);
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
		tide_warn("auth", "login locked: %s%s%s from %s", lu > 0 ? "account " : "",
			lu > 0 ? username : "", la > 0 ? " address" : "", r->addr);
	return cp_fail(r, 401, "invalid_credentials", "wrong user name or password");
}

/* The account a login names, as stored. */
struct login_user {
	int64_t id; /* 0: no such account */
	char name[CP_USERNAME_MAX + 1];
	char hash[CP_PWHASH_MAX];
	bool disabled;
	bool ldap;  /* source 'ldap': made from the directory, checked against it */
};

static int
load_login_user(struct cp_db *db, const char *username, struct login_user *u)
{
	memset(u, 0, sizeof(*u));
	sqlite3_stmt *st = cp_db_stmt(db, sql_login_user);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		u->id = sqlite3_column_int64(st, 0);
		snprintf(u->name, sizeof(u->name), "%s", sqlite3_column_text(st, 1));
		const unsigned char *h = sqlite3_column_text(st, 2);
		snprintf(u->hash, sizeof(u->hash), "%s", h ? (const char *)h : "");
		u->disabled = sqlite3_column_int(st, 3) != 0;
		u->ldap = strcmp((const char *)sqlite3_column_text(st, 4), "ldap") == 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

/* Inside the caller's transaction: the session, the last login time (and a rehashed password
 * when given), a cleared failure streak for the account and the audit row. */
static int
open_session(struct cp_req *r, int64_t id, const char *name, const char *ukey, int64_t now,
	int64_t expires, const char *method, const char *rehashed,
	char cookie[CP_SECRET_B64_LEN + 1], char csrf[CP_SECRET_B64_LEN + 1])
{
	sqlite3_stmt *st;
	int rc = cp_session_create(r->db, id, r->addr, expires, cookie, csrf);
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_login_done))) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		if (rehashed && rehashed[0])
			sqlite3_bind_text(st, 3, rehashed, -1, SQLITE_TRANSIENT);
		rc = cp_db_errno(sqlite3_step(st));
	} else if (rc == 0) {
		rc = -EIO;
	}
	if (rc == 0)
		rc = cp_throttle_clear(r->db, ukey);
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", name);
	if (rc == 0)
		rc = cp_audit_append(r->db, name, r->addr, CP_AUDIT_LOGIN, target,
			json_pack("{s:s, s:s}", "outcome", "success", "method", method));
	return rc;
}

/* After the commit: the user, the cookie and the CSRF token. */
static int
login_reply(struct cp_req *r, int64_t id, const char *name, const char *cookie,
	const char *csrf, int64_t expires)
{
	int rc;
	r->who.kind = CP_AUTH_SESSION; /* for the access log line */
	snprintf(r->who.username, sizeof(r->who.username), "%s", name);
	json_t *user = cp_api_user(r->db, id, &rc);
	if (!user)
		return cp_fail_errno(r, rc, "login");
	session_cookie(r, cookie, (int64_t)r->srv->opt->session_ttl);
	return cp_reply(r, 200, json_pack("{s:o, s:s, s:o}", "user", user, "csrf_token", csrf,
		"expires_at", cp_api_time(expires)));
}

/* 503: the directory did not answer (down, too slow, TLS or configuration trouble; the log
 * says which). Audited but not counted against the account or address: an outage is nobody's
 * wrong password, and no password was checked. Local accounts are unaffected. */
static int
ldap_down(struct cp_req *r, const char *username, const char *akey)
{
	char target[CP_USERNAME_MAX + 8];
	snprintf(target, sizeof(target), "user:%s", username);
	/* not counted by the throttle, so repeatable at will: tallied per client address */
	struct cp_audit_refusal ref = {
		.subject = akey, .reason = "ldap_unavailable", .action = CP_AUDIT_LOGIN,
		.what = "LDAP login refused, directory unavailable", .actor = username,
		.addr = r->addr, .target = target,
		.detail = json_pack("{s:s, s:s, s:s}", "outcome", "failure", "method", "ldap",
			"reason", "ldap_unavailable"),
	};
	int rc = cp_audit_refusal(r->db, &ref);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	cp_header(r, "Retry-After", "%d", CP_LDAP_RETRY_AFTER);
	return cp_fail(r, 503, "ldap_unavailable",
		"the LDAP directory did not answer; try again later (local accounts still work)");
}

/* JSON array of the names column of rows from st (bound by the caller). */
static int
names_of(sqlite3_stmt *st, json_t *into)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(into, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

/* Inside the login transaction: makes an LDAP account's groups exactly the existing tide
 * groups its LDAP groups map to — whatever was added through the API is undone; mapped groups
 * that do not exist are skipped (logged) — and creates the account at its first login. With
 * nothing to give and no account yet, nothing is created (*id stays 0). Changes are audited
 * (user.create, user.sync). Returns the number of groups the account ends with, -EPERM when
 * a local or disabled account took the name since the check, or -errno. */
static int
ldap_sync(struct cp_req *r, const char *username, const struct cp_ldap_account *a,
	int64_t now, int64_t *id, char name[CP_USERNAME_MAX + 1])
{
	struct login_user u;
	int rc = load_login_user(r->db, username, &u);
	if (rc)
		return rc;
	if (u.id && (!u.ldap || u.disabled))
		return -EPERM;
	json_t *want_ids = json_array(), *want = json_array();
	sqlite3_stmt *st;
	for (unsigned i = 0; rc == 0 && i < a->n_groups; i++) {
		if (!(st = cp_db_stmt(r->db, sql_group_named))) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_text(st, 1, a->groups[i], -1, SQLITE_TRANSIENT);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			json_array_append_new(want_ids, json_integer(sqlite3_column_int64(st, 0)));
			json_array_append_new(want,
				json_string((const char *)sqlite3_column_text(st, 1)));
		} else if (step == SQLITE_DONE) {
			tide_warn("ldap", "ldap_group_map names tide group '%s', which does not exist",
				a->groups[i]);
		} else {
			rc = cp_db_errno(step);
		}
		sqlite3_reset(st);
	}
	size_t n_want = json_array_size(want);
	char *ids = rc ? NULL : json_dumps(want_ids, JSON_COMPACT);
	json_t *added = json_array(), *removed = json_array();
	char target[CP_USERNAME_MAX + 8];
	*id = u.id;
	snprintf(name, CP_USERNAME_MAX + 1, "%s", u.id ? u.name : username);
	snprintf(target, sizeof(target), "user:%s", name);
	if (rc == 0 && !ids)
		rc = -ENOMEM;
	if (rc || (!u.id && n_want == 0))
		goto out;
	if (!u.id) {
		if (!(st = cp_db_stmt(r->db, sql_ldap_user_insert))) {
			rc = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		rc = cp_db_errno(sqlite3_step(st));
		*id = cp_db_last_id(r->db);
		if (rc == 0)
			rc = cp_audit_append(r->db, name, r->addr, CP_AUDIT_USER_CREATE, target,
				json_pack("{s:I, s:s, s:s, s:O}", "id", (json_int_t)*id, "source",
					"ldap", "dn", a->dn, "groups", want));
	}
	/* removals first (names kept for the audit row), then additions one by one */
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_member_stale))) {
		sqlite3_bind_int64(st, 1, *id);
		sqlite3_bind_text(st, 2, ids, -1, SQLITE_TRANSIENT);
		rc = names_of(st, removed);
	} else if (rc == 0) {
		rc = -EIO;
	}
	if (rc == 0 && (st = cp_db_stmt(r->db, sql_member_unstale))) {
		sqlite3_bind_int64(st, 1, *id);
		sqlite3_bind_text(st, 2, ids, -1, SQLITE_TRANSIENT);
		rc = cp_db_errno(sqlite3_step(st));
	} else if (rc == 0) {
		rc = -EIO;
	}
	for (size_t i = 0; rc == 0 && i < n_want; i++) {
		if (!(st = cp_db_stmt(r->db, sql_member_add))) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_int64(st, 1, *id);
		sqlite3_bind_int64(st, 2, json_integer_value(json_array_get(want_ids, i)));
		rc = cp_db_errno(sqlite3_step(st));
		if (rc == 0 && cp_db_changes(r->db) > 0 && u.id)
			json_array_append(added, json_array_get(want, i));
	}
	if (rc == 0 && (json_array_size(added) || json_array_size(removed))) {
		if ((st = cp_db_stmt(r->db, sql_user_touched))) {
			sqlite3_bind_int64(st, 1, *id);
			sqlite3_bind_int64(st, 2, now);
			rc = cp_db_errno(sqlite3_step(st));
		} else {
			rc = -EIO;
		}
		if (rc == 0)
			rc = cp_audit_append(r->db, name, r->addr, CP_AUDIT_USER_SYNC, target,
				json_pack("{s:s, s:s, s:O, s:O, s:O}", "source", "ldap", "dn", a->dn,
					"added", added, "removed", removed, "groups", want));
	}
out:
	free(ids);
	json_decref(want_ids);
	json_decref(want);
	json_decref(added);
	json_decref(removed);
	return rc ? rc : (int)n_want;
}

/* Login against the directory, for names no local account holds and for accounts made from
 * LDAP. Wrong password, unknown or unusable name: 401, counted like a local failure. An
 * authenticated user with no mapped tide group: 403 no_tide_group, and an existing account
 * loses its groups (its tokens then carry no permission). Directory trouble: 503. The
 * directory is asked outside any transaction, so a slow one never holds the database. */
static int
ldap_login(struct cp_req *r, const char *username, const char *password, const char *ukey,
	const char *akey, int64_t now)
{
	/* the safe set keeps every filter metacharacter out; cp_ldap escapes anyway */
	if (!cp_api_valid_username(username))
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, "invalid_username");
	if (!password[0])
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, "empty_password");
	struct cp_ldap_account a;
	int rc = cp_ldap_authenticate(r->srv->ldap, username, password, &a);
	if (rc == -EACCES)
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now,
			"ldap_bad_password");
	if (rc == -ENOENT || rc == -EINVAL)
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now,
			"ldap_unknown_user");
	if (rc)
		return ldap_down(r, username, akey);

	int64_t id = 0, expires = now + (int64_t)r->srv->opt->session_ttl * 1000;
	char name[CP_USERNAME_MAX + 1], cookie[CP_SECRET_B64_LEN + 1], csrf[CP_SECRET_B64_LEN + 1];
	char target[CP_USERNAME_MAX + 8];
	rc = cp_db_begin(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	int groups = ldap_sync(r, username, &a, now, &id, name);
	if (groups > 0) {
		rc = open_session(r, id, name, ukey, now, expires, "ldap", NULL, cookie, csrf);
	} else if (groups == 0) {
		snprintf(target, sizeof(target), "user:%s", name);
		rc = cp_throttle_clear(r->db, ukey); /* the password was right */
		if (rc == 0)
			rc = cp_audit_append(r->db, name, r->addr, CP_AUDIT_LOGIN, target,
				json_pack("{s:s, s:s, s:s, s:s}", "outcome", "failure", "method",
					"ldap", "reason", "no_tide_group", "dn", a.dn));
	} else {
		rc = groups;
	}
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc == -EPERM) /* a local account took the name meanwhile: LDAP must not speak for it */
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, "account_changed");
	if (rc)
		return cp_fail_errno(r, rc, "login");
	if (groups == 0)
		return cp_fail(r, 403, "no_tide_group", "no tide group for this LDAP account");
	return login_reply(r, id, name, cookie, csrf, expires);
}

/* The login once its attempt holds a place in the throttle (post_login). */
static int
login_checked(struct cp_req *r, const char *username, const char *password, const char *ukey,
	const char *akey, int64_t now)
{
	struct login_user u;
	int rc = load_login_user(r->db, username, &u);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	/* the directory is asked about names no local account holds and about accounts made
	 * from it; a local account always shadows an LDAP entry of the same name */
	if (r->srv->ldap && (!u.id || (u.ldap && !u.disabled)))
		return ldap_login(r, username, password, ukey, akey, now);
	if (!u.id || u.disabled || !u.hash[0]) {
		cp_password_verify_dummy(password);
		const char *why = "no_local_password";
		if (!u.id)
			why = "unknown_user";
		else if (u.disabled)
			why = "disabled";
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, why);
	}
	if (cp_password_verify(u.hash, password) != 0)
		return fail_login(r, CP_AUDIT_LOGIN, username, ukey, akey, now, "bad_password");

	char rehashed[CP_PWHASH_MAX] = "";
	if (cp_password_needs_rehash(u.hash) && cp_password_hash(password, rehashed) != 0)
		rehashed[0] = '\0';
	int64_t expires = now + (int64_t)r->srv->opt->session_ttl * 1000;
	char cookie[CP_SECRET_B64_LEN + 1], csrf[CP_SECRET_B64_LEN + 1];
	rc = cp_db_begin(r->db);
	if (rc == 0)
		rc = open_session(r, u.id, u.name, ukey, now, expires, "password", rehashed,
			cookie, csrf);
	if (rc == 0)
		rc = cp_db_commit(r->db);
	else
		cp_db_rollback(r->db);
	if (rc)
		return cp_fail_errno(r, rc, "login");
	return login_reply(r, u.id, u.name, cookie, csrf, expires);
}

/* Fills the throttle keys of an attempt: the account (as typed) and the client address. */
static void
throttle_keys(struct cp_req *r, const char *username, struct cp_throttle_key keys[2])
{
	cp_throttle_user_key(keys[0].key, username);
	keys[0].threshold = (int64_t)r->srv->opt->login_user_failures;
	cp_throttle_addr_key(keys[1].key, r->addr);
	keys[1].threshold = (int64_t)r->srv->opt->login_addr_failures;
}

static int
post_login(struct cp_req *r)
{
	/* an empty password is a wrong password (401), not a malformed request */
	static const struct cp_field fields[] = {
		{ "username", CP_FIELD_STRING, true, 1, CP_USERNAME_MAX },
		{ "password", CP_FIELD_STRING, true, 0, CP_PASSWORD_MAX },
	};
	if (cp_check_body(r, fields, 2))
		return r->status;
	const char *username = json_string_value(json_object_get(r->body, "username"));
	const char *password = json_string_value(json_object_get(r->body, "password"));
	int64_t now = tide_wall_ms();
	struct cp_throttle_key keys[2];
	throttle_keys(r, username, keys);
	/* the place is taken before the password is looked at, so parallel guesses cannot all
	 * pass a check that none of them has counted yet */
	size_t which;
	int64_t wait = cp_throttle_reserve(r->db, keys, 2, now,
		(int64_t)r->srv->opt->login_window * 1000, &which);
	if (wait < 0)
		return cp_fail_errno(r, (int)wait, "login");
	if (wait > 0)
		return refuse_locked(r, username, keys[which].key, wait, which == 0);
	int status = login_checked(r, username, password, keys[0].key, keys[1].key, now);
	cp_throttle_release(keys, 2);
	return status;
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

/* The password change once its attempt holds the account's place (post_password). */
static int
password_checked(struct cp_req *r, const char *cur, const char *new, const char *ukey,
	const char *akey, int64_t now)
{
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
	int64_t now = tide_wall_ms();
	struct cp_throttle_key keys[2];
	throttle_keys(r, r->who.username, keys);
	/* the account's place only: a locked address does not stop a signed-in user */
	size_t which;
	int64_t wait = cp_throttle_reserve(r->db, keys, 1, now,
		(int64_t)r->srv->opt->login_window * 1000, &which);
	if (wait < 0)
		return cp_fail_errno(r, (int)wait, "changing the password");
	if (wait > 0)
		return refuse_locked(r, r->who.username, keys[0].key, wait, true);
	int status = password_checked(r, cur, new, keys[0].key, keys[1].key, now);
	cp_throttle_release(keys, 1);
	return status;
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
	int64_t now = tide_wall_ms();
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
	snprintf(prefix, sizeof(prefix), "%.*s", CP_TOKEN_SHOWN, token);

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
	/* revoking is acting on the owner: the rule users and groups follow (cp_api_users.c),
	 * else a users.admin could cut an admin off */
	if (cp_api_check_takeover(r, owner, "revoking this user's token")) {
		cp_db_rollback(r->db);
		return r->status;
	}
	if (revoked) {
		cp_db_rollback(r->db);
		return cp_reply(r, 204, NULL);
	}
	rc = -EIO;
	if ((st = cp_db_stmt(r->db, sql_token_revoke))) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, tide_wall_ms());
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
