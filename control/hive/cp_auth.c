/* cp_auth.c — resolving credentials to an identity, sessions, and the login throttle.
 *
 * Cost per authenticated request: one indexed SELECT for the credential and one for the
 * permissions. A token's last_used_at is written at most once a minute (CP_TOKEN_TOUCH_MS),
 * so reads stay reads: every write commits with an fsync.
 *
 * The login throttle's reservations (cp_throttle_reserve) live in memory under one mutex; the
 * streaks and locks they are weighed against live in login_throttle. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "cp_auth.h"
#include "cp_db.h"
#include "cp_http.h"
#include "tide_log.h"

#define CP_TOKEN_TOUCH_MS 60000

static const char sql_token[] =
	"SELECT t.id, t.user_id, u.username, t.expires_at, t.last_used_at"
	" FROM tokens t JOIN users u ON u.id = t.user_id"
	" WHERE t.hash = ?1 AND t.revoked_at IS NULL AND u.disabled = 0"
	" AND (t.expires_at IS NULL OR t.expires_at > ?2)";
static const char sql_token_touch[] = "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1";
static const char sql_session[] =
	"SELECT s.user_id, u.username, s.csrf_token, s.expires_at"
	" FROM sessions s JOIN users u ON u.id = s.user_id"
	" WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0";
static const char sql_perms[] =
	"SELECT DISTINCT gp.permission FROM user_groups ug"
	" JOIN group_permissions gp ON gp.group_id = ug.group_id WHERE ug.user_id = ?1";
static const char sql_session_insert[] =
	"INSERT INTO sessions (id_hash, user_id, csrf_token, address, created_at, expires_at)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_session_delete[] = "DELETE FROM sessions WHERE id_hash = ?1";
static const char sql_sessions_expire[] = "DELETE FROM sessions WHERE expires_at <= ?1";
static const char sql_throttle_get[] =
	"SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = ?1";
static const char sql_throttle_put[] =
	"INSERT OR REPLACE INTO login_throttle (key, failures, last_failure_at, locked_until)"
	" VALUES (?1, ?2, ?3, ?4)";
static const char sql_throttle_clear[] = "DELETE FROM login_throttle WHERE key = ?1";

int
cp_auth_perms(struct cp_db *db, int64_t user_id, uint64_t *perms)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_perms);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, user_id);
	uint64_t set = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		set |= cp_perm_bit(cp_perm_lookup((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return cp_db_errno(rc);
	*perms = set;
	return 0;
}

static void
copy_name(char *dst, const unsigned char *src)
{
	snprintf(dst, CP_USERNAME_MAX + 1, "%s", src ? (const char *)src : "");
}

static int
identify_token(struct cp_req *r, const char *tok)
{
	while (*tok == ' ')
		tok++;
	if (strlen(tok) != CP_TOKEN_LEN || strncmp(tok, CP_TOKEN_PREFIX, 5) != 0)
		return -EACCES;
	uint8_t hash[32];
	cp_sha256(tok, CP_TOKEN_LEN, hash);
	int64_t now = tide_wall_ms();
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_token);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -EACCES : cp_db_errno(rc);
	}
	struct cp_identity *w = &r->who;
	w->token_id = sqlite3_column_int64(st, 0);
	w->user_id = sqlite3_column_int64(st, 1);
	copy_name(w->username, sqlite3_column_text(st, 2));
	w->expires_at = sqlite3_column_int64(st, 3);
	int64_t last_used = sqlite3_column_int64(st, 4);
	sqlite3_reset(st);
	if (now - last_used > CP_TOKEN_TOUCH_MS) {
		/* best effort: a busy database must not fail the request over a statistic */
		st = cp_db_stmt(r->db, sql_token_touch);
		if (st) {
			sqlite3_bind_int64(st, 1, w->token_id);
			sqlite3_bind_int64(st, 2, now);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
	w->kind = CP_AUTH_TOKEN;
	return 0;
}

static int
identify_session(struct cp_req *r, const char *cookie)
{
	char value[CP_SECRET_B64_LEN + 2];
	if (mg_get_cookie(cookie, CP_SESSION_COOKIE, value, sizeof(value)) != CP_SECRET_B64_LEN)
		return 0; /* absent or malformed: no credentials */
	uint8_t hash[32];
	cp_sha256(value, CP_SECRET_B64_LEN, hash);
	sqlite3_stmt *st = cp_db_stmt(r->db, sql_session);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, tide_wall_ms());
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
	}
	struct cp_identity *w = &r->who;
	w->user_id = sqlite3_column_int64(st, 0);
	copy_name(w->username, sqlite3_column_text(st, 1));
	snprintf(w->csrf, sizeof(w->csrf), "%s", (const char *)sqlite3_column_text(st, 2));
	w->expires_at = sqlite3_column_int64(st, 3);
	memcpy(w->session_hash, hash, sizeof(hash));
	sqlite3_reset(st);
	w->kind = CP_AUTH_SESSION;
	return 0;
}

int
cp_auth_identify(struct cp_req *r)
{
	const char *authz = mg_get_header(r->conn, "Authorization");
	const char *cookie = mg_get_header(r->conn, "Cookie");
	int rc = 0;
	memset(&r->who, 0, sizeof(r->who));
	if (authz)
		rc = strncasecmp(authz, "Bearer ", 7) == 0 ? identify_token(r, authz + 7) : -EACCES;
	else if (cookie)
		rc = identify_session(r, cookie);
	if (rc == 0 && r->who.kind != CP_AUTH_NONE) {
		rc = cp_auth_perms(r->db, r->who.user_id, &r->who.perms);
		if (rc)
			r->who.kind = CP_AUTH_NONE;
	}
	return rc;
}

int
cp_session_create(struct cp_db *db, int64_t user_id, const char *addr, int64_t expires_at,
	char cookie[CP_SECRET_B64_LEN + 1], char csrf[CP_SECRET_B64_LEN + 1])
{
	int rc = cp_random_b64(cookie, CP_SECRET_B64_LEN + 1, CP_SECRET_BYTES);
	if (rc == 0)
		rc = cp_random_b64(csrf, CP_SECRET_B64_LEN + 1, CP_SECRET_BYTES);
	if (rc)
		return rc;
	int64_t now = tide_wall_ms();
	/* sessions are few; dropping the expired ones on each login keeps the table small */
	sqlite3_stmt *st = cp_db_stmt(db, sql_sessions_expire);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return cp_db_errno(rc);
	uint8_t hash[32];
	cp_sha256(cookie, CP_SECRET_B64_LEN, hash);
	st = cp_db_stmt(db, sql_session_insert);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, user_id);
	sqlite3_bind_text(st, 3, csrf, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, expires_at);
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

int
cp_session_delete(struct cp_db *db, const uint8_t hash[32])
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_session_delete);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}

void
cp_throttle_user_key(char key[CP_THROTTLE_KEY_MAX], const char *username)
{
	int n = snprintf(key, CP_THROTTLE_KEY_MAX, "user:%s", username);
	for (int i = 5; i < n && i < CP_THROTTLE_KEY_MAX; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a'); /* user names compare without case */
}

void
cp_throttle_addr_key(char key[CP_THROTTLE_KEY_MAX], const char *addr)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];
	/* one IPv6 host usually owns a whole /64: count its failures together */
	if (inet_pton(AF_INET6, addr, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, text, sizeof(text))) {
			snprintf(key, CP_THROTTLE_KEY_MAX, "addr:%s/64", text);
			return;
		}
	}
	snprintf(key, CP_THROTTLE_KEY_MAX, "addr:%s", addr);
}

/* Attempts in flight per key. Every request reserves at most two keys and there are at most
 * 1024 worker threads (cp_options.c), so 2048 slots never fill; a linear scan of the few in
 * use is cheaper than hashing. */
#define IN_FLIGHT_SLOTS 2048
#define IN_FLIGHT_FULL INT64_MAX /* key_wait: admitted once an attempt in flight settles */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t settled; /* an attempt's outcome is committed: look again */
	int used; /* slots [0, used) hold keys with count > 0 */
	struct {
		char key[CP_THROTTLE_KEY_MAX];
		int64_t count;
	} slot[IN_FLIGHT_SLOTS];
} in_flight = { .mu = PTHREAD_MUTEX_INITIALIZER, .settled = PTHREAD_COND_INITIALIZER };

static int
in_flight_find(const char *key)
{
	for (int i = 0; i < in_flight.used; i++)
		if (strcmp(in_flight.slot[i].key, key) == 0)
			return i;
	return -1;
}

/* The wait key imposes now given its stored state and the attempts in flight (0: admitted). */
static int64_t
key_wait(struct cp_db *db, const struct cp_throttle_key *k, int64_t now, int64_t window_ms)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_throttle_get);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int64_t failures = 0, last = 0, until = 0;
	if (rc == SQLITE_ROW) {
		failures = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
		until = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cp_db_errno(rc);
	if (until > now)
		return until - now;
	if (now - last > window_ms)
		failures = 0; /* the streak is forgotten, as cp_throttle_fail will find */
	int i = in_flight_find(k->key);
	int64_t busy = i < 0 ? 0 : in_flight.slot[i].count;
	int64_t allowance = failures < k->threshold ? k->threshold - failures : 1;
	return busy < allowance ? 0 : IN_FLIGHT_FULL;
}

int64_t
cp_throttle_reserve(struct cp_db *db, const struct cp_throttle_key *keys, size_t n,
	int64_t now, int64_t window_ms, size_t *which)
{
	int64_t wait, deadline = now + CP_THROTTLE_QUEUE_MS;
	pthread_mutex_lock(&in_flight.mu);
	for (;;) {
		bool full = false;
		wait = 0;
		*which = 0;
		for (size_t i = 0; i < n && wait >= 0; i++) {
			int64_t w = key_wait(db, &keys[i], now, window_ms);
			if (w == IN_FLIGHT_FULL) {
				full = true;
				*which = wait ? *which : i; /* named if it stays the reason */
			} else if (w < 0 || w > wait) {
				wait = w;
				*which = i;
			}
		}
		if (wait != 0 || !full)
			break;
		/* the allowance is in flight: its outcome decides (a success clears the streak, a
		 * failure locks), so wait for it rather than refuse a login that may be right */
		struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = deadline % 1000 * 1000000 };
		if (pthread_cond_timedwait(&in_flight.settled, &in_flight.mu, &ts) == ETIMEDOUT) {
			wait = CP_THROTTLE_IN_FLIGHT_MS;
			break;
		}
		now = tide_wall_ms();
	}
	if (wait == 0 && in_flight.used + (int)n > IN_FLIGHT_SLOTS)
		wait = -EBUSY;
	for (size_t i = 0; wait == 0 && i < n; i++) {
		int s = in_flight_find(keys[i].key);
		if (s < 0) {
			s = in_flight.used++;
			snprintf(in_flight.slot[s].key, CP_THROTTLE_KEY_MAX, "%s", keys[i].key);
			in_flight.slot[s].count = 0;
		}
		in_flight.slot[s].count++;
	}
	pthread_mutex_unlock(&in_flight.mu);
	return wait;
}

void
cp_throttle_release(const struct cp_throttle_key *keys, size_t n)
{
	pthread_mutex_lock(&in_flight.mu);
	for (size_t i = 0; i < n; i++) {
		int s = in_flight_find(keys[i].key);
		if (s < 0 || --in_flight.slot[s].count > 0)
			continue;
		in_flight.slot[s] = in_flight.slot[--in_flight.used]; /* keep [0, used) dense */
	}
	pthread_cond_broadcast(&in_flight.settled);
	pthread_mutex_unlock(&in_flight.mu);
}

int
cp_throttle_fail(struct cp_db *db, const char *key, int64_t now, int64_t threshold,
	int64_t base_ms, int64_t max_ms, int64_t window_ms)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_throttle_get);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int64_t failures = 0, last = 0, until = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		failures = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 1);
		until = sqlite3_column_int64(st, 2);
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return cp_db_errno(rc);
	}
	sqlite3_reset(st);
	if (until <= now && now - last > window_ms)
		failures = 0;
	failures++;
	int locked = 0;
	if (failures >= threshold) {
		int64_t shift = failures - threshold, lock = base_ms;
		while (shift-- > 0 && lock < max_ms)
			lock *= 2;
		until = now + (lock < max_ms ? lock : max_ms);
		locked = 1;
	}
	st = cp_db_stmt(db, sql_throttle_put);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, failures);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, until);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? locked : cp_db_errno(rc);
}

int
cp_throttle_clear(struct cp_db *db, const char *key)
{
	sqlite3_stmt *st = cp_db_stmt(db, sql_throttle_clear);
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cp_db_errno(rc);
}
